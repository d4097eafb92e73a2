/**
 * A claimed task inside one iteration (SPEC F3, F5): claimed for the iteration's scope and always
 * settled — completed, returned, or failed as the iteration's outcome says, or, when the scope
 * closes first (interruption), returned — unless its merge already landed, in which case it is
 * complete: returned, it would be merged a second time.
 *
 * A claim takes only a ready task (each dependency merged); before it, and after a task fails, the
 * pending tasks that never can be are moved on (`settleBlocked`: to `failed/` after a failed
 * dependency, to `invalid/` for an unknown one or a cycle), each move in the run log.
 *
 * @since 0.1.0
 */
import { Effect, Option, Ref } from "effect"
import type { IterationOutcome } from "../domain/Event.ts"
import type { Task } from "../domain/Task.ts"
import { emitNow } from "../services/EventSink.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import * as Recovery from "./Recovery.ts"
import { CurrentRun, CurrentWorker, RunState } from "./RunServices.ts"

/**
 * A held task; `settled` once the iteration moved it, so the scope's finalizer leaves it alone.
 * `submitted` once its work went to the merge queue: from then on the merge may land before the
 * iteration hears of it, so an interrupted iteration looks at main before returning the task.
 *
 * @category models
 * @since 0.1.0
 */
export interface Claim {
  readonly task: Task
  settled: boolean
  submitted: boolean
}

/**
 * Moves on the pending tasks whose dependencies can never be met (see the module's doc), logging
 * each move as this worker's and counting those sent to `failed/` in `RunState`.
 *
 * @category programs
 * @since 0.1.0
 */
export const settleBlocked = Effect.fnUntraced(function*() {
  const queue = yield* TaskQueue
  const { worker } = yield* CurrentWorker
  const state = yield* RunState
  const settled = yield* queue.settleBlocked
  for (const { id, reason, to } of settled) {
    yield* emitNow((at) => ({ _tag: "TaskMoved", at, task: id, from: "pending", to, worker: worker.id, reason }))
  }
  const failed = settled.filter((s) => s.to === "failed").length
  if (failed > 0) yield* Ref.update(state.dependentsFailed, (n) => n + failed)
})

const claimNext = Effect.fnUntraced(function*(n: number) {
  const queue = yield* TaskQueue
  const { worker } = yield* CurrentWorker
  yield* settleBlocked()
  const claimed = yield* queue.claim
  if (Option.isNone(claimed)) return Option.none<Claim>()
  const task = claimed.value
  yield* emitNow((at) => ({ _tag: "TaskClaimed", at, worker: worker.id, iteration: n, task: task.id }))
  yield* emitNow((at) => ({ _tag: "TaskMoved", at, task: task.id, from: "pending", to: "current", worker: worker.id }))
  return Option.some<Claim>({ task, settled: false, submitted: false })
})

/**
 * Claims the next pending task for iteration `n`, for the current scope (see the module's doc).
 *
 * @category programs
 * @since 0.1.0
 */
export const acquire = (n: number) =>
  Effect.acquireRelease(
    claimNext(n),
    (claimed) => Option.isNone(claimed) || claimed.value.settled ? Effect.void : settleInterrupted(claimed.value).pipe(Effect.orDie)
  )

const settleInterrupted = Effect.fnUntraced(function*(claim: Claim) {
  const landed = claim.submitted ? yield* Recovery.findMerge(claim.task.id) : undefined
  if (landed === undefined) return yield* giveBack(claim.task, "the run was interrupted")
  const queue = yield* TaskQueue
  const { worker } = yield* CurrentWorker
  yield* queue.complete(claim.task.id, landed)
  yield* emitNow((at) => ({
    _tag: "TaskMoved",
    at,
    task: claim.task.id,
    from: "current",
    to: "complete",
    worker: worker.id,
    reason: `merged in ${landed} before the run was interrupted`
  }))
})

const giveBack = Effect.fnUntraced(function*(task: Task, reason: string) {
  const queue = yield* TaskQueue
  const { config } = yield* CurrentRun
  const { worker } = yield* CurrentWorker
  yield* queue.release(task.id, { feedback: task.last_feedback ?? "", countAttempt: false, maxAttempts: config.max_task_attempts })
  yield* emitNow((at) => ({ _tag: "TaskMoved", at, task: task.id, from: "current", to: "pending", worker: worker.id, reason }))
})

/** The first line of `text`. */
export const firstLine = (text: string): string => text.split("\n", 1)[0] ?? ""

/**
 * Moves the claimed task where the iteration's outcome sends it: `complete/` when it merged, else
 * back to `pending/` (or to `failed/` once its attempts are spent); returns where it went.
 *
 * @category programs
 * @since 0.1.0
 */
export const settle = Effect.fnUntraced(function*(claim: Claim, report: {
  readonly outcome: IterationOutcome
  readonly mergedSha?: string | undefined
  readonly detail?: string | undefined
}) {
  claim.settled = true
  const queue = yield* TaskQueue
  const { config } = yield* CurrentRun
  const { worker } = yield* CurrentWorker
  const task = claim.task
  if (report.outcome === "merged" && report.mergedSha !== undefined) {
    yield* queue.complete(task.id, report.mergedSha)
    yield* emitNow((at) => ({ _tag: "TaskMoved", at, task: task.id, from: "current", to: "complete", worker: worker.id }))
    return "complete" as const
  }
  // Attempts count what the work did, not what stopped the run around it.
  const countAttempt = report.outcome !== "budget" && report.outcome !== "dry-run" && report.outcome !== "main-moved" && report.outcome !== "unavailable"
  const feedback = report.detail ?? ""
  // A closed pull request is a person's decision, not an attempt to try again.
  const maxAttempts = report.outcome === "closed" ? 1 : config.max_task_attempts
  const to = yield* queue.release(task.id, { feedback, countAttempt, maxAttempts })
  yield* emitNow((at) => ({
    _tag: "TaskMoved",
    at,
    task: task.id,
    from: "current",
    to,
    worker: worker.id,
    reason: `${report.outcome}${feedback === "" ? "" : `: ${firstLine(feedback)}`}`
  }))
  // Its dependents fail with it now, not at the next claim (there may be none in this run).
  if (to === "failed") yield* settleBlocked()
  return to
})
