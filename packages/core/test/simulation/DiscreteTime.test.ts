/**
 * Goal: the simulation's discrete time runs fibers until all of them wait, jumps the clock straight
 * to the next timer, fires timers due at the same instant in the order they were set, never fires
 * a timer whose sleep was interrupted, and tells a deadlock (no timer left) and a livelock (fibers
 * yielding forever) apart from progress.
 * Method: fibers forked onto a `DiscreteTime`, driven by hand.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Scheduler } from "effect"
import { DiscreteTime } from "../../src/simulation/DiscreteTime.ts"

const fork = <A>(time: DiscreteTime, effect: Effect.Effect<A>) =>
  Effect.runFork(
    effect.pipe(Effect.provideService(Clock.Clock, time.clock), Effect.provideService(Scheduler.Scheduler, time.scheduler)),
    { scheduler: time.scheduler }
  )

const runAll = (time: DiscreteTime) => {
  while (time.settle() && time.advance());
}

describe("DiscreteTime", () => {
  it("jumps to each timer in due order, ties in the order they were set, and stops when none is left", () => {
    const time = new DiscreteTime()
    const log: Array<string> = []
    const sleeper = (name: string, ms: number) =>
      fork(time, Effect.sleep(ms).pipe(Effect.andThen(Clock.currentTimeMillis), Effect.map((at) => void log.push(`${name}@${at}`))))
    sleeper("c", 30_000)
    sleeper("a", 5)
    sleeper("b", 30_000)
    sleeper("d", 1)
    runAll(time)
    assert.deepStrictEqual(log, ["d@1", "a@5", "c@30000", "b@30000"])
    assert.strictEqual(time.now, 30_000)
    assert.strictEqual(time.fired, 4)
    assert.isFalse(time.advance())
  })

  it("a fiber runs until it waits before time moves, and forked fibers run in the same instant", () => {
    const time = new DiscreteTime()
    const log: Array<string> = []
    const fiber = fork(time, Effect.gen(function*() {
      const child = yield* Effect.forkChild(Effect.sync(() => log.push(`child@${time.now}`)))
      yield* Effect.yieldNow
      log.push(`parent@${time.now}`)
      yield* Fiber.join(child)
      yield* Effect.sleep(100)
      log.push(`parent@${time.now}`)
    }))
    assert.isTrue(time.settle())
    assert.deepStrictEqual(log, ["child@0", "parent@0"])
    assert.isUndefined(fiber.pollUnsafe())
    assert.strictEqual(time.nextTimerAt(), 100)
    runAll(time)
    assert.deepStrictEqual(log, ["child@0", "parent@0", "parent@100"])
    assert.isDefined(fiber.pollUnsafe())
  })

  it("an interrupted sleep leaves no timer behind", () => {
    const time = new DiscreteTime()
    let woke = false
    const fiber = fork(time, Effect.sleep(1000).pipe(Effect.andThen(Effect.sync(() => (woke = true)))))
    time.settle()
    assert.strictEqual(time.nextTimerAt(), 1000)
    fiber.interruptUnsafe()
    time.settle()
    assert.isUndefined(time.nextTimerAt())
    assert.isFalse(time.advance())
    assert.isFalse(woke)
  })

  it("a timeout fires at its deadline in simulated time", () => {
    const time = new DiscreteTime()
    const fiber = fork(time, Effect.never.pipe(Effect.timeoutOption(120_000)))
    runAll(time)
    assert.strictEqual(time.now, 120_000)
    const exit = fiber.pollUnsafe()
    assert.isTrue(exit !== undefined && exit._tag === "Success" && exit.value._tag === "None")
  })

  it("settle reports fibers that yield to each other forever", () => {
    const time = new DiscreteTime()
    fork(time, Effect.forever(Effect.yieldNow))
    assert.isFalse(time.settle(10_000))
  })
})
