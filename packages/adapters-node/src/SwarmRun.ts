/**
 * A whole run on a real repository, as `oompa swarm` does it — for programs that embed oompa:
 *
 * 1. preflight: every agent CLI the configuration uses is on PATH and can run (claude refuses root
 *    without `IS_SANDBOX=1`), and a cost budget can be enforced (every agent it counts can be priced:
 *    `Pricing`) — both skipped when the host brings its own agent — and every prompt file it names
 *    is there;
 * 2. the repository's run lock (one run at a time; a dead holder's lock is taken over);
 * 3. recovery of whatever dead runs left (`DiskRecovery`: agents, claims, worktrees, branches); a
 *    remote target (`target.mode: "push"`) is fetched first, and one that cannot be reached or
 *    refuses the login stops the run here (`SetupError` `remote`), before anything is claimed;
 * 4. the run log `.oompa/runs/<id>/events.jsonl`, beside the host's own event sinks;
 * 5. the swarm (`Swarm.run`, or `RunTasks.run` for a fixed task list), and its typed report.
 *
 * Two forms: {@link run}, an Effect for Effect programs (interrupt it to stop the run: claims go
 * back, workspaces are released, approved work keeps its branch), and {@link runPromise} for plain
 * TypeScript, stopped by an `AbortSignal` the same way Ctrl-C stops the CLI.
 *
 * The CLI's `swarm`, `run`, `loop`, `prompt` and `demo` commands are this plus printing.
 *
 * @since 0.1.0
 */
import * as PlatformNode from "@effect/platform-node/NodeServices"
import { Cause, Context, Deferred, Effect, Exit, type FileSystem, Layer, type Path, Result, Schema } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { Agent, ConfigFile, type Event, EventSink, Ids, Notification, RunTasks, Swarm, type SwarmConfig, type Task, TaskQueue, WorktreeEnvironment } from "@oompa/core"
import { randomBytes } from "node:crypto"
import * as DiskRecovery from "./DiskRecovery.ts"
import * as FsPrompts from "./FsPrompts.ts"
import * as GitHubIssuesQueue from "./internal/githubIssuesQueue.ts"
import * as GitHubPullRequests from "./GitHubPullRequests.ts"
import * as HarnessCheck from "./HarnessCheck.ts"
import * as NodeGit from "./NodeGit.ts"
import * as Pricing from "./Pricing.ts"
import * as NodeServices from "./NodeServices.ts"
import * as Project from "./Project.ts"
import * as RunLock from "./RunLock.ts"
import * as PortRange from "./internal/portRange.ts"
import * as WorktreeFiles from "./internal/worktreeFiles.ts"
import * as RunPaths from "./RunPaths.ts"

/**
 * The run stopped part-way on a failure of its own storage (the run log, the task folders, git):
 * not the user's input. The CLI exits 1 on it; the run log says how far it got.
 *
 * @category errors
 * @since 0.1.0
 */
export class RunError extends Schema.TaggedError<RunError>()("RunError", {
  runId: Schema.String,
  message: Schema.String
}) {}

/**
 * {@link runPromise}'s rejection when its `AbortSignal` stopped the run: every claim was returned
 * and every workspace released first, as on Ctrl-C. The run log tells what it did.
 *
 * @category errors
 * @since 0.1.0
 */
export class RunInterrupted extends Schema.TaggedError<RunInterrupted>()("RunInterrupted", {
  runId: Schema.String,
  eventsPath: Schema.String,
  message: Schema.String
}) {}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** A folder of the repository to work on (default: the current folder). */
  readonly cwd?: string
  /**
   * The configuration, built in code (`SwarmConfig.makeSwarmConfig`, or decoded with `ConfigFile`).
   * Without it, the oompa.json at `configFile` — or, as the CLI looks, in `cwd` then at the
   * repository's top level — is read.
   */
  readonly config?: SwarmConfig.SwarmConfig
  /**
   * An oompa.json's content as a value (`{ workers: [{ model: "codex", iterations: 3 }] }`),
   * decoded exactly as the file would be: a wrong field fails with a `SetupError` naming it.
   */
  readonly configJson?: unknown
  /** The oompa.json to read, relative to `cwd` (ignored with `config` or `configJson`). */
  readonly configFile?: string
  /** With `config` or `configJson`: the folder prompt files are relative to (default: the repository's top level). */
  readonly configDir?: string
  /** What the run is, for the log and the prompts (default: `swarm`; `run` with `tasks`). */
  readonly mode?: "swarm" | "run" | "loop" | "prompt"
  /** A fixed task list: queued, worked through, then the run ends (`oompa run`, `oompa prompt`). */
  readonly tasks?: ReadonlyArray<Task.Task>
  /** Everything but the merge: approved work stays on its branch. */
  readonly dryRun?: boolean
  /** Keep worktrees and branches after the run. */
  readonly keepWorktrees?: boolean
  /**
   * The host's own agent, as a function of each call ({@link Agent.AgentFunction}) or as an `Agent`
   * layer; it then answers every call (proposals, reviews, fixes, conflicts). Default: the agent
   * CLIs the configuration names, as real processes.
   */
  readonly agent?: Agent.AgentFunction | NodeServices.Options["agent"]
  /**
   * Called with every event, in order, as it is logged. If it throws, the run stops as on an abort
   * (claims returned, worktrees released) and fails with a {@link RunError} naming the event.
   */
  readonly onEvent?: (event: Event.Event) => void
  /** More event sinks beside the run log (a progress view, the host's UI). */
  readonly sinks?: ReadonlyArray<Layer.Layer<EventSink.EventSink>>
  /** Called with each line about the run's start: a lock taken over, what recovery repaired. */
  readonly onNotice?: (line: string) => void
  /** The run's id, 8 hex characters (default: fresh ones). */
  readonly runId?: Ids.RunId
  /**
   * Whether the process running the swarm stops it on SIGINT, as the CLI does (recorded in the run
   * lock, so `oompa stop` knows it may signal it). Default false: `oompa stop` then refuses rather
   * than kill the program embedding oompa.
   */
  readonly stopsOnSigint?: boolean
  /** The environment agents inherit (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /**
   * An OTLP/HTTP endpoint (`http://collector:4318`) the run's spans and metrics go to (issue 22).
   * Default: `OTEL_EXPORTER_OTLP_ENDPOINT` of `env`; neither: none.
   */
  readonly otlp?: string
}

/**
 * @category models
 * @since 0.1.0
 */
export interface RunResult {
  readonly runId: Ids.RunId
  /** The run log. */
  readonly eventsPath: string
  readonly report: Swarm.SwarmReport
  /** The lines {@link Options.onNotice} got: a lock taken over, what recovery repaired. */
  readonly notices: ReadonlyArray<string>
}

/**
 * A fresh run id: 8 hex characters (SPEC F9).
 *
 * @category constructors
 * @since 0.1.0
 */
export const newRunId = (): Ids.RunId => Ids.RunId.make(randomBytes(4).toString("hex"))

/** What the platform must provide: files, paths and child processes (`NodeServices.layer`). */
type Platform = FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner

/**
 * The project `options` describe.
 *
 * @category constructors
 * @since 0.1.0
 */
export const projectOf = (options: Options): Effect.Effect<Project.Project, Project.SetupError, FileSystem.FileSystem | Path.Path> => {
  const cwd = options.cwd ?? process.cwd()
  if (options.config !== undefined) return Project.fromConfig(cwd, options.config, options.configDir)
  if (options.configJson !== undefined) {
    const text = Result.try(() => JSON.stringify(options.configJson))
    if (Result.isFailure(text) || typeof text.success !== "string") {
      const why = Result.isFailure(text) ? String(text.failure) : `a ${typeof options.configJson}`
      return Effect.fail(new Project.SetupError({ reason: "config", message: `configJson: not a JSON value (${why})` }))
    }
    return ConfigFile.decodeConfigFile(text.success, "configJson").pipe(
      Effect.mapError((e) => new Project.SetupError({ reason: "config", message: e.message })),
      Effect.flatMap((config) => Project.fromConfig(cwd, config, options.configDir))
    )
  }
  return Project.fromConfigFile(cwd, options.configFile)
}

/** The given run id, checked (it names a folder), or a fresh one. */
const runIdOf = (given: string | undefined): Effect.Effect<Ids.RunId, Project.SetupError> =>
  given === undefined
    ? Effect.sync(newRunId)
    : Schema.is(Ids.RunId)(given)
    ? Effect.succeed(given)
    : Effect.fail(new Project.SetupError({ reason: "config", message: `runId: ${JSON.stringify(given)} is not a run id (8 hex characters)` }))

/**
 * A failure to open the repository's layers, as the setup error it is (no main branch, unwritable
 * folders); a remote target (`target.mode: "push"`) that cannot be reached, refuses the login or
 * lacks the branch is reason `remote`, with git's (redacted) message.
 */
const layersError = (e: { readonly _tag: string; readonly message: string }): Project.SetupError =>
  e._tag === "GitError" && "operation" in e && e.operation === "remote"
    ? new Project.SetupError({ reason: "remote", message: `${e.message}\nnothing was claimed` })
    : new Project.SetupError({ reason: "layers", message: e.message })

/**
 * The code host of a run landing through pull requests (`target.mode: "pr"`): GitHub, with the token
 * `GITHUB_TOKEN`, `GH_TOKEN` or `gh auth token` gives; nothing for any other target. A token that is
 * missing or cannot see the repository, or a host that cannot be reached, is reason `remote`.
 */
const pullRequestsOf = (config: SwarmConfig.SwarmConfig, env: Readonly<Record<string, string | undefined>>) => {
  const target = config.target
  if (target?.mode !== "pr") return Effect.succeed(Context.empty())
  return GitHubPullRequests.resolveToken(env).pipe(
    Effect.flatMap((token) =>
      Layer.build(GitHubPullRequests.layer({ owner: target.github.owner, repo: target.github.repo, token, apiUrl: target.github.api_url }))),
    Effect.mapError((e) => new Project.SetupError({ reason: "remote", message: `target.github (${target.github.owner}/${target.github.repo}): ${e.message}\nnothing was claimed` }))
  )
}

/**
 * The task queue of a run that takes its tasks from GitHub Issues (`tasks.github`), built here so a
 * token GitHub refuses stops the run as a setup error (reason `remote`); `undefined`: the folder queue.
 */
const issuesQueueOf = (project: Project.Project, runId: string, env: Readonly<Record<string, string | undefined>>) =>
  Effect.map(GitHubIssuesQueue.open(project, runId, env), (queue) => queue === undefined ? undefined : Layer.succeed(TaskQueue.TaskQueue, queue))

const agentLayerOf = (agent: Options["agent"]): NodeServices.Options["agent"] =>
  typeof agent === "function" ? Agent.layerFunction(agent) : agent

/**
 * The host's callback as a sink. A callback that throws is the host's bug, but it must not strand
 * the run's claims: the first throw fails `stopped`, which stops the run as an abort does, and the
 * callback is not called again.
 */
const callbackSink = (onEvent: (event: Event.Event) => void, stopped: Deferred.Deferred<never, RunError>, runId: string): Layer.Layer<EventSink.EventSink> => {
  let failed = false
  return Layer.succeed(EventSink.EventSink, EventSink.EventSink.of({
    emit: (event) =>
      Effect.suspend(() => {
        if (failed) return Effect.void
        try {
          onEvent(event)
          return Effect.void
        } catch (cause) {
          failed = true
          const message = `run ${runId} stopped: the host's onEvent threw on ${event._tag}: ${cause instanceof Error ? cause.message : String(cause)}`
          return Effect.asVoid(Deferred.fail(stopped, new RunError({ runId, message })))
        }
      })
  }))
}

/**
 * Runs a swarm on a project (see the module's steps). Fails with a `SetupError` before anything is
 * claimed or created when the setup is wrong, with a {@link RunError} when the run's storage fails
 * part-way; a run whose tasks failed is a result (`report.outcome` is `failed`), not an error.
 *
 * @category programs
 * @since 0.1.0
 */
export const runProject = (
  project: Project.Project,
  options: Omit<Options, "cwd" | "config" | "configJson" | "configFile" | "configDir"> = {}
): Effect.Effect<RunResult, Project.SetupError | RunError, Platform> =>
  Effect.scoped(Effect.gen(function*() {
    const notices: Array<string> = []
    const notice = (line: string) => {
      notices.push(line)
      options.onNotice?.(line)
    }
    // An agent that cannot run at all is the user's setup: refuse before anything is claimed or created.
    if (options.agent === undefined) {
      const blockers = yield* HarnessCheck.runBlockers(project.config, options.env === undefined ? {} : { env: options.env })
      if (blockers.length > 0) {
        return yield* new Project.SetupError({ reason: "preflight", message: [...blockers, "nothing was started; `oompa check` shows every harness"].join("\n") })
      }
      // A cost budget over calls oompa could not price would never stop the run (issue 18). A host's
      // own agent reports what it reports: its costs are its business.
      const unpriced = yield* Pricing.budgetProblems(project.config)
      if (unpriced.length > 0) {
        const problems = new ConfigFile.ConfigError({ file: project.configFile ?? "the configuration", problems: unpriced })
        return yield* new Project.SetupError({ reason: "config", message: `${problems.message}\nnothing was started` })
      }
    }
    // Prompt files the configuration names must be there, whoever the agent is.
    const missingPrompts = yield* FsPrompts.missingFiles(project.configDir, project.config)
    if (missingPrompts.length > 0) {
      return yield* new Project.SetupError({ reason: "config", message: [...missingPrompts, "nothing was started"].join("\n") })
    }
    const runId = yield* runIdOf(options.runId)
    const lock = yield* RunLock.acquire(project.paths.lockPath, runId, { stopsOnSigint: options.stopsOnSigint ?? false }).pipe(
      Effect.mapError((e) => new Project.SetupError({ reason: "lock", message: e.message }))
    )
    if (lock.takeover !== undefined) notice(`warning: ${lock.takeover}`)
    // Holding the lock, whatever a dead run left is ours to repair before this run starts (SPEC F14).
    // A remote target is fetched here first: unreachable, or a refused login, stops the run (exit 2).
    // Asked once: recovery, the git layer and the test gate's runner each open the repository.
    const discovery = yield* Effect.cached(NodeGit.discover(project.repoRoot))
    const repaired = yield* DiskRecovery.repair(project, options.env ?? process.env, discovery).pipe(Effect.mapError(layersError))
    for (const line of repaired) notice(`recovered: ${line}`)
    // Pull requests and GitHub's issues need the host: a token that cannot see the repository stops the run here (exit 2).
    const pullRequests = yield* pullRequestsOf(project.config, options.env ?? process.env)
    const taskQueue = yield* issuesQueueOf(project, runId, options.env ?? process.env)
    const agent = agentLayerOf(options.agent)
    const worktreeFiles = yield* WorktreeFiles.resolve(project.repoRoot, project.config.worktree).pipe(
      Effect.mapError((e) => new Project.SetupError({ reason: "config", message: e.message }))
    )
    const hostFailed = yield* Deferred.make<never, RunError>()
    const otlp = options.otlp ?? nonEmpty((options.env ?? process.env)["OTEL_EXPORTER_OTLP_ENDPOINT"])
    if (otlp !== undefined && !Notification.isWebUrl(otlp)) {
      return yield* new Project.SetupError({
        reason: "config",
        message: `${options.otlp === undefined ? "OTEL_EXPORTER_OTLP_ENDPOINT" : "otlp"}: expected an http:// or https:// URL, got ${JSON.stringify(otlp)}`
      })
    }
    // Failing to open the repository's layers is the user's setup (no main branch, unwritable folders).
    const services = yield* Layer.build(NodeServices.layer({
      repoRoot: project.repoRoot,
      config: project.config,
      configDir: project.configDir,
      runId,
      worktreeFiles,
      discovered: yield* discovery.pipe(Effect.mapError(layersError)),
      sinks: [...(options.sinks ?? []), ...(options.onEvent === undefined ? [] : [callbackSink(options.onEvent, hostFailed, runId)])],
      ...(otlp === undefined ? {} : { otlp }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(agent === undefined ? {} : { agent }),
      ...(taskQueue === undefined ? {} : { taskQueue })
    })).pipe(Effect.mapError(layersError))
    const ports = project.config.workers.length * project.config.worktree.ports_per_worker
    if (WorktreeEnvironment.defaultPortBase + ports - 1 > 65_535) {
      return yield* new Project.SetupError({
        reason: "config",
        message: `worktree.ports_per_worker: ${project.config.workers.length} workers × ${project.config.worktree.ports_per_worker} ports do not fit between ${WorktreeEnvironment.defaultPortBase} and 65535`
      })
    }
    const swarmOptions = {
      runId,
      dryRun: options.dryRun ?? false,
      keepBranches: options.keepWorktrees ?? false,
      environment: { repo: project.repoRoot, portBase: yield* PortRange.findFreeBlock(ports, WorktreeEnvironment.defaultPortBase) }
    }
    const program = options.tasks === undefined
      ? Swarm.run(project.config, { ...swarmOptions, mode: options.mode ?? "swarm" })
      : RunTasks.run(project.config, options.tasks, swarmOptions)
    const report = yield* program.pipe(
      Effect.provide(services),
      Effect.provide(pullRequests),
      Effect.mapError((e) => new RunError({ runId, message: `run ${runId} stopped: ${e._tag}: ${e.message}` })),
      // The loser is interrupted, and its finalizers (claims, worktrees) run before this returns.
      Effect.raceFirst(Deferred.await(hostFailed))
    )
    return { runId, eventsPath: RunPaths.eventsPath(project.paths, runId), report, notices }
  }))

/**
 * {@link runProject} on the project `options` describe: the Effect form of the library entry.
 *
 * **Example** (An Effect program)
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { SwarmRun } from "@oompa/adapters-node"
 *
 * const program = SwarmRun.run({ cwd: "/path/to/repo" }).pipe(
 *   Effect.tap((result) => Effect.log(`${result.report.merged} merged`)),
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category programs
 * @since 0.1.0
 */
export const run = (options: Options = {}): Effect.Effect<RunResult, Project.SetupError | RunError, Platform> =>
  Effect.flatMap(projectOf(options), (project) => runProject(project, options))

/**
 * The Promise form of {@link run} for plain TypeScript, on Node's own platform layer. Resolves with
 * the run's result (`report.outcome`: `ok` or `failed`); rejects with a `SetupError` (nothing was
 * started), a {@link RunError} or, when `signal` aborted the run, a {@link RunInterrupted} — after
 * claims were returned and workspaces released, as Ctrl-C does.
 *
 * **Example** (Plain TypeScript with its own agent)
 *
 * ```ts
 * import { runSwarm } from "@oompa/adapters-node"
 *
 * const controller = new AbortController()
 * const result = await runSwarm({
 *   cwd: "/path/to/repo",
 *   configJson: { workers: [{ model: "codex", iterations: 3, role: "executor" }] },
 *   agent: async (request) => request.call === "review" ? "VERDICT: APPROVED" : "done",
 *   onEvent: (event) => console.log(event._tag),
 *   signal: controller.signal
 * })
 * ```
 *
 * @category programs
 * @since 0.1.0
 */
export const runPromise = async (options: Options & { readonly signal?: AbortSignal } = {}): Promise<RunResult> => {
  const { signal, ...rest } = options
  let started: { readonly runId: Ids.RunId; readonly eventsPath: string } | undefined
  const program = Effect.gen(function*() {
    const project = yield* projectOf(rest)
    const runId = yield* runIdOf(rest.runId)
    started = { runId, eventsPath: RunPaths.eventsPath(project.paths, runId) }
    return yield* runProject(project, { ...rest, runId })
  }).pipe(Effect.provide(PlatformNode.layer))
  const exit = await Effect.runPromiseExit(program, signal === undefined ? undefined : { signal })
  if (Exit.isSuccess(exit)) return exit.value
  if (Cause.hasInterruptsOnly(exit.cause)) {
    throw new RunInterrupted({
      runId: started?.runId ?? "",
      eventsPath: started?.eventsPath ?? "",
      message: started === undefined
        ? "the run was aborted before it started"
        : `run ${started.runId} was aborted: what it held went back (claims to pending/, worktrees released)`
    })
  }
  throw Cause.squash(exit.cause)
}

const nonEmpty = (text: string | undefined): string | undefined => text === undefined || text.trim() === "" ? undefined : text.trim()

