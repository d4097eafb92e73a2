/**
 * A unit of work in the task queue (SPEC F2), and the folders it moves through.
 *
 * The file is the task: what the framework records about it (attempts, last feedback, merge sha)
 * lives in the same JSON object, never in a sidecar file. A task may wait for others to be merged
 * first (`depends_on`, or `blocked_by`): `TaskDependencies` says what that means for the queue.
 *
 * @since 0.1.0
 */
import { Order, Schema } from "effect"
import { TaskId } from "./Ids.ts"

/**
 * The folders of `tasks/`, in the order a task normally visits them.
 *
 * @category models
 * @since 0.1.0
 */
export const TaskStatus = Schema.Literals(["pending", "current", "complete", "failed", "invalid"])
export type TaskStatus = typeof TaskStatus.Type

/**
 * @category models
 * @since 0.1.0
 */
export const Task = Schema.Struct({
  id: TaskId,
  summary: Schema.NonEmptyString,
  description: Schema.optionalKey(Schema.String),
  files: Schema.optionalKey(Schema.Array(Schema.String)),
  acceptance: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  /** Lower runs first; absent counts as 100. */
  priority: Schema.optionalKey(Schema.Int),
  /** Ids of the tasks that must be in `complete/` (merged) before this one is claimed. */
  depends_on: Schema.optionalKey(Schema.Array(TaskId)),
  /** The same, as Symphony names it: a task may use either key, or both (their union counts). */
  blocked_by: Schema.optionalKey(Schema.Array(TaskId)),
  // Recorded by the framework:
  attempts: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
  last_feedback: Schema.optionalKey(Schema.String),
  merged_sha: Schema.optionalKey(Schema.String),
  created_by: Schema.optionalKey(Schema.String)
})
export type Task = typeof Task.Type

/** @category constants @since 0.1.0 */
export const defaultPriority = 100

/**
 * The order workers claim pending tasks in (those whose dependencies are all complete): priority,
 * then id.
 *
 * @category ordering
 * @since 0.1.0
 */
export const claimOrder: Order.Order<Task> = (a, b) => {
  const byPriority = (a.priority ?? defaultPriority) - (b.priority ?? defaultPriority)
  if (byPriority !== 0) return byPriority < 0 ? -1 : 1
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * The ids a task waits for: its `depends_on` and `blocked_by`, each id once, in the order written.
 *
 * @category accessors
 * @since 0.1.0
 */
export const dependenciesOf = (task: Task): ReadonlyArray<string> => {
  const ids = task.blocked_by === undefined ? task.depends_on : [...(task.depends_on ?? []), ...task.blocked_by]
  if (ids === undefined) return noDependencies
  return ids.length < 2 ? ids : [...new Set(ids)]
}

const noDependencies: ReadonlyArray<string> = Object.freeze([])

/**
 * The acceptance criteria as text (one per line).
 *
 * @category formatting
 * @since 0.1.0
 */
export const acceptanceText = (task: Task): string =>
  task.acceptance === undefined ? "" : typeof task.acceptance === "string" ? task.acceptance : task.acceptance.map((a) => `- ${a}`).join("\n")
