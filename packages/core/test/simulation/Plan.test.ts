/**
 * Goal: a plan's figures are what the calibrated agents imply — with fixed latencies they can be
 * worked out by hand — a deeper merge queue helps when tests are the bottleneck, the best point is
 * the most merges per hour within the budget, and a calibration that cannot draw the swarm's calls
 * is refused before anything runs.
 * Method: hand-written calibrations over the simulator's big swarm; every run is checked by the
 * invariant checker (`failures` is empty).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import type { SwarmConfig } from "../../src/domain/SwarmConfig.ts"
import type * as Calibration from "../../src/simulation/Calibration.ts"
import { bigSwarm, withBuiltInPrompts } from "../../src/simulation/Fixtures.ts"
import * as Plan from "../../src/simulation/Plan.ts"

const flat = (ms: number) => Array.from({ length: 21 }, () => ms)
const none = { count: 0, approved: 0, needsChanges: 0, rejected: 0 }

/** Proposals of 10 s ($0.50), reviews of 2 s ($0.10) that always approve, no overhead, no errors. */
const calibration = (overrides: Partial<Calibration.Calibration> = {}): Calibration.Calibration => ({
  version: 1,
  runs: [],
  agents: [
    { agent: "claude:opus", call: "propose", calls: 10, latencyMs: flat(10_000), errorRate: 0, timeoutRate: 0, costUsd: 0.5 },
    { agent: "claude:opus", call: "review", calls: 10, latencyMs: flat(2_000), errorRate: 0, timeoutRate: 0, costUsd: 0.1 }
  ],
  reviewers: [{ reviewer: "claude:opus", first: { count: 10, approved: 1, needsChanges: 0, rejected: 0 }, afterFix: none, unclearRate: 0 }],
  iterations: { count: 10, noChangeRate: 0, policyRate: 0, overheadMs: flat(0) },
  testGate: { runs: 0, durationMs: [], failureRate: 0 },
  merges: { attempts: 10, conflictRate: 0, landingMs: [] },
  ...overrides
})

const { test_command: _test, ...withoutTests } = withBuiltInPrompts(bigSwarm.config)
const swarm: SwarmConfig = withoutTests

describe("Plan", () => {
  it("with fixed latencies, a worker lands one task per proposal and review: 300 an hour, and N workers N times that", () => {
    const result = Plan.planNow({ config: swarm, calibration: calibration(), workers: [1, 4], speculation: [1], hours: 1, seeds: 2 })
    const [one, four] = result.points
    assert.deepStrictEqual([one!.mergesPerHour, four!.mergesPerHour], [{ mean: 300, low: 300, high: 300 }, { mean: 1200, low: 1200, high: 1200 }])
    assert.closeTo(one!.costPerHour.mean, 300 * 0.6, 1e-6)
    assert.strictEqual(one!.claimToMergeP50Ms.mean, 12_000)
    assert.strictEqual(one!.idleShare.mean, 0)
    assert.deepStrictEqual(result.points.flatMap((p) => p.failures), [])
    assert.deepStrictEqual(result.points.map((p) => p.best), [false, true])
  })

  it("rejections and oompa's own time slow a worker as they should", () => {
    const slower = calibration({
      reviewers: [{ reviewer: "claude:opus", first: { count: 10, approved: 0.5, needsChanges: 0, rejected: 0.5 }, afterFix: none, unclearRate: 0 }],
      iterations: { count: 10, noChangeRate: 0, policyRate: 0, overheadMs: flat(3_000) }
    })
    const [point] = Plan.planNow({ config: swarm, calibration: slower, workers: [1], speculation: [1], hours: 2, seeds: 6 }).points
    // 15 s an iteration, half of them rejected: 120 merges an hour, give or take the draws.
    assert.closeTo(point!.mergesPerHour.mean, 120, 20)
    assert.strictEqual(point!.claimToMergeP50Ms.mean, 15_000)
  })

  it("a landing the queue takes 30 s over caps a one-deep queue at 120 an hour, whatever the workers", () => {
    const slowLandings = calibration({ merges: { attempts: 10, conflictRate: 0, landingMs: flat(30_000) } })
    const [four] = Plan.planNow({ config: swarm, calibration: slowLandings, workers: [4], speculation: [1], hours: 1, seeds: 1 }).points
    assert.isAtMost(four!.mergesPerHour.mean, 121)
    assert.isAbove(four!.mergesPerHour.mean, 100)
  })

  it("when tests are the bottleneck, a deeper merge queue lands more", () => {
    const slowTests = calibration({ testGate: { runs: 10, durationMs: flat(20_000), failureRate: 0 } })
    const config: SwarmConfig = { ...swarm, test_command: "npm test" }
    const [shallow, deep] = Plan.planNow({ config, calibration: slowTests, workers: [8], speculation: [1, 4], hours: 1, seeds: 2 }).points
    // One 20 s test at a time caps a one-deep queue at 180 an hour; four at a time lift the cap.
    assert.isAtMost(shallow!.mergesPerHour.mean, 185)
    assert.isAbove(deep!.mergesPerHour.mean, shallow!.mergesPerHour.mean * 1.5)
    assert.isAbove(shallow!.mergeWaitMs.mean, deep!.mergeWaitMs.mean)
  })

  it("the best point is the most merges per hour within the budget; a point over it is marked", () => {
    const budgeted: SwarmConfig = { ...swarm, budget: { max_cost_usd: 400 } }
    const result = Plan.planNow({ config: budgeted, calibration: calibration(), workers: [1, 2, 4], speculation: [1], hours: 1, seeds: 1 })
    // $180, $360 and $720 an hour: 4 workers are over.
    assert.deepStrictEqual(result.points.map((p) => [p.workers, p.withinBudget, p.best]), [[1, true, false], [2, true, true], [4, false, false]])
  })

  it("the tasks a run needs are paced by the swarm's own agents, not any agent the runs happened to use", () => {
    const withStranger = calibration({
      agents: [...calibration().agents, { agent: "aaa:slow", call: "propose", calls: 1, latencyMs: flat(1_800_000), errorRate: 0, timeoutRate: 0 }]
    })
    assert.strictEqual(Plan.tasksForHorizon(withStranger, swarm, 1), Plan.tasksForHorizon(calibration(), swarm, 1))
    assert.strictEqual(Plan.tasksForHorizon(calibration(), swarm, 1), 40)
  })

  it("oompa's own time never pushes a proposal into its timeout", () => {
    // 100 s proposals and 40 s of own time, against a 120 s proposal timeout: all land.
    const slow = calibration({
      agents: [{ ...calibration().agents[0]!, latencyMs: flat(100_000) }, calibration().agents[1]!],
      iterations: { count: 10, noChangeRate: 0, policyRate: 0, overheadMs: flat(40_000) }
    })
    const config: SwarmConfig = { ...swarm, timeouts: { ...swarm.timeouts, propose: 120 } }
    const [point] = Plan.planNow({ config, calibration: slow, workers: [1], speculation: [1], hours: 1, seeds: 1 }).points
    assert.isAbove(point!.mergesPerHour.mean, 20)
  })

  it("a calibration without reviews cannot plan a reviewed swarm: refused, naming the calls", async () => {
    const noReviews = calibration({ agents: calibration().agents.filter((a) => a.call !== "review") })
    const exit = await Effect.runPromiseExit(Plan.plan({ config: swarm, calibration: noReviews, workers: [1], speculation: [1], hours: 1, seeds: 1 }))
    assert.isTrue(Exit.isFailure(exit))
    assert.include(JSON.stringify(exit), "the calibration has no review calls")
  })
})
