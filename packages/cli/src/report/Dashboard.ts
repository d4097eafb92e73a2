/**
 * `oompa serve`: the live dashboard (issue 22) on Effect's HTTP server. It shows a repository's
 * runs and, for each, the report page of `oompa view --html` with what every worker and the merge
 * queue are doing now, updated over Server-Sent Events as the run's log grows.
 *
 * What keeps it safe on a developer's machine:
 * - it listens on 127.0.0.1 unless `--host` says otherwise (the command warns then);
 * - every request must name this server in its `Host` header (a DNS-rebinding page names its own);
 * - stopping a run takes the token printed in the terminal at start, sent in a header (which a
 *   cross-site form cannot send and a cross-site script cannot send without a preflight this server
 *   never answers), and a request that says it comes from another site is refused whatever it carries.
 *
 * @since 0.1.0
 */
// The module itself, not the barrel: importing the barrel from here put the HTTP server in every start.
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Effect, FileSystem, Layer, Option, Schedule, Stream } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { Ids, RunReport, RunSummary } from "@oompa/core"
import { JsonlEventLog, RunPaths } from "@oompa/adapters-node"
import { randomBytes, timingSafeEqual } from "node:crypto"
import { lstatSync } from "node:fs"
import { createServer } from "node:http"
import { isIP } from "node:net"
import { hostname, networkInterfaces } from "node:os"
import { UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as ProgressView from "../ProgressView.ts"
import type { Session } from "../Session.ts"
import * as ReportHtml from "./ReportHtml.ts"

/** What the server needs from the command: the repository, where to listen, how to stop its run. */
export interface ServeOptions {
  readonly session: Session
  readonly address: string
  /** 0: any free port. */
  readonly port: number
  readonly liveRunId: Effect.Effect<string | undefined, never, FileSystem.FileSystem>
  readonly runs: Effect.Effect<ReadonlyArray<RunSummary.RunSummary>, UsageError, FileSystem.FileSystem>
  readonly stop: Effect.Effect<string, UsageError, FileSystem.FileSystem>
  /** How often a watched log is looked at. */
  readonly pollMs: number
}

interface DashboardOptions extends ServeOptions {
  readonly token: string
  /** Host header values this server answers to (`127.0.0.1:7777`, `localhost:7777`, …). */
  readonly hosts: ReadonlySet<string>
}

const refuse = (status: number, text: string) => HttpServerResponse.text(text, { status, headers: { "cache-control": "no-store" } })

/** A page's common headers: never cached, never framed, never sniffed. */
const htmlResponse = (html: string) =>
  HttpServerResponse.html(html).pipe(
    HttpServerResponse.setHeaders({ "cache-control": "no-store", "x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" })
  )

const sameToken = (given: string | undefined, token: string): boolean => {
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The largest log the dashboard reads: a damaged or planted file must not take its memory. */
const logBytesMax = 256 * 1024 * 1024

/**
 * The run's events, or undefined when it has no readable log. Only a regular file is read (not a
 * symlink: a FIFO or `/dev/zero` planted as the log would block the server or fill its memory).
 */
const eventsOf = (options: DashboardOptions, runId: Ids.RunId) => {
  const file = RunPaths.eventsPath(options.session.paths, runId)
  return Effect.try(() => lstatSync(file)).pipe(
    Effect.orElseSucceed(() => undefined),
    Effect.flatMap((info) => info !== undefined && info.isFile() && info.size <= logBytesMax ? Effect.option(JsonlEventLog.readEvents(file)) : Effect.succeedNone),
    Effect.map(Option.getOrUndefined)
  )
}

/** The report of a run as the dashboard shows it: liveness from the lock, and the progress lines. */
const reportOf = (runId: string, events: ReadonlyArray<import("@oompa/core").Event.Event>, live: string | undefined, nowMs: number) => {
  const report = RunReport.make(runId, events)
  const summary = RunSummary.withLiveness(report.summary, live)
  const progress = summary.outcome === "running" ? ProgressView.render(events.reduce(ProgressView.step, ProgressView.initial), nowMs, 160) : []
  return { report: { ...report, summary }, now: progress.length === 0 ? [summary.outcome === "running" ? "starting" : `run ${summary.outcome}`] : progress }
}

const escape = ReportHtml.escape

const indexPage = (runs: ReadonlyArray<RunSummary.RunSummary>) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` +
  `<title>oompa runs</title><style>body{font:14px system-ui,sans-serif;margin:24px}td,th{padding:4px 10px;text-align:left}</style></head><body><h1>oompa runs</h1>` +
  (runs.length === 0 ? "<p>No runs yet.</p>" : `<table><thead><tr><th>run</th><th>started</th><th>outcome</th><th>merged</th><th>iterations</th></tr></thead><tbody>${runs.map((r) =>
    `<tr><td><a href="/runs/${escape(r.runId)}">${escape(r.runId)}</a></td><td>${r.startedAt === undefined ? "" : escape(new Date(r.startedAt).toISOString().replace("T", " ").slice(0, 19))}</td>` +
    `<td>${escape(r.outcome)}</td><td>${r.merged}</td><td>${r.iterations}</td></tr>`).join("")}</tbody></table>`) +
  `</body></html>`

/** How often an unchanged running log's page is sent again (for the "Now" clocks). */
const refreshMs = 5_000

/** `event: <name>` with one JSON line of data. */
const sse = (name: string, data: unknown) => new TextEncoder().encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)

/**
 * The run's updates: the page's body again whenever its log changed (looked at every `pollMs`),
 * a comment every 15 s to keep the connection, and `finished` once the run has ended.
 */
const updates = (options: DashboardOptions, runId: Ids.RunId) => {
  let lastSize = -1
  let lastSent = 0
  const look = Effect.gen(function*() {
    const size = yield* Effect.try(() => lstatSync(RunPaths.eventsPath(options.session.paths, runId)).size).pipe(Effect.orElseSucceed(() => -1))
    const live = yield* options.liveRunId
    const nowMs = Date.now()
    // An unchanged log is read again only to move the clocks of "Now", every few seconds.
    if (size === lastSize && live === runId && nowMs - lastSent < refreshMs) return { chunks: [], ended: false }
    lastSize = size
    lastSent = nowMs
    const events = (yield* eventsOf(options, runId)) ?? []
    const { now, report } = reportOf(runId, events, live, nowMs)
    const ended = report.summary.outcome !== "running"
    return { chunks: [sse("report", ReportHtml.body(report, now)), ...(ended ? [sse("finished", report.summary.outcome)] : [])], ended }
  })
  const beats = Stream.fromSchedule(Schedule.spaced("15 seconds")).pipe(Stream.map(() => new TextEncoder().encode(": still here\n\n")))
  const looks = Stream.fromEffectSchedule(look, Schedule.spaced(`${options.pollMs} millis`)).pipe(
    Stream.takeUntil((looked) => looked.ended),
    Stream.flatMap((looked) => Stream.fromIterable(looked.chunks))
  )
  return Stream.merge(looks, beats, { haltStrategy: "left" })
}

/**
 * The dashboard's routes, as a layer for `HttpRouter.serve`.
 */
const routes = (options: DashboardOptions) => {
  const guarded = <E, R>(handle: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    (request: HttpServerRequest.HttpServerRequest) => {
      const host = request.headers["host"]
      if (host === undefined || !options.hosts.has(host.toLowerCase())) return Effect.succeed(refuse(403, `oompa serve: this server does not answer for host ${JSON.stringify(host ?? "")}`))
      return handle(request)
    }
  const runPage = guarded(() =>
    Effect.gen(function*() {
      const { run } = yield* HttpRouter.params
      if (run === undefined || !Ids.isRunId(run)) return refuse(404, "no such run")
      const events = yield* eventsOf(options, run)
      if (events === undefined) return refuse(404, `no run ${run} in this repository`)
      const { now, report } = reportOf(run, events, yield* options.liveRunId, Date.now())
      return htmlResponse(ReportHtml.page(report, { updates: `/runs/${run}/updates`, stop: "/stop", now }))
    }))
  const runUpdates = guarded(() =>
    Effect.gen(function*() {
      const { run } = yield* HttpRouter.params
      if (run === undefined || !Ids.isRunId(run)) return refuse(404, "no such run")
      const services = yield* Effect.context<FileSystem.FileSystem>()
      return HttpServerResponse.stream(updates(options, run).pipe(Stream.provideContext(services)), {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-store", "x-content-type-options": "nosniff" }
      })
    }))
  const stop = guarded((request) =>
    Effect.gen(function*() {
      // A browser says where a request comes from; any other site is refused, token or not.
      const site = request.headers["sec-fetch-site"]
      if (site !== undefined && site !== "same-origin" && site !== "none") return refuse(403, "refused: a request from another site cannot stop a run")
      const origin = request.headers["origin"]
      if (origin !== undefined && !options.hosts.has(origin.replace(/^https?:\/\//, "").toLowerCase())) return refuse(403, "refused: a request from another origin cannot stop a run")
      if (!sameToken(request.headers["x-oompa-stop-token"], options.token)) return refuse(403, "refused: the stop token is missing or wrong (oompa serve printed it when it started)")
      return yield* options.stop.pipe(
        Effect.map((message) => HttpServerResponse.text(message, { headers: { "cache-control": "no-store" } })),
        Effect.catch((e) => Effect.succeed(refuse(409, e.message)))
      )
    }))
  return Layer.mergeAll(
    HttpRouter.add("GET", "/", guarded(() => Effect.map(Effect.orElseSucceed(options.runs, () => []), (runs) => htmlResponse(indexPage(runs))))),
    HttpRouter.add("GET", "/runs/:run", runPage),
    HttpRouter.add("GET", "/runs/:run/updates", runUpdates),
    HttpRouter.add("POST", "/stop", stop)
  )
}

/**
 * The Host header values a browser sends for this address: for a wildcard (`0.0.0.0`, `::`), this
 * machine's own addresses and name; a browser leaves out port 80.
 */
const hostsFor = (host: string, port: number): ReadonlySet<string> => {
  const bracket = (address: string) => isIP(address) === 6 ? `[${address}]` : address
  const own = () => [...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)), hostname()]
  const names = ["127.0.0.1", "::1", "localhost"].includes(host)
    ? ["127.0.0.1", "localhost", "::1"]
    : host === "0.0.0.0" || host === "::"
    ? ["127.0.0.1", "localhost", "::1", ...own()]
    : [host]
  return new Set(names.flatMap((n) => [`${bracket(n)}:${port}`, ...(port === 80 ? [bracket(n)] : [])]).map((n) => n.toLowerCase()))
}

/**
 * Listens, prints the address and a stop token made for this start, and serves until interrupted.
 *
 * @since 0.1.0
 */
export const listen = (options: ServeOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const token = randomBytes(18).toString("base64url")
    // The port is known once bound (`--port 0`); requests only come after.
    let hosts: ReadonlySet<string> = new Set()
    const app = HttpRouter.serve(routes({
      ...options,
      token,
      get hosts() {
        return hosts
      }
    }), { disableLogger: true, disableListenLog: true })
    const server = NodeHttpServer.layer(() => createServer(), { port: options.port, host: options.address })
    const context = yield* Layer.build(Layer.provideMerge(app, server)).pipe(
      Effect.mapError((e) => new UsageError({ message: `serve: cannot listen on ${options.address}:${options.port}: ${e.message}` }))
    )
    const bound = Context.get(context, HttpServer.HttpServer).address
    const port = bound._tag === "UnixPathAddress" ? options.port : bound.port
    hosts = hostsFor(options.address, port)
    const shown = options.address.includes(":") ? `[${options.address}]` : options.address
    yield* Output.lines([
      `oompa dashboard: http://${shown}:${port}/`,
      `stop token (the dashboard's Stop button asks for it): ${token}`,
      "Ctrl-C stops the dashboard, not the run"
    ])
    return yield* Effect.never
  }))
