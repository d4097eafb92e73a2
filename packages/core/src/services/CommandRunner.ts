/**
 * The shell boundary: runs the user's `test_command` on exactly one commit's tree (the test gate,
 * SPEC F8) and `setup_command` in a worker's workspace (SPEC F5).
 *
 * Implemented by `@oompa/adapters-node`'s `NodeCommandRunner` (`sh -c`, the test in a worktree of its
 * own) and by `@oompa/core/testing`'s scripted runner. Called by the merge queue while it holds the
 * queue, and by the iteration after a workspace reset.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { Context } from "effect"
import type { CommandError } from "./Errors.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface CommandRun {
  readonly passed: boolean
  /** Head and tail of the command's output. */
  readonly output: string
  readonly durationMs: number
  readonly timedOut: boolean
}

/**
 * @category services
 * @since 0.1.0
 */
export class CommandRunner extends Context.Service<CommandRunner, {
  /** Runs `command` on the tree of commit `sha` (the test gate). */
  readonly inCommit: (sha: string, command: string, timeoutMs: number) => Effect.Effect<CommandRun, CommandError>
  /**
   * Runs `command` in a workspace (setup after each reset, teardown before its removal), with
   * `env` on top of the process's environment (the worktree environment contract).
   */
  readonly inWorkspace: (cwd: string, command: string, timeoutMs: number, env?: Readonly<Record<string, string>>) => Effect.Effect<CommandRun, CommandError>
}>()("@oompa/core/services/CommandRunner") {}
