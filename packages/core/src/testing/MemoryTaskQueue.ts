/**
 * An in-memory task queue with the folder semantics of SPEC F2, for tests and simulation.
 *
 * The driver (`MemoryTaskQueueState`) exposes every folder and a log of moves, so checkers can
 * assert that no task is held twice or sits in two folders. Claims are atomic because each
 * operation runs as one synchronous step. A claim takes the first ready task (each dependency in
 * `complete/`), which `ReadyTasks` keeps apart from the blocked ones as the folders change.
 * Faults a simulation may inject later: none yet.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Option, Schema } from "effect"
import { ReadyTasks } from "../domain/ReadyTasks.ts"
import { claimOrder, Task, type TaskStatus } from "../domain/Task.ts"
import { judge, type Settled } from "../domain/TaskDependencies.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import { assert } from "../internal/assert.ts"

/**
 * A task file that could not be read, kept with its reason.
 *
 * @category models
 * @since 0.1.0
 */
export interface InvalidEntry {
  readonly name: string
  readonly content: string
  readonly reason: string
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Move {
  readonly task: string
  readonly from: TaskStatus | undefined
  readonly to: TaskStatus
}

const statuses: ReadonlyArray<TaskStatus> = ["pending", "current", "complete", "failed", "invalid"]

/**
 * The queue's state, inspectable by tests and checkers.
 *
 * @category models
 * @since 0.1.0
 */
export class MemoryTaskQueueState {
  readonly folders: Readonly<Record<TaskStatus, ReadonlyMap<string, Task>>> = {
    pending: new Map(),
    current: new Map(),
    complete: new Map(),
    failed: new Map(),
    invalid: new Map()
  }
  /**
   * Each folder's tasks in claim order, once listed: kept up to date by each change (a new array
   * every time, so a list handed out never changes), since prompts list the folders constantly.
   */
  private readonly sorted: Partial<Record<TaskStatus, ReadonlyArray<Task>>> = {}
  readonly invalidEntries: Array<InvalidEntry> = []
  readonly moves: Array<Move> = []
  /** The pending tasks a claim may take, apart from those waiting for a dependency. */
  readonly readiness: ReadyTasks<Task> = new ReadyTasks({
    keyOf: (task) => task.id,
    taskOf: (task) => task,
    order: claimOrder,
    isComplete: (id) => this.folders.complete.has(id)
  })

  static make(tasks: ReadonlyArray<Task> = []): MemoryTaskQueueState {
    const state = new MemoryTaskQueueState()
    for (const task of tasks) state.add(task)
    return state
  }

  /** The folder holding `id`, if any. */
  statusOf(id: string): TaskStatus | undefined {
    return statuses.find((s) => this.folders[s].has(id))
  }

  add(task: Task): boolean {
    if (this.statusOf(task.id) !== undefined) return false
    this.folder("pending").set(task.id, task)
    this.inserted("pending", task)
    this.readiness.put(task)
    this.readiness.changed(task.id)
    this.moves.push({ task: task.id, from: undefined, to: "pending" })
    return true
  }

  move(id: string, from: TaskStatus, to: TaskStatus, update: (task: Task) => Task = (t) => t): Task {
    const task = this.folders[from].get(id)
    assert(task !== undefined, () => `task ${id} is not in ${from}/ (it is in ${this.statusOf(id) ?? "no folder"})`)
    this.folder(from).delete(id)
    this.removed(from, id)
    const next = update(task)
    this.folder(to).set(id, next)
    this.inserted(to, next)
    if (from === "pending") this.readiness.remove(id)
    if (to === "pending") this.readiness.put(next)
    this.readiness.changed(id)
    this.moves.push({ task: id, from, to })
    assert(statuses.every((s) => s === to || !this.folders[s].has(id)), () => `task ${id} sits in more than one folder`)
    return next
  }

  /**
   * Moves the pending tasks that can never be claimed on (`TaskDependencies.judge`): to `failed/`
   * with the reason as their last feedback, or out of the queue into an `invalid/` record with their
   * text, as the folder queue records them.
   */
  settleBlocked(): ReadonlyArray<Settled> {
    if (!this.readiness.hasSuspects) return []
    const inFolder = (id: string) => {
      const status = this.statusOf(id)
      return status === "invalid" ? undefined : status
    }
    const settled = judge(this.readiness.takeSuspects(), this.readiness.graph(inFolder))
    for (const { id, reason, to } of settled) {
      if (to === "failed") {
        this.move(id, "pending", "failed", (task) => ({ ...task, last_feedback: reason }))
        continue
      }
      const task = this.folders.pending.get(id)!
      this.folder("pending").delete(id)
      this.removed("pending", id)
      this.readiness.remove(id)
      this.readiness.changed(id)
      this.invalidEntries.push({ name: `${id}.json`, content: taskFileText(task), reason: `${id}.json: ${reason}` })
      this.moves.push({ task: id, from: "pending", to: "invalid" })
    }
    return settled
  }

  list(status: TaskStatus): ReadonlyArray<Task> {
    return this.sorted[status] ??= Object.freeze([...this.folders[status].values()].sort(claimOrder))
  }

  private folder(status: TaskStatus): Map<string, Task> {
    return this.folders[status] as Map<string, Task>
  }

  private removed(status: TaskStatus, id: string): void {
    const list = this.sorted[status]
    if (list === undefined) return
    const at = list.findIndex((t) => t.id === id)
    if (at < 0) return
    const next = list.slice(0, at)
    for (let i = at + 1; i < list.length; i++) next.push(list[i]!)
    this.sorted[status] = Object.freeze(next)
  }

  private inserted(status: TaskStatus, task: Task): void {
    const list = this.sorted[status]
    if (list === undefined) return
    let low = 0
    let high = list.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (claimOrder(list[mid]!, task) <= 0) low = mid + 1
      else high = mid
    }
    const next = list.slice(0, low)
    next.push(task)
    for (let i = low; i < list.length; i++) next.push(list[i]!)
    this.sorted[status] = Object.freeze(next)
  }
}

const encodeTask = Schema.encodeSync(Task)

/** A task's file as the folder queue writes it, for the `invalid/` record of a task set aside. */
const taskFileText = (task: Task): string => `${JSON.stringify(encodeTask(task), null, 2)}\n`

/**
 * The `TaskQueue` service over a state.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (state: MemoryTaskQueueState): TaskQueue["Service"] =>
  TaskQueue.of({
    list: (status) => Effect.sync(() => state.list(status)),
    claim: Effect.sync(() => {
      const next = state.readiness.live[0]
      if (next === undefined) return Option.none()
      return Option.some(state.move(next.id, "pending", "current"))
    }),
    ready: Effect.sync(() => state.readiness.ready),
    settleBlocked: Effect.sync(() => state.settleBlocked()),
    complete: (id, mergedSha) => Effect.sync(() => void state.move(id, "current", "complete", (t) => ({ ...t, merged_sha: mergedSha }))),
    release: (id, options) =>
      Effect.sync(() => {
        const task = state.folders.current.get(id)
        assert(task !== undefined, `release of ${id}, which is not in current/`)
        const attempts = (task.attempts ?? 0) + (options.countAttempt ? 1 : 0)
        const to = options.countAttempt && attempts >= options.maxAttempts ? "failed" : "pending"
        state.move(id, "current", to, (t) => ({ ...t, attempts, ...(options.feedback === "" ? {} : { last_feedback: options.feedback }) }))
        return to
      }),
    create: (task) => Effect.sync(() => state.add(task)),
    invalid: (name, content, reason) => Effect.sync(() => void state.invalidEntries.push({ name, content, reason }))
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (state: MemoryTaskQueueState): Layer.Layer<TaskQueue> => Layer.succeed(TaskQueue, make(state))
