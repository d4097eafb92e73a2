/**
 * The CLI's cold start and its bundle: `oompa --help` as a ratio to `node -e 0` in the same run, and
 * the bundle's size with its largest inputs (esbuild's metafile). Goal (issue 14): ≤ 3x and ≤ 1.5 MB.
 *
 * Four start-ups, each the median of interleaved runs:
 * - `node -e 0`: the floor, Node alone;
 * - a minimal `effect/cli` program on `@effect/platform-node`'s layer (one command, one flag),
 *   bundled here the same way: what Effect's CLI costs before any oompa code;
 * - the installed bin (`bin/oompa.mjs`), which turns on Node's compile cache: after its first run,
 *   the bundle is not parsed and compiled again (what a user sees from the second command on);
 * - the bundle itself with no cache: what the very first command costs.
 *
 * Run: `npm run bench` (it builds the bundle first), or `node bench/src/startup.bench.ts` after `npm run build`.
 */
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../..")
const bundle = path.join(root, "packages/cli/dist/oompa.mjs")
const bin = path.join(root, "packages/cli/bin/oompa.mjs")
const metafile = path.join(root, "packages/cli/dist/oompa.meta.json")
const runs = 21
const targets = { ratio: 3, bytes: 1.5 * 1024 * 1024 }

if (!fs.existsSync(bundle) || !fs.existsSync(metafile)) {
  console.error(`startup bench: ${path.relative(root, bundle)} or its metafile is missing; run npm run build first`)
  process.exit(2)
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-startup-"))
const cacheDir = path.join(scratch, "compile-cache")
const floorBundle = path.join(scratch, "effect-cli.mjs")
// The floor with the compile cache turned on the way oompa's bin does it, for a like-for-like ratio.
const compileCacheHook = path.join(scratch, "compile-cache.mjs")
fs.writeFileSync(compileCacheHook, `import module from "node:module"\nmodule.enableCompileCache?.()\n`)
await build({
  stdin: {
    contents: [
      `import { Effect, Layer } from "effect"`,
      `import { CliOutput, Command, Flag } from "effect/cli"`,
      `import { NodeServices } from "@effect/platform-node"`,
      `const command = Command.make("floor", { verbose: Flag.Boolean("verbose") }, () => Effect.void)`,
      `const layer = Layer.mergeAll(NodeServices.layer, CliOutput.layer(CliOutput.defaultFormatter({ colors: false })))`,
      `Effect.runFork(Command.runWith(command, { version: "1" })(process.argv.slice(2)).pipe(Effect.provide(layer)))`
    ].join("\n"),
    resolveDir: root,
    loader: "ts"
  },
  outfile: floorBundle,
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  minify: true,
  keepNames: true,
  banner: { js: "import { createRequire as __c } from \"node:module\"; const require = __c(import.meta.url);" },
  logLevel: "warning"
})
const timed = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): number => {
  const started = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0) throw new Error(`${args.join(" ")} exited ${result.status}: ${result.stderr.toString()}`)
  return ms
}
const median = (values: ReadonlyArray<number>): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const { NODE_OPTIONS: _options, NODE_COMPILE_CACHE: _cache, ...base } = process.env
const cached = { ...base, NODE_COMPILE_CACHE: cacheDir }
const uncached = { ...base, NODE_DISABLE_COMPILE_CACHE: "1" }
const variants = {
  node: () => timed(["-e", "0"], base),
  effectCli: () => timed([floorBundle, "--help"], uncached),
  effectCliWarm: () => timed(["--import", compileCacheHook, floorBundle, "--help"], cached),
  warm: () => timed([bin, "--help"], cached),
  cold: () => timed([bundle, "--help"], uncached)
}
const samples: Record<keyof typeof variants, Array<number>> = { node: [], effectCli: [], effectCliWarm: [], warm: [], cold: [] }
// Warm-up: fills the compile cache and the OS's file cache.
for (const run of Object.values(variants)) run()
for (let i = 0; i < runs; i++) for (const [name, run] of Object.entries(variants)) samples[name as keyof typeof variants].push(run())
fs.rmSync(scratch, { recursive: true, force: true })

const node = median(samples.node)
const warm = median(samples.warm)
const cold = median(samples.cold)
const effectCli = median(samples.effectCli)
const effectCliWarm = median(samples.effectCliWarm)
console.log(`startup: a minimal effect/cli program ${effectCliWarm.toFixed(1)} ms with the compile cache (${(effectCliWarm / node).toFixed(2)}x node -e 0), ${effectCli.toFixed(1)} ms without (${(effectCli / node).toFixed(2)}x): Effect's own floor for a CLI`)
console.log(`startup: node -e 0 ${node.toFixed(1)} ms; oompa --help ${warm.toFixed(1)} ms with the compile cache (${(warm / node).toFixed(2)}x, target ≤ ${targets.ratio}x), ${cold.toFixed(1)} ms without (${(cold / node).toFixed(2)}x); median of ${runs}`)

// The bundle's bytes by package (node_modules/<name>), or by workspace package for our own code.
const meta = JSON.parse(fs.readFileSync(metafile, "utf8")) as { outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }> }
const output = Object.values(meta.outputs)[0]!
const byPackage = new Map<string, number>()
for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
  const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split("/").slice(0, 2).join("/")
  byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput)
}
const size = fs.statSync(bundle).size
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`
console.log(`bundle: ${mb(size)} (target ≤ ${mb(targets.bytes)}); largest inputs:`)
for (const [name, bytes] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
  console.log(`  ${name.padEnd(32)} ${(bytes / 1024).toFixed(0).padStart(6)} KB  ${((bytes / size) * 100).toFixed(0)}%`)
}
