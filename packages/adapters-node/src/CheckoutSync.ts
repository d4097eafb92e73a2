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
 * Crash safety (SPEC F14): `prepare` records the move (old, new, the checkouts on the branch) in
 * `.oompa/checkout-sync.json` before main moves; the per-file plan is added to the record before any
 * index entry is touched. `finish` applies the record and deletes it, and `recover` finishes a record
 * a crash left behind. Applying is idempotent: a file is only written while its content is still the
 * old main's, so finishing twice, or after the user touched a file in between, never overwrites an edit.
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
  kept: Schema.optionalKey(Schema.Array(Schema.String))
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

/** The checkouts (worktrees not oompa's) that have the target branch checked out. */
const checkoutsOnTarget = (repo: Repo) =>
  Effect.map(GitRepo.listWorktrees(repo), (worktrees) =>
    worktrees.filter((worktree) =>
      worktree.head._tag === "Branch" &&
      worktree.head.ref === `refs/heads/${repo.targetBranch}` &&
      !worktree.path.startsWith(`${repo.worktreesDir}/`)))

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

/**
 * Records the move from `old` to `next` for every checkout on the target branch, before main moves.
 * `undefined` (and no record) when no checkout has the branch checked out.
 *
 * @category operations
 * @since 0.1.0
 */
export const prepare = Effect.fn("CheckoutSync.prepare")(function*(repo: Repo, move: { readonly old: string; readonly next: string }) {
  const checkouts = yield* checkoutsOnTarget(repo)
  if (checkouts.length === 0) return undefined
  const record: SyncRecord = {
    version: 1,
    branch: repo.targetBranch,
    old: move.old,
    new: move.next,
    checkouts: checkouts.map((checkout) => ({ path: checkout.path }))
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

/**
 * Syncs one checkout: the fast path (`read-tree -m -u`, git's own refusal protecting local changes),
 * else the touched files classified (and the plan recorded before any index entry changes), then applied.
 */
const syncCheckout = Effect.fn("CheckoutSync.syncCheckout")(function*(repo: Repo, record: SyncRecord, entries: ReadonlyArray<GitParse.RawEntry>, plan: CheckoutPlan) {
  const protects = plan.kept === undefined ? yield* Effect.forEach(entries, (entry) => readTreeProtects(plan.path, entry)) : []
  if (plan.kept === undefined && protects.every((ok) => ok)) {
    const fast = yield* repo.git.run("checkoutSync", { cwd: plan.path, args: ["read-tree", "-m", "-u", record.old, record.new] })
    if (fast.exitCode === 0) return []
  }
  const paths = entries.map((entry) => entry.path)
  const found = { index: yield* indexStates(repo, plan.path, paths), states: yield* workingStates(repo, plan.path, paths) }
  let kept = plan.kept
  if (kept === undefined) {
    const classified = classify(entries, found.index, found.states)
    kept = classified.kept
    const checkouts = record.checkouts.map((other) => other.path === plan.path ? { path: plan.path, ...classified } : other)
    yield* writeRecord(repo, { ...record, checkouts })
  }
  return yield* applyPlan(repo, record, entries, { path: plan.path, kept }, found)
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
 *
 * @category operations
 * @since 0.1.0
 */
export const finish = Effect.fn("CheckoutSync.finish")(function*(repo: Repo, record: SyncRecord, touched?: ReadonlyArray<GitParse.RawEntry>) {
  const main = yield* GitRepo.resolveRef(repo.commonDir, `refs/heads/${record.branch}`)
  const warnings: Array<string> = []
  if (main !== record.old && main !== record.new) {
    warnings.push(`warning: the sync of your checkout from ${record.old.slice(0, 12)} to ${record.new.slice(0, 12)} was not finished and ${record.branch} has moved since; check \`git status\` there`)
  }
  if (main === record.new) {
    const entries = touched ?? (yield* touchedFiles(repo, record.old, record.new))
    const onBranch = new Set((yield* checkoutsOnTarget(repo)).map((checkout) => checkout.path))
    for (const plan of record.checkouts) {
      // A checkout that left the branch since was brought along by git itself.
      if (onBranch.has(plan.path) && entries.length > 0) warnings.push(...yield* syncCheckout(repo, record, entries, plan))
    }
  }
  yield* discard(repo)
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

const readRecord = Effect.fn("CheckoutSync.readRecord")(function*(repo: Repo) {
  const file = `${repo.root}/${recordFile}`
  if (!(yield* repo.fs.exists(file).pipe(Effect.mapError(fsError("checkoutSync"))))) return undefined
  const text = yield* repo.fs.readFileString(file).pipe(Effect.mapError(fsError("checkoutSync")))
  return yield* Schema.decodeUnknownEffect(Schema.fromJsonString(SyncRecord))(text).pipe(
    Effect.mapError((error) => gitError("checkoutSync", `${file} is unreadable (${error.message}); delete it after checking \`git status\``))
  )
})

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
