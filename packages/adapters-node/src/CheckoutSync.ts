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
 *
 * @since 0.1.0
 */
import { Errors } from "@oompa/core"
import { Effect, Schema } from "effect"
import type { FileSystem, Path } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { createHash } from "node:crypto"
import * as nodeFs from "node:fs"
import * as GitCommand from "./internal/gitCommand.ts"
import * as GitParse from "./internal/gitParse.ts"
import * as GitRepo from "./internal/gitRepo.ts"

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
export const recordFile = ".oompa/checkout-sync.json"

type Repo = GitRepo.Repo

const gitError = (operation: string, message: string) => new Errors.GitError({ operation, message })

const fsError = (operation: string) => (error: { readonly message: string }) => gitError(operation, error.message)

// Pathspecs are file names here, never patterns.
const literal = ["--literal-pathspecs"] as const

/** A state file of git's, trimmed; `undefined` when absent or unreadable. */
const readState = (file: string): Effect.Effect<string | undefined> =>
  Effect.try({ try: () => nodeFs.readFileSync(file, "utf8").trim(), catch: () => undefined }).pipe(Effect.orElseSucceed(() => undefined))

const stateExists = (file: string): Effect.Effect<boolean> => Effect.sync(() => nodeFs.existsSync(file))

/** The branch a worktree is being rebased from (`rebase-merge/head-name`, `rebase-apply/head-name`), if any. */
const rebasedBranch = Effect.fn("CheckoutSync.rebasedBranch")(function*(gitDir: string) {
  return (yield* readState(`${gitDir}/rebase-merge/head-name`)) ?? (yield* readState(`${gitDir}/rebase-apply/head-name`))
})

/**
 * The checkouts (worktrees not oompa's) that have the target branch checked out, or are rebasing it
 * (HEAD detached meanwhile; git counts the branch as checked out there).
 */
const checkoutsOnTarget = Effect.fn("CheckoutSync.checkoutsOnTarget")(function*(repo: Repo) {
  const ref = `refs/heads/${repo.targetBranch}`
  const checkouts: Array<GitRepo.Worktree> = []
  for (const worktree of yield* GitRepo.listWorktrees(repo)) {
    if (worktree.path.startsWith(`${repo.worktreesDir}/`)) continue
    const branch = worktree.head._tag === "Branch" ? worktree.head.ref : yield* rebasedBranch(worktree.adminDir)
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
    repo.git.ok("checkoutSync", { cwd: repo.root, args: ["diff", "--raw", "-z", "--no-abbrev", "--no-renames", old, next, "--"] }),
    (output) => GitRepo.parse("checkoutSync", () => GitParse.diffRaw(GitCommand.text(output.stdout)))
  )

const writeRecord = Effect.fn("CheckoutSync.writeRecord")(function*(repo: Repo, record: SyncRecord) {
  const file = `${repo.root}/${recordFile}`
  const temporary = `${file}.${process.pid}.tmp`
  yield* repo.fs.makeDirectory(`${repo.root}/.oompa`, { recursive: true }).pipe(Effect.mapError(fsError("checkoutSync")))
  yield* repo.fs.writeFileString(temporary, `${JSON.stringify(record, null, 2)}\n`).pipe(Effect.mapError(fsError("checkoutSync")))
  yield* repo.fs.rename(temporary, file).pipe(Effect.mapError(fsError("checkoutSync")))
})

const readRecord = Effect.fn("CheckoutSync.readRecord")(function*(repo: Repo) {
  const file = `${repo.root}/${recordFile}`
  if (!(yield* repo.fs.exists(file).pipe(Effect.mapError(fsError("checkoutSync"))))) return undefined
  const text = yield* repo.fs.readFileString(file).pipe(Effect.mapError(fsError("checkoutSync")))
  return yield* Schema.decodeUnknownEffect(Schema.fromJsonString(SyncRecord))(text).pipe(
    Effect.mapError((error) => gitError("checkoutSync", `${file} is unreadable (${error.message}); delete it after checking \`git status\``))
  )
})

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
  const pending = yield* readRecord(repo).pipe(Effect.orElseSucceed(() => undefined))
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
  yield* writeRecord(repo, record)
  return record
})

/**
 * Deletes the pending record (after a compare-and-swap that lost: main did not move).
 *
 * @category operations
 * @since 0.1.0
 */
export const discard = (repo: Repo): Effect.Effect<void, Errors.GitError> =>
  repo.fs.remove(`${repo.root}/${recordFile}`, { force: true }).pipe(Effect.mapError(fsError("checkoutSync")))

// ---------------------------------------------------------------------------------------------------
// Applying a plan
// ---------------------------------------------------------------------------------------------------

/**
 * A file's state, comparable across the working tree, the index and a tree: its blob id, marked
 * `+x` when executable (a mode change is an edit too); `undefined` when absent, `"other"` for a
 * folder or the like.
 */
type WorkingState = string | undefined

/** The state a tree entry (`diff --raw` side) or an index entry stands for. */
const entryState = (blob: string | undefined, mode: string): WorkingState =>
  blob === undefined ? undefined : mode === "100755" ? `${blob}+x` : blob

const oldState = (entry: GitParse.RawEntry): WorkingState => entryState(entry.oldBlob, entry.oldMode)
const newState = (entry: GitParse.RawEntry): WorkingState => entryState(entry.newBlob, entry.newMode)

const blobId = (content: Uint8Array): string =>
  createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex")

/**
 * The state of each path in `checkout`: regular files are hashed by `git hash-object` (which applies
 * the checkout's filters, as `git status` does), symlinks by their target, anything else is "other".
 */
const workingStates = Effect.fn("CheckoutSync.workingStates")(function*(repo: Repo, checkout: string, paths: ReadonlyArray<string>) {
  const states = new Map<string, WorkingState>()
  const regular: Array<{ readonly path: string; readonly executable: boolean }> = []
  for (const path of paths) {
    const found = yield* Effect.try({
      try: () => {
        const stat = nodeFs.lstatSync(`${checkout}/${path}`, { throwIfNoEntry: false })
        if (stat === undefined || stat.isFile()) return stat
        return stat.isSymbolicLink() ? blobId(new TextEncoder().encode(nodeFs.readlinkSync(`${checkout}/${path}`))) : "other"
      },
      catch: (cause) => gitError("checkoutSync", `cannot read ${checkout}/${path}: ${String(cause)}`)
    })
    if (found === undefined || typeof found === "string") states.set(path, found)
    else regular.push({ path, executable: (found.mode & 0o100) !== 0 })
  }
  if (regular.length > 0) {
    const output = yield* repo.git.ok("checkoutSync", { cwd: checkout, args: ["hash-object", "--stdin-paths"], stdin: `${regular.map((file) => file.path).join("\n")}\n` })
    const hashes = GitCommand.text(output.stdout).split("\n")
    regular.forEach((file, index) => {
      const hash = hashes[index]
      states.set(file.path, hash === undefined || hash === "" ? "other" : file.executable ? `${hash}+x` : hash)
    })
  }
  return states
})

/** Index entries of `paths` in the checkout: their state (blob and mode), or "unmerged" for a conflicted path. */
const indexStates = (repo: Repo, checkout: string, paths: ReadonlyArray<string>) =>
  paths.length === 0 ? Effect.succeed(new Map<string, string>()) : Effect.map(
    repo.git.ok("checkoutSync", { cwd: checkout, args: [...literal, "ls-files", "-s", "-z", "--", ...paths] }),
    (output) => {
      const states = new Map<string, string>()
      for (const [path, staged] of GitParse.stagedBlobs(GitCommand.text(output.stdout))) {
        states.set(path, staged.blob === undefined ? "unmerged" : entryState(staged.blob, staged.mode) ?? "unmerged")
      }
      return states
    }
  )

/**
 * Splits the touched files: a file follows main only when its index entry and its working file are
 * both still the old main's; anything else the user changed, staged or put in the way is kept.
 */
const classify = (
  entries: ReadonlyArray<GitParse.RawEntry>,
  index: ReadonlyMap<string, string>,
  states: ReadonlyMap<string, WorkingState>
): { readonly follow: Array<string>; readonly kept: Array<string> } => {
  const follow: Array<string> = []
  const kept: Array<string> = []
  for (const entry of entries) {
    const untouched = index.get(entry.path) === oldState(entry) && states.get(entry.path) === oldState(entry)
    ;(untouched ? follow : kept).push(entry.path)
  }
  return { follow, kept }
}

/** What applying a classified plan does, decided from the working files as they are now. */
interface Decision {
  /** Follow main: the file is still the old main's (written or deleted now). */
  readonly update: Array<GitParse.RawEntry>
  /** Kept files whose content differs from the new main's: they get a warning. */
  readonly warn: Array<{ readonly entry: GitParse.RawEntry; readonly state: WorkingState }>
  /** Every touched path: its index entry becomes the new main's. */
  readonly index: Array<string>
}

const decide = (entries: ReadonlyArray<GitParse.RawEntry>, kept: ReadonlySet<string>, states: ReadonlyMap<string, WorkingState>): Decision => {
  const decision: Decision = { update: [], warn: [], index: [] }
  for (const entry of entries) {
    const state = states.get(entry.path)
    decision.index.push(entry.path)
    // Re-checked now: a followed file is written only while it is still the old main's; one that is
    // already the new main's needs nothing; one edited since it was classified is kept after all.
    if (!kept.has(entry.path) && state === oldState(entry)) decision.update.push(entry)
    else if (state !== newState(entry)) decision.warn.push({ entry, state })
  }
  return decision
}

/** Removes `path` (a file still equal to the old main's) and the folders it leaves empty. */
const removeFollowed = (checkout: string, path: string): Effect.Effect<void, Errors.GitError> =>
  Effect.try({
    try: () => {
      nodeFs.rmSync(`${checkout}/${path}`, { force: true })
      const parts = path.split("/").slice(0, -1)
      for (let depth = parts.length; depth > 0; depth--) {
        const dir = `${checkout}/${parts.slice(0, depth).join("/")}`
        if (nodeFs.readdirSync(dir).length > 0) return
        nodeFs.rmdirSync(dir)
      }
    },
    catch: (cause) => gitError("checkoutSync", `cannot remove ${checkout}/${path}: ${String(cause)}`)
  })

/** Applies a classified plan: touched index entries to the new main, followed files written or removed. */
const applyPlan = Effect.fn("CheckoutSync.applyPlan")(function*(
  repo: Repo,
  record: SyncRecord,
  entries: ReadonlyArray<GitParse.RawEntry>,
  plan: { readonly path: string; readonly kept: ReadonlyArray<string> },
  found: { readonly index: ReadonlyMap<string, string>; readonly states: ReadonlyMap<string, WorkingState> }
) {
  const decision = decide(entries, new Set(plan.kept), found.states)
  if (decision.index.length > 0) {
    yield* repo.git.ok("checkoutSync", {
      cwd: plan.path,
      args: [...literal, "reset", "-q", record.new, "--pathspec-from-file=-", "--pathspec-file-nul"],
      stdin: `${decision.index.join("\0")}\0`
    })
  }
  const writes = decision.update.filter((entry) => entry.newBlob !== undefined).map((entry) => entry.path)
  if (writes.length > 0) {
    yield* repo.git.ok("checkoutSync", { cwd: plan.path, args: ["checkout-index", "-f", "-u", "-z", "--stdin"], stdin: `${writes.join("\0")}\0` })
  }
  for (const entry of decision.update) if (entry.newBlob === undefined) yield* removeFollowed(plan.path, entry.path)
  return decision.warn.map(({ entry, state }) => warningLine(record, entry, state, found.index.get(entry.path)?.replace(/\+x$/, "")))
})

/**
 * Whether git's own checks are enough for `entry`: the old main's file is there (read-tree would
 * silently restore a deleted one), or a file main adds is not (read-tree overwrites ignored files).
 */
const readTreeProtects = (checkout: string, entry: GitParse.RawEntry): Effect.Effect<boolean, Errors.GitError> =>
  Effect.try({
    try: () => {
      const stat = nodeFs.lstatSync(`${checkout}/${entry.path}`, { throwIfNoEntry: false })
      return entry.oldBlob === undefined ? stat === undefined : stat !== undefined && (stat.isFile() || stat.isSymbolicLink())
    },
    catch: (cause) => gitError("checkoutSync", `cannot read ${checkout}/${entry.path}: ${String(cause)}`)
  })

// ---------------------------------------------------------------------------------------------------
// What the user is in the middle of
// ---------------------------------------------------------------------------------------------------

/**
 * What a checkout is in the middle of, by the state git keeps for it; while one is found, the sync
 * of that checkout touches nothing.
 *
 * @category models
 * @since 0.1.0
 */
export type BusyKind =
  | "rebase"
  | "rebase-apply"
  | "am"
  | "merge"
  | "cherry-pick"
  | "revert"
  | "cherry-pick-sequence"
  | "revert-sequence"
  | "bisect"
  | "index-lock"
  | "unmerged"

/**
 * @category models
 * @since 0.1.0
 */
export interface Busy {
  readonly kind: BusyKind
  /** The state file or folder that says so. */
  readonly marker: string
  /** For a rebase: the commit the branch was at when it began (its `orig-head`). */
  readonly origHead?: string | undefined
}

const busy = (kind: BusyKind, marker: string, origHead?: string): Busy => ({ kind, marker, origHead })

/**
 * How long a held `index.lock` is waited for before the sync is put off (a `git status` of the
 * user's editor holds it for milliseconds), and how often it is looked at meanwhile.
 *
 * @category constants
 * @since 0.1.0
 */
export const lockWaitMs = 1_000
const lockPollMs = 50

/** The operation git's state files in `gitDir` (a worktree's own git dir) say is under way, if any. */
const operationIn = Effect.fn("CheckoutSync.operationIn")(function*(gitDir: string) {
  const at = (name: string) => `${gitDir}/${name}`
  if (yield* stateExists(at("rebase-merge"))) return busy("rebase", at("rebase-merge"), yield* readState(at("rebase-merge/orig-head")))
  if (yield* stateExists(at("rebase-apply"))) {
    // The folder `git am` and `git rebase --apply` share: `applying` marks an am session.
    if (yield* stateExists(at("rebase-apply/applying"))) return busy("am", at("rebase-apply"))
    return busy("rebase-apply", at("rebase-apply"), yield* readState(at("rebase-apply/orig-head")))
  }
  if (yield* stateExists(at("MERGE_HEAD"))) return busy("merge", at("MERGE_HEAD"))
  if (yield* stateExists(at("sequencer"))) {
    const reverting = (yield* stateExists(at("REVERT_HEAD"))) || ((yield* readState(at("sequencer/todo"))) ?? "").startsWith("revert")
    return busy(reverting ? "revert-sequence" : "cherry-pick-sequence", at("sequencer"))
  }
  if (yield* stateExists(at("CHERRY_PICK_HEAD"))) return busy("cherry-pick", at("CHERRY_PICK_HEAD"))
  if (yield* stateExists(at("REVERT_HEAD"))) return busy("revert", at("REVERT_HEAD"))
  if (yield* stateExists(at("BISECT_LOG"))) return busy("bisect", at("BISECT_LOG"))
  return undefined
})

/**
 * What `checkout` is in the middle of, from its state files, or a held `index.lock` (after waiting up
 * to `lockWaitMs` for it to go). Unmerged entries are found by `unmergedIn`, which needs a spawn.
 */
const busyIn = Effect.fn("CheckoutSync.busyIn")(function*(checkout: GitRepo.Worktree) {
  const operation = yield* operationIn(checkout.adminDir)
  if (operation !== undefined) return operation
  const lock = `${checkout.adminDir}/index.lock`
  for (let waitedMs = 0; yield* stateExists(lock); waitedMs += lockPollMs) {
    if (waitedMs >= lockWaitMs) return busy("index-lock", lock)
    yield* Effect.sleep(lockPollMs)
  }
  return undefined
})

/** Whether the checkout's index has unmerged entries (conflicts no state file accounts for: a `stash pop`'s, say). */
const unmergedIn = (repo: Repo, checkout: GitRepo.Worktree): Effect.Effect<Busy | undefined, Errors.GitError> =>
  Effect.map(
    repo.git.ok("checkoutSync", { cwd: checkout.path, args: ["ls-files", "--unmerged", "-z"] }),
    (output) => output.stdout.length > 0 ? busy("unmerged", `${checkout.adminDir}/index`) : undefined
  )

/** A word as a shell reads it: as is when plain, else quoted. */
const shellWord = (word: string): string => /^[\w./@-]+$/.test(word) ? word : GitParse.shellQuote(word)

/** Finishing and abandoning each operation that ends in a commit on the checked-out branch. */
const operations: Partial<Record<BusyKind, { readonly what: string; readonly finish: string; readonly abort: string; readonly commits: boolean }>> = {
  merge: { what: "a merge", finish: "resolve and `git commit`", abort: "git merge --abort", commits: false },
  "cherry-pick": { what: "a cherry-pick", finish: "`git cherry-pick --continue`", abort: "git cherry-pick --abort", commits: false },
  revert: { what: "a revert", finish: "`git revert --continue`", abort: "git revert --abort", commits: false },
  "cherry-pick-sequence": { what: "a cherry-pick of several commits", finish: "`git cherry-pick --continue`", abort: "git cherry-pick --abort", commits: true },
  "revert-sequence": { what: "a revert of several commits", finish: "`git revert --continue`", abort: "git revert --abort", commits: true },
  am: { what: "a `git am` session", finish: "`git am --continue`", abort: "git am --abort", commits: true }
}

/**
 * The warning for a checkout left as it is because the user is in the middle of something: why, and
 * exactly what to run. With HEAD on the branch, HEAD now names the new main while the index and files
 * are still at `from`, so a commit made as things stand would revert what main gained: the operation
 * is finished where it started (HEAD detached there) and then merged. A rebase's own end moves the
 * branch, so the commands say how to put main's new commits back on top instead.
 *
 * @category operations
 * @since 0.1.0
 */
export const busyWarning = (
  move: { readonly branch: string; readonly from: string; readonly next: string },
  checkout: string,
  found: Busy
): string => {
  const branch = shellWord(move.branch)
  const marker = found.marker.startsWith(`${checkout}/`) ? found.marker.slice(checkout.length + 1) : found.marker
  const short = (sha: string) => sha.slice(0, 12)
  const left = (from: string) => `so oompa left it exactly as it is while ${move.branch} moved from ${short(from)} to ${short(move.next)}`
  const behind = `HEAD (${move.branch}) now names ${short(move.next)}, but your index and files are still at ${short(move.from)}`
  const detach = `git update-ref --no-deref HEAD ${move.from}`
  const operation = operations[found.kind]
  if (operation !== undefined) {
    return `warning: your checkout ${checkout} is in the middle of ${operation.what} (${marker}), ${left(move.from)}. ` +
      `${behind}: finishing it as things stand would revert what ${move.branch} gained. ` +
      `To finish it where it started: ${detach} (HEAD detached there; nothing else changes), then ${operation.finish} as usual, then git switch ${branch} && git merge -. ` +
      `To abandon it instead: the same update-ref, then ${operation.abort} && git switch ${branch}` +
      (operation.commits ? ` (what it already committed stays on ${move.branch})` : "")
  }
  if (found.kind === "rebase" || found.kind === "rebase-apply") {
    const orig = found.origHead !== undefined && /^[0-9a-f]{40,64}$/.test(found.origHead) ? found.origHead : move.from
    const abort = `Do not \`git rebase --abort\`: it would set ${move.branch} back to ${short(orig)}, dropping what was merged since. `
    const quit = `To abandon the rebase instead: git rebase --quit && git switch --discard-changes ${branch}`
    const start = `warning: your checkout ${checkout} is in the middle of a rebase of ${move.branch} (${marker}), ${left(orig)}. ${abort}`
    return found.kind === "rebase"
      ? `${start}Finish the rebase as usual (git then refuses to update ${move.branch}, which moved under it), ` +
        `then put what ${move.branch} gained on top of your rebased commits: git rebase --quit && git rebase --rebase-merges --onto HEAD ${orig} ${branch}. ${quit}`
      : `${start}Finishing it (\`git rebase --continue\`) sets ${move.branch} to your rebased commits without what was merged since ${short(orig)} ` +
        `(this kind of rebase does not check that ${move.branch} moved); once it has finished, put that back on top: ` +
        `git rebase --rebase-merges --onto ${branch} ${orig} ${move.next} && git switch ${branch} && git merge --ff-only -. ${quit}`
  }
  if (found.kind === "bisect") {
    return `warning: your checkout ${checkout} is in the middle of a bisect (${marker}), ${left(move.from)}. ${behind}. ` +
      `To go on bisecting: ${detach} first (HEAD detached there; nothing else changes); \`git bisect reset\` then takes you to ${move.branch} as it is now`
  }
  const later = `the next merge, the next run or \`oompa cleanup\` brings it along (it is recorded in ${recordFile})`
  if (found.kind === "index-lock") {
    return `warning: your checkout ${checkout} has a held ${marker} (a git command is running there, or one that crashed left it), ${left(move.from)}. ` +
      `${behind}, so \`git status\` shows what ${move.branch} gained as reverted: do not commit there before it is brought along. ` +
      `Once the lock is gone (delete it if no git command is running), ${later}`
  }
  return `warning: your checkout ${checkout} has unmerged entries in its index (conflicts of a \`git stash pop\` or the like), ${left(move.from)}. ` +
    `${behind}: do not commit there before it is brought along. Resolve the conflicts (\`git add\`), and ${later}, keeping your edits`
}

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
  const operation = yield* busyIn(checkout)
  if (operation !== undefined) return { busy: operation, warnings: [] }
  // The move this checkout makes: from the commit it is at, which an earlier put-off sync left it on.
  const move: SyncRecord = { ...record, old: target.from }
  const protects = plan.kept === undefined ? yield* Effect.forEach(entries, (entry) => readTreeProtects(plan.path, entry)) : []
  if (plan.kept === undefined && protects.every((ok) => ok)) {
    const fast = yield* repo.git.run("checkoutSync", { cwd: plan.path, args: ["read-tree", "-m", "-u", move.old, move.new] })
    if (fast.exitCode === 0) return { busy: undefined, warnings: [] }
  }
  const conflicted = yield* unmergedIn(repo, checkout)
  if (conflicted !== undefined) return { busy: conflicted, warnings: [] }
  const paths = entries.map((entry) => entry.path)
  const found = { index: yield* indexStates(repo, plan.path, paths), states: yield* workingStates(repo, plan.path, paths) }
  let kept = plan.kept
  if (kept === undefined) {
    const classified = classify(entries, found.index, found.states)
    kept = classified.kept
    const checkouts = record.checkouts.map((other) => other.path === plan.path ? { ...other, ...classified } : other)
    yield* writeRecord(repo, { ...record, checkouts })
  }
  return { busy: undefined, warnings: yield* applyPlan(repo, move, entries, { path: plan.path, kept }, found) }
})

/**
 * The warning for a file the merge touched that the user had edited. Each case says truthfully what
 * `git commit -a` would now do, and gives the command that brings the file up to date.
 */
export const warningLine = (
  record: Pick<SyncRecord, "old" | "new">,
  entry: Pick<GitParse.RawEntry, "path" | "oldBlob" | "newBlob">,
  state: WorkingState,
  stagedBlob?: string
): string => {
  const file = GitParse.shellQuote(entry.path)
  const staged = stagedBlob !== undefined && /^[0-9a-f]{40,64}$/.test(stagedBlob) && stagedBlob !== entry.oldBlob && stagedBlob !== state?.replace(/\+x$/, "")
    ? ` (your staged version of it was unstaged; it is blob ${stagedBlob}: git show ${stagedBlob})`
    : ""
  const head = `warning: ${entry.path}: main changed this file while you had uncommitted edits in it; your version was kept`
  if (entry.oldBlob !== undefined && entry.newBlob !== undefined && state !== undefined) {
    const patch = `p="$(git rev-parse --git-path oompa-edits.patch)"`
    return `${head}, so \`git commit -a\` now would revert the merged change there. ` +
      `To bring it up to date (your edits re-applied on main's version): ${patch} && git diff --binary ${record.old} -- ${file} > "$p" && ` +
      `git checkout -- ${file} && git apply --3way "$p" && git reset -q -- ${file}${staged}`
  }
  if (entry.newBlob === undefined) {
    return `${head}: main deleted it, so it is untracked now and \`git commit -a\` would leave it out (\`git add\` would bring it back, reverting the deletion). ` +
      `To follow main: mv -- ${file} ${GitParse.shellQuote(`${entry.path}.orig`)}${staged}`
  }
  if (entry.oldBlob === undefined) {
    return `${head}: main added its own ${entry.path}, so \`git commit -a\` now would replace main's version with yours, reverting the merged change there. ` +
      `To take main's version (yours kept as ${entry.path}.orig): mv -- ${file} ${GitParse.shellQuote(`${entry.path}.orig`)} && git checkout -- ${file}${staged}`
  }
  return `${head}: you deleted it, so \`git commit -a\` now would delete it from main, reverting the merged change there. ` +
    `To bring it back with main's changes: git checkout -- ${file}${staged}`
}

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
  else yield* writeRecord(repo, { ...record, new: main === record.new ? record.new : record.old, checkouts: putOff })
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
  const record = yield* readRecord(repo)
  return record === undefined ? [] : yield* finish(repo, record)
})

/**
 * Opens the repository and finishes a pending sync: for `oompa cleanup`, without a `Git` layer.
 *
 * @category operations
 * @since 0.1.0
 */
export const recoverRepository = (options: GitRepo.OpenOptions): Effect.Effect<
  ReadonlyArray<string>,
  Errors.GitError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path
> => Effect.flatMap(GitRepo.open(options), recover)
