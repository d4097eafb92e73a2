/**
 * Which pending tasks a claim may take (issue 18), kept up to date change by change so that a claim
 * takes the first ready task without looking at the blocked ones: claiming stays O(1) in the number
 * of pending tasks, however many of them wait.
 *
 * Each queue implementation (`MemoryTaskQueue`, `@oompa/adapters-node`'s `FsTaskQueue`) creates one
 * for itself and tells it every change of its folders: a pending task put or removed, a task that
 * entered or left any folder (`changed`: the pending tasks naming it look again). It answers with
 * the ready tasks in claim order, what blocks a task, and which pending tasks to judge since the
 * last time (`TaskDependencies.judge`: a new task, or one whose dependency moved).
 *
 * **Gotchas**
 * - A value, mutated by every call; each queue keeps its own, and a change it is not told of is not
 *   seen. The queue's folders stay the truth: `FsTaskQueue` checks a claimed task's dependencies
 *   again on disk.
 *
 * @since 0.1.0
 */
import { dependenciesOf, type Task, type TaskStatus } from "./Task.ts"
import type { Graph, Suspects } from "./TaskDependencies.ts"

/**
 * How a queue's entries are read.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReadyTasksOptions<E> {
  /** The entry's key, unique among pending entries (a task id, a file name). */
  readonly keyOf: (entry: E) => string
  readonly taskOf: (entry: E) => Task
  /** Claim order: a total order on entries. */
  readonly order: (a: E, b: E) => number
  /** Whether `complete/` holds task `id` now. */
  readonly isComplete: (id: string) => boolean
}

/** One pending entry, and its dependencies not yet in `complete/` (none: it is ready). */
interface Tracked<E> {
  readonly entry: E
  readonly id: string
  readonly dependencies: ReadonlyArray<string>
  readonly unmet: Set<string>
}

/** Entries put at once beyond which the ready order is sorted anew rather than inserted into. */
const insertsMax = 64

/**
 * The ready and blocked pending tasks of one queue.
 *
 * @category models
 * @since 0.1.0
 */
export class ReadyTasks<E> {
  private readonly options: ReadyTasksOptions<E>
  private readonly tracked = new Map<string, Tracked<E>>()
  private readonly keysById = new Map<string, string>()
  /** For each task id, the keys of the pending entries that name it as a dependency. */
  private readonly waiting = new Map<string, Set<string>>()
  private ordered: Array<E> = []
  private listed: ReadonlyArray<E> | undefined
  private readonly fresh = new Set<string>()
  private readonly touched = new Set<string>()

  constructor(options: ReadyTasksOptions<E>) {
    this.options = options
  }

  /**
   * The ready entries in claim order, as a live array that every change alters: read it at once,
   * never keep it (`ready` is the snapshot to hand out).
   */
  get live(): ReadonlyArray<E> {
    return this.ordered
  }

  /** The ready entries in claim order: the same frozen array while nothing changes. */
  get ready(): ReadonlyArray<E> {
    return this.listed ??= Object.freeze([...this.ordered])
  }

  /** Whether there are pending tasks to judge (`takeSuspects`). */
  get hasSuspects(): boolean {
    return this.fresh.size + this.touched.size > 0
  }

  /** A pending entry, new or read again (one of the same key is replaced). */
  put(entry: E): void {
    this.track(entry)
    const tracked = this.tracked.get(this.options.keyOf(entry))!
    if (tracked.unmet.size === 0) this.insert(entry)
  }

  /** Many pending entries at once (a folder's first listing): sorted once, not inserted one by one. */
  putAll(entries: ReadonlyArray<E>): void {
    if (entries.length <= insertsMax) return entries.forEach((entry) => this.put(entry))
    for (const entry of entries) this.track(entry)
    this.ordered = [...this.tracked.values()].flatMap((t) => t.unmet.size === 0 ? [t.entry] : []).sort(this.options.order)
    this.listed = undefined
  }

  /** A pending entry is gone (claimed, moved, deleted). */
  remove(key: string): void {
    const tracked = this.tracked.get(key)
    if (tracked === undefined) return
    this.tracked.delete(key)
    if (this.keysById.get(tracked.id) === key) this.keysById.delete(tracked.id)
    for (const id of tracked.dependencies) {
      const keys = this.waiting.get(id)
      keys?.delete(key)
      if (keys?.size === 0) this.waiting.delete(id)
    }
    if (tracked.unmet.size === 0) this.withdraw(tracked.entry)
    this.fresh.delete(key)
    this.touched.delete(key)
  }

  /** Task `id` entered or left a folder: each pending entry naming it looks again at whether it is met. */
  changed(id: string): void {
    const keys = this.waiting.get(id)
    if (keys === undefined) return
    const complete = this.options.isComplete(id)
    for (const key of keys) {
      const tracked = this.tracked.get(key)!
      const wasReady = tracked.unmet.size === 0
      if (complete) tracked.unmet.delete(id)
      else tracked.unmet.add(id)
      if (wasReady && tracked.unmet.size > 0) this.withdraw(tracked.entry)
      if (!wasReady && tracked.unmet.size === 0) this.insert(tracked.entry)
      this.touched.add(key)
    }
  }

  /** The dependencies of pending entry `key` not in `complete/`, in the order written (none: ready). */
  unmetOf(key: string): ReadonlyArray<string> {
    const tracked = this.tracked.get(key)
    return tracked === undefined ? [] : tracked.dependencies.filter((id) => tracked.unmet.has(id))
  }

  /**
   * The pending tasks to judge since the last call, by id; forgotten once taken. Sorted, as
   * `graph`'s dependents are, so the judgement's moves come in an order of the folders alone, not of
   * the order the queue happened to learn of them.
   */
  takeSuspects(): Suspects {
    const idsOf = (keys: Set<string>) => [...keys].flatMap((key) => this.tracked.has(key) ? [this.tracked.get(key)!.id] : []).sort()
    const suspects = { fresh: idsOf(this.fresh), touched: idsOf(this.touched) }
    this.fresh.clear()
    this.touched.clear()
    return suspects
  }

  /** The graph `TaskDependencies.judge` reads: these pending entries, in the folders `statusOf` names. */
  graph(statusOf: (id: string) => TaskStatus | undefined): Graph {
    return {
      statusOf,
      dependenciesOf: (id) => {
        const key = this.keysById.get(id)
        return key === undefined ? [] : this.tracked.get(key)!.dependencies
      },
      dependentsOf: (id) => [...(this.waiting.get(id) ?? [])].map((key) => this.tracked.get(key)!.id).sort()
    }
  }

  /** Records an entry (replacing one of its key), without placing it in the ready order. */
  private track(entry: E): void {
    const key = this.options.keyOf(entry)
    this.remove(key)
    const task = this.options.taskOf(entry)
    const dependencies = dependenciesOf(task)
    this.tracked.set(key, { entry, id: task.id, dependencies, unmet: new Set(dependencies.filter((id) => !this.options.isComplete(id))) })
    this.keysById.set(task.id, key)
    for (const id of dependencies) {
      const keys = this.waiting.get(id)
      if (keys === undefined) this.waiting.set(id, new Set([key]))
      else keys.add(key)
    }
    // Only a task with dependencies can wait for what will never come.
    if (dependencies.length > 0) this.fresh.add(key)
  }

  /** Where `entry` goes in the ready order (the first position not before it). */
  private positionOf(entry: E): number {
    let low = 0
    let high = this.ordered.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.options.order(this.ordered[mid]!, entry) < 0) low = mid + 1
      else high = mid
    }
    return low
  }

  private insert(entry: E): void {
    this.ordered.splice(this.positionOf(entry), 0, entry)
    this.listed = undefined
  }

  private withdraw(entry: E): void {
    const at = this.positionOf(entry)
    const index = this.ordered[at] === entry ? at : this.ordered.indexOf(entry)
    if (index >= 0) this.ordered.splice(index, 1)
    this.listed = undefined
  }
}
