/**
 * The CLI's conventions end to end (issue 14, clig.dev): bare `oompa` is `oompa --help`, with
 * examples; colour follows NO_COLOR, FORCE_COLOR, TERM=dumb and `--no-color` (Node's own decision,
 * through `util.styleText`); `oompa init` starts a repository and never overwrites; `oompa view` of
 * an unknown run is one line and exit 2; counts agree with their nouns, and an integer is called one.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { ConfigFile } from "@oompa/core"
import Ajv2020 from "ajv/dist/2020.js"
import { Result } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, ensureBundle, environment, git, oompa, runIds, type Scratch, scratchRepo, show, workspaceRoot } from "./helpers.ts"

afterAll(cleanupAll)

const escape = /\u001b\[/

describe("help", () => {
  it("bare oompa, oompa help and oompa --help print the same help, with examples, exit 0", () => {
    const scratch = scratchRepo({ git: false })
    const bare = oompa(scratch, [])
    assert.strictEqual(bare.status, 0, show(bare))
    for (const args of [["--help"], ["help"], ["-h"]]) {
      const other = oompa(scratch, args)
      assert.strictEqual(other.status, 0, show(other))
      assert.strictEqual(other.stdout, bare.stdout, args.join(" "))
    }
    assert.match(bare.stdout, /^EXAMPLES$/m)
    assert.match(bare.stdout, /^ {2}oompa init$/m)
    assert.match(bare.stdout, /^ {2}oompa loop 3 --workers claude:2,codex:1$/m)
    assert.match(bare.stdout, /^ {2}--no-color\s/m)
    assert.match(bare.stdout, /^ {2}init\s+Write a starter oompa\.json/m)
    assert.strictEqual(bare.stderr, "")
  })
})

describe("colour", () => {
  const scratch = (): Scratch => scratchRepo({ git: false })
  /** `oompa args` with the environment changed; NO_COLOR is unset unless given. */
  const run = (s: Scratch, args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>) =>
    oompa(s, args, { env: { NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: "xterm-256color", ...env } })

  it("without a terminal: colour only with FORCE_COLOR, and --no-color (before or after the command) wins over it", () => {
    const s = scratch()
    assert.notMatch(run(s, ["--help"], {}).stdout, escape)
    assert.match(run(s, ["--help"], { FORCE_COLOR: "1" }).stdout, escape)
    assert.notMatch(run(s, ["--help"], { FORCE_COLOR: "0" }).stdout, escape)
    assert.notMatch(run(s, ["--no-color", "--help"], { FORCE_COLOR: "1" }).stdout, escape)
    // check's status lines are painted by the CLI itself (styleText), not by effect/cli's help.
    const painted = run(s, ["check"], { FORCE_COLOR: "1" })
    assert.match(painted.stdout, /\u001b\[\d+m(ok|missing|blocked) /, show(painted))
    for (const args of [["check", "--no-color"], ["--no-color", "check"]]) {
      const plain = run(s, args, { FORCE_COLOR: "1" })
      assert.notMatch(plain.stdout, escape, args.join(" "))
      assert.match(plain.stdout, /^(ok|missing) +codex /m, show(plain))
    }
  })

  // A real terminal, from util-linux's `script` (Debian's bsdutils, always there), to show NO_COLOR
  // and TERM=dumb turning colour off.
  it("in a terminal: colour by default and with an empty NO_COLOR; none with NO_COLOR=1, TERM=dumb or --no-color", () => {
    const s = scratch()
    const inTerminal = (args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>) => {
      const command = [process.execPath, ensureBundle(), ...args].map((word) => `'${word}'`).join(" ")
      const result = spawnSync("script", ["-qec", command, "/dev/null"], {
        cwd: s.repo,
        env: environment(s, { NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: "xterm-256color", ...env }),
        encoding: "utf8",
        timeout: 30_000
      })
      assert.strictEqual(result.status, 0, `${result.stdout}\n${result.stderr}`)
      return result.stdout
    }
    assert.match(inTerminal(["--help"], {}), escape)
    assert.match(inTerminal(["--help"], { NO_COLOR: "" }), escape, "no-color.org: only a non-empty NO_COLOR counts")
    assert.notMatch(inTerminal(["--help"], { NO_COLOR: "1" }), escape)
    assert.notMatch(inTerminal(["--help"], { TERM: "dumb" }), escape)
    assert.notMatch(inTerminal(["--help", "--no-color"], {}), escape)
  })
})

describe("oompa init", () => {
  const read = (s: Scratch, file: string) => fs.readFileSync(path.join(s.repo, file), "utf8")

  it("writes a starter oompa.json that decodes (with $schema), the tasks/ folders and the missing .gitignore lines", () => {
    const s = scratchRepo({ files: { ".gitignore": "node_modules/\n.oompa" } })
    const result = oompa(s, ["init"])
    assert.strictEqual(result.status, 0, show(result))
    const text = read(s, "oompa.json")
    const json = JSON.parse(text) as Record<string, unknown>
    // No @oompa/core installed here: the CLI's own copy of the schema (it ships one).
    assert.strictEqual(json["$schema"], "./node_modules/@oompa/cli/oompa.schema.json")
    const decoded = ConfigFile.decodeConfigFileResult(text, "oompa.json")
    assert.isTrue(Result.isSuccess(decoded), String(Result.isFailure(decoded) && decoded.failure.message))
    // Editors check it against the shipped JSON Schema: it is valid there too.
    const schema = JSON.parse(fs.readFileSync(path.join(workspaceRoot, "packages/core/oompa.schema.json"), "utf8")) as object
    const validate = new Ajv2020.default({ strict: false }).compile(schema)
    assert.isTrue(validate(json), JSON.stringify(validate.errors))
    for (const folder of ["pending", "current", "complete", "failed", "invalid"]) {
      assert.isTrue(fs.statSync(path.join(s.repo, "tasks", folder)).isDirectory(), folder)
    }
    // `.oompa` was there (without slashes): not added again; the others were appended after the user's lines.
    const ignore = read(s, ".gitignore")
    assert.match(ignore, /^node_modules\/\n\.oompa\n# oompa: .*\n\/\.oompa-new-tasks\/\n\/tasks\/\n$/)
    // What oompa writes is ignored: only the two files init wrote are new to git.
    fs.mkdirSync(path.join(s.repo, ".oompa/runs"), { recursive: true })
    fs.writeFileSync(path.join(s.repo, "tasks/pending/t1.json"), "{\"id\": \"t1\", \"summary\": \"First\"}")
    assert.strictEqual(git(s.repo, "status", "--porcelain"), "M .gitignore\n?? oompa.json")
    // The starter is usable as it is: the queue reads it.
    const tasks = oompa(s, ["tasks"])
    assert.strictEqual(tasks.status, 0, show(tasks))
    assert.include(tasks.stdout, "pending/ (1)\n  t1  First")
  })

  it("points $schema at @oompa/core's copy when that is installed", () => {
    const s = scratchRepo({ files: { "node_modules/@oompa/core/oompa.schema.json": "{}\n" } })
    const result = oompa(s, ["init"])
    assert.strictEqual(result.status, 0, show(result))
    assert.strictEqual((JSON.parse(read(s, "oompa.json")) as Record<string, unknown>)["$schema"], "./node_modules/@oompa/core/oompa.schema.json")
  })

  it("checks before it writes: a .gitignore that is a folder or a link, or a tasks that is a file or a link, is exit 2 with nothing written, and init runs again once fixed", () => {
    const s = scratchRepo({})
    fs.mkdirSync(path.join(s.repo, ".gitignore"))
    const refused = oompa(s, ["init"])
    assert.strictEqual(refused.status, 2, show(refused))
    assert.include(refused.stderr, ".gitignore is a folder, not a file; nothing was written")
    assert.isFalse(fs.existsSync(path.join(s.repo, "oompa.json")))
    assert.isFalse(fs.existsSync(path.join(s.repo, "tasks")))
    fs.rmdirSync(path.join(s.repo, ".gitignore"))
    fs.writeFileSync(path.join(s.repo, "tasks"), "not a folder\n")
    const again = oompa(s, ["init"])
    assert.strictEqual(again.status, 2, show(again))
    assert.include(again.stderr, `${path.join(s.repo, "tasks")} exists and is not a folder; nothing was written`)
    assert.isFalse(fs.existsSync(path.join(s.repo, "oompa.json")))
    fs.rmSync(path.join(s.repo, "tasks"))
    // Links a cloned repository may carry: init would write outside it through them.
    const outside = path.join(s.root, "outside")
    fs.mkdirSync(outside)
    fs.writeFileSync(path.join(outside, "victim"), "keep me\n")
    fs.symlinkSync(path.join(outside, "victim"), path.join(s.repo, ".gitignore"))
    const linkedIgnore = oompa(s, ["init"])
    assert.strictEqual(linkedIgnore.status, 2, show(linkedIgnore))
    assert.include(linkedIgnore.stderr, ".gitignore is a symbolic link")
    assert.strictEqual(fs.readFileSync(path.join(outside, "victim"), "utf8"), "keep me\n")
    fs.rmSync(path.join(s.repo, ".gitignore"))
    fs.symlinkSync(outside, path.join(s.repo, "tasks"))
    const linkedTasks = oompa(s, ["init"])
    assert.strictEqual(linkedTasks.status, 2, show(linkedTasks))
    assert.include(linkedTasks.stderr, "(a symbolic link); nothing was written")
    assert.deepStrictEqual(fs.readdirSync(outside), ["victim"])
    assert.isFalse(fs.existsSync(path.join(s.repo, "oompa.json")))
    fs.rmSync(path.join(s.repo, "tasks"))
    const fixed = oompa(s, ["init"])
    assert.strictEqual(fixed.status, 0, show(fixed))
    assert.isTrue(fs.existsSync(path.join(s.repo, "oompa.json")))
    assert.isTrue(fs.statSync(path.join(s.repo, "tasks/pending")).isDirectory())
  })

  it("never overwrites: an existing oompa.json is exit 2 naming it, and nothing is written", () => {
    const s = scratchRepo({ config: { workers: [{ model: "claude:opus" }] }, files: { ".gitignore": "dist/\n" } })
    const before = [read(s, "oompa.json"), read(s, ".gitignore")]
    const result = oompa(s, ["init"])
    assert.strictEqual(result.status, 2, show(result))
    assert.deepStrictEqual(result.stderr.trimEnd().split("\n"), [`oompa: init: ${path.join(s.repo, "oompa.json")} already exists; oompa init never overwrites it (remove it to start over)`])
    assert.strictEqual(result.stdout, "")
    assert.deepStrictEqual([read(s, "oompa.json"), read(s, ".gitignore")], before)
    assert.isFalse(fs.existsSync(path.join(s.repo, "tasks")))
  })

  it("leaves a .gitignore that already has every line as it was, and keeps existing task folders' files", () => {
    const ignore = "/.oompa/\n.oompa-new-tasks/\ntasks\n"
    const s = scratchRepo({ files: { ".gitignore": ignore }, pending: [{ id: "kept", summary: "Already here" }] })
    const result = oompa(s, ["init"])
    assert.strictEqual(result.status, 0, show(result))
    assert.strictEqual(read(s, ".gitignore"), ignore)
    assert.notInclude(result.stdout, ".gitignore")
    assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/pending")), ["kept.json"])
  })

  it("outside a git repository: exit 2, nothing written", () => {
    const s = scratchRepo({ git: false })
    const result = oompa(s, ["init"])
    assert.strictEqual(result.status, 2, show(result))
    assert.include(result.stderr, "not inside a git repository")
    assert.isFalse(fs.existsSync(path.join(s.repo, "oompa.json")))
  })
})

describe("messages", () => {
  it("view of a well-formed run id that does not exist: one line on stderr, exit 2", () => {
    const s = scratchRepo()
    const result = oompa(s, ["view", "0badc0de"])
    assert.strictEqual(result.status, 2, show(result))
    assert.strictEqual(result.stdout, "")
    assert.deepStrictEqual(result.stderr.trimEnd().split("\n"), [`oompa: view: no run 0badc0de in ${path.join(s.repo, ".oompa/runs")} (oompa list shows the runs)`])
  })

  it("a number that is not an integer is called an integer, not a finite number", () => {
    const s = scratchRepo()
    for (const args of [["loop", "many"], ["loop", "1.5"], ["loop", "--workers", "codex:1", "--iterations", "x"], ["sim", "--seeds", "abc"]]) {
      const result = oompa(s, args)
      assert.strictEqual(result.status, 2, show(result))
      assert.include(result.stderr, "Expected an integer", args.join(" "))
      assert.notInclude(result.stderr, "finite number", args.join(" "))
    }
  })

  it("counts agree with their nouns: 1 iteration, 1 worker, 1 agent call", () => {
    const s = scratchRepo()
    const loop = oompa(s, ["loop", "1", "--workers", "claude:1"])
    assert.strictEqual(loop.status, 0, show(loop))
    const runId = runIds(s)[0]!
    const outputs = [loop.stdout, ...[["status"], ["list"], ["view", runId]].map((args) => {
      const result = oompa(s, args)
      assert.strictEqual(result.status, 0, show(result))
      return result.stdout
    })]
    const all = outputs.join("\n")
    assert.notMatch(all, /\b1 (iterations|workers|agent calls|tasks|merges|tokens)\b/, all)
    assert.match(loop.stdout, /^ {2}w0\s+1 iteration \(1 merged\)/m, loop.stdout)
    assert.match(outputs[2]!, new RegExp(`^${runId}\\s+ok\\s+1 merged\\s+1 iteration\\s+1 worker$`, "m"), outputs[2])
    assert.include(outputs[3]!, `run ${runId} on main: 1 worker`)
  })
})
