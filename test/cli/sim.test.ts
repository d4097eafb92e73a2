/**
 * `oompa sim` end to end (SPEC F13, issue 7): one seed as a JSON summary alone on stdout, the same
 * trace as the library gives in this process; a sweep over threads with a progress line and the
 * passed range; the user's own swarm; Ctrl-C during a sweep; bad flags exit 2 naming the flag.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Simulation } from "@oompa/core/simulation"
import { cleanupAll, oompa, oompaAsync, scratchRepo, waitFor } from "./helpers.ts"

afterAll(cleanupAll)

describe("oompa sim", () => {
  it("--seed S --json prints one summary object, with the trace the library gives for that seed", async () => {
    const scratch = scratchRepo()
    const run = oompa(scratch, ["sim", "--seed", "42", "--json"])
    assert.strictEqual(run.status, 0, run.stderr)
    const summary = JSON.parse(run.stdout) as Record<string, unknown>
    const local = await Effect.runPromise(Simulation.simulate({ seed: 42 }))
    assert.deepInclude(summary, { seed: 42, ok: true, steps: local.steps, iterations: local.iterations, merged: local.merged, traceHash: local.traceHash })
  })

  it("--seeds N --threads 2 runs every seed on two threads and says so", () => {
    const scratch = scratchRepo()
    const run = oompa(scratch, ["sim", "--seeds", "120", "--threads", "2"], { timeoutMs: 120_000 })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.match(run.stderr, /seeds \d+\/120 passed \([\d.]+\/s\)/, "progress goes to stderr")
    assert.notMatch(run.stdout, /seeds \d+\/120 passed/)
    assert.match(run.stdout, /PASSED seeds 1\.\.120 \(2 threads, [\d.]+ seeds\/s\)/)
  })

  it("--config simulates the user's own swarm", () => {
    const scratch = scratchRepo()
    const config = {
      workers: [{ model: "claude:opus", count: 3, iterations: 4, role: "executor" }],
      reviewer: { model: "codex:gpt-5" },
      test_command: "npm test"
    }
    fs.writeFileSync(path.join(scratch.repo, "oompa.json"), JSON.stringify(config))
    const run = oompa(scratch, ["sim", "--seeds", "30", "--config", "oompa.json"], { timeoutMs: 120_000 })
    assert.strictEqual(run.status, 0, run.stderr)
    assert.match(run.stdout, /PASSED seeds 1\.\.30/)
  })

  for (const threads of ["1", "2"]) {
    it(`Ctrl-C stops a long sweep on ${threads} thread${threads === "1" ? "" : "s"} at once: exit 130`, async () => {
      const job = oompaAsync(scratchRepo(), ["sim", "--seeds", "1000000", "--threads", threads])
      let progress = ""
      job.child.stderr!.on("data", (chunk: string) => (progress += chunk))
      await waitFor("the first progress line", () => /seeds \d+\/1000000 passed/.test(progress), 60_000)
      const signalled = Date.now()
      job.child.kill("SIGINT")
      const result = await job.exited
      assert.strictEqual(result.status, 130, result.stdout + result.stderr)
      assert.include(result.stderr, "interrupted")
      assert.isBelow(Date.now() - signalled, 10_000)
    }, 90_000)
  }

  it("--variant runs a deliberately broken orchestrator: the sweep stops at the seed that breaks I1, and its replay command (which names the variant) fails the same way", () => {
    const scratch = scratchRepo()
    const sweep = oompa(scratch, ["sim", "--seeds", "500", "--variant", "reviewer-bypass", "--threads", "2"], { timeoutMs: 120_000 })
    assert.strictEqual(sweep.status, 129, sweep.stdout + sweep.stderr)
    const failed = /FAILED seed (\d+): (I1: .*)/.exec(sweep.stdout)
    assert.isNotNull(failed, sweep.stdout)
    assert.include(sweep.stdout, "reviewer-bypass: whatever the reviewer says")
    const replay = /you can reproduce this failure with: oompa (.*)/.exec(sweep.stdout)?.[1]
    assert.strictEqual(replay, `sim --seed ${failed![1]} --variant reviewer-bypass`)
    const again = oompa(scratch, replay!.split(" "))
    assert.strictEqual(again.status, 129, again.stdout + again.stderr)
    assert.include(again.stdout, `FAILED seed ${failed![1]}: ${failed![2]}`)
  }, 150_000)

  it("--variant with an unknown name: exit 2, naming the flag and listing the variants", () => {
    const run = oompa(scratchRepo(), ["sim", "--seeds", "10", "--variant", "reviewer-bypas"])
    assert.strictEqual(run.status, 2, run.stdout + run.stderr)
    assert.include(run.stderr, "--variant")
    for (const name of Object.keys(Simulation.variants)) assert.include(run.stderr, name)
  })

  for (const [args, says] of [
    [["sim", "--seeds", "10", "--threads", "0"], "--threads"],
    [["sim", "--seed", "3", "--threads", "2"], "--threads"],
    [["sim", "--seeds", "0"], "--seeds"],
    [["sim"], "--seed"]
  ] as const) {
    it(`${args.join(" ")}: exit 2 naming ${says}`, () => {
      const run = oompa(scratchRepo(), args)
      assert.strictEqual(run.status, 2, run.stdout + run.stderr)
      assert.include(run.stderr, says)
      assert.isAtMost(run.stderr.trim().split("\n").length, 2)
    })
  }
})
