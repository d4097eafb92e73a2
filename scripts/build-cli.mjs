// Bundles the CLI into one executable ESM file, packages/cli/dist/oompa.mjs: no node_modules needed
// at run time. CommonJS dependencies get a `require` made for them, as esbuild's ESM output needs.
// Minified (names kept, so errors still name their classes): 2.9 MB -> 1.3 MB to install and load.
// Start-up barely changes with it (module initialisation, not parsing, dominates; see
// bench/src/startup.bench.ts). The metafile beside it (oompa.meta.json, not shipped) says which
// inputs the bytes come from.
import { build } from "esbuild"
import { chmodSync, copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs"

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

// What the package ships beside the bundle, which has no dependencies of its own: the JSON Schemas
// of oompa.json and of the run log (`oompa init` points `$schema` at the first), and the licences of
// every third-party package the bundle carries.
for (const schema of ["oompa.schema.json", "oompa-events.schema.json"]) copyFileSync(`packages/core/${schema}`, `packages/cli/${schema}`)
writeFileSync("packages/cli/dist/THIRD-PARTY-NOTICES.txt", thirdPartyNotices(result.metafile))
console.log("wrote packages/cli/dist/THIRD-PARTY-NOTICES.txt and the JSON Schemas")

/** The name, version, licence and licence text of each package under node_modules the bundle has code of. */
function thirdPartyNotices(metafile) {
  const roots = new Set()
  for (const output of Object.values(metafile.outputs)) {
    for (const input of Object.keys(output.inputs)) {
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
      if (match !== null) roots.add(match[1])
    }
  }
  const sections = [...roots].sort().map((root) => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, "utf8"))
    const licenseFile = readdirSync(root).find((name) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(name))
    const text = licenseFile === undefined ? `(no licence file; package.json says ${pkg.license})` : readFileSync(`${root}/${licenseFile}`, "utf8").trim()
    return `${pkg.name}@${pkg.version} — ${pkg.license ?? "unknown"}\n\n${text}\n`
  })
  return [
    "oompa's CLI bundle (dist/oompa.mjs) includes code from the following packages, under their licences.",
    "",
    ...sections.map((section) => `${"-".repeat(80)}\n${section}`)
  ].join("\n")
}
