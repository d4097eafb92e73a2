/**
 * CI's seed sweep (SPEC F13): seeds 1..1000 (more under `npm run test:long`), faults on, invariants
 * after every event, each seed followed by its liveness phase. A failure names the seed and the
 * command that replays it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Simulation from "../../src/testing/Simulation.ts"

const seedsMax = process.env.OOMPA_LONG ? 10_000 : 1000
const chunk = 250

describe("Simulation seeds", () => {
  for (let first = 1; first <= seedsMax; first += chunk) {
    const last = Math.min(seedsMax, first + chunk - 1)
    it(`seeds ${first}..${last} hold every invariant and finish`, async () => {
      for (let seed = first; seed <= last; seed++) {
        const result = await Effect.runPromise(Simulation.simulate({ seed }))
        if (!result.ok) assert.fail(`seed ${seed}: ${result.failure?.message}\nreplay: ${Simulation.replayCommand(seed)}`)
      }
    }, 600_000)
  }
})
