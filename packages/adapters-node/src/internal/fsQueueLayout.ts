/**
 * The vocabulary of the filesystem task queue: its folders and where they are, the bounds on what it
 * reads, and the shapes a file takes while the queue works on it (a held task with the text it was
 * read from, a broken file, an entry set aside unread).
 *
 * Internal: used by `FsTaskQueue` (which re-exports `statuses`, `Layout`, `layout` and
 * `taskFileBytesMax`) and its internal modules.
 *
 * @since 0.1.0
 */
import { Errors, type ReadyTasks, type Task as TaskModule } from "@oompa/core"
import type { FileSystem, Path, PlatformError, Semaphore } from "effect"
import type * as Files from "./fsTaskFiles.ts"

type Task = TaskModule.Task
type TaskStatus = TaskModule.TaskStatus

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
 * Largest task file read, in bytes. Task files are small; the bound keeps a hostile file of
 * gigabytes from being loaded into memory (it is moved to `invalid/` unread instead).
 */
export const taskFileBytesMax = 8 * 1024 * 1024

/** Largest `invalid/` record read: a record quotes a task file, JSON-escaped (up to 6 bytes a byte). */
export const invalidFileBytesMax = 8 * taskFileBytesMax

/** Times an operation on a held task starts over because the file changed while it worked. */
export const rereadsMax = 3

export interface Env {
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly layout: Layout
  /** What the queue remembers of its folders (`fsQueueIndex`); absent for one-off reads and moves (`requeue`). */
  readonly index?: QueueIndex
}

/** The folders the queue keeps an index of: the ones it claims from and lists for prompts. */
export type IndexedStatus = Exclude<TaskStatus, "invalid">

/** A task file as the index knows it. */
export interface IndexEntry {
  readonly name: string
  readonly task: Task
  /** The file's inode, size and times when it was read; `undefined`: read it again at the next listing. */
  readonly identity: string | undefined
}

/**
 * One folder as the queue last saw it. Mutable, and changed only while the queue's lock is held.
 */
export interface FolderIndex {
  readonly status: IndexedStatus
  /** The folder's own stat (device, inode, size, times) when `entries` last matched it; `undefined`: list it anew. */
  stamp: string | undefined
  /** The folder's tasks by file name. */
  entries: Map<string, IndexEntry>
  /** The same entries in claim order (priority, then id, then name). */
  order: Array<IndexEntry>
  /** Names the queue itself changed since `stamp` was taken: looked at again at the next use. */
  readonly dirty: Set<string>
  /** Uses since the folder was last listed in full. */
  uses: number
  /** The last answer of `list`, kept (the same array) while nothing changed. */
  listed: ReadonlyArray<Task> | undefined
}

/**
 * The index of a queue: one `FolderIndex` per indexed folder, which of the pending entries are
 * ready (told of every entry added to or dropped from any folder), and the lock that orders their use.
 */
export interface QueueIndex {
  readonly folders: Readonly<Record<IndexedStatus, FolderIndex>>
  readonly readiness: ReadyTasks.ReadyTasks<IndexEntry>
  readonly lock: Semaphore.Semaphore
}

/** A task file in a folder, decoded, with the text it was decoded from. */
export interface Held extends Files.DecodedTask {
  readonly status: TaskStatus
  readonly name: string
  readonly content: string
}

/** A file read from a folder that is not a usable task, with why. */
export interface Broken {
  readonly name: string
  readonly content: string
  readonly reason: string
  /** The folder the record names, when not the one the file is in (a claimed file came from `pending/`). */
  readonly from?: TaskStatus
}

/** An entry of a folder that is not a regular file (or is too large to read): it is never read. */
export interface Aside {
  readonly name: string
  /** What it is, for the reason: `a folder`, `a symbolic link (to "/etc/passwd")`, … */
  readonly what: string
  /** The extension of its name in `invalid/`: `folder`, `link`, `fifo`, … */
  readonly suffix: string
}

export const filePath = (env: Env, status: TaskStatus, name: string): string => env.path.join(env.layout.folders[status], name)

export const queueError = (operation: string, task?: string) => (error: PlatformError.PlatformError) =>
  new Errors.TaskQueueError({ operation, ...(task === undefined ? {} : { task }), message: error.message })
