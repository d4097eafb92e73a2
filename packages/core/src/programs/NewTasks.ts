/**
 * Tasks agents create (SPEC F2): files an agent wrote into `.oompa-new-tasks/` of its workspace,
 * collected by the framework after each call. Each is validated and moved to `pending/`, or to
 * `invalid/` with the reason — never silently dropped. The top-level planner's files beyond
 * `planner.max_pending` pending tasks go to `invalid/` too, saying so.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Result, Schema } from "effect"
import { Task } from "../domain/Task.ts"
import { creationOrder } from "../domain/TaskDependencies.ts"
import { jsonShapeProblem, printable, shownName } from "../domain/TaskFileText.ts"
import { EventSink } from "../services/EventSink.ts"
import { Git } from "../services/Git.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import * as Claim from "./Claim.ts"
import { CurrentRun, CurrentWorker } from "./RunServices.ts"

const decodeTask = Schema.decodeUnknownResult(Task, { errors: "all" })

/**
 * A file an agent wrote that is not a task: why, in one line that names the file (its name shown
 * with control characters escaped). The file goes to `invalid/` with this reason.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidTaskFile extends Schema.TaggedError<InvalidTaskFile>()("InvalidTaskFile", {
  file: Schema.String,
  message: Schema.String
}) {}

/**
 * A task file's content as a task, or why it is not one. Fields the framework records
 * (attempts, feedback, merge sha) are the framework's: an agent cannot preset them.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseTaskFile = (fileName: string, content: string, createdBy: string): Result.Result<Task, InvalidTaskFile> => {
  const name = shownName(fileName)
  const invalid = (why: string) => Result.fail(new InvalidTaskFile({ file: fileName, message: `${name}: ${why}` }))
  if (!fileName.endsWith(".json")) return invalid("task files must be .json")
  let json: unknown
  try {
    json = JSON.parse(content)
  } catch (error) {
    return invalid(`not valid JSON (${printable(error instanceof Error ? error.message : String(error))})`)
  }
  // What JSON.parse lets through: a key given twice (it keeps the last), nesting no task file needs.
  const shape = jsonShapeProblem(content)
  if (shape !== undefined) return invalid(shape)
  const decoded = decodeTask(json)
  if (Result.isFailure(decoded)) return invalid(decoded.failure.message.replace(/\n\s*/g, " "))
  const { attempts: _a, last_feedback: _f, merged_sha: _m, ...task } = decoded.success
  return Result.succeed({ ...task, created_by: createdBy })
}

/**
 * Collects the new-task files of the worker's workspace. Tasks of one batch may depend on each other
 * and on tasks already queued: they are created dependencies first, a cycle among them goes to
 * `invalid/` uncreated, and the queue then judges the rest (`Claim.settleBlocked`).
 *
 * @category programs
 * @since 0.1.0
 */
export const collect = Effect.fnUntraced(function*(n: number) {
  const git = yield* Git
  const queue = yield* TaskQueue
  const sink = yield* EventSink
  const { config } = yield* CurrentRun
  const { worker, workspace } = yield* CurrentWorker
  const files = yield* git.takeNewTaskFiles(workspace)
  // The top-level planner stops creating tasks while `planner.max_pending` are pending (SPEC F1).
  const maxPending = worker.id === "planner" && worker.role === "planner" ? config.planner?.max_pending : undefined
  let pending = maxPending === undefined ? 0 : (yield* queue.list("pending")).length
  const refuse = Effect.fnUntraced(function*(file: { readonly name: string; readonly content: string }, reason: string) {
    yield* queue.invalid(file.name, file.content, reason)
    yield* sink.emit({ _tag: "TaskMoved", at: yield* Clock.currentTimeMillis, task: file.name, to: "invalid", worker: worker.id, reason })
  })
  const parsed = new Map<Task, { readonly name: string; readonly content: string }>()
  for (const file of files) {
    const result = parseTaskFile(file.name, file.content, worker.id)
    if (Result.isFailure(result)) yield* refuse(file, result.failure.message)
    else parsed.set(result.success, file)
  }
  // Created dependencies first, so a claim meanwhile never judges a task before one it names.
  const { ordered, refused } = creationOrder([...parsed.keys()])
  for (const [task, file] of parsed) {
    const reason = refused.get(task.id)
    if (reason !== undefined) yield* refuse(file, `${file.name}: ${reason}`)
  }
  for (const task of ordered) {
    const file = parsed.get(task)!
    if (maxPending !== undefined && pending >= maxPending) {
      // Kept, not dropped: the file is in invalid/ with its text, to requeue when there is room.
      yield* refuse(file, `${file.name}: not created, ${pending} tasks are pending and planner.max_pending is ${maxPending}`)
      continue
    }
    if (yield* queue.create(task)) {
      pending++
      yield* sink.emit({ _tag: "TaskMoved", at: yield* Clock.currentTimeMillis, task: task.id, to: "pending", worker: worker.id, reason: `created in iteration ${n}` })
    } else {
      yield* refuse(file, `${file.name}: a task with id ${JSON.stringify(task.id)} already exists`)
    }
  }
  // A dependency that names no task, or one in failed/, is known now, not at the next claim.
  yield* Claim.settleBlocked()
})
