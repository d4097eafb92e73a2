/**
 * The CLI's top level: parses argv, runs the command, and turns every failure into SPEC F10's exit
 * code with a one- or two-line message — parse errors included (effect/cli would print the whole
 * help and exit 1). A defect is reported as a bug, with versions and without a stack trace.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Layer, Option, Runtime } from "effect"
import { CliOutput, Command } from "effect/cli"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { oompa, version } from "./Cli.ts"
import type { CommandFailure } from "./Errors.ts"
import * as Output from "./Output.ts"
import { WorkerScript } from "./commands/sim.ts"
import { normalizeArgv } from "./WorkersFlag.ts"

/**
 * effect/cli's message on one line: its suggestions ("\n\n  Did you mean this?\n    --workers") become
 * "(did you mean --workers?)", so a parse error stays within two lines (SPEC F10).
 */
const oneLine = (message: string): string => {
  const [head = "", ...rest] = message.split("\n").map((line) => line.trim()).filter((line) => line !== "")
  const at = rest.findIndex((line) => /^did you mean/i.test(line))
  if (at === -1) return [head, ...rest].join(" ")
  const suggestions = rest.slice(at + 1)
  return [head, ...rest.slice(0, at)].join(" ") + (suggestions.length === 0 ? "" : ` (did you mean ${suggestions.join(" or ")}?)`)
}

/**
 * effect/cli's integer primitive checks "is a number" before "is an integer", so `oompa loop abc`
 * said "Expected a string representing a finite number" about an integer. Every number oompa's
 * command line takes is an integer (`Flag.Int`, `Argument.Int`), so the message says so.
 */
const integerWording = (message: string): string => message.replace(/Expected a string representing a finite number/g, "Expected an integer")

/** Prints help when asked for, and a short message for a parse error (the caller exits 2). */
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    Effect.gen(function*() {
      const formatter = yield* CliOutput.Formatter
      switch (event._tag) {
        case "Help":
          return yield* Output.lines([formatter.formatHelpDoc(event.helpDoc)])
        case "Version":
          return yield* Output.lines([formatter.formatVersion(event.name, event.version)])
        case "InvalidInvocation": {
          const command = event.commandPath.join(" ")
          const first = integerWording(oneLine(event.errors[0]?.message ?? "invalid arguments"))
          return yield* Output.errorLines([`${command}: ${first}`, `Run \`${command} --help\` for usage.`])
        }
      }
    })
})

/**
 * Runs `argv` (without node and the script) and returns the exit code.
 *
 * @category programs
 * @since 0.1.0
 */
export const main = (argv: ReadonlyArray<string>, options: { readonly simulationWorker?: URL } = {}): Effect.Effect<number> =>
  Effect.suspend(() => {
    // Before parsing: help and parse errors print before any handler could read the flag.
    Output.configure({ noColor: Output.hasNoColorFlag(argv) })
    // no-color.org: only a non-empty NO_COLOR turns colour off; Node counts an empty one as set.
    if (process.env["NO_COLOR"] === "") delete process.env["NO_COLOR"]
    return Command.runWith(oompa, { version })(normalizeArgv(argv)).pipe(
      // Help goes to stdout: it is coloured when stdout would be.
      Effect.provide(Layer.mergeAll(NodeServices.layer, presenter, CliOutput.layer(CliOutput.defaultFormatter({ colors: Output.colour() })))),
      Effect.provideService(WorkerScript, options.simulationWorker),
      Effect.exit,
      Effect.flatMap((exit) => report(exit))
    )
  })

const report = (exit: Exit.Exit<void, CommandFailure>): Effect.Effect<number> => {
  if (Exit.isSuccess(exit)) return Effect.succeed(0)
  if (Cause.hasInterruptsOnly(exit.cause)) return Effect.as(Output.errorLines(["interrupted"]), 130)
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error)) {
    const e = error.value
    switch (e._tag) {
      case "ShowHelp":
        return Effect.succeed(e.errors.length > 0 ? 2 : 0)
      // The replay command and the failure were printed already.
      case "SimulationFailed":
        return Effect.succeed(e.exitCode)
      // The CLI's own errors carry their exit code (UsageError 2, RunFailed 1, NothingUsable 1).
      case "UsageError":
      case "RunFailed":
      case "NothingUsable":
        return Effect.as(Output.errorLines([`oompa: ${e.message}`]), e[Runtime.errorExitCode])
      // Parse errors of effect/cli: bad usage.
      default:
        return Effect.as(Output.errorLines([`oompa: ${e.message}`]), 2)
    }
  }
  return Effect.as(Output.errorLines([
    `oompa: internal error (a bug — please report it with the command you ran): ${Cause.pretty(exit.cause).split("\n")[0]}`,
    `oompa ${version}, node ${process.versions.node}, ${process.platform}`
  ]), 70)
}
