/**
 * `notify` in oompa.json (issue 22): an event sink that tells commands and webhooks when work
 * merged, a task failed, the run finished, or nothing ended or merged for `stalled_after` seconds.
 *
 * It never holds the run: an event only puts a notice on a target's queue (a bounded one; when a
 * target is so slow that a thousand notices wait, newer ones are dropped and the end says so).
 * Each target has its own deliverer, so a dead webhook delays nobody else. A delivery is tried up
 * to five times with a doubling wait (`Schedule`), each try bounded to 10 s; one that still fails
 * becomes a warning in the run log (an answer such as 404, which another try cannot change, at once). When the run ends, what is queued gets 5 s more to go out.
 *
 * A command runs by `sh -c` in the repository with the notice as JSON on its standard input and
 * `OOMPA_RUN`/`OOMPA_NOTIFICATION` set; a webhook gets it as the body of a POST.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Duration, Effect, Fiber, Layer, Option, Queue, Ref, Schedule, Schema, Scope, Stream } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { type Event, EventSink, Notification } from "@oompa/core"
import * as JsonlEventLog from "./JsonlEventLog.ts"

/** @category models @since 0.1.0 */
export interface Options {
  readonly runId: string
  readonly repoRoot: string
  /** The environment commands inherit. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Where a delivery that failed for good is reported (the run log's `Warning`). */
  readonly warn: (message: string) => Effect.Effect<void>
  /** How long queued notices get once the run ends (default 5 s). */
  readonly drainMs?: number
}

const attemptTimeout = Duration.seconds(10)
// Long enough for a live webhook to take the last notices; short enough that a dead one barely delays the exit.
const defaultDrainMs = 5_000
const retries = { times: 4, schedule: Schedule.exponential(Duration.millis(500)) }
const encodeNotice = Schema.encodeSync(Schema.fromJsonString(Notification.Notice))

/**
 * Who a target is, for messages: its place in `notify` and, for a webhook, its origin. Never a
 * webhook's path or query, nor a command's text: either may hold a secret (a token, a key).
 */
export const describeTarget = (target: Notification.NotifyTarget, index: number): string =>
  target.webhook !== undefined ? `notify[${index}] (webhook ${new URL(target.webhook).origin})` : `notify[${index}] (a command)`

/** `retry: false`: trying again cannot help (a webhook answered 404, say). */
class DeliveryFailed extends Schema.TaggedError<DeliveryFailed>()("DeliveryFailed", { message: Schema.String, retry: Schema.Boolean }) {}

/** Bytes of a failing command's stderr kept for its warning. */
const stderrBytesMax = 4096

/**
 * Runs the command with the notice on its stdin. Its exit code decides; what it left running in
 * the background (holding stderr open) does not make it wait. A command that outlives its try is
 * sent SIGTERM, then SIGKILL a second later.
 */
const runCommand = (spawner: ChildProcessSpawner.ChildProcessSpawner["Service"], command: string, body: string, notice: Notification.Notice, options: Options) =>
  Effect.scoped(Effect.gen(function*() {
    const env = Object.fromEntries(Object.entries(options.env).filter((e): e is [string, string] => e[1] !== undefined))
    const handle = yield* spawner.spawn(ChildProcess.make("sh", ["-c", command], {
      cwd: options.repoRoot,
      env: { ...env, OOMPA_RUN: options.runId, OOMPA_NOTIFICATION: notice.notification },
      extendEnv: false,
      stdin: { stream: Stream.make(new TextEncoder().encode(`${body}\n`)) },
      stdout: "ignore",
      stderr: "pipe",
      forceKillAfter: Duration.seconds(1)
    }))
    let said = ""
    const reader = yield* Effect.forkChild(
      Stream.runForEach(Stream.decodeText(handle.stderr), (text) => Effect.sync(() => void (said = `${said}${text}`.slice(-stderrBytesMax)))),
      { startImmediately: true }
    )
    const code = yield* handle.exitCode
    yield* Fiber.await(reader).pipe(Effect.timeoutOption(Duration.millis(100)))
    yield* Fiber.interrupt(reader)
    const last = said.trim().split("\n").slice(-1)[0]!.slice(0, 200)
    if (code !== 0) return yield* new DeliveryFailed({ retry: true, message: `exit ${code}${last === "" ? "" : `: ${last}`}` })
  })).pipe(Effect.mapError((e) => e._tag === "DeliveryFailed" ? e : new DeliveryFailed({ retry: true, message: `could not run sh -c (${e._tag})` })))

const postWebhook = (client: HttpClient.HttpClient, url: string, body: string) =>
  client.execute(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText(body, "application/json"), HttpClientRequest.setHeader("user-agent", "oompa"))).pipe(
    Effect.flatMap((response) =>
      response.status >= 200 && response.status < 300
        ? Effect.void
        : Effect.fail(new DeliveryFailed({ message: `answered ${response.status}`, retry: response.status >= 500 || response.status === 408 || response.status === 429 }))),
    // Not the client's message: it names the whole URL.
    Effect.mapError((e) => e._tag === "DeliveryFailed" ? e : new DeliveryFailed({ retry: true, message: `no answer (${e.reason._tag})` })),
    Effect.scoped
  )

/**
 * The sink for `targets`. Its deliverers live in the current scope: closing it (the run's end)
 * gives queued notices `drainMs` to go out, then stops them.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("Notifications.make")(function*(targets: ReadonlyArray<Notification.NotifyTarget>, options: Options) {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const client = yield* HttpClient.HttpClient
  const scope = yield* Effect.scope
  const repository = options.repoRoot
  const lanes = yield* Effect.forEach(targets, (target, index) =>
    Effect.gen(function*() {
      const queue = yield* Queue.dropping<Notification.Notice, Cause.Done>(1000)
      const dropped = yield* Ref.make(0)
      const deliver = (notice: Notification.Notice) => {
        const body = encodeNotice(notice)
        const once = target.webhook !== undefined ? postWebhook(client, target.webhook, body) : runCommand(spawner, target.command!, body, notice, options)
        return once.pipe(
          Effect.timeoutOrElse({ duration: attemptTimeout, orElse: () => Effect.fail(new DeliveryFailed({ retry: true, message: `no answer in ${Duration.format(attemptTimeout)}` })) }),
          Effect.retry({ ...retries, while: (e) => e.retry }),
          Effect.catch((e) => options.warn(`notify: ${describeTarget(target, index)} was not told of ${notice.notification}${e.retry ? " after 5 tries" : ""}: ${e.message}`))
        )
      }
      const deliverer = yield* Effect.forever(Effect.flatMap(Queue.take(queue), deliver)).pipe(
        Effect.catchCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.interrupt : Effect.void),
        Effect.forkIn(scope)
      )
      return { target, index, queue, dropped, deliverer }
    }))
  const lastProgress = yield* Ref.make({ at: yield* Clock.currentTimeMillis, event: undefined as Event.Event | undefined, finished: false })
  const toldStalled = new Set<Notification.NotifyTarget>()
  const offer = (lane: (typeof lanes)[number], notice: Notification.Notice) =>
    Queue.offer(lane.queue, notice).pipe(Effect.flatMap((taken) => taken ? Effect.void : Ref.update(lane.dropped, (n) => n + 1)))

  // Quiet spells: looked for every second, told once per spell per target.
  const stallWatch = lanes.some((l) => l.target.on.includes("stalled"))
    ? yield* Effect.forkIn(Effect.repeat(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const last = yield* Ref.get(lastProgress)
      if (last.finished) return
      for (const lane of lanes) {
        if (!lane.target.on.includes("stalled") || toldStalled.has(lane.target) || now - last.at < lane.target.stalled_after * 1000) continue
        toldStalled.add(lane.target)
        yield* offer(lane, {
          notification: "stalled", runId: options.runId, repository, at: now, quietMs: now - last.at,
          ...(last.event === undefined ? {} : { event: last.event })
        })
      }
    }), Schedule.spaced(Duration.seconds(1))), scope)
    : undefined

  yield* Scope.addFinalizer(scope, Effect.gen(function*() {
    if (stallWatch !== undefined) yield* Fiber.interrupt(stallWatch)
    for (const lane of lanes) yield* Queue.end(lane.queue)
    const drained = yield* Effect.forEach(lanes, (lane) => Fiber.await(lane.deliverer), { concurrency: "unbounded", discard: true }).pipe(
      Effect.timeoutOption(Duration.millis(options.drainMs ?? defaultDrainMs))
    )
    for (const lane of lanes) {
      const dropped = yield* Ref.get(lane.dropped)
      if (dropped > 0) yield* options.warn(`notify: ${describeTarget(lane.target, lane.index)} was too slow: ${dropped} notices were dropped`)
    }
    // A command being stopped takes at most its kill's grace; the bound is for what cannot be foreseen.
    yield* Effect.forEach(lanes, (lane) => Fiber.interrupt(lane.deliverer), { concurrency: "unbounded", discard: true }).pipe(Effect.timeoutOption(Duration.seconds(3)))
    if (Option.isNone(drained)) yield* options.warn(`notify: notices still unsent ${(options.drainMs ?? defaultDrainMs) / 1000} s after the run ended were dropped`)
  }))

  return EventSink.EventSink.of({
    emit: (event) =>
      Effect.gen(function*() {
        if (Notification.isProgress(event) || event._tag === "SwarmFinished") {
          yield* Ref.set(lastProgress, { at: yield* Clock.currentTimeMillis, event, finished: event._tag === "SwarmFinished" })
          toldStalled.clear()
        }
        const notification = Notification.notificationOf(event)
        if (notification === undefined) return
        const notice: Notification.Notice = { notification, runId: options.runId, repository, at: event.at, event }
        for (const lane of lanes) if (lane.target.on.includes(notification)) yield* offer(lane, notice)
      })
  })
})

/**
 * The sink of `inner` (the run log and its companions) followed by the notifications of `targets`;
 * a delivery that fails for good is a `Warning` sent to `inner`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAfter = <E, R>(
  inner: Layer.Layer<EventSink.EventSink, E, R>,
  targets: ReadonlyArray<Notification.NotifyTarget>,
  options: Omit<Options, "warn">
) =>
  Layer.effect(EventSink.EventSink, Effect.gen(function*() {
    const log = yield* EventSink.EventSink
    const notifier = yield* make(targets, {
      ...options,
      warn: (message) => Effect.flatMap(Clock.currentTimeMillis, (at) => log.emit({ _tag: "Warning", at, message }))
    })
    return JsonlEventLog.tee([log, notifier])
  })).pipe(Layer.provide(Layer.merge(inner, FetchHttpClient.layer)))
