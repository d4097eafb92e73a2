/**
 * Goal: a review prompt never carries an unbounded diff: past the cap it holds whole files from the
 * start, states the size and names every file it leaves out; under the cap the diff is untouched.
 * Method: diffs made of file sections, and a swarm whose proposal is a 600 KB change.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeSwarmConfig } from "../../src/domain/SwarmConfig.ts"
import * as PromptInputs from "../../src/programs/PromptInputs.ts"
import * as Swarm from "../../src/programs/Swarm.ts"
import * as ScriptedAgent from "../../src/testing/ScriptedAgent.ts"
import * as SimulatedTime from "../../src/testing/SimulatedTime.ts"
import * as TestSwarm from "../../src/testing/TestSwarm.ts"
import { task, worker } from "./fixtures.ts"

const section = (path: string, lines: number) =>
  [`diff --git a/${path} b/${path}`, "--- /dev/null", `+++ b/${path}`, `@@ -0,0 +1,${lines} @@`, ...Array.from({ length: lines }, (_, i) => `+line ${i}`), ""].join("\n")

describe("PromptInputs.capDiff", () => {
  it("leaves a diff under the cap as it is", () => {
    const diff = section("a.txt", 3) + section("b.txt", 3)
    assert.deepStrictEqual(PromptInputs.capDiff(diff, 10_000), { text: diff, omitted: [], bytes: diff.length })
  })

  it("past the cap: whole files from the start, the size stated and every other file named", () => {
    const files = ["a.txt", "b.txt", "c.txt", "d.txt"]
    const diff = files.map((f) => section(f, 50)).join("")
    const one = section("a.txt", 50).length
    const capped = PromptInputs.capDiff(diff, one * 2 + 10)
    assert.deepStrictEqual(capped.omitted, ["c.txt", "d.txt"])
    assert.include(capped.text, `[oompa: this diff is ${diff.length} bytes, more than the ${one * 2 + 10} a review prompt carries; the first 2 files are shown below. Not shown: c.txt, d.txt.`)
    assert.include(capped.text, section("a.txt", 50) + section("b.txt", 50))
    assert.notInclude(capped.text, "+++ b/c.txt")
  })

  it("a first file larger than the cap is shown cut short, and named as not shown whole", () => {
    const diff = section("huge.txt", 5_000) + section("small.txt", 1)
    const capped = PromptInputs.capDiff(diff, 1_000)
    assert.deepStrictEqual(capped.omitted, ["huge.txt", "small.txt"])
    assert.include(capped.text, "the start of the first file is shown below. Not shown (or cut short): huge.txt, small.txt.")
    assert.isBelow(capped.text.length, 1_500)
  })
})

describe("a review of a huge change", () => {
  it.effect("the reviewer's prompt stays under the cap, says what it leaves out (a .gitattributes change among it still called out), and the run log warns", () =>
    Effect.gen(function*() {
      const big = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`gen/file-${String(i).padStart(3, "0")}.txt`, `${"x".repeat(2_000)}\n`]))
      // Past the cap, where the reviewer does not see it: still called out above the diff.
      big["zz/.gitattributes"] = "gen/** -diff\n"
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: ScriptedAgent.byCall({ propose: () => ({ answer: "generated", edits: big }), review: ScriptedAgent.approve })
      })
      const report = yield* SimulatedTime.run(Swarm.run(makeSwarmConfig({ workers: [worker("w0")], policy: { max_lines_added: 10_000 } }), { runId: "0000000f" }).pipe(
        Effect.provide(TestSwarm.layer(world))
      ))
      assert.strictEqual(report.merged, 1)
      const prompt = world.agent.callsOf("review")[0]!.request.prompt
      assert.isBelow(prompt.length, PromptInputs.reviewDiffBytesMax + 20_000)
      assert.include(prompt, "a review prompt carries")
      assert.include(prompt, "NOTE FROM OOMPA: this change touches zz/.gitattributes")
      // The first 50 files left out by name, the rest counted.
      assert.match(prompt, /Not shown: gen\/file-\d{3}\.txt, (gen\/file-\d{3}\.txt, ){49}and \d+ more\. Read them in the worktree/)
      assert.notInclude(prompt, "+gen/** -diff", "the .gitattributes change itself is past the cap")
      const warning = world.events.ofTag("Warning").find((w) => w.message.includes("the diff for review"))
      assert.isDefined(warning)
      assert.strictEqual(warning!.worker, "w0")
    }))
})
