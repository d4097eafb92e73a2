/**
 * The review loop of one iteration (SPEC F4, F5, F7, F8) as a pure state machine: state and an
 * observation in, the next step out. The iteration program performs the steps; this module only
 * decides, so it can be property-tested without any service.
 *
 * Invariant: reviews plus policy violations never exceed `reviewAttemptsMax` (SPEC F13 I5), and
 * every path ends in `Submit`, `Skip`, `Reject` or `Exhausted`.
 *
 * @since 0.1.0
 */
import type { Verdict } from "../domain/Verdict.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface State {
  /** Review attempts used: reviews given plus policy violations (each counts as one, SPEC F7). */
  readonly attempts: number
  readonly reviewAttemptsMax: number
  /** Merge-conflict hand-backs used (`on_conflict: agent`). */
  readonly conflictRetries: number
  readonly conflictRetriesMax: number
  /** The last feedback given, for the task's record when the loop gives up. */
  readonly feedback: string
  /**
   * The approved commit while it has not landed: from the approval until it lands, its branch is
   * never deleted, and if the loop gives up the branch is set back to it and kept.
   */
  readonly approved?: string | undefined
  /**
   * The latest approved commit whose merge conflicted: approved work in its own right, kept until
   * something built on it lands, even if the resolution later fails its review or its tests. Each
   * resolution builds on the last, so it holds every earlier one.
   */
  readonly conflicted?: string | undefined
}

/**
 * What the iteration observed after performing the previous step.
 *
 * @category models
 * @since 0.1.0
 */
export type Observation =
  | { readonly _tag: "Committed"; readonly hasChanges: boolean }
  | { readonly _tag: "PolicyChecked"; readonly violations: ReadonlyArray<string> }
  /** The reviewer's verdict on the commit `head`. */
  | { readonly _tag: "Reviewed"; readonly verdict: Verdict; readonly head: string }
  | { readonly _tag: "TestFailed"; readonly output: string }
  | { readonly _tag: "MergePolicyFailed"; readonly violations: ReadonlyArray<string> }
  | { readonly _tag: "MergeConflict"; readonly files: ReadonlyArray<string>; readonly agentResolves: boolean }
  /** A reviewer on the pull request asked for changes (`target.mode: "pr"`). */
  | { readonly _tag: "ChangesRequested"; readonly feedback: string }

/**
 * What the iteration does next.
 *
 * @category models
 * @since 0.1.0
 */
export type Step =
  | { readonly _tag: "CheckPolicy" }
  | { readonly _tag: "Review"; readonly attempt: number }
  | { readonly _tag: "Fix"; readonly feedback: string }
  | { readonly _tag: "ResolveConflict"; readonly files: ReadonlyArray<string> }
  | { readonly _tag: "Submit" }
  | { readonly _tag: "Skip" }
  | { readonly _tag: "Reject"; readonly reason: string }
  | { readonly _tag: "Exhausted"; readonly feedback: string }
  | { readonly _tag: "Unmergeable"; readonly files: ReadonlyArray<string> }

/** @category models @since 0.1.0 */
export type Terminal = Extract<Step, { _tag: "Submit" | "Skip" | "Reject" | "Exhausted" | "Unmergeable" }>

/**
 * @category constructors
 * @since 0.1.0
 */
export const initial = (options: { readonly reviewAttemptsMax: number; readonly conflictRetriesMax: number }): State => ({
  attempts: 0,
  reviewAttemptsMax: options.reviewAttemptsMax,
  conflictRetries: 0,
  conflictRetriesMax: options.conflictRetriesMax,
  feedback: ""
})

/** @category guards @since 0.1.0 */
export const isTerminal = (step: Step): step is Terminal =>
  step._tag === "Submit" || step._tag === "Skip" || step._tag === "Reject" || step._tag === "Exhausted" ||
  step._tag === "Unmergeable"

const fixOrExhaust = (state: State, feedback: string): readonly [State, Step] => {
  const next = { ...state, feedback }
  return state.attempts >= state.reviewAttemptsMax
    ? [next, { _tag: "Exhausted", feedback }]
    : [next, { _tag: "Fix", feedback }]
}

/**
 * The transition function.
 *
 * @category transitions
 * @since 0.1.0
 */
export const step = (state: State, observation: Observation): readonly [State, Step] => {
  switch (observation._tag) {
    case "Committed":
      return observation.hasChanges ? [state, { _tag: "CheckPolicy" }] : [state, { _tag: "Skip" }]
    case "PolicyChecked": {
      if (observation.violations.length > 0) {
        const counted = { ...state, attempts: state.attempts + 1 }
        return fixOrExhaust(counted, policyFeedback(observation.violations))
      }
      if (state.attempts >= state.reviewAttemptsMax) return [state, { _tag: "Exhausted", feedback: state.feedback }]
      return [state, { _tag: "Review", attempt: state.attempts + 1 }]
    }
    case "Reviewed": {
      const counted = { ...state, attempts: state.attempts + 1 }
      const verdict = observation.verdict
      if (verdict._tag === "Approved") return [{ ...counted, approved: observation.head }, { _tag: "Submit" }]
      if (verdict._tag === "Rejected") return [{ ...counted, feedback: verdict.reason }, { _tag: "Reject", reason: verdict.reason }]
      return fixOrExhaust(counted, verdict.feedback)
    }
    // Work that fails the merge's gates is not mergeable work: only an approved commit whose merge
    // conflicted stays approved (the fix loop decides what becomes of the rest).
    case "TestFailed":
      return fixOrExhaust({ ...state, approved: state.conflicted }, `The tests failed on the merge of your change onto main:\n${observation.output}`)
    case "MergePolicyFailed":
      return fixOrExhaust({ ...state, approved: state.conflicted }, policyFeedback(observation.violations))
    // As a failed test: the fix's own review is what counts, so `max_review_attempts` bounds the round trips.
    case "ChangesRequested":
      return fixOrExhaust(
        { ...state, approved: state.conflicted },
        `A reviewer of the pull request asked for changes:\n${observation.feedback}`
      )
    case "MergeConflict": {
      // Approved work that conflicts stays kept: reported if the loop gives up, resolved and merged otherwise.
      const conflicted = { ...state, conflicted: state.approved }
      const canRetry = observation.agentResolves && state.conflictRetries < state.conflictRetriesMax &&
        state.attempts < state.reviewAttemptsMax
      if (!canRetry) return [conflicted, { _tag: "Unmergeable", files: observation.files }]
      return [{ ...conflicted, conflictRetries: state.conflictRetries + 1 }, { _tag: "ResolveConflict", files: observation.files }]
    }
  }
}

/**
 * The state once the approved work landed: nothing is left to keep.
 *
 * @category transitions
 * @since 0.1.0
 */
export const landed = (state: State): State => ({ ...state, approved: undefined, conflicted: undefined })

const policyFeedback = (violations: ReadonlyArray<string>): string =>
  ["The change breaks the repository's policy; fix these before it can be reviewed:", ...violations.map((v) => `- ${v}`)]
    .join("\n")
