/**
 * Every service a swarm needs, on Node: the one layer the CLI (or an embedder) provides to run
 * `@oompa/core`'s programs against a real repository.
 *
 * Git and the test gate run the git CLI in the repository; agents run as real processes; tasks,
 * prompts and the run log live on disk under the repository's top level (SPEC F1 paths). Checkout
 * sync warnings (SPEC F6) become `Warning` events, so they reach the log and the progress view.
 *
 * @since 0.1.0
 */
import { Clock, Effect, type FileSystem, Layer, type Path } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { type Agent, AgentSpec, type Errors, EventSink, type Ids, type Swarm, type SwarmConfig, type TaskQueue } from "@oompa/core"
import type * as WorktreeFiles from "./internal/worktreeFiles.ts"
import * as FsPrompts from "./FsPrompts.ts"
import * as FsTaskQueue from "./FsTaskQueue.ts"
import * as JsonlEventLog from "./JsonlEventLog.ts"
import * as NodeAgent from "./NodeAgent.ts"
import * as PushCredentials from "./internal/pushCredentials.ts"
import * as NodeCommandRunner from "./NodeCommandRunner.ts"
import * as NodeGit from "./NodeGit.ts"
import * as ProcessOwner from "./ProcessOwner.ts"
import * as RunPaths from "./RunPaths.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The top level of the repository's main worktree. */
  readonly repoRoot: string
  readonly config: SwarmConfig.SwarmConfig
  /** The folder of oompa.json: prompt files are relative to it. */
  readonly configDir: string
  readonly runId: Ids.RunId
  /** More sinks beside the run log, such as the progress view. */
  readonly sinks?: ReadonlyArray<Layer.Layer<EventSink.EventSink>>
  /** The ignored files every worktree gets (`worktree.copy`/`link`, resolved when the run starts). */
  readonly worktreeFiles?: WorktreeFiles.WorktreeFiles
  /** The environment agents inherit (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /**
   * Replaces `NodeAgent` (real agent processes) with another `Agent`, such as the CLI's scripted
   * demo agent; git, the test gate, the queue and the run log stay the real ones.
   */
  readonly agent?: Layer.Layer<Agent.Agent, never, ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path>
  /** An OTLP/HTTP endpoint the run's spans and metrics go to (`--otlp`, `OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly otlp?: string
  /** Replaces the folder queue (`FsTaskQueue` on `tasks_dir`), e.g. with `GitHubIssuesTaskQueue` for `tasks.github`. */
  readonly taskQueue?: Layer.Layer<TaskQueue.TaskQueue, Errors.TaskQueueError>
  /** What git said about the repository earlier in the run (`NodeGit.discover`): opening it again spawns no git. */
  readonly discovered?: NodeGit.Discovery
}

/**
 * The run's folders for these options.
 *
 * @category constructors
 * @since 0.1.0
 */
export const pathsOf = (options: Pick<Options, "repoRoot" | "config">): RunPaths.RunPaths =>
  RunPaths.make(options.repoRoot, { tasksDir: options.config.tasks_dir })

/**
 * Git, agents, the test gate, the task queue, prompts and the run log for one run.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<
  Swarm.Services,
  Errors.GitError | Errors.TaskQueueError | JsonlEventLog.EventLogError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path
> => {
  const paths = pathsOf(options)
  const logged = JsonlEventLog.layerTee(JsonlEventLog.layer(RunPaths.eventsPath(paths, options.runId)), ...(options.sinks ?? []))
  const notify = options.config.notify ?? []
  // Loaded only by runs that use them: the HTTP client and the OTLP exporter weigh on every start.
  const notified = notify.length === 0 ? logged : Layer.unwrap(Effect.promise(() => import("./Notifications.ts")).pipe(Effect.map((Notifications) =>
    Notifications.layerAfter(logged, notify, { runId: options.runId, repoRoot: options.repoRoot, env: options.env ?? process.env }))))
  const events = options.otlp === undefined ? notified : Layer.unwrap(Effect.promise(() => import("./Telemetry.ts")).pipe(Effect.map((Telemetry) =>
    Telemetry.layerAfter(notified, options.otlp!, { runId: options.runId }))))
  const git = Layer.unwrap(EventSink.EventSink.use((sink) =>
    Effect.succeed(NodeGit.layer({
      repoRoot: options.repoRoot,
      worktreesDir: options.config.worktrees_dir,
      branch: options.config.branch,
      // A remote target (`target.mode: "push"`): main is the remote's branch, the local one follows.
      remote: options.config.target?.remote,
      runId: options.runId,
      worktreeFiles: options.worktreeFiles,
      discovered: options.discovered,
      onWarning: (line) => Effect.flatMap(Clock.currentTimeMillis, (at) => sink.emit({ _tag: "Warning", at, message: line.replace(/^warning:\s*/, "") }))
    }))))
  // Landing on a remote, agents get no way to push; with GitHub in the run, neither they nor test and setup commands get its tokens.
  const usesGitHub = options.config.target?.mode === "pr" || options.config.tasks?.github !== undefined
  const agentEnvironment = (env: Readonly<Record<string, string | undefined>>) =>
    options.config.target !== undefined ? PushCredentials.withoutPushCredentials(env) : usesGitHub ? PushCredentials.withoutGitHubTokens(env) : env
  return Layer.mergeAll(
    git,
    NodeCommandRunner.layer({
      repoRoot: options.repoRoot,
      worktreesDir: options.config.worktrees_dir,
      branch: options.config.branch,
      discovered: options.discovered,
      environment: usesGitHub ? PushCredentials.withoutGitHubTokens : undefined
    }),
    options.agent ?? Layer.unwrap(EventSink.EventSink.use((sink) => Effect.succeed(NodeAgent.layer({
      runDir: RunPaths.runDir(paths, options.runId),
      harnesses: options.config.harnesses,
      pricing: options.config.pricing,
      rateLimitRetriesMax: options.config.rate_limit.retries,
      rateLimitBackoffMs: options.config.rate_limit.backoff_seconds * 1000,
      rateLimitBackoffMsMax: options.config.rate_limit.backoff_max_seconds * 1000,
      onRateLimit: ({ request, retry, source, waitMs }) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          sink.emit({
            _tag: "RateLimited",
            at,
            worker: request.worker,
            iteration: request.iteration,
            call: request.call,
            agent: AgentSpec.formatModelString(request.agent),
            retry,
            waitMs,
            source
          })),
      // Marked with this process and the repository, so recovery finds them even without a record (SPEC F14);
      // landing on a remote, without git's ways to push to it (an agent's own push would pass for a teammate's).
      env: agentEnvironment({ ...(options.env ?? process.env), ...ProcessOwner.variables(options.repoRoot) })
    })))),
    options.taskQueue ?? FsTaskQueue.layer(paths.tasksDir),
    FsPrompts.layer(options.configDir)
  ).pipe(Layer.provideMerge(events))
}
