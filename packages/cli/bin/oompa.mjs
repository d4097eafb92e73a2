#!/usr/bin/env node
// The `oompa` bin of the workspace: runs the bundled CLI, so `npx oompa` works from the repository
// root after `npm ci && npm run build`. (npm links bins at install time, before the bundle exists.)
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const bundle = fileURLToPath(new URL("../dist/oompa.mjs", import.meta.url))
if (!existsSync(bundle)) {
  process.stderr.write("oompa: the CLI is not built yet; run `npm run build` first\n")
  process.exit(2)
}
await import(bundle)
