/**
 * What agent calls cost when their harness reports tokens rather than dollars (issue 18): a price
 * per million tokens, as oompa.json's `pricing` gives one for a model no price table knows (a
 * private deployment, a model newer than the table), and the token counts a call is priced from.
 *
 * Pure data and arithmetic. The maintained price table itself, and which harness reports what, are
 * `@oompa/adapters-node`'s `Pricing`: the core only sums the dollars it is given.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const Dollars = Schema.Finite.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/**
 * Dollars per million tokens of one model. Cached input is a share of the input and reasoning a
 * share of the output, as every provider counts them; each is priced at its own rate when one is
 * given, else at the rate of the whole it is part of.
 *
 * @category models
 * @since 0.1.0
 */
export const ModelPrice = Schema.Struct({
  /** Input tokens that were neither read from nor written to the provider's cache. */
  input: Dollars,
  /** Output tokens, reasoning included unless `reasoning` prices it apart. */
  output: Dollars,
  /** Input tokens read from the provider's cache (default: `input`). */
  cache_read: Schema.optionalKey(Dollars),
  /** Input tokens written to the provider's cache (default: `input`). */
  cache_write: Schema.optionalKey(Dollars),
  /** Output tokens spent reasoning (default: `output`). */
  reasoning: Schema.optionalKey(Dollars)
})
export type ModelPrice = typeof ModelPrice.Type

/**
 * oompa.json's `pricing`: a price per model, by the model's name as the agent's model string gives
 * it (`"gpt-5.5"` of `codex:gpt-5.5`, `"azure/gpt-5"` of `opencode:azure/gpt-5`). It takes
 * precedence over the price table and over what a harness reports.
 *
 * @category models
 * @since 0.1.0
 */
export const Pricing = Schema.Record(Schema.String, ModelPrice)
export type Pricing = typeof Pricing.Type

/**
 * The tokens of one call (or of one model within a call), as the pricing needs them: the totals,
 * and the shares of them priced at other rates.
 *
 * @category models
 * @since 0.1.0
 */
export interface TokenUsage {
  /** Every input token, cached ones included. */
  readonly input: number
  /** Every output token, reasoning included. */
  readonly output: number
  /** Of `input`, the tokens read from the provider's cache. */
  readonly cacheRead: number
  /** Of `input`, the tokens written to the provider's cache. */
  readonly cacheWrite: number
  /** Of `output`, the tokens spent reasoning. */
  readonly reasoning: number
}

/**
 * No tokens.
 *
 * @category constants
 * @since 0.1.0
 */
export const noTokens: TokenUsage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 }

/**
 * Adds two usages.
 *
 * @category combinators
 * @since 0.1.0
 */
export const addUsage = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  input: a.input + b.input,
  output: a.output + b.output,
  cacheRead: a.cacheRead + b.cacheRead,
  cacheWrite: a.cacheWrite + b.cacheWrite,
  reasoning: a.reasoning + b.reasoning
})

/**
 * What `later` adds to `earlier`, for a harness that reports a resumed session's running total;
 * never below zero (a total that went down counts as nothing added, not as a refund).
 *
 * @category combinators
 * @since 0.1.0
 */
export const usageSince = (later: TokenUsage, earlier: TokenUsage): TokenUsage => ({
  input: Math.max(0, later.input - earlier.input),
  output: Math.max(0, later.output - earlier.output),
  cacheRead: Math.max(0, later.cacheRead - earlier.cacheRead),
  cacheWrite: Math.max(0, later.cacheWrite - earlier.cacheWrite),
  reasoning: Math.max(0, later.reasoning - earlier.reasoning)
})

/**
 * Dollars for `usage` at `price`. A share larger than its whole (a harness's inconsistent counts)
 * is cut to the whole, so that no token is priced twice.
 *
 * @category pricing
 * @since 0.1.0
 */
export const costOf = (price: ModelPrice, usage: TokenUsage): number => {
  const cacheRead = Math.min(usage.cacheRead, usage.input)
  const cacheWrite = Math.min(usage.cacheWrite, usage.input - cacheRead)
  const reasoning = Math.min(usage.reasoning, usage.output)
  const dollars = (usage.input - cacheRead - cacheWrite) * price.input +
    cacheRead * (price.cache_read ?? price.input) +
    cacheWrite * (price.cache_write ?? price.input) +
    (usage.output - reasoning) * price.output +
    reasoning * (price.reasoning ?? price.output)
  return dollars / 1_000_000
}

/**
 * How the run's summary names prices that came from oompa.json's `pricing`.
 *
 * @category constants
 * @since 0.1.0
 */
export const configSource = "oompa.json pricing"
