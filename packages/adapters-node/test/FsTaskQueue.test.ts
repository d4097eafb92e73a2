/**
 * Goal: the filesystem queue keeps SPEC F2's folder semantics on real files: claim order, attempts
 * and feedback recorded in the task file, merge sha on completion, ids refused before they touch a
 * path, broken files moved to `invalid/` with their reason and text, 0.1.0's `.edn` files read and
 * rewritten as `.json`, and nothing but task files in the five folders.
 * Method: examples through the `TaskQueue` service on a fresh temp folder per test, asserting on
 * the service's answers and on the files themselves.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { TaskQueue } from "@oompa/core"
import { Effect, Exit, FileSystem, Option, type Path } from "effect"
import * as FsTaskQueue from "../src/FsTaskQueue.ts"
import { task, withQueue } from "./fixtures/queue.ts"


const ls = (dir: string, folder: string): Array<string> => NodeFs.readdirSync(NodePath.join(dir, folder)).sort()
const readJson = (dir: string, folder: string, name: string): Record<string, unknown> =>
  JSON.parse(NodeFs.readFileSync(NodePath.join(dir, folder, name), "utf8")) as Record<string, unknown>
const write = (dir: string, folder: string, name: string, content: string): void =>
  NodeFs.writeFileSync(NodePath.join(dir, folder, name), content)

describe("FsTaskQueue", () => {
  it.live("create writes pending/<id>.json and refuses an id used in any folder", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        assert.isTrue(yield* queue.create(task("t1", { files: ["a.ts"], acceptance: ["works"] })))
        assert.deepStrictEqual(ls(dir, "pending"), ["t1.json"])
        assert.deepStrictEqual(readJson(dir, "pending", "t1.json"), { id: "t1", summary: "do t1", files: ["a.ts"], acceptance: ["works"] })
        assert.isFalse(yield* queue.create(task("t1", { summary: "again" })))
        yield* queue.claim
        assert.isFalse(yield* queue.create(task("t1")), "held in current/")
        yield* queue.complete("t1", "abc1234")
        assert.isFalse(yield* queue.create(task("t1")), "done in complete/")
        assert.deepStrictEqual(ls(dir, "pending"), [])
      })))

  it.live("claims in claim order (priority, then id) and returns None when nothing is pending", () =>
    withQueue((queue) =>
      Effect.gen(function*() {
        yield* queue.create(task("b"))
        yield* queue.create(task("a"))
        yield* queue.create(task("z", { priority: 1 }))
        yield* queue.create(task("c", { priority: 200 }))
        assert.deepStrictEqual((yield* queue.list("pending")).map((t) => t.id), ["z", "a", "b", "c"])
        const order: Array<string> = []
        for (let i = 0; i < 4; i++) order.push(Option.getOrThrow(yield* queue.claim).id)
        assert.deepStrictEqual(order, ["z", "a", "b", "c"])
        assert.isTrue(Option.isNone(yield* queue.claim))
        assert.deepStrictEqual((yield* queue.list("current")).map((t) => t.id), ["z", "a", "b", "c"])
      })))

  it.live("complete records the merge sha in the task file", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.create(task("t1"))
        yield* queue.claim
        yield* queue.complete("t1", "deadbeef")
        assert.deepStrictEqual(ls(dir, "current"), [])
        assert.deepStrictEqual(readJson(dir, "complete", "t1.json"), { id: "t1", summary: "do t1", merged_sha: "deadbeef" })
        assert.deepStrictEqual(yield* queue.list("complete"), [{ ...task("t1"), merged_sha: "deadbeef" }])
      })))

  it.live("release counts attempts in the file and sends the task to failed/ at max_task_attempts", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.create(task("t1"))
        yield* queue.claim
        assert.strictEqual(yield* queue.release("t1", { feedback: "tests fail", countAttempt: true, maxAttempts: 2 }), "pending")
        assert.deepStrictEqual(readJson(dir, "pending", "t1.json"), { id: "t1", summary: "do t1", attempts: 1, last_feedback: "tests fail" })
        yield* queue.claim
        // Not counted (e.g. an interrupted run): attempts unchanged, empty feedback keeps the last one.
        assert.strictEqual(yield* queue.release("t1", { feedback: "", countAttempt: false, maxAttempts: 2 }), "pending")
        assert.deepStrictEqual(readJson(dir, "pending", "t1.json"), { id: "t1", summary: "do t1", attempts: 1, last_feedback: "tests fail" })
        yield* queue.claim
        assert.strictEqual(yield* queue.release("t1", { feedback: "still failing", countAttempt: true, maxAttempts: 2 }), "failed")
        assert.deepStrictEqual(ls(dir, "pending"), [])
        assert.deepStrictEqual(readJson(dir, "failed", "t1.json"), { id: "t1", summary: "do t1", attempts: 2, last_feedback: "still failing" })
      })))

  it.live("complete and release of a task not in current/ fail with TaskQueueError", () =>
    withQueue((queue) =>
      Effect.gen(function*() {
        yield* queue.create(task("t1"))
        const complete = yield* Effect.exit(queue.complete("t1", "abcd"))
        const release = yield* Effect.exit(queue.release("nope", { feedback: "", countAttempt: true, maxAttempts: 3 }))
        for (const exit of [complete, release] as ReadonlyArray<Exit.Exit<unknown, unknown>>) {
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) assert.match(String(exit.cause), /TaskQueueError.*not in current/s)
        }
      })))

  it.live("ids are validated before they touch a path", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        for (const id of ["../escape", "a/b", "..", "x\u0007y", ""]) {
          const exit = yield* Effect.exit(queue.create(task(id)))
          assert.isTrue(Exit.isFailure(exit), `create(${JSON.stringify(id)}) must fail`)
          const released = yield* Effect.exit(queue.release(id, { feedback: "", countAttempt: false, maxAttempts: 1 }))
          assert.isTrue(Exit.isFailure(released))
        }
        assert.deepStrictEqual(NodeFs.readdirSync(dir).sort(), [".tmp", "complete", "current", "failed", "invalid", "pending"])
        assert.deepStrictEqual(ls(dir, "pending"), [])
      })))

  it.live("invalid(...) keeps the file's name, text and reason in one invalid/ file, whatever the name", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.invalid("bad.json", "{oops", "bad.json: not valid JSON")
        yield* queue.invalid("bad.json", "{again", "second one")
        yield* queue.invalid("../../etc/passwd", "x", "hostile name")
        assert.deepStrictEqual(ls(dir, "invalid"), ["bad-1.json", "bad.json", "passwd.json"])
        const entries = yield* FsTaskQueue.readInvalid(dir)
        assert.deepStrictEqual(entries.map((e) => [e.file, e.name, e.content, e.invalid_reason]), [
          ["bad-1.json", "bad.json", "{again", "second one"],
          ["bad.json", "bad.json", "{oops", "bad.json: not valid JSON"],
          ["passwd.json", "../../etc/passwd", "x", "hostile name"]
        ])
        // Records of broken files are not tasks, and do not reserve ids.
        assert.deepStrictEqual(yield* queue.list("invalid"), [])
        assert.isTrue(yield* queue.create(task("bad")))
      })))

  it.live("files that are not tasks are moved from pending/ to invalid/ with the reason, never dropped", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.create(task("good"))
        const broken: Record<string, string> = {
          "torn.json": `{"id": "torn", "summ`,
          "empty.json": `{"id": "empty", "summary": ""}`,
          "other.json": `{"id": "mismatch", "summary": "x"}`,
          "list.json": `[1, 2]`,
          "notes.txt": "remember the milk",
          "bad-edn.edn": `{:id "bad-edn" :summary "x"`
        }
        for (const [name, content] of Object.entries(broken)) write(dir, "pending", name, content)
        write(dir, "pending", ".hidden", "editors leave these; they are not tasks")
        const claimed = yield* queue.claim
        assert.deepStrictEqual(Option.map(claimed, (t) => t.id), Option.some("good"))
        assert.deepStrictEqual(ls(dir, "pending"), [".hidden"])
        const entries = yield* FsTaskQueue.readInvalid(dir)
        assert.deepStrictEqual(entries.map((e) => e.name).sort(), Object.keys(broken).sort())
        for (const entry of entries) {
          assert.strictEqual(entry.content, broken[entry.name], "the original text is kept byte for byte")
          assert.strictEqual(entry.from, "pending")
          assert.isTrue(entry.invalid_reason.startsWith(`${entry.name}: `), entry.invalid_reason)
        }
        const reasons = Object.fromEntries(entries.map((e) => [e.name, e.invalid_reason]))
        assert.match(reasons["torn.json"] ?? "", /not valid JSON/)
        assert.match(reasons["empty.json"] ?? "", /summary: Expected a value with a length of at least 1/)
        assert.match(reasons["other.json"] ?? "", /is not its file name/)
        assert.match(reasons["notes.txt"] ?? "", /must end in \.json/)
        assert.match(reasons["bad-edn.edn"] ?? "", /never closed/)
      })))

  it.live("an .edn task of 0.1.0 is listed, claimed, and rewritten as .json", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        write(dir, "pending", "t1.edn", `;; from 0.1.0\n{:id "t1" :summary "Port the CLI" :files ["src/cli.clj"] :priority 3 :last-feedback nil :acceptance ["runs"]}\n`)
        yield* queue.create(task("t2"))
        const expected = task("t1", { summary: "Port the CLI", files: ["src/cli.clj"], priority: 3, acceptance: ["runs"] })
        assert.deepStrictEqual(yield* queue.list("pending"), [expected, task("t2")])
        assert.deepStrictEqual(yield* queue.claim, Option.some(expected))
        assert.deepStrictEqual(ls(dir, "current"), ["t1.json"])
        assert.deepStrictEqual(readJson(dir, "current", "t1.json"), { ...expected })
        yield* queue.release("t1", { feedback: "again", countAttempt: true, maxAttempts: 3 })
        assert.deepStrictEqual(ls(dir, "pending"), ["t1.json", "t2.json"])
      })))

  it.live("an .edn file next to a .json of the same id goes to invalid/ (one file per task)", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.create(task("t1"))
        write(dir, "pending", "t1.edn", `{:id "t1" :summary "older copy"}`)
        assert.deepStrictEqual((yield* queue.list("pending")).map((t) => t.id), ["t1"])
        assert.deepStrictEqual(ls(dir, "pending"), ["t1.json"])
        const [entry] = yield* FsTaskQueue.readInvalid(dir)
        assert.strictEqual(entry?.name, "t1.edn")
        assert.match(entry?.invalid_reason ?? "", /t1\.json is the same task/)
      })))

  it.live("keys the schema does not know survive the framework's rewrites", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        write(dir, "pending", "t1.json", JSON.stringify({ id: "t1", summary: "x", owner: "ada", labels: ["ui"] }))
        const claimed = Option.getOrThrow(yield* queue.claim)
        assert.deepStrictEqual(claimed, task("t1", { summary: "x" }), "unknown keys are not task fields")
        yield* queue.complete("t1", "cafe1234")
        assert.deepStrictEqual(readJson(dir, "complete", "t1.json"), { id: "t1", summary: "x", owner: "ada", labels: ["ui"], merged_sha: "cafe1234" })
      })))

  it.live("no temp or sidecar file is ever left in the five folders", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        for (const id of ["a", "b", "c", "d"]) yield* queue.create(task(id))
        yield* queue.claim
        yield* queue.claim
        yield* queue.claim
        yield* queue.complete("a", "1111aaaa")
        yield* queue.release("b", { feedback: "no", countAttempt: true, maxAttempts: 1 })
        yield* queue.release("c", { feedback: "later", countAttempt: true, maxAttempts: 3 })
        yield* queue.invalid("x.json", "?", "broken")
        const all = FsTaskQueue.statuses.flatMap((s) => ls(dir, s).map((name) => `${s}/${name}`))
        assert.deepStrictEqual(all.sort(), ["complete/a.json", "failed/b.json", "invalid/x.json", "pending/c.json", "pending/d.json"])
        assert.deepStrictEqual(ls(dir, ".tmp"), [])
      })))

  it.live("temp files orphaned by a crash are swept when the queue opens; fresh ones are left alone", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "oompa-fsq-" })
      yield* FsTaskQueue.make(dir)
      write(dir, ".tmp", "write-1-old", "{}")
      write(dir, ".tmp", "write-2-fresh", "{}")
      const hourAndMinuteAgo = (Date.now() - 61 * 60 * 1000) / 1000
      NodeFs.utimesSync(NodePath.join(dir, ".tmp", "write-1-old"), hourAndMinuteAgo, hourAndMinuteAgo)
      yield* FsTaskQueue.make(dir)
      assert.deepStrictEqual(ls(dir, ".tmp"), ["write-2-fresh"])
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("requeue moves a failed task to pending/ with its attempts reset and its other fields kept; current/ only when asked", () =>
    withQueue((_queue, dir) =>
      Effect.gen(function*() {
        write(dir, "failed", "t1.json", JSON.stringify({ id: "t1", summary: "do t1", attempts: 3, last_feedback: "tests failed", owner: "ada" }))
        write(dir, "current", "t2.json", JSON.stringify({ id: "t2", summary: "do t2", attempts: 1 }))
        write(dir, "failed", "t3.json", "{\"id\": ")
        assert.strictEqual(yield* FsTaskQueue.requeue(dir, "t1"), "failed")
        assert.deepStrictEqual(readJson(dir, "pending", "t1.json"), { id: "t1", summary: "do t1", last_feedback: "tests failed", owner: "ada" })
        assert.deepStrictEqual(ls(dir, "failed"), ["t3.json"])
        // A claim in current/ stays unless the caller (holding no live run) says so.
        const refused = yield* Effect.exit(FsTaskQueue.requeue(dir, "t2"))
        assert.isTrue(Exit.isFailure(refused))
        assert.include(JSON.stringify(refused), "no task t2 in failed/")
        assert.strictEqual(yield* FsTaskQueue.requeue(dir, "t2", { fromCurrent: true }), "current")
        assert.deepStrictEqual(ls(dir, "current"), [])
        assert.deepStrictEqual(ls(dir, "pending"), ["t1.json", "t2.json"])
        // A broken file is not requeued: it goes to invalid/ with its reason, as on any read.
        assert.isTrue(Exit.isFailure(yield* Effect.exit(FsTaskQueue.requeue(dir, "t3"))))
        assert.deepStrictEqual(ls(dir, "failed"), [])
        assert.deepStrictEqual(ls(dir, "invalid"), ["t3.json"])
        // An id that is not one never touches a path.
        assert.include(JSON.stringify(yield* Effect.exit(FsTaskQueue.requeue(dir, "../etc/passwd"))), "task id")
      })))
})
