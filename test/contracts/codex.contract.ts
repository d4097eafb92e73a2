/**
 * Codex CLI (`@openai/codex`, pinned by scripts/install-contract-clis.mjs) against the scripted
 * OpenAI Responses server: SPEC F3's `codex exec --json --skip-git-repo-check -C <worktree> --sandbox
 * workspace-write [-m M] [-c model_reasoning_effort=R] -` and `… resume <thread_id> -`. The
 * provider (`-c model_providers.mock.* -c model_provider=mock`) comes from `harnesses.codex.args`.
 */
import { assert, describe, it } from "vitest"
import { codex } from "./harnesses.ts"
import type { Sandbox } from "./sandbox.ts"
import { assertDollars, describeHarness, transcripts, useSandboxes } from "./suite.ts"

describeHarness(codex)

/** The usage of the last `turn.completed` event codex printed, as the transcript kept it. */
interface CodexUsage {
  readonly input_tokens: number
  readonly cached_input_tokens: number
  readonly output_tokens: number
  readonly reasoning_output_tokens?: number
}
const lastUsage = (box: Sandbox, file: string): CodexUsage => {
  const events = transcripts(box)[file]!.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>)
  const completed = events.filter((event) => event["type"] === "turn.completed")
  return completed[completed.length - 1]!["usage"] as CodexUsage
}

describe("codex: what only Codex does", () => {
  const sandbox = useSandboxes(codex)

  it("-m and -c model_reasoning_effort reach the model request", async () => {
    const box = await sandbox()
    box.server.script({ text: "APPROVED" })
    const result = await box.run({ agent: { harness: "codex", model: "gpt-5.5", reasoning: "low" }, call: "review", prompt: "Review." })
    assert.strictEqual(result.exitCode, 0, result.stderr)
    const body = box.server.turns()[0]!.body as { model: string; reasoning?: { effort?: string } }
    assert.strictEqual(body.model, "gpt-5.5")
    assert.strictEqual(body.reasoning?.effort, "low")
  })

  it("turn.completed usage is cumulative across `resume`: the call's tokens, cached and reasoning ones too, are the difference, and its dollars theirs", async () => {
    const box = await sandbox()
    const firstUsage = { input: 1000, output: 100, cached: 600, reasoning: 30 }
    const secondUsage = { input: 3000, output: 200, cached: 2500, reasoning: 50 }
    box.server.script({ text: "first", usage: firstUsage }, { text: "second", usage: secondUsage })
    const first = await box.run({ call: "propose", prompt: "One." })
    const second = await box.run({ call: "fix", prompt: "Two.", sessionId: first.sessionId! })
    assert.strictEqual(second.exitCode, 0, second.stderr)
    assert.strictEqual(second.sessionId, first.sessionId, "thread.started repeats the resumed thread's id")
    const cumulative = lastUsage(box, "w0-1-fix-1.json")
    assert.strictEqual(cumulative.input_tokens, 4000, "codex reports the thread's total")
    assert.strictEqual(cumulative.output_tokens, 300)
    assert.strictEqual(cumulative.cached_input_tokens, 3100)
    assert.deepStrictEqual(first.tokens, { input: 1000, output: 100 })
    assert.deepStrictEqual(second.tokens, { input: 3000, output: 200 })
    // codex reports no dollars: each call's are its own tokens at gpt-5.5's price in the table.
    assertDollars(codex, first, firstUsage)
    assertDollars(codex, second, secondUsage)
  })

  it("the provider's key is missing: a failed call with codex's one line, at once", async () => {
    const box = await sandbox({ override: ({ env, ...rest }) => ({ ...rest, env: { ...env, OOMPA_CONTRACT_API_KEY: "" } }) })
    const started = Date.now()
    const result = await box.run({ call: "propose", prompt: "Create hello.txt.", timeoutMs: 60_000 })
    assert.isBelow(Date.now() - started, 20_000)
    assert.strictEqual(result.exitCode, 1)
    assert.strictEqual(result.stderr.trim().split("\n").pop(), "Missing environment variable: `OOMPA_CONTRACT_API_KEY`.")
    assert.strictEqual(box.server.turns().length, 0)
  })

  it("the model server answers 401 (a revoked key): the agent is unavailable, with codex's own line (the run stops: exit 2, no attempt spent)", async () => {
    const box = await sandbox()
    box.server.failAll({ status: 401, message: "invalid api key" })
    const result = await box.runEither({ call: "propose", prompt: "Create hello.txt.", timeoutMs: 60_000 })
    assert.isTrue("unavailable" in result, JSON.stringify(result))
    if ("unavailable" in result) assert.match(result.unavailable, /^codex is not authenticated: unexpected status 401 Unauthorized: invalid api key, url: http:\/\/127\.0\.0\.1:\d+\/v1\/responses$/)
  })

  it("an API error that is not about credentials (500, after codex's own retries): a failed call ending in codex's one line", async () => {
    const box = await sandbox()
    box.server.failAll({ status: 500, message: "scripted outage" })
    const result = await box.run({ call: "propose", prompt: "Create hello.txt.", timeoutMs: 120_000 })
    assert.notStrictEqual(result.exitCode, 0)
    assert.isFalse(result.timedOut)
    assert.notStrictEqual(result.stderr.trim(), "")
  })
})
