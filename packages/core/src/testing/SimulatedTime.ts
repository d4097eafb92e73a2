/**
 * Runs a program under `TestClock`, moving simulated time forward in steps until it ends, so agent
 * delays, timeouts, waits and budgets all play out without real time passing.
 *
 * @since 0.1.0
 */
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Simulated milliseconds per step. */
  readonly stepMs?: number
  /** Steps before giving up: the program did not end in bounded simulated time (a liveness failure). */
  readonly stepsMax?: number
}

/**
 * Runs `effect` to its end under the `TestClock` in context; dies when it does not end within
 * `stepsMax` steps.
 *
 * @category combinators
 * @since 0.1.0
 */
export const run = <A, E, R>(effect: Effect.Effect<A, E, R>, options: Options = {}): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const stepMs = options.stepMs ?? 1000
    const stepsMax = options.stepsMax ?? 100_000
    const fiber = yield* Effect.forkChild(effect, { startImmediately: true })
    for (let step = 0; step < stepsMax; step++) {
      if (fiber.pollUnsafe() !== undefined) return yield* Fiber.join(fiber)
      yield* TestClock.adjust(stepMs)
    }
    yield* Fiber.interrupt(fiber)
    return yield* Effect.die(new Error(`the program did not end within ${stepsMax} steps of ${stepMs} ms of simulated time`))
  })
