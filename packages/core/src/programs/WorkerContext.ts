/**
 * Everything one worker's iterations share: the run, the config, its workspace, the merge queue,
 * the budget and the compiled policy. Built by the swarm, read by the worker and the iteration.
 *
 * @since 0.1.0
 */
import type { Option, Ref } from "effect"
import type { SwarmConfig, WorkerConfig } from "../domain/SwarmConfig.ts"
import type { Workspace } from "../services/Git.ts"
import type { BudgetTracker } from "./BudgetTracker.ts"
import type { MergeQueue } from "./MergeQueue.ts"
import type { PolicyGate } from "./PolicyGate.ts"

/**
 * What the run is: `swarm`, `run`, `loop` or `prompt` (shown to agents in the context header).
 *
 * @category models
 * @since 0.1.0
 */
export type Mode = "swarm" | "run" | "loop" | "prompt"

/**
 * Shared by every worker of a run.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunContext {
  readonly runId: string
  readonly mode: Mode
  readonly config: SwarmConfig
  readonly mergeQueue: MergeQueue
  readonly budget: BudgetTracker
  readonly policy: PolicyGate
  /** Everything but the merge (SPEC F10 `--dry-run`). */
  readonly dryRun: boolean
  /** Keep branches after merging (SPEC F10 `--keep-worktrees`). */
  readonly keepBranches: boolean
  /** Unknown prompt tokens already reported, so each is reported once (SPEC F11). */
  readonly reportedTokens: Ref.Ref<ReadonlySet<string>>
  /** Why an agent cannot run in this run (not logged in, binary gone), once one could not: the run stops. */
  readonly unavailable: Ref.Ref<Option.Option<string>>
}

/**
 * One worker's view of the run.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkerContext extends RunContext {
  readonly worker: WorkerConfig
  readonly workspace: Workspace
}
