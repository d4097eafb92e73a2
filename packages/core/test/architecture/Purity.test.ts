/**
 * The core stays pure (ARCHITECTURE.md): no I/O modules, no ambient time or randomness, so one seed
 * replays a whole run. Method: read every source file of packages/core/src and look for the
 * forbidden imports and calls outside comments.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { codeOf, sources } from "./sources.ts"

const srcDir = path.resolve(import.meta.dirname, "../../src")

const forbiddenImports = [
  /from\s+["']node:/,
  /from\s+["'](fs|path|os|child_process)(\/[^"']*)?["']/,
  /from\s+["']isomorphic-git/,
  /from\s+["']@effect\/platform-node/,
  /from\s+["']@oompa\/adapters/
]
const forbiddenCalls = [/Date\.now\(/, /new Date\(\s*\)/, /Math\.random\(/, /\bsetTimeout\(/, /\bsetInterval\(/, /(^|[^A-Za-z0-9_.])process\./]

describe("packages/core purity", () => {
  const files = sources(srcDir)

  it("finds the sources it checks", () => {
    assert.isAbove(files.length, 20)
  })

  it("imports no I/O module and reads no ambient time, randomness or process state", () => {
    const offences: Array<string> = []
    for (const file of files) {
      const lines = codeOf(fs.readFileSync(file, "utf8")).split("\n")
      lines.forEach((line, i) => {
        for (const pattern of [...forbiddenImports, ...forbiddenCalls]) {
          if (pattern.test(line)) offences.push(`${path.relative(srcDir, file)}:${i + 1}: ${line.trim()}`)
        }
      })
    }
    assert.deepStrictEqual(offences, [])
  })

  it("the checker itself catches an offence", () => {
    const sample = codeOf("// Date.now() in a comment is fine\nconst t = Date.now()\nimport * as fs from \"node:fs\"")
    const hits = sample.split("\n").filter((line) => [...forbiddenImports, ...forbiddenCalls].some((p) => p.test(line)))
    assert.deepStrictEqual(hits, ["const t = Date.now()", "import * as fs from \"node:fs\""])
  })
})
