/**
 * Where the run's events go (SPEC F9): the JSONL run log, the progress view, a simulation's trace.
 *
 * Implemented by `@oompa/adapters-node`'s `JsonlEventLog`, the CLI's progress view and
 * `@oompa/core/testing`'s collecting sink. Every program emits through it.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { Event } from "../domain/Event.ts"

/**
 * @category services
 * @since 0.1.0
 */
export class EventSink extends Context.Service<EventSink, {
  readonly emit: (event: Event) => Effect.Effect<void>
}>()("@oompa/core/services/EventSink") {
  /** A sink that drops everything. */
  static readonly layerNoop = Layer.succeed(EventSink, EventSink.of({ emit: () => Effect.void }))
}

/**
 * Emits an event.
 *
 * @category constructors
 * @since 0.1.0
 */
export const emit = (event: Event): Effect.Effect<void, never, EventSink> =>
  EventSink.use((sink) => sink.emit(event))

/**
 * Emits the event `make` builds from the current time (`Clock`): how programs stamp their events,
 * in one step rather than a clock read and an emit.
 *
 * @category constructors
 * @since 0.1.0
 */
export const emitNow = (make: (at: number) => Event): Effect.Effect<void, never, EventSink> =>
  EventSink.use((sink) => Effect.clockWith((clock) => sink.emit(make(clock.currentTimeMillisUnsafe()))))
