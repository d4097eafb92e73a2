// Bundles the CLI into packages/cli/dist: no node_modules needed at run time. CommonJS dependencies
// get a `require` made for them, as esbuild's ESM output needs. Minified, names not kept (errors name
// themselves by their tags; keeping every function's name cost 97 KB, 6% of the bundle): 2.9 MB ->
// 1.2 MB to install and load.
//
// Start-up (issue 17; bench/src/startup.bench.ts measures it) shapes the output:
// - dist/oompa.mjs (src/bin.ts), what the bin runs: about 1 KB, node builtins only. It answers help
//   and the version from dist/help.json, without Effect, and imports dist/cli.mjs for anything else;
// - dist/cli.mjs (src/FullCli.ts), the full CLI, which `node dist/cli.mjs …` also runs directly;
// - dist/chunks/: what the full CLI imports only when used (isomorphic-git, which the git adapter
//   imports lazily; the price table, which only a run pricing a call loads), split off so that a
//   command that does not use it does not load it;
// - dist/help.json: what the freshly built full CLI prints for every help and version argv, in
//   colour and without, rendered here by dist/cli.mjs itself, so the fast path cannot say anything
//   else (test/cli/fastPath.test.ts compares the two).
// oompa.meta.json beside them (esbuild's metafiles of both builds, not shipped) says which inputs
// the bytes come from.
//
// Everything is built in a staging folder (dist/.build-*) and moved into place once complete
// (chunks first, the entry last), so that an `oompa` started during a build runs the old files or
// the new ones, and a failed build leaves the old ones.
import { build } from "esbuild"
import { spawn } from "node:child_process"
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"

const dist = "packages/cli/dist"

const common = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  // The workspace packages from their TypeScript sources (their `dist/` need not be built first).
  conditions: ["@oompa/source"],
  minify: true,
  keepNames: false,
  metafile: true,
  legalComments: "none",
  logLevel: "warning"
}

/**
 * With splitting, esbuild makes a chunk of every `import()` it meets, even in code that tree shaking
 * then drops: @effect/platform-node's barrel brought undici's 760 KB (its HTTP client, which oompa
 * does not use) into dist/chunks. A dependency's `import()` is therefore left external (not bundled),
 * and `checkExternalImports` fails the build if a module making one is in the output: then it could
 * run, and its import must be bundled (add it to `bundledImports`).
 */
const externalImports = new Map()
const bundledImports = new Set([])
/**
 * Modules in the bundle whose `import()` can never run in oompa, each with the reason, so the check
 * below lets them through. Its import left out, such a line would fail at run time, loudly.
 */
const unreachableImports = new Map([
  // The Kubernetes dispatcher and HTTP client of runner health checks: only `runnerHealth: "k8s"`,
  // which oompa's cluster never sets (its runners check each other with "ping").
  ["node_modules/@effect/platform-node/dist/NodeClusterSocket.js", ["./Undici.js"]],
  ["node_modules/@effect/platform-node/dist/NodeHttpClient.js", ["./Undici.js", "./internal/upgrade.js"]]
])
const unusedDynamicImports = {
  name: "unused-dynamic-imports",
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== "dynamic-import" || !args.importer.includes("/node_modules/") || bundledImports.has(args.path)) return undefined
      const importer = args.importer.slice(args.importer.lastIndexOf("node_modules/"))
      externalImports.set(importer, [...(externalImports.get(importer) ?? []), args.path])
      return { path: args.path, external: true }
    })
  }
}
const checkExternalImports = (metafile) => {
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const module = input.slice(input.lastIndexOf("node_modules/"))
      const imports = externalImports.get(module)?.filter((path) => !(unreachableImports.get(module) ?? []).includes(path))
      if (imports !== undefined && imports.length > 0 && bytesInOutput > 0) {
        throw new Error(`${input} is in the bundle and imports ${imports.join(", ")}, which the bundle leaves out: add it to bundledImports in scripts/build-cli.mjs`)
      }
    }
  }
}

/**
 * Split into a chunk, esbuild's `import()` of a CommonJS module gives only `default`, where Node gives
 * its named exports too (the git adapter calls `resolveRef` on `await import("isomorphic-git")`).
 * Such an import loads a facade instead, which exports each of the module's names (read by loading
 * it here) beside `default`. `checkDynamicImports` fails the build on any other such import.
 */
const commonJsFacades = new Set(["isomorphic-git"])
const dynamicCommonJs = {
  name: "dynamic-commonjs",
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) =>
      args.kind === "dynamic-import" && commonJsFacades.has(args.path)
        ? { path: args.path, namespace: "commonjs-facade", pluginData: { resolveDir: args.resolveDir } }
        : undefined)
    build.onLoad({ filter: /.*/, namespace: "commonjs-facade" }, (args) => {
      const { resolveDir } = args.pluginData
      const names = Object.keys(createRequire(`${resolveDir}/`)(args.path)).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== "default")
      const specifier = JSON.stringify(args.path)
      return { contents: `const m = require(${specifier});\nexport default m;\nexport const { ${names.join(", ")} } = m;\n`, resolveDir, loader: "js" }
    })
  }
}
const checkDynamicImports = (metafile) => {
  for (const [file, input] of Object.entries(metafile.inputs)) {
    for (const imported of input.imports) {
      if (imported.kind === "dynamic-import" && !imported.external && metafile.inputs[imported.path]?.format === "cjs") {
        throw new Error(`${file} imports ${imported.path}, a CommonJS module, with import(): add it to commonJsFacades in scripts/build-cli.mjs`)
      }
    }
  }
}

/**
 * The price table (@pydantic/genai-prices, issue 18) holds every provider's prices in its one module:
 * 480 KB minified, a third of the bundle. oompa prices with only the providers of the CLIs' models
 * and their token prices (`bundledProviders` of packages/adapters-node/src/internal/priceTable.ts,
 * which the library sets as the package's data too), so the package's data is replaced here by
 * that (about 30 KB), and the cut is checked: every model of those providers costs the same with the
 * cut module as with the whole package. A version of the package whose data is not where
 * `cutPriceTable` looks fails the build rather than ship all of it.
 */
const priceTableModule = /[\\/]node_modules[\\/]@pydantic[\\/]genai-prices[\\/]dist[\\/]index\.js$/
const priceTable = {
  name: "price-table",
  setup(build) {
    build.onLoad({ filter: priceTableModule }, async (args) => ({ contents: await cutPriceTable(args.path), loader: "js" }))
  }
}

async function cutPriceTable(file) {
  const source = readFileSync(file, "utf8")
  const table = await import("../packages/adapters-node/src/internal/priceTable.ts")
  // The data is the module's first statement: `const <data> = [ …providers… ], <units> = { …`.
  const data = /^const (\w+) = \[\n[\s\S]*?\n\], (\w+) = \{/.exec(source)
  if (data === null) throw new Error(`${file}: its price data is not where scripts/build-cli.mjs looks for it (cutPriceTable)`)
  const cut = `const ${data[1]} = ${JSON.stringify(table.bundledProviders())}, ${data[2]} = {${source.slice(data[0].length)}`
  const checked = `${stage}/price-table-check.mjs`
  writeFileSync(checked, cut)
  const [whole, reduced] = await Promise.all([import(pathToFileURL(file).href), import(pathToFileURL(checked).href)])
  // A small call with cached input and reasoning, and one past the long-context tiers.
  const usages = [
    { input_tokens: 12_000, cache_read_tokens: 4_000, cache_write_tokens: 1_000, output_tokens: 900, output_reasoning_tokens: 300 },
    { input_tokens: 400_000, cache_read_tokens: 100_000, output_tokens: 20_000 }
  ]
  let models = 0
  for (const provider of table.bundledProviders()) {
    for (const model of provider.models) {
      for (const usage of usages) {
        const price = (module) => module.calcPrice(usage, model.id, { providerId: provider.id })?.total_price
        if (price(whole) !== price(reduced)) {
          throw new Error(`the bundle's price table prices ${provider.id}/${model.id} at ${price(reduced)}, the package at ${price(whole)} (cutPriceTable)`)
        }
      }
      models++
    }
  }
  if (models === 0) throw new Error("the bundle's price table has no models (cutPriceTable)")
  return cut
}

// In dist/ (ignored by git, not shipped), on the same file system as the files it replaces.
mkdirSync(dist, { recursive: true })
const stage = mkdtempSync(`${dist}/.build-`)
const entry = `${stage}/oompa.mjs`
const fullCli = `${stage}/cli.mjs`
const helpTable = `${stage}/help.json`
let metafile
try {
  // The full CLI, and the chunks only some commands load.
  const full = await build({
    ...common,
    entryPoints: [{ in: "packages/cli/src/FullCli.ts", out: "cli" }],
    outdir: stage,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    splitting: true,
    plugins: [unusedDynamicImports, dynamicCommonJs, priceTable],
    banner: {
      js: [
        "#!/usr/bin/env node",
        "import { createRequire as __oompaCreateRequire } from \"node:module\";",
        "const require = __oompaCreateRequire(import.meta.url);"
      ].join("\n")
    }
  })
  checkExternalImports(full.metafile)
  checkDynamicImports(full.metafile)

  // The entry, built on its own so that nothing the full CLI has can land in it (a split build would
  // put code both import into a shared chunk, which `--help` would then load). Its import of
  // FullCli.ts is the file built above.
  const fast = await build({
    ...common,
    entryPoints: ["packages/cli/src/bin.ts"],
    outfile: entry,
    plugins: [{
      name: "full-cli",
      setup(build) {
        build.onResolve({ filter: /^\.\/FullCli\.ts$/ }, () => ({ path: "./cli.mjs", external: true }))
      }
    }],
    banner: { js: "#!/usr/bin/env node" }
  })
  const entryImports = Object.values(fast.metafile.outputs)[0].imports
  const unexpected = entryImports.filter((i) => !(i.path.startsWith("node:") || (i.path === "./cli.mjs" && i.kind === "dynamic-import")))
  if (unexpected.length > 0) throw new Error(`dist/oompa.mjs must import node builtins only (and ./cli.mjs lazily): it imports ${unexpected.map((i) => i.path).join(", ")}`)
  for (const file of [entry, fullCli]) chmodSync(file, 0o755)
  writeFileSync(helpTable, JSON.stringify(await renderHelp()))
  publish()
  metafile = published({ inputs: { ...full.metafile.inputs, ...fast.metafile.inputs }, outputs: { ...full.metafile.outputs, ...fast.metafile.outputs } })
} finally {
  rmSync(stage, { recursive: true, force: true })
}
writeFileSync(`${dist}/oompa.meta.json`, JSON.stringify(metafile))
console.log(`built ${dist}/oompa.mjs, cli.mjs, chunks/ and help.json`)

// What the package ships beside the bundle, which has no dependencies of its own: the JSON Schemas
// of oompa.json and of the run log (`oompa init` points `$schema` at the first), and the licences of
// every third-party package the bundle carries.
for (const schema of ["oompa.schema.json", "oompa-events.schema.json"]) copyFileSync(`packages/core/${schema}`, `packages/cli/${schema}`)
writeFileSync(`${dist}/THIRD-PARTY-NOTICES.txt`, thirdPartyNotices(metafile))
console.log(`wrote ${dist}/THIRD-PARTY-NOTICES.txt and the JSON Schemas`)

/**
 * Moves the staged build into dist/: the chunks (named by their content's hash), the full CLI, the
 * help table, then the entry that loads them; then removes the chunks the new build does not have
 * (dist/tsc, tsc's, stays). A chunk a running older CLI could still load lazily is gone only when
 * its content changed.
 */
function publish() {
  mkdirSync(`${dist}/chunks`, { recursive: true })
  const chunks = existsSync(`${stage}/chunks`) ? readdirSync(`${stage}/chunks`) : []
  for (const chunk of chunks) renameSync(`${stage}/chunks/${chunk}`, `${dist}/chunks/${chunk}`)
  for (const file of ["cli.mjs", "help.json", "oompa.mjs"]) renameSync(`${stage}/${file}`, `${dist}/${file}`)
  for (const old of readdirSync(`${dist}/chunks`)) if (!chunks.includes(old)) rmSync(`${dist}/chunks/${old}`, { force: true })
}

/** A metafile of the staged build, naming the files where `publish` puts them. */
function published(metafile) {
  const rename = (file) => file.startsWith(`${stage}/`) ? `${dist}/${file.slice(stage.length + 1)}` : file
  return {
    inputs: metafile.inputs,
    outputs: Object.fromEntries(Object.entries(metafile.outputs).map(([file, output]) => [rename(file), {
      ...output,
      imports: output.imports.map((imported) => ({ ...imported, path: rename(imported.path) }))
    }]))
  }
}

/**
 * The fast path's table (`HelpTable` of packages/cli/src/FastPath.ts): bare `oompa`, `oompa help`,
 * `--version`, `-v`, and `--help` and `-h` of the root and of every command (by name and alias),
 * each run by the built full CLI, once with colour forced and once with colour off; what it printed
 * and its exit code, identical results stored once.
 */
async function renderHelp() {
  const [plain, colour] = await Promise.all([render({ NO_COLOR: "1" }), render({ FORCE_COLOR: "1" })])
  if (JSON.stringify(plain.map((r) => r.argv)) !== JSON.stringify(colour.map((r) => r.argv))) throw new Error("help rendering: the two runs saw different commands")
  // format: FastPath.tableFormat (a table of another format is ignored, and the full CLI answers).
  const table = { format: 1, argv: {}, plain: [], colour: [] }
  const seen = new Map()
  plain.forEach((printed, i) => {
    const pair = JSON.stringify([printed.out, colour[i].out])
    if (!seen.has(pair)) {
      seen.set(pair, table.plain.length)
      table.plain.push(printed.out)
      table.colour.push(colour[i].out)
    }
    table.argv[JSON.stringify(printed.argv)] = seen.get(pair)
  })
  return table
}

/**
 * One child process running every help argv through dist/cli.mjs's own `main` (`exitCodeOf`), in
 * this colour environment, with stdout and stderr captured around each run; the argvs come from the
 * command tree the bundle holds. The results come back on fd 3.
 */
function render(colourEnv) {
  const script = `
    import { writeSync } from "node:fs"
    import { pathToFileURL } from "node:url"
    const { exitCodeOf, oompa } = await import(pathToFileURL(process.env.OOMPA_FULL_CLI).href)
    const paths = [[]]
    const walk = (command, path) => {
      for (const group of command.subcommands) for (const sub of group.commands) {
        for (const name of [sub.name, ...(sub.alias === undefined ? [] : [sub.alias])]) {
          paths.push([...path, name])
          walk(sub, [...path, name])
        }
      }
    }
    walk(oompa, [])
    const argvs = [[], ["help"], ["--version"], ["-v"], ...paths.flatMap((path) => [[...path, "--help"], [...path, "-h"]])]
    const captured = { stdout: "", stderr: "" }
    for (const name of ["stdout", "stderr"]) {
      process[name].write = (chunk, encoding, callback) => {
        captured[name] += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")
        const done = typeof encoding === "function" ? encoding : callback
        if (typeof done === "function") queueMicrotask(done)
        return true
      }
    }
    const results = []
    for (const argv of argvs) {
      captured.stdout = ""
      captured.stderr = ""
      const exitCode = await exitCodeOf(argv)
      results.push({ argv, out: { stdout: captured.stdout, stderr: captured.stderr, exitCode } })
    }
    writeSync(3, JSON.stringify(results))
  `
  const { NO_COLOR: _n, FORCE_COLOR: _f, NODE_DISABLE_COLORS: _d, NODE_OPTIONS: _o, ...env } = process.env
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...env, ...colourEnv, TERM: "xterm-256color", OOMPA_FULL_CLI: fullCli },
      stdio: ["ignore", "pipe", "pipe", "pipe"]
    })
    const out = { 1: "", 2: "", 3: "" }
    for (const fd of [1, 2, 3]) child.stdio[fd].setEncoding("utf8").on("data", (chunk) => (out[fd] += chunk))
    child.on("error", reject)
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`help rendering exited ${code}:\n${out[1]}\n${out[2]}`))
      const results = JSON.parse(out[3])
      // Each is help or the version: printed on stdout, exit 0. Anything else is a broken build.
      const bad = results.find((r) => r.out.exitCode !== 0 || r.out.stderr !== "" || r.out.stdout === "")
      if (bad !== undefined) return reject(new Error(`help rendering: oompa ${bad.argv.join(" ")} printed ${JSON.stringify(bad.out)}`))
      resolve(results)
    })
  })
}

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
    "oompa's CLI bundle (dist/oompa.mjs, dist/cli.mjs and dist/chunks/) includes code from the following packages, under their licences.",
    "",
    ...sections.map((section) => `${"-".repeat(80)}\n${section}`)
  ].join("\n")
}
