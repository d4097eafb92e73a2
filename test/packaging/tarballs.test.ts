/**
 * Goal: oompa installs and runs as a new user gets it — from the three tarballs `npm pack` makes,
 * in a project outside this workspace, with plain `npm install` (no workspace links, no TypeScript
 * loader), under Node 22: both libraries import, a swarm with a function agent merges on a scratch
 * repository, the installed `oompa` bin runs the demo, the project holds one copy of Effect, its
 * TypeScript sees oompa's types, and no tarball carries a test, fixture or tsconfig.
 * Method: `npm run build`, `npm pack` of each package, a scratch project in the temp folder.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cleanupAll, ensureBundle, git, scratchRepo, workspaceRoot } from "../cli/helpers.ts"

const packages = ["packages/core", "packages/adapters-node", "packages/cli"] as const

interface Packed {
  readonly name: string
  readonly filename: string
  readonly files: ReadonlyArray<{ readonly path: string }>
}

/**
 * The environment of everything run in the scratch project: no workspace condition (NODE_OPTIONS),
 * none of the npm variables of the `npm test` that runs this (they would point npm at the
 * workspace), node 22 and git on PATH, HOME in the scratch folder; npm's cache stays the user's.
 */
const scratchEnv = (home: string): NodeJS.ProcessEnv => {
  const kept = Object.entries(process.env).filter(([name]) =>
    !name.startsWith("npm_") && !["NODE_OPTIONS", "INIT_CWD", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"].includes(name))
  const cache = process.env["npm_config_cache"] ?? path.join(os.homedir(), ".npm")
  return {
    ...Object.fromEntries(kept),
    HOME: home,
    npm_config_cache: cache,
    npm_config_update_notifier: "false",
    NO_COLOR: "1",
    PATH: [path.dirname(process.execPath), process.env["PATH"] ?? ""].join(":")
  }
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv, timeout = 240_000) => {
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8", timeout })
  assert.strictEqual(result.status, 0, `${command} ${args.join(" ")} exited ${result.status}\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

/** What a user's program does with the installed packages: a swarm with its own agent, to a merge. */
const consumerScript = `
import { runSwarm, SwarmRun } from "@oompa/adapters-node"
import { Swarm } from "@oompa/core"
import * as fs from "node:fs"
import * as path from "node:path"

const repo = process.argv[2]
const seen = []
const result = await runSwarm({
  cwd: repo,
  configJson: { workers: [{ model: "codex", iterations: 2, role: "executor" }] },
  agent: async (request) => {
    if (request.call === "review") return "Small and right.\\n\\nVERDICT: APPROVED"
    fs.writeFileSync(path.join(request.cwd, "hello.txt"), "hello from a function agent\\n")
    return "Added hello.txt"
  },
  onEvent: (event) => seen.push(event._tag)
})
console.log(JSON.stringify({
  outcome: result.report.outcome,
  merged: result.report.merged,
  exitCode: Swarm.exitCodeOf(result.report.outcome),
  eventsPath: result.eventsPath,
  seen,
  hasEffectForm: typeof SwarmRun.run === "function"
}))
`

/** A user's TypeScript: oompa's declarations resolve (a wrong type is an error, so they are not `any`). */
const consumerTypes = `
import { runSwarm, type SwarmRun } from "@oompa/adapters-node"
import { Event, type Swarm } from "@oompa/core"
import { TestSwarm } from "@oompa/core/testing"
import type { Simulation } from "@oompa/core/simulation"

export const start = async (): Promise<number> => {
  const result: SwarmRun.RunResult = await runSwarm({ agent: () => "VERDICT: APPROVED" })
  const report: Swarm.SwarmReport = result.report
  // @ts-expect-error merged is a number
  const wrong: string = report.merged
  void wrong
  void TestSwarm.makeWorld
  void Event.Event
  return report.merged
}
`

describe("the packed packages, installed outside the workspace", () => {
  let tmp: string | undefined
  let packed: ReadonlyArray<Packed>
  let project: string
  let env: NodeJS.ProcessEnv

  beforeAll(() => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-pack-")))
    tmp = root
    env = scratchEnv(path.join(root, "home"))
    fs.mkdirSync(path.join(root, "home"))
    // The compiled libraries (tsc -b) and the CLI's bundle, as `npm run build` makes them.
    run(process.execPath, [path.join(workspaceRoot, "node_modules/typescript/bin/tsc"), "-b"], workspaceRoot, process.env)
    ensureBundle()
    const tarballs = path.join(root, "tarballs")
    fs.mkdirSync(tarballs)
    const out = run("npm", ["pack", "--json", "--pack-destination", tarballs, ...packages.flatMap((p) => ["--workspace", p])], workspaceRoot, {
      ...env,
      HOME: os.homedir()
    })
    packed = JSON.parse(out) as ReadonlyArray<Packed>
    project = path.join(root, "project")
    fs.mkdirSync(project)
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({
      name: "embedder",
      private: true,
      type: "module",
      dependencies: Object.fromEntries(packed.map((p) => [p.name, `file:${path.join(tarballs, p.filename)}`]))
    }, null, 2))
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], project, env)
  }, 420_000)

  // Removing the scratch project's node_modules can take longer than the default 10 s on a busy machine.
  afterAll(() => {
    cleanupAll()
    if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true })
  }, 120_000)

  it("each tarball holds its build and README, and no test, fixture, tsconfig or build info", () => {
    assert.deepStrictEqual(packed.map((p) => p.name), ["@oompa/core", "@oompa/adapters-node", "@oompa/cli"])
    const files = new Map(packed.map((p) => [p.name, p.files.map((f) => f.path)]))
    for (const [name, list] of files) {
      const unwanted = list.filter((f) =>
        /(^|\/)(test|tests|__tests__|fixtures?)\//.test(f) || /\.(test|spec|contract)\.[cm]?[jt]s$/.test(f) || /tsconfig/.test(f) || /\.tsbuildinfo$/.test(f))
      assert.deepStrictEqual(unwanted, [], name)
      assert.include(list, "README.md", name)
      assert.include(list, "LICENSE", name)
      assert.include(list, "package.json", name)
    }
    assert.includeMembers(files.get("@oompa/core")!, ["dist/index.js", "dist/index.d.ts", "dist/testing/index.js", "oompa.schema.json"])
    assert.includeMembers(files.get("@oompa/adapters-node")!, ["dist/index.js", "dist/index.d.ts", "dist/simulationWorker.js"])
    const cli = files.get("@oompa/cli")!
    assert.includeMembers(cli, ["bin/oompa.mjs", "dist/oompa.mjs", "dist/cli.mjs", "dist/help.json", "dist/THIRD-PARTY-NOTICES.txt", "oompa.schema.json", "oompa-events.schema.json"])
    // Every module a shipped module imports (the full CLI, the chunks it loads lazily: isomorphic-git's
    // at least), and nothing of tsc's or the build's metafile.
    assert.isTrue(cli.some((f) => /^dist\/chunks\/isomorphic-git-.*\.mjs$/.test(f)), cli.join("\n"))
    const installed = path.join(project, "node_modules/@oompa/cli")
    for (const file of cli.filter((f) => f.endsWith(".mjs"))) {
      const text = fs.readFileSync(path.join(installed, file), "utf8")
      // esbuild's minified imports: from"./x.mjs" and import("./x.mjs") (a string the code holds has spaces).
      for (const [, specifier] of text.matchAll(/(?:from|import\()"(\.\/[\w./-]+\.mjs)"/g)) {
        assert.include(cli, path.posix.join(path.posix.dirname(file), specifier!), `${file} imports ${specifier}`)
      }
    }
    assert.deepStrictEqual(cli.filter((f) => f.startsWith("dist/tsc/") || f.endsWith(".meta.json")), [])
  })

  it("imports @oompa/core and @oompa/adapters-node under Node 22 and runs a swarm with a function agent to a merge", () => {
    const { repo } = scratchRepo({ pending: [{ id: "hello", summary: "Add hello.txt" }] })
    fs.writeFileSync(path.join(project, "embed.mjs"), consumerScript)

    const node = run(process.execPath, ["--version"], project, env)
    assert.match(node, /^v22\./)
    const result = JSON.parse(run(process.execPath, ["embed.mjs", repo], project, env).trim().split("\n").pop()!) as {
      readonly outcome: string
      readonly merged: number
      readonly exitCode: number
      readonly eventsPath: string
      readonly seen: ReadonlyArray<string>
      readonly hasEffectForm: boolean
    }
    assert.strictEqual(result.outcome, "ok")
    assert.strictEqual(result.merged, 1)
    assert.strictEqual(result.exitCode, 0)
    assert.isTrue(result.hasEffectForm)
    assert.strictEqual(git(repo, "show", "main:hello.txt"), "hello from a function agent")
    assert.deepStrictEqual(fs.readdirSync(path.join(repo, "tasks/complete")), ["hello.json"])
    // The host's callback saw the same events as the run log, in order.
    const logged = fs.readFileSync(result.eventsPath, "utf8").trim().split("\n").map((line) => (JSON.parse(line) as { _tag: string })._tag)
    assert.deepStrictEqual(result.seen, logged)
    assert.strictEqual(logged[0], "SwarmStarted")
    assert.include(logged, "MergeResult")
  })

  it("the installed oompa bin runs the demo (npx oompa demo exits 0)", () => {
    const out = run("npx", ["--no-install", "oompa", "demo", "--no-keep"], project, { ...env, TMPDIR: tmp! })
    assert.match(out, /3 merged, 0 rejected, 0 failed/)
  })

  it("the installed oompa answers --help and --version from its fast path as its full CLI does, and loads the full CLI for the rest", () => {
    const full = path.join(project, "node_modules/@oompa/cli/dist/cli.mjs")
    for (const args of [["--help"], ["status", "-h"], ["--version"]]) {
      assert.strictEqual(run("npx", ["--no-install", "oompa", ...args], project, env), run(process.execPath, [full, ...args], project, env), args.join(" "))
    }
    const unknown = spawnSync("npx", ["--no-install", "oompa", "--frobnicate"], { cwd: project, env, encoding: "utf8" })
    assert.strictEqual(unknown.status, 2, `${unknown.stdout}\n${unknown.stderr}`)
    assert.include(unknown.stderr, "--frobnicate")
  })

  it("the installed bin starts the commands that orchestrate workers with a small young generation and V8 favouring size, the others with Node's default", () => {
    const probe = path.join(project, "argv-probe.mjs")
    fs.writeFileSync(probe, "process.on('exit', () => process.stderr.write(`execArgv=${JSON.stringify(process.execArgv)}\\n`))\n")
    const execArgvOf = (args: ReadonlyArray<string>) => {
      const result = spawnSync(path.join(project, "node_modules/.bin/oompa"), args, { cwd: project, env: { ...env, NODE_OPTIONS: `--import "${probe}"` }, encoding: "utf8" })
      return /execArgv=(.*)/.exec(result.stderr)?.[1] ?? `no probe line: ${result.stderr}`
    }
    const orchestrating = JSON.stringify(["--max-semi-space-size=2", "--optimize-for-size"])
    for (const command of ["swarm", "run", "loop", "cluster"]) assert.strictEqual(execArgvOf([command, "--help"]), orchestrating, command)
    assert.strictEqual(execArgvOf(["--no-color", "swarm", "--help"]), orchestrating, "--no-color swarm")
    for (const command of ["status", "sim", "--version"]) assert.strictEqual(execArgvOf([command, ...(command.startsWith("-") ? [] : ["--help"])]), "[]", command)
  })

  it("CommonJS code can require the libraries (Node 22's require of ES modules)", () => {
    fs.writeFileSync(path.join(project, "legacy.cjs"), "const core = require('@oompa/core')\nconst node = require('@oompa/adapters-node')\nconsole.log(typeof core.Swarm.run, typeof node.runSwarm)\n")
    const out = run(process.execPath, ["legacy.cjs"], project, env)
    assert.strictEqual(out.trim(), "function function")
  })

  it("the installed oompa init writes an oompa.json whose $schema is a file the install holds", () => {
    git(project, "init", "-q", "-b", "main")
    const out = run("npx", ["--no-install", "oompa", "init"], project, env)
    assert.include(out, "wrote oompa.json")
    const written = JSON.parse(fs.readFileSync(path.join(project, "oompa.json"), "utf8")) as { readonly $schema: string }
    assert.isTrue(fs.existsSync(path.join(project, written.$schema)), written.$schema)
    const schema = JSON.parse(fs.readFileSync(path.join(project, written.$schema), "utf8")) as { readonly $id: string }
    assert.strictEqual(schema.$id, "urn:oompa:oompa.schema.json")
  })

  it("the project holds one copy of effect", () => {
    const copies = run("npm", ["ls", "effect", "--all", "--parseable"], project, env).trim().split("\n").filter((l) => l !== "")
    assert.lengthOf([...new Set(copies)], 1, copies.join("\n"))
    assert.strictEqual(path.relative(project, copies[0]!), path.join("node_modules", "effect"))
  })

  it("the project's TypeScript resolves oompa's declarations (a wrong type is an error)", () => {
    fs.writeFileSync(path.join(project, "consumer.ts"), consumerTypes)
    const tsc = path.join(workspaceRoot, "node_modules/typescript/bin/tsc")
    const result = spawnSync(process.execPath, [
      tsc, "--noEmit", "--strict",
      "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
      "--typeRoots", path.join(workspaceRoot, "node_modules/@types"), "--types", "node",
      "consumer.ts"
    ], { cwd: project, env, encoding: "utf8" })
    assert.strictEqual(result.status, 0, `${result.stdout}\n${result.stderr}`)
  })
})
