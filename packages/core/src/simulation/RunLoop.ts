/**
 * The simulator's run loop: drives one program (a swarm run, or the recovery after a crash) through
 * the world's discrete time until it ends, and reports how it ended — done, crashed at the drawn
 * event, stopped by a broken invariant, stalled (a deadlock, a livelock, or no end within a day of
 * simulated time: I6), or dead of a defect.
 *
 * The loop alternates `settle` (every ready fiber runs until all of them wait) and `advance` (the
 * clock jumps to the next timer), checking the world between steps; nothing outside the world runs
 * in between, so one seed gives one schedule. A crash is `kill -9`: the orchestrator stops between
 * two steps, and no finalizer of it ever runs.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Effect, Exit, Scheduler } from "effect"
import type { Event } from "../domain/Event.ts"
import type { SwarmConfig } from "../domain/SwarmConfig.ts"
import * as Swarm from "../programs/Swarm.ts"
import { DiscreteTime } from "./DiscreteTime.ts"
import type { World } from "./World.ts"

/**
 * How a phase ended.
 *
 * @category models
 * @since 0.1.0
 */
export type PhaseEnd = "done" | "crashed" | "violation" | { readonly stalled: string } | { readonly defect: string }

/**
 * Simulated time a phase may take before it counts as stuck (I6): a day, hundreds of times what a
 * phase needs.
 *
 * @category constants
 * @since 0.1.0
 */
export const phaseTimeMaxMs = 24 * 3600_000

/**
 * Runs `effect` in the world's time until it ends; a crash (at `crashAtEvent` events) or a broken
 * invariant cuts it short.
 *
 * @category programs
 * @since 0.1.0
 */
export const runFiber = <A, E>(w: World, effect: Effect.Effect<A, E>, crashAtEvent: number | undefined): PhaseEnd => {
  const time = w.time
  const fiber = Effect.runFork(
    effect.pipe(Effect.provideService(Clock.Clock, time.clock), Effect.provideService(Scheduler.Scheduler, time.scheduler)),
    { scheduler: time.scheduler }
  )
  const deadline = time.now + phaseTimeMaxMs
  const stop = (end: PhaseEnd): PhaseEnd => {
    fiber.interruptUnsafe()
    // Finalizers may wait on time too (a workspace removed, a claim returned): let them finish,
    // within a phase's time again.
    const finalizersDeadline = time.now + phaseTimeMaxMs
    while (fiber.pollUnsafe() === undefined && time.settle() && (time.nextTimerAt() ?? Infinity) <= finalizersDeadline && time.advance());
    return end
  }
  for (;;) {
    if (!time.settle()) return stop({ stalled: "fibers kept yielding to each other without ever waiting (a livelock)" })
    if (!w.checker.ok) return stop("violation")
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) return Exit.isSuccess(exit) ? "done" : { defect: Cause.pretty(exit.cause).split("\n").slice(0, 3).join(" ") }
    if (crashAtEvent !== undefined && w.counts.events >= crashAtEvent) {
      // kill -9: the orchestrator stops between two steps, and no finalizer of it ever runs; its
      // fibers and timers stay behind in a time nobody drives again. Recovery must repair the rest.
      w.time = new DiscreteTime(time.now)
      return "crashed"
    }
    const next = time.nextTimerAt()
    if (next === undefined) return stop({ stalled: "every fiber waits and no timer is set (a deadlock)" })
    if (next > deadline) return stop({ stalled: `it did not end within ${phaseTimeMaxMs / 3600_000} h of simulated time` })
    time.advance()
  }
}

/**
 * Runs one swarm on the world until it ends, crashes, breaks, or stalls; its events are kept as
 * the run's log (what `events.jsonl` holds on disk, and what recovery reads after a crash).
 *
 * @category programs
 * @since 0.1.0
 */
export const runPhase = (w: World, config: SwarmConfig, runId: string, crashAtEvent: number | undefined): PhaseEnd => {
  // Recovery reads only the log of a run that crashed: a run that cannot crash keeps none.
  const log: Array<Event> | undefined = crashAtEvent === undefined ? undefined : []
  if (log !== undefined) w.runLogs.set(runId, log)
  w.log.current = log
  return runFiber(w, Swarm.run(config, { runId }).pipe(Effect.provide(w.layer), Effect.asVoid), crashAtEvent)
}

/**
 * A swarm for the liveness phase: executors only, with iterations enough for each of the `pending`
 * tasks to use all its attempts.
 *
 * @category constructors
 * @since 0.1.0
 */
export const livenessConfig = (config: SwarmConfig, pending: number): SwarmConfig => {
  const { planner: _planner, ...rest } = config
  return {
    ...rest,
    workers: config.workers.map((w) => ({ ...w, role: "executor", iterations: Math.max(1, pending * config.max_task_attempts + 1), budget: {} })),
    budget: {}
  }
}
