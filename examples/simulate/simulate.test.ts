/**
 * A host's own test of its own swarm: before spending a token, simulate the oompa.json the team
 * will run — its workers, reviewers, merge strategy, policy, gates and limits — over many seeds,
 * with faults (agents that crash, hang, answer garbage, conflict, write denied paths; tests that
 * fail; oompa itself killed mid-run and recovered), and let oompa's invariant checker prove that no
 * approved work is lost, main only moves to reviewed, allowed and tested commits, one merge at a
 * time, and every task ends.
 *
 * `Simulation.simulate` is deterministic: a failing seed replays exactly (`oompa sim --seed N
 * oompa.json`). Run this file with `npx vitest run examples/simulate`.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile } from "@oompa/core"
import { Simulation } from "@oompa/core/simulation"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const configFile = path.join(import.meta.dirname, "oompa.json")
const config = Simulation.withBuiltInPrompts(Effect.runSync(ConfigFile.decodeConfigFile(fs.readFileSync(configFile, "utf8"), configFile)))

describe("our oompa.json, simulated", () => {
  it.effect("keeps every invariant over 40 seeds with faults, and still merges work", () =>
    Effect.gen(function*() {
      let merged = 0
      for (let seed = 1; seed <= 40; seed++) {
        const result = yield* Simulation.simulate({ seed, config })
        // A failure names the broken invariant and the command that replays it.
        expect(result.ok, `${result.failure?.message}\nreplay: ${Simulation.replayCommand(seed, { configFile })}`).toBe(true)
        merged += result.merged
      }
      expect(merged).toBeGreaterThan(0)
    }), 120_000)

  it.effect("the checker is watching: a merge queue that ignores a failing test gate is caught", () =>
    Effect.gen(function*() {
      const results = []
      for (let seed = 1; seed <= 40; seed++) {
        const result = yield* Simulation.simulate({ seed, config, variant: "merge-ignores-failing-test" })
        results.push(result)
        if (!result.ok) break
      }
      expect(results.some((r) => !r.ok && r.failure?.kind === "invariant")).toBe(true)
    }), 120_000)
})
