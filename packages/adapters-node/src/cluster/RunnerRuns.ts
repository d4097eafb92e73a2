/**
 * What one runner knows of each run it takes part in (issue 21): the run's services on this
 * runner — its own clone of the hub as the repository (`runClones`), the run's task queue in PostgreSQL, its own run
 * log — built on the first message of the run and kept until the runner stops; the worktrees of
 * the worker slots it holds; and, when it holds the run's `MergeQueue` entity, the queue itself.
 *
 * Internal: used by `ClusterRunner`.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Effect, Exit, type FileSystem, Layer, Option, type Path, Ref, Scope, Semaphore } from "effect"
import type { Sharding } from "effect/cluster"
import type { ChildProcessSpawner } from "effect/process"
import type { SqlClient } from "effect/sql/SqlClient"
import {
  type Agent,
  type CommandRunner,
  ConfigFile,
  type Errors,
  EventSink,
  Git,
  type Ids,
  MergeQueue,
  Recovery,
  RunServices,
  type SwarmConfig,
  type Prompts,
  type TaskQueue,
  WorktreeEnvironment
} from "@oompa/core"
import * as GitRepo from "../internal/gitRepo.ts"
import * as NodeServices from "../NodeServices.ts"
import * as Project from "../Project.ts"
import * as ClusterBudget from "./ClusterBudget.ts"
import * as ClusterEventLog from "./ClusterEventLog.ts"
import { candidateBranch, MergeQueueEntity } from "./Protocol.ts"
import * as RunClones from "./runClones.ts"
import * as RunTable from "./RunTable.ts"

/** The services a run's programs need on this runner. */
export type RunContext = Context.Context<
  Git.Git | EventSink.EventSink | TaskQueue.TaskQueue | Agent.Agent | Prompts.Prompts | CommandRunner.CommandRunner | RunServices.RunServices
>

/** A run on this runner. */
export interface RunnerRun {
  readonly runId: string
  readonly config: SwarmConfig.SwarmConfig
  readonly context: RunContext
  /** The worktree of each worker slot this runner holds. */
  readonly workers: Map<string, RunServices.CurrentWorker["Service"]>
  /** The run's merge queue, once this runner holds its entity. */
  readonly localQueue: Effect.Effect<MergeQueue.MergeQueue["Service"], Errors.GitError>
  /** Main as this runner's workers should see it now (see `make`). */
  readonly followHub: Effect.Effect<string, Errors.GitError>
  /** The iterations (`worker/iteration`) whose submission is with the run's queue now, unanswered. */
  readonly submitting: Set<string>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The hub every runner fetches from and lands on (a URL). */
  readonly hub: string
  /** This runner's clone of the hub: each run gets a clone of it (`runClones`). */
  readonly repoRoot: string
  /** This runner's name (`host:port`): task claims and run logs say which runner it was. */
  readonly runner: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly agent?: NodeServices.Options["agent"]
  /** The run's task queue for claims made under `claimedBy`. */
  readonly taskQueue: (queue: string, claimedBy: string) => Layer.Layer<TaskQueue.TaskQueue, Errors.TaskQueueError, SqlClient>
}

/**
 * The configuration a runner runs: the run's own, landing on the hub, with its worktrees where this
 * runner keeps them (a `worktrees_dir` of the driver's machine names nothing here, and runners on
 * one machine must not share one).
 */
export const forHub = (config: SwarmConfig.SwarmConfig, hub: string): SwarmConfig.SwarmConfig => {
  const { worktrees_dir: _, ...rest } = config
  return { ...rest, target: { mode: "push", remote: hub } }
}

/** What the runner's runs need from the runner. */
export type Needs = SqlClient | ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path | Sharding.Sharding

/**
 * The runs of this runner.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunnerRuns {
  /** The run, built on its first use; a failed build is tried again by the next message. */
  readonly runOf: (runId: string) => Effect.Effect<RunnerRun, Project.SetupError>
  /** The worker slot's services on this runner, its worktree acquired on its first iteration here. */
  readonly workerOf: (run: RunnerRun, worker: string) => Effect.Effect<RunServices.CurrentWorker["Service"], Errors.GitError>
  /** Releases the worktree of `worker` in `run`, when this runner holds one. */
  readonly releaseWorker: (runId: string, worker: string) => Effect.Effect<void>
}

/**
 * The runs of this runner, each built once, in `scope` (the runner's).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options, scope: Scope.Scope): Effect.Effect<RunnerRuns, never, Needs> => Effect.gen(function*() {
  const services = yield* Effect.context<Needs>()
  const runs = new Map<string, Deferred.Deferred<RunnerRun, Project.SetupError>>()
  const lock = yield* Semaphore.make(1)

  const build = (runId: string) =>
    Effect.gen(function*() {
      const row = yield* RunTable.read(runId)
      const decoded = yield* ConfigFile.decodeConfigFile(row.config, `run ${runId}'s oompa.json`).pipe(
        Effect.mapError((e) => new Project.SetupError({ reason: "config", message: e.message }))
      )
      const config = forHub(decoded, options.hub)
      // The run's own clone: another run's landings must not move the refs this one's queue checks.
      const repoRoot = yield* RunClones.ensure(options.repoRoot, runId)
      const project = yield* Project.fromConfig(repoRoot, config)
      yield* ClusterEventLog.ensure
      yield* ClusterBudget.ensure
      // The run's events go to this runner's own log and to the run's merged log in PostgreSQL.
      const merged = Layer.succeed(EventSink.EventSink, yield* ClusterEventLog.make(runId, options.runner))
      const base = yield* Layer.buildWithScope(NodeServices.layer({
        repoRoot: project.repoRoot,
        config,
        configDir: project.configDir,
        runId: runId as Ids.RunId,
        sinks: [merged],
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.agent === undefined ? {} : { agent: options.agent }),
        taskQueue: Layer.provide(options.taskQueue(runId, options.runner), Layer.succeedContext(services))
      }), scope).pipe(Effect.mapError((e) => new Project.SetupError({ reason: "layers", message: e.message })))
      const git = Context.get(base, Git.Git)
      const held = { queue: undefined as MergeQueue.MergeQueue["Service"] | undefined }
      // Where this runner's workers see main. Fetching moves the ref the run's queue checks main
      // against: where the queue is held, a teammate's push fetched by a worker would look like a
      // foreign move and halt it, so workers there see main as the queue does (it follows pushes).
      // Never the ref alone: an agent of this runner can write it, and what is found landed on main
      // completes tasks (`Recovery.landingOnMain`). A ref the queue did not move halts the queue,
      // and main is where the queue last put it.
      const followHub = Effect.suspend(() =>
        held.queue !== undefined
          ? Effect.map(held.queue.checkMain(), (check) => check._tag === "Unchanged" ? check.main : check.move.from)
          : git.refreshMain)
      const submitting = new Set<string>()
      const remote = remoteQueue(runId, git, base, followHub, submitting)
      const run = yield* Layer.buildWithScope(Layer.provide(RunServices.layer(config, { runId, mode: "swarm" }, {
        mergeQueue: remote,
        // The run's budget counts every runner's calls.
        budget: (local) => Effect.provideContext(ClusterBudget.make(runId, config, local), services)
      }), Layer.succeedContext(base)), scope).pipe(
        Effect.mapError((e) => new Project.SetupError({ reason: "layers", message: e.message }))
      )
      const context = Context.merge(base, run) as RunContext
      // Built when this runner first holds the run's queue entity (a later holder builds its own from
      // the hub); a build that failed (the hub out of reach) is tried again by the next submission.
      const building = yield* Semaphore.make(1)
      const queue = building.withPermits(1)(Effect.suspend(() =>
        held.queue !== undefined ? Effect.succeed(held.queue) : Effect.gen(function*() {
          const queueScope = yield* Scope.fork(scope)
          const made = yield* MergeQueue.make({ ...RunServices.landingOf(config, Context.get(run, RunServices.CurrentRun).policy, false), landsOnce: true }).pipe(
            Effect.provideContext(base),
            Scope.provide(queueScope),
            Effect.onError(() => Scope.close(queueScope, Exit.void))
          )
          held.queue = made
          return made
        })))
      return { runId, config, context, workers: new Map(), localQueue: queue, followHub, submitting } satisfies RunnerRun
    }).pipe(Effect.provideContext(services))

  const runOf = (runId: string): Effect.Effect<RunnerRun, Project.SetupError> =>
    Effect.gen(function*() {
      const [deferred, mine] = yield* lock.withPermits(1)(Effect.gen(function*() {
        const known = runs.get(runId)
        if (known !== undefined) return [known, false] as const
        const created = yield* Deferred.make<RunnerRun, Project.SetupError>()
        runs.set(runId, created)
        return [created, true] as const
      }))
      if (mine) {
        // However the build ends (an interruption included), those waiting for it hear, and a failed one is forgotten.
        yield* build(runId).pipe(Effect.onExit((exit) =>
          Effect.andThen(Effect.sync(() => Exit.isFailure(exit) && runs.delete(runId)), Deferred.done(deferred, exit))))
      }
      return yield* Deferred.await(deferred)
    })

  const workerOf = (run: RunnerRun, worker: string) =>
    Effect.gen(function*() {
      const known = run.workers.get(worker)
      if (known !== undefined) return known
      const config = run.config.workers.find((w) => w.id === worker)
      if (config === undefined) return yield* Effect.die(new Error(`run ${run.runId} has no worker ${worker}`))
      const git = Context.get(run.context, Git.Git)
      const workspace = yield* git.acquireWorkspace(config.id)
      const current = Context.get(run.context, RunServices.CurrentRun)
      const slot = Math.max(0, run.config.workers.findIndex((w) => w.id === worker))
      const created: RunServices.CurrentWorker["Service"] = {
        worker: config,
        workspace,
        environment: {
          runId: run.runId,
          worker: config.id,
          worktree: workspace.path,
          repo: current.repo,
          firstPort: WorktreeEnvironment.firstPort(current.ports, slot),
          ports: current.ports.perWorker
        },
        setup: yield* Ref.make<RunServices.SetupDone | undefined>(undefined)
      }
      run.workers.set(worker, created)
      return created
    })

  const releaseWorker = (runId: string, worker: string) =>
    Effect.gen(function*() {
      const deferred = runs.get(runId)
      if (deferred === undefined) return
      const run = yield* Deferred.await(deferred)
      const held = run.workers.get(worker)
      if (held === undefined) return
      run.workers.delete(worker)
      yield* Effect.ignore(Context.get(run.context, Git.Git).removeWorkspace(held.workspace))
    }).pipe(Effect.catch(() => Effect.void))

  // The runner's worktrees go with it, however it stops.
  yield* Scope.addFinalizer(scope, Effect.suspend(() => Effect.forEach([...runs.keys()], (runId) =>
    Effect.flatMap(Effect.exit(Deferred.await(runs.get(runId)!)), (exit) =>
      Exit.isSuccess(exit) ? Effect.forEach([...exit.value.workers.keys()], (w) => releaseWorker(runId, w), { discard: true }) : Effect.void), { discard: true })))

  /**
   * The run's merge queue as its workers on this runner see it: the approved commit goes to the hub,
   * the submission to the run's `MergeQueue` entity, wherever it is held.
   */
  function remoteQueue(runId: string, git: Git.Git["Service"], events: Context.Context<EventSink.EventSink>, followHub: Effect.Effect<string, Errors.GitError>, submitting: Set<string>): MergeQueue.MergeQueue["Service"] {
    return {
      submit: (submission) =>
        Effect.gen(function*() {
          const branch = candidateBranch(runId, submission)
          yield* git.publishBranch(branch, submission.head)
          const client = (yield* MergeQueueEntity.client)(runId)
          const { retireBranch: _, ...sent } = submission
          const key = `${submission.worker}/${submission.iteration}`
          submitting.add(key)
          const outcome = yield* client.Submit({ run: runId, candidate: branch, submission: sent }).pipe(
            Effect.mapError((e) => GitRepo.gitError("remote", "failed", `the run's merge queue could not decide ${submission.branch}: ${e._tag === "SubmitFailed" ? e.message : e._tag}`)),
            // Interrupted, the key stays: the iteration's claim is then not given back (`ClusterRunner`).
            Effect.onExit((exit) => Exit.hasInterrupts(exit) ? Effect.void : Effect.sync(() => submitting.delete(key)))
          )
          // This runner's view of main follows the landing; the candidate branch has served.
          yield* followHub
          yield* Effect.ignore(git.publishBranch(branch, undefined))
          return outcome as MergeQueue.MergeOutcome
        }).pipe(Effect.provideContext(services)),
      // The queue's runner watches main for foreign moves; a worker's runner only follows the hub.
      checkMain: () => Effect.map(git.mainHead, (main) => ({ _tag: "Unchanged", main }) as const),
      halted: Effect.succeed(Option.none()),
      // An iteration delivered again after its runner died takes its task back (its claim is keyed by
      // the message): if that runner's submission landed before it died, the task is done, not redone.
      resume: (request) =>
        Effect.gen(function*() {
          const landed = yield* Recovery.landingOnMain(request.task, request.branch, yield* followHub)
          if (landed === undefined) return undefined
          const outcome: MergeQueue.MergeOutcome = { _tag: "Merged", ...landed, waitedMs: 0, testMs: 0 }
          // The dead runner's queue may have died before saying it landed: the run's log says it here
          // (a second report of the same landing names the same commit, and is counted once).
          const submission = { worker: request.worker, iteration: request.iteration, number: 0, branch: request.branch, base: landed.previous, head: landed.sha, message: "", task: request.task }
          yield* EventSink.emitNow((at) => MergeQueue.resultEvent(submission, outcome, at))
          return { head: landed.sha, base: landed.previous, outcome } satisfies MergeQueue.Resumed
        }).pipe(Effect.provideService(Git.Git, git), Effect.provideService(EventSink.EventSink, Context.get(events, EventSink.EventSink)))
    }
  }

  return { runOf, workerOf, releaseWorker } satisfies RunnerRuns
})
