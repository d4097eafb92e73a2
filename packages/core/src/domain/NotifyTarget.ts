/**
 * `notify` in oompa.json as the config holds it (issue 22): who is told, and of what. Apart from
 * `Notification` (what they are told) because the config cannot import the run log's events.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * What a notification is about. `stalled`: no iteration ended and nothing merged for
 * `stalled_after` seconds while the run goes on (told once per quiet spell).
 *
 * @category models
 * @since 0.1.0
 */
export const NotifyOn = Schema.Literals(["merged", "failed", "finished", "stalled"])
export type NotifyOn = typeof NotifyOn.Type

/** @category constants @since 0.1.0 */
export const everyNotification: ReadonlyArray<NotifyOn> = ["merged", "failed", "finished", "stalled"]

/** @category constants @since 0.1.0 */
export const defaultStalledAfterSeconds = 900

/**
 * Whether `text` parses as an http:// or https:// URL with a host (a webhook, an OTLP endpoint).
 *
 * @category predicates
 * @since 0.1.0
 */
export const isWebUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== ""
  } catch {
    return false
  }
}

/**
 * A webhook's address: an http(s) URL.
 *
 * @category models
 * @since 0.1.0
 */
export const WebhookUrl = Schema.String.check(Schema.makeFilter(isWebUrl, { expected: "an http:// or https:// URL" }))

/**
 * One entry of `notify`, with its defaults filled in: who is told (a command run by `sh -c` in the
 * repository, or a webhook), and of what.
 *
 * @category models
 * @since 0.1.0
 */
export const NotifyTarget = Schema.Struct({
  on: Schema.Array(NotifyOn),
  command: Schema.optionalKey(Schema.NonEmptyString),
  webhook: Schema.optionalKey(WebhookUrl),
  stalled_after: Schema.Finite
})
export type NotifyTarget = typeof NotifyTarget.Type
