/**
 * Task dependencies in whole runs over the in-memory world (issue 18). Each test states a scenario
 * and what must hold of main's merges, the task folders and the run log afterwards: a task waits for
 * its dependencies to merge, whatever the claim order says; a failed dependency fails its dependents
 * at once; an unknown dependency or a cycle sends a task to `invalid/` naming it; an executor waits
 * for a dependency another holds; a planner's tasks may depend on each other and on queued tasks.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { makeSwarmConfig } from "../../src/domain/SwarmConfig.ts"
import type { Task } from "../../src/domain/Task.ts"
import * as Swarm from "../../src/programs/Swarm.ts"
import { mergedTaskOf } from "../../src/programs/Recovery.ts"
import * as ScriptedAgent from "../../src/testing/ScriptedAgent.ts"
import * as TestSwarm from "../../src/testing/TestSwarm.ts"
import { worker } from "./fixtures.ts"

/** Task `id`, waiting for `dependencies` (under `depends_on`, or `blocked_by` when `key` says). */
const task = (id: string, dependencies: ReadonlyArray<string> = [], key: "depends_on" | "blocked_by" = "depends_on"): Task =>
  ({ id, summary: `do ${id}`, ...(dependencies.length === 0 ? {} : { [key]: dependencies }) }) as Task

/** Each task's proposer writes its own file (taking `delayMs` of the clock); the reviewer approves. */
const oneFilePerTask = (delayMs = 0) =>
  ScriptedAgent.byCall({
    propose: (request) => ({ answer: "done", delayMs, edits: { [`src/${request.task}.txt`]: `work for ${request.task}\n` } }),
    review: ScriptedAgent.approve
  })

/** The tasks main's merges landed, oldest first. */
const mergeOrder = (world: TestSwarm.World) =>
  world.repo.mainHistory.flatMap((sha) => {
    const task = mergedTaskOf(world.repo.commit(sha).message)
    return task === undefined ? [] : [task]
  })

/** Runs the swarm to its end, moving the test clock a second at a time while it runs (an hour at most). */
const runSwarm = (world: TestSwarm.World, config: Parameters<typeof Swarm.run>[0]) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Swarm.run(config, { runId: "0000d0d0" }).pipe(Effect.provide(TestSwarm.layer(world))))
    for (let second = 0; second < 3600 && fiber.pollUnsafe() === undefined; second++) yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

describe("Swarm: task dependencies", () => {
  it.effect("merges land in dependency order, whatever the claim order (priority, then id) says", () =>
    Effect.gen(function*() {
      // By id alone a would go first; it waits for c, and b waits for a.
      const world = TestSwarm.makeWorld({ tasks: [task("a", ["c"]), task("b", ["a"], "blocked_by"), task("c"), task("d")], script: oneFilePerTask() })
      const report = yield* runSwarm(world, makeSwarmConfig({ workers: [worker("w0"), worker("w1")] }))
      assert.strictEqual(report.outcome, "ok")
      assert.strictEqual(report.merged, 4)
      const order = mergeOrder(world)
      assert.isBelow(order.indexOf("c"), order.indexOf("a"))
      assert.isBelow(order.indexOf("a"), order.indexOf("b"))
      // No task was claimed before its dependency was complete.
      const log = world.events.events
      const at = (predicate: (e: (typeof log)[number]) => boolean) => log.findIndex(predicate)
      for (const [dependent, dependency] of [["a", "c"], ["b", "a"]] as const) {
        const claimed = at((e) => e._tag === "TaskClaimed" && e.task === dependent)
        const completed = at((e) => e._tag === "TaskMoved" && e.task === dependency && e.to === "complete")
        assert.isTrue(completed >= 0 && completed < claimed, `${dependent} claimed before ${dependency} completed`)
      }
    }))

  it.effect("a failed dependency fails its dependents at once, with the reason, and the run counts them", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a"), task("b", ["a"]), task("c", ["b"], "blocked_by"), task("d")],
        script: ScriptedAgent.byCall({
          propose: oneFilePerTask(),
          review: (request) => ({ answer: request.task === "a" ? "Wrong approach.\nVERDICT: REJECTED" : "VERDICT: APPROVED" })
        })
      })
      const report = yield* runSwarm(world, makeSwarmConfig({ workers: [worker("w0")], max_task_attempts: 1 }))
      assert.deepStrictEqual(world.queue.list("failed").map((t) => t.id), ["a", "b", "c"])
      assert.strictEqual(world.queue.folders.failed.get("b")!.last_feedback, "dependency a failed")
      assert.strictEqual(world.queue.folders.failed.get("c")!.last_feedback, "dependency b failed (because a did)")
      assert.deepStrictEqual(world.queue.list("complete").map((t) => t.id), ["d"])
      const moved = world.events.ofTag("TaskMoved").filter((e) => e.from === "pending" && e.to === "failed")
      assert.deepStrictEqual(moved.map((e) => [e.task, e.reason, e.worker]), [["b", "dependency a failed", "w0"], ["c", "dependency b failed (because a did)", "w0"]])
      assert.strictEqual(report.failed, 3)
      assert.strictEqual(report.outcome, "failed")
      // Neither dependent ever ran: no agent was asked for them.
      assert.deepStrictEqual(world.agent.calls.filter((c) => c.request.task === "b" || c.request.task === "c"), [])
    }))

  it.effect("a cycle or an unknown dependency sends the task to invalid/ naming it; the other tasks run", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("x", ["y"]), task("y", ["x"]), task("z", ["nope"]), task("w")],
        script: oneFilePerTask()
      })
      const report = yield* runSwarm(world, makeSwarmConfig({ workers: [worker("w0")] }))
      assert.strictEqual(report.merged, 1)
      assert.deepStrictEqual(world.queue.list("complete").map((t) => t.id), ["w"])
      assert.deepStrictEqual(world.queue.list("pending"), [])
      assert.deepStrictEqual(world.queue.invalidEntries.map((e) => [e.name, e.reason]), [
        ["x.json", "x.json: its dependencies form a cycle: x -> y -> x"],
        ["y.json", "y.json: its dependencies form a cycle: y -> x -> y"],
        ["z.json", "z.json: depends on nope, but no task in pending/, current/, complete/ or failed/ has that id"]
      ])
      assert.include(world.queue.invalidEntries[0]!.content, `"depends_on"`)
      const moved = world.events.ofTag("TaskMoved").filter((e) => e.to === "invalid").map((e) => [e.task, e.from])
      assert.deepStrictEqual(moved, [["x", "pending"], ["y", "pending"], ["z", "pending"]])
    }))

  it.effect("an executor with nothing ready waits while the task it needs is held by another, then does it", () =>
    Effect.gen(function*() {
      // w0 does a (slowly) and stops; only w1 is left to do b, once a merged.
      const world = TestSwarm.makeWorld({ tasks: [task("a"), task("b", ["a"])], script: oneFilePerTask(60_000) })
      const report = yield* runSwarm(world, makeSwarmConfig({ workers: [worker("w0", { iterations: 1 }), worker("w1")] }))
      assert.deepStrictEqual(mergeOrder(world), ["a", "b"])
      assert.deepStrictEqual(report.workers.map((w) => [w.worker, w.iterations.map((i) => i.task)]), [["w0", ["a"]], ["w1", ["b"]]])
    }))

  it.effect("a planner's tasks may depend on each other and on queued tasks; a cycle among them is refused, uncreated", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("queued")],
        script: ScriptedAgent.byCall({
          plan: () => ({
            answer: "planned",
            newTasks: [
              { id: "p2", summary: "second", depends_on: ["p1", "queued"] },
              { id: "p1", summary: "first" },
              { id: "q1", summary: "loop", depends_on: ["q2"] },
              { id: "q2", summary: "loop", blocked_by: ["q1"] }
            ]
          }),
          propose: oneFilePerTask(),
          review: ScriptedAgent.approve
        })
      })
      const config = makeSwarmConfig({
        workers: [worker("w0")],
        planner: { agent: { harness: "claude" }, prompt: [], max_pending: 20 }
      })
      yield* runSwarm(world, config)
      assert.deepStrictEqual(mergeOrder(world).filter((t) => t !== "queued").slice(0, 2), ["p1", "p2"])
      const order = mergeOrder(world)
      assert.isBelow(order.indexOf("queued"), order.indexOf("p2"))
      assert.deepStrictEqual(world.queue.invalidEntries.map((e) => [e.name, e.reason]), [
        ["q1.json", "q1.json: its dependencies form a cycle: q1 -> q2 -> q1"],
        ["q2.json", "q2.json: its dependencies form a cycle: q2 -> q1 -> q2"]
      ])
      // Created dependencies first, the cycle never: a claim meanwhile could not see p2 before p1.
      const created = world.events.ofTag("TaskMoved").filter((e) => e.to === "pending" && e.worker === "planner").map((e) => e.task)
      assert.deepStrictEqual(created, ["p1", "p2"])
    }))
})
