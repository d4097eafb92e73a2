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

/** The answer and bookkeeping read from a call's stdout (re-exported by `Harnesses`). */
export interface ParsedOutput {
  readonly answer: string
  readonly sessionId?: string
  /** As the harness reports them; codex's are cumulative over a resumed session. */
  readonly tokens?: { readonly input: number; readonly output: number }
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

/** Output not in the harness's format: the raw text is the answer. */
export const raw = (stdout: string): ParsedOutput => ({ answer: stdout, isError: false, structured: false })

const withOptional = (
  base: { readonly answer: string; readonly isError: boolean },
  extra: { sessionId?: string | undefined; tokens?: { input: number; output: number } | undefined; costUsd?: number | undefined; errorMessage?: string | undefined }
): ParsedOutput => ({
  ...base,
  structured: true,
  ...(extra.sessionId === undefined ? {} : { sessionId: extra.sessionId }),
  ...(extra.tokens === undefined ? {} : { tokens: extra.tokens }),
  ...(extra.costUsd === undefined ? {} : { costUsd: extra.costUsd }),
  ...(extra.errorMessage === undefined ? {} : { errorMessage: extra.errorMessage })
})

/**
 * codex JSONL: session from `thread.started`, answer from the last `agent_message` item, tokens
 * from the last `turn.completed` (cumulative over a resumed thread), failures from `turn.failed`
 * and `error` events.
 */
export const parseCodex = (stdout: string): ParsedOutput => {
  const events = jsonLines(stdout).filter((event) => typeof event["type"] === "string")
  if (events.length === 0) return raw(stdout)
  let sessionId: string | undefined
  let answer: string | undefined
  let tokens: { input: number; output: number } | undefined
  let errorMessage: string | undefined
  for (const event of events) {
    const type = event["type"]
    if (type === "thread.started") sessionId = text(event["thread_id"]) ?? sessionId
    if (type === "item.completed" && field(event["item"], "type") === "agent_message") {
      answer = text(field(event["item"], "text")) ?? answer
    }
    if (type === "turn.completed") {
      const usage = event["usage"]
      tokens = { input: count(field(usage, "input_tokens")), output: count(field(usage, "output_tokens")) }
    }
    if (type === "turn.failed") errorMessage = text(field(event["error"], "message")) ?? errorMessage ?? "turn failed"
    if (type === "error") errorMessage = text(event["message"]) ?? errorMessage ?? "error"
  }
  const failed = errorMessage !== undefined && tokens === undefined
  return withOptional({ answer: answer ?? "", isError: failed }, { sessionId, tokens, errorMessage: failed ? errorMessage : undefined })
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
  const usage = json["usage"]
  const tokens = usage === undefined ? undefined : {
    input: count(field(usage, "input_tokens")) + count(field(usage, "cache_creation_input_tokens")) +
      count(field(usage, "cache_read_input_tokens")),
    output: count(field(usage, "output_tokens"))
  }
  const isError = json["is_error"] === true
  const answer = text(json["result"]) ?? ""
  return withOptional({ answer, isError }, {
    sessionId: text(json["session_id"]),
    tokens,
    costUsd: finite(json["total_cost_usd"]),
    errorMessage: isError ? (answer === "" ? text(json["subtype"]) ?? "is_error" : answer) : undefined
  })
}

/** gemini JSON: answer `response`, `session_id`, tokens summed over `stats.models.*.tokens`; no cost. */
export const parseGemini = (stdout: string): ParsedOutput => {
  const json = lastObject(stdout)
  if (json === undefined || !("response" in json || "error" in json || "session_id" in json)) return raw(stdout)
  const models = field(json["stats"], "models")
  let tokens: { input: number; output: number } | undefined
  if (typeof models === "object" && models !== null) {
    for (const model of Object.values(models as Json)) {
      const used = field(model, "tokens")
      // Thinking tokens are billed as output, so they count as output here.
      tokens = {
        input: (tokens?.input ?? 0) + count(field(used, "prompt")),
        output: (tokens?.output ?? 0) + count(field(used, "candidates")) + count(field(used, "thoughts"))
      }
    }
  }
  const error = json["error"]
  const isError = error !== undefined && error !== null
  return withOptional({ answer: text(json["response"]) ?? "", isError }, {
    sessionId: text(json["session_id"]),
    tokens,
    errorMessage: isError ? text(field(error, "message")) ?? "error" : undefined
  })
}

/**
 * opencode JSONL: the answer is every `text` part in order, the session any event's `sessionID`,
 * tokens and cost summed over `step_finish` parts (each step reports its own, not a running total).
 */
export const parseOpencode = (stdout: string): ParsedOutput => {
  const events = jsonLines(stdout).filter((event) => typeof event["type"] === "string")
  if (events.length === 0) return raw(stdout)
  const texts: Array<string> = []
  let sessionId: string | undefined
  let tokens: { input: number; output: number } | undefined
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
      tokens = {
        input: (tokens?.input ?? 0) + count(field(used, "input")) + count(field(field(used, "cache"), "read")),
        output: (tokens?.output ?? 0) + count(field(used, "output")) + count(field(used, "reasoning"))
      }
      const cost = finite(field(part, "cost"))
      if (cost !== undefined) costUsd = (costUsd ?? 0) + cost
    }
    if (event["type"] === "error") {
      const error = event["error"]
      errorMessage = text(field(field(error, "data"), "message")) ?? text(field(error, "message")) ?? text(field(error, "name")) ?? "error"
    }
  }
  return withOptional({ answer: texts.join("\n\n"), isError: errorMessage !== undefined }, { sessionId, tokens, costUsd, errorMessage })
}
