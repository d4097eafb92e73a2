/**
 * Live progress (SPEC F12), fed by the same events as the run log: in a terminal, one line per
 * worker — state, iteration i/n, task, elapsed — and one for the merge queue's pipeline (issue 19:
 * the candidates being tested, in the order they land, and how many wait), redrawn in place;
 * otherwise one plain line per event that matters. The state and both renderings are pure; only
 * `layer` writes.
 *
 * @since 0.1.0
 */
import type { Event } from "@oompa/core"

/**
 * What one worker is doing, as the view shows it.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkerRow {
  readonly worker: string
  readonly state: string
  readonly iteration: number
  readonly iterations: number
  readonly task: string | undefined
  readonly sinceMs: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface ProgressState {
  /** When the first event came (a run's task list is queued just before it starts). */
  readonly startedMs: number | undefined
  readonly rows: ReadonlyMap<string, WorkerRow>
  readonly merged: number
  /** The merge queue's candidates, by worker, in the order they land (the first lands next). */
  readonly pipeline: ReadonlyArray<string>
  /** Workers whose approved work waits for a place in the pipeline. */
  readonly waiting: ReadonlySet<string>
}

/** @category constructors @since 0.1.0 */
export const initial: ProgressState = { startedMs: undefined, rows: new Map(), merged: 0, pipeline: [], waiting: new Set() }

const without = (set: ReadonlySet<string>, worker: string): ReadonlySet<string> => {
  if (!set.has(worker)) return set
  const out = new Set(set)
  out.delete(worker)
  return out
}

/** The pipeline after `worker`'s candidate was (re)built at `position`. */
const placed = (pipeline: ReadonlyArray<string>, worker: string, position: number): ReadonlyArray<string> => {
  const rest = pipeline.filter((w) => w !== worker)
  return [...rest.slice(0, position - 1), worker, ...rest.slice(position - 1)]
}

const ordinal = (n: number): string => `${n}${n % 10 === 1 && n % 100 !== 11 ? "st" : n % 10 === 2 && n % 100 !== 12 ? "nd" : n % 10 === 3 && n % 100 !== 13 ? "rd" : "th"}`

const update = (state: ProgressState, worker: string, at: number, change: Partial<WorkerRow>): ProgressState => {
  const row = state.rows.get(worker) ?? { worker, state: "starting", iteration: 0, iterations: 0, task: undefined, sinceMs: at }
  const rows = new Map(state.rows)
  rows.set(worker, { ...row, ...change, sinceMs: change.state !== undefined && change.state !== row.state ? at : row.sinceMs })
  return { ...state, rows }
}

/**
 * The state after one event.
 *
 * @category transitions
 * @since 0.1.0
 */
export const step = (previous: ProgressState, event: Event.Event): ProgressState => {
  const state = previous.startedMs === undefined ? { ...previous, startedMs: event.at } : previous
  switch (event._tag) {
    case "WorkerStarted":
      return update(state, event.worker, event.at, { state: "starting", iterations: event.iterations })
    case "IterationStarted": {
      // A task is claimed before its iteration starts: the claim of this iteration stays.
      const claimed = state.rows.get(event.worker)
      const task = claimed?.iteration === event.iteration ? claimed.task : undefined
      return update(state, event.worker, event.at, { state: "proposing", iteration: event.iteration, task })
    }
    case "TaskClaimed":
      return update(state, event.worker, event.at, { task: event.task, iteration: event.iteration })
    case "AgentFinished":
      // Events mark the end of a step, so the row shows the step that starts next.
      return event.call === "review" ? state : update(state, event.worker, event.at, { state: event.timedOut || event.exitCode !== 0 ? "agent failed" : "reviewing" })
    case "VerdictGiven":
      return update(state, event.worker, event.at, { state: event.verdict === "approved" ? "merging" : event.verdict === "needs-changes" ? "fixing" : "rejected" })
    case "MergeQueued":
      return { ...update(state, event.worker, event.at, { state: "merge queue" }), waiting: new Set([...state.waiting, event.worker]) }
    case "CandidateBuilt":
      return {
        ...update(state, event.worker, event.at, { state: event.outcome === "built" ? `testing ${ordinal(event.position)}` : "merge queue" }),
        pipeline: placed(state.pipeline, event.worker, event.position),
        waiting: without(state.waiting, event.worker)
      }
    case "RateLimited":
      return update(state, event.worker, event.at, { state: `rate limit ${Math.round(event.waitMs / 1000)} s` })
    case "CandidateEjected":
      // An error ends the submission without a MergeResult: it leaves the pipeline here.
      return event.reason === "error" || event.reason === "withdrawn" ? { ...state, pipeline: state.pipeline.filter((w) => w !== event.worker) } : state
    case "MergeResult":
      return {
        ...update(state, event.worker, event.at, { state: event.outcome }),
        merged: state.merged + (event.outcome === "merged" ? 1 : 0),
        pipeline: state.pipeline.filter((w) => w !== event.worker),
        waiting: without(state.waiting, event.worker)
      }
    case "IterationFinished":
      return update(state, event.worker, event.at, { state: event.outcome })
    case "WorkerFinished":
      return update(state, event.worker, event.at, { state: `done (${event.reason})` })
    default:
      return state
  }
}

const clock = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`
}

/**
 * The terminal view: one line per worker, each cut to `columns`.
 *
 * @category rendering
 * @since 0.1.0
 */
export const render = (state: ProgressState, nowMs: number, columns: number): ReadonlyArray<string> => {
  const cut = (line: string) => line.length > columns ? `${line.slice(0, Math.max(0, columns - 1))}…` : line
  const rows = [...state.rows.values()].map((row) =>
    cut(
      `${row.worker.padEnd(8)} ${row.state.padEnd(14)} ${`${row.iteration}/${row.iterations}`.padStart(7)}  ` +
        `${(row.task ?? "-").padEnd(24)} ${clock(nowMs - row.sinceMs)}`
    )
  )
  if (state.pipeline.length === 0 && state.waiting.size === 0) return rows
  const testing = state.pipeline.length === 0 ? "nothing under test" : `testing ${state.pipeline.join(" > ")}`
  return [...rows, cut(`merge queue: ${testing}; ${state.waiting.size} waiting; ${state.merged} merged`)]
}

/**
 * The plain view: one line for the events worth a line, none for the rest.
 *
 * @category rendering
 * @since 0.1.0
 */
export const plainLine = (event: Event.Event, startedMs: number | undefined): string | undefined => {
  const t = `[${clock(event.at - (startedMs ?? event.at))}]`
  switch (event._tag) {
    case "SwarmStarted":
      return `${t} run ${event.runId} on ${event.branch}: ${event.workers.length} ${event.workers.length === 1 ? "worker" : "workers"}${event.dryRun ? " (dry run)" : ""}`
    case "IterationStarted":
      return `${t} ${event.worker} iteration ${event.iteration} started on ${event.branch}`
    case "TaskClaimed":
      return `${t} ${event.worker} claimed ${event.task}`
    case "AgentFinished":
      return `${t} ${event.worker} ${event.call} by ${event.agent}: ${event.timedOut ? "timed out" : `exit ${event.exitCode}`} in ${(event.durationMs / 1000).toFixed(1)} s${event.error ? ` (${event.error.split("\n")[0]})` : ""}`
    case "PolicyViolated":
      return `${t} ${event.worker} policy: ${event.violations.join("; ")}`
    case "VerdictGiven":
      return `${t} ${event.worker} review ${event.attempt}: ${event.verdict}`
    case "CandidateBuilt":
      return event.position === 1 && event.rebuild === 0 && event.outcome === "built"
        ? undefined
        : `${t} ${event.worker} candidate ${event.position}${event.rebuild > 0 ? ` rebuilt (${event.rebuild})` : ""} on ${event.onto.slice(0, 10)}: ${event.outcome}${event.sha ? ` ${event.sha.slice(0, 10)}` : ""}`
    case "CandidateEjected":
      return `${t} ${event.worker} ejected from the merge queue: ${event.reason}${event.rebuilding > 0 ? `; ${event.rebuilding} behind it rebuilt` : ""}`
    case "TestResult":
      return `${t} ${event.worker} tests ${event.passed ? "passed" : "failed"} on ${event.sha.slice(0, 10)}${event.position !== undefined && event.position > 1 ? ` (candidate ${event.position})` : ""}`
    case "MergeResult":
      return `${t} ${event.worker} merge: ${event.outcome}${event.sha ? ` ${event.sha.slice(0, 10)}` : ""}${event.files.length > 0 ? ` (${event.files.join(", ")})` : ""}`
    case "TaskMoved":
      return `${t} task ${event.task} -> ${event.to}/${event.reason ? ` (${event.reason})` : ""}`
    case "IterationFinished":
      return `${t} ${event.worker} iteration ${event.iteration}: ${event.outcome}`
    case "WorkerFinished":
      return `${t} ${event.worker} finished: ${event.reason}`
    case "BudgetSpent":
      return `${t} budget ${event.budget} spent (${event.scope})`
    case "RateLimited":
      return `${t} ${event.worker} ${event.call} by ${event.agent}: usage or rate limit; retry ${event.retry} in ${Math.round(event.waitMs / 1000)} s (${event.source === "retry-after" ? "the wait it named" : "back-off"})`
    case "PullRequestOpened":
      return `${t} ${event.worker} pull request #${event.number}${event.task === undefined ? "" : ` (${event.task})`} at ${event.head.slice(0, 10)}: ${event.url}`
    case "TargetMoved":
      return `${t} someone pushed to the remote's branch: ${event.from.slice(0, 10)} -> ${event.to.slice(0, 10)}; the merge queue builds on it`
    case "MainMovedOutside":
      return `${t} main moved outside the merge queue: ${event.from.slice(0, 10)} -> ${event.to.slice(0, 10)}${event.worker === undefined ? "" : ` (noticed after ${event.worker} iteration ${event.iteration})`}`
    case "Warning":
      return `warning: ${event.message}`
    case "SwarmFinished":
      return `${t} run finished: ${event.outcome}`
    default:
      return undefined
  }
}
