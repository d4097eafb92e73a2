// Writes packages/core/oompa.schema.json, the JSON Schema of oompa.json that ships for editors.
// Generated from the ConfigFile Schema so the two never disagree; a test in
// packages/core/test/domain/ConfigFile.test.ts fails when the checked-in copy is stale.
// Run with `npm run schema:generate` (Node 22 runs this .ts file directly).
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { configJsonSchema } from "../packages/core/src/domain/ConfigJsonSchema.ts"

const target = fileURLToPath(new URL("../packages/core/oompa.schema.json", import.meta.url))
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`)
console.log(`wrote ${target}`)
