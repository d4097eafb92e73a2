/**
 * A cluster run's budget (issue 21, SPEC F15): `budget` and each worker's limits count every
 * runner's agent calls, not one runner's. Each runner's `BudgetTracker` records its calls in
 * PostgreSQL (`oompa_run_spend`, a row per worker slot, bumped in one statement) and checks the
 * run's sums there before every call; wall time is the database's own (`now()` against the run's
 * `started_at` and the slot's first check), so runners' clocks need not agree.
 *
 * As on one machine, a limit stops new calls, not calls in flight: runners checking at the same
 * moment may each start one more. Totals for a summary (tokens, estimated dollars, harnesses that
 * reported no cost) stay the runner's own tracker's.
 *
 * @since 0.1.0
 */
import { type Budget, BudgetTracker, type SwarmConfig } from "@oompa/core"
import { Effect, Option, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Project from "../Project.ts"
import * as Tables from "./tables.ts"

type Tracker = BudgetTracker.BudgetTracker["Service"]

const failed = Tables.failed

/** Creates the table unless it exists. */
export const ensure = Tables.ensure("oompa_run_spend", (sql) => [
  sql`CREATE TABLE IF NOT EXISTS oompa_run_spend (
    run_id text NOT NULL,
    worker text NOT NULL,
    calls integer NOT NULL DEFAULT 0,
    cost_usd double precision NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, worker)
  )`
])

/**
 * A database that does not answer is tried for about six seconds; then the call dies, the cause
 * named: a tracker cannot fail, and counting nothing would let a run spend without limit.
 */
const retried = <A>(what: string, effect: Effect.Effect<A, { readonly message: string }>) =>
  effect.pipe(
    Effect.retry({ times: 6, schedule: Schedule.exponential("100 millis") }),
    Effect.catch((e) => Effect.die(new Error(`the cluster's database: ${what}: ${e.message}`)))
  )

const limits = (budget: Budget.Budget) => budget.max_agent_calls !== undefined || budget.max_cost_usd !== undefined || budget.max_wall_seconds !== undefined

/**
 * The run's tracker on this runner: `local` keeps the runner's own totals, PostgreSQL the run's spend.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (runId: string, config: SwarmConfig.SwarmConfig, local: Tracker): Effect.Effect<Tracker, never, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    // The first run-level limit this runner saw spent: from then on, nothing new starts here.
    let spent = Option.none<Budget.BudgetName>()
    const check: Tracker["check"] = (worker, workerBudget) =>
      Effect.gen(function*() {
        if (Option.isSome(spent)) return spent
        if (!limits(config.budget) && !limits(workerBudget)) return Option.none()
        const rows = yield* sql<{ run_calls: number; run_cost: number; run_seconds: number; calls: number; cost: number; seconds: number }>`
          WITH mine AS (
            INSERT INTO oompa_run_spend (run_id, worker) VALUES (${runId}, ${worker})
            ON CONFLICT (run_id, worker) DO UPDATE SET worker = EXCLUDED.worker
            RETURNING calls, cost_usd, started_at
          )
          SELECT
            coalesce((SELECT sum(calls) FROM oompa_run_spend WHERE run_id = ${runId}), 0)::int AS run_calls,
            coalesce((SELECT sum(cost_usd) FROM oompa_run_spend WHERE run_id = ${runId}), 0)::float8 AS run_cost,
            coalesce((SELECT extract(epoch FROM now() - started_at) FROM oompa_runs WHERE run_id = ${runId}), 0)::float8 AS run_seconds,
            mine.calls::int AS calls, mine.cost_usd::float8 AS cost, extract(epoch FROM now() - mine.started_at)::float8 AS seconds
          FROM mine`.pipe((query) => retried(`checking run ${runId}'s budget`, query))
        const row = rows[0]
        if (row === undefined) return Option.none()
        const runLimit = BudgetTracker.exceeded(config.budget, { calls: row.run_calls, costUsd: row.run_cost }, row.run_seconds)
        if (Option.isSome(runLimit)) {
          spent = runLimit
          return runLimit
        }
        return BudgetTracker.exceeded(workerBudget, { calls: row.calls, costUsd: row.cost }, row.seconds)
      })
    const record: Tracker["record"] = (worker, call) =>
      Effect.andThen(
        local.record(worker, call),
        Effect.asVoid(retried(`recording a call of run ${runId}`, sql`
          INSERT INTO oompa_run_spend (run_id, worker, calls, cost_usd) VALUES (${runId}, ${worker}, 1, ${call.costUsd ?? 0})
          ON CONFLICT (run_id, worker) DO UPDATE SET calls = oompa_run_spend.calls + 1, cost_usd = oompa_run_spend.cost_usd + EXCLUDED.cost_usd`))
      )
    return { check, record, spent: Effect.sync(() => spent), totals: local.totals } satisfies Tracker
  })

/**
 * The run-level limit of `budget` that the whole run (every runner) has spent, if any: what the
 * driver reports as the limit that ended the run.
 *
 * @category reading
 * @since 0.1.0
 */
export const runSpent = (runId: string, budget: Budget.Budget) =>
  Effect.gen(function*() {
    if (!limits(budget)) return Option.none<Budget.BudgetName>()
    const sql = yield* SqlClient
    const rows = yield* sql<{ calls: number; cost: number; seconds: number }>`
      SELECT coalesce(sum(s.calls), 0)::int AS calls, coalesce(sum(s.cost_usd), 0)::float8 AS cost,
        extract(epoch FROM max(r.finished_at) - max(r.started_at))::float8 AS seconds
      FROM oompa_runs r LEFT JOIN oompa_run_spend s ON s.run_id = r.run_id
      WHERE r.run_id = ${runId}`.pipe(Effect.mapError(failed(`reading run ${runId}'s spend`)))
    const row = rows[0]
    return row === undefined ? Option.none<Budget.BudgetName>() : BudgetTracker.exceeded(budget, { calls: row.calls, costUsd: row.cost }, row.seconds ?? 0)
  })
