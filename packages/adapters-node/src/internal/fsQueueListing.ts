/**
 * How the filesystem task queue reads a folder: every regular file as text (names starting with `.`
 * ignored, entries that are not regular files set aside unread), decoded and split into tasks in
 * claim order and broken files, which go to `invalid/` on the way — as do `pending/` files whose id
 * already has a final record in `complete/` or `failed/`. `scan` reads every file (for `invalid/`,
 * which has no index); the index of the other folders (`fsQueueIndex`) reads only the files that
 * changed, with the same `readEntry` and `classify`.
 *
 * Internal: used by `FsTaskQueue` and its internal modules.
 *
 * @since 0.1.0
 */
// `Errors` is what the declarations of the effects exported here name their failures by.
import { type Errors, Task as TaskModule } from "@oompa/core"
import { Effect, type FileSystem } from "effect"
import * as Atomic from "./fsAtomic.ts"
import { asideOf, moveToInvalid, setAside } from "./fsQueueInvalid.ts"
import { type Aside, type Broken, type Env, filePath, type Held, invalidFileBytesMax, taskFileBytesMax } from "./fsQueueLayout.ts"
import * as Files from "./fsTaskFiles.ts"

type TaskStatus = TaskModule.TaskStatus

/** Files read at once when scanning a folder. */
const readConcurrency = 8

/**
 * Why a file of `pending/` is not a task although it decodes as one: its id already has a record
 * in `complete/` or `failed/` (`record`, e.g. `complete/t1.json`). Such a record is final, and a
 * second task with its id would replace it when it completes or fails.
 */
export const recordedReason = (name: string, id: string, record: string): string =>
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
 * is in `recorded` (ids with a record in `complete/` or `failed/`) is broken too. `jsonStems` are the
 * stems of the folder's `.json` files when `files` are only some of them (the index reads only the
 * files that changed).
 */
export const classify = <F extends { readonly name: string; readonly content: string }>(
  status: TaskStatus,
  files: ReadonlyArray<F>,
  recorded: ReadonlyMap<string, string>,
  jsonStems: ReadonlySet<string> = new Set(files.filter((f) => Files.formatOf(f.name) === "json").map((f) => Files.stemOf(f.name)))
) => {
  const tasks: Array<Held & { readonly file: F }> = []
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
    else tasks.push({ ...decoded, status, name: file.name, content: file.content, file })
  }
  return { tasks: tasks.sort((a, b) => TaskModule.claimOrder(a.task, b.task)), broken }
}

export type FolderEntry =
  | { readonly _tag: "File"; readonly name: string; readonly content: string }
  | { readonly _tag: "Aside"; readonly aside: Aside }

/**
 * One entry of a folder: a regular file's text, or what it is instead; `undefined` when it
 * vanished (moved on). The listing's type is trusted only to skip the read: a folder, link, FIFO,
 * socket or device is never opened, and `readRegularFile` checks the type again on what it opens.
 */
export const readEntry = Effect.fnUntraced(function*(env: Env, status: TaskStatus, entry: FileSystem.DirectoryEntry) {
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
export const readFolder = Effect.fnUntraced(function*(env: Env, status: TaskStatus) {
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
export const recordedIds = Effect.fnUntraced(function*(env: Env) {
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
export const recordOf = Effect.fnUntraced(function*(env: Env, id: string) {
  for (const status of ["complete", "failed"] as const) {
    for (const format of ["json", "edn"] as const) {
      const name = Files.fileNameOf(id, format)
      if (yield* env.fs.exists(filePath(env, status, name))) return `${status}/${name}`
    }
  }
  return undefined
})

/**
 * The dependencies of `task` that have no record in `complete/`, looked up in the folder itself: the
 * index may not have seen a task file rewritten in place (its stat unchanged), the folder is the truth.
 */
export const unmetDependencies = Effect.fnUntraced(function*(env: Env, task: TaskModule.Task) {
  const unmet: Array<string> = []
  for (const id of TaskModule.dependenciesOf(task)) {
    const json = yield* env.fs.exists(filePath(env, "complete", Files.fileNameOf(id)))
    if (!json && !(yield* env.fs.exists(filePath(env, "complete", Files.fileNameOf(id, "edn"))))) unmet.push(id)
  }
  return unmet
})

/**
 * The tasks of a folder in claim order. Broken files and entries that are not files found in a
 * working folder are moved to `invalid/` on the way, and so are `pending/` files whose id has a
 * record in `complete/` or `failed/`; in `invalid/` itself only files that are tasks are returned.
 */
export const scan = Effect.fnUntraced(function*(env: Env, status: TaskStatus) {
  const { files, aside } = yield* readFolder(env, status)
  if (status === "invalid") return classify(status, files, new Map()).tasks
  const recorded = status === "pending" ? yield* recordedIds(env) : new Map<string, string>()
  const { tasks, broken } = classify(status, files, recorded)
  for (const entry of aside) yield* setAside(env, status, entry)
  for (const file of broken) yield* moveToInvalid(env, status, file)
  return tasks
})

/**
 * The held file of `id` in a folder (`.json` first, then `.edn`), decoded; `undefined` if absent.
 * A broken file goes to `invalid/`, its record naming `from` (a claimed file came from `pending/`).
 */
export const readTask = Effect.fnUntraced(function*(env: Env, status: TaskStatus, id: string, from: TaskStatus = status) {
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
    yield* moveToInvalid(env, status, { name, content: read.content, reason: decoded, from })
    return undefined
  }
  return undefined
})
