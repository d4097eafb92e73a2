/**
 * What the CLI reports to its user, each with SPEC F10's exit code: bad usage, config or input
 * (2), a run that finished with failures (1). Interruption (130) is Effect's own. Anything else is
 * a defect: a bug, reported as one.
 *
 * @since 0.1.0
 */
import { Runtime, Schema } from "effect"
import type { CliError } from "effect/cli"

/**
 * Bad usage, config or input: one or two readable lines, exit 2, nothing created.
 *
 * @category errors
 * @since 0.1.0
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 2
}

/**
 * The run finished, but a task failed, a worker stopped on errors, or approved work could not be
 * merged: exit 1 (the summary already said which).
 *
 * @category errors
 * @since 0.1.0
 */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", {
  message: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 1
}


/**
 * A simulation failed: a broken invariant (129), no progress (128) or a defect (127), after the
 * command that replays it was printed.
 *
 * @category errors
 * @since 0.1.0
 */
export class SimulationFailed extends Schema.TaggedError<SimulationFailed>()("SimulationFailed", {
  kind: Schema.Literals(["invariant", "liveness", "defect"]),
  exitCode: Schema.Number
}) {}

/**
 * `oompa check` found a harness oompa.json uses unusable (without oompa.json: no agent CLI usable):
 * exit 1, as a check that fails (the report above, or the JSON document, says which and why).
 *
 * @category errors
 * @since 0.1.0
 */
export class NothingUsable extends Schema.TaggedError<NothingUsable>()("NothingUsable", { message: Schema.String }) {
  override readonly [Runtime.errorExitCode] = 1
}

/**
 * Everything a command can fail with: the report matches on it, and a failure outside it is a bug.
 *
 * @category errors
 * @since 0.1.0
 */
export type CommandFailure = CliError.CliError | UsageError | RunFailed | NothingUsable | SimulationFailed
