/**
 * Goal: task dependencies in the folder queue (issue 18), where people write task files by hand: a
 * claim takes only a task whose dependencies are in `complete/` — whoever put them there — and a
 * dependency the index could not see (a file rewritten in place) is checked on disk; the tasks that
 * can never run are moved on, to `failed/` with the reason or to `invalid/` as a record keeping the
 * file's own text (JSON or 0.1.0's EDN), by a queue that was not running when they were written.
 * (That the folder queue answers every operation as the in-memory queue does, dependencies
 * included, is `FsTaskQueueModel.test.ts`.)
 * Method: a queue in a fresh temp folder per test; files written by hand between operations (20 ms
 * after the queue's last one, as in `FsTaskQueueIndex.test.ts`); assertions on answers and files.
 */
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Ids, type TaskQueue } from "@oompa/core"
import { Effect, Option } from "effect"
import * as FsTaskQueue from "../src/FsTaskQueue.ts"
import { task, withQueue } from "./fixtures/queue.ts"

/** Task ids, as a task's `depends_on` and `blocked_by` hold them. */
const ids = (...names: ReadonlyArray<string>) => names.map((name) => Ids.TaskId.make(name))

/** A queue over a folder that already holds files (the test removes it). */
const withQueueAt = <A, E>(dir: string, body: (queue: TaskQueue.TaskQueue["Service"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(FsTaskQueue.make(dir), body).pipe(Effect.provide(NodeServices.layer))

const at = (dir: string, folder: string, name: string): string => NodePath.join(dir, folder, name)
const ls = (dir: string, folder: string): Array<string> => NodeFs.readdirSync(NodePath.join(dir, folder)).sort()
const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`
const read = (dir: string, folder: string, name: string) => JSON.parse(NodeFs.readFileSync(at(dir, folder, name), "utf8")) as Record<string, unknown>

/** Out of the timestamp tick of the queue's last change. */
const tick = Effect.sleep("20 millis")

const claimedId = <E, R>(claim: Effect.Effect<Option.Option<{ readonly id: string }>, E, R>) =>
  Effect.map(claim, Option.match({ onNone: () => "none", onSome: (t) => t.id }))

describe("FsTaskQueue: task dependencies", () => {
  it.live("a claim takes only a ready task: its dependency completed by the queue, or put in complete/ by hand", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.create(task("a", { depends_on: ids("b") }))
        yield* queue.create(task("b"))
        yield* queue.create(task("c", { priority: 200 }))
        yield* queue.create(task("d", { blocked_by: ids("x") }))
        assert.deepStrictEqual((yield* queue.ready).map((t) => t.id), ["b", "c"])
        const untouched = NodeFs.statSync(at(dir, "pending", "a.json")).ctimeMs
        yield* tick
        assert.strictEqual(yield* claimedId(queue.claim), "b")
        // a waits for b, which is held: c is next, then nothing.
        assert.strictEqual(yield* claimedId(queue.claim), "c")
        assert.strictEqual(yield* claimedId(queue.claim), "none")
        // The claims never took a waiting task to look at it (not even to give it back).
        assert.strictEqual(NodeFs.statSync(at(dir, "pending", "a.json")).ctimeMs, untouched)
        yield* queue.complete("b", "abc1234")
        assert.strictEqual(yield* claimedId(queue.claim), "a")
        yield* tick
        NodeFs.writeFileSync(at(dir, "complete", "x.json"), json(task("x", { merged_sha: "def5678" })))
        assert.strictEqual(yield* claimedId(queue.claim), "d")
        assert.deepStrictEqual(ls(dir, "pending"), [])
      })))

  it.live("a dependency written in place, which the folder's stat does not show, is checked on disk when claimed: the task goes back", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        for (const id of ["a", "b"]) yield* queue.create(task(id))
        assert.deepStrictEqual((yield* queue.ready).map((t) => t.id), ["a", "b"])
        NodeFs.writeFileSync(at(dir, "pending", "a.json"), json(task("a", { depends_on: ids("b") })))
        // The index still takes a for ready; the file held says it waits for b.
        assert.strictEqual(yield* claimedId(queue.claim), "b")
        assert.deepStrictEqual([ls(dir, "pending"), ls(dir, "current")], [["a.json"], ["b.json"]])
        assert.deepStrictEqual(read(dir, "pending", "a.json")["depends_on"], ["b"])
        assert.strictEqual(yield* claimedId(queue.claim), "none")
        yield* queue.complete("b", "abc1234")
        assert.strictEqual(yield* claimedId(queue.claim), "a")
      })))

  it.live("a queue started on hand-written files moves on the tasks that can never run: failed/ with the reason, invalid/ with the file's own text", () =>
    Effect.gen(function*() {
      const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "oompa-fsq-deps-"))
      try {
        for (const folder of ["pending", "current", "complete", "failed", "invalid"]) NodeFs.mkdirSync(NodePath.join(dir, folder))
        const edn = `{:id "z" :summary "do z" :depends_on ["nope"]}\n`
        const files: Record<string, string> = {
          "pending/x.json": json(task("x", { depends_on: ids("y") })),
          "pending/y.json": json(task("y", { blocked_by: ids("x") })),
          "pending/z.edn": edn,
          "pending/g.json": json(task("g", { depends_on: ids("f", "ok") })),
          "pending/ok.json": json(task("ok")),
          "failed/f.json": json(task("f", { attempts: 3 }))
        }
        for (const [file, text] of Object.entries(files)) NodeFs.writeFileSync(NodePath.join(dir, file), text)
        yield* withQueueAt(dir, (queue) =>
          Effect.gen(function*() {
            const moved = yield* queue.settleBlocked
            assert.deepStrictEqual(moved, [
              { id: "g", to: "failed", reason: "dependency f failed" },
              { id: "x", to: "invalid", reason: "its dependencies form a cycle: x -> y -> x" },
              { id: "y", to: "invalid", reason: "its dependencies form a cycle: y -> x -> y" },
              { id: "z", to: "invalid", reason: "depends on nope, but no task in pending/, current/, complete/ or failed/ has that id" }
            ])
            // Judged once: nothing changed since, nothing to move.
            assert.deepStrictEqual(yield* queue.settleBlocked, [])
            assert.deepStrictEqual((yield* queue.list("pending")).map((t) => t.id), ["ok"])
          }))
        assert.deepStrictEqual([ls(dir, "pending"), ls(dir, "current"), ls(dir, "failed")], [["ok.json"], [], ["f.json", "g.json"]])
        assert.strictEqual(read(dir, "failed", "g.json")["last_feedback"], "dependency f failed")
        const records = yield* FsTaskQueue.readInvalid(dir).pipe(Effect.provide(NodeServices.layer))
        assert.deepStrictEqual(records.map((r) => [r.name, r.from, r.invalid_reason]), [
          ["x.json", "pending", "x.json: its dependencies form a cycle: x -> y -> x"],
          ["y.json", "pending", "y.json: its dependencies form a cycle: y -> x -> y"],
          ["z.edn", "pending", "z.edn: depends on nope, but no task in pending/, current/, complete/ or failed/ has that id"]
        ])
        assert.deepStrictEqual(records.map((r) => r.content), [files["pending/x.json"], files["pending/y.json"], edn])
      } finally {
        NodeFs.rmSync(dir, { recursive: true, force: true })
      }
    }))
})
