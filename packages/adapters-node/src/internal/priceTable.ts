/**
 * The price table behind `Pricing` (issue 18): `@pydantic/genai-prices`, pinned in package.json. Its
 * prices ship inside the package; nothing is fetched at run time (its `updatePrices`, the only way
 * it would fetch, is never called). It prices cached input and reasoning output at the rates it
 * lists for them, and long requests at a model's long-context tier.
 *
 * Internal: `Pricing.load` imports this module lazily, as its own chunk of the CLI's bundle, since
 * only a run that prices a call needs it (never `--help` or the read commands).
 *
 * The package's data is cut down to what oompa can use ({@link bundledProviders}): the providers of
 * the four CLIs' models, and their prices of the token counts harnesses report. The CLI's bundle
 * carries nothing else (the package's 43 providers are 480 KB, a third of the bundle:
 * `scripts/build-cli.mjs`), and {@link activate} makes the library price with the same data, so
 * that a model costs the same through both.
 *
 * @since 0.1.0
 */
import type { AgentSpec, Pricing } from "@oompa/core"
import { calcPrice, findProvider, type ModelPrice, type Provider, updatePrices } from "@pydantic/genai-prices"

/**
 * The package and its version, as package.json pins it (a test keeps the two in step): what the
 * summary names as the source of an estimate.
 */
export const tablePackage = { name: "@pydantic/genai-prices", version: "0.1.8" } as const

/** How the summary names this table. */
export const tableId = `${tablePackage.name} ${tablePackage.version}`

/**
 * The table's providers of the models whose calls report tokens without dollars: codex calls
 * OpenAI's, gemini Google's; opencode names its provider in its model (`openai/gpt-5.5`). claude
 * reports its own dollars, and Anthropic's prices stay out of the bundle (`pricing` prices a claude
 * or `opencode:anthropic/…` model that reports none).
 */
export const tableProviders: ReadonlyArray<string> = ["openai", "google"]

/**
 * The prices of the token counts a harness reports (`Pricing.TokenUsage`); a model's other prices
 * (audio, images, web searches) never apply to a call oompa prices.
 */
const tokenPrices: ReadonlyArray<string> = ["input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "output_reasoning_mtok"]

const providerOfHarness: Partial<Record<AgentSpec.Harness, string>> = { codex: "openai", gemini: "google" }

/** Where the table looks a call's model up, or `undefined` when it has no provider for it. */
const lookupOf = (harness: AgentSpec.Harness, model: string): { readonly providerId: string; readonly model: string } | undefined => {
  if (harness !== "opencode") {
    const providerId = providerOfHarness[harness]
    return providerId === undefined ? undefined : { providerId, model }
  }
  const slash = model.indexOf("/")
  if (slash <= 0) return undefined
  // The package knows providers by other names too ("google-vertex" is Google).
  const provider = findProvider({ providerId: model.slice(0, slash) })
  return provider !== undefined && tableProviders.includes(provider.id) ? { providerId: provider.id, model: model.slice(slash + 1) } : undefined
}

/**
 * Dollars for `usage` of `model` called through `harness`, or `undefined` when the table has no
 * price for that model.
 */
export const cost = (harness: AgentSpec.Harness, model: string, usage: Pricing.TokenUsage): number | undefined => {
  const where = lookupOf(harness, model)
  if (where === undefined) return undefined
  try {
    const priced = calcPrice({
      input_tokens: usage.input,
      cache_read_tokens: usage.cacheRead,
      cache_write_tokens: usage.cacheWrite,
      output_tokens: usage.output,
      output_reasoning_tokens: usage.reasoning
    }, where.model, { providerId: where.providerId })
    return priced === null ? undefined : priced.total_price
  } catch {
    // The package throws on counts it finds inconsistent (a share above its total). The harness
    // parsers never produce such counts; if one did, the call has no estimate rather than a crash.
    return undefined
  }
}

const tokenPricesOf = (prices: ModelPrice): ModelPrice => Object.fromEntries(Object.entries(prices).filter(([key]) => tokenPrices.includes(key)))

/**
 * {@link tableProviders} as oompa prices with them: each model's `id`, `match` and token prices
 * (all that `calcPrice` reads for a call oompa prices), without descriptions, links or usage
 * extractors. `scripts/build-cli.mjs` puts them in place of the package's data, and checks that
 * every model of them costs the same as with the whole package.
 */
export const bundledProviders = (): ReadonlyArray<Provider> =>
  tableProviders.map((id) => {
    const provider = findProvider({ providerId: id })
    if (provider === undefined || provider.id !== id) throw new Error(`${tableId} has no provider ${id}`)
    return {
      id: provider.id,
      name: provider.name,
      api_pattern: provider.api_pattern,
      ...(provider.model_match === undefined ? {} : { model_match: provider.model_match }),
      ...(provider.provider_match === undefined ? {} : { provider_match: provider.provider_match }),
      ...(provider.fallback_model_providers === undefined ? {} : { fallback_model_providers: provider.fallback_model_providers }),
      models: provider.models.map((model) => ({
        id: model.id,
        match: model.match,
        prices: Array.isArray(model.prices)
          ? model.prices.map((conditional) => ({ ...conditional, prices: tokenPricesOf(conditional.prices) }))
          : tokenPricesOf(model.prices)
      }))
    }
  })

/**
 * Makes the package price with {@link bundledProviders} alone (its documented `updatePrices`, given
 * data rather than a fetch), as the CLI's bundle does. Called once, when `Pricing.load` imports the
 * table.
 */
export const activate = (): void => {
  const providers = [...bundledProviders()]
  updatePrices(({ setProviderData }) => setProviderData(providers))
}
