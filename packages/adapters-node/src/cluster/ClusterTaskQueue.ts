/**
 * The task queue in PostgreSQL (issue 21, `docs/cluster.md`): `@oompa/core`'s `TaskQueue` for the
 * runners of cluster mode, many processes on many machines claiming from one table through
 * `effect/sql` (`SqlClient`, provided by `@effect/sql-pg`'s `PgClient.layer`).
 *
 * Observably the same queue as `MemoryTaskQueue` (its model in the tests): same claim order,
 * attempts, feedback, merge sha, dependency judgements and `invalid/` records.
 *
 * **Tables** (`schemaStatements`, created on first use; each row names its `queue`):
 * - `oompa_tasks`, key `(queue, id)`: `body` is the encoded task and the truth; `priority` and
 *   `dependencies` are copies for SQL. A task set aside moves to `oompa_invalid` (`invalid/`).
 * - `oompa_suspects`: the pending tasks `settleBlocked` must judge (as `ReadyTasks` keeps them),
 *   apart from the tasks, so marking one never locks a row a claim may want.
 * Agents' text is stored as `json`: `jsonb` and `text` refuse U+0000.
 *
 * **Atomicity comes from the database**, never from process memory:
 * - a claim is one transaction whose `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED
 *   LIMIT 1)` takes the first ready pending task in claim order (priority, then id in byte order,
 *   as `Task.claimOrder`): each claimer locks a different row, none waits for another, and a row
 *   claimed meanwhile is skipped, never handed out twice;
 * - every other move locks its row and checks its status: a second completion is a no-op;
 * - `settleBlocked` runs under a per-queue advisory lock, table creation under another;
 * - a transaction aborted for a deadlock, a serialization failure or a lost connection is run again.
 *
 * `claimed_by` is for `releaseClaimsOf` and `takesBackHeld`. Errors are `TaskQueueError`s naming
 * the operation, the task and the server's words, any URL's password masked.
 *
 * @since 0.1.0
 */
import { Errors, Ids, Task as TaskModule, TaskDependencies, TaskQueue as TaskQueueModule } from "@oompa/core"
import { Effect, Layer, Option, Schedule, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { isSqlError, type SqlError } from "effect/sql/SqlError"

type Task = TaskModule.Task
type TaskStatus = TaskModule.TaskStatus
type TaskQueue = TaskQueueModule.TaskQueue
type Sql = SqlClient

/** @category models @since 0.1.0 */
export interface Options {
  /** The queue's name: the queues of several projects can share one database. */
  readonly queue: string
  /** Who claims (a runner, say): recorded on each claim for `releaseClaimsOf`. */
  readonly claimedBy: string
  /**
   * Whether a claim first takes back a task `claimedBy` already holds. A claimer named by a
   * message's key (a cluster's iteration) is delivered again after its runner died: its copy gets
   * the task the first delivery claimed, which nobody else would ever give back.
   */
  readonly takesBackHeld?: boolean | undefined
}

/** A record of `invalid/`: a task file that could not be read, or a task set aside, with the reason. @category models @since 0.1.0 */
export interface InvalidRecord {
  readonly name: string
  readonly content: string
  readonly reason: string
}

/**
 * The statements creating the tables: each is idempotent; they run under one advisory lock.
 *
 * @category constants
 * @since 0.1.0
 */
export const schemaStatements: ReadonlyArray<string> = [
  // Ids in byte order (`COLLATE "C"`), as `Task.claimOrder` compares them, whatever the database's locale.
  `CREATE TABLE IF NOT EXISTS oompa_tasks (
    queue text NOT NULL, id text COLLATE "C" NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'current', 'complete', 'failed')),
    priority bigint NOT NULL, dependencies text[] NOT NULL, body json NOT NULL, attempts integer NOT NULL DEFAULT 0,
    claimed_by text, claimed_at timestamptz, merged_sha text,
    PRIMARY KEY (queue, id))`,
  // Claims and `ready` read the pending tasks in claim order.
  `CREATE INDEX IF NOT EXISTS oompa_tasks_claim ON oompa_tasks (queue, priority, id) WHERE status = 'pending'`,
  // The pending tasks naming a task (to mark them touched): empty while no task has dependencies.
  `CREATE INDEX IF NOT EXISTS oompa_tasks_dependents ON oompa_tasks USING gin (dependencies)
    WHERE status = 'pending' AND cardinality(dependencies) > 0`,
  `CREATE INDEX IF NOT EXISTS oompa_tasks_claimed ON oompa_tasks (queue, claimed_by) WHERE status = 'current'`,
  `CREATE TABLE IF NOT EXISTS oompa_suspects (
    queue text NOT NULL, id text COLLATE "C" NOT NULL, fresh boolean NOT NULL, touched boolean NOT NULL,
    PRIMARY KEY (queue, id))`,
  `CREATE TABLE IF NOT EXISTS oompa_invalid (queue text NOT NULL, seq bigserial NOT NULL, entry json NOT NULL, PRIMARY KEY (queue, seq))`
]

/** The advisory-lock space of this module (`'oomp'` as an int4), with one key per purpose. */
const lockSpace = 0x6f6f6d70
const schemaLockKey = 0

/** A pending task `t` is ready when no dependency of it is outside `complete`. */
const readyClause = `NOT EXISTS (
  SELECT 1 FROM unnest(t.dependencies) AS d(id)
  WHERE NOT EXISTS (SELECT 1 FROM oompa_tasks c WHERE c.queue = t.queue AND c.id = d.id AND c.status = 'complete'))`

const encodeTask = Schema.encodeSync(TaskModule.Task)
const decodeTask = Schema.decodeUnknownEffect(TaskModule.Task)

/** The body column's text. */
const bodyOf = (task: Task): string => JSON.stringify(encodeTask(task))

/** A task's file as the folder queue writes it, for the record of a task set aside (as `MemoryTaskQueue`). */
const taskFileText = (task: Task): string => `${JSON.stringify(encodeTask(task), null, 2)}\n`

/** Masks the password of any URL in `text` (`postgres://user:secret@host` → `postgres://user:***@host`). */
const masked = (text: string): string => text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@]*@/gi, "$1:***@")

const queueError = (operation: string, task: string | undefined, message: string) =>
  new Errors.TaskQueueError({ operation, ...(task === undefined ? {} : { task }), message: masked(message) })

/** The driver's message, and the server's words under it (`relation "x" does not exist`). */
const sqlMessage = (error: SqlError): string => {
  const cause: unknown = error.reason.cause
  const server = typeof cause === "object" && cause !== null && "message" in cause ? String(cause.message) : ""
  return server === "" || server === error.message ? error.message : `${error.message}: ${server}`
}

/** Fails with the `TaskQueueError` of a SQL failure. */
const sqlFailed = (operation: string, task?: string, what = operation) => (error: SqlError) =>
  Effect.fail(queueError(operation, task, `${what} failed in PostgreSQL: ${sqlMessage(error)}`))

/**
 * A deadlock, a serialization failure or a lost connection (a restart, a blip) is tried again, 8
 * times from 50 ms doubling (13 s): every move is safe to repeat, even when the lost answer was a
 * commit's (a claim under a message's key takes its task back, a second completion is a no-op).
 */
const transientRetry = { times: 8, schedule: Schedule.exponential("50 millis"), while: (error: unknown) =>
  isSqlError(error) && ["DeadlockError", "SerializationError", "ConnectionError"].includes(error.reason._tag) }

/** Runs `effect` as one transaction, again after a transient abort; SQL failures become `TaskQueueError`s. */
const transact = <A>(sql: Sql, operation: string, task: string | undefined, effect: Effect.Effect<A, Errors.TaskQueueError | SqlError>) =>
  sql.withTransaction(effect).pipe(
    Effect.retry(transientRetry),
    Effect.catchTag("SqlError", sqlFailed(operation, task))
  )

/** A row's body as a task; a body that is not one fails with the reason. */
const taskOfRow = (operation: string, queue: string, id: string, body: unknown) =>
  Effect.suspend(() => decodeTask(body)).pipe(
    Effect.mapError((e) => queueError(operation, id, `the row of task ${id} in queue ${queue} is not a task: ${e.message}`)),
    Effect.filterOrFail((task) => task.id === id, (task) => queueError(operation, id, `the row of task ${id} in queue ${queue} holds task ${JSON.stringify(task.id)} (moves would act on that row)`))
  )
/**
 * Creates the tables when missing, under an advisory lock. Queues are made per worker iteration:
 * once the last table exists (all are made in one transaction), nothing is locked.
 */
const ensureSchema = (sql: Sql) =>
  Effect.gen(function*() {
    const [made] = yield* sql<{ readonly made: boolean }>`SELECT to_regclass('oompa_invalid') IS NOT NULL AS made`
    if (made?.made === true) return
    yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql.unsafe(`SELECT pg_advisory_xact_lock(${lockSpace}, ${schemaLockKey})`)
      for (const statement of schemaStatements) yield* sql.unsafe(statement)
    }))
  }).pipe(
    Effect.retry(transientRetry),
    Effect.catchTag("SqlError", sqlFailed("open", undefined, "creating the queue's tables"))
  )

/**
 * What `ReadyTasks` records of each change, kept in `oompa_suspects`: the queue's own statements,
 * each run inside the transaction of the move it follows.
 */
const suspects = (sql: Sql, queue: string) => {
  const forget = (ids: ReadonlyArray<string>) =>
    ids.length === 0 ? Effect.void : Effect.asVoid(sql`DELETE FROM oompa_suspects WHERE queue = ${queue} AND id = ANY(${ids}::text[])`)
  return {
    forget, // tasks that left `pending`: nothing of theirs is judged any more
    /** Tasks put in `pending`: those with dependencies are fresh, and no longer touched. */
    put: (tasks: ReadonlyArray<{ readonly id: string; readonly dependencies: number }>) => {
      const fresh = tasks.filter((t) => t.dependencies > 0).map((t) => t.id)
      return forget(tasks.filter((t) => t.dependencies === 0).map((t) => t.id)).pipe(
        Effect.andThen(fresh.length === 0 ? Effect.void : Effect.asVoid(sql`
          INSERT INTO oompa_suspects (queue, id, fresh, touched) SELECT ${queue}, unnest(${fresh}::text[]), true, false
          ON CONFLICT (queue, id) DO UPDATE SET fresh = true, touched = false`))
      )
    },
    /**
     * Tasks that changed status: the pending tasks naming one (but those in `except`) are touched.
     * In id order, so that transactions marking the same rows take their locks in one order.
     */
    changed: (ids: ReadonlyArray<string>, except: ReadonlyArray<string> = []) =>
      ids.length === 0 ? Effect.void : Effect.asVoid(sql`
        INSERT INTO oompa_suspects (queue, id, fresh, touched)
        SELECT queue, id, false, true FROM oompa_tasks
        WHERE queue = ${queue} AND status = 'pending' AND cardinality(dependencies) > 0
          AND dependencies && ${ids}::text[] AND NOT (id = ANY(${except}::text[]))
        ORDER BY id
        ON CONFLICT (queue, id) DO UPDATE SET touched = true`)
  }
}

const addInvalid = (sql: Sql, queue: string, { content, name, reason }: InvalidRecord) =>
  sql`INSERT INTO oompa_invalid (queue, entry) VALUES (${queue}, ${JSON.stringify({ name, content, reason })}::json)`

/** An id refused before it reaches the table (ids name branches, refs and files elsewhere). */
const checkId = (operation: string, id: string) => {
  const problem = Ids.idProblem(id)
  return problem === undefined ? Effect.void : Effect.fail(queueError(operation, id, `task id ${JSON.stringify(id)} ${problem}`))
}

interface Row { readonly id: string; readonly status: string; readonly body: unknown }

type ClaimResult = { readonly _tag: "Claimed"; readonly task: Task } | { readonly _tag: "None" } | { readonly _tag: "SetAside" }

const makeService = (sql: Sql, options: Options): TaskQueue["Service"] => {
  const { claimedBy, queue } = options
  const marks = suspects(sql, queue)
  const ready = sql.literal(readyClause)

  /** The task's row, locked until the transaction ends; fails unless it is `current` (or `also`). */
  const heldRow = (operation: string, id: string, also?: TaskStatus) =>
    Effect.gen(function*() {
      const [row] = yield* sql<Row>`SELECT id, status, body FROM oompa_tasks WHERE queue = ${queue} AND id = ${id} FOR UPDATE`
      if (row !== undefined && (row.status === "current" || row.status === also)) return row
      const where = row === undefined ? "in no status of the queue" : `${row.status}, not current`
      return yield* queueError(operation, id, `${operation} of task ${id}, which is not held: it is ${where}`)
    })

  const listTasks = (operation: string, rows: ReadonlyArray<Row>) => Effect.forEach(rows, (row) => taskOfRow(operation, queue, row.id, row.body))

  const claimOnce = transact(sql, "claim", undefined, Effect.gen(function*(): Effect.fn.Return<ClaimResult, Errors.TaskQueueError | SqlError> {
    if (options.takesBackHeld === true) {
      const [held] = yield* sql<Row>`
        SELECT id, status, body FROM oompa_tasks WHERE queue = ${queue} AND status = 'current' AND claimed_by = ${claimedBy}
        ORDER BY claimed_at, id LIMIT 1`
      if (held !== undefined) return { _tag: "Claimed", task: yield* taskOfRow("claim", queue, held.id, held.body) }
    }
    const [row] = yield* sql<Row>`
      UPDATE oompa_tasks SET status = 'current', claimed_by = ${claimedBy}, claimed_at = now()
      WHERE queue = ${queue} AND status = 'pending' AND id = (
        SELECT t.id FROM oompa_tasks t
        WHERE t.queue = ${queue} AND t.status = 'pending' AND ${ready}
        ORDER BY t.priority, t.id
        LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id, status, body`
    if (row === undefined) return { _tag: "None" }
    yield* marks.forget([row.id])
    yield* marks.changed([row.id])
    const task = yield* Effect.result(taskOfRow("claim", queue, row.id, row.body))
    if (task._tag === "Success") return { _tag: "Claimed", task: task.success }
    // A row edited by hand into something else: set aside like an unreadable file, not handed out.
    yield* sql`DELETE FROM oompa_tasks WHERE queue = ${queue} AND id = ${row.id}`
    yield* addInvalid(sql, queue, { name: `${row.id}.json`, content: `${JSON.stringify(row.body, null, 2)}\n`, reason: task.failure.message })
    return { _tag: "SetAside" }
  }))

  const claim: Effect.Effect<Option.Option<Task>, Errors.TaskQueueError> = claimOnce.pipe(Effect.flatMap((result) =>
    result._tag === "SetAside" ? claim : Effect.succeed(result._tag === "Claimed" ? Option.some(result.task) : Option.none())
  ))

  const settleBlocked = Effect.gen(function*() {
    const [waiting] = yield* sql<{ readonly waiting: boolean }>`SELECT EXISTS (SELECT 1 FROM oompa_suspects WHERE queue = ${queue}) AS waiting`
    if (waiting?.waiting !== true) return []
    return yield* transact(sql, "settleBlocked", undefined, Effect.gen(function*() {
      yield* sql`SELECT pg_advisory_xact_lock(${lockSpace}, hashtext(${queue}))`
      const taken = yield* sql<{ readonly id: string; readonly fresh: boolean; readonly touched: boolean }>`
        DELETE FROM oompa_suspects WHERE queue = ${queue} RETURNING id, fresh, touched`
      if (taken.length === 0) return []
      // The graph: every pending task with dependencies, and the status of each task one names.
      const rows = yield* sql<{ readonly id: string; readonly status: TaskStatus; readonly dependencies: ReadonlyArray<string> }>`
        WITH waiting AS (
          SELECT id, dependencies FROM oompa_tasks WHERE queue = ${queue} AND status = 'pending' AND cardinality(dependencies) > 0)
        SELECT id, status, dependencies FROM oompa_tasks
        WHERE queue = ${queue} AND (id IN (SELECT id FROM waiting) OR id IN (SELECT unnest(dependencies) FROM waiting))`
      const statusOf = new Map(rows.map((r) => [r.id, r.status]))
      const dependenciesOf = new Map<string, ReadonlyArray<string>>()
      const dependents = new Map<string, Array<string>>()
      for (const row of [...rows].sort((a, b) => a.id < b.id ? -1 : 1)) {
        if (row.status !== "pending" || row.dependencies.length === 0) continue
        dependenciesOf.set(row.id, row.dependencies)
        for (const id of new Set(row.dependencies)) dependents.get(id)?.push(row.id) ?? dependents.set(id, [row.id])
      }
      const idsOf = (kind: "fresh" | "touched") => taken.filter((s) => s[kind] && dependenciesOf.has(s.id)).map((s) => s.id).sort()
      const settled = TaskDependencies.judge({ fresh: idsOf("fresh"), touched: idsOf("touched") }, {
        statusOf: (id) => statusOf.get(id),
        dependenciesOf: (id) => dependenciesOf.get(id) ?? [],
        dependentsOf: (id) => dependents.get(id) ?? [] // in id order, as `ReadyTasks` gives them
      })
      const moved: Array<TaskDependencies.Settled> = []
      for (const verdict of settled) {
        const [row] = yield* sql<Row>`SELECT id, status, body FROM oompa_tasks WHERE queue = ${queue} AND id = ${verdict.id} AND status = 'pending' FOR UPDATE`
        if (row === undefined) continue
        const task = yield* taskOfRow("settleBlocked", queue, row.id, row.body)
        if (verdict.to === "failed") {
          const next = { ...task, last_feedback: verdict.reason }
          yield* sql`UPDATE oompa_tasks SET status = 'failed', body = ${bodyOf(next)}::json WHERE queue = ${queue} AND id = ${row.id}`
        } else {
          yield* sql`DELETE FROM oompa_tasks WHERE queue = ${queue} AND id = ${row.id}`
          yield* addInvalid(sql, queue, { name: `${row.id}.json`, content: taskFileText(task), reason: `${row.id}.json: ${verdict.reason}` })
        }
        moved.push(verdict)
      }
      const ids = moved.map((s) => s.id)
      yield* marks.forget(ids)
      yield* marks.changed(ids)
      return moved
    }))
  }).pipe(Effect.catchTag("SqlError", sqlFailed("settleBlocked")))

  return TaskQueueModule.TaskQueue.of({
    list: Effect.fn("ClusterTaskQueue.list")(function*(status: TaskStatus) {
      // invalid/ holds records of what could not be a task, not tasks (`readInvalid` reads them).
      if (status === "invalid") return []
      const rows = yield* sql<Row>`SELECT id, status, body FROM oompa_tasks WHERE queue = ${queue} AND status = ${status} ORDER BY priority, id`.pipe(
        Effect.catchTag("SqlError", sqlFailed("list", undefined, `list of ${status}`))
      )
      return yield* listTasks("list", rows)
    }),
    claim: claim.pipe(Effect.withSpan("ClusterTaskQueue.claim")),
    ready: sql<Row>`
      SELECT t.id, t.status, t.body FROM oompa_tasks t
      WHERE t.queue = ${queue} AND t.status = 'pending' AND ${ready} ORDER BY t.priority, t.id`.pipe(
      Effect.catchTag("SqlError", sqlFailed("ready")),
      Effect.flatMap((rows) => listTasks("ready", rows)),
      Effect.withSpan("ClusterTaskQueue.ready")
    ),
    settleBlocked: settleBlocked.pipe(Effect.withSpan("ClusterTaskQueue.settleBlocked")),
    complete: Effect.fn("ClusterTaskQueue.complete")(function*(id: string, mergedSha: string) {
      yield* transact(sql, "complete", id, Effect.gen(function*() {
        const row = yield* heldRow("complete", id, "complete")
        // Completion is redelivered after a runner dies: the second one changes nothing.
        if (row.status === "complete") return
        const next = { ...(yield* taskOfRow("complete", queue, id, row.body)), merged_sha: mergedSha }
        yield* sql`UPDATE oompa_tasks SET status = 'complete', body = ${bodyOf(next)}::json, merged_sha = ${mergedSha}
          WHERE queue = ${queue} AND id = ${id}`
        yield* marks.changed([id])
      }))
    }),
    release: Effect.fn("ClusterTaskQueue.release")(function*(id: string, release: Parameters<TaskQueue["Service"]["release"]>[1]) {
      return yield* transact(sql, "release", id, Effect.gen(function*() {
        const row = yield* heldRow("release", id)
        const task = yield* taskOfRow("release", queue, id, row.body)
        const attempts = (task.attempts ?? 0) + (release.countAttempt ? 1 : 0)
        const to: TaskQueueModule.ReleaseOutcome = release.countAttempt && attempts >= release.maxAttempts ? "failed" : "pending"
        const next = { ...task, attempts, ...(release.feedback === "" ? {} : { last_feedback: release.feedback }) }
        yield* sql`UPDATE oompa_tasks SET status = ${to}, body = ${bodyOf(next)}::json, attempts = ${attempts}, claimed_by = NULL, claimed_at = NULL
          WHERE queue = ${queue} AND id = ${id}`
        if (to === "pending") yield* marks.put([{ id, dependencies: TaskModule.dependenciesOf(next).length }])
        yield* marks.changed([id])
        return to
      }))
    }),
    create: Effect.fn("ClusterTaskQueue.create")(function*(task: Task) {
      yield* checkId("create", task.id)
      return yield* transact(sql, "create", task.id, Effect.gen(function*() {
        const dependencies = TaskModule.dependenciesOf(task)
        const inserted = yield* sql`
          INSERT INTO oompa_tasks (queue, id, status, priority, dependencies, body, attempts)
          VALUES (${queue}, ${task.id}, 'pending', ${task.priority ?? TaskModule.defaultPriority}, ${dependencies}::text[], ${bodyOf(task)}::json, ${task.attempts ?? 0})
          ON CONFLICT (queue, id) DO NOTHING RETURNING id`
        if (inserted.length === 0) return false
        yield* marks.put([{ id: task.id, dependencies: dependencies.length }])
        yield* marks.changed([task.id])
        return true
      }))
    }),
    invalid: Effect.fn("ClusterTaskQueue.invalid")(function*(name: string, content: string, reason: string) {
      yield* transact(sql, "invalid", name, Effect.asVoid(addInvalid(sql, queue, { name, content, reason })))
    })
  })
}

/** The queue `options.queue` in the `SqlClient`'s database, tables created if missing. @category constructors @since 0.1.0 */
export const make = Effect.fn("ClusterTaskQueue.make")(function*(options: Options) {
  const sql = yield* SqlClient
  yield* ensureSchema(sql)
  return makeService(sql, options)
})

/** The queue over a `SqlClient` (`PgClient.layer({ url: Redacted.make(url) })`). @category layers @since 0.1.0 */
export const layer = (options: Options): Layer.Layer<TaskQueue, Errors.TaskQueueError, SqlClient> =>
  Layer.effect(TaskQueueModule.TaskQueue, make(options))

/**
 * Adds `tasks` to `pending` (the folder queue's `pending/` at the start of a cluster run), in one
 * transaction: a task whose id the queue already has, in any status, is left as it is, so a second
 * import changes nothing; of one id given twice, the first counts. Returns how many were new. The
 * batch arrives at once: its tasks with dependencies are judged as fresh, and the pending tasks
 * already queued that name one of them as touched.
 *
 * @category constructors
 * @since 0.1.0
 */
export const importTasks = Effect.fn("ClusterTaskQueue.importTasks")(function*(queue: string, tasks: ReadonlyArray<Task>) {
  const sql = yield* SqlClient
  const byId = new Map<string, Task>()
  for (const task of tasks) {
    yield* checkId("import", task.id)
    if (!byId.has(task.id)) byId.set(task.id, task)
  }
  yield* ensureSchema(sql)
  if (byId.size === 0) return 0
  // One array parameter per column (a statement takes at most 65,535). Bodies go as JSON text cast
  // to `json` (`json_to_recordset` would unescape a U+0000 and fail); numbers as text (an array
  // parameter has one element type, and a priority may not fit in an int4).
  const batch = [...byId.values()]
  const column = <A>(f: (task: Task) => A) => batch.map(f)
  return yield* transact(sql, "import", undefined, Effect.gen(function*() {
    const inserted = yield* sql<{ readonly id: string; readonly dependencies: number }>`
      INSERT INTO oompa_tasks (queue, id, status, priority, dependencies, body, attempts)
      SELECT ${queue}, r.id, 'pending', r.priority,
        ARRAY(SELECT d FROM json_array_elements_text(r.dependencies::json) WITH ORDINALITY AS e(d, n) ORDER BY n), r.body::json, r.attempts
      FROM unnest(${column((t) => t.id)}::text[], ${column((t) => String(t.priority ?? TaskModule.defaultPriority))}::bigint[],
        ${column((t) => JSON.stringify(TaskModule.dependenciesOf(t)))}::text[], ${column(bodyOf)}::text[],
        ${column((t) => String(t.attempts ?? 0))}::integer[]) AS r(id, priority, dependencies, body, attempts)
      ORDER BY r.id
      ON CONFLICT (queue, id) DO NOTHING RETURNING id, cardinality(dependencies) AS dependencies`
    const marks = suspects(sql, queue)
    const ids = inserted.map((r) => r.id)
    yield* marks.put(inserted)
    yield* marks.changed(ids, ids)
    return inserted.length
  }))
})

/**
 * Returns every task `claimedBy` holds in `queue` to `pending`, without counting an attempt (a
 * runner that died did not fail its tasks): for recovery. Returns their ids, sorted.
 *
 * @category moves
 * @since 0.1.0
 */
export const releaseClaimsOf = Effect.fn("ClusterTaskQueue.releaseClaimsOf")(function*(queue: string, claimedBy: string) {
  const sql = yield* SqlClient
  yield* ensureSchema(sql)
  return yield* transact(sql, "releaseClaimsOf", undefined, Effect.gen(function*() {
    const released = yield* sql<{ readonly id: string; readonly dependencies: number }>`
      UPDATE oompa_tasks SET status = 'pending', claimed_by = NULL, claimed_at = NULL
      WHERE queue = ${queue} AND status = 'current' AND claimed_by = ${claimedBy}
      RETURNING id, cardinality(dependencies) AS dependencies`
    const marks = suspects(sql, queue)
    yield* marks.put(released)
    yield* marks.changed(released.map((r) => r.id))
    return released.map((r) => r.id).sort()
  }))
})

/** The records of `invalid/` of `queue`, oldest first. @category reading @since 0.1.0 */
export const readInvalid = Effect.fn("ClusterTaskQueue.readInvalid")(function*(queue: string) {
  const sql = yield* SqlClient
  yield* ensureSchema(sql)
  const rows = yield* sql<{ readonly entry: Partial<InvalidRecord> }>`SELECT entry FROM oompa_invalid WHERE queue = ${queue} ORDER BY seq`.pipe(
    Effect.catchTag("SqlError", sqlFailed("readInvalid"))
  )
  // The driver parses `json` columns.
  return rows.map(({ entry }): InvalidRecord => ({ name: String(entry.name), content: String(entry.content), reason: String(entry.reason) }))
})
