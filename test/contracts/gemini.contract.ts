/**
 * Gemini CLI (`@google/gemini-cli`, pinned by scripts/install-contract-clis.mjs) against the
 * scripted Gemini API server: SPEC F3's `gemini --yolo --skip-trust [-m M] -o json [--resume ID]`.
 * The endpoint is `GOOGLE_GEMINI_BASE_URL` + `GEMINI_API_KEY`, with `security.auth.selectedType =
 * "gemini-api-key"` in `$HOME/.gemini/settings.json`.
 */
import { Harnesses } from "@oompa/adapters-node"
import { Verdict } from "@oompa/core"
import { assert, describe, it } from "vitest"
import { gemini, priceTable } from "./harnesses.ts"
import { assertDollars, describeHarness, useSandboxes } from "./suite.ts"

describeHarness(gemini)

describe("gemini: what only Gemini CLI does", () => {
  const sandbox = useSandboxes(gemini)

  it("tokens are per call across --resume (stats.models is this process's); no dollars, so the table prices them, cached input and thoughts included", async () => {
    const box = await sandbox()
    const firstUsage = { input: 1000, output: 100, cached: 400, reasoning: 60 }
    const secondUsage = { input: 3000, output: 200, cached: 2000, reasoning: 80 }
    box.server.script({ text: "first", usage: firstUsage }, { text: "second", usage: secondUsage })
    const first = await box.run({ call: "propose", prompt: "One." })
    const second = await box.run({ call: "fix", prompt: "Two.", sessionId: first.sessionId! })
    assert.strictEqual(second.exitCode, 0, second.stderr)
    assert.strictEqual(second.sessionId, first.sessionId)
    assert.deepStrictEqual(first.tokens, { input: 1000, output: 100 })
    assert.deepStrictEqual(second.tokens, { input: 3000, output: 200 })
    assertDollars(gemini, first, firstUsage)
    assertDollars(gemini, second, secondUsage)
  })

  it("without -m, gemini's model router asks the server first (a side request), and the call still answers", async () => {
    const box = await sandbox()
    box.server.script({ text: "APPROVED" })
    const result = await box.run({ agent: { harness: "gemini" }, call: "review", prompt: "Review." })
    assert.strictEqual(result.exitCode, 0, result.stderr)
    assert.deepStrictEqual(Verdict.parseVerdict(result.answer), Verdict.Verdict.cases.Approved.make({}))
    assert.isAbove(box.server.requests.filter((request) => request.side && request.api === "gemini").length, 0)
    // gemini names every model it used, so even the default model it picked has a price.
    assert.isAbove(result.costUsd ?? 0, 0)
    assert.strictEqual(result.costEstimatedWith, priceTable)
  })

  it("not authenticated (no key, no settings): exit 41 becomes oompa's one line, at once", async () => {
    const box = await sandbox({ prepareHome: false, override: ({ env, ...rest }) => ({ ...rest, env: { ...env, GEMINI_API_KEY: "" } }) })
    const started = Date.now()
    const result = await box.runEither({ call: "propose", prompt: "Create hello.txt.", timeoutMs: 60_000 })
    assert.isBelow(Date.now() - started, 30_000)
    // Named by the binary's own name, not the absolute path of the cached copy.
    assert.deepStrictEqual(result, { unavailable: Harnesses.notAuthenticatedMessage("gemini") })
    assert.strictEqual(box.server.turns().length, 0)
  })
})
