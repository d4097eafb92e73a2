/**
 * A scripted `CommandRunner`: the test gate and `setup_command` answered by functions of the
 * commit's tree (test) or the workspace path (setup), taking simulated time through `Clock`.
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
  /** `setup_command` in a workspace; default: passes. */
  readonly setup?: (cwd: string) => { readonly passed: boolean; readonly output?: string; readonly delayMs?: number }
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
    inWorkspace: (cwd) =>
      Effect.suspend(() => {
        state.setups.push(cwd)
        return finish(state.scripts.setup?.(cwd) ?? { passed: true })
      })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (state: ScriptedCommandsState): Layer.Layer<CommandRunner> => Layer.succeed(CommandRunner, make(state))
