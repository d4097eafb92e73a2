/**
 * The `oompa` command tree (SPEC F10). Bare `oompa`, `oompa help` and `oompa --help` print the same
 * help — effect/cli's, generated from the tree, so the command list cannot drift from the commands.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { CliError, Command } from "effect/cli"
import * as Output from "./Output.ts"
import * as cluster from "./commands/cluster.ts"
import * as demo from "./commands/demo.ts"
import * as init from "./commands/init.ts"
import * as inspect from "./commands/inspect.ts"
import { serve } from "./commands/serve.ts"
import * as maintenance from "./commands/maintenance.ts"
import * as simulation from "./commands/sim.ts"
import * as runs from "./commands/runs.ts"

/** The version printed by `oompa --version`. */
export const version = "0.1.0"

const commands = [
  init.init,
  runs.swarm,
  runs.run,
  runs.loop,
  runs.prompt,
  inspect.tasks,
  inspect.requeue,
  inspect.status,
  inspect.list,
  inspect.view,
  inspect.context,
  inspect.check,
  inspect.stop,
  serve,
  maintenance.worktrees,
  maintenance.cleanup,
  simulation.sim,
  cluster.command,
  demo.demo
] as const

/** The root's help, as `--help` shows it; effect/cli prints it when a handler fails with this. */
const rootHelp = Effect.fail(new CliError.ShowHelp({ commandPath: ["oompa"], errors: [] }))

const help = Command.make("help", {}, () => rootHelp).pipe(
  Command.withDescription("Show this help (the same as oompa --help)"),
  Command.withExamples([{ command: "oompa help", description: "The commands, flags and examples" }])
)

/**
 * The root command.
 *
 * @category commands
 * @since 0.1.0
 */
export const oompa = Command.make("oompa", {}, () => rootHelp).pipe(
  Command.withDescription(
    "Run a swarm of coding agents on one git repository. Run `oompa <command> --help` for a command's flags and examples. " +
      "Exit codes: 0 ok, 1 the run finished with failures, nothing succeeded or main was moved outside oompa (or check found no usable agent CLI), 2 bad usage, config or input, or an agent that cannot run (not logged in), 130 interrupted."
  ),
  Command.withGlobalFlags([Output.noColorFlag]),
  Command.withExamples([
    { command: "oompa init", description: "Start: a starter oompa.json, tasks/ and .gitignore lines" },
    { command: "oompa check", description: "Which agent CLIs are installed and usable" },
    { command: "oompa swarm", description: "Run the swarm of ./oompa.json" },
    { command: "oompa loop 3 --workers claude:2,codex:1", description: "Three iterations of three workers, no config needed" },
    { command: "oompa status --json", description: "The latest run's summary as JSON" },
    { command: "oompa demo", description: "A scripted swarm on a scratch repository (no agent CLI needed)" }
  ]),
  Command.withSubcommands([...commands, help])
)
