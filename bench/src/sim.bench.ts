/**
 * Simulation speed (SPEC F13): seeds per second for a swarm of 8 workers × 20 iterations with
 * faults on and every invariant checked on every event, plus simulated agent calls per second.
 * Target: ≥ 50 seeds per second on 2 cores (the long-run goal is 200). Below target, the profile's
 * top entries are printed.
 */
import { Effect } from "effect"
import { SwarmConfig } from "@oompa/core"
import { Simulation } from "@oompa/core/testing"
import { topEntries } from "./profile.ts"

const targetPerSecond = 50
const seeds = Number(process.env.SIM_BENCH_SEEDS ?? 60)

const config = SwarmConfig.makeSwarmConfig({
  workers: Array.from({ length: 8 }, (_, i): SwarmConfig.WorkerConfig => ({
    id: `w${i}` as SwarmConfig.WorkerConfig["id"],
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
const tasks = Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, summary: `task ${i}` }) as never)

const sweep = async (first: number, count: number) => {
  let calls = 0
  let failures = 0
  const started = performance.now()
  for (let seed = first; seed < first + count; seed++) {
    const result = await Effect.runPromise(Simulation.simulate({ seed, config, tasks }))
    calls += result.agentCalls
    if (!result.ok) failures++
  }
  return { seconds: (performance.now() - started) / 1000, calls, failures }
}

await sweep(10_000, 5) // warm-up
const run = await sweep(1, seeds)
const perSecond = seeds / run.seconds
console.log(`simulation, 8 workers x 20 iterations, faults on, invariants every event: ${perSecond.toFixed(1)} seeds/s ` +
  `(${seeds} seeds in ${run.seconds.toFixed(2)} s), ${Math.round(run.calls / run.seconds)} simulated agent calls/s, ${run.failures} failing seeds`)
console.log(`target >= ${targetPerSecond} seeds/s: ${perSecond >= targetPerSecond ? "met" : "NOT met"} (ratio ${(perSecond / targetPerSecond).toFixed(2)}; long-run goal 200)`)
if (perSecond < targetPerSecond) {
  console.log("profile, top entries by self time:")
  for (const line of await topEntries(() => sweep(20_000, 10))) console.log(`  ${line}`)
}
