/**
 * The on-disk format of the task queue (SPEC F2), as pure functions: which file names are task
 * files, how a file's text becomes a `Task` (or the reason it is not one), how a task is written
 * back, and the format of an entry in `invalid/`.
 *
 * A task file is `<id>.json` (or 0.1.0's `<id>.edn`) holding one object; its name must be its id,
 * because the queue finds a task by id. Keys the `Task` schema does not know are kept when the
 * framework rewrites the file (the file is the user's too), but never returned as task fields.
 *
 * An entry in `invalid/` is one JSON file, `{"invalid_reason", "name", "from"?, "content"}`: the
 * reason, the original file name, the folder it came from, and the original text byte for byte —
 * one file, so there is no sidecar to lose or to mistake for a task.
 *
 * Every file is hostile input. Beyond the schema, a JSON file is refused when it repeats a key in
 * one object (`JSON.parse` silently keeps the last, so `{"id":"a","id":"b"}` would be task `b`
 * while a person reading it sees `a`) or nests lists and objects deeper than `nestingDepthMax`
 * (the framework rewrites the file it reads, and `JSON.stringify` recurses: a few thousand levels
 * overflowed the stack, a defect on every run that met the file). Names quoted in reasons have
 * their control characters escaped, so a reason printed to a terminal cannot drive it.
 *
 * @since 0.1.0
 */
import { Ids, SchemaProblems, Task as TaskModule, TaskFileText } from "@oompa/core"
import { Result, Schema } from "effect"
import { parseEdn } from "./fsEdn.ts"

type Task = TaskModule.Task

/** The formats a task file may have, by extension. */
export type TaskFormat = "json" | "edn"

/** The format of a file name, or `undefined` when it is not a task file. */
export const formatOf = (name: string): TaskFormat | undefined =>
  name.endsWith(".json") ? "json" : name.endsWith(".edn") ? "edn" : undefined

/** `t1.json` → `t1`. */
export const stemOf = (name: string): string => {
  const dot = name.lastIndexOf(".")
  return dot > 0 ? name.slice(0, dot) : name
}

/** The file name of a task in a folder of the queue. */
export const fileNameOf = (id: string, format: TaskFormat = "json"): string => `${id}.${format}`

const decodeTask = Schema.decodeUnknownResult(TaskModule.Task, { errors: "all" })
const encodeTask = Schema.encodeSync(TaskModule.Task)

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/** A task as read from its file: the task and the file's whole object (unknown keys included). */
export interface DecodedTask {
  readonly task: Task
  readonly raw: Readonly<Record<string, unknown>>
}

/** A parsed value as a task, or why it is not one. */
export const decodeTaskValue = (value: unknown): DecodedTask | string => {
  if (!isRecord(value)) return `expected an object (a map in EDN), got ${Array.isArray(value) ? "a list" : value === null ? "nothing" : typeof value}`
  const decoded = decodeTask(value)
  if (Result.isFailure(decoded)) return SchemaProblems.formatIssue(decoded.failure.issue)
  return { task: decoded.success, raw: value }
}

/**
 * The text of a file as one value, by its format, or why it is not one: unparsable, a key repeated
 * in one object, or nested deeper than `nestingDepthMax`.
 */
export const parseText = (format: TaskFormat, content: string): { readonly value: unknown } | string => {
  if (format === "edn") {
    const parsed = parseEdn(content, { depthMax: nestingDepthMax })
    return parsed._tag === "Value" ? { value: parsed.value } : parsed.problem
  }
  let value: unknown
  try {
    value = JSON.parse(content)
  } catch (error) {
    return `not valid JSON (${error instanceof Error ? error.message : String(error)})`
  }
  const problem = jsonShapeProblem(content)
  return problem === undefined ? { value } : problem
}

export const { jsonShapeProblem, nestingDepthMax, printable, shownName } = TaskFileText


/**
 * A task file's text as a task, or the reason (naming the file) it cannot be one: not a task
 * extension, unparsable, not a valid task, or an id that is not its file name.
 */
export const decodeTaskFile = (name: string, content: string): DecodedTask | string => {
  const shown = shownName(name)
  const format = formatOf(name)
  if (format === undefined) return `${shown}: task files must end in .json (or .edn)`
  const stem = stemOf(name)
  const stemProblem = Ids.idProblem(stem)
  if (stemProblem !== undefined) return `${shown}: the file name is not a valid task id (it ${stemProblem})`
  const parsed = parseText(format, content)
  // A parser's message may quote the text, and the text is anyone's.
  if (typeof parsed === "string") return `${shown}: ${printable(parsed)}`
  const decoded = decodeTaskValue(parsed.value)
  if (typeof decoded === "string") return `${shown}: ${decoded}`
  if (decoded.task.id !== stem) {
    return `${shown}: the task's id ${printable(JSON.stringify(decoded.task.id))} is not its file name (expected ${fileNameOf(decoded.task.id)})`
  }
  return decoded
}

/** The JSON text of a task file: the file's other keys kept, the task's fields on top. */
export const encodeTaskFile = (task: Task, raw: Readonly<Record<string, unknown>> = {}): string =>
  `${JSON.stringify({ ...raw, ...encodeTask(task) }, null, 2)}\n`

/** An entry of `invalid/` as stored. */
export interface InvalidRecord {
  readonly invalid_reason: string
  readonly name: string
  readonly from?: string
  readonly content: string
}

/** The JSON text of an `invalid/` entry. */
export const encodeInvalid = (record: InvalidRecord): string => `${JSON.stringify(record, null, 2)}\n`

/**
 * An `invalid/` file read back. A file oompa did not write (no `invalid_reason`) is reported with
 * its own text as the content, so nothing in the folder goes unreported.
 */
export const decodeInvalid = (fileName: string, content: string): InvalidRecord => {
  const parsed = parseText("json", content)
  if (typeof parsed !== "string" && isRecord(parsed.value)) {
    const { invalid_reason, name, from, content: original } = parsed.value
    if (typeof invalid_reason === "string" && typeof name === "string" && typeof original === "string") {
      return { invalid_reason, name, ...(typeof from === "string" ? { from } : {}), content: original }
    }
  }
  return { invalid_reason: "no reason recorded (this file was not put here by oompa)", name: fileName, content }
}

/** Longest stem of an `invalid/` entry name, leaving room for a `-NNN` suffix and `.json`. */
const invalidStemLengthMax = 100

/**
 * A safe file stem for the `invalid/` entry of a file called `name` (which may be anything an
 * agent wrote, `../x` included): the name's stem when it is a valid id, else a sanitised one.
 */
export const invalidStem = (name: string): string => {
  const base = name.split(/[\\/]/).pop() ?? ""
  const stem = formatOf(base) === undefined ? base : stemOf(base)
  if (Ids.idProblem(stem) === undefined && stem.length <= invalidStemLengthMax) return stem
  const cleaned = stem.replace(/[^A-Za-z0-9._-]/g, "_").replace(/\.\.+/g, "_").replace(/^[._-]+/, "").slice(0, invalidStemLengthMax)
  return cleaned === "" || Ids.idProblem(cleaned) !== undefined ? "file" : cleaned
}
