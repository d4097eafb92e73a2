/**
 * `oompa run` (SPEC F10): a fixed task list, each task through the iteration, then exit.
 *
 * The tasks are added to `pending/` (ids already known to the queue are left as they are), and the
 * configured workers run as executors until nothing is left to claim. Each worker gets enough
 * iterations for every task to use all its attempts, so the list — not the iteration count — ends
 * the run.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { SwarmConfig } from "../domain/SwarmConfig.ts"
import type { Task } from "../domain/Task.ts"
import { EventSink } from "../services/EventSink.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import * as Swarm from "./Swarm.ts"

/**
 * Runs `tasks` through the swarm's workers.
 *
 * @category programs
 * @since 0.1.0
 */
export const run = (config: SwarmConfig, tasks: ReadonlyArray<Task>, options: Omit<Swarm.SwarmOptions, "mode">) =>
  Effect.gen(function*() {
    const queue = yield* TaskQueue
    const sink = yield* EventSink
    for (const task of tasks) {
      if (yield* queue.create(task)) {
        yield* sink.emit({ _tag: "TaskMoved", at: yield* Clock.currentTimeMillis, task: task.id, to: "pending", reason: "task list" })
      }
    }
    const pending = (yield* queue.list("pending")).length
    const iterations = Math.max(1, pending * config.max_task_attempts)
    // A fixed list has no planner: executors only, so they stop when the list is done.
    const { planner: _planner, ...withoutPlanner } = config
    const executors: SwarmConfig = {
      ...withoutPlanner,
      workers: config.workers.map((w) => ({ ...w, role: "executor", iterations: Math.max(w.iterations, iterations) }))
    }
    return yield* Swarm.run(executors, { ...options, mode: "run" })
  })
