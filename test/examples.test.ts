/**
 * The examples and the README stay true: every oompa.json they show decodes, with the workers,
 * roles and reviewers they claim.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigFile } from "@oompa/core"

const root = path.resolve(import.meta.dirname, "..")

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
    assert.include(out, "oompa — a swarm of coding agents")
  })

  it("the README's quick start is exactly the two commands", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    const quickStart = /## Quick start\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1]
    assert.strictEqual(quickStart, "npm ci && npm run demo\nnpm test\n")
  })
})
