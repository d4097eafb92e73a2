/**
 * The `Agent` service over real processes (SPEC F3): each call runs its harness's CLI with the
 * exact command line `Harnesses` builds, in the worktree, with the prompt on stdin (then closed).
 *
 * Boundary: this is where oompa meets agent processes. Called by core's `AgentCall` for every
 * proposal, review, fix and conflict resolution; provided by `NodeServices` next to the other
 * Node layers. Needs `ChildProcessSpawner`, `FileSystem` and `Path` (all in `NodeServices.layer`
 * of `@effect/platform-node`).
 *
 * What each call guarantees:
 * - its own process group (`detached`), recorded in `<runDir>/agents/<pid>.json` while it lives, so
 *   that recovery (F14) can kill the groups of a run that died;
 * - the whole group stopped — TERM, then KILL after `graceMs` — when the call times out (its own
 *   backstop, `request.timeoutMs`) or is interrupted (core's timeout through `Clock`, the run ending);
 * - stdout and stderr read as they arrive into a bounded capture (head and tail, the dropped size
 *   stated), so a 50 MB answer never sits in memory;
 * - a usage-limit or rate-limit answer backed off and retried at most `rateLimitRetriesMax` times,
 *   on a `Schedule` (whose waits go through `Clock`, so `TestClock` drives them);
 * - its cost: what the harness reported, or estimated from its tokens at the model's price
 *   (`Pricing`: oompa.json's `pricing`, else the price table), saying so;
 * - a transcript per process under `<runDir>/transcripts/` however the process ends.
 *
 * Fails with `AgentUnavailable` only when the agent cannot run at all: binary missing, worktree
 * missing, claude refusing to run as root, gemini not authenticated. Everything else is a result.
 *
 * One process of a call is `internal/agentAttempt.ts` (its group recorded by `agentGroups`); the
 * retries after a rate limit are the `Schedule` of `internal/agentRateLimit.ts`.
 *
 * @since 0.1.0
 */
import { Agent, type Errors, Pricing as Prices, type SwarmConfig } from "@oompa/core"
import { Clock, Effect, Layer, Schedule } from "effect"
import * as Harnesses from "./Harnesses.ts"
import * as Pricing from "./Pricing.ts"
import * as AgentAttempt from "./internal/agentAttempt.ts"
import * as Groups from "./internal/agentGroups.ts"
import * as RateLimits from "./internal/agentRateLimit.ts"

type AgentRequest = Agent.AgentRequest
type AgentResult = Agent.AgentResult
type AgentUnavailable = Errors.AgentUnavailable
type Attempt = AgentAttempt.Attempt
type LayerState = AgentAttempt.LayerState

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The run's folder (`.oompa/runs/<id>`): `agents/` and `transcripts/` are written inside. */
  readonly runDir: string
  /** `harnesses` of oompa.json: binary, extra args and env per harness. */
  readonly harnesses: Readonly<Record<string, SwarmConfig.HarnessOverride>>
  /** Bytes kept of each of stdout and stderr per process (half head, half tail). */
  readonly outputBytesMax?: number
  /** Time between TERM and KILL when a call's process group is stopped. */
  readonly graceMs?: number
  /** Retries after a usage-limit or rate-limit answer before it is returned as it is. */
  readonly rateLimitRetriesMax?: number
  /** The first back-off after a rate limit; each further one doubles, up to `rateLimitBackoffMsMax`. */
  readonly rateLimitBackoffMs?: number
  readonly rateLimitBackoffMsMax?: number
  /** Told of each wait before a rate-limited call is retried (the run log's `RateLimited` event). */
  readonly onRateLimit?: ((wait: RateLimitWait) => Effect.Effect<void>) | undefined
  /** The environment agents inherit (default: this process's); `GIT_DIR` & co. are removed from it. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** oompa.json's `pricing`: prices of models by name, before the price table's (default: none). */
  readonly pricing?: Prices.Pricing
}

/**
 * A wait before a rate-limited call is retried.
 *
 * @category models
 * @since 0.1.0
 */
export type RateLimitWait = RateLimits.RateLimitWait

/**
 * @category constants
 * @since 0.1.0
 */
export const defaults = {
  outputBytesMax: 4 * 1024 * 1024,
  graceMs: 5_000,
  rateLimitRetriesMax: 3,
  rateLimitBackoffMs: 30_000,
  rateLimitBackoffMsMax: 10 * 60_000
} as const

/** Sessions whose last reported cost and tokens are remembered (for the cumulative harnesses). */
const sessionsTrackedMax = 10_000

/** Everything `run` derives once from its options. */
interface Settings extends AgentAttempt.AttemptSettings, RateLimits.RateLimitSettings {
  readonly pricing: Prices.Pricing
}

const settingsOf = (options: Options): Settings => {
  const settings: Settings = {
    runDir: options.runDir,
    harnesses: options.harnesses,
    outputBytesMax: options.outputBytesMax ?? defaults.outputBytesMax,
    graceMs: options.graceMs ?? defaults.graceMs,
    rateLimitRetriesMax: options.rateLimitRetriesMax ?? defaults.rateLimitRetriesMax,
    rateLimitBackoffMs: options.rateLimitBackoffMs ?? defaults.rateLimitBackoffMs,
    rateLimitBackoffMsMax: options.rateLimitBackoffMsMax ?? defaults.rateLimitBackoffMsMax,
    onRateLimit: options.onRateLimit,
    env: options.env ?? process.env,
    pricing: options.pricing ?? {}
  }
  if (!(settings.outputBytesMax >= 2 && settings.graceMs >= 0 && settings.rateLimitRetriesMax >= 0 && settings.rateLimitBackoffMs >= 0)) {
    throw new Error(`NodeAgent.layer: invalid options ${JSON.stringify({ ...settings, env: undefined, pricing: undefined })}`)
  }
  return settings
}

/**
 * The back-off before retry `retry` (from 1) after a rate limit: doubling from
 * `rateLimitBackoffMs`, capped at `rateLimitBackoffMsMax`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const backoffMs: (settings: { readonly rateLimitBackoffMs: number; readonly rateLimitBackoffMsMax: number }, retry: number) => number =
  RateLimits.backoffMs

/**
 * The folder of a run (`<runDir>/agents/`) holding one `<pid>.json` per live agent process group.
 *
 * @category constants
 * @since 0.1.0
 */
export const groupsFolderName = Groups.groupsFolderName

/**
 * One live agent process group, as recorded in `<runDir>/agents/<pid>.json` while its call runs
 * and removed after the group is stopped. A record left behind belongs to a run that died: recovery
 * (F14) kills the group `-pgid` once it has checked that `orchestratorPid` is no longer alive.
 *
 * @category models
 * @since 0.1.0
 */
export const GroupRecord = Groups.GroupRecord
export type GroupRecord = Groups.GroupRecord

/**
 * The suffix of a record being written; one left by a kill mid-write is removed by recovery.
 *
 * @category constants
 * @since 0.1.0
 */
export const partialSuffix = Groups.partialSuffix

// ---------------------------------------------------------------------------------------------
// One call
// ---------------------------------------------------------------------------------------------

/**
 * Turns claude's cumulative cost and codex's cumulative tokens into what this call added: the
 * difference from the last report of the session it resumed. A session oompa has not seen before
 * counts in full (over-counting is the safe side of a budget).
 */
const perCall = (layerState: LayerState, request: AgentRequest, parsed: Harnesses.ParsedOutput): AgentAttempt.Reported => {
  const harness = request.agent.harness
  const previous = request.sessionId === undefined ? undefined : layerState.sessions.get(`${harness}:${request.sessionId}`)
  const costUsd = harness === "claude" && parsed.costUsd !== undefined && previous?.costUsd !== undefined
    ? Math.max(0, parsed.costUsd - previous.costUsd)
    : parsed.costUsd
  const tokens = harness === "codex" && parsed.tokens !== undefined && previous?.tokens !== undefined
    ? { input: Math.max(0, parsed.tokens.input - previous.tokens.input), output: Math.max(0, parsed.tokens.output - previous.tokens.output) }
    : parsed.tokens
  const session = parsed.sessionId ?? request.sessionId
  if (session !== undefined && (harness === "claude" || harness === "codex")) {
    if (layerState.sessions.size >= sessionsTrackedMax) layerState.sessions.delete(layerState.sessions.keys().next().value!)
    layerState.sessions.set(`${harness}:${session}`, { costUsd: parsed.costUsd, tokens: parsed.tokens })
  }
  return { costUsd, tokens }
}

/**
 * codex's detailed usage, cumulative over a resumed thread as its tokens are: what this call added
 * (the pricing needs the cached and reasoning shares of the call alone). Kept apart from the
 * sessions `perCall` keeps, by session.
 */
const usagePerCall = (usageSessions: Map<string, Prices.TokenUsage>, request: AgentRequest, parsed: Harnesses.ParsedOutput): ReadonlyArray<Harnesses.ModelUsage> | undefined => {
  if (request.agent.harness !== "codex" || parsed.usage === undefined) return parsed.usage
  const total = parsed.usage.reduce<Prices.TokenUsage>(Prices.addUsage, Prices.noTokens)
  const previous = request.sessionId === undefined ? undefined : usageSessions.get(request.sessionId)
  const session = parsed.sessionId ?? request.sessionId
  if (session !== undefined) {
    if (usageSessions.size >= sessionsTrackedMax) usageSessions.delete(usageSessions.keys().next().value!)
    usageSessions.set(session, total)
  }
  return previous === undefined ? parsed.usage : [Prices.usageSince(total, previous)]
}

/** The call's result from its last process, with its cost (the price table is loaded if it is needed). */
const toResult = Effect.fnUntraced(function*(settings: Settings, layerState: LayerState, usageSessions: Map<string, Prices.TokenUsage>, request: AgentRequest, state: Attempt, durationMs: number) {
  const stdout = state.stdout.render()
  const stderr = state.stderr.render()
  const parsed = Harnesses.parseOutput(request.agent.harness, stdout)
  const reported = perCall(layerState, request, parsed)
  const call: Pricing.Call = {
    harness: request.agent.harness,
    model: request.agent.model,
    usage: usagePerCall(usageSessions, request, parsed),
    reportedUsd: reported.costUsd,
    pricing: settings.pricing
  }
  const cost = Pricing.callCost(call, Pricing.needsTable(call) ? yield* Pricing.load : undefined)
  // A harness that says it failed while exiting 0 still failed: the iteration must see a non-zero exit.
  const exitCode = state.timedOut ? -1 : state.exitCode === 0 && parsed.isError ? 1 : state.exitCode ?? -1
  const notes = [...state.notes, ...(parsed.isError && parsed.errorMessage !== undefined ? [parsed.errorMessage] : [])]
  return {
    exitCode,
    answer: parsed.answer,
    stderr: [stderr, ...notes].filter((part) => part.trim() !== "").join("\n"),
    durationMs,
    timedOut: state.timedOut,
    ...(parsed.sessionId === undefined ? {} : { sessionId: parsed.sessionId }),
    ...(reported.tokens === undefined ? {} : { tokens: reported.tokens }),
    ...(cost.costUsd === undefined ? {} : { costUsd: cost.costUsd }),
    ...(cost.costEstimatedWith === undefined ? {} : { costEstimatedWith: cost.costEstimatedWith })
  } satisfies AgentResult
})

/** A process that says the agent cannot run at all in this setup. */
const refusal = (request: AgentRequest, state: Attempt): AgentUnavailable | undefined => {
  const { harness } = request.agent
  const stdout = state.stdout.render()
  const stderr = state.stderr.render()
  if (state.exitCode !== 0 && Harnesses.isRootRefusal(harness, stdout, stderr)) return AgentAttempt.unavailable(request, Harnesses.rootRefusalMessage, true)
  // A harness that says it failed while exiting 0 (claude's is_error) failed all the same.
  const exitCode = state.exitCode === 0 && Harnesses.parseOutput(harness, stdout).isError ? 1 : state.exitCode
  if (exitCode !== null && !state.timedOut && Harnesses.isNotAuthenticated(harness, exitCode, stdout, stderr)) {
    const said = Harnesses.authenticationLine(harness, stdout, stderr)
    const binary = state.line?.command.split("/").pop() ?? harness
    return AgentAttempt.unavailable(request, said === undefined ? Harnesses.notAuthenticatedMessage(binary) : `${binary} is not authenticated: ${said}`, true)
  }
  return undefined
}

const runCall = Effect.fnUntraced(function*(
  settings: Settings,
  layerState: LayerState,
  usageSessions: Map<string, Prices.TokenUsage>,
  request: AgentRequest
): Effect.fn.Return<AgentResult, AgentUnavailable, AgentAttempt.Services> {
  const startedMs = yield* Clock.currentTimeMillis
  const deadlineMs = startedMs + request.timeoutMs
  const attemptOnce = Effect.gen(function*() {
    // The number of this process in the call: the schedule's retries so far, plus one.
    const { attempt } = yield* Schedule.CurrentMetadata
    const remainingMs = deadlineMs - (yield* Clock.currentTimeMillis)
    const state = yield* AgentAttempt.runAttempt(settings, layerState, request, attempt + 1, remainingMs)
    const refused = refusal(request, state)
    if (refused !== undefined) return yield* refused
    return state
  })
  const state = yield* attemptOnce.pipe(Effect.repeat({ schedule: RateLimits.retries(settings, request, deadlineMs) }))
  return yield* toResult(settings, layerState, usageSessions, request, state, (yield* Clock.currentTimeMillis) - startedMs)
})

/**
 * The `Agent` service over real processes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Agent.Agent["Service"], never, AgentAttempt.Services> =>
  Effect.gen(function*() {
    const settings = settingsOf(options)
    const services = yield* Effect.context<AgentAttempt.Services>()
    const layerState: LayerState = { counters: new Map(), sessions: new Map() }
    const usageSessions = new Map<string, Prices.TokenUsage>()
    const run = Effect.fn("NodeAgent.run")(function*(request: AgentRequest): Effect.fn.Return<AgentResult, AgentUnavailable> {
      return yield* runCall(settings, layerState, usageSessions, request).pipe(Effect.provideContext(services))
    })
    return Agent.Agent.of({ run })
  })

/**
 * The `Agent` layer over real processes. Needs `ChildProcessSpawner`, `FileSystem` and `Path`
 * (`NodeServices.layer` of `@effect/platform-node` provides all three).
 *
 * **Example** (Running a swarm's agents as real processes)
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { NodeAgent } from "@oompa/adapters-node"
 *
 * const agents = NodeAgent.layer({ runDir: ".oompa/runs/0000000f", harnesses: {} }).pipe(
 *   Layer.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Agent.Agent, never, AgentAttempt.Services> => Layer.effect(Agent.Agent, make(options))
