/**
 * opencode (`opencode-ai`, pinned by scripts/install-contract-clis.mjs) against the scripted
 * OpenAI-compatible chat completions server: SPEC F3's `opencode run --format json --auto
 * [-m provider/model] [--variant R] [-s ID]`. The provider is an `@ai-sdk/openai-compatible` entry
 * with `baseURL` in `$HOME/.config/opencode/opencode.json`.
 */
import { assert, describe, it } from "vitest"
import { opencode } from "./harnesses.ts"
import { assertDollars, describeHarness, useSandboxes } from "./suite.ts"

describeHarness(opencode)

describe("opencode: what only opencode does", () => {
  const sandbox = useSandboxes(opencode)

  it("tokens and cost are per call across -s (summed over its steps), at the provider's price, its cache rate for cached input", async () => {
    const box = await sandbox()
    box.server.script(
      opencode.writeFile("a.txt", "a\n"),
      { text: "first", usage: { input: 1000, output: 100 } },
      { text: "second", usage: { input: 3000, output: 200, cached: 1000, reasoning: 30 } }
    )
    const first = await box.run({ call: "propose", prompt: "One." })
    const second = await box.run({ call: "fix", prompt: "Two.", sessionId: first.sessionId! })
    assert.strictEqual(second.exitCode, 0, second.stderr)
    assert.strictEqual(second.sessionId, first.sessionId)
    // Two steps in the first call (the tool call at the default usage, then the answer).
    assert.deepStrictEqual(first.tokens, { input: 2000, output: 150 })
    assertDollars(opencode, first, { input: 2000, output: 150 })
    assert.deepStrictEqual(second.tokens, { input: 3000, output: 200 })
    assertDollars(opencode, second, { input: 3000, output: 200, cached: 1000, reasoning: 30 })
  })

  it("--variant is accepted", async () => {
    const box = await sandbox()
    box.server.script({ text: "APPROVED" })
    const result = await box.run({ agent: { harness: "opencode", model: opencode.model, reasoning: "high" }, call: "review", prompt: "Review." })
    assert.strictEqual(result.exitCode, 0, result.stderr)
    assert.strictEqual(result.answer, "APPROVED")
  })
})
