// Bundles the CLI into one executable ESM file, packages/cli/dist/oompa.mjs: no node_modules needed
// at run time. CommonJS dependencies get a `require` made for them, as esbuild's ESM output needs.
import { build } from "esbuild"
import { chmodSync } from "node:fs"

const outfile = "packages/cli/dist/oompa.mjs"
await build({
  entryPoints: ["packages/cli/src/bin.ts"],
  outfile,
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  // The workspace packages from their TypeScript sources (their `dist/` need not be built first).
  conditions: ["@oompa/source"],
  legalComments: "none",
  banner: {
    js: [
      "#!/usr/bin/env node",
      "import { createRequire as __oompaCreateRequire } from \"node:module\";",
      "const require = __oompaCreateRequire(import.meta.url);"
    ].join("\n")
  },
  logLevel: "warning"
})
chmodSync(outfile, 0o755)
console.log(`built ${outfile}`)
