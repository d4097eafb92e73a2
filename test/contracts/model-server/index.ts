/**
 * A scripted model server for the harness contract tests (SPEC F3): `node:http` on 127.0.0.1 at a
 * random port, speaking the four API shapes the real agent CLIs use:
 *
 * - Anthropic Messages with SSE streaming (`POST /v1/messages`): Claude Code;
 * - OpenAI Responses with SSE (`POST /v1/responses`): Codex CLI;
 * - Gemini `generateContent` / `streamGenerateContent?alt=sse` (`POST /v1beta/models/<m>:<verb>`):
 *   Gemini CLI;
 * - OpenAI-compatible chat completions with SSE (`POST /v1/chat/completions`): opencode.
 *
 * A test scripts the model's turns in order ({@link Turn}: a plain answer, a tool call the CLI then
 * runs, an HTTP error, or a reply that never comes). Every request is recorded, so a test can assert
 * what the CLI sent: the prompt, the tool's result, the resumed conversation. Side requests that are
 * no turn of the conversation (gemini's model router and next-speaker check, opencode's title
 * generator) are answered with a fixed reply, recorded with `side: true`, and consume no turn.
 *
 * Nothing here knows oompa: it is a model, not an agent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** Which API a request spoke. */
export type Api = "anthropic" | "responses" | "gemini" | "chat"

/** What the model says in one turn. */
export type Turn =
  | { readonly text: string; readonly usage?: Usage }
  | { readonly tool: string; readonly args: Readonly<Record<string, unknown>>; readonly text?: string; readonly usage?: Usage }
  | { readonly status: number; readonly message?: string }
  /** Accept the request and never answer (a model that hangs). */
  | { readonly hang: true }

/**
 * Tokens the model reports for a turn: every input and output token, and the shares of them the
 * APIs report apart — input read from the provider's cache, output spent reasoning — each in its
 * API's own way (Anthropic's `input_tokens` leaves the cache out; Gemini's `candidatesTokenCount`
 * leaves the thoughts out; OpenAI's totals hold both).
 */
export interface Usage {
  readonly input: number
  readonly output: number
  /** Of `input`, the tokens read from the cache. */
  readonly cached?: number
  /** Of `output`, the tokens spent reasoning (Anthropic counts them in its output and reports no share). */
  readonly reasoning?: number
}

/** One request the server received. */
export interface Recorded {
  readonly api: Api | "other"
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /** The parsed JSON body (`undefined` when there was none or it was not JSON). */
  readonly body: unknown
  /** The raw body. */
  readonly raw: string
  /** A side request (router, title, next speaker): answered without a scripted turn. */
  readonly side: boolean
  /** The turn this request was answered with (`undefined` for side requests and surplus requests). */
  readonly turn?: Turn
}

/** What a responder sees of a conversation request. */
export interface Incoming {
  readonly api: Api
  readonly url: string
  readonly body: unknown
  readonly raw: string
}

export type Responder = (request: Incoming) => Turn | undefined

/** The default usage of a turn without one. */
export const defaultUsage: Usage = { input: 1000, output: 50 }

/** What is answered when a CLI asks for more turns than the test scripted. */
const surplusTurn: Turn = { text: "(the scripted model has no more turns)" }

export interface ModelServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** Every request received, in order. */
  readonly requests: ReadonlyArray<Recorded>
  /** Queues turns, answered in order by the conversation requests of any API. */
  readonly script: (...turns: ReadonlyArray<Turn>) => void
  /** Turns still queued. */
  readonly pending: () => number
  /** The conversation requests (not side requests) received so far. */
  readonly turns: () => ReadonlyArray<Recorded>
  /**
   * Decides the turns the script does not hold, from the request itself (for runs whose calls come
   * in any order, such as a swarm of several workers). `undefined` from it: the surplus answer.
   */
  readonly respond: (responder: Responder | undefined) => void
  /** From now on, answers every conversation request with this HTTP error (`undefined`: back to the script). */
  readonly failAll: (failure: { readonly status: number; readonly message?: string } | undefined) => void
  /** Forgets the queue and the recorded requests. */
  readonly reset: () => void
  readonly close: () => Promise<void>
}

/** The API of a request, by its method and path. */
const apiOf = (method: string, path: string): Api | "other" => {
  if (method !== "POST") return "other"
  if (/\/messages$/.test(path) && !/count_tokens/.test(path)) return "anthropic"
  if (/\/responses$/.test(path)) return "responses"
  if (/\/models\/[^/]+:(stream)?[gG]enerateContent$/.test(path)) return "gemini"
  if (/\/chat\/completions$/.test(path)) return "chat"
  return "other"
}

const jsonOrUndefined = (raw: string): unknown => {
  try {
    return raw === "" ? undefined : JSON.parse(raw)
  } catch {
    return undefined
  }
}

type Json = Record<string, unknown>
const obj = (value: unknown): Json => typeof value === "object" && value !== null ? value as Json : {}

/**
 * A side request: gemini's non-streaming JSON calls (model router, next-speaker check, loop
 * detection: they ask for `responseMimeType: application/json`), opencode's title generator (a chat
 * request with no tools whose system prompt says so).
 */
const isSide = (api: Api | "other", path: string, body: unknown): boolean => {
  if (api === "gemini") return !/streamGenerateContent/.test(path) && obj(obj(body)["generationConfig"])["responseMimeType"] === "application/json"
  if (api === "chat") {
    const messages = obj(body)["messages"]
    const first = Array.isArray(messages) ? obj(messages[0]) : {}
    return obj(body)["tools"] === undefined && typeof first["content"] === "string" && /title generator/i.test(first["content"])
  }
  return false
}

/** A reply to a gemini JSON side request that fits the schema it asked for. */
const geminiSideAnswer = (body: unknown): Json => {
  const schema = obj(obj(obj(body)["generationConfig"])["responseJsonSchema"] ?? obj(obj(body)["generationConfig"])["responseSchema"])
  const properties = Object.keys(obj(schema["properties"]))
  if (properties.includes("complexity_score")) return { complexity_reasoning: "A simple scripted task.", complexity_score: 10 }
  if (properties.includes("next_speaker")) return { reasoning: "The model finished its turn.", next_speaker: "user" }
  if (properties.includes("model_choice")) return { reasoning: "Simple task.", model_choice: "flash" }
  const answer: Json = {}
  for (const name of properties) {
    const type = String(obj(obj(schema["properties"])[name])["type"] ?? "string").toLowerCase()
    answer[name] = type === "boolean" ? false : type === "integer" || type === "number" ? 0 : type === "array" ? [] : type === "object" ? {} : ""
  }
  return answer
}

let ids = 0
const nextId = (prefix: string): string => `${prefix}_${Date.now().toString(36)}${(++ids).toString(36).padStart(4, "0")}`

const sse = (res: ServerResponse): ((event: string | undefined, data: unknown) => void) => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
  return (event, data) => {
    res.write(`${event === undefined ? "" : `event: ${event}\n`}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`)
  }
}

const sendJson = (res: ServerResponse, status: number, data: unknown): void => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(data))
}

// ---------------------------------------------------------------------------------------------
// The four API shapes
// ---------------------------------------------------------------------------------------------

type Answer = Exclude<Turn, { readonly status: number } | { readonly hang: true }>

const usageOf = (turn: Answer): Usage => turn.usage ?? defaultUsage
const textOf = (turn: Answer): string | undefined => "tool" in turn ? turn.text : turn.text

/** Anthropic Messages: the SSE stream claude reads (or one JSON message when `stream` is off). */
const anthropic = (res: ServerResponse, body: unknown, turn: Answer): void => {
  const model = String(obj(body)["model"] ?? "claude-scripted")
  const usage = usageOf(turn)
  const content: Array<Json> = []
  const text = textOf(turn)
  if (text !== undefined) content.push({ type: "text", text })
  if ("tool" in turn) content.push({ type: "tool_use", id: nextId("toolu"), name: turn.tool, input: turn.args })
  const stopReason = "tool" in turn ? "tool_use" : "end_turn"
  const message = {
    id: nextId("msg"), type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null,
    usage: { input_tokens: usage.input - (usage.cached ?? 0), output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: usage.cached ?? 0 }
  }
  if (obj(body)["stream"] !== true) {
    sendJson(res, 200, { ...message, content, stop_reason: stopReason, usage: { ...message.usage, output_tokens: usage.output } })
    return
  }
  const send = sse(res)
  send("message_start", { type: "message_start", message })
  content.forEach((block, index) => {
    if (block["type"] === "text") {
      send("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } })
      send("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: block["text"] } })
    } else {
      send("content_block_start", { type: "content_block_start", index, content_block: { ...block, input: {} } })
      send("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(block["input"]) } })
    }
    send("content_block_stop", { type: "content_block_stop", index })
  })
  send("message_delta", { type: "message_delta", delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output } })
  send("message_stop", { type: "message_stop" })
  res.end()
}

/** OpenAI Responses: the SSE events codex reads, ending with `response.completed` and its usage. */
const responses = (res: ServerResponse, body: unknown, turn: Answer): void => {
  const model = String(obj(body)["model"] ?? "scripted")
  const usage = usageOf(turn)
  const id = nextId("resp")
  const send = sse(res)
  let sequence = 0
  const emit = (type: string, data: Json) => send(type, { type, sequence_number: sequence++, ...data })
  const response = { id, object: "response", created_at: Math.floor(Date.now() / 1000), model, status: "in_progress", output: [] as Array<Json> }
  emit("response.created", { response })
  const items: Array<Json> = []
  const text = textOf(turn)
  if (text !== undefined) {
    const item = { id: nextId("msg"), type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text, annotations: [] }] }
    const index = items.length
    emit("response.output_item.added", { output_index: index, item: { ...item, status: "in_progress", content: [] } })
    emit("response.output_text.delta", { item_id: item.id, output_index: index, content_index: 0, delta: text })
    emit("response.output_item.done", { output_index: index, item })
    items.push(item)
  }
  if ("tool" in turn) {
    const item = { id: nextId("fc"), type: "function_call", status: "completed", call_id: nextId("call"), name: turn.tool, arguments: JSON.stringify(turn.args) }
    const index = items.length
    emit("response.output_item.added", { output_index: index, item: { ...item, arguments: "" } })
    emit("response.output_item.done", { output_index: index, item })
    items.push(item)
  }
  emit("response.completed", {
    response: {
      ...response, status: "completed", output: items,
      usage: {
        input_tokens: usage.input, input_tokens_details: { cached_tokens: usage.cached ?? 0 },
        output_tokens: usage.output, output_tokens_details: { reasoning_tokens: usage.reasoning ?? 0 }, total_tokens: usage.input + usage.output
      }
    }
  })
  res.end()
}

/** Gemini: one `GenerateContentResponse`, as SSE (`streamGenerateContent?alt=sse`) or JSON. */
const gemini = (res: ServerResponse, path: string, body: unknown, turn: Answer | { readonly json: Json }): void => {
  const model = /\/models\/([^/:]+):/.exec(path)?.[1] ?? "gemini-scripted"
  const usage: Usage = "json" in turn ? { input: 10, output: 10 } : usageOf(turn)
  const parts: Array<Json> = []
  if ("json" in turn) parts.push({ text: JSON.stringify(turn.json) })
  else {
    const text = textOf(turn)
    if (text !== undefined) parts.push({ text })
    if ("tool" in turn) parts.push({ functionCall: { id: nextId("fc"), name: turn.tool, args: turn.args } })
  }
  const reply = {
    candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
    usageMetadata: {
      promptTokenCount: usage.input,
      cachedContentTokenCount: usage.cached ?? 0,
      candidatesTokenCount: usage.output - (usage.reasoning ?? 0),
      thoughtsTokenCount: usage.reasoning ?? 0,
      totalTokenCount: usage.input + usage.output
    },
    modelVersion: model,
    responseId: nextId("gem")
  }
  if (/streamGenerateContent/.test(path)) {
    const send = sse(res)
    send(undefined, reply)
    res.end()
  } else sendJson(res, 200, reply)
  void body
}

/** OpenAI-compatible chat completions: SSE chunks, then a usage chunk, then `[DONE]`. */
const chat = (res: ServerResponse, body: unknown, turn: Answer): void => {
  const model = String(obj(body)["model"] ?? "scripted")
  const usage = usageOf(turn)
  const id = nextId("chatcmpl")
  const created = Math.floor(Date.now() / 1000)
  const text = textOf(turn)
  const finish = "tool" in turn ? "tool_calls" : "stop"
  const usageJson = {
    prompt_tokens: usage.input,
    completion_tokens: usage.output,
    total_tokens: usage.input + usage.output,
    prompt_tokens_details: { cached_tokens: usage.cached ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoning ?? 0 }
  }
  if (obj(body)["stream"] !== true) {
    sendJson(res, 200, {
      id, object: "chat.completion", created, model,
      choices: [{
        index: 0, finish_reason: finish,
        message: {
          role: "assistant", content: text ?? null,
          ...("tool" in turn ? { tool_calls: [{ id: nextId("call"), type: "function", function: { name: turn.tool, arguments: JSON.stringify(turn.args) } }] } : {})
        }
      }],
      usage: usageJson
    })
    return
  }
  const send = sse(res)
  const chunk = (delta: Json, finishReason: string | null) =>
    send(undefined, { id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finishReason }] })
  chunk({ role: "assistant", content: "" }, null)
  if (text !== undefined) chunk({ content: text }, null)
  if ("tool" in turn) {
    chunk({ tool_calls: [{ index: 0, id: nextId("call"), type: "function", function: { name: turn.tool, arguments: JSON.stringify(turn.args) } }] }, null)
  }
  chunk({}, finish)
  send(undefined, { id, object: "chat.completion.chunk", created, model, choices: [], usage: usageJson })
  send(undefined, "[DONE]")
  res.end()
}

const anthropicErrorTypes: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  429: "rate_limit_error",
  529: "overloaded_error"
}

/** An HTTP error in the shape of the API that was asked. */
const httpError = (res: ServerResponse, api: Api | "other", status: number, message: string): void => {
  if (api === "anthropic") sendJson(res, status, { type: "error", error: { type: anthropicErrorTypes[status] ?? "api_error", message } })
  else if (api === "gemini") sendJson(res, status, { error: { code: status, message, status: status === 429 ? "RESOURCE_EXHAUSTED" : "INTERNAL" } })
  else sendJson(res, status, { error: { message, type: status === 429 ? "rate_limit_exceeded" : "server_error", code: null } })
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

/**
 * Starts a model server on 127.0.0.1 at a port the system picks.
 */
export const start = async (): Promise<ModelServer> => {
  const queue: Array<Turn> = []
  const requests: Array<Recorded> = []
  const hanging = new Set<ServerResponse>()
  let failure: { readonly status: number; readonly message?: string } | undefined
  let responder: Responder | undefined

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req)
    const url = req.url ?? "/"
    const path = url.split("?")[0] ?? url
    const method = req.method ?? "GET"
    const api = apiOf(method, path)
    const body = jsonOrUndefined(raw)
    const side = isSide(api, path, body)
    const headers = { ...req.headers }
    if (api === "other") {
      requests.push({ api, method, url, headers, body, raw, side: true })
      // Claude's connectivity probe (`HEAD /api/hello`), token counting and anything else: a bland 200.
      if (/count_tokens|countTokens/.test(path)) sendJson(res, 200, { input_tokens: 100, totalTokens: 100 })
      else if (method === "HEAD") {
        res.writeHead(200)
        res.end()
      } else sendJson(res, 200, {})
      return
    }
    if (side) {
      requests.push({ api, method, url, headers, body, raw, side: true })
      if (api === "gemini") gemini(res, path, body, { json: geminiSideAnswer(body) })
      else chat(res, body, { text: "Scripted contract test", usage: { input: 10, output: 3 } })
      return
    }
    const turn = failure ?? queue.shift() ?? responder?.({ api, url, body, raw }) ?? surplusTurn
    requests.push({ api, method, url, headers, body, raw, side: false, turn })
    if ("hang" in turn) {
      hanging.add(res)
      res.on("close", () => hanging.delete(res))
      return
    }
    if ("status" in turn) {
      httpError(res, api, turn.status, turn.message ?? `scripted error ${turn.status}`)
      return
    }
    switch (api) {
      case "anthropic":
        return anthropic(res, body, turn)
      case "responses":
        return responses(res, body, turn)
      case "gemini":
        return gemini(res, path, body, turn)
      case "chat":
        return chat(res, body, turn)
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `model server: ${String(error)}` } })
      else res.end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    script: (...turns) => void queue.push(...turns),
    pending: () => queue.length,
    turns: () => requests.filter((request) => !request.side),
    respond: (given) => {
      responder = given
    },
    failAll: (given) => {
      failure = given
    },
    reset: () => {
      queue.length = 0
      requests.length = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** A port on 127.0.0.1 with nothing listening (bound, then released): a model server that is down. */
export const deadPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/**
 * Where a conversation request stands, in any of the four shapes: the text of the last message the
 * user sent (the prompt, or the resumed session's new prompt), and whether the request carries the
 * result of a tool call the model made (then the model's next turn is its answer).
 */
export const lastTurn = (request: Incoming): { readonly userText: string; readonly afterTool: boolean } => {
  const body = obj(request.body)
  const texts = (content: unknown): string =>
    typeof content === "string"
      ? content
      : Array.isArray(content)
      ? content.map((part) => {
        const p = obj(part)
        return typeof p["text"] === "string" ? p["text"] : ""
      }).join("\n")
      : ""
  const lastOf = <A>(items: ReadonlyArray<A>, keep: (item: A) => boolean): A | undefined => [...items].reverse().find(keep)
  switch (request.api) {
    case "anthropic": {
      const messages = Array.isArray(body["messages"]) ? body["messages"].map(obj) : []
      const user = lastOf(messages, (m) => m["role"] === "user")
      const content = user?.["content"]
      const afterTool = messages[messages.length - 1] === user && Array.isArray(content) && content.some((part) => obj(part)["type"] === "tool_result")
      const prompt = lastOf(messages, (m) => m["role"] === "user" && !(Array.isArray(m["content"]) && m["content"].some((part) => obj(part)["type"] === "tool_result")))
      return { userText: texts(prompt?.["content"]), afterTool }
    }
    case "responses": {
      const items = Array.isArray(body["input"]) ? body["input"].map(obj) : []
      const last = items[items.length - 1]
      const user = lastOf(items, (item) => item["role"] === "user")
      return { userText: texts(user?.["content"]), afterTool: last?.["type"] === "function_call_output" }
    }
    case "gemini": {
      const contents = Array.isArray(body["contents"]) ? body["contents"].map(obj) : []
      const hasResponse = (content: Json) => Array.isArray(content["parts"]) && content["parts"].some((part) => obj(part)["functionResponse"] !== undefined)
      const last = contents[contents.length - 1]
      const user = lastOf(contents, (content) => content["role"] === "user" && !hasResponse(content))
      return { userText: texts(user?.["parts"]), afterTool: last !== undefined && hasResponse(last) }
    }
    case "chat": {
      const messages = Array.isArray(body["messages"]) ? body["messages"].map(obj) : []
      const last = messages[messages.length - 1]
      const user = lastOf(messages, (m) => m["role"] === "user")
      return { userText: texts(user?.["content"]), afterTool: last?.["role"] === "tool" }
    }
  }
}
