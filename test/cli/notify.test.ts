/**
 * `notify` in oompa.json end to end (issue 22): a swarm of fake agents with one task the reviewer
 * always rejects, a command and two loopback webhooks to tell. Goal: the command (on stdin) and the
 * good webhook (as a POST body) each receive one `merged` per landing, one `failed` for the
 * rejected task and one `finished`, each a `Notice` its Schema decodes; a quiet spell longer than
 * `stalled_after` is told once; and a webhook that never answers does not hold the run: the run
 * finishes while its first request is still unanswered, every task lands, and the undelivered
 * notices become a warning in the run log.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Event, Notification } from "@oompa/core"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { cleanupAll, oompaAsync, runIds, scratchRepo, show, tasksIn } from "./helpers.ts"

afterAll(cleanupAll)

const decodeNotice = Schema.decodeUnknownSync(Schema.fromJsonString(Notification.Notice))

/** A loopback webhook: `good` answers 204 to each POST; `hanging` never answers. */
const webhooks = async () => {
  const received: Array<string> = []
  const hanging: Array<http.ServerResponse> = []
  let hangingCalls = 0
  const server = http.createServer((req, res) => {
    let body = ""
    req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk)).on("end", () => {
      const url = new URL(req.url ?? "/", "http://x")
      if (url.pathname === "/good" && url.searchParams.get("secret") === "s3cr3t" && req.method === "POST" && req.headers["content-type"] === "application/json") {
        received.push(body)
        res.writeHead(204).end()
      } else if (url.pathname.startsWith("/hanging/")) {
        hangingCalls++
        hanging.push(res)
      } else res.writeHead(404).end()
    })
  })
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    good: `${base}/good?secret=s3cr3t`,
    hanging: `${base}/hanging/PATHSECRET?token=QUERYSECRET`,
    received,
    unanswered: () => hanging.filter((r) => !r.writableEnded).length,
    hangingCalls: () => hangingCalls,
    close: () => {
      for (const r of hanging) r.destroy()
      server.closeAllConnections()
      server.close()
    }
  }
}

describe("notify", () => {
  it("tells a command and a webhook of each merge, the failed task and the end; a quiet spell once; a dead webhook holds nothing", async () => {
    const hooks = await webhooks()
    try {
      const scratch = scratchRepo({
        config: {
          workers: [{ model: "claude:opus", role: "executor", count: 2, iterations: 4 }],
          review_model: "codex:gpt-5-codex",
          max_task_attempts: 1,
          notify: [
            // A background job holding stderr open must not make a delivered notice count as failed (and be sent again).
            { on: ["merged", "failed", "finished"], command: "cat >> \"$NOTICES\"; (sleep 3) &" },
            { webhook: "http://GOOD" },
            { on: ["stalled"], command: "cat >> \"$STALLED\"", stalled_after: 1 },
            { on: ["merged", "finished"], webhook: "http://HANGING" },
            // A command that ignores SIGTERM and never ends: killed, and the run still exits.
            { on: ["finished"], command: "trap '' TERM; sleep 1000 # --token CMDSECRET" }
          ]
        },
        pending: ["alpha", "bravo", "charlie", "doomed"].map((id) => ({ id, summary: `Write src/${id}.txt` }))
      })
      // The webhooks' ports are known only now: write them into the committed config.
      const configPath = path.join(scratch.repo, "oompa.json")
      fs.writeFileSync(configPath, fs.readFileSync(configPath, "utf8").replace("http://GOOD", hooks.good).replace("http://HANGING", hooks.hanging))
      const notices = path.join(scratch.state, "notices.jsonl")
      const stalled = path.join(scratch.state, "stalled.jsonl")
      const run = oompaAsync(scratch, ["swarm"], { env: { E2E_REJECT: "doomed", E2E_DELAY_MS: "2500", NOTICES: notices, STALLED: stalled } })
      // When the run's last event is written, the dead webhook still holds a request.
      let unansweredAtEnd = -1
      const watcher = setInterval(() => {
        const [runId] = runIds(scratch)
        if (runId === undefined || unansweredAtEnd !== -1) return
        const log = path.join(scratch.repo, ".oompa/runs", runId, "events.jsonl")
        if (fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("\"SwarmFinished\"")) unansweredAtEnd = hooks.unanswered()
      }, 20)
      const exited = await run.exited
      clearInterval(watcher)
      assert.strictEqual(exited.status, 1, show(exited))
      assert.deepStrictEqual(tasksIn(scratch, "complete"), ["alpha", "bravo", "charlie"])
      assert.deepStrictEqual(tasksIn(scratch, "failed"), ["doomed"])
      assert.isAtLeast(unansweredAtEnd, 1, "the run finished while the dead webhook still held a request")

      const [runId] = runIds(scratch)
      const expect = (lines: ReadonlyArray<string>) => {
        const got = lines.map((l) => decodeNotice(l))
        assert.deepStrictEqual(got.map((n) => n.notification).sort(), ["failed", "finished", "merged", "merged", "merged"])
        for (const n of got) {
          assert.strictEqual(n.runId, runId)
          assert.strictEqual(n.repository, scratch.repo)
        }
        const failed = got.find((n) => n.notification === "failed")!.event as Extract<Event.Event, { _tag: "TaskMoved" }>
        assert.deepStrictEqual([failed._tag, failed.task, failed.to], ["TaskMoved", "doomed", "failed"])
        assert.strictEqual(got.find((n) => n.notification === "finished")!.event!._tag, "SwarmFinished")
      }
      expect(fs.readFileSync(notices, "utf8").trim().split("\n"))
      assert.strictEqual(hooks.received.length, 5, fs.readFileSync(path.join(scratch.repo, ".oompa/runs", runId!, "events.jsonl"), "utf8").split("\n").filter((l) => l.includes("Warning")).join("\n"))
      expect(hooks.received)
      const quiet = fs.readFileSync(stalled, "utf8").trim().split("\n").map((l) => decodeNotice(l))
      assert.isAtLeast(quiet.length, 1)
      assert.isTrue(quiet.every((n) => n.notification === "stalled" && (n.quietMs ?? 0) >= 1000))

      // What never reached the dead webhook is in the run log, naming only its origin.
      const log = fs.readFileSync(path.join(scratch.repo, ".oompa/runs", runId!, "events.jsonl"), "utf8")
      const warnings = log.trim().split("\n").map((l) => JSON.parse(l) as Event.Event).filter((e) => e._tag === "Warning").map((e) => e.message)
      assert.isTrue(warnings.some((w) => w.startsWith(`notify: notify[3] (webhook ${new URL(hooks.hanging).origin})`) || w.startsWith("notify: notices still unsent")), warnings.join("\n"))
      // Secrets in a webhook's URL or a command's text never reach the log.
      for (const secret of ["s3cr3t", "PATHSECRET", "QUERYSECRET", "CMDSECRET"]) assert.notInclude(log, secret)
      assert.isAtLeast(hooks.hangingCalls(), 1)
    } finally {
      hooks.close()
    }
  })
})
