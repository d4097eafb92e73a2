/**
 * An `EventSink` that keeps every event in order: the trace of a test or a simulation.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { Event } from "../domain/Event.ts"
import { EventSink } from "../services/EventSink.ts"

/**
 * The collected events, plus an optional observer called on each (checkers hook in here).
 *
 * @category models
 * @since 0.1.0
 */
export class EventLog {
  readonly events: Array<Event> = []
  readonly observe: (event: Event) => void
  /** Whether `events` keeps every event (a simulation that only observes them keeps none: less to collect). */
  readonly retain: boolean
  constructor(observe: (event: Event) => void = () => {}, options: { readonly retain?: boolean } = {}) {
    this.observe = observe
    this.retain = options.retain ?? true
  }

  /** The events with tag `tag`. */
  ofTag<T extends Event["_tag"]>(tag: T): ReadonlyArray<Extract<Event, { _tag: T }>> {
    return this.events.filter((e): e is Extract<Event, { _tag: T }> => e._tag === tag)
  }
}

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (log: EventLog): Layer.Layer<EventSink> =>
  Layer.succeed(EventSink, EventSink.of({
    emit: (event) =>
      Effect.sync(() => {
        if (log.retain) log.events.push(event)
        log.observe(event)
      })
  }))
