/**
 * Goal: a calibration says what the run logs measured — per agent and call kind, latency quantiles
 * (timeouts apart), error and timeout rates, mean tokens and cost; per reviewer, verdict shares on
 * the first look and after a fix; the test gate's durations and failures; the merge queue's
 * conflicts; per run, claim-to-landing times — and a calibration file is checked when decoded.
 * Method: hand-written logs with known answers; fast-check for the quantiles.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as fc from "fast-check"
import type { Event } from "../../src/domain/Event.ts"
import * as Calibration from "../../src/simulation/Calibration.ts"

const call = (at: number, worker: string, iteration: number, kind: "propose" | "review" | "fix", durationMs: number, extra: Partial<Extract<Event, { _tag: "AgentFinished" }>> = {}): Event => ({
  _tag: "AgentFinished", at, worker, iteration, call: kind, agent: kind === "review" ? "claude:opus" : "codex:gpt-5", exitCode: 0, durationMs, timedOut: false, ...extra
})

const verdict = (at: number, worker: string, iteration: number, attempt: number, v: "approved" | "needs-changes" | "rejected", clear = true): Event => ({
  _tag: "VerdictGiven", at, worker, iteration, attempt, verdict: v, clear, feedback: "", reviewer: "claude:opus"
})

const merge = (at: number, worker: string, iteration: number, outcome: "merged" | "conflict"): Event => ({
  _tag: "MergeResult", at, worker, iteration, outcome, branch: `b-${worker}-${iteration}`, files: []
})

const finished = (at: number, worker: string, iteration: number, outcome: "merged" | "no-changes" | "rejected" | "conflict"): Event => ({
  _tag: "IterationFinished", at, worker, iteration, outcome, reviews: 1, timings: { setup: 0, agent: 0, review: 0, fix: 0, git: 0, test: 0, mergeWait: 0 }
})

const log: ReadonlyArray<Event> = [
  { _tag: "SwarmStarted", at: 0, runId: "aaaaaaaa", branch: "main", base: "", workers: [{ id: "w0", role: "executor", agent: "codex:gpt-5", iterations: 5 }, { id: "w1", role: "executor", agent: "codex:gpt-5", iterations: 5 }], review: true, dryRun: false },
  // w0 #1: proposed (10 s, 1000/200 tokens, $0.02), changes asked, fixed, approved, tested, merged 60 s after its claim.
  { _tag: "TaskClaimed", at: 100, worker: "w0", iteration: 1, task: "t1" },
  call(10_100, "w0", 1, "propose", 10_000, { tokens: { input: 1000, output: 200 }, costUsd: 0.02 }),
  call(12_100, "w0", 1, "review", 2_000),
  verdict(12_100, "w0", 1, 1, "needs-changes"),
  call(32_100, "w0", 1, "fix", 20_000),
  call(36_100, "w0", 1, "review", 4_000),
  verdict(36_100, "w0", 1, 2, "approved"),
  { _tag: "MergeQueued", at: 40_100, worker: "w0", iteration: 1, position: 1 },
  { _tag: "TestResult", at: 50_100, worker: "w0", iteration: 1, sha: "s1", passed: true, durationMs: 14_000, output: "" },
  merge(60_100, "w0", 1, "merged"),
  // Delivered twice: its landing is counted once.
  merge(60_200, "w0", 1, "merged"),
  finished(60_100, "w0", 1, "merged"),
  // w1 #1: the proposal timed out; no change.
  { _tag: "TaskClaimed", at: 200, worker: "w1", iteration: 1, task: "t2" },
  call(300_200, "w1", 1, "propose", 300_000, { timedOut: true, exitCode: 1 }),
  finished(300_200, "w1", 1, "no-changes"),
  // w0 #2: proposed (30 s, failed with exit 1 then... counted as an error), rejected unclearly.
  { _tag: "TaskClaimed", at: 60_200, worker: "w0", iteration: 2, task: "t3" },
  call(90_200, "w0", 2, "propose", 30_000, { exitCode: 2, tokens: { input: 3000, output: 600 } }),
  call(96_200, "w0", 2, "review", 6_000),
  verdict(96_200, "w0", 2, 1, "rejected", false),
  finished(96_200, "w0", 2, "rejected"),
  // w1 #2: approved, failed its test, then conflicted.
  { _tag: "TaskClaimed", at: 300_300, worker: "w1", iteration: 2, task: "t2" },
  call(310_300, "w1", 2, "propose", 10_000),
  call(318_300, "w1", 2, "review", 8_000),
  verdict(318_300, "w1", 2, 1, "approved"),
  { _tag: "MergeQueued", at: 319_300, worker: "w1", iteration: 2, position: 1 },
  { _tag: "TestResult", at: 324_300, worker: "w1", iteration: 2, sha: "s2", passed: false, durationMs: 6_000, output: "" },
  merge(330_000, "w1", 2, "conflict"),
  finished(330_000, "w1", 2, "conflict"),
  { _tag: "SwarmFinished", at: 331_000, outcome: "ok", durationMs: 331_000, merged: 1, rejected: 1, failed: 0 }
]

describe("Calibration.fit", () => {
  const fitted = Calibration.fit([{ runId: "aaaaaaaa", events: log }])
  const agent = (name: string, kind: string) => fitted.agents.find((a) => a.agent === name && a.call === kind)!

  it("per agent and call kind: latency of the calls that did not time out, error and timeout rates, mean tokens and cost", () => {
    const propose = agent("codex:gpt-5", "propose")
    assert.strictEqual(propose.calls, 4)
    assert.deepStrictEqual([propose.latencyMs[0], Calibration.median(propose.latencyMs), propose.latencyMs[20]], [10_000, 10_000, 30_000])
    assert.strictEqual(propose.timeoutRate, 0.25)
    // Of the three that did not time out, one erred.
    assert.strictEqual(propose.errorRate, 1 / 3)
    assert.deepStrictEqual(propose.tokens, { input: 2000, output: 400 })
    assert.strictEqual(propose.costUsd, 0.02)
    const review = agent("claude:opus", "review")
    assert.strictEqual(review.calls, 4)
    assert.strictEqual(Calibration.median(review.latencyMs), 5_000)
    assert.isUndefined(review.tokens)
    assert.deepStrictEqual(fitted.agents.map((a) => `${a.agent} ${a.call}`), ["claude:opus review", "codex:gpt-5 fix", "codex:gpt-5 propose"])
  })

  it("per reviewer: verdict shares on the first look and after a fix, and how many were unclear", () => {
    assert.deepStrictEqual(fitted.reviewers, [{
      reviewer: "claude:opus",
      first: { count: 3, approved: 1 / 3, needsChanges: 1 / 3, rejected: 1 / 3 },
      afterFix: { count: 1, approved: 1, needsChanges: 0, rejected: 0 },
      unclearRate: 0.25
    }])
  })

  it("the iterations, the test gate and the merge queue; each run's landings and claim-to-landing time", () => {
    // Rates over the two proposals that went through (the timed-out one changed nothing, but that is its timeout's).
    const { overheadMs, ...rest } = fitted.iterations
    assert.deepStrictEqual(rest, { count: 4, noChangeRate: 0, policyRate: 0 })
    // oompa's own time: claim to submission (or end), less the calls meanwhile (w0 #1: 40 s − 36 s; w1 #2: 19 s − 18 s; the others none).
    assert.deepStrictEqual([overheadMs[0], Calibration.median(overheadMs), overheadMs[20]], [0, 500, 4_000])
    assert.strictEqual(fitted.testGate.runs, 2)
    assert.strictEqual(fitted.testGate.failureRate, 0.5)
    assert.deepStrictEqual([fitted.testGate.durationMs[0], fitted.testGate.durationMs[20]], [6_000, 14_000])
    // The landing delivered twice is one merge.
    // The queue's own time for the landing: submitted at 40.1 s, landed at 60.1 s, 14 s of it its test.
    assert.deepStrictEqual(fitted.merges, { attempts: 2, conflictRate: 0.5, landingMs: Array.from({ length: 21 }, () => 6_000) })
    const [run] = fitted.runs
    assert.deepStrictEqual({ ...run!, claimToMergeMs: Calibration.median(run!.claimToMergeMs) }, {
      runId: "aaaaaaaa", workers: 2, durationMs: 331_000, iterations: 4, merged: 1, claimToMergeMs: 60_000
    })
  })

  it("no runs: nothing measured, every rate 0", () => {
    const empty = Calibration.fit([])
    assert.deepStrictEqual([empty.agents, empty.runs, empty.testGate.durationMs, empty.merges.conflictRate], [[], [], [], 0])
  })

  it("what fit writes decodes as a calibration file", () => {
    const encoded = JSON.parse(JSON.stringify(Schema.encodeSync(Calibration.Calibration)(fitted)))
    assert.deepStrictEqual(Schema.decodeUnknownSync(Calibration.Calibration)(encoded), fitted)
  })

  it("a damaged file is refused, naming what is wrong", () => {
    const decode = (value: unknown) => Schema.decodeUnknownResult(Calibration.Calibration)(value)
    const encoded = JSON.parse(JSON.stringify(fitted))
    const failure = (value: unknown) => {
      const result = decode(value)
      assert.isTrue(Result.isFailure(result))
      return Result.isFailure(result) ? String(result.failure) : ""
    }
    assert.include(failure({ ...encoded, testGate: { ...encoded.testGate, failureRate: 2 } }), "failureRate")
    const reversed = [...encoded.agents[0].latencyMs].reverse()
    reversed[0] = reversed[0] + 1
    assert.include(failure({ ...encoded, agents: [{ ...encoded.agents[0], latencyMs: reversed }] }), "must not decrease")
    assert.include(failure({ ...encoded, agents: [{ ...encoded.agents[0], latencyMs: [1, 2, 3] }] }), "expected 21 quantiles")
    assert.include(failure({ ...encoded, version: 2 }), "version")
    // Values no run gives, which would overflow a plan's sums: refused.
    assert.include(failure({ ...encoded, agents: [{ ...encoded.agents[0], costUsd: 1e308 }] }), "dollars between 0 and 10000")
  })
})

describe("Calibration quantiles", () => {
  it("interpolate between observations, and sampling them inverts them", () => {
    const q = Calibration.quantilesOf(Array.from({ length: 101 }, (_, i) => i * 10))
    assert.deepStrictEqual(q, Array.from({ length: 21 }, (_, i) => i * 50))
    assert.strictEqual(Calibration.sample(q, 0.5), 500)
    assert.closeTo(Calibration.sample(q, 0.525), 525, 1e-9)
    assert.strictEqual(Calibration.sample([], 0.5), 0)
  })

  it("sampled values stay within what was seen and grow with u (property)", () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0, max: 1e7, noNaN: true }), { minLength: 1, maxLength: 200 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (values, u, v) => {
        const q = Calibration.quantilesOf(values)
        const [low, high] = [Math.min(...values), Math.max(...values)]
        const a = Calibration.sample(q, Math.min(u, v))
        const b = Calibration.sample(q, Math.max(u, v))
        return q.length === 21 && a >= low && b <= high && a <= b && Result.isSuccess(Schema.decodeUnknownResult(Calibration.Quantiles)(q))
      }
    ))
  })
})
