/**
 * Goal: `ClusterTaskQueue` (the task queue of cluster mode, in PostgreSQL) is observably the same
 * queue as `MemoryTaskQueue`, and stays one queue when many processes share it: every task is
 * claimed once however many claimers race, and a claim in flight holds up no other; claim order is
 * byte order whatever the database's locale; a task waits for its dependencies; imports and
 * completions can be repeated; a dead claimer's tasks come back; runners starting together on an
 * empty database all get their tables; a broken row or a failing database is reported, not hidden.
 * Method: one private PostgreSQL server (`LocalPostgres`) for the file, a queue name (or a fresh
 * database) per test. (1) Model-based: random command sequences (`fc.commands`: create with
 * dependencies on each other, on themselves, on no task; claim; ready; settleBlocked; complete;
 * release; invalid; list, with text holding U+0000 and lone surrogates) run on both queues, every
 * answer and the whole state (the statuses, the invalid records, whether anything awaits
 * judgement) compared after each command. (2) Eight claimers, each with its own connection pool,
 * race for 200 tasks; a claim is held open while another claims. (3)-(6) Scenarios on the real
 * server, some through a second queue instance to show the state is the database's.
 */
import { assert, describe, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import type { Errors } from "@oompa/core"
import { Task, type TaskQueue } from "@oompa/core"
import { MemoryTaskQueue } from "@oompa/core/testing"
import { Context, Deferred, Effect, Fiber, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as fc from "fast-check"
import * as ClusterTaskQueue from "../src/cluster/ClusterTaskQueue.ts"
import * as LocalPostgres from "../src/cluster/LocalPostgres.ts"

type Queue = TaskQueue.TaskQueue["Service"]

class Server extends Context.Service<Server, LocalPostgres.LocalPostgres>()("test/ClusterTaskQueue/Server") {}

const clientLayer = (url: string) => PgClient.layer({ url: Redacted.make(url) })

/** The server, and a client of its `postgres` database. */
const Live = Layer.unwrap(Effect.gen(function*() {
  const server = yield* Server
  return clientLayer(server.url)
})).pipe(Layer.provideMerge(Layer.effect(Server, LocalPostgres.start())))

/** The URL of database `name` on the test server. */
const databaseUrl = (server: LocalPostgres.LocalPostgres, name: string) => server.url.replace(/\/[^/]*$/, `/${name}`)

/** A new, empty database (`options` as `CREATE DATABASE` takes them), and its URL. */
const freshDatabase = (name: string, options = "") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql.unsafe(`CREATE DATABASE ${name} ${options}`)
    return databaseUrl(yield* Server, name)
  })

/** A client with its own pool, for the test's scope. */
const ownClient = (url: string) => Layer.build(clientLayer(url))

const task = (id: string, fields: Partial<Omit<Task.Task, "id">> = {}): Task.Task => ({ id, summary: `task ${id}`, ...fields }) as Task.Task

const idOf = (claimed: Option.Option<Task.Task>) => Option.match(claimed, { onNone: () => "none", onSome: (t) => t.id })

/** Claims until the queue answers None; the ids won, in order. */
const claimAll = (queue: Queue) =>
  Effect.gen(function*() {
    const won: Array<string> = []
    for (;;) {
      const claimed = yield* queue.claim
      if (Option.isNone(claimed)) return won
      won.push(claimed.value.id)
    }
  })

const statuses: ReadonlyArray<Task.TaskStatus> = ["pending", "current", "complete", "failed", "invalid"]

// ---------------------------------------------------------------------------------------------
// (1) The model
// ---------------------------------------------------------------------------------------------

interface Model {
  readonly state: MemoryTaskQueue.MemoryTaskQueueState
  readonly queue: Queue
}
interface Real {
  readonly name: string
  readonly queue: Queue
  readonly run: <A, E>(effect: Effect.Effect<A, E, SqlClient>) => Promise<A>
}

/** Both queues answer, and must answer the same; then their whole states must agree. */
const both = async <A>(m: Model, r: Real, op: (queue: Queue) => Effect.Effect<A, unknown>): Promise<A> => {
  const expected = await Effect.runPromise(op(m.queue))
  const actual = await r.run(op(r.queue))
  assert.deepStrictEqual(actual, expected)
  for (const status of statuses) assert.deepStrictEqual(await r.run(r.queue.list(status)), m.state.list(status), `status ${status}`)
  assert.deepStrictEqual(await r.run(ClusterTaskQueue.readInvalid(r.name)), m.state.invalidEntries, "invalid records")
  // What settleBlocked would look at: nothing (its quick path) exactly when the model has nothing to judge.
  const suspects = await r.run(SqlClient.use((sql) => sql<{ n: number }>`SELECT count(*)::int AS n FROM oompa_suspects WHERE queue = ${r.name}`))
  assert.strictEqual(suspects[0]!.n > 0, m.state.readiness.hasSuspects, "tasks to judge")
  return actual
}

/** The id of the `pick`-th held task (the model decides which tasks are held). */
const heldId = (m: Model, pick: number): string => {
  const held = [...m.state.folders.current.keys()].sort()
  return held[pick % held.length] ?? ""
}

/** Text as agents write it, now and then with what `jsonb` and `text` columns refuse. */
const text = (maxLength: number) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.string({ unit: "grapheme", maxLength }) },
    { weight: 1, arbitrary: fc.constantFrom("nul\u0000byte", "lone \ud800 half", "\\u0000 escaped", "'; DROP TABLE oompa_tasks; --") }
  )

const ids = ["a", "b", "c", "d", "e"] as const

const taskArb: fc.Arbitrary<Task.Task> = fc.record({
  id: fc.constantFrom(...ids),
  summary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
  description: text(20),
  files: fc.array(text(8), { maxLength: 3 }),
  acceptance: fc.oneof(text(10), fc.array(text(10), { maxLength: 2 })),
  priority: fc.integer({ min: -3, max: 150 }),
  // Ids of other tasks, of the task itself, or of none ("x").
  depends_on: fc.array(fc.constantFrom(...ids, "x"), { maxLength: 2 }),
  blocked_by: fc.array(fc.constantFrom(...ids, "x"), { maxLength: 1 }),
  attempts: fc.integer({ min: 0, max: 2 }),
  created_by: fc.constantFrom("w0", "planner")
}, { requiredKeys: ["id", "summary"] }) as unknown as fc.Arbitrary<Task.Task>

type Cmd = fc.AsyncCommand<Model, Real>

const command = (name: string, check: (m: Readonly<Model>) => boolean, body: (m: Model, r: Real) => Promise<unknown>): Cmd => ({
  check,
  run: async (m, r) => void await body(m, r),
  toString: () => name
})

const create = taskArb.map((t) => command(`create(${JSON.stringify(t)})`, () => true, (m, r) => both(m, r, (q) => q.create(t))))
const claim = fc.constant(command("claim", () => true, (m, r) => both(m, r, (q) => q.claim)))
const settle = fc.constant(command("settleBlocked", () => true, (m, r) => both(m, r, (q) => q.settleBlocked)))
const complete = fc.tuple(fc.nat(), fc.stringMatching(/^[0-9a-f]{7,12}$/)).map(([pick, sha]) =>
  command(`complete(#${pick}, ${sha})`, (m) => m.state.folders.current.size > 0, (m, r) => {
    const id = heldId(m, pick)
    return both(m, r, (q) => q.complete(id, sha))
  }))
const release = fc.record({ pick: fc.nat(), feedback: fc.oneof(fc.constant(""), text(15)), countAttempt: fc.boolean(), maxAttempts: fc.constantFrom(1, 1, 2, 3) }).map(
  ({ pick, ...options }) =>
    command(`release(#${pick}, ${JSON.stringify(options)})`, (m) => m.state.folders.current.size > 0, (m, r) => {
      const id = heldId(m, pick)
      return both(m, r, (q) => q.release(id, options))
    })
)

// fc.commands picks uniformly: the moves are listed twice or more, so sequences reach deep states.
const commands: Array<fc.Arbitrary<Cmd>> = [
  create, create, claim, claim, settle, settle, complete, complete, release, release, release,
  fc.constant(command("ready", () => true, (m, r) => both(m, r, (q) => q.ready))),
  fc.tuple(fc.constantFrom("x.json", "a.json", "bad name.json"), text(20), text(20)).map(([name, content, reason]) =>
    command(`invalid(${JSON.stringify(name)})`, () => true, (m, r) => both(m, r, (q) => q.invalid(name, content, reason)))
  ),
  fc.constantFrom(...statuses).map((status) => command(`list(${status})`, () => true, (m, r) => both(m, r, (q) => q.list(status))))
]

const numRuns = process.env["OOMPA_LONG"] === undefined ? 200 : 2000

layer(Live, { excludeTestServices: true, timeout: "60 seconds" })("ClusterTaskQueue", (it) => {
  it.effect("(1) random command sequences give the answers and the state of MemoryTaskQueue", () =>
    Effect.gen(function*() {
      const context = yield* Effect.context<SqlClient>()
      const run = <A, E>(effect: Effect.Effect<A, E, SqlClient>) => Effect.runPromise(Effect.provideContext(effect, context))
      let runs = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: "max" }), async (cmds) => {
            const name = `model-${runs++}`
            const state = MemoryTaskQueue.MemoryTaskQueueState.make()
            const queue = await run(ClusterTaskQueue.make({ queue: name, claimedBy: "model" }))
            await fc.asyncModelRun(() => Promise.resolve({ model: { state, queue: MemoryTaskQueue.make(state) }, real: { name, queue, run } }), cmds)
          }),
          { numRuns }
        )
      )
      assert.isAtLeast(runs, numRuns)
    }), 120_000)

  // -------------------------------------------------------------------------------------------
  // (2) Concurrency
  // -------------------------------------------------------------------------------------------

  it.effect("(2) eight claimers on their own connections race for 200 tasks: each is claimed exactly once, none gives up early", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const sql = yield* SqlClient
      const name = "race"
      const tasks = Array.from({ length: 200 }, (_, i) => task(`t-${String(i).padStart(3, "0")}`, { priority: i % 7 }))
      assert.strictEqual(yield* ClusterTaskQueue.importTasks(name, tasks), 200)
      const clients = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), () => ownClient(server.url))
      const queues = yield* Effect.forEach(clients, (client, i) =>
        ClusterTaskQueue.make({ queue: name, claimedBy: `claimer-${i}` }).pipe(Effect.provideContext(client)))
      const pendingNow = sql<{ n: number }>`SELECT count(*)::int AS n FROM oompa_tasks WHERE queue = ${name} AND status = 'pending'`
      // A claimer answered None may only have seen tasks that the other seven were claiming.
      const raced = yield* Effect.all(
        queues.map((queue) => claimAll(queue).pipe(Effect.flatMap((won) => Effect.map(pendingNow, ([row]) => ({ won, leftAfterNone: row!.n }))))),
        { concurrency: "unbounded" }
      )
      for (const { leftAfterNone } of raced) assert.isAtMost(leftAfterNone, 7, "a claim answered None while tasks were free")
      const won = raced.map((r) => r.won)
      const all = won.flat()
      assert.strictEqual(new Set(all).size, all.length, "no task claimed twice")
      assert.deepStrictEqual([...all].sort(), tasks.map((t) => t.id).sort(), "every task claimed")
      const order: ReadonlyArray<string> = [...tasks].sort(Task.claimOrder).map((t) => t.id)
      for (const ids of won) assert.deepStrictEqual(ids, [...ids].sort((a, b) => order.indexOf(a) - order.indexOf(b)), "each claimer's in claim order")
      // The table agrees: all held, each by the claimer that won it.
      const rows = yield* sql<{ id: string; status: string; claimed_by: string }>`SELECT id, status, claimed_by FROM oompa_tasks WHERE queue = ${name}`
      const winner = new Map(won.flatMap((ids, i) => ids.map((id) => [id, `claimer-${i}`] as const)))
      assert.strictEqual(rows.length, 200)
      for (const row of rows) assert.deepStrictEqual([row.status, row.claimed_by], ["current", winner.get(row.id)], row.id)
    }))

  it.effect("(2c) a claim not yet committed blocks no other claimer: the next one takes the next task at once", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const name = "in-flight"
      yield* ClusterTaskQueue.importTasks(name, [task("a"), task("b"), task("c")])
      const [slow, quick] = yield* Effect.forEach([0, 1], () => ownClient(server.url))
      const slowQueue = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "slow" }).pipe(Effect.provideContext(slow!))
      const quickQueue = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "quick" }).pipe(Effect.provideContext(quick!))
      const slowSql = Context.get(slow!, SqlClient)
      const claimed = yield* Deferred.make<string>()
      const done = yield* Deferred.make<void>()
      // The slow claim runs inside a transaction of ours, left open: its row stays locked.
      const holder = yield* Effect.forkChild(slowSql.withTransaction(Effect.gen(function*() {
        yield* Deferred.succeed(claimed, idOf(yield* slowQueue.claim))
        yield* Deferred.await(done)
      })))
      assert.strictEqual(yield* Deferred.await(claimed), "a")
      const quickClaim = yield* Effect.forkChild(quickQueue.claim)
      // Waited for apart from the claim: a claim stuck behind the lock ends only once it is let go.
      const inTime = yield* Fiber.join(quickClaim).pipe(Effect.timeoutOption("5 seconds"))
      yield* Deferred.succeed(done, undefined)
      yield* Fiber.join(holder)
      assert.isTrue(Option.isSome(inTime), "the second claim waited for the first to commit")
      assert.strictEqual(idOf(yield* Fiber.join(quickClaim)), "b")
      assert.deepStrictEqual((yield* quickQueue.list("current")).map((t) => t.id), ["a", "b"])
    }))

  it.effect("(2b) claim order is priority, then id in byte order, even in a database that sorts text as en-US", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("ordered", "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
      const client = yield* ownClient(url)
      const tasks = ["b", "B", "a-1", "a.1", "a_1", "A0", "0z", "a", "Z"].map((id, i) => task(id, i % 3 === 0 ? { priority: 100 } : {}))
      tasks.push(task("late", { priority: 101 }), task("early", { priority: -1 }))
      const queue = yield* ClusterTaskQueue.make({ queue: "q", claimedBy: "me" }).pipe(Effect.provideContext(client))
      for (const t of tasks) assert.isTrue(yield* queue.create(t))
      const expected = [...tasks].sort(Task.claimOrder).map((t) => t.id)
      assert.deepStrictEqual((yield* queue.ready).map((t) => t.id), expected)
      assert.deepStrictEqual((yield* queue.list("pending")).map((t) => t.id), expected)
      assert.deepStrictEqual(yield* claimAll(queue), expected)
    }))

  // -------------------------------------------------------------------------------------------
  // (3) Dependencies
  // -------------------------------------------------------------------------------------------

  it.effect("(3) a task is claimed only once each of its dependencies is complete; blocked ones are settled", () =>
    Effect.gen(function*() {
      const name = "deps"
      const runner = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "runner" })
      const merger = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "merger" })
      yield* ClusterTaskQueue.importTasks(name, [
        task("a", { priority: 50 }),
        task("b", { priority: 1, depends_on: ["a"] as Array<never> }),
        task("c", { priority: 0, blocked_by: ["b"] as Array<never> })
      ])
      assert.deepStrictEqual((yield* runner.ready).map((t) => t.id), ["a"])
      assert.strictEqual(idOf(yield* runner.claim), "a")
      assert.strictEqual(idOf(yield* runner.claim), "none", "b waits for a, c for b")
      assert.deepStrictEqual(yield* runner.ready, [])
      yield* merger.complete("a", "1111111")
      assert.deepStrictEqual((yield* runner.ready).map((t) => t.id), ["b"])
      assert.strictEqual(idOf(yield* runner.claim), "b")
      assert.strictEqual(yield* runner.release("b", { feedback: "try again", countAttempt: true, maxAttempts: 3 }), "pending")
      assert.strictEqual(idOf(yield* runner.claim), "b", "c still waits: b is back in pending, not complete")
      yield* merger.complete("b", "2222222")
      const c = yield* runner.claim
      assert.strictEqual(idOf(c), "c")
      // A dependency that failed fails its dependents; one that names no task sets them aside.
      assert.isTrue(yield* runner.create(task("d", { depends_on: ["e"] as Array<never> })))
      assert.isTrue(yield* runner.create(task("e")))
      assert.isTrue(yield* runner.create(task("f", { depends_on: ["nothing"] as Array<never> })))
      assert.deepStrictEqual(yield* merger.settleBlocked, [
        { id: "f", to: "invalid", reason: "depends on nothing, but no task in pending/, current/, complete/ or failed/ has that id" }
      ], "d may still run: e is pending")
      assert.strictEqual(idOf(yield* runner.claim), "e")
      assert.deepStrictEqual(yield* merger.settleBlocked, [], "e is held: nothing to settle")
      assert.strictEqual(yield* runner.release("e", { feedback: "broken", countAttempt: true, maxAttempts: 1 }), "failed")
      // d was judged before; e's move makes it a suspect again.
      assert.deepStrictEqual(yield* merger.settleBlocked, [{ id: "d", to: "failed", reason: "dependency e failed" }])
      assert.deepStrictEqual(yield* merger.settleBlocked, [], "nothing changed since")
      assert.deepStrictEqual((yield* runner.list("failed")).map((t) => [t.id, t.last_feedback]), [["d", "dependency e failed"], ["e", "broken"]])
      assert.deepStrictEqual((yield* ClusterTaskQueue.readInvalid(name)).map((r) => [r.name, r.reason]), [
        ["f.json", "f.json: depends on nothing, but no task in pending/, current/, complete/ or failed/ has that id"]
      ])
      assert.deepStrictEqual(yield* runner.list("pending"), [])
    }))

  // -------------------------------------------------------------------------------------------
  // (4) Repeated imports and completions, recovery
  // -------------------------------------------------------------------------------------------

  it.effect("(4a) an import adds only ids the queue does not have, in any status: a second import is a no-op", () =>
    Effect.gen(function*() {
      const name = "import"
      const queue = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "me" })
      assert.strictEqual(yield* ClusterTaskQueue.importTasks(name, [task("a"), task("b"), task("c"), task("a", { summary: "second a" })]), 3)
      assert.strictEqual(yield* ClusterTaskQueue.importTasks(name, [task("a"), task("b"), task("c")]), 0)
      assert.strictEqual(idOf(yield* queue.claim), "a")
      yield* queue.complete("a", "abc1234")
      assert.strictEqual(yield* ClusterTaskQueue.importTasks(name, [task("a", { summary: "changed" }), task("b", { priority: 1 }), task("d")]), 1)
      assert.deepStrictEqual(yield* queue.list("pending"), [task("b"), task("c"), task("d")])
      assert.deepStrictEqual(yield* queue.list("complete"), [{ ...task("a"), merged_sha: "abc1234" }])
      assert.isFalse(yield* queue.create(task("d")), "create refuses an imported id too")
      // Another queue of the same database is apart.
      assert.strictEqual(yield* ClusterTaskQueue.importTasks("import-other", [task("a")]), 1)
      // Imported text comes back as it was; imported tasks are judged like created ones.
      const odd = task("h", { description: "nul\u0000, lone \ud800, \\u0000", attempts: 2, last_feedback: "was \u0000 here" })
      assert.strictEqual(yield* ClusterTaskQueue.importTasks(name, [task("g", { depends_on: ["nope"] as Array<never> }), odd]), 2)
      assert.deepStrictEqual(yield* queue.settleBlocked, [
        { id: "g", to: "invalid", reason: "depends on nope, but no task in pending/, current/, complete/ or failed/ has that id" }
      ])
      assert.deepStrictEqual(yield* queue.list("pending"), [task("b"), task("c"), task("d"), odd])
    }))

  it.effect("(4b) a second completion changes nothing; moving a task that is not held fails", () =>
    Effect.gen(function*() {
      const name = "complete"
      const queue = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "me" })
      yield* queue.create(task("a"))
      yield* queue.create(task("b"))
      assert.strictEqual(idOf(yield* queue.claim), "a")
      yield* queue.complete("a", "first00")
      yield* queue.complete("a", "second0")
      assert.deepStrictEqual(yield* queue.list("complete"), [{ ...task("a"), merged_sha: "first00" }])
      assert.deepStrictEqual(yield* queue.list("current"), [])
      const notHeld = (error: Errors.TaskQueueError) => [error._tag, error.operation, error.task, error.message]
      assert.deepStrictEqual(notHeld(yield* Effect.flip(queue.complete("b", "0000000"))), [
        "TaskQueueError", "complete", "b", "complete of task b, which is not held: it is pending, not current"
      ])
      assert.deepStrictEqual(notHeld(yield* Effect.flip(queue.release("a", { feedback: "", countAttempt: false, maxAttempts: 3 }))), [
        "TaskQueueError", "release", "a", "release of task a, which is not held: it is complete, not current"
      ])
      assert.deepStrictEqual(notHeld(yield* Effect.flip(queue.complete("zz", "0000000"))), [
        "TaskQueueError", "complete", "zz", "complete of task zz, which is not held: it is in no status of the queue"
      ])
    }))

  it.effect("(4c) releaseClaimsOf returns exactly the dead claimer's tasks to pending, no attempt counted", () =>
    Effect.gen(function*() {
      const name = "recover"
      const dead = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "runner-dead" })
      const alive = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "runner-alive" })
      const elsewhere = yield* ClusterTaskQueue.make({ queue: "recover-other", claimedBy: "runner-dead" })
      yield* ClusterTaskQueue.importTasks(name, ["a", "b", "c", "d", "e"].map((id) => task(id)))
      yield* ClusterTaskQueue.importTasks("recover-other", [task("a")])
      assert.strictEqual(idOf(yield* dead.claim), "a")
      assert.strictEqual(idOf(yield* alive.claim), "b")
      assert.strictEqual(idOf(yield* dead.claim), "c")
      assert.strictEqual(idOf(yield* dead.claim), "d")
      yield* dead.complete("d", "ddddddd")
      assert.strictEqual(idOf(yield* elsewhere.claim), "a")
      assert.deepStrictEqual(yield* ClusterTaskQueue.releaseClaimsOf(name, "runner-dead"), ["a", "c"])
      assert.deepStrictEqual(yield* ClusterTaskQueue.releaseClaimsOf(name, "runner-dead"), [])
      assert.deepStrictEqual(yield* alive.list("pending"), [task("a"), task("c"), task("e")], "as they were: no attempts, no feedback")
      assert.deepStrictEqual((yield* alive.list("current")).map((t) => t.id), ["b"])
      assert.deepStrictEqual((yield* elsewhere.list("current")).map((t) => t.id), ["a"], "the same claimer in another queue keeps its task")
      assert.deepStrictEqual(yield* claimAll(alive), ["a", "c", "e"])
    }))

  it.effect("(4d) a claimer that takes back what it holds (a cluster's redelivered iteration) gets its task again, once, and nobody else's", () =>
    Effect.gen(function*() {
      const name = "take-back"
      yield* ClusterTaskQueue.importTasks(name, ["a", "b", "c"].map((id) => task(id)))
      const first = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "run/w1/3", takesBackHeld: true })
      const other = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "run/w2/1", takesBackHeld: true })
      assert.strictEqual(idOf(yield* first.claim), "a")
      assert.strictEqual(idOf(yield* other.claim), "b")
      // The copy of the first message, on another runner: the same key, the same task.
      const copy = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "run/w1/3", takesBackHeld: true })
      assert.strictEqual(idOf(yield* copy.claim), "a")
      assert.deepStrictEqual((yield* copy.list("current")).map((t) => t.id), ["a", "b"])
      yield* copy.complete("a", "aaaaaaa")
      // Once it is done with it, the key holds nothing: its next claim is a new task.
      assert.strictEqual(idOf(yield* copy.claim), "c")
      // Without taking back, the same key is handed a new task (the queue's plain contract).
      const plain = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "run/w2/1" })
      assert.strictEqual(idOf(yield* plain.claim), "none")
    }))

  // -------------------------------------------------------------------------------------------
  // (5) Starting together on an empty database
  // -------------------------------------------------------------------------------------------

  it.effect("(5) queues made at the same moment on an empty database all succeed, and share the tables", () =>
    Effect.gen(function*() {
      for (let round = 0; round < 4; round++) {
        const url = yield* freshDatabase(`fresh_${round}`)
        const clients = yield* Effect.forEach(Array.from({ length: 6 }, (_, i) => i), () => ownClient(url))
        const queues = yield* Effect.all(
          clients.map((client, i) => ClusterTaskQueue.make({ queue: "q", claimedBy: `runner-${i}` }).pipe(Effect.provideContext(client))),
          { concurrency: "unbounded" }
        )
        assert.isTrue(yield* queues[0]!.create(task("a")))
        assert.isFalse(yield* queues[5]!.create(task("a")))
        assert.strictEqual(idOf(yield* queues[3]!.claim), "a")
      }
    }))

  it.effect("(6a) a row edited by hand into something that is not a task is set aside by the claim that meets it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const name = "broken-row"
      const queue = yield* ClusterTaskQueue.make({ queue: name, claimedBy: "me" })
      yield* ClusterTaskQueue.importTasks(name, [task("a"), task("b"), task("c")])
      yield* sql`UPDATE oompa_tasks SET body = '{"id": "a", "summary": 7}'::json WHERE queue = ${name} AND id = 'a'`
      assert.strictEqual(idOf(yield* queue.claim), "b", "the broken a is skipped, not handed out")
      const [record] = yield* ClusterTaskQueue.readInvalid(name)
      assert.deepStrictEqual([record!.name, record!.content], ["a.json", `${JSON.stringify({ id: "a", summary: 7 }, null, 2)}\n`])
      assert.include(record!.reason, "is not a task")
      assert.deepStrictEqual((yield* queue.list("pending")).map((t) => t.id), ["c"])
      // A row whose body names another task: set aside too, never handed out under the other id.
      yield* sql`UPDATE oompa_tasks SET body = '{"id": "b", "summary": "not c"}'::json WHERE queue = ${name} AND id = 'c'`
      assert.strictEqual(idOf(yield* queue.claim), "none")
      assert.include((yield* ClusterTaskQueue.readInvalid(name))[1]!.reason, `the row of task c in queue ${name} holds task "b"`)
      // Elsewhere a broken row is an error naming it, not a task dropped in silence.
      yield* sql`UPDATE oompa_tasks SET body = '{}'::json WHERE queue = ${name} AND id = 'b'`
      const error = yield* Effect.flip(queue.list("current"))
      assert.deepStrictEqual([error.operation, error.task], ["list", "b"])
      assert.include(error.message, `the row of task b in queue ${name} is not a task`)
    }))

  it.effect("(6) a failure of the database is a TaskQueueError naming the operation and the server's words", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase("broken")
      const client = yield* ownClient(url)
      const queue = yield* ClusterTaskQueue.make({ queue: "q", claimedBy: "me" }).pipe(Effect.provideContext(client))
      yield* SqlClient.use((sql) => sql`DROP TABLE oompa_invalid`).pipe(Effect.provideContext(client))
      const error = yield* Effect.flip(queue.invalid("x.json", "{", "not JSON"))
      assert.strictEqual(error.operation, "invalid")
      assert.include(error.message, `relation "oompa_invalid" does not exist`)
    }))
})
