// Writes the JSON Schemas that ship with @oompa/core: packages/core/oompa.schema.json (oompa.json,
// for editors) and packages/core/oompa-events.schema.json (a line of a run log, for readers in other
// languages). Generated from the Schemas the code decodes with, so the two never disagree; tests in
// packages/core/test/domain/ConfigFile.test.ts and EventJsonSchema.test.ts fail when a checked-in
// copy is stale. Run with `npm run schema:generate` (Node 22 runs this .ts file directly).
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { configJsonSchema } from "../packages/core/src/domain/ConfigJsonSchema.ts"
import { eventsJsonSchema } from "../packages/core/src/domain/EventJsonSchema.ts"

const documents: ReadonlyArray<readonly [string, object]> = [
  ["oompa.schema.json", configJsonSchema()],
  ["oompa-events.schema.json", eventsJsonSchema()]
]

for (const [name, document] of documents) {
  const target = fileURLToPath(new URL(`../packages/core/${name}`, import.meta.url))
  writeFileSync(target, `${JSON.stringify(document, null, 2)}\n`)
  console.log(`wrote ${target}`)
}
