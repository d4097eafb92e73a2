/**
 * Swarm: whole runs over the in-memory world. Each test states a scenario and asserts what must be
 * true of main, the task folders and the event trace afterwards.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { makeSwarmConfig } from "../../src/domain/SwarmConfig.ts"
import * as Swarm from "../../src/programs/Swarm.ts"
import * as ScriptedAgent from "../../src/testing/ScriptedAgent.ts"
import * as TestSwarm from "../../src/testing/TestSwarm.ts"
import { task, worker } from "./fixtures.ts"


/** Each task's proposer writes its own file; the reviewer approves. */
const oneFilePerTask = ScriptedAgent.byCall({
  propose: (request) => ({ answer: "done", edits: { [`src/${request.task}.txt`]: `work for ${request.task}\n` } }),
  fix: (request) => ({ answer: "fixed", edits: { [`src/${request.task}.txt`]: `fixed work for ${request.task}\n` } }),
  review: ScriptedAgent.approve
})

describe("Swarm", () => {
  it.effect("executors over a pending queue: every task merged once, main holds every change", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ tasks: ["a", "b", "c", "d"].map((id) => task(id)), script: oneFilePerTask })
      const config = makeSwarmConfig({ workers: [worker("w0"), worker("w1")] })
      const report = yield* Swarm.run(config, { runId: "0000000a" }).pipe(Effect.provide(TestSwarm.layer(world)))
      assert.strictEqual(report.outcome, "ok")
      assert.strictEqual(report.merged, 4)
      assert.deepStrictEqual(world.queue.list("complete").map((t) => t.id), ["a", "b", "c", "d"])
      assert.strictEqual(world.queue.list("current").length, 0)
      const tree = world.repo.treeOf(world.repo.mainHead())
      for (const id of ["a", "b", "c", "d"]) assert.strictEqual(tree.get(`src/${id}.txt`), `work for ${id}\n`)
      assert.strictEqual(world.repo.listWorkspaces().length, 0, "no workspace outlives the run")
      assert.deepStrictEqual(world.repo.listBranches("oompa/"), [], "merged branches are removed")
    }))

  it.effect("a scripted agent's edits may be a Map: written in order, null deleting, like a record's", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        files: { "README.md": "# x\n", "old.txt": "old\n" },
        tasks: [task("a")],
        script: ScriptedAgent.byCall({
          propose: () => ({ answer: "done", edits: new Map([["src/a.txt", "first\n"], ["old.txt", null], ["src/a.txt", "second\n"]]) }),
          review: ScriptedAgent.approve
        })
      })
      const report = yield* Swarm.run(makeSwarmConfig({ workers: [worker("w0")] }), { runId: "0000000e" }).pipe(Effect.provide(TestSwarm.layer(world)))
      assert.strictEqual(report.merged, 1)
      const tree = world.repo.treeOf(world.repo.mainHead())
      assert.strictEqual(tree.get("src/a.txt"), "second\n")
      assert.isFalse(tree.has("old.txt"))
      assert.deepStrictEqual([...tree.keys()].sort(), ["README.md", "src/a.txt"])
    }))

  it.effect("the reviewer asks for one fix: the fix is reviewed again and lands", () =>
    Effect.gen(function*() {
      let reviews = 0
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: ScriptedAgent.byCall({
          propose: oneFilePerTask,
          fix: oneFilePerTask,
          review: () => (++reviews === 1 ? { answer: "VERDICT: NEEDS_CHANGES\n- add a test" } : { answer: "VERDICT: APPROVED" })
        })
      })
      const report = yield* Swarm.run(makeSwarmConfig({ workers: [worker("w0")] }), { runId: "0000000b" }).pipe(
        Effect.provide(TestSwarm.layer(world))
      )
      assert.strictEqual(report.merged, 1)
      assert.strictEqual(world.repo.treeOf(world.repo.mainHead()).get("src/a.txt"), "fixed work for a\n")
      const fix = world.agent.callsOf("fix")
      assert.strictEqual(fix.length, 1)
      assert.include(fix[0]!.request.prompt, "add a test")
      const verdicts = world.events.ofTag("VerdictGiven").map((v) => v.verdict)
      assert.deepStrictEqual(verdicts, ["needs-changes", "approved"])
    }))

  it.effect("an agent that hangs past its timeout fails the call, and the claim goes back", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: ScriptedAgent.byCall({ propose: () => ({ answer: "", delayMs: 10 * 60_000 }) })
      })
      const config = makeSwarmConfig({ workers: [worker("w0", { iterations: 1 })], timeouts: { propose: 60, review: 60, test: 60, setup: 60, teardown: 60 } })
      const fiber = yield* Effect.forkChild(Swarm.run(config, { runId: "0000000c" }).pipe(Effect.provide(TestSwarm.layer(world))))
      yield* TestClock.adjust("76 seconds")
      const report = yield* Fiber.join(fiber)
      const finished = world.events.ofTag("AgentFinished")
      assert.strictEqual(finished.length, 1)
      assert.isTrue(finished[0]!.timedOut)
      assert.strictEqual(report.workers[0]!.iterations[0]!.outcome, "error")
      assert.deepStrictEqual(world.queue.list("pending").map((t) => [String(t.id), t.attempts]), [["a", 1]])
    }))
})
