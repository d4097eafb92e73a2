/**
 * ProgressView: the terminal rows and the plain lines follow the events of a run.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Event } from "@oompa/core"
import * as ProgressView from "../src/ProgressView.ts"

const events: ReadonlyArray<Event.Event> = [
  { _tag: "SwarmStarted", at: 0, runId: "abcd1234", branch: "main", base: "b0", workers: [{ id: "w0", role: "executor", agent: "claude:opus", iterations: 3 }], review: true, dryRun: false },
  { _tag: "WorkerStarted", at: 0, worker: "w0", role: "executor", iterations: 3 },
  // As a worker does: the claim, then the iteration's start.
  { _tag: "TaskClaimed", at: 1000, worker: "w0", iteration: 1, task: "add-login" },
  { _tag: "IterationStarted", at: 1000, worker: "w0", iteration: 1, branch: "oompa/abcd1234/w0-1", base: "b0" },
  { _tag: "AgentFinished", at: 61_000, worker: "w0", iteration: 1, call: "propose", agent: "claude:opus", exitCode: 0, durationMs: 60_000, timedOut: false },
  { _tag: "VerdictGiven", at: 90_000, worker: "w0", iteration: 1, attempt: 1, verdict: "needs-changes", clear: true, feedback: "- tests", reviewer: "codex:" }
]

describe("ProgressView", () => {
  it("one row per worker: state, iteration i/n, task, time in that state", () => {
    const state = events.reduce(ProgressView.step, ProgressView.initial)
    const rows = ProgressView.render(state, 95_000, 120)
    assert.strictEqual(rows.length, 1)
    assert.match(rows[0]!, /^w0\s+fixing\s+1\/3\s+add-login\s+0:05$/)
  })

  it("rows are cut to the terminal width", () => {
    const state = events.reduce(ProgressView.step, ProgressView.initial)
    const row = ProgressView.render(state, 95_000, 20)[0]!
    assert.strictEqual(row.length, 20)
    assert.isTrue(row.endsWith("…"))
  })

  it("a line for the merge queue's pipeline: candidates in the order they land, and how many wait", () => {
    const queued: ReadonlyArray<Event.Event> = [
      ...["w0", "w1", "w2"].map((worker, i): Event.Event => ({ _tag: "MergeQueued", at: 100_000 + i, worker, iteration: 1, position: i + 1 })),
      { _tag: "CandidateBuilt", at: 100_010, worker: "w0", iteration: 1, position: 1, onto: "m0", head: "h0", outcome: "built", sha: "c0", rebuild: 0 },
      { _tag: "CandidateBuilt", at: 100_011, worker: "w1", iteration: 1, position: 2, onto: "c0", head: "h1", outcome: "built", sha: "c1", rebuild: 0 }
    ]
    const testing = [...events, ...queued].reduce(ProgressView.step, ProgressView.initial)
    const lines = ProgressView.render(testing, 101_000, 120)
    assert.strictEqual(lines.at(-1), "merge queue: testing w0 > w1; 1 waiting; 0 merged")
    assert.match(lines.find((l) => l.startsWith("w1"))!, /^w1\s+testing 2nd/)
    // w0 fails its test: ejected; w1 is rebuilt at the head, w2 enters behind it.
    const after = [
      { _tag: "CandidateEjected", at: 102_000, worker: "w0", iteration: 1, reason: "test-failed", rebuilding: 1 },
      { _tag: "MergeResult", at: 102_000, worker: "w0", iteration: 1, outcome: "test-failed", sha: "c0", branch: "b", files: [] },
      { _tag: "CandidateBuilt", at: 102_001, worker: "w1", iteration: 1, position: 1, onto: "m0", head: "h1", outcome: "built", sha: "c1b", rebuild: 1 },
      { _tag: "CandidateBuilt", at: 102_002, worker: "w2", iteration: 1, position: 2, onto: "c1b", head: "h2", outcome: "built", sha: "c2", rebuild: 0 }
    ] satisfies ReadonlyArray<Event.Event>
    // An error ends a submission with no MergeResult: it leaves the pipeline all the same.
    const failed = ProgressView.step(testing, { _tag: "CandidateEjected", at: 101_500, worker: "w0", iteration: 1, reason: "error", rebuilding: 1 })
    assert.strictEqual(ProgressView.render(failed, 101_600, 120).at(-1), "merge queue: testing w1; 1 waiting; 0 merged")
    const rebuilt = after.reduce(ProgressView.step, testing)
    assert.strictEqual(ProgressView.render(rebuilt, 103_000, 120).at(-1), "merge queue: testing w1 > w2; 0 waiting; 0 merged")
    assert.deepStrictEqual(after.map((e) => ProgressView.plainLine(e, 0)), [
      "[1:42] w0 ejected from the merge queue: test-failed; 1 behind it rebuilt",
      "[1:42] w0 merge: test-failed c0",
      "[1:42] w1 candidate 1 rebuilt (1) on m0: built c1b",
      "[1:42] w2 candidate 2 on c1b: built c2"
    ])
  })

  it("plain lines: one per event that matters, timed from the start", () => {
    const lines = events.map((e) => ProgressView.plainLine(e, 0)).filter((l) => l !== undefined)
    assert.deepStrictEqual(lines, [
      "[0:00] run abcd1234 on main: 1 worker",
      "[0:01] w0 claimed add-login",
      "[0:01] w0 iteration 1 started on oompa/abcd1234/w0-1",
      "[1:01] w0 propose by claude:opus: exit 0 in 60.0 s",
      "[1:30] w0 review 1: needs-changes"
    ])
  })
})
