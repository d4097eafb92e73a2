/**
 * What the filesystem task queue remembers of its folders between two operations (issue 17): the
 * tasks of `pending/`, `current/`, `complete/` and `failed/`, in claim order, each with the identity
 * (inode, size, times) of the file it was read from, and the folder's own stat when that was true.
 * A claim then costs a `stat` of the folder, the files the queue itself just changed and the task it
 * takes — not a read and decode of every pending file (901 ms per claim at 10,000 pending in issue
 * 17, 1.5–2.8 s on a loaded machine);
 * the context header's four listings cost four `stat`s, and return the same array while a folder
 * does not change.
 *
 * The folder is the source of truth; the index only says where to look first, so a wrong index
 * never loses a task and never hands one out twice:
 * - a claim is still the checked `rename`, and the claimed file is read and decoded after it (the
 *   task returned is what the file holds then);
 * - a file the index names that is gone (another claimer took it) is skipped, and the folder is
 *   listed again at its next use; a claim that finds nothing lists the folder before answering `None`.
 *
 * How it stays in step: every entry added, removed or renamed changes the folder's stat (its
 * mtime and ctime). The queue's own changes are bracketed by `changing` (the stat before and after,
 * and the names it touched, which are read again at the next use); any other change shows as a
 * stat the index does not know, and the folder is listed anew — reading again only the files whose
 * identity changed. A folder is also listed in full at least every `listingUsesMax` uses.
 *
 * What the folder's stat does not show: a file rewritten in place (same name, same inode), and,
 * where timestamps are coarse, a change someone else makes within the same tick as one of this
 * queue's own `stat`s (1–10 ms on Linux before 6.13, whose ext4, xfs, btrfs and tmpfs give a change
 * that follows a `stat` a fresh timestamp; up to 2 s on FAT). Such a change is seen at the next full
 * listing: the next change by someone else, a lost race, a claim that finds nothing, or
 * `listingUsesMax` uses at the latest. Until then it only affects order: a priority edited in
 * place may be honoured that late; the task itself is read when it is claimed.
 *
 * The index also keeps which pending tasks are ready (`ReadyTasks` of `@oompa/core`, told of every
 * entry a folder gains or loses): a claim takes the first ready task in claim order without looking
 * at the tasks that wait for a dependency (issue 18), however many there are.
 *
 * Internal: used by `FsTaskQueue` and its internal modules. Every function here expects the queue's lock.
 *
 * @since 0.1.0
 */
import * as NodeFs from "node:fs"
// `Errors` is what the declarations of the effects exported here name their failures by.
import { type Errors, ReadyTasks, Task as TaskModule } from "@oompa/core"
import { Clock, Effect, type FileSystem, PlatformError, Semaphore } from "effect"
import * as Atomic from "./fsAtomic.ts"
import { moveToInvalid, setAside } from "./fsQueueInvalid.ts"
import {
  type Aside,
  type Broken,
  type Env,
  filePath,
  type FolderIndex,
  type IndexedStatus,
  type IndexEntry,
  type QueueIndex
} from "./fsQueueLayout.ts"
import { classify, readEntry, recordedIds, recordOf } from "./fsQueueListing.ts"
import * as Files from "./fsTaskFiles.ts"

type Task = TaskModule.Task

/**
 * Uses of a folder's index (claims, listings) after which the folder is listed in full again, to
 * see what its stat cannot show. At 10,000 pending a full listing that reads nothing (a `readdir`
 * and 10,000 `lstat`s) took 70–120 ms on a loaded 2-core machine, some 50–100 claims: one use in
 * 64 adds 1–2 ms to the average claim, and nothing to the median.
 */
export const listingUsesMax = 64

/** Files read at once when listing a folder. */
const readConcurrency = 8

/** Files `lstat`ed between two yields of a listing (the calls are synchronous: ~4 µs each). */
const identityBatch = 512

const emptyFolder = (status: IndexedStatus): FolderIndex => ({
  status,
  stamp: undefined,
  entries: new Map(),
  order: [],
  dirty: new Set(),
  uses: 0,
  listed: undefined
})

/** Whether the index of a folder has a file of task `id` (`.json` or `.edn`). */
export const hasTask = (folder: FolderIndex, id: string): boolean =>
  folder.entries.has(Files.fileNameOf(id)) || folder.entries.has(Files.fileNameOf(id, "edn"))

/** An empty index: every folder is listed at its first use. */
export const make: Effect.Effect<QueueIndex> = Effect.map(Semaphore.make(1), (lock) => {
  const folders = { pending: emptyFolder("pending"), current: emptyFolder("current"), complete: emptyFolder("complete"), failed: emptyFolder("failed") }
  const readiness = new ReadyTasks.ReadyTasks<IndexEntry>({
    keyOf: (entry) => entry.name,
    taskOf: (entry) => entry.task,
    order: entryOrder,
    isComplete: (id) => hasTask(folders.complete, id)
  })
  return { lock, folders, readiness }
})

/** The queue's index (the service always has one). */
export const indexOf = (env: Env): Effect.Effect<QueueIndex> =>
  env.index === undefined ? Effect.die("the queue's index is used without an index") : Effect.succeed(env.index)

/** The index of folder `status` (the service always has one). */
export const folderOf = (env: Env, status: IndexedStatus): Effect.Effect<FolderIndex> =>
  env.index === undefined ? Effect.die(`the ${status}/ index is used without an index`) : Effect.succeed(env.index.folders[status])

// ---------------------------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------------------------

const statError = (method: string, target: string) => (cause: unknown): PlatformError.PlatformError => {
  const code = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined
  return PlatformError.systemError({
    _tag: code === "ENOENT" ? "NotFound" : code === "EACCES" || code === "EPERM" ? "PermissionDenied" : "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor: target,
    description: cause instanceof Error ? cause.message : String(cause),
    cause
  })
}

/**
 * The stamp of a folder: its device, inode, size and times in nanoseconds (Effect's `stat` gives
 * milliseconds). Adding, removing or renaming an entry changes the times.
 */
const stampOf = (env: Env, status: IndexedStatus): Effect.Effect<string, PlatformError.PlatformError> => {
  const dir = env.layout.folders[status]
  return Effect.try({
    try: () => {
      const stat = NodeFs.statSync(dir, { bigint: true })
      return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`
    },
    catch: statError("stat", dir)
  })
}

/**
 * How recently a file may have changed for its identity to be kept: a rewrite within the same
 * timestamp tick as the read (same size, same inode) would not change it, so a file changed this
 * recently is read again at the next full listing (as git treats "racily clean" files). Linux
 * timestamps tick every 1-10 ms (a change after a `stat` gets a fresh one since 6.13); on a
 * filesystem with coarser ones (FAT: 2 s) a same-size rewrite may stay unseen until the file
 * changes again.
 */
const settledMs = 100

/**
 * The identity of each file `names` of folder `dir`, not following a link: inode, size and times
 * (a rewrite changes the times, a file put in its place the inode). `undefined` when it is gone,
 * `"other"` when it is not a regular file (it is then read, which sets it aside), `"recent"` when it
 * changed too recently for its identity to be trusted (it is read, and again at the next listing).
 */
const identitiesOf = (env: Env, dir: string, names: ReadonlyArray<string>) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.try({
      try: () => {
        const prefix = `${dir}${env.path.sep}`
        const identities: Array<string | undefined> = new Array(names.length)
        for (let i = 0; i < names.length; i++) {
          const stat = NodeFs.lstatSync(prefix + names[i], { throwIfNoEntry: false })
          identities[i] = stat === undefined
            ? undefined
            : !stat.isFile()
            ? "other"
            : now - Math.max(stat.mtimeMs, stat.ctimeMs) < settledMs
            ? "recent"
            : `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`
        }
        return identities
      },
      catch: statError("lstat", dir)
    }))

/** The identity an entry keeps: none for a file that was not a regular file or changed too recently. */
const trustedIdentity = (identity: string | undefined): string | undefined => identity === "other" || identity === "recent" ? undefined : identity

// ---------------------------------------------------------------------------------------------
// The order
// ---------------------------------------------------------------------------------------------

/** Claim order (priority, then id), then file name: a total order on a folder's entries. */
const entryOrder = (a: IndexEntry, b: IndexEntry): number => {
  const byTask = TaskModule.claimOrder(a.task, b.task)
  if (byTask !== 0) return byTask
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

/** Where `entry` goes in `order` (the first position not before it). */
const positionOf = (order: ReadonlyArray<IndexEntry>, entry: IndexEntry): number => {
  let low = 0
  let high = order.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (entryOrder(order[mid]!, entry) < 0) low = mid + 1
    else high = mid
  }
  return low
}

/**
 * Tells the queue's `ReadyTasks` what entries a folder gained and lost (after the folder's index
 * changed): pending entries are its own; a task entering or leaving any folder may make one ready,
 * or blocked, or a task to judge.
 */
const noteEntries = (env: Env, folder: FolderIndex, added: ReadonlyArray<IndexEntry>, removed: ReadonlyArray<IndexEntry>): void => {
  const readiness = env.index?.readiness
  if (readiness === undefined) return
  if (folder.status === "pending") {
    for (const entry of removed) readiness.remove(entry.name)
    readiness.putAll(added)
  }
  for (const entry of removed) readiness.changed(entry.task.id)
  for (const entry of added) readiness.changed(entry.task.id)
}

/** Drops the entry of `name` from a folder's index. */
export const forgetEntry = (env: Env, folder: FolderIndex, name: string): void => {
  const entry = folder.entries.get(name)
  if (entry === undefined) return
  folder.entries.delete(name)
  const at = positionOf(folder.order, entry)
  const index = folder.order[at] === entry ? at : folder.order.indexOf(entry)
  if (index >= 0) folder.order.splice(index, 1)
  folder.listed = undefined
  noteEntries(env, folder, [], [entry])
}

const putEntry = (env: Env, folder: FolderIndex, entry: IndexEntry): void => {
  forgetEntry(env, folder, entry.name)
  folder.entries.set(entry.name, entry)
  folder.order.splice(positionOf(folder.order, entry), 0, entry)
  folder.listed = undefined
  noteEntries(env, folder, [entry], [])
}

// ---------------------------------------------------------------------------------------------
// The queue's own changes
// ---------------------------------------------------------------------------------------------

/**
 * Runs `change`, a change this queue makes to the files `names` of the folders `statuses`, keeping
 * their index in step: when a folder's stat before the change is the one the index knows, nobody
 * else changed it since, and its stat after the change is the index's new stamp (the names are read
 * again at the next use); otherwise the folder is listed anew at its next use. Without an index
 * (`requeue`) it is just `change`.
 */
export const changing = <A, E, R>(
  env: Env,
  statuses: ReadonlyArray<IndexedStatus>,
  names: ReadonlyArray<string>,
  change: Effect.Effect<A, E, R>
): Effect.Effect<A, E | PlatformError.PlatformError, R> => {
  const index = env.index
  if (index === undefined) return change
  return Effect.gen(function*() {
    const known: Array<boolean> = []
    for (const status of statuses) {
      const folder = index.folders[status]
      known.push((yield* stampOf(env, status)) === folder.stamp)
      // Until the change is done (and if it fails or is interrupted) the folder is listed anew.
      folder.stamp = undefined
      for (const name of names) folder.dirty.add(name)
    }
    const result = yield* change
    for (const [i, status] of statuses.entries()) {
      const stamp = yield* stampOf(env, status)
      if (known[i] === true) index.folders[status].stamp = stamp
    }
    return result
  })
}

/** Makes the next use of folder `status` list it in full (someone else changed it). */
export const forgetStamp = (env: Env, status: IndexedStatus): void => {
  if (env.index !== undefined) env.index.folders[status].stamp = undefined
}

// ---------------------------------------------------------------------------------------------
// Reading a folder into its index
// ---------------------------------------------------------------------------------------------

interface Unread {
  readonly entry: FileSystem.DirectoryEntry
  readonly identity: string | undefined
}

/**
 * Reads `unread` and splits them, as a listing does: tasks go into the index, broken files and
 * entries that are not files to `invalid/` (returned, moved by the caller).
 */
const readInto = Effect.fnUntraced(function*(env: Env, status: IndexedStatus, unread: ReadonlyArray<Unread>, context: {
  readonly recorded: ReadonlyMap<string, string>
  readonly jsonStems: ReadonlySet<string>
}) {
  const read = yield* Effect.forEach(unread, (item) =>
    Effect.map(readEntry(env, status, item.entry), (entry) => ({ entry, identity: item.identity })), { concurrency: readConcurrency })
  const files: Array<{ readonly name: string; readonly content: string; readonly identity: string | undefined }> = []
  const aside: Array<Aside> = []
  for (const { entry, identity } of read) {
    if (entry?._tag === "File") files.push({ ...entry, identity: trustedIdentity(identity) })
    if (entry?._tag === "Aside") aside.push(entry.aside)
  }
  const { tasks, broken } = classify(status, files, context.recorded, context.jsonStems)
  const entries = tasks.map((held): IndexEntry => ({ name: held.name, task: held.task, identity: held.file.identity }))
  return { entries, broken, aside }
})

/** Moves what a listing found broken or not a file to `invalid/`, as the queue's own change. */
const setAsideAll = (env: Env, status: IndexedStatus, found: { readonly broken: ReadonlyArray<Broken>; readonly aside: ReadonlyArray<Aside> }) =>
  found.broken.length + found.aside.length === 0 ? Effect.void : changing(
    env,
    [status],
    [...found.broken.map((b) => b.name), ...found.aside.map((a) => a.name)],
    Effect.gen(function*() {
      for (const entry of found.aside) yield* setAside(env, status, entry)
      for (const file of found.broken) yield* moveToInvalid(env, status, file)
    })
  )

/** New entries put in one by one (a binary search each) rather than sorting the whole folder again. */
const insertsMax = 64

/** The entries of a folder after a full listing: those `unchanged` (in their order) and those `added`. */
const replaceEntries = (env: Env, folder: FolderIndex, unchanged: ReadonlyArray<IndexEntry>, added: ReadonlyArray<IndexEntry>): void => {
  const keep = new Set(unchanged)
  const removed = [...folder.entries.values()].filter((entry) => !keep.has(entry))
  if (added.length > insertsMax) {
    folder.order = [...unchanged, ...added].sort(entryOrder)
  } else {
    folder.order = folder.order.filter((entry) => keep.has(entry))
    for (const entry of added) folder.order.splice(positionOf(folder.order, entry), 0, entry)
  }
  folder.entries = new Map(folder.order.map((entry) => [entry.name, entry]))
  folder.listed = undefined
  noteEntries(env, folder, added, removed)
}

/**
 * Lists folder `status` in full: every entry is `lstat`ed, and only those the index does not know
 * by name and identity are read (with any whose judgement depends on other files: an `.edn` file
 * beside a `.json` one, a pending file whose id has a record in `complete/` or `failed/`).
 * `stamp` is the folder's stat taken before the listing: a change during it shows at the next use.
 */
const listAnew = Effect.fnUntraced(function*(env: Env, status: IndexedStatus, folder: FolderIndex, stamp: string) {
  folder.stamp = undefined
  const listing = (yield* env.fs.readDirectoryEntries(env.layout.folders[status])).filter((e) => !e.name.startsWith("."))
  const jsonStems = new Set(listing.filter((e) => Files.formatOf(e.name) === "json").map((e) => Files.stemOf(e.name)))
  const recorded = status === "pending" ? yield* recordedIds(env) : new Map<string, string>()
  // A known file is judged again when its judgement depends on another: an .edn file beside a
  // .json one, a pending file whose id now has a record in complete/ or failed/.
  const standsAlone = (name: string): boolean => {
    const stem = Files.stemOf(name)
    return !recorded.has(stem) && (Files.formatOf(name) !== "edn" || !jsonStems.has(stem))
  }
  const unchanged: Array<IndexEntry> = []
  const unread: Array<Unread> = []
  for (let start = 0; start < listing.length; start += identityBatch) {
    const batch = listing.slice(start, start + identityBatch)
    const identities = yield* identitiesOf(env, env.layout.folders[status], batch.map((entry) => entry.name))
    for (let i = 0; i < batch.length; i++) {
      const entry = batch[i]!
      const identity = identities[i]
      if (identity === undefined) continue
      const known = folder.entries.get(entry.name)
      if (known?.identity !== undefined && known.identity === identity && standsAlone(entry.name)) unchanged.push(known)
      else unread.push({ entry, identity })
    }
    yield* Effect.yieldNow
  }
  const found = yield* readInto(env, status, unread, { recorded, jsonStems })
  if (found.entries.length > 0 || unchanged.length !== folder.entries.size) replaceEntries(env, folder, unchanged, found.entries)
  folder.dirty.clear()
  folder.uses = 0
  folder.stamp = stamp
  yield* setAsideAll(env, status, found)
})

/**
 * Reads again the files the queue itself changed in folder `status` since its last use (the folder
 * is otherwise as the index says): each is gone, a task, or broken (to `invalid/`).
 */
const readDirty = Effect.fnUntraced(function*(env: Env, status: IndexedStatus, folder: FolderIndex) {
  // Names of the folder's own entries only (never `..` or a path), as a listing would see them.
  const names = [...folder.dirty].filter((name) => !name.startsWith(".") && !name.includes(env.path.sep))
  folder.dirty.clear()
  const identities = yield* identitiesOf(env, env.layout.folders[status], names)
  const unread: Array<Unread> = []
  const recorded = new Map<string, string>()
  const jsonStems = new Set<string>()
  for (const [i, name] of names.entries()) {
    const identity = identities[i]
    forgetEntry(env, folder, name)
    if (identity === undefined) continue
    unread.push({ entry: { name, type: identity === "other" ? "Unknown" : "File" }, identity })
    const stem = Files.stemOf(name)
    if (status === "pending" && Files.formatOf(name) !== undefined) {
      const record = yield* recordOf(env, stem)
      if (record !== undefined) recorded.set(stem, record)
    }
    const format = Files.formatOf(name)
    if (format === "json" || (format === "edn" && (yield* env.fs.exists(filePath(env, status, Files.fileNameOf(stem)))))) jsonStems.add(stem)
  }
  const found = yield* readInto(env, status, unread, { recorded, jsonStems })
  for (const entry of found.entries) putEntry(env, folder, entry)
  yield* setAsideAll(env, status, found)
})

/**
 * Brings the index of folder `status` up to date with the folder; `true` when it listed the folder
 * in full (the index then matches the folder as it was at the start of this call).
 */
export const sync = Effect.fnUntraced(function*(env: Env, status: IndexedStatus) {
  const folder = yield* folderOf(env, status)
  const stamp = yield* stampOf(env, status)
  if (stamp !== folder.stamp || folder.uses >= listingUsesMax) {
    yield* listAnew(env, status, folder, stamp)
    return true
  }
  folder.uses++
  if (folder.dirty.size > 0) yield* readDirty(env, status, folder)
  return false
})

/** The tasks of folder `status` in claim order: the same array while the folder does not change. */
export const tasksOf = Effect.fnUntraced(function*(env: Env, status: IndexedStatus) {
  yield* sync(env, status)
  const folder = yield* folderOf(env, status)
  folder.listed ??= Object.freeze(folder.order.map((entry): Task => entry.task))
  return folder.listed
})
