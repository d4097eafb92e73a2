/**
 * Goal: the run log is one complete, schema-valid JSON event per line (SPEC F9): what is written
 * reads back equal; many writers (fibers of one sink, and two sinks with their own descriptors on
 * one file) never interleave inside a line; a line cut short by a crash is skipped at the end and
 * reported by number anywhere else; an event that does not validate is never written.
 * Method: real files in a temp folder, written through the `EventSink` layer, read back with
 * `readEvents` / `decodeLog`, and inspected line by line.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { type Event, EventSink } from "@oompa/core"
import { CollectingEventSink } from "@oompa/core/testing"
import { Effect, Exit, FileSystem, Layer, Result } from "effect"
import * as JsonlEventLog from "../src/JsonlEventLog.ts"

type AnyEvent = Event.Event

const sample: ReadonlyArray<AnyEvent> = [
  { _tag: "SwarmStarted", at: 0, runId: "0badc0de", branch: "main", base: "abc1234", workers: [{ id: "w0", role: "worker", agent: "codex:gpt-5", iterations: 3 }], review: true, dryRun: false },
  { _tag: "TaskClaimed", at: 5, worker: "w0", iteration: 1, task: "t1" },
  { _tag: "AgentFinished", at: 900, worker: "w0", iteration: 1, call: "propose", agent: "claude:opus", exitCode: 0, durationMs: 895, timedOut: false, tokens: { input: 10, output: 20 }, costUsd: 0.25 },
  { _tag: "TaskMoved", at: 901, task: "t1", from: "current", to: "complete", reason: "merged \"ok\"\nsecond line ✓" },
  { _tag: "SwarmFinished", at: 1000, outcome: "ok", durationMs: 1000, merged: 1, rejected: 0, failed: 0 }
]

const warning = (n: number, size: number): AnyEvent => ({ _tag: "Warning", at: n, message: `${n}:${"x".repeat(size)}` })

/** A fresh log path in a temp folder (the folder `runs/<id>/` does not exist yet). */
const inTemp = <A, E>(body: (logPath: string) => Effect.Effect<A, E, FileSystem.FileSystem>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "oompa-log-" })
    return yield* body(NodePath.join(dir, "runs", "0badc0de", "events.jsonl"))
  }).pipe(Effect.provide(NodeServices.layer))

const emitAll = (logPath: string, events: ReadonlyArray<AnyEvent>) =>
  Effect.forEach(events, (e) => EventSink.emit(e), { discard: true }).pipe(
    Effect.provide(JsonlEventLog.layer(logPath).pipe(Layer.provide(NodeServices.layer)))
  )

describe("JsonlEventLog", () => {
  it.live("round-trip: every event is one line and reads back equal", () =>
    inTemp((logPath) =>
      Effect.gen(function*() {
        yield* emitAll(logPath, sample)
        const text = NodeFs.readFileSync(logPath, "utf8")
        assert.isTrue(text.endsWith("\n"))
        assert.strictEqual(text.split("\n").length, sample.length + 1)
        assert.deepStrictEqual(yield* JsonlEventLog.readEvents(logPath), sample)
        // Appending in a second session continues the same log.
        yield* emitAll(logPath, sample.slice(0, 2))
        assert.deepStrictEqual(yield* JsonlEventLog.readEvents(logPath), [...sample, ...sample.slice(0, 2)])
      })))

  it.live("concurrent appends from many fibers and two descriptors never interleave within a line", () =>
    inTemp((logPath) =>
      Effect.gen(function*() {
        // Lines of 2-70 KB: bigger than a pipe buffer and than one page, so a split write would show.
        const batch = (offset: number) => Array.from({ length: 40 }, (_, i) => warning(offset + i, 2_000 + ((i * 7919) % 70_000)))
        const writer = (offset: number) =>
          Effect.forEach(Array.from({ length: 8 }, (_, f) => batch(offset + f * 1000)), (events) =>
            Effect.forEach(events, (e) => EventSink.emit(e), { discard: true }), { concurrency: "unbounded", discard: true }).pipe(
            Effect.provide(JsonlEventLog.layer(logPath).pipe(Layer.provide(NodeServices.layer)))
          )
        yield* Effect.all([writer(0), writer(100_000)], { concurrency: "unbounded" })
        const lines = NodeFs.readFileSync(logPath, "utf8").split("\n")
        assert.strictEqual(lines.pop(), "")
        assert.strictEqual(lines.length, 2 * 8 * 40)
        const seen = new Set(lines.map((line) => {
          const event = JSON.parse(line) as { _tag: string; at: number; message: string }
          assert.strictEqual(event._tag, "Warning")
          assert.isTrue(event.message.startsWith(`${event.at}:`))
          return event.at
        }))
        assert.strictEqual(seen.size, lines.length)
      })), 30_000)

  it.live("a torn last line is skipped; a bad line elsewhere is reported with its number", () =>
    inTemp((logPath) =>
      Effect.gen(function*() {
        yield* emitAll(logPath, sample)
        NodeFs.appendFileSync(logPath, `{"_tag":"Warning","at":7,"mess`)
        assert.deepStrictEqual(yield* JsonlEventLog.readEvents(logPath), sample)
        const decoded = JsonlEventLog.decodeLog(logPath, NodeFs.readFileSync(logPath, "utf8"))
        assert.isTrue(Result.isSuccess(decoded) && decoded.success.tornLine === sample.length + 1)

        // A writer reopening the log ends the torn line first, so new events stay whole...
        yield* emitAll(logPath, [warning(8, 10)])
        const lines = NodeFs.readFileSync(logPath, "utf8").split("\n")
        assert.deepStrictEqual(JSON.parse(lines[sample.length + 1] ?? ""), { _tag: "Warning", at: 8, message: `8:${"x".repeat(10)}` })
        // ...and the fragment, now in the middle, is reported by line number.
        const exit = yield* Effect.exit(JsonlEventLog.readEvents(logPath))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.match(String(exit.cause), new RegExp(`line ${sample.length + 1}: not JSON`))
      })))

  it("decodeLog names a line that is JSON but not an event", () => {
    const text = `${JSON.stringify(sample[1])}\n{"_tag":"TaskClaimed","at":"soon"}\n`
    const decoded = JsonlEventLog.decodeLog("events.jsonl", text)
    assert.isTrue(Result.isFailure(decoded))
    if (Result.isFailure(decoded)) {
      assert.strictEqual(decoded.failure.line, 2)
      assert.match(decoded.failure.message, /^line 2: not an event/)
    }
  })

  it.live("an event that fails the Event schema dies and is not written", () =>
    inTemp((logPath) =>
      Effect.gen(function*() {
        const bad = { _tag: "TaskClaimed", at: Number.NaN, worker: "w0", iteration: 1, task: "t1" } as AnyEvent
        const first = sample[0] as AnyEvent
        const exit = yield* Effect.exit(emitAll(logPath, [first, bad]))
        assert.isTrue(Exit.isFailure(exit) && !Exit.hasFails(exit), "a defect, not a typed failure")
        assert.deepStrictEqual(yield* JsonlEventLog.readEvents(logPath), [first])
      })))

  it.live("layerTee fans every event out to each sink in order", () =>
    inTemp((logPath) =>
      Effect.gen(function*() {
        const collected = new CollectingEventSink.EventLog()
        const tee = JsonlEventLog.layerTee(JsonlEventLog.layer(logPath), CollectingEventSink.layer(collected))
        yield* Effect.forEach(sample, (e) => EventSink.emit(e), { discard: true }).pipe(
          Effect.provide(tee.pipe(Layer.provide(NodeServices.layer)))
        )
        assert.deepStrictEqual(collected.events, sample)
        assert.deepStrictEqual(yield* JsonlEventLog.readEvents(logPath), sample)
      })))
})
