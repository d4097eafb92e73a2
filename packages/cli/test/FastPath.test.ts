/**
 * The fast path's lookup: an argv is answered only when the table holds it exactly (one
 * `--no-color` anywhere aside); a missing, unreadable or other-format table answers nothing.
 * (The texts against the full CLI, in real processes: test/cli/fastPath.test.ts.)
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as FastPath from "../src/FastPath.ts"
import * as Output from "../src/Output.ts"

const printed = (stdout: string): FastPath.Printed => ({ stdout, stderr: "", exitCode: 0 })

const table: FastPath.HelpTable = {
  format: FastPath.tableFormat,
  argv: { [FastPath.keyOf([])]: 0, [FastPath.keyOf(["--help"])]: 0, [FastPath.keyOf(["status", "--help"])]: 1 },
  plain: [printed("root\n"), printed("status\n")],
  colour: [printed("\u001b[1mroot\u001b[0m\n"), printed("\u001b[1mstatus\u001b[0m\n")]
}

describe("FastPath.lookup", () => {
  it("finds exactly the argvs of the table, with one --no-color anywhere", () => {
    assert.deepStrictEqual(FastPath.lookup(table, []), { index: 0, noColor: false })
    assert.deepStrictEqual(FastPath.lookup(table, ["status", "--help"]), { index: 1, noColor: false })
    assert.deepStrictEqual(FastPath.lookup(table, ["--no-color"]), { index: 0, noColor: true })
    for (const argv of [["--no-color", "status", "--help"], ["status", "--no-color", "--help"], ["status", "--help", "--no-color"]]) {
      assert.deepStrictEqual(FastPath.lookup(table, argv), { index: 1, noColor: true }, argv.join(" "))
    }
  })

  it("leaves everything else to the full CLI", () => {
    for (
      const argv of [
        ["status"],
        ["--help", "status"],
        ["status", "--help", "--json"],
        ["--help", "--help"],
        ["--no-color", "--no-color", "--help"],
        ["--", "--help"],
        ["--HELP"],
        ["--help=true"],
        ["__proto__"],
        ["constructor"],
        ["toString"]
      ]
    ) {
      assert.isUndefined(FastPath.lookup(table, argv), argv.join(" "))
    }
    // An index the table does not hold (a damaged file).
    assert.isUndefined(FastPath.lookup({ ...table, argv: { [FastPath.keyOf(["x"])]: 7 } }, ["x"]))
  })
})

describe("FastPath.colour", () => {
  const saved = { ...process.env }
  afterEach(() => {
    for (const name of ["NO_COLOR", "FORCE_COLOR"]) {
      if (saved[name] === undefined) delete process.env[name]
      else process.env[name] = saved[name]
    }
    Output.configure({ noColor: false })
  })

  it("decides as Output.colour does, --no-color winning over FORCE_COLOR", () => {
    for (const env of [{ FORCE_COLOR: "1" }, { FORCE_COLOR: "0" }, { NO_COLOR: "1" }, {}]) {
      delete process.env["NO_COLOR"]
      delete process.env["FORCE_COLOR"]
      Object.assign(process.env, env)
      for (const noColor of [false, true]) {
        Output.configure({ noColor })
        assert.strictEqual(FastPath.colour(noColor), Output.colour(), `${JSON.stringify(env)} --no-color: ${noColor}`)
      }
    }
  })
})

describe("FastPath.printKnown", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-fastpath-"))
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, content: string) => {
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, name), content)
    return pathToFileURL(path.join(dir, name))
  }

  it("answers nothing (prints nothing) from a missing, unreadable or other-format table, or for an argv it does not hold", () => {
    assert.isFalse(FastPath.printKnown(["--help"], pathToFileURL(path.join(dir, "missing.json"))))
    assert.isFalse(FastPath.printKnown(["--help"], file("broken.json", "{")))
    assert.isFalse(FastPath.printKnown(["--help"], file("null.json", "null")))
    assert.isFalse(FastPath.printKnown(["--help"], file("other.json", JSON.stringify({ ...table, format: FastPath.tableFormat + 1 }))))
    assert.isFalse(FastPath.printKnown(["status"], file("help.json", JSON.stringify(table))))
  })
})
