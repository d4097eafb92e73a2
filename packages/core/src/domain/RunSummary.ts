/**
 * What a run's log says about it (SPEC F9: `oompa status`, `list`, `view`): a summary derived from
 * the events alone, so a finished, crashed or still-running run can be explained from its log. The
 * Schemas are the shapes `--json` prints, so a reader in another program decodes what it reads.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { BudgetName } from "./Budget.ts"
import { Event, WorkerStopReason } from "./Event.ts"
import { Role } from "./SwarmConfig.ts"

/**
 * How a run ended, as far as its log and the run lock tell. `running` until a `SwarmFinished`
 * event: the run is live, or it died without finishing; the log alone cannot tell which, so
 * {@link withLiveness} (given who holds the run lock) turns a dead one into `died`.
 *
 * @category models
 * @since 0.1.0
 */
export const RunOutcome = Schema.Literals(["ok", "failed", "unavailable", "interrupted", "running", "died"])
export type RunOutcome = typeof RunOutcome.Type

/**
 * One worker of a run: what it was, how many iterations it finished, why it stopped (absent while
 * it runs, or when the run died under it).
 *
 * @category models
 * @since 0.1.0
 */
export const WorkerSummary = Schema.Struct({
  id: Schema.String,
  role: Role,
  agent: Schema.String,
  iterations: Schema.Int,
  stopped: Schema.optionalKey(WorkerStopReason)
})
export type WorkerSummary = typeof WorkerSummary.Type

/**
 * The summary of one run (`oompa status --json`). Fields the log has not reached yet (a run that
 * died before `SwarmStarted`, or has not finished) are absent rather than null.
 *
 * @category models
 * @since 0.1.0
 */
export const RunSummary = Schema.Struct({
  runId: Schema.String,
  branch: Schema.optionalKey(Schema.String),
  /** Epoch milliseconds of `SwarmStarted`. */
  startedAt: Schema.optionalKey(Schema.Finite),
  outcome: RunOutcome,
  durationMs: Schema.optionalKey(Schema.Finite),
  workers: Schema.Array(WorkerSummary),
  merged: Schema.Int,
  /** Iterations the reviewer rejected, or that ran out of review attempts. */
  rejected: Schema.Int,
  /** Tasks moved to `failed/`. */
  failedTasks: Schema.Int,
  /** Each task moved to `failed/`, with why (its last iteration's outcome and feedback). */
  failed: Schema.Array(Schema.Struct({ task: Schema.String, reason: Schema.String })),
  /** Each branch kept with approved work that did not land, with why. */
  kept: Schema.Array(Schema.Struct({
    branch: Schema.String,
    worker: Schema.String,
    iteration: Schema.Finite,
    task: Schema.optionalKey(Schema.String),
    reason: Schema.String
  })),
  iterations: Schema.Int,
  agentCalls: Schema.Int,
  /** Dollars the harnesses reported or oompa estimated from their tokens (0 when none did). */
  costUsd: Schema.Finite,
  /** Of `costUsd`, the dollars estimated from tokens with a price table (absent when none was). */
  estimatedCostUsd: Schema.optionalKey(Schema.Finite),
  /** The price tables of those estimates (`@pydantic/genai-prices 0.1.8`, `oompa.json pricing`). */
  priceTables: Schema.optionalKey(Schema.Array(Schema.String)),
  /** The budget that ended the run. */
  budget: Schema.optionalKey(BudgetName),
  /** The move of main outside oompa's merge queue that stopped the run (`MainMovedOutside`). */
  mainMoved: Schema.optionalKey(Schema.Struct({
    from: Schema.String,
    to: Schema.String,
    worker: Schema.optionalKey(Schema.String),
    iteration: Schema.optionalKey(Schema.Finite)
  })),
  /** Waits for usage or rate limits: how many, and how long in all. */
  rateLimits: Schema.optionalKey(Schema.Struct({ waits: Schema.Int, waitedMs: Schema.Finite })),
  /**
   * The speculative merge queue (issue 19), when it tested more than one candidate at once or
   * rebuilt one: the most candidates at once, candidates ejected, and rebuilds after an ejection.
   */
  speculation: Schema.optionalKey(Schema.Struct({ deepest: Schema.Int, ejected: Schema.Int, rebuilds: Schema.Int })),
  warnings: Schema.Array(Schema.String)
})
export type RunSummary = typeof RunSummary.Type

/**
 * A repository's runs, newest first (`oompa list --json`).
 *
 * @category models
 * @since 0.1.0
 */
export const RunList = Schema.Array(RunSummary)
export type RunList = typeof RunList.Type

/**
 * One run in full (`oompa view --json`): its summary and every event of its log, in order.
 *
 * @category models
 * @since 0.1.0
 */
export const RunView = Schema.Struct({
  summary: RunSummary,
  events: Schema.Array(Event)
})
export type RunView = typeof RunView.Type

type EventOf<Tag extends Event["_tag"]> = Extract<Event, { readonly _tag: Tag }>

const is = <Tag extends Event["_tag"]>(tag: Tag) => (event: Event): event is EventOf<Tag> => event._tag === tag

/**
 * One line on a move of main outside the merge queue, with the command that shows what it brought.
 *
 * @category rendering
 * @since 0.1.0
 */
export const describeMainMoved = (move: { readonly from: string; readonly to: string; readonly worker?: string | undefined; readonly iteration?: number | undefined }): string =>
  `main was moved outside oompa's merge queue, from ${move.from.slice(0, 12)} to ${move.to.slice(0, 12)}` +
  `${move.worker === undefined ? "" : ` (noticed after ${move.worker} iteration ${move.iteration}'s agent call)`}` +
  `; nothing was landed after it. Nobody reviewed that move: see it with git log --stat ${move.from.slice(0, 12)}..${move.to.slice(0, 12)}`

/**
 * The summary of one run's events.
 *
 * @category constructors
 * @since 0.1.0
 */
export const summarize = (runId: string, events: ReadonlyArray<Event>): RunSummary => {
  const started = events.find(is("SwarmStarted"))
  const finished = events.find(is("SwarmFinished"))
  const iterations = events.filter(is("IterationFinished"))
  const stopped = new Map(events.filter(is("WorkerFinished")).map((e) => [e.worker, e.reason] as const))
  const calls = events.filter(is("AgentFinished"))
  const limited = events.filter(is("RateLimited"))
  const estimated = calls.filter((c) => c.costUsd !== undefined && c.costEstimatedWith !== undefined)
  // The first move names who it was noticed after; the range runs to where the last one left main.
  const moves = events.filter(is("MainMovedOutside"))
  const moved = moves[0] === undefined ? undefined : { ...moves[0], to: moves[moves.length - 1]!.to }
  const built = events.filter(is("CandidateBuilt"))
  const deepest = built.reduce((most, e) => Math.max(most, e.position), 0)
  const rebuilds = built.filter((e) => e.rebuild > 0).length
  return {
    runId,
    ...(started === undefined ? {} : { branch: started.branch, startedAt: started.at }),
    outcome: finished?.outcome ?? "running",
    ...(finished === undefined ? {} : { durationMs: finished.durationMs }),
    workers: (started?.workers ?? []).map((w) => {
      const reason = stopped.get(w.id)
      return {
        id: w.id,
        role: w.role,
        agent: w.agent,
        iterations: iterations.filter((i) => i.worker === w.id).length,
        ...(reason === undefined ? {} : { stopped: reason })
      }
    }),
    // Landings, not reports of them: a copy of work main already holds (a cluster's redelivered
    // iteration) is answered with that landing's commit, and is the same landing.
    merged: new Set(events.filter(is("MergeResult")).filter((e) => e.outcome === "merged").map((e, i) => e.sha ?? `unnamed ${i}`)).size,
    rejected: iterations.filter((i) => i.outcome === "rejected" || i.outcome === "exhausted").length,
    failedTasks: events.filter((e) => e._tag === "TaskMoved" && e.to === "failed").length,
    failed: events.filter(is("TaskMoved")).filter((e) => e.to === "failed").map((e) => ({ task: e.task, reason: e.reason ?? "no reason recorded" })),
    kept: iterations.flatMap((i) => i.kept === undefined ? [] : [{
      branch: i.kept,
      worker: i.worker,
      iteration: i.iteration,
      ...(i.task === undefined ? {} : { task: i.task }),
      reason: i.detail ?? i.outcome
    }]),
    iterations: iterations.length,
    agentCalls: calls.length,
    costUsd: calls.reduce((sum, c) => sum + (c.costUsd ?? 0), 0),
    ...(estimated.length === 0 ? {} : {
      estimatedCostUsd: estimated.reduce((sum, c) => sum + (c.costUsd ?? 0), 0),
      priceTables: [...new Set(estimated.map((c) => c.costEstimatedWith!))].sort()
    }),
    ...(finished?.budget === undefined ? {} : { budget: finished.budget }),
    ...(moved === undefined ? {} : { mainMoved: { from: moved.from, to: moved.to, ...(moved.worker === undefined ? {} : { worker: moved.worker }), ...(moved.iteration === undefined ? {} : { iteration: moved.iteration }) } }),
    ...(limited.length === 0 ? {} : { rateLimits: { waits: limited.length, waitedMs: limited.reduce((sum, e) => sum + e.waitMs, 0) } }),
    ...(deepest <= 1 && rebuilds === 0 ? {} : { speculation: { deepest, ejected: events.filter(is("CandidateEjected")).length, rebuilds } }),
    warnings: events.filter(is("Warning")).map((e) => e.message)
  }
}

/**
 * The summary with a `running` outcome corrected to `died` unless `liveRunId` — the run holding the
 * lock with a live process (or one on another host, which cannot be checked) — is this run. Without
 * it, `oompa status` after a `kill -9` or a crash said "running" about a run whose process was gone
 * (issue 8).
 *
 * @category constructors
 * @since 0.1.0
 */
export const withLiveness = (summary: RunSummary, liveRunId: string | undefined): RunSummary =>
  summary.outcome === "running" && summary.runId !== liveRunId ? { ...summary, outcome: "died" } : summary
