/**
 * Simulation (SPEC F13): a seed replays exactly, different seeds explore different runs (their tasks
 * depending on each other in most), and each deliberately broken orchestrator is caught by the
 * invariant it breaks within 500 seeds — a claim that ignores dependencies by I9, blocked tasks
 * never moved on by I10 (liveness).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import * as Task from "../../src/domain/Task.ts"
import * as Parameters from "../../src/simulation/Parameters.ts"
import * as Simulation from "../../src/simulation/Simulation.ts"

const simulate = (seed: number, variant?: Simulation.Variant) =>
  Effect.runPromise(Simulation.simulate({ seed, ...(variant === undefined ? {} : { variant }) }))

describe("Simulation", () => {
  it("the same seed gives the same trace twice in one process", async () => {
    for (const seed of [1, 7, 42]) {
      const [a, b] = [await simulate(seed), await simulate(seed)]
      assert.strictEqual(a.traceHash, b.traceHash)
      assert.deepStrictEqual({ ...a }, { ...b })
    }
  })

  it("the same seed gives the same trace in another process", async () => {
    const local = await simulate(42)
    const script = [
      `import { Effect } from "effect"`,
      `import { Simulation } from ${JSON.stringify(path.resolve(import.meta.dirname, "../../src/simulation/index.ts"))}`,
      `const r = await Effect.runPromise(Simulation.simulate({ seed: 42 }))`,
      `console.log(r.traceHash)`
    ].join("\n")
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      encoding: "utf8"
    })
    assert.strictEqual(out.trim(), local.traceHash)
  })

  it("different seeds give different traces, and the runs do real work", async () => {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => simulate(100 + i)))
    assert.strictEqual(new Set(results.map((r) => r.traceHash)).size, 30)
    assert.isTrue(results.every((r) => r.ok), results.filter((r) => !r.ok).map((r) => `${r.seed}: ${r.failure?.message}`).join("\n"))
    assert.isAbove(results.reduce((s, r) => s + r.merged, 0), 60)
    assert.isTrue(results.some((r) => r.parameters.crashAtEvent !== undefined))
    assert.isTrue(results.some((r) => r.parameters.dependencies.rate > 0))
  })

  it("drawn tasks depend on each other: a dependency ranked before, under either key, a cycle and an unknown id when drawn", () => {
    let cycles = 0
    let unknown = 0
    let keys = new Set<string>()
    for (let seed = 1; seed <= 200; seed++) {
      const parameters = Simulation.drawParameters(seed)
      const tasks = Parameters.tasks(parameters)
      const edges = tasks.flatMap((t) => Task.dependenciesOf(t).map((d) => [t.id, d] as const))
      if (parameters.dependencies.rate === 0 && !parameters.dependencies.cycle && !parameters.dependencies.unknown) assert.deepStrictEqual(edges, [], `seed ${seed}`)
      keys = new Set([...keys, ...tasks.flatMap((t) => Object.keys(t).filter((k) => k === "depends_on" || k === "blocked_by"))])
      if (edges.some(([, to]) => to === Parameters.unknownDependency)) unknown++
      if (edges.some(([from, to]) => edges.some(([a, b]) => a === to && b === from) || from === to)) cycles++
    }
    assert.deepStrictEqual([...keys].sort(), ["blocked_by", "depends_on"])
    assert.isAbove(cycles, 10)
    assert.isAbove(unknown, 10)
  })

  const brokenVariants: ReadonlyArray<readonly [Simulation.Variant, string, kind?: "liveness"]> = [
    ["merge-skips-queue", "I1"],
    ["reviewer-bypass", "I1"],
    ["non-atomic-claim", "I3"],
    ["crash-loses-claim", "I3"],
    ["merge-ignores-failing-test", "I1"],
    ["recovery-drops-unreviewed-tip", "I2"],
    ["lands-agent-history", "I1"],
    ["swap-without-old-value", "I4"],
    ["claim-ignores-dependencies", "I9"],
    ["blocked-never-settled", "I10", "liveness"],
    ["lands-past-ejected-candidate", "I1"],
    ["reuses-stale-test", "I1"],
    ["lands-redelivery-twice", "I8"],
    ["push-without-lease", "I4"],
    ["lands-twice-after-failover", "I8"]
  ]
  for (const [variant, invariant, kind] of brokenVariants) {
    it(`finds a seed that breaks ${invariant} when ${variant}, within 500 seeds`, async () => {
      for (let seed = 1; seed <= 500; seed++) {
        const result = await simulate(seed, variant)
        if (result.ok) continue
        assert.strictEqual(result.failure?.kind, kind ?? "invariant", result.failure?.message)
        assert.strictEqual(result.failure?.invariant, invariant, result.failure?.message)
        const replay = await simulate(seed, variant)
        assert.strictEqual(replay.traceHash, result.traceHash, "the failing seed replays exactly")
        return
      }
      assert.fail(`no seed in 1..500 broke ${invariant} with ${variant}`)
    })
  }
})
