/**
 * A run's report as one self-contained HTML page (issue 22): inline CSS, SVG and one script, no
 * network, opens from disk. Every text in it comes from the run log, which agents' output reaches
 * (feedback, task ids, errors), so everything is escaped, and the page's Content-Security-Policy
 * runs only its own script (by hash): a text that slipped through still could not run.
 *
 * `page` is the whole document; `body` is what the live dashboard (`oompa serve`) swaps in as a run
 * goes on. Large runs stay light: bars are plain SVG, and the event log (10k lines) is data the
 * script shows 200 lines at a time, filtered by text, worker or type.
 *
 * @since 0.1.0
 */
import { Event, RunReport } from "@oompa/core"
import { createHash } from "node:crypto"
import { reportScript } from "./reportScript.ts"
import { reportStyle } from "./reportStyle.ts"

/** Text for HTML content and attribute values. */
export const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "\"" ? "&quot;" : "&#39;")

/** JSON safe inside a `<script type="application/json">`: no `<`, `>`, `&` or line separators. */
export const scriptJson = (value: unknown): string =>
  JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const seconds = (ms: number): string =>
  ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 3_600_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${(ms / 3_600_000).toFixed(1)} h`
const dollars = (usd: number): string => usd === 0 ? "$0" : usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`
const count = (n: number): string => n.toLocaleString("en-US")

/** The words of the legend, per bar kind. */
export const kindLabel: Record<RunReport.BarKind, string> = {
  merged: "merged",
  fixed: "merged after fixes",
  rejected: "rejected",
  policy: "policy",
  "test-failed": "test failed",
  conflict: "conflict",
  error: "error",
  timeout: "timeout",
  other: "other (no changes, budget, dry run…)",
  running: "running"
}

const phases: ReadonlyArray<Event.Phase> = ["setup", "agent", "review", "fix", "git", "test", "mergeWait"]
const phaseLabel: Record<Event.Phase, string> = { setup: "setup", agent: "agent", review: "review", fix: "fix", git: "git", test: "test gate", mergeWait: "merge wait" }

const WIDTH = 1000
const LANE = 22
const LABEL = 120

/** Where a time falls on the timeline's x axis. */
const xOf = (report: RunReport.RunReport, ms: number) =>
  LABEL + (report.span === 0 ? 0 : (Math.min(report.span, Math.max(0, ms)) / report.span) * (WIDTH - LABEL - 10))

const tickStep = (span: number): number => {
  const target = span / 8
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].map((s) => s * 1000)
  return steps.find((s) => s >= target) ?? Math.ceil(target / 3_600_000) * 3_600_000
}

const axis = (report: RunReport.RunReport, height: number): string => {
  const step = tickStep(report.span)
  const ticks: Array<string> = []
  for (let t = 0, n = 0; t <= report.span && n <= 40; t += step, n++) {
    const x = xOf(report, t).toFixed(1)
    ticks.push(`<line class="tick" x1="${x}" x2="${x}" y1="0" y2="${height}"/><text class="tick-label" x="${x}" y="${height + 12}">${escape(seconds(t))}</text>`)
  }
  return ticks.join("")
}

const barTitle = (it: RunReport.Iteration): string =>
  [`${it.worker} iteration ${it.iteration}${it.task === undefined ? "" : `: ${it.task}`}`,
    `${kindLabel[it.kind]}${it.outcome === undefined ? "" : ` (${it.outcome})`}`,
    it.end === undefined ? "still running" : seconds(it.end - it.start),
    ...(it.detail === undefined ? [] : [it.detail.split("\n")[0]!.slice(0, 200)])].join("\n")

const timeline = (report: RunReport.RunReport): string => {
  let index = 0
  const lanes = report.workers.map((w, lane) => {
    const y = lane * LANE
    const bars = w.iterations.map((it) => {
      const x0 = xOf(report, it.start)
      const x1 = xOf(report, it.end ?? report.span)
      return `<rect class="bar k-${it.kind}" data-i="${index++}" x="${x0.toFixed(1)}" y="${y + 3}" width="${Math.max(1.5, x1 - x0 - 0.5).toFixed(1)}" height="${LANE - 6}"><title>${escape(barTitle(it))}</title></rect>`
    }).join("")
    return `<g class="lane" data-worker="${escape(w.id)}"><text class="lane-label" x="4" y="${y + 15}">${escape(w.id)}</text>${bars}</g>`
  })
  const rows = report.merges.reduce((most, m) => Math.max(most, m.row + 1), 1)
  const top = report.workers.length * LANE + 8
  const merges = report.merges.map((m) => {
    const x0 = xOf(report, m.start)
    const x1 = xOf(report, m.end)
    const y = top + m.row * 12
    const cls = m.what === "test" ? `test t-${m.outcome}` : `merge m-${m.outcome}`
    const title = `${m.worker} iteration ${m.iteration}: ${m.what === "test" ? `tests ${m.outcome} in ${seconds(m.end - m.start)}` : `merge ${m.outcome}`}${m.sha === undefined ? "" : ` ${m.sha.slice(0, 10)}`}${m.position === undefined ? "" : ` (candidate ${m.position})`}`
    return `<rect class="${cls}" x="${x0.toFixed(1)}" y="${y + 2}" width="${Math.max(m.what === "merge" ? 3 : 1.5, x1 - x0).toFixed(1)}" height="9"><title>${escape(title)}</title></rect>`
  }).join("")
  const height = top + rows * 12 + 6
  return `<svg class="timeline" viewBox="0 0 ${WIDTH} ${height + 18}" preserveAspectRatio="none" role="img" aria-label="iterations per worker over time">` +
    `${axis(report, height)}${lanes.join("")}<g class="lane merge-lane"><text class="lane-label" x="4" y="${top + 10}">merge queue</text>${merges}</g></svg>`
}

const legend = (): string =>
  `<ul class="legend">${RunReport.barKinds.map((k) => `<li><span class="swatch k-${k}"></span>${escape(kindLabel[k])}</li>`).join("")}` +
  `<li><span class="swatch test t-passed"></span>tests passed</li><li><span class="swatch test t-failed"></span>tests failed</li><li><span class="swatch merge m-merged"></span>landed</li></ul>`

const header = (report: RunReport.RunReport): string => {
  const s = report.summary
  const stats: Array<[string, string]> = [
    ["outcome", s.outcome],
    ["duration", seconds(s.durationMs ?? report.span)],
    ["workers", String(report.workers.length)],
    ["iterations", count(s.iterations)],
    ["merged", count(s.merged)],
    ["rejected", count(s.rejected)],
    ["failed tasks", count(s.failedTasks)],
    ["agent calls", count(s.agentCalls)],
    ["cost", `${dollars(s.costUsd)}${s.estimatedCostUsd === undefined ? "" : " (part estimated)"}`],
    ["tokens", `${count(report.tokens.input)} in / ${count(report.tokens.output)} out`]
  ]
  return `<header><h1>oompa run <code>${escape(s.runId)}</code> <span class="outcome o-${escape(s.outcome)}">${escape(s.outcome)}</span></h1>` +
    `<p class="sub">${s.branch === undefined ? "" : `on <code>${escape(s.branch)}</code>, `}${s.startedAt === undefined ? "" : `started ${escape(new Date(s.startedAt).toISOString().replace("T", " ").slice(0, 19))} UTC`}</p>` +
    `<dl class="stats">${stats.map(([k, v]) => `<div><dt>${escape(k)}</dt><dd>${escape(v)}</dd></div>`).join("")}</dl>` +
    `${s.budget === undefined ? "" : `<p class="alert">Stopped by the ${escape(s.budget)} budget.</p>`}` +
    `${s.mainMoved === undefined ? "" : `<p class="alert">${escape(RunReport.describe.MainMovedOutside({ _tag: "MainMovedOutside", at: 0, ...s.mainMoved }))}</p>`}` +
    `${s.warnings.length === 0 ? "" : `<details class="warnings"><summary>${s.warnings.length} warning${s.warnings.length === 1 ? "" : "s"}</summary><ul>${s.warnings.map((w) => `<li>${escape(w)}</li>`).join("")}</ul></details>`}</header>`
}

const failedTasks = (report: RunReport.RunReport): string => {
  const failed = report.tasks.filter((t) => t.status === "failed")
  const kept = report.summary.kept
  if (failed.length === 0 && kept.length === 0) return `<section id="failed"><h2>Failed tasks</h2><p class="none">No task failed and no approved work was left unlanded.</p></section>`
  const rows = failed.map((t) =>
    `<tr class="failed-task" data-task="${escape(t.id)}"><td><code>${escape(t.id)}</code></td><td><pre>${escape(t.reason ?? "")}</pre></td>` +
    `<td>${t.kept.length === 0 ? "—" : t.kept.map((b) => `<code>${escape(b)}</code><br><span class="hint">git log -p main..${escape(b)}</span>`).join("<br>")}</td></tr>`)
  const keptOnly = kept.filter((k) => !failed.some((t) => t.id === k.task)).map((k) =>
    `<tr class="kept"><td>${k.task === undefined ? "—" : `<code>${escape(k.task)}</code>`}</td><td><pre>${escape(k.reason)}</pre></td><td><code>${escape(k.branch)}</code><br><span class="hint">git log -p main..${escape(k.branch)}</span></td></tr>`)
  return `<section id="failed"><h2>Failed tasks and kept work</h2><table><thead><tr><th>task</th><th>why</th><th>kept branch</th></tr></thead><tbody>${[...rows, ...keptOnly].join("")}</tbody></table></section>`
}

const reviewsHtml = (reviews: ReadonlyArray<RunReport.Review>): string =>
  reviews.length === 0 ? "—" : `<details><summary>${reviews.map((r) => `<span class="verdict v-${r.verdict}">${escape(r.verdict)}</span>`).join(" ")}</summary>` +
    reviews.map((r) => `<div class="review"><b>${escape(r.worker)} #${r.iteration}, review ${r.attempt} by ${escape(r.reviewer)}: ${escape(r.verdict)}</b><pre>${escape(r.feedback)}</pre></div>`).join("") + `</details>`

const tasksTable = (report: RunReport.RunReport): string =>
  `<section id="tasks"><h2>Tasks (${report.tasks.length})</h2><table class="tasks"><thead><tr><th>task</th><th>status</th><th>claims</th><th>attempts</th><th>review verdicts and feedback</th></tr></thead><tbody>` +
  report.tasks.map((t) =>
    `<tr><td><code>${escape(t.id)}</code></td><td><span class="status s-${escape(t.status)}">${escape(t.status)}</span></td><td>${t.claims}</td>` +
    `<td>${t.attempts.map((a) => `<span class="chip">${escape(a.worker)} #${a.iteration}: ${escape(a.outcome)}</span>`).join(" ") || "—"}</td><td>${reviewsHtml(t.reviews)}</td></tr>`).join("") +
  `</tbody></table></section>`

const phaseBar = (timings: Event.PhaseTimings): string => {
  const total = phases.reduce((s, p) => s + timings[p], 0)
  if (total === 0) return `<div class="phasebar empty"></div>`
  return `<div class="phasebar">${phases.filter((p) => timings[p] > 0).map((p) =>
    `<span class="ph ph-${p}" style="width:${((timings[p] / total) * 100).toFixed(2)}%" title="${escape(`${phaseLabel[p]}: ${seconds(timings[p])} (${((timings[p] / total) * 100).toFixed(0)}%)`)}"></span>`).join("")}</div>`
}

const workersTable = (report: RunReport.RunReport): string =>
  `<section id="workers"><h2>Workers: cost, tokens and time by phase</h2><table><thead><tr><th>worker</th><th>role</th><th>agent</th><th>iterations</th><th>calls</th><th>tokens in</th><th>tokens out</th><th>cost</th><th>stopped</th><th>time by phase</th></tr></thead><tbody>` +
  report.workers.map((w) =>
    `<tr class="worker-row" data-worker="${escape(w.id)}"><td><code>${escape(w.id)}</code></td><td>${escape(w.role)}</td><td>${escape(w.agent)}</td><td>${w.iterations.length}</td><td>${w.calls}</td>` +
    `<td>${count(w.tokens.input)}</td><td>${count(w.tokens.output)}</td><td>${dollars(w.costUsd)}</td><td>${escape(w.stopped ?? "—")}</td><td>${phaseBar(w.timings)}</td></tr>`).join("") +
  `</tbody></table>` +
  `<h3>Where the time went (all workers)</h3>${phaseBar(report.timings)}<table class="phases"><thead><tr><th>phase</th><th>time</th><th>share</th></tr></thead><tbody>` +
  (() => {
    const total = phases.reduce((s, p) => s + report.timings[p], 0)
    return phases.map((p) => `<tr><td><span class="swatch ph-${p}"></span>${phaseLabel[p]}</td><td>${seconds(report.timings[p])}</td><td>${total === 0 ? "—" : `${((report.timings[p] / total) * 100).toFixed(1)}%`}</td></tr>`).join("")
  })() + `</tbody></table></section>`

const eventsSection = (report: RunReport.RunReport): string => {
  const tags = Object.keys(Event.Event.cases).filter((t) => (report.counts as Record<string, number | undefined>)[t] !== undefined)
  return `<section id="events"><h2>Events (${count(report.lines.length)})</h2>` +
    `<div class="filters"><input id="ev-text" type="search" placeholder="filter text" aria-label="filter events by text">` +
    `<select id="ev-worker" aria-label="worker"><option value="">every worker</option>${report.workers.map((w) => `<option>${escape(w.id)}</option>`).join("")}</select>` +
    `<select id="ev-tag" aria-label="event type"><option value="">every type</option>${tags.map((t) => `<option>${escape(t)}</option>`).join("")}</select> <span id="ev-count"></span></div>` +
    `<table class="events"><thead><tr><th>time</th><th>worker</th><th>type</th><th>what</th></tr></thead><tbody id="ev-rows"></tbody></table>` +
    `<button id="ev-more" type="button" hidden>show more</button><noscript><p>The event log needs JavaScript; <code>oompa view ${escape(report.summary.runId)}</code> prints it.</p></noscript></section>`
}

/** What the page's script reads: each bar's details and the event log. */
const data = (report: RunReport.RunReport) => ({
  span: report.span,
  iterations: report.workers.flatMap((w) => w.iterations.map((it) => ({
    worker: it.worker, iteration: it.iteration, task: it.task, kind: it.kind, kindLabel: kindLabel[it.kind], outcome: it.outcome,
    start: it.start, end: it.end, detail: it.detail, kept: it.kept, timings: it.timings, merge: it.merge, policy: it.policy,
    calls: it.calls, reviews: it.reviews
  }))),
  lines: report.lines.map((l) => [l.at, l.worker ?? "", l.tag, l.text])
})

/**
 * The part of the page that changes as the run goes on.
 *
 * @since 0.1.0
 */
export const body = (report: RunReport.RunReport, now?: ReadonlyArray<string>): string =>
  `${header(report)}${now === undefined ? "" : `<section id="now"><h2>Now</h2><pre class="now">${escape(now.join("\n"))}</pre></section>`}<section id="timeline"><h2>Timeline</h2>${legend()}${timeline(report)}<div id="detail" hidden></div></section>` +
  `${failedTasks(report)}${tasksTable(report)}${workersTable(report)}${eventsSection(report)}` +
  `<script type="application/json" id="oompa-data">${scriptJson(data(report))}</script>`

/** The script's hash, for the page's Content-Security-Policy. */
export const scriptHash = `sha256-${createHash("sha256").update(reportScript).digest("base64")}`

/**
 * The whole page. `live`: the dashboard's paths for updates (Server-Sent Events) and stopping,
 * and what each worker and the merge queue are doing now (the terminal's progress lines).
 *
 * @since 0.1.0
 */
export const page = (report: RunReport.RunReport, live?: { readonly updates: string; readonly stop: string; readonly now: ReadonlyArray<string> }): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
  `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '${scriptHash}'; connect-src 'self'; form-action 'none'; base-uri 'none'">` +
  `<meta name="generator" content="oompa">` +
  `<title>oompa run ${escape(report.summary.runId)}: ${escape(report.summary.outcome)}</title><style>${reportStyle}</style></head>` +
  `<body${live === undefined ? "" : ` data-updates="${escape(live.updates)}" data-stop="${escape(live.stop)}"`}>` +
  `${live === undefined ? "" : `<div id="live"><span id="live-state">live</span> <input id="stop-token" type="password" placeholder="stop token (printed by oompa serve)" aria-label="stop token" autocomplete="off"> <button id="stop" type="button">Stop the run</button> <span id="stop-answer"></span></div>`}` +
  `<main id="report">${body(report, live?.now)}</main><script>${reportScript}</script></body></html>`
