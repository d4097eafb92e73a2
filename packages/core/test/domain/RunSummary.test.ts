/**
 * Goal: a run's summary is derived from its events alone — merges, rejections, failed tasks,
 * iterations per worker, why each stopped, cost — and is a value its exported Schema decodes; a
 * run without `SwarmFinished` is `running` only while it holds the run lock, `died` otherwise.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import type { Event } from "../../src/domain/Event.ts"
import { RunSummary, summarize, withLiveness } from "../../src/domain/RunSummary.ts"

const timings = { setup: 0, agent: 0, review: 0, fix: 0, git: 0, test: 0, mergeWait: 0 }

const started: Event = {
  _tag: "SwarmStarted", at: 1_000, runId: "1a2b3c4d", branch: "main", base: "abc", review: true, dryRun: false,
  workers: [{ id: "w0", role: "executor", agent: "claude:opus", iterations: 2 }, { id: "w1", role: "executor", agent: "codex", iterations: 2 }]
}
const agent = (worker: string, costUsd?: number): Event => ({
  _tag: "AgentFinished", at: 1_100, worker, iteration: 1, call: "propose", agent: "claude:opus", exitCode: 0, durationMs: 50, timedOut: false,
  ...(costUsd === undefined ? {} : { costUsd })
})
const events: ReadonlyArray<Event> = [
  started,
  agent("w0", 0.25),
  agent("w1"),
  { _tag: "MergeResult", at: 1_200, worker: "w0", iteration: 1, outcome: "merged", sha: "f00", branch: "oompa/1a2b3c4d/w0-1", files: [] },
  { _tag: "IterationFinished", at: 1_210, worker: "w0", iteration: 1, outcome: "merged", reviews: 1, timings },
  { _tag: "IterationFinished", at: 1_220, worker: "w1", iteration: 1, outcome: "rejected", reviews: 1, timings },
  { _tag: "TaskMoved", at: 1_230, task: "t1", from: "current", to: "failed", reason: "rejected: wrong approach" },
  {
    _tag: "IterationFinished", at: 1_235, worker: "w1", iteration: 2, outcome: "conflict", task: "t2", reviews: 1, timings,
    detail: "approved work could not be merged (conflicts in: a.txt); branch oompa/1a2b3c4d/w1-2 kept", kept: "oompa/1a2b3c4d/w1-2"
  },
  { _tag: "Warning", at: 1_240, message: "slow disk" },
  { _tag: "WorkerFinished", at: 1_250, worker: "w0", reason: "no-tasks", iterations: 1 }
]

describe("RunSummary", () => {
  it("summarises a run still without SwarmFinished — each failed task and kept branch with why — and the Schema decodes the result", () => {
    const summary = summarize("1a2b3c4d", events)
    assert.deepStrictEqual(summary, {
      runId: "1a2b3c4d",
      branch: "main",
      startedAt: 1_000,
      outcome: "running",
      workers: [
        { id: "w0", role: "executor", agent: "claude:opus", iterations: 1, stopped: "no-tasks" },
        { id: "w1", role: "executor", agent: "codex", iterations: 2 }
      ],
      merged: 1,
      rejected: 1,
      failedTasks: 1,
      failed: [{ task: "t1", reason: "rejected: wrong approach" }],
      kept: [{
        branch: "oompa/1a2b3c4d/w1-2", worker: "w1", iteration: 2, task: "t2",
        reason: "approved work could not be merged (conflicts in: a.txt); branch oompa/1a2b3c4d/w1-2 kept"
      }],
      iterations: 3,
      agentCalls: 2,
      costUsd: 0.25,
      warnings: ["slow disk"]
    })
    assert.deepStrictEqual(Schema.decodeUnknownSync(RunSummary)(JSON.parse(JSON.stringify(summary))), summary)
  })

  it("takes outcome, duration and budget from SwarmFinished", () => {
    const finished = summarize("1a2b3c4d", [...events, { _tag: "SwarmFinished", at: 2_000, outcome: "failed", durationMs: 1_000, merged: 1, rejected: 1, failed: 1, budget: "max_agent_calls" }])
    assert.deepStrictEqual([finished.outcome, finished.durationMs, finished.budget], ["failed", 1_000, "max_agent_calls"])
  })

  it("counts landings, not reports of them: a second report of a landing (a cluster's redelivered iteration) names the same commit", () => {
    const again = { _tag: "MergeResult", at: 1_900, worker: "w0", iteration: 1, outcome: "merged", sha: "f00", branch: "oompa/1a2b3c4d/w0-1", files: [] } as const
    const other = { ...again, iteration: 2, sha: "ba5" }
    assert.strictEqual(summarize("1a2b3c4d", events).merged, 1)
    assert.strictEqual(summarize("1a2b3c4d", [...events, again]).merged, 1)
    assert.strictEqual(summarize("1a2b3c4d", [...events, again, other]).merged, 2)
  })

  it("counts what the speculative merge queue did: the most candidates at once, ejections and rebuilds", () => {
    const candidate = (worker: string, position: number, rebuild: number): Event =>
      ({ _tag: "CandidateBuilt", at: 1_300, worker, iteration: 1, position, onto: "m", head: "h", outcome: "built", sha: "s", rebuild })
    const speculative = summarize("1a2b3c4d", [
      ...events,
      candidate("w0", 1, 0),
      candidate("w1", 2, 0),
      candidate("w2", 3, 0),
      { _tag: "CandidateEjected", at: 1_400, worker: "w0", iteration: 1, reason: "test-failed", rebuilding: 2 },
      candidate("w1", 1, 1),
      candidate("w2", 2, 1)
    ])
    assert.deepStrictEqual(speculative.speculation, { deepest: 3, ejected: 1, rebuilds: 2 })
    // One candidate at a time and nothing rebuilt: nothing to say.
    assert.isUndefined(summarize("1a2b3c4d", [...events, candidate("w0", 1, 0)]).speculation)
  })

  it("a running run is died unless it is the live run; a finished one stays as it was", () => {
    const running = summarize("1a2b3c4d", events)
    assert.strictEqual(withLiveness(running, "1a2b3c4d").outcome, "running")
    assert.strictEqual(withLiveness(running, undefined).outcome, "died")
    assert.strictEqual(withLiveness(running, "99999999").outcome, "died")
    const empty = summarize("1a2b3c4d", [])
    assert.deepStrictEqual(withLiveness(empty, undefined), { ...empty, outcome: "died" })
    assert.isUndefined(empty.branch)
  })
})
