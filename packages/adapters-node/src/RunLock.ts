/**
 * The run lock (SPEC F14): `.oompa/lock` says which process runs a swarm on this repository, so a
 * second `oompa swarm` refuses to start while the first is alive, and takes over (with a message)
 * when the first died without cleaning up.
 *
 * Called by the CLI around a run (`acquire` in the run's scope; the CLI exits 2 on `RunLockHeld`)
 * and by `oompa cleanup`/`status` (`inspect`), which must never touch what a live run holds.
 *
 * How it stays exclusive: the lock file `{"pid","startedAt","runId","hostname"}` is written to a
 * temp file and `link`ed into place, which fails if a lock exists and never shows a half-written
 * lock to a reader. A holder is alive when `process.kill(pid, 0)` finds it on this host; a lock
 * from another host is treated as alive (its pid means nothing here). A dead holder's lock is
 * renamed away (only one of several contenders wins that rename), checked to be the same lock that
 * was judged dead (else it is put back), and removed; then acquisition starts over. Release, in the
 * scope's finalizer, removes the lock only if it is still ours.
 *
 * Gotchas: a lock is only as good as pid liveness: a pid reused by an unrelated process after a
 * crash keeps the stale lock "alive" until that process ends (the error names the pid, so a user
 * can check and remove `.oompa/lock`). Three processes contending for one stale lock within
 * microseconds can, in theory, defeat the put-back step; two cannot.
 *
 * @since 0.1.0
 */
import { hostname } from "node:os"
import { DateTime, Effect, FileSystem, Option, Path, Result, Schedule, Schema, type Scope } from "effect"
import * as Atomic from "./internal/fsAtomic.ts"

/**
 * What the lock file records about the run holding it.
 *
 * @category models
 * @since 0.1.0
 */
export const LockHolder = Schema.Struct({
  pid: Schema.Int,
  startedAt: Schema.String,
  runId: Schema.String,
  hostname: Schema.String,
  /**
   * false when the run is embedded in another program (the library entry), which a SIGINT would
   * kill rather than stop; absent in locks of the CLI (and of versions before it was recorded).
   */
  stopsOnSigint: Schema.optionalKey(Schema.Boolean)
})
export type LockHolder = typeof LockHolder.Type

/**
 * Another run, alive (or on another host), holds the lock. The CLI exits 2 with this message.
 *
 * @category errors
 * @since 0.1.0
 */
export class RunLockHeld extends Schema.TaggedError<RunLockHeld>()("RunLockHeld", {
  path: Schema.String,
  holder: LockHolder
}) {
  override get message(): string {
    const { pid, hostname: host, runId, startedAt } = this.holder
    const stop = stoppable(this.holder) ? "stop it (oompa stop)" : "stop it from the program it runs in (pid " + pid + ")"
    return `another oompa run holds ${this.path}: run ${runId}, pid ${pid} on ${host}, started ${startedAt}. ` +
      `Wait for it to finish or ${stop}; if no such process exists, remove ${this.path}.`
  }
}

/**
 * The lock could not be read, written or removed (permissions, I/O), or its file is not a lock.
 *
 * @category errors
 * @since 0.1.0
 */
export class RunLockError extends Schema.TaggedError<RunLockError>()("RunLockError", {
  path: Schema.String,
  message: Schema.String
}) {}

/**
 * The lock, once held: who we are, and the takeover message when a dead run's lock was replaced.
 *
 * @category models
 * @since 0.1.0
 */
export interface Acquired {
  readonly path: string
  readonly holder: LockHolder
  readonly takeover: string | undefined
}

/**
 * What `inspect` finds: no lock, or a holder and whether its process is alive (`undefined` when it
 * runs on another host and cannot be checked).
 *
 * @category models
 * @since 0.1.0
 */
export type LockStatus =
  | { readonly _tag: "Free" }
  | { readonly _tag: "Held"; readonly holder: LockHolder; readonly alive: boolean | undefined }

/** Acquisition rounds (each a create attempt, possibly after removing a stale lock) before giving up. */
const acquireRoundsMax = 10

/** A round that lost (the lock was released, or a stale one removed, meanwhile) is tried again at once. */
const acquireRounds: Schedule.Schedule<number> = Schedule.recurs(acquireRoundsMax - 1)

const decodeHolder = Schema.decodeUnknownResult(Schema.fromJsonString(LockHolder))

/**
 * Whether a process with this pid exists on this machine. `EPERM` means it exists but belongs to
 * another user: alive.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH"
  }
}

/**
 * Whether `oompa stop` may stop the holder with SIGINT (the CLI stops on it; an embedding program
 * may not, and would die of it).
 *
 * @category predicates
 * @since 0.1.0
 */
export const stoppable = (holder: LockHolder): boolean => holder.stopsOnSigint !== false

/**
 * The locks this process holds now. A lock naming this process's pid that is not among them was
 * left by an earlier process that had the same pid (a restarted container): it is stale, not ours.
 */
const heldHere = new Set<string>()

/**
 * Whether a holder is alive: `undefined` when it is on another host (cannot be checked).
 *
 * @category predicates
 * @since 0.1.0
 */
export const holderAlive = (holder: LockHolder, host: string = hostname(), lockPath?: string): boolean | undefined =>
  holder.hostname !== host
    ? undefined
    : holder.pid === process.pid && lockPath !== undefined
    ? heldHere.has(lockPath)
    : isProcessAlive(holder.pid)

/** The lock's text and holder; `undefined` when there is no lock. */
const readLock = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, lockPath: string) {
  const text = yield* Atomic.readIfPresent(fs, lockPath)
  if (text === undefined) return undefined
  const holder = decodeHolder(text.trim())
  if (Result.isFailure(holder)) {
    return yield* new RunLockError({ path: lockPath, message: `${lockPath} is not an oompa lock file; remove it if no oompa run is active` })
  }
  return { text, holder: holder.success }
})

/**
 * Who holds the lock at `lockPath`, and whether that process is alive.
 *
 * @category reading
 * @since 0.1.0
 */
export const inspect = Effect.fn("RunLock.inspect")(function*(
  lockPath: string
): Effect.fn.Return<LockStatus, RunLockError, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  const lock = yield* readLock(fs, lockPath).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(new RunLockError({ path: lockPath, message: e.message }))))
  if (lock === undefined) return { _tag: "Free" }
  return { _tag: "Held", holder: lock.holder, alive: holderAlive(lock.holder, hostname(), lockPath) }
})

/**
 * Moves a stale lock out of the way. Returns whether this call removed the stale lock it judged.
 * If the file renamed away is not that lock (a contender already replaced it), it is put back.
 */
const removeStale = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, lockPath: string, staleText: string) {
  const aside = `${lockPath}.stale-${Atomic.tempName("lock")}`
  if (!(yield* Atomic.renameIfPresent(fs, lockPath, aside))) return false
  const moved = yield* Atomic.readIfPresent(fs, aside)
  if (moved !== staleText) {
    // AlreadyExists: a third contender created a lock in the meantime; it holds the lock now, and
    // the one we moved (whose owner believes it holds the lock) cannot be restored (see Gotchas).
    yield* fs.link(aside, lockPath).pipe(Effect.catchReason("PlatformError", "AlreadyExists", () =>
      Effect.logWarning(`${lockPath}: a lock taken by another run at the same moment was replaced by a third one`)))
    yield* Atomic.removeIfPresent(fs, aside)
    return false
  }
  yield* Atomic.removeIfPresent(fs, aside)
  return true
})

/** Removes the lock if it is still the one we wrote. Runs as a finalizer, so it cannot fail. */
const release = (fs: FileSystem.FileSystem, lockPath: string, ownText: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    const current = yield* Atomic.readIfPresent(fs, lockPath)
    if (current === ownText) yield* Atomic.removeIfPresent(fs, lockPath)
  }).pipe(Effect.ignore({ log: "Warn", message: `could not release the run lock ${lockPath}` }))

const tryAcquire = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, path: Path.Path, lockPath: string, ownText: string) {
  let takeover: string | undefined
  const attempt = Effect.gen(function*() {
    if (yield* Atomic.createExclusive(fs, path, path.dirname(lockPath), lockPath, ownText, ".lock")) return true
    const lock = yield* readLock(fs, lockPath)
    if (lock === undefined) return false // released between our attempt and our read: try again
    if (holderAlive(lock.holder, hostname(), lockPath) !== false) return yield* new RunLockHeld({ path: lockPath, holder: lock.holder })
    if (yield* removeStale(fs, lockPath, lock.text)) {
      const { pid, runId, startedAt } = lock.holder
      takeover = `took over the lock of run ${runId} (pid ${pid}, started ${startedAt}): that process no longer exists`
    }
    return false
  })
  if (yield* attempt.pipe(Effect.repeat({ schedule: acquireRounds, while: (taken) => !taken }))) return { takeover }
  return yield* new RunLockError({ path: lockPath, message: `could not take ${lockPath} after ${acquireRoundsMax} attempts` })
})

/**
 * Takes the run lock for `runId` until the enclosing scope closes, or fails with `RunLockHeld`
 * naming the live holder. A dead holder's lock is taken over; the returned `takeover` says so
 * (for the caller to print).
 *
 * **Example** (Around a run)
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { RunLock } from "@oompa/adapters-node"
 * import { Console, Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const lock = yield* RunLock.acquire("/repo/.oompa/lock", "0badc0de")
 *   if (lock.takeover !== undefined) yield* Console.log(lock.takeover)
 *   // ... the run ...
 * })).pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const acquire = Effect.fn("RunLock.acquire")(function*(
  lockPath: string,
  runId: string,
  options: {
    /** Whether this process stops the run on SIGINT, so `oompa stop` may send it (default true: the CLI). */
    readonly stopsOnSigint?: boolean
  } = {}
): Effect.fn.Return<Acquired, RunLockHeld | RunLockError, FileSystem.FileSystem | Path.Path | Scope.Scope> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const holder: LockHolder = {
    pid: process.pid,
    startedAt: DateTime.formatIso(yield* DateTime.now),
    runId,
    hostname: hostname(),
    ...(options.stopsOnSigint === false ? { stopsOnSigint: false } : {})
  }
  const ownText = `${JSON.stringify(holder)}\n`
  const toLockError = (e: { readonly message: string }) => new RunLockError({ path: lockPath, message: e.message })
  yield* fs.makeDirectory(path.dirname(lockPath), { recursive: true }).pipe(Effect.mapError(toLockError))
  const { takeover } = yield* Effect.acquireRelease(
    tryAcquire(fs, path, lockPath, ownText).pipe(
      Effect.catchTag("PlatformError", (e) => Effect.fail(toLockError(e))),
      Effect.tap(() => Effect.sync(() => heldHere.add(lockPath)))
    ),
    () => Effect.ensuring(release(fs, lockPath, ownText), Effect.sync(() => heldHere.delete(lockPath)))
  )
  return { path: lockPath, holder, takeover }
})

/**
 * Reads the lock's holder without judging it (`None` when there is no lock).
 *
 * @category reading
 * @since 0.1.0
 */
export const read = Effect.fn("RunLock.read")(function*(lockPath: string) {
  const fs = yield* FileSystem.FileSystem
  const lock = yield* readLock(fs, lockPath).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(new RunLockError({ path: lockPath, message: e.message }))))
  return lock === undefined ? Option.none<LockHolder>() : Option.some(lock.holder)
})
