/**
 * The examples and the README stay true: every oompa.json they show decodes, with the workers,
 * roles and reviewers they claim, and every example program runs to what its README says.
 * (`examples/simulate/simulate.test.ts`, a host's own vitest file, runs in the suite by itself.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigFile } from "@oompa/core"
import { git, scratchRepo } from "./cli/helpers.ts"

const root = path.resolve(import.meta.dirname, "..")
const examplesDir = path.join(root, "examples")

describe("examples", () => {
  it("examples/oompa.json decodes: one planner and three executors reviewed by codex", () => {
    const text = fs.readFileSync(path.join(root, "examples/oompa.json"), "utf8")
    const decoded = ConfigFile.decodeConfigFileResult(text, "examples/oompa.json")
    assert.isTrue(Result.isSuccess(decoded), Result.isFailure(decoded) ? decoded.failure.message : "")
    const config = Result.getOrThrow(decoded)
    assert.deepStrictEqual(config.workers.map((w) => [w.id, w.role]), [["w0", "planner"], ["w1", "executor"], ["w2", "executor"], ["w3", "executor"]])
    assert.deepStrictEqual(config.workers[1]!.agent, { harness: "codex", model: "gpt-5-codex-mini", reasoning: "high" })
    assert.deepStrictEqual(config.reviewers.map((r) => r.agent.harness), ["codex"])
  })

  it("every oompa.json block in README.md decodes", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!)
    assert.isAbove(blocks.length, 0)
    for (const block of blocks) {
      const decoded = ConfigFile.decodeConfigFileResult(block, "README.md")
      assert.isTrue(Result.isSuccess(decoded), Result.isFailure(decoded) ? decoded.failure.message : "")
    }
  })

  it("the in-memory example runs the planner-executors-reviewer story to three merges", () => {
    const out = execFileSync(process.execPath, [path.join(root, "examples/src/in-memory-demo.ts")], { cwd: root, encoding: "utf8" })
    assert.include(out, "summary: ok; 3 merged")
    assert.include(out, "policy gate: .env: path is denied by policy")
    assert.include(out, "review #1: needs-changes")
  })

  it("`npx oompa` runs the bundled CLI from the repository root", () => {
    if (!fs.existsSync(path.join(root, "packages/cli/dist/oompa.mjs"))) execFileSync(process.execPath, [path.join(root, "scripts/build-cli.mjs")], { cwd: root })
    const out = execFileSync(path.join(root, "node_modules/.bin/oompa"), ["help"], { cwd: root, encoding: "utf8", env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` } })
    assert.include(out, "Run a swarm of coding agents on one git repository")
  })

  /** A scratch repository with pending tasks, and a HOME beside it for the worktrees. */
  const scratch = (tasks: ReadonlyArray<string>) => {
    const made = scratchRepo({ pending: tasks.map((id) => ({ id, summary: `Do ${id}` })) })
    return { tmp: made.root, repo: made.repo, git: (...args: Array<string>) => git(made.repo, ...args), env: { ...process.env, HOME: made.home } }
  }

  it("examples/embed: a plain TypeScript program runs a swarm with its own function agent, through review and a fix, to merges", () => {
    const { tmp, repo, git, env } = scratch(["note-a", "note-b"])
    try {
      const out = execFileSync(process.execPath, [path.join(examplesDir, "embed/embed.ts"), repo], { cwd: tmp, encoding: "utf8", env })
      assert.match(out, /review 1: needs-changes/)
      assert.match(out, /review 2: approved/)
      assert.include(out, "summary: ok; 2 merged, 0 rejected, 0 failed")
      assert.strictEqual(git("show", "main:notes/note-a.md").split("\n")[0], "# note-a")
      assert.strictEqual(git("show", "main:notes/note-b.md").split("\n")[0], "# note-b")
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })

  it("examples/live-events: an Effect host streams oompa's events into its own board as the run goes", () => {
    const { tmp, repo, git, env } = scratch(["one", "two", "three"])
    try {
      const out = execFileSync(process.execPath, [path.join(examplesDir, "live-events/live-events.ts"), repo], { cwd: tmp, encoding: "utf8", env })
      // The board was redrawn while the run went on (claims, reviews, merges), then shown final.
      assert.match(out, /\[TaskClaimed\]\n.*working on (one|two|three)/)
      assert.match(out, /\[MergeResult\]\n[\s\S]*merge: merged/)
      assert.match(out, /final board:\n(.*done \(no-tasks\)\n){2}  merged: 3/)
      assert.match(out, /summary: ok; 3 merged/)
      assert.deepStrictEqual(git("ls-tree", "--name-only", "main").split("\n").sort(), ["README.md", "one.txt", "three.txt", "two.txt"])
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })

  it("the README's quick start is exactly the two commands", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    const quickStart = /## Quick start\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1]
    assert.strictEqual(quickStart, "npm ci && npm run demo\nnpm test\n")
  })
})
