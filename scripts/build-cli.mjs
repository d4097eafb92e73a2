// Bundles the CLI into one executable ESM file, packages/cli/dist/oompa.mjs: no node_modules needed
// at run time. CommonJS dependencies get a `require` made for them, as esbuild's ESM output needs.
// Minified (names kept, so errors still name their classes): start-up time is mostly parsing, and
// half the bytes parse in half the time (bench/src/startup.bench.ts). The metafile beside it
// (oompa.meta.json, not shipped) says which inputs the bytes come from.
import { build } from "esbuild"
import { chmodSync, writeFileSync } from "node:fs"

const outfile = "packages/cli/dist/oompa.mjs"
const result = await build({
  entryPoints: ["packages/cli/src/bin.ts"],
  outfile,
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  // The workspace packages from their TypeScript sources (their `dist/` need not be built first).
  conditions: ["@oompa/source"],
  minify: true,
  keepNames: true,
  metafile: true,
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
writeFileSync("packages/cli/dist/oompa.meta.json", JSON.stringify(result.metafile))
console.log(`built ${outfile}`)
