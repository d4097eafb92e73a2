/**
 * 0.1.0's EDN task files and the fixed task lists of `oompa run` (SPEC F2, F10).
 *
 * 0.1.0 kept tasks as EDN maps (`{:id "t1" :summary "..." :files ["a"]}`) and `run` mode read a
 * vector of them from `config/tasks.edn`. This module reads those with `edn-data` (strictly: a
 * truncated file or a second top-level form is an error, not a silently shorter list) and turns
 * them into the JSON shape of today's tasks: keywords become keys, kebab-case becomes snake_case,
 * `nil` values are absent. `readTaskList` reads a `run`-mode list in either format. Either format
 * is refused, with the place named, where a key is given twice in one object or map (a JSON parser
 * silently keeps the last value, and so does `edn-data`) or values nest deeper than 64 levels.
 *
 * Called by the CLI's `run` command (`readTaskList`) and by `FsTaskQueue`, which reads `.edn` files
 * it finds in the queue's folders and rewrites them as `.json` when it moves them.
 *
 * @since 0.1.0
 */
import { Task as TaskModule } from "@oompa/core"
import { Effect, FileSystem, Schema } from "effect"
import { parseEdn } from "./internal/fsEdn.ts"
import { decodeTaskValue, formatOf, parseText } from "./internal/fsTaskFiles.ts"

/**
 * A task list that could not be read: missing, unparsable, not a list, or holding tasks that are
 * not valid (each problem names the task's position and id).
 *
 * @category errors
 * @since 0.1.0
 */
export class TaskListError extends Schema.TaggedError<TaskListError>()("TaskListError", {
  path: Schema.String,
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `${this.path}: ${this.problems.join("; ")}`
  }
}

/**
 * Parses one EDN value into plain JSON-like data (keywords → strings, kebab-case keys →
 * snake_case, `nil` values dropped), or returns why the text is not exactly one EDN value.
 *
 * **Example** (A 0.1.0 task)
 *
 * ```ts
 * import { EdnTasks } from "@oompa/adapters-node"
 *
 * EdnTasks.parseEdnValue(`{:id "t1" :summary "Add a flag" :files ["src/cli.ts"]}`)
 * // { _tag: "Value", value: { id: "t1", summary: "Add a flag", files: ["src/cli.ts"] } }
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseEdnValue = parseEdn

/**
 * A task list's text as tasks, or every problem found in it. `format` is `"json"` (an array of
 * task objects) or `"edn"` (a vector or list of maps). Ids must be unique within the list.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseTaskList = (
  format: "json" | "edn",
  content: string
): { readonly tasks: ReadonlyArray<TaskModule.Task> } | { readonly problems: ReadonlyArray<string> } => {
  const parsed = parseText(format, content)
  if (typeof parsed === "string") return { problems: [parsed] }
  if (!Array.isArray(parsed.value)) return { problems: [`expected a list of tasks (${format === "edn" ? "an EDN vector" : "a JSON array"})`] }
  const tasks: Array<TaskModule.Task> = []
  const problems: Array<string> = []
  const seen = new Set<string>()
  parsed.value.forEach((value: unknown, index) => {
    const decoded = decodeTaskValue(value)
    const label = `task ${index + 1}${hasId(value) ? ` (${JSON.stringify(value.id)})` : ""}`
    if (typeof decoded === "string") return void problems.push(`${label}: ${decoded}`)
    if (seen.has(decoded.task.id)) return void problems.push(`${label}: the id is used by an earlier task of the list`)
    seen.add(decoded.task.id)
    tasks.push(decoded.task)
  })
  return problems.length === 0 ? { tasks } : { problems }
}

const hasId = (value: unknown): value is { readonly id: unknown } =>
  value !== null && typeof value === "object" && "id" in value

/**
 * Reads `run` mode's fixed task list: `config/tasks.json`, or 0.1.0's `config/tasks.edn`.
 *
 * @category reading
 * @since 0.1.0
 */
export const readTaskList = Effect.fn("EdnTasks.readTaskList")(function*(path: string) {
  const format = formatOf(path)
  if (format === undefined) return yield* new TaskListError({ path, problems: ["a task list must be a .json or .edn file"] })
  const fs = yield* FileSystem.FileSystem
  const content = yield* fs.readFileString(path).pipe(
    Effect.mapError((error) =>
      new TaskListError({ path, problems: [error.reason._tag === "NotFound" ? "no such file" : error.message] })
    )
  )
  const result = parseTaskList(format, content)
  if ("problems" in result) return yield* new TaskListError({ path, problems: result.problems })
  return result.tasks
})
