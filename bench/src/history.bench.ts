/**
 * What `oompa status` and `oompa list` cost as a repository's history grows (issue 17): they should
 * read only what they show, so their time is flat in the number of runs and in the events per run.
 *
 * State folders are generated in a temp directory: a git repository whose `.oompa/runs/` holds N
 * finished runs of E events each, every line written with the real encoding
 * (`JsonlEventLog.encodeLine`, the core `Event` Schema). A run is what a swarm of 4 workers logs:
 * claims, agent calls with costs, commits, verdicts, tests, merges, task moves, the odd rejection,
 * rate-limit wait and warning, then each worker's end and `SwarmFinished`.
 *
 * The commands run in this process through their program functions (`statusProgram`,
 * `listProgram`: the handlers of `oompa status` and `oompa list` with no flag, session discovery
 * and lock check included, printing to a capturing console whose output is checked: the newest run
 * first, 10 lines for `list`), on one `ManagedRuntime`; no CLI process start. The first call on
 * each fresh folder is printed on its own ("first call": nothing is known of the runs yet, every
 * log is read); then rounds of one call per folder and command in turn, so that the load of a
 * shared machine falls on all of them alike, and their medians. The figure that counts is the ratio
 * of the median on 20 runs x 10,000 events to the median on 1 run x 100 events; goal ≤ 1.5x (flat).
 *
 * Run: `node --conditions=@oompa/source bench/src/history.bench.ts [--quick]` (Node 22).
 * Without `--quick`, 1 x 10,000 and 100 x 10,000 too (a 100 x 10,000 folder is 170 MB of logs).
 * `--quick` (CI): only the 1 x 100 and 20 x 10,000 folders; exits 1 when a ratio is above 2x
 * (more than twice what flat would be).
 */
import { NodeServices } from "@effect/platform-node"
import type { Event } from "@oompa/core"
import { JsonlEventLog } from "@oompa/adapters-node"
import { Console, Effect, ManagedRuntime, Option } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { listProgram, statusProgram } from "../../packages/cli/src/commands/inspect.ts"

const quick = process.argv.includes("--quick")
const goalRatio = 1.5
const quickFailRatio = 2
type Shape = { readonly runs: number; readonly events: number }
const baseline: Shape = { runs: 1, events: 100 }
const measured: Shape = { runs: 20, events: 10_000 }
const shapes: ReadonlyArray<Shape> = quick
  ? [baseline, measured]
  : [baseline, { runs: 1, events: 10_000 }, measured, { runs: 100, events: 10_000 }]

const workers = ["w0", "w1", "w2", "w3"] as const
const day0 = Date.UTC(2026, 0, 1)

/** The events of one iteration of `worker`, starting at `at`. */
const iteration = (worker: string, n: number, at: number): ReadonlyArray<Event.Event> => {
  const task = `task-${worker}-${n}`
  const branch = `oompa/00000000/${worker}-${n}`
  const rejected = n % 10 === 7
  const timings = { setup: 120, agent: 41_000, review: 9_000, fix: 0, git: 300, test: 2_500, mergeWait: 40 }
  const common: Array<Event.Event> = [
    { _tag: "IterationStarted", at, worker, iteration: n, branch, base: "a".repeat(40) },
    { _tag: "TaskClaimed", at: at + 5, worker, iteration: n, task },
    { _tag: "AgentFinished", at: at + 41_000, worker, iteration: n, call: "propose", agent: "claude:opus", exitCode: 0, durationMs: 40_990, timedOut: false, tokens: { input: 51_234, output: 4_321 }, costUsd: 0.0123 },
    { _tag: "Committed", at: at + 41_100, worker, iteration: n, sha: "b".repeat(40), files: 3, added: 120, deleted: 14 }
  ]
  if (n % 25 === 3) common.push({ _tag: "RateLimited", at: at + 41_150, worker, iteration: n, call: "review", agent: "codex:gpt-5-codex", retry: 1, waitMs: 30_000, source: "retry-after" })
  if (rejected) {
    return [
      ...common,
      { _tag: "VerdictGiven", at: at + 50_000, worker, iteration: n, attempt: 1, verdict: "rejected", clear: true, feedback: "The approach is wrong: the parser should not be touched for this.", reviewer: "codex:gpt-5-codex" },
      { _tag: "AgentFinished", at: at + 50_000, worker, iteration: n, call: "review", agent: "codex:gpt-5-codex", exitCode: 0, durationMs: 8_900, timedOut: false, costUsd: 0.004 },
      { _tag: "TaskMoved", at: at + 50_010, task, from: "current", to: "failed", worker, reason: "rejected: The approach is wrong" },
      { _tag: "IterationFinished", at: at + 50_020, worker, iteration: n, outcome: "rejected", task, reviews: 1, timings }
    ]
  }
  return [
    ...common,
    { _tag: "VerdictGiven", at: at + 50_000, worker, iteration: n, attempt: 1, verdict: "approved", clear: true, feedback: "Looks right; the tests cover the new branch.", reviewer: "codex:gpt-5-codex" },
    { _tag: "AgentFinished", at: at + 50_000, worker, iteration: n, call: "review", agent: "codex:gpt-5-codex", exitCode: 0, durationMs: 8_900, timedOut: false, costUsd: 0.004 },
    { _tag: "MergeQueued", at: at + 50_010, worker, iteration: n, position: 0 },
    { _tag: "TestResult", at: at + 52_500, worker, iteration: n, sha: "c".repeat(40), passed: true, durationMs: 2_480, output: "Test Files  42 passed (42)\n     Tests  512 passed (512)\n  Duration  2.41s" },
    { _tag: "MergeResult", at: at + 52_600, worker, iteration: n, outcome: "merged", sha: "d".repeat(40), previous: "e".repeat(40), branch, files: ["src/parser.ts", "src/parser.test.ts", "README.md"] },
    { _tag: "TaskMoved", at: at + 52_610, task, from: "current", to: "complete", worker },
    { _tag: "IterationFinished", at: at + 52_620, worker, iteration: n, outcome: "merged", task, reviews: 1, timings }
  ]
}

/** The lines of one run's log (its first line, `SwarmStarted`, is written per run: see `writeRun`). */
const bodyLines = (events: number): ReadonlyArray<string> => {
  const lines: Array<string> = []
  const budget = events - 1 - workers.length - 1 // SwarmStarted, one WorkerFinished each, SwarmFinished
  let at = 1_000
  let n = 0
  while (lines.length < budget) {
    n++
    for (const worker of workers) {
      for (const event of iteration(worker, n, at)) if (lines.length < budget) lines.push(JsonlEventLog.encodeLine(event))
      at += 13_000
    }
    if (n % 40 === 0 && lines.length < budget) lines.push(JsonlEventLog.encodeLine({ _tag: "Warning", at, message: `iteration ${n}: the checkout had local changes; left as they were` }))
  }
  for (const worker of workers) lines.push(JsonlEventLog.encodeLine({ _tag: "WorkerFinished", at, worker, reason: "no-tasks", iterations: n }))
  lines.push(JsonlEventLog.encodeLine({ _tag: "SwarmFinished", at, outcome: "ok", durationMs: at, merged: 0, rejected: 0, failed: 0 }))
  return lines
}

/** A generated state folder. */
interface Generated {
  readonly repo: string
  /** The run that started last. */
  readonly newest: string
  /** The size of one run's log. */
  readonly bytes: number
}

/** A repository with `runs` finished runs of `events` events each. */
const generate = (shape: Shape): Generated => {
  const repo = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `oompa-history-${shape.runs}x${shape.events}-`)))
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: repo })
  const body = bodyLines(shape.events).join("")
  const ids: Array<string> = []
  for (let r = 0; r < shape.runs; r++) {
    // Ids in no particular order, so nothing can lean on their sort order matching the start times.
    const id = ((r * 2654435761 + 0x1234567) >>> 0).toString(16).padStart(8, "0").slice(-8)
    ids.push(id)
    const started: Event.Event = {
      _tag: "SwarmStarted",
      at: day0 + r * 3_600_000,
      runId: id,
      branch: "main",
      base: "f".repeat(40),
      workers: workers.map((w) => ({ id: w, role: "executor" as const, agent: "claude:opus", iterations: 1_000 })),
      review: true,
      dryRun: false
    }
    const dir = path.join(repo, ".oompa/runs", id)
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, "events.jsonl"), JsonlEventLog.encodeLine(started) + body)
  }
  const bytes = fs.statSync(path.join(repo, ".oompa/runs", ids[0]!, "events.jsonl")).size
  return { repo, newest: ids[ids.length - 1]!, bytes }
}

/** A console that keeps what is printed, so the terminal stays clean and the output can be checked. */
const capture = () => {
  const out: Array<string> = []
  const keep = (...args: ReadonlyArray<unknown>) => void out.push(args.map(String).join(" "))
  const ignore = () => {}
  const console: Console.Console = {
    assert: ignore, clear: ignore, count: ignore, countReset: ignore, debug: keep, dir: keep, dirxml: keep, error: keep,
    group: ignore, groupCollapsed: ignore, groupEnd: ignore, info: keep, log: keep, table: keep, time: ignore,
    timeEnd: ignore, timeLog: ignore, trace: keep, warn: keep
  }
  return { console, out }
}

const runtime = ManagedRuntime.make(NodeServices.layer)

const commands = {
  status: () => statusProgram({ json: false, run: Option.none() }),
  list: () => listProgram({ all: false, json: false })
} as const
type CommandName = keyof typeof commands

/** One call of `command` in `repo`: its time in ms and what it printed. */
const call = async (repo: string, command: CommandName) => {
  process.chdir(repo)
  const { console, out } = capture()
  const start = performance.now()
  await runtime.runPromise(commands[command]().pipe(Effect.provideService(Console.Console, console)))
  return { ms: performance.now() - start, out: out.join("\n") }
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** Checks what a call printed: the newest run first (the figures are worth nothing otherwise). */
const check = (shape: Shape, generated: Generated, command: CommandName, out: string) => {
  const expected = command === "status" ? `run ${generated.newest}: ok on main` : `${generated.newest}  `
  if (!out.startsWith(expected)) throw new Error(`${command} on ${shape.runs} x ${shape.events}: expected output starting ${JSON.stringify(expected)}, got:\n${out}`)
  const lines = out.split("\n").length
  if (command === "list" && lines !== Math.min(shape.runs, 10)) throw new Error(`list on ${shape.runs} x ${shape.events} printed ${lines} lines`)
}

const main = async () => {
  const home = process.cwd()
  console.log(`node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}${quick ? ", --quick" : ""}`)
  const folders: Array<{ readonly shape: Shape; readonly generated: Generated }> = []
  const first = new Map<string, number>()
  const samples = new Map<string, Array<number>>()
  const key = (shape: Shape, command: CommandName) => `${shape.runs}x${shape.events} ${command}`
  try {
    for (const shape of shapes) folders.push({ shape, generated: generate(shape) })
    // The first call on each fresh folder: what a call costs before anything was learnt about it.
    for (const { shape, generated } of folders) {
      for (const command of ["status", "list"] as const) {
        const result = await call(generated.repo, command)
        check(shape, generated, command, result.out)
        first.set(key(shape, command), result.ms)
      }
    }
    // Then rounds over every folder and command in turn, so that what else the machine does falls
    // on all of them alike: at least 5 rounds and a few seconds, at most 40 rounds.
    const started = performance.now()
    for (let round = 0; round < 40 && (round < 5 || performance.now() - started < (quick ? 3_000 : 8_000)); round++) {
      for (const { shape, generated } of folders) {
        for (const command of ["status", "list"] as const) {
          const result = await call(generated.repo, command)
          check(shape, generated, command, result.out)
          if (round > 0) samples.set(key(shape, command), [...(samples.get(key(shape, command)) ?? []), result.ms]) // round 0 warms up
        }
      }
    }
  } finally {
    process.chdir(home)
    await runtime.dispose()
    for (const { generated } of folders) fs.rmSync(generated.repo, { recursive: true, force: true })
  }
  console.log("runs x events   log per run   command   first call ms   median ms (of n)")
  for (const { shape, generated } of folders) {
    for (const command of ["status", "list"] as const) {
      const times = samples.get(key(shape, command))!
      console.log(`${String(shape.runs).padStart(4)} x ${String(shape.events).padEnd(6)}  ${(generated.bytes / 1e6).toFixed(2).padStart(7)} MB   ${command.padEnd(7)}  ${first.get(key(shape, command))!.toFixed(1).padStart(13)}  ${median(times).toFixed(2).padStart(10)} (${times.length})`)
    }
  }
  let worst = 0
  for (const { shape } of folders) {
    if (shape === baseline) continue
    const ratio = (command: CommandName) => median(samples.get(key(shape, command))!) / median(samples.get(key(baseline, command))!)
    console.log(`${shape.runs} runs x ${shape.events} events vs ${baseline.runs} run x ${baseline.events} events (medians): status ${ratio("status").toFixed(2)}x, list ${ratio("list").toFixed(2)}x`)
    if (shape === measured) worst = Math.max(ratio("status"), ratio("list"))
  }
  console.log(`${worst <= goalRatio ? "PASSED" : "ABOVE GOAL"}: ${measured.runs} runs x ${measured.events} events is ${worst.toFixed(2)}x 1 run x 100 events (goal <= ${goalRatio}x, flat)`)
  if (quick && worst > quickFailRatio) {
    console.log(`quick history bench: REGRESSION (${worst.toFixed(2)}x > ${quickFailRatio}x)`)
    process.exitCode = 1
  }
}

await main()
