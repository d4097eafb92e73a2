/**
 * Goal: a run's report is derived from its events alone — a bar per iteration on its worker's lane,
 * coloured by how it ended; the merge queue's lane with tests running at once on rows of their own;
 * every task with its claims, attempts and verdicts; cost and tokens per worker; time by phase; and
 * every event type of the log's Schema has a line of its own (a new type without one fails here).
 */
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect } from "effect"
import { Event } from "../../src/domain/Event.ts"
import * as RunReport from "../../src/domain/RunReport.ts"

const timings = (agent: number, test = 0) => ({ setup: 0, agent, review: 10, fix: 0, git: 5, test, mergeWait: 0 })
const t0 = 1_700_000_000_000

const started: Event = {
  _tag: "SwarmStarted", at: t0, runId: "1a2b3c4d", branch: "main", base: "abc0000000", review: true, dryRun: false,
  workers: [{ id: "w0", role: "executor", agent: "claude:opus", iterations: 3 }, { id: "w1", role: "executor", agent: "codex", iterations: 3 }]
}
const call = (at: number, worker: string, iteration: number, kind: "propose" | "review" | "fix", extra: Partial<Extract<Event, { _tag: "AgentFinished" }>> = {}): Event => ({
  _tag: "AgentFinished", at: t0 + at, worker, iteration, call: kind, agent: kind === "review" ? "codex" : "claude:opus", exitCode: 0, durationMs: 100,
  timedOut: false, tokens: { input: 1000, output: 200 }, costUsd: 0.01, ...extra
})
const verdict = (at: number, worker: string, iteration: number, attempt: number, v: "approved" | "needs-changes" | "rejected", feedback: string): Event => ({
  _tag: "VerdictGiven", at: t0 + at, worker, iteration, attempt, verdict: v, clear: true, feedback, reviewer: "codex"
})

// w0: T-1 reviewed, sent back, fixed and merged; then T-3 rejected twice, failed.
// w1: T-2 times out; then T-4 approved, its test fails, and it runs out of attempts.
const events: ReadonlyArray<Event> = [
  started,
  // As a worker does: the claim, then the iteration's start.
  { _tag: "TaskClaimed", at: t0 + 10, worker: "w0", iteration: 1, task: "T-1" },
  { _tag: "IterationStarted", at: t0 + 11, worker: "w0", iteration: 1, branch: "oompa/1a2b3c4d/w0-1", base: "abc0000000" },
  { _tag: "IterationStarted", at: t0 + 12, worker: "w1", iteration: 1, branch: "oompa/1a2b3c4d/w1-1", base: "abc0000000" },
  { _tag: "TaskClaimed", at: t0 + 13, worker: "w1", iteration: 1, task: "T-2" },
  call(200, "w0", 1, "propose"),
  verdict(300, "w0", 1, 1, "needs-changes", "add a test"),
  call(400, "w0", 1, "fix"),
  verdict(500, "w0", 1, 2, "approved", ""),
  { _tag: "TestResult", at: t0 + 900, worker: "w0", iteration: 1, sha: "aaa1111111", passed: true, durationMs: 300, output: "" },
  { _tag: "MergeResult", at: t0 + 910, worker: "w0", iteration: 1, outcome: "merged", sha: "aaa1111111", branch: "oompa/1a2b3c4d/w0-1", files: ["a.ts"] },
  { _tag: "TaskMoved", at: t0 + 911, task: "T-1", from: "current", to: "complete" },
  { _tag: "IterationFinished", at: t0 + 920, worker: "w0", iteration: 1, outcome: "merged", task: "T-1", reviews: 2, timings: timings(200, 300) },
  call(1_000, "w1", 1, "propose", { exitCode: -1, timedOut: true, durationMs: 987, costUsd: 0.5, tokens: { input: 5, output: 7 } }),
  { _tag: "IterationFinished", at: t0 + 1_001, worker: "w1", iteration: 1, outcome: "error", task: "T-2", reviews: 0, timings: timings(987), detail: "propose timed out" },
  { _tag: "TaskMoved", at: t0 + 1_002, task: "T-2", from: "current", to: "pending" },
  { _tag: "IterationStarted", at: t0 + 1_010, worker: "w0", iteration: 2, branch: "oompa/1a2b3c4d/w0-2", base: "aaa1111111" },
  { _tag: "TaskClaimed", at: t0 + 1_011, worker: "w0", iteration: 2, task: "T-3" },
  { _tag: "IterationStarted", at: t0 + 1_020, worker: "w1", iteration: 2, branch: "oompa/1a2b3c4d/w1-2", base: "aaa1111111" },
  { _tag: "TaskClaimed", at: t0 + 1_021, worker: "w1", iteration: 2, task: "T-4" },
  call(1_100, "w0", 2, "propose"),
  verdict(1_200, "w0", 2, 1, "rejected", "<script>alert(1)</script> wrong approach"),
  { _tag: "IterationFinished", at: t0 + 1_210, worker: "w0", iteration: 2, outcome: "rejected", task: "T-3", reviews: 1, timings: timings(90) },
  { _tag: "TaskMoved", at: t0 + 1_211, task: "T-3", from: "current", to: "failed", reason: "rejected: wrong approach" },
  call(1_300, "w1", 2, "propose"),
  verdict(1_400, "w1", 2, 1, "approved", ""),
  { _tag: "TestResult", at: t0 + 1_800, worker: "w1", iteration: 2, sha: "bbb2222222", passed: false, durationMs: 350, output: "1 failing" },
  { _tag: "MergeResult", at: t0 + 1_801, worker: "w1", iteration: 2, outcome: "test-failed", sha: "bbb2222222", branch: "oompa/1a2b3c4d/w1-2", files: [] },
  { _tag: "IterationFinished", at: t0 + 1_900, worker: "w1", iteration: 2, outcome: "exhausted", task: "T-4", reviews: 1, timings: timings(80, 350) },
  // An iteration that found no task is no bar.
  { _tag: "IterationStarted", at: t0 + 1_990, worker: "w0", iteration: 3, branch: "oompa/1a2b3c4d/w0-3", base: "aaa1111111" },
  { _tag: "WorkerFinished", at: t0 + 2_000, worker: "w0", reason: "no-tasks", iterations: 2 },
  { _tag: "TaskClaimed", at: t0 + 2_005, worker: "w1", iteration: 3, task: "T-2" },
  { _tag: "IterationStarted", at: t0 + 2_010, worker: "w1", iteration: 3, branch: "oompa/1a2b3c4d/w1-3", base: "aaa1111111" }
]

describe("RunReport", () => {
  it("draws each iteration on its worker's lane, coloured by how it ended; one still running is open-ended", () => {
    const report = RunReport.make("1a2b3c4d", events)
    assert.strictEqual(report.startedAt, t0)
    assert.strictEqual(report.span, 2_010)
    assert.deepStrictEqual(report.workers.map((w) => w.id), ["w0", "w1"])
    const bars = report.workers.map((w) => w.iterations.map((i) => [i.iteration, i.task, i.kind, i.start, i.end]))
    assert.deepStrictEqual(bars, [
      [[1, "T-1", "fixed", 10, 920], [2, "T-3", "rejected", 1_010, 1_210]],
      [[1, "T-2", "timeout", 12, 1_001], [2, "T-4", "test-failed", 1_020, 1_900], [3, "T-2", "running", 2_005, undefined]]
    ])
    assert.strictEqual(report.workers[0]!.stopped, "no-tasks")
    // The run ends: what still ran ends there, without an outcome.
    const ended = RunReport.make("1a2b3c4d", [...events, { _tag: "SwarmFinished", at: t0 + 2_100, outcome: "interrupted", durationMs: 2_100, merged: 1, rejected: 1, failed: 1 }])
    const last = ended.workers[1]!.iterations[2]!
    assert.deepStrictEqual([last.kind, last.end, last.detail], ["other", 2_100, "the run ended (interrupted) before it did"])
  })

  it("counts calls, tokens and dollars per worker, and time by phase", () => {
    const report = RunReport.make("1a2b3c4d", events)
    const [w0, w1] = report.workers
    assert.deepStrictEqual([w0!.calls, w0!.tokens, w0!.costUsd], [3, { input: 3000, output: 600 }, 0.03])
    assert.deepStrictEqual([w1!.calls, w1!.tokens], [2, { input: 1005, output: 207 }])
    assert.closeTo(w1!.costUsd, 0.51, 1e-9)
    assert.deepStrictEqual(w0!.timings, { setup: 0, agent: 290, review: 20, fix: 0, git: 10, test: 300, mergeWait: 0 })
    assert.strictEqual(report.timings.test, 650)
    assert.deepStrictEqual(report.tokens, { input: 4005, output: 807 })
  })

  it("lists every task with where it ended, its claims, its attempts, and its verdicts with feedback", () => {
    const report = RunReport.make("1a2b3c4d", events)
    const tasks = Object.fromEntries(report.tasks.map((t) => [t.id, t]))
    assert.deepStrictEqual(Object.keys(tasks), ["T-1", "T-2", "T-3", "T-4"])
    assert.strictEqual(tasks["T-1"]!.status, "complete")
    assert.deepStrictEqual(tasks["T-1"]!.reviews.map((r) => [r.verdict, r.feedback]), [["needs-changes", "add a test"], ["approved", ""]])
    assert.deepStrictEqual([tasks["T-2"]!.status, tasks["T-2"]!.claims], ["current", 2])
    assert.deepStrictEqual(tasks["T-2"]!.attempts, [{ worker: "w1", iteration: 1, outcome: "error" }])
    assert.deepStrictEqual([tasks["T-3"]!.status, tasks["T-3"]!.reason], ["failed", "rejected: wrong approach"])
    assert.strictEqual(tasks["T-4"]!.status, "current")
  })

  it("puts tests on the merge queue's lane, each on the first row free at its start, and landings as marks", () => {
    const overlapping: ReadonlyArray<Event> = [
      started,
      { _tag: "TestResult", at: t0 + 1_000, worker: "w0", iteration: 1, sha: "a", passed: true, durationMs: 800, output: "" },
      { _tag: "TestResult", at: t0 + 1_100, worker: "w1", iteration: 1, sha: "b", passed: false, durationMs: 700, output: "", position: 2 },
      { _tag: "TestResult", at: t0 + 1_500, worker: "w0", iteration: 2, sha: "c", passed: true, durationMs: 400, output: "" },
      { _tag: "MergeResult", at: t0 + 1_600, worker: "w0", iteration: 2, outcome: "merged", sha: "c", branch: "b", files: [] }
    ]
    const report = RunReport.make("1a2b3c4d", overlapping)
    assert.deepStrictEqual(report.merges.map((m) => [m.what, m.worker, m.start, m.end, m.outcome, m.row]), [
      ["test", "w0", 200, 1_000, "passed", 0],
      ["test", "w1", 400, 1_100, "failed", 1],
      ["test", "w0", 1_100, 1_500, "passed", 0],
      ["merge", "w0", 1_600, 1_600, "merged", 0]
    ])
  })

  it("an iteration delivered twice (a cluster's runner died under it) is two bars, both ended; a repeated end is one end", () => {
    const claim = (at: number): Event => ({ _tag: "TaskClaimed", at: t0 + at, worker: "w0", iteration: 1, task: "T-1" })
    const start = (at: number): Event => ({ _tag: "IterationStarted", at: t0 + at, worker: "w0", iteration: 1, branch: "b", base: "abc" })
    const finish: Event = { _tag: "IterationFinished", at: t0 + 900, worker: "w0", iteration: 1, outcome: "merged", task: "T-1", reviews: 1, timings: timings(100) }
    const report = RunReport.make("1a2b3c4d", [started, claim(10), start(11), claim(500), start(501), finish, finish,
      { _tag: "SwarmFinished", at: t0 + 1_000, outcome: "ok", durationMs: 1_000, merged: 1, rejected: 0, failed: 0 }])
    assert.deepStrictEqual(report.workers[0]!.iterations.map((i) => [i.start, i.end, i.kind]), [[10, 500, "other"], [500, 900, "merged"]])
    const task = report.tasks.find((t) => t.id === "T-1")!
    assert.deepStrictEqual([task.claims, task.attempts.length], [2, 1])
  })

  it("times no clock gives, or a runner's clock ahead of the driver's, stay within a drawable span", () => {
    const report = RunReport.make("1a2b3c4d", [
      started,
      { _tag: "Warning", at: -1.7e308, message: "from the past" },
      { _tag: "TaskClaimed", at: t0 + 60_000, worker: "w0", iteration: 1, task: "T-1" },
      { _tag: "Warning", at: t0 + 10, message: "the driver's last word" },
      { _tag: "Warning", at: 1.7e308, message: "from the future" }
    ])
    assert.strictEqual(report.span, RunReport.spanMaxMs)
    assert.deepStrictEqual(report.lines.map((l) => l.at), [0, 0, 60_000, 10, RunReport.spanMaxMs])
    const skewed = RunReport.make("1a2b3c4d", [started, { _tag: "TaskClaimed", at: t0 + 60_000, worker: "w0", iteration: 1, task: "T-1" }, { _tag: "Warning", at: t0 + 10, message: "x" }])
    assert.strictEqual(skewed.span, 60_000)
  })

  it.effect("every event type of the log's Schema is handled and has a line of its own", () =>
    Effect.gen(function*() {
      const tags = Object.keys(Event.cases) as ReadonlyArray<Event["_tag"]>
      assert.isAtLeast(tags.length, 23)
      for (const tag of tags) {
        const samples = yield* Arbitrary.sampleEffect(Arbitrary.schema(Event.cases[tag] as unknown as typeof Event), { count: 25, seed: tag })
        const report = RunReport.make("1a2b3c4d", [started, ...samples])
        assert.strictEqual(report.lines.length, samples.length + 1, tag)
        assert.strictEqual(report.counts[tag], samples.length + (tag === "SwarmStarted" ? 1 : 0), tag)
        for (const line of report.lines.slice(1)) {
          assert.strictEqual(line.tag, tag)
          assert.isTrue(line.text.trim().length > 0, `${tag} has no text`)
        }
      }
    }))
})
