/**
 * Goal (issue 18): oompa.json's `pricing` prices models no table knows — cached input and reasoning
 * at their own rates when given, else at the rate of the whole they are part of — a wrong price is
 * reported naming its field, and a run's summary, from its log alone, says how much of its cost was
 * estimated from tokens and with which tables.
 * Method: worked examples.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { decodeConfigFileResult, encodeConfigFile } from "../../src/domain/ConfigFile.ts"
import type { Event } from "../../src/domain/Event.ts"
import { configSource, costOf, noTokens, type TokenUsage } from "../../src/domain/Pricing.ts"
import { summarize } from "../../src/domain/RunSummary.ts"

const usage = (fields: Partial<TokenUsage>): TokenUsage => ({ ...noTokens, ...fields })

describe("Pricing.costOf", () => {
  it("prices uncached input, cached reads and writes, output and reasoning each at its rate, per million tokens", () => {
    const price = { input: 2, output: 10, cache_read: 0.2, cache_write: 2.5, reasoning: 12 }
    const used = usage({ input: 1_000_000, cacheRead: 600_000, cacheWrite: 100_000, output: 50_000, reasoning: 20_000 })
    assert.closeTo(costOf(price, used), 300_000 * 2 / 1e6 + 600_000 * 0.2 / 1e6 + 100_000 * 2.5 / 1e6 + 30_000 * 10 / 1e6 + 20_000 * 12 / 1e6, 1e-12)
  })

  it("a share without a rate of its own is priced as the whole it is part of", () => {
    const used = usage({ input: 4_000, cacheRead: 3_000, output: 500, reasoning: 400 })
    assert.closeTo(costOf({ input: 3, output: 15 }, used), (4_000 * 3 + 500 * 15) / 1e6, 1e-12)
  })

  it("a share larger than its whole is cut to it: no token is priced twice", () => {
    assert.closeTo(costOf({ input: 1, output: 1, cache_read: 0 }, usage({ input: 100, cacheRead: 500, output: 10, reasoning: 99 })), 10 / 1e6, 1e-15)
  })
})

describe("oompa.json pricing", () => {
  const file = (pricing: unknown) => JSON.stringify({ workers: [{ model: "codex:in-house-7b" }], budget: { max_cost_usd: 5 }, pricing })

  it("decodes prices by model name; absent, none", () => {
    const decoded = decodeConfigFileResult(file({ "in-house-7b": { input: 0.5, output: 1.5, cache_read: 0.05 } }), "oompa.json")
    assert.isTrue(Result.isSuccess(decoded))
    if (Result.isFailure(decoded)) return
    assert.deepStrictEqual(decoded.success.pricing, { "in-house-7b": { input: 0.5, output: 1.5, cache_read: 0.05 } })
    assert.deepStrictEqual(encodeConfigFile(decoded.success).pricing, decoded.success.pricing)
    const none = decodeConfigFileResult(JSON.stringify({ workers: [{ model: "codex" }] }), "oompa.json")
    assert.deepStrictEqual(Result.getOrThrow(none).pricing, {})
    assert.isUndefined(encodeConfigFile(Result.getOrThrow(none)).pricing)
  })

  it("a wrong price is one line naming the file and the field", () => {
    const decoded = decodeConfigFileResult(file({ "gpt-5.5": { input: -1, outptu: 2 } }), "oompa.json")
    assert.isTrue(Result.isFailure(decoded))
    if (Result.isSuccess(decoded)) return
    assert.deepStrictEqual(decoded.failure.message.split("\n"), [
      "oompa.json: pricing[\"gpt-5.5\"].outptu: unknown key (did you mean \"output\"?)",
      "oompa.json: pricing[\"gpt-5.5\"].input: expected a price in dollars per million tokens (0 or more), got -1",
      "oompa.json: pricing[\"gpt-5.5\"].output: is required"
    ])
  })
})

describe("RunSummary: estimated costs", () => {
  const call = (fields: { readonly costUsd?: number; readonly costEstimatedWith?: string }): Event => ({
    _tag: "AgentFinished", at: 1_100, worker: "w0", iteration: 1, call: "propose", agent: "codex:gpt-5.5", exitCode: 0, durationMs: 50, timedOut: false, ...fields
  })

  it("the share of the cost estimated from tokens, and the tables it came from, are in the summary", () => {
    const summary = summarize("1a2b3c4d", [
      call({ costUsd: 0.5 }),
      call({ costUsd: 0.25, costEstimatedWith: "@pydantic/genai-prices 0.1.8" }),
      call({ costUsd: 0.125, costEstimatedWith: configSource }),
      call({})
    ])
    assert.closeTo(summary.costUsd, 0.875, 1e-12)
    assert.closeTo(summary.estimatedCostUsd!, 0.375, 1e-12)
    assert.deepStrictEqual(summary.priceTables, ["@pydantic/genai-prices 0.1.8", "oompa.json pricing"])
  })

  it("a run whose costs were all reported says nothing of estimates", () => {
    const summary = summarize("1a2b3c4d", [call({ costUsd: 0.5 })])
    assert.isUndefined(summary.estimatedCostUsd)
    assert.isUndefined(summary.priceTables)
  })
})
