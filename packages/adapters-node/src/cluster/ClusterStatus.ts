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
  /** The worker slots of the newest run, and the runner each last ran on. */
  readonly workers: ReadonlyArray<RunTable.WorkerRow>
}

const failed = (what: string) => (cause: { readonly message: string }) =>
  new Project.SetupError({ reason: "remote", message: `the cluster's database: ${what}: ${cause.message}` })

/**
 * Reads the cluster's status; `runs` of the newest runs.
 *
 * @category programs
 * @since 0.1.0
 */
export const read = (runs = 5): Effect.Effect<ClusterStatus, Project.SetupError, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    // The runners' table is Effect Cluster's, created by the first runner: none yet, none to show.
    const [registered] = yield* sql<{ present: boolean }>`SELECT to_regclass('cluster_runners') IS NOT NULL AS present`.pipe(Effect.mapError(failed("looking for runners")))
    const runners = registered?.present === true
      ? yield* sql<{ address: string; healthy: boolean; last_heartbeat: Date }>`
          SELECT address, healthy, last_heartbeat FROM cluster_runners ORDER BY address`.pipe(Effect.mapError(failed("reading runners")))
      : []
    const listed = (yield* RunTable.list).slice(0, runs)
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
    const newest = listed[0]
    return {
      runners: runners.map((r) => ({ address: r.address, healthy: r.healthy, lastHeartbeat: r.last_heartbeat })),
      runs: withTasks,
      workers: newest === undefined ? [] : yield* RunTable.workers(newest.runId)
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
  ...(status.workers.length === 0 ? [] : [
    `workers of ${status.runs[0]?.runId}:`,
    ...status.workers.map((w) => `  ${w.worker.padEnd(12)} on ${w.runner.padEnd(22)} ${w.iterations} iteration(s), last ${w.lastOutcome}`)
  ])
]
