/**
 * The services one run's programs share, built once per run: who the run is and what it was asked
 * to do (`CurrentRun`), what it learns as it goes (`RunState`), its merge queue and its budget. A
 * worker adds `CurrentWorker` for its iterations. Programs ask for what they use, instead of a
 * record threaded through every call.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Ref } from "effect"
import { makePromptCache, type NoteEntry, type PromptCache } from "../domain/Prompt.ts"
import type { SwarmConfig, WorkerConfig } from "../domain/SwarmConfig.ts"
import type { Task } from "../domain/Task.ts"
import * as WorktreeEnvironment from "../domain/WorktreeEnvironment.ts"
import type { CommandRunner } from "../services/CommandRunner.ts"
import type { GitError } from "../services/Errors.ts"
import type { EventSink } from "../services/EventSink.ts"
import type { Git, Workspace } from "../services/Git.ts"
import { PullRequests } from "../services/PullRequests.ts"
import * as BudgetTracker from "./BudgetTracker.ts"
import * as MergeQueue from "./MergeQueue.ts"
import * as PolicyGate from "./PolicyGate.ts"
import * as PullRequestLanding from "./PullRequestLanding.ts"

/**
 * What the run is: `swarm`, `run`, `loop` or `prompt` (shown to agents in the context header).
 *
 * @category models
 * @since 0.1.0
 */
export type Mode = "swarm" | "run" | "loop" | "prompt"

/**
 * How a run was started: its id and mode, and the switches of SPEC F10.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunOptions {
  readonly runId: string
  readonly mode?: Mode
  /** Everything but the merge (SPEC F10 `--dry-run`). */
  readonly dryRun?: boolean
  /** Keep worktrees and branches after merging (SPEC F10 `--keep-worktrees`). */
  readonly keepBranches?: boolean
  /**
   * The user's repository and the run's first port, for the worktree environment contract (issue
   * 18). Without them the variables omit `OOMPA_REPO` and ports start at 20000.
   */
  readonly environment?: { readonly repo?: string; readonly portBase?: number }
}

/**
 * The run: its id, mode, configuration, switches and compiled policy. Never changes.
 *
 * @category services
 * @since 0.1.0
 */
export class CurrentRun extends Context.Service<CurrentRun, {
  readonly runId: string
  readonly mode: Mode
  readonly config: SwarmConfig
  readonly policy: PolicyGate.PolicyGate
  readonly dryRun: boolean
  readonly keepBranches: boolean
  /** The user's repository, when the host said (`OOMPA_REPO`). */
  readonly repo: string | undefined
  /** Where the run's ports start and how many each worker owns (`OOMPA_PORT`). */
  readonly ports: WorktreeEnvironment.Ports
}>()("@oompa/core/programs/RunServices/CurrentRun") {}

/**
 * The run's prompt caches: compiled templates and rendered values, the last context header a prompt
 * carried and what it was rendered from, and the notes read from main's last head. Prompts of one
 * iteration, and of every worker between two changes of main or the queue, see the same state, and
 * rendering the header is the costliest step of a prompt.
 *
 * @category models
 * @since 0.1.0
 */
export interface PromptMemo {
  /** Compiled templates and the header's rendered values, bounded. */
  readonly cache: PromptCache
  header?: {
    readonly head: string
    readonly counts: { readonly pending: number; readonly current: number; readonly complete: number; readonly failed: number }
    readonly pending: ReadonlyArray<Task>
    readonly text: string
  }
  notes?: { readonly head: string; readonly notes: ReadonlyArray<NoteEntry> }
}

/**
 * What the run learns as it goes, shared by its workers.
 *
 * @category services
 * @since 0.1.0
 */
export class RunState extends Context.Service<RunState, {
  /** Unknown prompt tokens already reported, so each is reported once (SPEC F11). */
  readonly reportedTokens: Ref.Ref<ReadonlySet<string>>
  /** Why an agent cannot run in this run (not logged in, binary gone), once one could not: the run stops. */
  readonly unavailable: Ref.Ref<Option.Option<string>>
  /** Tasks this run moved to `failed/` because a dependency failed (no iteration of theirs ran). */
  readonly dependentsFailed: Ref.Ref<number>
  /** The prompts' memo (see `PromptMemo`); only the prompt renderer reads and writes it. */
  readonly prompts: PromptMemo
}>()("@oompa/core/programs/RunServices/RunState") {}

/**
 * The worker whose iterations are running, and its workspace.
 *
 * @category services
 * @since 0.1.0
 */
export class CurrentWorker extends Context.Service<CurrentWorker, {
  readonly worker: WorkerConfig
  readonly workspace: Workspace
  /** What its processes are told (the worktree environment contract). */
  readonly environment: WorktreeEnvironment.WorkerEnvironment
  /** The last `setup_command` that passed in its worktree; `undefined` until one has. */
  readonly setup: Ref.Ref<SetupDone | undefined>
}>()("@oompa/core/programs/RunServices/CurrentWorker") {}

/**
 * A setup that passed in a worker's worktree: what its inputs held, and whether a reset keeps what
 * it did (it only created files).
 *
 * @category models
 * @since 0.1.0
 */
export interface SetupDone {
  readonly inputs: string | undefined
  readonly reusable: boolean
}

/**
 * How the run's merge queue lands: its options from the configuration.
 *
 * @category constructors
 * @since 0.1.0
 */
export const landingOf = (config: SwarmConfig, policy: PolicyGate.PolicyGate, dryRun: boolean): MergeQueue.Options => ({
  strategy: config.merge.strategy,
  policy,
  testCommand: config.test_command,
  testTimeoutMs: config.timeouts.test * 1000,
  dryRun,
  speculation: config.merge.speculation
})

/**
 * Every run-scoped service.
 *
 * @category models
 * @since 0.1.0
 */
export type RunServices = CurrentRun | RunState | MergeQueue.MergeQueue | BudgetTracker.BudgetTracker

/**
 * The run's services, built when the run starts: the merge queue's fiber lives as long as the layer.
 * `shared` replaces what a cluster's runners share: `mergeQueue`, the run's own queue with one that
 * lands elsewhere (on another runner); `budget`, the run's tracker with one that counts every
 * runner's calls (`make` is given this run's own tracker, for what it keeps locally).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  config: SwarmConfig,
  options: RunOptions,
  shared: {
    readonly mergeQueue?: MergeQueue.MergeQueue["Service"]
    readonly budget?: (local: BudgetTracker.BudgetTracker["Service"]) => Effect.Effect<BudgetTracker.BudgetTracker["Service"]>
  } = {}
): Layer.Layer<RunServices, GitError, Git | EventSink | CommandRunner> =>
  Layer.effectContext(Effect.gen(function*() {
    const policy = PolicyGate.make(config.policy, config.tasks_dir)
    const dryRun = options.dryRun ?? false
    const run = CurrentRun.of({
      runId: options.runId,
      mode: options.mode ?? "swarm",
      config,
      policy,
      dryRun,
      keepBranches: options.keepBranches ?? false,
      repo: options.environment?.repo,
      ports: { base: options.environment?.portBase ?? WorktreeEnvironment.defaultPortBase, perWorker: config.worktree.ports_per_worker }
    })
    const state = RunState.of({
      reportedTokens: yield* Ref.make<ReadonlySet<string>>(new Set()),
      unavailable: yield* Ref.make(Option.none<string>()),
      dependentsFailed: yield* Ref.make(0),
      prompts: { cache: makePromptCache() }
    })
    const local = yield* BudgetTracker.make(config.budget)
    const budget = shared.budget === undefined ? local : yield* shared.budget(local)
    const landing = landingOf(config, policy, dryRun)
    const target = config.target
    const mergeQueue = shared.mergeQueue
    const queue = mergeQueue !== undefined ? mergeQueue : target?.mode === "pr"
      ? yield* Effect.flatMap(Effect.serviceOption(PullRequests), (pullRequests) =>
        Option.isNone(pullRequests)
          // The host building the run provides it from `target.github` (`@oompa/adapters-node`'s GitHubPullRequests).
          ? Effect.die(new Error("target.mode is \"pr\", but the run was given no PullRequests service"))
          : Effect.provideService(PullRequestLanding.make({ ...landing, autoMerge: target.auto_merge, pollMs: target.poll_seconds * 1000 }), PullRequests, pullRequests.value))
      : yield* MergeQueue.make(landing)
    return Context.make(CurrentRun, run).pipe(
      Context.add(RunState, state),
      Context.add(BudgetTracker.BudgetTracker, budget),
      Context.add(MergeQueue.MergeQueue, queue)
    )
  }))
