/**
 * The commands that look at a repository's runs and tasks without running agents (SPEC F10):
 * `tasks`, `requeue`, `status`, `list`, `view`, `context`, `check`, `stop`.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option, Path } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { type Errors, Ids, Policy, Prompt, type Task, type TaskQueue } from "@oompa/core"
import { FsTaskQueue, HarnessCheck, JsonlEventLog, RunLock, RunPaths } from "@oompa/adapters-node"
import { execFileSync } from "node:child_process"
import { UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as ProgressView from "../ProgressView.ts"
import * as RunHistory from "../RunHistory.ts"
import * as Session from "../Session.ts"
import { hasConfigFile } from "./shared.ts"

const cwd = () => process.cwd()

/** The session of the current repository: its oompa.json when there is one, defaults otherwise. */
export const currentSession = Effect.gen(function*() {
  if (yield* hasConfigFile(cwd())) return yield* Session.fromConfigFile(cwd(), undefined)
  return yield* Session.fromWorkers(cwd(), [])
})

const withQueue = <A, R>(session: Session.Session, f: (queue: TaskQueue.TaskQueue["Service"]) => Effect.Effect<A, Errors.TaskQueueError, R>) =>
  Effect.flatMap(FsTaskQueue.make(session.paths.tasksDir), f).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))

export const tasks = Command.make("tasks", {}, () =>
  Effect.gen(function*() {
    const session = yield* currentSession
    const lines = yield* withQueue(session, (queue) =>
      Effect.forEach(["pending", "current", "complete", "failed"] as const, (status) =>
        Effect.map(queue.list(status), (list) => [
          `${status}/ (${list.length})`,
          ...list.map((t: Task.Task) => `  ${t.id}  ${t.summary}${t.attempts ? `  [attempts ${t.attempts}]` : ""}${status === "failed" && t.last_feedback ? `\n    last feedback: ${t.last_feedback.split("\n")[0]}` : ""}`)
        ])))
    const invalid = yield* FsTaskQueue.readInvalid(session.paths.tasksDir).pipe(Effect.orElseSucceed(() => []))
    yield* Output.lines([...lines.flat(), `invalid/ (${invalid.length})`, ...invalid.map((i) => `  ${i.name}: ${i.invalid_reason}`)])
  })).pipe(
  Command.withDescription("List the task queue, folder by folder"),
  Command.withExamples([{ command: "oompa tasks", description: "pending, current, complete, failed and invalid tasks" }])
)

export const requeue = Command.make("requeue", {
  task: Argument.String("task").pipe(Argument.withDescription("The id of a task in failed/ (or current/ when no run holds it)"))
}, ({ task }) =>
  Effect.gen(function*() {
    const problem = Ids.idProblem(task)
    if (problem !== undefined) return yield* new UsageError({ message: `requeue: task id ${JSON.stringify(task)} ${problem}` })
    const session = yield* currentSession
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const lock = yield* RunLock.inspect(session.paths.lockPath).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    const folders = lock._tag === "Held" && lock.alive !== false ? ["failed"] : ["failed", "current"]
    for (const folder of folders) {
      const from = path.join(session.paths.tasksDir, folder, `${task}.json`)
      if (!(yield* fs.exists(from).pipe(Effect.orElseSucceed(() => false)))) continue
      const parsed = JSON.parse(yield* fs.readFileString(from).pipe(Effect.orDie)) as Record<string, unknown>
      const { attempts: _attempts, ...rest } = parsed
      const to = path.join(session.paths.tasksDir, "pending", `${task}.json`)
      yield* fs.writeFileString(`${to}.requeue`, `${JSON.stringify(rest, null, 2)}\n`).pipe(Effect.orDie)
      yield* fs.rename(`${to}.requeue`, to).pipe(Effect.orDie)
      yield* fs.remove(from).pipe(Effect.orDie)
      return yield* Output.lines([`task ${task}: ${folder}/ -> pending/ (attempts reset)`])
    }
    return yield* new UsageError({ message: `requeue: no task ${task} in ${folders.map((f) => `${f}/`).join(" or ")}` })
  })).pipe(
  Command.withDescription("Move a failed task back to pending/ with its attempts reset"),
  Command.withExamples([{ command: "oompa requeue add-login", description: "Try add-login again" }])
)

/** The run whose process holds the lock and is alive (or cannot be checked: another host). */
const liveRunId = (session: Session.Session) =>
  Effect.map(
    RunLock.inspect(session.paths.lockPath).pipe(Effect.orElseSucceed((): RunLock.LockStatus => ({ _tag: "Free" }))),
    (lock) => lock._tag === "Held" && lock.alive !== false ? lock.holder.runId : undefined
  )

/** Runs of the repository, newest first, with their events. */
const runs = (session: Session.Session) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const ids = yield* fs.readDirectory(session.paths.runsDir).pipe(Effect.orElseSucceed(() => []))
    const live = yield* liveRunId(session)
    const found = yield* Effect.forEach(ids.filter((id) => /^[0-9a-f]{8}$/.test(id)), (id) =>
      JsonlEventLog.readEvents(path.join(session.paths.runsDir, id, "events.jsonl")).pipe(
        Effect.map((events) => RunHistory.withLiveness(RunHistory.summarize(id, events), live)),
        Effect.option
      ))
    return found.flatMap((r) => Option.toArray(r)).sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))
  })

const runById = (session: Session.Session, runId: Option.Option<string>) =>
  Effect.gen(function*() {
    const all = yield* runs(session)
    if (Option.isNone(runId)) {
      const latest = all[0]
      if (latest === undefined) return yield* new UsageError({ message: `no runs yet in ${session.paths.runsDir}` })
      return latest
    }
    const found = all.find((r) => r.runId === runId.value)
    if (found === undefined) return yield* new UsageError({ message: `--run: no run ${JSON.stringify(runId.value)} (oompa list shows the runs)` })
    return found
  })

export const status = Command.make("status", {
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("Print the summary as one JSON object")),
  run: Flag.String("run").pipe(Flag.optional, Flag.withDescription("A run id (default: the latest run)"))
}, ({ json, run }) =>
  Effect.gen(function*() {
    const session = yield* currentSession
    const summary = yield* runById(session, run)
    yield* Output.lines(json ? [JSON.stringify(summary)] : RunHistory.summaryLines(summary))
  })).pipe(
  Command.withDescription("Summarise the latest run (or --run ID) from its log"),
  Command.withExamples([{ command: "oompa status --json", description: "The latest run as JSON" }])
)

export const list = Command.make("list", {
  all: Flag.Boolean("all").pipe(Flag.withDefault(false), Flag.withDescription("Every run, not only the last 10"))
}, ({ all }) =>
  Effect.gen(function*() {
    const session = yield* currentSession
    const found = yield* runs(session)
    const shown = all ? found : found.slice(0, 10)
    yield* Output.lines(shown.length === 0 ? ["no runs yet"] : shown.map((r) =>
      `${r.runId}  ${r.outcome.padEnd(11)} ${String(r.merged).padStart(3)} merged  ${String(r.iterations).padStart(3)} iterations  ${r.workers.length} workers`))
  })).pipe(
  Command.withDescription("List the repository's runs, newest first"),
  Command.withExamples([{ command: "oompa list --all", description: "Every run" }])
)

export const view = Command.make("view", {
  run: Argument.String("run").pipe(Argument.withDescription("The run id"))
}, ({ run }) =>
  Effect.gen(function*() {
    if (!/^[0-9a-f]{8}$/.test(run)) return yield* new UsageError({ message: `view: ${JSON.stringify(run)} is not a run id (8 hex characters; oompa list shows them)` })
    const session = yield* currentSession
    const file = RunPaths.eventsPath(session.paths, run as Ids.RunId)
    const events = yield* JsonlEventLog.readEvents(file).pipe(Effect.mapError((e) => new UsageError({ message: `view: ${e.message}` })))
    const startedMs = events[0]?.at ?? 0
    const summary = RunHistory.withLiveness(RunHistory.summarize(run, events), yield* liveRunId(session))
    yield* Output.lines([...events.flatMap((e) => Option.toArray(Option.fromUndefinedOr(ProgressView.plainLine(e, startedMs)))), "", ...RunHistory.summaryLines(summary)])
  })).pipe(
  Command.withDescription("Print a run's events and summary"),
  Command.withExamples([{ command: "oompa view 1a2b3c4d", description: "Everything run 1a2b3c4d did" }])
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

export const check = Command.make("check", {}, () =>
  Effect.gen(function*() {
    const harnesses = yield* Effect.orElseSucceed(Effect.map(currentSession, (s) => s.config.harnesses), () => ({}))
    const statuses = yield* HarnessCheck.check({ harnesses })
    const gitVersion = gitOut(cwd(), ["--version"]) ?? "git: not found"
    yield* Output.lines([`node ${process.versions.node}`, gitVersion, ...HarnessCheck.format(statuses)])
  })).pipe(
  Command.withDescription("Which agent CLIs are installed, their versions, and what stops them running"),
  Command.withExamples([{ command: "oompa check", description: "codex, claude, gemini, opencode" }])
)

export const stop = Command.make("stop", {}, () =>
  Effect.gen(function*() {
    const session = yield* currentSession
    const lock = yield* RunLock.inspect(session.paths.lockPath).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    if (lock._tag !== "Held" || lock.alive === false) return yield* new UsageError({ message: "stop: no oompa run is running in this repository" })
    yield* Effect.sync(() => process.kill(lock.holder.pid, "SIGINT"))
    yield* Output.lines([`sent Ctrl-C to run ${lock.holder.runId} (pid ${lock.holder.pid}); it finishes its current step, returns its claims and exits`])
  })).pipe(
  Command.withDescription("Stop the swarm running in this repository, like Ctrl-C"),
  Command.withExamples([{ command: "oompa stop", description: "Graceful stop of a detached swarm" }])
)
