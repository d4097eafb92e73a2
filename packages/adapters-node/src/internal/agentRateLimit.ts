/**
 * How an agent call answers a usage-limit or rate-limit (SPEC F3: back off and retry, not an error),
 * as one `Schedule` over the call's processes: the wait the CLI names, else a doubling back-off, each
 * bounded by a maximum; at most `rateLimitRetriesMax` retries, none that could not finish before the
 * call's deadline; each wait told (the run log's `RateLimited` event) before it starts. The waits go
 * through `Clock`, so `TestClock` drives them.
 *
 * Internal: used by `NodeAgent`, which re-exports `RateLimitWait` and `backoffMs`.
 *
 * @since 0.1.0
 */
import { type Agent, AgentSpec } from "@oompa/core"
import { Duration, Effect, Schedule } from "effect"
import * as Harnesses from "../Harnesses.ts"
import { type Attempt, isFailed } from "./agentAttempt.ts"

type AgentRequest = Agent.AgentRequest

/** A wait before a rate-limited call is retried. */
export interface RateLimitWait {
  readonly request: AgentRequest
  readonly retry: number
  readonly waitMs: number
  readonly source: "retry-after" | "backoff"
}

/** What the retries of a rate-limited call need of the layer's options. */
export interface RateLimitSettings {
  readonly rateLimitRetriesMax: number
  readonly rateLimitBackoffMs: number
  readonly rateLimitBackoffMsMax: number
  readonly onRateLimit: ((wait: RateLimitWait) => Effect.Effect<void>) | undefined
}

/**
 * The back-off before retry `retry` (from 1) after a rate limit: doubling from `rateLimitBackoffMs`,
 * capped at `rateLimitBackoffMsMax` (the delays of `retries` when the CLI names no wait).
 */
export const backoffMs = (settings: { readonly rateLimitBackoffMs: number; readonly rateLimitBackoffMsMax: number }, retry: number): number =>
  Math.min(settings.rateLimitBackoffMsMax, settings.rateLimitBackoffMs * 2 ** Math.max(0, retry - 1))

/** Whether a process of the call failed with a usage-limit or rate-limit answer (a timeout never is one). */
const isRateLimited = (request: AgentRequest, state: Attempt): boolean => {
  if (state.timedOut) return false
  const stdout = state.stdout.render()
  const parsed = Harnesses.parseOutput(request.agent.harness, stdout)
  return isFailed(state, parsed) && Harnesses.isRateLimited(request.agent.harness, stdout, state.stderr.render())
}

/** The wait a rate-limited process's CLI names, if it names one (`retry-after: 30`, "try again in 20s"). */
const namedWaitMs = (request: AgentRequest, state: Attempt): number | undefined =>
  Harnesses.retryAfterMs(request.agent.harness, state.stdout.render(), state.stderr.render())

/** The wait before a retry: the one the CLI names, else the back-off; either capped at `rateLimitBackoffMsMax`. */
const waitMs = (settings: RateLimitSettings, request: AgentRequest, state: Attempt, backoff: Duration.Duration): number =>
  Math.min(namedWaitMs(request, state) ?? Duration.toMillis(backoff), settings.rateLimitBackoffMsMax)

/** Tells of a wait before it starts: to `onRateLimit`, else as a warning in the log. */
const announce = (settings: RateLimitSettings, wait: RateLimitWait): Effect.Effect<void> => {
  if (settings.onRateLimit !== undefined) return settings.onRateLimit(wait)
  const { request } = wait
  return Effect.logWarning(`oompa: ${AgentSpec.formatModelString(request.agent)} hit a usage or rate limit (${request.worker} iteration ${request.iteration} ${request.call}); retrying in ${Math.round(wait.waitMs / 1000)} s`)
}

/**
 * When a process of the call is run again, as a schedule over the processes' outcomes:
 *
 * - `exponential(rateLimitBackoffMs)`: the back-off doubles from `rateLimitBackoffMs` …
 * - `upTo({ times: rateLimitRetriesMax })`: … for at most `rateLimitRetriesMax` retries,
 * - `while` the last process answered with a usage or rate limit;
 * - `modifyDelay`: the wait is the one the CLI names, else the back-off, either capped at
 *   `rateLimitBackoffMsMax`;
 * - `while` the retry can still finish before `deadlineMs` (the call's own timeout);
 * - `tap`: each wait is told before it starts.
 *
 * A call repeated with it ends with its last process.
 */
export const retries = (settings: RateLimitSettings, request: AgentRequest, deadlineMs: number): Schedule.Schedule<Duration.Duration, Attempt> =>
  Schedule.exponential(Duration.millis(settings.rateLimitBackoffMs)).pipe(
    Schedule.setInputType<Attempt>(),
    Schedule.upTo({ times: settings.rateLimitRetriesMax }),
    Schedule.while(({ input }) => isRateLimited(request, input)),
    Schedule.modifyDelay(({ duration, input }) => Effect.succeed(Duration.millis(waitMs(settings, request, input, duration)))),
    Schedule.while(({ duration, now }) => now + Duration.toMillis(duration) < deadlineMs),
    Schedule.tap(({ attempt, duration, input }) =>
      announce(settings, {
        request,
        retry: attempt,
        waitMs: Duration.toMillis(duration),
        source: namedWaitMs(request, input) === undefined ? "backoff" : "retry-after"
      }))
  )
