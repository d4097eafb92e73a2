/**
 * The swarm's configuration after decoding: workers expanded, dialects unified, defaults applied.
 *
 * `ConfigFile.ts` decodes oompa.json (both the 0.1.0 and the 0.7 dialect) into this shape; programs
 * only ever see this one. Durations are seconds, as in the file.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { AgentSpec } from "./AgentSpec.ts"
import { Budget } from "./Budget.ts"
import { WorkerId } from "./Ids.ts"
import { NotifyTarget } from "./NotifyTarget.ts"
import { Policy } from "./Policy.ts"
import { Pricing } from "./Pricing.ts"
import { defaultTasksDir } from "./RepoLayout.ts"

/**
 * What a worker does each iteration (SPEC F1): `worker` claims a task if one is pending, else works
 * from its prompt; `planner` only creates tasks; `executor` only claims tasks.
 *
 * @category models
 * @since 0.1.0
 */
export const Role = Schema.Literals(["worker", "planner", "executor"])
export type Role = typeof Role.Type

const Seconds = Schema.Finite.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))

/**
 * One worker, after `count` expansion.
 *
 * @category models
 * @since 0.1.0
 */
export const WorkerConfig = Schema.Struct({
  id: WorkerId,
  agent: AgentSpec,
  role: Role,
  iterations: PositiveInt,
  /** Prompt files, concatenated; empty means the built-in prompt of the role. */
  prompt: Schema.Array(Schema.String),
  wait_between: Seconds,
  budget: Budget
})
export type WorkerConfig = typeof WorkerConfig.Type

/**
 * One reviewer; several are tried in order when one fails to answer.
 *
 * @category models
 * @since 0.1.0
 */
export const ReviewerConfig = Schema.Struct({
  agent: AgentSpec,
  prompt: Schema.optionalKey(Schema.String)
})
export type ReviewerConfig = typeof ReviewerConfig.Type

/**
 * The top-level planner of 0.7: runs once before the workers.
 *
 * @category models
 * @since 0.1.0
 */
export const PlannerConfig = Schema.Struct({
  agent: AgentSpec,
  prompt: Schema.Array(Schema.String),
  max_pending: PositiveInt
})
export type PlannerConfig = typeof PlannerConfig.Type

/**
 * @category models
 * @since 0.1.0
 */
export const MergeStrategy = Schema.Literals(["no-ff", "ff", "squash", "rebase"])
export type MergeStrategy = typeof MergeStrategy.Type

/**
 * @category models
 * @since 0.1.0
 */
export const OnConflict = Schema.Literals(["abort", "agent"])
export type OnConflict = typeof OnConflict.Type

/**
 * A GitHub repository, and the API that serves it (`api_url`: GitHub Enterprise, or a test's server).
 *
 * @category models
 * @since 0.1.0
 */
export const GitHubRepository = Schema.Struct({
  owner: Schema.NonEmptyString,
  repo: Schema.NonEmptyString,
  api_url: Schema.optionalKey(Schema.NonEmptyString)
})

/**
 * Where approved work lands when not on a local branch (issue 20).
 *
 * @category models
 * @since 0.1.0
 */
export const TargetConfig = Schema.Union([
  Schema.Struct({
    /** A git remote's name (`origin`) or URL. */
    remote: Schema.NonEmptyString,
    mode: Schema.Literal("push")
  }),
  Schema.Struct({
    /** The git remote approved work is pushed to as a branch (`oompa/<task>`). */
    remote: Schema.NonEmptyString,
    mode: Schema.Literal("pr"),
    github: GitHubRepository,
    /** Merge through the host's API once its checks pass and its reviews allow. */
    auto_merge: Schema.Boolean,
    /** How often an open pull request is asked about (seconds). */
    poll_seconds: Schema.Finite.check(Schema.isGreaterThan(0))
  })
])
export type TargetConfig = typeof TargetConfig.Type

/**
 * Where pull requests are opened (`target.github`).
 *
 * @category models
 * @since 0.1.0
 */
export type GitHubRepository = typeof GitHubRepository.Type

/**
 * Most candidates the merge queue tests at once (`merge.speculation`): each holds a worktree and a
 * running test command.
 *
 * @category constants
 * @since 0.1.0
 */
export const speculationMax = 32

/**
 * @category models
 * @since 0.1.0
 */
export const MergeConfig = Schema.Struct({
  strategy: MergeStrategy,
  on_conflict: OnConflict,
  /** How many candidates the merge queue tests at once, each on top of the ones ahead of it (issue 19). */
  speculation: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
})
export type MergeConfig = typeof MergeConfig.Type

/**
 * Per-call time limits, in seconds.
 *
 * @category models
 * @since 0.1.0
 */
export const Timeouts = Schema.Struct({
  propose: Seconds,
  review: Seconds,
  test: Seconds,
  setup: Seconds,
  teardown: Seconds
})
export type Timeouts = typeof Timeouts.Type

/**
 * What each worker's worktree gets besides the checkout (issue 18): `ports_per_worker` consecutive
 * ports of its own, from `OOMPA_PORT`; `setup_command` once, and again only when the files matching
 * `setup_inputs` change; the ignored files matching `copy` (copied) and `link` (symlinked) from the
 * user's worktree, never part of the agent's change.
 *
 * @category models
 * @since 0.1.0
 */
export const WorktreeConfig = Schema.Struct({
  ports_per_worker: PositiveInt,
  setup_inputs: Schema.Array(Schema.NonEmptyString),
  copy: Schema.Array(Schema.NonEmptyString),
  link: Schema.Array(Schema.NonEmptyString)
})
export type WorktreeConfig = typeof WorktreeConfig.Type

/**
 * How an agent call that hit a usage or rate limit is retried: at most `retries` times, after the
 * wait the CLI names (`retry-after`, "try again in 20s") or else `backoff_seconds`, doubling, at
 * most `backoff_max_seconds` — and never past the call's own timeout.
 *
 * @category models
 * @since 0.1.0
 */
export const RateLimit = Schema.Struct({
  retries: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))),
  backoff_seconds: Seconds,
  backoff_max_seconds: Seconds
})
export type RateLimit = typeof RateLimit.Type

/**
 * Overrides of a harness's binary, extra arguments and environment (SPEC F3).
 *
 * @category models
 * @since 0.1.0
 */
export const HarnessOverride = Schema.Struct({
  command: Schema.optionalKey(Schema.NonEmptyString),
  args: Schema.optionalKey(Schema.Array(Schema.String)),
  env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})
export type HarnessOverride = typeof HarnessOverride.Type

/**
 * @category models
 * @since 0.1.0
 */
export const SwarmConfig = Schema.Struct({
  workers: Schema.Array(WorkerConfig),
  /** Empty: each worker's own model reviews its work. */
  reviewers: Schema.Array(ReviewerConfig),
  /** `false`: review is off and every change is auto-approved (the run says so at start). */
  review: Schema.Boolean,
  planner: Schema.optionalKey(PlannerConfig),
  /** Absent: `main` if it exists, else `master` (decided by the Git layer, never taken from HEAD). */
  branch: Schema.optionalKey(Schema.NonEmptyString),
  /**
   * Absent: work lands on the local `branch`. `push`: on that branch of the git remote `remote`,
   * by `git push --force-with-lease` (issue 20); the local branch follows.
   */
  target: Schema.optionalKey(TargetConfig),
  policy: Policy,
  merge: MergeConfig,
  test_command: Schema.optionalKey(Schema.NonEmptyString),
  setup_command: Schema.optionalKey(Schema.NonEmptyString),
  /** Run by `sh -c` in a worker's worktree before it is removed, however the run ends. */
  teardown_command: Schema.optionalKey(Schema.NonEmptyString),
  worktree: WorktreeConfig,
  timeouts: Timeouts,
  rate_limit: RateLimit,
  max_review_attempts: PositiveInt,
  max_task_attempts: PositiveInt,
  /** How often approved work that conflicts goes back to its agent before it is reported (`on_conflict: agent`). */
  max_merge_retries: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))),
  max_parallel: Schema.optionalKey(PositiveInt),
  max_wait_for_tasks: Seconds,
  tasks_dir: Schema.NonEmptyString,
  /** Tasks from GitHub Issues instead of `tasks_dir` (issue 20): the issues carrying `label`. */
  tasks: Schema.optionalKey(Schema.Struct({ github: Schema.Struct({ ...GitHubRepository.fields, label: Schema.NonEmptyString }) })),
  worktrees_dir: Schema.optionalKey(Schema.NonEmptyString),
  harnesses: Schema.Record(Schema.String, HarnessOverride),
  budget: Budget,
  /** Prices of models the price table does not know, by model name (issue 18); empty: none. */
  pricing: Pricing,
  /** Commands and webhooks told of merges, failed tasks, the end of the run and quiet spells (issue 22). */
  notify: Schema.optionalKey(Schema.Array(NotifyTarget))
})
export type SwarmConfig = typeof SwarmConfig.Type

/**
 * Every default of SPEC F1 in one place.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults = {
  iterations: 10,
  count: 1,
  role: "worker" as Role,
  wait_between: 0,
  max_review_attempts: 3,
  max_task_attempts: 3,
  max_merge_retries: 2,
  max_wait_for_tasks: 600,
  max_pending: 10,
  tasks_dir: defaultTasksDir,
  merge: { strategy: "no-ff", on_conflict: "abort", speculation: 1 } as MergeConfig,
  timeouts: { propose: 300, review: 600, test: 900, setup: 600, teardown: 60 } as Timeouts,
  worktree: { ports_per_worker: 10, setup_inputs: [], copy: [], link: [] } as WorktreeConfig,
  rate_limit: { retries: 3, backoff_seconds: 30, backoff_max_seconds: 600 } as RateLimit
} as const

/**
 * A whole config from a few fields, with every default filled in — for tests, simulations and
 * embedders that build a swarm in code rather than from a file.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeSwarmConfig = (fields: Partial<SwarmConfig> & Pick<SwarmConfig, "workers">): SwarmConfig => ({
  reviewers: [],
  review: true,
  policy: {},
  merge: defaults.merge,
  worktree: defaults.worktree,
  timeouts: defaults.timeouts,
  rate_limit: defaults.rate_limit,
  max_review_attempts: defaults.max_review_attempts,
  max_task_attempts: defaults.max_task_attempts,
  max_merge_retries: defaults.max_merge_retries,
  max_wait_for_tasks: defaults.max_wait_for_tasks,
  tasks_dir: defaults.tasks_dir,
  harnesses: {},
  budget: {},
  pricing: {},
  ...fields
})
