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
 * - **A task is in exactly one folder at every instant.** A move first rewrites the file in place
 *   (temp file, fsync, rename) and then renames it into the next folder; both steps are atomic.
 * - **No partial or foreign files.** Files appear complete (written to `tasks/.tmp/`, then renamed
 *   or linked into place); the five folders hold only task files. Names starting with `.` are
 *   ignored, so `.tmp/` and editor droppings are never read as tasks.
 * - **Nothing is silently dropped.** A file that cannot be read as a task (bad JSON or EDN, invalid
 *   fields, a name that is not its id, a second file for one id) is moved to `invalid/` as one JSON
 *   file `{"invalid_reason", "name", "from", "content"}` with its original text. `invalid(...)`
 *   records files agents wrote the same way. `readInvalid` lists them.
 * - **Ids are checked before they touch a path** (`Ids.idProblem`).
 * - 0.1.0's `.edn` files are read and rewritten as `.json` when claimed (or otherwise moved).
 *
 * Gotchas: creation relies on `link(2)` refusing to replace a file, so `tasks_dir` must be on a
 * filesystem with hard links (any local POSIX filesystem). A `pending/` file whose id is also in
 * `current/` (which only hand-editing can produce; `create` refuses such ids) replaces the held
 * copy when claimed, because `rename` replaces its target.
 *
 * @since 0.1.0
 */
import { Errors, Ids, Task as TaskModule, TaskQueue as TaskQueueModule } from "@oompa/core"
import { Effect, FileSystem, Layer, Option, Path, type PlatformError } from "effect"
import * as Atomic from "./internal/fsAtomic.ts"
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
export const statuses: ReadonlyArray<TaskStatus> = ["pending", "current", "complete", "failed", "invalid"]

/**
 * Where the queue's files live.
 *
 * @category models
 * @since 0.1.0
 */
export interface Layout {
  readonly root: string
  /** Private temp folder for atomic writes; never one of the five folders. */
  readonly temp: string
  readonly folders: Readonly<Record<TaskStatus, string>>
}

/**
 * The layout of a queue rooted at `tasksDir`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const layout = (path: Path.Path, tasksDir: string): Layout => {
  const root = path.resolve(tasksDir)
  const folders = Object.fromEntries(statuses.map((s) => [s, path.join(root, s)])) as Record<TaskStatus, string>
  return { root, temp: path.join(root, ".tmp"), folders }
}

/**
 * An entry of `invalid/`: the file it is stored in, the original name, the reason, the original text.
 *
 * @category models
 * @since 0.1.0
 */
export interface InvalidFile extends Files.InvalidRecord {
  readonly file: string
}

/** Claim passes over `pending/` in which every candidate was taken by others before giving up. */
const claimRoundsMax = 100
/** Suffixes tried (`x.json`, `x-1.json`, …) for an `invalid/` entry whose name is taken. */
const invalidSuffixMax = 1000
/** Files read at once when scanning a folder. */
const readConcurrency = 8

interface Env {
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly layout: Layout
}

/** A task file in a folder, decoded. */
interface Held extends Files.DecodedTask {
  readonly status: TaskStatus
  readonly name: string
}

/** A file read from a folder that is not a usable task, with why. */
interface Broken {
  readonly name: string
  readonly content: string
  readonly reason: string
}

const filePath = (env: Env, status: TaskStatus, name: string): string => env.path.join(env.layout.folders[status], name)

const queueError = (operation: string, task?: string) => (error: PlatformError.PlatformError) =>
  new Errors.TaskQueueError({ operation, ...(task === undefined ? {} : { task }), message: error.message })

// ---------------------------------------------------------------------------------------------
// Reading folders
// ---------------------------------------------------------------------------------------------

/**
 * Splits a folder's files into tasks and broken files (pure). Where `<id>.json` and `<id>.edn`
 * both exist, the `.json` is the task and the `.edn` is broken: a duplicate, the leftover of a
 * conversion a crash interrupted, or (rarely) a conversion another process is finishing right now.
 * Its text is kept in `invalid/` either way: at worst a redundant copy, never a lost file, and never
 * a second live file for one id (which a later move would turn into two holders).
 */
const classify = (status: TaskStatus, files: ReadonlyArray<{ readonly name: string; readonly content: string }>) => {
  const jsonStems = new Set(files.filter((f) => Files.formatOf(f.name) === "json").map((f) => Files.stemOf(f.name)))
  const tasks: Array<Held> = []
  const broken: Array<Broken> = []
  for (const file of files) {
    if (Files.formatOf(file.name) === "edn" && jsonStems.has(Files.stemOf(file.name))) {
      broken.push({ ...file, reason: `${file.name}: ${Files.stemOf(file.name)}.json is the same task; one file per task` })
      continue
    }
    const decoded = Files.decodeTaskFile(file.name, file.content)
    if (typeof decoded === "string") broken.push({ ...file, reason: decoded })
    else tasks.push({ ...decoded, status, name: file.name })
  }
  return { tasks: tasks.sort((a, b) => TaskModule.claimOrder(a.task, b.task)), broken }
}

/** The task files of a folder as text; files that vanish while being read were moved on. */
const readFolder = Effect.fnUntraced(function*(env: Env, status: TaskStatus) {
  const entries = yield* env.fs.readDirectoryEntries(env.layout.folders[status])
  const names = entries.filter((e) => (e.type === "File" || e.type === "Unknown") && !e.name.startsWith(".")).map((e) => e.name)
  const files = yield* Effect.forEach(names, (name) =>
    Atomic.readIfPresent(env.fs, filePath(env, status, name)).pipe(
      Effect.map((content) => content === undefined ? undefined : { name, content })
    ), { concurrency: readConcurrency })
  return files.filter((f) => f !== undefined)
})

/**
 * The tasks of a folder in claim order. Broken files found in a working folder are moved to
 * `invalid/` on the way; in `invalid/` itself only files that are tasks are returned.
 */
const scan = Effect.fnUntraced(function*(env: Env, status: TaskStatus) {
  const { tasks, broken } = classify(status, yield* readFolder(env, status))
  if (status !== "invalid") {
    for (const file of broken) yield* moveToInvalid(env, status, file)
  }
  return tasks
})

/** The held file of `id` in a folder (`.json` first, then `.edn`), decoded; `undefined` if absent. */
const readTask = Effect.fnUntraced(function*(env: Env, status: TaskStatus, id: string) {
  for (const format of ["json", "edn"] as const) {
    const name = Files.fileNameOf(id, format)
    const content = yield* Atomic.readIfPresent(env.fs, filePath(env, status, name))
    if (content === undefined) continue
    const decoded = Files.decodeTaskFile(name, content)
    if (typeof decoded !== "string") return { ...decoded, status, name } satisfies Held
    yield* moveToInvalid(env, status, { name, content, reason: decoded })
    return undefined
  }
  return undefined
})

// ---------------------------------------------------------------------------------------------
// invalid/
// ---------------------------------------------------------------------------------------------

/** Stores an `invalid/` entry under the first free name; returns its path. */
const addInvalid = Effect.fnUntraced(function*(env: Env, record: Files.InvalidRecord) {
  const stem = Files.invalidStem(record.name)
  const tempPath = yield* Atomic.writeTemp(env.fs, env.path, env.layout.temp, "invalid", Files.encodeInvalid(record))
  const placed = yield* Effect.gen(function*() {
    for (let n = 0; n < invalidSuffixMax; n++) {
      const target = filePath(env, "invalid", n === 0 ? `${stem}.json` : `${stem}-${n}.json`)
      const linked = yield* env.fs.link(tempPath, target).pipe(
        Effect.as(true),
        Effect.catchReason("PlatformError", "AlreadyExists", () => Effect.succeed(false))
      )
      if (linked) return target
    }
    return undefined
  }).pipe(Effect.ensuring(Atomic.discardTemp(env.fs, tempPath)))
  if (placed === undefined) {
    return yield* new Errors.TaskQueueError({ operation: "invalid", message: `invalid/ already holds ${invalidSuffixMax} entries named ${stem}` })
  }
  return placed
})

/**
 * Moves a broken file of a working folder to `invalid/`. The entry is written first, then the
 * original removed; when the original is already gone, another process moved it first and its
 * entry stands, so this one is withdrawn (one entry per file, and the file is never lost).
 */
const moveToInvalid = Effect.fnUntraced(function*(env: Env, status: TaskStatus, file: Broken) {
  const entry = yield* addInvalid(env, { invalid_reason: file.reason, name: file.name, from: status, content: file.content })
  const removed = yield* Atomic.removeIfPresent(env.fs, filePath(env, status, file.name))
  if (!removed) yield* Atomic.removeIfPresent(env.fs, entry)
})

// ---------------------------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------------------------

/**
 * Rewrites a held task in place as `<id>.json` with `task`'s fields (converting an `.edn` file),
 * then renames it into `to`. Both steps are atomic, so the task is always in exactly one folder.
 */
const moveTask = Effect.fnUntraced(function*(env: Env, held: Held, task: Task, to: TaskStatus) {
  const json = Files.fileNameOf(task.id)
  yield* Atomic.writeAtomic(env.fs, env.path, env.layout.temp, filePath(env, held.status, json), Files.encodeTaskFile(task, held.raw))
  // The .edn's content now lives in the .json; a concurrent scan may already have taken it.
  if (held.name !== json) yield* Atomic.removeIfPresent(env.fs, filePath(env, held.status, held.name))
  if (to !== held.status) yield* env.fs.rename(filePath(env, held.status, json), filePath(env, to, json))
})

/** A task of `current/`, or a typed error naming where it is not. */
const readHeld = Effect.fnUntraced(function*(env: Env, operation: string, id: string) {
  const problem = Ids.idProblem(id)
  if (problem !== undefined) return yield* new Errors.TaskQueueError({ operation, task: id, message: `task id ${JSON.stringify(id)} ${problem}` })
  const held = yield* readTask(env, "current", id)
  if (held === undefined) return yield* new Errors.TaskQueueError({ operation, task: id, message: `task ${id} is not in current/` })
  return held
})

/**
 * After winning the rename of `name` into `current/`: reads the file now held (it is the truth,
 * whatever the scan saw) and converts an `.edn` file to `.json`.
 */
const settleClaim = Effect.fnUntraced(function*(env: Env, name: string) {
  const held = yield* readTask(env, "current", Files.stemOf(name))
  if (held === undefined) return undefined
  if (held.name !== Files.fileNameOf(held.task.id)) yield* moveTask(env, held, held.task, "current")
  return held.task
})

const claimFrom = Effect.fnUntraced(function*(env: Env) {
  for (let round = 0; round < claimRoundsMax; round++) {
    const pending = yield* scan(env, "pending")
    if (pending.length === 0) return Option.none<Task>()
    for (const candidate of pending) {
      const won = yield* Atomic.renameIfPresent(env.fs, filePath(env, "pending", candidate.name), filePath(env, "current", candidate.name))
      if (!won) continue // another claimer took it between our scan and our rename
      const task = yield* settleClaim(env, candidate.name)
      if (task !== undefined) return Option.some(task)
    }
  }
  return yield* new Errors.TaskQueueError({ operation: "claim", message: `lost the race for every pending task ${claimRoundsMax} times in a row` })
})

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

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

const makeService = (env: Env): TaskQueue["Service"] =>
  TaskQueueModule.TaskQueue.of({
    list: Effect.fn("FsTaskQueue.list")(function*(status: TaskStatus) {
      const tasks = yield* scan(env, status).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("list")(e))))
      return tasks.map((held) => held.task)
    }),
    claim: Effect.suspend(() => claimFrom(env)).pipe(
      Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("claim")(e))),
      Effect.withSpan("FsTaskQueue.claim")
    ),
    complete: Effect.fn("FsTaskQueue.complete")(function*(id: string, mergedSha: string) {
      yield* Effect.gen(function*() {
        const held = yield* readHeld(env, "complete", id)
        yield* moveTask(env, held, { ...held.task, merged_sha: mergedSha }, "complete")
      }).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("complete", id)(e))))
    }),
    release: Effect.fn("FsTaskQueue.release")(function*(id: string, options: {
      readonly feedback: string
      readonly countAttempt: boolean
      readonly maxAttempts: number
    }) {
      return yield* Effect.gen(function*() {
        const held = yield* readHeld(env, "release", id)
        const attempts = (held.task.attempts ?? 0) + (options.countAttempt ? 1 : 0)
        const to = options.countAttempt && attempts >= options.maxAttempts ? "failed" : "pending"
        const task: Task = { ...held.task, attempts, ...(options.feedback === "" ? {} : { last_feedback: options.feedback }) }
        yield* moveTask(env, held, task, to)
        return to
      }).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("release", id)(e))))
    }),
    create: Effect.fn("FsTaskQueue.create")(function*(task: Task) {
      const problem = Ids.idProblem(task.id)
      if (problem !== undefined) {
        return yield* new Errors.TaskQueueError({ operation: "create", task: task.id, message: `task id ${JSON.stringify(task.id)} ${problem}` })
      }
      return yield* Effect.gen(function*() {
        if (yield* exists(env, task.id)) return false
        const target = filePath(env, "pending", Files.fileNameOf(task.id))
        return yield* Atomic.createExclusive(env.fs, env.path, env.layout.temp, target, Files.encodeTaskFile(task))
      }).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("create", task.id)(e))))
    }),
    invalid: Effect.fn("FsTaskQueue.invalid")(function*(name: string, content: string, reason: string) {
      yield* addInvalid(env, { invalid_reason: reason, name, content }).pipe(
        Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("invalid", name)(e)))
      )
    })
  })

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
  const env: Env = { fs, path, layout: layout(path, tasksDir) }
  yield* prepare(env).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("open")(e))))
  return makeService(env)
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
 * (for `oompa tasks` and for tests).
 *
 * @category reading
 * @since 0.1.0
 */
export const readInvalid = Effect.fn("FsTaskQueue.readInvalid")(function*(tasksDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const env: Env = { fs, path, layout: layout(path, tasksDir) }
  const files = yield* readFolder(env, "invalid").pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("readInvalid")(e))))
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
  return yield* Effect.gen(function*() {
    yield* prepare(env)
    for (const folder of folders) {
      const held = yield* readTask(env, folder, id)
      if (held === undefined) continue
      const { attempts: _attempts, ...task } = held.task
      const { attempts: _rawAttempts, ...raw } = held.raw
      yield* moveTask(env, { ...held, raw }, task, "pending")
      return folder
    }
    return yield* new Errors.TaskQueueError({ operation: "requeue", task: id, message: `no task ${id} in ${folders.map((f) => `${f}/`).join(" or ")}` })
  }).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("requeue", id)(e))))
})
