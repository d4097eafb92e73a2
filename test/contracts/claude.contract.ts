/**
 * Claude Code (`@anthropic-ai/claude-code`, pinned by scripts/install-contract-clis.mjs) against the
 * scripted Anthropic Messages server: SPEC F3's `claude -p --output-format json
 * --dangerously-skip-permissions [--model M] [--effort R] [--resume ID]`.
 */
import { Harnesses } from "@oompa/adapters-node"
import { assert, describe, it } from "vitest"
import { claude } from "./harnesses.ts"
import type { Sandbox } from "./sandbox.ts"
import { describeHarness, transcripts, useSandboxes } from "./suite.ts"

describeHarness(claude)

/** claude's own JSON result, as the transcript kept it. */
const resultJson = (box: Sandbox, file: string): Record<string, unknown> =>
  JSON.parse(transcripts(box)[file]!.stdout) as Record<string, unknown>

describe("claude: what only Claude Code does", () => {
  const sandbox = useSandboxes(claude)

  it("--model and --effort reach the model request", async () => {
    const box = await sandbox()
    box.server.script({ text: "APPROVED" })
    const result = await box.run({ agent: { harness: "claude", model: "opus", reasoning: "low" }, call: "review", prompt: "Review." })
    assert.strictEqual(result.exitCode, 0, result.stderr)
    const body = box.server.turns()[0]!.body as { model: string; output_config?: { effort?: string } }
    assert.match(body.model, /opus/)
    assert.strictEqual(body.output_config?.effort, "low")
  })

  it("total_cost_usd is cumulative across --resume: the call's cost is the difference; usage is per call", async () => {
    const box = await sandbox()
    box.server.script({ text: "first", usage: { input: 1000, output: 100 } }, { text: "second", usage: { input: 3000, output: 200 } })
    const first = await box.run({ call: "propose", prompt: "One." })
    const second = await box.run({ call: "fix", prompt: "Two.", sessionId: first.sessionId! })
    assert.strictEqual(second.exitCode, 0, second.stderr)

    const reported = resultJson(box, "w0-1-fix-1.json")
    assert.strictEqual(reported["session_id"], first.sessionId)
    const cumulative = reported["total_cost_usd"] as number
    assert.closeTo(cumulative, first.costUsd! + second.costUsd!, 1e-9, "claude reports the session's total")
    assert.isAbove(second.costUsd!, first.costUsd!)
    assert.deepStrictEqual(second.tokens, { input: 3000, output: 200 }, "usage is this call's alone")
    assert.isUndefined(second.costEstimatedWith, "claude's own dollars, not an estimate")
  })

  it("not logged in (no ANTHROPIC_API_KEY): the agent is unavailable, with claude's one line, at once (the run stops: exit 2, no attempt spent)", async () => {
    const box = await sandbox({ override: ({ env, ...rest }) => ({ ...rest, env: { ...env, ANTHROPIC_API_KEY: "" } }) })
    const started = Date.now()
    const result = await box.runEither({ call: "propose", prompt: "Create hello.txt.", timeoutMs: 60_000 })
    assert.isBelow(Date.now() - started, 20_000)
    assert.deepStrictEqual(result, { unavailable: "claude is not authenticated: Not logged in · Please run /login" })
    assert.strictEqual(box.server.turns().length, 0)
  })

  it("an API error the model server returns: a failed call whose stderr is claude's one line", async () => {
    const box = await sandbox()
    box.server.failAll({ status: 400, message: "scripted bad request" })
    const result = await box.run({ call: "propose", prompt: "Create hello.txt." })
    assert.strictEqual(result.exitCode, 1)
    assert.strictEqual(result.stderr.trim(), "API Error: 400 scripted bad request")
  })

  it.runIf(process.getuid?.() === 0)("as root without IS_SANDBOX=1: refused in one line, and oompa does not set it", async () => {
    const box = await sandbox({ env: { IS_SANDBOX: undefined } })
    box.server.script({ text: "APPROVED" })
    const result = await box.runEither({ call: "review", prompt: "Review." })
    assert.deepStrictEqual(result, { unavailable: Harnesses.rootRefusalMessage })
    assert.strictEqual(box.server.turns().length, 0, "claude refused before any model request")
    const saved = Object.values(transcripts(box))[0]!
    assert.match(saved.stderr, /--dangerously-skip-permissions cannot be used with root\/sudo privileges/)
  })
})
