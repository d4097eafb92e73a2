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
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { Clock, Effect, FileSystem, type Path, type PlatformError } from "effect"

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
