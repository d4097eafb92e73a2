/**
 * What a cluster is doing (issue 21), read from its PostgreSQL: the runners registered with it
 * (Effect Cluster's `cluster_runners`), the latest runs with their tasks by status, and where each
 * worker slot of the latest run last ran. `oompa cluster status` prints it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Project from "../Project.ts"
import * as RunTable from "./RunTable.ts"
import * as Tables from "./tables.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface ClusterStatus {
  readonly runners: ReadonlyArray<{ readonly address: string; readonly healthy: boolean; readonly lastHeartbeat: Date }>
  readonly runs: ReadonlyArray<{
    readonly runId: string
    readonly startedAt: Date
    readonly finishedAt: Date | null
    readonly tasks: Readonly<Record<string, number>>
  }>
  /** The run whose worker slots `workers` lists: the one asked for, or the newest. */
  readonly workersOf: string | undefined
  /** The worker slots of that run, and the runner each last ran on. */
  readonly workers: ReadonlyArray<RunTable.WorkerRow>
}

const failed = Tables.failed

/**
 * Reads the cluster's status: the `runs` newest runs (5), and the worker slots of `run` (default: the newest).
 *
 * @category programs
 * @since 0.1.0
 */
export const read = (options: { readonly runs?: number; readonly run?: string } = {}): Effect.Effect<ClusterStatus, Project.SetupError, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    // The runners' table is Effect Cluster's, created by the first runner: none yet, none to show.
    const [registered] = yield* sql<{ present: boolean }>`SELECT to_regclass('cluster_runners') IS NOT NULL AS present`.pipe(Effect.mapError(failed("looking for runners")))
    const runners = registered?.present === true
      ? yield* sql<{ address: string; healthy: boolean; last_heartbeat: Date }>`
          SELECT address, healthy, last_heartbeat FROM cluster_runners ORDER BY address`.pipe(Effect.mapError(failed("reading runners")))
      : []
    const all = yield* RunTable.list
    const listed = all.slice(0, options.runs ?? 5)
    const [hasTasks] = yield* sql<{ present: boolean }>`SELECT to_regclass('oompa_tasks') IS NOT NULL AS present`.pipe(Effect.mapError(failed("looking for tasks")))
    const withTasks = yield* Effect.forEach(listed, (run) =>
      Effect.gen(function*() {
        const counts = hasTasks?.present === true
          ? yield* sql<{ status: string; n: number }>`SELECT status, count(*)::int AS n FROM oompa_tasks WHERE queue = ${run.runId} GROUP BY status`.pipe(
            Effect.mapError(failed(`counting run ${run.runId}'s tasks`))
          )
          : []
        return { runId: run.runId, startedAt: run.startedAt, finishedAt: run.finishedAt, tasks: Object.fromEntries(counts.map((c) => [c.status, c.n])) }
      }))
    // A run the cluster does not have (one of this machine's own) has no worker slots there.
    const workersOf = options.run ?? listed[0]?.runId
    return {
      runners: runners.map((r) => ({ address: r.address, healthy: r.healthy, lastHeartbeat: r.last_heartbeat })),
      runs: withTasks,
      workersOf,
      workers: workersOf === undefined || !all.some((r) => r.runId === workersOf) ? [] : yield* RunTable.workers(workersOf)
    } satisfies ClusterStatus
  })

/**
 * The status as lines for a terminal.
 *
 * @category formatting
 * @since 0.1.0
 */
export const lines = (status: ClusterStatus): ReadonlyArray<string> => [
  `runners: ${status.runners.length === 0 ? "none registered" : ""}`,
  ...status.runners.map((r) => `  ${r.address.padEnd(22)} ${r.healthy ? "healthy" : "unhealthy"}, last heartbeat ${r.lastHeartbeat.toISOString()}`),
  `runs: ${status.runs.length === 0 ? "none" : ""}`,
  ...status.runs.map((r) => {
    const tasks = ["pending", "current", "complete", "failed"].map((s) => `${r.tasks[s] ?? 0} ${s}`).join(", ")
    return `  ${r.runId} ${r.finishedAt === null ? "running " : "finished"} ${r.startedAt.toISOString()}  ${tasks}`
  }),
  ...(status.workersOf === undefined ? [] : status.workers.length === 0 ? [`workers of ${status.workersOf}: none on this cluster`] : [
    `workers of ${status.workersOf}:`,
    ...status.workers.map((w) => `  ${w.worker.padEnd(12)} on ${w.runner.padEnd(22)} ${w.iterations} iteration(s), last ${w.lastOutcome}`)
  ])
]
