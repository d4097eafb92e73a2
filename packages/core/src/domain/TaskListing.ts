/**
 * The task queue folder by folder (SPEC F2: `oompa tasks --json`): the tasks of each folder, the
 * files `invalid/` holds with why they were set aside, and the pending tasks that wait for others
 * (issue 18) with what they wait for. A Schema, so a program reading the listing decodes exactly
 * what the CLI prints.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { dependenciesOf, Task } from "./Task.ts"

/**
 * A file of `invalid/`: a task file that did not decode, kept with the reason and its original text
 * so nothing a planner or a person wrote is lost.
 *
 * @category models
 * @since 0.1.0
 */
export const InvalidEntry = Schema.Struct({
  /** Its name in `invalid/`. */
  file: Schema.String,
  /** Its original name. */
  name: Schema.String,
  /** The folder or outbox it came from. */
  from: Schema.optionalKey(Schema.String),
  invalid_reason: Schema.String,
  /** The original text. */
  content: Schema.String
})
export type InvalidEntry = typeof InvalidEntry.Type

/**
 * A pending task that waits: each of its dependencies not in `complete/` yet, with the folder it is
 * in (`unknown`: no folder has it, and the task will go to `invalid/`).
 *
 * @category models
 * @since 0.1.0
 */
export const BlockedTask = Schema.Struct({
  id: Schema.String,
  waiting_for: Schema.Array(Schema.Struct({
    id: Schema.String,
    status: Schema.Literals(["pending", "current", "failed", "unknown"])
  }))
})
export type BlockedTask = typeof BlockedTask.Type

/**
 * Every folder of the queue, each in claim order (priority, then id).
 *
 * @category models
 * @since 0.1.0
 */
export const TaskListing = Schema.Struct({
  pending: Schema.Array(Task),
  current: Schema.Array(Task),
  complete: Schema.Array(Task),
  failed: Schema.Array(Task),
  invalid: Schema.Array(InvalidEntry),
  /** The pending tasks that wait for others, in claim order. */
  blocked: Schema.Array(BlockedTask)
})
export type TaskListing = typeof TaskListing.Type

/**
 * The pending tasks that wait for others, and what each waits for, from the folders' tasks.
 *
 * @category constructors
 * @since 0.1.0
 */
export const blockedTasks = (folders: {
  readonly [S in "pending" | "current" | "complete" | "failed"]: ReadonlyArray<Task>
}): ReadonlyArray<BlockedTask> => {
  const statusOf = new Map<string, BlockedTask["waiting_for"][number]["status"] | "complete">()
  // Set in this order, so an id in two folders (by hand) counts where a claim counts it: complete/,
  // else current/, else pending/.
  for (const status of ["failed", "pending", "current", "complete"] as const) for (const task of folders[status]) statusOf.set(task.id, status)
  return folders.pending.flatMap((task) => {
    const waitingFor = dependenciesOf(task).flatMap((id) => {
      const status = statusOf.get(id) ?? "unknown"
      return status === "complete" ? [] : [{ id, status }]
    })
    return waitingFor.length === 0 ? [] : [{ id: task.id, waiting_for: waitingFor }]
  })
}
