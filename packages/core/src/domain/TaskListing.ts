/**
 * The task queue folder by folder (SPEC F2: `oompa tasks --json`): the tasks of each folder, and the
 * files `invalid/` holds with why they were set aside. A Schema, so a program reading the listing
 * decodes exactly what the CLI prints.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Task } from "./Task.ts"

/**
 * A file of `invalid/`: a task file that did not decode, kept with the reason and its original text
 * so nothing a planner or a person wrote is lost.
 *
 * @category models
 * @since 0.1.0
 */
export const InvalidEntry = Schema.Struct({
  /** Its name in `invalid/`. */
  file: Schema.String,
  /** Its original name. */
  name: Schema.String,
  /** The folder or outbox it came from. */
  from: Schema.optionalKey(Schema.String),
  invalid_reason: Schema.String,
  /** The original text. */
  content: Schema.String
})
export type InvalidEntry = typeof InvalidEntry.Type

/**
 * Every folder of the queue, each in claim order (priority, then id).
 *
 * @category models
 * @since 0.1.0
 */
export const TaskListing = Schema.Struct({
  pending: Schema.Array(Task),
  current: Schema.Array(Task),
  complete: Schema.Array(Task),
  failed: Schema.Array(Task),
  invalid: Schema.Array(InvalidEntry)
})
export type TaskListing = typeof TaskListing.Type
