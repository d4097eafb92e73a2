/**
 * How one checkout follows a move of main file by file, when git's own two-tree merge refused (SPEC
 * F6): each file the merge touched is classified by content — it follows main only while both its
 * index entry and its working file are still the old main's — then the touched index entries become
 * the new main's and the followed files are written or removed, each only while it is still the old
 * main's. Every kept file the user edited gets a `warning:` line saying what `git commit -a` would
 * now do there and how to bring it up to date.
 *
 * Internal: used by `CheckoutSync`, which re-exports `warningLine`.
 *
 * @since 0.1.0
 */
import type { Errors } from "@oompa/core"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as nodeFs from "node:fs"
import type { SyncRecord } from "./checkoutRecord.ts"
import * as GitCommand from "./gitCommand.ts"
import * as GitParse from "./gitParse.ts"
import * as GitRepo from "./gitRepo.ts"

// Pathspecs are file names here, never patterns.
const literal = ["--literal-pathspecs"] as const

/**
 * A file's state, comparable across the working tree, the index and a tree: its blob id, marked
 * `+x` when executable (a mode change is an edit too); `undefined` when absent, `"other"` for a
 * folder or the like.
 */
export type WorkingState = string | undefined

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
export const workingStates = Effect.fn("CheckoutSync.workingStates")(function*(repo: GitRepo.Repo, checkout: string, paths: ReadonlyArray<string>) {
  const states = new Map<string, WorkingState>()
  const regular: Array<{ readonly path: string; readonly executable: boolean }> = []
  for (const path of paths) {
    const found = yield* Effect.try({
      try: () => {
        const stat = nodeFs.lstatSync(`${checkout}/${path}`, { throwIfNoEntry: false })
        if (stat === undefined || stat.isFile()) return stat
        return stat.isSymbolicLink() ? blobId(new TextEncoder().encode(nodeFs.readlinkSync(`${checkout}/${path}`))) : "other"
      },
      catch: (cause) => GitRepo.gitError("checkoutSync", "failed", `cannot read ${checkout}/${path}: ${String(cause)}`)
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
export const indexStates = (repo: GitRepo.Repo, checkout: string, paths: ReadonlyArray<string>) =>
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
export const classify = (
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
    catch: (cause) => GitRepo.gitError("checkoutSync", "failed", `cannot remove ${checkout}/${path}: ${String(cause)}`)
  })

/** Applies a classified plan: touched index entries to the new main, followed files written or removed. */
export const applyPlan = Effect.fn("CheckoutSync.applyPlan")(function*(
  repo: GitRepo.Repo,
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
export const readTreeProtects = (checkout: string, entry: GitParse.RawEntry): Effect.Effect<boolean, Errors.GitError> =>
  Effect.try({
    try: () => {
      const stat = nodeFs.lstatSync(`${checkout}/${entry.path}`, { throwIfNoEntry: false })
      return entry.oldBlob === undefined ? stat === undefined : stat !== undefined && (stat.isFile() || stat.isSymbolicLink())
    },
    catch: (cause) => GitRepo.gitError("checkoutSync", "failed", `cannot read ${checkout}/${entry.path}: ${String(cause)}`)
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
