/**
 * `oompa demo` (SPEC F12): a real swarm on a scratch git repository, with the built-in scripted
 * agent of `DemoAgent.ts` instead of Codex or Claude, so it runs on a fresh machine.
 *
 * The scratch repository lives in a temporary folder (`<tmp>/oompa-demo-XXXXXX/repo`, its worktrees
 * beside it) with a small project and a real test gate (`sh test/run.sh` runs node tests). The
 * swarm — a planner, two executors, a reviewer, a policy allowing `src/**` and `test/**` — runs
 * through the same `RunSwarm.execute` as `oompa swarm`: run lock, Node git layer, filesystem task
 * queue, JSONL run log, live progress and summary. Only the agent is scripted. At the end the demo
 * reads the run log back to tell what happened, shows `git log --graph` of main and where things
 * are. The repository is kept by default, because the run log and the merged history are what a
 * user wants to look at next; `--no-keep` removes it once everything is printed.
 *
 * @since 0.1.0
 */
import * as PlatformNode from "@effect/platform-node/NodeServices"
import { Effect, Exit } from "effect"
import { Command, Flag } from "effect/cli"
import { ConfigFile, type Event, Ids, RepoLayout, type SwarmConfig } from "@oompa/core"
import { JsonlEventLog, RunPaths } from "@oompa/adapters-node"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as DemoAgent from "../DemoAgent.ts"
import { UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as RunSwarm from "../RunSwarm.ts"
import type { Session } from "../Session.ts"

/** Where the demo's files are: `root` holds the repository and its worktrees, so one `rm -rf` cleans up. */
interface Scratch {
  readonly root: string
  readonly repo: string
  readonly worktrees: string
}

/** git's environment: a `GIT_DIR` inherited from a hook would point every command at another repository. */
const gitEnv = (): NodeJS.ProcessEnv => {
  const { GIT_DIR: _dir, GIT_WORK_TREE: _tree, GIT_INDEX_FILE: _index, ...env } = process.env
  return env
}

const git = (cwd: string, args: ReadonlyArray<string>) =>
  Effect.try({
    try: () => execFileSync("git", args, { cwd, env: gitEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    catch: (cause) => {
      const error = cause as { readonly code?: string; readonly stderr?: string; readonly message?: string }
      if (error.code === "ENOENT") return new UsageError({ message: "oompa demo needs git, and git was not found on PATH" })
      const detail = (error.stderr ?? error.message ?? String(cause)).trim().split("\n")[0]
      return new UsageError({ message: `oompa demo: git ${args.join(" ")} failed in ${cwd}: ${detail}` })
    }
  })

const writeFiles = (dir: string, files: Readonly<Record<string, string>>) =>
  Effect.try({
    try: () => {
      for (const [file, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
        fs.writeFileSync(path.join(dir, file), content)
      }
    },
    catch: (cause) => new UsageError({ message: `oompa demo: cannot write the scratch repository in ${dir}: ${String(cause)}` })
  })

/**
 * A fresh repository on `main` with one commit of the demo project. Its config is local and
 * pins what a user's global git config could change: identity, signing, hooks.
 */
const createScratch = Effect.gen(function*() {
  const root = yield* Effect.try({
    try: () => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-demo-"))),
    catch: (cause) => new UsageError({ message: `oompa demo: cannot create a temporary folder: ${String(cause)}` })
  })
  const scratch: Scratch = { root, repo: path.join(root, "repo"), worktrees: path.join(root, "worktrees") }
  yield* writeFiles(scratch.repo, DemoAgent.initialFiles)
  yield* git(scratch.repo, ["init", "-q", "-b", "main"])
  for (const [key, value] of [
    ["user.name", "oompa demo"],
    ["user.email", "demo@oompa.invalid"],
    ["commit.gpgsign", "false"],
    ["core.hooksPath", path.join(scratch.repo, ".git", "hooks")]
  ] as const) yield* git(scratch.repo, ["config", key, value])
  yield* git(scratch.repo, ["add", "-A"])
  yield* git(scratch.repo, ["commit", "-q", "-m", "A tiny project for the oompa demo"])
  return scratch
})

/**
 * The team, written as the oompa.json a user would write and decoded by the same decoder as
 * `oompa swarm`. The `command` harness is never started: the demo replaces the agent layer.
 */
const configText = (scratch: Scratch): string =>
  JSON.stringify({
    workers: [
      { model: "command:demo-planner", role: "planner", iterations: 1 },
      { model: "command:demo-executor", role: "executor", count: 2, iterations: 5 }
    ],
    review_model: "command:demo-reviewer",
    policy: { allow: ["src/**", "test/**"], max_files: 10, max_lines_added: 200 },
    test_command: "sh test/run.sh",
    worktrees_dir: scratch.worktrees,
    timeouts: { propose: 60, review: 60, test: 60, setup: 60 },
    max_wait_for_tasks: 30
  }, null, 2)

const sessionOf = (scratch: Scratch, config: SwarmConfig.SwarmConfig): Session => ({
  repoRoot: scratch.repo,
  config,
  configDir: scratch.repo,
  configFile: undefined,
  paths: RunPaths.make(scratch.repo, { tasksDir: config.tasks_dir })
})

const introLines = (scratch: Scratch): ReadonlyArray<string> => [
  "oompa demo: a real swarm on a scratch git repository, with a scripted agent (no Codex or Claude needed)",
  `  repository  ${scratch.repo}`,
  "              README.md, src/shout.mjs, test/ — the test gate runs `sh test/run.sh`",
  "  workers     w0 plans three tasks; w1 and w2 implement them; a reviewer approves or sends back",
  "  policy      only src/** and test/** may change (.env files, tasks/ and .oompa/ never may)",
  ""
]

const firstLine = (text: string, max: number): string => {
  const line = text.split("\n").map((l) => l.replace(/^\s*[-*]\s*/, "").trim()).find((l) => l !== "") ?? ""
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/** One iteration's story, keyed by worker and iteration. */
interface Told {
  readonly worker: string
  task: string | undefined
  readonly steps: Array<string>
}

const stepOf = (event: Event.Event): string | undefined => {
  switch (event._tag) {
    case "PolicyViolated":
      return `policy gate caught ${firstLine(event.violations.join("; "), 60)}`
    case "VerdictGiven":
      return event.verdict === "needs-changes"
        ? `review ${event.attempt} asked for changes (${firstLine(event.feedback, 72)})`
        : `review ${event.attempt} ${event.verdict}`
    case "AgentFinished":
      return event.call === "fix" ? "fixed" : undefined
    case "TestResult":
      return `tests ${event.passed ? "passed" : "failed"}`
    case "MergeResult":
      return event.outcome === "merged" && event.sha !== undefined ? `merged ${event.sha.slice(0, 7)}` : `merge ${event.outcome}`
    default:
      return undefined
  }
}

/**
 * What happened, told from the run's events: the tasks each planner created, then one line per
 * iteration that held a task (its gates, verdicts, fixes and merge, in order).
 *
 * @category rendering
 * @since 0.1.0
 */
export const storyLines = (events: ReadonlyArray<Event.Event>): ReadonlyArray<string> => {
  const planned = new Map<string, Array<string>>()
  const iterations = new Map<string, Told>()
  const told = (worker: string, iteration: number): Told => {
    const key = `${worker}#${iteration}`
    const found = iterations.get(key) ?? { worker, task: undefined, steps: [] }
    iterations.set(key, found)
    return found
  }
  for (const event of events) {
    if (event._tag === "TaskMoved" && event.to === "pending" && event.from === undefined && event.worker !== undefined) {
      planned.set(event.worker, [...(planned.get(event.worker) ?? []), event.task])
    } else if (event._tag === "TaskClaimed") {
      told(event.worker, event.iteration).task = event.task
    } else if ("iteration" in event && "worker" in event) {
      const step = stepOf(event)
      if (step !== undefined) told(event.worker, event.iteration).steps.push(step)
    }
  }
  return [
    ...[...planned].map(([worker, ids]) => `  ${worker.padEnd(4)} planned ${ids.join(", ")}`),
    ...[...iterations.values()].filter((i) => i.task !== undefined)
      .flatMap((i) => wrapSteps(`  ${i.worker.padEnd(4)} ${i.task}: `, i.steps))
  ]
}

/** Steps joined by arrows, continued on indented lines past `width` columns. */
const wrapSteps = (head: string, steps: ReadonlyArray<string>, width = 100): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = head
  steps.forEach((step, index) => {
    const piece = index === 0 ? step : ` → ${step}`
    if (index > 0 && line.length + piece.length > width) {
      lines.push(line)
      line = `${" ".repeat(head.length)}→ ${step}`
    } else {
      line += piece
    }
  })
  return [...lines, line]
}

/** The run's id: the scratch repository has exactly one run, unless the swarm never started. */
const runIdOf = (scratch: Scratch): Ids.RunId | undefined => {
  const runs = RunPaths.make(scratch.repo, { tasksDir: RepoLayout.defaultTasksDir }).runsDir
  return fs.existsSync(runs) ? fs.readdirSync(runs).find(Ids.isRunId) : undefined
}

const storyFromLog = (log: string) =>
  JsonlEventLog.readEvents(log).pipe(
    Effect.map((events) => {
      const story = storyLines(events)
      return story.length === 0 ? [] : ["", "What happened, read back from the run log:", ...story]
    }),
    Effect.catch((e) => Effect.succeed([`(the run log could not be read: ${e.message})`])),
    Effect.provide(PlatformNode.layer)
  )

/** The story, main's history, the completed tasks, and where everything is. */
const epilogue = (scratch: Scratch, keep: boolean) =>
  Effect.gen(function*() {
    const runId = runIdOf(scratch)
    const log = runId === undefined ? undefined : RunPaths.eventsPath(RunPaths.make(scratch.repo, { tasksDir: RepoLayout.defaultTasksDir }), runId)
    if (log !== undefined) yield* Output.lines(yield* storyFromLog(log))
    const graph = yield* git(scratch.repo, ["log", "--graph", "--oneline", `--color=${Output.colour() ? "always" : "never"}`, "main"]).pipe(
      Effect.catch((e) => Effect.succeed(`(${e.message})`))
    )
    const completeDir = path.join(scratch.repo, RepoLayout.defaultTasksDir, "complete")
    const complete = fs.existsSync(completeDir) ? fs.readdirSync(completeDir).map((f) => f.replace(/\.json$/, "")).sort() : []
    yield* Output.lines([
      "",
      "git log --graph --oneline main (the scratch repository):",
      graph.trimEnd(),
      "",
      `tasks/complete/: ${complete.length === 0 ? "(none)" : complete.join(", ")}`
    ])
    if (!keep) return
    yield* Output.lines([
      "",
      "Look around (the scratch repository is kept):",
      `  cd ${scratch.repo} && git log --stat main && sh test/run.sh`,
      ...(runId === undefined ? [] : [`  ${selfCommand()} view ${runId}    (from inside the repository: every event of the run)`]),
      ...(log === undefined ? [] : [`  run log: ${log}`]),
      `Clean up: rm -rf ${scratch.root}`,
      "A real swarm: write an oompa.json (see examples/oompa.json) in your repository and run `oompa swarm`."
    ])
  })

/** How this CLI was started, for commands the user can copy: `oompa`, or `node <bundle>` when run as a file. */
const selfCommand = (): string => {
  const script = process.argv[1]
  return script === undefined || path.basename(script) === "oompa" ? "oompa" : `node ${script}`
}

const remove = (scratch: Scratch) =>
  Effect.andThen(
    Effect.sync(() => fs.rmSync(scratch.root, { recursive: true, force: true })),
    Output.lines(["", `Removed the scratch repository (${scratch.root}).`])
  )

/**
 * `oompa demo [--no-keep]`.
 *
 * @category commands
 * @since 0.1.0
 */
export const demo = Command.make("demo", {
  keep: Flag.Boolean("keep").pipe(
    Flag.withDefault(true),
    Flag.withDescription("Keep the scratch repository to look around (default); --no-keep removes it at the end")
  )
}, ({ keep }) =>
  Effect.gen(function*() {
    const scratch = yield* createScratch
    const config = yield* ConfigFile.decodeConfigFile(configText(scratch), "the demo's config").pipe(Effect.orDie)
    yield* Output.lines(introLines(scratch))
    const exit = yield* Effect.exit(RunSwarm.execute(sessionOf(scratch, config), {
      mode: "swarm",
      dryRun: false,
      keepWorktrees: false,
      agentLayer: DemoAgent.layer
    }).pipe(
      Effect.onInterrupt(() => Output.errorLines([`oompa demo interrupted; the scratch repository is ${scratch.repo}`]))
    ))
    yield* epilogue(scratch, keep)
    if (!keep) yield* remove(scratch)
    return yield* Exit.asVoid(exit)
  })).pipe(
  Command.withDescription("Run a small scripted swarm on a scratch repository: no agent CLI needed"),
  Command.withExamples([
    { command: "oompa demo", description: "Plan, implement, review, gate and merge three tasks in a temporary repository, and keep it" },
    { command: "oompa demo --no-keep", description: "The same, removing the scratch repository at the end" }
  ])
)
