/**
 * Spending limits (SPEC F15): agent calls, wall time, dollars — per run and per worker.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * @category models
 * @since 0.1.0
 */
export const Budget = Schema.Struct({
  max_agent_calls: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))),
  max_wall_seconds: Schema.optionalKey(Schema.Finite.pipe(Schema.check(Schema.isGreaterThan(0)))),
  max_cost_usd: Schema.optionalKey(Schema.Finite.pipe(Schema.check(Schema.isGreaterThan(0))))
})
export type Budget = typeof Budget.Type

/**
 * Which limit ended a run or a worker.
 *
 * @category models
 * @since 0.1.0
 */
export const BudgetName = Schema.Literals(["max_agent_calls", "max_wall_seconds", "max_cost_usd"])
export type BudgetName = typeof BudgetName.Type
