/**
 * SPEC F6's rule for the user's own checkout. Main moves by compare-and-swap of its ref, never by a
 * checkout; a checkout that has the target branch checked out is then left behind: its HEAD follows
 * the ref, its index and files do not, so `git status` would show the merge reversed as staged
 * changes. This module brings such a checkout along without ever overwriting the user's work:
 *
 * - a clean checkout follows the new main (index and files, as `git merge --ff-only` would);
 * - in a dirty one, the files the merge touched that the user did not edit follow main, and nothing
 *   is left staged; the files the merge touched that they did edit stay byte for byte, their index
 *   entry becomes main's (so `git status` shows only their own edit), and a `warning:` line names
 *   each, says what `git commit -a` would now do there, and gives the command that brings it up to
 *   date. Files the merge did not touch are not looked at.
 *
 * How: after the move, `git read-tree -m -u <old> <new>` in the checkout — exactly the two-tree
 * merge `git merge --ff-only` runs, which refuses (changing nothing) when a touched file has local
 * changes. That is the whole sync for a clean checkout, and for a dirty one whose edits are all in
 * files the merge did not touch. (git restores a deleted working file and overwrites an ignored one
 * where main adds a file; either skips this path.) Otherwise each touched file is classified by content: it follows
 * main only when both its index entry and its working file are still the old main's (checked by
 * blob id and executable bit, `git hash-object` applying the checkout's filters); every other
 * touched file is kept.
 * Then the touched index entries become the new main's (`git reset <new> -- <files>`) and the
 * followed files are written (`git checkout-index`) or removed.
 *
 * A checkout the user is in the middle of something in is not touched at all (SPEC F6): a merge
 * (`MERGE_HEAD`), a rebase (`rebase-merge/`, `rebase-apply/`), a cherry-pick or revert
 * (`CHERRY_PICK_HEAD`, `REVERT_HEAD`, `sequencer/`), an `am` session, a bisect (`BISECT_LOG`), an index
 * with unmerged entries, or an `index.lock` some git command holds (waited for up to `lockWaitMs`
 * first). Main still moves; HEAD, the index, the files and git's state files stay as they are, and a
 * `warning:` line says why and what to run. A checkout being rebased counts as having the branch
 * checked out (git itself refuses to check it out elsewhere), though its HEAD is detached. Such a
 * sync is put off, not dropped: the record keeps the checkout with the commit its index and files are
 * still at (`from`, carried over to the next move), so a later warning names the commit the user's
 * operation started from, and once the operation is over (aborted, or the lock released) the next
 * `finish` or `recover` syncs it from there. When the user ended it by moving main themselves (a
 * commit, a rebase), the put-off sync is dropped without a word: the warning said what to do.
 *
 * Crash safety (SPEC F14): `prepare` records the move (old, new, the checkouts on the branch) in
 * `.oompa/checkout-sync.json` before main moves; the per-file plan is added to the record before any
 * index entry is touched. `finish` applies the record and deletes it (or keeps only the checkouts put
 * off), and `recover` finishes a record a crash left behind, under the same rule: a checkout the user
 * started a merge or a rebase in since is put off, not synced. Applying is idempotent: a file is only
 * written while its content is still the old main's, so finishing twice, or after the user touched a
 * file in between, never overwrites an edit.
 *
 * Called by `NodeGit.compareAndSwapMain` around the `update-ref`, and by `NodeGit.layer` at startup.
 * The parts live in `internal/`: the record (`checkoutRecord`), what the user is in the middle of
 * (`checkoutBusy`) and the file-by-file sync with its warnings (`checkoutApply`).
 *
 * @since 0.1.0
 */
import type { Errors } from "@oompa/core"
import type { FileSystem, Path } from "effect"
import { Effect } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import * as Apply from "./internal/checkoutApply.ts"
import * as BusyState from "./internal/checkoutBusy.ts"
import * as SyncFile from "./internal/checkoutRecord.ts"
import * as GitCommand from "./internal/gitCommand.ts"
import * as GitCommits from "./internal/gitCommits.ts"
import * as GitParse from "./internal/gitParse.ts"
import * as GitRepo from "./internal/gitRepo.ts"

/**
 * One checkout's part of a sync; once classified, the touched files that follow main and those kept
 * as the user has them.
 *
 * @category models
 * @since 0.1.0
 */
export const CheckoutPlan = SyncFile.CheckoutPlan

/**
 * @category models
 * @since 0.1.0
 */
export type CheckoutPlan = SyncFile.CheckoutPlan

/**
 * What `.oompa/checkout-sync.json` holds while a sync is pending.
 *
 * @category models
 * @since 0.1.0
 */
export const SyncRecord = SyncFile.SyncRecord

/**
 * @category models
 * @since 0.1.0
 */
export type SyncRecord = SyncFile.SyncRecord

/**
 * Where the pending sync is recorded, relative to the main worktree.
 *
 * @category constants
 * @since 0.1.0
 */
export const recordFile = SyncFile.recordFile

/**
 * What a checkout is in the middle of, by the state git keeps for it; while one is found, the sync
 * of that checkout touches nothing.
 *
 * @category models
 * @since 0.1.0
 */
export type BusyKind = BusyState.BusyKind

/**
 * What was found, and where (for a rebase, the commit the branch was at when it began).
 *
 * @category models
 * @since 0.1.0
 */
export type Busy = BusyState.Busy

/**
 * How long a held `index.lock` is waited for before the sync is put off (a `git status` of the
 * user's editor holds it for milliseconds).
 *
 * @category constants
 * @since 0.1.0
 */
export const lockWaitMs = BusyState.lockWaitMs

/**
 * The warning for a checkout left as it is because the user is in the middle of something: why, and
 * exactly what to run.
 *
 * @category operations
 * @since 0.1.0
 */
export const busyWarning: (
  move: { readonly branch: string; readonly from: string; readonly next: string },
  checkout: string,
  found: Busy
) => string = BusyState.busyWarning

/**
 * The warning for a file the merge touched that the user had edited: what `git commit -a` would now
 * do there, and the command that brings the file up to date.
 *
 * @category operations
 * @since 0.1.0
 */
export const warningLine: (
  record: Pick<SyncRecord, "old" | "new">,
  entry: Pick<GitParse.RawEntry, "path" | "oldBlob" | "newBlob">,
  state: string | undefined,
  stagedBlob?: string
) => string = Apply.warningLine

/**
 * Deletes the pending record (after a compare-and-swap that lost: main did not move).
 *
 * @category operations
 * @since 0.1.0
 */
export const discard: (repo: GitRepo.Repo) => Effect.Effect<void, Errors.GitError> = SyncFile.discard

type Repo = GitRepo.Repo

/**
 * The checkouts (worktrees not oompa's) that have the target branch checked out, or are rebasing it
 * (HEAD detached meanwhile; git counts the branch as checked out there).
 */
const checkoutsOnTarget = Effect.fn("CheckoutSync.checkoutsOnTarget")(function*(repo: Repo) {
  const ref = `refs/heads/${repo.targetBranch}`
  const checkouts: Array<GitRepo.Worktree> = []
  // oompa's worktrees are on their iteration branches: only HEADs on the target or detached are looked at further.
  for (const worktree of yield* GitRepo.listWorktrees(repo, (head) => head._tag === "Detached" || head.ref === ref)) {
    if (worktree.path.startsWith(`${repo.worktreesDir}/`)) continue
    const branch = worktree.head._tag === "Branch" ? worktree.head.ref : yield* BusyState.rebasedBranch(worktree.adminDir)
    if (branch === ref) checkouts.push(worktree)
  }
  return checkouts
})

/**
 * The files that differ between two commits, with their blobs on each side.
 *
 * @category operations
 * @since 0.1.0
 */
export const touchedFiles = (repo: Repo, old: string, next: string): Effect.Effect<ReadonlyArray<GitParse.RawEntry>, Errors.GitError> =>
  Effect.flatMap(
    GitCommits.rawDiff(repo, "checkoutSync", old, next),
    (output) => GitRepo.parse("checkoutSync", () => GitParse.diffRaw(output))
  )

/**
 * Records the move from `old` to `next` for every checkout on the target branch, before main moves.
 * `undefined` (and no record) when no checkout has the branch checked out. A checkout whose sync a
 * pending record put off (`recover` just found it still busy) keeps the commit it is at, as long as
 * main has not moved since that record.
 *
 * @category operations
 * @since 0.1.0
 */
export const prepare = Effect.fn("CheckoutSync.prepare")(function*(repo: Repo, move: { readonly old: string; readonly next: string }) {
  const checkouts = yield* checkoutsOnTarget(repo)
  if (checkouts.length === 0) return undefined
  const pending = yield* SyncFile.readRecord(repo).pipe(Effect.orElseSucceed(() => undefined))
  const behind = new Map<string, string>()
  if (pending !== undefined && pending.new === move.old) {
    for (const plan of pending.checkouts) if (plan.from !== undefined && plan.from !== move.old) behind.set(plan.path, plan.from)
  }
  const record: SyncRecord = {
    version: 1,
    branch: repo.targetBranch,
    old: move.old,
    new: move.next,
    checkouts: checkouts.map((checkout) => {
      const from = behind.get(checkout.path)
      return from === undefined ? { path: checkout.path } : { path: checkout.path, from }
    })
  }
  yield* SyncFile.writeRecord(repo, record)
  return record
})

// ---------------------------------------------------------------------------------------------------
// Syncing one checkout
// ---------------------------------------------------------------------------------------------------

/** One checkout's part of a move: its plan, the commit it is at (`from`), and the files that differ from there. */
interface CheckoutMove {
  readonly checkout: GitRepo.Worktree
  readonly plan: CheckoutPlan
  readonly from: string
  readonly entries: ReadonlyArray<GitParse.RawEntry>
}

/**
 * Syncs one checkout, unless the user is in the middle of something there (then nothing in it is
 * touched, and what was found is returned): the fast path (`read-tree -m -u`, git's own refusal
 * protecting local changes, and refusing an index with unmerged entries), else the touched files
 * classified (and the plan recorded before any index entry changes), then applied.
 */
const syncCheckout = Effect.fn("CheckoutSync.syncCheckout")(function*(repo: Repo, record: SyncRecord, target: CheckoutMove) {
  const { checkout, entries, plan } = target
  const operation = yield* BusyState.busyIn(checkout)
  if (operation !== undefined) return { busy: operation, warnings: [] }
  // The move this checkout makes: from the commit it is at, which an earlier put-off sync left it on.
  const move: SyncRecord = { ...record, old: target.from }
  const protects = plan.kept === undefined ? yield* Effect.forEach(entries, (entry) => Apply.readTreeProtects(plan.path, entry)) : []
  if (plan.kept === undefined && protects.every((ok) => ok)) {
    const fast = yield* repo.git.run("checkoutSync", { cwd: plan.path, args: ["read-tree", "-m", "-u", move.old, move.new] })
    if (fast.exitCode === 0) return { busy: undefined, warnings: [] }
  }
  const conflicted = yield* BusyState.unmergedIn(repo, checkout)
  if (conflicted !== undefined) return { busy: conflicted, warnings: [] }
  const paths = entries.map((entry) => entry.path)
  const found = { index: yield* Apply.indexStates(repo, plan.path, paths), states: yield* Apply.workingStates(repo, plan.path, paths) }
  let kept = plan.kept
  if (kept === undefined) {
    const classified = Apply.classify(entries, found.index, found.states)
    kept = classified.kept
    const checkouts = record.checkouts.map((other) => other.path === plan.path ? { ...other, ...classified } : other)
    yield* SyncFile.writeRecord(repo, { ...record, checkouts })
  }
  return { busy: undefined, warnings: yield* Apply.applyPlan(repo, move, entries, { path: plan.path, kept }, found) }
})

// ---------------------------------------------------------------------------------------------------
// Finishing and recovering
// ---------------------------------------------------------------------------------------------------

/**
 * Applies a recorded sync to every checkout still on the branch, then deletes the record. Returns
 * the `warning:` lines. When main is still at `old` (the move never happened) nothing is applied;
 * when it is neither `old` nor `new` (it moved again since) the sync is abandoned with a warning.
 * A checkout the user is in the middle of something in is put off: it stays in the record, with the
 * commit it is at, and a warning says what to run (once per move; each time for a held lock, which
 * the user may be waiting on). A put-off checkout whose user moved main since is dropped silently.
 *
 * @category operations
 * @since 0.1.0
 */
export const finish = Effect.fn("CheckoutSync.finish")(function*(repo: Repo, record: SyncRecord, touched?: ReadonlyArray<GitParse.RawEntry>) {
  const main = yield* GitRepo.resolveRef(repo.commonDir, `refs/heads/${record.branch}`)
  const warnings: Array<string> = []
  const putOff: Array<CheckoutPlan> = []
  if (main === record.new) {
    const onBranch = new Map((yield* checkoutsOnTarget(repo)).map((checkout) => [checkout.path, checkout] as const))
    // The touched files by the commit a checkout is at: `old`, or where a put-off sync left it.
    const touchedFrom = new Map(touched === undefined ? [] : [[record.old, touched] as const])
    for (const plan of record.checkouts) {
      const checkout = onBranch.get(plan.path)
      // A checkout that left the branch since was brought along by git itself.
      if (checkout === undefined) continue
      const from = plan.from ?? record.old
      const entries = touchedFrom.get(from) ?? (yield* touchedFiles(repo, from, record.new))
      touchedFrom.set(from, entries)
      if (entries.length === 0) continue
      const synced = yield* syncCheckout(repo, record, { checkout, plan, from, entries })
      warnings.push(...synced.warnings)
      if (synced.busy === undefined) continue
      putOff.push({ ...plan, from, busy: synced.busy.kind })
      if (plan.busy !== synced.busy.kind || synced.busy.kind === "index-lock") {
        warnings.push(busyWarning({ branch: record.branch, from, next: record.new }, plan.path, synced.busy))
      }
    }
  } else if (main === record.old) {
    // The move never happened; a checkout put off before is still where it was.
    putOff.push(...record.checkouts.filter((plan) => plan.from !== undefined))
  } else if (record.checkouts.some((plan) => plan.busy === undefined)) {
    warnings.push(`warning: the sync of your checkout from ${record.old.slice(0, 12)} to ${record.new.slice(0, 12)} was not finished and ${record.branch} has moved since; check \`git status\` there`)
  }
  if (putOff.length === 0) yield* discard(repo)
  else yield* SyncFile.writeRecord(repo, { ...record, new: main === record.new ? record.new : record.old, checkouts: putOff })
  return warnings
})

/**
 * `finish`, except that a failure (a lock the user's own git holds, say) becomes a warning and the
 * record stays for `recover`: main has already moved, so the caller must still see a success.
 *
 * @category operations
 * @since 0.1.0
 */
export const finishOrReport = (repo: Repo, record: SyncRecord, touched?: ReadonlyArray<GitParse.RawEntry>): Effect.Effect<ReadonlyArray<string>> =>
  finish(repo, record, touched).pipe(
    Effect.catchTag("GitError", (error) =>
      Effect.succeed([
        `warning: could not bring your checkout along to ${record.new.slice(0, 12)} (${error.message.split("\n")[0]}); ` +
        `it is recorded in ${recordFile}, and the next run or \`oompa cleanup\` finishes it`
      ]))
  )

/**
 * Finishes a sync a crash left behind (SPEC F14); no record, no work. Returns the warnings.
 *
 * @category operations
 * @since 0.1.0
 */
export const recover = Effect.fn("CheckoutSync.recover")(function*(repo: Repo) {
  const record = yield* SyncFile.readRecord(repo)
  return record === undefined ? [] : yield* finish(repo, record)
})

