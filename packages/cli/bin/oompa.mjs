#!/usr/bin/env node
// The `oompa` bin: runs the bundle's entry (dist/oompa.mjs, which the package ships with the rest of
// dist/: the full CLI it loads when the answer is not help or the version, and its chunks).
// In the workspace, npm links bins at install time, before the bundle is built: then it says so.
import { existsSync } from "node:fs"
import module from "node:module"
import { fileURLToPath } from "node:url"

const bundle = fileURLToPath(new URL("../dist/oompa.mjs", import.meta.url))
if (!existsSync(bundle)) {
  process.stderr.write("oompa: the CLI is not built yet; run `npm run build` first\n")
  process.exit(2)
}
// Node's on-disk compile cache: after the first run, the bundle's code is not parsed and compiled
// again on every start (see bench/src/startup.bench.ts for what it saves).
module.enableCompileCache?.()
await import(bundle)
