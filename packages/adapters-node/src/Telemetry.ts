/**
 * OpenTelemetry export (issue 22): `--otlp <endpoint>` or `OTEL_EXPORTER_OTLP_ENDPOINT` sends a
 * run's spans and metrics over OTLP/HTTP (JSON) through Effect's `Otlp` module.
 *
 * The spans are made from the run's events, with the times the events carry: `oompa.run` →
 * `oompa.worker` → `oompa.iteration` → `oompa.agent` (each agent call: propose, review, fix, …) and
 * `oompa.merge` (from its place in the queue to its landing or refusal). So the tree is the same
 * for a local run, a cluster run and a log replayed later, and the orchestration itself carries no
 * tracing code. Attributes carry the task id, harness, model, tokens, cost and verdict. Metrics:
 * counters of iterations by outcome, agent calls by kind and harness, tokens, dollars and merges.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Exit, Layer, Metric, Option, Tracer } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { Otlp } from "effect/observability"
import { AgentSpec, type Event, EventSink } from "@oompa/core"
import * as JsonlEventLog from "./JsonlEventLog.ts"

/** The OTLP layer: JSON over HTTP to `endpoint` (`/v1/traces`, `/v1/metrics`, `/v1/logs` under it). */
export const layer = (endpoint: string, options: { readonly runId: string; readonly version?: string } = { runId: "" }) =>
  Otlp.layerJson({
    baseUrl: endpoint.replace(/\/+$/, ""),
    resource: { serviceName: "oompa", ...(options.version === undefined ? {} : { serviceVersion: options.version }), attributes: { "oompa.run_id": options.runId } },
    tracerExportInterval: "1 second",
    metricsExportInterval: "5 seconds",
    shutdownTimeout: "5 seconds"
  }).pipe(Layer.provide(FetchHttpClient.layer))

const iterations = Metric.counter("oompa.iterations", { description: "Iterations ended, by outcome" })
const calls = Metric.counter("oompa.agent_calls", { description: "Agent calls, by kind and harness" })
const tokens = Metric.counter("oompa.tokens", { description: "Tokens of agent calls, by direction" })
const cost = Metric.counter("oompa.cost_usd", { description: "Dollars of agent calls" })
const merges = Metric.counter("oompa.merges", { description: "Merge results, by outcome" })

// A time no clock gives (a damaged log's 1e308) is drawn at 0 rather than thrown on by BigInt.
const nanos = (ms: number): bigint => BigInt(Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? Math.round(ms) : 0) * 1_000_000n

const harnessOf = (agent: string): { readonly harness: string; readonly model: string } => {
  const parsed = AgentSpec.parseModelString(agent)
  return parsed._tag === "Success" ? { harness: parsed.success.harness, model: parsed.success.model ?? "" } : { harness: "", model: agent }
}

/**
 * A sink that turns the run's events into spans on the current `Tracer` and updates the metrics.
 *
 * @category constructors
 * @since 0.1.0
 */
export const sink = Effect.gen(function*() {
  const tracer = yield* Tracer.Tracer
  const services = yield* Effect.context<never>()
  const open = new Map<string, Tracer.Span>()
  const start = (key: string, name: string, at: number, parent: Tracer.Span | undefined, attributes: Record<string, unknown>) => {
    const span = tracer.span({
      name,
      parent: Option.fromUndefinedOr(parent),
      annotations: Context.empty(),
      links: [],
      startTime: nanos(at),
      kind: "internal",
      root: parent === undefined,
      sampled: true
    })
    for (const [k, v] of Object.entries(attributes)) span.attribute(k, v)
    open.set(key, span)
    return span
  }
  const end = (key: string, at: number, failed: string | undefined, attributes: Record<string, unknown> = {}) => {
    const span = open.get(key)
    if (span === undefined) return
    for (const [k, v] of Object.entries(attributes)) span.attribute(k, v)
    open.delete(key)
    span.end(nanos(at), failed === undefined ? Exit.void : Exit.fail(failed))
  }
  const run = () => open.get("run")
  const worker = (id: string) => open.get(`w/${id}`) ?? run()
  const iteration = (id: string, n: number) => open.get(`i/${id}/${n}`) ?? worker(id)
  const count = (metric: Metric.Metric<number, unknown>, by: number, attributes: Record<string, string>) =>
    Metric.update(metric.pipe(Metric.withAttributes(attributes)), by)

  const handle = (e: Event.Event): Effect.Effect<void> => {
    switch (e._tag) {
      case "SwarmStarted":
        start("run", "oompa.run", e.at, undefined, { "oompa.run_id": e.runId, "oompa.branch": e.branch, "oompa.workers": e.workers.length, "oompa.dry_run": e.dryRun })
        return Effect.void
      case "WorkerStarted":
        end(`w/${e.worker}`, e.at, "started again")
        start(`w/${e.worker}`, "oompa.worker", e.at, run(), { "oompa.worker": e.worker, "oompa.role": e.role })
        return Effect.void
      case "TaskClaimed":
      case "IterationStarted": {
        const key = `i/${e.worker}/${e.iteration}`
        const span = open.get(key) ?? start(key, "oompa.iteration", e.at, worker(e.worker), { "oompa.worker": e.worker, "oompa.iteration": e.iteration })
        if (e._tag === "TaskClaimed") span.attribute("oompa.task", e.task)
        return Effect.void
      }
      case "AgentFinished": {
        const { harness, model } = harnessOf(e.agent)
        start(`a/${e.worker}/${e.iteration}/${e.at}`, "oompa.agent", e.at - e.durationMs, iteration(e.worker, e.iteration), {
          "oompa.call": e.call, "oompa.agent": e.agent, "oompa.harness": harness, "oompa.model": model, "oompa.exit_code": e.exitCode, "oompa.timed_out": e.timedOut,
          ...(e.tokens === undefined ? {} : { "oompa.tokens.input": e.tokens.input, "oompa.tokens.output": e.tokens.output }),
          ...(e.costUsd === undefined ? {} : { "oompa.cost_usd": e.costUsd })
        })
        end(`a/${e.worker}/${e.iteration}/${e.at}`, e.at, e.timedOut ? "timed out" : e.exitCode !== 0 ? `exit ${e.exitCode}` : undefined)
        return Effect.all([
          count(calls, 1, { call: e.call, harness }),
          ...(e.tokens === undefined ? [] : [count(tokens, e.tokens.input, { direction: "input", harness }), count(tokens, e.tokens.output, { direction: "output", harness })]),
          ...(e.costUsd === undefined ? [] : [count(cost, e.costUsd, { harness })])
        ], { discard: true })
      }
      case "VerdictGiven":
        iteration(e.worker, e.iteration)?.attribute("oompa.verdict", e.verdict)
        iteration(e.worker, e.iteration)?.event(`verdict ${e.verdict}`, nanos(e.at), { "oompa.attempt": e.attempt, "oompa.reviewer": e.reviewer })
        return Effect.void
      case "MergeQueued":
        start(`m/${e.worker}/${e.iteration}`, "oompa.merge", e.at, iteration(e.worker, e.iteration), { "oompa.position": e.position })
        return Effect.void
      case "MergeResult":
        if (!open.has(`m/${e.worker}/${e.iteration}`)) start(`m/${e.worker}/${e.iteration}`, "oompa.merge", e.at, iteration(e.worker, e.iteration), {})
        end(`m/${e.worker}/${e.iteration}`, e.at, e.outcome === "merged" || e.outcome === "dry-run" ? undefined : e.outcome, {
          "oompa.merge.outcome": e.outcome, ...(e.sha === undefined ? {} : { "oompa.sha": e.sha })
        })
        return count(merges, 1, { outcome: e.outcome })
      case "IterationFinished":
        // What ended the iteration also ends a merge still open (an ejection, an error).
        end(`m/${e.worker}/${e.iteration}`, e.at, e.outcome)
        end(`i/${e.worker}/${e.iteration}`, e.at, e.outcome === "merged" || e.outcome === "no-changes" || e.outcome === "dry-run" ? undefined : e.outcome, {
          "oompa.outcome": e.outcome, ...(e.task === undefined ? {} : { "oompa.task": e.task })
        })
        return count(iterations, 1, { outcome: e.outcome })
      case "WorkerFinished":
        end(`w/${e.worker}`, e.at, undefined, { "oompa.stopped": e.reason, "oompa.iterations": e.iterations })
        return Effect.void
      case "SwarmFinished":
        for (const key of [...open.keys()].filter((k) => k !== "run")) end(key, e.at, "the run ended first")
        end("run", e.at, e.outcome === "ok" ? undefined : e.outcome, { "oompa.outcome": e.outcome, "oompa.merged": e.merged, "oompa.failed": e.failed })
        return Effect.void
      default:
        return Effect.void
    }
  }
  // A run stopped before its SwarmFinished (Ctrl-C's own end, a failure) still ends every span.
  yield* Effect.addFinalizer(() => Effect.clockWith((clock) => Effect.sync(() => {
    const now = clock.currentTimeMillisUnsafe()
    for (const key of [...open.keys()].reverse()) end(key, now, "the run stopped first")
  })))
  return EventSink.EventSink.of({ emit: (event) => Effect.provideContext(handle(event), services) })
})

/**
 * The sink of `inner` followed by the run's spans and metrics, exported to `endpoint` and flushed
 * when the layer's scope (the run's) closes.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAfter = <E, R>(inner: Layer.Layer<EventSink.EventSink, E, R>, endpoint: string, options: { readonly runId: string }) =>
  Layer.effect(EventSink.EventSink, Effect.gen(function*() {
    const log = yield* EventSink.EventSink
    // The exporter drops what it cannot send without a word: a collector that does not answer at
    // the start is said once, in the run log, without holding the run.
    yield* Effect.forkScoped(probe(endpoint).pipe(Effect.flatMap((problem) =>
      problem === undefined ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (at) =>
        log.emit({ _tag: "Warning", at, message: `otlp: ${new URL(endpoint).origin} ${problem}: this run's spans and metrics may not arrive` })))))
    return JsonlEventLog.tee([log, yield* sink])
  })).pipe(Layer.provide(Layer.mergeAll(inner, layer(endpoint, options), FetchHttpClient.layer)))

/** An empty export to `endpoint`: what is wrong with it, or undefined when it took it. */
const probe = (endpoint: string) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(HttpClientRequest.post(`${endpoint.replace(/\/+$/, "")}/v1/traces`).pipe(HttpClientRequest.bodyText(JSON.stringify({ resourceSpans: [] }), "application/json"))).pipe(
      Effect.map((response): string | undefined => response.status >= 200 && response.status < 300 ? undefined : `answered ${response.status}`),
      Effect.scoped,
      Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.succeed("did not answer in 5 s") }),
      // Not the client's message: it names the whole URL, which may hold a key.
      Effect.catch((e) => Effect.succeed(`could not be reached (${e.reason._tag})`))
    )).pipe(
    // The HTTP client traces its requests: the probe's would be a trace of its own in the export.
    Effect.withTracerEnabled(false)
  )
