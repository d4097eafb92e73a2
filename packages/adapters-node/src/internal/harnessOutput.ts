/**
 * How each agent CLI prints its answer (SPEC F3), read back: codex's and opencode's JSONL events,
 * claude's and gemini's JSON object. Every parser is total: output that is not in the harness's
 * format (garbage, a cut line, a warning first) never throws; it comes back as the raw text with
 * `structured: false`.
 *
 * Internal: used by `Harnesses.parseOutput`, which re-exports `ParsedOutput`.
 *
 * @since 0.1.0
 */
import { Pricing } from "@oompa/core"

/**
 * The tokens of one model in a call, with the cached and reasoning shares a price table prices
 * apart (issue 18); `model` when the harness names it (gemini reports every model it used).
 */
export interface ModelUsage extends Pricing.TokenUsage {
  readonly model?: string
}

/** The answer and bookkeeping read from a call's stdout (re-exported by `Harnesses`). */
export interface ParsedOutput {
  readonly answer: string
  readonly sessionId?: string
  /** As the harness reports them; codex's are cumulative over a resumed session. */
  readonly tokens?: { readonly input: number; readonly output: number }
  /** The same tokens in detail, by model: what a cost is computed from when the harness reports none. */
  readonly usage?: ReadonlyArray<ModelUsage>
  /** As the harness reports it; claude's is cumulative over a resumed session. */
  readonly costUsd?: number
  /** The harness said the call failed (claude `is_error`, codex `turn.failed`, an `error` event). */
  readonly isError: boolean
  readonly errorMessage?: string
  /** False when the output was not in the harness's format and `answer` is the raw text. */
  readonly structured: boolean
}

type Json = Record<string, unknown>

/** Parses one JSON object; anything else (garbage, a cut line, an array) is `undefined`. */
const parseObject = (text: string): Json | undefined => {
  const trimmed = text.trim()
  if (!trimmed.startsWith("{")) return undefined
  try {
    const value: unknown = JSON.parse(trimmed)
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Json : undefined
  } catch {
    // Not JSON: the caller falls back to the raw text, which is the documented behaviour.
    return undefined
  }
}

const jsonLines = (stdout: string): ReadonlyArray<Json> =>
  stdout.split("\n").flatMap((line) => {
    const parsed = parseObject(line)
    return parsed === undefined ? [] : [parsed]
  })

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null ? (value as Json)[key] : undefined

const text = (value: unknown): string | undefined => typeof value === "string" ? value : undefined

const count = (value: unknown): number => typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0

const finite = (value: unknown): number | undefined => typeof value === "number" && Number.isFinite(value) ? value : undefined

/** The input and output tokens of every model of a call. */
const totalTokens = (usage: ReadonlyArray<ModelUsage>): { input: number; output: number } =>
  usage.reduce((sum, model) => ({ input: sum.input + model.input, output: sum.output + model.output }), { input: 0, output: 0 })

/**
 * A usage whose shares are counts reported beside their totals. A CLI reporting a share larger than
 * its total (it should not) has it cut to the total, so that the total stays what it reported.
 */
const usageOf = (totals: { readonly input: number; readonly output: number }, shares: Partial<Pricing.TokenUsage>, model?: string): ModelUsage => {
  const cacheRead = Math.min(shares.cacheRead ?? 0, totals.input)
  return {
    input: totals.input,
    output: totals.output,
    cacheRead,
    cacheWrite: Math.min(shares.cacheWrite ?? 0, totals.input - cacheRead),
    reasoning: Math.min(shares.reasoning ?? 0, totals.output),
    ...(model === undefined ? {} : { model })
  }
}

/** Output not in the harness's format: the raw text is the answer. */
export const raw = (stdout: string): ParsedOutput => ({ answer: stdout, isError: false, structured: false })

const withOptional = (
  base: { readonly answer: string; readonly isError: boolean },
  extra: { sessionId?: string | undefined; usage?: ReadonlyArray<ModelUsage> | undefined; costUsd?: number | undefined; errorMessage?: string | undefined }
): ParsedOutput => ({
  ...base,
  structured: true,
  ...(extra.sessionId === undefined ? {} : { sessionId: extra.sessionId }),
  ...(extra.usage === undefined ? {} : { tokens: totalTokens(extra.usage), usage: extra.usage }),
  ...(extra.costUsd === undefined ? {} : { costUsd: extra.costUsd }),
  ...(extra.errorMessage === undefined ? {} : { errorMessage: extra.errorMessage })
})

/**
 * codex JSONL: session from `thread.started`, answer from the last `agent_message` item, tokens
 * from the last `turn.completed` (cumulative over a resumed thread; `cached_input_tokens` a share of
 * `input_tokens`, `reasoning_output_tokens` of `output_tokens`, as OpenAI counts them), failures
 * from `turn.failed` and `error` events.
 */
export const parseCodex = (stdout: string): ParsedOutput => {
  const events = jsonLines(stdout).filter((event) => typeof event["type"] === "string")
  if (events.length === 0) return raw(stdout)
  let sessionId: string | undefined
  let answer: string | undefined
  let usage: ModelUsage | undefined
  let errorMessage: string | undefined
  for (const event of events) {
    const type = event["type"]
    if (type === "thread.started") sessionId = text(event["thread_id"]) ?? sessionId
    if (type === "item.completed" && field(event["item"], "type") === "agent_message") {
      answer = text(field(event["item"], "text")) ?? answer
    }
    if (type === "turn.completed") {
      const used = event["usage"]
      usage = usageOf({ input: count(field(used, "input_tokens")), output: count(field(used, "output_tokens")) }, {
        cacheRead: count(field(used, "cached_input_tokens")),
        reasoning: count(field(used, "reasoning_output_tokens"))
      })
    }
    if (type === "turn.failed") errorMessage = text(field(event["error"], "message")) ?? errorMessage ?? "turn failed"
    if (type === "error") errorMessage = text(event["message"]) ?? errorMessage ?? "error"
  }
  const failed = errorMessage !== undefined && usage === undefined
  return withOptional({ answer: answer ?? "", isError: failed }, {
    sessionId,
    usage: usage === undefined ? undefined : [usage],
    errorMessage: failed ? errorMessage : undefined
  })
}

/** The last line of `stdout` that is a JSON object (a CLI may print a warning before its JSON). */
const lastObject = (stdout: string): Json | undefined => {
  const whole = parseObject(stdout)
  if (whole !== undefined) return whole
  const lines = jsonLines(stdout)
  return lines[lines.length - 1]
}

/**
 * claude JSON: answer `result`, failure `is_error` (not `subtype`), `session_id`, `usage` and
 * `total_cost_usd` (cumulative over a resumed session). Input tokens include the cache reads and
 * writes, which claude reports apart from `input_tokens`, so that the budget sees what was sent.
 */
export const parseClaude = (stdout: string): ParsedOutput => {
  const json = lastObject(stdout)
  if (json === undefined || !("result" in json || "is_error" in json || "session_id" in json)) return raw(stdout)
  const used = json["usage"]
  const cacheRead = count(field(used, "cache_read_input_tokens"))
  const cacheWrite = count(field(used, "cache_creation_input_tokens"))
  const usage = used === undefined ? undefined : [usageOf({
    input: count(field(used, "input_tokens")) + cacheWrite + cacheRead,
    output: count(field(used, "output_tokens"))
  }, { cacheRead, cacheWrite })]
  const isError = json["is_error"] === true
  const answer = text(json["result"]) ?? ""
  return withOptional({ answer, isError }, {
    sessionId: text(json["session_id"]),
    usage,
    costUsd: finite(json["total_cost_usd"]),
    errorMessage: isError ? (answer === "" ? text(json["subtype"]) ?? "is_error" : answer) : undefined
  })
}

/**
 * gemini JSON: answer `response`, `session_id`, tokens per model of `stats.models.<model>.tokens`
 * (`prompt` includes the `cached` share; `thoughts` are apart from `candidates`); no cost.
 */
export const parseGemini = (stdout: string): ParsedOutput => {
  const json = lastObject(stdout)
  if (json === undefined || !("response" in json || "error" in json || "session_id" in json)) return raw(stdout)
  const models = field(json["stats"], "models")
  const usage = typeof models !== "object" || models === null ? undefined : Object.entries(models as Json).map(([model, stats]) => {
    const used = field(stats, "tokens")
    const thoughts = count(field(used, "thoughts"))
    // Thinking tokens are billed as output, so they count as output here.
    return usageOf({ input: count(field(used, "prompt")), output: count(field(used, "candidates")) + thoughts }, {
      cacheRead: count(field(used, "cached")),
      reasoning: thoughts
    }, model)
  })
  const error = json["error"]
  const isError = error !== undefined && error !== null
  return withOptional({ answer: text(json["response"]) ?? "", isError }, {
    sessionId: text(json["session_id"]),
    usage: usage === undefined || usage.length === 0 ? undefined : usage,
    errorMessage: isError ? text(field(error, "message")) ?? "error" : undefined
  })
}

/**
 * opencode JSONL: the answer is every `text` part in order, the session any event's `sessionID`,
 * tokens and cost summed over `step_finish` parts (each step reports its own, not a running total).
 * opencode's `input` leaves out the cache's reads and writes, and its `output` the reasoning: each
 * is added back, so that the totals are what was sent and produced.
 */
export const parseOpencode = (stdout: string): ParsedOutput => {
  const events = jsonLines(stdout).filter((event) => typeof event["type"] === "string")
  if (events.length === 0) return raw(stdout)
  const texts: Array<string> = []
  let sessionId: string | undefined
  let usage: ModelUsage | undefined
  let costUsd: number | undefined
  let errorMessage: string | undefined
  for (const event of events) {
    sessionId = text(event["sessionID"]) ?? sessionId
    const part = event["part"]
    if (event["type"] === "text") {
      const said = text(field(part, "text"))
      if (said !== undefined) texts.push(said)
    }
    if (event["type"] === "step_finish") {
      const used = field(part, "tokens")
      const cacheRead = count(field(field(used, "cache"), "read"))
      const cacheWrite = count(field(field(used, "cache"), "write"))
      const reasoning = count(field(used, "reasoning"))
      const step = usageOf({ input: count(field(used, "input")) + cacheRead + cacheWrite, output: count(field(used, "output")) + reasoning }, {
        cacheRead,
        cacheWrite,
        reasoning
      })
      usage = usage === undefined ? step : Pricing.addUsage(usage, step)
      const cost = finite(field(part, "cost"))
      if (cost !== undefined) costUsd = (costUsd ?? 0) + cost
    }
    if (event["type"] === "error") {
      const error = event["error"]
      errorMessage = text(field(field(error, "data"), "message")) ?? text(field(error, "message")) ?? text(field(error, "name")) ?? "error"
    }
  }
  return withOptional({ answer: texts.join("\n\n"), isError: errorMessage !== undefined }, {
    sessionId,
    usage: usage === undefined ? undefined : [usage],
    costUsd,
    errorMessage
  })
}
