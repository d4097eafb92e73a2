/**
 * The CLI's cold start and its bundle: `oompa --help` and a real command as ratios to `node -e 0`
 * in the same run, and the bundle's size with its largest inputs (esbuild's metafile).
 * Goal (issue 17): `oompa --help` ≤ 2x `node -e 0` with the compile cache, and a bundle ≤ 1.5 MB.
 *
 * Start-ups, each the median of interleaved runs:
 * - `node -e 0`: the floor, Node alone;
 * - a minimal `effect/cli` program on `@effect/platform-node`'s layer (one command, one flag),
 *   bundled here the same way: what Effect's CLI costs before any oompa code, the floor of every
 *   command that loads it — which is why `--help` and `--version` do not (dist/oompa.mjs answers
 *   them from dist/help.json, the full CLI's own output rendered at build time);
 * - the installed bin (`bin/oompa.mjs`), which turns on Node's compile cache: after its first run,
 *   the code is not parsed and compiled again (what a user sees from the second command on), for
 *   `--help` and for `oompa tasks` in an empty git repository (the full CLI: Effect, every command);
 * - the bundle's entry itself with no cache: what the very first `--help` costs.
 *
 * Run: `npm run bench` (it builds the bundle first), or `node bench/src/startup.bench.ts` after `npm run build`.
 */
import { build } from "esbuild"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../..")
const dist = path.join(root, "packages/cli/dist")
const entry = path.join(dist, "oompa.mjs")
const bin = path.join(root, "packages/cli/bin/oompa.mjs")
const metafile = path.join(dist, "oompa.meta.json")
const runs = 21
const targets = { ratio: 2, bytes: 1.5 * 1024 * 1024 }

if (![entry, metafile, path.join(dist, "cli.mjs"), path.join(dist, "help.json")].every((file) => fs.existsSync(file))) {
  console.error(`startup bench: ${path.relative(root, dist)} is incomplete; run npm run build first`)
  process.exit(2)
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-startup-"))
const cacheDir = path.join(scratch, "compile-cache")
const floorBundle = path.join(scratch, "effect-cli.mjs")
// An empty git repository for `oompa tasks` (it lists the empty queue and exits 0).
const repo = path.join(scratch, "repo")
fs.mkdirSync(repo)
execFileSync("git", ["init", "-q", repo])
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
const timed = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, command = process.execPath): number => {
  const started = process.hrtime.bigint()
  const result = spawnSync(command, args, { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0) throw new Error(`${args.join(" ")} exited ${result.status}: ${result.stderr.toString()}`)
  return ms
}
const median = (values: ReadonlyArray<number>): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const { NODE_OPTIONS: _options, NODE_COMPILE_CACHE: _cache, ...base } = process.env
const cached = { ...base, NODE_COMPILE_CACHE: cacheDir }
// The bin as a user's shell runs it (its first lines start Node through sh), with this Node first on PATH.
const asUser = { ...cached, PATH: `${path.dirname(process.execPath)}:${base["PATH"] ?? ""}` }
const uncached = { ...base, NODE_DISABLE_COMPILE_CACHE: "1" }
const variants = {
  node: () => timed(["-e", "0"], base),
  effectCli: () => timed([floorBundle, "--help"], uncached),
  effectCliWarm: () => timed(["--import", compileCacheHook, floorBundle, "--help"], cached),
  help: () => timed(["--help"], asUser, bin),
  helpCold: () => timed([entry, "--help"], uncached),
  tasks: () => timed(["tasks"], asUser, bin)
}
const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, [] as Array<number>])) as Record<keyof typeof variants, Array<number>>
// Warm-up: fills the compile cache and the OS's file cache.
for (const run of Object.values(variants)) run()
for (let i = 0; i < runs; i++) for (const [name, run] of Object.entries(variants)) samples[name as keyof typeof variants].push(run())
fs.rmSync(scratch, { recursive: true, force: true })

const [node, effectCli, effectCliWarm, help, helpCold, tasks] = (["node", "effectCli", "effectCliWarm", "help", "helpCold", "tasks"] as const).map((name) => median(samples[name]))
const ratio = (ms: number) => `${(ms / node!).toFixed(2)}x`
console.log(`startup: a minimal effect/cli program ${effectCliWarm!.toFixed(1)} ms with the compile cache (${ratio(effectCliWarm!)} node -e 0), ${effectCli!.toFixed(1)} ms without (${ratio(effectCli!)}): Effect's own floor for a CLI`)
console.log(`startup: node -e 0 ${node!.toFixed(1)} ms; oompa --help ${help!.toFixed(1)} ms with the compile cache (${ratio(help!)}, target ≤ ${targets.ratio}x), ${helpCold!.toFixed(1)} ms without (${ratio(helpCold!)}); median of ${runs}`)
console.log(`startup: oompa tasks (the full CLI, an empty git repository) ${tasks!.toFixed(1)} ms with the compile cache (${ratio(tasks!)} node -e 0; ${(tasks! / effectCliWarm!).toFixed(2)}x the effect/cli floor)`)

// The bundle: every file the package ships from dist/, what `--help` and a command load, and the
// bytes by package (node_modules/<name>, or the workspace package for our own code).
interface Output {
  readonly bytes: number
  readonly imports: ReadonlyArray<{ readonly path: string; readonly kind: string }>
  readonly inputs: Record<string, { readonly bytesInOutput: number }>
}
const meta = JSON.parse(fs.readFileSync(metafile, "utf8")) as { outputs: Record<string, Output> }
const outputs = Object.entries(meta.outputs).filter(([file]) => file.endsWith(".mjs"))
const shipped = [...outputs.map(([file]) => path.join(root, file)), path.join(dist, "help.json")]
const sizeOf = (file: string) => fs.statSync(file).size
const size = shipped.reduce((sum, file) => sum + sizeOf(file), 0)
// What an output loads before it runs: itself and its static imports, transitively.
const loads = (file: string, seen = new Set<string>()): Set<string> => {
  if (seen.has(file)) return seen
  seen.add(file)
  for (const imported of meta.outputs[file]?.imports ?? []) if (imported.kind === "import-statement" && imported.path in meta.outputs) loads(imported.path, seen)
  return seen
}
const relativeToRoot = (file: string) => path.relative(root, file)
const fullCli = relativeToRoot(path.join(dist, "cli.mjs"))
const helpBytes = sizeOf(entry) + sizeOf(path.join(dist, "help.json"))
const commandBytes = sizeOf(entry) + [...loads(fullCli)].reduce((sum, file) => sum + sizeOf(path.join(root, file)), 0)
const byPackage = new Map<string, number>()
for (const [, output] of outputs) {
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split("/").slice(0, 2).join("/")
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput)
  }
}
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`
console.log(`bundle: ${mb(size)} in ${shipped.length} files (target ≤ ${mb(targets.bytes)}); --help loads ${kb(helpBytes)} (oompa.mjs, help.json), a command ${mb(commandBytes)}`)
for (const file of shipped.sort((a, b) => sizeOf(b) - sizeOf(a))) console.log(`  ${path.relative(dist, file).padEnd(40)} ${kb(sizeOf(file)).padStart(8)}`)
console.log(`bundle: largest inputs:`)
for (const [name, bytes] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
  console.log(`  ${name.padEnd(32)} ${kb(bytes).padStart(8)}  ${((bytes / size) * 100).toFixed(0)}%`)
}
