/**
 * `oompa view <run> --html` in a real browser (issue 22): a real swarm through the bundled CLI with
 * the prompt-driven fake agents (three executors; one task sent back once, one the reviewer always
 * rejects), its report written to a file and opened from disk in Debian's Chromium. Goal: every
 * worker's lane and the merge queue's are drawn, the failed task is listed with its reason, a bar
 * opens its iteration's details, the event log pages and filters, the page makes no request and
 * its console stays clean. A 10k-event report keeps its page small: 200 event rows at a time.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Event, RunReport } from "@oompa/core"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as ReportHtml from "../../packages/cli/src/report/ReportHtml.ts"
import { cleanupAll, oompa, runIds, scratchRepo, show } from "../cli/helpers.ts"
import { browserForFile, screenshot, watch } from "./browser.ts"

const browser = browserForFile(cleanupAll)

describe("the HTML report of a run", () => {
  it("opens from a file and shows every worker's lane, the merge queue, and the failed task's reason", async () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "claude:opus", role: "executor", count: 3, iterations: 4 }], review_model: "codex:gpt-5-codex", max_task_attempts: 1 },
      pending: ["alpha", "bravo", "charlie", "delta", "doomed"].map((id) => ({ id, summary: `Write src/${id}.txt` }))
    })
    const run = oompa(scratch, ["swarm"], { env: { E2E_FIX_ONCE: "bravo", E2E_REJECT: "doomed", E2E_DELAY_MS: "150" } })
    assert.strictEqual(run.status, 1, show(run))
    const [runId] = runIds(scratch)
    const file = path.join(scratch.root, "report.html")
    const view = oompa(scratch, ["view", runId!, "--html", file])
    assert.strictEqual(view.status, 0, show(view))
    assert.include(view.stdout, file)
    // The other spellings: --html=FILE; a file without --html, or two files, is refused.
    const equals = oompa(scratch, ["view", runId!, `--html=${file}.2.html`])
    assert.strictEqual(equals.status, 0, show(equals))
    assert.strictEqual(fs.readFileSync(`${file}.2.html`, "utf8").length, fs.readFileSync(file, "utf8").length)
    const bare = oompa(scratch, ["view", runId!, "report.html"])
    assert.strictEqual(bare.status, 2, show(bare))
    assert.include(bare.stderr, "a file is written only with --html")
    const two = oompa(scratch, ["view", runId!, "--html=a.html", "b.html"])
    assert.strictEqual(two.status, 2, show(two))
    assert.include(two.stderr, "two files for --html")
    const log = fs.readFileSync(path.join(scratch.repo, ".oompa/runs", runId!, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Event.Event)
    const workers = (log[0] as Extract<Event.Event, { _tag: "SwarmStarted" }>).workers.map((w) => w.id)
    assert.strictEqual(workers.length, 3)

    const page = await browser().newPage({ viewport: { width: 1280, height: 900 } })
    const seen = watch(page)
    await page.goto(pathToFileURL(file).href)
    assert.deepStrictEqual(await page.locator("svg.timeline .lane[data-worker]").evaluateAll((gs) => gs.map((g) => g.getAttribute("data-worker"))), workers)
    assert.strictEqual(await page.locator("svg.timeline .merge-lane").count(), 1)
    // Four landings (bravo after its fix) and the rejected task's bar.
    assert.strictEqual(await page.locator("svg.timeline .merge-lane rect.m-merged").count(), 4)
    assert.isAtLeast(await page.locator("svg.timeline rect.bar.k-fixed").count(), 1)
    assert.strictEqual(await page.locator("svg.timeline rect.bar.k-rejected").count(), 1)
    const failed = page.locator("#failed tr.failed-task")
    assert.strictEqual(await failed.count(), 1)
    assert.strictEqual(await failed.getAttribute("data-task"), "doomed")
    assert.include(await failed.innerText(), "This is not how the task should be done")
    assert.include(await page.locator("header").innerText(), "4")

    // A bar's details: its task, its calls and the reviewer's words.
    await page.locator("svg.timeline rect.bar.k-rejected").click()
    const detail = page.locator("#detail")
    assert.isTrue(await detail.isVisible())
    const detailText = await detail.innerText()
    assert.include(detailText, "doomed")
    assert.include(detailText, "review 1 by codex")
    assert.include(detailText, "This is not how the task should be done")

    // The event log: every line is there, filtered by type.
    assert.strictEqual(await page.locator("#ev-rows tr").count(), Math.min(200, log.length))
    await page.selectOption("#ev-tag", "TaskMoved")
    const moved = log.filter((e) => e._tag === "TaskMoved").length
    assert.strictEqual(await page.locator("#ev-rows tr").count(), moved)
    assert.strictEqual(await page.locator("#ev-rows tr td.tag").evaluateAll((tds) => tds.every((td) => td.textContent === "TaskMoved")), true)
    await page.selectOption("#ev-tag", "")

    await screenshot(page, "report.png")
    assert.deepStrictEqual(seen.problems, [])
    assert.deepStrictEqual(seen.requests, [pathToFileURL(file).href])
    await page.close()
  })

  it("a 10,000-event run keeps its page small: 200 event rows at a time, filters over all of them", async () => {
    const t0 = 1_700_000_000_000
    const timings = { setup: 0, agent: 400, review: 100, fix: 0, git: 20, test: 0, mergeWait: 0 }
    const events: Array<Event.Event> = [{
      _tag: "SwarmStarted", at: t0, runId: "0e0e0e0e", branch: "main", base: "", review: true, dryRun: false,
      workers: Array.from({ length: 16 }, (_, i) => ({ id: `w${i}`, role: "executor" as const, agent: "claude", iterations: 200 }))
    }]
    let at = t0
    for (let n = 0; events.length < 10_000; n++) {
      const worker = `w${n % 16}`
      const iteration = Math.floor(n / 16) + 1
      const task = `task-${n}`
      events.push(
        { _tag: "IterationStarted", at: (at += 10), worker, iteration, branch: `oompa/0e0e0e0e/${worker}-${iteration}`, base: "abc" },
        { _tag: "TaskClaimed", at: (at += 5), worker, iteration, task },
        { _tag: "AgentFinished", at: (at += 400), worker, iteration, call: "propose", agent: "claude", exitCode: 0, durationMs: 400, timedOut: false },
        { _tag: "VerdictGiven", at: (at += 100), worker, iteration, attempt: 1, verdict: "approved", clear: true, feedback: "", reviewer: "codex" },
        { _tag: "MergeResult", at: (at += 20), worker, iteration, outcome: "merged", sha: `${n}`.padStart(40, "0"), branch: "b", files: [] },
        { _tag: "IterationFinished", at: (at += 1), worker, iteration, outcome: "merged", task, reviews: 1, timings }
      )
    }
    const file = path.join(fs.mkdtempSync(path.join(fs.realpathSync("/tmp"), "oompa-report-")), "big.html")
    fs.writeFileSync(file, ReportHtml.page(RunReport.make("0e0e0e0e", events)))
    const page = await browser().newPage()
    const seen = watch(page)
    const started = Date.now()
    await page.goto(pathToFileURL(file).href)
    await page.locator("#ev-rows tr").first().waitFor()
    const loadMs = Date.now() - started
    assert.strictEqual(await page.locator("#ev-rows tr").count(), 200)
    assert.include(await page.locator("#ev-count").innerText(), `${events.length} events`)
    await page.click("#ev-more")
    assert.strictEqual(await page.locator("#ev-rows tr").count(), 400)
    await page.fill("#ev-text", "claimed task-1234")
    assert.strictEqual(await page.locator("#ev-rows tr").count(), 1)
    assert.strictEqual(await page.locator("svg.timeline rect.bar").count(), events.filter((e) => e._tag === "IterationStarted").length)
    const nodes = await page.evaluate(() => document.getElementsByTagName("*").length)
    console.log(`10k-event report: ${(fs.statSync(file).size / 1e6).toFixed(2)} MB, ${nodes} elements, first rows after ${loadMs} ms`)
    assert.deepStrictEqual(seen.problems, [])
    await page.close()
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  })
})
