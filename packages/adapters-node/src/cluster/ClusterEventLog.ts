/**
 * A cluster run's merged run log (issue 21): every runner's events of the run, and the driver's, in
 * one table of the cluster's PostgreSQL, read back in one order. Each runner keeps its own
 * `events.jsonl` as well (its clone's `.oompa/runs/<run>/`); the driver copies the merged log into
 * the checkout the run was started from, so `oompa status`, `oompa view` and `oompa list` show a
 * cluster run as they show a run on one machine.
 *
 * **One order without gaps.** A reader that follows a `bigserial` misses rows whose transaction
 * commits after a later id's. Each row records its transaction (`pg_current_xact_id()`), and a
 * reader takes only rows of transactions older than every transaction still running
 * (`pg_snapshot_xmin`), in `(tx, id)` order: whatever it has read is final, and the next read
 * starts after it. Each runner's emit waits for its row, so an iteration's events are in the table
 * before its reply reaches the driver, and a runner's events keep their order.
 *
 * Events are stored as `json` (agents' text may hold U+0000, which `jsonb` and `text` refuse) and
 * decoded with the `Event` Schema on the way out: a row that does not decode becomes a `Warning`
 * naming it, never a hole in the log nor a crash of the reader.
 *
 * @since 0.1.0
 */
import { Event as EventModule, EventSink, SchemaProblems } from "@oompa/core"
import { Clock, Effect, Layer, Result, Schema, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { randomUUID } from "node:crypto"
import * as Project from "../Project.ts"
import * as Tables from "./tables.ts"

type Event = EventModule.Event

/** Who wrote the driver's own events (the run's start and end, each worker's). */
export const driver = "driver"

/** Where a reader has got to: the last row it read. */
export interface Cursor {
  readonly tx: string
  readonly id: string
}

/** The start of a log. */
export const start: Cursor = { tx: "0", id: "0" }

/** An event of the merged log, with who wrote it. */
export interface LoggedEvent {
  readonly runner: string
  readonly event: Event
}

const failed = Tables.failed

/** Creates the table unless it exists. */
export const ensure = Tables.ensure("oompa_events", (sql) => [
  sql`CREATE TABLE IF NOT EXISTS oompa_events (
    id bigserial PRIMARY KEY,
    tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    run_id text NOT NULL,
    runner text NOT NULL,
    key text NOT NULL UNIQUE,
    event json NOT NULL
  )`,
  sql`CREATE INDEX IF NOT EXISTS oompa_events_by_run ON oompa_events (run_id, tx, id)`
])

const encodeEvent = Schema.encodeSync(EventModule.Event)
const decodeEvent = Schema.decodeUnknownResult(EventModule.Event, { errors: "all" })

/**
 * Appends `event` of `runId`, written by `runner`. A database out of reach is tried for about six
 * seconds; then the event is left out of the merged log with a warning (the runner's own log has it).
 *
 * @category writing
 * @since 0.1.0
 */
export const append = (runId: string, runner: string, event: Event): Effect.Effect<void, never, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const text = JSON.stringify(encodeEvent(event))
    // Tried again after a lost answer (its commit may have happened), the row is not written twice.
    const key = randomUUID()
    yield* sql`INSERT INTO oompa_events (run_id, runner, key, event) VALUES (${runId}, ${runner}, ${key}, ${text}::json) ON CONFLICT (key) DO NOTHING`.pipe(
      Effect.retry({ times: 6, schedule: Schedule.exponential("100 millis") }),
      Effect.catch((e) => Effect.logWarning(`run ${runId}: a ${event._tag} event of ${runner} is missing from the merged run log (the runner's own log has it): ${e.message}`))
    )
  })

/**
 * The run's events as `runner` emits them, appended to the merged log (its table already made: `ensure`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (runId: string, runner: string): Effect.Effect<EventSink.EventSink["Service"], never, SqlClient> =>
  Effect.map(Effect.context<SqlClient>(), (services) =>
    EventSink.EventSink.of({ emit: (event) => Effect.provideContext(append(runId, runner, event), services) }))

/**
 * {@link make} as a layer, the table made first.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (runId: string, runner: string): Layer.Layer<EventSink.EventSink, Project.SetupError, SqlClient> =>
  Layer.effect(EventSink.EventSink, Effect.andThen(ensure, make(runId, runner)))

/**
 * The events of `runId` after `cursor`, at most `limit`, in the log's order, with the cursor after
 * them. `settled` (the default) reads only rows no running transaction can still precede; without
 * it, every row committed now (for a last read, once every writer has finished).
 *
 * @category reading
 * @since 0.1.0
 */
export const readAfter = (runId: string, cursor: Cursor, options: { readonly limit?: number; readonly settled?: boolean } = {}) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const limit = options.limit ?? 500
    const rows = yield* (options.settled === false
      ? sql<{ id: string; tx: string; runner: string; event: unknown }>`
          SELECT id::text AS id, tx::text AS tx, runner, event FROM oompa_events
          WHERE run_id = ${runId} AND (tx, id) > (${cursor.tx}::xid8, ${cursor.id}::bigint)
          ORDER BY tx, id LIMIT ${limit}`
      : sql<{ id: string; tx: string; runner: string; event: unknown }>`
          SELECT id::text AS id, tx::text AS tx, runner, event FROM oompa_events
          WHERE run_id = ${runId} AND (tx, id) > (${cursor.tx}::xid8, ${cursor.id}::bigint)
            AND tx < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY tx, id LIMIT ${limit}`).pipe(Effect.mapError(failed(`reading run ${runId}'s events`)))
    const now = yield* Clock.currentTimeMillis
    const events = rows.map((row): LoggedEvent => {
      const decoded = decodeEvent(typeof row.event === "string" ? safeParse(row.event) : row.event)
      if (Result.isSuccess(decoded)) return { runner: row.runner, event: decoded.success }
      // The database is trusted, but a row from another version of oompa must not stop the log.
      return {
        runner: row.runner,
        event: { _tag: "Warning", at: now, message: `event ${row.id} of ${row.runner} in the cluster's database is not an event this oompa reads: ${SchemaProblems.formatIssue(decoded.failure.issue)}` }
      }
    })
    const last = rows[rows.length - 1]
    return { events, cursor: last === undefined ? cursor : { tx: last.tx, id: last.id } }
  })

const safeParse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * Every event of `runId`, in the log's order (the last read is not held back by running transactions).
 *
 * @category reading
 * @since 0.1.0
 */
export const readAll = (runId: string) =>
  Effect.gen(function*() {
    yield* ensure
    const all: Array<LoggedEvent> = []
    let cursor = start
    for (;;) {
      const page = yield* readAfter(runId, cursor, { limit: 1000, settled: false })
      all.push(...page.events)
      if (page.events.length === 0) return all
      cursor = page.cursor
    }
  })
