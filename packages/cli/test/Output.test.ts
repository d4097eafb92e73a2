/**
 * The CLI's output helpers: `--no-color` is found anywhere before `--` and wins over FORCE_COLOR;
 * counts agree with their nouns. (Env combinations in a real process: test/cli/conventions.test.ts.)
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as Output from "../src/Output.ts"

afterEach(() => Output.configure({ noColor: false }))

describe("Output", () => {
  it("finds --no-color before or after the command, not after --", () => {
    assert.isTrue(Output.hasNoColorFlag(["--no-color", "list"]))
    assert.isTrue(Output.hasNoColorFlag(["list", "--json", "--no-color"]))
    assert.isFalse(Output.hasNoColorFlag(["prompt", "--", "--no-color"]))
    assert.isFalse(Output.hasNoColorFlag(["list", "--no-colour"]))
  })

  it("--no-color wins over FORCE_COLOR; without it, Node's decision stands", () => {
    const previous = process.env["FORCE_COLOR"]
    process.env["FORCE_COLOR"] = "1"
    try {
      assert.strictEqual(Output.green("ok"), "\u001b[32mok\u001b[39m")
      assert.isTrue(Output.colour())
      Output.configure({ noColor: true })
      assert.strictEqual(Output.green("ok"), "ok")
      assert.isFalse(Output.colour())
    } finally {
      if (previous === undefined) delete process.env["FORCE_COLOR"]
      else process.env["FORCE_COLOR"] = previous
    }
  })

  it("counts: 0 and 2 take the plural, 1 the singular", () => {
    assert.deepStrictEqual([0, 1, 2].map((n) => Output.count(n, "iteration")), ["0 iterations", "1 iteration", "2 iterations"])
    assert.strictEqual(Output.count(1, "agent call"), "1 agent call")
  })
})
