/**
 * Goal: a task file an agent writes into `.oompa-new-tasks/` is as hostile as any (issue 15): what
 * JSON.parse lets through — a key given twice, nesting no task needs — and control characters in
 * its name are refused with a reason, never taken silently.
 */
import { assert, describe, it } from "@effect/vitest"
import { parseTaskFile } from "../../src/programs/NewTasks.ts"

describe("NewTasks.parseTaskFile", () => {
  it("takes a plain task file, recording who created it", () => {
    assert.deepStrictEqual(parseTaskFile("a.json", JSON.stringify({ id: "a", summary: "do a" }), "w0") as unknown, { id: "a", summary: "do a", created_by: "w0" })
  })

  it("refuses a key given twice (JSON.parse keeps the last one), naming it", () => {
    const reason = parseTaskFile("a.json", `{"id":"a","summary":"do a","id":"b"}`, "w0")
    assert.strictEqual(reason, `a.json: the key "id" appears more than once (JSON keeps only the last one, so the file does not say which value is meant)`)
  })

  it("refuses nesting past 64 levels, without recursing over it", () => {
    const deep = `{"id":"a","summary":"s","extra":${"[".repeat(100_000)}${"]".repeat(100_000)}}`
    assert.include(String(parseTaskFile("a.json", deep, "w0")), "nested deeper than 64 levels")
  })

  it("shows a name's control characters escaped in the reason", () => {
    const reason = String(parseTaskFile("x\u001b[2J.json", "not json", "w0"))
    assert.notInclude(reason, "\u001b")
    assert.include(reason, "\\u001b")
  })
})
