/**
 * The run log (SPEC F9): `.oompa/runs/<id>/events.jsonl`, one complete JSON object per line,
 * schema-validated, append-only.
 *
 * Provided by the CLI for every run (usually teed with the progress view through `layerTee`);
 * read back by `oompa view` and recovery through `readEvents`, and summarised for `oompa status`
 * and `oompa list` through `readHistory`, which keeps a run index so that a call reads only the
 * logs that changed since the last one (see there).
 *
 * Why a line is never torn in the middle of the log: each event is encoded with the `Event` Schema
 * (an event that does not validate is a bug in oompa and dies), and the whole line, newline
 * included, goes to the file in ONE `write` on a descriptor opened with `O_APPEND`, so the kernel
 * places it at the end as a unit even when several writers share the file. Within a process a
 * semaphore keeps a short write's continuation from interleaving with another fiber's line. A crash
 * can only cut the *last* line short; the reader skips such a tail, and a writer that reopens a log
 * ending in a cut line first ends it with a newline so the next event starts on a line of its own.
 *
 * Gotchas: `EventSink.emit` has no error channel, so a write that fails (disk full, I/O error) dies
 * with the log's path in the message: the run log is the record recovery depends on, and a run
 * that silently stops logging would be worse than one that stops.
 *
 * @since 0.1.0
 */
import { Event as EventModule, EventSink as EventSinkModule, Ids, RunSummary, SchemaProblems } from "@oompa/core"
import { Context, Effect, FileSystem, Layer, Path, Result, Schema, Semaphore } from "effect"
import * as RunHistory from "./internal/runHistory.ts"
import type * as RunIndex from "./internal/runIndex.ts"
import type * as RunPaths from "./RunPaths.ts"

type Event = EventModule.Event
type EventSink = EventSinkModule.EventSink

/**
 * A run log that could not be opened or read; `line` (1-based) names the line that is not an event.
 *
 * @category errors
 * @since 0.1.0
 */
export class EventLogError extends Schema.TaggedError<EventLogError>()("EventLogError", {
  path: Schema.String,
  line: Schema.optionalKey(Schema.Int),
  message: Schema.String
}) {}

const encodeEvent = Schema.encodeSync(EventModule.Event)
const decodeEvent = Schema.decodeUnknownResult(EventModule.Event, { errors: "all" })

/**
 * One log line for an event: its JSON encoding and a newline. Throws (a defect) when the event
 * does not satisfy the `Event` Schema.
 *
 * @category encoding
 * @since 0.1.0
 */
export const encodeLine = (event: Event): string => `${JSON.stringify(encodeEvent(event))}\n`

/**
 * A decoded log: its events, and the 1-based number of a cut-short last line that was skipped.
 *
 * @category models
 * @since 0.1.0
 */
export interface DecodedLog {
  readonly events: ReadonlyArray<Event>
  readonly tornLine: number | undefined
}

/**
 * Decodes a log's text. Every newline-terminated line must be an event (else an error naming the
 * line); a last line without its newline is the tail of an interrupted write: kept when it is a
 * whole event, skipped (and reported in `tornLine`) when it is not. Blank lines are skipped.
 *
 * @category decoding
 * @since 0.1.0
 */
export const decodeLog = (path: string, text: string): Result.Result<DecodedLog, EventLogError> => {
  const lines = text.split("\n")
  const tail = lines.pop() ?? "" // the text after the last newline: "" when the log ends cleanly
  const events: Array<Event> = []
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue
    const decoded = decodeLine(line)
    if (typeof decoded === "string") return Result.fail(new EventLogError({ path, line: index + 1, message: `line ${index + 1}: ${decoded}` }))
    events.push(decoded)
  }
  if (tail.trim() === "") return Result.succeed({ events, tornLine: undefined })
  const last = decodeLine(tail)
  if (typeof last === "string") return Result.succeed({ events, tornLine: lines.length + 1 })
  return Result.succeed({ events: [...events, last], tornLine: undefined })
}

const decodeLine = (line: string): Event | string => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch (error) {
    return `not JSON (${error instanceof Error ? error.message : String(error)})`
  }
  const decoded = decodeEvent(json)
  return Result.isFailure(decoded) ? `not an event (${SchemaProblems.formatIssue(decoded.failure.issue)})` : decoded.success
}

/**
 * Reads a run log back (skipping a torn last line; see `decodeLog`).
 *
 * @category reading
 * @since 0.1.0
 */
export const readEvents = Effect.fn("JsonlEventLog.readEvents")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(path).pipe(Effect.mapError((error) => new EventLogError({ path, message: error.message })))
  const decoded = decodeLog(path, text)
  if (Result.isFailure(decoded)) return yield* decoded.failure
  return decoded.success.events
})

/**
 * Which runs `readHistory` (`readHistoryRows`) returns: the `count` newest (`Infinity`: all), or the
 * run `runId`.
 *
 * @category models
 * @since 0.1.0
 */
export type HistorySelection =
  | { readonly _tag: "Newest"; readonly count: number }
  | { readonly _tag: "Run"; readonly runId: string }

/**
 * What `oompa list` shows of a run: its `RunSummary`'s `runId`, `startedAt`, `outcome`, `merged`
 * and `iterations`, and how many `workers` it had.
 *
 * @category models
 * @since 0.1.0
 */
export type RunRow = RunIndex.RunRow

/**
 * A repository's runs as `readHistory` found them: the selected runs, newest first (each as
 * `RunSummary.summarize` summarises its log, or that summary's `RunRow`; `RunSummary.withLiveness`
 * is the caller's), and every run whose log cannot be read, in the runs folder's order, with why
 * (`readEvents`' message).
 *
 * @category models
 * @since 0.1.0
 */
export interface History<A> {
  readonly runs: ReadonlyArray<A>
  readonly skipped: ReadonlyArray<{ readonly runId: Ids.RunId; readonly message: string }>
}

/**
 * The runs of the repository at `paths` (`.oompa/runs/<id>/events.jsonl`) that `select` names,
 * summarised as `RunSummary.summarize` summarises their logs, with every run whose log cannot be
 * read: what reading and summarising every log gives, without doing it on every call (issue 17).
 *
 * Each log is `stat`ed (never opened) and compared with the run index (`RunPaths.runIndexPath`):
 * a run whose log is exactly as the index recorded it is ordered by the start recorded there (or
 * skipped with the reason recorded there); only a log that is new or changed is read. A selected
 * run's summary comes from its `summary.json` (`RunPaths.summaryPath`) when that was derived from
 * the log as it is now; otherwise from the log. So a call on runs that have not changed reads the
 * index and the selected runs' summaries, whatever the number of runs and of events; a new or
 * changed run costs one read of its log, once. The live run's (`liveRunId`) log is read on every
 * call and never cached: it grows.
 *
 * The index and summaries are written back (one atomic replace each, only when something
 * changed); when they cannot be (a read-only checkout), the answer is the same and the reason is
 * logged at debug level. Every cached file is checked, never trusted: a missing, damaged, foreign
 * or stale one is read again from the log.
 *
 * @category reading
 * @since 0.1.0
 */
export const readHistory = Effect.fn("JsonlEventLog.readHistory")(function*(
  paths: RunPaths.RunPaths,
  options: { readonly select: HistorySelection; readonly liveRunId: string | undefined }
): Effect.fn.Return<History<RunSummary.RunSummary>, never, FileSystem.FileSystem> {
  return yield* RunHistory.summaries(readEvents, paths, options)
})

/**
 * `readHistory` for `oompa list`'s lines: each selected run's `RunRow`, read from the run index
 * alone when the run's log has not changed (no run's summary is opened).
 *
 * @category reading
 * @since 0.1.0
 */
export const readHistoryRows = Effect.fn("JsonlEventLog.readHistoryRows")(function*(
  paths: RunPaths.RunPaths,
  options: { readonly select: HistorySelection; readonly liveRunId: string | undefined }
): Effect.fn.Return<History<RunRow>, never, FileSystem.FileSystem> {
  return yield* RunHistory.rows(readEvents, paths, options)
})

/** Opens the log for appending; a log cut short by a crash gets its last line ended first. */
const openLog = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, path: Path.Path, logPath: string) {
  yield* fs.makeDirectory(path.dirname(logPath), { recursive: true })
  const file = yield* fs.open(logPath, { flag: "a" })
  const size = Number((yield* file.stat).size)
  if (size > 0) {
    const last = yield* fs.readFile(logPath).pipe(Effect.map((bytes) => bytes[bytes.length - 1]))
    if (last !== undefined && last !== 0x0a) yield* file.writeAll(new TextEncoder().encode("\n"))
  }
  return file
})

/**
 * The `EventSink` service appending to the log at `logPath` (parent folders created). The file
 * stays open for the scope the service is built in, and is flushed to disk when it closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("JsonlEventLog.make")(function*(logPath: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = yield* openLog(fs, path, logPath).pipe(Effect.mapError((error) => new EventLogError({ path: logPath, message: error.message })))
  yield* Effect.addFinalizer(() =>
    file.sync.pipe(Effect.ignore({ log: "Warn", message: `could not flush the run log ${logPath}` }))
  )
  const lock = yield* Semaphore.make(1)
  const encoder = new TextEncoder()
  const emit = Effect.fn("JsonlEventLog.emit")(function*(event: Event) {
    const bytes = encoder.encode(encodeLine(event))
    yield* lock.withPermits(1)(file.writeAll(bytes)).pipe(
      Effect.mapError((error) => new EventLogError({ path: logPath, message: `cannot append to the run log: ${error.message}` })),
      Effect.orDie
    )
  })
  return EventSinkModule.EventSink.of({ emit })
})

/**
 * The run log of one run as the `EventSink`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (logPath: string): Layer.Layer<EventSink, EventLogError, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(EventSinkModule.EventSink, make(logPath))

/**
 * A sink that sends every event to each of `sinks`, in order.
 *
 * @category combinators
 * @since 0.1.0
 */
export const tee = (sinks: ReadonlyArray<EventSink["Service"]>): EventSink["Service"] =>
  EventSinkModule.EventSink.of({
    emit: (event) => Effect.forEach(sinks, (sink) => sink.emit(event), { discard: true })
  })

/**
 * One `EventSink` built from several (e.g. the run log and the progress view): each layer is built
 * on its own, and every event goes to all of them in the order given.
 *
 * **Example** (Log and progress view)
 *
 * ```ts
 * import { EventSink } from "@oompa/core"
 * import { JsonlEventLog } from "@oompa/adapters-node"
 *
 * const sinks = JsonlEventLog.layerTee(JsonlEventLog.layer(".oompa/runs/0badc0de/events.jsonl"), EventSink.EventSink.layerNoop)
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerTee = <const Layers extends ReadonlyArray<Layer.Layer<EventSink, any, any>>>(
  ...layers: Layers
): Layer.Layer<EventSink, Layer.Error<Layers[number]>, Layer.Services<Layers[number]>> =>
  Layer.effect(
    EventSinkModule.EventSink,
    Effect.forEach(layers, (sinkLayer) =>
      Layer.build(sinkLayer).pipe(Effect.map((context) => Context.get(context, EventSinkModule.EventSink)))).pipe(
      Effect.map(tee)
    )
  )
