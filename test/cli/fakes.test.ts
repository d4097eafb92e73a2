/**
 * The fake `codex` and `claude` of the end-to-end tests behave like the real CLIs where oompa can
 * tell (SPEC F3): they reject flags the real ones reject, with the real exit codes (codex 2, claude
 * 1), claude refuses --dangerously-skip-permissions as root without IS_SANDBOX=1, and they print
 * the real output formats. They run on whichever Node `/usr/bin/env node` finds (20 or 22).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, environment, fakeBin, scratchRepo } from "./helpers.ts"

afterAll(cleanupAll)

const scratch = scratchRepo()

const executorPrompt = (id: string) =>
  `# oompa executor w0 (iteration 1 of 1, mode swarm)\n\n## Your task\n- id: ${id}\n- summary: Write it\n`

/** Runs a fake with `args`, the prompt on stdin, in the scratch repository. */
const fake = (harness: "codex" | "claude", args: ReadonlyArray<string>, options: { stdin?: string; env?: Record<string, string | undefined>; pathFirst?: string } = {}) => {
  const env = environment(scratch, options.env)
  if (options.pathFirst !== undefined) env["PATH"] = `${fakeBin}:${options.pathFirst}:${env["PATH"]}`
  return spawnSync(path.join(fakeBin, harness), [...args], { cwd: scratch.repo, env, input: options.stdin ?? "", encoding: "utf8" })
}

const codexArgs = ["exec", "--json", "--skip-git-repo-check", "-C", scratch.repo, "--sandbox", "workspace-write", "-m", "gpt-5-codex", "-"]
const claudeArgs = ["-p", "--output-format", "json", "--dangerously-skip-permissions", "--model", "opus"]

describe("fake agent CLIs", () => {
  it("codex: SPEC F3's command line works and prints JSONL; unknown flags and 0.1.0's --full-auto exit 2", () => {
    const ok = fake("codex", codexArgs, { stdin: executorPrompt("fake-1") })
    assert.strictEqual(ok.status, 0, ok.stderr)
    const events = ok.stdout.trim().split("\n").map((line) => JSON.parse(line) as { type: string; thread_id?: string; item?: { type: string; text: string } })
    assert.deepStrictEqual(events.map((e) => e.type), ["thread.started", "turn.started", "item.completed", "item.completed", "turn.completed"])
    assert.strictEqual(events[3]!.item!.type, "agent_message")
    assert.strictEqual(fs.readFileSync(path.join(scratch.repo, "src/fake-1.txt"), "utf8"), "fake-1: written by codex\n")
    // Resume: options before `resume`, then the thread and `-`.
    const resumed = fake("codex", [...codexArgs.slice(0, -1), "resume", events[0]!.thread_id!, "-"], { stdin: executorPrompt("fake-2") })
    assert.strictEqual(resumed.status, 0, resumed.stderr)
    assert.include(resumed.stdout, `"thread_id":"${events[0]!.thread_id}"`)
    for (const bad of [["exec", "--full-auto", "-"], ["exec", "--json", "-"].concat(["--bogus"]), [...codexArgs.slice(0, -1), "resume", "abc", "-C", scratch.repo, "-"]]) {
      const refused = fake("codex", bad)
      assert.strictEqual(refused.status, 2, `${bad.join(" ")}: ${refused.stderr}`)
      assert.include(refused.stderr, "unexpected argument")
    }
  })

  it("claude: SPEC F3's command line works and prints one JSON result; unknown options exit 1; root needs IS_SANDBOX=1", () => {
    const ok = fake("claude", claudeArgs, { stdin: executorPrompt("fake-3") })
    assert.strictEqual(ok.status, 0, ok.stderr)
    const result = JSON.parse(ok.stdout) as Record<string, unknown>
    for (const key of ["result", "session_id", "usage", "total_cost_usd", "is_error"]) assert.property(result, key)
    assert.strictEqual(result["is_error"], false)
    const unknown = fake("claude", [...claudeArgs, "--yolo"])
    assert.strictEqual(unknown.status, 1)
    assert.include(unknown.stderr, "unknown option '--yolo'")
    if (process.getuid?.() === 0) {
      const refused = fake("claude", claudeArgs, { env: { IS_SANDBOX: undefined } })
      assert.strictEqual(refused.status, 1)
      assert.include(refused.stderr, "--dangerously-skip-permissions cannot be used with root/sudo privileges")
    }
  })

  it("an unrecognised prompt fails instead of guessing", () => {
    const result = fake("claude", claudeArgs, { stdin: "Write a poem.\n" })
    assert.strictEqual(result.status, 1)
    assert.include(result.stderr, "unrecognised")
  })

  it.runIf(fs.existsSync("/usr/bin/node"))("runs on the system's Node too (/usr/bin/node)", () => {
    const versions = [fake("codex", ["--version"], { pathFirst: "/usr/bin" }), fake("claude", ["--version"], { pathFirst: "/usr/bin" })]
    assert.deepStrictEqual(versions.map((v) => [v.status, v.stdout.trim()]), [[0, "codex-cli 0.169.0"], [0, "2.1.0 (Claude Code)"]])
    const work = fake("claude", claudeArgs, { stdin: executorPrompt("fake-4"), pathFirst: "/usr/bin" })
    assert.strictEqual(work.status, 0, work.stderr)
  })
})
