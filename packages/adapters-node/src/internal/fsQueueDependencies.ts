/**
 * Task dependencies in the filesystem task queue (issue 18): which pending tasks are ready, and the
 * moves of those that never can be — to `failed/` after a failed dependency, to `invalid/` for an
 * unknown one or a cycle (`TaskDependencies.judge` of `@oompa/core` decides, over the index).
 *
 * A blocked task is moved the way a claim takes a task: first renamed into `current/` (the checked
 * rename: no other claimer can hold it meanwhile), then moved on like a held task — to `failed/`
 * rewritten with the reason as its last feedback, or to `invalid/` as a record with its text.
 *
 * Internal: used by `FsTaskQueue`. Every function here expects the queue's lock.
 *
 * @since 0.1.0
 */
// `Errors` is what the declarations of the effects exported here name their failures by.
import { type Errors, type Task as TaskModule, TaskDependencies } from "@oompa/core"
import { Effect } from "effect"
import * as Atomic from "./fsAtomic.ts"
import * as Index from "./fsQueueIndex.ts"
import { moveToInvalid } from "./fsQueueInvalid.ts"
import { type Env, filePath, type IndexedStatus, type QueueIndex } from "./fsQueueLayout.ts"
import { readTask } from "./fsQueueListing.ts"
import { moveHeld } from "./fsQueueMoves.ts"
import * as Files from "./fsTaskFiles.ts"

type Task = TaskModule.Task

/** Where a task's id counts, when (by hand) two folders have it: where a claim counts it. */
const judgedIn: ReadonlyArray<IndexedStatus> = ["complete", "current", "pending", "failed"]

/** The folder of task `id` as the index has it. */
const statusOf = (index: QueueIndex) => (id: string): TaskModule.TaskStatus | undefined =>
  judgedIn.find((status) => Index.hasTask(index.folders[status], id))

/**
 * The pending tasks a claim may take now, in claim order: `complete/` and `pending/` brought up to
 * date first.
 */
export const readyTasks = Effect.fnUntraced(function*(env: Env) {
  const index = yield* Index.indexOf(env)
  yield* Index.sync(env, "complete")
  yield* Index.sync(env, "pending")
  return index.readiness.ready.map((entry): Task => entry.task)
})

/**
 * Moves pending task `settled.id` where the judgement sends it; `false` when it was not there to
 * move (claimed meanwhile, or its file broken, which reading it sends to `invalid/`).
 */
const moveBlocked = Effect.fnUntraced(function*(env: Env, settled: TaskDependencies.Settled) {
  const pending = yield* Index.folderOf(env, "pending")
  const name = [Files.fileNameOf(settled.id), Files.fileNameOf(settled.id, "edn")].find((n) => pending.entries.has(n))
  if (name === undefined) return false
  const moved = yield* Index.changing(
    env,
    ["pending", "current", "failed"],
    [name, Files.fileNameOf(settled.id)],
    Effect.gen(function*() {
      if (!(yield* Atomic.renameIfPresent(env.fs, filePath(env, "pending", name), filePath(env, "current", name)))) return false
      if (settled.to === "failed") {
        yield* moveHeld(env, "settleBlocked", settled.id, {
          next: (held) => ({ task: { ...held.task, last_feedback: settled.reason }, to: "failed" as const }),
          // Only by hand: a pending file whose id has a record is refused when it is read.
          takenReason: (_held, by) => `${settled.reason}, but ${by} already holds a task with this id; that record was kept as it is, and this one is recorded here`
        })
        return true
      }
      const held = yield* readTask(env, "current", settled.id, "pending")
      if (held === undefined) return false
      yield* moveToInvalid(env, "current", { name: held.name, content: held.content, reason: `${held.name}: ${settled.reason}`, from: "pending" })
      return true
    })
  )
  Index.forgetEntry(env, pending, name)
  return moved
})

/**
 * The judgement of the pending tasks that changed, or whose dependencies did, since the last call
 * (every folder brought up to date first), and the moves it calls for; returns the moves made.
 */
export const settleBlocked = Effect.fnUntraced(function*(env: Env) {
  const index = yield* Index.indexOf(env)
  for (const status of judgedIn) yield* Index.sync(env, status)
  if (!index.readiness.hasSuspects) return []
  const settled = TaskDependencies.judge(index.readiness.takeSuspects(), index.readiness.graph(statusOf(index)))
  const moved: Array<TaskDependencies.Settled> = []
  for (const each of settled) if (yield* moveBlocked(env, each)) moved.push(each)
  return moved as ReadonlyArray<TaskDependencies.Settled>
})
