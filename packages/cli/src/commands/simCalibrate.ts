/**
 * `oompa sim calibrate [--runs N] [--out FILE] [--json]` (issue 23): fits what the repository's
 * last N finished runs measured — per agent and call kind, per reviewer, the test gate and the
 * merge queue (`Calibration` of `@oompa/core/simulation`) — writes it as a calibration file
 * (default `.oompa/calibration.json`), whole or not at all, and prints a short table.
 *
 * @since 0.1.0
 */
import { Effect, Option, Path, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { JsonlEventLog, RunPaths } from "@oompa/adapters-node"
import { Ids } from "@oompa/core"
import { Calibration } from "@oompa/core/simulation"
import { UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as WholeFile from "../WholeFile.ts"
import { currentSession, liveRunId } from "./inspect.ts"

const defaultRuns = 10

/** `12.3 s`, `850 ms`, `4.2 min`: what a latency column shows. */
export const duration = (ms: number | undefined): string => {
  if (ms === undefined) return "-"
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`
  return `${(ms / 60_000).toFixed(1)} min`
}

const percent = (rate: number): string => `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`

const shares = (v: Calibration.VerdictShares): string =>
  `approved ${percent(v.approved)}, changes asked ${percent(v.needsChanges)}, rejected ${percent(v.rejected)}`

/**
 * The calibration as the table `oompa sim calibrate` prints.
 *
 * @category rendering
 * @since 0.1.0
 */
export const tableLines = (c: Calibration.Calibration): ReadonlyArray<string> => {
  const at = (q: Calibration.Quantiles, u: number) => q.length === 0 ? undefined : Calibration.sample(q, u)
  const agentWidth = Math.max(5, ...c.agents.map((a) => a.agent.length))
  const calls = c.agents.reduce((sum, a) => sum + a.calls, 0)
  return [
    `calibrated from ${Output.count(c.runs.length, "run")} (${c.runs.map((r) => r.runId).join(", ")}): ${Output.count(calls, "agent call")}, ${Output.count(c.iterations.count, "iteration")}`,
    "",
    `${"agent".padEnd(agentWidth)}  ${"call".padEnd(16)} ${"calls".padStart(5)} ${"p50".padStart(8)} ${"p90".padStart(8)} ${"max".padStart(8)} ${"errors".padStart(6)} ${"timeouts".padStart(8)} ${"tokens in/out".padStart(15)} ${"$/call".padStart(8)}`,
    ...c.agents.map((a) =>
      `${a.agent.padEnd(agentWidth)}  ${a.call.padEnd(16)} ${String(a.calls).padStart(5)} ${duration(at(a.latencyMs, 0.5)).padStart(8)} ${duration(at(a.latencyMs, 0.9)).padStart(8)} ` +
      `${duration(at(a.latencyMs, 1)).padStart(8)} ${percent(a.errorRate).padStart(6)} ${percent(a.timeoutRate).padStart(8)} ` +
      `${(a.tokens === undefined ? "-" : `${Math.round(a.tokens.input)}/${Math.round(a.tokens.output)}`).padStart(15)} ${(a.costUsd === undefined ? "-" : `$${a.costUsd.toFixed(4)}`).padStart(8)}`),
    "",
    ...c.reviewers.flatMap((r) => [
      `reviewer ${r.reviewer}: first look (${r.first.count}) ${shares(r.first)}` +
      (r.afterFix.count === 0 ? "" : `; after a fix (${r.afterFix.count}) ${shares(r.afterFix)}`) +
      (r.unclearRate > 0 ? `; unclear ${percent(r.unclearRate)}` : "")
    ]),
    `iterations: ${percent(c.iterations.noChangeRate)} changed nothing, ${percent(c.iterations.policyRate)} stopped by the policy; ` +
    `oompa's own time p50 ${duration(at(c.iterations.overheadMs, 0.5))}, p90 ${duration(at(c.iterations.overheadMs, 0.9))}`,
    c.testGate.runs === 0
      ? "test gate: not run"
      : `test gate: ${Output.count(c.testGate.runs, "run")}, p50 ${duration(at(c.testGate.durationMs, 0.5))}, p90 ${duration(at(c.testGate.durationMs, 0.9))}, ${percent(c.testGate.failureRate)} failed`,
    `merge queue: ${Output.count(c.merges.attempts, "merge")}, ${percent(c.merges.conflictRate)} conflicted` +
    (c.merges.landingMs.length === 0 ? "" : `; its own time a landing p50 ${duration(at(c.merges.landingMs, 0.5))}, p90 ${duration(at(c.merges.landingMs, 0.9))}`),
    ...c.runs.map((r) =>
      `run ${r.runId}: ${Output.count(r.workers, "worker")}, ${r.merged} merged in ${duration(r.durationMs)}` +
      (r.claimToMergeMs.length === 0 ? "" : `, claim to merge p50 ${duration(at(r.claimToMergeMs, 0.5))}`))
  ]
}

export const calibrate = Command.make("calibrate", {
  runs: Flag.Int("runs").pipe(Flag.withDefault(defaultRuns), Flag.withDescription(`How many of the latest finished runs to read (default ${defaultRuns})`)),
  out: Flag.String("out").pipe(Flag.optional, Flag.withDescription("The calibration file to write (default .oompa/calibration.json)")),
  json: Output.jsonFlag("the calibration (Calibration of @oompa/core/simulation)")
}, ({ json, out, runs }) =>
  Effect.gen(function*() {
    if (runs < 1) return yield* new UsageError({ message: `--runs: expected a positive integer, got ${runs}` })
    const session = yield* currentSession
    const path = yield* Path.Path
    const live = yield* liveRunId(session)
    // One more than asked, so that a run still going (its log is not finished) can be left out.
    const history = yield* JsonlEventLog.readHistoryRows(session.paths, { select: { _tag: "Newest", count: runs + 1 }, liveRunId: live })
    const chosen = history.runs.filter((row) => row.runId !== live && row.outcome !== "running").slice(0, runs)
    const logs: Array<Calibration.RunLog> = []
    for (const row of chosen) {
      if (!Ids.isRunId(row.runId)) continue
      const events = yield* JsonlEventLog.readEvents(RunPaths.eventsPath(session.paths, row.runId)).pipe(
        Effect.mapError((e) => new UsageError({ message: `sim calibrate: ${e.message.split("\n")[0]}` }))
      )
      // A dry run lands nothing and calls no test gate: it would only skew the rates.
      if (events.some((e) => e._tag === "SwarmStarted" && e.dryRun)) continue
      logs.push({ runId: row.runId, events })
    }
    const fitted = Calibration.fit(logs)
    if (fitted.agents.length === 0) {
      return yield* new UsageError({ message: `sim calibrate: no agent calls in the last ${Output.count(runs, "run")} of ${session.paths.runsDir} (run a swarm first)` })
    }
    const file = Option.isSome(out) ? path.resolve(out.value) : RunPaths.calibrationPath(session.paths)
    yield* WholeFile.write(file, `${JSON.stringify(Schema.encodeSync(Calibration.Calibration)(fitted), null, 2)}\n`, (why) => new UsageError({ message: `sim calibrate: --out ${file}: ${why}` }))
    if (json) return yield* Output.json(Calibration.Calibration, fitted)
    yield* Output.lines([...tableLines(fitted), "", `wrote ${Output.shownPath(file)}`])
  })).pipe(
  Command.withDescription("Fit latency, verdict, error, cost, test-gate and conflict figures from the latest runs, for oompa sim plan"),
  Command.withExamples([
    { command: "oompa sim calibrate", description: "The last 10 finished runs, written to .oompa/calibration.json" },
    { command: "oompa sim calibrate --runs 3 --out team.json", description: "The last 3 runs, to team.json" }
  ])
)
