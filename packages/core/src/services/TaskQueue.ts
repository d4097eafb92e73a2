/**
 * The task queue boundary (SPEC F2): `tasks/{pending,current,complete,failed,invalid}/`.
 *
 * Implemented by `@oompa/adapters-node`'s `FsTaskQueue` (claims by checked rename) and by
 * `@oompa/core/testing`'s `MemoryTaskQueue`. Only the framework moves tasks; a claim either wins
 * outright or returns `None`, so two workers never hold one task.
 *
 * A task that depends on others (`depends_on`, `blocked_by`; see `TaskDependencies`) is claimed
 * only once each of them is in `complete/`; one that never can be is moved on by `settleBlocked`.
 * Both implementations keep the ready tasks apart (`ReadyTasks`), so a claim never looks at the
 * blocked ones.
 *
 * @since 0.1.0
 */
import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { Task, TaskStatus } from "../domain/Task.ts"
import type { Settled } from "../domain/TaskDependencies.ts"
import type { TaskQueueError } from "./Errors.ts"

/**
 * Where a released task went: back to `pending/`, or to `failed/` after `max_task_attempts`.
 *
 * @category models
 * @since 0.1.0
 */
export type ReleaseOutcome = "pending" | "failed"

/**
 * @category services
 * @since 0.1.0
 */
export class TaskQueue extends Context.Service<TaskQueue, {
  /** Tasks in one folder, in claim order. */
  readonly list: (status: TaskStatus) => Effect.Effect<ReadonlyArray<Task>, TaskQueueError>
  /**
   * Atomically moves the first ready pending task (each dependency in `complete/`) to `current/`;
   * `None` when none is ready.
   */
  readonly claim: Effect.Effect<Option.Option<Task>, TaskQueueError>
  /** The pending tasks a claim may take now (each dependency in `complete/`), in claim order. */
  readonly ready: Effect.Effect<ReadonlyArray<Task>, TaskQueueError>
  /**
   * Moves the pending tasks that can never be claimed out of `pending/`, and returns each move with
   * its reason (`TaskDependencies.judge`): to `failed/` when a dependency is in `failed/`, to
   * `invalid/` when a dependency names no task or the dependencies form a cycle. Looks only at what
   * changed since its last call: without dependencies in the queue it costs nothing.
   */
  readonly settleBlocked: Effect.Effect<ReadonlyArray<Settled>, TaskQueueError>
  /** Moves a held task to `complete/`, recording the merge sha. */
  readonly complete: (id: string, mergedSha: string) => Effect.Effect<void, TaskQueueError>
  /**
   * Returns a held task to `pending/` with the feedback. With `countAttempt`, the attempt counts
   * toward `maxAttempts`, and a task that reaches it goes to `failed/` instead.
   */
  readonly release: (id: string, options: {
    readonly feedback: string
    readonly countAttempt: boolean
    readonly maxAttempts: number
  }) => Effect.Effect<ReleaseOutcome, TaskQueueError>
  /** Adds a new task to `pending/`; `false` (and nothing written) when the id is already used in any folder. */
  readonly create: (task: Task) => Effect.Effect<boolean, TaskQueueError>
  /** Records a task file that could not be read, with the reason, in `invalid/`. */
  readonly invalid: (name: string, content: string, reason: string) => Effect.Effect<void, TaskQueueError>
}>()("@oompa/core/services/TaskQueue") {}
