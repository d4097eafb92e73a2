/**
 * What an agent call cost (issue 18, SPEC F15), for every harness. claude reports dollars; codex and
 * gemini report only tokens; opencode reports dollars for the models its own configuration prices,
 * and 0 for the others. Where no dollars were reported (or 0 for a call that used tokens), the cost
 * is estimated from the call's tokens at the model's price: oompa.json's `pricing` first (private
 * deployments, models newer than the table), then the maintained price table
 * (`@pydantic/genai-prices`, pinned, loaded lazily: `internal/priceTable.ts`). `pricing` also
 * overrides what a harness reports: it is the user's own price for that model. An estimate names
 * the table it came from, so that the summary can say which costs are estimated, and from what.
 *
 * A cost budget over an agent whose calls cannot be priced could never stop the run:
 * {@link budgetProblems} names each such agent, and `SwarmRun` refuses to start (exit 2).
 *
 * @since 0.1.0
 */
import { AgentSpec, type ConfigFile, Pricing as Prices, type SwarmConfig } from "@oompa/core"
import { Effect } from "effect"
import type { ModelUsage } from "./Harnesses.ts"

/**
 * A price table: its name (for the summary) and the cost of a model's tokens through a harness.
 *
 * @category models
 * @since 0.1.0
 */
export interface PriceTable {
  /** `@pydantic/genai-prices 0.1.8`: the package and version of the prices. */
  readonly id: string
  /** Dollars for `usage` of `model` called through `harness`; `undefined` when the table has no price for it. */
  readonly cost: (harness: AgentSpec.Harness, model: string, usage: Prices.TokenUsage) => number | undefined
}

// The table's module is imported once per process, on first use: its data is most of its size.
let loaded: Promise<PriceTable> | undefined

/**
 * The maintained price table, imported on first use. A failure to import it is a broken install
 * (the package or the bundle's chunk is missing), reported as a defect.
 *
 * @category constructors
 * @since 0.1.0
 */
export const load: Effect.Effect<PriceTable> = Effect.promise(() =>
  loaded ??= import("./internal/priceTable.ts").then((table): PriceTable => {
    table.activate()
    return { id: table.tableId, cost: table.cost }
  })
)

/**
 * What one call cost: absent when nothing priced it; `costEstimatedWith` names the source of an
 * estimate (a table's id, or `oompa.json pricing`), absent when the harness reported the cost.
 *
 * @category models
 * @since 0.1.0
 */
export interface CallCost {
  readonly costUsd?: number
  readonly costEstimatedWith?: string
}

/**
 * One call, as its cost is decided from.
 *
 * @category models
 * @since 0.1.0
 */
export interface Call {
  readonly harness: AgentSpec.Harness
  /** The model of the agent's spec; `undefined` when the CLI runs its default. */
  readonly model: string | undefined
  /** The call's tokens by model (as the harness parsed them); `undefined` when it reported none. */
  readonly usage: ReadonlyArray<ModelUsage> | undefined
  /** The dollars the harness reported for this call. */
  readonly reportedUsd: number | undefined
  /** oompa.json's `pricing`. */
  readonly pricing: Prices.Pricing
}

const named = (pricing: Prices.Pricing, model: string | undefined): model is string => model !== undefined && Object.hasOwn(pricing, model)

const usedTokens = (call: Call): boolean => (call.usage ?? []).some((u) => u.input + u.output > 0)

/**
 * Whether the harness's own figure is the call's cost: it reported one, `pricing` does not name the
 * model, and it is not a 0 for a call that used tokens (what opencode and claude report for a model
 * they have no price for).
 */
const reportStands = (call: Call): boolean =>
  call.reportedUsd !== undefined &&
  !named(call.pricing, call.model) && !(call.usage ?? []).some((u) => named(call.pricing, u.model)) &&
  !(call.reportedUsd === 0 && usedTokens(call))

/**
 * Whether {@link callCost} may consult the price table for this call; when not, the table is not
 * loaded.
 *
 * @category predicates
 * @since 0.1.0
 */
export const needsTable = (call: Call): boolean => (call.usage ?? []).length > 0 && !reportStands(call)

/** One model's tokens priced: by `pricing`, else the table, for the model named, else for the call's own model. */
const priceOf = (call: Call, table: PriceTable | undefined, usage: ModelUsage): { readonly usd: number; readonly source: string } | undefined => {
  for (const model of [usage.model, call.model]) {
    if (model === undefined) continue
    if (named(call.pricing, model)) return { usd: Prices.costOf(call.pricing[model]!, usage), source: Prices.configSource }
    const usd = table?.cost(call.harness, model, usage)
    if (usd !== undefined) return { usd, source: table!.id }
  }
  return undefined
}

/**
 * The cost of one call (see the module's rules). `table` may be `undefined` when
 * {@link needsTable} said it is not needed.
 *
 * @category pricing
 * @since 0.1.0
 */
export const callCost = (call: Call, table: PriceTable | undefined): CallCost => {
  const reported: CallCost = call.reportedUsd === undefined ? {} : { costUsd: call.reportedUsd }
  if (reportStands(call) || call.usage === undefined || call.usage.length === 0) return reported
  const priced = call.usage.map((usage) => priceOf(call, table, usage))
  // A model of the call without a price leaves the estimate unknown, not low.
  if (priced.some((p) => p === undefined)) return reported
  const sources = [...new Set(priced.map((p) => p!.source))].sort()
  return { costUsd: priced.reduce((sum, p) => sum + p!.usd, 0), costEstimatedWith: sources.join(" + ") }
}

// ---------------------------------------------------------------------------------------------
// Budgets that cannot be enforced
// ---------------------------------------------------------------------------------------------

/** Why calls of `agent` would have no cost, or `undefined` when they would have one. */
const whyUnpriced = (agent: AgentSpec.AgentSpec, pricing: Prices.Pricing, table: PriceTable): string | undefined => {
  if (agent.harness === "claude") return undefined
  if (agent.harness === "command") return "harness command reports neither tokens nor dollars"
  if (agent.model === undefined) return `${agent.harness} runs its default model, which oompa cannot price before the run: name the model`
  if (named(pricing, agent.model) || table.cost(agent.harness, agent.model, Prices.noTokens) !== undefined) return undefined
  return `${table.id} has no price for ${JSON.stringify(agent.model)}; give it one in "pricing", e.g. ` +
    `"pricing": { ${JSON.stringify(agent.model)}: { "input": 1.25, "output": 10 } } (dollars per million tokens)`
}

/** The agents whose calls a budget counts, with the budget's name as the problem's path. */
const budgetedAgents = (config: SwarmConfig.SwarmConfig): ReadonlyArray<{ readonly path: string; readonly agents: ReadonlyArray<AgentSpec.AgentSpec> }> => {
  const reviewers = config.reviewers.map((r) => r.agent)
  // Every call of the run counts against the run's budget: the planner's, the workers', the reviewers'.
  const run = config.budget.max_cost_usd === undefined ? [] : [{
    path: "budget.max_cost_usd",
    agents: [...(config.planner === undefined ? [] : [config.planner.agent]), ...config.workers.map((w) => w.agent), ...reviewers]
  }]
  // A worker's budget counts its own calls and the reviews of its work.
  const workers = config.workers.filter((w) => w.budget.max_cost_usd !== undefined).map((w) => ({
    path: `budget.max_cost_usd of worker ${w.id}`,
    agents: [w.agent, ...reviewers]
  }))
  return [...run, ...workers]
}

/**
 * A problem for each agent a cost budget counts whose calls oompa could not price, naming the
 * budget and what to do; empty when every cost budget can be enforced. Loads the price table only
 * when the configuration has a cost budget.
 *
 * @category checks
 * @since 0.1.0
 */
export const budgetProblems = (config: SwarmConfig.SwarmConfig): Effect.Effect<ReadonlyArray<ConfigFile.ConfigProblem>> => {
  const budgets = budgetedAgents(config)
  if (budgets.length === 0) return Effect.succeed([])
  return Effect.map(load, (table) =>
    budgets.flatMap(({ agents, path }) => {
      const labels = [...new Map(agents.map((agent) => [AgentSpec.formatModelString(agent), agent])).entries()]
      return labels.flatMap(([label, agent]) => {
        const why = whyUnpriced(agent, config.pricing, table)
        return why === undefined ? [] : [{ path, message: `cannot be enforced: calls of ${label} would have no cost (${why})` }]
      })
    }))
}
