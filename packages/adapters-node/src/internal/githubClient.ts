/**
 * The HTTP side of `GitHubPullRequests`: GitHub's REST API through `@octokit/rest`'s
 * `octokit.request(route, params)`, made an Effect that answers with what GitHub said or a
 * `PullRequestError` saying why not.
 *
 * - `@octokit/rest` is loaded when a client is made (`import()`), never statically: the CLI bundle
 *   keeps it in a chunk of its own, so the commands that never talk to GitHub never load it.
 * - Conditional requests: every GET remembers its answer's `etag` by URL (route + parameters; at
 *   most `cacheSize` of them, the oldest dropped) and sends it again as `if-none-match`; a
 *   `304 Not Modified` (which GitHub does not count against the rate limit; octokit throws it as an
 *   error) answers with the data remembered.
 * - Rate limits (403 or 429 with `retry-after`, or with `x-ratelimit-remaining: 0` until
 *   `x-ratelimit-reset`, or a secondary limit's message) are waited out with `Effect.sleep` (the
 *   `Clock`) and the call made again, without counting as a retry; a wait past `longestWait` (in all,
 *   for one call) fails with reason `refused` naming when the limit resets.
 * - Network faults (no answer, a 5xx, no answer within `callTimeout`) are retried as
 *   `gitRemote.ts` retries a fetch (`Schedule.exponential(retry.base)`, `retry.times` more
 *   attempts), then fail with reason `unreachable` naming the API's URL and the last fault.
 * - A 401 fails with reason `auth`; any other 4xx is a `Refused` for the caller to read (the
 *   service turns the ones it does not expect into reason `refused`), with GitHub's `message` and
 *   the `message` of each of its `errors`.
 * - The token is never in a message: octokit redacts its own request headers, and every message
 *   built here has the token's text and the userinfo of URLs replaced (`redact`). GitHub's words are
 *   made visible (`Prompt.visibleText`): they may reach an agent's prompt.
 *
 * Internal: used by `GitHubPullRequests`.
 *
 * @since 0.1.0
 */
// A type-only import: erased, so `@octokit/rest` is loaded by the `import()` in `make` alone.
import type { Octokit } from "@octokit/rest"
import { Errors, Prompt } from "@oompa/core"
import { Clock, Data, Duration, Effect, Schedule } from "effect"
import { redact as redactUserinfo, type RetryPolicy } from "./gitRemote.ts"

/** Four retries, after 0.5, 1, 2 and 4 s (as `gitRemote`'s). */
export const defaultRetry: RetryPolicy = { times: 4, base: "500 millis" }

/** How long one request may take before it counts as a network fault. */
export const callTimeout = Duration.seconds(60)

/** The longest a call waits for a rate limit to reset before it gives up (reason `refused`). */
export const longestWait = Duration.hours(1)

/** How many answers the ETag cache of one client keeps. */
export const cacheSize = 500

/** What GitHub answered a request with (2xx, or a 304 answered from the cache). */
export interface Answer {
  readonly status: number
  readonly data: unknown
}

/**
 * A 4xx answer other than 401 and rate limits: GitHub understood and said no. `message` is GitHub's
 * (visible, redacted); the caller decides whether it is an answer (a pull request that already
 * exists, a merge refused) or a `PullRequestError` (`refusedError`).
 */
export class Refused extends Data.TaggedError("Refused")<{
  readonly operation: string
  readonly status: number
  readonly message: string
}> {}

/** A `Refused` the caller did not expect, as the service's error (reason `refused`). */
export const refusedError = (refused: Refused): Errors.PullRequestError =>
  new Errors.PullRequestError({ operation: refused.operation, reason: "refused", message: refused.message })

/** Parameters of a route, as octokit takes them (path and query parameters, the body's fields). */
export type Params = Readonly<Record<string, unknown>>

/** A client of one GitHub API for one token. */
export interface Client {
  /** The API's base URL, as shown in messages (userinfo redacted). */
  readonly apiUrl: string
  /** `octokit.request(route, params)` with the cache, the waits and the retries described above. */
  readonly request: (operation: string, route: string, params?: Params) => Effect.Effect<Answer, Errors.PullRequestError | Refused>
  /** `text` with the token and the userinfo of URLs replaced. */
  readonly redact: (text: string) => string
}

/** What a client is made of. */
export interface ClientOptions {
  readonly apiUrl: string
  readonly token: string
  readonly retry: RetryPolicy
}

/** A 304: the cached answer stands. */
class NotModified extends Data.TaggedError("NotModified")<{}> {}

/** A rate limit: wait `retryAfterSeconds`, or until `resetEpochSeconds` (+1 s). */
class RateLimited extends Data.TaggedError("RateLimited")<{
  readonly retryAfterSeconds: number | undefined
  readonly resetEpochSeconds: number | undefined
  readonly message: string
}> {}

/** No answer, a 5xx, or no answer in time: worth another try. */
class Transient extends Data.TaggedError("Transient")<{ readonly message: string }> {}

type Fault = NotModified | RateLimited | Transient | Refused | Errors.PullRequestError

/** The parts of octokit's `RequestError` read here (duck-typed: the class lives in the lazy chunk). */
interface OctokitFailure {
  readonly status?: unknown
  readonly message?: unknown
  readonly response?: {
    readonly status: number
    readonly headers: Readonly<Record<string, string | number | undefined>>
    readonly data: unknown
  } | undefined
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> => typeof value === "object" && value !== null

const numberHeader = (value: string | number | undefined): number | undefined => {
  if (value === undefined) return undefined
  const parsed = typeof value === "number" ? value : Number.parseInt(value, 10)
  return Number.isFinite(parsed) ? parsed : undefined
}

/** GitHub's `message` and the `message` of each of its `errors`, or undefined when the body has none. */
export const githubMessage = (data: unknown): string | undefined => {
  if (typeof data === "string") return data.trim() === "" ? undefined : data.trim()
  if (!isRecord(data) || typeof data.message !== "string") return undefined
  const details = Array.isArray(data.errors)
    ? data.errors.flatMap((e: unknown) => typeof e === "string" ? [e] : isRecord(e) && typeof e.message === "string" ? [e.message] : [])
    : []
  return details.length === 0 ? data.message : `${data.message}: ${details.join("; ")}`
}

const secondaryLimit = /secondary rate limit|abuse detection/i

/** Makes a client: loads `@octokit/rest`. Fails (reason `failed`) only if it cannot be loaded. */
export const make = Effect.fn("GitHubClient.make")(function*(options: ClientOptions) {
  const token = options.token
  const redact = (text: string): string => redactUserinfo(token.length > 0 ? text.replaceAll(token, "***") : text)
  const baseUrl = options.apiUrl.replace(/\/+$/, "")
  const shownUrl = redact(baseUrl)
  const { Octokit } = yield* Effect.tryPromise({
    try: () => import("@octokit/rest"),
    catch: (cause) =>
      new Errors.PullRequestError({ operation: "connect", reason: "failed", message: `cannot load @octokit/rest: ${redact(String(cause))}` })
  })
  const quiet = (): void => undefined
  const octokit: Octokit = new Octokit({
    auth: token,
    baseUrl,
    userAgent: "oompa",
    // Octokit logs every failed request (a 304 included) to the console: the caller reports instead.
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet }
  })

  /** GET answers by URL: the `etag` sent back as `if-none-match`, and the data a 304 stands for. */
  const cache = new Map<string, { readonly etag: string; readonly data: unknown }>()
  const remember = (key: string, etag: string, data: unknown): void => {
    cache.delete(key)
    cache.set(key, { etag, data })
    while (cache.size > cacheSize) {
      const oldest = cache.keys().next()
      if (oldest.done === true) break
      cache.delete(oldest.value)
    }
  }

  const shown = (text: string): string => Prompt.visibleText(redact(text))

  /** What a thrown octokit error means. */
  const classify = (operation: string, cause: unknown): Fault => {
    const failure: OctokitFailure = isRecord(cause) ? cause : {}
    const response = failure.response
    if (response === undefined) {
      // No answer: octokit reports a failed fetch as a 500 without a response (its message is the
      // cause's: ECONNREFUSED, ECONNRESET, a DNS failure), an aborted one as an AbortError.
      const message = typeof failure.message === "string" ? failure.message : String(cause)
      return new Transient({ message: shown(message) })
    }
    const status = response.status
    if (status === 304) return new NotModified()
    const said = githubMessage(response.data)
    const message = shown(said ?? `HTTP ${status}`)
    if (status === 403 || status === 429) {
      const retryAfter = numberHeader(response.headers["retry-after"])
      const remaining = numberHeader(response.headers["x-ratelimit-remaining"])
      const reset = numberHeader(response.headers["x-ratelimit-reset"])
      if (retryAfter !== undefined) return new RateLimited({ retryAfterSeconds: retryAfter, resetEpochSeconds: undefined, message })
      if (remaining === 0 && reset !== undefined) return new RateLimited({ retryAfterSeconds: undefined, resetEpochSeconds: reset, message })
      // A secondary limit without headers: GitHub asks for at least a minute.
      if (status === 429 || (said !== undefined && secondaryLimit.test(said))) {
        return new RateLimited({ retryAfterSeconds: 60, resetEpochSeconds: undefined, message })
      }
    }
    if (status >= 500) return new Transient({ message: `HTTP ${status}: ${message}` })
    if (status === 401) {
      return new Errors.PullRequestError({
        operation,
        reason: "auth",
        message: `GitHub refused the token (401 ${said === undefined ? "Bad credentials" : shown(said)}): set GITHUB_TOKEN, or log in with gh auth login`
      })
    }
    if (status >= 400) return new Refused({ operation, status, message })
    return new Errors.PullRequestError({ operation, reason: "failed", message: `GitHub answered HTTP ${status}: ${message}` })
  }

  const request = (operation: string, route: string, params: Params = {}): Effect.Effect<Answer, Errors.PullRequestError | Refused> =>
    Effect.suspend(() => {
      const key = route.startsWith("GET ") ? `${route} ${JSON.stringify(params)}` : undefined
      let attempts = 0

      /** One request: its answer, a 304 answered from the cache, or what went wrong. */
      const once: Effect.Effect<Answer, Exclude<Fault, NotModified>> = Effect.suspend(() => {
        const cached = key === undefined ? undefined : cache.get(key)
        const headers = cached === undefined ? {} : { "if-none-match": cached.etag }
        return Effect.tryPromise({
          try: (signal) => octokit.request(route, { ...params, headers, request: { signal } }),
          catch: (cause) => classify(operation, cause)
        }).pipe(
          Effect.timeoutOrElse({
            duration: callTimeout,
            orElse: () => Effect.fail(new Transient({ message: `no answer within ${Duration.format(callTimeout)}` }))
          }),
          Effect.map((response): Answer => {
            const etag = response.headers.etag
            if (key !== undefined && typeof etag === "string") remember(key, etag, response.data)
            return { status: response.status, data: response.data }
          }),
          Effect.catchTag("NotModified", () =>
            cached === undefined
              ? Effect.fail(new Errors.PullRequestError({ operation, reason: "failed", message: `GitHub answered ${route} with 304 Not Modified to a request that was not conditional` }))
              : Effect.succeed<Answer>({ status: 200, data: cached.data }))
        )
      })

      /** `once`, with rate limits waited out (`waited`: how long this attempt has waited already). */
      const waitingOutLimits = (waited: number): Effect.Effect<Answer, Exclude<Fault, RateLimited | NotModified>> =>
        once.pipe(Effect.catchTag("RateLimited", (limited) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const wait = Math.max(
              1000,
              limited.retryAfterSeconds !== undefined
                ? limited.retryAfterSeconds * 1000
                : (limited.resetEpochSeconds ?? 0) * 1000 - now + 1000
            )
            if (waited + wait > Duration.toMillis(longestWait)) {
              return yield* new Errors.PullRequestError({
                operation,
                reason: "refused",
                message: `GitHub's rate limit is exhausted until ${new Date(now + wait).toISOString()}, more than ${Duration.format(longestWait)} away (${route}): ${limited.message}`
              })
            }
            yield* Effect.sleep(Duration.millis(wait))
            return yield* waitingOutLimits(waited + wait)
          })))

      return Effect.suspend(() => {
        attempts++
        return waitingOutLimits(0)
      }).pipe(
        Effect.retry({ schedule: Schedule.exponential(options.retry.base), times: options.retry.times, while: (e) => e._tag === "Transient" }),
        Effect.catchTag("Transient", (e) =>
          Effect.fail(new Errors.PullRequestError({
            operation,
            reason: "unreachable",
            message: `cannot reach GitHub at ${shownUrl} (${route}, ${attempts} attempt${attempts === 1 ? "" : "s"}): ${e.message}`
          })))
      )
    })

  return { apiUrl: shownUrl, request, redact } satisfies Client
})
