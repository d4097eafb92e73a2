/**
 * The JSON Schema of oompa.json, generated from {@link ConfigFile.ConfigFile} (SPEC F1).
 *
 * It ships with the package (`@oompa/core/oompa.schema.json`) so editors can complete and check the
 * file; `npm run schema:generate` writes it, and a test fails when the checked-in copy is stale.
 * The Schema stays the authority: JSON Schema cannot say everything the decoder checks (a model
 * string's harness, for instance, is only approximated by a pattern).
 *
 * @since 0.1.0
 */
import { JsonSchema, Schema } from "effect"
import { ConfigFile } from "./ConfigFile.ts"

/**
 * The `$id` of the generated document: a stable name, not a download location.
 *
 * @category constants
 * @since 0.1.0
 */
export const schemaId = "urn:oompa:oompa.schema.json"

/**
 * The JSON Schema (draft 2020-12) document of oompa.json. Objects are closed
 * (`additionalProperties: false`), as the decoder rejects unknown keys.
 *
 * @category converting
 * @since 0.1.0
 */
export const configJsonSchema = (): object => {
  // "error" mirrors the decoder's onExcessProperty, which is what closes the objects.
  const document = Schema.toJsonSchemaDocument(ConfigFile, { onExcessProperty: "error" })
  const definitions = Object.keys(document.definitions).length === 0 ? {} : { $defs: document.definitions }
  const { title, description, ...schema } = document.schema
  // Identity and title first, so the file reads top-down in an editor.
  return {
    $schema: JsonSchema.META_SCHEMA_URI_DRAFT_2020_12,
    $id: schemaId,
    title,
    description,
    ...schema,
    ...definitions
  }
}
