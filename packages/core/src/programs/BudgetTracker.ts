/**
 * Budgets of a run (SPEC F15): agent calls, wall time and dollars, per run and per worker.
 *
 * Checked before every agent call: once a limit is spent, nothing new starts (the call in flight
 * finishes), and the run remembers which limit ended it. Time comes from `Clock` only. Dollars
 * count whether the harness reported them or the agent layer estimated them from tokens (issue 18);
 * the totals keep the estimated share and the tables it came from, for the summary.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Option } from "effect"
import type { Budget, BudgetName } from "../domain/Budget.ts"

/**
 * What was spent: agent calls and dollars.
 *
 * @category models
 * @since 0.1.0
 */
export interface Spend {
  readonly calls: number
  readonly costUsd: number
}

/**
 * The run's budget tracker: one per run, shared by its workers (`RunServices.layer` builds it).
 *
 * @category services
 * @since 0.1.0
 */
export class BudgetTracker extends Context.Service<BudgetTracker, {
  /** The limit that stops `worker` now, if any (run limits first). */
  readonly check: (worker: string, workerBudget: Budget) => Effect.Effect<Option.Option<BudgetName>>
  /** Records one finished call. */
  readonly record: (worker: string, call: {
    readonly harness: string
    readonly costUsd?: number | undefined
    /** The price table `costUsd` was estimated with; absent when the harness reported it. */
    readonly costEstimatedWith?: string | undefined
    readonly tokens?: { readonly input: number; readonly output: number } | undefined
  }) => Effect.Effect<void>
  /** The run-level limit that was spent, if any. */
  readonly spent: Effect.Effect<Option.Option<BudgetName>>
  readonly totals: Effect.Effect<{
    readonly calls: number
    readonly costUsd: number
    readonly tokens: { readonly input: number; readonly output: number }
    readonly noCost: ReadonlyArray<string>
    /** Of `costUsd`, the dollars estimated from tokens rather than reported. */
    readonly estimatedCostUsd: number
    /** The price tables those estimates came from, sorted. */
    readonly priceTables: ReadonlyArray<string>
  }>
}>()("@oompa/core/programs/BudgetTracker") {}

const zero: Spend = { calls: 0, costUsd: 0 }

/**
 * The first limit of `budget` that `spend` and `elapsedSeconds` reach, if any: calls, then dollars, then time.
 *
 * @category checks
 * @since 0.1.0
 */
export const exceeded = (budget: Budget, spend: Spend, elapsedSeconds: number): Option.Option<BudgetName> => {
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
export const make = (runBudget: Budget): Effect.Effect<BudgetTracker["Service"]> =>
  Effect.map(Clock.currentTimeMillis, (startedMs) => {
    // Plain state, read and written inside single synchronous steps: every check and record is atomic.
    const workerStartedMs = new Map<string, number>()
    const workers = new Map<string, Spend>()
    // Harnesses that answered without a cost (SPEC F15: the summary names them).
    const noCost = new Set<string>()
    let run = zero
    // The first run-level limit that was spent.
    let spent = Option.none<BudgetName>()
    let tokens = { input: 0, output: 0 }
    let estimatedCostUsd = 0
    const priceTables = new Set<string>()
    const check = (worker: string, workerBudget: Budget) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const now = clock.currentTimeMillisUnsafe()
          if (!workerStartedMs.has(worker)) workerStartedMs.set(worker, now)
          if (Option.isSome(spent)) return spent
          const runLimit = exceeded(runBudget, run, (now - startedMs) / 1000)
          if (Option.isSome(runLimit)) {
            spent = runLimit
            return runLimit
          }
          const elapsed = (now - (workerStartedMs.get(worker) ?? now)) / 1000
          return exceeded(workerBudget, workers.get(worker) ?? zero, elapsed)
        })
      )
    const record: BudgetTracker["Service"]["record"] = (worker, call) =>
      Effect.sync(() => {
        const add = (spend: Spend): Spend => ({ calls: spend.calls + 1, costUsd: spend.costUsd + (call.costUsd ?? 0) })
        workers.set(worker, add(workers.get(worker) ?? zero))
        run = add(run)
        if (call.costUsd === undefined) noCost.add(call.harness)
        if (call.costUsd !== undefined && call.costEstimatedWith !== undefined) {
          estimatedCostUsd += call.costUsd
          priceTables.add(call.costEstimatedWith)
        }
        if (call.tokens !== undefined) tokens = { input: tokens.input + call.tokens.input, output: tokens.output + call.tokens.output }
      })
    return {
      check,
      record,
      spent: Effect.sync(() => spent),
      totals: Effect.sync(() => ({
        calls: run.calls,
        costUsd: run.costUsd,
        tokens,
        noCost: [...noCost].sort(),
        estimatedCostUsd,
        priceTables: [...priceTables].sort()
      }))
    }
  })
