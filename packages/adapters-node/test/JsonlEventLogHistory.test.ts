/**
 * Goal: `readHistory` / `readHistoryRows` (what `oompa status` and `oompa list` read) answer exactly
 * what reading and summarising every log answers — the selected runs' summaries newest first, and
 * every run whose log cannot be read with `readEvents`' own message — while a call on runs that
 * have not changed reads no log at all; a new, changed or live run's log is read, and no other; and
 * the cache files (`.oompa/runs/index.json`, `.oompa/runs/<id>/summary.json`) are checked, never
 * trusted: missing, garbage, foreign, stale, a folder, a FIFO or a link in their place, the answer
 * is the same.
 * Method: real files in a temp repository; the reference is the former implementation (every log
 * read with `readEvents`, summarised, sorted newest first). Log reads are counted through a
 * `FileSystem` that records each `readFileString`. Then random sequences of new runs, appends, torn
 * and damaged lines, removed logs, damaged caches and queries (fast-check), compared with the
 * reference after every query.
 */
import { execFileSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { type Event, Ids, RunSummary } from "@oompa/core"
import { Effect, FileSystem, Layer, Result } from "effect"
import * as fc from "fast-check"
import * as JsonlEventLog from "../src/JsonlEventLog.ts"
import * as RunPaths from "../src/RunPaths.ts"

type AnyEvent = Event.Event

// ---------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------

const started = (runId: string, at: number, workers = 2): AnyEvent => ({
  _tag: "SwarmStarted",
  at,
  runId,
  branch: "main",
  base: "abc1234",
  workers: Array.from({ length: workers }, (_, i) => ({ id: `w${i}`, role: "executor" as const, agent: "claude:opus", iterations: 3 })),
  review: true,
  dryRun: false
})

const iteration = (worker: string, n: number, at: number, outcome: "merged" | "rejected"): ReadonlyArray<AnyEvent> => [
  { _tag: "AgentFinished", at, worker, iteration: n, call: "propose", agent: "claude:opus", exitCode: 0, durationMs: 10, timedOut: false, costUsd: 0.01 },
  ...(outcome === "merged"
    ? [{ _tag: "MergeResult", at: at + 1, worker, iteration: n, outcome: "merged", branch: `oompa/x/${worker}-${n}`, files: ["a.txt"] } as const]
    : [{ _tag: "TaskMoved", at: at + 1, task: `t${n}`, from: "current", to: "failed", worker, reason: "rejected: no" } as const]),
  { _tag: "IterationFinished", at: at + 2, worker, iteration: n, outcome, task: `t${n}`, reviews: 1, timings: { setup: 0, agent: 0, review: 0, fix: 0, git: 0, test: 0, mergeWait: 0 } }
]

const finished = (at: number): AnyEvent => ({ _tag: "SwarmFinished", at, outcome: "ok", durationMs: 100, merged: 1, rejected: 0, failed: 0 })

const text = (events: ReadonlyArray<AnyEvent>): string => events.map(JsonlEventLog.encodeLine).join("")

/** The temp folders made, removed after the tests. */
const made: Array<string> = []
afterAll(() => {
  for (const dir of made) NodeFs.rmSync(dir, { recursive: true, force: true })
})

const tempDir = (prefix: string): string => {
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), prefix))
  made.push(dir)
  return dir
}

/** A repository folder (no git needed: the paths are made from the root). */
const makeRepo = (): RunPaths.RunPaths => RunPaths.make(tempDir("oompa-history-"), { tasksDir: "tasks" })

const logPath = (paths: RunPaths.RunPaths, runId: string) => RunPaths.eventsPath(paths, runId as Ids.RunId)

const writeLog = (paths: RunPaths.RunPaths, runId: string, content: string): void => {
  NodeFs.mkdirSync(RunPaths.runDir(paths, runId as Ids.RunId), { recursive: true })
  NodeFs.writeFileSync(logPath(paths, runId), content)
}

// ---------------------------------------------------------------------------------------------
// Calls, counted
// ---------------------------------------------------------------------------------------------

/** Every `readFileString` of a run log, by path. */
const logReads: Array<string> = []

/** Node's `FileSystem`, recording the run logs it reads. */
const countingFs = Layer.effect(
  FileSystem.FileSystem,
  Effect.map(FileSystem.FileSystem, (fs) =>
    FileSystem.FileSystem.of({
      ...fs,
      readFileString: (path, encoding) => {
        if (path.endsWith("events.jsonl")) logReads.push(path)
        return fs.readFileString(path, encoding)
      }
    }))
).pipe(Layer.provide(NodeServices.layer))

const run = <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem>): Promise<A> => Effect.runPromise(effect.pipe(Effect.provide(countingFs)))

type Selection = JsonlEventLog.HistorySelection

/** Both readers, and the run logs they read. */
const call = async (paths: RunPaths.RunPaths, select: Selection, liveRunId?: string) => {
  logReads.length = 0
  const summaries = await run(JsonlEventLog.readHistory(paths, { select, liveRunId }))
  const summaryReads = [...logReads]
  logReads.length = 0
  const rows = await run(JsonlEventLog.readHistoryRows(paths, { select, liveRunId }))
  const rowReads = [...logReads]
  logReads.length = 0
  return { summaries, rows, summaryReads, rowReads }
}

/** The former implementation: every log read and summarised, newest first, unreadable ones skipped. */
const reference = (paths: RunPaths.RunPaths, select: Selection) =>
  Effect.runPromise(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const names: ReadonlyArray<string> = yield* fs.readDirectory(paths.runsDir).pipe(Effect.orElseSucceed(() => []))
    const all: Array<RunSummary.RunSummary> = []
    const skipped: Array<{ runId: Ids.RunId; message: string }> = []
    for (const runId of names.filter(Ids.isRunId)) {
      const read = yield* Effect.result(JsonlEventLog.readEvents(logPath(paths, runId)))
      if (Result.isFailure(read)) skipped.push({ runId, message: read.failure.message })
      else all.push(RunSummary.summarize(runId, read.success))
    }
    all.sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))
    const runs = select._tag === "Newest" ? all.slice(0, select.count) : all.filter((r) => r.runId === select.runId)
    return { runs, skipped }
  }).pipe(Effect.provide(NodeServices.layer)))

const rowOf = (s: RunSummary.RunSummary): JsonlEventLog.RunRow => ({
  runId: s.runId,
  ...(s.startedAt === undefined ? {} : { startedAt: s.startedAt }),
  outcome: s.outcome,
  merged: s.merged,
  iterations: s.iterations,
  workers: s.workers.length
})

/** Both readers answer what the reference answers. */
const assertSameAsReference = async (paths: RunPaths.RunPaths, select: Selection, liveRunId?: string, context = "") => {
  const expected = await reference(paths, select)
  const actual = await call(paths, select, liveRunId)
  assert.deepStrictEqual(actual.summaries, expected, `readHistory ${JSON.stringify(select)} ${context}`)
  assert.deepStrictEqual(actual.rows, { runs: expected.runs.map(rowOf), skipped: expected.skipped }, `readHistoryRows ${JSON.stringify(select)} ${context}`)
  return actual
}

const all: Selection = { _tag: "Newest", count: Infinity }
const newest: Selection = { _tag: "Newest", count: 1 }

/** Five runs: finished, crashed with a torn last line, a damaged line in the middle, no log, not JSON at all. */
const fiveRuns = (paths: RunPaths.RunPaths) => {
  writeLog(paths, "0000000a", text([started("0000000a", 1_000), ...iteration("w0", 1, 1_010, "merged"), ...iteration("w1", 1, 1_020, "rejected"), finished(1_100)]))
  writeLog(paths, "0000000b", `${text([started("0000000b", 3_000, 3), ...iteration("w2", 1, 3_010, "merged")])}{"_tag":"Warning","at":3020,"mess`)
  writeLog(paths, "0000000c", `${text([started("0000000c", 2_000)])}not json\n${text([finished(2_100)])}`)
  NodeFs.mkdirSync(RunPaths.runDir(paths, "0000000d" as Ids.RunId), { recursive: true })
  writeLog(paths, "0000000e", "\u0000\u0001 garbage\n")
  return ["0000000a", "0000000b", "0000000c", "0000000d", "0000000e"]
}

// ---------------------------------------------------------------------------------------------

describe("JsonlEventLog.readHistory", () => {
  it("answers what reading every log answers; a second call reads no log", async () => {
    const paths = makeRepo()
    const ids = fiveRuns(paths)
    for (const select of [all, newest, { _tag: "Newest", count: 2 }, { _tag: "Run", runId: "0000000a" }, { _tag: "Run", runId: "0000000c" }, { _tag: "Run", runId: "nothere" }] satisfies ReadonlyArray<Selection>) {
      await assertSameAsReference(paths, select)
    }
    const warm = await assertSameAsReference(paths, all)
    assert.deepStrictEqual(warm.summaryReads, [])
    assert.deepStrictEqual(warm.rowReads, [])
    assert.deepStrictEqual(warm.summaries.skipped.map((s) => s.runId), ["0000000c", "0000000d", "0000000e"])
    // The torn last line is skipped, as `readEvents` skips it.
    assert.deepStrictEqual(warm.summaries.runs.map((r) => [r.runId, r.merged, r.iterations]), [["0000000b", 1, 1], ["0000000a", 1, 2]])
    // One summary per run that has one, one index.
    assert.deepStrictEqual(ids.filter((id) => NodeFs.existsSync(RunPaths.summaryPath(paths, id as Ids.RunId))), ["0000000a", "0000000b"])
    assert.isTrue(NodeFs.existsSync(RunPaths.runIndexPath(paths)))
  })

  it("reads only the log that changed: appended to, cut short, rewritten to the same size with its times put back", async () => {
    const paths = makeRepo()
    fiveRuns(paths)
    await assertSameAsReference(paths, all)
    const a = logPath(paths, "0000000a")

    NodeFs.appendFileSync(a, text(iteration("w0", 2, 1_200, "merged")))
    const appended = await assertSameAsReference(paths, all)
    assert.deepStrictEqual(appended.summaryReads, [a])
    assert.deepStrictEqual(appended.rowReads, [])
    assert.strictEqual(appended.summaries.runs.find((r) => r.runId === "0000000a")!.merged, 2)

    NodeFs.appendFileSync(a, `{"_tag":"Warn`)
    assert.deepStrictEqual((await assertSameAsReference(paths, all)).summaryReads, [a])

    // Same size, same modification time, other content: the change time and inode still differ.
    const before = NodeFs.statSync(a)
    const content = NodeFs.readFileSync(a, "utf8")
    const rewritten = content.replace(`"costUsd":0.01`, `"costUsd":0.05`).replace(`"at":1000,`, `"at":1001,`)
    assert.strictEqual(Buffer.byteLength(rewritten), Buffer.byteLength(content))
    NodeFs.writeFileSync(`${a}.new`, rewritten)
    NodeFs.renameSync(`${a}.new`, a)
    NodeFs.utimesSync(a, before.atime, before.mtime)
    const replaced = await assertSameAsReference(paths, all)
    assert.deepStrictEqual(replaced.summaryReads, [a])
    assert.strictEqual(replaced.summaries.runs.find((r) => r.runId === "0000000a")!.startedAt, 1001)

    // In place, same size, mtime put back: the change time differs.
    const again = NodeFs.readFileSync(a, "utf8")
    const stats = NodeFs.statSync(a)
    NodeFs.writeFileSync(a, again.replace(`"at":1001,`, `"at":1009,`))
    NodeFs.utimesSync(a, stats.atime, stats.mtime)
    assert.deepStrictEqual((await assertSameAsReference(paths, all)).summaryReads, [a])

    // A damaged log that is repaired is read again and shown again.
    const c = logPath(paths, "0000000c")
    NodeFs.writeFileSync(c, text([started("0000000c", 2_000), finished(2_100)]))
    const repaired = await assertSameAsReference(paths, all)
    assert.deepStrictEqual(repaired.summaryReads, [c])
    assert.include(repaired.summaries.runs.map((r) => r.runId), "0000000c")
    // And a log that appears where there was none.
    writeLog(paths, "0000000d", text([started("0000000d", 5_000)]))
    assert.strictEqual((await assertSameAsReference(paths, newest)).summaries.runs[0]!.runId, "0000000d")
  })

  it("reads the live run's log on every call and caches nothing about it", async () => {
    const paths = makeRepo()
    fiveRuns(paths)
    const live = "0000000b"
    await assertSameAsReference(paths, all, live)
    for (let i = 0; i < 2; i++) {
      const answer = await assertSameAsReference(paths, all, live)
      assert.deepStrictEqual(answer.summaryReads, [logPath(paths, live)])
      assert.deepStrictEqual(answer.rowReads, [logPath(paths, live)])
    }
    assert.isFalse(NodeFs.existsSync(RunPaths.summaryPath(paths, live as Ids.RunId)))
    assert.notProperty((JSON.parse(NodeFs.readFileSync(RunPaths.runIndexPath(paths), "utf8")) as { runs: object }).runs, live)
    // Once it is no longer live, it is cached like any other.
    await assertSameAsReference(paths, all)
    assert.deepStrictEqual((await assertSameAsReference(paths, all)).summaryReads, [])
  })

  it("writes nothing, and creates no folder, where there are no runs", async () => {
    const paths = makeRepo()
    assert.deepStrictEqual((await call(paths, all)).summaries, { runs: [], skipped: [] })
    assert.isFalse(NodeFs.existsSync(paths.oompaDir))
    NodeFs.mkdirSync(paths.runsDir, { recursive: true })
    NodeFs.mkdirSync(NodePath.join(paths.runsDir, "not-a-run"))
    assert.deepStrictEqual((await call(paths, all)).summaries, { runs: [], skipped: [] })
    assert.deepStrictEqual(NodeFs.readdirSync(paths.runsDir), ["not-a-run"])
  })

  it("keeps the folder's order among runs that started at the same time, as the former sort did", async () => {
    const paths = makeRepo()
    for (const id of ["0000ffff", "00000001", "000000aa", "0000000f"]) writeLog(paths, id, text([started(id, 7)]))
    writeLog(paths, "00000abc", "") // no SwarmStarted: ordered as if started at 0
    for (let i = 0; i < 2; i++) {
      await assertSameAsReference(paths, all)
      await assertSameAsReference(paths, { _tag: "Newest", count: 2 })
    }
  })

  it("does not read a FIFO, socket or device in a log's place (it may never end): that run is skipped, saying why", async () => {
    const paths = makeRepo()
    fiveRuns(paths)
    NodeFs.mkdirSync(RunPaths.runDir(paths, "0000000f" as Ids.RunId))
    execFileSync("mkfifo", [logPath(paths, "0000000f")])
    for (let i = 0; i < 2; i++) {
      const answer = await call(paths, all)
      assert.deepStrictEqual(answer.summaries.skipped.find((s) => s.runId === "0000000f"), {
        runId: "0000000f" as Ids.RunId,
        message: `${logPath(paths, "0000000f")} is a FIFO, not a run log; it was not read`
      })
      assert.notInclude(answer.summaryReads, logPath(paths, "0000000f"))
    }
  })

  describe("cache files are checked, never trusted", () => {
    const damage = (target: string, how: string, elsewhere: string): void => {
      NodeFs.rmSync(target, { recursive: true, force: true })
      switch (how) {
        case "garbage":
          return NodeFs.writeFileSync(target, "\u0000{not json")
        case "empty":
          return NodeFs.writeFileSync(target, "")
        case "not UTF-8":
          return NodeFs.writeFileSync(target, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))
        case "other JSON":
          return NodeFs.writeFileSync(target, JSON.stringify({ version: "x", runs: {}, runId: "0000000a", log: "", summary: {} }))
        case "a folder":
          NodeFs.mkdirSync(NodePath.join(target, "inside"), { recursive: true })
          return
        case "a FIFO":
          return void execFileSync("mkfifo", [target])
        case "a link to a good copy":
          return NodeFs.symlinkSync(elsewhere, target)
        case "oversized":
          return NodeFs.writeFileSync(target, `{"pad":"${"x".repeat(17 * 1024 * 1024)}"}`)
      }
    }
    const hows = ["garbage", "empty", "not UTF-8", "other JSON", "a folder", "a FIFO", "a link to a good copy", "oversized"]

    for (const how of hows) {
      it(`index.json and summary.json: ${how}`, async () => {
        const paths = makeRepo()
        fiveRuns(paths)
        await call(paths, all)
        const keep = tempDir("oompa-history-copy-")
        const index = RunPaths.runIndexPath(paths)
        const summaryA = RunPaths.summaryPath(paths, "0000000a" as Ids.RunId)
        NodeFs.copyFileSync(index, NodePath.join(keep, "index.json"))
        NodeFs.copyFileSync(summaryA, NodePath.join(keep, "summary.json"))
        damage(index, how, NodePath.join(keep, "index.json"))
        damage(summaryA, how, NodePath.join(keep, "summary.json"))
        // Twice: the second call finds what the first one wrote (or could not write).
        for (let i = 0; i < 2; i++) {
          await assertSameAsReference(paths, all, undefined, how)
          await assertSameAsReference(paths, newest, undefined, how)
        }
        // A link is replaced, never written through; the copy it pointed at is untouched.
        if (how === "a link to a good copy") {
          assert.isFalse(NodeFs.lstatSync(index).isSymbolicLink())
          assert.isFalse(NodeFs.lstatSync(summaryA).isSymbolicLink())
        }
      })
    }

    it("a summary that does not say what the index says, or is another run's, or older than its log, is not used", async () => {
      const paths = makeRepo()
      fiveRuns(paths)
      await call(paths, all)
      const summaryA = RunPaths.summaryPath(paths, "0000000a" as Ids.RunId)
      const summaryB = RunPaths.summaryPath(paths, "0000000b" as Ids.RunId)
      const good = NodeFs.readFileSync(summaryA, "utf8")
      // Right log key, other figures: the index's row disagrees, so the log is read.
      NodeFs.writeFileSync(summaryA, good.replace(`"merged":1`, `"merged":7`))
      assert.deepStrictEqual((await assertSameAsReference(paths, { _tag: "Run", runId: "0000000a" })).summaryReads, [logPath(paths, "0000000a")])
      // Another run's summary in its place.
      NodeFs.copyFileSync(summaryB, summaryA)
      assert.deepStrictEqual((await assertSameAsReference(paths, { _tag: "Run", runId: "0000000a" })).summaryReads, [logPath(paths, "0000000a")])
      // An index whose row for a run disagrees with that run's log (its start): the order is made again.
      const index = RunPaths.runIndexPath(paths)
      const parsed = JSON.parse(NodeFs.readFileSync(index, "utf8")) as { runs: Record<string, { row: { startedAt: number } }> }
      parsed.runs["0000000a"]!.row.startedAt = 99_999
      NodeFs.writeFileSync(index, JSON.stringify(parsed))
      NodeFs.rmSync(summaryA)
      await assertSameAsReference(paths, newest)
      await assertSameAsReference(paths, newest)
    })
  })

  it("a cache that cannot be written costs reads, never the answer", async () => {
    const paths = makeRepo()
    fiveRuns(paths)
    // Folders (not empty) where the files go: every rename onto them fails.
    NodeFs.mkdirSync(NodePath.join(RunPaths.runIndexPath(paths), "x"), { recursive: true })
    NodeFs.mkdirSync(NodePath.join(RunPaths.summaryPath(paths, "0000000a" as Ids.RunId), "x"), { recursive: true })
    for (let i = 0; i < 2; i++) {
      const answer = await assertSameAsReference(paths, all)
      assert.strictEqual(answer.summaryReads.length, 5)
    }
    // No temp file is left behind.
    assert.deepStrictEqual(NodeFs.readdirSync(paths.runsDir).filter((n) => n.startsWith(".")), [])
    assert.deepStrictEqual(NodeFs.readdirSync(RunPaths.runDir(paths, "0000000a" as Ids.RunId)).filter((n) => n.startsWith(".")), [])
  })

  // -------------------------------------------------------------------------------------------
  // Random histories
  // -------------------------------------------------------------------------------------------

  type Op =
    | { readonly _tag: "NewRun"; readonly at: number; readonly workers: number; readonly iterations: number; readonly finish: boolean }
    | { readonly _tag: "Append"; readonly run: number; readonly merged: boolean }
    | { readonly _tag: "Tear"; readonly run: number }
    | { readonly _tag: "Damage"; readonly run: number }
    | { readonly _tag: "RemoveLog"; readonly run: number }
    | { readonly _tag: "DamageCache"; readonly run: number; readonly index: boolean; readonly how: "garbage" | "delete" | "swap" }
    | { readonly _tag: "Query"; readonly select: "all" | "newest" | "two" | "one"; readonly run: number; readonly live: number | undefined }

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ _tag: fc.constant("NewRun" as const), at: fc.integer({ min: 0, max: 20 }), workers: fc.integer({ min: 0, max: 3 }), iterations: fc.integer({ min: 0, max: 4 }), finish: fc.boolean() }),
    fc.record({ _tag: fc.constant("Append" as const), run: fc.nat(), merged: fc.boolean() }),
    fc.record({ _tag: fc.constant("Tear" as const), run: fc.nat() }),
    fc.record({ _tag: fc.constant("Damage" as const), run: fc.nat() }),
    fc.record({ _tag: fc.constant("RemoveLog" as const), run: fc.nat() }),
    fc.record({ _tag: fc.constant("DamageCache" as const), run: fc.nat(), index: fc.boolean(), how: fc.constantFrom("garbage" as const, "delete" as const, "swap" as const) }),
    fc.record({ _tag: fc.constant("Query" as const), select: fc.constantFrom("all" as const, "newest" as const, "two" as const, "one" as const), run: fc.nat(), live: fc.option(fc.nat(), { nil: undefined }) })
  )

  it("random histories: after every change, both readers answer what the reference answers", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const paths = makeRepo()
        const ids: Array<string> = []
        const pick = (n: number) => ids.length === 0 ? undefined : ids[n % ids.length]!
        try {
          for (const op of ops) {
            const runId = "run" in op ? pick(op.run) : undefined
            switch (op._tag) {
              case "NewRun": {
                const id = (0x10000000 + ids.length).toString(16)
                ids.push(id)
                const body = Array.from({ length: op.iterations }, (_, i) => iteration(`w${i % Math.max(1, op.workers)}`, i + 1, op.at * 100 + i * 10, i % 2 === 0 ? "merged" : "rejected")).flat()
                writeLog(paths, id, text([started(id, op.at, op.workers), ...body, ...(op.finish ? [finished(op.at + 99)] : [])]))
                break
              }
              case "Append":
                if (runId !== undefined && NodeFs.existsSync(RunPaths.runDir(paths, runId as Ids.RunId))) {
                  NodeFs.appendFileSync(logPath(paths, runId), text(iteration("w0", 9, 50, op.merged ? "merged" : "rejected")))
                }
                break
              case "Tear":
                if (runId !== undefined) NodeFs.appendFileSync(logPath(paths, runId), `{"_tag":"Warning","at":1,"mes`)
                break
              case "Damage":
                if (runId !== undefined) NodeFs.appendFileSync(logPath(paths, runId), `{"_tag":"Nope"}\n`)
                break
              case "RemoveLog":
                if (runId !== undefined) NodeFs.rmSync(logPath(paths, runId), { force: true })
                break
              case "DamageCache": {
                if (runId === undefined) break
                const target = op.index ? RunPaths.runIndexPath(paths) : RunPaths.summaryPath(paths, runId as Ids.RunId)
                if (!NodeFs.existsSync(NodePath.dirname(target))) break
                if (op.how === "delete") NodeFs.rmSync(target, { force: true })
                else if (op.how === "garbage") NodeFs.writeFileSync(target, "{\"version\":")
                else {
                  // Another run's summary (or the index, swapped for a summary).
                  const other = RunPaths.summaryPath(paths, pick(op.run + 1)! as Ids.RunId)
                  if (NodeFs.existsSync(other)) NodeFs.copyFileSync(other, target)
                }
                break
              }
              case "Query": {
                const select: Selection = op.select === "all"
                  ? all
                  : op.select === "newest"
                  ? newest
                  : op.select === "two"
                  ? { _tag: "Newest", count: 2 }
                  : { _tag: "Run", runId: runId ?? "00000000" }
                await assertSameAsReference(paths, select, op.live === undefined ? undefined : pick(op.live), JSON.stringify(ops))
              }
            }
          }
          // Finally, and twice: the second call reads no log but the live one's.
          await assertSameAsReference(paths, all)
          assert.deepStrictEqual((await assertSameAsReference(paths, all)).summaryReads, [])
        } finally {
          NodeFs.rmSync(paths.root, { recursive: true, force: true })
        }
      }),
      { numRuns: 60 }
    )
  })
})
