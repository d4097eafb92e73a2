/**
 * Goal: the cluster's task queue rides out a database that goes away for a moment (a restart, a
 * network blip): a claim made meanwhile is tried again until the server is back, and then takes
 * its task, instead of ending the iteration in an error that would leave a landed task looking
 * unfinished. Method: a private PostgreSQL stopped and started again on the same data and port
 * while a claim waits; real time (the retries wait on the clock).
 */
import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import type { Task } from "@oompa/core"
import { Effect, Exit, Fiber, Layer, Option, Redacted, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ClusterTaskQueue from "../src/cluster/ClusterTaskQueue.ts"
import * as LocalPostgres from "../src/cluster/LocalPostgres.ts"

describe("ClusterTaskQueue when the database goes away", () => {
  it.live("a claim made while the server restarts waits for it, and takes its task", () =>
    Effect.gen(function*() {
      const base = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-pg-outage-"))
      const first = yield* Scope.make()
      const server = yield* LocalPostgres.start({ dataDir: base }).pipe(Scope.provide(first))
      const client = yield* Layer.build(PgClient.layer({ url: Redacted.make(server.url) }))
      const queue = yield* ClusterTaskQueue.make({ queue: "q", claimedBy: "iteration-1", takesBackHeld: true }).pipe(Effect.provideContext(client))
      yield* ClusterTaskQueue.importTasks("q", [{ id: "a", summary: "task a" } as Task.Task]).pipe(Effect.provideContext(client))
      // The server stops (its clients are cut off) and comes back a second and a half later.
      yield* Scope.close(first, Exit.void)
      const second = yield* Scope.make()
      const restarted = yield* Effect.forkChild(Effect.andThen(Effect.sleep("1500 millis"), LocalPostgres.start({ dataDir: base, port: server.port }).pipe(Scope.provide(second))))
      const claimed = yield* queue.claim
      assert.deepStrictEqual(Option.map(claimed, (task) => task.id), Option.some("a"))
      yield* Fiber.join(restarted)
      assert.deepStrictEqual((yield* queue.list("current")).map((task) => task.id), ["a"])
      yield* Scope.close(second, Exit.void)
      fs.rmSync(base, { recursive: true, force: true })
    }), 60_000)
})
