/**
 * Goal: the simulator's crash fault runs the recovery that runs on disk (`oompa cleanup`, every
 * run's start), so a seed that passes proves the program users run — not a copy of it.
 * Method: read the sources: the simulator and the disk layer each call core's `Recovery.run`, and
 * no other module reads a run log for approved work or lists run branches to delete.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { packagesDir, sources } from "./sources.ts"

const packages = packagesDir

const all = ["core", "adapters-node", "cli"].flatMap((p) => sources(path.join(packages, p, "src")))
const text = (file: string) => fs.readFileSync(file, "utf8")
const where = (pattern: RegExp) => all.filter((file) => pattern.test(text(file))).map((file) => path.relative(packages, file)).sort()

describe("one recovery", () => {
  it("the simulator's crash recovery calls core's Recovery.run", () => {
    const [simulator] = where(/export const simulate\b/)
    assert.isDefined(simulator)
    const code = text(path.join(packages, simulator!))
    assert.match(code, /import \* as Recovery from "\.\.\/programs\/Recovery\.ts"/)
    assert.match(code, /Recovery\.run\(/)
  })

  it("the disk's recovery (cleanup, a run's start) calls the same program", () => {
    const code = text(path.join(packages, "adapters-node/src/DiskRecovery.ts"))
    assert.match(code, /import \{[^}]*\bRecovery\b[^}]*\} from "@oompa\/core"/)
    assert.match(code, /Recovery\.run\(/)
  })

  it("approved work is read from a run log in one place, and run branches are deleted by recovery alone", () => {
    assert.deepStrictEqual(where(/const approvedWork\b|function approvedWork\b/), ["core/src/programs/Recovery.ts"])
    assert.deepStrictEqual(where(/deleteBranch\(branch\.name\)/), ["core/src/programs/Recovery.ts"])
  })
})
