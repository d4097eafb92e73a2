/**
 * The whole run (SPEC F1, F10, F15): the merge queue's fiber, the top-level planner first when one
 * is configured, then every worker as a fiber (at most `max_parallel` at once, planners first), and
 * a `SwarmReport` whose outcome maps onto the CLI's exit codes.
 *
 * Interruption (Ctrl-C, `oompa stop`) interrupts every worker: their scopes return claims and
 * release workspaces before this program ends; approved-but-unmerged branches are kept.
 *
 * Needs `Git`, `Agent`, `TaskQueue`, `EventSink`, `Prompts`, `CommandRunner`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Ref, Semaphore } from "effect"
import type { BudgetName } from "../domain/Budget.ts"
import { addTimings, type PhaseTimings, type SwarmOutcome, zeroTimings } from "../domain/Event.ts"
import { formatModelString } from "../domain/AgentSpec.ts"
import type { SwarmConfig, WorkerConfig } from "../domain/SwarmConfig.ts"
import type { Agent } from "../services/Agent.ts"
import type { CommandRunner } from "../services/CommandRunner.ts"
import { EventSink } from "../services/EventSink.ts"
import { Git } from "../services/Git.ts"
import type { Prompts } from "../services/Prompts.ts"
import type { TaskQueue } from "../services/TaskQueue.ts"
import { BudgetTracker } from "./BudgetTracker.ts"
import * as MergeQueue from "./MergeQueue.ts"
import * as RunServices from "./RunServices.ts"
import * as Worker from "./Worker.ts"

/**
 * Every service a swarm needs; `@oompa/core/testing`'s `TestSwarm.layer` and
 * `@oompa/adapters-node`'s `NodeServices.layer` each provide all of them.
 *
 * @category models
 * @since 0.1.0
 */
export type Services = Git | Agent | TaskQueue | EventSink | Prompts | CommandRunner

/**
 * @category models
 * @since 0.1.0
 */
export type SwarmOptions = RunServices.RunOptions

/**
 * Approved work that did not land; its branch is kept.
 *
 * @category models
 * @since 0.1.0
 */
export interface UnmergedWork {
  readonly worker: string
  readonly task?: string
  readonly branch: string
  readonly files: ReadonlyArray<string>
}

/**
 * What a run did, for the summary, `oompa status` and the exit code.
 *
 * @category models
 * @since 0.1.0
 */
export interface SwarmReport {
  readonly runId: string
  /** The branch merges landed on. */
  readonly branch: string
  readonly outcome: SwarmOutcome
  readonly durationMs: number
  readonly merged: number
  /** Iterations whose work was rejected or ran out of reviews. */
  readonly rejected: number
  /** Tasks that moved to `failed/` during the run. */
  readonly failed: number
  readonly unmerged: ReadonlyArray<UnmergedWork>
  readonly workers: ReadonlyArray<Worker.WorkerReport>
  readonly timings: PhaseTimings
  /** The run-level budget that ended the run, if one did. */
  readonly budget?: BudgetName
  readonly agentCalls: number
  readonly costUsd: number
  readonly tokens: { readonly input: number; readonly output: number }
  /** Harnesses some of whose calls had no cost: none reported, and no price to estimate one (SPEC F15). */
  readonly noCost: ReadonlyArray<string>
  /** Of `costUsd`, the dollars estimated from token counts with a price table rather than reported (issue 18). */
  readonly estimatedCostUsd: number
  /** The price tables those estimates came from (`@pydantic/genai-prices 0.1.8`, `oompa.json pricing`). */
  readonly priceTables: ReadonlyArray<string>
  /** The move of main outside the merge queue that stopped the run, if one did. */
  readonly mainMoved?: MergeQueue.ForeignMove
  /** Why an agent could not run at all, if that stopped the run (outcome `unavailable`). */
  readonly unavailable?: string
}

/**
 * SPEC F10's exit code for an outcome.
 *
 * @category conversions
 * @since 0.1.0
 */
export const exitCodeOf = (outcome: SwarmOutcome): 0 | 1 | 2 | 130 =>
  outcome === "ok" ? 0 : outcome === "failed" ? 1 : outcome === "unavailable" ? 2 : 130

const planner = (config: SwarmConfig): WorkerConfig | undefined =>
  config.planner === undefined ? undefined : {
    id: "planner" as WorkerConfig["id"],
    agent: config.planner.agent,
    role: "planner",
    iterations: 1,
    prompt: config.planner.prompt,
    wait_between: 0,
    budget: {}
  }

/** Planners first (SPEC F1), each group in file order. */
const startOrder = (workers: ReadonlyArray<WorkerConfig>): ReadonlyArray<WorkerConfig> => [
  ...workers.filter((w) => w.role === "planner"),
  ...workers.filter((w) => w.role !== "planner")
]

/**
 * Runs the swarm to its end.
 *
 * @category programs
 * @since 0.1.0
 */
export const run = Effect.fnUntraced(
  function*(config: SwarmConfig, options: SwarmOptions) {
    const git = yield* Git
    const sink = yield* EventSink
    const startedMs = yield* Clock.currentTimeMillis
    const base = yield* git.mainHead
    yield* sink.emit({
      _tag: "SwarmStarted",
      at: startedMs,
      runId: options.runId,
      branch: git.targetBranch,
      base,
      workers: config.workers.map((w) => ({ id: w.id, role: w.role, agent: formatModelString(w.agent), iterations: w.iterations })),
      review: config.review,
      dryRun: options.dryRun ?? false
    })
    if (!config.review) yield* sink.emit({ _tag: "Warning", at: startedMs, message: "review is off (\"review\": false): every change is auto-approved" })
    const reports = yield* runWorkers(config).pipe(
      Effect.onInterrupt(() =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          sink.emit({ _tag: "SwarmFinished", at, outcome: "interrupted", durationMs: at - startedMs, merged: 0, rejected: 0, failed: 0 })))
    )
    const report = yield* summarize(options.runId, reports, startedMs, git.targetBranch)
    yield* sink.emit({
      _tag: "SwarmFinished",
      at: startedMs + report.durationMs,
      outcome: report.outcome,
      durationMs: report.durationMs,
      merged: report.merged,
      rejected: report.rejected,
      failed: report.failed,
      ...(report.budget === undefined ? {} : { budget: report.budget })
    })
    return report
  },
  (effect, config, options) => Effect.provide(effect, RunServices.layer(config, options))
)

const runWorkers = Effect.fnUntraced(function*(config: SwarmConfig) {
  const workers = startOrder(config.workers)
  const first = planner(config)
  const planners = yield* Ref.make(workers.filter(Worker.plans).length + (first === undefined ? 0 : 1))
  const reports: Array<Worker.WorkerReport> = []
  if (first !== undefined) reports.push(yield* Worker.run(first, planners))
  const permits = yield* Semaphore.make(Math.max(1, config.max_parallel ?? workers.length))
  const rest = yield* Effect.forEach(workers, (worker) => permits.withPermits(1)(Worker.run(worker, planners)), {
    concurrency: "unbounded"
  })
  return [...reports, ...rest]
})

/**
 * Whether iterations ran and none of them succeeded (merged, or approved in a dry run): such a run
 * failed, whatever else it says (issue 15).
 *
 * @category predicates
 * @since 0.1.0
 */
export const noIterationSucceeded = (iterations: ReadonlyArray<{ readonly outcome: string }>): boolean =>
  iterations.length > 0 && !iterations.some((i) => i.outcome === "merged" || i.outcome === "dry-run")

const summarize = (runId: string, workers: ReadonlyArray<Worker.WorkerReport>, startedMs: number, branch: string) =>
  Effect.gen(function*() {
    const budgets = yield* BudgetTracker
    const mergeQueue = yield* MergeQueue.MergeQueue
    const state = yield* RunServices.RunState
    const iterations = workers.flatMap((w) => w.iterations.map((i) => ({ worker: w.worker, ...i })))
    const unmerged = iterations.flatMap((i) =>
      i.unmerged === undefined ? [] : [{ worker: i.worker, branch: i.unmerged.branch, files: i.unmerged.files, ...(i.task === undefined ? {} : { task: i.task }) }])
    // Tasks failed by their iterations, and those failed with a dependency of theirs.
    const failed = iterations.filter((i) => i.taskMovedTo === "failed").length + (yield* Ref.get(state.dependentsFailed))
    const stoppedOnErrors = workers.some((w) => w.reason === "errors")
    // A run whose every iteration failed did not do its job, whatever else it says (issue 15).
    const noneSucceeded = noIterationSucceeded(iterations)
    const totals = yield* budgets.totals
    const budget = yield* budgets.spent
    // A last look: a move after the last agent call's check is reported too.
    yield* mergeQueue.checkMain()
    const mainMoved = yield* mergeQueue.halted
    const unavailable = yield* Ref.get(state.unavailable)
    const finishedMs = yield* Clock.currentTimeMillis
    return {
      runId,
      branch,
      outcome: Option.isSome(unavailable)
        ? "unavailable"
        : failed > 0 || stoppedOnErrors || unmerged.length > 0 || Option.isSome(mainMoved) || noneSucceeded ? "failed" : "ok",
      durationMs: finishedMs - startedMs,
      merged: iterations.filter((i) => i.outcome === "merged").length,
      rejected: iterations.filter((i) => i.outcome === "rejected" || i.outcome === "exhausted").length,
      failed,
      unmerged,
      workers,
      timings: iterations.reduce((sum, i) => addTimings(sum, i.timings), zeroTimings),
      ...(Option.isSome(budget) ? { budget: budget.value } : {}),
      agentCalls: totals.calls,
      costUsd: totals.costUsd,
      tokens: totals.tokens,
      noCost: totals.noCost,
      estimatedCostUsd: totals.estimatedCostUsd,
      priceTables: totals.priceTables,
      ...(Option.isSome(mainMoved) ? { mainMoved: mainMoved.value } : {}),
      ...(Option.isSome(unavailable) ? { unavailable: unavailable.value } : {})
    } satisfies SwarmReport
  })
