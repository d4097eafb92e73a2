/**
 * The files `JsonlEventLog.readHistory` keeps so that `oompa status` and `oompa list` need not read
 * every run's whole log on every call (issue 17):
 *
 * - `.oompa/runs/index.json`, the run index: for each run, its log's identity (`LogState.key`) and
 *   its `RunRow` (its start, by which the runs are ordered, and what `oompa list` prints of it), or
 *   why its log cannot be read (`readEvents`' message);
 * - `.oompa/runs/<id>/summary.json`: the run's `RunSummary` as of that log identity.
 *
 * Both are caches, derived from the logs alone and checked against them on every read: an entry is
 * used only while the log's identity is exactly the one recorded (size, modification and change
 * times in nanoseconds, inode, device; any write, replacement or `touch` changes it) and while the
 * cache was written by the same `RunSummary.summarize` (`cacheVersion`). Anything else — a missing,
 * oversized, non-JSON, mis-shaped or stale file, a FIFO or a link in its place — is a cache miss,
 * and the log is read again. Losing or deleting them costs one full read of each log.
 *
 * Written without `fsync` (a file a power loss truncates is a miss) but always in one step (a temp
 * file beside the target, then `rename`), so a reader never sees half a file. Two commands writing
 * at once: the last rename wins, and what the other learnt is learnt again later.
 *
 * These use `node:fs` synchronously, not Effect's `FileSystem`: a call stats every run's log and
 * reads a few small files, and through the libuv pool each of those costs ~140 µs against ~5 µs
 * (measured on 2 cores): the difference between flat and linear in the number of runs.
 *
 * @since 0.1.0
 */
import { createHash, randomUUID } from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { RunSummary } from "@oompa/core"
import { Data, Effect, Result, Schema } from "effect"
import { kindOfStats, type SpecialKind } from "./fsAtomic.ts"

/**
 * What the cached files were derived with: the file format and the code of `RunSummary.summarize`
 * (as this build runs it), so an oompa whose summaries count differently never shows the figures
 * an older one cached. A change of build only costs one more read of each log. Bump the number
 * when the files' shape or `rowOf` changes, or when decoding a log changes what `summarize` is given
 * (a default added to an `Event` field) without `summarize` itself changing.
 */
export const cacheVersion: string = createHash("sha256")
  .update(`oompa run index 1\n${RunSummary.summarize.toString()}`)
  .digest("hex")
  .slice(0, 16)

/** The largest index or summary file read (a bigger one is a miss, and is not written either). */
export const cacheBytesMax = 16 * 1024 * 1024

// ---------------------------------------------------------------------------------------------
// A log's identity
// ---------------------------------------------------------------------------------------------

/**
 * A run log as `stat` sees it: `key` changes whenever its content may have (see the module
 * header); `kind` says whether there is a regular file to read at all.
 */
export type LogState =
  | { readonly _tag: "Stat"; readonly key: string; readonly kind: "file" | "missing" | SpecialKind }
  | { readonly _tag: "Unknown"; readonly reason: string }

const kindOf = (stats: NodeFs.BigIntStats): "file" | SpecialKind => stats.isFile() ? "file" : kindOfStats(stats)

const logState = (path: string): LogState => {
  try {
    const stats = NodeFs.statSync(path, { bigint: true, throwIfNoEntry: false })
    if (stats === undefined) return { _tag: "Stat", key: "missing", kind: "missing" }
    const kind = kindOf(stats)
    return { _tag: "Stat", key: `${kind}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.ino}:${stats.dev}`, kind }
  } catch (error) {
    // EACCES on the folder, ENOTDIR, ELOOP…: the identity is unknown; the caller reads the log,
    // which reports the failure, and caches nothing about it.
    return { _tag: "Unknown", reason: error instanceof Error ? error.message : String(error) }
  }
}

/** The log's identity now (links followed, as reading the log follows them). */
export const statLog = (path: string): Effect.Effect<LogState> => Effect.sync(() => logState(path))

/** The identities of several logs, in one step. */
export const statLogs = (paths: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<LogState>> => Effect.sync(() => paths.map(logState))

// ---------------------------------------------------------------------------------------------
// The files
// ---------------------------------------------------------------------------------------------

/**
 * What `oompa list` shows of a run, and orders the runs by: its summary in one line (the summary's
 * fields of the same names; `workers` is how many).
 */
export const RunRow = Schema.Struct({
  runId: Schema.String,
  startedAt: Schema.optionalKey(Schema.Finite),
  outcome: RunSummary.RunOutcome,
  merged: Schema.Int,
  iterations: Schema.Int,
  workers: Schema.Int
})
export type RunRow = typeof RunRow.Type

/** The row of a summary. */
export const rowOf = (summary: RunSummary.RunSummary): RunRow => ({
  runId: summary.runId,
  ...(summary.startedAt === undefined ? {} : { startedAt: summary.startedAt }),
  outcome: summary.outcome,
  merged: summary.merged,
  iterations: summary.iterations,
  workers: summary.workers.length
})

/** Whether two rows say the same. */
export const sameRow = (a: RunRow, b: RunRow): boolean =>
  a.runId === b.runId && a.startedAt === b.startedAt && a.outcome === b.outcome && a.merged === b.merged &&
  a.iterations === b.iterations && a.workers === b.workers

/**
 * One run in the index: its log's key and row, or its log's key and why it cannot be read.
 */
export const IndexEntry = Schema.TaggedUnion({
  Summarized: { log: Schema.String, row: RunRow },
  Unreadable: { log: Schema.String, message: Schema.String }
})
export type IndexEntry = typeof IndexEntry.Type

const IndexFile = Schema.Struct({
  version: Schema.String,
  runs: Schema.Record(Schema.String, IndexEntry)
})

const SummaryFile = Schema.Struct({
  version: Schema.String,
  runId: Schema.String,
  log: Schema.String,
  summary: RunSummary.RunSummary
})

const decodeIndex = Schema.decodeUnknownResult(IndexFile)
const encodeIndex = Schema.encodeSync(IndexFile)
const decodeSummary = Schema.decodeUnknownResult(SummaryFile)
const encodeSummary = Schema.encodeSync(SummaryFile)

/** A cached file read back: its JSON, or why it is a miss. */
type Cached = { readonly _tag: "Json"; readonly json: unknown } | { readonly _tag: "Miss"; readonly reason: string }

// O_NOFOLLOW: a link in the cache's place is a miss, never followed. O_NONBLOCK: a FIFO opens at
// once instead of waiting for a writer (fstat then says what it is, and nothing is read).
const readFlags = NodeFs.constants.O_RDONLY | (NodeFs.constants.O_NOFOLLOW ?? 0) | (NodeFs.constants.O_NONBLOCK ?? 0)
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Reads `path` when it is a regular file of at most `cacheBytesMax` bytes of UTF-8 JSON. */
const readCached = (path: string): Cached => {
  let fd: number
  try {
    fd = NodeFs.openSync(path, readFlags)
  } catch (error) {
    return { _tag: "Miss", reason: error instanceof Error ? error.message : String(error) }
  }
  try {
    const stats = NodeFs.fstatSync(fd)
    if (!stats.isFile()) return { _tag: "Miss", reason: `${path} is not a regular file` }
    if (stats.size > cacheBytesMax) return { _tag: "Miss", reason: `${path} is ${stats.size} bytes, over ${cacheBytesMax}` }
    const bytes = Buffer.allocUnsafe(stats.size)
    let filled = 0
    while (filled < bytes.length) {
      const n = NodeFs.readSync(fd, bytes, filled, bytes.length - filled, null)
      if (n === 0) break
      filled += n
    }
    return { _tag: "Json", json: JSON.parse(utf8.decode(bytes.subarray(0, filled))) }
  } catch (error) {
    // An I/O error, bytes that are not UTF-8, text that is not JSON: all the same miss.
    return { _tag: "Miss", reason: `${path}: ${error instanceof Error ? error.message : String(error)}` }
  } finally {
    NodeFs.closeSync(fd)
  }
}

const miss = (reason: string) => Effect.logDebug(`run index: ${reason}; reading the log instead`)

/**
 * The index at `path`, by run id; empty when there is none or it cannot be used (the reason is
 * logged at debug level).
 */
export const readIndex = (path: string): Effect.Effect<ReadonlyMap<string, IndexEntry>> =>
  Effect.suspend(() => {
    const read = readCached(path)
    if (read._tag === "Miss") return Effect.as(miss(read.reason), new Map())
    const decoded = decodeIndex(read.json)
    if (Result.isFailure(decoded)) return Effect.as(miss(`${path} is not a run index`), new Map())
    if (decoded.success.version !== cacheVersion) return Effect.as(miss(`${path} was written by another oompa`), new Map())
    return Effect.succeed(new Map(Object.entries(decoded.success.runs)))
  })

/**
 * The summary of run `runId` cached at `path`, when it was derived from the log whose key is `key`
 * by this oompa; `undefined` otherwise (the reason is logged at debug level).
 */
export const readSummary = (path: string, runId: string, key: string): Effect.Effect<RunSummary.RunSummary | undefined> =>
  Effect.suspend(() => {
    const read = readCached(path)
    if (read._tag === "Miss") return Effect.as(miss(read.reason), undefined)
    const decoded = decodeSummary(read.json)
    if (Result.isFailure(decoded)) return Effect.as(miss(`${path} is not a run summary`), undefined)
    const file = decoded.success
    if (file.version !== cacheVersion) return Effect.as(miss(`${path} was written by another oompa`), undefined)
    if (file.runId !== runId || file.summary.runId !== runId) return Effect.as(miss(`${path} is about another run`), undefined)
    if (file.log !== key) return Effect.as(miss(`${path} is older than its log`), undefined)
    return Effect.succeed(file.summary)
  })

/**
 * A cache file that could not be written (a read-only checkout, a full disk, a folder in its place).
 *
 * @category errors
 */
export class RunIndexError extends Data.TaggedError("RunIndexError")<{ readonly path: string; readonly message: string }> {}

/** Replaces `target` with `text` in one step: a temp file beside it, then `rename`. */
const writeReplacing = (target: string, content: () => string): Effect.Effect<void, RunIndexError> =>
  Effect.try({
    try: () => {
      const text = content()
      if (Buffer.byteLength(text) > cacheBytesMax) throw new Error(`over ${cacheBytesMax} bytes: it would never be read back`)
      // A dot name is never a run id, so readers of the runs folder pass it by.
      const temp = NodePath.join(NodePath.dirname(target), `.${NodePath.basename(target)}.${process.pid}-${randomUUID()}.tmp`)
      try {
        NodeFs.writeFileSync(temp, text, { flag: "wx", mode: 0o644 })
        NodeFs.renameSync(temp, target)
      } catch (error) {
        // Half written (a full disk) or not renamed (a folder in the target's place): not left behind.
        NodeFs.rmSync(temp, { force: true })
        throw error
      }
    },
    catch: (error) => new RunIndexError({ path: target, message: error instanceof Error ? error.message : String(error) })
  })

/** Writes the index at `path` with `entries`. */
export const writeIndex = (path: string, entries: ReadonlyMap<string, IndexEntry>): Effect.Effect<void, RunIndexError> =>
  writeReplacing(path, () => `${JSON.stringify(encodeIndex({ version: cacheVersion, runs: Object.fromEntries(entries) }))}\n`)

/** Writes `summary`, derived from the log whose key is `key`, at `path`. */
export const writeSummary = (path: string, key: string, summary: RunSummary.RunSummary): Effect.Effect<void, RunIndexError> =>
  // Encoding throws on a summary its Schema refuses (a cost summed past the largest number): not cached.
  writeReplacing(path, () => `${JSON.stringify(encodeSummary({ version: cacheVersion, runId: summary.runId, log: key, summary }))}\n`)
