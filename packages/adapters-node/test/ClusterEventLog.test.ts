/**
 * Goal: a cluster run's merged log (`ClusterEventLog`) is one order of every writer's events, read
 * without gaps: a reader following it never steps past an event whose transaction has not yet
 * committed (it would never see it), keeps each writer's order, keeps agents' text whole (U+0000
 * included), and reads past a row that is not an event, saying so, instead of stopping.
 * Method: a private PostgreSQL (`LocalPostgres`); writers are `make`'s sinks and raw transactions
 * of a second connection pool, held open at chosen points with a `Deferred`.
 */
import { assert, describe, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import type { Event } from "@oompa/core"
import { Context, Deferred, Effect, Fiber, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as ClusterEventLog from "../src/cluster/ClusterEventLog.ts"
import * as LocalPostgres from "../src/cluster/LocalPostgres.ts"

class Server extends Context.Service<Server, LocalPostgres.LocalPostgres>()("test/ClusterEventLog/Server") {}

const Live = Layer.unwrap(Effect.gen(function*() {
  const server = yield* Server
  return PgClient.layer({ url: Redacted.make(server.url) })
})).pipe(Layer.provideMerge(Layer.effect(Server, LocalPostgres.start())))

const warning = (message: string, at = 1): Event.Event => ({ _tag: "Warning", at, message })

const messages = (events: ReadonlyArray<ClusterEventLog.LoggedEvent>) =>
  events.map((e) => `${e.runner}:${e.event._tag === "Warning" ? e.event.message : e.event._tag}`)

/** Reads the log from `cursor` until a read finds nothing: what a follower sees now, and where it got to. */
const follow = (runId: string, cursor: ClusterEventLog.Cursor) =>
  Effect.gen(function*() {
    const seen: Array<ClusterEventLog.LoggedEvent> = []
    for (;;) {
      const page = yield* ClusterEventLog.readAfter(runId, cursor, { limit: 2 })
      seen.push(...page.events)
      cursor = page.cursor
      if (page.events.length === 0) return { seen, cursor }
    }
  })

layer(Live, { timeout: 120_000 })("ClusterEventLog (PostgreSQL)", (it) => {
  describe("the merged log", () => {
    it.effect("every writer's events in one order, each writer's kept; agents' text whole", () =>
      Effect.gen(function*() {
        yield* ClusterEventLog.ensure
        const a = yield* ClusterEventLog.make("run-1", "runner-a")
        const b = yield* ClusterEventLog.make("run-1", "runner-b")
        const other = yield* ClusterEventLog.make("run-2", "runner-a")
        yield* a.emit(warning("a1"))
        yield* b.emit(warning("b1 with \u0000 and \u{1F600}"))
        yield* other.emit(warning("another run's"))
        yield* a.emit(warning("a2"))
        yield* b.emit({ _tag: "SwarmFinished", at: 2, outcome: "ok", durationMs: 1, merged: 0, rejected: 0, failed: 0 })
        const { seen } = yield* follow("run-1", ClusterEventLog.start)
        assert.deepStrictEqual(messages(seen), ["runner-a:a1", "runner-b:b1 with \u0000 and \u{1F600}", "runner-a:a2", "runner-b:SwarmFinished"])
        assert.deepStrictEqual(messages(yield* ClusterEventLog.readAll("run-1")), messages(seen))
      }))

    it.effect("a follower never steps past a transaction still running: the event it commits later is read in its place", () =>
      Effect.gen(function*() {
        const server = yield* Server
        const late = yield* Layer.build(PgClient.layer({ url: Redacted.make(server.url) }))
        const inserted = yield* Deferred.make<void>()
        const commit = yield* Deferred.make<void>()
        // A writer whose row is in, its transaction not yet committed.
        const slow = yield* Effect.gen(function*() {
          const sql = yield* SqlClient
          yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`INSERT INTO oompa_events (run_id, runner, key, event) VALUES ('run-3', 'slow', 'slow-1', ${JSON.stringify(warning("first, committed last"))}::json)`
            yield* Deferred.succeed(inserted, undefined)
            yield* Deferred.await(commit)
          }))
        }).pipe(Effect.provideContext(late), Effect.forkChild)
        yield* Deferred.await(inserted)
        // However the checks below end, the held transaction ends too.
        yield* Effect.addFinalizer(() => Deferred.succeed(commit, undefined))
        const fast = yield* ClusterEventLog.make("run-3", "fast")
        yield* fast.emit(warning("second, committed first"))
        // Read now by id, the second is there and the first is not: a follower would pass it for good.
        const unsettled = yield* ClusterEventLog.readAfter("run-3", ClusterEventLog.start, { settled: false })
        assert.deepStrictEqual(messages(unsettled.events), ["fast:second, committed first"])
        // A settled follower waits for it instead.
        const before = yield* follow("run-3", ClusterEventLog.start)
        assert.deepStrictEqual(messages(before.seen), [])
        yield* Deferred.succeed(commit, undefined)
        yield* Fiber.join(slow)
        const after = yield* follow("run-3", before.cursor)
        assert.deepStrictEqual(messages(after.seen), ["slow:first, committed last", "fast:second, committed first"])
        // And nothing more, ever, from where it got to.
        assert.deepStrictEqual(messages((yield* follow("run-3", after.cursor)).seen), [])
      }))

    it.effect("a row that is not an event is read as a warning naming it, and the log goes on", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const writer = yield* ClusterEventLog.make("run-4", "runner-a")
        yield* writer.emit(warning("before"))
        yield* sql`INSERT INTO oompa_events (run_id, runner, key, event) VALUES ('run-4', 'newer-oompa', 'newer-1', ${JSON.stringify({ _tag: "FromTheFuture", at: 1 })}::json)`
        yield* writer.emit(warning("after"))
        const read = messages(yield* ClusterEventLog.readAll("run-4"))
        assert.strictEqual(read.length, 3)
        assert.strictEqual(read[0], "runner-a:before")
        assert.match(read[1]!, /^newer-oompa:event \d+ of newer-oompa in the cluster's database is not an event this oompa reads: /)
        assert.strictEqual(read[2], "runner-a:after")
      }))
  })
})
