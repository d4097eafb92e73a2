/**
 * The end-of-run summary (SPEC F9, F12, F15): duration, merged, rejected, failed, per worker, the
 * per-phase timings, which budget ended the run, cost and tokens, and the kept branches with the
 * command to merge them. Pure: a report in, lines out.
 *
 * @since 0.1.0
 */
import { type Event, RunSummary, Swarm } from "@oompa/core"
import * as Output from "./Output.ts"

const seconds = (ms: number): string => (ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`)

const phaseNames: ReadonlyArray<[keyof Event.PhaseTimings, string]> = [
  ["setup", "setup"],
  ["agent", "agent"],
  ["review", "review"],
  ["fix", "fix"],
  ["git", "git"],
  ["test", "test"],
  ["mergeWait", "merge wait"]
]

/**
 * The dollars of a run for a summary line: `, $1.23`, with the share estimated from token counts
 * and the price tables it came from, `, $1.23 (of which $0.80 estimated from tokens with
 * @pydantic/genai-prices 0.1.8)`; nothing when no call had a cost.
 *
 * @category rendering
 * @since 0.1.0
 */
export const costText = (costUsd: number, estimatedCostUsd: number, priceTables: ReadonlyArray<string>): string => {
  if (!(costUsd > 0)) return ""
  if (!(estimatedCostUsd > 0)) return `, $${costUsd.toFixed(2)}`
  const tables = priceTables.join(", ")
  return estimatedCostUsd >= costUsd
    ? `, $${costUsd.toFixed(2)} (estimated from tokens with ${tables})`
    : `, $${costUsd.toFixed(2)} (of which $${estimatedCostUsd.toFixed(2)} estimated from tokens with ${tables})`
}

const countOutcomes = (worker: Pick<Swarm.SwarmReport["workers"][number], "iterations">): string => {
  const counts = new Map<string, number>()
  for (const i of worker.iterations) counts.set(i.outcome, (counts.get(i.outcome) ?? 0) + 1)
  return [...counts.entries()].map(([outcome, n]) => `${n} ${outcome}`).join(", ") || "no iterations"
}

/**
 * The summary's lines.
 *
 * @category rendering
 * @since 0.1.0
 */
export const summaryLines = (report: Swarm.SwarmReport): ReadonlyArray<string> => {
  const lines = [
    `run ${report.runId}: ${report.outcome} in ${seconds(report.durationMs)} — ${report.merged} merged, ${report.rejected} rejected, ${report.failed} failed`
  ]
  for (const worker of report.workers) {
    const n = worker.iterations.length
    lines.push(`  ${worker.worker.padEnd(10)} ${String(n).padStart(3)} ${Output.noun(n, "iteration")} (${countOutcomes(worker)}); stopped: ${worker.reason}`)
  }
  const phases = phaseNames.filter(([key]) => report.timings[key] > 0).map(([key, name]) => `${name} ${seconds(report.timings[key])}`)
  if (phases.length > 0) lines.push(`  time per phase: ${phases.join(", ")}`)
  const cost = costText(report.costUsd, report.estimatedCostUsd, report.priceTables)
  const noCost = report.noCost.length > 0 ? ` (no cost known for calls of ${report.noCost.join(", ")}: none reported, no price)` : ""
  lines.push(`  ${Output.count(report.agentCalls, "agent call")}, ${Output.count(report.tokens.input + report.tokens.output, "token")}${cost}${noCost}`)
  if (report.budget !== undefined) lines.push(`  budget ${report.budget} ended the run`)
  const iterations = report.workers.flatMap((w) => w.iterations)
  if (Swarm.noIterationSucceeded(iterations)) {
    lines.push(`  no iteration succeeded (${countOutcomes({ iterations })}): nothing was merged`)
  }
  if (report.mainMoved !== undefined) lines.push(`  ${RunSummary.describeMainMoved(report.mainMoved)}`)
  if (report.unavailable !== undefined) lines.push(`  stopped: ${report.unavailable}; no task attempt was counted`)
  for (const kept of report.unmerged) {
    lines.push(`  approved but not merged${kept.task === undefined ? "" : ` (task ${kept.task})`}: branch ${kept.branch} kept` +
      `${kept.files.length > 0 ? `, conflicts in ${kept.files.join(", ")}` : ""}; to merge it: git switch ${report.branch} && git merge ${kept.branch}`)
  }
  return lines
}
