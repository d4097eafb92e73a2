/**
 * Bad input end to end (SPEC F1, F10; issue 5 "What must be shown"): every mistake a user can make on
 * the command line or in oompa.json exits 2 with one or two lines on stderr that name the problem —
 * no stack trace, not the whole help — and leaves the repository as it was: no worktree, no
 * `oompa/*` branch, no `.oompa/` folder, nothing under the worktrees folder, no agent started.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, fakeCalls, git, oompa, type Scratch, scratchRepo, show } from "./helpers.ts"

afterAll(cleanupAll)

interface Case {
  readonly name: string
  /** oompa.json's text, written into the repository (not committed). */
  readonly config?: string
  readonly args: ReadonlyArray<string>
  /** Substrings stderr must contain. */
  readonly says: ReadonlyArray<string>
  /** More than two lines allowed (the missing-config message prints an example). */
  readonly long?: boolean
  /** Not a git repository. */
  readonly noGit?: boolean
}

const worker = (fields: Record<string, unknown>) => JSON.stringify({ workers: [{ model: "claude:opus", ...fields }] }, null, 2)

const cases: ReadonlyArray<Case> = [
  { name: "malformed JSON in oompa.json", config: "{\"workers\": [\n", args: ["swarm"], says: ["oompa.json", "invalid JSON", "line"] },
  { name: "an unknown harness", config: worker({ model: "claud:opus" }), args: ["swarm"], says: ["oompa.json", "workers[0].model", "unknown harness \"claud\""] },
  { name: "a negative count", config: worker({ count: -2 }), args: ["swarm"], says: ["oompa.json", "workers[0].count", "positive integer", "-2"] },
  { name: "a misspelled field", config: worker({ iteratons: 3 }), args: ["swarm"], says: ["oompa.json", "workers[0].iteratons", "did you mean \"iterations\""] },
  { name: "a misspelled field, read by loop", config: worker({ rol: "executor" }), args: ["loop", "1"], says: ["workers[0].rol", "did you mean \"role\""] },
  { name: "a missing config file", args: ["swarm"], says: ["config file not found", "oompa.json", "for example"], long: true },
  { name: "an unknown command", args: ["swarn"], says: ["Unknown subcommand \"swarn\"", "did you mean swarm"] },
  { name: "an unknown flag", args: ["swarm", "--frobnicate"], says: ["Unrecognized flag: --frobnicate"] },
  { name: "a misspelled flag", args: ["loop", "2", "--worker", "claude:1"], says: ["--worker", "did you mean --workers"] },
  { name: "an unknown harness in --workers", args: ["loop", "1", "--workers", "claud:2"], says: ["--workers", "unknown harness \"claud\""] },
  { name: "a zero count in --workers", args: ["loop", "1", "--workers", "claude:0"], says: ["--workers", "\"claude:0\"", "at least 1"] },
  { name: "a malformed --workers item", args: ["run", "--workers", "claude 2"], says: ["--workers", "\"claude 2\""] },
  { name: "loop 0", args: ["loop", "0"], says: ["N", "positive integer", "0"] },
  { name: "--iterations 0", args: ["loop", "--workers", "codex:1", "--iterations", "0"], says: ["--iterations", "positive integer"] },
  { name: "a non-numeric N", args: ["loop", "many"], says: ["\"many\""] },
  { name: "an empty prompt", args: ["prompt", "  "], says: ["prompt", "empty"] },
  { name: "run without a task list", args: ["run", "--workers", "codex:1"], says: ["no task list", "config/tasks.json"] },
  { name: "a task id with a path in it", args: ["requeue", "../escape"], says: ["requeue", "\"../escape\""] },
  {
    name: "a missing agent binary (a typo in harnesses.command.command)",
    config: JSON.stringify({ workers: [{ model: "command:x", count: 2 }], review_model: "command:x", harnesses: { command: { command: "/nonexistent/agnet" } } }),
    args: ["swarm"],
    says: ["/nonexistent/agnet: command not found on PATH", "harnesses.command.command", "used by w0, w1, the reviewer", "nothing was started"]
  },
  {
    name: "a missing reviewer binary, read by loop",
    config: JSON.stringify({ workers: [{ model: "claude:opus" }], review_model: "codex:gpt-5-codex", harnesses: { codex: { command: "codex-not-installed" } } }),
    args: ["loop", "1"],
    says: ["codex-not-installed: command not found on PATH", "harnesses.codex.command", "used by the reviewer"]
  },
  { name: "swarm outside a git repository", args: ["swarm"], says: ["not inside a git repository"], noGit: true },
  { name: "loop outside a git repository", args: ["loop", "1", "--workers", "claude:1"], says: ["not inside a git repository"], noGit: true }
]

/** Everything the repository and the scratch folder hold, to compare before and after. */
const snapshot = (scratch: Scratch) => ({
  files: fs.readdirSync(scratch.repo).sort(),
  home: fs.readdirSync(scratch.home),
  worktreesDir: fs.existsSync(scratch.worktrees),
  ...(fs.existsSync(path.join(scratch.repo, ".git"))
    ? { worktrees: git(scratch.repo, "worktree", "list", "--porcelain"), refs: git(scratch.repo, "for-each-ref", "--format=%(refname) %(objectname)") }
    : {})
})

describe("bad input exits 2, says what is wrong, and creates nothing", () => {
  for (const c of cases) {
    it(c.name, () => {
      const scratch = scratchRepo({ git: c.noGit !== true, pending: [{ id: "waiting", summary: "A pending task" }] })
      if (c.config !== undefined) fs.writeFileSync(path.join(scratch.repo, "oompa.json"), c.config)
      const before = snapshot(scratch)
      const result = oompa(scratch, c.args)
      assert.strictEqual(result.status, 2, show(result))
      for (const text of c.says) assert.include(result.stderr, text, show(result))
      const lines = result.stderr.trimEnd().split("\n")
      if (c.long !== true) assert.isAtMost(lines.length, 2, show(result))
      assert.match(lines[0]!, /^oompa[ :]/, show(result))
      assert.notMatch(result.stderr, /^\s+at |internal error|Error:/m, show(result))
      assert.strictEqual(result.stdout, "", show(result))
      // Nothing created: no .oompa/, no worktree, no branch, no worktrees folder, no agent started.
      assert.deepStrictEqual(snapshot(scratch), before)
      assert.isFalse(fs.existsSync(path.join(scratch.repo, ".oompa")))
      assert.deepStrictEqual(fakeCalls(scratch), [])
      scratch.cleanup()
    })
  }

  it("the missing-config message prints an example config that itself decodes", () => {
    const scratch = scratchRepo()
    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 2, show(result))
    const example = result.stderr.slice(result.stderr.indexOf("{"))
    fs.writeFileSync(path.join(scratch.repo, "oompa.json"), example)
    // `context` reads the config without running anything: the example decodes.
    const decoded = oompa(scratch, ["context"])
    assert.strictEqual(decoded.status, 0, show(decoded))
    scratch.cleanup()
  })

  it("help and --help exit 0 without a repository", () => {
    const scratch = scratchRepo({ git: false })
    const help = oompa(scratch, ["help"])
    assert.strictEqual(help.status, 0, show(help))
    for (const command of ["swarm", "run", "loop", "prompt", "tasks", "requeue", "status", "list", "view", "context", "check", "stop"]) {
      assert.match(help.stdout, new RegExp(`^  ${command}\\b`, "m"), command)
    }
    const swarmHelp = oompa(scratch, ["swarm", "--help"])
    assert.strictEqual(swarmHelp.status, 0, show(swarmHelp))
    assert.include(swarmHelp.stdout, "oompa swarm")
    scratch.cleanup()
  })
})
