/**
 * The JSON Schema of a run-log line, generated from {@link Event.Event} (SPEC F9).
 *
 * `.oompa/runs/<id>/events.jsonl` holds one event a line; this document (shipped as
 * `@oompa/core/oompa-events.schema.json`) lets readers in other languages check and generate types
 * for what they read without reading TypeScript. `npm run schema:generate` writes it, and a test
 * fails when the checked-in copy is stale. The Schema stays the authority.
 *
 * @since 0.1.0
 */
import { JsonSchema, Schema } from "effect"
import { Event } from "./Event.ts"

/**
 * The `$id` of the generated document: a stable name, not a download location.
 *
 * @category constants
 * @since 0.1.0
 */
export const schemaId = "urn:oompa:oompa-events.schema.json"

/**
 * The JSON Schema (draft 2020-12) document of one run-log line: an event, told apart by `_tag`.
 * Objects stay open (a newer oompa may add a field; a reader of an older log should not reject it),
 * as the log's own decoder ignores unknown keys.
 *
 * @category converting
 * @since 0.1.0
 */
export const eventsJsonSchema = (): object => {
  const document = Schema.toJsonSchemaDocument(Event)
  const definitions = Object.keys(document.definitions).length === 0 ? {} : { $defs: document.definitions }
  return {
    $schema: JsonSchema.META_SCHEMA_URI_DRAFT_2020_12,
    $id: schemaId,
    title: "oompa run-log event",
    description: "One line of .oompa/runs/<id>/events.jsonl: an event of an oompa run, tagged by _tag.",
    ...document.schema,
    ...definitions
  }
}
