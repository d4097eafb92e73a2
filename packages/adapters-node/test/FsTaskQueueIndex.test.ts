/**
 * Goal: the queue's index of its folders (issue 17: a claim reads what changed, not every pending
 * file) changes what a claim costs, never what it answers: claims stay in claim order whatever
 * people and other queues do to the folders between them, a task is never lost or claimed twice
 * through a stale index, the claimed task is what its file holds when claimed, and what the
 * folder's stat cannot show (a file rewritten in place) is seen at the next full listing.
 * Method: a queue in a fresh temp folder per test; files written, replaced, removed and rewritten by
 * hand between operations, and a second queue on the same folder; assertions on the answers and the
 * files. Hand changes wait 20 ms after the queue's last operation: on a kernel with coarse
 * timestamps (Linux before 6.13 ticks every 1–10 ms) a change in the same tick as the queue's own
 * does not change the folder's stat, and is only seen at the next full listing (by design).
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as FsTaskQueue from "../src/FsTaskQueue.ts"
import { listingUsesMax } from "../src/internal/fsQueueIndex.ts"
import { task, withQueue } from "./fixtures/queue.ts"

const at = (dir: string, folder: string, name: string): string => NodePath.join(dir, folder, name)
const ls = (dir: string, folder: string): Array<string> => NodeFs.readdirSync(NodePath.join(dir, folder)).sort()
const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`

/** Out of the timestamp tick of the queue's last change (see the header). */
const tick = Effect.sleep("20 millis")

const claimedId = <E, R>(claim: Effect.Effect<Option.Option<{ readonly id: string }>, E, R>) =>
  Effect.map(claim, Option.match({ onNone: () => "none", onSome: (t) => t.id }))

describe("FsTaskQueue: the index of its folders", () => {
  it.live("files added, replaced and removed by hand between claims are seen at the next claim", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        for (const [id, priority] of [["a", 10], ["b", 20], ["c", 30], ["d", 40]] as const) yield* queue.create(task(id, { priority }))
        assert.strictEqual(yield* claimedId(queue.claim), "a")
        yield* tick
        // Added: runs first.
        NodeFs.writeFileSync(at(dir, "pending", "urgent.json"), json(task("urgent", { priority: 1 })))
        assert.strictEqual(yield* claimedId(queue.claim), "urgent")
        yield* tick
        // Replaced by rename (an editor's atomic save): d now comes before b.
        NodeFs.writeFileSync(at(dir, ".tmp", "d.json"), json(task("d", { priority: 5 })))
        NodeFs.renameSync(at(dir, ".tmp", "d.json"), at(dir, "pending", "d.json"))
        assert.strictEqual(yield* claimedId(queue.claim), "d")
        yield* tick
        // Removed: never claimed, no error.
        NodeFs.rmSync(at(dir, "pending", "b.json"))
        assert.strictEqual(yield* claimedId(queue.claim), "c")
        assert.strictEqual(yield* claimedId(queue.claim), "none")
        assert.deepStrictEqual(ls(dir, "current"), ["a.json", "c.json", "d.json", "urgent.json"])
      })))

  it.live("two queues on one folder, each changing it under the other's index: claims in claim order, each task once", () =>
    withQueue((one, dir) =>
      Effect.gen(function*() {
        const other = yield* FsTaskQueue.make(dir)
        const ids = Array.from({ length: 12 }, (_, i) => `t${String(i).padStart(2, "0")}`)
        for (const [i, id] of ids.entries()) yield* one.create(task(id, { priority: (i * 5) % 3 }))
        const expected = ids.map((id, i) => ({ id, priority: (i * 5) % 3 })).sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : 1))
        const claims: Array<string> = []
        for (let i = 0; i < ids.length / 2; i++) {
          claims.push(yield* claimedId(one.claim))
          yield* tick
          claims.push(yield* claimedId(other.claim))
          yield* tick
        }
        assert.deepStrictEqual(claims, expected.map((t) => t.id))
        // A task the other queue creates is claimed by this one, in its place.
        yield* other.create(task("late", { priority: -1 }))
        yield* other.create(task("later", { priority: 7 }))
        yield* tick
        assert.strictEqual(yield* claimedId(one.claim), "late")
        assert.deepStrictEqual((yield* other.list("pending")).map((t) => t.id), ["later"])
        assert.strictEqual(yield* claimedId(one.claim), "later")
        assert.strictEqual(yield* claimedId(other.claim), "none")
      })))

  it.live("the claimed task is what its file holds when claimed: rewritten in place, or broken (then the next is claimed)", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        for (const id of ["a", "b", "c"]) yield* queue.create(task(id))
        assert.deepStrictEqual((yield* queue.list("pending")).map((t) => t.id), ["a", "b", "c"])
        // In place: the same inode, so the folder's stat does not change.
        NodeFs.writeFileSync(at(dir, "pending", "a.json"), json(task("a", { summary: "rewritten" })))
        NodeFs.writeFileSync(at(dir, "pending", "b.json"), "{\"id\": \"b\", \"summ")
        assert.deepStrictEqual(yield* queue.claim, Option.some(task("a", { summary: "rewritten" })))
        assert.strictEqual(yield* claimedId(queue.claim), "c")
        const [record] = yield* FsTaskQueue.readInvalid(dir)
        assert.deepStrictEqual([record?.name, record?.from, record?.content], ["b.json", "pending", "{\"id\": \"b\", \"summ"])
        assert.match(record?.invalid_reason ?? "", /^b\.json: not valid JSON/)
        assert.deepStrictEqual([ls(dir, "pending"), ls(dir, "current")], [[], ["a.json", "c.json"]])
      })))

  it.live(`a file rewritten in place is not read by claims that do not take it, and is seen at a full listing (every ${listingUsesMax} uses at the latest)`, () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        for (const id of ["a", "b", "c", "z"]) yield* queue.create(task(id))
        yield* queue.list("pending")
        NodeFs.writeFileSync(at(dir, "pending", "z.json"), "not a task any more")
        NodeFs.writeFileSync(at(dir, "pending", "c.json"), json(task("c", { priority: 1 })))
        // Not read: the broken file stays where it is, and c's new priority is not known yet.
        assert.strictEqual(yield* claimedId(queue.claim), "a")
        assert.deepStrictEqual(ls(dir, "pending"), ["b.json", "c.json", "z.json"])
        for (let use = 0; use < listingUsesMax; use++) yield* queue.list("pending")
        assert.deepStrictEqual(ls(dir, "pending"), ["b.json", "c.json"])
        assert.strictEqual((yield* FsTaskQueue.readInvalid(dir))[0]?.content, "not a task any more")
        assert.strictEqual(yield* claimedId(queue.claim), "c")
      })))

  it.live("list answers the same array while a folder does not change, and a new one when it does", () =>
    withQueue((queue) =>
      Effect.gen(function*() {
        for (const id of ["a", "b"]) yield* queue.create(task(id))
        const first = yield* queue.list("pending")
        assert.strictEqual(yield* queue.list("pending"), first)
        assert.strictEqual(yield* claimedId(queue.claim), "a")
        const second = yield* queue.list("pending")
        assert.notStrictEqual(second, first)
        assert.deepStrictEqual([first.map((t) => t.id), second.map((t) => t.id)], [["a", "b"], ["b"]])
        assert.deepStrictEqual((yield* queue.list("current")).map((t) => t.id), ["a"])
        yield* queue.complete("a", "abc1234")
        assert.deepStrictEqual([(yield* queue.list("current")).length, (yield* queue.list("complete")).map((t) => t.merged_sha)], [0, ["abc1234"]])
      })))

  it.live("an id that is not one touches no path through the index either", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        NodeFs.writeFileSync(NodePath.join(dir, "escape.json"), "not the queue's")
        for (const id of ["../escape", "a/../../escape"]) {
          yield* Effect.exit(queue.release(id, { feedback: "", countAttempt: false, maxAttempts: 1 }))
          yield* Effect.exit(queue.complete(id, "abc1234"))
        }
        for (const status of FsTaskQueue.statuses) yield* queue.list(status)
        assert.strictEqual(NodeFs.readFileSync(NodePath.join(dir, "escape.json"), "utf8"), "not the queue's")
        assert.deepStrictEqual(ls(dir, "invalid"), [])
      })))

  it.live("a second pending file of a task that completes is refused at the next use, as a full listing would", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.create(task("t1"))
        yield* queue.create(task("t2"))
        assert.strictEqual(yield* claimedId(queue.claim), "t1")
        yield* tick
        NodeFs.writeFileSync(at(dir, "pending", "t1.json"), json(task("t1", { summary: "a copy made by hand" })))
        assert.deepStrictEqual((yield* queue.list("pending")).map((t) => t.id), ["t1", "t2"])
        yield* queue.complete("t1", "abc1234")
        assert.deepStrictEqual((yield* queue.list("pending")).map((t) => t.id), ["t2"])
        assert.match((yield* FsTaskQueue.readInvalid(dir))[0]?.invalid_reason ?? "", /already used by complete\/t1\.json/)
      })))
})
