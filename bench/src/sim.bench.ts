/**
 * Simulation speed (SPEC F13): seeds per second for a swarm of 8 workers × 20 iterations with
 * faults on and every invariant checked on every event, plus simulated agent calls per second.
 * Target: ≥ 200 seeds per second on 2 cores (issue 23). Measured as `oompa sim
 * --seeds` runs them: a sweep on one thread per core, thread start-up and warm-up included (the
 * rate after the first quarter of the seeds is printed too), the median of three sweeps; the
 * one-thread figure (in this process, warmed up) is printed next to it as the baseline. Below
 * target, the profile's top entries (one thread) are printed.
 */
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { SimulationSweep } from "@oompa/adapters-node"
import { Simulation } from "@oompa/core/simulation"
import { topEntries } from "./profile.ts"

const targetPerSecond = 200
const seeds = Number(process.env.SIM_BENCH_SEEDS ?? 400)
const threads = availableParallelism()

const { config, tasks } = Simulation.bigSwarm

// The threads run what `oompa sim --seeds` runs in them: the bundled CLI (`npm run bench` builds it
// first). It loads in ~0.35 s where the TypeScript sources take ~0.55 s.
const bundle = new URL("../../packages/cli/dist/oompa.mjs", import.meta.url)
if (!existsSync(bundle)) {
  console.error(`sim.bench: ${fileURLToPath(bundle)} is missing; run \`npm run bench\`, which builds it first`)
  process.exit(2)
}

const inProcess = async (first: number, count: number) => {
  let calls = 0
  const started = performance.now()
  for (let seed = first; seed < first + count; seed++) {
    calls += (await Effect.runPromise(Simulation.simulate({ seed, config, tasks }))).agentCalls
  }
  return { seconds: (performance.now() - started) / 1000, calls }
}

// Each thread compiles for its first ~50 seeds (V8's optimizing tiers: twice the CPU per seed of
// later ones), so the rate after the first quarter of the seeds is printed beside the whole one.
// A shared 2-core machine varies by ±15% from one sweep to the next: three sweeps, the median shown.
const warmSeeds = Math.floor(seeds / 4)
const sweepOnce = async () => {
  let warm: { readonly at: number; readonly passed: number } | undefined
  const started = performance.now()
  const report = await Effect.runPromise(SimulationSweep.sweep({
    first: 1,
    count: seeds,
    threads,
    simulation: { config, tasks },
    workerScript: bundle,
    onProgress: (passed) => {
      if (warm === undefined && passed >= warmSeeds) warm = { at: performance.now(), passed }
    }
  }))
  const ended = performance.now()
  return {
    report,
    seconds: (ended - started) / 1000,
    perSecond: report.seedsRun / ((ended - started) / 1000),
    afterWarmUp: warm === undefined ? undefined : (report.seedsRun - warm.passed) / ((ended - warm.at) / 1000)
  }
}
const sweeps = [await sweepOnce(), await sweepOnce(), await sweepOnce()]
const median = <A>(items: ReadonlyArray<A>, key: (a: A) => number): A => [...items].sort((a, b) => key(a) - key(b))[1]!
const middle = median(sweeps, (s) => s.perSecond)
const sweep = middle.report
const sweepSeconds = middle.seconds
const perSecond = middle.perSecond
const warmRates = sweeps.flatMap((s) => s.afterWarmUp === undefined ? [] : [s.afterWarmUp])
const afterWarmUp = warmRates.length === 3 ? median(warmRates, (r) => r) : undefined
for (const { report } of sweeps) {
  if (report.failure !== undefined) {
    console.log(`seed ${report.failure.seed} FAILED: ${report.failure.failure?.message}; replay: ${Simulation.replayCommand(report.failure.seed)}`)
    process.exitCode = 1
  }
}

await inProcess(10_000, 30) // warm-up
const one = await inProcess(1, 60)
const onePerSecond = 60 / one.seconds

console.log(`simulation, 8 workers x 20 iterations, faults on, invariants every event:`)
console.log(`  ${threads} threads: ${perSecond.toFixed(1)} seeds/s (median of 3 sweeps: ${sweeps.map((s) => s.perSecond.toFixed(1)).join(", ")}; ` +
  `${sweep.seedsRun} seeds in ${sweepSeconds.toFixed(2)} s, start-up included), ${Math.round(sweep.agentCalls / sweepSeconds)} simulated agent calls/s`)
if (afterWarmUp !== undefined) console.log(`  ${threads} threads after the first ${warmSeeds} seeds (warm-up): ${afterWarmUp.toFixed(1)} seeds/s (median)`)
console.log(`  1 thread (baseline, warmed up): ${onePerSecond.toFixed(1)} seeds/s, ${Math.round(one.calls / one.seconds)} simulated agent calls/s; ` +
  `${threads} threads = ${(perSecond / onePerSecond).toFixed(2)}x`)
console.log(`target >= ${targetPerSecond} seeds/s on ${threads} cores: ${perSecond >= targetPerSecond ? "met" : "NOT met"} ` +
  `(ratio ${(perSecond / targetPerSecond).toFixed(2)})`)
if (perSecond < targetPerSecond) {
  console.log("profile (1 thread), top entries by self time:")
  for (const line of await topEntries(() => inProcess(20_000, 20))) console.log(`  ${line}`)
}
