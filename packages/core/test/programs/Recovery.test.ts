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
import { task, worker } from "./fixtures.ts"

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

      const report = yield* Recovery.run({
        branchPrefix: "oompa/",
        maxTaskAttempts: 3,
        approvedCommit: (branch, head) => branch === "oompa/dead0001/w1-1" ? (assert.strictEqual(head, unreviewed), approved) : undefined
      }).pipe(Effect.provide(TestSwarm.layer(world)))

      assert.deepStrictEqual(report.branchesKept, ["oompa/dead0001/w1-1"])
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
      const report = yield* Recovery.run({ branchPrefix: "oompa/", maxTaskAttempts: 3, approvedCommit: () => approved }).pipe(
        Effect.provide(TestSwarm.layer(world))
      )
      assert.deepStrictEqual(report.branchesKept, [])
      assert.deepStrictEqual(report.branchesDeleted, ["oompa/dead0002/w1-1"])
    }))
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
