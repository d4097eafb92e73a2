/**
 * The engine of `JsonlEventLog.readHistory` and `readHistoryRows` (see there): which runs' logs to
 * read, given what the run index (`runIndex.ts`) recorded and what `stat` says of each log now; the
 * order of the runs; which summaries to load; what to write back.
 *
 * The log reader is passed in (`JsonlEventLog.readEvents`), so that a run whose log cannot be read
 * is skipped with exactly the message that reader gives.
 *
 * @since 0.1.0
 */
import { type Event, Ids, RunSummary } from "@oompa/core"
import { Effect, FileSystem, Result } from "effect"
import type { History, HistorySelection } from "../JsonlEventLog.ts"
import * as RunPaths from "../RunPaths.ts"
import * as RunIndex from "./runIndex.ts"

/** Reads a whole run log: its events, or a failure whose message says why not. */
export type ReadLog = (file: string) => Effect.Effect<ReadonlyArray<Event.Event>, { readonly message: string }, FileSystem.FileSystem>

type RunRow = RunIndex.RunRow

/** Which runs, and which one is live (its log grows: it is read on every call, and never cached). */
type Options = { readonly select: HistorySelection; readonly liveRunId: string | undefined }

/** What is known of one run: its row (and summary, once needed), or why its log cannot be read. */
type Known =
  | { readonly _tag: "Summarized"; readonly row: RunRow; readonly summary: RunSummary.RunSummary | undefined }
  | { readonly _tag: "Unreadable"; readonly message: string }

interface RunState {
  /** The log as `stat` saw it before it was read (or found in the index). */
  readonly log: RunIndex.LogState
  readonly known: Known
  /** Read from the log in this call, not taken from the index. */
  readonly fresh: boolean
  /** `known` may be cached: the log did not change while it was read, and it is not the live run's. */
  readonly cacheable: boolean
}

/** Reads and summarises one run's log; a FIFO, socket or device in its place is not read (it may never end). */
const readRun = Effect.fnUntraced(function*(read: ReadLog, file: string, runId: Ids.RunId, log: RunIndex.LogState, live: boolean) {
  if (log._tag === "Unknown") yield* Effect.logDebug(`run index: cannot stat ${file} (${log.reason}); reading it, caching nothing`)
  let known: Known
  if (log._tag === "Stat" && log.kind !== "file" && log.kind !== "missing" && log.kind !== "folder") {
    known = { _tag: "Unreadable", message: `${file} is a ${log.kind}, not a run log; it was not read` }
  } else {
    const events = yield* Effect.result(read(file))
    if (Result.isFailure(events)) {
      known = { _tag: "Unreadable", message: events.failure.message }
    } else {
      const summary = RunSummary.summarize(runId, events.success)
      known = { _tag: "Summarized", row: RunIndex.rowOf(summary), summary }
    }
  }
  const after = yield* RunIndex.statLog(file)
  const cacheable = !live && log._tag === "Stat" && after._tag === "Stat" && after.key === log.key
  return { log, known, fresh: true, cacheable } satisfies RunState
})

const fromEntry = (entry: RunIndex.IndexEntry): Known =>
  entry._tag === "Summarized" ? { _tag: "Summarized", row: entry.row, summary: undefined } : { _tag: "Unreadable", message: entry.message }

const toEntry = (key: string, known: Known): RunIndex.IndexEntry =>
  known._tag === "Summarized" ? { _tag: "Summarized", log: key, row: known.row } : { _tag: "Unreadable", log: key, message: known.message }

const sameEntry = (a: RunIndex.IndexEntry | undefined, b: RunIndex.IndexEntry): boolean =>
  a !== undefined && a.log === b.log &&
  (a._tag === "Summarized" ? b._tag === "Summarized" && RunIndex.sameRow(a.row, b.row) : b._tag === "Unreadable" && a.message === b.message)

/** The runs `selection` names, newest first; a stable sort keeps the folder's order among equal starts. */
const select = (ids: ReadonlyArray<Ids.RunId>, runs: ReadonlyMap<Ids.RunId, RunState>, selection: HistorySelection): ReadonlyArray<Ids.RunId> => {
  const newest = ids.flatMap((runId) => {
    const known = runs.get(runId)!.known
    return known._tag === "Summarized" ? [{ runId, startedAt: known.row.startedAt ?? 0 }] : []
  }).sort((a, b) => b.startedAt - a.startedAt).map((r) => r.runId)
  return selection._tag === "Newest" ? newest.slice(0, Math.max(0, selection.count)) : newest.filter((runId) => runId === selection.runId)
}

const notCached = (e: RunIndex.RunIndexError) => Effect.logDebug(`run index: cannot write ${e.path} (${e.message}); the next call reads the log again`)

/** The selected runs, with their summaries when `summaries` (see `JsonlEventLog.readHistory`). */
const history = Effect.fnUntraced(function*(
  read: ReadLog,
  paths: RunPaths.RunPaths,
  options: Options,
  summaries: boolean
) {
  const fs = yield* FileSystem.FileSystem
  // No runs folder yet (or one that cannot be listed): no runs.
  const names: ReadonlyArray<string> = yield* fs.readDirectory(paths.runsDir).pipe(Effect.orElseSucceed(() => []))
  const ids: ReadonlyArray<Ids.RunId> = names.filter(Ids.isRunId)
  const runs = new Map<Ids.RunId, RunState>()
  if (ids.length === 0) return { ids, runs, chosen: [] }
  const indexPath = RunPaths.runIndexPath(paths)
  const index = yield* RunIndex.readIndex(indexPath)
  const files = ids.map((runId) => RunPaths.eventsPath(paths, runId))
  const logs = yield* RunIndex.statLogs(files)
  for (const [i, runId] of ids.entries()) {
    const file = files[i]!
    const log = logs[i]!
    const entry = index.get(runId)
    const live = runId === options.liveRunId
    runs.set(
      runId,
      !live && entry !== undefined && log._tag === "Stat" && log.key === entry.log && (entry._tag === "Unreadable" || entry.row.runId === runId)
        ? { log, known: fromEntry(entry), fresh: false, cacheable: true }
        : yield* readRun(read, file, runId, log, live)
    )
  }
  // The selected runs' summaries. A run the index ordered whose summary file is a miss (or does not
  // say what the index said) is read again; if its log then says otherwise, the order is made again.
  let chosen = select(ids, runs, options.select)
  for (let settled = !summaries; !settled;) {
    settled = true
    for (const runId of chosen) {
      const run = runs.get(runId)!
      if (run.known._tag !== "Summarized" || run.known.summary !== undefined) continue
      const cached = run.log._tag === "Stat" ? yield* RunIndex.readSummary(RunPaths.summaryPath(paths, runId), runId, run.log.key) : undefined
      if (cached !== undefined && RunIndex.sameRow(RunIndex.rowOf(cached), run.known.row)) {
        runs.set(runId, { ...run, known: { ...run.known, summary: cached } })
        continue
      }
      const again = yield* readRun(read, RunPaths.eventsPath(paths, runId), runId, run.log, runId === options.liveRunId)
      runs.set(runId, again)
      if (again.known._tag !== "Summarized" || !RunIndex.sameRow(again.known.row, run.known.row)) {
        chosen = select(ids, runs, options.select)
        settled = false
        break
      }
    }
  }
  // What this call learnt, for the next one.
  const entries = new Map<string, RunIndex.IndexEntry>()
  for (const runId of ids) {
    const run = runs.get(runId)!
    if (run.cacheable && run.log._tag === "Stat") entries.set(runId, toEntry(run.log.key, run.known))
  }
  if (entries.size !== index.size || [...entries].some(([runId, entry]) => !sameEntry(index.get(runId), entry))) {
    yield* RunIndex.writeIndex(indexPath, entries).pipe(Effect.catchTag("RunIndexError", notCached))
  }
  for (const runId of ids) {
    const run = runs.get(runId)!
    if (run.fresh && run.cacheable && run.log._tag === "Stat" && run.known._tag === "Summarized" && run.known.summary !== undefined) {
      yield* RunIndex.writeSummary(RunPaths.summaryPath(paths, runId), run.log.key, run.known.summary).pipe(Effect.catchTag("RunIndexError", notCached))
    }
  }
  return { ids, runs, chosen }
})

const skippedOf = (ids: ReadonlyArray<Ids.RunId>, runs: ReadonlyMap<Ids.RunId, RunState>): History<never>["skipped"] =>
  ids.flatMap((runId) => {
    const known = runs.get(runId)!.known
    return known._tag === "Unreadable" ? [{ runId, message: known.message }] : []
  })

const summarized = (runs: ReadonlyMap<Ids.RunId, RunState>, runId: Ids.RunId) => {
  const known = runs.get(runId)!.known
  if (known._tag !== "Summarized") throw new Error(`assertion failed: run ${runId} was selected with an unreadable log`)
  return known
}

/** The selected runs' summaries. */
export const summaries = (read: ReadLog, paths: RunPaths.RunPaths, options: Options): Effect.Effect<History<RunSummary.RunSummary>, never, FileSystem.FileSystem> =>
  Effect.map(history(read, paths, options, true), ({ chosen, ids, runs }) => ({
    runs: chosen.map((runId) => {
      const summary = summarized(runs, runId).summary
      if (summary === undefined) throw new Error(`assertion failed: run ${runId} was selected without its summary`)
      return summary
    }),
    skipped: skippedOf(ids, runs)
  }))

/** The selected runs' rows. */
export const rows = (read: ReadLog, paths: RunPaths.RunPaths, options: Options): Effect.Effect<History<RunRow>, never, FileSystem.FileSystem> =>
  Effect.map(history(read, paths, options, false), ({ chosen, ids, runs }) => ({ runs: chosen.map((runId) => summarized(runs, runId).row), skipped: skippedOf(ids, runs) }))
