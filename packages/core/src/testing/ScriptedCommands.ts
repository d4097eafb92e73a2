/**
 * A scripted `CommandRunner`: the test gate and `setup_command`/`teardown_command` answered by
 * functions of the commit's tree (test) or the workspace path and command (setup, teardown), taking
 * simulated time through `Clock`.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { CommandRunner, type CommandRun } from "../services/CommandRunner.ts"
import type { FileContent, MemoryRepo } from "./MemoryGit.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface CommandScripts {
  /** The test gate's verdict on a tree; default: passes. */
  readonly test?: (tree: ReadonlyMap<string, FileContent>, sha: string) => { readonly passed: boolean; readonly output?: string; readonly delayMs?: number }
  /** `setup_command` or `teardown_command` (`command` says which) in a workspace; default: passes. */
  readonly setup?: (cwd: string, command: string) => { readonly passed: boolean; readonly output?: string; readonly delayMs?: number }
}

/**
 * One command run in a workspace, as the runner was asked.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkspaceCommand {
  readonly cwd: string
  readonly command: string
  readonly env: Readonly<Record<string, string>>
}

/**
 * The driver: every commit the test gate saw, in order.
 *
 * @category models
 * @since 0.1.0
 */
export class ScriptedCommandsState {
  readonly tested: Array<{ readonly sha: string; readonly passed: boolean }> = []
  readonly setups: Array<string> = []
  /** Every command run in a workspace, setups and teardowns, in order. */
  readonly workspaceCommands: Array<WorkspaceCommand> = []
  readonly repo: MemoryRepo
  scripts: CommandScripts
  constructor(repo: MemoryRepo, scripts: CommandScripts = {}) {
    this.repo = repo
    this.scripts = scripts
  }
}

const finish = (result: { readonly passed: boolean; readonly output?: string; readonly delayMs?: number }) =>
  Effect.as(
    result.delayMs === undefined ? Effect.void : Effect.sleep(result.delayMs),
    { passed: result.passed, output: result.output ?? "", durationMs: result.delayMs ?? 0, timedOut: false } satisfies CommandRun
  )

/**
 * @category constructors
 * @since 0.1.0
 */
export const make = (state: ScriptedCommandsState): CommandRunner["Service"] =>
  CommandRunner.of({
    inCommit: (sha) =>
      Effect.suspend(() => {
        const result = state.scripts.test?.(state.repo.treeOf(sha), sha) ?? { passed: true }
        state.tested.push({ sha, passed: result.passed })
        return finish(result)
      }),
    inWorkspace: (cwd, command, _timeoutMs, env = {}) =>
      Effect.suspend(() => {
        state.setups.push(cwd)
        state.workspaceCommands.push({ cwd, command, env })
        return finish(state.scripts.setup?.(cwd, command) ?? { passed: true })
      })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (state: ScriptedCommandsState): Layer.Layer<CommandRunner> => Layer.succeed(CommandRunner, make(state))
