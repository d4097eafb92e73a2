/**
 * What oompa's tables in the cluster's PostgreSQL share: how their failures are named, and how they
 * are made on first use by runners and drivers starting together.
 *
 * Internal: used by `RunTable`, `ClusterEventLog`, `ClusterBudget` and `ClusterStatus`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as Project from "../Project.ts"

/** A failure of the cluster's database while doing `what`, as a setup error naming it. */
export const failed = (what: string) => (cause: { readonly message: string }) =>
  new Project.SetupError({ reason: "remote", message: `the cluster's database: ${what}: ${cause.message}` })

/**
 * Runs `statements` (each idempotent: `CREATE … IF NOT EXISTS`) in one transaction under an
 * advisory lock named `table`, so concurrent creators wait for each other instead of colliding.
 */
export const ensure = (table: string, statements: (sql: SqlClient) => ReadonlyArray<Effect.Effect<unknown, { readonly message: string }>>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext(${table}))`
      for (const statement of statements(sql)) yield* statement
    }))
  }).pipe(Effect.mapError(failed(`creating ${table}`)))
