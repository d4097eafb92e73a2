/**
 * Orchestration overhead: a swarm of 8 workers × 100 iterations over the in-memory layers (no real
 * agents, git or disk), so what is measured is oompa's own work per iteration — claims, prompts,
 * commits, diffs, policy, verdicts, merges. Target: ≥ 5,000 iterations per second on a 2-core
 * machine. Prints the figure; below target, also the profile's top entries.
 */
import { Effect } from "effect"
import { Swarm, SwarmConfig } from "@oompa/core"
import { ScriptedAgent, TestSwarm } from "@oompa/core/testing"
import { topEntries } from "./profile.ts"

const workersCount = 8
const iterationsPerWorker = 100
const targetPerSecond = 5000

const workers: Array<SwarmConfig.WorkerConfig> = Array.from({ length: workersCount }, (_, i) => ({
  id: `w${i}` as SwarmConfig.WorkerConfig["id"],
  agent: { harness: "codex", model: "bench" },
  role: "worker",
  iterations: iterationsPerWorker,
  prompt: [],
  wait_between: 0,
  budget: {}
}))
const config = SwarmConfig.makeSwarmConfig({ workers, max_wait_for_tasks: 0 })

/**
 * Each proposal adds one file of its own; the reviewer approves; every iteration merges. The edits
 * are a Map: an object with a new key per call would be a new object shape per call.
 */
const script = ScriptedAgent.byCall({
  propose: (r) => ({ answer: "done", edits: new Map([[`src/${r.worker}/${r.iteration}.ts`, `export const v = ${r.iteration}\n`]]) }),
  review: ScriptedAgent.approve
})

const once = async () => {
  const world = TestSwarm.makeWorld({ files: { "README.md": "# bench\n" }, script })
  const started = performance.now()
  const report = await Effect.runPromise(Swarm.run(config, { runId: "0000bea5" }).pipe(Effect.provide(TestSwarm.layer(world))))
  const seconds = (performance.now() - started) / 1000
  const iterations = report.workers.reduce((sum, w) => sum + w.iterations.length, 0)
  if (report.merged !== workersCount * iterationsPerWorker) throw new Error(`expected every iteration to merge, got ${report.merged}`)
  return { iterations, seconds }
}

// Warm-up: JIT compilation and module loading are not orchestration overhead (V8's optimizing
// tiers are still at work through the second run).
for (let i = 0; i < 3; i++) await once()
const runs = [await once(), await once(), await once()]
const best = runs.reduce((a, b) => (a.iterations / a.seconds >= b.iterations / b.seconds ? a : b))
const perSecond = best.iterations / best.seconds
console.log(`swarm ${workersCount} workers x ${iterationsPerWorker} iterations (in-memory): ${Math.round(perSecond)} iterations/s ` +
  `(best of ${runs.length}: ${best.seconds.toFixed(2)} s; runs ${runs.map((r) => Math.round(r.iterations / r.seconds)).join(", ")}/s)`)
console.log(`target >= ${targetPerSecond}/s: ${perSecond >= targetPerSecond ? "met" : "NOT met"} (ratio ${(perSecond / targetPerSecond).toFixed(2)})`)
if (perSecond < targetPerSecond) {
  console.log("profile, top entries by self time:")
  for (const line of await topEntries(once)) console.log(`  ${line}`)
}
