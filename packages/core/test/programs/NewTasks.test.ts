/**
 * Goal: a task file an agent writes into `.oompa-new-tasks/` is as hostile as any (issue 15): what
 * JSON.parse lets through — a key given twice, nesting no task needs — and control characters in
 * its name are refused with a reason, never taken silently.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { parseTaskFile } from "../../src/programs/NewTasks.ts"

/** Why the file is not a task (the test fails if it is one). */
const reasonOf = (name: string, content: string): string => {
  const parsed = parseTaskFile(name, content, "w0")
  if (Result.isSuccess(parsed)) throw new Error(`${name} was taken as a task`)
  assert.strictEqual(parsed.failure._tag, "InvalidTaskFile")
  assert.strictEqual(parsed.failure.file, name)
  return parsed.failure.message
}

describe("NewTasks.parseTaskFile", () => {
  it("takes a plain task file, recording who created it", () => {
    assert.deepStrictEqual(parseTaskFile("a.json", JSON.stringify({ id: "a", summary: "do a" }), "w0"), Result.succeed({ id: "a", summary: "do a", created_by: "w0" }) as never)
  })

  it("refuses a key given twice (JSON.parse keeps the last one), naming it", () => {
    const reason = reasonOf("a.json", `{"id":"a","summary":"do a","id":"b"}`)
    assert.strictEqual(reason, `a.json: the key "id" appears more than once (JSON keeps only the last one, so the file does not say which value is meant)`)
  })

  it("refuses nesting past 64 levels, without recursing over it", () => {
    const deep = `{"id":"a","summary":"s","extra":${"[".repeat(100_000)}${"]".repeat(100_000)}}`
    assert.include(reasonOf("a.json", deep), "nested deeper than 64 levels")
  })

  it("shows a name's control characters escaped in the reason", () => {
    const reason = reasonOf("x\u001b[2J.json", "not json")
    assert.notInclude(reason, "\u001b")
    assert.include(reason, "\\u001b")
  })
})
