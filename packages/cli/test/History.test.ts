/**
 * Goal: `oompa status` and `oompa list` print what they printed when they read and summarised every
 * run's log on every call (issue 17 changed how they read, not what they say): the same lines and
 * JSON on stdout, the same warnings on stderr for runs whose log cannot be read, a dead run called
 * `died` and the live one `running` — on the first call, which builds the run index, and on later
 * ones, which read it; and after a run's log grows.
 * Method: the commands' program functions (`statusProgram`, `listProgram`) run in this process in
 * a temp repository with generated logs, printing to a capturing console; what they print is
 * compared with the former rendering of the reference (every log read with `readEvents`, summarised,
 * sorted newest first).
 */
import { execFileSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { JsonlEventLog } from "@oompa/adapters-node"
import { type Event, RunSummary } from "@oompa/core"
import { Console, Effect, Option, Result, Schema } from "effect"
import { listProgram, statusProgram } from "../src/commands/inspect.ts"
import * as Output from "../src/Output.ts"
import * as RunHistory from "../src/RunHistory.ts"

type AnyEvent = Event.Event

const started = (runId: string, at: number, workers: number): AnyEvent => ({
  _tag: "SwarmStarted",
  at,
  runId,
  branch: "main",
  base: "abc1234",
  workers: Array.from({ length: workers }, (_, i) => ({ id: `w${i}`, role: "executor" as const, agent: "claude:opus", iterations: 3 })),
  review: true,
  dryRun: false
})

const iteration = (worker: string, n: number, at: number, merged: boolean): ReadonlyArray<AnyEvent> => [
  { _tag: "AgentFinished", at, worker, iteration: n, call: "propose", agent: "claude:opus", exitCode: 0, durationMs: 10, timedOut: false, costUsd: 0.25 },
  merged
    ? { _tag: "MergeResult", at: at + 1, worker, iteration: n, outcome: "merged", branch: `oompa/x/${worker}-${n}`, files: ["a.txt"] }
    : { _tag: "TaskMoved", at: at + 1, task: `t${n}`, from: "current", to: "failed", worker, reason: "rejected: not this way" },
  { _tag: "IterationFinished", at: at + 2, worker, iteration: n, outcome: merged ? "merged" : "rejected", task: `t${n}`, reviews: 1, timings: { setup: 0, agent: 0, review: 0, fix: 0, git: 0, test: 0, mergeWait: 0 } },
  { _tag: "Warning", at: at + 3, message: `iteration ${n} of ${worker} was slow` }
]

const finished = (at: number): AnyEvent => ({ _tag: "SwarmFinished", at, outcome: "ok", durationMs: 64_000, merged: 1, rejected: 1, failed: 1 })

const text = (events: ReadonlyArray<AnyEvent>): string => events.map(JsonlEventLog.encodeLine).join("")

let repo = ""
let home = ""
const runsDir = () => NodePath.join(repo, ".oompa/runs")
const logOf = (runId: string) => NodePath.join(runsDir(), runId, "events.jsonl")
const writeLog = (runId: string, content: string) => {
  NodeFs.mkdirSync(NodePath.dirname(logOf(runId)), { recursive: true })
  NodeFs.writeFileSync(logOf(runId), content)
}

beforeAll(() => {
  home = process.cwd()
  repo = NodeFs.realpathSync(NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "oompa-status-")))
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: repo })
  // 12 runs (more than list's 10): finished ones, one that died, one whose log is damaged, one torn.
  for (let r = 0; r < 12; r++) {
    const id = `1000000${r.toString(16)}`
    const body = Array.from({ length: r % 4 }, (_, i) => iteration(`w${i % 2}`, i + 1, r * 1_000 + i * 10, i % 3 !== 2)).flat()
    const tail = r === 5 ? "" : text([finished(r * 1_000 + 500)])
    writeLog(id, text([started(id, r * 1_000, 1 + (r % 3)), ...body]) + tail + (r === 7 ? `{"_tag":"Warning","at":1,"mes` : ""))
  }
  writeLog("1000000c", `${text([started("1000000c", 99_000, 1)])}{"this is":"not an event"}\n`)
  process.chdir(repo)
})

afterAll(() => {
  process.chdir(home)
  NodeFs.rmSync(repo, { recursive: true, force: true })
})

/** What a program printed: stdout lines and stderr lines. */
const printed = async (program: Effect.Effect<unknown, unknown, never>) => {
  const out: Array<string> = []
  const err: Array<string> = []
  const join = (args: ReadonlyArray<unknown>) => args.map(String).join(" ")
  const console: Console.Console = {
    ...globalThis.console,
    log: (...args) => void out.push(join(args)),
    error: (...args) => void err.push(join(args))
  }
  await Effect.runPromise(program.pipe(Effect.provideService(Console.Console, console)))
  return { out: out.join("\n"), err: err.join("\n") }
}

const provided = <A, E>(program: Effect.Effect<A, E, any>) => program.pipe(Effect.provide(NodeServices.layer)) as Effect.Effect<A, E, never>
const status = (json = false, run?: string) => printed(provided(statusProgram({ json, run: Option.fromUndefinedOr(run) })))
const list = (all = false, json = false) => printed(provided(listProgram({ all, json })))

/** The former reading: every log, newest first, and a warning per unreadable one. */
const reference = async (live: string | undefined) => {
  const runs: Array<RunSummary.RunSummary> = []
  const warnings: Array<string> = []
  for (const runId of NodeFs.readdirSync(runsDir()).filter((n) => /^[0-9a-f]{8}$/.test(n))) {
    const read = await Effect.runPromise(Effect.result(JsonlEventLog.readEvents(logOf(runId))).pipe(Effect.provide(NodeServices.layer)))
    if (Result.isFailure(read)) warnings.push(`warning: run ${runId} skipped: ${read.failure.message}`)
    else runs.push(RunSummary.withLiveness(RunSummary.summarize(runId, read.success), live))
  }
  runs.sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))
  return { runs, warnings: warnings.join("\n") }
}

/** The former `oompa list` line. */
const listLine = (r: RunSummary.RunSummary) =>
  `${r.runId}  ${r.outcome.padEnd(11)} ${String(r.merged).padStart(3)} merged  ${String(r.iterations).padStart(3)} ${Output.noun(r.iterations, "iteration").padEnd(10)}  ${Output.count(r.workers.length, "worker")}`

/** What `--json` printed: the value encoded with its Schema. */
const asJson = <A, I>(schema: Schema.Codec<A, I>, value: A) => JSON.stringify(Schema.encodeSync(schema)(value), null, 2)

const assertAsBefore = async (live: string | undefined, context: string) => {
  const expected = await reference(live)
  const newest = expected.runs[0]!
  assert.deepStrictEqual(await status(), { out: RunHistory.summaryLines(newest).join("\n"), err: expected.warnings }, `status ${context}`)
  assert.deepStrictEqual(await status(true), { out: asJson(RunSummary.RunSummary, newest), err: expected.warnings }, `status --json ${context}`)
  for (const runId of ["10000003", "10000005", "10000007"]) {
    const summary = expected.runs.find((r) => r.runId === runId)!
    assert.deepStrictEqual(await status(false, runId), { out: RunHistory.summaryLines(summary).join("\n"), err: expected.warnings }, `status --run ${runId} ${context}`)
  }
  assert.deepStrictEqual(await list(), { out: expected.runs.slice(0, 10).map(listLine).join("\n"), err: expected.warnings }, `list ${context}`)
  assert.deepStrictEqual(await list(true), { out: expected.runs.map(listLine).join("\n"), err: expected.warnings }, `list --all ${context}`)
  assert.deepStrictEqual(await list(false, true), { out: asJson(RunSummary.RunList, expected.runs.slice(0, 10)), err: expected.warnings }, `list --json ${context}`)
  assert.deepStrictEqual(await list(true, true), { out: asJson(RunSummary.RunList, expected.runs), err: expected.warnings }, `list --all --json ${context}`)
}

describe("oompa status and list print what reading every log printed", () => {
  it("on the first call, on later calls, and after a log grows", async () => {
    Output.configure({ noColor: true })
    await assertAsBefore(undefined, "(first call)")
    assert.isTrue(NodeFs.existsSync(NodePath.join(runsDir(), "index.json")))
    await assertAsBefore(undefined, "(from the run index)")
    NodeFs.appendFileSync(logOf("1000000b"), text(iteration("w0", 9, 11_900, true)))
    await assertAsBefore(undefined, "(after an append)")
    // The run that died is `died`, unless a live process (here the test runner's parent) holds the lock for it.
    assert.match((await status(false, "10000005")).out, /^run 10000005: died on main/)
    NodeFs.writeFileSync(
      NodePath.join(repo, ".oompa/lock"),
      `${JSON.stringify({ pid: process.ppid, startedAt: new Date().toISOString(), runId: "10000005", hostname: NodeOs.hostname(), stopsOnSigint: false })}\n`
    )
    await assertAsBefore("10000005", "(a live run)")
    assert.match((await status(false, "10000005")).out, /^run 10000005: running on main/)
    NodeFs.appendFileSync(logOf("10000005"), text(iteration("w1", 7, 5_900, true)))
    await assertAsBefore("10000005", "(the live run grew)")
    NodeFs.rmSync(NodePath.join(repo, ".oompa/lock"))
    await assertAsBefore(undefined, "(the live run died)")
  })
})
