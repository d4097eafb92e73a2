/**
 * Goal: `oompa view --html` writes its page whole, in place of what the target was, and never
 * through a link an agent planted in the runs folder: a symlink at the target is replaced, not
 * followed, and nothing but the page is left behind.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { RunReport } from "@oompa/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { writeReport } from "../src/report/writeReport.ts"

const report = RunReport.make("1a2b3c4d", [
  { _tag: "SwarmStarted", at: 1_000, runId: "1a2b3c4d", branch: "main", base: "", review: true, dryRun: false, workers: [] },
  { _tag: "SwarmFinished", at: 2_000, outcome: "ok", durationMs: 1_000, merged: 0, rejected: 0, failed: 0 }
])

describe("writeReport", () => {
  it.effect("replaces a symlink at the target instead of writing through it, and leaves only the page", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-write-report-"))
      const victim = path.join(dir, "victim.txt")
      fs.writeFileSync(victim, "precious\n")
      const runs = path.join(dir, "runs")
      fs.mkdirSync(runs)
      const target = path.join(runs, "report.html")
      fs.symlinkSync(victim, target)
      const written = yield* writeReport(target, report, report.summary)
      assert.strictEqual(written, target)
      assert.strictEqual(fs.readFileSync(victim, "utf8"), "precious\n")
      assert.isFalse(fs.lstatSync(target).isSymbolicLink())
      assert.include(fs.readFileSync(target, "utf8"), "oompa run <code>1a2b3c4d</code>")
      assert.deepStrictEqual(fs.readdirSync(runs), ["report.html"])
      fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(NodeServices.layer)))

  it.effect("a folder or a missing folder is refused, naming the file", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-write-report-"))
      const asFolder = yield* Effect.flip(writeReport(dir, report, report.summary))
      assert.include(asFolder.message, `cannot write ${dir}: it is a directory`)
      const missing = yield* Effect.flip(writeReport(path.join(dir, "no/such/report.html"), report, report.summary))
      assert.include(missing.message, `no folder ${path.join(dir, "no/such")}`)
      fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(NodeServices.layer)))
})
