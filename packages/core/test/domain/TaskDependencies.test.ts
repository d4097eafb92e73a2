/**
 * Goal: what task dependencies mean for the queue (issue 18), as the pure functions every queue
 * shares decide it: which pending tasks wait and for what, which can never run and why (a failed
 * dependency, one that names no task, a cycle — named), in what order a batch of new tasks is
 * created, and which pending tasks `ReadyTasks` hands a claim as folders change.
 * Method: small queues written out as folders; each judgement compared with the moves expected.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { ReadyTasks } from "../../src/domain/ReadyTasks.ts"
import { claimOrder, dependenciesOf, Task, type TaskStatus } from "../../src/domain/Task.ts"
import * as TaskDependencies from "../../src/domain/TaskDependencies.ts"
import * as TaskListing from "../../src/domain/TaskListing.ts"

/** Task `id` waiting for `dependencies`. */
const task = (id: string, dependencies: ReadonlyArray<string> = [], fields: Partial<Task> = {}): Task =>
  ({ id, summary: `do ${id}`, ...(dependencies.length === 0 ? {} : { depends_on: dependencies }), ...fields }) as Task

/** Judges `fresh` over a queue given folder by folder (every pending task fresh unless said). */
const judge = (folders: Partial<Record<TaskStatus, ReadonlyArray<Task>>>, fresh?: ReadonlyArray<string>, touched: ReadonlyArray<string> = []) => {
  const statusOf = new Map<string, TaskStatus>()
  for (const [status, tasks] of Object.entries(folders)) for (const t of tasks) statusOf.set(t.id, status as TaskStatus)
  const pending = new Map<string, Task>((folders.pending ?? []).map((t) => [t.id, t]))
  const dependents = new Map<string, Array<string>>()
  for (const t of pending.values()) for (const d of dependenciesOf(t)) dependents.set(d, [...(dependents.get(d) ?? []), t.id])
  return TaskDependencies.judge({ fresh: fresh ?? [...pending.keys()], touched }, {
    statusOf: (id) => statusOf.get(id),
    dependenciesOf: (id) => dependenciesOf(pending.get(id)!),
    dependentsOf: (id) => dependents.get(id) ?? []
  })
}

describe("Task: depends_on and blocked_by", () => {
  const decode = Schema.decodeUnknownSync(Task)

  it("a task may name its dependencies under either key, or both: their union counts, each id once", () => {
    assert.deepStrictEqual(dependenciesOf(decode({ id: "c", summary: "s", depends_on: ["a", "b", "a"] })), ["a", "b"])
    assert.deepStrictEqual(dependenciesOf(decode({ id: "c", summary: "s", blocked_by: ["b"] })), ["b"])
    assert.deepStrictEqual(dependenciesOf(decode({ id: "c", summary: "s", depends_on: ["a"], blocked_by: ["b", "a"] })), ["a", "b"])
    assert.deepStrictEqual(dependenciesOf(decode({ id: "c", summary: "s" })), [])
  })

  it("a dependency that is not a task id is refused, naming the field", () => {
    assert.throws(() => decode({ id: "c", summary: "s", depends_on: ["../etc"] }), /depends_on/)
    assert.throws(() => decode({ id: "c", summary: "s", blocked_by: "a" }), /blocked_by/)
  })
})

describe("TaskDependencies.judge", () => {
  it("a task whose dependencies are pending, held or complete waits: nothing to move", () => {
    assert.deepStrictEqual(judge({ pending: [task("c", ["a", "b", "d"]), task("d")], current: [task("a")], complete: [task("b")] }), [])
  })

  it("a failed dependency fails its dependents, and theirs in turn, saying which failure started it", () => {
    assert.deepStrictEqual(judge({ failed: [task("a")], pending: [task("b", ["a"]), task("c", ["b"])] }, ["b"]), [
      { id: "b", to: "failed", reason: "dependency a failed" },
      { id: "c", to: "failed", reason: "dependency b failed (because a did)" }
    ])
  })

  it("a dependency no folder has sends the task to invalid/, and the tasks waiting for it too", () => {
    assert.deepStrictEqual(judge({ pending: [task("b", ["nope"]), task("c", ["b"])] }, ["b"]), [
      { id: "b", to: "invalid", reason: "depends on nope, but no task in pending/, current/, complete/ or failed/ has that id" },
      { id: "c", to: "invalid", reason: "depends on b, which cannot run (b depends on nope, which is no task)" }
    ])
  })

  it("a cycle sends each of its tasks to invalid/, named from that task; a task leading into it follows", () => {
    const pending = [task("a", ["b"]), task("b", ["c"]), task("c", ["a"]), task("d", ["a"]), task("e")]
    assert.deepStrictEqual(judge({ pending }, ["d"]), [
      { id: "a", to: "invalid", reason: "its dependencies form a cycle: a -> b -> c -> a" },
      { id: "b", to: "invalid", reason: "its dependencies form a cycle: b -> c -> a -> b" },
      { id: "c", to: "invalid", reason: "its dependencies form a cycle: c -> a -> b -> c" },
      { id: "d", to: "invalid", reason: "depends on a, which cannot run (the cycle a -> b -> c -> a)" }
    ])
  })

  it("a task that depends on itself is a cycle of one", () => {
    assert.deepStrictEqual(judge({ pending: [task("a", ["a"])] }), [{ id: "a", to: "invalid", reason: "its dependencies form a cycle: a -> a" }])
  })

  it("an unknown dependency counts before a failed one; a touched task is not searched for cycles (no new edge)", () => {
    assert.deepStrictEqual(judge({ failed: [task("f")], pending: [task("a", ["f", "nope"])] }).map((s) => s.to), ["invalid"])
    assert.deepStrictEqual(judge({ pending: [task("a", ["b"]), task("b", ["a"])] }, [], ["a", "b"]), [])
  })

  it("a chain of 20,000 pending tasks is searched without overflowing the stack", () => {
    const pending = Array.from({ length: 20_000 }, (_, i) => task(`t${i}`, i === 0 ? [] : [`t${i - 1}`]))
    assert.deepStrictEqual(judge({ pending }, ["t19999"]), [])
    const closed = [task("t0", ["t19999"]), ...pending.slice(1)]
    const settled = judge({ pending: closed }, ["t0"])
    assert.strictEqual(settled.length, 20_000)
    assert.isTrue(settled.every((s) => s.to === "invalid"))
    // A long cycle is named by its first tasks and its length, not all 20,000 in each reason.
    assert.strictEqual(settled[0]!.reason, "its dependencies form a cycle: t0 -> t19999 -> t19998 -> t19997 -> t19996 -> t19995 -> t19994 -> t19993 -> … (20000 tasks) -> t0")
  })
})

describe("TaskDependencies.creationOrder", () => {
  it("a batch is created dependencies first, otherwise in its own order", () => {
    const { ordered, refused } = TaskDependencies.creationOrder([task("c", ["b"]), task("x"), task("b", ["a", "queued"]), task("a")])
    assert.deepStrictEqual(ordered.map((t) => t.id), ["x", "a", "b", "c"])
    assert.strictEqual(refused.size, 0)
  })

  it("a cycle inside the batch is refused with its reason, and what waits for it; the rest is created", () => {
    const { ordered, refused } = TaskDependencies.creationOrder([task("a", ["b"]), task("b", ["a"]), task("c", ["a"]), task("d")])
    assert.deepStrictEqual(ordered.map((t) => t.id), ["d"])
    assert.deepStrictEqual(Object.fromEntries(refused), {
      a: "its dependencies form a cycle: a -> b -> a",
      b: "its dependencies form a cycle: b -> a -> b",
      c: "depends on a, which cannot run (the cycle a -> b -> a)"
    })
  })

  it("an id given twice keeps both tasks (the queue refuses the second as taken)", () => {
    const { ordered } = TaskDependencies.creationOrder([task("a", ["b"]), task("a"), task("b")])
    assert.deepStrictEqual(ordered.map((t): [string, ReadonlyArray<string>] => [t.id, dependenciesOf(t)]), [["a", []], ["b", []], ["a", ["b"]]])
  })
})

describe("TaskListing.blockedTasks", () => {
  it("lists each pending task that waits, with where each of its dependencies is", () => {
    const blocked = TaskListing.blockedTasks({
      pending: [task("p"), task("w", ["p", "h", "done", "f", "gone"])],
      current: [task("h")],
      complete: [task("done")],
      failed: [task("f")]
    })
    assert.deepStrictEqual(blocked, [{
      id: "w",
      waiting_for: [{ id: "p", status: "pending" }, { id: "h", status: "current" }, { id: "f", status: "failed" }, { id: "gone", status: "unknown" }]
    }])
  })
})

describe("ReadyTasks", () => {
  const tracker = (complete: Set<string>) =>
    new ReadyTasks<Task>({ keyOf: (t) => t.id, taskOf: (t) => t, order: claimOrder, isComplete: (id) => complete.has(id) })

  it("holds the ready tasks apart in claim order: one becomes ready when its last dependency completes, blocked again if it leaves", () => {
    const complete = new Set<string>()
    const ready = tracker(complete)
    ready.putAll([task("a", ["z"]), task("b"), task("c", ["b", "z"])])
    assert.deepStrictEqual(ready.ready.map((t) => t.id), ["b"])
    assert.deepStrictEqual(ready.unmetOf("c"), ["b", "z"])
    complete.add("z")
    ready.changed("z")
    assert.deepStrictEqual(ready.ready.map((t) => t.id), ["a", "b"])
    ready.remove("b")
    complete.add("b")
    ready.changed("b")
    assert.deepStrictEqual(ready.ready.map((t) => t.id), ["a", "c"])
    complete.delete("z")
    ready.changed("z")
    assert.deepStrictEqual(ready.ready.map((t) => t.id), [])
  })

  it("a claim's first ready task is found without looking at the blocked ones: 10,000 blocked ahead of it leave it first", () => {
    const ready = tracker(new Set())
    ready.putAll([...Array.from({ length: 10_000 }, (_, i) => task(`b${i}`, ["held"], { priority: 0 })), task("z")])
    assert.deepStrictEqual(ready.live.map((t) => t.id), ["z"])
  })

  it("names the tasks to judge once: the new ones with dependencies, and those whose dependency moved", () => {
    const ready = tracker(new Set())
    ready.put(task("a", ["x"]))
    ready.put(task("b"))
    assert.deepStrictEqual(ready.takeSuspects(), { fresh: ["a"], touched: [] })
    assert.isFalse(ready.hasSuspects)
    ready.changed("x")
    assert.deepStrictEqual(ready.takeSuspects(), { fresh: [], touched: ["a"] })
  })
})
