/**
 * The code host's pull requests (issue 20, `target.mode: "pr"`): approved work is pushed to a branch
 * of the remote and opened as a pull request; the host's checks and its human reviewers decide, and
 * oompa watches until the pull request is merged or closed.
 *
 * Implemented by `@oompa/adapters-node`'s `GitHubPullRequests` (GitHub's REST API through
 * `@octokit/rest`: conditional requests, rate limits waited out) and by `@oompa/core/testing`'s
 * `MemoryPullRequests` (a scripted host for tests and the simulation). Called only by
 * `PullRequestLanding`.
 *
 * What a state says is about one commit: checks and reviews of an earlier push never answer for
 * the head pushed since (a fix is judged afresh).
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { Context } from "effect"
import type { PullRequestError } from "./Errors.ts"

/**
 * What to open: the branch (already pushed to the remote) into the target branch.
 *
 * @category models
 * @since 0.1.0
 */
export interface PullRequestDraft {
  /** The pushed branch, as named on the remote (`oompa/<task>`). */
  readonly branch: string
  /** The target branch it merges into. */
  readonly base: string
  readonly title: string
  readonly body: string
}

/**
 * An opened pull request.
 *
 * @category models
 * @since 0.1.0
 */
export interface PullRequest {
  readonly number: number
  /** Where people see it. */
  readonly url: string
}

/**
 * A pull request found by its branch: its head, and whether it was merged.
 *
 * @category models
 * @since 0.1.0
 */
export interface FoundPullRequest extends PullRequest {
  readonly head: string
  /** The commit the host put on the target branch, when it was merged. */
  readonly merged: string | undefined
}

/**
 * The host's checks (check runs and commit statuses) of one commit. `Failed.report` says, for the
 * agent, which failed and what they printed; `Pending` with nobody in `waitingFor`: none reported
 * yet (CI creates its checks a while after a push; a repository without CI never does).
 *
 * @category models
 * @since 0.1.0
 */
export type Checks =
  | { readonly _tag: "Pending"; readonly waitingFor: ReadonlyArray<string> }
  | { readonly _tag: "Passed" }
  | { readonly _tag: "Failed"; readonly report: string }

/**
 * Where a pull request stands. `Open` judges only the commit asked about: its checks, and the
 * reviews given on it (`changesRequested` holds what the reviewers wrote, line comments included).
 *
 * @category models
 * @since 0.1.0
 */
export type PullRequestState =
  | {
    readonly _tag: "Open"
    /** The commit the pull request's branch points to now. */
    readonly head: string
    readonly checks: Checks
    readonly changesRequested: string | undefined
    readonly approved: boolean
  }
  /** `sha`: the commit the host put on the target branch. */
  | { readonly _tag: "Merged"; readonly sha: string }
  | { readonly _tag: "Closed" }

/**
 * What the host said to a merge.
 *
 * @category models
 * @since 0.1.0
 */
export type MergeAnswer =
  | { readonly _tag: "Merged"; readonly sha: string }
  /** Not now: a conflict, a required review or check missing, the head moved; the host's words. */
  | { readonly _tag: "NotMergeable"; readonly reason: string }

/**
 * How the host merges: a merge commit, one squashed commit, or the commits rebased.
 *
 * @category models
 * @since 0.1.0
 */
export type MergeMethod = "merge" | "squash" | "rebase"

/**
 * @category services
 * @since 0.1.0
 */
export class PullRequests extends Context.Service<PullRequests, {
  /**
   * Opens a pull request of `draft.branch`, or returns the open one that branch already has (its
   * title and body brought up to date): a task is never opened twice.
   */
  readonly open: (draft: PullRequestDraft) => Effect.Effect<PullRequest, PullRequestError>
  /**
   * The latest pull request of `branch` into `base` that is open or merged (one closed without
   * merging is passed over: the task is being tried again), with the commit its branch held: how a
   * run finds again the work an earlier run left with people (the branch is the task's,
   * `oompa/<task>`, so this survives a `kill -9` at any point).
   */
  readonly find: (branch: string, base: string) => Effect.Effect<FoundPullRequest | undefined, PullRequestError>
  /** The pull request now, judging its checks and reviews on `head` only. */
  readonly state: (pullRequest: number, head: string) => Effect.Effect<PullRequestState, PullRequestError>
  /** Asks the host to merge, only if the pull request's head is still `head`. */
  readonly merge: (pullRequest: number, head: string, method: MergeMethod) => Effect.Effect<MergeAnswer, PullRequestError>
}>()("@oompa/core/services/PullRequests") {}
