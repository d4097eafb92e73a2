/**
 * Assertions for programmer errors (TigerBeetle style): a broken assertion is a defect, never an
 * expected failure, so it dies instead of entering the error channel.
 */
import { Effect } from "effect"

/** Throws (a defect) when `condition` is false. Use inside `Effect.sync` or pure code. */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${typeof message === "string" ? message : message()}`)
}

/** Dies when `condition` is false. */
export const assertEffect = (condition: boolean, message: string): Effect.Effect<void> =>
  condition ? Effect.void : Effect.die(new Error(`assertion failed: ${message}`))
