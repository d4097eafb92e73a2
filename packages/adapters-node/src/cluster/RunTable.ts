/**
 * The runs of a cluster, in PostgreSQL (issue 21): `oompa swarm --cluster` writes a run's
 * oompa.json there when it starts the run, and each runner reads it on the run's first message,
 * so every runner runs the configuration the run was started with, not its own clone's.
 *
 * Internal: used by `ClusterRunner` and `ClusterSwarm`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Project from "../Project.ts"
import * as Tables from "./tables.ts"

/** A run as the table has it. */
export interface RunRow {
  readonly runId: string
  /** The oompa.json text the run was started with. */
  readonly config: string
  readonly startedAt: Date
  readonly finishedAt: Date | null
}

const failed = Tables.failed

/** Creates the tables unless they exist. */
export const ensure = Tables.ensure("oompa_runs", (sql) => [
  sql`CREATE TABLE IF NOT EXISTS oompa_runs (
    run_id text PRIMARY KEY,
    config text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
  )`,
  // Where each worker slot last ran, as the driver heard it: what `oompa cluster status` shows.
  sql`CREATE TABLE IF NOT EXISTS oompa_run_workers (
    run_id text NOT NULL,
    worker text NOT NULL,
    runner text NOT NULL,
    iterations integer NOT NULL,
    last_outcome text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, worker)
  )`
])

/** Records a new run. */
export const insert = (runId: string, config: string) =>
  Effect.gen(function*() {
    yield* ensure
    const sql = yield* SqlClient
    yield* sql`INSERT INTO oompa_runs (run_id, config) VALUES (${runId}, ${config})`.pipe(Effect.mapError(failed(`recording run ${runId}`)))
  })

/** Marks the run finished. */
export const finish = (runId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`UPDATE oompa_runs SET finished_at = now() WHERE run_id = ${runId}`.pipe(Effect.mapError(failed(`finishing run ${runId}`)))
  })

/** The run `runId`; a run the table does not have fails. */
export const read = (runId: string) =>
  Effect.gen(function*() {
    yield* ensure
    const sql = yield* SqlClient
    const rows = yield* sql<{ run_id: string; config: string; started_at: Date; finished_at: Date | null }>`
      SELECT run_id, config, started_at, finished_at FROM oompa_runs WHERE run_id = ${runId}`.pipe(Effect.mapError(failed(`reading run ${runId}`)))
    const row = rows[0]
    if (row === undefined) return yield* Effect.fail(new Project.SetupError({ reason: "remote", message: `the cluster's database has no run ${runId}` }))
    return { runId: row.run_id, config: row.config, startedAt: row.started_at, finishedAt: row.finished_at } satisfies RunRow
  })

/** Records where `worker` of `runId` last ran, and what came of it. */
export const recordWorker = (runId: string, worker: string, runner: string, iterations: number, outcome: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`INSERT INTO oompa_run_workers (run_id, worker, runner, iterations, last_outcome) VALUES (${runId}, ${worker}, ${runner}, ${iterations}, ${outcome})
      ON CONFLICT (run_id, worker) DO UPDATE SET runner = EXCLUDED.runner, iterations = EXCLUDED.iterations, last_outcome = EXCLUDED.last_outcome, updated_at = now()`.pipe(
      Effect.mapError(failed(`recording worker ${worker} of run ${runId}`))
    )
  })

/** A worker slot of a run, as last heard. */
export interface WorkerRow {
  readonly worker: string
  readonly runner: string
  readonly iterations: number
  readonly lastOutcome: string
}

/** The worker slots of `runId`, by name. */
export const workers = (runId: string) =>
  Effect.gen(function*() {
    yield* ensure
    const sql = yield* SqlClient
    const rows = yield* sql<{ worker: string; runner: string; iterations: number; last_outcome: string }>`
      SELECT worker, runner, iterations, last_outcome FROM oompa_run_workers WHERE run_id = ${runId} ORDER BY worker`.pipe(Effect.mapError(failed(`reading run ${runId}'s workers`)))
    return rows.map((row): WorkerRow => ({ worker: row.worker, runner: row.runner, iterations: row.iterations, lastOutcome: row.last_outcome }))
  })

/** Every run, newest first. */
export const list = Effect.gen(function*() {
  yield* ensure
  const sql = yield* SqlClient
  const rows = yield* sql<{ run_id: string; config: string; started_at: Date; finished_at: Date | null }>`
    SELECT run_id, config, started_at, finished_at FROM oompa_runs ORDER BY started_at DESC`.pipe(Effect.mapError(failed("listing runs")))
  return rows.map((row): RunRow => ({ runId: row.run_id, config: row.config, startedAt: row.started_at, finishedAt: row.finished_at }))
})
