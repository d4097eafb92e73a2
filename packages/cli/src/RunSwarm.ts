/**
 * Runs a swarm for a command (`swarm`, `run`, `loop`, `prompt`, `demo`): `@oompa/adapters-node`'s
 * `SwarmRun` (preflight, run lock, recovery, run log, the swarm) with the progress view on stderr,
 * then the summary and where the log is on stdout, and SPEC F10's exit code.
 *
 * @since 0.1.0
 */
import * as PlatformNode from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { type Ids, RunSummary, type Swarm, type Task } from "@oompa/core"
import { JsonlEventLog, type NodeServices, RunPaths, SwarmRun } from "@oompa/adapters-node"
import * as path from "node:path"
import { RunFailed, UsageError } from "./Errors.ts"
import * as Output from "./Output.ts"
import * as ProgressSink from "./ProgressSink.ts"
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
  /** `--otlp`: where the run's spans and metrics go (else `OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly otlp?: string | undefined
}

/** `file` relative to the current folder when it lies inside it, else absolute (no `../../tmp/…`). */
const displayPath = (file: string): string => {
  const relative = path.relative(process.cwd(), file)
  return relative === "" || relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative) ? file : relative
}

/**
 * @category programs
 * @since 0.1.0
 */
export const execute = (session: Session, options: RunOptions): Effect.Effect<Swarm.SwarmReport, UsageError | RunFailed> => {
  const runId = SwarmRun.newRunId()
  return SwarmRun.runProject(session, {
    runId,
    mode: options.mode,
    ...(options.tasks === undefined ? {} : { tasks: options.tasks }),
    dryRun: options.dryRun,
    keepWorktrees: options.keepWorktrees,
    ...(options.agentLayer === undefined ? {} : { agent: options.agentLayer }),
    ...(options.otlp === undefined ? {} : { otlp: options.otlp }),
    sinks: [ProgressSink.layerStderr()],
    // FullCli.ts stops the run on SIGINT, so `oompa stop` may send it.
    stopsOnSigint: true,
    onNotice: (line) => Output.progressTerminal().write(`${line}\n`)
  }).pipe(
    Effect.onInterrupt(() => interruptedSummary(session, runId)),
    Effect.catchTags({
      SetupError: (e) => Effect.fail(new UsageError({ message: e.message })),
      // A storage failure in the middle of a run is not the user's input: the run failed (exit 1), loudly.
      RunError: (e) => Effect.fail(new RunFailed({ message: e.message }))
    }),
    Effect.flatMap(({ report, eventsPath }) =>
      Effect.gen(function*() {
        yield* Output.lines(["", ...summaryLines(report), `run log: ${displayPath(eventsPath)}`])
        if (report.outcome === "failed") return yield* new RunFailed({ message: `run ${runId} finished with failures` })
        // As a missing binary at the start is: the setup, not the work, stopped the run.
        if (report.outcome === "unavailable") return yield* new UsageError({ message: `run ${runId} stopped: ${report.unavailable ?? "an agent cannot run"}` })
        return report
      })),
    Effect.provide(PlatformNode.layer)
  )
}

/** After Ctrl-C or `oompa stop`: what the run did, read back from its log. */
const interruptedSummary = (session: Session, runId: Ids.RunId) =>
  JsonlEventLog.readEvents(RunPaths.eventsPath(session.paths, runId)).pipe(
    Effect.flatMap((events) => Output.lines(["", ...RunHistory.summaryLines(RunSummary.summarize(runId, events)), `run log: ${displayPath(RunPaths.eventsPath(session.paths, runId))}`])),
    // Best effort on the way out: the run is already stopped, its claims returned; a log that cannot be
    // read only costs this summary, and `oompa view` will say why.
    Effect.catch(() => Effect.void),
    Effect.provide(PlatformNode.layer)
  )
