/**
 * A host that shows oompa's events in its own UI, as they happen, from an Effect program.
 *
 * oompa emits every step of a run as a typed `Event` (the same vocabulary as the run log). A host
 * gives `SwarmRun.run` its own `EventSink` layer; here the sink puts each event on a queue, and the
 * host's UI — a board of what each worker is doing — is a separate fiber that reads the queue as a
 * stream and redraws. The run and the UI never block each other.
 *
 * Run it with `NODE_OPTIONS=--conditions=@oompa/source npx node examples/live-events/live-events.ts
 * [repository]` (without one: a scratch
 * repository with three tasks). The agent is a function, as in `examples/embed`.
 */
import { NodeServices } from "@effect/platform-node"
import { type Cause, Effect, Fiber, Layer, Queue, Stream } from "effect"
import { SwarmRun } from "@oompa/adapters-node"
import { type Event, EventSink } from "@oompa/core"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const git = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim()

const scratchRepository = (): string => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-live-"))
  git(repo, "init", "-q", "-b", "main")
  git(repo, "config", "user.email", "live@example.com")
  git(repo, "config", "user.name", "Live events example")
  fs.writeFileSync(path.join(repo, "README.md"), "# live\n")
  git(repo, "add", "-A")
  git(repo, "commit", "-qm", "initial")
  fs.mkdirSync(path.join(repo, "tasks/pending"), { recursive: true })
  for (const id of ["one", "two", "three"]) fs.writeFileSync(path.join(repo, "tasks/pending", `${id}.json`), JSON.stringify({ id, summary: `Add ${id}.txt` }))
  return repo
}

/** The host's UI state: one line per worker, and a count of merges. */
interface Board {
  readonly workers: ReadonlyMap<string, string>
  readonly merged: number
}

const update = (board: Board, event: Event.Event): Board => {
  const set = (worker: string, state: string): Board => ({ ...board, workers: new Map(board.workers).set(worker, state) })
  switch (event._tag) {
    case "TaskClaimed":
      return set(event.worker, `working on ${event.task}`)
    case "VerdictGiven":
      return set(event.worker, `review ${event.attempt}: ${event.verdict}`)
    case "MergeResult":
      return { ...set(event.worker, `merge: ${event.outcome}`), merged: board.merged + (event.outcome === "merged" ? 1 : 0) }
    case "WorkerFinished":
      return set(event.worker, `done (${event.reason})`)
    default:
      return board
  }
}

const render = (board: Board): string =>
  [...board.workers].map(([worker, state]) => `  ${worker.padEnd(4)} ${state}`).join("\n") + `\n  merged: ${board.merged}`

const program = Effect.gen(function*() {
  const repo = process.argv[2] ?? scratchRepository()
  const events = yield* Queue.unbounded<Event.Event, Cause.Done>()
  // The host's sink: every event onto the queue, never waiting on the UI.
  const uiSink = Layer.succeed(EventSink.EventSink, EventSink.EventSink.of({ emit: (event) => Effect.asVoid(Queue.offer(events, event)) }))
  // The UI: a fiber of its own, redrawing the board on each event that changes it.
  const ui = yield* Stream.fromQueue(events).pipe(
    Stream.runFold(() => ({ workers: new Map(), merged: 0 }) as Board, (board, event) => {
      const next = update(board, event)
      if (next !== board) console.log(`[${event._tag}]\n${render(next)}`)
      return next
    }),
    Effect.forkChild
  )
  const result = yield* SwarmRun.run({
    cwd: repo,
    configJson: { workers: [{ model: "codex", iterations: 3, role: "executor", count: 2 }] },
    agent: (request) => {
      if (request.call === "review") return "VERDICT: APPROVED"
      fs.writeFileSync(path.join(request.cwd, `${request.task}.txt`), `${request.task}\n`)
      return `Added ${request.task}.txt`
    },
    sinks: [uiSink]
  })
  yield* Queue.end(events)
  const board = yield* Fiber.join(ui)
  console.log(`final board:\n${render(board)}`)
  console.log(`summary: ${result.report.outcome}; ${result.report.merged} merged; run log: ${result.eventsPath}`)
})

// The platform (files, paths, child processes) is Node's; an Effect host provides its own.
Effect.runPromise(program.pipe(Effect.provide(NodeServices.layer))).catch((error: unknown) => {
  console.error(`oompa: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 2
})
