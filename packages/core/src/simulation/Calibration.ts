/**
 * What a team's own runs say about its agents and gates (issue 23): fitted from run logs, per
 * agent (`harness:model`, as `AgentFinished.agent` names it) and call (propose, review, fix, plan,
 * resolve-conflict) — how long a call takes (empirical quantiles), how often it errs or times out,
 * its tokens and cost — and per reviewer how verdicts fall, first look and after a fix; how long the
 * test gate takes and how often it fails; how often a merge conflicts. `oompa sim calibrate` writes
 * it; `oompa sim plan` draws simulated agents from it.
 *
 * It is a Schema: a calibration file is decoded (checked), never trusted, and the type is the
 * decoder's.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { AgentCallKind, type Event } from "../domain/Event.ts"

/** The probabilities of the quantiles kept: 0, 0.05, …, 1. */
export const quantileSteps = 20

const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a number ≥ 0" }))
// Bounds a team's runs never reach, so that a hand-edited file cannot make a plan's sums overflow or its runs endless.
const Milliseconds = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1e9 }, { expected: "milliseconds between 0 and 1e9 (11 days)" }))
const Tokens = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1e9 }, { expected: "tokens between 0 and 1e9" }))
const Dollars = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1e4 }, { expected: "dollars between 0 and 10000 a call" }))
const Rate = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }, { expected: "a rate between 0 and 1" }))
const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a count ≥ 0" }))

/**
 * Milliseconds at the quantiles 0, 5%, …, 100% of what was seen (21 numbers, ascending), or none
 * when nothing was seen.
 *
 * @category models
 * @since 0.1.0
 */
export const Quantiles = Schema.Array(Milliseconds).check(Schema.makeFilter((values: ReadonlyArray<number>) => {
  if (values.length !== 0 && values.length !== quantileSteps + 1) return `expected ${quantileSteps + 1} quantiles (0%, 5%, …, 100%) or none, got ${values.length}`
  for (let i = 1; i < values.length; i++) if (values[i]! < values[i - 1]!) return `quantiles must not decrease (${values[i - 1]} then ${values[i]})`
  return undefined
}, { expected: "21 ascending quantiles" }))
export type Quantiles = typeof Quantiles.Type

/**
 * One agent's calls of one kind.
 *
 * @category models
 * @since 0.1.0
 */
export const AgentCalls = Schema.Struct({
  agent: Schema.String,
  call: AgentCallKind,
  calls: Count,
  /** Of the calls that did not time out. */
  latencyMs: Quantiles,
  /** Of the calls that did not time out, those that ended with an error (a non-zero exit, an unreadable answer). */
  errorRate: Rate,
  timeoutRate: Rate,
  /** Means per call, over the calls that reported them. */
  tokens: Schema.optionalKey(Schema.Struct({ input: Tokens, output: Tokens })),
  costUsd: Schema.optionalKey(Dollars)
})
export type AgentCalls = typeof AgentCalls.Type

/**
 * How a reviewer's verdicts fell (shares of `count`).
 *
 * @category models
 * @since 0.1.0
 */
export const VerdictShares = Schema.Struct({ count: Count, approved: Rate, needsChanges: Rate, rejected: Rate })
export type VerdictShares = typeof VerdictShares.Type

/**
 * @category models
 * @since 0.1.0
 */
export const Reviewer = Schema.Struct({
  reviewer: Schema.String,
  /** The first review of a change. */
  first: VerdictShares,
  /** Reviews of a change fixed after a request for changes. */
  afterFix: VerdictShares,
  /** Verdicts that were not stated clearly (read as a request for changes). */
  unclearRate: Rate
})
export type Reviewer = typeof Reviewer.Type

/**
 * @category models
 * @since 0.1.0
 */
export const Calibration = Schema.Struct({
  version: Schema.Literal(1),
  /** The runs it was fitted from, newest first, with what each measured. */
  runs: Schema.Array(Schema.Struct({
    runId: Schema.String,
    workers: Count,
    durationMs: NonNegative,
    iterations: Count,
    merged: Count,
    /** Claim to landing, of the tasks that landed. */
    claimToMergeMs: Quantiles
  })),
  agents: Schema.Array(AgentCalls),
  reviewers: Schema.Array(Reviewer),
  iterations: Schema.Struct({
    count: Count,
    /** Of the iterations whose proposal went through (no timeout, no error), those that changed nothing. */
    noChangeRate: Rate,
    /** Of the same, those a policy violation stopped or sent back. */
    policyRate: Rate,
    /**
     * oompa's own time in an iteration: from its claim (or start) to its submission to the merge
     * queue (or its end), less its agent calls meanwhile (git, the worktree's setup, prompts).
     */
    overheadMs: Quantiles
  }),
  testGate: Schema.Struct({ runs: Count, durationMs: Quantiles, failureRate: Rate }),
  /** Merges computed (landed, conflicted, or failed a gate), once per iteration and outcome. */
  merges: Schema.Struct({
    attempts: Count,
    conflictRate: Rate,
    /**
     * The merge queue's own time for a landing (merge, move of main, the checkout's sync): from
     * when the queue could take it (its submission, or the landing before it) to its landing, less
     * its tests.
     */
    landingMs: Quantiles
  })
})
export type Calibration = typeof Calibration.Type

/**
 * The quantiles of `values` at 0, 5%, …, 100%, interpolated linearly between the two nearest
 * observations (R's type 7); none for no values.
 *
 * @category fitting
 * @since 0.1.0
 */
export const quantilesOf = (values: ReadonlyArray<number>): Quantiles => {
  if (values.length === 0) return []
  const sorted = [...values].sort((a, b) => a - b)
  return Array.from({ length: quantileSteps + 1 }, (_, i) => {
    const position = (i * (sorted.length - 1)) / quantileSteps
    const below = Math.floor(position)
    const above = Math.min(below + 1, sorted.length - 1)
    return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below)
  })
}

/**
 * The value at probability `u` (0 ≤ u ≤ 1) of the distribution the quantiles describe, linear
 * between them: what a simulated call draws with a uniform `u`.
 *
 * @category sampling
 * @since 0.1.0
 */
export const sample = (quantiles: Quantiles, u: number): number => {
  if (quantiles.length === 0) return 0
  const position = Math.min(Math.max(u, 0), 1) * (quantiles.length - 1)
  const below = Math.floor(position)
  const above = Math.min(below + 1, quantiles.length - 1)
  return quantiles[below]! + (quantiles[above]! - quantiles[below]!) * (position - below)
}

/**
 * The median of the quantiles (their middle one).
 *
 * @category sampling
 * @since 0.1.0
 */
export const median = (quantiles: Quantiles): number | undefined => quantiles.length === 0 ? undefined : sample(quantiles, 0.5)

const share = (part: number, whole: number): number => whole === 0 ? 0 : part / whole

/** A merge the queue computed: it landed, conflicted, or failed a gate. */
const isMergeAttempt = (outcome: string): boolean =>
  outcome === "merged" || outcome === "conflict" || outcome === "test-failed" || outcome === "policy-failed"

interface CallTally {
  readonly agent: string
  readonly call: AgentCallKind
  readonly durations: Array<number>
  calls: number
  errors: number
  timeouts: number
  tokenCalls: number
  input: number
  output: number
  costCalls: number
  cost: number
}

type Verdicts = { count: number; approved: number; needsChanges: number; rejected: number }

const verdictShares = (v: Verdicts): VerdictShares => ({
  count: v.count,
  approved: share(v.approved, v.count),
  needsChanges: share(v.needsChanges, v.count),
  rejected: share(v.rejected, v.count)
})

/**
 * One run's log, as `fit` reads it.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunLog {
  readonly runId: string
  readonly events: ReadonlyArray<Event>
}

/**
 * Fits a calibration to run logs (newest first). Only what the events say is used: a run cut short
 * (no `SwarmFinished`) counts up to where its log ends.
 *
 * @category fitting
 * @since 0.1.0
 */
export const fit = (runs: ReadonlyArray<RunLog>): Calibration => {
  const calls = new Map<string, CallTally>()
  const reviewers = new Map<string, { first: Verdicts; afterFix: Verdicts; unclear: number; count: number }>()
  let iterations = 0
  let noChange = 0
  let proposalsOk = 0
  let policy = 0
  const overheads: Array<number> = []
  const testDurations: Array<number> = []
  let testFailures = 0
  let mergeAttempts = 0
  const landings: Array<number> = []
  let conflicts = 0
  const runRows: Array<Calibration["runs"][number]> = []
  for (const run of runs) {
    const key = (worker: string, iteration: number) => `${worker}\u0000${iteration}`
    const claimedAt = new Map<string, number>()
    const startedAt = new Map<string, number>()
    // Agent calls and tests of each iteration, in ms: what is not oompa's own time.
    const waited = new Map<string, number>()
    const wait = (k: string, ms: number) => waited.set(k, (waited.get(k) ?? 0) + Math.max(0, ms))
    const policyIterations = new Set<string>()
    // Iterations that proposed a change (a planner's changes nothing by design), and those whose proposal went through.
    const proposals = new Set<string>()
    const proposedOk = new Set<string>()
    const queuedAt = new Map<string, number>()
    const testedMs = new Map<string, number>()
    let previousLanding: number | undefined
    const attempts = new Set<string>()
    const claimToMerge: Array<number> = []
    // A submission delivered twice (across machines) reports its landing twice: counted once.
    const landed = new Set<string>()
    let workers = 0
    let merged = 0
    let runIterations = 0
    let first: number | undefined
    let last: number | undefined
    for (const event of run.events) {
      first ??= event.at
      last = event.at
      switch (event._tag) {
        case "SwarmStarted":
          workers = event.workers.length
          break
        case "TaskClaimed":
          claimedAt.set(key(event.worker, event.iteration), event.at)
          break
        case "IterationStarted":
          startedAt.set(key(event.worker, event.iteration), event.at)
          break
        case "AgentFinished": {
          const k = key(event.worker, event.iteration)
          // oompa's own time is counted up to the submission to the merge queue: what follows is the queue's.
          if (!queuedAt.has(k)) wait(k, event.durationMs)
          // The rates a simulated proposal draws after its call went through are fitted over such proposals.
          if (event.call === "propose" && !proposals.has(k)) {
            proposals.add(k)
            if (!event.timedOut && event.exitCode === 0 && event.error === undefined) proposedOk.add(k)
          }
          const id = `${event.agent}\u0000${event.call}`
          const tally = calls.get(id) ?? { agent: event.agent, call: event.call, durations: [], calls: 0, errors: 0, timeouts: 0, tokenCalls: 0, input: 0, output: 0, costCalls: 0, cost: 0 }
          calls.set(id, tally)
          tally.calls++
          if (event.timedOut) tally.timeouts++
          else {
            tally.durations.push(Math.max(0, event.durationMs))
            if (event.exitCode !== 0 || event.error !== undefined) tally.errors++
          }
          if (event.tokens !== undefined) {
            tally.tokenCalls++
            tally.input += event.tokens.input
            tally.output += event.tokens.output
          }
          if (event.costUsd !== undefined) {
            tally.costCalls++
            tally.cost += event.costUsd
          }
          break
        }
        case "VerdictGiven": {
          const reviewer = reviewers.get(event.reviewer) ?? {
            first: { count: 0, approved: 0, needsChanges: 0, rejected: 0 },
            afterFix: { count: 0, approved: 0, needsChanges: 0, rejected: 0 },
            unclear: 0,
            count: 0
          }
          reviewers.set(event.reviewer, reviewer)
          const shares = event.attempt <= 1 ? reviewer.first : reviewer.afterFix
          shares.count++
          if (event.verdict === "approved") shares.approved++
          else if (event.verdict === "needs-changes") shares.needsChanges++
          else shares.rejected++
          reviewer.count++
          if (!event.clear) reviewer.unclear++
          break
        }
        case "PolicyViolated":
          policyIterations.add(key(event.worker, event.iteration))
          break
        case "MergeQueued":
          if (!queuedAt.has(key(event.worker, event.iteration))) queuedAt.set(key(event.worker, event.iteration), event.at)
          break
        case "TestResult":
          testedMs.set(key(event.worker, event.iteration), (testedMs.get(key(event.worker, event.iteration)) ?? 0) + Math.max(0, event.durationMs))
          testDurations.push(Math.max(0, event.durationMs))
          if (!event.passed) testFailures++
          break
        case "MergeResult":
          // A merge computed (landed, conflicted, or failed its gates), once per iteration and outcome: a redelivered copy says it again.
          if (isMergeAttempt(event.outcome) && !attempts.has(`${key(event.worker, event.iteration)}\u0000${event.outcome}`)) {
            attempts.add(`${key(event.worker, event.iteration)}\u0000${event.outcome}`)
            mergeAttempts++
            if (event.outcome === "conflict") conflicts++
          }
          if (event.outcome === "merged" && !landed.has(key(event.worker, event.iteration))) {
            landed.add(key(event.worker, event.iteration))
            merged++
            const submitted = queuedAt.get(key(event.worker, event.iteration))
            if (submitted !== undefined) {
              const from = Math.max(submitted, previousLanding ?? submitted)
              landings.push(Math.max(0, event.at - from - (testedMs.get(key(event.worker, event.iteration)) ?? 0)))
            }
            previousLanding = event.at
            const claimed = claimedAt.get(key(event.worker, event.iteration))
            if (claimed !== undefined) claimToMerge.push(Math.max(0, event.at - claimed))
          }
          break
        case "IterationFinished":
          iterations++
          runIterations++
          {
            const k = key(event.worker, event.iteration)
            if (proposedOk.has(k)) {
              proposalsOk++
              if (event.outcome === "no-changes") noChange++
              if (policyIterations.has(k)) policy++
            }
            const from = claimedAt.get(k) ?? startedAt.get(k)
            if (from !== undefined) overheads.push(Math.max(0, (queuedAt.get(k) ?? event.at) - from - (waited.get(k) ?? 0)))
          }
          break
        default:
          break
      }
    }
    runRows.push({
      runId: run.runId,
      workers,
      durationMs: first === undefined || last === undefined ? 0 : Math.max(0, last - first),
      iterations: runIterations,
      merged,
      claimToMergeMs: quantilesOf(claimToMerge)
    })
  }
  const byName = <A extends { readonly agent: string; readonly call: string }>(a: A, b: A) =>
    a.agent === b.agent ? a.call.localeCompare(b.call) : a.agent.localeCompare(b.agent)
  return {
    version: 1,
    runs: runRows,
    agents: [...calls.values()].sort(byName).map((t): AgentCalls => ({
      agent: t.agent,
      call: t.call,
      calls: t.calls,
      latencyMs: quantilesOf(t.durations),
      errorRate: share(t.errors, t.calls - t.timeouts),
      timeoutRate: share(t.timeouts, t.calls),
      ...(t.tokenCalls === 0 ? {} : { tokens: { input: t.input / t.tokenCalls, output: t.output / t.tokenCalls } }),
      ...(t.costCalls === 0 ? {} : { costUsd: t.cost / t.costCalls })
    })),
    reviewers: [...reviewers].sort(([a], [b]) => a.localeCompare(b)).map(([reviewer, r]): Reviewer => ({
      reviewer,
      first: verdictShares(r.first),
      afterFix: verdictShares(r.afterFix),
      unclearRate: share(r.unclear, r.count)
    })),
    iterations: { count: iterations, noChangeRate: share(noChange, proposalsOk), policyRate: share(policy, proposalsOk), overheadMs: quantilesOf(overheads) },
    testGate: { runs: testDurations.length, durationMs: quantilesOf(testDurations), failureRate: share(testFailures, testDurations.length) },
    merges: { attempts: mergeAttempts, conflictRate: share(conflicts, mergeAttempts), landingMs: quantilesOf(landings) }
  }
}
