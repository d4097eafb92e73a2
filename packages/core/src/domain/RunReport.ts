/**
 * What a run looked like (issue 22), built from its events alone: a lane of iterations per worker,
 * the merge queue's lane, every task with its attempts and review verdicts, cost and tokens per
 * worker, where the time went by phase, and why each failed task failed with the branch it kept.
 * `oompa view --html` and the live dashboard draw this; the library exports it for tools of their
 * own. Every event type has a handler and a one-line text here (`handlers`, `describe`), so a new
 * event type does not compile until the report says what it does with it.
 *
 * @since 0.1.0
 */
import type { Event, IterationOutcome, PhaseTimings } from "./Event.ts"
import { addTimings, zeroTimings } from "./Event.ts"
import * as RunSummary from "./RunSummary.ts"

type EventOf<Tag extends Event["_tag"]> = Extract<Event, { readonly _tag: Tag }>

/**
 * The colour of an iteration's bar: how it ended, with the cases a reader looks for first.
 * `fixed`: merged after a fix (the reviewer, a gate or a conflict sent it back); `policy`: a policy gate refused it;
 * `timeout`: an agent call ran out of time; `other`: no changes, budget, dry run, a closed pull
 * request, a main moved outside the queue; `running`: not finished when the log ends.
 *
 * @category models
 * @since 0.1.0
 */
export type BarKind = "merged" | "fixed" | "rejected" | "policy" | "test-failed" | "conflict" | "error" | "timeout" | "other" | "running"

/** @category constants @since 0.1.0 */
export const barKinds: ReadonlyArray<BarKind> = ["merged", "fixed", "rejected", "policy", "test-failed", "conflict", "error", "timeout", "other", "running"]

/** One agent call of an iteration. @category models @since 0.1.0 */
export interface Call {
  readonly call: string
  readonly agent: string
  /** Milliseconds from the run's start. */
  readonly end: number
  readonly durationMs: number
  readonly exitCode: number
  readonly timedOut: boolean
  readonly tokens?: { readonly input: number; readonly output: number }
  readonly costUsd?: number
  readonly error?: string
}

/** One review verdict. @category models @since 0.1.0 */
export interface Review {
  readonly worker: string
  readonly iteration: number
  readonly attempt: number
  readonly verdict: "approved" | "needs-changes" | "rejected"
  readonly reviewer: string
  readonly feedback: string
}

/** One iteration, as a bar on its worker's lane. Times are milliseconds from the run's start. @category models @since 0.1.0 */
export interface Iteration {
  readonly worker: string
  readonly iteration: number
  readonly start: number
  /** Absent while it runs. */
  readonly end: number | undefined
  readonly task: string | undefined
  readonly outcome: IterationOutcome | undefined
  readonly kind: BarKind
  readonly detail: string | undefined
  readonly kept: string | undefined
  readonly timings: PhaseTimings | undefined
  readonly calls: ReadonlyArray<Call>
  readonly reviews: ReadonlyArray<Review>
  readonly policy: ReadonlyArray<string>
  readonly merge: string | undefined
}

/** A span of the merge queue's lane: a candidate's test, or a landing decided. @category models @since 0.1.0 */
export interface MergeSpan {
  readonly worker: string
  readonly iteration: number
  readonly start: number
  readonly end: number
  readonly what: "test" | "merge"
  /** For a test, `passed`/`failed`; for a merge, the MergeResult's outcome. */
  readonly outcome: string
  readonly sha: string | undefined
  readonly position: number | undefined
  /** The row of the lane, so that tests running at once (speculation) do not overlap. */
  readonly row: number
}

/** One worker: its lane and what it spent. @category models @since 0.1.0 */
export interface Worker {
  readonly id: string
  readonly role: string
  readonly agent: string
  readonly iterations: ReadonlyArray<Iteration>
  readonly calls: number
  readonly tokens: { readonly input: number; readonly output: number }
  readonly costUsd: number
  readonly timings: PhaseTimings
  readonly stopped: string | undefined
}

/** One task: where it ended up, every attempt, every verdict. @category models @since 0.1.0 */
export interface Task {
  readonly id: string
  /** Its last folder in this run's log (`current` while held). */
  readonly status: string
  readonly claims: number
  readonly attempts: ReadonlyArray<{ readonly worker: string; readonly iteration: number; readonly outcome: string }>
  readonly reviews: ReadonlyArray<Review>
  /** Why it went to failed/, from the log. */
  readonly reason: string | undefined
  /** Branches kept with its approved work that did not land. */
  readonly kept: ReadonlyArray<string>
}

/** One line of the report's event log. @category models @since 0.1.0 */
export interface Line {
  readonly at: number
  readonly tag: Event["_tag"]
  readonly worker: string | undefined
  readonly text: string
}

/** @category models @since 0.1.0 */
export interface RunReport {
  readonly summary: RunSummary.RunSummary
  /** Epoch milliseconds of the first event, the zero of every other time. */
  readonly startedAt: number
  /** Milliseconds from the start to the last event. */
  readonly span: number
  readonly workers: ReadonlyArray<Worker>
  readonly merges: ReadonlyArray<MergeSpan>
  readonly tasks: ReadonlyArray<Task>
  readonly timings: PhaseTimings
  readonly tokens: { readonly input: number; readonly output: number }
  readonly lines: ReadonlyArray<Line>
  /** How many events of each type the log holds. */
  readonly counts: Readonly<Partial<Record<Event["_tag"], number>>>
}

type MutableIteration = {
  -readonly [K in keyof Iteration]: Iteration[K] extends ReadonlyArray<infer A> ? Array<A> : Iteration[K]
} & {
  /** Whether its `IterationStarted` was seen (a claim comes before it). */
  started: boolean
}

interface MutableTask {
  status: string
  claims: number
  attempts: Array<{ worker: string; iteration: number; outcome: string }>
  reviews: Array<Review>
  reason: string | undefined
  kept: Array<string>
}

/** The report as it is built, event by event. */
interface Builder {
  readonly startedAt: number
  readonly workers: Map<string, { role: string; agent: string; stopped: string | undefined }>
  readonly open: Map<string, MutableIteration>
  readonly iterations: Array<MutableIteration>
  readonly tests: Array<Omit<MergeSpan, "row">>
  readonly tasks: Map<string, MutableTask>
}

const key = (worker: string, iteration: number) => `${worker}\u0000${iteration}`

/**
 * The longest run a report draws: a year. Times come from logs others wrote (runners' clocks, a
 * damaged file), and a Schema-valid `at` of 1e308 must not make the timeline infinite.
 */
export const spanMaxMs = 366 * 24 * 3_600_000

/** Milliseconds from the run's start, within the drawable span. */
const offset = (b: { readonly startedAt: number }, at: number): number => Math.min(spanMaxMs, Math.max(0, at - b.startedAt))
const short = (sha: string) => sha.slice(0, 10)
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

const iterationOf = (b: Builder, worker: string, iteration: number, at: number): MutableIteration => {
  const k = key(worker, iteration)
  const found = b.open.get(k)
  if (found !== undefined) return found
  // An iteration whose start the log does not hold (a cluster's redelivery, a log cut short).
  const made: MutableIteration = {
    worker, iteration, start: offset(b, at), end: undefined, task: undefined, outcome: undefined, kind: "running",
    detail: undefined, kept: undefined, timings: undefined, calls: [], reviews: [], policy: [], merge: undefined, started: false
  }
  b.open.set(k, made)
  b.iterations.push(made)
  if (!b.workers.has(worker)) b.workers.set(worker, { role: "worker", agent: "", stopped: undefined })
  return made
}

const taskOf = (b: Builder, id: string): MutableTask => {
  const found = b.tasks.get(id)
  if (found !== undefined) return found
  const made: MutableTask = { status: "pending", claims: 0, attempts: [], reviews: [], reason: undefined, kept: [] }
  b.tasks.set(id, made)
  return made
}

const kindOf = (it: MutableIteration, outcome: IterationOutcome): BarKind => {
  if (outcome === "merged") return it.calls.some((c) => c.call === "fix" || c.call === "resolve-conflict") ? "fixed" : "merged"
  if (outcome === "error" || outcome === "unavailable") return it.calls.some((c) => c.timedOut) ? "timeout" : "error"
  // What stopped the rest: the last gate it failed, then the reviewer.
  if (it.merge === "test-failed") return "test-failed"
  if (it.merge === "policy-failed" || (outcome === "exhausted" && it.policy.length > 0)) return "policy"
  if (outcome === "conflict") return "conflict"
  if (outcome === "rejected" || outcome === "exhausted") return "rejected"
  return "other"
}

/**
 * Iterations left open when their worker or the run stopped: one that never got a task (the queue
 * was empty) is no iteration at all; any other ends there, without an outcome.
 */
const endOpen = (b: Builder, at: number, which: (it: MutableIteration) => boolean, why: string) => {
  for (const it of [...b.iterations]) {
    if (it.end !== undefined || !which(it)) continue
    if (it.task === undefined && it.calls.length === 0) {
      b.open.delete(key(it.worker, it.iteration))
      b.iterations.splice(b.iterations.indexOf(it), 1)
      continue
    }
    endIteration(b, it, at, why)
  }
}

/** An iteration that ended without its `IterationFinished`, for `why`. */
const endIteration = (b: Builder, it: MutableIteration, at: number, why: string) => {
  if (b.open.get(key(it.worker, it.iteration)) === it) b.open.delete(key(it.worker, it.iteration))
  it.end = Math.max(it.start, offset(b, at))
  it.kind = "other"
  it.detail = why
}

/**
 * What each event adds to the report. A record over every tag: an event type added to the log's
 * Schema without an entry here does not compile.
 *
 * @category constructors
 * @since 0.1.0
 */
const handlers: { readonly [K in Event["_tag"]]: (b: Builder, e: EventOf<K>) => void } = {
  SwarmStarted: (b, e) => {
    for (const w of e.workers) b.workers.set(w.id, { role: w.role, agent: w.agent, stopped: undefined })
  },
  WorkerStarted: (b, e) => {
    if (!b.workers.has(e.worker)) b.workers.set(e.worker, { role: e.role, agent: "", stopped: undefined })
  },
  IterationStarted: (b, e) => {
    // The claim comes first and opened the bar; a second start of the same iteration (a cluster's
    // redelivery) opens a new one.
    if (b.open.get(key(e.worker, e.iteration))?.started === true) b.open.delete(key(e.worker, e.iteration))
    iterationOf(b, e.worker, e.iteration, e.at).started = true
  },
  TaskClaimed: (b, e) => {
    // A claim for an iteration already started is that iteration delivered again (a cluster's
    // runner died under it): the first run ends here, and the claim opens the second.
    const running = b.open.get(key(e.worker, e.iteration))
    if (running?.started === true && running.task !== undefined) endIteration(b, running, e.at, "delivered again: run a second time")
    iterationOf(b, e.worker, e.iteration, e.at).task = e.task
    const task = taskOf(b, e.task)
    task.claims += 1
    task.status = "current"
  },
  AgentFinished: (b, e) => {
    iterationOf(b, e.worker, e.iteration, e.at).calls.push({
      call: e.call, agent: e.agent, end: offset(b, e.at), durationMs: e.durationMs, exitCode: e.exitCode, timedOut: e.timedOut,
      ...(e.tokens === undefined ? {} : { tokens: e.tokens }),
      ...(e.costUsd === undefined ? {} : { costUsd: e.costUsd }),
      ...(e.error === undefined ? {} : { error: e.error })
    })
  },
  Committed: (b, e) => void iterationOf(b, e.worker, e.iteration, e.at),
  VerdictGiven: (b, e) => {
    const it = iterationOf(b, e.worker, e.iteration, e.at)
    const review: Review = { worker: e.worker, iteration: e.iteration, attempt: e.attempt, verdict: e.verdict, reviewer: e.reviewer, feedback: e.feedback }
    it.reviews.push(review)
    if (it.task !== undefined) taskOf(b, it.task).reviews.push(review)
  },
  PolicyViolated: (b, e) => void iterationOf(b, e.worker, e.iteration, e.at).policy.push(...e.violations),
  MergeQueued: (b, e) => void iterationOf(b, e.worker, e.iteration, e.at),
  CandidateBuilt: (b, e) => void iterationOf(b, e.worker, e.iteration, e.at),
  CandidateEjected: (b, e) => void iterationOf(b, e.worker, e.iteration, e.at),
  TestResult: (b, e) => {
    iterationOf(b, e.worker, e.iteration, e.at)
    const end = offset(b, e.at)
    b.tests.push({ worker: e.worker, iteration: e.iteration, start: Math.max(0, end - e.durationMs), end, what: "test", outcome: e.passed ? "passed" : "failed", sha: e.sha, position: e.position })
  },
  MergeResult: (b, e) => {
    const it = iterationOf(b, e.worker, e.iteration, e.at)
    it.merge = e.outcome
    const at = offset(b, e.at)
    b.tests.push({ worker: e.worker, iteration: e.iteration, start: at, end: at, what: "merge", outcome: e.outcome, sha: e.sha, position: undefined })
  },
  TaskMoved: (b, e) => {
    const task = taskOf(b, e.task)
    task.status = e.to
    if (e.to === "failed") task.reason = e.reason ?? "no reason recorded"
  },
  IterationFinished: (b, e) => {
    // The same end logged twice (a redelivered report) is one end.
    if (!b.open.has(key(e.worker, e.iteration)) && b.iterations.some((i) => i.worker === e.worker && i.iteration === e.iteration && i.end !== undefined)) return
    const it = iterationOf(b, e.worker, e.iteration, e.at)
    it.end = Math.max(it.start, offset(b, e.at))
    it.outcome = e.outcome
    it.detail = e.detail
    it.kept = e.kept
    it.timings = e.timings
    if (e.task !== undefined) it.task = e.task
    it.kind = kindOf(it, e.outcome)
    b.open.delete(key(e.worker, e.iteration))
    if (it.task !== undefined) {
      const task = taskOf(b, it.task)
      task.attempts.push({ worker: e.worker, iteration: e.iteration, outcome: e.outcome })
      if (e.kept !== undefined) task.kept.push(e.kept)
    }
  },
  WorkerFinished: (b, e) => {
    const w = b.workers.get(e.worker)
    if (w !== undefined) w.stopped = e.reason
    endOpen(b, e.at, (it) => it.worker === e.worker, `the worker stopped (${e.reason}) before it ended`)
  },
  BudgetSpent: () => {},
  MainMovedOutside: () => {},
  TargetMoved: () => {},
  PullRequestOpened: (b, e) => void iterationOf(b, e.worker, e.iteration, e.at),
  RateLimited: (b, e) => void iterationOf(b, e.worker, e.iteration, e.at),
  Warning: () => {},
  SwarmFinished: (b, e) => endOpen(b, e.at, () => true, `the run ended (${e.outcome}) before it did`)
}

/**
 * One line of text per event, for the report's event log. A record over every tag, as `handlers`.
 *
 * @category rendering
 * @since 0.1.0
 */
export const describe: { readonly [K in Event["_tag"]]: (e: EventOf<K>) => string } = {
  SwarmStarted: (e) => `run ${e.runId} on ${e.branch}${e.base === "" ? "" : ` at ${short(e.base)}`}: ${e.workers.map((w) => `${w.id} (${w.role}, ${w.agent})`).join(", ")}${e.review ? "" : "; no review"}${e.dryRun ? "; dry run" : ""}`,
  WorkerStarted: (e) => `${e.role} started for ${e.iterations} iterations`,
  IterationStarted: (e) => `iteration ${e.iteration} started on ${e.branch} at ${short(e.base)}`,
  TaskClaimed: (e) => `claimed ${e.task}`,
  AgentFinished: (e) =>
    `${e.call} by ${e.agent}: ${e.timedOut ? "timed out" : `exit ${e.exitCode}`} in ${seconds(e.durationMs)}` +
    `${e.tokens === undefined ? "" : `, ${e.tokens.input} in / ${e.tokens.output} out tokens`}${e.costUsd === undefined ? "" : `, $${e.costUsd.toFixed(4)}`}` +
    `${e.error === undefined ? "" : ` (${e.error.split("\n")[0]})`}`,
  Committed: (e) => `committed ${short(e.sha)}: ${e.files} files, +${e.added} -${e.deleted}`,
  VerdictGiven: (e) => `review ${e.attempt} by ${e.reviewer}: ${e.verdict}${e.feedback === "" ? "" : ` (${e.feedback.split("\n")[0]})`}`,
  PolicyViolated: (e) => `policy (${e.stage}): ${e.violations.join("; ")}`,
  MergeQueued: (e) => `queued for merge at ${e.position}`,
  CandidateBuilt: (e) => `candidate ${e.position}${e.rebuild > 0 ? ` rebuilt (${e.rebuild})` : ""} on ${short(e.onto)}: ${e.outcome}${e.sha === undefined ? "" : ` ${short(e.sha)}`}`,
  CandidateEjected: (e) => `ejected from the merge queue: ${e.reason}${e.rebuilding > 0 ? `; ${e.rebuilding} behind it rebuilt` : ""}`,
  TestResult: (e) => `tests ${e.passed ? "passed" : "failed"} on ${short(e.sha)} in ${seconds(e.durationMs)}${e.position === undefined ? "" : ` (candidate ${e.position})`}`,
  MergeResult: (e) => `merge: ${e.outcome}${e.sha === undefined ? "" : ` ${short(e.sha)}`}${e.files.length === 0 ? "" : ` (${e.files.length} files)`}`,
  TaskMoved: (e) => `task ${e.task}${e.from === undefined ? "" : ` ${e.from}/`} -> ${e.to}/${e.reason === undefined ? "" : ` (${e.reason.split("\n")[0]})`}`,
  IterationFinished: (e) => `iteration ${e.iteration}: ${e.outcome}${e.task === undefined ? "" : ` (${e.task})`}${e.kept === undefined ? "" : `; kept ${e.kept}`}`,
  WorkerFinished: (e) => `finished after ${e.iterations} iterations: ${e.reason}`,
  BudgetSpent: (e) => `budget ${e.budget} spent (${e.scope})`,
  MainMovedOutside: (e) => RunSummary.describeMainMoved(e),
  TargetMoved: (e) => `someone pushed to the remote's branch: ${short(e.from)} -> ${short(e.to)}`,
  PullRequestOpened: (e) => `pull request #${e.number}${e.task === undefined ? "" : ` (${e.task})`} at ${short(e.head)}: ${e.url}`,
  RateLimited: (e) => `${e.call} by ${e.agent}: usage or rate limit; retry ${e.retry} in ${Math.round(e.waitMs / 1000)} s`,
  Warning: (e) => `warning: ${e.message}`,
  SwarmFinished: (e) => `run finished: ${e.outcome} after ${seconds(e.durationMs)}; ${e.merged} merged, ${e.rejected} rejected, ${e.failed} failed${e.budget === undefined ? "" : `; budget ${e.budget}`}`
}

const workerOfEvent = (e: Event): string | undefined => "worker" in e && typeof e.worker === "string" ? e.worker : undefined

/** Rows for the merge lane: each span on the first row free at its start. */
const placeRows = (spans: ReadonlyArray<Omit<MergeSpan, "row">>): ReadonlyArray<MergeSpan> => {
  const ends: Array<number> = []
  return [...spans].sort((a, b) => a.start - b.start || a.end - b.end).map((s) => {
    let row = ends.findIndex((end) => end <= s.start)
    if (row === -1) {
      row = ends.length
      ends.push(s.end)
    } else ends[row] = Math.max(ends[row]!, s.end)
    return { ...s, row }
  })
}

/**
 * The report of one run's events, in the order the log holds them.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (runId: string, events: ReadonlyArray<Event>): RunReport => {
  // The run's start is its SwarmStarted (the driver's clock), else its first event.
  const startedAt = (events.find((e) => e._tag === "SwarmStarted") ?? events[0])?.at ?? 0
  const b: Builder = { startedAt, workers: new Map(), open: new Map(), iterations: [], tests: [], tasks: new Map() }
  const counts: Partial<Record<Event["_tag"], number>> = {}
  const lines: Array<Line> = []
  for (const e of events) {
    ;(handlers[e._tag] as (b: Builder, e: Event) => void)(b, e)
    counts[e._tag] = (counts[e._tag] ?? 0) + 1
    lines.push({ at: offset({ startedAt }, e.at), tag: e._tag, worker: workerOfEvent(e), text: (describe[e._tag] as (e: Event) => string)(e) })
  }
  const workers: Array<Worker> = [...b.workers].map(([id, w]) => {
    const iterations: Array<Iteration> = b.iterations.filter((i) => i.worker === id).map(({ started: _, ...it }) => it)
    const calls = iterations.flatMap((i) => i.calls)
    return {
      id, role: w.role, agent: w.agent, iterations, stopped: w.stopped, calls: calls.length,
      tokens: { input: calls.reduce((s, c) => s + (c.tokens?.input ?? 0), 0), output: calls.reduce((s, c) => s + (c.tokens?.output ?? 0), 0) },
      costUsd: calls.reduce((s, c) => s + (c.costUsd ?? 0), 0),
      timings: iterations.reduce((t, i) => i.timings === undefined ? t : addTimings(t, i.timings), zeroTimings)
    }
  })
  const tasks: Array<Task> = [...b.tasks].map(([id, t]) => ({ id, ...t }))
  return {
    summary: RunSummary.summarize(runId, events),
    startedAt,
    // The latest time logged, not the last line's: a runner's clock may run ahead of the driver's.
    span: events.reduce((latest, e) => Math.max(latest, offset({ startedAt }, e.at)), 0),
    workers,
    merges: placeRows(b.tests),
    tasks,
    timings: workers.reduce((t, w) => addTimings(t, w.timings), zeroTimings),
    tokens: { input: workers.reduce((s, w) => s + w.tokens.input, 0), output: workers.reduce((s, w) => s + w.tokens.output, 0) },
    lines,
    counts
  }
}
