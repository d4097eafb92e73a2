/**
 * The commands that look at a repository's runs and tasks without running agents (SPEC F10):
 * `tasks`, `requeue`, `status`, `list`, `view`, `context`, `check`, `stop`.
 *
 * Every read command takes `--json`: one JSON document on stdout, encoded with the Schema the
 * library exports for it (`RunSummary`, `RunSummary.RunList`, `RunSummary.RunView`, `TaskListing`,
 * `HarnessCheck.CheckReport`), so a script decodes what it reads. Warnings go to stderr.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option, Path, Runtime, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { type Errors, Ids, Policy, Prompt, RunReport, RunSummary, type Task, TaskListing, type TaskQueue } from "@oompa/core"
import { FsTaskQueue, HarnessCheck, JsonlEventLog, RunLock, RunPaths } from "@oompa/adapters-node"
import { execFileSync } from "node:child_process"
import { NothingUsable, UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as Cluster from "./cluster.ts"
import * as ProgressView from "../ProgressView.ts"
import * as RunHistory from "../RunHistory.ts"
import * as Session from "../Session.ts"

const cwd = () => process.cwd()

/** The session of the current repository: its oompa.json when there is one, defaults otherwise. */
export const currentSession: Effect.Effect<Session.Session, UsageError, FileSystem.FileSystem | Path.Path> = Effect.suspend(() => Session.current(cwd()))

const withQueue = <A, R>(session: Session.Session, f: (queue: TaskQueue.TaskQueue["Service"]) => Effect.Effect<A, Errors.TaskQueueError, R>) =>
  Effect.flatMap(FsTaskQueue.make(session.paths.tasksDir), f).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))

/** The queue, folder by folder; an unreadable `invalid/` is a warning, not a failure. */
const taskListing = (session: Session.Session) =>
  Effect.gen(function*() {
    const [pending, current, complete, failed] = yield* withQueue(session, (queue) =>
      Effect.all([queue.list("pending"), queue.list("current"), queue.list("complete"), queue.list("failed")]))
    const invalid = yield* FsTaskQueue.readInvalid(session.paths.tasksDir).pipe(
      Effect.catch((e) => Effect.as(Output.warnings([`cannot read ${session.paths.tasksDir}/invalid: ${e.message}`]), [])))
    const blocked = TaskListing.blockedTasks({ pending, current, complete, failed })
    return { pending, current, complete, failed, invalid, blocked } satisfies TaskListing.TaskListing
  })

/** `b (current/), x (no such task)`: what a blocked task waits for, and where each is. */
const waitingText = (blocked: TaskListing.BlockedTask) =>
  blocked.waiting_for.map((d) => `${d.id} (${d.status === "unknown" ? "no such task" : `${d.status}/`})`).join(", ")

const taskLines = (status: string, list: ReadonlyArray<Task.Task>, blocked: ReadonlyMap<string, TaskListing.BlockedTask>) => [
  `${status}/ (${list.length}${status === "pending" && blocked.size > 0 ? `, ${blocked.size} blocked` : ""})`,
  ...list.map((t) =>
    `  ${t.id}  ${t.summary}${t.attempts ? `  [attempts ${t.attempts}]` : ""}` +
    `${status === "pending" && blocked.has(t.id) ? `\n    blocked by ${waitingText(blocked.get(t.id)!)}` : ""}` +
    `${status === "failed" && t.last_feedback ? `\n    last feedback: ${t.last_feedback.split("\n")[0]}` : ""}`)
]

export const tasks = Command.make("tasks", {
  json: Output.jsonFlag("the queue (TaskListing)")
}, ({ json }) =>
  Effect.gen(function*() {
    const session = yield* currentSession
    const listing = yield* taskListing(session)
    if (json) return yield* Output.json(TaskListing.TaskListing, listing)
    const blocked = new Map(listing.blocked.map((b) => [b.id, b]))
    yield* Output.lines([
      ...(["pending", "current", "complete", "failed"] as const).flatMap((status) => taskLines(status, listing[status], blocked)),
      `invalid/ (${listing.invalid.length})`,
      // The name is as found on disk: its control characters must not reach the terminal.
      ...listing.invalid.map((i) => `  ${Prompt.visibleLine(i.name)}: ${i.invalid_reason}`)
    ])
  })).pipe(
  Command.withDescription("List the task queue, folder by folder"),
  Command.withExamples([
    { command: "oompa tasks", description: "pending (each blocked one with what it waits for), current, complete, failed and invalid tasks" },
    { command: "oompa tasks --json", description: "The same as JSON (TaskListing of @oompa/core)" }
  ])
)

export const requeue = Command.make("requeue", {
  task: Argument.String("task").pipe(Argument.withDescription("The id of a task in failed/ (or current/ when no run holds it)"))
}, ({ task }) =>
  Effect.gen(function*() {
    const session = yield* currentSession
    const lock = yield* RunLock.inspect(session.paths.lockPath).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    const fromCurrent = !(lock._tag === "Held" && lock.alive !== false)
    const folder = yield* FsTaskQueue.requeue(session.paths.tasksDir, task, { fromCurrent }).pipe(
      Effect.mapError((e) => new UsageError({ message: `requeue: ${e.message}` }))
    )
    return yield* Output.lines([`task ${task}: ${folder}/ -> pending/ (attempts reset)`])
  })).pipe(
  Command.withDescription("Move a failed task back to pending/ with its attempts reset"),
  Command.withExamples([{ command: "oompa requeue add-login", description: "Try add-login again" }])
)

/** The run whose process holds the lock and is alive (or cannot be checked: another host). */
export const liveRunId = (session: Session.Session) =>
  Effect.map(
    RunLock.inspect(session.paths.lockPath).pipe(Effect.orElseSucceed((): RunLock.LockStatus => ({ _tag: "Free" }))),
    (lock) => lock._tag === "Held" && lock.alive !== false ? lock.holder.runId : undefined
  )

/** Warns about each run whose log cannot be read: one damaged log must not hide the other runs. */
const warnSkipped = (history: JsonlEventLog.History<unknown>) =>
  Effect.forEach(history.skipped, (skipped) => Output.warnings([`run ${skipped.runId} skipped: ${skipped.message}`]), { discard: true })

/**
 * The runs `select` names, newest first, each with its liveness. `readHistory` reads only the logs
 * that changed since the last call, and only the selected runs' summaries (issue 17).
 */
export const runs = (session: Session.Session, select: JsonlEventLog.HistorySelection) =>
  Effect.gen(function*() {
    const live = yield* liveRunId(session)
    const history = yield* JsonlEventLog.readHistory(session.paths, { select, liveRunId: live })
    yield* warnSkipped(history)
    return history.runs.map((summary) => RunSummary.withLiveness(summary, live))
  })

/** `runs` for `oompa list`'s lines: rows, read from the run index alone for runs that have not changed. */
const rows = (session: Session.Session, select: JsonlEventLog.HistorySelection) =>
  Effect.gen(function*() {
    const live = yield* liveRunId(session)
    const history = yield* JsonlEventLog.readHistoryRows(session.paths, { select, liveRunId: live })
    yield* warnSkipped(history)
    // `RunSummary.withLiveness`, on a row.
    return history.runs.map((row) => row.outcome === "running" && row.runId !== live ? { ...row, outcome: "died" as const } : row)
  })

const runById = (session: Session.Session, runId: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(runId)) {
      const latest = (yield* runs(session, { _tag: "Newest", count: 1 }))[0]
      if (latest === undefined) return yield* new UsageError({ message: `no runs yet in ${session.paths.runsDir}` })
      return latest
    }
    const found = (yield* runs(session, { _tag: "Run", runId: runId.value }))[0]
    if (found === undefined) return yield* new UsageError({ message: `--run: no run ${JSON.stringify(runId.value)} (oompa list shows the runs)` })
    return found
  })

/**
 * `oompa status` in-process: the latest run's summary (or `run`'s), printed as lines or `--json`.
 */
export const statusProgram = (options: { readonly json: boolean; readonly run: Option.Option<string>; readonly cluster?: Option.Option<string> }) =>
  Effect.gen(function*() {
    const cluster = options.cluster ?? Option.none()
    if (options.json && Option.isSome(cluster)) return yield* new UsageError({ message: "--json: not with --cluster yet (oompa cluster status shows the cluster)" })
    const session = yield* currentSession
    const summary = yield* runById(session, options.run)
    if (options.json) return yield* Output.json(RunSummary.RunSummary, summary)
    yield* Output.lines(RunHistory.summaryLines(summary))
    // A cluster run: its runners, and where each of its worker slots ran.
    if (Option.isSome(cluster)) yield* Output.lines(yield* Cluster.statusLines("--cluster", cluster.value, summary.runId))
  })

export const status = Command.make("status", {
  json: Output.jsonFlag("the summary (RunSummary)"),
  run: Flag.String("run").pipe(Flag.optional, Flag.withDescription("A run id (default: the latest run)")),
  cluster: Flag.String("cluster").pipe(Flag.optional, Flag.withDescription("A cluster run: also show its runners and where each worker ran (the cluster's PostgreSQL URL)"))
}, statusProgram).pipe(
  Command.withDescription("Summarise the latest run (or --run ID) from its log"),
  Command.withExamples([
    { command: "oompa status", description: "The latest run" },
    { command: "oompa status --json --run 1a2b3c4d", description: "Run 1a2b3c4d as JSON (RunSummary of @oompa/core)" },
    { command: "oompa status --cluster postgres://oompa@db/oompa", description: "The latest run, with the cluster's runners and where each worker ran" }
  ])
)

/** `  3 iterations` / `  1 iteration ` : the count padded, the noun agreeing and padded, so columns line up. */
const column = (n: number, singular: string) => `${String(n).padStart(3)} ${Output.noun(n, singular).padEnd(singular.length + 1)}`

const outcomeColour = (outcome: RunSummary.RunOutcome) =>
  outcome === "ok" ? Output.green : outcome === "running" ? Output.yellow : Output.red

/**
 * `oompa list` in-process: the newest runs (every run with `all`), printed as lines or `--json`.
 */
export const listProgram = (options: { readonly all: boolean; readonly json: boolean }) =>
  Effect.gen(function*() {
    const session = yield* currentSession
    const select = { _tag: "Newest", count: options.all ? Infinity : 10 } as const
    if (options.json) return yield* Output.json(RunSummary.RunList, yield* runs(session, select))
    const shown = yield* rows(session, select)
    yield* Output.lines(shown.length === 0 ? ["no runs yet"] : shown.map((r) =>
      `${r.runId}  ${outcomeColour(r.outcome)(r.outcome.padEnd(11))} ${String(r.merged).padStart(3)} merged  ${column(r.iterations, "iteration")}  ${Output.count(r.workers, "worker")}`))
  })

export const list = Command.make("list", {
  all: Flag.Boolean("all").pipe(Flag.withDefault(false), Flag.withDescription("Every run, not only the last 10")),
  json: Output.jsonFlag("the runs (RunSummary.RunList)")
}, listProgram).pipe(
  Command.withDescription("List the repository's runs, newest first"),
  Command.withExamples([
    { command: "oompa list --all", description: "Every run" },
    { command: "oompa list --json", description: "The last 10 runs as JSON (RunSummary.RunList of @oompa/core)" }
  ])
)

export const view = Command.make("view", {
  run: Argument.String("run").pipe(Argument.withDescription("The run id")),
  // `--html report.html` as well as `--html=report.html`: a flag's optional value never takes the next word.
  file: Argument.String("file").pipe(Argument.optional, Argument.withDescription("With --html: the file to write")),
  json: Output.jsonFlag("the summary and every event (RunSummary.RunView)"),
  html: Flag.String("html").pipe(
    Flag.withOptionalValue(""),
    Flag.optional,
    Flag.withMetavar("file"),
    Flag.withDescription("Write the run's report as one self-contained HTML page (timeline per worker, merge queue, tasks, verdicts, cost, phases, why each failed task failed); --html=FILE names the file, bare --html writes report.html beside the run's log")
  )
}, ({ file: fileArg, html: htmlFlag, json, run }) =>
  Effect.gen(function*() {
    if (!Ids.isRunId(run)) return yield* new UsageError({ message: `view: ${JSON.stringify(run)} is not a run id (8 hex characters; oompa list shows them)` })
    if (json && Option.isSome(htmlFlag)) return yield* new UsageError({ message: "view: --json and --html cannot be given together" })
    if (Option.isSome(fileArg) && Option.isNone(htmlFlag)) {
      return yield* new UsageError({ message: `view: ${JSON.stringify(fileArg.value)}: a file is written only with --html (oompa view ${run} --html ${fileArg.value})` })
    }
    if (Option.isSome(fileArg) && Option.isSome(htmlFlag) && htmlFlag.value !== "") {
      return yield* new UsageError({ message: `view: two files for --html: ${JSON.stringify(htmlFlag.value)} and ${JSON.stringify(fileArg.value)}` })
    }
    const html = Option.isSome(fileArg) ? Option.some(fileArg.value) : htmlFlag
    const session = yield* currentSession
    const fs = yield* FileSystem.FileSystem
    const file = RunPaths.eventsPath(session.paths, run)
    if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) {
      return yield* new UsageError({ message: `view: no run ${run} in ${session.paths.runsDir} (oompa list shows the runs)` })
    }
    // The log's own message may quote a line; the first line says which file and line is wrong.
    const events = yield* JsonlEventLog.readEvents(file).pipe(Effect.mapError((e) => new UsageError({ message: `view: ${e.message.split("\n")[0]}` })))
    const summary = RunSummary.withLiveness(RunSummary.summarize(run, events), yield* liveRunId(session))
    if (json) return yield* Output.json(RunSummary.RunView, { summary, events })
    if (Option.isSome(html)) {
      const target = html.value === "" ? RunPaths.reportPath(session.paths, run) : html.value
      const { writeReport } = yield* Effect.promise(() => import("../report/writeReport.ts"))
      const written = yield* writeReport(target, RunReport.make(run, events), summary)
      return yield* Output.lines([`report of run ${run}: ${written}`])
    }
    const startedMs = events[0]?.at ?? 0
    yield* Output.lines([...events.flatMap((e) => Option.toArray(Option.fromUndefinedOr(ProgressView.plainLine(e, startedMs)))), "", ...RunHistory.summaryLines(summary)])
  })).pipe(
  Command.withDescription("Print a run's events and summary"),
  Command.withExamples([
    { command: "oompa view 1a2b3c4d", description: "Everything run 1a2b3c4d did" },
    { command: "oompa view 1a2b3c4d --json", description: "Its summary and events as JSON (RunSummary.RunView of @oompa/core)" },
    { command: "oompa view 1a2b3c4d --html", description: "Its report as a web page, beside its log (.oompa/runs/1a2b3c4d/report.html)" },
    { command: "oompa view 1a2b3c4d --html run.html", description: "The same report, written to run.html" }
  ])
)

export const context = Command.make("context", {}, () =>
  Effect.gen(function*() {
    const session = yield* currentSession
    const [pending, current, complete, failed] = yield* withQueue(session, (queue) =>
      Effect.all([queue.list("pending"), queue.list("current"), queue.list("complete"), queue.list("failed")]))
    const invalid = yield* FsTaskQueue.readInvalid(session.paths.tasksDir).pipe(Effect.orElseSucceed(() => []))
    const branch = session.config.branch ?? (branchExists(session.repoRoot, "main") ? "main" : "master")
    const head = gitOut(session.repoRoot, ["rev-parse", "--verify", "--quiet", branch]) ?? "(none)"
    yield* Output.lines([Prompt.contextHeader({
      mode: "context",
      repo: { branch, head },
      tasks: {
        pending,
        counts: { pending: pending.length, current: current.length, complete: complete.length, failed: failed.length, invalid: invalid.length }
      },
      notes: [],
      policy: Prompt.policyLines(session.config.policy, Policy.alwaysDenied(session.config.tasks_dir)),
      nextWork: pending.length > 0 ? [`claim and finish pending tasks (${pending.length} waiting)`] : ["no pending tasks"]
    })])
  })).pipe(
  Command.withDescription("Print the context header agents see in their prompts"),
  Command.withExamples([{ command: "oompa context", description: "The YAML header of the next prompt" }])
)

const gitOut = (cwd: string, args: ReadonlyArray<string>): string | undefined => {
  try {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    // A failing git read here means "not there" (no such branch); the caller prints that.
    return undefined
  }
}
const branchExists = (cwd: string, branch: string) => gitOut(cwd, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]) !== undefined


/** Every agent CLI: what a repository without oompa.json may use (`oompa loop --workers …`). */
const agentClis: ReadonlyArray<HarnessCheck.CheckReport["required"][number]> = ["codex", "claude", "gemini", "opencode"]

/** The repository's oompa.json, when there is one that decodes; a broken one is a warning here. */
const configForCheck = Effect.gen(function*() {
  if (!(yield* Session.hasConfigFile(cwd()).pipe(Effect.orElseSucceed(() => false)))) return undefined
  return yield* Session.fromConfigFile(cwd(), undefined).pipe(
    Effect.map((session) => session.config),
    Effect.catch((e) => Effect.as(Output.warnings([`${e.message.split("\n")[0]}; checking every agent CLI instead`]), undefined))
  )
})

const statusLine = (line: string) =>
  line.startsWith("ok ") ? Output.green(line) : line.startsWith("missing ") ? Output.red(line) : line.startsWith("blocked ") ? Output.yellow(line) : line

export const check = Command.make("check", {
  json: Output.jsonFlag("the report (HarnessCheck.CheckReport)")
}, ({ json }) =>
  Effect.gen(function*() {
    const config = yield* configForCheck
    const statuses = yield* HarnessCheck.check({ harnesses: config?.harnesses ?? {} })
    const git = gitOut(cwd(), ["--version"])
    const required = config === undefined ? agentClis : HarnessCheck.usedHarnesses(config)
    const unusable = required.filter((h) => !statuses.some((s) => s.harness === h && s.usable))
    const report: HarnessCheck.CheckReport = {
      node: process.versions.node,
      ...(git === undefined ? {} : { git }),
      harnesses: statuses,
      required,
      // With an oompa.json, what `oompa swarm`'s preflight needs: every harness it uses. Without
      // one, any agent CLI will do (`oompa loop --workers …` picks).
      usable: config === undefined ? unusable.length < required.length : unusable.length === 0
    }
    if (json) yield* Output.json(HarnessCheck.CheckReport, report)
    else yield* Output.lines([`node ${report.node}`, report.git ?? "git: not found", ...HarnessCheck.format(statuses).map(statusLine)])
    if (!report.usable) {
      const which = config === undefined
        ? "no agent CLI is usable"
        : `oompa.json uses ${unusable.join(", ")}, which ${unusable.length === 1 ? "is" : "are"} not usable: oompa swarm would refuse to start`
      return yield* new NothingUsable({ message: `check: ${which}` })
    }
  })).pipe(
  Command.withDescription("Which agent CLIs are installed and usable, and what stops them; exit 1 when a harness oompa.json uses is not (without oompa.json: when none is)"),
  Command.withExamples([
    { command: "oompa check", description: "codex, claude, gemini, opencode" },
    { command: "oompa check --json", description: "The same as JSON (HarnessCheck.CheckReport of @oompa/adapters-node)" }
  ])
)

/**
 * Sends Ctrl-C to the run holding this repository's lock and answers what it did (`oompa stop`, and
 * the dashboard's stop button).
 */
export const stopRunning = (session: Session.Session) =>
  Effect.gen(function*() {
    const lock = yield* RunLock.inspect(session.paths.lockPath).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    if (lock._tag !== "Held" || lock.alive === false) return yield* new UsageError({ message: "stop: no oompa run is running in this repository" })
    if (!RunLock.stoppable(lock.holder)) {
      // A run embedded in another program (the library entry): SIGINT would kill that program.
      return yield* new UsageError({
        message: `stop: run ${lock.holder.runId} runs inside another program (pid ${lock.holder.pid}), not the oompa command; ` +
          "stop it from that program (runSwarm's AbortSignal, or interrupting SwarmRun.run)"
      })
    }
    yield* Effect.sync(() => process.kill(lock.holder.pid, "SIGINT"))
    return `sent Ctrl-C to run ${lock.holder.runId} (pid ${lock.holder.pid}); it finishes its current step, returns its claims and exits`
  })

export const stop = Command.make("stop", {}, () =>
  Effect.gen(function*() {
    const session = yield* currentSession
    yield* Output.lines([yield* stopRunning(session)])
  })).pipe(
  Command.withDescription("Stop the swarm running in this repository, like Ctrl-C"),
  Command.withExamples([{ command: "oompa stop", description: "Graceful stop of a detached swarm" }])
)
