/**
 * `oompa serve` in a real browser (issue 22): a swarm of slow fake agents runs in the background
 * while the dashboard is open in Debian's Chromium. Goal: the page updates by itself as the run
 * goes on (new bars, what each worker does now); the Stop button without the token is refused, and
 * so is a page of another site that posts to it, token-less or not; the run is untouched by both;
 * with the token printed in the terminal the run stops (exit 130) and the page says so. It listens
 * on 127.0.0.1 only, and answers no request that names another host.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { cleanupAll, oompa, oompaAsync, runIds, scratchRepo, show, waitFor } from "../cli/helpers.ts"
import { browserForFile, screenshot, watch } from "./browser.ts"

const browser = browserForFile(cleanupAll)

/** The status of a GET of `url` sent with the Host header `host`. */
const statusFor = (url: string, host: string) =>
  new Promise<number | undefined>((done, fail) => http.get(url, { headers: { host } }, (res) => done(res.resume().statusCode)).on("error", fail))

/** A page of another site (another origin on loopback) that tries to stop the run. */
const attacker = async (dashboard: string, token: string) => {
  const html = `<!doctype html><body><form id="f" method="POST" action="${dashboard}stop"></form><script>
    fetch(${JSON.stringify(`${dashboard}stop`)}, { method: "POST", mode: "no-cors" }).finally(() => {
      fetch(${JSON.stringify(`${dashboard}stop`)}, { method: "POST", headers: { "x-oompa-stop-token": ${JSON.stringify(token)} } })
        .then((r) => { document.title = "answered " + r.status }, () => { document.title = "blocked" })
        .finally(() => document.getElementById("f").submit())
    })
  </script></body>`
  const server = http.createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end(html))
  await new Promise<void>((done) => server.listen(0, "localhost", done))
  return { url: `http://localhost:${(server.address() as AddressInfo).port}/`, close: () => server.close() }
}

describe("oompa serve", () => {
  it("updates while a swarm runs; a stop without the token, or from another site, is refused; with it the run stops", async () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "claude:opus", role: "executor", count: 2, iterations: 20 }], review_model: "codex:gpt-5-codex" },
      pending: Array.from({ length: 40 }, (_, i) => ({ id: `task-${i}`, summary: `Write src/task-${i}.txt` }))
    })
    const swarm = oompaAsync(scratch, ["swarm"], { env: { E2E_DELAY_MS: "1000" } })
    const serve = oompaAsync(scratch, ["serve", "--port", "0"])
    let out = ""
    serve.child.stdout!.on("data", (chunk: string) => (out += chunk))
    try {
      await waitFor("the dashboard's address", () => /stop token.*: \S+\n/.test(out), 30_000)
      const url = /oompa dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)![1]!
      const token = /stop token.*: (\S+)\n/.exec(out)![1]!
      await waitFor("the run's log", () => runIds(scratch).length === 1, 30_000)
      const [runId] = runIds(scratch)

      // Another host name for the same address (DNS rebinding) gets nothing.
      assert.strictEqual(await statusFor(url, `evil.example:${new URL(url).port}`), 403)

      const page = await browser().newPage({ viewport: { width: 1280, height: 900 } })
      const seen = watch(page)
      await page.goto(`${url}runs/${runId}`)
      const barsAtFirst = await page.locator("svg.timeline rect.bar").count()
      await page.locator("#live-state", { hasText: "live: updated" }).waitFor({ timeout: 20_000 })
      await page.waitForFunction((n) => document.querySelectorAll("svg.timeline rect.bar").length > n, barsAtFirst, { timeout: 30_000 })
      assert.include(await page.locator("#now pre").innerText(), "w0")

      // The Stop button without the token.
      await page.click("#stop")
      await page.locator("#stop-answer.refused").waitFor()
      assert.include(await page.locator("#stop-answer").innerText(), "stop token is missing or wrong")

      // Another site's page posting to /stop: a form, a no-cors fetch, and a fetch carrying the token.
      const evil = await attacker(url, token)
      const other = await browser().newPage()
      await other.goto(evil.url)
      await other.waitForURL(`${url}stop`, { timeout: 10_000 }).catch(() => undefined)
      const formAnswer = await other.content()
      assert.include(formAnswer, "refused")
      await other.close()
      evil.close()
      assert.isNull(swarm.child.exitCode, "the run is still running")

      await screenshot(page, "dashboard.png")
      await page.fill("#stop-token", token)
      await page.click("#stop")
      await page.locator("#stop-answer.ok").waitFor()
      assert.include(await page.locator("#stop-answer").innerText(), `sent Ctrl-C to run ${runId}`)
      const exited = await swarm.exited
      assert.strictEqual(exited.status, 130, show(exited))
      await page.locator("#live-state", { hasText: "run finished" }).waitFor({ timeout: 20_000 })
      assert.include(await page.locator("header .outcome").innerText(), "interrupted")
      assert.deepStrictEqual(seen.problems.filter((p) => !p.includes("403")), [])
      await page.close()
    } finally {
      swarm.child.kill("SIGKILL")
      serve.child.kill("SIGINT")
      await serve.exited
    }
  })

  it("listens on 127.0.0.1 unless --host is given, and warns then; a bad --host or --port is refused with exit 2", () => {
    const scratch = scratchRepo({ config: { workers: [{ model: "claude:opus", role: "executor" }] } })
    const badHost = oompa(scratch, ["serve", "--host", "not an address"])
    assert.strictEqual(badHost.status, 2, show(badHost))
    assert.include(badHost.stderr, "--host")
    const badPort = oompa(scratch, ["serve", "--port", "70000"])
    assert.strictEqual(badPort.status, 2, show(badPort))
    assert.include(badPort.stderr, "--port 70000")
  })

  it("warns when told to listen on another address", async () => {
    const scratch = scratchRepo({ config: { workers: [{ model: "claude:opus", role: "executor" }] } })
    const serve = oompaAsync(scratch, ["serve", "--port", "0", "--host", "0.0.0.0"])
    let out = ""
    let err = ""
    serve.child.stdout!.on("data", (chunk: string) => (out += chunk))
    serve.child.stderr!.on("data", (chunk: string) => (err += chunk))
    try {
      await waitFor("the dashboard's address", () => out.includes("stop token"), 30_000)
      assert.include(err, "listening on 0.0.0.0, not only this machine")
      const port = /oompa dashboard: http:\/\/0\.0\.0\.0:(\d+)\//.exec(out)![1]!
      // Browsers name the machine, not the wildcard: this machine's addresses are answered, others not.
      assert.strictEqual(await statusFor(`http://127.0.0.1:${port}/`, `127.0.0.1:${port}`), 200)
      assert.strictEqual(await statusFor(`http://127.0.0.1:${port}/`, `evil.example:${port}`), 403)
    } finally {
      serve.child.kill("SIGINT")
      await serve.exited
    }
  })

  it("a log that is not a regular file (a FIFO an agent planted) is no run, and blocks nothing", async () => {
    const scratch = scratchRepo({ config: { workers: [{ model: "claude:opus", role: "executor" }] } })
    const planted = path.join(scratch.repo, ".oompa/runs/0000f1f0")
    fs.mkdirSync(planted, { recursive: true })
    execFileSync("mkfifo", [path.join(planted, "events.jsonl")])
    const serve = oompaAsync(scratch, ["serve", "--port", "0"])
    let out = ""
    serve.child.stdout!.on("data", (chunk: string) => (out += chunk))
    try {
      await waitFor("the dashboard's address", () => out.includes("stop token"), 30_000)
      const url = /oompa dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)![1]!
      const host = new URL(url).host
      for (let i = 0; i < 6; i++) assert.strictEqual(await statusFor(`${url}runs/0000f1f0`, host), 404)
      assert.strictEqual(await statusFor(url, host), 200)
    } finally {
      serve.child.kill("SIGINT")
      await serve.exited
    }
  })
})
