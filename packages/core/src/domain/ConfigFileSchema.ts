/**
 * oompa.json as users write it (SPEC F1): the Schema of the file, in both of its dialects, exactly
 * as written and before any default is applied.
 *
 * The file has two dialects in the wild: 0.1.0 (`iterations`, `review_model`, `role`) and 0.7
 * (`max_cycle`, `harness:model:reasoning`, `can_plan`, a top-level `planner`, `reviewer` /
 * `review_models`, `wait_between`). {@link ConfigFile} accepts both, and is also the source of the
 * JSON Schema that ships for editors, so every field carries a description (and its default, where
 * it has one). Each field also carries the `expected` label that problem messages quote
 * (`ConfigProblems.ts`); normalizing into `SwarmConfig` is `ConfigNormalization.ts`.
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import { type AgentSpec, harnesses as harnessNames, parseModelString } from "./AgentSpec.ts"
import { keyKindAnnotation } from "./ConfigProblems.ts"
import { defaultStalledAfterSeconds, everyNotification, NotifyOn, WebhookUrl } from "./NotifyTarget.ts"
import { defaults, MergeStrategy, OnConflict, Role, speculationMax } from "./SwarmConfig.ts"

// ---------------------------------------------------------------------------------------------
// Field types. Each carries an `expected` label because error messages read "expected <label>,
// got <value>"; the label sits on the last check so that any failing check of the field (e.g.
// `isInt` on 1.5) reports the field's whole expectation, not one step of it.
// ---------------------------------------------------------------------------------------------

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0, { expected: "a positive integer" }))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a non-negative integer" }))
const PositiveNumber = Schema.Finite.check(Schema.isGreaterThan(0, { expected: "a positive number" }))
const Seconds = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a number of seconds (0 or more)" }))
const NonEmpty = Schema.String.check(Schema.isMinLength(1, { expected: "a non-empty string" }))

// Looser than parseModelString (whitespace-only passes), which JSON Schema allows for approximations.
const modelPattern = `^\\s*(?:[^:]*|(?:${harnessNames.join("|")}):[^:]*(?::[^:]+)?)\\s*$`

const ModelString = Schema.String.check(
  Schema.makeFilter((text: string) => {
    const parsed = parseModelString(text)
    return Result.isFailure(parsed) ? `${JSON.stringify(text)} ${parsed.failure.message}` : undefined
  }, {
    expected: "a model string such as \"claude:opus\"",
    toJsonSchema: () => [{ pattern: modelPattern }, true]
  })
)

const describedModel = (what: string) =>
  ModelString.annotate({
    description: `${what}: "harness:model" or (0.7) "harness:model:reasoning"; a bare model means harness ` +
      `codex. Harnesses: ${harnessNames.join(", ")}.`,
    examples: ["claude:opus", "codex:gpt-5-codex:high"]
  })

const Prompt = Schema.Union([NonEmpty, Schema.Array(NonEmpty)]).annotate({
  expected: "a prompt file path or a list of them",
  description: "Prompt file, or a list of them (concatenated), relative to the config file. Absent: the built-in " +
    "prompt of the role."
})

// ---------------------------------------------------------------------------------------------
// Nested objects
// ---------------------------------------------------------------------------------------------

const BudgetFile = Schema.Struct({
  max_agent_calls: Schema.optionalKey(PositiveInt.annotate({ description: "Most agent calls (proposer, reviewer, fix) allowed." })),
  max_wall_seconds: Schema.optionalKey(PositiveNumber.annotate({ description: "Most wall-clock seconds allowed." })),
  max_cost_usd: Schema.optionalKey(PositiveNumber.annotate({
    description: "Most dollars allowed: the cost claude and opencode report, and for codex, gemini (and an opencode call " +
      "that reports none) its tokens at the model's price in the price table or in \"pricing\". A model oompa has no price " +
      "for makes the run refuse to start."
  }))
}).annotate({
  identifier: "Budget",
  description: "Spending limits (SPEC F15). When one is spent, workers finish the current step and nothing new starts."
})

const Price = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a price in dollars per million tokens (0 or more)" }))

const ModelPriceFile = Schema.Struct({
  input: Price.annotate({ description: "Dollars per million input tokens (those neither read from nor written to the cache)." }),
  output: Price.annotate({ description: "Dollars per million output tokens (reasoning included, unless reasoning is priced apart)." }),
  cache_read: Schema.optionalKey(Price.annotate({ description: "Dollars per million input tokens read from the cache; absent: input's price." })),
  cache_write: Schema.optionalKey(Price.annotate({ description: "Dollars per million input tokens written to the cache; absent: input's price." })),
  reasoning: Schema.optionalKey(Price.annotate({ description: "Dollars per million output tokens spent reasoning; absent: output's price." }))
}).annotate({ identifier: "ModelPrice" })

const PricingFile = Schema.Record(Schema.String, ModelPriceFile).annotate({
  description: "Prices of models, by the model's name in its model string (\"gpt-5.5\" of \"codex:gpt-5.5\"), for " +
    "models the built-in price table does not know (private deployments, new models). They take precedence over the " +
    "table and over what a harness reports; a cost computed from them is marked estimated in the summary."
})

const PolicyFile = Schema.Struct({
  allow: Schema.optionalKey(Schema.Array(NonEmpty).annotate({ description: "Globs a change may touch; absent: any path." })),
  deny: Schema.optionalKey(Schema.Array(NonEmpty).annotate({
    description: "Globs a change may not touch (on top of the always-denied .oompa/**, tasks, .env*, *.pem)."
  })),
  max_lines_added: Schema.optionalKey(NonNegativeInt.annotate({ description: "Most lines a change may add." })),
  max_lines_deleted: Schema.optionalKey(NonNegativeInt.annotate({ description: "Most lines a change may delete." })),
  max_files: Schema.optionalKey(NonNegativeInt.annotate({ description: "Most files a change may touch." })),
  allow_binary: Schema.optionalKey(Schema.Boolean.annotate({ description: "Whether a change may add binary files." }))
}).annotate({ description: "Policy gate (SPEC F7), checked before review and on the merge result." })

const GitHubFile = Schema.Struct({
  owner: NonEmpty.annotate({ description: "The repository's owner (user or organization)." }),
  repo: NonEmpty.annotate({ description: "The repository's name." }),
  api_url: Schema.optionalKey(NonEmpty.annotate({ description: "The REST API's URL, for GitHub Enterprise Server (https://HOST/api/v3).", default: "https://api.github.com" }))
}).annotate({ description: "The GitHub repository pull requests are opened on (token from GITHUB_TOKEN, else gh auth token)." })

const TargetFile = Schema.Struct({
  mode: Schema.optionalKey(Schema.Literals(["local", "push", "pr"]).annotate({
    description: "local: land on this repository's branch. push: land on the remote's branch with git push --force-with-lease (a teammate's push is never overwritten; the candidate is rebuilt on it); the local branch follows. pr: push each approved task to a branch oompa/<task> of the remote and open a GitHub pull request; failing checks and requested changes go back to the worker, a merged pull request completes the task.",
    default: "local"
  })),
  remote: Schema.optionalKey(NonEmpty.annotate({ description: "The git remote (a name such as origin, or a URL) that mode push lands on, or mode pr pushes branches to (default origin)." })),
  github: Schema.optionalKey(GitHubFile),
  auto_merge: Schema.optionalKey(Schema.Boolean.annotate({ description: "Mode pr: merge through GitHub's API once the checks pass and the reviews allow; otherwise a person merges.", default: false })),
  poll_seconds: Schema.optionalKey(PositiveNumber.annotate({ description: "Mode pr: how often an open pull request is asked about (conditional requests: an unchanged answer does not count against the rate limit).", default: 30 })),
  branch: Schema.optionalKey(NonEmpty.annotate({ description: "The target branch, as the top-level branch (give one or the other)." }))
}).annotate({ description: "Where approved work lands (issue 20)." })

const MergeFile = Schema.Struct({
  strategy: Schema.optionalKey(MergeStrategy.annotate({
    description: "How approved work lands on the target branch.",
    default: defaults.merge.strategy
  })),
  on_conflict: Schema.optionalKey(OnConflict.annotate({
    description: "On a merge conflict: abort (keep the branch, report it) or send it back to the agent.",
    default: defaults.merge.on_conflict
  })),
  speculation: Schema.optionalKey(PositiveInt.check(Schema.isLessThanOrEqualTo(speculationMax, { expected: `at most ${speculationMax}` })).annotate({
    description: "How many approved changes the merge queue tests at once, each merged on top of the ones ahead of it; main still moves only to tested commits, in order. 1: one at a time.",
    default: defaults.merge.speculation
  }))
}).annotate({ description: "How approved work is merged (SPEC F6)." })

const timeout = (what: string, seconds: number) =>
  Schema.optionalKey(Seconds.annotate({ description: `Time limit of ${what}, in seconds.`, default: seconds }))

const TimeoutsFile = Schema.Struct({
  propose: timeout("one proposer call", defaults.timeouts.propose),
  review: timeout("one reviewer call", defaults.timeouts.review),
  test: timeout("the test command", defaults.timeouts.test),
  setup: timeout("the setup command", defaults.timeouts.setup),
  teardown: timeout("the teardown command", defaults.timeouts.teardown)
}).annotate({ description: "Per-call time limits in seconds; any subset, the rest keep their defaults." })

const WorktreeFile = Schema.Struct({
  ports_per_worker: Schema.optionalKey(PositiveInt.annotate({
    description: "Consecutive ports each worker owns, from $OOMPA_PORT; no two workers of a run share one.",
    default: defaults.worktree.ports_per_worker
  })),
  setup_inputs: Schema.optionalKey(Schema.Array(NonEmpty).annotate({
    description: "Globs of tracked files (package-lock.json, …): setup_command runs once per worktree, and again when one of them changes."
  })),
  copy: Schema.optionalKey(Schema.Array(NonEmpty).annotate({
    description: "Globs of files git ignores (.env, .env.local, local certificates) copied from your worktree into each worker's before setup, refreshed every iteration; never part of the agent's change."
  })),
  link: Schema.optionalKey(Schema.Array(NonEmpty).annotate({
    description: "As copy, but symlinked: the agent can write through the link into your worktree."
  }))
}).annotate({ description: "What each worker's worktree gets besides the checkout (the worktree environment contract)." })

const RateLimitFile = Schema.Struct({
  retries: Schema.optionalKey(NonNegativeInt.annotate({ description: "Retries of a call that hit a usage or rate limit; 0: none.", default: defaults.rate_limit.retries })),
  backoff_seconds: Schema.optionalKey(Seconds.annotate({
    description: "The first wait when the CLI names none (it doubles on each retry).",
    default: defaults.rate_limit.backoff_seconds
  })),
  backoff_max_seconds: Schema.optionalKey(Seconds.annotate({ description: "The longest wait.", default: defaults.rate_limit.backoff_max_seconds }))
}).annotate({
  description: "Retrying an agent call that hit a usage or rate limit: the wait the CLI names (retry-after, \"try again in 20s\") or a doubling back-off, never past the call's timeout."
})

const NotifyFile = Schema.Struct({
  on: Schema.optionalKey(Schema.Array(NotifyOn).annotate({
    description: "What to tell: merged (work landed), failed (a task moved to failed/), finished (the run ended), stalled (nothing ended or merged for stalled_after seconds).",
    default: everyNotification
  })),
  command: Schema.optionalKey(NonEmpty.annotate({ description: "Run by `sh -c` in the repository with the notice as JSON on its standard input (a failure is retried, never stops the run)." })),
  webhook: Schema.optionalKey(WebhookUrl.annotate({ description: "POSTed the notice as JSON (retried on failure, never stops the run)." })),
  stalled_after: Schema.optionalKey(Seconds.annotate({ description: "Seconds without an iteration ending or a merge before `stalled` is told.", default: defaultStalledAfterSeconds }))
}).annotate({ description: "Who is told of what: give exactly one of command and webhook." }).check(Schema.makeFilter((entry: { readonly command?: string; readonly webhook?: string }) =>
  (entry.command === undefined) === (entry.webhook === undefined) ? "give exactly one of command and webhook" : undefined
))

const HarnessOverrideFile = Schema.Struct({
  command: Schema.optionalKey(NonEmpty.annotate({ description: "Binary (or, for harness command, the program) to run." })),
  args: Schema.optionalKey(Schema.Array(Schema.String).annotate({
    description: "Extra arguments; for harness command, {worktree}, {model} and {prompt_file} are substituted."
  })),
  env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String).annotate({
    description: "Extra environment variables for the agent."
  }))
}).annotate({ identifier: "HarnessOverride" })

// Spelled out rather than mapped from `harnesses` so the field types stay precise; the `satisfies`
// keeps the list in step with AgentSpec.Harness.
const harnessFields = {
  codex: Schema.optionalKey(HarnessOverrideFile),
  claude: Schema.optionalKey(HarnessOverrideFile),
  gemini: Schema.optionalKey(HarnessOverrideFile),
  opencode: Schema.optionalKey(HarnessOverrideFile),
  command: Schema.optionalKey(HarnessOverrideFile)
} satisfies Record<AgentSpec["harness"], unknown>

const HarnessesFile = Schema.Struct(harnessFields).annotate({
  description: "Overrides of a harness's binary, extra arguments and environment (SPEC F3), by harness name.",
  [keyKindAnnotation]: "harness"
})

const ReviewerObject = Schema.Struct({
  model: describedModel("Reviewer model"),
  prompt: Schema.optionalKey(NonEmpty.annotate({ description: "Reviewer prompt file, relative to the config file." }))
})

const Reviewer = Schema.Union([describedModel("Reviewer model"), ReviewerObject]).annotate({
  identifier: "Reviewer",
  expected: "a \"harness:model\" string or {\"model\", \"prompt\"}"
})

const ReviewerList = Schema.Array(Reviewer)

const reviewerDescription = "Reviewer: a \"harness:model\" string, {model, prompt}, or a list tried in order when one " +
  "fails to answer. Give only one of review_model, review_models and reviewer. None: each worker's own model reviews."

const ReviewerValue = Schema.Union([Reviewer, ReviewerList]).annotate({
  expected: "a reviewer or a list of reviewers",
  description: reviewerDescription
})

const PlannerFile = Schema.Struct({
  model: describedModel("Planner model"),
  prompt: Schema.optionalKey(Prompt),
  max_pending: Schema.optionalKey(PositiveInt.annotate({
    description: "The planner stops creating tasks while this many are pending.",
    default: defaults.max_pending
  }))
}).annotate({ description: "(0.7) A planner that runs once before the workers." })

// ---------------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------------

interface WorkerShape {
  readonly iterations?: number
  readonly max_cycle?: number
  readonly role?: Role
  readonly can_plan?: boolean
}

/** Contradictions inside one worker entry; the path names the key to drop. */
const workerConflicts = (worker: WorkerShape): Array<Schema.FilterIssue> => {
  const issues: Array<Schema.FilterIssue> = []
  if (worker.iterations !== undefined && worker.max_cycle !== undefined) {
    issues.push({ path: ["max_cycle"], issue: "cannot be combined with \"iterations\" (max_cycle is its 0.7 name); keep one" })
  }
  if (worker.can_plan === false && (worker.role === "planner" || worker.role === "worker")) {
    issues.push({
      path: ["can_plan"],
      issue: `is false, which means role "executor", but role is "${worker.role}"; drop one`
    })
  }
  if (worker.can_plan === true && worker.role === "executor") {
    issues.push({ path: ["can_plan"], issue: "is true, but role \"executor\" never plans; drop one" })
  }
  return issues
}

const workerConflictsJsonSchema = {
  allOf: [
    { not: { required: ["iterations", "max_cycle"] } },
    { not: { required: ["can_plan", "role"], properties: { can_plan: { const: false }, role: { enum: ["planner", "worker"] } } } },
    { not: { required: ["can_plan", "role"], properties: { can_plan: { const: true }, role: { const: "executor" } } } }
  ]
}

const WorkerEntry = Schema.Struct({
  model: describedModel("Worker model"),
  iterations: Schema.optionalKey(PositiveInt.annotate({
    description: "Iterations this worker runs (0.7 name: max_cycle; give one).",
    default: defaults.iterations
  })),
  max_cycle: Schema.optionalKey(PositiveInt.annotate({ description: "(0.7) Same as iterations; give one." })),
  count: Schema.optionalKey(PositiveInt.annotate({
    description: "How many workers this entry expands into (ids w0, w1, … in file order).",
    default: defaults.count
  })),
  prompt: Schema.optionalKey(Prompt),
  role: Schema.optionalKey(Role.annotate({
    description: "worker: claims a task if one is pending, else works from its prompt and may create tasks; " +
      "planner: creates tasks, claims none; executor: claims tasks only.",
    default: defaults.role
  })),
  can_plan: Schema.optionalKey(Schema.Boolean.annotate({ description: "(0.7) false means role executor." })),
  wait_between: Schema.optionalKey(Seconds.annotate({
    description: "(0.7) Seconds between iterations; default: the top-level wait_between, else 0."
  })),
  budget: Schema.optionalKey(BudgetFile)
}).check(
  // The identifier names the checked schema, so it belongs to the (last) check.
  Schema.makeFilter(workerConflicts, { identifier: "Worker", toJsonSchema: () => workerConflictsJsonSchema })
)

// ---------------------------------------------------------------------------------------------
// The whole file
// ---------------------------------------------------------------------------------------------

/**
 * The three keys that give the reviewers, alternatives of one another: the 0.1.0 `review_model`
 * and (0.7) `review_models` and `reviewer`.
 *
 * @category constants
 * @since 0.1.0
 */
export const reviewerKeys = ["review_model", "review_models", "reviewer"] as const

/** The three reviewer keys are alternatives; every one after the first given is reported. */
const topLevelConflicts = (file: Partial<Record<(typeof reviewerKeys)[number], unknown>>): Array<Schema.FilterIssue> => {
  const given = reviewerKeys.filter((key) => file[key] !== undefined)
  return given.slice(1).map((key) => ({
    path: [key],
    issue: `cannot be combined with "${given[0]}"; give the reviewers under one key`
  }))
}

const reviewerPairs = reviewerKeys.flatMap((a, i) => reviewerKeys.slice(i + 1).map((b) => [a, b]))

/**
 * oompa.json exactly as users write it, both dialects (SPEC F1). Decode with
 * `ConfigFile.decodeConfigFile`, which also rejects unknown keys and normalizes.
 *
 * @category models
 * @since 0.1.0
 */
export const ConfigFile = Schema.Struct({
  $schema: Schema.optionalKey(Schema.String.annotate({ description: "JSON Schema of this file, for editors; ignored by oompa." })),
  workers: Schema.Array(WorkerEntry).check(Schema.isMinLength(1, { expected: "a non-empty list of workers" })).annotate({
    description: "The workers, in order; each entry expands into `count` workers with ids w0, w1, …"
  }),
  review_model: Schema.optionalKey(ReviewerValue),
  review_models: Schema.optionalKey(ReviewerList.annotate({ description: reviewerDescription })),
  reviewer: Schema.optionalKey(ReviewerValue),
  review: Schema.optionalKey(Schema.Boolean.annotate({
    description: "false turns review off: every change is auto-approved (the run says so at start).",
    default: true
  })),
  planner: Schema.optionalKey(PlannerFile),
  branch: Schema.optionalKey(NonEmpty.annotate({
    description: "Target branch. Absent: main if it exists, else master (never taken from HEAD)."
  })),
  target: Schema.optionalKey(TargetFile),
  policy: Schema.optionalKey(PolicyFile),
  merge: Schema.optionalKey(MergeFile),
  test_command: Schema.optionalKey(NonEmpty.annotate({
    description: "Run by `sh -c` on the merge result; work merges only when it passes (SPEC F8)."
  })),
  setup_command: Schema.optionalKey(NonEmpty.annotate({ description: "Run by `sh -c` in each new worktree (SPEC F5)." })),
  teardown_command: Schema.optionalKey(NonEmpty.annotate({
    description: "Run by `sh -c` in a worker's worktree before it is removed, however the run ends (Ctrl-C included), within timeouts.teardown."
  })),
  worktree: Schema.optionalKey(WorktreeFile),
  timeouts: Schema.optionalKey(TimeoutsFile),
  rate_limit: Schema.optionalKey(RateLimitFile),
  max_review_attempts: Schema.optionalKey(PositiveInt.annotate({
    description: "Reviews per iteration before the work is dropped.",
    default: defaults.max_review_attempts
  })),
  max_task_attempts: Schema.optionalKey(PositiveInt.annotate({
    description: "Iterations a task may take before it moves to failed/.",
    default: defaults.max_task_attempts
  })),
  max_merge_retries: Schema.optionalKey(NonNegativeInt.annotate({
    description: "How often conflicting approved work goes back to its agent (on_conflict: agent); 0: never.",
    default: defaults.max_merge_retries
  })),
  max_parallel: Schema.optionalKey(PositiveInt.annotate({ description: "Most workers running at once; absent: all." })),
  max_wait_for_tasks: Schema.optionalKey(Seconds.annotate({
    description: "Seconds an executor with nothing to claim waits while a planner is still alive, or while a pending task waits for one another worker holds.",
    default: defaults.max_wait_for_tasks
  })),
  wait_between: Schema.optionalKey(Seconds.annotate({
    description: "(0.7) Seconds between iterations, for workers that do not set their own.",
    default: defaults.wait_between
  })),
  tasks_dir: Schema.optionalKey(NonEmpty.annotate({
    description: "Task folder, relative to the repository's top level.",
    default: defaults.tasks_dir
  })),
  tasks: Schema.optionalKey(Schema.Struct({
    github: Schema.Struct({
      ...GitHubFile.fields,
      label: Schema.optionalKey(NonEmpty.annotate({ description: "The label that makes an issue a task.", default: "oompa" }))
    }).annotate({ description: "Take tasks from this GitHub repository's open issues with the label (token from GITHUB_TOKEN, else gh auth token); a claim is atomic on GitHub, so two runs never take one issue." })
  }).annotate({ description: "Where tasks come from instead of tasks_dir (issue 20)." })),
  worktrees_dir: Schema.optionalKey(NonEmpty.annotate({ description: "Where worker worktrees are created." })),
  harnesses: Schema.optionalKey(HarnessesFile),
  budget: Schema.optionalKey(BudgetFile),
  pricing: Schema.optionalKey(PricingFile),
  notify: Schema.optionalKey(Schema.Array(NotifyFile).annotate({ description: "Commands and webhooks told when work merges, a task fails, the run finishes or stalls (issue 22)." }))
}).annotate({
  // Before the check: annotations given after it would land on the check, not on the object.
  title: "oompa.json",
  description: "Configuration of an oompa swarm (SPEC F1); accepts the 0.1.0 and the 0.7 dialect.",
  expected: "an object with a \"workers\" list"
}).check(Schema.makeFilter(topLevelConflicts, {
  toJsonSchema: () => ({ allOf: reviewerPairs.map((pair) => ({ not: { required: pair } })) })
}))
export type ConfigFile = typeof ConfigFile.Type

/**
 * One entry of `workers` as written.
 *
 * @category models
 * @since 0.1.0
 */
export type WorkerEntry = typeof WorkerEntry.Type

/**
 * One reviewer as written: a model string or `{ model, prompt }`.
 *
 * @category models
 * @since 0.1.0
 */
export type ReviewerEntry = typeof Reviewer.Type
