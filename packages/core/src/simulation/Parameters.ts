/**
 * Everything a seed decides about a simulated run before it starts (STYLE 11, TigerBeetle's swarm
 * testing): the swarm's shape (workers, tasks, iterations, merge strategy, gates, limits), whether
 * and when the orchestrator crashes, this run's own fault probabilities — so each seed explores a
 * different mix instead of every seed sharing one — and how its tasks depend on each other.
 *
 * The draws come first and in a fixed order from the seed's own generator: adding a parameter at the
 * end keeps every earlier one, and `oompa sim` prints them all before the run so a failure can be
 * read without replaying it.
 *
 * @since 0.1.0
 */
import type { WorkerId } from "../domain/Ids.ts"
import { makeSwarmConfig, type MergeStrategy, type SwarmConfig, type WorkerConfig } from "../domain/SwarmConfig.ts"
import type { Task } from "../domain/Task.ts"
import * as Prng from "./Prng.ts"
import type { Variant } from "./Variant.ts"

/**
 * Fault probabilities of one run (swarm testing: each seed draws its own mix).
 *
 * @category models
 * @since 0.1.0
 */
export interface Faults {
  readonly agentCrash: number
  readonly agentHang: number
  readonly garbage: number
  readonly conflict: number
  readonly policy: number
  readonly testFail: number
  readonly reject: number
  readonly needsChanges: number
  readonly noChange: number
  readonly done: number
  /** An agent moves main itself (`git update-ref`) to a commit of its unreviewed work. */
  readonly moveMain: number
}

/**
 * How a run's tasks depend on each other (issue 18), drawn per seed like its faults.
 *
 * @category models
 * @since 0.1.0
 */
export interface Dependencies {
  /** The chance that a task depends on each task ranked before it; 0 in some seeds: no dependencies. */
  readonly rate: number
  /** One dependency closes a cycle (its tasks, and those waiting for them, go to `invalid/`). */
  readonly cycle: boolean
  /** One task names a dependency no task has (it goes to `invalid/`). */
  readonly unknown: boolean
}

/**
 * Everything drawn from the seed, printed first so a run can be read without replaying it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Parameters {
  readonly seed: number
  readonly workers: number
  readonly tasks: number
  readonly iterations: number
  readonly strategy: MergeStrategy
  readonly onConflict: "abort" | "agent"
  readonly testGate: boolean
  readonly reviewAttemptsMax: number
  readonly taskAttemptsMax: number
  readonly planner: boolean
  /** The event at which the orchestrator crashes, if it does. */
  readonly crashAtEvent: number | undefined
  readonly faults: Faults
  readonly dependencies: Dependencies
  /** The merge queue's depth (`merge.speculation`): 1 in some seeds, up to 4 in the others. */
  readonly speculation: number
  /** The target is a remote others push to (`target.mode: "push"`, issue 20). */
  readonly remote: boolean
  /** With a remote target: the chance that a teammate pushes to it during an agent call. */
  readonly teammatePush: number
}

/** Whether the variant breaks the merge queue's pipeline: its seeds test more than one candidate at once. */
const breaksPipeline = (variant: Variant | undefined): boolean => variant === "lands-past-ejected-candidate" || variant === "reuses-stale-test"

const drawFaults = (prng: Prng.Prng): Faults => ({
  agentCrash: prng.next() * 0.15,
  agentHang: prng.next() * 0.05,
  garbage: prng.next() * 0.1,
  conflict: prng.next() * 0.4,
  policy: prng.next() * 0.1,
  testFail: prng.next() * 0.25,
  reject: prng.next() * 0.1,
  needsChanges: prng.next() * 0.35,
  noChange: prng.next() * 0.05,
  done: prng.next() * 0.03,
  moveMain: prng.next() * 0.02
})

const drawDependencies = (prng: Prng.Prng): Dependencies => {
  // Every value is drawn whatever the others are, so a later parameter keeps its draw.
  const none = prng.chance(0.3)
  const rate = prng.next() * 0.4
  return { rate: none ? 0 : rate, cycle: prng.chance(0.15), unknown: prng.chance(0.15) }
}

/**
 * The run's parameters, drawn from its seed.
 *
 * @category constructors
 * @since 0.1.0
 */
export const drawParameters = (
  seed: number,
  options: { readonly variant?: Variant | undefined; readonly tasks?: number | undefined } = {}
): Parameters => {
  const prng = Prng.make(seed)
  const crash = options.variant === "crash-loses-claim" || options.variant === "recovery-drops-unreviewed-tip" || prng.chance(0.3)
  const crashPoint = prng.next()
  const tasks = prng.int(1, 16)
  return {
    seed,
    workers: prng.int(1, 8),
    tasks: options.tasks ?? tasks,
    iterations: prng.int(2, 12),
    strategy: prng.pick(["no-ff", "ff", "squash", "rebase"] as const),
    onConflict: prng.pick(["abort", "agent"] as const),
    testGate: options.variant === "merge-ignores-failing-test" || breaksPipeline(options.variant) || prng.chance(0.7),
    reviewAttemptsMax: prng.int(1, 4),
    taskAttemptsMax: prng.int(1, 4),
    planner: prng.chance(0.2),
    // Anywhere in the run: a run makes about 20 events per task (the bench swarm's 60 tasks, ~1,200).
    crashAtEvent: crash ? 5 + Math.floor(crashPoint * Math.max(150, 25 * (options.tasks ?? tasks))) : undefined,
    faults: drawFaults(prng),
    dependencies: drawDependencies(prng),
    // Drawn last, so every earlier draw of a seed stays what it was; the pipeline's variants need a pipeline.
    speculation: Math.max(prng.pick([1, 1, 2, 3, 4] as const), breaksPipeline(options.variant) ? 2 : 1),
    remote: prng.chance(0.3) || options.variant === "push-without-lease" || options.variant === "lands-twice-after-failover",
    teammatePush: prng.next() * 0.15
  }
}

/**
 * The swarm the parameters describe, for a run given no configuration of its own.
 *
 * @category constructors
 * @since 0.1.0
 */
export const swarmConfig = (p: Parameters): SwarmConfig =>
  makeSwarmConfig({
    workers: Array.from({ length: p.workers }, (_, i): WorkerConfig => ({
      id: `w${i}` as WorkerId,
      agent: { harness: i % 2 === 0 ? "claude" : "codex" },
      role: p.planner && i === 0 ? "planner" : "executor",
      iterations: p.iterations,
      prompt: [],
      wait_between: 0,
      budget: {}
    })),
    reviewers: [{ agent: { harness: "codex", model: "reviewer" } }],
    policy: { deny: ["secrets/**"], max_files: 12 },
    merge: { strategy: p.strategy, on_conflict: p.onConflict, speculation: p.speculation },
    max_review_attempts: p.reviewAttemptsMax,
    max_task_attempts: p.taskAttemptsMax,
    max_wait_for_tasks: 120,
    timeouts: { propose: 120, review: 120, test: 120, setup: 60, teardown: 60 },
    ...(p.testGate ? { test_command: "npm test" } : {}),
    ...(p.remote ? { target: { remote: "origin", mode: "push" as const } } : {})
  })

/**
 * The tasks the parameters describe, for a run given none of its own: `t00`, `t01`, …, depending on
 * each other as `p.dependencies` says. A task depends only on tasks ranked before it in a random
 * order — not the claim order, so a claim that ignored dependencies would take a task too soon —
 * which makes the graph acyclic, but for the one cycle drawn; some use `blocked_by`, the others
 * `depends_on`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const tasks = (p: Parameters): ReadonlyArray<Task> => {
  const ids = Array.from({ length: p.tasks }, (_, i) => `t${String(i).padStart(2, "0")}`)
  const graph = dependencyGraph(p, ids)
  return ids.map((id, i) => {
    const dependencies = graph.dependencies[i]!
    return {
      id,
      summary: `simulated task ${i}`,
      ...(dependencies.length === 0 ? {} : { [graph.keys[i]!]: dependencies })
    } as Task
  })
}

/** Most dependencies a drawn task has. */
const dependenciesMax = 3

/** The dependency named by the task drawn to name one that no task has. */
export const unknownDependency = "t-unknown"

/** The ids each task of `ids` depends on, and the key it writes them under, by its index. */
const dependencyGraph = (p: Parameters, ids: ReadonlyArray<string>) => {
  const { cycle, rate, unknown } = p.dependencies
  const dependencies: Array<Array<string>> = ids.map(() => [])
  const keys = ids.map(() => "depends_on")
  if (ids.length === 0 || (rate === 0 && !cycle && !unknown)) return { dependencies, keys }
  // Its own stream: the graph does not shift the draws of the run's parameters or agents.
  const prng = Prng.make(p.seed ^ 0xde9e4d5)
  const rank = ids.map((_, i) => i)
  for (let i = rank.length - 1; i > 0; i--) {
    const j = prng.int(0, i)
    ;[rank[i], rank[j]] = [rank[j]!, rank[i]!]
  }
  for (let i = 0; i < ids.length; i++) {
    for (let j = 0; j < ids.length; j++) {
      if (rank[j]! < rank[i]! && dependencies[i]!.length < dependenciesMax && prng.chance(rate)) dependencies[i]!.push(ids[j]!)
    }
    if (prng.chance(0.5)) keys[i] = "blocked_by"
  }
  if (cycle) {
    // The first task that depends on another is made a dependency of it; none does: one on itself.
    const from = dependencies.findIndex((d) => d.length > 0)
    const at = from < 0 ? prng.int(0, ids.length - 1) : ids.indexOf(dependencies[from]![0]!)
    dependencies[at]!.push(ids[from < 0 ? at : from]!)
  }
  if (unknown) dependencies[prng.int(0, ids.length - 1)]!.push(unknownDependency)
  return { dependencies, keys }
}
