/**
 * Notifications (issue 22): `notify` in oompa.json names commands and webhooks told when work
 * merged, a task failed, the run finished, or nothing happened for a while. What each receives is
 * a `Notice`: the notification, the run, and the event behind it, as JSON (on the command's
 * standard input, as the webhook's POST body).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Event } from "./Event.ts"
import { NotifyOn } from "./NotifyTarget.ts"

export { defaultStalledAfterSeconds, everyNotification, isWebUrl, NotifyOn, NotifyTarget, WebhookUrl } from "./NotifyTarget.ts"

/**
 * What a command or webhook receives. `event` is the log's event behind it (`MergeResult`,
 * `TaskMoved`, `SwarmFinished`); for `stalled`, the last event before the quiet spell.
 *
 * @category models
 * @since 0.1.0
 */
export const Notice = Schema.Struct({
  notification: NotifyOn,
  runId: Schema.String,
  repository: Schema.String,
  /** Epoch milliseconds. */
  at: Schema.Finite,
  /** For `stalled`: how long nothing has happened, in milliseconds. */
  quietMs: Schema.optionalKey(Schema.Finite),
  event: Schema.optionalKey(Event)
})
export type Notice = typeof Notice.Type

/**
 * The notification an event is, if any.
 *
 * @category constructors
 * @since 0.1.0
 */
export const notificationOf = (event: Event): NotifyOn | undefined => {
  switch (event._tag) {
    case "MergeResult":
      return event.outcome === "merged" ? "merged" : undefined
    case "TaskMoved":
      return event.to === "failed" ? "failed" : undefined
    case "SwarmFinished":
      return "finished"
    default:
      return undefined
  }
}

/**
 * Whether an event is progress: what ends a quiet spell.
 *
 * @category constructors
 * @since 0.1.0
 */
export const isProgress = (event: Event): boolean => event._tag === "IterationFinished" || event._tag === "MergeResult" || event._tag === "SwarmStarted"
