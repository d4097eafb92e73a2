/**
 * The commands that run agents (SPEC F10): `swarm`, `run`, `loop`, `prompt`.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option, Path } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Ids, RepoLayout, type SwarmConfig, type Task } from "@oompa/core"
import { EdnTasks } from "@oompa/adapters-node"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as RunSwarm from "../RunSwarm.ts"
import * as Cluster from "./cluster.ts"
import * as Session from "../Session.ts"
import { fallbackAgent, orchestratorNodeOptions, positive, runFlags, validateRunFlags, withRunFlags, workerFlags, workersFromFlags } from "./shared.ts"

const cwd = () => process.cwd()

/** `oompa swarm --detach`: the same command, flags included, in a process of its own, output to a log file. */
const detach = (
  configArg: Option.Option<string>,
  flags: { readonly dryRun: boolean; readonly keepWorktrees: boolean; readonly speculation: Option.Option<number>; readonly remote: Option.Option<string>; readonly otlp: Option.Option<string> }
) =>
  Effect.gen(function*() {
    const root = yield* Session.repoRoot(cwd())
    const path = yield* Path.Path
    const logDir = path.join(root, RepoLayout.stateFolder)
    yield* Effect.sync(() => fs.mkdirSync(logDir, { recursive: true }))
    const log = path.join(logDir, "detached.log")
    const out = fs.openSync(log, "a")
    const args = [
      ...orchestratorNodeOptions(),
      process.argv[1]!,
      "swarm",
      ...Option.toArray(configArg),
      ...(flags.dryRun ? ["--dry-run"] : []),
      ...(flags.keepWorktrees ? ["--keep-worktrees"] : []),
      ...Option.toArray(flags.speculation).flatMap((k) => ["--speculation", String(k)]),
      ...Option.toArray(flags.remote).flatMap((remote) => ["--remote", remote]),
      ...Option.toArray(flags.otlp).flatMap((endpoint) => ["--otlp", endpoint])
    ]
    const child = spawn(process.execPath, args, { cwd: cwd(), detached: true, stdio: ["ignore", out, out], env: process.env })
    child.unref()
    yield* Output.lines([`oompa swarm running in the background (pid ${child.pid}); output: ${path.relative(cwd(), log)}`, "stop it with: oompa stop"])
  })

/** What `--cluster` does not take yet: refused, named, rather than silently ignored (a `--dry-run` that lands). */
const clusterRefuses = (flags: {
  readonly config: Option.Option<string>
  readonly background: boolean
  readonly dryRun: boolean
  readonly keepWorktrees: boolean
  readonly remote: Option.Option<string>
  readonly speculation: Option.Option<number>
  readonly otlp: Option.Option<string>
}) => {
  const given = [
    ...(Option.isSome(flags.config) ? ["a config file argument (the cluster runs ./oompa.json)"] : []),
    ...(flags.background ? ["--detach"] : []),
    ...(flags.dryRun ? ["--dry-run"] : []),
    ...(flags.keepWorktrees ? ["--keep-worktrees"] : []),
    ...(Option.isSome(flags.remote) ? ["--remote"] : []),
    ...(Option.isSome(flags.speculation) ? ["--speculation"] : []),
    ...(Option.isSome(flags.otlp) ? ["--otlp"] : [])
  ]
  return given.length === 0 ? Effect.void : Effect.fail(new UsageError({ message: `--cluster does not take ${given.join(", ")} yet` }))
}

export const swarm = Command.make("swarm", {
  config: Argument.String("config").pipe(Argument.withDescription("The swarm's oompa.json (default: ./oompa.json, then the repository's)"), Argument.optional),
  detach: Flag.Boolean("detach").pipe(Flag.withDefault(false), Flag.withDescription("Run in the background")),
  cluster: Flag.String("cluster").pipe(Flag.optional, Flag.withDescription("Run on a cluster's runners: its PostgreSQL URL (see oompa cluster)")),
  ...runFlags
}, ({ cluster, config, detach: background, dryRun, keepWorktrees, otlp, remote, speculation }) =>
  Option.isSome(cluster)
    ? Effect.andThen(clusterRefuses({ config, background, dryRun, keepWorktrees, remote, speculation, otlp }), Cluster.runSwarm(cluster.value))
    : background
    // The flags are checked here, where an error can still be shown, before the run goes to the background.
    ? Effect.andThen(validateRunFlags({ speculation, remote, otlp }), detach(config, { dryRun, keepWorktrees, speculation, remote, otlp }))
    : Session.fromConfigFile(cwd(), Option.getOrUndefined(config)).pipe(
      Effect.flatMap((session) => withRunFlags(session, { speculation, remote, otlp })),
      Effect.flatMap((session) => RunSwarm.execute(session, { mode: "swarm", dryRun, keepWorktrees, otlp: Option.getOrUndefined(otlp) }))
    )).pipe(
  Command.withDescription("Run the swarm of oompa.json: workers, reviewer, merge queue"),
  Command.withExamples([
    { command: "oompa swarm", description: "Run ./oompa.json" },
    { command: "oompa swarm team.json --dry-run", description: "Everything but the merge" },
    { command: "oompa swarm --speculation 4", description: "Test four approved changes at once, each on top of the ones ahead of it" }
  ])
)

/** The fixed task list of `run`: config/tasks.json, else 0.1.0's config/tasks.edn. */
const taskList = (root: string) =>
  Effect.gen(function*() {
    const fileSystem = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    for (const name of ["config/tasks.json", "config/tasks.edn"]) {
      const file = path.join(root, name)
      if (yield* fileSystem.exists(file).pipe(Effect.orElseSucceed(() => false))) {
        return yield* EdnTasks.readTaskList(file).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
      }
    }
    return yield* new UsageError({ message: `no task list: ${path.join(root, "config/tasks.json")} (or config/tasks.edn) does not exist` })
  })

/** Workers from oompa.json when there is one and no `--workers`, else from the flags. */
const sessionFor = (flags: {
  readonly workers: ReadonlyArray<string>
  readonly iterations: Option.Option<number>
  readonly harness: Option.Option<string>
  readonly model: Option.Option<string>
}, role: SwarmConfig.Role, iterationsDefault: number) =>
  Effect.gen(function*() {
    if (Option.isSome(flags.iterations)) yield* positive(flags.iterations.value, "--iterations")
    const useFile = flags.workers.length === 0 && (yield* Session.hasConfigFile(cwd()))
    if (useFile) {
      const session = yield* Session.fromConfigFile(cwd(), undefined)
      if (Option.isNone(flags.iterations)) return session
      const iterations = flags.iterations.value
      return { ...session, config: { ...session.config, workers: session.config.workers.map((w) => ({ ...w, iterations })) } }
    }
    const agent = yield* fallbackAgent(flags.harness, flags.model)
    const workers = yield* workersFromFlags(flags.workers.length === 0 ? ["1"] : flags.workers, agent, {
      role,
      iterations: Option.getOrElse(flags.iterations, () => iterationsDefault)
    })
    return yield* Session.fromWorkers(cwd(), workers)
  })

export const run = Command.make("run", { ...workerFlags, ...runFlags }, (flags) =>
  Effect.gen(function*() {
    const session = yield* withRunFlags(yield* sessionFor(flags, "executor", 10), flags)
    const tasks = yield* taskList(session.repoRoot)
    return yield* RunSwarm.execute(session, { mode: "run", tasks, dryRun: flags.dryRun, keepWorktrees: flags.keepWorktrees, otlp: Option.getOrUndefined(flags.otlp) })
  })).pipe(
  Command.withDescription("Run the fixed task list (config/tasks.json or .edn), each task through review and merge, then exit"),
  Command.withExamples([{ command: "oompa run --workers 3 --harness claude", description: "Three claude executors over config/tasks.json" }])
)

export const loop = Command.make("loop", {
  times: Argument.Int("N").pipe(Argument.withDescription("Iterations per worker"), Argument.optional),
  ...workerFlags,
  ...runFlags
}, (flags) =>
  Effect.gen(function*() {
    const iterations = Option.isSome(flags.times) ? Option.some(yield* positive(flags.times.value, "N")) : flags.iterations
    const session = yield* withRunFlags(yield* sessionFor({ ...flags, iterations }, "worker", 10), flags)
    return yield* RunSwarm.execute(session, { mode: "loop", dryRun: flags.dryRun, keepWorktrees: flags.keepWorktrees, otlp: Option.getOrUndefined(flags.otlp) })
  })).pipe(
  Command.withDescription("Run workers for N iterations each, without a task list"),
  Command.withExamples([
    { command: "oompa loop 5", description: "Every worker of oompa.json, 5 iterations" },
    { command: "oompa loop --workers claude:5,codex:4 --iterations 20", description: "Mixed harnesses, no config file" }
  ])
)

/** A task id from the prompt's text: readable, valid, and distinct for distinct prompts. */
export const promptTaskId = (text: string): string => {
  const slug = text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "task"
  let hash = 5381
  for (let i = 0; i < text.length; i++) hash = ((hash * 33) ^ text.charCodeAt(i)) >>> 0
  return `prompt-${slug}-${hash.toString(16).padStart(8, "0").slice(0, 6)}`
}

export const prompt = Command.make("prompt", {
  text: Argument.String("text").pipe(Argument.withDescription("What to do, as one task")),
  ...workerFlags,
  ...runFlags
}, (flags) =>
  Effect.gen(function*() {
    if (flags.text.trim() === "") return yield* new UsageError({ message: "prompt: the text is empty" })
    const session = yield* withRunFlags(yield* sessionFor({ ...flags, workers: flags.workers.length === 0 ? [] : flags.workers }, "executor", 3), flags)
    const single = { ...session, config: { ...session.config, workers: session.config.workers.slice(0, 1) } }
    const id = Ids.TaskId.make(promptTaskId(flags.text))
    const summary = flags.text.split("\n", 1)[0]!.slice(0, 200)
    const task: Task.Task = { id, summary, description: flags.text }
    return yield* RunSwarm.execute(single, { mode: "prompt", tasks: [task], dryRun: flags.dryRun, keepWorktrees: flags.keepWorktrees, otlp: Option.getOrUndefined(flags.otlp) })
  })).pipe(
  Command.withDescription("Run one ad-hoc task through an agent, review and merge"),
  Command.withExamples([{ command: "oompa prompt \"Add a --verbose flag to the server\"", description: "One task, the first worker of oompa.json" }])
)
