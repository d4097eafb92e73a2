/**
 * The CLI's other run modes end to end (SPEC F2, F10; issue 5): `run` over a fixed task list
 * (config/tasks.json, and 0.1.0's config/tasks.edn), `loop N` with mixed harnesses and no config
 * file (both `--workers` spellings), `prompt "text"`, a swarm whose planner creates the tasks its
 * executors implement, and `check`. Goal: each mode lands its work on main through review and the
 * merge queue, with the harnesses the command line asked for, and leaves nothing behind.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, fakeCalls, git, leftovers, oompa, type Scratch, scratchRepo, show, tasksIn } from "./helpers.ts"

afterAll(cleanupAll)

/** Worktrees of runs without a config file go to the default folder, under HOME/.cache. */
const defaultWorktrees = (scratch: Scratch): Array<string> => {
  const dir = path.join(scratch.home, ".cache/oompa/worktrees")
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir).flatMap((repoDir) => fs.readdirSync(path.join(dir, repoDir)).map((w) => `${repoDir}/${w}`))
}

const assertClean = (scratch: Scratch) => {
  const left = leftovers(scratch)
  assert.strictEqual(left.worktrees, 1, git(scratch.repo, "worktree", "list"))
  assert.strictEqual(left.branches, "")
  assert.deepStrictEqual(left.worktreesDir, [])
  assert.deepStrictEqual(defaultWorktrees(scratch), [])
  assert.deepStrictEqual(tasksIn(scratch, "current"), [])
  // The user's clean checkout followed main.
  assert.strictEqual(git(scratch.repo, "rev-parse", "HEAD"), git(scratch.repo, "rev-parse", "main"))
  assert.strictEqual(git(scratch.repo, "status", "--porcelain", "--", ".", ":!tasks"), "")
}

const onMain = (scratch: Scratch, dir = "src") => git(scratch.repo, "ls-tree", "-r", "--name-only", "main", `${dir}/`).split("\n").filter((f) => f !== "")

describe("oompa run", () => {
  it("runs config/tasks.json through the workers of oompa.json, then exits", () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "claude:sonnet", role: "executor", count: 2 }], review_model: "codex:gpt-5-codex" },
      files: { "config/tasks.json": JSON.stringify([{ id: "r1", summary: "First" }, { id: "r2", summary: "Second", files: ["src/r2.txt"] }, { id: "r3", summary: "Third" }]) }
    })
    const result = oompa(scratch, ["run"], { env: { E2E_FIX_ONCE: "r2" } })
    assert.strictEqual(result.status, 0, show(result))
    assert.include(result.stdout, "3 merged, 0 rejected, 0 failed")
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["r1", "r2", "r3"])
    assert.deepStrictEqual(onMain(scratch), ["src/r1.txt", "src/r2.txt", "src/r3.txt"])
    assert.strictEqual(git(scratch.repo, "show", "main:src/r2.txt"), "r2: written by claude\nfixed after review")
    const calls = fakeCalls(scratch)
    assert.deepStrictEqual([...new Set(calls.filter((c) => c.kind === "propose" || c.kind === "fix").map((c) => c.harness))], ["claude"])
    assert.deepStrictEqual([...new Set(calls.filter((c) => c.kind === "review").map((c) => c.harness))], ["codex"])
    assertClean(scratch)
  })

  it("runs 0.1.0's config/tasks.edn with --workers and no config file", () => {
    const scratch = scratchRepo({
      files: { "config/tasks.edn": `[{:id "e1" :summary "First from EDN"}\n {:id "e2" :summary "Second" :files ["src/e2.txt"] :acceptance ["it exists"]}]\n` }
    })
    const result = oompa(scratch, ["run", "--workers", "codex:2"])
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["e1", "e2"])
    // Tasks read from EDN are stored as JSON.
    assert.deepStrictEqual(fs.readdirSync(path.join(scratch.repo, "tasks/complete")).sort(), ["e1.json", "e2.json"])
    assert.deepStrictEqual(onMain(scratch), ["src/e1.txt", "src/e2.txt"])
    assert.deepStrictEqual([...new Set(fakeCalls(scratch).map((c) => c.harness))], ["codex"])
    assertClean(scratch)
  })
})

describe("oompa loop", () => {
  it("loop 2 --workers claude:1,codex:1: mixed harnesses without a config file, each reviewing its own work", () => {
    const scratch = scratchRepo()
    const result = oompa(scratch, ["loop", "2", "--workers", "claude:1,codex:1"])
    assert.strictEqual(result.status, 0, show(result))
    assert.include(result.stdout, "4 merged")
    // Every iteration of every worker changed something and landed.
    assert.deepStrictEqual(onMain(scratch), ["src/w0-1.txt", "src/w0-2.txt", "src/w1-1.txt", "src/w1-2.txt"])
    assert.match(git(scratch.repo, "show", "main:src/w0-2.txt"), /^w0 iteration 2 of 2 \(loop\) by claude on oompa\/[0-9a-f]{8}\/w0-2$/)
    assert.match(git(scratch.repo, "show", "main:src/w1-1.txt"), /^w1 iteration 1 of 2 \(loop\) by codex on oompa\/[0-9a-f]{8}\/w1-1$/)
    // No reviewer configured: each worker's own model reviews.
    const calls = fakeCalls(scratch)
    assert.deepStrictEqual(calls.filter((c) => c.harness === "claude").map((c) => c.kind).sort(), ["propose", "propose", "review", "review"])
    assert.deepStrictEqual(calls.filter((c) => c.harness === "codex").map((c) => c.kind).sort(), ["propose", "propose", "review", "review"])
    assertClean(scratch)
  })

  it("accepts 0.1.0's space-separated --workers claude:1 codex:1", () => {
    const scratch = scratchRepo()
    const result = oompa(scratch, ["loop", "1", "--workers", "claude:1", "codex:1"])
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(onMain(scratch), ["src/w0-1.txt", "src/w1-1.txt"])
    assert.include(git(scratch.repo, "show", "main:src/w0-1.txt"), "by claude")
    assert.include(git(scratch.repo, "show", "main:src/w1-1.txt"), "by codex")
    assertClean(scratch)
  })
})

describe("oompa prompt", () => {
  it("runs one ad-hoc task through an agent, review and merge", () => {
    const scratch = scratchRepo()
    const result = oompa(scratch, ["prompt", "Add a greeting"])
    assert.strictEqual(result.status, 0, show(result))
    const done = tasksIn(scratch, "complete")
    assert.strictEqual(done.length, 1)
    assert.match(done[0]!, /^prompt-add-a-greeting-[0-9a-f]{6}$/)
    assert.strictEqual(git(scratch.repo, "show", `main:src/${done[0]}.txt`), `${done[0]}: written by codex`)
    const stored = JSON.parse(fs.readFileSync(path.join(scratch.repo, "tasks/complete", `${done[0]}.json`), "utf8")) as Record<string, unknown>
    assert.strictEqual(stored["summary"], "Add a greeting")
    assert.deepStrictEqual(fakeCalls(scratch).map((c) => `${c.harness}:${c.kind}`), ["codex:propose", "codex:review"])
    assertClean(scratch)
  })
})

describe("claude as root without IS_SANDBOX", () => {
  it.runIf(process.getuid?.() === 0)("the run refuses to start (exit 2) and says why; no task is claimed or failed, no agent started", () => {
    const scratch = scratchRepo({ pending: [{ id: "waiting", summary: "A pending task" }] })
    const result = oompa(scratch, ["prompt", "Say hello", "--harness", "claude"], { env: { IS_SANDBOX: undefined } })
    assert.strictEqual(result.status, 2, show(result))
    assert.include(result.stderr, "IS_SANDBOX=1", show(result))
    assert.include(result.stderr, "nothing was started", show(result))
    assert.deepStrictEqual(tasksIn(scratch, "failed"), [])
    assert.deepStrictEqual(tasksIn(scratch, "pending"), ["waiting"])
    assert.deepStrictEqual(fakeCalls(scratch), [])
    assertClean(scratch)
  })
})

describe("oompa swarm with a planner", () => {
  it("the planner's task files become pending tasks the executors implement", () => {
    const scratch = scratchRepo({
      config: {
        workers: [
          { model: "claude:opus", role: "planner", iterations: 2 },
          { model: "codex:gpt-5-codex-mini", role: "executor", count: 2, iterations: 3 }
        ],
        review_model: "claude:sonnet"
      }
    })
    const result = oompa(scratch, ["swarm"], { env: { E2E_PLAN: "plan-one,plan-two" } })
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["plan-one", "plan-two"])
    assert.deepStrictEqual(tasksIn(scratch, "invalid"), [])
    assert.deepStrictEqual(onMain(scratch), ["src/plan-one.txt", "src/plan-two.txt"])
    // The planner's outbox is never committed.
    assert.strictEqual(git(scratch.repo, "log", "--all", "--format=%H", "--", ".oompa-new-tasks"), "")
    assertClean(scratch)
  })
})

describe("oompa check", () => {
  it("lists the agent CLIs found on PATH with their versions, and what would stop claude as root", () => {
    const scratch = scratchRepo()
    const result = oompa(scratch, ["check"])
    assert.strictEqual(result.status, 0, show(result))
    assert.match(result.stdout, /^ok\s+codex\s+codex \(codex-cli 0\.169\.0\)$/m)
    assert.match(result.stdout, /^ok\s+claude\s+claude \(2\.1\.0 \(Claude Code\)\)$/m)
    assert.include(result.stdout, "login: Logged in using ChatGPT")
    assert.match(result.stdout, /^missing gemini\s/m)
    assert.notInclude(result.stdout, "IS_SANDBOX")
    if (process.getuid?.() === 0) {
      const unsandboxed = oompa(scratch, ["check"], { env: { IS_SANDBOX: undefined } })
      assert.strictEqual(unsandboxed.status, 0, show(unsandboxed))
      assert.include(unsandboxed.stdout, "IS_SANDBOX=1")
    }
    assert.isFalse(fs.existsSync(path.join(scratch.repo, ".oompa")))
  })
})

