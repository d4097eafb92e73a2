/**
 * Identifiers that end up in paths, branch names and log lines: task ids, worker ids, run ids.
 *
 * Every id is validated by its Schema before it touches a path (SPEC F2): no `/`, no `..`, no control
 * characters, no shell metacharacters, bounded length.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const safeIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** Why `id` cannot be used as a task or worker id, or `undefined` when it can. */
export const idProblem = (id: string): string | undefined => {
  if (id.length === 0) return "is empty"
  if (id.length > 128) return "is longer than 128 characters"
  if (id.includes("/") || id.includes("\\")) return "contains a path separator"
  if (id.includes("..")) return "contains '..'"
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(id)) return "contains a control character"
  // Ids name refs too (`refs/oompa/merged/<task>`), where git refuses these endings.
  if (id.endsWith(".") || id.endsWith(".lock")) return "ends with '.' or '.lock', which git refuses in a ref name"
  if (!safeIdPattern.test(id)) return "may only contain letters, digits, '.', '_' and '-', starting with a letter or digit"
  return undefined
}

const isSafeId = Schema.makeFilter((id: string) => {
  const problem = idProblem(id)
  return problem === undefined ? undefined : `id ${JSON.stringify(id)} ${problem}`
})

/**
 * A task's id: also its file name in `tasks/<status>/<id>.json`.
 *
 * @category models
 * @since 0.1.0
 */
export const TaskId = Schema.String.pipe(Schema.check(isSafeId), Schema.brand("TaskId"))
export type TaskId = typeof TaskId.Type

/**
 * A worker's id (`w0`, `w1`, … in file order, or `planner`): part of branch and worktree names.
 *
 * @category models
 * @since 0.1.0
 */
export const WorkerId = Schema.String.pipe(Schema.check(isSafeId), Schema.brand("WorkerId"))
export type WorkerId = typeof WorkerId.Type

/**
 * A run's id: 8 lowercase hex characters (SPEC F9).
 *
 * @category models
 * @since 0.1.0
 */
export const RunId = Schema.String.pipe(Schema.check(Schema.isPattern(/^[0-9a-f]{8}$/)), Schema.brand("RunId"))
export type RunId = typeof RunId.Type

/**
 * Whether `text` has a run id's shape (for folder names and arguments that are not decoded).
 *
 * @category guards
 * @since 0.1.0
 */
export const isRunId = (text: string): text is RunId => /^[0-9a-f]{8}$/.test(text)

/**
 * What every iteration branch's name starts with: `oompa/<run>/<worker>-<n>`.
 *
 * @category constants
 * @since 0.1.0
 */
export const iterationBranchPrefix = "oompa/"

/**
 * The branch of iteration `n` of a worker in a run.
 *
 * @category constructors
 * @since 0.1.0
 */
export const iterationBranch = (runId: string, worker: string, n: number): string => `${iterationBranchPrefix}${runId}/${worker}-${n}`

/**
 * The run, worker and iteration an iteration branch names; `undefined` for any other name.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseIterationBranch = (name: string): { readonly runId: RunId; readonly worker: string; readonly iteration: number } | undefined => {
  const match = /^oompa\/([0-9a-f]{8})\/(.+)-(\d+)$/.exec(name)
  return match === null ? undefined : { runId: match[1] as RunId, worker: match[2]!, iteration: Number(match[3]) }
}
