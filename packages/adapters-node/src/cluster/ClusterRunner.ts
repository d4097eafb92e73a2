/**
 * One runner of a swarm spread over machines (issue 21): `oompa cluster runner --hub <url> --db
 * <postgres url>`. It keeps its own clone of the hub and its own worktrees, joins the cluster
 * (Effect Cluster's `NodeClusterSocket` runners, message and runner storage in PostgreSQL), and
 * runs what the cluster gives it: iterations of the worker slots whose shards it holds
 * (`Protocol.Worker`), and the merge queue of each run whose shard it holds
 * (`Protocol.MergeQueueEntity`).
 *
 * A runner that dies (kill -9, a lost machine) stops refreshing its shard locks; after
 * `shardLockExpiration` (5 s here; Effect's default is much longer) other runners take its shards
 * and are given again every message it had not answered.
 *
 * @since 0.1.0
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { PgClient } from "@effect/sql-pg"
import { Cause, Context, type Duration, Effect, Exit, Layer, Option, Redacted, Semaphore } from "effect"
import { RunnerAddress } from "effect/cluster"
import { EventSink, Git, Iteration, MergeQueue, Recovery, RunServices, TaskQueue } from "@oompa/core"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { promisify } from "node:util"
import type * as NodeServices from "../NodeServices.ts"
import * as GitRemote from "../internal/gitRemote.ts"
import * as PortRange from "../internal/portRange.ts"
import * as Project from "../Project.ts"
import * as ClusterTaskQueue from "./ClusterTaskQueue.ts"
import { MergeQueueEntity, SubmitFailed, Worker } from "./Protocol.ts"
import * as RunnerRuns from "./RunnerRuns.ts"
import * as RunClones from "./runClones.ts"
import * as RunTable from "./RunTable.ts"

const run = promisify(execFile)

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The hub repository every runner fetches from and lands on: a URL git can push to. */
  readonly hub: string
  /** The cluster's PostgreSQL: `postgres://user@host:port/database`. */
  readonly db: string
  /** This runner's clone of the hub (made on the first start). */
  readonly dir: string
  /** The address other runners reach this one at (default 127.0.0.1). */
  readonly host?: string
  readonly port: number
  /**
   * How many iterations this runner runs at once, whatever the number of worker slots it holds
   * (what the machine can take: agent CLIs, memory, an account's rate limit); default: no limit.
   */
  readonly slots?: number
  /** How long a dead runner's shards stay locked before others take them (default 5 s). */
  readonly shardLockExpiration?: Duration.Input
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly agent?: NodeServices.Options["agent"]
}

/** How the runners of a cluster share shards: locks refreshed every second, given up after `expiration`. */
export const shardingConfig = (expiration: Duration.Input = "5 seconds") => ({
  shardLockExpiration: expiration,
  shardLockRefreshInterval: "1 second" as Duration.Input,
  // Messages and replies are read from PostgreSQL: a short poll keeps an iteration's hand-offs quick.
  entityMessagePollInterval: "250 millis" as Duration.Input,
  entityReplyPollInterval: "100 millis" as Duration.Input
})

/** The PostgreSQL client of a cluster's URL. */
export const database = (url: string) => PgClient.layer({ url: Redacted.make(url) })

/** A free port of 127.0.0.1 for a runner on this machine (`oompa cluster dev`, the benchmark). */
export const freePort = PortRange.anyFreePort

/** The hub's URL as it may be shown: a password or token in it masked. */
export const shownHub = (hub: string): string => GitRemote.redact(hub)

/** Clones the hub into `dir` on the first start; later starts use the clone (NodeGit fetches the hub). */
export const ensureClone = (hub: string, dir: string): Effect.Effect<void, Project.SetupError> =>
  Effect.tryPromise({
    try: async () => {
      if (fs.existsSync(`${dir}/.git`)) return
      fs.mkdirSync(dir, { recursive: true })
      await run("git", ["clone", "--quiet", "--no-tags", "--", hub, dir], { env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } })
    },
    catch: (cause) => new Project.SetupError({ reason: "remote", message: GitRemote.redact(`cannot clone the hub ${hub} into ${dir}: ${String((cause as { stderr?: string }).stderr ?? cause).trim()}`) })
  })

/**
 * Where a runner whose clone of the hub is `dir` runs run `runId`: a clone of its own, with the
 * runner's log of the run at `.oompa/runs/<run>/events.jsonl`.
 *
 * @category paths
 * @since 0.1.0
 */
export const runCloneOf: (dir: string, runId: string) => string = RunClones.cloneOf

/** The runner's runs, and its slots: built once per runner (an entity's handlers are built once per entity). */
class Runs extends Context.Service<Runs, RunnerRuns.RunnerRuns & { readonly slots: Semaphore.Semaphore }>()("@oompa/adapters-node/cluster/ClusterRunner/Runs") {}

/** A failure as one line for the run log and the driver. */
const describe = (cause: Cause.Cause<unknown>): string => Cause.pretty(cause).split("\n")[0] ?? "failed"

/**
 * The task queue of one iteration: claims keyed by its message, so a copy of the message takes the
 * task back. Interrupted while its submission is with the queue (the runner stopping, its shard
 * moving), it does not give the task back: the queue, which Effect Cluster does not interrupt, may
 * still land it; the message, delivered again, takes the task back and finds the landing on main.
 */
const iterationQueue = (run: RunnerRuns.RunnerRun, payload: { readonly run: string; readonly worker: string; readonly iteration: number; readonly step: number }) =>
  Layer.effect(TaskQueue.TaskQueue, Effect.map(
    ClusterTaskQueue.make({ queue: payload.run, claimedBy: `${payload.run}/${payload.worker}/${payload.step}`, takesBackHeld: true }),
    (queue) => ({
      ...queue,
      release: (id, options) => run.submitting.has(`${payload.worker}/${payload.iteration}`) ? Effect.succeed("pending" as const) : queue.release(id, options)
    })
  ))

const workerHandlers = (runner: string) =>
  Worker.toLayer(Effect.gen(function*() {
    const runs = yield* Runs
    return Worker.of({
      RunIteration: ({ payload }) =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(runs.slots.withPermits(1)(Effect.gen(function*() {
            const theRun = yield* runs.runOf(payload.run)
            const worker = yield* runs.workerOf(theRun, payload.worker)
            // A copy of a message interrupted here before: this delivery settles the claim itself.
            theRun.submitting.delete(`${payload.worker}/${payload.iteration}`)
            // This runner's view of main follows the hub before each iteration: other runners land there.
            yield* theRun.followHub
            return yield* Iteration.run(payload.iteration).pipe(
              Effect.provideService(RunServices.CurrentWorker, worker),
              // Claimed under the message's key: a copy of this message after a failover takes the same task again.
              Effect.provide(iterationQueue(theRun, payload)),
              Effect.provideContext(theRun.context)
            )
          })))
          if (Exit.isFailure(exit)) {
            if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.interrupt
            return { outcome: "error", done: false, setupFailed: false, detail: describe(exit.cause), runner }
          }
          const report = exit.value
          if ("_tag" in report) return { outcome: "nothing-to-claim", done: false, setupFailed: false, runner }
          return {
            outcome: report.outcome,
            done: report.done,
            setupFailed: report.setupFailed === true,
            runner,
            ...(report.task === undefined ? {} : { task: report.task }),
            ...(report.mergedSha === undefined ? {} : { mergedSha: report.mergedSha }),
            ...(report.taskMovedTo === undefined ? {} : { taskMovedTo: report.taskMovedTo }),
            ...(report.detail === undefined ? {} : { detail: report.detail })
          }
        }),
      EndWorker: ({ payload }) => runs.releaseWorker(payload.run, payload.worker)
    })
  }))

const queueHandlers = MergeQueueEntity.toLayer(Effect.gen(function*() {
  const runs = yield* Runs
  return MergeQueueEntity.of({
    Submit: ({ payload }) =>
      Effect.gen(function*() {
        const theRun = yield* runs.runOf(payload.run)
        const git = Context.get(theRun.context, Git.Git)
        const queue = yield* theRun.localQueue
        const { task, branch } = payload.submission
        // A copy of a submission a dead runner's queue landed: answered from main (as this queue, which
        // fetched it when it started, sees it; never a ref an agent could have moved), whatever became
        // of its candidate branch.
        if (task !== undefined) {
          const landed = yield* Recovery.landingOnMain(task, branch, yield* theRun.followHub).pipe(Effect.provideService(Git.Git, git))
          if (landed !== undefined) {
            const outcome: MergeQueue.MergeOutcome = { _tag: "Merged", ...landed, waitedMs: 0, testMs: 0 }
            // The dead queue may have landed it without saying so: the run's log says it (counted once, by its commit).
            yield* EventSink.emitNow((at) => MergeQueue.resultEvent(payload.submission, outcome, at)).pipe(Effect.provideContext(theRun.context))
            return outcome
          }
        }
        // The approved commit comes by the hub, exactly: a branch moved since is not what was reviewed.
        const fetched = yield* git.fetchBranch(payload.candidate)
        if (fetched !== payload.submission.head) {
          return yield* new SubmitFailed({ message: `the hub's ${payload.candidate} is at ${fetched ?? "nothing"}, not at the approved ${payload.submission.head}` })
        }
        return yield* queue.submit(payload.submission)
      }).pipe(
        Effect.catch((error) => Effect.fail(error._tag === "SubmitFailed" ? error : new SubmitFailed({ message: error.message })))
      )
  })
}), { concurrency: "unbounded" })

/**
 * The runner, as a layer: building it joins the cluster, closing it leaves.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options) => {
  const host = options.host ?? "127.0.0.1"
  const runner = `${host}:${options.port}`
  const runsLayer = Layer.effect(Runs, Effect.gen(function*() {
    yield* ensureClone(options.hub, options.dir)
    // The clones of runs that are over go (with what a killed runner left in them); unreadable runs keep theirs.
    const known = yield* Effect.option(RunTable.list)
    if (known._tag === "Some") {
      const open = new Set(known.value.filter((r) => r.finishedAt === null).map((r) => r.runId))
      yield* RunClones.removeFinished(options.dir, (runId) => Effect.succeed(!open.has(runId)), options.env ?? process.env)
    }
    const slots = yield* Semaphore.make(options.slots ?? Number.MAX_SAFE_INTEGER)
    const runs = yield* RunnerRuns.make({
      hub: options.hub,
      repoRoot: options.dir,
      runner,
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.agent === undefined ? {} : { agent: options.agent }),
      taskQueue: (queue, claimedBy) => ClusterTaskQueue.layer({ queue, claimedBy })
    }, yield* Effect.scope)
    return { ...runs, slots }
  }))
  const cluster = NodeClusterSocket.layer({
    storage: "sql",
    shardingConfig: { ...shardingConfig(options.shardLockExpiration), runnerAddress: Option.some(RunnerAddress.make(host, options.port)) }
  })
  return Layer.mergeAll(workerHandlers(runner), queueHandlers).pipe(
    Layer.provide(runsLayer),
    Layer.provideMerge(cluster),
    Layer.provide(database(options.db))
  )
}
