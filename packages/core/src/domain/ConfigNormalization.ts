/**
 * A decoded oompa.json and the normalized {@link SwarmConfig}, both ways: {@link normalize} unifies
 * the two dialects, expands `count` and fills in every default of SPEC F1, so programs only ever
 * see one shape; {@link encodeConfigFile} writes a config back as the canonical file.
 *
 * Both sides are plain data: the file as the Schema gives it (`ConfigFileSchema.ts`), and the
 * config programs use (`SwarmConfig.ts`). `decode(JSON.stringify(encode(c)))` gives `c` back for
 * any config a file can express.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { type AgentSpec, formatModelString, parseModelString } from "./AgentSpec.ts"
import { type ConfigFile, type ReviewerEntry, reviewerKeys, type WorkerEntry } from "./ConfigFileSchema.ts"
import type { ConfigProblem } from "./ConfigProblems.ts"
import { WorkerId } from "./Ids.ts"
import { defaultStalledAfterSeconds, everyNotification } from "./NotifyTarget.ts"
import {
  defaults,
  type HarnessOverride,
  type PlannerConfig,
  type ReviewerConfig,
  type Role,
  type SwarmConfig,
  type TargetConfig,
  type WorkerConfig
} from "./SwarmConfig.ts"

// ---------------------------------------------------------------------------------------------
// Normalization
// ---------------------------------------------------------------------------------------------

const promptList = (prompt: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  prompt === undefined ? [] : typeof prompt === "string" ? [prompt] : prompt

type Normalize<A> = Result.Result<A, ConfigProblem>

// Model strings were validated by the Schema; a failure here would be a bug, still reported as a problem.
const agentAt = (model: string, path: string): Normalize<AgentSpec> => {
  const parsed = parseModelString(model)
  return Result.isFailure(parsed) ? Result.fail({ path, message: `${JSON.stringify(model)} ${parsed.failure.message}` }) : Result.succeed(parsed.success)
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
/** How often an open pull request is asked about by default (seconds). */
const defaultPollSeconds = 30

/** `target` and `branch` as one: the branch named once, a remote exactly when mode is push or pr. */
const targetOf = (file: ConfigFile): Normalize<{ readonly branch: string | undefined; readonly target: TargetConfig | undefined }> => {
  const target = file.target
  if (target?.branch !== undefined && file.branch !== undefined && target.branch !== file.branch) {
    return Result.fail({ path: "target.branch", message: `names ${JSON.stringify(target.branch)} but branch names ${JSON.stringify(file.branch)}: give the target branch once` })
  }
  const branch = target?.branch ?? file.branch
  for (const key of ["github", "auto_merge", "poll_seconds"] as const) {
    if (target?.mode !== "pr" && target?.[key] !== undefined) {
      return Result.fail({ path: `target.${key}`, message: `is given, but target.mode is ${JSON.stringify(target.mode ?? "local")}: it applies to mode "pr" only` })
    }
  }
  if (target?.mode === "push") {
    if (target.remote === undefined) return Result.fail({ path: "target.remote", message: "is missing: mode push lands on a git remote (origin, or a URL)" })
    return Result.succeed({ branch, target: { remote: target.remote, mode: "push" } })
  }
  if (target?.mode === "pr") {
    if (target.github === undefined) return Result.fail({ path: "target.github", message: "is missing: mode pr opens pull requests on a GitHub repository ({\"owner\": …, \"repo\": …})" })
    return Result.succeed({
      branch,
      target: {
        remote: target.remote ?? "origin",
        mode: "pr",
        github: target.github,
        auto_merge: target.auto_merge ?? false,
        poll_seconds: target.poll_seconds ?? defaultPollSeconds
      }
    })
  }
  if (target?.remote !== undefined) return Result.fail({ path: "target.mode", message: `is ${JSON.stringify(target.mode ?? "local")}, but target.remote is given: set mode to "push" to land on the remote` })
  return Result.succeed({ branch, target: undefined })
}

export const normalize = (file: ConfigFile): Result.Result<SwarmConfig, ConfigProblem> =>
  Result.flatMap(Result.flatMap(expandWorkers(file), (workers) => Result.map(targetOf(file), (target) => ({ workers, ...target }))), ({ branch, target, workers }) =>
    Result.flatMap(reviewersOf(file), (reviewers) =>
      Result.map(plannerOf(file), (planner): SwarmConfig => ({
        workers,
        reviewers,
        review: file.review ?? true,
        ...optional("planner", planner),
        ...optional("branch", branch),
        ...optional("target", target),
        policy: file.policy ?? {},
        merge: {
          strategy: file.merge?.strategy ?? defaults.merge.strategy,
          on_conflict: file.merge?.on_conflict ?? defaults.merge.on_conflict,
          speculation: file.merge?.speculation ?? defaults.merge.speculation
        },
        ...optional("test_command", file.test_command),
        ...optional("setup_command", file.setup_command),
        ...optional("teardown_command", file.teardown_command),
        worktree: { ...defaults.worktree, ...file.worktree },
        timeouts: { ...defaults.timeouts, ...file.timeouts },
        rate_limit: { ...defaults.rate_limit, ...file.rate_limit },
        max_review_attempts: file.max_review_attempts ?? defaults.max_review_attempts,
        max_task_attempts: file.max_task_attempts ?? defaults.max_task_attempts,
        max_merge_retries: file.max_merge_retries ?? defaults.max_merge_retries,
        ...optional("max_parallel", file.max_parallel),
        max_wait_for_tasks: file.max_wait_for_tasks ?? defaults.max_wait_for_tasks,
        tasks_dir: file.tasks_dir ?? defaults.tasks_dir,
        ...optional("tasks", file.tasks === undefined ? undefined : { github: { ...file.tasks.github, label: file.tasks.github.label ?? "oompa" } }),
        ...optional("worktrees_dir", file.worktrees_dir),
        harnesses: harnessesOf(file),
        budget: file.budget ?? {},
        pricing: file.pricing ?? {},
        ...optional("notify", file.notify?.map((entry) => ({
          ...entry,
          on: entry.on ?? everyNotification,
          stalled_after: entry.stalled_after ?? defaultStalledAfterSeconds
        })))
      }))))

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
  ...optional("target", config.target),
  ...optional("policy", nonEmpty(config.policy)),
  ...optional("merge", encodeDefaults(config.merge, defaults.merge)),
  ...optional("test_command", config.test_command),
  ...optional("setup_command", config.setup_command),
  ...optional("teardown_command", config.teardown_command),
  ...optional("worktree", nonEmpty({
    ...optional("ports_per_worker", unlessDefault(config.worktree.ports_per_worker, defaults.worktree.ports_per_worker)),
    ...optional("setup_inputs", config.worktree.setup_inputs.length === 0 ? undefined : config.worktree.setup_inputs),
    ...optional("copy", config.worktree.copy.length === 0 ? undefined : config.worktree.copy),
    ...optional("link", config.worktree.link.length === 0 ? undefined : config.worktree.link)
  })),
  ...optional("timeouts", encodeDefaults(config.timeouts, defaults.timeouts)),
  ...optional("rate_limit", encodeDefaults(config.rate_limit, defaults.rate_limit)),
  ...optional("max_review_attempts", unlessDefault(config.max_review_attempts, defaults.max_review_attempts)),
  ...optional("max_task_attempts", unlessDefault(config.max_task_attempts, defaults.max_task_attempts)),
  ...optional("max_merge_retries", unlessDefault(config.max_merge_retries, defaults.max_merge_retries)),
  ...optional("max_parallel", config.max_parallel),
  ...optional("max_wait_for_tasks", unlessDefault(config.max_wait_for_tasks, defaults.max_wait_for_tasks)),
  ...optional("tasks_dir", unlessDefault(config.tasks_dir, defaults.tasks_dir)),
  ...optional("tasks", config.tasks),
  ...optional("worktrees_dir", config.worktrees_dir),
  ...optional("harnesses", nonEmpty(config.harnesses)),
  ...optional("budget", nonEmpty(config.budget)),
  ...optional("pricing", nonEmpty(config.pricing)),
  ...optional("notify", config.notify)
})
