/**
 * The task queue on the filesystem (SPEC F2): `tasks/{pending,current,complete,failed,invalid}/`.
 *
 * Implements `@oompa/core`'s `TaskQueue` with the same observable behaviour as `MemoryTaskQueue`
 * (claim order, attempts, feedback, merge sha). Provided by the CLI over the repository's
 * `tasks_dir`; called by the core's programs (worker, merge queue, new-task collection, run mode).
 *
 * Invariants, and how they hold across fibers *and* processes:
 * - **One holder per task.** A claim is `rename(pending/<id>.json → current/<id>.json)` whose result
 *   is checked: of several claimers only one rename succeeds, the others see ENOENT and try the next
 *   task. Candidates are tried in claim order (priority, then id).
 * - **A claim reads what changed, not every file** (issue 17). Each queue keeps an index of its
 *   folders (`fsQueueIndex`): the tasks in claim order, each file's identity, and the folder's stat.
 *   A claim `stat`s `pending/`, reads the files the queue itself changed since and the one it takes
 *   (after the rename: that text is the task); a folder whose stat the index does not know (someone
 *   else changed it) is listed again, reading only files whose identity changed. The folder stays
 *   the truth: a stale index can order a claim late, never lose a task or hand one out twice, and a
 *   claim answers `None` only after listing `pending/` in full.
 * - **A task is in exactly one folder** (but for the instant of a move). A move first rewrites the
 *   file in place (temp file, fsync, rename), then links it into the next folder and removes it
 *   from the old one; a crash in between leaves two identical files, and the next move of the
 *   task (recovery's) completes the first.
 * - **No file is replaced that the framework did not just read.** A move compares the held file
 *   with what it read before rewriting it, and `link` never replaces a file in the next folder:
 *   a person's `pending/<id>.json` created while the task was held is kept (the held copy goes to
 *   `invalid/`), and a record in `complete/` or `failed/` is never overwritten (a `pending/` file
 *   whose id has one goes to `invalid/`, naming it). Removals compare too (`removeIfUnchanged`).
 * - **No partial or foreign files.** Files appear complete (written to `tasks/.tmp/`, then renamed
 *   or linked into place); the five folders hold only task files. Names starting with `.` are
 *   ignored, so `.tmp/` and editor droppings are never read as tasks.
 * - **Nothing is silently dropped, nothing is followed or blocks.** A file that cannot be read as
 *   a task (bad JSON or EDN, a key given twice, nesting deeper than `nestingDepthMax`, invalid
 *   fields, a name that is not its id, a second file for one id) is moved to `invalid/` as one JSON
 *   file `{"invalid_reason", "name", "from", "content"}` with its original text. An entry that is
 *   not a regular file — a folder (task files nested in it included), a symbolic link, a FIFO, a
 *   socket, a device — or a file over `taskFileBytesMax` is never opened for reading (a FIFO would
 *   block) or followed: it is moved as it is to `invalid/<name>.<kind>`, next to a record saying
 *   so. `invalid(...)` records files agents wrote the same way. `readInvalid` lists the records.
 * - **A task waits for its dependencies** (issue 18): a claim takes only a ready task — each
 *   dependency in `complete/`, as the index's `ReadyTasks` has it, checked again in `complete/`
 *   itself once the task is held (one that waits after all goes back to `pending/`). Tasks that
 *   never can be ready are moved on by `settleBlocked` (`fsQueueDependencies`), which looks only at
 *   the tasks that changed or whose dependencies did.
 * - **Ids are checked before they touch a path** (`Ids.idProblem`).
 * - 0.1.0's `.edn` files are read and rewritten as `.json` when claimed (or otherwise moved).
 *
 * Gotchas: creation and moves rely on `link(2)` refusing to replace a file, so `tasks_dir` must be
 * on a filesystem with hard links (any local POSIX filesystem). A `pending/` file whose id is also
 * in `current/` (which only hand-editing can produce; `create` refuses such ids) is not claimed
 * while the other is held. The compare-before-replace of a file a person may edit at the same
 * moment narrows the race with their editor to an instant; it cannot close it. A file rewritten in
 * place (same name and inode) does not change its folder's stat: its new priority is seen at the
 * queue's next full listing (`fsQueueIndex.listingUsesMax` uses at the latest); so are its new
 * dependencies, which a claim checks on disk, and `settleBlocked` may move it on as it was before
 * (to `failed/`, where the edit is kept, for `oompa requeue`). A dependency is judged unknown when
 * it is judged: a task naming one that a person writes a moment later may already be in `invalid/`.
 *
 * The parts live in `internal/`: the layout and bounds (`fsQueueLayout`), reading a folder
 * (`fsQueueListing`), the index of the folders and the queue's own changes (`fsQueueIndex`), the
 * quarantine `invalid/` (`fsQueueInvalid`), claims and moves, each lost race retried at once on a
 * bounded `Schedule` (`fsQueueMoves`), and the moves of tasks whose dependencies cannot be met
 * (`fsQueueDependencies`).
 *
 * @since 0.1.0
 */
import { Errors, Ids, type Task as TaskModule, TaskQueue as TaskQueueModule } from "@oompa/core"
import { Effect, FileSystem, Layer, Path } from "effect"
import * as Atomic from "./internal/fsAtomic.ts"
import { readyTasks, settleBlocked } from "./internal/fsQueueDependencies.ts"
import { addInvalid } from "./internal/fsQueueInvalid.ts"
import * as QueueLayout from "./internal/fsQueueLayout.ts"
import * as Index from "./internal/fsQueueIndex.ts"
import { type Env, filePath, type QueueIndex, queueError } from "./internal/fsQueueLayout.ts"
import { readFolder, readTask, scan } from "./internal/fsQueueListing.ts"
import { claimFrom, moveHeld, moveTask, rereads } from "./internal/fsQueueMoves.ts"
import * as Files from "./internal/fsTaskFiles.ts"

type Task = TaskModule.Task
type TaskStatus = TaskModule.TaskStatus
type TaskQueue = TaskQueueModule.TaskQueue

/**
 * The folders of the queue, in the order `create` looks for an existing id (the order tasks move
 * in, so a task moving while it is looked for is still seen; a move back to `pending/` is caught
 * by `link` refusing to replace the file).
 *
 * @category constants
 * @since 0.1.0
 */
export const statuses: ReadonlyArray<TaskStatus> = QueueLayout.statuses

/**
 * Where the queue's files live.
 *
 * @category models
 * @since 0.1.0
 */
export type Layout = QueueLayout.Layout

/**
 * The layout of a queue rooted at `tasksDir`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const layout: (path: Path.Path, tasksDir: string) => Layout = QueueLayout.layout

/**
 * Largest task file read, in bytes. Task files are small; the bound keeps a hostile file of
 * gigabytes from being loaded into memory (it is moved to `invalid/` unread instead).
 *
 * @category constants
 * @since 0.1.0
 */
export const taskFileBytesMax = QueueLayout.taskFileBytesMax

/**
 * An entry of `invalid/`: the file it is stored in, the original name, the reason, the original text.
 *
 * @category models
 * @since 0.1.0
 */
export interface InvalidFile extends Files.InvalidRecord {
  readonly file: string
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/** The names a task of `id` may have in a folder; none for an id that is not one (it touches no path). */
const idNames = (id: string): ReadonlyArray<string> =>
  Ids.idProblem(id) === undefined ? [Files.fileNameOf(id), Files.fileNameOf(id, "edn")] : []

const exists = Effect.fnUntraced(function*(env: Env, id: string) {
  for (const status of statuses) {
    // invalid/ holds records of broken files, not tasks: an id is not "used" by them (as in MemoryTaskQueue).
    if (status === "invalid") continue
    for (const format of ["json", "edn"] as const) {
      if (yield* env.fs.exists(filePath(env, status, Files.fileNameOf(id, format)))) return true
    }
  }
  return false
})

const makeService = (env: Env, index: QueueIndex): TaskQueue["Service"] => {
  // One operation at a time per queue: the index is changed only under this lock. Other queues and
  // processes on the same folders are not ordered by it (their renames and links are the arbiters).
  const locked = index.lock.withPermits(1)
  return TaskQueueModule.TaskQueue.of({
    list: Effect.fn("FsTaskQueue.list")(function*(status: TaskStatus) {
      const tasks = status === "invalid"
        ? scan(env, status).pipe(Effect.map((held) => held.map((h) => h.task)))
        : locked(Index.tasksOf(env, status))
      return yield* tasks.pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("list")(e))))
    }),
    claim: Effect.suspend(() => locked(claimFrom(env))).pipe(
      Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("claim")(e))),
      Effect.withSpan("FsTaskQueue.claim")
    ),
    ready: Effect.suspend(() => locked(readyTasks(env))).pipe(
      Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("ready")(e))),
      Effect.withSpan("FsTaskQueue.ready")
    ),
    settleBlocked: Effect.suspend(() => locked(settleBlocked(env))).pipe(
      Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("settleBlocked")(e))),
      Effect.withSpan("FsTaskQueue.settleBlocked")
    ),
    complete: Effect.fn("FsTaskQueue.complete")(function*(id: string, mergedSha: string) {
      // pending/ too: a second pending file of this id (made by hand) is refused at its next use.
      yield* locked(Index.changing(
        env,
        ["current", "complete", "pending"],
        idNames(id),
        moveHeld(env, "complete", id, {
          next: (held) => ({ task: { ...held.task, merged_sha: mergedSha }, to: "complete" }),
          // Only by hand: claims refuse ids with a record. The work is merged; both records stay.
          takenReason: (_held, by) =>
            `completed (merged in ${mergedSha}), but ${by} already holds a task with this id; that record was kept as it is, and this one is recorded here`
        })
      )).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("complete", id)(e))))
    }),
    release: Effect.fn("FsTaskQueue.release")(function*(id: string, options: {
      readonly feedback: string
      readonly countAttempt: boolean
      readonly maxAttempts: number
    }) {
      return yield* locked(Index.changing(
        env,
        ["current", "pending", "failed"],
        idNames(id),
        moveHeld(env, "release", id, {
          next: (held) => {
            const attempts = (held.task.attempts ?? 0) + (options.countAttempt ? 1 : 0)
            const to: TaskQueueModule.ReleaseOutcome = options.countAttempt && attempts >= options.maxAttempts ? "failed" : "pending"
            return { task: { ...held.task, attempts, ...(options.feedback === "" ? {} : { last_feedback: options.feedback }) }, to }
          },
          // A file a person created or edited in pending/ while the task was held (after a crash,
          // say, before recovery returns the task) wins: it is what they want run next. The
          // returned copy, with its attempts and feedback, is kept in invalid/, so nothing is lost.
          takenReason: (held, by) =>
            `returned from current/ (${
              (held.task.attempts ?? 0) + (options.countAttempt ? 1 : 0)
            } attempts recorded), but ${by} was created or edited in the meantime; that file was kept as it is, and this copy is recorded here`
        })
      )).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("release", id)(e))))
    }),
    create: Effect.fn("FsTaskQueue.create")(function*(task: Task) {
      const problem = Ids.idProblem(task.id)
      if (problem !== undefined) {
        return yield* new Errors.TaskQueueError({ operation: "create", task: task.id, message: `task id ${JSON.stringify(task.id)} ${problem}` })
      }
      return yield* locked(Effect.gen(function*() {
        if (yield* exists(env, task.id)) return false
        const target = filePath(env, "pending", Files.fileNameOf(task.id))
        return yield* Index.changing(
          env,
          ["pending"],
          [Files.fileNameOf(task.id)],
          Atomic.createExclusive(env.fs, env.path, env.layout.temp, target, Files.encodeTaskFile(task))
        )
      })).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("create", task.id)(e))))
    }),
    invalid: Effect.fn("FsTaskQueue.invalid")(function*(name: string, content: string, reason: string) {
      yield* addInvalid(env, { invalid_reason: reason, name, content }).pipe(
        Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("invalid", name)(e)))
      )
    })
  })
}

/**
 * The queue's folders are created when missing and temp files orphaned by a crash are swept.
 */
const prepare = Effect.fnUntraced(function*(env: Env) {
  for (const dir of [...Object.values(env.layout.folders), env.layout.temp]) {
    yield* env.fs.makeDirectory(dir, { recursive: true })
  }
  yield* Atomic.sweepTemp(env.fs, env.path, env.layout.temp)
})

/**
 * The `TaskQueue` service over the folders under `tasksDir` (created when missing).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("FsTaskQueue.make")(function*(tasksDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const index = yield* Index.make
  const env: Env = { fs, path, layout: layout(path, tasksDir), index }
  yield* prepare(env).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("open")(e))))
  return makeService(env, index)
})

/**
 * The filesystem task queue at `tasksDir` (SPEC F1's `tasks_dir`, resolved by `RunPaths`).
 *
 * **Example** (A queue in the repository)
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { FsTaskQueue } from "@oompa/adapters-node"
 * import { Layer } from "effect"
 *
 * const queue = FsTaskQueue.layer("/repo/tasks").pipe(Layer.provide(NodeServices.layer))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (tasksDir: string): Layer.Layer<TaskQueue, Errors.TaskQueueError, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(TaskQueueModule.TaskQueue, make(tasksDir))

/**
 * The entries of `invalid/`, by file name: each file's original name, reason and original text
 * (for `oompa tasks` and for tests). Entries that are not regular files (a folder, link or FIFO
 * set aside from a working folder, each described by its record) are not read or listed.
 *
 * @category reading
 * @since 0.1.0
 */
export const readInvalid = Effect.fn("FsTaskQueue.readInvalid")(function*(tasksDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const env: Env = { fs, path, layout: layout(path, tasksDir) }
  const { files } = yield* readFolder(env, "invalid").pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("readInvalid")(e))))
  return files
    .map((f): InvalidFile => ({ file: f.name, ...Files.decodeInvalid(f.name, f.content) }))
    .sort((a, b) => a.file < b.file ? -1 : a.file > b.file ? 1 : 0)
})

/**
 * Moves task `id` back to `pending/` with its attempts reset (`oompa requeue`): from `failed/`, or
 * from `current/` when `fromCurrent` is set — only when no live run holds the queue, which the
 * caller checks with the run lock. The file is decoded like any other (a broken one goes to
 * `invalid/` and is not requeued), rewritten and renamed, so it is always in exactly one folder.
 * Returns the folder it came from.
 *
 * @category moves
 * @since 0.1.0
 */
export const requeue = Effect.fn("FsTaskQueue.requeue")(function*(
  tasksDir: string,
  id: string,
  options: { readonly fromCurrent?: boolean } = {}
): Effect.fn.Return<"failed" | "current", Errors.TaskQueueError, FileSystem.FileSystem | Path.Path> {
  const problem = Ids.idProblem(id)
  if (problem !== undefined) return yield* new Errors.TaskQueueError({ operation: "requeue", task: id, message: `task id ${JSON.stringify(id)} ${problem}` })
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const env: Env = { fs, path, layout: layout(path, tasksDir) }
  const folders: ReadonlyArray<"failed" | "current"> = options.fromCurrent === true ? ["failed", "current"] : ["failed"]
  const refuse = (message: string) => new Errors.TaskQueueError({ operation: "requeue", task: id, message })
  return yield* Effect.gen(function*() {
    yield* prepare(env)
    for (const folder of folders) {
      const tryRequeue = Effect.gen(function*() {
        const held = yield* readTask(env, folder, id)
        if (held === undefined) return "Absent" as const
        for (const format of ["json", "edn"] as const) {
          const name = Files.fileNameOf(id, format)
          // The user's own pending file is never replaced; they choose which one to keep.
          if (yield* env.fs.exists(filePath(env, "pending", name))) return yield* refuse(`pending/${name} already exists; move it away first to requeue the task`)
        }
        const { attempts: _attempts, ...task } = held.task
        const { attempts: _rawAttempts, ...raw } = held.raw
        const outcome = yield* moveTask(env, { ...held, raw }, task, "pending")
        if (outcome._tag === "Taken") return yield* refuse(`${outcome.by} appeared while requeueing; ${folder}/${id}.json stays (its attempts now reset)`)
        return outcome._tag
      })
      // Gone, or changed `rereadsMax` times in a row: the next folder is looked in.
      if ((yield* tryRequeue.pipe(Effect.repeat({ schedule: rereads, while: (outcome) => outcome === "Changed" }))) === "Moved") return folder
    }
    return yield* refuse(`no task ${id} in ${folders.map((f) => `${f}/`).join(" or ")}`)
  }).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("requeue", id)(e))))
})
