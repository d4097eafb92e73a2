/**
 * ProgressView: the terminal rows and the plain lines follow the events of a run.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Event } from "@oompa/core"
import * as ProgressView from "../src/ProgressView.ts"

const events: ReadonlyArray<Event.Event> = [
  { _tag: "SwarmStarted", at: 0, runId: "abcd1234", branch: "main", base: "b0", workers: [{ id: "w0", role: "executor", agent: "claude:opus", iterations: 3 }], review: true, dryRun: false },
  { _tag: "WorkerStarted", at: 0, worker: "w0", role: "executor", iterations: 3 },
  { _tag: "IterationStarted", at: 1000, worker: "w0", iteration: 1, branch: "oompa/abcd1234/w0-1", base: "b0" },
  { _tag: "TaskClaimed", at: 1000, worker: "w0", iteration: 1, task: "add-login" },
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

  it("plain lines: one per event that matters, timed from the start", () => {
    const lines = events.map((e) => ProgressView.plainLine(e, 0)).filter((l) => l !== undefined)
    assert.deepStrictEqual(lines, [
      "[0:00] run abcd1234 on main: 1 worker",
      "[0:01] w0 iteration 1 started on oompa/abcd1234/w0-1",
      "[0:01] w0 claimed add-login",
      "[1:01] w0 propose by claude:opus: exit 0 in 60.0 s",
      "[1:30] w0 review 1: needs-changes"
    ])
  })
})
