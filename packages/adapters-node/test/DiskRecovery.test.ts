/**
 * Goal: cleanup keeps a dead run's approved-but-unmerged work at the commit the reviewer approved,
 * as its run log tells: the iteration's last commit before its latest approval — never a later,
 * unreviewed commit (a conflict resolution the crash interrupted) — and nothing for merged or
 * unapproved iterations.
 * Method: run logs written out event by event.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Event } from "@oompa/core"
import { approvedWork } from "../src/DiskRecovery.ts"

const w = "w1"
const committed = (sha: string, iteration = 1, worker = w): Event.Event => ({ _tag: "Committed", at: 0, worker, iteration, sha, files: 1, added: 1, deleted: 0 })
const verdict = (v: "approved" | "needs-changes", iteration = 1, worker = w): Event.Event => ({
  _tag: "VerdictGiven", at: 0, worker, iteration, attempt: 1, verdict: v, clear: true, feedback: "", reviewer: "codex:"
})
const claimed: Event.Event = { _tag: "TaskClaimed", at: 0, worker: w, iteration: 1, task: "t1" }

describe("approvedWork (cleanup's reading of a dead run's log)", () => {
  it("the approved commit, not the unreviewed resolution the crash left on top", () => {
    const log = [claimed, committed("a1"), verdict("needs-changes"), committed("a2"), verdict("approved"), committed("r3")]
    assert.deepStrictEqual(approvedWork(log, w, 1), { approved: "a2", task: "t1" })
  })

  it("the latest approval counts: an approved resolution of a conflict", () => {
    const log = [committed("a1"), verdict("approved"), committed("r2"), verdict("approved"), committed("r3")]
    assert.deepStrictEqual(approvedWork(log, w, 1), { approved: "r2", task: undefined })
  })

  it("nothing to keep when the iteration merged or was never approved, or for another worker's events", () => {
    const merged: Event.Event = { _tag: "MergeResult", at: 0, worker: w, iteration: 1, branch: "oompa/x/w1-1", outcome: "merged", sha: "m", files: [] }
    assert.isUndefined(approvedWork([committed("a1"), verdict("approved"), merged], w, 1))
    assert.isUndefined(approvedWork([committed("a1"), verdict("needs-changes")], w, 1))
    assert.isUndefined(approvedWork([committed("a1", 1, "w2"), verdict("approved", 1, "w2")], w, 1))
    assert.isUndefined(approvedWork([committed("a1", 2), verdict("approved", 2)], w, 1))
  })
})
