/**
 * `--workers` in every form SPEC F10 accepts, and the errors for the forms it does not.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { normalizeArgv, parseWorkers as parseResult, type WorkerGroup } from "../src/WorkersFlag.ts"

/** The groups, or the problem's message. */
const parseWorkers = (values: ReadonlyArray<string>, fallback: WorkerGroup["agent"]) => {
  const parsed = parseResult(values, fallback)
  return Result.isSuccess(parsed) ? parsed.success : parsed.failure.message
}

const codex = { harness: "codex" as const }

describe("WorkersFlag", () => {
  it("accepts the comma, repeated and 0.1.0 space-separated forms alike", () => {
    const comma = parseWorkers(["claude:5,codex:4"], codex)
    const repeated = parseWorkers(["claude:5", "codex:4"], codex)
    const spaced = normalizeArgv(["loop", "--workers", "claude:5", "codex:4", "--iterations", "20"])
    assert.deepStrictEqual(spaced, ["loop", "--workers", "claude:5,codex:4", "--iterations", "20"])
    const expected: ReadonlyArray<WorkerGroup> = [{ agent: { harness: "claude" }, count: 5 }, { agent: { harness: "codex" }, count: 4 }]
    assert.deepStrictEqual(comma, expected)
    assert.deepStrictEqual(repeated, expected)
    assert.deepStrictEqual(parseWorkers([spaced[2]!], codex), expected)
  })

  it("takes models and reasoning levels, and bare counts use the fallback agent", () => {
    assert.deepStrictEqual(parseWorkers(["claude:opus:high:2", "3"], codex), [
      { agent: { harness: "claude", model: "opus", reasoning: "high" }, count: 2 },
      { agent: codex, count: 3 }
    ])
  })

  it("leaves positional arguments after the flag alone", () => {
    assert.deepStrictEqual(normalizeArgv(["loop", "--workers", "claude:2", "5"]), ["loop", "--workers", "claude:2", "5"])
  })

  it("names the bad item", () => {
    assert.include(parseWorkers(["claud:5"], codex) as string, "unknown harness \"claud\"")
    assert.include(parseWorkers(["claude:0"], codex) as string, "count of at least 1")
    assert.include(parseWorkers([""], codex) as string, "no workers")
    assert.include(parseWorkers(["claude 5"], codex) as string, "is not harness")
  })
})
