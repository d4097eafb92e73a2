/**
 * Goal: the JSON Schema of run-log events that ships beside oompa.schema.json is never stale, and
 * covers every event tag the Schema knows (so a reader in another language meets no line it was not
 * told about). Validation of a real run's log against it is in test/cli/json.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { Event } from "../../src/domain/Event.ts"
import { eventsJsonSchema } from "../../src/domain/EventJsonSchema.ts"

describe("oompa-events.schema.json", () => {
  const schemaFile = new URL("../../oompa-events.schema.json", import.meta.url)

  it("the checked-in file equals eventsJsonSchema() (else run `npm run schema:generate`)", () => {
    const generated = `${JSON.stringify(eventsJsonSchema(), null, 2)}\n`
    const checkedIn = readFileSync(schemaFile, "utf8")
    assert.strictEqual(
      checkedIn,
      generated,
      "packages/core/oompa-events.schema.json is stale: the Event Schema changed; run `npm run schema:generate`"
    )
  })

  it("has one alternative per event tag, each requiring its _tag", () => {
    const schema = eventsJsonSchema() as {
      readonly anyOf: ReadonlyArray<{ readonly properties: { readonly _tag: { readonly enum: ReadonlyArray<string> } }; readonly required: ReadonlyArray<string> }>
    }
    const tags = schema.anyOf.flatMap((alternative) => alternative.properties._tag.enum)
    assert.deepStrictEqual([...tags].sort(), Object.keys(Event.cases).sort())
    for (const alternative of schema.anyOf) assert.include(alternative.required, "_tag")
  })
})
