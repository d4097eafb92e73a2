/**
 * The run's vocabulary (SPEC F9): one tagged union for the JSONL run log, the live progress view and
 * simulation traces. Every event carries `at` (milliseconds from the `Clock`) so a trace replays
 * byte-for-byte under `TestClock`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { BudgetName } from "./Budget.ts"
import { Role } from "./SwarmConfig.ts"
import { TaskStatus } from "./Task.ts"

/**
 * Milliseconds spent per phase of an iteration (SPEC F9). `mergeWait` is time queued behind other
 * merges; `test` is the test gate; `git` is commits, diffs and workspace resets.
 *
 * @category models
 * @since 0.1.0
 */
export const PhaseTimings = Schema.Struct({
  setup: Schema.Finite,
  agent: Schema.Finite,
  review: Schema.Finite,
  fix: Schema.Finite,
  git: Schema.Finite,
  test: Schema.Finite,
  mergeWait: Schema.Finite
})
export type PhaseTimings = typeof PhaseTimings.Type
export type Phase = keyof PhaseTimings

/** @category constants @since 0.1.0 */
export const zeroTimings: PhaseTimings = { setup: 0, agent: 0, review: 0, fix: 0, git: 0, test: 0, mergeWait: 0 }

/** @category combinators @since 0.1.0 */
export const addTimings = (a: PhaseTimings, b: PhaseTimings): PhaseTimings => ({
  setup: a.setup + b.setup,
  agent: a.agent + b.agent,
  review: a.review + b.review,
  fix: a.fix + b.fix,
  git: a.git + b.git,
  test: a.test + b.test,
  mergeWait: a.mergeWait + b.mergeWait
})

/**
 * How an iteration ended.
 *
 * - `merged`: approved, tested and on main.
 * - `no-changes`: the agent changed nothing; no review, no merge.
 * - `rejected`: the reviewer said REJECTED; task back to pending (or failed).
 * - `exhausted`: `max_review_attempts` reviews without approval.
 * - `conflict`: approved but could not be merged; the branch is kept and reported.
 * - `error`: the agent failed (exit code, timeout) or the workspace could not be prepared.
 * - `budget`: a budget was spent before the iteration could finish its agent calls.
 * - `dry-run`: approved, not merged because the run is a dry run.
 * - `main-moved`: main was moved outside oompa's merge queue; the queue stopped landing (approved
 *   work is kept on its branch) and no attempt is counted.
 * - `unavailable`: an agent cannot run at all in this run (not logged in, binary gone); the run
 *   stops and no attempt is counted.
 * - `closed`: its pull request was closed without being merged (`target.mode: "pr"`); the task fails.
 *
 * @category models
 * @since 0.1.0
 */
export const IterationOutcome = Schema.Literals([
  "merged",
  "no-changes",
  "rejected",
  "exhausted",
  "conflict",
  "error",
  "budget",
  "dry-run",
  "main-moved",
  "unavailable",
  "closed"
])
export type IterationOutcome = typeof IterationOutcome.Type

/**
 * Why a worker stopped.
 *
 * @category models
 * @since 0.1.0
 */
export const WorkerStopReason = Schema.Literals(["iterations", "done", "errors", "no-tasks", "budget", "interrupted", "main-moved", "unavailable", "setup-failed"])
export type WorkerStopReason = typeof WorkerStopReason.Type

/**
 * How a whole run ended; maps onto SPEC F10's exit codes (`ok` 0; `failed` 1; `unavailable` 2, an
 * agent that cannot run, as a missing binary is at the start; `interrupted` 130).
 *
 * @category models
 * @since 0.1.0
 */
export const SwarmOutcome = Schema.Literals(["ok", "failed", "unavailable", "interrupted"])
export type SwarmOutcome = typeof SwarmOutcome.Type

/**
 * Which agent call an `AgentFinished` event reports.
 *
 * @category models
 * @since 0.1.0
 */
export const AgentCallKind = Schema.Literals(["propose", "review", "fix", "plan", "resolve-conflict"])
export type AgentCallKind = typeof AgentCallKind.Type

const Tokens = Schema.Struct({ input: Schema.Finite, output: Schema.Finite })

/**
 * Every event of a run, tagged by `_tag`.
 *
 * @category models
 * @since 0.1.0
 */
export const Event = Schema.TaggedUnion({
  SwarmStarted: {
    at: Schema.Finite,
    runId: Schema.String,
    branch: Schema.String,
    base: Schema.String,
    workers: Schema.Array(Schema.Struct({ id: Schema.String, role: Role, agent: Schema.String, iterations: Schema.Finite })),
    review: Schema.Boolean,
    dryRun: Schema.Boolean
  },
  WorkerStarted: { at: Schema.Finite, worker: Schema.String, role: Role, iterations: Schema.Finite },
  IterationStarted: { at: Schema.Finite, worker: Schema.String, iteration: Schema.Finite, branch: Schema.String, base: Schema.String },
  TaskClaimed: { at: Schema.Finite, worker: Schema.String, iteration: Schema.Finite, task: Schema.String },
  AgentFinished: {
    at: Schema.Finite,
    worker: Schema.String,
    iteration: Schema.Finite,
    call: AgentCallKind,
    agent: Schema.String,
    exitCode: Schema.Finite,
    durationMs: Schema.Finite,
    timedOut: Schema.Boolean,
    tokens: Schema.optionalKey(Tokens),
    costUsd: Schema.optionalKey(Schema.Finite),
    /** The price table `costUsd` was estimated with from the tokens; absent when the harness reported it. */
    costEstimatedWith: Schema.optionalKey(Schema.String),
    error: Schema.optionalKey(Schema.String)
  },
  Committed: { at: Schema.Finite, worker: Schema.String, iteration: Schema.Finite, sha: Schema.String, files: Schema.Finite, added: Schema.Finite, deleted: Schema.Finite },
  VerdictGiven: {
    at: Schema.Finite,
    worker: Schema.String,
    iteration: Schema.Finite,
    attempt: Schema.Finite,
    verdict: Schema.Literals(["approved", "needs-changes", "rejected"]),
    clear: Schema.Boolean,
    feedback: Schema.String,
    reviewer: Schema.String
  },
  PolicyViolated: { at: Schema.Finite, worker: Schema.String, iteration: Schema.Finite, attempt: Schema.Finite, stage: Schema.Literals(["change", "merge"]), violations: Schema.Array(Schema.String) },
  MergeQueued: { at: Schema.Finite, worker: Schema.String, iteration: Schema.Finite, position: Schema.Finite },
  /**
   * The merge queue merged approved work onto the candidate ahead of it (`onto`: main, or the
   * candidate at `position - 1`), as candidate number `position` of its pipeline (1 lands next).
   * `rebuild` counts the earlier builds a failure ahead of it threw away; `outcome` is what this build
   * found, final only once every candidate ahead of it has landed or been ejected.
   */
  CandidateBuilt: {
    at: Schema.Finite,
    worker: Schema.String,
    iteration: Schema.Finite,
    position: Schema.Finite,
    onto: Schema.String,
    head: Schema.String,
    outcome: Schema.Literals(["built", "conflict", "policy-failed"]),
    sha: Schema.optionalKey(Schema.String),
    rebuild: Schema.Finite
  },
  /**
   * The candidate at the head of the pipeline failed for good and left it; `rebuilding` candidates
   * behind it were built on it and are merged again onto what it stood on.
   */
  CandidateEjected: {
    at: Schema.Finite,
    worker: Schema.String,
    iteration: Schema.Finite,
    /** `withdrawn`: its submitter was interrupted (Ctrl-C) before it landed; it never will. */
    reason: Schema.Literals(["conflict", "test-failed", "policy-failed", "main-moved", "error", "withdrawn"]),
    rebuilding: Schema.Finite
  },
  TestResult: {
    at: Schema.Finite,
    worker: Schema.String,
    iteration: Schema.Finite,
    sha: Schema.String,
    passed: Schema.Boolean,
    durationMs: Schema.Finite,
    output: Schema.String,
    /** The candidate's place in the merge queue's pipeline when its test started (1 lands next). */
    position: Schema.optionalKey(Schema.Finite)
  },
  MergeResult: {
    at: Schema.Finite,
    worker: Schema.String,
    iteration: Schema.Finite,
    /**
     * `changes-requested`: a reviewer on the pull request asked for changes (`target.mode: "pr"`);
     * `closed`: the pull request was closed without being merged. For a pull request, `test-failed`
     * means its checks failed, and `merged` that the host merged it.
     */
    outcome: Schema.Literals(["merged", "conflict", "test-failed", "policy-failed", "dry-run", "main-moved", "changes-requested", "closed"]),
    sha: Schema.optionalKey(Schema.String),
    previous: Schema.optionalKey(Schema.String),
    branch: Schema.String,
    files: Schema.Array(Schema.String),
    /** How many candidates were in the pipeline behind it when it landed or left. */
    behind: Schema.optionalKey(Schema.Finite)
  },
  TaskMoved: { at: Schema.Finite, task: Schema.String, from: Schema.optionalKey(TaskStatus), to: TaskStatus, worker: Schema.optionalKey(Schema.String), reason: Schema.optionalKey(Schema.String) },
  IterationFinished: {
    at: Schema.Finite,
    worker: Schema.String,
    iteration: Schema.Finite,
    outcome: IterationOutcome,
    task: Schema.optionalKey(Schema.String),
    reviews: Schema.Finite,
    timings: PhaseTimings,
    detail: Schema.optionalKey(Schema.String),
    /** The branch kept with approved work that did not land. */
    kept: Schema.optionalKey(Schema.String)
  },
  WorkerFinished: { at: Schema.Finite, worker: Schema.String, reason: WorkerStopReason, iterations: Schema.Finite },
  BudgetSpent: { at: Schema.Finite, budget: BudgetName, scope: Schema.String },
  /**
   * Main is not where the merge queue last put it: something other than the queue moved it (an
   * agent with `git update-ref`, a commit through a worktree whose HEAD it pointed at main, a user).
   * The queue lands nothing more in this run. `worker`/`iteration`: whose agent call had just ended
   * when the move was noticed, when it was noticed after one.
   */
  MainMovedOutside: {
    at: Schema.Finite,
    from: Schema.String,
    to: Schema.String,
    worker: Schema.optionalKey(Schema.String),
    iteration: Schema.optionalKey(Schema.Finite)
  },
  /**
   * A remote target (`target.mode: "push"`) moved from where the merge queue last saw it to `to`:
   * someone else pushed. The queue lands on top of it; every candidate is merged again onto it and
   * retested, and nothing of theirs is overwritten.
   */
  TargetMoved: { at: Schema.Finite, from: Schema.String, to: Schema.String },
  /**
   * Approved work was pushed to the remote's branch `branch` at `head` and is (still) pull request
   * `number` (`target.mode: "pr"`): opened now, or updated with the fix of a later submission.
   */
  PullRequestOpened: {
    at: Schema.Finite,
    worker: Schema.String,
    iteration: Schema.Finite,
    task: Schema.optionalKey(Schema.String),
    number: Schema.Finite,
    url: Schema.String,
    branch: Schema.String,
    head: Schema.String
  },
  /** An agent call hit a usage or rate limit and waits `waitMs` before retry number `retry`. */
  RateLimited: {
    at: Schema.Finite,
    worker: Schema.String,
    iteration: Schema.Finite,
    call: AgentCallKind,
    agent: Schema.String,
    retry: Schema.Finite,
    waitMs: Schema.Finite,
    /** Where the wait comes from: the CLI's own `retry-after`, or oompa's back-off. */
    source: Schema.Literals(["retry-after", "backoff"])
  },
  Warning: { at: Schema.Finite, message: Schema.String, worker: Schema.optionalKey(Schema.String) },
  SwarmFinished: { at: Schema.Finite, outcome: SwarmOutcome, durationMs: Schema.Finite, merged: Schema.Finite, rejected: Schema.Finite, failed: Schema.Finite, budget: Schema.optionalKey(BudgetName) }
})
export type Event = typeof Event.Type
