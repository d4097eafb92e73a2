/**
 * `--otlp` end to end (issue 22): a swarm of fake agents sends its spans and metrics over OTLP/HTTP
 * (JSON) to a small collector on loopback. Goal: one trace whose tree is run → worker → iteration →
 * agent calls and merge, each iteration carrying its task, verdict and outcome, each agent call its
 * harness, model, tokens and cost, timed as the run log says; the metrics arrive too; the
 * environment's `OTEL_EXPORTER_OTLP_ENDPOINT` works as the flag does; a bad endpoint is refused.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { cleanupAll, oompa, oompaAsync, runIds, scratchRepo, show } from "./helpers.ts"

afterAll(cleanupAll)

interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly startTimeUnixNano: string
  readonly endTimeUnixNano: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: Record<string, unknown> }>
  readonly status?: { readonly code?: number }
}

const attributes = (span: Span): Record<string, unknown> =>
  Object.fromEntries(span.attributes.map((a) => [a.key, Object.values(a.value)[0]]))

/** An OTLP/HTTP JSON receiver: what arrived at /v1/traces and /v1/metrics. */
const collector = async () => {
  const spans: Array<Span> = []
  const metrics: Array<string> = []
  const server = http.createServer((req, res) => {
    let body = ""
    req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => {
      if (req.url === "/v1/traces") {
        const parsed = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<Span> }> }> }
        for (const r of parsed.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans)
      } else if (req.url === "/v1/metrics") metrics.push(body)
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, metrics, close: () => server.close() }
}

describe("--otlp", () => {
  it("exports the span tree of each iteration and the run's metrics to an OTLP/HTTP collector", async () => {
    const otel = await collector()
    try {
      const scratch = scratchRepo({
        config: { workers: [{ model: "claude:opus", role: "executor", iterations: 3 }], review_model: "codex:gpt-5-codex" },
        pending: [{ id: "alpha", summary: "Write src/alpha.txt" }, { id: "bravo", summary: "Write src/bravo.txt" }]
      })
      const run = await oompaAsync(scratch, ["swarm", "--otlp", otel.url], { env: { E2E_FIX_ONCE: "bravo" } }).exited
      assert.strictEqual(run.status, 0, show(run))
      const byName = (name: string) => otel.spans.filter((s) => s.name === name)
      const [root] = byName("oompa.run")
      assert.isDefined(root, `spans: ${otel.spans.map((s) => s.name).join(", ")}`)
      assert.isUndefined(root!.parentSpanId || undefined)
      assert.isTrue(otel.spans.every((s) => s.traceId === root!.traceId), "one trace")
      const [worker] = byName("oompa.worker")
      assert.strictEqual(worker!.parentSpanId, root!.spanId)
      assert.strictEqual(attributes(worker!)["oompa.worker"], "w0")

      const iterations = byName("oompa.iteration").filter((s) => attributes(s)["oompa.task"] !== undefined)
      assert.deepStrictEqual(iterations.map((s) => attributes(s)["oompa.task"]).sort(), ["alpha", "bravo"])
      for (const it of iterations) {
        assert.strictEqual(it.parentSpanId, worker!.spanId)
        const a = attributes(it)
        assert.strictEqual(a["oompa.outcome"], "merged")
        assert.strictEqual(a["oompa.verdict"], "approved")
        assert.isTrue(BigInt(it.startTimeUnixNano) < BigInt(it.endTimeUnixNano))
      }
      // bravo: propose, review (needs changes), fix, review; then its merge.
      const bravo = iterations.find((s) => attributes(s)["oompa.task"] === "bravo")!
      const children = otel.spans.filter((s) => s.parentSpanId === bravo.spanId).sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)))
      assert.deepStrictEqual(children.map((s) => s.name === "oompa.agent" ? `agent ${attributes(s)["oompa.call"]}` : s.name), [
        "agent propose", "agent review", "agent fix", "agent review", "oompa.merge"
      ])
      const propose = attributes(children[0]!)
      assert.strictEqual(propose["oompa.harness"], "claude")
      assert.strictEqual(propose["oompa.model"], "opus")
      assert.isAbove(Number(propose["oompa.tokens.input"]), 0)
      assert.isAbove(Number(propose["oompa.cost_usd"]), 0)
      assert.strictEqual(attributes(children[1]!)["oompa.harness"], "codex")
      assert.strictEqual(attributes(children[4]!)["oompa.merge.outcome"], "merged")
      for (const child of children) {
        assert.isTrue(BigInt(child.startTimeUnixNano) >= BigInt(bravo.startTimeUnixNano) && BigInt(child.endTimeUnixNano) <= BigInt(bravo.endTimeUnixNano), child.name)
      }
      assert.isTrue(otel.metrics.some((m) => m.includes("oompa.iterations")), "metrics arrived")
      assert.isTrue(otel.metrics.some((m) => m.includes("oompa.agent_calls")))
    } finally {
      otel.close()
    }
  })

  it("OTEL_EXPORTER_OTLP_ENDPOINT works as the flag does; a bad endpoint is refused with exit 2", async () => {
    const otel = await collector()
    try {
      const scratch = scratchRepo({
        config: { workers: [{ model: "claude:opus", role: "executor", iterations: 2 }], review_model: "codex:gpt-5-codex" },
        pending: [{ id: "alpha", summary: "Write src/alpha.txt" }]
      })
      const run = await oompaAsync(scratch, ["swarm"], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: otel.url } }).exited
      assert.strictEqual(run.status, 0, show(run))
      assert.strictEqual(otel.spans.filter((s) => s.name === "oompa.run").length, 1)
      // A collector that is not there: the run goes on, and its log says so once.
      const dead = await new Promise<number>((done) => {
        const probe = http.createServer().listen(0, "127.0.0.1", () => {
          const port = (probe.address() as AddressInfo).port
          probe.close(() => done(port))
        })
      })
      fs.writeFileSync(path.join(scratch.repo, "tasks/pending/bravo.json"), JSON.stringify({ id: "bravo", summary: "Write src/bravo.txt" }))
      const unreached = await oompaAsync(scratch, ["swarm", "--otlp", `http://127.0.0.1:${dead}/`]).exited
      assert.strictEqual(unreached.status, 0, show(unreached))
      const warnings = runIds(scratch).flatMap((id) => fs.readFileSync(path.join(scratch.repo, ".oompa/runs", id, "events.jsonl"), "utf8").trim().split("\n"))
        .map((l) => JSON.parse(l) as { _tag: string; message?: string }).filter((e) => e._tag === "Warning" && e.message!.startsWith("otlp:")).map((e) => e.message)
      assert.deepStrictEqual(warnings, [`otlp: http://127.0.0.1:${dead} could not be reached (TransportError): this run's spans and metrics may not arrive`])
      const bad = oompa(scratch, ["swarm", "--otlp", "localhost:4318"])
      assert.strictEqual(bad.status, 2, show(bad))
      assert.include(bad.stderr, "--otlp: expected an OTLP/HTTP endpoint")
      const badEnv = oompa(scratch, ["swarm"], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" } })
      assert.strictEqual(badEnv.status, 2, show(badEnv))
      assert.include(badEnv.stderr, "OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL")
    } finally {
      otel.close()
    }
  })
})
