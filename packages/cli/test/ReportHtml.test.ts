/**
 * Goal: the report page carries every lane, task and failure of its run, in one file that needs
 * nothing else; texts from the log (which agents write) are escaped everywhere, the data the page's
 * script reads decodes back to the log's lines, and the page's Content-Security-Policy allows its
 * own script and no other.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Event, RunReport } from "@oompa/core"
import { createHash } from "node:crypto"
import * as ReportHtml from "../src/report/ReportHtml.ts"

const t0 = 1_700_000_000_000
const timings = { setup: 0, agent: 100, review: 0, fix: 0, git: 0, test: 0, mergeWait: 0 }
const hostile = `"><img src=x onerror=alert(1)><script>alert(2)</script>`
const events: ReadonlyArray<Event.Event> = [
  {
    _tag: "SwarmStarted", at: t0, runId: "1a2b3c4d", branch: "main", base: "", review: true, dryRun: false,
    workers: [{ id: "w0", role: "executor", agent: "claude", iterations: 2 }, { id: `w1${hostile}`, role: "executor", agent: "codex", iterations: 2 }]
  },
  { _tag: "IterationStarted", at: t0 + 5, worker: "w0", iteration: 1, branch: "oompa/1a2b3c4d/w0-1", base: "abc" },
  { _tag: "TaskClaimed", at: t0 + 6, worker: "w0", iteration: 1, task: `T${hostile}` },
  { _tag: "VerdictGiven", at: t0 + 50, worker: "w0", iteration: 1, attempt: 1, verdict: "rejected", clear: true, feedback: `no ${hostile}`, reviewer: "codex" },
  { _tag: "IterationFinished", at: t0 + 60, worker: "w0", iteration: 1, outcome: "rejected", task: `T${hostile}`, reviews: 1, timings },
  { _tag: "TaskMoved", at: t0 + 61, task: `T${hostile}`, from: "current", to: "failed", reason: `rejected: ${hostile}` },
  { _tag: "Warning", at: t0 + 62, message: `careful ${hostile}` },
  { _tag: "SwarmFinished", at: t0 + 100, outcome: "failed", durationMs: 100, merged: 0, rejected: 1, failed: 1 }
]

const dataOf = (html: string) => {
  const match = /<script type="application\/json" id="oompa-data">(.*?)<\/script>/s.exec(html)
  assert.isNotNull(match)
  return JSON.parse(match![1]!) as { readonly lines: ReadonlyArray<[number, string, string, string]> }
}

describe("ReportHtml", () => {
  const html = ReportHtml.page(RunReport.make("1a2b3c4d", events))

  it("escapes every text from the log: no element, attribute or script an agent wrote reaches the page", () => {
    assert.notInclude(html, "<img")
    assert.notInclude(html, "onerror=alert(1)>")
    assert.notInclude(html, "<script>alert(2)")
    assert.include(html, "&lt;script&gt;alert(2)&lt;/script&gt;")
    // Two scripts only: the data (not run) and the page's own.
    assert.strictEqual(html.match(/<script/g)?.length, 2)
    assert.notInclude(html, "http://")
    assert.notInclude(html, "https://")
  })

  it("carries the log's lines to its script intact, however hostile their text", () => {
    const data = dataOf(html)
    const report = RunReport.make("1a2b3c4d", events)
    assert.deepStrictEqual(data.lines, report.lines.map((l) => [l.at, l.worker ?? "", l.tag, l.text]))
    assert.include(data.lines.find((l) => l[2] === "Warning")![3], hostile)
  })

  it("allows only its own script, by hash, and loads nothing from anywhere", () => {
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!
    const script = /<script>(.*)<\/script><\/body>/s.exec(html)![1]!
    const hash = createHash("sha256").update(script).digest("base64")
    assert.include(csp, `script-src 'sha256-${hash}'`)
    assert.include(csp, "default-src 'none'")
  })

  it("shows every worker's lane, every task, and each failed task's reason", () => {
    assert.include(html, `data-worker="w0"`)
    assert.include(html, `data-worker="w1&quot;&gt;&lt;img`)
    assert.match(html, /<tr class="failed-task" data-task="T&quot;&gt;/)
    assert.include(html, "rejected: &quot;&gt;&lt;img")
    assert.include(html, "1 warning")
  })
})
