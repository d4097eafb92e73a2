/**
 * What `oompa view --html` and each live update of `oompa serve` cost on a large run (issue 22):
 * building the `RunReport` of a 10,000-event log and rendering its page, against decoding that log
 * (what `oompa view` does anyway), measured in the same process, alternating, medians of 9 rounds.
 * Also the page's size. No goal was set in numbers; the figure to watch is the ratio.
 *
 * Run: `node --conditions=@oompa/source bench/src/report.bench.ts` (Node 22).
 */
import { type Event, RunReport } from "@oompa/core"
import { JsonlEventLog } from "@oompa/adapters-node"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ReportHtml from "../../packages/cli/src/report/ReportHtml.ts"

const events = (count: number): ReadonlyArray<Event.Event> => {
  const t0 = 1_700_000_000_000
  const timings = { setup: 0, agent: 400, review: 100, fix: 0, git: 20, test: 300, mergeWait: 5 }
  const out: Array<Event.Event> = [{
    _tag: "SwarmStarted", at: t0, runId: "0e0e0e0e", branch: "main", base: "abc", review: true, dryRun: false,
    workers: Array.from({ length: 16 }, (_, i) => ({ id: `w${i}`, role: "executor" as const, agent: "claude:opus", iterations: 200 }))
  }]
  let at = t0
  for (let n = 0; out.length < count; n++) {
    const worker = `w${n % 16}`
    const iteration = Math.floor(n / 16) + 1
    const task = `task-${n}`
    const rejected = n % 11 === 0
    out.push(
      { _tag: "TaskClaimed", at: (at += 5), worker, iteration, task },
      { _tag: "IterationStarted", at: (at += 10), worker, iteration, branch: `oompa/0e0e0e0e/${worker}-${iteration}`, base: "abc" },
      { _tag: "AgentFinished", at: (at += 400), worker, iteration, call: "propose", agent: "claude:opus", exitCode: 0, durationMs: 400, timedOut: false, tokens: { input: 5000, output: 300 }, costUsd: 0.01 },
      { _tag: "VerdictGiven", at: (at += 100), worker, iteration, attempt: 1, verdict: rejected ? "rejected" : "approved", clear: true, feedback: rejected ? "wrong approach ".repeat(20) : "", reviewer: "codex" },
      ...(rejected ? [] : [
        { _tag: "TestResult", at: (at += 300), worker, iteration, sha: `${n}`.padStart(40, "0"), passed: true, durationMs: 300, output: "" } as const,
        { _tag: "MergeResult", at: (at += 20), worker, iteration, outcome: "merged", sha: `${n}`.padStart(40, "0"), branch: "b", files: ["src/a.ts"] } as const
      ]),
      { _tag: "IterationFinished", at: (at += 1), worker, iteration, outcome: rejected ? "rejected" : "merged", task, reviews: 1, timings }
    )
  }
  return out
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const main = Effect.gen(function*() {
  const log = events(10_000)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-report-bench-"))
  const file = path.join(dir, "events.jsonl")
  fs.writeFileSync(file, log.map((e) => JsonlEventLog.encodeLine(e)).join(""))
  const decodeMs: Array<number> = []
  const reportMs: Array<number> = []
  let bytes = 0
  for (let round = 0; round < 9; round++) {
    let started = performance.now()
    const decoded = yield* JsonlEventLog.readEvents(file)
    decodeMs.push(performance.now() - started)
    started = performance.now()
    bytes = ReportHtml.page(RunReport.make("0e0e0e0e", decoded)).length
    reportMs.push(performance.now() - started)
  }
  fs.rmSync(dir, { recursive: true, force: true })
  const [d, r] = [median(decodeMs), median(reportMs)]
  console.log(`report of a ${log.length}-event run: build + render ${r.toFixed(0)} ms, decoding the log ${d.toFixed(0)} ms (ratio ${(r / d).toFixed(2)}x); page ${(bytes / 1e6).toFixed(2)} MB`)
})

Effect.runPromise(main.pipe(Effect.provide(NodeServices.layer))).catch((e) => {
  console.error(e)
  process.exit(1)
})
