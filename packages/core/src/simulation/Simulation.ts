/**
 * Deterministic simulation of whole swarms (SPEC F13), the way FoundationDB and TigerBeetle prove
 * theirs: one seed draws the swarm's shape, its fault probabilities and every agent answer
 * (`Parameters`, `AgentModel`); the real `Swarm` program runs over the in-memory world (`World`) in
 * simulated time; the invariant checker (`Invariants`) watches every event; a failing seed replays
 * exactly. Time is discrete (`DiscreteTime`): fibers run until all of them wait, then the clock jumps
 * to the next timer (`RunLoop`).
 *
 * Phases:
 * 1. Safety — faults on: agents crash, hang past their timeout, answer garbage, edit the same lines
 *    (conflicts), write denied paths; reviewers reject or ask for changes; tests fail; and the
 *    orchestrator itself may crash at a drawn event (it stops between two steps, no finalizer runs,
 *    as under `kill -9`),
 *    after which `Recovery` — the same program `oompa cleanup` runs, reading the dead run's log as
 *    `events.jsonl` would hold it — repairs the world and a new run
 *    resumes on it.
 * 2. Liveness — faults off: executors must bring every task to `complete/` or `failed/` (or, when
 *    its dependencies never can be met, `invalid/`) within bounded simulated time.
 *
 * Broken variants (`variant`, see `Variant`) swap in deliberately wrong behaviour, to prove the
 * checker finds it.
 *
 * This module is the simulator's front door: the program that runs a seed, its options and result,
 * and — re-exported — everything a caller names as `Simulation.<name>`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Event } from "../domain/Event.ts"
import type { SwarmConfig } from "../domain/SwarmConfig.ts"
import type { Task } from "../domain/Task.ts"
import * as TaskListing from "../domain/TaskListing.ts"
import * as Recovery from "../programs/Recovery.ts"
import type { MemoryTaskQueueState } from "../testing/MemoryTaskQueue.ts"
import * as TestSwarm from "../testing/TestSwarm.ts"
import type { InvariantName } from "./Invariants.ts"
import * as Parameters from "./Parameters.ts"
import * as RunLoop from "./RunLoop.ts"
import * as Variant from "./Variant.ts"
import * as World from "./World.ts"

/**
 * Re-exported so that callers name them `Simulation.<name>`: the swarms ready to simulate
 * (`Fixtures`), what a seed draws (`Parameters`) and the broken variants (`Variant`).
 *
 * @since 0.1.0
 */
export { bigSwarm, withBuiltInPrompts } from "./Fixtures.ts"
export { type Dependencies, drawParameters, type Faults, type Parameters } from "./Parameters.ts"
export { type Variant, variants } from "./Variant.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface SimulationOptions {
  readonly seed: number
  /** Simulate this swarm instead of one drawn from the seed (its workers, policy, gates, limits). */
  readonly config?: SwarmConfig
  /** The tasks to start with (default: drawn from the seed). */
  readonly tasks?: ReadonlyArray<Task>
  /** Faults in the safety phase (default on). */
  readonly faults?: boolean
  readonly variant?: Variant.Variant
  /** Sees every event as it is emitted (a trace for `oompa sim --trace`). */
  readonly observe?: (event: Event) => void
}

/**
 * Why a simulation failed: a broken invariant, no progress (liveness), or a defect (a bug that died).
 *
 * @category models
 * @since 0.1.0
 */
export interface Failure {
  readonly kind: "invariant" | "liveness" | "defect"
  readonly invariant?: InvariantName
  readonly message: string
}

/**
 * @category models
 * @since 0.1.0
 */
export interface SimulationResult {
  readonly seed: number
  readonly ok: boolean
  readonly failure?: Failure
  /** Events emitted, across phases. */
  readonly steps: number
  readonly iterations: number
  readonly agentCalls: number
  /** Commits main moved to. */
  readonly merged: number
  readonly traceHash: string
  readonly simulatedMs: number
  readonly parameters: Parameters.Parameters
}

/**
 * Exit codes of `oompa sim` (TigerBeetle's VOPR convention).
 *
 * @category constants
 * @since 0.1.0
 */
export const exitCodes = { ok: 0, defect: 127, liveness: 128, invariant: 129 } as const

/**
 * The command that replays a seed.
 *
 * @category formatting
 * @since 0.1.0
 */
export const replayCommand = (seed: number, options: { readonly configFile?: string | undefined; readonly variant?: Variant.Variant | undefined } = {}): string =>
  `oompa sim --seed ${seed}${options.configFile === undefined ? "" : ` --config ${options.configFile}`}${options.variant === undefined ? "" : ` --variant ${options.variant}`}`

/**
 * Runs one seed: the safety phase (faults, maybe an orchestrator crash and recovery), then the
 * liveness phase.
 *
 * @category programs
 * @since 0.1.0
 */
export const simulate = (options: SimulationOptions): Effect.Effect<SimulationResult> => Effect.sync(() => simulateNow(options))

const simulateNow = (options: SimulationOptions): SimulationResult => {
  const parameters = Parameters.drawParameters(options.seed, { variant: options.variant, tasks: options.tasks?.length })
  const config = options.config ?? Parameters.swarmConfig(parameters)
  const w = World.make({ parameters, config, tasks: options.tasks ?? Parameters.tasks(parameters), variant: options.variant, observe: options.observe })
  w.switches.faults = options.faults ?? true
  const finish = (failure: Failure | undefined): SimulationResult => ({
    seed: options.seed,
    ok: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
    steps: w.counts.events,
    iterations: w.counts.iterations,
    agentCalls: w.counts.calls,
    merged: w.world.repo.mainHistory.length - 1,
    traceHash: w.trace.hex,
    simulatedMs: w.time.now,
    parameters
  })
  const safety = safetyPhase(w, config, parameters.crashAtEvent, options.variant)
  if (safety !== undefined) return finish(safety)
  w.switches.faults = false
  const pending = w.world.queue.list("pending").length
  const live = RunLoop.runPhase(w, RunLoop.livenessConfig(config, pending), "11fe0001", undefined)
  const liveness = failureOf(w, live, "liveness phase")
  if (liveness !== undefined) return finish(liveness)
  w.checker.checkQuiescent("the liveness phase")
  const left = tasksLeft(w.world.queue)
  if (w.checker.ok && left.length > 0) {
    return finish({ kind: "liveness", invariant: "I10", message: `I10: with faults off, tasks never reached complete/, failed/ or invalid/: ${left.join(", ")}` })
  }
  return finish(failureOf(w, live, "liveness phase"))
}

/** The tasks still pending or held, each pending one with what it waits for. */
const tasksLeft = (queue: MemoryTaskQueueState): ReadonlyArray<string> => {
  const folders = { pending: queue.list("pending"), current: queue.list("current"), complete: queue.list("complete"), failed: queue.list("failed") }
  const waits = new Map(TaskListing.blockedTasks(folders).map((b) => [b.id, b.waiting_for.map((d) => `${d.id} in ${d.status === "unknown" ? "no folder" : `${d.status}/`}`)]))
  return [
    ...folders.pending.map((t) => waits.has(t.id) ? `${t.id} (waits for ${waits.get(t.id)!.join(", ")})` : t.id),
    ...folders.current.map((t) => `${t.id} (in current/)`)
  ]
}

/** The safety phase: one run with faults, and after the orchestrator's crash, recovery and a second run. */
const safetyPhase = (w: World.World, config: SwarmConfig, crashAtEvent: number | undefined, variant: Variant.Variant | undefined): Failure | undefined => {
  let end = RunLoop.runPhase(w, config, "5afe0001", crashAtEvent)
  if (end === "crashed") {
    w.checker.crashed()
    const recovered = recover(w, config, variant)
    if (recovered !== "done") return failureOf(w, recovered, "recovery")
    w.checker.checkQuiescent("recovery from the orchestrator's crash")
    if (!w.checker.ok) return failureOf(w, end, "recovery")
    end = RunLoop.runPhase(w, config, "5afe0002", undefined)
  }
  const failure = failureOf(w, end, "safety phase")
  if (failure !== undefined) return failure
  w.checker.checkQuiescent("the safety phase")
  return w.checker.ok ? undefined : failureOf(w, end, "safety phase")
}

/** Recovery after a crash: the real program, over the same world, reading the dead run's log as it was written. */
const recover = (w: World.World, config: SwarmConfig, variant: Variant.Variant | undefined): RunLoop.PhaseEnd =>
  RunLoop.runFiber(
    w,
    Recovery.run({
      maxTaskAttempts: config.max_task_attempts,
      runLog: (runId) => Effect.succeed(Variant.recoveryRunLog(variant, w.runLogs.get(runId) ?? []))
    }).pipe(
      Effect.provide(Variant.recoveryTaskQueue(variant, w.world.queue)),
      Effect.provide(TestSwarm.layer(w.world)),
      Effect.orDie,
      Effect.asVoid
    ),
    undefined
  )

const failureOf = (w: World.World, end: RunLoop.PhaseEnd, phase: string): Failure | undefined => {
  const violation = w.checker.violations[0]
  if (violation !== undefined) return { kind: "invariant", invariant: violation.invariant, message: `${violation.invariant}: ${violation.message}` }
  if (typeof end === "object" && "defect" in end) return { kind: "defect", message: `${phase}: ${end.defect}` }
  if (typeof end === "object" && "stalled" in end) return { kind: "liveness", invariant: "I6", message: `I6: the ${phase} did not end: ${end.stalled}` }
  return undefined
}
