/**
 * Task dependencies (issue 18): a task may name tasks that must be merged before it runs —
 * `"depends_on": ["a", …]`, or `"blocked_by"` as Symphony names it. What that means for the queue,
 * as pure functions every queue implementation shares:
 *
 * - A pending task is *ready* (a claim may take it) when each of its dependencies is in
 *   `complete/`; until then it is *blocked*, and waits.
 * - A blocked task that can never become ready does not wait forever (`judge`): when a dependency
 *   is in `failed/` it moves to `failed/` too, and so in turn do its own dependents; when a
 *   dependency names no task in `pending/`, `current/`, `complete/` or `failed/`, or the
 *   dependencies form a cycle, it moves to `invalid/`. Each move has a reason naming the
 *   dependency, or the cycle.
 * - Tasks created together (an agent's new-task files) may depend on each other and on tasks
 *   already queued: they are created dependencies first (`creationOrder`), so a claim running
 *   meanwhile never sees a task before a task of its batch that it names.
 *
 * Which tasks to judge is the queue's business (`ReadyTasks` keeps what changed); the judgement is
 * a function of the folders alone.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { dependenciesOf, type Task, type TaskStatus } from "./Task.ts"

/**
 * A pending task that can never become ready, where it goes, and why.
 *
 * @category models
 * @since 0.1.0
 */
export const Settled = Schema.Struct({
  id: Schema.String,
  to: Schema.Literals(["failed", "invalid"]),
  reason: Schema.String
})
export type Settled = typeof Settled.Type

/**
 * The queue as the judgement sees it. Every lookup answers for the folders as they are now.
 *
 * @category models
 * @since 0.1.0
 */
export interface Graph {
  /** The folder holding task `id` among `pending/`, `current/`, `complete/` and `failed/`, if one does. */
  readonly statusOf: (id: string) => TaskStatus | undefined
  /** The dependencies of pending task `id`. */
  readonly dependenciesOf: (id: string) => ReadonlyArray<string>
  /** The pending tasks that name `id` as a dependency. */
  readonly dependentsOf: (id: string) => Iterable<string>
}

/**
 * The pending tasks to judge.
 *
 * @category models
 * @since 0.1.0
 */
export interface Suspects {
  /** New to `pending/` (or rewritten): a dependency may be unknown or failed, or close a cycle. */
  readonly fresh: Iterable<string>
  /** A dependency of theirs changed folder: it may have failed, or gone. */
  readonly touched: Iterable<string>
}

/** A judgement made, and what a dependent quotes of it. */
interface Verdict {
  readonly to: Settled["to"]
  readonly reason: string
  /** For `failed`, the task whose failure started the cascade; for `invalid`, what is wrong, in a few words. */
  readonly cause: string
}

/** The folders a dependency may be in; in any other it names no task. */
const foldersShown = "pending/, current/, complete/ or failed/"

/** Tasks of a cycle named in a reason; a longer cycle is named by its first ones and its length. */
const cycleShownMax = 8

/** `[a, b]` starting at `b`, closed: `b -> a -> b` (`… (20000 tasks)` in the middle of a long one). */
const cycleText = (cycle: ReadonlyArray<string>, from: number): string => {
  const shown: Array<string> = []
  for (let i = 0; i < Math.min(cycle.length, cycleShownMax); i++) shown.push(cycle[(from + i) % cycle.length]!)
  if (cycle.length > cycleShownMax) shown.push(`… (${cycle.length} tasks)`)
  return [...shown, cycle[from]!].join(" -> ")
}

/**
 * A cycle among the pending tasks reachable from `start` (by depth-first search with an explicit
 * stack: a chain of thousands of tasks must not overflow the call stack), as its members in
 * dependency order; `undefined` when there is none. `explored` holds tasks already searched without
 * finding one: the search does not enter them again, so one `judge` searches each task once.
 */
const cycleFrom = (
  start: string,
  graph: Graph,
  isPending: (id: string) => boolean,
  explored: Set<string>
): ReadonlyArray<string> | undefined => {
  const path: Array<string> = [start]
  const nextDependency: Array<number> = [0]
  const onPath = new Map<string, number>([[start, 0]])
  while (path.length > 0) {
    const top = path[path.length - 1]!
    const dependencies = graph.dependenciesOf(top)
    const at = nextDependency[nextDependency.length - 1]!
    if (at >= dependencies.length) {
      explored.add(top)
      onPath.delete(top)
      path.pop()
      nextDependency.pop()
      continue
    }
    nextDependency[nextDependency.length - 1] = at + 1
    const dependency = dependencies[at]!
    const back = onPath.get(dependency)
    if (back !== undefined) return path.slice(back)
    if (explored.has(dependency) || !isPending(dependency)) continue
    onPath.set(dependency, path.length)
    path.push(dependency)
    nextDependency.push(0)
  }
  return undefined
}

/**
 * The pending tasks among `suspects` that can never become ready, and, in turn, the pending tasks
 * that depend on those: where each goes and why. In order of precedence for one task: a dependency
 * that names no task, or one judged invalid here, sends it to `invalid/`; else one in `failed/` (or
 * judged failed here) sends it to `failed/`; else, for a fresh task, a cycle through its
 * dependencies sends every task of the cycle to `invalid/`. Tasks not pending are left alone.
 *
 * Costs what it touches: the suspects, the dependencies of each, and for fresh tasks the pending
 * tasks reachable from them (each searched once per call).
 *
 * @category judgement
 * @since 0.1.0
 */
export const judge = (suspects: Suspects, graph: Graph): ReadonlyArray<Settled> => {
  const verdicts = new Map<string, Verdict>()
  const settled: Array<Settled> = []
  const isPending = (id: string) => !verdicts.has(id) && graph.statusOf(id) === "pending"
  const explored = new Set<string>()
  // Grows as verdicts bring in dependents; each task gets at most one verdict, so it ends.
  const work: Array<readonly [id: string, fresh: boolean]> = []
  for (const id of suspects.fresh) work.push([id, true])
  for (const id of suspects.touched) work.push([id, false])
  const decide = (id: string, verdict: Verdict) => {
    verdicts.set(id, verdict)
    settled.push({ id, to: verdict.to, reason: verdict.reason })
    for (const dependent of graph.dependentsOf(id)) work.push([dependent, false])
  }
  const verdictOf = (id: string): Verdict | undefined => {
    let failed: string | undefined
    for (const dependency of graph.dependenciesOf(id)) {
      const earlier = verdicts.get(dependency)
      if (earlier?.to === "invalid") {
        return { to: "invalid", reason: `depends on ${dependency}, which cannot run (${earlier.cause})`, cause: earlier.cause }
      }
      const status = earlier?.to ?? graph.statusOf(dependency)
      if (status === undefined) {
        return {
          to: "invalid",
          reason: `depends on ${dependency}, but no task in ${foldersShown} has that id`,
          cause: `${id} depends on ${dependency}, which is no task`
        }
      }
      if (status === "failed") failed ??= dependency
    }
    if (failed === undefined) return undefined
    const root = verdicts.get(failed)?.cause ?? failed
    return { to: "failed", reason: root === failed ? `dependency ${failed} failed` : `dependency ${failed} failed (because ${root} did)`, cause: root }
  }
  for (let i = 0; i < work.length; i++) {
    const [id, fresh] = work[i]!
    if (!isPending(id)) continue
    const verdict = verdictOf(id)
    if (verdict !== undefined) {
      decide(id, verdict)
      continue
    }
    // A cycle needs a new edge, and edges are new only on fresh tasks.
    if (!fresh || explored.has(id)) continue
    const cycle = cycleFrom(id, graph, isPending, explored)
    if (cycle === undefined) continue
    // A task that only leads into the cycle is judged again as one of the cycle's dependents.
    const cause = `the cycle ${cycleText(cycle, 0)}`
    cycle.forEach((member, at) => decide(member, { to: "invalid", reason: `its dependencies form a cycle: ${cycleText(cycle, at)}`, cause }))
  }
  return settled
}

/**
 * The order to create a batch of new tasks in: each after the tasks of the batch it depends on,
 * otherwise as given. Tasks of the batch that depend on each other in a cycle, or on such a task,
 * are refused (by id, with the reason); every other task is in the order. Dependencies outside
 * the batch are the queue's to judge.
 *
 * @category judgement
 * @since 0.1.0
 */
export const creationOrder = (tasks: ReadonlyArray<Task>): {
  readonly ordered: ReadonlyArray<Task>
  readonly refused: ReadonlyMap<string, string>
} => {
  // Kahn's algorithm over the edges inside the batch (a repeated id: its first task).
  const first = new Map<string, number>()
  tasks.forEach((task, at) => first.has(task.id) || first.set(task.id, at))
  const waiting = tasks.map(() => 0)
  const dependents: Array<Array<number>> = tasks.map(() => [])
  tasks.forEach((task, at) => {
    for (const dependency of dependenciesOf(task)) {
      const of = first.get(dependency)
      if (of === undefined) continue
      waiting[at]!++
      dependents[of]!.push(at)
    }
  })
  const ready = tasks.flatMap((_, at) => waiting[at] === 0 ? [at] : [])
  const ordered: Array<Task> = []
  for (let i = 0; i < ready.length; i++) {
    const at = ready[i]!
    ordered.push(tasks[at]!)
    for (const dependent of dependents[at]!) if (--waiting[dependent]! === 0) ready.push(dependent)
  }
  if (ordered.length === tasks.length) return { ordered, refused: new Map() }
  // What is left is on a cycle, or waits for a task that is: judged as the queue would judge it,
  // with every task outside what is left counted as known.
  const left = new Map<string, Task>(tasks.flatMap((task, at) => waiting[at]! > 0 && first.get(task.id) === at ? [[task.id, task] as const] : []))
  const leftDependents = new Map<string, Array<string>>()
  for (const task of left.values()) {
    for (const dependency of dependenciesOf(task)) {
      if (!left.has(dependency)) continue
      const dependents = leftDependents.get(dependency)
      if (dependents === undefined) leftDependents.set(dependency, [task.id])
      else dependents.push(task.id)
    }
  }
  const settled = judge({ fresh: left.keys(), touched: [] }, {
    statusOf: (id) => left.has(id) ? "pending" : "current",
    dependenciesOf: (id) => dependenciesOf(left.get(id)!),
    dependentsOf: (id) => leftDependents.get(id) ?? []
  })
  const refused = new Map(settled.map((s) => [s.id, s.reason]))
  // A later task repeating an id is not judged above: unless its id is refused, it is created last,
  // where the queue refuses the id as taken, as it would anyway.
  for (const [at, task] of tasks.entries()) if (waiting[at]! > 0 && !refused.has(task.id)) ordered.push(task)
  return { ordered, refused }
}
