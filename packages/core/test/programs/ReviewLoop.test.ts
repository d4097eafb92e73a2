/**
 * ReviewLoop: the state machine alone. Goal: whatever the reviewer, the policy gate and the merge
 * queue answer, the loop ends within its bound and never reviews more than `max_review_attempts`
 * times. Method: fast-check drives the machine with arbitrary answers to each step it asks for.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ReviewLoop from "../../src/programs/ReviewLoop.ts"
import type { Verdict } from "../../src/domain/Verdict.ts"

const verdict: fc.Arbitrary<Verdict> = fc.oneof(
  fc.constant<Verdict>({ _tag: "Approved" }),
  fc.string().map((feedback): Verdict => ({ _tag: "NeedsChanges", feedback, clear: true })),
  fc.constant<Verdict>({ _tag: "NeedsChanges", feedback: "unclear", clear: false }),
  fc.string().map((reason): Verdict => ({ _tag: "Rejected", reason }))
)

/** What the world answers to one step: a choice per step kind, drawn up front. */
const answers = fc.record({
  policy: fc.array(fc.array(fc.string(), { maxLength: 2 }), { minLength: 1, maxLength: 30 }),
  verdicts: fc.array(verdict, { minLength: 1, maxLength: 30 }),
  commits: fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
  merges: fc.array(fc.constantFrom("merged", "test-failed", "policy-failed", "conflict"), { minLength: 1, maxLength: 30 }),
  reviewAttemptsMax: fc.integer({ min: 1, max: 6 }),
  conflictRetriesMax: fc.integer({ min: 0, max: 3 }),
  agentResolves: fc.boolean()
})

describe("ReviewLoop", () => {
  it("always ends within its bound, with at most max_review_attempts reviews", () =>
    fc.assert(fc.property(answers, (a) => {
      let state = ReviewLoop.initial(a)
      let step: ReviewLoop.Step
      ;[state, step] = ReviewLoop.step(state, { _tag: "Committed", hasChanges: true })
      let reviews = 0
      let i = 0
      const pick = <T>(xs: ReadonlyArray<T>) => xs[i % xs.length]!
      const bound = 4 * (a.reviewAttemptsMax + a.conflictRetriesMax) + 8
      for (; i < bound; i++) {
        if (step._tag === "Submit") {
          const merge = pick(a.merges)
          if (merge === "merged") break
          ;[state, step] = ReviewLoop.step(state, merge === "test-failed"
            ? { _tag: "TestFailed", output: "boom" }
            : merge === "policy-failed"
            ? { _tag: "MergePolicyFailed", violations: ["x: denied"] }
            : { _tag: "MergeConflict", files: ["f"], agentResolves: a.agentResolves })
          continue
        }
        if (ReviewLoop.isTerminal(step)) break
        switch (step._tag) {
          case "CheckPolicy":
            ;[state, step] = ReviewLoop.step(state, { _tag: "PolicyChecked", violations: pick(a.policy) })
            break
          case "Review":
            reviews++
            assert.strictEqual(step.attempt, state.attempts + 1)
            ;[state, step] = ReviewLoop.step(state, { _tag: "Reviewed", verdict: pick(a.verdicts), head: "h" })
            break
          case "Fix":
          case "ResolveConflict":
            ;[state, step] = ReviewLoop.step(state, { _tag: "Committed", hasChanges: pick(a.commits) })
            break
        }
      }
      assert.isBelow(i, bound, "the loop did not end within its bound")
      assert.isAtMost(reviews, a.reviewAttemptsMax)
      assert.isAtMost(state.attempts, a.reviewAttemptsMax)
      assert.isAtMost(state.conflictRetries, a.conflictRetriesMax)
    }), { numRuns: 2000 }))

  it("submits only right after an approval", () =>
    fc.assert(fc.property(fc.array(verdict, { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 5 }), (verdicts, max) => {
      let [state, step] = ReviewLoop.step(ReviewLoop.initial({ reviewAttemptsMax: max, conflictRetriesMax: 0 }), { _tag: "Committed", hasChanges: true })
      for (const v of verdicts) {
        if (step._tag !== "CheckPolicy") break
        ;[state, step] = ReviewLoop.step(state, { _tag: "PolicyChecked", violations: [] })
        if (step._tag !== "Review") break
        ;[state, step] = ReviewLoop.step(state, { _tag: "Reviewed", verdict: v, head: "h" })
        assert.strictEqual(step._tag === "Submit", v._tag === "Approved")
        if (step._tag === "Fix") [state, step] = ReviewLoop.step(state, { _tag: "Committed", hasChanges: true })
      }
    })))

  it("Iteration: review: fix loop exhausts attempts (K=3)", () => {
    let [state, step] = ReviewLoop.step(ReviewLoop.initial({ reviewAttemptsMax: 3, conflictRetriesMax: 2 }), { _tag: "Committed", hasChanges: true })
    const tags: Array<string> = [step._tag]
    for (let i = 0; i < 3; i++) {
      ;[state, step] = ReviewLoop.step(state, { _tag: "PolicyChecked", violations: [] })
      tags.push(step._tag)
      ;[state, step] = ReviewLoop.step(state, { _tag: "Reviewed", verdict: { _tag: "NeedsChanges", feedback: `round ${i}`, clear: true }, head: "h" })
      tags.push(step._tag)
      if (step._tag === "Fix") [state, step] = ReviewLoop.step(state, { _tag: "Committed", hasChanges: true })
    }
    assert.deepStrictEqual(tags, ["CheckPolicy", "Review", "Fix", "Review", "Fix", "Review", "Exhausted"])
    assert.deepStrictEqual(step, { _tag: "Exhausted", feedback: "round 2" })
  })

  it("a policy violation counts as a review attempt and goes back as fix feedback", () => {
    const [state, step] = ReviewLoop.step(ReviewLoop.initial({ reviewAttemptsMax: 2, conflictRetriesMax: 0 }), { _tag: "PolicyChecked", violations: [".env: path is denied by policy"] })
    assert.strictEqual(state.attempts, 1)
    assert.strictEqual(step._tag, "Fix")
    assert.include((step as { feedback: string }).feedback, ".env: path is denied by policy")
  })

  it("nothing changed: skip review and merge", () => {
    const [, step] = ReviewLoop.step(ReviewLoop.initial({ reviewAttemptsMax: 3, conflictRetriesMax: 0 }), { _tag: "Committed", hasChanges: false })
    assert.deepStrictEqual(step, { _tag: "Skip" })
  })

  it("a conflict with on_conflict abort is unmergeable at once; with agent it goes back for a fresh review", () => {
    const approved = ReviewLoop.initial({ reviewAttemptsMax: 3, conflictRetriesMax: 1 })
    const [, abort] = ReviewLoop.step(approved, { _tag: "MergeConflict", files: ["a"], agentResolves: false })
    assert.deepStrictEqual(abort, { _tag: "Unmergeable", files: ["a"] })
    const [once, resolve] = ReviewLoop.step(approved, { _tag: "MergeConflict", files: ["a"], agentResolves: true })
    assert.deepStrictEqual(resolve, { _tag: "ResolveConflict", files: ["a"] })
    const [, second] = ReviewLoop.step(once, { _tag: "MergeConflict", files: ["a"], agentResolves: true })
    assert.strictEqual(second._tag, "Unmergeable")
  })

  it("keeps the approved commit until it lands: a conflicted approval outlives a failed resolution; a failed test of unconflicted work is not approved work", () => {
    const reviewed = (state: ReviewLoop.State, head: string) => ReviewLoop.step(state, { _tag: "Reviewed", verdict: { _tag: "Approved" }, head })
    const start = ReviewLoop.initial({ reviewAttemptsMax: 5, conflictRetriesMax: 2 })
    const [a1] = reviewed(start, "h1")
    assert.strictEqual(a1.approved, "h1")
    const [c1] = ReviewLoop.step(a1, { _tag: "MergeConflict", files: ["f"], agentResolves: true })
    assert.deepStrictEqual([c1.approved, c1.conflicted], ["h1", "h1"])
    const [a2] = reviewed(c1, "h2")
    assert.deepStrictEqual([a2.approved, a2.conflicted], ["h2", "h1"])
    // The resolution h2 fails the tests: h1 (approved, merely conflicting) is what must be kept.
    const [t2] = ReviewLoop.step(a2, { _tag: "TestFailed", output: "boom" })
    assert.deepStrictEqual([t2.approved, t2.conflicted], ["h1", "h1"])
    const [p2] = ReviewLoop.step(a2, { _tag: "MergePolicyFailed", violations: ["x"] })
    assert.strictEqual(p2.approved, "h1")
    // Without a conflict, work that fails the gates is nobody's approved work.
    const [t1] = ReviewLoop.step(a1, { _tag: "TestFailed", output: "boom" })
    assert.isUndefined(t1.approved)
    assert.deepStrictEqual([ReviewLoop.landed(a2).approved, ReviewLoop.landed(a2).conflicted], [undefined, undefined])
  })
})
