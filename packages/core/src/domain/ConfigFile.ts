/**
 * oompa.json as users write it (SPEC F1), and its decoding into the normalized {@link SwarmConfig}.
 *
 * The file has two dialects in the wild: 0.1.0 (`iterations`, `review_model`, `role`) and 0.7
 * (`max_cycle`, `harness:model:reasoning`, `can_plan`, a top-level `planner`, `reviewer` /
 * `review_models`, `wait_between`). {@link ConfigFile} accepts both, exactly as written, and is also
 * the source of the JSON Schema that ships for editors — so every field carries a description.
 * {@link decodeConfigFile} then unifies the dialects, expands `count`, and fills in every default, so
 * programs only ever see one shape.
 *
 * Errors are for people editing a file by hand: each problem is one line naming the file and the
 * field path (`oompa.json: workers[1].iteratons: unknown key (did you mean "iterations"?)`), and
 * all problems are reported at once rather than one per attempt.
 *
 * @since 0.1.0
 */
import { Effect, Result, Schema, type SchemaAST, type SchemaIssue } from "effect"
import { type AgentSpec, formatModelString, harnesses as harnessNames, parseModelString } from "./AgentSpec.ts"
import { WorkerId } from "./Ids.ts"
import {
  defaults,
  type HarnessOverride,
  MergeStrategy,
  OnConflict,
  type PlannerConfig,
  type ReviewerConfig,
  Role,
  type SwarmConfig,
  type WorkerConfig
} from "./SwarmConfig.ts"

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
    return typeof parsed === "string" ? `${JSON.stringify(text)} ${parsed}` : undefined
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
    description: "Most dollars allowed, counted from the harnesses that report cost (claude, opencode)."
  }))
}).annotate({
  identifier: "Budget",
  description: "Spending limits (SPEC F15). When one is spent, workers finish the current step and nothing new starts."
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

const MergeFile = Schema.Struct({
  strategy: Schema.optionalKey(MergeStrategy.annotate({
    description: "How approved work lands on the target branch.",
    default: defaults.merge.strategy
  })),
  on_conflict: Schema.optionalKey(OnConflict.annotate({
    description: "On a merge conflict: abort (keep the branch, report it) or send it back to the agent.",
    default: defaults.merge.on_conflict
  }))
}).annotate({ description: "How approved work is merged (SPEC F6)." })

const timeout = (what: string, seconds: number) =>
  Schema.optionalKey(Seconds.annotate({ description: `Time limit of ${what}, in seconds.`, default: seconds }))

const TimeoutsFile = Schema.Struct({
  propose: timeout("one proposer call", defaults.timeouts.propose),
  review: timeout("one reviewer call", defaults.timeouts.review),
  test: timeout("the test command", defaults.timeouts.test),
  setup: timeout("the setup command", defaults.timeouts.setup)
}).annotate({ description: "Per-call time limits in seconds; any subset, the rest keep their defaults." })

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

/** Annotation naming what the keys of an object are, for "unknown harness" rather than "unknown key". */
const keyKindAnnotation = "oompa/keyKind"

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

const reviewerKeys = ["review_model", "review_models", "reviewer"] as const

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
 * {@link decodeConfigFile}, which also rejects unknown keys and normalizes.
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
  policy: Schema.optionalKey(PolicyFile),
  merge: Schema.optionalKey(MergeFile),
  test_command: Schema.optionalKey(NonEmpty.annotate({
    description: "Run by `sh -c` on the merge result; work merges only when it passes (SPEC F8)."
  })),
  setup_command: Schema.optionalKey(NonEmpty.annotate({ description: "Run by `sh -c` in each new worktree (SPEC F5)." })),
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
    description: "Seconds an executor with nothing to claim waits while a planner is still alive.",
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
  worktrees_dir: Schema.optionalKey(NonEmpty.annotate({ description: "Where worker worktrees are created." })),
  harnesses: Schema.optionalKey(HarnessesFile),
  budget: Schema.optionalKey(BudgetFile)
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

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * One problem of a config file: a field path such as `workers[0].count` (empty for the whole file)
 * and what is wrong with it.
 *
 * @category models
 * @since 0.1.0
 */
export const ConfigProblem = Schema.Struct({ path: Schema.String, message: Schema.String })
export type ConfigProblem = typeof ConfigProblem.Type

/**
 * Raised when oompa.json cannot be parsed or decoded; `message` is one `<file>: <path>: <message>`
 * line per problem, ready to print.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  file: Schema.String,
  problems: Schema.Array(ConfigProblem)
}) {
  override get message(): string {
    return this.problems
      .map((problem) => problem.path === "" ? `${this.file}: ${problem.message}` : `${this.file}: ${problem.path}: ${problem.message}`)
      .join("\n")
  }
}

// ---------------------------------------------------------------------------------------------
// Issue formatting
// ---------------------------------------------------------------------------------------------

/** `workers[1].iterations`; keys that are not plain names are quoted, as in JavaScript. */
const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((segment, index) => {
    if (typeof segment === "number") return `[${segment}]`
    const key = String(segment)
    if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return index === 0 ? key : `.${key}`
    return `[${JSON.stringify(key)}]`
  }).join("")

const valueAt = (root: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>((value, segment) =>
    typeof value === "object" && value !== null && Object.hasOwn(value, segment)
      ? (value as Record<PropertyKey, unknown>)[segment]
      : undefined, root)

const describeValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

const lastCheckExpected = (ast: SchemaAST.AST): string | undefined => {
  const last = ast.checks?.[ast.checks.length - 1]
  const expected = last?.annotations?.expected
  return typeof expected === "string" ? expected : undefined
}

/** What a schema node accepts, in words, for "expected …, got …". */
const expectedOf = (ast: SchemaAST.AST): string => {
  const own = ast.annotations?.expected
  if (typeof own === "string") return own
  const fromCheck = lastCheckExpected(ast)
  if (fromCheck !== undefined) return fromCheck
  switch (ast._tag) {
    case "String":
      return "a string"
    case "Number":
      return "a number"
    case "Boolean":
      return "true or false"
    case "Objects":
      return "an object"
    case "Arrays":
      return "a list"
    case "Literal":
      return JSON.stringify(ast.literal)
    case "Union":
      return ast.types.every((member) => member._tag === "Literal")
        ? `one of ${ast.types.map(expectedOf).join(", ")}`
        : ast.types.map(expectedOf).join(" or ")
    default:
      return "a valid value"
  }
}

/** Levenshtein distance, for "did you mean"; keys are short, so the quadratic table is fine. */
const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution))
    }
    previous = current
  }
  return previous[b.length]!
}

/**
 * The valid key closest to `key`, if one is close enough to be a likely typo: same letters up to
 * case, `_` and `-`, or within a third of the key's length in edits (at least 2).
 *
 * @category formatting
 * @since 0.1.0
 */
export const didYouMean = (key: string, validKeys: ReadonlyArray<string>): string | undefined => {
  const loose = (text: string) => text.toLowerCase().replace(/[_-]/g, "")
  const sameLetters = validKeys.find((valid) => loose(valid) === loose(key))
  if (sameLetters !== undefined) return sameLetters
  const limit = Math.max(2, Math.floor(key.length / 3))
  let best: { readonly key: string; readonly distance: number } | undefined
  for (const valid of validKeys) {
    const distance = editDistance(key.toLowerCase(), valid.toLowerCase())
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key: valid, distance }
  }
  return best?.key
}

const unknownKeyMessage = (key: string, objectAst: SchemaAST.AST): string => {
  const validKeys = objectAst._tag === "Objects" ? objectAst.propertySignatures.map((ps) => String(ps.name)) : []
  const kind = objectAst.annotations?.[keyKindAnnotation] === "harness" ? "harness" : "key"
  const suggestion = didYouMean(key, validKeys)
  if (suggestion !== undefined) return `unknown ${kind} (did you mean "${suggestion}"?)`
  return validKeys.length === 0 ? `unknown ${kind}` : `unknown ${kind}; expected one of ${validKeys.join(", ")}`
}

interface Walk {
  readonly root: unknown
  readonly out: Array<ConfigProblem>
}

/** Flattens an issue tree into one problem per leaf, with the path the leaf sits at. */
const collectProblems = (
  issue: SchemaIssue.Issue,
  path: ReadonlyArray<PropertyKey>,
  owner: SchemaAST.AST | undefined,
  walk: Walk
): void => {
  const push = (message: string): void => {
    walk.out.push({ path: formatPath(path), message })
  }
  const got = () => describeValue(valueAt(walk.root, path))
  switch (issue._tag) {
    case "Pointer":
      return collectProblems(issue.issue, [...path, ...issue.path], owner, walk)
    case "Composite":
      return issue.issues.forEach((child) => collectProblems(child, path, issue.ast, walk))
    case "Filter":
    case "Encoding":
      return collectProblems(issue.issue, path, owner, walk)
    case "AnyOf":
      // Members that got past the type test explain the failure best; none did: a plain type mismatch.
      if (issue.issues.length > 0) return issue.issues.forEach((child) => collectProblems(child, path, issue.ast, walk))
      return push(`expected ${expectedOf(issue.ast)}, got ${got()}`)
    case "InvalidType":
      return push(`expected ${expectedOf(issue.ast)}, got ${got()}`)
    case "InvalidValue": {
      const message = issue.annotations?.message
      if (typeof message === "string") return push(message)
      return push(`expected ${owner === undefined ? "a valid value" : expectedOf(owner)}, got ${got()}`)
    }
    case "MissingKey":
      return push("is required")
    case "UnexpectedKey":
      return push(unknownKeyMessage(String(path[path.length - 1] ?? ""), issue.ast))
    case "Forbidden":
      return push(issue.annotations?.message ?? "is not allowed")
    case "OneOf":
      return push(`matches more than one of ${expectedOf(issue.ast)}`)
  }
}

const problemsOf = (issue: SchemaIssue.Issue, root: unknown): Array<ConfigProblem> => {
  const walk: Walk = { root, out: [] }
  collectProblems(issue, [], undefined, walk)
  const seen = new Set<string>()
  return walk.out.filter((problem) => {
    const key = `${problem.path}\u0000${problem.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

const lineAndColumn = (text: string, position: number): { readonly line: number; readonly column: number } => {
  const before = text.slice(0, position)
  const lines = before.split("\n")
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 }
}

/** JSON.parse, with V8's "at position N" turned into a line and column a person can go to. */
const parseJson = (text: string): Result.Result<unknown, ConfigProblem> =>
  Result.try({
    try: (): unknown => JSON.parse(text),
    catch: (cause): ConfigProblem => {
      const raw = cause instanceof Error ? cause.message : String(cause)
      const position = /at position (\d+)/.exec(raw)?.[1]
      const where = lineAndColumn(text, position === undefined ? text.length : Number(position))
      const reason = raw.replace(/\s*(?:in JSON )?at position \d+(?: \(line \d+ column \d+\))?/, "")
      return { path: "", message: `invalid JSON at line ${where.line}, column ${where.column}: ${reason}` }
    }
  })

// ---------------------------------------------------------------------------------------------
// Normalization
// ---------------------------------------------------------------------------------------------

const promptList = (prompt: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  prompt === undefined ? [] : typeof prompt === "string" ? [prompt] : prompt

type Normalize<A> = Result.Result<A, ConfigProblem>

// Model strings were validated by the Schema; a failure here would be a bug, still reported as a problem.
const agentAt = (model: string, path: string): Normalize<AgentSpec> => {
  const parsed = parseModelString(model)
  return typeof parsed === "string" ? Result.fail({ path, message: `${JSON.stringify(model)} ${parsed}` }) : Result.succeed(parsed)
}

const roleOf = (entry: WorkerEntry): Role => entry.role ?? (entry.can_plan === false ? "executor" : defaults.role)

const expandWorkers = (file: ConfigFile): Normalize<ReadonlyArray<WorkerConfig>> => {
  const workers: Array<WorkerConfig> = []
  for (const [index, entry] of file.workers.entries()) {
    const agent = agentAt(entry.model, `workers[${index}].model`)
    if (Result.isFailure(agent)) return Result.fail(agent.failure)
    for (let copy = 0; copy < (entry.count ?? defaults.count); copy++) {
      workers.push({
        id: WorkerId.make(`w${workers.length}`),
        agent: agent.success,
        role: roleOf(entry),
        iterations: entry.iterations ?? entry.max_cycle ?? defaults.iterations,
        prompt: promptList(entry.prompt),
        wait_between: entry.wait_between ?? file.wait_between ?? defaults.wait_between,
        budget: entry.budget ?? {}
      })
    }
  }
  return Result.succeed(workers)
}

type ReviewerEntry = typeof Reviewer.Type

const reviewersOf = (file: ConfigFile): Normalize<ReadonlyArray<ReviewerConfig>> => {
  const key = reviewerKeys.find((name) => file[name] !== undefined)
  if (key === undefined) return Result.succeed([])
  const value = file[key]!
  const entries: ReadonlyArray<ReviewerEntry> = Array.isArray(value) ? value : [value as ReviewerEntry]
  const reviewers: Array<ReviewerConfig> = []
  for (const [index, entry] of entries.entries()) {
    const model = typeof entry === "string" ? entry : entry.model
    const path = Array.isArray(value) ? `${key}[${index}]` : key
    const agent = agentAt(model, typeof entry === "string" ? path : `${path}.model`)
    if (Result.isFailure(agent)) return Result.fail(agent.failure)
    const prompt = typeof entry === "string" ? undefined : entry.prompt
    reviewers.push({ agent: agent.success, ...(prompt === undefined ? {} : { prompt }) })
  }
  return Result.succeed(reviewers)
}

const plannerOf = (file: ConfigFile): Normalize<PlannerConfig | undefined> => {
  if (file.planner === undefined) return Result.succeed(undefined)
  const planner = file.planner
  return Result.map(agentAt(planner.model, "planner.model"), (agent) => ({
    agent,
    prompt: promptList(planner.prompt),
    max_pending: planner.max_pending ?? defaults.max_pending
  }))
}

const harnessesOf = (file: ConfigFile): Record<string, HarnessOverride> => {
  const out: Record<string, HarnessOverride> = {}
  for (const [name, override] of Object.entries(file.harnesses ?? {})) {
    if (override !== undefined) out[name] = override
  }
  return out
}

const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

/**
 * A decoded file as the one shape programs use: workers expanded by `count` into `w0, w1, …` in
 * file order, reviewers unified from whichever key was used, every default of SPEC F1 applied.
 *
 * @category decoding
 * @since 0.1.0
 */
export const normalize = (file: ConfigFile): Result.Result<SwarmConfig, ConfigProblem> =>
  Result.flatMap(expandWorkers(file), (workers) =>
    Result.flatMap(reviewersOf(file), (reviewers) =>
      Result.map(plannerOf(file), (planner): SwarmConfig => ({
        workers,
        reviewers,
        review: file.review ?? true,
        ...optional("planner", planner),
        ...optional("branch", file.branch),
        policy: file.policy ?? {},
        merge: {
          strategy: file.merge?.strategy ?? defaults.merge.strategy,
          on_conflict: file.merge?.on_conflict ?? defaults.merge.on_conflict
        },
        ...optional("test_command", file.test_command),
        ...optional("setup_command", file.setup_command),
        timeouts: { ...defaults.timeouts, ...file.timeouts },
        rate_limit: { ...defaults.rate_limit, ...file.rate_limit },
        max_review_attempts: file.max_review_attempts ?? defaults.max_review_attempts,
        max_task_attempts: file.max_task_attempts ?? defaults.max_task_attempts,
        max_merge_retries: file.max_merge_retries ?? defaults.max_merge_retries,
        ...optional("max_parallel", file.max_parallel),
        max_wait_for_tasks: file.max_wait_for_tasks ?? defaults.max_wait_for_tasks,
        tasks_dir: file.tasks_dir ?? defaults.tasks_dir,
        ...optional("worktrees_dir", file.worktrees_dir),
        harnesses: harnessesOf(file),
        budget: file.budget ?? {}
      }))))

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

const decodeFile = Schema.decodeUnknownResult(ConfigFile, { errors: "all", onExcessProperty: "error" })

/**
 * Parses and decodes the text of an oompa.json named `file` (the name only goes into messages).
 * Pure and synchronous; {@link decodeConfigFile} is the same as an Effect.
 *
 * @category decoding
 * @since 0.1.0
 */
export const decodeConfigFileResult = (text: string, file: string): Result.Result<SwarmConfig, ConfigError> => {
  const fail = (problems: ReadonlyArray<ConfigProblem>) => Result.fail(new ConfigError({ file, problems }))
  const json = parseJson(text)
  if (Result.isFailure(json)) return fail([json.failure])
  const decoded = decodeFile(json.success)
  if (Result.isFailure(decoded)) return fail(problemsOf(decoded.failure.issue, json.success))
  const config = normalize(decoded.success)
  return Result.isFailure(config) ? fail([config.failure]) : Result.succeed(config.success)
}

/**
 * Parses and decodes the text of an oompa.json named `file`: both dialects, unknown keys rejected
 * with a did-you-mean hint, every problem reported with its field path, then normalized.
 *
 * @category decoding
 * @since 0.1.0
 */
export const decodeConfigFile = (text: string, file: string): Effect.Effect<SwarmConfig, ConfigError> =>
  Effect.suspend(() => Effect.fromResult(decodeConfigFileResult(text, file)))

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const promptValue = (prompt: ReadonlyArray<string>): string | ReadonlyArray<string> | undefined =>
  prompt.length === 0 ? undefined : prompt.length === 1 ? prompt[0] : prompt

const nonEmpty = <A extends object>(value: A): A | undefined => Object.keys(value).length === 0 ? undefined : value

const unlessDefault = <A>(value: A, fallback: A): A | undefined => value === fallback ? undefined : value

const encodeWorker = (worker: WorkerConfig): WorkerEntry => ({
  model: formatModelString(worker.agent),
  iterations: worker.iterations,
  ...optional("role", unlessDefault(worker.role, defaults.role)),
  ...optional("prompt", promptValue(worker.prompt)),
  ...optional("wait_between", unlessDefault(worker.wait_between, defaults.wait_between)),
  ...optional("budget", nonEmpty(worker.budget))
})

const encodeReviewer = (reviewer: ReviewerConfig): ReviewerEntry =>
  reviewer.prompt === undefined
    ? formatModelString(reviewer.agent)
    : { model: formatModelString(reviewer.agent), prompt: reviewer.prompt }

const encodeReviewers = (reviewers: ReadonlyArray<ReviewerConfig>): Pick<ConfigFile, "review_model" | "review_models"> => {
  const first = reviewers[0]
  if (first === undefined) return {}
  return reviewers.length === 1 ? { review_model: encodeReviewer(first) } : { review_models: reviewers.map(encodeReviewer) }
}

const encodeDefaults = <A extends Record<string, unknown>>(value: A, fallback: A): Partial<A> | undefined => {
  const out: Partial<Mutable<A>> = {}
  for (const key of Object.keys(value) as Array<keyof A>) {
    if (value[key] !== fallback[key]) out[key] = value[key]
  }
  return nonEmpty(out as Partial<A>)
}

/**
 * The canonical oompa.json of a normalized config: one entry per worker (ids come back in file
 * order), values equal to their defaults left out. `decode(JSON.stringify(encode(c)))` gives `c`
 * back for any config a file can express.
 *
 * @category encoding
 * @since 0.1.0
 */
export const encodeConfigFile = (config: SwarmConfig): ConfigFile => ({
  workers: config.workers.map(encodeWorker),
  ...encodeReviewers(config.reviewers),
  ...optional("review", config.review ? undefined : false),
  ...optional("planner", config.planner === undefined ? undefined : {
    model: formatModelString(config.planner.agent),
    ...optional("prompt", promptValue(config.planner.prompt)),
    ...optional("max_pending", unlessDefault(config.planner.max_pending, defaults.max_pending))
  }),
  ...optional("branch", config.branch),
  ...optional("policy", nonEmpty(config.policy)),
  ...optional("merge", encodeDefaults(config.merge, defaults.merge)),
  ...optional("test_command", config.test_command),
  ...optional("setup_command", config.setup_command),
  ...optional("timeouts", encodeDefaults(config.timeouts, defaults.timeouts)),
  ...optional("rate_limit", encodeDefaults(config.rate_limit, defaults.rate_limit)),
  ...optional("max_review_attempts", unlessDefault(config.max_review_attempts, defaults.max_review_attempts)),
  ...optional("max_task_attempts", unlessDefault(config.max_task_attempts, defaults.max_task_attempts)),
  ...optional("max_merge_retries", unlessDefault(config.max_merge_retries, defaults.max_merge_retries)),
  ...optional("max_parallel", config.max_parallel),
  ...optional("max_wait_for_tasks", unlessDefault(config.max_wait_for_tasks, defaults.max_wait_for_tasks)),
  ...optional("tasks_dir", unlessDefault(config.tasks_dir, defaults.tasks_dir)),
  ...optional("worktrees_dir", config.worktrees_dir),
  ...optional("harnesses", nonEmpty(config.harnesses)),
  ...optional("budget", nonEmpty(config.budget))
})

/**
 * The example oompa.json the CLI prints when the file is missing: a planner, three executors, a
 * reviewer, a policy and a test gate.
 *
 * @category constants
 * @since 0.1.0
 */
export const exampleConfig: string = `{
  "workers": [
    { "model": "claude:opus", "role": "planner", "iterations": 5 },
    { "model": "codex:gpt-5-codex-mini", "role": "executor", "count": 3, "iterations": 10 }
  ],
  "review_model": "codex:gpt-5-codex:high",
  "policy": {
    "allow": ["src/**", "test/**"],
    "deny": ["secrets/**"],
    "max_lines_added": 800,
    "max_files": 10
  },
  "test_command": "npm test",
  "max_review_attempts": 3
}
`
