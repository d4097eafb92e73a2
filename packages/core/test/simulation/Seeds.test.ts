/**
 * CI's seed sweep (SPEC F13): seeds 1..1000 of swarms drawn from the seed, and seeds 1..200 of the
 * big swarm the bench measures (more of both under `npm run test:long`), faults on, invariants
 * after every event, each seed followed by its liveness phase. Most drawn seeds' tasks depend on
 * each other (issue 18; some with a cycle or an unknown id), so every seed also checks that no task
 * is claimed before its dependencies merged (I9) and that none waits forever (I10). A failure names
 * the seed and the command that replays it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Simulation from "../../src/simulation/Simulation.ts"

const seedsMax = process.env.OOMPA_LONG ? 10_000 : 1000
const chunk = 250

const benchSeedsMax = process.env.OOMPA_LONG ? 2000 : 200

describe("Simulation seeds", () => {
  it(`the big swarm (8 workers, 60 tasks): seeds 1..${benchSeedsMax} hold every invariant and finish`, async () => {
    for (let seed = 1; seed <= benchSeedsMax; seed++) {
      const result = await Effect.runPromise(Simulation.simulate({ seed, ...Simulation.bigSwarm }))
      if (!result.ok) assert.fail(`seed ${seed}: ${result.failure?.message}`)
    }
  }, 1_200_000)

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
