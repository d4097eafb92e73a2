/**
 * NodeServices end to end: the core's swarm over the real layers — a temporary git repository, the
 * filesystem task queue, fake `claude` and `codex` executables (the real CLIs' arguments and output
 * formats), the JSONL run log. Goal: SPEC F5/F6 hold on disk: every task merged onto main by the
 * merge queue, the user's clean checkout follows main, nothing left behind.
 */
import { NodeServices as PlatformNode } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Ids, Swarm, SwarmConfig } from "@oompa/core"
import * as NodeServices from "../src/NodeServices.ts"
import * as JsonlEventLog from "../src/JsonlEventLog.ts"

const fakeBin = path.resolve(import.meta.dirname, "fixtures/fake-agents/bin")
const git = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim()

const scratchRepo = () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-services-")))
  const repo = path.join(root, "repo")
  fs.mkdirSync(repo)
  git(repo, "init", "-q", "-b", "main")
  git(repo, "config", "user.email", "dev@example.com")
  git(repo, "config", "user.name", "Dev")
  fs.writeFileSync(path.join(repo, "README.md"), "# scratch\n")
  git(repo, "add", "-A")
  git(repo, "commit", "-qm", "initial")
  for (const id of ["a", "b"]) {
    fs.mkdirSync(path.join(repo, "tasks/pending"), { recursive: true })
    fs.writeFileSync(path.join(repo, `tasks/pending/${id}.json`), JSON.stringify({ id, summary: `write ${id}` }))
  }
  return { root, repo }
}

describe("NodeServices", () => {
  it.live("a swarm over real git, real processes and the filesystem queue merges every task", () =>
    Effect.gen(function*() {
      const { root, repo } = scratchRepo()
      // One worker, so the fake agents' invocations come in a known order: propose, review, propose, review.
      const script = path.join(root, "script.json")
      fs.writeFileSync(script, JSON.stringify([
        { answer: "wrote a", edits: { "src/a.txt": "a\n" }, sessionId: "s-a", costUsd: 0.01 },
        { answer: "Looks right.\nVERDICT: APPROVED" },
        { answer: "wrote b", edits: { "src/b.txt": "b\n" }, sessionId: "s-b", costUsd: 0.02 },
        { answer: "VERDICT: APPROVED" }
      ]))
      const config = SwarmConfig.makeSwarmConfig({
        workers: [{ id: "w0" as Ids.WorkerId, agent: { harness: "claude", model: "opus" }, role: "executor", iterations: 5, prompt: [], wait_between: 0, budget: {} }],
        reviewers: [{ agent: { harness: "codex", model: "gpt-5-codex" } }],
        worktrees_dir: path.join(root, "worktrees")
      })
      const runId = "0a0b0c0d" as Ids.RunId
      // As root, claude needs IS_SANDBOX=1 from the user (oompa never sets it); this test plays that user.
      const env = { ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, FAKE_AGENT_SCRIPT: script, IS_SANDBOX: "1" }
      const report = yield* Swarm.run(config, { runId }).pipe(
        Effect.provide(NodeServices.layer({ repoRoot: repo, config, configDir: repo, runId, env })),
        Effect.provide(PlatformNode.layer)
      )
      assert.strictEqual(report.outcome, "ok", JSON.stringify(report.workers.map((w) => [w.reason, w.iterations.map((i) => [i.outcome, i.detail])])))
      assert.strictEqual(report.merged, 2)
      assert.strictEqual(git(repo, "show", "main:src/a.txt"), "a")
      assert.strictEqual(git(repo, "show", "main:src/b.txt"), "b")
      assert.deepStrictEqual(fs.readdirSync(path.join(repo, "tasks/complete")).sort(), ["a.json", "b.json"])
      assert.deepStrictEqual(fs.readdirSync(path.join(repo, "tasks/current")), [])
      // The user's clean checkout of main followed the merges; nothing is staged or modified.
      assert.strictEqual(fs.readFileSync(path.join(repo, "src/a.txt"), "utf8"), "a\n")
      assert.strictEqual(git(repo, "status", "--porcelain", "--", ".", ":!tasks"), "")
      // No worktree or branch of the run is left, and the merge commits carry the trailers.
      assert.strictEqual(git(repo, "worktree", "list").split("\n").length, 1)
      assert.strictEqual(git(repo, "branch", "--list", "oompa/*"), "")
      assert.include(git(repo, "log", "-1", "--format=%B", "main"), "Oompa-Task: b")
      // The run log holds the whole run; every call has a transcript.
      const events = yield* JsonlEventLog.readEvents(path.join(repo, `.oompa/runs/${runId}/events.jsonl`)).pipe(Effect.provide(PlatformNode.layer))
      assert.strictEqual(events[0]!._tag, "SwarmStarted")
      assert.strictEqual(events[events.length - 1]!._tag, "SwarmFinished")
      assert.strictEqual(fs.readdirSync(path.join(repo, `.oompa/runs/${runId}/transcripts`)).length, 4)
      // claude reported $0.03; the table prices codex's two reviews (100 tokens in, 20 out, at gpt-5-codex's
      // $1.25 and $10 per million): the run's cost counts both, and says which share is estimated.
      assert.closeTo(report.estimatedCostUsd, 2 * (100 * 1.25 + 20 * 10) / 1e6, 1e-12)
      assert.closeTo(report.costUsd, 0.03 + report.estimatedCostUsd, 1e-9)
      assert.deepStrictEqual(report.priceTables, ["@pydantic/genai-prices 0.1.8"])
      fs.rmSync(root, { recursive: true, force: true })
    }), 60_000)
})
