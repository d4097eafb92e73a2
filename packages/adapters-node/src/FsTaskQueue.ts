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
 * - **Ids are checked before they touch a path** (`Ids.idProblem`).
 * - 0.1.0's `.edn` files are read and rewritten as `.json` when claimed (or otherwise moved).
 *
 * Gotchas: creation and moves rely on `link(2)` refusing to replace a file, so `tasks_dir` must be
 * on a filesystem with hard links (any local POSIX filesystem). A `pending/` file whose id is also
 * in `current/` (which only hand-editing can produce; `create` refuses such ids) is not claimed
 * while the other is held. The compare-before-replace of a file a person may edit at the same
 * moment narrows the race with their editor to an instant; it cannot close it.
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
/**
 * Largest task file read, in bytes. Task files are small; the bound keeps a hostile file of
 * gigabytes from being loaded into memory (it is moved to `invalid/` unread instead).
 */
export const taskFileBytesMax = 8 * 1024 * 1024
/** Largest `invalid/` record read: a record quotes a task file, JSON-escaped (up to 6 bytes a byte). */
const invalidFileBytesMax = 8 * taskFileBytesMax
/** Times an operation on a held task starts over because the file changed while it worked. */
const rereadsMax = 3

interface Env {
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly layout: Layout
}

/** A task file in a folder, decoded, with the text it was decoded from. */
interface Held extends Files.DecodedTask {
  readonly status: TaskStatus
  readonly name: string
  readonly content: string
}

/** A file read from a folder that is not a usable task, with why. */
interface Broken {
  readonly name: string
  readonly content: string
  readonly reason: string
  /** The folder the record names, when not the one the file is in (a claimed file came from `pending/`). */
  readonly from?: TaskStatus
}

/** An entry of a folder that is not a regular file (or is too large to read): it is never read. */
interface Aside {
  readonly name: string
  /** What it is, for the reason: `a folder`, `a symbolic link (to "/etc/passwd")`, … */
  readonly what: string
  /** The extension of its name in `invalid/`: `folder`, `link`, `fifo`, … */
  readonly suffix: string
}

const filePath = (env: Env, status: TaskStatus, name: string): string => env.path.join(env.layout.folders[status], name)

const queueError = (operation: string, task?: string) => (error: PlatformError.PlatformError) =>
  new Errors.TaskQueueError({ operation, ...(task === undefined ? {} : { task }), message: error.message })

// ---------------------------------------------------------------------------------------------
// Reading folders
// ---------------------------------------------------------------------------------------------

/**
 * Why a file of `pending/` is not a task although it decodes as one: its id already has a record
 * in `complete/` or `failed/` (`record`, e.g. `complete/t1.json`). Such a record is final, and a
 * second task with its id would replace it when it completes or fails.
 */
const recordedReason = (name: string, id: string, record: string): string =>
  `${Files.shownName(name)}: the id ${id} is already used by ${record} (${
    record.startsWith("complete/") ? "a finished task" : "a task that failed"
  }); that record is kept as it is, so this file is not taken as a task: give it another id${
    record.startsWith("failed/") ? ` (or \`oompa requeue ${id}\` retries the failed one)` : ""
  }`

/**
 * Splits a folder's files into tasks and broken files (pure). Where `<id>.json` and `<id>.edn`
 * both exist, the `.json` is the task and the `.edn` is broken: a duplicate, the leftover of a
 * conversion a crash interrupted, or (rarely) a conversion another process is finishing right now.
 * Its text is kept in `invalid/` either way: at worst a redundant copy, never a lost file, and never
 * a second live file for one id (which a later move would turn into two holders). A task whose id
 * is in `recorded` (ids with a record in `complete/` or `failed/`) is broken too.
 */
const classify = (
  status: TaskStatus,
  files: ReadonlyArray<{ readonly name: string; readonly content: string }>,
  recorded: ReadonlyMap<string, string>
) => {
  const jsonStems = new Set(files.filter((f) => Files.formatOf(f.name) === "json").map((f) => Files.stemOf(f.name)))
  const tasks: Array<Held> = []
  const broken: Array<Broken> = []
  for (const file of files) {
    if (Files.formatOf(file.name) === "edn" && jsonStems.has(Files.stemOf(file.name))) {
      broken.push({ ...file, reason: `${Files.shownName(file.name)}: ${Files.stemOf(file.name)}.json is the same task; one file per task` })
      continue
    }
    const decoded = Files.decodeTaskFile(file.name, file.content)
    const record = typeof decoded === "string" ? undefined : recorded.get(decoded.task.id)
    if (typeof decoded === "string") broken.push({ ...file, reason: decoded })
    else if (record !== undefined) broken.push({ ...file, reason: recordedReason(file.name, decoded.task.id, record) })
    else tasks.push({ ...decoded, status, name: file.name, content: file.content })
  }
  return { tasks: tasks.sort((a, b) => TaskModule.claimOrder(a.task, b.task)), broken }
}

/** What an entry that is not read is, in words, and its extension once kept in `invalid/`. */
const asideOf = Effect.fnUntraced(function*(env: Env, path: string, name: string, read: Atomic.RegularFile) {
  if (read._tag === "TooLarge") {
    return { name, what: `a file of ${read.bytes} bytes (a task file may have ${taskFileBytesMax})`, suffix: "large" } satisfies Aside
  }
  if (read._tag === "Text") return yield* Effect.die(`${path} was read; it is not set aside`)
  switch (read.kind) {
    case "symbolic link": {
      const target = yield* env.fs.readLink(path).pipe(Effect.orElseSucceed(() => undefined))
      const to = target === undefined ? "" : ` (to ${Files.printable(JSON.stringify(target))})`
      return { name, what: `a symbolic link${to}`, suffix: "link" } satisfies Aside
    }
    case "folder":
      return { name, what: "a folder", suffix: "folder" } satisfies Aside
    case "FIFO":
      return { name, what: "a FIFO (named pipe)", suffix: "fifo" } satisfies Aside
    case "socket":
      return { name, what: "a socket", suffix: "socket" } satisfies Aside
    case "device":
      return { name, what: "a device", suffix: "device" } satisfies Aside
    case "special file":
      return { name, what: "a special file", suffix: "special" } satisfies Aside
  }
})

type FolderEntry =
  | { readonly _tag: "File"; readonly name: string; readonly content: string }
  | { readonly _tag: "Aside"; readonly aside: Aside }

/**
 * One entry of a folder: a regular file's text, or what it is instead; `undefined` when it
 * vanished (moved on). The listing's type is trusted only to skip the read: a folder, link, FIFO,
 * socket or device is never opened, and `readRegularFile` checks the type again on what it opens.
 */
const readEntry = Effect.fnUntraced(function*(env: Env, status: TaskStatus, entry: FileSystem.DirectoryEntry) {
  const path = filePath(env, status, entry.name)
  const kind = Atomic.specialKindOf(entry.type)
  const read = kind !== undefined
    ? { _tag: "NotRegular", kind } as const
    : yield* Atomic.readRegularFile(path, status === "invalid" ? invalidFileBytesMax : taskFileBytesMax)
  if (read === undefined) return undefined
  if (read._tag === "Text") return { _tag: "File", name: entry.name, content: read.content } satisfies FolderEntry
  return { _tag: "Aside", aside: yield* asideOf(env, path, entry.name, read) } satisfies FolderEntry
})

/**
 * The regular files of a folder as text, and the entries that are something else (set aside
 * unread). Names starting with `.` are not looked at; files that vanish while being read were
 * moved on.
 */
const readFolder = Effect.fnUntraced(function*(env: Env, status: TaskStatus) {
  const entries = yield* env.fs.readDirectoryEntries(env.layout.folders[status])
  const read = yield* Effect.forEach(entries.filter((e) => !e.name.startsWith(".")), (entry) => readEntry(env, status, entry), {
    concurrency: readConcurrency
  })
  const files: Array<{ readonly name: string; readonly content: string }> = []
  const aside: Array<Aside> = []
  for (const entry of read) {
    if (entry?._tag === "File") files.push(entry)
    if (entry?._tag === "Aside") aside.push(entry.aside)
  }
  return { files, aside }
})

/**
 * Ids with a record in `complete/` or `failed/`, each with that record's path (`complete/t1.json`).
 * Read after `pending/` is listed: a task moves from `pending/` to those folders only through
 * `current/`, and leaves them only by `oompa requeue`, so an id found in both is a second file for
 * one id — or a task that moved in between, which `moveToInvalid` sees (its file is gone or changed).
 */
const recordedIds = Effect.fnUntraced(function*(env: Env) {
  const recorded = new Map<string, string>()
  for (const status of ["complete", "failed"] as const) {
    for (const name of yield* env.fs.readDirectory(env.layout.folders[status])) {
      if (name.startsWith(".") || Files.formatOf(name) === undefined || recorded.has(Files.stemOf(name))) continue
      recorded.set(Files.stemOf(name), `${status}/${name}`)
    }
  }
  return recorded
})

/** The record in `complete/` or `failed/` of `id` (`complete/t1.json`), if any. */
const recordOf = Effect.fnUntraced(function*(env: Env, id: string) {
  for (const status of ["complete", "failed"] as const) {
    for (const format of ["json", "edn"] as const) {
      const name = Files.fileNameOf(id, format)
      if (yield* env.fs.exists(filePath(env, status, name))) return `${status}/${name}`
    }
  }
  return undefined
})

/**
 * The tasks of a folder in claim order. Broken files and entries that are not files found in a
 * working folder are moved to `invalid/` on the way, and so are `pending/` files whose id has a
 * record in `complete/` or `failed/`; in `invalid/` itself only files that are tasks are returned.
 */
const scan = Effect.fnUntraced(function*(env: Env, status: TaskStatus) {
  const { files, aside } = yield* readFolder(env, status)
  if (status === "invalid") return classify(status, files, new Map()).tasks
  const recorded = status === "pending" ? yield* recordedIds(env) : new Map<string, string>()
  const { tasks, broken } = classify(status, files, recorded)
  for (const entry of aside) yield* setAside(env, status, entry)
  for (const file of broken) yield* moveToInvalid(env, status, file)
  return tasks
})

/** The held file of `id` in a folder (`.json` first, then `.edn`), decoded; `undefined` if absent. */
const readTask = Effect.fnUntraced(function*(env: Env, status: TaskStatus, id: string) {
  for (const format of ["json", "edn"] as const) {
    const name = Files.fileNameOf(id, format)
    const path = filePath(env, status, name)
    const read = yield* Atomic.readRegularFile(path, taskFileBytesMax)
    if (read === undefined) continue
    if (read._tag !== "Text") {
      yield* setAside(env, status, yield* asideOf(env, path, name, read))
      return undefined
    }
    const decoded = Files.decodeTaskFile(name, read.content)
    if (typeof decoded !== "string") return { ...decoded, status, name, content: read.content } satisfies Held
    yield* moveToInvalid(env, status, { name, content: read.content, reason: decoded })
    return undefined
  }
  return undefined
})

// ---------------------------------------------------------------------------------------------
// invalid/
// ---------------------------------------------------------------------------------------------

/**
 * Stores an `invalid/` record under the first free stem (`x`, `x-1`, …): `recordFor(stem)` gives
 * the record to store under that stem, or `undefined` when the stem cannot be used. Returns the
 * record's path and stem. `link` never replaces a file, so concurrent writers never share a name.
 */
const placeInvalid = Effect.fnUntraced(function*(
  env: Env,
  stem: string,
  recordFor: (stem: string) => Effect.Effect<Files.InvalidRecord | undefined, PlatformError.PlatformError>
) {
  let temp: { readonly text: string; readonly path: string } | undefined
  const placed = yield* Effect.gen(function*() {
    for (let n = 0; n < invalidSuffixMax; n++) {
      const entryStem = n === 0 ? stem : `${stem}-${n}`
      const record = yield* recordFor(entryStem)
      if (record === undefined) continue
      const text = Files.encodeInvalid(record)
      if (temp?.text !== text) {
        if (temp !== undefined) yield* Atomic.discardTemp(env.fs, temp.path)
        temp = { text, path: yield* Atomic.writeTemp(env.fs, env.path, env.layout.temp, "invalid", text) }
      }
      const target = filePath(env, "invalid", `${entryStem}.json`)
      if (yield* Atomic.linkNew(env.fs, temp.path, target)) return { target, stem: entryStem }
    }
    return undefined
  }).pipe(Effect.ensuring(Effect.suspend(() => temp === undefined ? Effect.void : Atomic.discardTemp(env.fs, temp.path))))
  if (placed === undefined) {
    return yield* new Errors.TaskQueueError({ operation: "invalid", message: `invalid/ already holds ${invalidSuffixMax} entries named ${stem}` })
  }
  return placed
})

/** Stores an `invalid/` entry under the first free name; returns its path. */
const addInvalid = (env: Env, record: Files.InvalidRecord) =>
  placeInvalid(env, Files.invalidStem(record.name), () => Effect.succeed(record)).pipe(Effect.map((placed) => placed.target))

/**
 * Moves a broken file of a working folder to `invalid/`. The entry is written first, then the
 * original removed — only while it still holds the text recorded: when it is gone, another
 * process moved it first and its entry stands; when it changed, someone rewrote it since it was
 * read (a person fixing it, a task moving on) and their file stays. Either way this entry is
 * withdrawn: one entry per file, and no file is ever lost or replaced.
 */
const moveToInvalid = Effect.fnUntraced(function*(env: Env, status: TaskStatus, file: Broken) {
  const entry = yield* addInvalid(env, { invalid_reason: file.reason, name: file.name, from: file.from ?? status, content: file.content })
  const removed = yield* Atomic.removeIfUnchanged(env.fs, filePath(env, status, file.name), file.content)
  if (!removed) yield* Atomic.removeIfPresent(env.fs, entry)
})

/**
 * Moves an entry that is not a task file — a folder (task files nested in it included), a symbolic
 * link, a FIFO, a socket, a device, an oversized file — unread and as it is, from a working folder
 * to `invalid/<stem>.<suffix>`, next to a record `invalid/<stem>.json` that says what it was and
 * where it went. Nothing is followed, opened or lost, and the folder keeps only task files. When
 * the entry cannot be moved (it vanished, or the rename fails, e.g. a mount point), the record is
 * withdrawn; a failure is logged as a warning and the entry is left where it is, unread.
 */
const setAside = Effect.fnUntraced(function*(env: Env, status: TaskStatus, aside: Aside) {
  const shown = Files.shownName(aside.name)
  const advice = aside.suffix === "folder" ? "; task files inside a folder are not tasks: put them in pending/ itself" : ""
  const placed = yield* placeInvalid(env, Files.invalidStem(aside.name), (stem) =>
    env.fs.exists(filePath(env, "invalid", `${stem}.${aside.suffix}`)).pipe(Effect.map((taken) =>
      taken ? undefined : {
        invalid_reason: `${shown}: ${aside.what}, not a task file. oompa reads only regular files in ${status}/ (it follows no link and opens no FIFO or device there), so this was moved, unread and as it is, to invalid/${stem}.${aside.suffix}${advice}`,
        name: aside.name,
        from: status,
        content: ""
      }
    )))
  const moved = yield* env.fs.rename(filePath(env, status, aside.name), filePath(env, "invalid", `${placed.stem}.${aside.suffix}`)).pipe(
    Effect.as(true),
    Effect.catchReason("PlatformError", "NotFound", () => Effect.succeed(false)),
    Effect.catch((error) =>
      Effect.logWarning(`oompa: ${status}/${shown} is ${aside.what}, not a task file; it was left where it is, unread, because moving it to invalid/ failed: ${error.message}`).pipe(
        Effect.as(false)
      )
    )
  )
  if (!moved) yield* Atomic.removeIfPresent(env.fs, placed.target)
})

// ---------------------------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------------------------

/**
 * How a move ended: done; not done because the held file changed since it was read (read it again);
 * or not done because the target folder already has a file of this id (`by`), which was kept as it
 * is — `content` is the task's new text, still in the held folder.
 */
type MoveOutcome =
  | { readonly _tag: "Moved" }
  | { readonly _tag: "Changed" }
  | { readonly _tag: "Taken"; readonly by: string; readonly content: string }

/**
 * Rewrites a held task in place as `<id>.json` with `task`'s fields (converting an `.edn` file),
 * then gives it its name in `to`. Each step is atomic and compares before it replaces anything:
 * - The rewrite happens only while the file still holds the text the task was read from. A person
 *   may edit a task file in `current/` after a crash, before recovery returns it to `pending/`:
 *   their edit is what was read, or the move starts over (`Changed`) and reads it; never a silent
 *   overwrite with an older copy. (A rewrite in the instant between the compare and the rename is
 *   not seen: the compare narrows the window to that instant, it cannot close it.)
 * - The file reaches `to` by `link`, which never replaces a file there, then leaves the held folder
 *   (only while it holds what was written). A file of the same id already in `to` — a person's new
 *   or edited `pending/<id>.json`, or a record in `complete/` or `failed/` — is kept byte for byte,
 *   and the caller decides (`Taken`); the same text there is the leftover of a move a crash
 *   interrupted between the two steps, and the move completes.
 */
const moveTask = Effect.fnUntraced(function*(env: Env, held: Held, task: Task, to: TaskStatus) {
  const json = Files.fileNameOf(task.id)
  const content = Files.encodeTaskFile(task, held.raw)
  const source = filePath(env, held.status, json)
  const now = yield* Atomic.readRegularFile(filePath(env, held.status, held.name), taskFileBytesMax)
  if (now?._tag !== "Text" || now.content !== held.content) return { _tag: "Changed" } satisfies MoveOutcome
  if (held.name === json) {
    if (content !== held.content) yield* Atomic.writeAtomic(env.fs, env.path, env.layout.temp, source, content)
  } else {
    // An .edn file becomes <id>.json beside it; a .json that appeared in the meantime is not replaced.
    if (!(yield* Atomic.createExclusive(env.fs, env.path, env.layout.temp, source, content))) return { _tag: "Changed" } satisfies MoveOutcome
    yield* Atomic.removeIfUnchanged(env.fs, filePath(env, held.status, held.name), held.content)
  }
  if (to === held.status) return { _tag: "Moved" } satisfies MoveOutcome
  const edn = Files.fileNameOf(task.id, "edn")
  if (yield* env.fs.exists(filePath(env, to, edn))) return { _tag: "Taken", by: `${to}/${edn}`, content } satisfies MoveOutcome
  const target = filePath(env, to, json)
  if (!(yield* Atomic.linkNew(env.fs, source, target))) {
    const there = yield* Atomic.readRegularFile(target, taskFileBytesMax)
    if (there?._tag !== "Text" || there.content !== content) return { _tag: "Taken", by: `${to}/${json}`, content } satisfies MoveOutcome
  }
  yield* Atomic.removeIfUnchanged(env.fs, source, content)
  return { _tag: "Moved" } satisfies MoveOutcome
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
 * Moves held task `id` out of `current/` as `plan` says, reading it again when it changed under the
 * move (at most `rereadsMax` times). When the target already has a file of this id, that file is
 * kept and the held copy, with everything the framework recorded in it, goes to `invalid/` with
 * the reason `takenReason` gives: both are kept, neither is silently overwritten.
 */
const moveHeld = Effect.fnUntraced(function*<To extends TaskStatus>(env: Env, operation: string, id: string, plan: {
  readonly next: (held: Held) => { readonly task: Task; readonly to: To }
  readonly takenReason: (held: Held, by: string) => string
}) {
  for (let read = 0; read < rereadsMax; read++) {
    const held = yield* readHeld(env, operation, id)
    const { task, to } = plan.next(held)
    const outcome = yield* moveTask(env, held, task, to)
    if (outcome._tag === "Changed") continue
    if (outcome._tag === "Taken") {
      const name = Files.fileNameOf(id)
      yield* moveToInvalid(env, "current", { name, content: outcome.content, reason: `${name}: ${plan.takenReason(held, outcome.by)}` })
    }
    return to
  }
  return yield* new Errors.TaskQueueError({ operation, task: id, message: `current/${id}.json kept changing while oompa moved it (${rereadsMax} tries)` })
})

/**
 * After winning the rename of `name` into `current/`: reads the file now held (it is the truth,
 * whatever the scan saw), refuses it when its id has a record in `complete/` or `failed/` (checked
 * again here, where the file is this claimer's alone), and converts an `.edn` file to `.json`.
 */
const settleClaim = Effect.fnUntraced(function*(env: Env, name: string) {
  for (let read = 0; read < rereadsMax; read++) {
    const held = yield* readTask(env, "current", Files.stemOf(name))
    if (held === undefined) return undefined
    const record = yield* recordOf(env, held.task.id)
    if (record !== undefined) {
      yield* moveToInvalid(env, "current", { ...held, from: "pending", reason: recordedReason(held.name, held.task.id, record) })
      return undefined
    }
    if (held.name === Files.fileNameOf(held.task.id)) return held.task
    const outcome = yield* moveTask(env, held, held.task, "current")
    if (outcome._tag === "Moved") return held.task
  }
  // Still an .edn file someone keeps rewriting: it is held all the same, and read again when it moves.
  return (yield* readTask(env, "current", Files.stemOf(name)))?.task
})

/** Whether `current/` has a file for `id` (held by a worker, or put there by hand). */
const isHeld = Effect.fnUntraced(function*(env: Env, id: string) {
  for (const format of ["json", "edn"] as const) {
    if (yield* env.fs.exists(filePath(env, "current", Files.fileNameOf(id, format)))) return true
  }
  return false
})

/**
 * Claims the first pending task that can be claimed. A pending file whose id is held in `current/`
 * is skipped, not claimed: `rename` would replace the held copy. It is a second file for one id
 * (made by hand; `create` refuses such ids) or a task another claimer took a moment ago, and it is
 * dealt with when the held task moves on (a record in `complete/` or `failed/` refuses it; a release
 * to `pending/` keeps it and records the held copy in `invalid/`). Returns `None` when a pass over
 * `pending/` lost no race and claimed nothing.
 */
const claimFrom = Effect.fnUntraced(function*(env: Env) {
  for (let round = 0; round < claimRoundsMax; round++) {
    const pending = yield* scan(env, "pending")
    let contested = false
    for (const candidate of pending) {
      if (yield* isHeld(env, candidate.task.id)) continue
      const won = yield* Atomic.renameIfPresent(env.fs, filePath(env, "pending", candidate.name), filePath(env, "current", candidate.name))
      // Another claimer took it between our scan and our rename.
      if (!won) contested = true
      if (!won) continue
      const task = yield* settleClaim(env, candidate.name)
      if (task !== undefined) return Option.some(task)
    }
    if (!contested) return Option.none<Task>()
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
      yield* moveHeld(env, "complete", id, {
        next: (held) => ({ task: { ...held.task, merged_sha: mergedSha }, to: "complete" }),
        // Only by hand: claims refuse ids with a record. The work is merged; both records stay.
        takenReason: (_held, by) =>
          `completed (merged in ${mergedSha}), but ${by} already holds a task with this id; that record was kept as it is, and this one is recorded here`
      }).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("complete", id)(e))))
    }),
    release: Effect.fn("FsTaskQueue.release")(function*(id: string, options: {
      readonly feedback: string
      readonly countAttempt: boolean
      readonly maxAttempts: number
    }) {
      return yield* moveHeld(env, "release", id, {
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
      for (let read = 0; read < rereadsMax; read++) {
        const held = yield* readTask(env, folder, id)
        if (held === undefined) break
        for (const format of ["json", "edn"] as const) {
          const name = Files.fileNameOf(id, format)
          // The user's own pending file is never replaced; they choose which one to keep.
          if (yield* env.fs.exists(filePath(env, "pending", name))) return yield* refuse(`pending/${name} already exists; move it away first to requeue the task`)
        }
        const { attempts: _attempts, ...task } = held.task
        const { attempts: _rawAttempts, ...raw } = held.raw
        const outcome = yield* moveTask(env, { ...held, raw }, task, "pending")
        if (outcome._tag === "Moved") return folder
        if (outcome._tag === "Taken") return yield* refuse(`${outcome.by} appeared while requeueing; ${folder}/${id}.json stays (its attempts now reset)`)
      }
    }
    return yield* refuse(`no task ${id} in ${folders.map((f) => `${f}/`).join(" or ")}`)
  }).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(queueError("requeue", id)(e))))
})
