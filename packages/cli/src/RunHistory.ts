/**
 * A run's summary as `oompa status` and `oompa view` print it. The summary itself — derived from the
 * run log alone — is `@oompa/core`'s `RunSummary`, so embedders and `--json` readers get the same.
 *
 * @since 0.1.0
 */
import { RunSummary } from "@oompa/core"
import * as Output from "./Output.ts"
import { costText } from "./Summary.ts"

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`

/**
 * The summary as lines.
 *
 * @category rendering
 * @since 0.1.0
 */
export const summaryLines = (summary: RunSummary.RunSummary): ReadonlyArray<string> => [
  `run ${summary.runId}: ${summary.outcome}${summary.branch ? ` on ${summary.branch}` : ""}${summary.durationMs === undefined ? "" : ` in ${seconds(summary.durationMs)}`}`,
  `  ${summary.merged} merged, ${summary.rejected} rejected, ${summary.failedTasks} failed; ${Output.count(summary.iterations, "iteration")}, ` +
  `${Output.count(summary.agentCalls, "agent call")}${costText(summary.costUsd, summary.estimatedCostUsd ?? 0, summary.priceTables ?? [])}`,
  ...summary.workers.map((w) =>
    `  ${w.id.padEnd(10)} ${w.role.padEnd(9)} ${w.agent.padEnd(28)} ${String(w.iterations).padStart(3)} ${Output.noun(w.iterations, "iteration")}${w.stopped ? `; stopped: ${w.stopped}` : ""}`),
  ...(summary.outcome === "died" ? ["  its process is gone (killed or crashed) without finishing; oompa cleanup repairs what it left (so does the next run)"] : []),
  ...(summary.budget === undefined ? [] : [`  budget ${summary.budget} ended the run`]),
  ...(summary.rateLimits === undefined ? [] : [`  usage or rate limits: ${Output.count(summary.rateLimits.waits, "wait")}, ${seconds(summary.rateLimits.waitedMs)} in all`]),
  ...(summary.speculation === undefined ? [] : [
    `  merge queue: up to ${Output.count(summary.speculation.deepest, "candidate")} tested at once; ${summary.speculation.ejected} ejected, ${Output.count(summary.speculation.rebuilds, "rebuild")}`
  ]),
  ...summary.failed.map((f) => `  failed: task ${f.task}: ${f.reason}`),
  ...summary.kept.map((k) =>
    `  kept: branch ${k.branch} (${k.worker} iteration ${k.iteration}${k.task === undefined ? "" : `, task ${k.task}`}): ${k.reason}; to merge it: git switch ${summary.branch ?? "main"} && git merge ${k.branch}`),
  ...(summary.mainMoved === undefined ? [] : [`  ${RunSummary.describeMainMoved(summary.mainMoved)}`]),
  ...summary.warnings.map((w) => `  warning: ${w}`)
]
