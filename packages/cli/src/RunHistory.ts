/**
 * What a run's log says about it (SPEC F9: `status`, `list`, `view`): a summary derived from the
 * events alone, so a finished, crashed or still-running run can be explained from its log.
 *
 * @since 0.1.0
 */
import type { Event } from "@oompa/core"

/**
 * @category models
 * @since 0.1.0
 */
export interface RunSummary {
  readonly runId: string
  readonly branch: string | undefined
  readonly startedAt: number | undefined
  /**
   * `running` until a `SwarmFinished` event: the run is live, or it died without finishing. The log
   * alone cannot tell which; `withLiveness` (given who holds the run lock) turns a dead one into `died`.
   */
  readonly outcome: "ok" | "failed" | "interrupted" | "running" | "died"
  readonly durationMs: number | undefined
  readonly workers: ReadonlyArray<{ readonly id: string; readonly role: string; readonly agent: string; readonly iterations: number; readonly stopped: string | undefined }>
  readonly merged: number
  readonly rejected: number
  readonly failedTasks: number
  readonly iterations: number
  readonly agentCalls: number
  readonly costUsd: number
  readonly budget: string | undefined
  readonly warnings: ReadonlyArray<string>
}

/**
 * The summary of one run's events.
 *
 * @category constructors
 * @since 0.1.0
 */
export const summarize = (runId: string, events: ReadonlyArray<Event.Event>): RunSummary => {
  const started = events.find((e): e is Extract<Event.Event, { _tag: "SwarmStarted" }> => e._tag === "SwarmStarted")
  const finished = events.find((e): e is Extract<Event.Event, { _tag: "SwarmFinished" }> => e._tag === "SwarmFinished")
  const iterations = events.filter((e): e is Extract<Event.Event, { _tag: "IterationFinished" }> => e._tag === "IterationFinished")
  const stopped = new Map(events.flatMap((e) => (e._tag === "WorkerFinished" ? [[e.worker, e.reason] as const] : [])))
  const calls = events.filter((e): e is Extract<Event.Event, { _tag: "AgentFinished" }> => e._tag === "AgentFinished")
  return {
    runId,
    branch: started?.branch,
    startedAt: started?.at,
    outcome: finished?.outcome ?? "running",
    durationMs: finished?.durationMs,
    workers: (started?.workers ?? []).map((w) => ({
      id: w.id,
      role: w.role,
      agent: w.agent,
      iterations: iterations.filter((i) => i.worker === w.id).length,
      stopped: stopped.get(w.id)
    })),
    merged: events.filter((e) => e._tag === "MergeResult" && e.outcome === "merged").length,
    rejected: iterations.filter((i) => i.outcome === "rejected" || i.outcome === "exhausted").length,
    failedTasks: events.filter((e) => e._tag === "TaskMoved" && e.to === "failed").length,
    iterations: iterations.length,
    agentCalls: calls.length,
    costUsd: calls.reduce((sum, c) => sum + (c.costUsd ?? 0), 0),
    budget: finished?.budget,
    warnings: events.flatMap((e) => (e._tag === "Warning" ? [e.message] : []))
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

/**
 * The summary as lines.
 *
 * @category rendering
 * @since 0.1.0
 */
export const summaryLines = (summary: RunSummary): ReadonlyArray<string> => [
  `run ${summary.runId}: ${summary.outcome}${summary.branch ? ` on ${summary.branch}` : ""}${summary.durationMs === undefined ? "" : ` in ${Math.round(summary.durationMs / 1000)} s`}`,
  `  ${summary.merged} merged, ${summary.rejected} rejected, ${summary.failedTasks} failed; ${summary.iterations} iterations, ${summary.agentCalls} agent calls${summary.costUsd > 0 ? `, $${summary.costUsd.toFixed(2)}` : ""}`,
  ...summary.workers.map((w) => `  ${w.id.padEnd(10)} ${w.role.padEnd(9)} ${w.agent.padEnd(28)} ${String(w.iterations).padStart(3)} iterations${w.stopped ? `; stopped: ${w.stopped}` : ""}`),
  ...(summary.outcome === "died" ? ["  its process is gone (killed or crashed) without finishing; oompa cleanup repairs what it left (so does the next run)"] : []),
  ...(summary.budget === undefined ? [] : [`  budget ${summary.budget} ended the run`]),
  ...summary.warnings.map((w) => `  warning: ${w}`)
]
