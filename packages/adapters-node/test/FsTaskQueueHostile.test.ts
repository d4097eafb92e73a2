/**
 * Goal: every file in the queue's folders is hostile input, and each hostile shape ends with a clear
 * reason and nothing lost (issue 15 "Honest runs"): a file nested too deep (which crashed every run
 * that met it, exit 70), a folder, a symbolic link, a FIFO or an oversized file in a folder (never
 * followed, never opened in a way that blocks, never silently ignored), a key given twice, control
 * characters in a file name, a reused id (a `complete/` or `failed/` record is never overwritten),
 * and a file a person created or edited while recovery returns a task (never silently overwritten).
 * Method: files written by hand into a fresh queue folder per test, then the `TaskQueue` service
 * (and `Recovery.run` over it, as the CLI runs it after a crash); assertions on the answers, the
 * `invalid/` records and the bytes of the files the user owns.
 */
import { execFileSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { EventSink, Recovery, TaskQueue } from "@oompa/core"
import { MemoryGit } from "@oompa/core/testing"
import { Effect, Exit, Option } from "effect"
import * as EdnTasks from "../src/EdnTasks.ts"
import * as FsTaskQueue from "../src/FsTaskQueue.ts"
import * as Queue from "./fixtures/queue.ts"
import { task } from "./fixtures/queue.ts"
import * as Files from "../src/internal/fsTaskFiles.ts"

const withQueue = <A, E>(body: Parameters<typeof Queue.withQueue<A, E>>[0]) => Queue.withQueue(body, "oompa-fsq-hostile-")

const at = (dir: string, folder: string, name: string): string => NodePath.join(dir, folder, name)
const ls = (dir: string, folder: string): Array<string> => NodeFs.readdirSync(NodePath.join(dir, folder)).sort()
const read = (dir: string, folder: string, name: string): string => NodeFs.readFileSync(at(dir, folder, name), "utf8")
const write = (dir: string, folder: string, name: string, content: string): void => NodeFs.writeFileSync(at(dir, folder, name), content)

/** The `invalid/` records by original name. */
const invalidByName = (dir: string) =>
  FsTaskQueue.readInvalid(dir).pipe(Effect.map((entries) => new Map(entries.map((e) => [e.name, e]))))

/** Fails the test instead of hanging it when an operation blocks (a FIFO opened for reading does). */
const within = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die("blocked: the operation did not return within 10 s") }))

// eslint-disable-next-line no-control-regex
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/

describe("FsTaskQueue: hostile task files", () => {
  it.live("a task file nested too deep goes to invalid/ with the reason, in pending/ or current/, instead of crashing every run", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        // Valid for the schema (extra keys are kept), but JSON.stringify overflowed the stack when
        // the framework rewrote it: an internal error (exit 70) on every run that held the task.
        const deep = `{"id": "deep", "summary": "x", "extra": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`
        write(dir, "pending", "deep.json", deep)
        write(dir, "current", "held-deep.json", deep.replace(`"deep"`, `"held-deep"`))
        yield* queue.create(task("good"))
        assert.deepStrictEqual(Option.map(yield* queue.claim, (t) => t.id), Option.some("good"))
        yield* queue.complete("good", "abc1234")
        // What recovery does first: list current/ (the earlier version's claim is quarantined there).
        assert.deepStrictEqual((yield* queue.list("current")).map((t) => t.id), [])
        const release = yield* Effect.exit(queue.release("held-deep", { feedback: "", countAttempt: false, maxAttempts: 3 }))
        assert.isTrue(Exit.isFailure(release) && Exit.hasFails(release), "a typed failure, not a defect")
        const invalid = yield* invalidByName(dir)
        assert.strictEqual(invalid.get("deep.json")?.content, deep, "the text is kept byte for byte")
        assert.match(invalid.get("deep.json")?.invalid_reason ?? "", /^deep\.json: lists and objects nested deeper than 64 levels/)
        assert.strictEqual(invalid.get("held-deep.json")?.from, "current")
        assert.deepStrictEqual([ls(dir, "pending"), ls(dir, "current")], [[], []])
      })))

  it.live("a folder (task files nested in it), a symbolic link and a FIFO in pending/ are moved unread to invalid/, each with a record; a claim neither follows nor blocks", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        const nested = at(dir, "pending", "nested/a/b/c/d")
        NodeFs.mkdirSync(nested, { recursive: true })
        NodeFs.writeFileSync(NodePath.join(nested, "t.json"), JSON.stringify(task("t")))
        const outside = NodePath.join(dir, "outside.json")
        NodeFs.writeFileSync(outside, JSON.stringify(task("link")))
        NodeFs.symlinkSync(outside, at(dir, "pending", "link.json"))
        execFileSync("mkfifo", [at(dir, "pending", "pipe.json")])
        yield* queue.create(task("good"))
        assert.deepStrictEqual(Option.map(yield* within(queue.claim), (t) => t.id), Option.some("good"))
        assert.deepStrictEqual(ls(dir, "pending"), [])
        assert.deepStrictEqual(ls(dir, "invalid"), ["link.json", "link.link", "nested.folder", "nested.json", "pipe.fifo", "pipe.json"])
        // Kept as they were: the folder with its files, the link pointing where it pointed, the FIFO.
        assert.strictEqual(read(dir, "invalid", "nested.folder/a/b/c/d/t.json"), JSON.stringify(task("t")))
        assert.strictEqual(NodeFs.readlinkSync(at(dir, "invalid", "link.link")), outside)
        assert.strictEqual(NodeFs.readFileSync(outside, "utf8"), JSON.stringify(task("link")), "the link's target is untouched")
        assert.isTrue(NodeFs.lstatSync(at(dir, "invalid", "pipe.fifo")).isFIFO())
        const invalid = yield* invalidByName(dir)
        assert.deepStrictEqual([...invalid.keys()].sort(), ["link.json", "nested", "pipe.json"])
        assert.match(invalid.get("nested")!.invalid_reason, /^nested: a folder, not a task file\..*moved, unread and as it is, to invalid\/nested\.folder; task files inside a folder are not tasks/)
        assert.match(invalid.get("link.json")!.invalid_reason, /^link\.json: a symbolic link \(to ".*outside\.json"\), not a task file\..*it follows no link.*invalid\/link\.link/)
        assert.match(invalid.get("pipe.json")!.invalid_reason, /^pipe\.json: a FIFO \(named pipe\), not a task file\..*invalid\/pipe\.fifo/)
        for (const entry of invalid.values()) assert.deepStrictEqual([entry.from, entry.content], ["pending", ""])
        assert.deepStrictEqual(yield* queue.list("invalid"), [], "nothing set aside is read as a task")
      })))

  it.live("a FIFO or a symbolic link where a held task's file should be: release neither blocks nor follows it, and says the task is not in current/", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        execFileSync("mkfifo", [at(dir, "current", "t1.json")])
        NodeFs.writeFileSync(NodePath.join(dir, "elsewhere.json"), JSON.stringify(task("t2")))
        NodeFs.symlinkSync(NodePath.join(dir, "elsewhere.json"), at(dir, "current", "t2.json"))
        for (const id of ["t1", "t2"]) {
          const exit = yield* within(Effect.exit(queue.release(id, { feedback: "", countAttempt: false, maxAttempts: 3 })))
          assert.isTrue(Exit.isFailure(exit))
          assert.include(JSON.stringify(exit), `task ${id} is not in current/`)
        }
        assert.deepStrictEqual(ls(dir, "current"), [])
        assert.deepStrictEqual(ls(dir, "pending"), [], "the link was not followed into a task")
        assert.deepStrictEqual(ls(dir, "invalid"), ["t1.fifo", "t1.json", "t2.json", "t2.link"])
      })))

  it.live("a file over the size limit is moved to invalid/ unread", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        // Sparse: the bytes are never written, and oompa never reads them.
        NodeFs.writeFileSync(at(dir, "pending", "huge.json"), "")
        NodeFs.truncateSync(at(dir, "pending", "huge.json"), FsTaskQueue.taskFileBytesMax + 1)
        assert.isTrue(Option.isNone(yield* queue.claim))
        assert.deepStrictEqual(ls(dir, "invalid"), ["huge.json", "huge.large"])
        assert.strictEqual(NodeFs.statSync(at(dir, "invalid", "huge.large")).size, FsTaskQueue.taskFileBytesMax + 1)
        const [entry] = yield* FsTaskQueue.readInvalid(dir)
        assert.match(entry?.invalid_reason ?? "", new RegExp(`^huge\\.json: a file of ${FsTaskQueue.taskFileBytesMax + 1} bytes`))
      })))

  it.live("a key given twice goes to invalid/ with a reason naming the key (JSON.parse would keep the last one)", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        const files: Record<string, string> = {
          "b.json": `{"id": "a", "id": "b", "summary": "which id?"}`,
          "escaped.json": `{"id": "escaped", "summary": "x", "summ\\u0061ry": "y"}`,
          "nested.json": `{"id": "nested", "summary": "x", "meta": {"list": [{"k": 1, "k": 2}]}}`,
          "e.edn": `{:id "e" :summary "x" :summary "y"}`,
          "spelled.edn": `{:id "spelled" :summary "x" :last-feedback "a" :last_feedback "b"}`
        }
        for (const [name, content] of Object.entries(files)) write(dir, "pending", name, content)
        assert.isTrue(Option.isNone(yield* queue.claim), "none of them is a task")
        const invalid = yield* invalidByName(dir)
        assert.deepStrictEqual([...invalid.keys()].sort(), Object.keys(files).sort())
        for (const [name, content] of Object.entries(files)) assert.strictEqual(invalid.get(name)?.content, content)
        assert.match(invalid.get("b.json")!.invalid_reason, /^b\.json: the key "id" appears more than once \(JSON keeps only the last one/)
        assert.match(invalid.get("escaped.json")!.invalid_reason, /the key "summary" appears more than once/)
        assert.match(invalid.get("nested.json")!.invalid_reason, /the key "k" appears more than once in the object at meta\.list\[0\]/)
        assert.match(invalid.get("e.edn")!.invalid_reason, /^e\.edn: the map key "summary" appears more than once/)
        assert.match(invalid.get("spelled.edn")!.invalid_reason, /"last-feedback" and "last_feedback" are both "last_feedback"/)
      })))

  it.live("a file name with control characters goes to invalid/; the reason shows them escaped, the record keeps the name", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        const names = ["red\u001b[31m.json", "bell\u0007.json", "rtl\u202egpj.json"]
        for (const name of names) write(dir, "pending", name, JSON.stringify(task("x")))
        assert.isTrue(Option.isNone(yield* queue.claim))
        const invalid = yield* invalidByName(dir)
        assert.deepStrictEqual([...invalid.keys()].sort(), [...names].sort())
        for (const entry of invalid.values()) {
          assert.notMatch(entry.invalid_reason, controlCharacter, entry.invalid_reason)
          assert.notInclude(entry.invalid_reason, "\u202e")
          assert.notMatch(entry.file, controlCharacter)
        }
        assert.match(invalid.get("red\u001b[31m.json")!.invalid_reason, /^"red\\u001b\[31m\.json": the file name is not a valid task id \(it contains a control character\)/)
        assert.match(invalid.get("rtl\u202egpj.json")!.invalid_reason, /^"rtl\\u202egpj\.json": /)
      })))

  it.live("a pending task reusing the id of a complete/ or failed/ record goes to invalid/ naming that record, which stays byte for byte", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.create(task("done"))
        yield* queue.create(task("lost"))
        yield* queue.claim
        yield* queue.claim
        yield* queue.complete("done", "abc1234")
        yield* queue.release("lost", { feedback: "tests fail", countAttempt: true, maxAttempts: 1 })
        const records = { done: read(dir, "complete", "done.json"), lost: read(dir, "failed", "lost.json") }
        write(dir, "pending", "done.json", JSON.stringify(task("done", { summary: "a new task under an old id" })))
        write(dir, "pending", "lost.json", JSON.stringify(task("lost", { summary: "another one" })))
        assert.deepStrictEqual(yield* queue.list("pending"), [])
        assert.isTrue(Option.isNone(yield* queue.claim))
        assert.deepStrictEqual([read(dir, "complete", "done.json"), read(dir, "failed", "lost.json")], [records.done, records.lost])
        const invalid = yield* invalidByName(dir)
        assert.match(invalid.get("done.json")!.invalid_reason, /^done\.json: the id done is already used by complete\/done\.json \(a finished task\); that record is kept as it is/)
        assert.match(invalid.get("lost.json")!.invalid_reason, /already used by failed\/lost\.json \(a task that failed\).*oompa requeue lost/)
        assert.include(invalid.get("done.json")!.content, "a new task under an old id")
        // A second file that reaches current/ by hand anyway: completing it keeps the record too.
        write(dir, "current", "done.json", JSON.stringify(task("done", { summary: "by hand" })))
        yield* queue.complete("done", "def5678")
        assert.strictEqual(read(dir, "complete", "done.json"), records.done)
        assert.deepStrictEqual(ls(dir, "current"), [])
        const again = (yield* FsTaskQueue.readInvalid(dir)).filter((e) => e.from === "current")
        assert.match(again[0]?.invalid_reason ?? "", /completed \(merged in def5678\), but complete\/done\.json already holds a task with this id/)
        assert.include(again[0]?.content ?? "", "\"merged_sha\": \"def5678\"")
      })))

  it.live("a pending file whose id is held in current/ is not claimed over the held copy", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.create(task("t1"))
        yield* queue.claim
        const held = read(dir, "current", "t1.json")
        write(dir, "pending", "t1.json", JSON.stringify(task("t1", { summary: "a copy made by hand" })))
        assert.isTrue(Option.isNone(yield* queue.claim), "no claim, and no error")
        assert.strictEqual(read(dir, "current", "t1.json"), held)
      })))

  it.live("recovery never overwrites a pending file the user created or edited after a crash: theirs stays, the returned copy goes to invalid/", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        // A run claimed t1 and t2, recorded an attempt on t1, and died.
        for (const id of ["t1", "t2"]) yield* queue.create(task(id))
        yield* queue.claim
        yield* queue.release("t1", { feedback: "tests fail", countAttempt: true, maxAttempts: 3 })
        yield* queue.claim
        yield* queue.claim
        // Then the user wrote pending/t1.json anew, and edited current/t2.json.
        const mine = `{"id": "t1", "summary": "what I want run now"}\n`
        write(dir, "pending", "t1.json", mine)
        write(dir, "current", "t2.json", JSON.stringify({ ...task("t2"), description: "edited after the crash" }))
        const report = yield* Recovery.run({ maxTaskAttempts: 3, runLog: () => Effect.succeed([]) }).pipe(
          Effect.provide([MemoryGit.layer(MemoryGit.MemoryRepo.make({ files: { "README.md": "x\n" } })), EventSink.EventSink.layerNoop]),
          Effect.provideService(TaskQueue.TaskQueue, queue)
        )
        assert.sameMembers([...report.returned], ["t1", "t2"])
        assert.strictEqual(read(dir, "pending", "t1.json"), mine, "the user's file, byte for byte")
        assert.strictEqual(JSON.parse(read(dir, "pending", "t2.json")).description, "edited after the crash")
        assert.deepStrictEqual(ls(dir, "current"), [])
        const [entry] = yield* FsTaskQueue.readInvalid(dir)
        assert.strictEqual(entry?.from, "current")
        assert.match(entry?.invalid_reason ?? "", /^t1\.json: returned from current\/ \(1 attempts recorded\), but pending\/t1\.json was created or edited in the meantime; that file was kept as it is/)
        assert.deepStrictEqual(JSON.parse(entry?.content ?? "{}"), { ...task("t1"), attempts: 1, last_feedback: "tests fail" })
      })))

  it.live("a move a crash cut between its two steps (the same file in current/ and pending/) completes on the next release", () =>
    withQueue((queue, dir) =>
      Effect.gen(function*() {
        yield* queue.create(task("t1"))
        yield* queue.claim
        yield* queue.release("t1", { feedback: "tests fail", countAttempt: true, maxAttempts: 3 })
        yield* queue.claim
        // Recovery's release had rewritten current/t1.json (nothing to change) and linked it into
        // pending/ when the process died, before it removed the name in current/.
        NodeFs.linkSync(at(dir, "current", "t1.json"), at(dir, "pending", "t1.json"))
        assert.strictEqual(yield* queue.release("t1", { feedback: "tests fail", countAttempt: false, maxAttempts: 3 }), "pending")
        assert.deepStrictEqual([ls(dir, "pending"), ls(dir, "current"), ls(dir, "invalid")], [["t1.json"], [], []])
      })))

  it.live("requeue refuses to replace a pending file of the same id", () =>
    withQueue((_queue, dir) =>
      Effect.gen(function*() {
        write(dir, "failed", "t1.json", JSON.stringify({ ...task("t1"), attempts: 3 }))
        const mine = JSON.stringify(task("t1", { summary: "rewritten by hand" }))
        write(dir, "pending", "t1.json", mine)
        const exit = yield* Effect.exit(FsTaskQueue.requeue(dir, "t1"))
        assert.include(JSON.stringify(exit), "pending/t1.json already exists")
        assert.strictEqual(read(dir, "pending", "t1.json"), mine)
        assert.deepStrictEqual(JSON.parse(read(dir, "failed", "t1.json")), { ...task("t1"), attempts: 3 })
      })))
})

describe("task file text (pure)", () => {
  const nested = (depth: number) => `{"id": "t", "summary": "x", "extra": ${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`

  it("nesting: 64 levels are read, 65 are refused, in JSON and in EDN", () => {
    assert.isUndefined(Files.jsonShapeProblem(nested(64)))
    assert.match(Files.jsonShapeProblem(nested(65)) ?? "", /nested deeper than 64 levels/)
    assert.notStrictEqual(typeof Files.parseText("edn", `{:id "t" :x ${"[".repeat(63)}${"]".repeat(63)}}`), "string")
    assert.match(String(Files.parseText("edn", `{:id "t" :x ${"[".repeat(64)}${"]".repeat(64)}}`)), /nested deeper than 64 levels/)
  })

  it("keys: strings, escapes and brackets inside strings are not mistaken for structure", () => {
    assert.isUndefined(Files.jsonShapeProblem(`{"a": "{\\"a\\": 1, \\"a\\": 2}", "b": ["a", "a"], "c": {"a": 1}, "d": [{"a": 1}, {"a": 2}]}`))
    assert.match(Files.jsonShapeProblem(`[{"x": 1}, {"y": {"\\n": 1, "\\n": 2}}]`) ?? "", /the key "\\n" appears more than once in the object at \[1\]\.y/)
  })

  it("a run-mode task list with a key given twice is refused, naming the task", () => {
    const result = EdnTasks.parseTaskList("json", `[{"id": "a", "summary": "A"}, {"id": "b", "summary": "B", "summary": "C"}]`)
    assert.deepStrictEqual(result, { problems: [`the key "summary" appears more than once in the object at [1] (JSON keeps only the last one, so the file does not say which value is meant)`] })
  })
})
