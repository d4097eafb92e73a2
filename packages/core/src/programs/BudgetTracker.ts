/**
 * Budgets of a run (SPEC F15): agent calls, wall time and dollars, per run and per worker.
 *
 * Checked before every agent call: once a limit is spent, nothing new starts (the call in flight
 * finishes), and the run remembers which limit ended it. Time comes from `Clock` only.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Ref } from "effect"
import type { Budget, BudgetName } from "../domain/Budget.ts"

interface Spend {
  readonly calls: number
  readonly costUsd: number
}

interface TrackerState {
  readonly run: Spend
  readonly workers: ReadonlyMap<string, Spend>
  /** The first run-level limit that was spent. */
  readonly spent: Option.Option<BudgetName>
  /** Harnesses that answered without a cost (SPEC F15: the summary names them). */
  readonly noCost: ReadonlySet<string>
  readonly tokens: { readonly input: number; readonly output: number }
}

/**
 * @category models
 * @since 0.1.0
 */
export interface BudgetTracker {
  /** The limit that stops `worker` now, if any (run limits first). */
  readonly check: (worker: string, workerBudget: Budget) => Effect.Effect<Option.Option<BudgetName>>
  /** Records one finished call. */
  readonly record: (worker: string, call: {
    readonly harness: string
    readonly costUsd?: number | undefined
    readonly tokens?: { readonly input: number; readonly output: number } | undefined
  }) => Effect.Effect<void>
  /** The run-level limit that was spent, if any. */
  readonly spent: Effect.Effect<Option.Option<BudgetName>>
  readonly totals: Effect.Effect<{
    readonly calls: number
    readonly costUsd: number
    readonly tokens: { readonly input: number; readonly output: number }
    readonly noCost: ReadonlyArray<string>
  }>
}

const zero: Spend = { calls: 0, costUsd: 0 }

const exceeded = (budget: Budget, spend: Spend, elapsedSeconds: number): Option.Option<BudgetName> => {
  if (budget.max_agent_calls !== undefined && spend.calls >= budget.max_agent_calls) return Option.some("max_agent_calls")
  if (budget.max_cost_usd !== undefined && spend.costUsd >= budget.max_cost_usd) return Option.some("max_cost_usd")
  if (budget.max_wall_seconds !== undefined && elapsedSeconds >= budget.max_wall_seconds) return Option.some("max_wall_seconds")
  return Option.none()
}

/**
 * A tracker for a run that started now.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (runBudget: Budget): Effect.Effect<BudgetTracker> =>
  Effect.gen(function*() {
    const startedMs = yield* Clock.currentTimeMillis
    const workerStartedMs = new Map<string, number>()
    const state = yield* Ref.make<TrackerState>({
      run: zero,
      workers: new Map(),
      spent: Option.none(),
      noCost: new Set(),
      tokens: { input: 0, output: 0 }
    })
    const check = (worker: string, workerBudget: Budget) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (!workerStartedMs.has(worker)) workerStartedMs.set(worker, now)
        const current = yield* Ref.get(state)
        if (Option.isSome(current.spent)) return current.spent
        const runLimit = exceeded(runBudget, current.run, (now - startedMs) / 1000)
        if (Option.isSome(runLimit)) {
          yield* Ref.update(state, (s) => ({ ...s, spent: runLimit }))
          return runLimit
        }
        const elapsed = (now - (workerStartedMs.get(worker) ?? now)) / 1000
        return exceeded(workerBudget, current.workers.get(worker) ?? zero, elapsed)
      })
    const record: BudgetTracker["record"] = (worker, call) =>
      Ref.update(state, (s) => {
        const add = (spend: Spend): Spend => ({ calls: spend.calls + 1, costUsd: spend.costUsd + (call.costUsd ?? 0) })
        const workers = new Map(s.workers)
        workers.set(worker, add(s.workers.get(worker) ?? zero))
        const noCost = call.costUsd === undefined && !s.noCost.has(call.harness) ? new Set([...s.noCost, call.harness]) : s.noCost
        const tokens = call.tokens === undefined
          ? s.tokens
          : { input: s.tokens.input + call.tokens.input, output: s.tokens.output + call.tokens.output }
        return { ...s, run: add(s.run), workers, noCost, tokens }
      })
    return {
      check,
      record,
      spent: Effect.map(Ref.get(state), (s) => s.spent),
      totals: Effect.map(Ref.get(state), (s) => ({
        calls: s.run.calls,
        costUsd: s.run.costUsd,
        tokens: s.tokens,
        noCost: [...s.noCost].sort()
      }))
    }
  })
