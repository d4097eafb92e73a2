/**
 * Goal: the filesystem queue is observably the same queue as `MemoryTaskQueue`, the model the core
 * is tested against: same answers to every operation, same tasks with the same fields in every
 * folder, same records of invalid files.
 * Method: model-based testing with `fc.commands`: random sequences of create (tasks depending on
 * each other, on themselves, on ids no task has, by `depends_on` and `blocked_by`), claim, ready,
 * settleBlocked, complete, release (counted or not, with or without feedback, reaching
 * `maxAttempts` or not), invalid and list run on both queues, each on a fresh temp folder; after
 * every command each answer and the whole state (all five folders, the invalid records) are
 * compared. A failure prints the seed and the shrunk command sequence.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Task, TaskQueue } from "@oompa/core"
import { MemoryTaskQueue } from "@oompa/core/testing"
import { Effect, type FileSystem, type Path } from "effect"
import * as fc from "fast-check"
import * as FsTaskQueue from "../src/FsTaskQueue.ts"

type Queue = TaskQueue.TaskQueue["Service"]
type Status = Task.TaskStatus

interface Model {
  readonly state: MemoryTaskQueue.MemoryTaskQueueState
  readonly queue: Queue
}
interface Real {
  readonly dir: string
  readonly queue: Queue
}

const run = <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem | Path.Path>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))

/** Both queues answer, and must answer the same; then their whole states must agree. */
const both = async <A>(m: Model, r: Real, op: (queue: Queue) => Effect.Effect<A, unknown>): Promise<A> => {
  const expected = await run(op(m.queue))
  const actual = await run(op(r.queue))
  assert.deepStrictEqual(actual, expected)
  await sameState(m, r)
  return actual
}

const statuses: ReadonlyArray<Status> = ["pending", "current", "complete", "failed", "invalid"]

const sameState = async (m: Model, r: Real): Promise<void> => {
  for (const status of statuses) {
    const actual = await run(r.queue.list(status))
    assert.deepStrictEqual(actual, m.state.list(status), `folder ${status}/`)
    // The folder holds exactly one <id>.json per task and nothing else (invalid/ holds records).
    if (status !== "invalid") {
      assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(r.dir, status)).sort(), actual.map((t) => `${t.id}.json`).sort())
    }
  }
  const key = (e: { readonly name: string; readonly content: string; readonly reason: string }) => JSON.stringify([e.name, e.content, e.reason])
  const invalid = (await run(FsTaskQueue.readInvalid(r.dir))).map((e) => key({ ...e, reason: e.invalid_reason })).sort()
  assert.deepStrictEqual(invalid, m.state.invalidEntries.map(key).sort(), "invalid/ records")
  assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(r.dir, ".tmp")), [], "no temp file outlives an operation")
}

/** The id of the `pick`-th held task (the model decides which tasks are held). */
const heldId = (m: Model, pick: number): string => {
  const held = [...m.state.folders.current.keys()].sort()
  return held[pick % held.length] ?? ""
}

const text = (maxLength: number) => fc.string({ unit: "grapheme", maxLength })

const taskArb: fc.Arbitrary<Task.Task> = fc.record({
  id: fc.constantFrom("a", "b", "c", "d", "e", "f"),
  summary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
  description: text(20),
  files: fc.array(text(8), { maxLength: 3 }),
  acceptance: fc.oneof(text(10), fc.array(text(10), { maxLength: 2 })),
  priority: fc.integer({ min: -3, max: 150 }),
  // Ids of other tasks, of the task itself, or of none ("x").
  depends_on: fc.array(fc.constantFrom("a", "b", "c", "d", "e", "f", "x"), { maxLength: 2 }),
  blocked_by: fc.array(fc.constantFrom("a", "b", "c", "d", "e", "f", "x"), { maxLength: 1 }),
  created_by: fc.constantFrom("w0", "planner")
}, { requiredKeys: ["id", "summary"] }) as unknown as fc.Arbitrary<Task.Task>

type Cmd = fc.AsyncCommand<Model, Real>

const command = (name: string, check: (m: Readonly<Model>) => boolean, body: (m: Model, r: Real) => Promise<unknown>): Cmd => ({
  check,
  run: async (m, r) => void await body(m, r),
  toString: () => name
})

const commands: Array<fc.Arbitrary<Cmd>> = [
  taskArb.map((task) => command(`create(${JSON.stringify(task)})`, () => true, (m, r) => both(m, r, (q) => q.create(task)))),
  fc.constant(command("claim", () => true, (m, r) => both(m, r, (q) => q.claim))),
  fc.constant(command("ready", () => true, (m, r) => both(m, r, (q) => q.ready))),
  fc.constant(command("settleBlocked", () => true, (m, r) => both(m, r, (q) => q.settleBlocked))),
  fc.tuple(fc.nat(), fc.stringMatching(/^[0-9a-f]{7,12}$/)).map(([pick, sha]) =>
    command(`complete(#${pick}, ${sha})`, (m) => m.state.folders.current.size > 0, (m, r) => {
      const id = heldId(m, pick)
      return both(m, r, (q) => q.complete(id, sha))
    })),
  fc.record({ pick: fc.nat(), feedback: fc.oneof(fc.constant(""), text(15)), countAttempt: fc.boolean(), maxAttempts: fc.integer({ min: 1, max: 3 }) }).map(
    ({ pick, ...options }) =>
      command(`release(#${pick}, ${JSON.stringify(options)})`, (m) => m.state.folders.current.size > 0, (m, r) => {
        const id = heldId(m, pick)
        return both(m, r, (q) => q.release(id, options))
      })
  ),
  fc.tuple(fc.constantFrom("x.json", "a.json", "../evil.json", "bad name.json", "notes.txt"), text(20), text(20)).map(([name, content, reason]) =>
    command(`invalid(${JSON.stringify(name)})`, () => true, (m, r) => both(m, r, (q) => q.invalid(name, content, reason)))
  ),
  fc.constantFrom(...statuses).map((status) => command(`list(${status})`, () => true, (m, r) => both(m, r, (q) => q.list(status))))
]

const numRuns = process.env["OOMPA_LONG"] === undefined ? 60 : 600

describe("FsTaskQueue against MemoryTaskQueue", () => {
  it.live("random command sequences give identical answers and identical folders", () =>
    Effect.promise(async () => {
      const root = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "oompa-fsq-model-"))
      let runs = 0
      try {
        await fc.assert(
          fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
            const dir = NodePath.join(root, String(runs++))
            const state = MemoryTaskQueue.MemoryTaskQueueState.make()
            const real = await run(FsTaskQueue.make(dir))
            await fc.asyncModelRun(() => Promise.resolve({ model: { state, queue: MemoryTaskQueue.make(state) }, real: { dir, queue: real } }), cmds)
          }),
          { numRuns }
        )
      } finally {
        NodeFs.rmSync(root, { recursive: true, force: true })
      }
      assert.isAtLeast(runs, numRuns)
    }), 120_000)
})
