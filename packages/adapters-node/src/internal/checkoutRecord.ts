/**
 * The record of a pending checkout sync, `.oompa/checkout-sync.json` (SPEC F14): written before main
 * moves, completed with each checkout's plan before any index entry is touched, and deleted (or cut
 * down to the checkouts put off) once the sync is done. Written by rename, so it is whole or absent.
 *
 * Internal: used by `CheckoutSync`, which re-exports its models.
 *
 * @since 0.1.0
 */
import { type Errors, RepoLayout } from "@oompa/core"
import { Effect, Schema } from "effect"
import * as GitRepo from "./gitRepo.ts"

/**
 * One checkout's part of a sync; once classified, the touched files that follow main and those kept
 * as the user has them.
 *
 * @category models
 * @since 0.1.0
 */
export const CheckoutPlan = Schema.Struct({
  path: Schema.String,
  /** Absent until the fast path failed and the files were classified. */
  follow: Schema.optionalKey(Schema.Array(Schema.String)),
  kept: Schema.optionalKey(Schema.Array(Schema.String)),
  /** The commit the checkout's index and files are at, when not `old`: an earlier sync of it was put off. */
  from: Schema.optionalKey(Schema.String),
  /** Why its sync was put off (a `BusyKind`), once a warning said so. */
  busy: Schema.optionalKey(Schema.String)
})

/**
 * @category models
 * @since 0.1.0
 */
export type CheckoutPlan = typeof CheckoutPlan.Type

/**
 * What `.oompa/checkout-sync.json` holds while a sync is pending.
 *
 * @category models
 * @since 0.1.0
 */
export const SyncRecord = Schema.Struct({
  version: Schema.Literal(1),
  branch: Schema.String,
  old: Schema.String,
  new: Schema.String,
  checkouts: Schema.Array(CheckoutPlan)
})

/**
 * @category models
 * @since 0.1.0
 */
export type SyncRecord = typeof SyncRecord.Type

/**
 * Where the pending sync is recorded, relative to the main worktree.
 *
 * @category constants
 * @since 0.1.0
 */
export const recordFile = `${RepoLayout.stateFolder}/checkout-sync.json`

/** A `GitError` of the sync for a filesystem failure. */
export const fsError = (operation: string) => (error: { readonly message: string }): Errors.GitError =>
  GitRepo.gitError(operation, "failed", error.message)

export const writeRecord = Effect.fn("CheckoutSync.writeRecord")(function*(repo: GitRepo.Repo, record: SyncRecord) {
  const file = `${repo.root}/${recordFile}`
  const temporary = `${file}.${process.pid}.tmp`
  yield* repo.fs.makeDirectory(`${repo.root}/.oompa`, { recursive: true }).pipe(Effect.mapError(fsError("checkoutSync")))
  yield* repo.fs.writeFileString(temporary, `${JSON.stringify(record, null, 2)}\n`).pipe(Effect.mapError(fsError("checkoutSync")))
  yield* repo.fs.rename(temporary, file).pipe(Effect.mapError(fsError("checkoutSync")))
})

export const readRecord = Effect.fn("CheckoutSync.readRecord")(function*(repo: GitRepo.Repo) {
  const file = `${repo.root}/${recordFile}`
  if (!(yield* repo.fs.exists(file).pipe(Effect.mapError(fsError("checkoutSync"))))) return undefined
  const text = yield* repo.fs.readFileString(file).pipe(Effect.mapError(fsError("checkoutSync")))
  return yield* Schema.decodeUnknownEffect(Schema.fromJsonString(SyncRecord))(text).pipe(
    Effect.mapError((error) => GitRepo.gitError("checkoutSync", "unreadable", `${file} is unreadable (${error.message}); delete it after checking \`git status\``))
  )
})

/** Deletes the pending record (after a compare-and-swap that lost: main did not move). */
export const discard = (repo: GitRepo.Repo): Effect.Effect<void, Errors.GitError> =>
  repo.fs.remove(`${repo.root}/${recordFile}`, { force: true }).pipe(Effect.mapError(fsError("checkoutSync")))
