/**
 * A discrete-event runtime for simulations, in the manner of FoundationDB's: a scheduler that queues
 * fibers instead of handing them to the event loop, and a clock whose `sleep` registers a timer.
 * The driver runs every ready fiber until all of them wait ({@link DiscreteTime.settle}), then jumps
 * simulated time straight to the next timer ({@link DiscreteTime.advance}) — no steps in which nothing
 * happens, no real time, nothing outside the simulated world interleaved. Timers due at the same
 * instant fire in the order they were set, so one seed gives one schedule.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, type Exit, Scheduler } from "effect"

interface Timer {
  readonly at: number
  readonly order: number
  readonly fire: () => void
  cancelled: boolean
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.order < b.order)

/** A binary min-heap of timers by (due time, order set). */
class TimerHeap {
  private readonly items: Array<Timer> = []

  get size(): number {
    return this.items.length
  }

  push(timer: Timer): void {
    const items = this.items
    items.push(timer)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(items[i]!, items[parent]!)) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }

  peek(): Timer | undefined {
    return this.items[0]
  }

  pop(): Timer | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    items[0] = last
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let least = i
      if (left < items.length && before(items[left]!, items[least]!)) least = left
      if (right < items.length && before(items[right]!, items[least]!)) least = right
      if (least === i) return top
      ;[items[i], items[least]] = [items[least]!, items[i]!]
      i = least
    }
  }
}

/**
 * Ready fibers waiting to run, by priority then in order (the same order Effect's own scheduler
 * keeps), drained only when the driver says so.
 */
class ReadyQueue implements Scheduler.SchedulerDispatcher {
  private buckets: Array<[number, Array<() => void>]> = []

  get empty(): boolean {
    return this.buckets.length === 0
  }

  scheduleTask(task: () => void, priority: number): void {
    const buckets = this.buckets
    let index = 0
    while (index < buckets.length && buckets[index]![0] < priority) index++
    const bucket = buckets[index]
    if (bucket !== undefined && bucket[0] === priority) bucket[1].push(task)
    else buckets.splice(index, 0, [priority, [task]])
  }

  /** Runs the tasks queued so far; returns how many ran. */
  runQueued(): number {
    const buckets = this.buckets
    this.buckets = []
    let ran = 0
    for (const [, tasks] of buckets) {
      for (const task of tasks) {
        task()
        ran++
      }
    }
    return ran
  }

  flush(): void {
    while (!this.empty) this.runQueued()
  }
}

/**
 * @category models
 * @since 0.1.0
 */
export class DiscreteTime {
  /** Simulated milliseconds since the start. */
  now = 0
  /** Timers fired so far. */
  fired = 0
  private order = 0
  private readonly timers = new TimerHeap()
  private readonly ready = new ReadyQueue()

  /** Give to `Effect.runFork` (and provide as `Scheduler.Scheduler`) for fibers that live in this world. */
  readonly scheduler: Scheduler.Scheduler
  /** Provide as `Clock.Clock`. */
  readonly clock: Clock.Clock

  /** Starts at `now` (a run started after another's crash continues its clock). */
  constructor(now = 0) {
    this.now = now
    const ready = this.ready
    this.scheduler = {
      executionMode: "sync",
      // The same budget as Effect's own scheduler: a busy fiber lets the others run.
      shouldYield: (fiber) => fiber.currentOpCount >= fiber.cache.maxOpsBeforeYield,
      makeDispatcher: () => ready
    }
    const millis = Effect.sync(() => this.now)
    const nanos = Effect.sync(() => BigInt(this.now) * 1_000_000n)
    this.clock = {
      currentTimeMillisUnsafe: () => this.now,
      currentTimeMillis: millis,
      currentTimeNanosUnsafe: () => BigInt(this.now) * 1_000_000n,
      currentTimeNanos: nanos,
      monotonicTimeNanosUnsafe: () => BigInt(this.now) * 1_000_000n,
      monotonicTimeNanos: nanos,
      sleep: (duration) => this.sleep(Duration.toMillis(duration))
    }
  }

  private sleep(ms: number): Effect.Effect<void> {
    if (ms <= 0) return Effect.yieldNow
    if (!Number.isFinite(ms)) return Effect.never
    return Effect.callback<void>((resume) => {
      const timer: Timer = { at: this.now + ms, order: this.order++, fire: () => resume(Effect.void), cancelled: false }
      this.timers.push(timer)
      return Effect.sync(() => {
        timer.cancelled = true
      })
    })
  }

  /**
   * Runs ready fibers until none is left; `false` when `taskMax` tasks ran and fibers are still
   * ready (a livelock: fibers yielding to each other forever without waiting on time).
   */
  settle(taskMax = 10_000_000): boolean {
    let ran = 0
    while (!this.ready.empty) {
      ran += this.ready.runQueued()
      if (ran > taskMax) return false
    }
    return true
  }

  /** The time of the next timer, if any is set. */
  nextTimerAt(): number | undefined {
    this.dropCancelled()
    return this.timers.peek()?.at
  }

  /**
   * Moves time to the next timer and fires it (its fiber runs at once; others it wakes are queued).
   * `false` when no timer is set: nothing can ever happen again.
   */
  advance(): boolean {
    this.dropCancelled()
    const timer = this.timers.pop()
    if (timer === undefined) return false
    this.now = Math.max(this.now, timer.at)
    this.fired++
    timer.fire()
    return true
  }

  private dropCancelled(): void {
    while (this.timers.peek()?.cancelled === true) this.timers.pop()
  }
}

/**
 * Runs `effect` in a fresh discrete time until it ends: every fiber runs until all wait, then the
 * clock jumps to the next timer. Its exit (`undefined`: it stalled, every fiber waiting on nothing)
 * and the simulated time it took.
 *
 * @category programs
 * @since 0.1.0
 */
export const runToEnd = <A, E>(effect: Effect.Effect<A, E>): { readonly exit: Exit.Exit<A, E> | undefined; readonly elapsedMs: number } => {
  const time = new DiscreteTime()
  const fiber = Effect.runFork(
    effect.pipe(Effect.provideService(Clock.Clock, time.clock), Effect.provideService(Scheduler.Scheduler, time.scheduler)),
    { scheduler: time.scheduler }
  )
  while (time.settle() && fiber.pollUnsafe() === undefined && time.advance());
  return { exit: fiber.pollUnsafe(), elapsedMs: time.now }
}
