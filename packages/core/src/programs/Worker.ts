/**
 * One worker (SPEC F1, F5): its workspace for the whole run, then iterations until one of its stop
 * reasons — iterations used up, `__DONE__`, three errors in a row, nothing left to claim, a budget.
 *
 * An executor with nothing to claim waits (at most `max_wait_for_tasks`) only while a planner or a
 * planning worker of this run is still alive, or while a pending task waits for a task another
 * worker holds; a wait is not an iteration. The workspace is released
 * when the worker ends, however it ends.
 *
 * Needs the services of `Iteration`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Ref } from "effect"
import type { WorkerStopReason } from "../domain/Event.ts"
import type { WorkerConfig } from "../domain/SwarmConfig.ts"
import { emitNow, EventSink } from "../services/EventSink.ts"
import * as WorktreeEnvironment from "../domain/WorktreeEnvironment.ts"
import { CommandRunner } from "../services/CommandRunner.ts"
import { Git, type Workspace } from "../services/Git.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import { BudgetTracker } from "./BudgetTracker.ts"
import * as Iteration from "./Iteration.ts"
import { MergeQueue } from "./MergeQueue.ts"
import { CurrentRun, CurrentWorker, RunState, type SetupDone } from "./RunServices.ts"

/** Errors in a row that stop a worker (SPEC F5). */
export const consecutiveErrorsMax = 3

/**
 * How soon a waiting executor first looks for new tasks again; later looks back off to
 * {@link taskPollMsMax}. Waiting is common (executors wait on a planner for most of a swarm's second
 * half): at a fixed 1 s, the simulation's bench swarm polled 1,888 times a seed, ~6% of its time.
 */
export const taskPollMs = 1000

/** The longest gap between two looks of a waiting executor: a new task waits at most this long. */
export const taskPollMsMax = 4000

/**
 * @category models
 * @since 0.1.0
 */
export interface WorkerReport {
  readonly worker: string
  readonly reason: WorkerStopReason
  readonly iterations: ReadonlyArray<Iteration.IterationReport>
}

/**
 * How many planners and planning workers are still running: executors wait for tasks only while
 * this is above zero.
 *
 * @category models
 * @since 0.1.0
 */
export type Planners = Ref.Ref<number>

/** Whether the role may create work for executors. */
export const plans = (worker: WorkerConfig): boolean => worker.role !== "executor"

/**
 * Runs the worker to its end.
 *
 * @category programs
 * @since 0.1.0
 */
export const run = Effect.fnUntraced(
  function*(worker: WorkerConfig, planners: Planners) {
    const git = yield* Git
    const sink = yield* EventSink
    const run = yield* CurrentRun
    // The planner count drops when this worker ends, however it ends, so no executor waits for a dead planner.
    if (plans(worker)) yield* Effect.addFinalizer(() => Ref.update(planners, (n) => n - 1))
    const environmentOf = (workspace: Workspace): WorktreeEnvironment.WorkerEnvironment => ({
      runId: run.runId,
      worker: worker.id,
      worktree: workspace.path,
      repo: run.repo,
      // Its place in the configuration: the same for the whole run, and no other worker's.
      firstPort: WorktreeEnvironment.firstPort(run.ports, Math.max(0, run.config.workers.findIndex((w) => w.id === worker.id))),
      ports: run.ports.perWorker
    })
    const workspace = yield* Effect.acquireRelease(
      git.acquireWorkspace(worker.id),
      (ws) => run.keepBranches ? Effect.void : Effect.andThen(teardown(ws, environmentOf(ws)), Effect.ignore(git.removeWorkspace(ws)))
    )
    const environment = environmentOf(workspace)
    yield* sink.emit({ _tag: "WorkerStarted", at: yield* Clock.currentTimeMillis, worker: worker.id, role: worker.role, iterations: worker.iterations })
    const reports: Array<Iteration.IterationReport> = []
    const reason = yield* loop(worker, planners, reports).pipe(Effect.provideService(CurrentWorker, { worker, workspace, environment, setup: yield* Ref.make<SetupDone | undefined>(undefined) }))
    yield* sink.emit({ _tag: "WorkerFinished", at: yield* Clock.currentTimeMillis, worker: worker.id, reason, iterations: reports.length })
    return { worker: worker.id, reason, iterations: reports } satisfies WorkerReport
  },
  (effect, worker) =>
    effect.pipe(
      Effect.onInterrupt(() => emitNow((at) => ({ _tag: "WorkerFinished", at, worker: worker.id, reason: "interrupted", iterations: 0 })))
    ),
  Effect.scoped
)

const loop = Effect.fnUntraced(function*(worker: WorkerConfig, planners: Planners, reports: Array<Iteration.IterationReport>) {
  const budget = yield* BudgetTracker
  const mergeQueue = yield* MergeQueue
  const state = yield* RunState
  let errorsInRow = 0
  let n = 0
  while (n < worker.iterations) {
    const spent = yield* budget.check(worker.id, worker.budget)
    if (spent._tag === "Some") return "budget" as const
    // Main moved outside the merge queue: nothing more can land in this run.
    if (Option.isSome(yield* mergeQueue.halted)) return "main-moved" as const
    // An agent of this run cannot run at all: nothing new starts.
    if (Option.isSome(yield* Ref.get(state.unavailable))) return "unavailable" as const
    const result = yield* Iteration.run(n + 1)
    if ("_tag" in result) {
      const waited = yield* waitForTasks(worker, planners)
      if (!waited) return "no-tasks" as const
      continue
    }
    n++
    reports.push(result)
    if (result.outcome === "budget") return "budget" as const
    if (result.outcome === "main-moved") return "main-moved" as const
    if (result.outcome === "unavailable") return "unavailable" as const
    if (result.setupFailed === true) return "setup-failed" as const
    errorsInRow = result.outcome === "error" ? errorsInRow + 1 : 0
    if (errorsInRow >= consecutiveErrorsMax) return "errors" as const
    if (result.done) return "done" as const
    if (worker.wait_between > 0 && n < worker.iterations) yield* Effect.sleep(worker.wait_between * 1000)
  }
  return "iterations" as const
})

/**
 * Runs `teardown_command` in the worktree before it is removed, within `timeouts.teardown`. Part of
 * the workspace's release, so it runs however the worker ends (Ctrl-C included); a failure or a
 * timeout is logged as a warning and the worktree is removed all the same.
 */
const teardown = (workspace: Workspace, environment: WorktreeEnvironment.WorkerEnvironment) =>
  Effect.gen(function*() {
    const { config } = yield* CurrentRun
    if (config.teardown_command === undefined) return
    const runner = yield* CommandRunner
    const timeoutMs = config.timeouts.teardown * 1000
    const result = yield* runner.inWorkspace(workspace.path, config.teardown_command, timeoutMs, WorktreeEnvironment.variables(environment)).pipe(
      Effect.timeoutOrElse({
        duration: timeoutMs,
        orElse: () => Effect.succeed({ passed: false, output: `timed out after ${timeoutMs / 1000} s`, durationMs: timeoutMs, timedOut: true })
      }),
      Effect.catch((error) => Effect.succeed({ passed: false, output: error.message, durationMs: 0, timedOut: false }))
    )
    if (result.passed) return
    yield* emitNow((at) => ({
      _tag: "Warning",
      at,
      message: `${environment.worker}: teardown_command ${result.timedOut ? "timed out" : "failed"} in ${workspace.path}:\n${result.output.trimEnd().split("\n").slice(-20).join("\n")}`
    }))
  })

/**
 * Waits until a task is ready to claim; `false` when nothing can make one ready — no planner is
 * alive, and no pending task waits for one held in `current/` (when nothing is ready, every pending
 * task waits, in the end, for a held one) — or `max_wait_for_tasks` passed.
 * Looks `taskPollMs` after the first look, then twice as long each time up to `taskPollMsMax`, and
 * never past `max_wait_for_tasks` (the last look comes when it ends). A poll, not a retry: written
 * as a loop because executors poll thousands of times a simulated seed, and the same waits as a
 * `Schedule` repeat cost 3-4% of the simulation's throughput (docs/decisions.md).
 */
const waitForTasks = Effect.fnUntraced(function*(worker: WorkerConfig, planners: Planners) {
  const queue = yield* TaskQueue
  const budget = yield* BudgetTracker
  const { config } = yield* CurrentRun
  const startedMs = yield* Clock.currentTimeMillis
  const waitMs = config.max_wait_for_tasks * 1000
  let delay = taskPollMs
  for (;;) {
    if ((yield* queue.ready.pipe(Effect.orDie)).length > 0) return true
    const held = (yield* queue.list("current").pipe(Effect.orDie)).length > 0 && (yield* queue.list("pending").pipe(Effect.orDie)).length > 0
    if ((yield* Ref.get(planners)) <= 0 && !held) return false
    const waitedMs = (yield* Clock.currentTimeMillis) - startedMs
    if (waitedMs >= waitMs) return false
    const spent = yield* budget.check(worker.id, worker.budget)
    if (spent._tag === "Some") return false
    yield* Effect.sleep(Math.min(delay, waitMs - waitedMs))
    delay = Math.min(delay * 2, taskPollMsMax)
  }
})
