/**
 * Goal: recovery after a dead run (SPEC F14) returns its claims (or completes them when their merge
 * landed), removes its workspaces, deletes its branches — except a branch holding approved work not
 * on main, which is kept at its approved commit, never at unreviewed commits a crash left on top.
 * Method: a memory world arranged as a run killed mid-iteration leaves it, then `Recovery.run`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { WorkerId } from "../../src/domain/Ids.ts"
import * as Recovery from "../../src/programs/Recovery.ts"
import * as TestSwarm from "../../src/testing/TestSwarm.ts"
import { makeSwarmConfig } from "../../src/domain/SwarmConfig.ts"
import * as Swarm from "../../src/programs/Swarm.ts"
import * as ScriptedAgent from "../../src/testing/ScriptedAgent.ts"
import * as SimulatedTime from "../../src/testing/SimulatedTime.ts"
import type { Event } from "../../src/domain/Event.ts"
import { task, worker } from "./fixtures.ts"

const started = (worker: string, branch: string, iteration = 1): Event => ({ _tag: "IterationStarted", at: 0, worker, iteration, branch, base: "b" })
const claimed = (worker: string, task: string, iteration = 1): Event => ({ _tag: "TaskClaimed", at: 0, worker, iteration, task })
const committed = (worker: string, sha: string, iteration = 1): Event => ({ _tag: "Committed", at: 0, worker, iteration, sha, files: 1, added: 1, deleted: 0 })
const verdict = (worker: string, v: "approved" | "needs-changes", iteration = 1): Event => ({
  _tag: "VerdictGiven", at: 0, worker, iteration, attempt: 1, verdict: v, clear: true, feedback: "", reviewer: "codex:"
})

describe("Recovery", () => {
  it.effect("keeps approved unmerged work at its approved commit, and repairs everything else", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ tasks: ["t1", "t2", "t3"].map(task) })
      const { repo, queue } = world
      const base = repo.mainHead()
      // w1 iteration 1: approved commit, then an unreviewed conflict resolution on top when the run died.
      const w1 = repo.acquireWorkspace("w1" as WorkerId)
      repo.resetWorkspace(w1, "oompa/dead0001/w1-1", base)
      repo.writeFile(w1.path, "a.txt", "approved\n")
      const approved = repo.commitAll(w1, "w1: approved")!
      repo.writeFile(w1.path, "a.txt", "approved\nunreviewed\n")
      const unreviewed = repo.commitAll(w1, "w1: resolution in progress")!
      // w2 iteration 1: work nobody approved.
      const w2 = repo.acquireWorkspace("w2" as WorkerId)
      repo.resetWorkspace(w2, "oompa/dead0001/w2-1", base)
      repo.writeFile(w2.path, "b.txt", "draft\n")
      repo.commitAll(w2, "w2: draft")
      // t1 merged before the crash (its trailer is on main), t2 and t3 claimed.
      for (const id of ["t1", "t2"]) queue.move(id, "pending", "current")
      const w3 = repo.acquireWorkspace("w3" as WorkerId)
      repo.resetWorkspace(w3, "oompa/dead0001/w3-1", base)
      repo.writeFile(w3.path, "c.txt", "t1\n")
      const t1 = repo.commitAll(w3, "oompa: do t1 (t1)\n\nOompa-Task: t1")!
      assert.isTrue(repo.compareAndSwapMain(base, t1))

      assert.strictEqual(repo.branchHead("oompa/dead0001/w1-1"), unreviewed)
      // The dead run's log: w1's approval of its first commit; w2 never reviewed.
      const log: ReadonlyArray<Event> = [
        started("w1", "oompa/dead0001/w1-1"), claimed("w1", "t2"), committed("w1", approved), verdict("w1", "approved"), committed("w1", unreviewed),
        started("w2", "oompa/dead0001/w2-1"), committed("w2", "draft")
      ]
      const read: Array<string> = []
      const report = yield* Recovery.run({
        maxTaskAttempts: 3,
        runLog: (runId) => Effect.sync(() => (read.push(runId), runId === "dead0001" ? log : []))
      }).pipe(Effect.provide(TestSwarm.layer(world)))

      assert.deepStrictEqual(read, ["dead0001"], "each run's log is read once")
      assert.deepStrictEqual(report.branchesKept, [{ branch: "oompa/dead0001/w1-1", task: "t2" }])
      assert.strictEqual(repo.branchHead("oompa/dead0001/w1-1"), approved)
      assert.sameMembers([...report.branchesDeleted], ["oompa/dead0001/w2-1", "oompa/dead0001/w3-1"])
      assert.deepStrictEqual(report.completed, [{ task: "t1", sha: t1 }])
      assert.deepStrictEqual(report.returned, ["t2"])
      assert.deepStrictEqual(queue.list("current"), [])
      assert.deepStrictEqual(repo.listWorkspaces(), [])
    }))

  it.effect("deletes a branch whose approved commit already reached main", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld()
      const { repo } = world
      const base = repo.mainHead()
      const ws = repo.acquireWorkspace("w1" as WorkerId)
      repo.resetWorkspace(ws, "oompa/dead0002/w1-1", base)
      repo.writeFile(ws.path, "a.txt", "landed\n")
      const approved = repo.commitAll(ws, "w1: approved")!
      assert.isTrue(repo.compareAndSwapMain(base, approved))
      const log = [started("w1", "oompa/dead0002/w1-1"), committed("w1", approved), verdict("w1", "approved")]
      const report = yield* Recovery.run({ maxTaskAttempts: 3, runLog: () => Effect.succeed(log) }).pipe(
        Effect.provide(TestSwarm.layer(world))
      )
      assert.deepStrictEqual(report.branchesKept, [])
      assert.deepStrictEqual(report.branchesDeleted, ["oompa/dead0002/w1-1"])
    }))

  it.effect("a log naming a commit off the branch's history, or one that does not exist, leaves the branch where it is, kept", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld()
      const { repo } = world
      const base = repo.mainHead()
      const ws = repo.acquireWorkspace("w1" as WorkerId)
      repo.resetWorkspace(ws, "oompa/dead0003/w1-1", base)
      repo.writeFile(ws.path, "a.txt", "mine\n")
      const head = repo.commitAll(ws, "w1: work")!
      const elsewhere = repo.acquireWorkspace("w2" as WorkerId)
      repo.resetWorkspace(elsewhere, "oompa/dead0003/w2-1", base)
      repo.writeFile(elsewhere.path, "b.txt", "other\n")
      const other = repo.commitAll(elsewhere, "w2: other")!
      const log = [started("w1", "oompa/dead0003/w1-1"), committed("w1", other), verdict("w1", "approved")]
      const report = yield* Recovery.run({ maxTaskAttempts: 3, runLog: () => Effect.succeed(log) }).pipe(Effect.provide(TestSwarm.layer(world)))
      assert.deepStrictEqual(report.branchesKept, [{ branch: "oompa/dead0003/w1-1" }])
      assert.strictEqual(repo.branchHead("oompa/dead0003/w1-1"), head)
      // A log naming a commit that does not exist: recovery does not fail on it.
      const forged = [started("w1", "oompa/dead0003/w1-1"), committed("w1", "0123456789abcdef0123456789abcdef01234567"), verdict("w1", "approved")]
      const again = yield* Recovery.run({ maxTaskAttempts: 3, runLog: () => Effect.succeed(forged) }).pipe(Effect.provide(TestSwarm.layer(world)))
      assert.deepStrictEqual(again.branchesKept, [{ branch: "oompa/dead0003/w1-1" }])
      assert.strictEqual(repo.branchHead("oompa/dead0003/w1-1"), head)
    }))

  it.effect("a kept branch whose task has landed since says so: merging it would apply the task twice", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld()
      const { repo } = world
      const base = repo.mainHead()
      const ws = repo.acquireWorkspace("w1" as WorkerId)
      repo.resetWorkspace(ws, "oompa/dead0004/w1-1", base)
      repo.writeFile(ws.path, "a.txt", "first try\n")
      const approved = repo.commitAll(ws, "w1: t1")!
      const redo = repo.acquireWorkspace("w2" as WorkerId)
      repo.resetWorkspace(redo, "oompa/0000000b/w2-1", base)
      repo.writeFile(redo.path, "a.txt", "second try\n")
      const landed = repo.commitAll(redo, "oompa: t1 (t1)\n\nOompa-Task: t1")!
      assert.isTrue(repo.compareAndSwapMain(base, landed))
      repo.removeWorkspace(redo)
      const log = [started("w1", "oompa/dead0004/w1-1"), claimed("w1", "t1"), committed("w1", approved), verdict("w1", "approved")]
      const report = yield* Recovery.run({ maxTaskAttempts: 3, runLog: (runId) => Effect.succeed(runId === "dead0004" ? log : []) }).pipe(
        Effect.provide(TestSwarm.layer(world))
      )
      assert.deepStrictEqual(report.branchesKept, [{ branch: "oompa/dead0004/w1-1", task: "t1", landedSince: landed }])
    }))

  it.effect("a branch whose own landing a crash cut short of its bookkeeping is deleted, not kept: the landing's trailers name its iteration", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld()
      const { repo } = world
      const base = repo.mainHead()
      const ws = repo.acquireWorkspace("w1" as WorkerId)
      repo.resetWorkspace(ws, "oompa/dead0005/w1-2", base)
      repo.writeFile(ws.path, "a.txt", "the work\n")
      const approved = repo.commitAll(ws, "w1: t1")!
      // The queue landed a commit it wrote of the approved tree (not the approved commit), then the run died.
      const landed = repo.commitWithParents([base], "oompa: t1 (t1)\n\nOompa-Run: dead0005\nOompa-Task: t1\nOompa-Worker: w1\nOompa-Iteration: 2", approved)
      assert.isTrue(repo.compareAndSwapMain(base, landed))
      const log = [started("w1", "oompa/dead0005/w1-2", 2), claimed("w1", "t1", 2), committed("w1", approved, 2), verdict("w1", "approved", 2)]
      const report = yield* Recovery.run({ maxTaskAttempts: 3, runLog: (runId) => Effect.succeed(runId === "dead0005" ? log : []) }).pipe(
        Effect.provide(TestSwarm.layer(world))
      )
      assert.deepStrictEqual(report.branchesKept, [])
      assert.deepStrictEqual(report.branchesDeleted, ["oompa/dead0005/w1-2"])
      // Another iteration's landing of the same task does not count as this one's.
      assert.isFalse(Recovery.landedBy("Oompa-Run: dead0005\nOompa-Task: t1\nOompa-Worker: w1\nOompa-Iteration: 3", "oompa/dead0005/w1-2"))
      assert.isFalse(Recovery.landedBy("Oompa-Run: dead0005\nOompa-Task: t1\nOompa-Worker: w1", "oompa/dead0005/w1-2"))
    }))
})

describe("approvedWork (recovery's reading of a dead run's log)", () => {
  const branch = "oompa/0000000a/w1-1"
  const w = "w1"
  const start = started(w, branch)

  it("the approved commit, not the unreviewed resolution the crash left on top", () => {
    const log = [start, claimed(w, "t1"), committed(w, "a1"), verdict(w, "needs-changes"), committed(w, "a2"), verdict(w, "approved"), committed(w, "r3")]
    assert.deepStrictEqual([...Recovery.approvedWork(log)], [[branch, { approved: "a2", task: "t1" }]])
  })

  it("the latest approval counts: an approved resolution of a conflict", () => {
    const log = [start, committed(w, "a1"), verdict(w, "approved"), committed(w, "r2"), verdict(w, "approved"), committed(w, "r3")]
    assert.deepStrictEqual([...Recovery.approvedWork(log)], [[branch, { approved: "r2", task: undefined }]])
  })

  it("an approval before any commit keeps the branch where it is (no sha)", () => {
    assert.deepStrictEqual([...Recovery.approvedWork([start, verdict(w, "approved")])], [[branch, { approved: undefined, task: undefined }]])
  })

  it("nothing to keep when the iteration merged or was never approved; each iteration on its own", () => {
    const merged: Event = { _tag: "MergeResult", at: 0, worker: w, iteration: 1, branch, outcome: "merged", sha: "m", files: [] }
    assert.strictEqual(Recovery.approvedWork([start, committed(w, "a1"), verdict(w, "approved"), merged]).size, 0)
    assert.strictEqual(Recovery.approvedWork([start, committed(w, "a1"), verdict(w, "needs-changes")]).size, 0)
    // Another worker's approval, another iteration's approval.
    const other = [start, started("w2", "oompa/0000000a/w2-1"), committed("w2", "b1"), verdict("w2", "approved"), committed(w, "a1", 2), verdict(w, "approved", 2)]
    assert.deepStrictEqual([...Recovery.approvedWork(other)], [["oompa/0000000a/w2-1", { approved: "b1", task: undefined }]])
  })
})

describe("Recovery: trailers a task file could forge", () => {
  it.effect("a summary holding \"Oompa-Task: victim\" on a line of its own lands on one line: recovery finds the task that landed, never the victim", () =>
    Effect.gen(function*() {
      const evil = { ...task("evil"), summary: "Tidy up\n\nOompa-Task: victim\n\nand more" }
      const world = TestSwarm.makeWorld({
        tasks: [evil],
        script: ScriptedAgent.byCall({ propose: () => ({ answer: "done", edits: { "src/evil.txt": "x\n" } }), review: ScriptedAgent.approve })
      })
      yield* SimulatedTime.run(Swarm.run(makeSwarmConfig({ workers: [worker("w0", { iterations: 1 })] }), { runId: "0000000e" }).pipe(Effect.provide(TestSwarm.layer(world))))
      const message = world.repo.commit(world.repo.mainHead()).message
      assert.strictEqual(message.split("\n")[0], "oompa: Tidy up\\n\\nOompa-Task: victim\\n\\nand more (evil)")
      const found = yield* Effect.all([Recovery.findMerge("victim"), Recovery.findMerge("evil")]).pipe(Effect.provide(TestSwarm.layer(world)))
      assert.deepStrictEqual(found, [undefined, world.repo.mainHead()])
    }))
})
