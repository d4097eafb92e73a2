/**
 * Goal: a cluster run's budget (`ClusterBudget`) counts every runner's calls: the run's limits and
 * each worker slot's hold across runners, wall time is the database's, and each runner keeps its
 * own totals for its summary. Method: a private PostgreSQL (`LocalPostgres`); two trackers of one
 * run stand for two runners, each over its own `BudgetTracker.make` as the local tracker.
 */
import { assert, describe, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { BudgetTracker, SwarmConfig } from "@oompa/core"
import { Effect, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as ClusterBudget from "../src/cluster/ClusterBudget.ts"
import * as LocalPostgres from "../src/cluster/LocalPostgres.ts"
import * as RunTable from "../src/cluster/RunTable.ts"

const Live = Layer.unwrap(Effect.map(LocalPostgres.start(), (server) => PgClient.layer({ url: Redacted.make(server.url) })))

const configWith = (budget: SwarmConfig.SwarmConfig["budget"]) =>
  ({ ...SwarmConfig.makeSwarmConfig({ workers: [] }), budget }) as SwarmConfig.SwarmConfig

/** Two runners' trackers of run `runId` (recorded in `oompa_runs`). */
const twoRunners = (runId: string, config: SwarmConfig.SwarmConfig) =>
  Effect.gen(function*() {
    yield* RunTable.insert(runId, "{}")
    yield* ClusterBudget.ensure
    const a = yield* ClusterBudget.make(runId, config, yield* BudgetTracker.make(config.budget))
    const b = yield* ClusterBudget.make(runId, config, yield* BudgetTracker.make(config.budget))
    return [a, b] as const
  })

const call = { harness: "claude", costUsd: 0.5, tokens: { input: 10, output: 5 } }

layer(Live, { timeout: 120_000 })("ClusterBudget (PostgreSQL)", (it) => {
  describe("a run's budget on many runners", () => {
    it.effect("the run's call limit counts both runners' calls; each runner's totals stay its own", () =>
      Effect.gen(function*() {
        const [a, b] = yield* twoRunners("calls", configWith({ max_agent_calls: 3 }))
        yield* a.record("w0", call)
        yield* a.record("w0", call)
        // Alone, each runner is under the limit.
        assert.deepStrictEqual(yield* b.check("w1", {}), Option.none())
        yield* b.record("w1", call)
        assert.deepStrictEqual(yield* b.check("w1", {}), Option.some("max_agent_calls"))
        assert.deepStrictEqual(yield* a.check("w0", {}), Option.some("max_agent_calls"))
        assert.deepStrictEqual(yield* a.spent, Option.some("max_agent_calls"))
        assert.strictEqual((yield* a.totals).calls, 2)
        assert.strictEqual((yield* b.totals).calls, 1)
        assert.deepStrictEqual(yield* ClusterBudget.runSpent("calls", { max_agent_calls: 3 }), Option.some("max_agent_calls"))
      }))

    it.effect("the run's dollars count both runners'; a worker slot's limit counts its calls on any runner, not another slot's", () =>
      Effect.gen(function*() {
        const [a, b] = yield* twoRunners("dollars", configWith({ max_cost_usd: 10 }))
        yield* a.record("w0", call)
        yield* b.record("w0", call)
        yield* b.record("w1", call)
        assert.deepStrictEqual(yield* a.check("w0", { max_agent_calls: 2 }), Option.some("max_agent_calls"))
        assert.deepStrictEqual(yield* a.check("w1", { max_agent_calls: 2 }), Option.none())
        assert.deepStrictEqual(yield* a.check("w1", { max_cost_usd: 0.5 }), Option.some("max_cost_usd"))
        // 1.5 of 10 dollars: the run goes on.
        assert.deepStrictEqual(yield* a.spent, Option.none())
        for (let i = 0; i < 17; i++) yield* (i % 2 === 0 ? a : b).record("w2", call)
        assert.deepStrictEqual(yield* b.check("w2", {}), Option.some("max_cost_usd"))
      }))

    it.effect("wall time is the run's, from its start in the database, whichever runner checks", () =>
      Effect.gen(function*() {
        const [a, b] = yield* twoRunners("wall", configWith({ max_wall_seconds: 60 }))
        assert.deepStrictEqual(yield* a.check("w0", {}), Option.none())
        const sql = yield* SqlClient
        yield* sql`UPDATE oompa_runs SET started_at = now() - interval '61 seconds' WHERE run_id = 'wall'`
        assert.deepStrictEqual(yield* b.check("w1", {}), Option.some("max_wall_seconds"))
      }))
  })
})
