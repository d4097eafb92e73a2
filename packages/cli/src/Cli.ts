/**
 * The `oompa` command tree (SPEC F10).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as Output from "./Output.ts"
import * as demo from "./commands/demo.ts"
import * as inspect from "./commands/inspect.ts"
import * as maintenance from "./commands/maintenance.ts"
import * as simulation from "./commands/sim.ts"
import * as runs from "./commands/runs.ts"

/** The version printed by `oompa --version`. */
export const version = "0.1.0"

const commands = [
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
  maintenance.worktrees,
  maintenance.cleanup,
  simulation.sim,
  demo.demo
] as const

const overview = [
  "oompa — a swarm of coding agents on one git repository",
  "",
  "Commands:",
  "  swarm [oompa.json]   run the swarm of a config file (--detach: in the background)",
  "  run                  run the fixed task list config/tasks.json, then exit",
  "  loop N               run every worker N iterations (--workers claude:5,codex:4)",
  "  prompt \"text\"        run one ad-hoc task",
  "  tasks                list the task queue",
  "  requeue TASK         move a failed task back to pending/",
  "  status [--json]      summarise the latest run (--run ID)",
  "  list [--all]         list runs",
  "  view RUN             print a run's events",
  "  context              print the context header agents see",
  "  check                which agent CLIs are installed",
  "  stop                 stop the running swarm, like Ctrl-C",
  "  worktrees            list the worktrees oompa's workers use",
  "  cleanup              repair what dead runs left (agents, claims, worktrees, branches)",
  "  demo                 a scripted swarm on a scratch repository (no agent CLI needed)",
  "  sim --seeds N        simulate whole swarms from seeds, checking every invariant",
  "  help                 this overview",
  "",
  "Run `oompa <command> --help` for a command's flags and examples.",
  "Exit codes: 0 ok, 1 the run finished with failures, 2 bad usage, config or input, 130 interrupted."
]

const help = Command.make("help", {}, () => Output.lines(overview)).pipe(
  Command.withDescription("Show what oompa can do"),
  Command.withExamples([{ command: "oompa help", description: "The command overview" }])
)

/**
 * The root command.
 *
 * @category commands
 * @since 0.1.0
 */
export const oompa = Command.make("oompa", {}, () => Output.lines(overview)).pipe(
  Command.withDescription("Run a swarm of coding agents on one git repository"),
  Command.withSubcommands([...commands, help])
)

void Effect
