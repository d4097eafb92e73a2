/**
 * CI's seed sweep (SPEC F13): seeds 1..1000 of swarms drawn from the seed, and seeds 1..200 of the
 * bench's big swarm (more of both under `npm run test:long`), faults on, invariants after every
 * event, each seed followed by its liveness phase. A failure names the seed and the command that
 * replays it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeSwarmConfig, type WorkerConfig } from "../../src/domain/SwarmConfig.ts"
import type { Task } from "../../src/domain/Task.ts"
import * as Simulation from "../../src/testing/Simulation.ts"

const seedsMax = process.env.OOMPA_LONG ? 10_000 : 1000
const chunk = 250

/** The bench's swarm (bench/src/sim.bench.ts): 8 workers × 20 iterations, 60 tasks, a test gate. */
const benchSwarm = makeSwarmConfig({
  workers: Array.from({ length: 8 }, (_, i): WorkerConfig => ({
    id: `w${i}` as WorkerConfig["id"],
    agent: { harness: i % 2 === 0 ? "claude" : "codex" },
    role: i === 0 ? "worker" : "executor",
    iterations: 20,
    prompt: [],
    wait_between: 0,
    budget: {}
  })),
  reviewers: [{ agent: { harness: "codex" } }],
  test_command: "npm test",
  merge: { strategy: "no-ff", on_conflict: "agent" },
  timeouts: { propose: 120, review: 120, test: 120, setup: 60 }
})
const benchTasks = Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, summary: `task ${i}` }) as Task)
const benchSeedsMax = process.env.OOMPA_LONG ? 2000 : 200

describe("Simulation seeds", () => {
  it(`the bench's 8-worker, 60-task swarm: seeds 1..${benchSeedsMax} hold every invariant and finish`, async () => {
    for (let seed = 1; seed <= benchSeedsMax; seed++) {
      const result = await Effect.runPromise(Simulation.simulate({ seed, config: benchSwarm, tasks: benchTasks }))
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
