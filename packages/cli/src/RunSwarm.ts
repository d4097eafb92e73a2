/**
 * Runs a swarm for a command (`swarm`, `run`, `loop`, `prompt`): takes the repository's run lock,
 * builds the Node layers with the progress view beside the run log, runs the core program, prints
 * the summary and where the log is, and turns the outcome into SPEC F10's exit code.
 *
 * @since 0.1.0
 */
import { NodeServices as PlatformNode } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { type Ids, RunTasks, Swarm, type Task } from "@oompa/core"
import { HarnessCheck, JsonlEventLog, NodeServices, RunLock, RunPaths } from "@oompa/adapters-node"
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { RunFailed, UsageError } from "./Errors.ts"
import * as Output from "./Output.ts"
import * as ProgressSink from "./ProgressSink.ts"
import * as Maintenance from "./commands/maintenance.ts"
import * as RunHistory from "./RunHistory.ts"
import type { Session } from "./Session.ts"
import { summaryLines } from "./Summary.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface RunOptions {
  readonly mode: "swarm" | "run" | "loop" | "prompt"
  /** The fixed task list of `run` and `prompt`. */
  readonly tasks?: ReadonlyArray<Task.Task>
  readonly dryRun: boolean
  readonly keepWorktrees: boolean
  /** Replaces the real agent processes (`oompa demo`'s scripted agent); everything else stays real. */
  readonly agentLayer?: NodeServices.Options["agent"]
}

/** `file` relative to the current folder when it lies inside it, else absolute (no `../../tmp/…`). */
const displayPath = (file: string): string => {
  const relative = path.relative(process.cwd(), file)
  return relative === "" || relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative) ? file : relative
}

/** A fresh run id: 8 hex characters (SPEC F9). */
export const newRunId = (): Ids.RunId => randomBytes(4).toString("hex") as Ids.RunId

/**
 * @category programs
 * @since 0.1.0
 */
export const execute = (session: Session, options: RunOptions): Effect.Effect<Swarm.SwarmReport, UsageError | RunFailed> =>
  Effect.scoped(Effect.gen(function*() {
    // An agent that cannot run at all is the user's setup: refuse before anything is claimed or created.
    if (options.agentLayer === undefined) {
      const blockers = yield* HarnessCheck.runBlockers(session.config).pipe(Effect.provide(PlatformNode.layer))
      if (blockers.length > 0) return yield* new UsageError({ message: [...blockers, "nothing was started; `oompa check` shows every harness"].join("\n") })
    }
    const runId = newRunId()
    const lock = yield* RunLock.acquire(session.paths.lockPath, runId).pipe(
      Effect.catchTag("RunLockHeld", (held) => Effect.fail(new UsageError({ message: held.message }))),
      Effect.catchTag("RunLockError", (e) => Effect.fail(new UsageError({ message: e.message })))
    )
    if (lock.takeover !== undefined) yield* Output.errorLines([`warning: ${lock.takeover}`])
    // Holding the lock, whatever a dead run left is ours to repair before this run starts (SPEC F14).
    const repaired = yield* Maintenance.repair(session)
    if (repaired.length > 0) yield* Output.errorLines(repaired.map((line) => `recovered: ${line}`))
    const swarmOptions = { runId, dryRun: options.dryRun, keepBranches: options.keepWorktrees }
    const program = options.tasks === undefined
      ? Swarm.run(session.config, { ...swarmOptions, mode: options.mode })
      : RunTasks.run(session.config, options.tasks, swarmOptions)
    // Failing to open the repository's layers is the user's setup (no main branch, unwritable folders): exit 2.
    const services = yield* Layer.build(NodeServices.layer({
      repoRoot: session.repoRoot,
      config: session.config,
      configDir: session.configDir,
      runId,
      sinks: [ProgressSink.layerStdout()],
      ...(options.agentLayer === undefined ? {} : { agent: options.agentLayer })
    })).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    // A storage failure in the middle of a run is not the user's input: the run failed (exit 1), loudly.
    const report = yield* program.pipe(
      Effect.provide(services),
      Effect.onInterrupt(() => interruptedSummary(session, runId)),
      Effect.mapError((e) => new RunFailed({ message: `run ${runId} stopped: ${e._tag}: ${e.message}` }))
    )
    yield* Output.lines(["", ...summaryLines(report), `run log: ${displayPath(RunPaths.eventsPath(session.paths, runId))}`])
    if (report.outcome === "failed") return yield* new RunFailed({ message: `run ${runId} finished with failures` })
    return report
  })).pipe(Effect.provide(PlatformNode.layer))

/** After Ctrl-C or `oompa stop`: what the run did, read back from its log. */
const interruptedSummary = (session: Session, runId: Ids.RunId) =>
  JsonlEventLog.readEvents(RunPaths.eventsPath(session.paths, runId)).pipe(
    Effect.flatMap((events) => Output.lines(["", ...RunHistory.summaryLines(RunHistory.summarize(runId, events)), `run log: ${displayPath(RunPaths.eventsPath(session.paths, runId))}`])),
    // Best effort on the way out: the run is already stopped, its claims returned; a log that cannot be
    // read only costs this summary, and `oompa view` will say why.
    Effect.catch(() => Effect.void),
    Effect.provide(PlatformNode.layer)
  )
