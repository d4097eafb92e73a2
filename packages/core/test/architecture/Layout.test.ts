/**
 * Goal: the code stays readable as a newcomer finds it (the architecture step of issue 16): no
 * source file so long it holds several concepts, no state hidden at module level in the core (a
 * cache there outlives a run and is shared by every run of the process), and each name oompa gives
 * things in a repository defined in one place.
 * Method: read every source file of the three packages, comments blanked out.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { codeOf, packagesDir, sources } from "./sources.ts"

const packages = packagesDir

const all = ["core", "adapters-node", "cli"].flatMap((p) => sources(path.join(packages, p, "src")))
const core = sources(path.join(packages, "core", "src"))
const relative = (file: string) => path.relative(packages, file)

/** Module-level mutable state: a top-level `let`/`var`, or a top-level collection built with `new`. */
const moduleState = /^(?:export\s+)?(?:let|var)\s|^(?:export\s+)?const\s+\w+(?:\s*:[^=]+)?\s*=\s*new\s+(?:Map|WeakMap|Set|WeakSet|Array)\b/

/** Where a pattern occurs in code (not comments), as `file:line`. */
const occurrences = (files: ReadonlyArray<string>, pattern: RegExp) =>
  files.flatMap((file) =>
    codeOf(fs.readFileSync(file, "utf8")).split("\n").flatMap((line, i) => pattern.test(line) ? [`${relative(file)}:${i + 1}`] : [])
  )

describe("source layout", () => {
  it("no source file is over 450 lines", () => {
    const long = all.flatMap((file) => {
      const lines = fs.readFileSync(file, "utf8").split("\n").length
      return lines > 450 ? [`${relative(file)}: ${lines} lines`] : []
    })
    assert.deepStrictEqual(long, [])
  })

  it("the core keeps no state at module level: no top-level let or collection", () => {
    assert.isAbove(core.length, 40)
    assert.deepStrictEqual(occurrences(core, moduleState), [])
  })

  it("the checks find what they look for", () => {
    assert.isTrue(moduleState.test("let lastHeader: Memo | undefined"))
    assert.isTrue(moduleState.test("const scalarCache = new Map<string, string>()"))
    assert.isTrue(moduleState.test("export const cache: Map<string, number> = new Map()"))
    assert.isFalse(moduleState.test("  let local = 0"))
    assert.isFalse(moduleState.test("const limits = { max: 3 }"))
    assert.strictEqual(codeOf("// \".oompa-new-tasks\"\nconst x = 1").includes("oompa-new-tasks"), false)
  })

  it("each name oompa gives things in a repository is spelled out once (RepoLayout), and run ids are matched in one module (Ids)", () => {
    const filesOf = (pattern: RegExp) => [...new Set(occurrences(all, pattern).map((at) => at.replace(/:\d+$/, "")))]
    const once = (pattern: RegExp) => occurrences(all, pattern).length
    assert.deepStrictEqual(filesOf(/["'`/]\.oompa-new-tasks\b/), ["core/src/domain/RepoLayout.ts"])
    assert.strictEqual(once(/["'`/]\.oompa-new-tasks\b/), 1)
    assert.deepStrictEqual(filesOf(/["'`]\.oompa["'`/]/), ["core/src/domain/RepoLayout.ts"])
    assert.deepStrictEqual(filesOf(/["'`]events\.jsonl["'`]/), ["core/src/domain/RepoLayout.ts"])
    assert.deepStrictEqual(filesOf(/\[0-9a-f\]\{8\}/), ["core/src/domain/Ids.ts"])
  })
})
