/**
 * Goal (issue 18): a cost for every harness. claude's dollars stand; codex's and gemini's tokens, and
 * opencode's when it reports no dollars, become dollars at the model's price — oompa.json's
 * `pricing` first, then the pinned price table, whose cached and reasoning rates apply — and the
 * call says which table it was estimated with. A cost budget over an agent oompa cannot price is
 * refused before the run, naming the agent and what to do.
 * Method: `Pricing` over the real table (loaded as a run loads it), compared with the package's own
 * `calcPrice` where the figure is the table's.
 */
import { assert, describe, it } from "@effect/vitest"
import { type AgentSpec, Pricing as Prices, SwarmConfig } from "@oompa/core"
import { calcPrice } from "@pydantic/genai-prices"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import type { ModelUsage } from "../src/Harnesses.ts"
import * as Pricing from "../src/Pricing.ts"

const table = () => Effect.runPromise(Pricing.load)

const usage = (fields: Partial<ModelUsage>): ModelUsage => ({ ...Prices.noTokens, ...fields })

/** The package's own figure for a call (its usage keys: totals, with the cached and reasoning shares). */
const packagePrice = (providerId: string, model: string, u: ModelUsage): number =>
  calcPrice({ input_tokens: u.input, cache_read_tokens: u.cacheRead, cache_write_tokens: u.cacheWrite, output_tokens: u.output, output_reasoning_tokens: u.reasoning }, model, { providerId })!.total_price

const call = (fields: Partial<Pricing.Call> & Pick<Pricing.Call, "harness">): Pricing.Call => ({
  model: undefined,
  usage: undefined,
  reportedUsd: undefined,
  pricing: {},
  ...fields
})

describe("the price table", () => {
  it("is the pinned package, at the version installed, named as the summary names it", async () => {
    const require = createRequire(import.meta.url)
    const installed = JSON.parse(readFileSync(path.join(path.dirname(require.resolve("@pydantic/genai-prices")), "..", "package.json"), "utf8")) as { version: string }
    const pinned = (JSON.parse(readFileSync(path.join(import.meta.dirname, "..", "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies
    assert.strictEqual(pinned["@pydantic/genai-prices"], installed.version, "pinned exactly (npm install --save-exact)")
    assert.strictEqual((await table()).id, `@pydantic/genai-prices ${installed.version}`)
  })

  it("prices the models the CLIs run by default and those oompa's examples name", async () => {
    const prices = await table()
    const priced: ReadonlyArray<readonly [AgentSpec.Harness, string]> = [
      // codex 0.169 lists gpt-5.5 in its catalog; oompa's examples and `oompa init` name gpt-5-codex.
      ["codex", "gpt-5.5"],
      ["codex", "gpt-5-codex"],
      // gemini 0.61's default (auto) routes between these.
      ["gemini", "gemini-2.5-pro"],
      ["gemini", "gemini-2.5-flash"],
      ["gemini", "gemini-3-pro-preview"],
      ["gemini", "gemini-3-flash-preview"],
      ["gemini", "gemini-3.5-flash"],
      // opencode names its provider.
      ["opencode", "openai/gpt-5.5"],
      ["opencode", "google/gemini-2.5-pro"]
    ]
    for (const [harness, model] of priced) assert.isDefined(prices.cost(harness, model, usage({ input: 1000, output: 100 })), `${harness}:${model}`)
    assert.isUndefined(prices.cost("codex", "gpt-6.1-sol", usage({ input: 1000 })), "newer than the table")
    assert.isUndefined(prices.cost("command", "gpt-5.5", usage({ input: 1000 })), "a command harness has no provider")
  })

  it("cached input is priced at the table's cache rate, reasoning as it lists it, long requests at the long-context tier", async () => {
    const prices = await table()
    const plain = usage({ input: 12_000, output: 900 })
    const cached = usage({ input: 12_000, cacheRead: 9_000, output: 900, reasoning: 400 })
    const long = usage({ input: 300_000, output: 900 })
    for (const u of [plain, cached, long]) assert.strictEqual(prices.cost("codex", "gpt-5.5", u), packagePrice("openai", "gpt-5.5", u))
    // gpt-5.5: $5 per million input tokens, $0.50 cached, $30 output with reasoning; past 272K, $10 and $45.
    assert.closeTo(prices.cost("codex", "gpt-5.5", cached)!, (3_000 * 5 + 9_000 * 0.5 + 900 * 30) / 1e6, 1e-12)
    assert.closeTo(prices.cost("codex", "gpt-5.5", long)!, (300_000 * 10 + 900 * 45) / 1e6, 1e-12)
    assert.strictEqual(prices.cost("gemini", "gemini-2.5-flash", cached), packagePrice("google", "gemini-2.5-flash", cached))
    assert.isBelow(prices.cost("gemini", "gemini-2.5-flash", cached)!, prices.cost("gemini", "gemini-2.5-flash", plain)!)
  })
})

describe("Pricing.callCost", () => {
  it("the dollars a harness reports stand, and no table is needed for them", async () => {
    const claude = call({ harness: "claude", model: "opus", usage: [usage({ input: 1000, output: 10 })], reportedUsd: 0.25 })
    assert.isFalse(Pricing.needsTable(claude))
    assert.deepStrictEqual(Pricing.callCost(claude, undefined), { costUsd: 0.25 })
  })

  it("tokens without dollars are priced by the table, saying so", async () => {
    const prices = await table()
    const u = usage({ input: 2_000, cacheRead: 1_000, output: 100 })
    const codex = call({ harness: "codex", model: "gpt-5.5", usage: [u] })
    assert.isTrue(Pricing.needsTable(codex))
    assert.deepStrictEqual(Pricing.callCost(codex, prices), { costUsd: packagePrice("openai", "gpt-5.5", u), costEstimatedWith: prices.id })
  })

  it("pricing names a model: its price wins over the table and over what the harness reports", async () => {
    const prices = await table()
    const pricing = { "gpt-5.5": { input: 1, output: 2, cache_read: 0.1 }, opus: { input: 3, output: 6 } }
    const u = usage({ input: 2_000, cacheRead: 1_000, output: 100 })
    assert.deepStrictEqual(Pricing.callCost(call({ harness: "codex", model: "gpt-5.5", usage: [u], pricing }), prices), {
      costUsd: (1_000 * 1 + 1_000 * 0.1 + 100 * 2) / 1e6,
      costEstimatedWith: "oompa.json pricing"
    })
    const claude = call({ harness: "claude", model: "opus", usage: [u], reportedUsd: 0.25, pricing })
    assert.deepStrictEqual(Pricing.callCost(claude, prices), { costUsd: (2_000 * 3 + 100 * 6) / 1e6, costEstimatedWith: "oompa.json pricing" })
  })

  it("a reported 0 for a call that used tokens is a harness without a price: the table's stands in, else the 0", async () => {
    const prices = await table()
    const u = usage({ input: 5_000, output: 200 })
    const known = call({ harness: "opencode", model: "openai/gpt-5.5", usage: [u], reportedUsd: 0 })
    assert.deepStrictEqual(Pricing.callCost(known, prices), { costUsd: packagePrice("openai", "gpt-5.5", u), costEstimatedWith: prices.id })
    const free = call({ harness: "opencode", model: "opencode/big-pickle", usage: [u], reportedUsd: 0 })
    assert.deepStrictEqual(Pricing.callCost(free, prices), { costUsd: 0 })
  })

  it("gemini's models are priced each at its own price; a helper model the table lacks at the call's model's", async () => {
    const prices = await table()
    const main = usage({ model: "gemini-2.5-pro", input: 8_000, output: 300 })
    const router = usage({ model: "gemini-2.5-flash", input: 500, output: 20 })
    const unknown = usage({ model: "gemini-internal-helper", input: 100, output: 10 })
    const result = Pricing.callCost(call({ harness: "gemini", model: "gemini-2.5-pro", usage: [main, router, unknown] }), prices)
    const expected = packagePrice("google", "gemini-2.5-pro", main) + packagePrice("google", "gemini-2.5-flash", router) +
      packagePrice("google", "gemini-2.5-pro", { ...unknown, model: "gemini-2.5-pro" })
    assert.closeTo(result.costUsd!, expected, 1e-15)
  })

  it("no price anywhere: no cost (never a guess), and the run's summary names the harness", async () => {
    const prices = await table()
    assert.deepStrictEqual(Pricing.callCost(call({ harness: "codex", model: "gpt-6.1-sol", usage: [usage({ input: 100, output: 10 })] }), prices), {})
    assert.deepStrictEqual(Pricing.callCost(call({ harness: "codex", usage: [usage({ input: 100, output: 10 })] }), prices), {}, "the CLI's default model, unnamed")
    assert.deepStrictEqual(Pricing.callCost(call({ harness: "command" }), prices), {})
  })
})

describe("Pricing.budgetProblems: a cost budget that cannot be enforced", () => {
  const worker = (id: string, agent: AgentSpec.AgentSpec, budget: SwarmConfig.WorkerConfig["budget"] = {}): SwarmConfig.WorkerConfig =>
    ({ id: id as SwarmConfig.WorkerConfig["id"], agent, role: "executor", iterations: 1, prompt: [], wait_between: 0, budget })
  const problems = (config: SwarmConfig.SwarmConfig) => Effect.runPromise(Pricing.budgetProblems(config))

  it("names each agent of the run whose calls would have no cost, and what to do", async () => {
    const config = SwarmConfig.makeSwarmConfig({
      workers: [worker("w0", { harness: "codex", model: "gpt-6.1-sol" }), worker("w1", { harness: "codex", model: "gpt-6.1-sol" }), worker("w2", { harness: "claude", model: "opus" })],
      reviewers: [{ agent: { harness: "gemini" } }, { agent: { harness: "codex", model: "gpt-5.5" } }],
      budget: { max_cost_usd: 5 }
    })
    const found = await problems(config)
    assert.deepStrictEqual(found.map((p) => p.path), ["budget.max_cost_usd", "budget.max_cost_usd"])
    assert.match(found[0]!.message, /^cannot be enforced: calls of codex:gpt-6\.1-sol would have no cost \(@pydantic\/genai-prices [\d.]+ has no price for "gpt-6\.1-sol"; give it one in "pricing", e\.g\. "pricing": \{ "gpt-6\.1-sol": \{ "input": /)
    assert.include(found[1]!.message, "calls of gemini would have no cost (gemini runs its default model, which oompa cannot price before the run: name the model)")
  })

  it("pricing names the model: the budget can be enforced", async () => {
    const config = SwarmConfig.makeSwarmConfig({
      workers: [worker("w0", { harness: "codex", model: "gpt-6.1-sol" })],
      budget: { max_cost_usd: 5 },
      pricing: { "gpt-6.1-sol": { input: 2, output: 10 } }
    })
    assert.deepStrictEqual(await problems(config), [])
  })

  it("a worker's budget counts its own calls and the reviews of its work; a command harness can never be priced", async () => {
    const config = SwarmConfig.makeSwarmConfig({
      workers: [worker("w0", { harness: "command" }), worker("w1", { harness: "codex", model: "gpt-5.5" }, { max_cost_usd: 1 })],
      reviewers: [{ agent: { harness: "opencode", model: "mock/scripted" } }]
    })
    const found = await problems(config)
    assert.deepStrictEqual(found.map((p) => p.path), ["budget.max_cost_usd of worker w1"])
    assert.include(found[0]!.message, "calls of opencode:mock/scripted would have no cost")
    const command = SwarmConfig.makeSwarmConfig({ workers: [worker("w0", { harness: "command" })], budget: { max_cost_usd: 1 } })
    assert.include((await problems(command))[0]!.message, "harness command reports neither tokens nor dollars")
  })

  it("no cost budget, nothing to enforce", async () => {
    const config = SwarmConfig.makeSwarmConfig({ workers: [worker("w0", { harness: "codex" })], budget: { max_agent_calls: 3 } })
    assert.deepStrictEqual(await problems(config), [])
  })
})
