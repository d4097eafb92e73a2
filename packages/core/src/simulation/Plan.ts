/**
 * What-if planning from a team's own runs (issue 23): the user's swarm, simulated with calibrated
 * agents (`CalibratedAgent`) for each point of a grid of worker counts and merge-queue depths, many
 * seeds per point, over a horizon of simulated hours; each point's merges and cost per hour, claim
 * to merge (median and 95th percentile), merge-queue wait and idle share, as a mean with the range
 * across seeds, and the best point the configured budget allows.
 *
 * Each run is the real orchestration (`Swarm.run`) over the simulator's in-memory world in discrete
 * time, every invariant checked as in `oompa sim`: a point whose run breaks one is reported, not
 * averaged in. The in-memory git takes no time, so oompa's own calibrated time of an iteration is
 * added to each proposal.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { formatModelString } from "../domain/AgentSpec.ts"
import type { Event } from "../domain/Event.ts"
import type { SwarmConfig } from "../domain/SwarmConfig.ts"
import type { Task } from "../domain/Task.ts"
import * as CalibratedAgent from "./CalibratedAgent.ts"
import * as Calibration from "./Calibration.ts"
import * as Parameters from "./Parameters.ts"
import * as Prng from "./Prng.ts"
import * as RunLoop from "./RunLoop.ts"
import * as World from "./World.ts"

/**
 * A figure across seeds: the mean, and the lowest and highest seed's.
 *
 * @category models
 * @since 0.1.0
 */
export const Interval = Schema.Struct({ mean: Schema.Finite, low: Schema.Finite, high: Schema.Finite })
export type Interval = typeof Interval.Type

/**
 * One point of the grid.
 *
 * @category models
 * @since 0.1.0
 */
export const PlanPoint = Schema.Struct({
  workers: Schema.Int,
  speculation: Schema.Int,
  seeds: Schema.Int,
  mergesPerHour: Interval,
  costPerHour: Interval,
  agentCallsPerHour: Interval,
  claimToMergeP50Ms: Interval,
  claimToMergeP95Ms: Interval,
  /** Mean time from a change's submission to the merge queue to its landing, its tests included. */
  mergeWaitMs: Interval,
  /** Share of the workers' time spent outside an iteration (waiting for a task). */
  idleShare: Interval,
  /** Simulated hours a run lasted: its tasks done, or cut at the horizon. */
  simulatedHours: Interval,
  /** Whether the horizon's cost and calls stay within the configured budget. */
  withinBudget: Schema.Boolean,
  best: Schema.Boolean,
  /** Seeds whose run broke an invariant or did not end: each with why (none expected). */
  failures: Schema.Array(Schema.String)
})
export type PlanPoint = typeof PlanPoint.Type

/**
 * @category models
 * @since 0.1.0
 */
export const PlanResult = Schema.Struct({
  hours: Schema.Finite,
  tasksPerWorker: Schema.Int,
  points: Schema.Array(PlanPoint)
})
export type PlanResult = typeof PlanResult.Type

/**
 * @category models
 * @since 0.1.0
 */
export interface PlanOptions {
  /** The user's swarm, ready to simulate (`Fixtures.withBuiltInPrompts`). */
  readonly config: SwarmConfig
  readonly calibration: Calibration.Calibration
  readonly workers: ReadonlyArray<number>
  readonly speculation: ReadonlyArray<number>
  /** Simulated hours per run (at most `hoursMax`). */
  readonly hours: number
  /** Seeds per point (seeds 1..N). */
  readonly seeds: number
  /** Tasks per worker (default: what the horizon needs at the calibrated pace, 3 to 40). */
  readonly tasksPerWorker?: number
  /** Called after each run (points × seeds in all). */
  readonly onProgress?: (done: number, total: number) => void
}

/** What one run measured. */
interface Measured {
  readonly merges: number
  readonly costUsd: number
  readonly calls: number
  readonly spanMs: number
  readonly claimToMerge: ReadonlyArray<number>
  readonly mergeWaits: ReadonlyArray<number>
  readonly busyMs: number
}

const median = (q: Calibration.Quantiles) => q.length === 0 ? 0 : Calibration.sample(q, 0.5)

/**
 * The longest horizon: the simulator stops a run that has not ended in 24 h of simulated time, and
 * a run needs room past its horizon to finish the calls the horizon cut.
 *
 * @category constants
 * @since 0.1.0
 */
export const hoursMax = 12

/** Tasks per worker the horizon needs at the calibrated median pace (3 to 40: enough to keep every worker busy). */
export const tasksForHorizon = (calibration: Calibration.Calibration, config: SwarmConfig, hours: number): number => {
  // The swarm's own agents: its first worker proposes, its first reviewer (or that worker) reviews.
  const worker = config.workers[0]
  const proposer = worker === undefined ? "" : formatModelString(worker.agent)
  const reviewer = config.reviewers[0] === undefined ? proposer : formatModelString(config.reviewers[0].agent)
  const pace = (agent: string, call: "propose" | "review") => median(CalibratedAgent.callsOf(calibration, agent, call)?.latencyMs ?? [])
  const iterationMs = Math.max(1, pace(proposer, "propose") + (config.review ? pace(reviewer, "review") : 0) + median(calibration.iterations.overheadMs) +
    (config.test_command === undefined ? 0 : median(calibration.testGate.durationMs)))
  return Math.min(40, Math.max(3, Math.ceil((hours * 3600_000 / iterationMs) * 1.1)))
}

/** The swarm of one grid point: the user's workers cycled to `workers` executors, the queue `speculation` deep. */
const pointConfig = (base: SwarmConfig, workers: number, speculation: number, tasks: number, hours: number): SwarmConfig => {
  const { planner: _planner, notify: _notify, target: _target, tasks: _github, ...rest } = base
  return {
    ...rest,
    workers: Array.from({ length: workers }, (_, i) => ({
      ...base.workers[i % base.workers.length]!,
      id: `w${i}` as SwarmConfig["workers"][number]["id"],
      role: "executor" as const,
      iterations: tasks * base.max_task_attempts + 1,
      wait_between: 0,
      budget: {}
    })),
    merge: { ...base.merge, speculation },
    max_wait_for_tasks: 0,
    // The horizon ends the run; the user's own budget judges the point afterwards.
    budget: { max_wall_seconds: hours * 3600 }
  }
}

/** Runs one point with one seed and measures it. */
const runOnce = (options: PlanOptions, workers: number, speculation: number, tasksPerWorker: number, seed: number): Measured | string => {
  const taskCount = workers * tasksPerWorker
  const tasks: ReadonlyArray<Task> = Array.from({ length: taskCount }, (_, i) => ({ id: `p${String(i).padStart(4, "0")}`, summary: `planned task ${i}` }) as Task)
  const config = pointConfig(options.config, workers, speculation, taskCount, options.hours)
  const parameters = { ...Parameters.drawParameters(seed, { tasks: taskCount }), remote: false }
  const events: Array<Event> = []
  const landingPrng = Prng.make(seed ^ 0x1a4d)
  const w = World.make({
    parameters,
    config,
    tasks,
    variant: undefined,
    observe: (event) => void events.push(event),
    test: (repo) => CalibratedAgent.testScript(options.calibration, seed, repo),
    mergeDelayMs: () => Math.round(Calibration.sample(options.calibration.merges.landingMs, landingPrng.next()))
  })
  w.switches.faults = false
  const prng = Prng.make(seed ^ 0x9a1b)
  w.world.agent.script = CalibratedAgent.script({
    calibration: options.calibration,
    prng: prng.fork(),
    repo: w.world.repo,
    checker: w.checker,
    deniedPath: config.policy.deny?.[0] === undefined ? undefined : deniedPathOf(config.policy.deny[0])
  })
  const end = RunLoop.runPhase(w, config, "9a1b0001", undefined)
  const violation = w.checker.violations[0]
  if (violation !== undefined) return `seed ${seed}: ${violation.invariant}: ${violation.message}`
  if (end !== "done") return `seed ${seed}: ${typeof end === "string" ? end : "stalled" in end ? end.stalled : end.defect}`
  return measure(events, workers, options.hours * 3600_000)
}

/** A path a `deny` glob matches, for the calibrated share of proposals that write one. */
const deniedPathOf = (glob: string): string | undefined => {
  const path = glob.replace(/^\//, "").replace(/\*\*\/?/g, "").replace(/\*/g, "x").replace(/\/$/, "/x")
  return path.length === 0 || path.includes("?") || path.includes("[") ? undefined : path
}

const measure = (events: ReadonlyArray<Event>, workers: number, horizonMs: number): Measured => {
  const key = (worker: string, iteration: number) => `${worker}/${iteration}`
  const claimed = new Map<string, number>()
  const started = new Map<string, number>()
  const queued = new Map<string, number>()
  const landed = new Set<string>()
  const claimToMerge: Array<number> = []
  const mergeWaits: Array<number> = []
  let start: number | undefined
  let last = 0
  let costUsd = 0
  let calls = 0
  let busyMs = 0
  for (const event of events) {
    start ??= event.at
    // What the horizon cut short finishes afterwards: it is not counted.
    if (event.at > start + horizonMs) break
    last = Math.max(last, event.at)
    if (event._tag === "TaskClaimed") claimed.set(key(event.worker, event.iteration), event.at)
    else if (event._tag === "IterationStarted") started.set(key(event.worker, event.iteration), event.at)
    else if (event._tag === "MergeQueued" && !queued.has(key(event.worker, event.iteration))) queued.set(key(event.worker, event.iteration), event.at)
    else if (event._tag === "AgentFinished") {
      calls++
      costUsd += event.costUsd ?? 0
    } else if (event._tag === "MergeResult" && event.outcome === "merged" && !landed.has(key(event.worker, event.iteration))) {
      landed.add(key(event.worker, event.iteration))
      const at = claimed.get(key(event.worker, event.iteration))
      if (at !== undefined) claimToMerge.push(event.at - at)
      const submitted = queued.get(key(event.worker, event.iteration))
      if (submitted !== undefined) mergeWaits.push(event.at - submitted)
    } else if (event._tag === "IterationFinished") {
      const k = key(event.worker, event.iteration)
      const from = claimed.get(k) ?? started.get(k)
      if (from !== undefined) busyMs += event.at - from
      claimed.delete(k)
      started.delete(k)
    }
  }
  const spanMs = Math.max(1, Math.min(horizonMs, last - (start ?? 0)))
  // Iterations still going when the run or its horizon ended were busy until then.
  for (const k of new Set([...claimed.keys(), ...started.keys()])) busyMs += (start ?? 0) + spanMs - (claimed.get(k) ?? started.get(k)!)
  return { merges: landed.size, costUsd, calls, spanMs, claimToMerge, mergeWaits, busyMs: Math.min(busyMs, workers * spanMs) }
}

const interval = (values: ReadonlyArray<number>): Interval =>
  values.length === 0
    ? { mean: 0, low: 0, high: 0 }
    : { mean: values.reduce((a, b) => a + b, 0) / values.length, low: Math.min(...values), high: Math.max(...values) }

const quantile = (values: ReadonlyArray<number>, u: number) => Calibration.sample(Calibration.quantilesOf(values), u)

/** One point's figures from its runs. */
const pointOf = (options: PlanOptions, workers: number, speculation: number, runs: ReadonlyArray<Measured>, failures: ReadonlyArray<string>): PlanPoint => {
  const perHour = (pick: (m: Measured) => number) => interval(runs.map((m) => pick(m) * 3600_000 / m.spanMs))
  const costPerHour = perHour((m) => m.costUsd)
  const agentCallsPerHour = perHour((m) => m.calls)
  const budget = options.config.budget
  const withinBudget = (budget.max_cost_usd === undefined || costPerHour.mean * options.hours <= budget.max_cost_usd) &&
    (budget.max_agent_calls === undefined || agentCallsPerHour.mean * options.hours <= budget.max_agent_calls)
  return {
    workers,
    speculation,
    seeds: runs.length,
    mergesPerHour: perHour((m) => m.merges),
    costPerHour,
    agentCallsPerHour,
    claimToMergeP50Ms: interval(runs.filter((m) => m.claimToMerge.length > 0).map((m) => quantile(m.claimToMerge, 0.5))),
    claimToMergeP95Ms: interval(runs.filter((m) => m.claimToMerge.length > 0).map((m) => quantile(m.claimToMerge, 0.95))),
    mergeWaitMs: interval(runs.filter((m) => m.mergeWaits.length > 0).map((m) => m.mergeWaits.reduce((a, b) => a + b, 0) / m.mergeWaits.length)),
    idleShare: interval(runs.map((m) => 1 - m.busyMs / (workers * m.spanMs))),
    simulatedHours: interval(runs.map((m) => m.spanMs / 3600_000)),
    withinBudget,
    best: false,
    failures
  }
}

/** The grid's points, the best marked: most merges per hour within the budget, of points every seed of which ran. */
const result = (options: PlanOptions, tasksPerWorker: number, points: ReadonlyArray<PlanPoint>): PlanResult => {
  const best = points.filter((p) => p.withinBudget && p.failures.length === 0 && p.seeds > 0 && p.mergesPerHour.mean > 0).reduce<PlanPoint | undefined>((a, b) =>
    a === undefined || b.mergesPerHour.mean > a.mergesPerHour.mean * 1.0001 ? b : a, undefined)
  return { hours: options.hours, tasksPerWorker, points: points.map((p) => (p === best ? { ...p, best: true } : p)) }
}

/** Every (point, seed) of the grid, in order. */
const grid = (options: PlanOptions) =>
  options.workers.flatMap((workers) => options.speculation.map((speculation) => ({ workers, speculation })))

/**
 * Simulates every point of the grid with seeds 1..`seeds`, and marks the best point within budget
 * (most merges per hour; then fewer workers, then a shallower queue). In one go: `plan` is the
 * same, interruptible between runs.
 *
 * @category programs
 * @since 0.1.0
 */
export const planNow = (options: PlanOptions): PlanResult => {
  const tasksPerWorker = options.tasksPerWorker ?? tasksForHorizon(options.calibration, options.config, options.hours)
  const total = grid(options).length * options.seeds
  let done = 0
  return result(options, tasksPerWorker, grid(options).map(({ speculation, workers }) => {
    const runs: Array<Measured> = []
    const failures: Array<string> = []
    for (let seed = 1; seed <= options.seeds; seed++) {
      const measured = runOnce(options, workers, speculation, tasksPerWorker, seed)
      if (typeof measured === "string") failures.push(measured)
      else runs.push(measured)
      options.onProgress?.(++done, total)
    }
    return pointOf(options, workers, speculation, runs, failures)
  }))
}

/**
 * The calibration cannot draw a call the swarm makes (it was fitted from runs that made none).
 *
 * @category errors
 * @since 0.1.0
 */
export class UncalibratedCalls extends Schema.TaggedError<UncalibratedCalls>()("UncalibratedCalls", {
  calls: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/**
 * `planNow` as an effect that a Ctrl-C interrupts between two runs, refusing up front a
 * calibration that cannot draw the swarm's calls.
 *
 * @category programs
 * @since 0.1.0
 */
export const plan = (options: PlanOptions): Effect.Effect<PlanResult, UncalibratedCalls> =>
  Effect.gen(function*() {
    const missing = CalibratedAgent.missingCalls(options.calibration, options.config)
    if (missing.length > 0) {
      return yield* new UncalibratedCalls({ calls: missing, message: `the calibration has no ${missing.join(" or ")} calls: calibrate from runs that made some` })
    }
    const tasksPerWorker = options.tasksPerWorker ?? tasksForHorizon(options.calibration, options.config, options.hours)
    const total = grid(options).length * options.seeds
    let done = 0
    const points: Array<PlanPoint> = []
    for (const { speculation, workers } of grid(options)) {
      const runs: Array<Measured> = []
      const failures: Array<string> = []
      for (let seed = 1; seed <= options.seeds; seed++) {
        // One run at a time, yielding between runs: a Ctrl-C interrupts the plan within one run.
        const measured = yield* Effect.sync(() => runOnce(options, workers, speculation, tasksPerWorker, seed))
        if (typeof measured === "string") failures.push(measured)
        else runs.push(measured)
        options.onProgress?.(++done, total)
        yield* Effect.yieldNow
      }
      points.push(pointOf(options, workers, speculation, runs, failures))
    }
    return result(options, tasksPerWorker, points)
  })
