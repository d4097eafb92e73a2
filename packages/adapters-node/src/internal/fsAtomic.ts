/**
 * Crash-safe file primitives shared by the filesystem adapters (task queue, run lock).
 *
 * Every file another process may read is made visible in one step: its content is written to a
 * temp file in a private folder on the same filesystem, flushed with `fsync`, and only then given
 * its final name by `rename` (replace) or `link` (create, never replace). A reader therefore sees
 * either nothing or a complete file, and a crash leaves at most an orphan in the temp folder, which
 * `sweepTemp` removes later.
 *
 * Durability: file contents are fsynced before they get their name, so a process crash (even
 * `kill -9`) never exposes a partial file. The folders themselves are not fsynced after a rename,
 * so a power loss right after a move may undo that move on some filesystems (the file is then
 * still whole, in its previous folder).
 *
 * Files other processes (or people) may have put in place are read with `readRegularFile`, which
 * never follows a symbolic link and never blocks on a FIFO (see there).
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import * as NodeFs from "node:fs"
import type * as NodeFsPromises from "node:fs/promises"
import { Clock, Effect, FileSystem, type Path, PlatformError } from "effect"

/**
 * How old an orphaned temp file must be before `sweepTemp` removes it. A live writer keeps its
 * temp file for milliseconds; an hour leaves a wide margin for slow disks and paused processes.
 */
export const tempAgeMsMax = 60 * 60 * 1000

/**
 * A temp file name unique across processes. It uses `randomUUID` rather than Effect's `Random`
 * on purpose: two processes (or a test that seeds `Random`) must never pick the same name, so
 * this is a safety property, not a simulation input.
 */
export const tempName = (purpose: string): string => `${purpose}-${process.pid}-${randomUUID()}`

/** True when `error` is a `PlatformError` whose reason is the given system error tag. */
export const isReason = (error: PlatformError.PlatformError, tag: string): boolean => error.reason._tag === tag

/**
 * Writes `content` to a new file in `tempDir`, flushed to disk, and returns its path. The file is
 * created with `wx` so a name clash fails instead of sharing a file with another writer.
 */
export const writeTemp = Effect.fnUntraced(function*(
  fs: FileSystem.FileSystem,
  path: Path.Path,
  tempDir: string,
  purpose: string,
  content: string
) {
  const tempPath = path.join(tempDir, tempName(purpose))
  yield* Effect.scoped(Effect.gen(function*() {
    const file = yield* fs.open(tempPath, { flag: "wx" })
    yield* file.writeAll(new TextEncoder().encode(content))
    yield* file.sync
  }))
  return tempPath
})

/**
 * Replaces (or creates) `target` with `content` in one atomic step: temp file, fsync, rename.
 * A failed rename removes the temp file so nothing is left behind.
 */
export const writeAtomic = Effect.fnUntraced(function*(
  fs: FileSystem.FileSystem,
  path: Path.Path,
  tempDir: string,
  target: string,
  content: string
) {
  const tempPath = yield* writeTemp(fs, path, tempDir, "write", content)
  yield* fs.rename(tempPath, target).pipe(Effect.onError(() => discardTemp(fs, tempPath)))
})

/**
 * Creates `target` with `content` unless it already exists: `true` when this call created it,
 * `false` when a file of that name was already there (nothing is overwritten). `link` fails with
 * EEXIST atomically, which is what makes concurrent creators safe; the file is complete the
 * moment it appears.
 */
export const createExclusive = Effect.fnUntraced(function*(
  fs: FileSystem.FileSystem,
  path: Path.Path,
  tempDir: string,
  target: string,
  content: string,
  purpose = "create"
) {
  const tempPath = yield* writeTemp(fs, path, tempDir, purpose, content)
  const created = yield* fs.link(tempPath, target).pipe(
    Effect.as(true),
    Effect.catchReason("PlatformError", "AlreadyExists", () => Effect.succeed(false)),
    Effect.ensuring(discardTemp(fs, tempPath))
  )
  return created
})

/**
 * Renames `from` to `to`; `false` when `from` no longer exists (another process moved it first).
 * This checked result is what makes a claim exclusive: of several renames of one file, exactly
 * one succeeds and every other one sees ENOENT.
 */
export const renameIfPresent = (
  fs: FileSystem.FileSystem,
  from: string,
  to: string
): Effect.Effect<boolean, PlatformError.PlatformError> =>
  fs.rename(from, to).pipe(
    Effect.as(true),
    Effect.catchReason("PlatformError", "NotFound", () => Effect.succeed(false))
  )

/** Removes a file; `false` when it was already gone (someone else removed or moved it). */
export const removeIfPresent = (fs: FileSystem.FileSystem, target: string): Effect.Effect<boolean, PlatformError.PlatformError> =>
  fs.remove(target).pipe(
    Effect.as(true),
    Effect.catchReason("PlatformError", "NotFound", () => Effect.succeed(false))
  )

/**
 * Removes a temp file during cleanup. Cleanup cannot fail (the operation's own result is what the
 * caller reports), so a failure to remove is logged as a warning and left to `sweepTemp`.
 */
export const discardTemp = (fs: FileSystem.FileSystem, tempPath: string): Effect.Effect<void> =>
  removeIfPresent(fs, tempPath).pipe(
    Effect.ignore({ log: "Warn", message: `could not remove temp file ${tempPath}; it is swept later` })
  )

/** Reads a file as text; `undefined` when it does not exist (any longer). */
export const readIfPresent = (fs: FileSystem.FileSystem, target: string): Effect.Effect<string | undefined, PlatformError.PlatformError> =>
  fs.readFileString(target).pipe(
    Effect.catchReason("PlatformError", "NotFound", () => Effect.succeed(undefined))
  )

/**
 * Removes temp files older than `tempAgeMsMax` from `tempDir`: orphans of writers that crashed
 * between creating a temp file and renaming it. Returns how many were removed.
 */
export const sweepTemp = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, path: Path.Path, tempDir: string) {
  const now = yield* Clock.currentTimeMillis
  const names = yield* fs.readDirectory(tempDir)
  let removed = 0
  for (const name of names) {
    const target = path.join(tempDir, name)
    const info = yield* fs.stat(target).pipe(Effect.catchReason("PlatformError", "NotFound", () => Effect.succeed(undefined)))
    if (info === undefined || info.type !== "File") continue
    const mtimeMs = info.mtime._tag === "Some" ? info.mtime.value.getTime() : now
    if (now - mtimeMs < tempAgeMsMax) continue
    if (yield* removeIfPresent(fs, target)) removed++
  }
  return removed
})

/**
 * Links `from` to the new name `to`: `true` when `to` was created, `false` when a file of that
 * name was already there (it is never replaced; `link(2)` refuses atomically).
 */
export const linkNew = (fs: FileSystem.FileSystem, from: string, to: string): Effect.Effect<boolean, PlatformError.PlatformError> =>
  fs.link(from, to).pipe(
    Effect.as(true),
    Effect.catchReason("PlatformError", "AlreadyExists", () => Effect.succeed(false))
  )

// ---------------------------------------------------------------------------------------------
// Reading files anyone may have put in place
// ---------------------------------------------------------------------------------------------

/** What a directory entry that is not a regular file is, in the words a reason uses. */
export type SpecialKind = "folder" | "symbolic link" | "FIFO" | "socket" | "device" | "special file"

/** A file read by `readRegularFile`: its text, or why it was not read. */
export type RegularFile =
  | { readonly _tag: "Text"; readonly content: string }
  | { readonly _tag: "NotRegular"; readonly kind: SpecialKind }
  | { readonly _tag: "TooLarge"; readonly bytes: number }

/** The `SpecialKind` of a directory entry's type, or `undefined` for a file (or an unknown type). */
export const specialKindOf = (type: FileSystem.File.Type): SpecialKind | undefined => {
  switch (type) {
    case "File":
    case "Unknown":
      return undefined
    case "Directory":
      return "folder"
    case "SymbolicLink":
      return "symbolic link"
    case "FIFO":
      return "FIFO"
    case "Socket":
      return "socket"
    case "BlockDevice":
    case "CharacterDevice":
      return "device"
  }
}

/** What a file that is not a regular one is, for a message. */
export const kindOfStats = (stats: Pick<NodeFs.Stats, "isDirectory" | "isSymbolicLink" | "isFIFO" | "isSocket" | "isBlockDevice" | "isCharacterDevice">): SpecialKind =>
  stats.isDirectory()
    ? "folder"
    : stats.isSymbolicLink()
    ? "symbolic link"
    : stats.isFIFO()
    ? "FIFO"
    : stats.isSocket()
    ? "socket"
    : stats.isBlockDevice() || stats.isCharacterDevice()
    ? "device"
    : "special file"

// O_NOFOLLOW: a symbolic link fails to open (ELOOP) instead of being followed. O_NONBLOCK: a FIFO
// opens at once instead of waiting for a writer (then fstat says what it is and nothing is read).
const readFlags = NodeFs.constants.O_RDONLY | (NodeFs.constants.O_NOFOLLOW ?? 0) | (NodeFs.constants.O_NONBLOCK ?? 0)

const errnoTags: Readonly<Record<string, PlatformError.SystemErrorTag>> = {
  ENOENT: "NotFound",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EBUSY: "Busy",
  EAGAIN: "WouldBlock"
}

const codeOf = (cause: unknown): string | undefined => {
  const code = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined
  return typeof code === "string" ? code : undefined
}

const nodeError = (method: string, target: string) => (cause: unknown): PlatformError.PlatformError =>
  PlatformError.systemError({
    _tag: errnoTags[codeOf(cause) ?? ""] ?? "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor: target,
    description: cause instanceof Error ? cause.message : String(cause),
    cause
  })

/** Why `target` did not open: gone, a link or a socket (both answers), or a failure. */
const openFailure = (target: string) => (cause: unknown): Effect.Effect<RegularFile | undefined, PlatformError.PlatformError> => {
  const code = codeOf(cause)
  if (code === "ENOENT") return Effect.succeed(undefined)
  if (code === "ELOOP") return Effect.succeed({ _tag: "NotRegular", kind: "symbolic link" })
  // A socket cannot be opened at all.
  if (code === "ENXIO") return Effect.succeed({ _tag: "NotRegular", kind: "socket" })
  return Effect.fail(nodeError("open", target)(cause))
}

/** Opens `target` for reading without following a link or waiting on a FIFO. */
const openForReading = (target: string): Effect.Effect<NodeFsPromises.FileHandle | RegularFile | undefined, PlatformError.PlatformError> =>
  Effect.tryPromise({ try: () => NodeFs.promises.open(target, readFlags), catch: (cause) => cause }).pipe(Effect.catch(openFailure(target)))

/**
 * Reads `target` as text when it is a regular file of at most `bytesMax` bytes; says what it is
 * otherwise; `undefined` when it does not exist (any longer). Nothing but a regular file is ever
 * read: a symbolic link is not followed, a FIFO (whose plain open would block until a writer
 * comes, forever if none does) or a device is opened without blocking and left unread, and an
 * oversized file is not loaded into memory.
 *
 * It uses `node:fs` directly: Effect's `FileSystem` has no non-blocking open, and its `stat`
 * follows links. The type is checked on the open descriptor, so a file swapped for a FIFO between
 * a directory listing and this read is still caught.
 */
export const readRegularFile = (target: string, bytesMax: number): Effect.Effect<RegularFile | undefined, PlatformError.PlatformError> =>
  Effect.flatMap(openForReading(target), (opened) => {
    if (opened === undefined || "_tag" in opened) return Effect.succeed(opened)
    return Effect.acquireUseRelease(
      Effect.succeed(opened),
      (handle) =>
        Effect.gen(function*() {
          const stats = yield* Effect.tryPromise({ try: () => handle.stat(), catch: nodeError("stat", target) })
          if (!stats.isFile()) return { _tag: "NotRegular", kind: kindOfStats(stats) } satisfies RegularFile
          if (stats.size > bytesMax) return { _tag: "TooLarge", bytes: stats.size } satisfies RegularFile
          const content = yield* Effect.tryPromise({ try: () => handle.readFile({ encoding: "utf8" }), catch: nodeError("readFile", target) })
          return { _tag: "Text", content } satisfies RegularFile
        }),
      (handle) => Effect.tryPromise(() => handle.close()).pipe(Effect.ignore)
    )
  })

/**
 * Removes `target` only while it still holds `content`: `true` when removed, `false` when it is
 * gone or now holds something else (someone rewrote it since it was read; their file stays). The
 * check and the removal are two steps, so a rewrite in the instant between them is not seen.
 */
export const removeIfUnchanged = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, target: string, content: string) {
  const now = yield* readRegularFile(target, Number.MAX_SAFE_INTEGER)
  if (now?._tag !== "Text" || now.content !== content) return false
  return yield* removeIfPresent(fs, target)
})
