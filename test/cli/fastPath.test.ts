/**
 * The start-up fast path (issue 17) against the full CLI, in real processes: `dist/oompa.mjs`
 * answers help and the version from `dist/help.json` without loading Effect, and for every argv
 * it answers, it prints byte for byte what the full CLI (`dist/cli.mjs`, run directly) prints, on
 * the same streams, with the same exit code — without colour, with colour (FORCE_COLOR, a
 * terminal), with `--no-color` — so the two cannot drift; every other argv goes to the full CLI.
 *
 * "Answered by the fast path" is shown, not assumed: the entry also runs beside a `cli.mjs` that
 * only says it was loaded, so an answer there came from the fast path, and that marker is what any
 * other argv gets.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { oompa as commandTree } from "../../packages/cli/src/Cli.ts"
import { cleanupAll, ensureBundle, environment, type Scratch, scratchRepo } from "./helpers.ts"

interface Table {
  readonly argv: Readonly<Record<string, number>>
}

interface Ran {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

type Env = Readonly<Record<string, string | undefined>>

let scratch: Scratch
let entry: string
let full: string
let fastOnly: string
let table: Table
let tmp: string

afterAll(() => {
  cleanupAll()
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true })
})

beforeAll(() => {
  entry = ensureBundle()
  full = path.join(path.dirname(entry), "cli.mjs")
  table = JSON.parse(fs.readFileSync(path.join(path.dirname(entry), "help.json"), "utf8")) as Table
  scratch = scratchRepo({ git: false })
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-fastpath-"))
  // The entry and its table beside a full CLI that only says it was loaded, with what.
  const dir = path.join(tmp, "fast-only")
  fs.mkdirSync(dir)
  for (const file of ["oompa.mjs", "help.json"]) fs.copyFileSync(path.join(path.dirname(entry), file), path.join(dir, file))
  fs.writeFileSync(path.join(dir, "cli.mjs"), "export const start = (argv) => { process.stdout.write(`full CLI ${JSON.stringify(argv)}\\n`); process.exitCode = 99 }\n")
  fastOnly = path.join(dir, "oompa.mjs")
}, 180_000)

/** Colour off as the helpers' environment has it (NO_COLOR=1), and forced on without a terminal. */
const plain: Env = { NO_COLOR: "1", FORCE_COLOR: undefined }
const coloured: Env = { NO_COLOR: undefined, FORCE_COLOR: "1", TERM: "xterm-256color" }

/** `node script args…` in the scratch folder; Node's compile cache only makes the many runs quicker. */
const run = (script: string, args: ReadonlyArray<string>, env: Env): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: scratch.repo,
      env: environment(scratch, { NODE_COMPILE_CACHE: path.join(tmp, "compile-cache"), ...env }),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    // Node's own warnings name the process (NO_COLOR beside FORCE_COLOR): the same words, not the same pid.
    child.on("close", (status) => resolve({ status, stdout, stderr: stderr.replace(/^\(node:\d+\)/gm, "(node)") }))
  })

/** Runs `jobs` two at a time (the machine's other work shares its cores). */
const inTurn = async <A>(jobs: ReadonlyArray<() => Promise<A>>): Promise<Array<A>> => {
  const results: Array<A> = new Array(jobs.length)
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++
      results[i] = await jobs[i]!()
    }
  }
  await Promise.all([worker(), worker()])
  return results
}

const label = (args: ReadonlyArray<string>, env: Env) => `oompa ${args.join(" ")} with ${JSON.stringify(env)}`

/** The fast path (beside the marker) and the full CLI on each case: the same output and exit code. */
const assertSame = async (cases: ReadonlyArray<{ readonly args: ReadonlyArray<string>; readonly env: Env }>) => {
  const results = await inTurn(cases.map(({ args, env }) => () => Promise.all([run(fastOnly, args, env), run(full, args, env)])))
  results.forEach(([fast, reference], i) => {
    const name = label(cases[i]!.args, cases[i]!.env)
    assert.deepStrictEqual(fast, reference, name)
    assert.strictEqual(reference.status, 0, `${name}: ${reference.stderr}`)
  })
  return results.map(([, reference]) => reference)
}

const argvs = (): Array<Array<string>> => Object.keys(table.argv).map((key) => JSON.parse(key) as Array<string>)

describe("the fast path", () => {
  it("holds bare oompa, help, --version, -v, and --help and -h of the root and of every command, by name and alias", () => {
    const paths: Array<Array<string>> = [[]]
    const walk = (command: typeof commandTree.subcommands[number]["commands"][number], at: ReadonlyArray<string>) => {
      for (const group of command.subcommands) {
        for (const sub of group.commands) {
          for (const name of [sub.name, ...(sub.alias === undefined ? [] : [sub.alias])]) {
            paths.push([...at, name])
            walk(sub, [...at, name])
          }
        }
      }
    }
    walk(commandTree, [])
    assert.isAbove(paths.length, 15)
    const expected = [[], ["help"], ["--version"], ["-v"], ...paths.flatMap((p) => [[...p, "--help"], [...p, "-h"]])]
    assert.sameDeepMembers(argvs(), expected)
  })

  // One run of the full CLI per argv (it takes a fifth of a second to start): in colour, and every
  // other one with --no-color over FORCE_COLOR, at a position that moves along. `--help` and `-h`
  // of a command come one after the other, so each text is compared in colour and without.
  it("prints what the full CLI prints for each argv, with its exit code: in colour, and with --no-color anywhere over FORCE_COLOR", async () => {
    const cases = argvs().map((args, i) => {
      if (i % 2 === 0) return { args, env: coloured }
      const at = Math.floor(i / 2) % (args.length + 1)
      return { args: [...args.slice(0, at), "--no-color", ...args.slice(at)], env: coloured }
    })
    const references = await assertSame(cases)
    references.forEach((reference, i) => assert.strictEqual(reference.stdout.includes("\u001b["), i % 2 === 0, label(cases[i]!.args, cases[i]!.env)))
  }, 240_000)

  it("decides colour as the full CLI under NO_COLOR=1, FORCE_COLOR=0, an empty NO_COLOR, TERM=dumb and NODE_DISABLE_COLORS", async () => {
    const envs: ReadonlyArray<Env> = [
      plain,
      { NO_COLOR: undefined, FORCE_COLOR: "0" },
      { NO_COLOR: "", FORCE_COLOR: "1" },
      { NO_COLOR: undefined, FORCE_COLOR: "1", TERM: "dumb" },
      { NO_COLOR: undefined, NODE_DISABLE_COLORS: "1" },
      { NO_COLOR: undefined, FORCE_COLOR: "3" }
    ]
    await assertSame(envs.flatMap((env) => [[], ["status", "--help"], ["--version"]].map((args) => ({ args, env }))))
  }, 120_000)

  // A real terminal, from util-linux's `script` (as test/cli/conventions.test.ts does).
  it("in a terminal: the same text as the full CLI, coloured by default and with an empty NO_COLOR, plain with NO_COLOR=1, TERM=dumb or --no-color", () => {
    const inTerminal = (script: string, args: ReadonlyArray<string>, env: Env) => {
      const command = [process.execPath, script, ...args].map((word) => `'${word}'`).join(" ")
      const result = spawnSync("script", ["-qec", command, "/dev/null"], {
        cwd: scratch.repo,
        env: environment(scratch, { NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: "xterm-256color", ...env }),
        encoding: "utf8",
        timeout: 30_000
      })
      assert.strictEqual(result.status, 0, `${result.stdout}\n${result.stderr}`)
      return result.stdout
    }
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Env, boolean]> = [
      [["--help"], {}, true],
      [["--help"], { NO_COLOR: "" }, true],
      [["status", "-h"], { NO_COLOR: "1" }, false],
      [["--version"], { TERM: "dumb" }, false],
      [["--help", "--no-color"], {}, false]
    ]
    for (const [args, env, colour] of cases) {
      const fast = inTerminal(fastOnly, args, env)
      assert.strictEqual(fast, inTerminal(full, args, env), label(args, env))
      assert.strictEqual(/\u001b\[/.test(fast), colour, label(args, env))
    }
  }, 120_000)

  it("sends every other argv to the full CLI, as it was given", async () => {
    const others: ReadonlyArray<ReadonlyArray<string>> = [
      ["status"],
      ["--frobnicate"],
      ["--help", "--json"],
      ["status", "--help", "--json"],
      ["--help", "status"],
      ["help", "status"],
      ["nonexistent", "--help"],
      ["--version", "--help"],
      ["--no-color", "--no-color", "--help"],
      ["--", "--help"],
      ["--HELP"],
      ["--help=true"],
      ["-hv"],
      ["--log-level", "debug", "--help"],
      ["--completions", "bash"],
      ["__proto__"]
    ]
    const marked = await inTurn(others.map((args) => () => run(fastOnly, args, plain)))
    marked.forEach((result, i) => assert.deepStrictEqual(result, { status: 99, stdout: `full CLI ${JSON.stringify(others[i])}\n`, stderr: "" }, others[i]!.join(" ")))
    // And the real entry, beside the real full CLI, does what running that directly does.
    const sample = [["--frobnicate"], ["status", "--help", "--json"], ["--", "--help"], ["--completions", "bash"]]
    const results = await inTurn(sample.map((args) => () => Promise.all([run(entry, args, plain), run(full, args, plain)])))
    results.forEach(([viaEntry, direct], i) => assert.deepStrictEqual(viaEntry, direct, sample[i]!.join(" ")))
    assert.strictEqual(results[0]![0].status, 2)
  }, 120_000)
})
