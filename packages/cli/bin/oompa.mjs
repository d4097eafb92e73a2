#!/bin/sh
":" //; for a in "$@"; do case "$a" in -*) ;; swarm|run|loop|cluster) exec node --max-semi-space-size=2 --optimize-for-size "$0" "$@" ;; *) break ;; esac; done; exec node "$0" "$@"
// The `oompa` bin: runs the bundle's entry (dist/oompa.mjs, which the package ships with the rest of
// dist/: the full CLI it loads when the answer is not help or the version, and its chunks).
// The two lines above are read by sh and skipped by Node (a string, then a comment). For the
// commands that orchestrate workers (the first argument that is not a flag), sh starts Node with a
// young generation of 2 MB a half instead of 16, and V8 favouring size: at 64 workers the
// orchestrator's peak resident memory is 109–115 MB instead of 141–150 (120–131 with the young
// generation alone), for CPU within noise (bench/src/parallel.bench.ts, docs/decisions.md).
// Not for the others: any V8 option costs
// ~7 ms at start, and the simulator runs faster with the default. `#!/usr/bin/env -S node …` would
// not need sh, but BusyBox's env has no -S.
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
