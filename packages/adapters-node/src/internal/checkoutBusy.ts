/**
 * What the user is in the middle of in a checkout (SPEC F6): a merge, a rebase, a cherry-pick or
 * revert, an `am` session, a bisect, unmerged index entries, or a held `index.lock` (waited for first).
 * While one is found, the sync of that checkout touches nothing, and `busyWarning` says why and
 * exactly what to run. All of it is read from the state files git keeps in the worktree's git dir.
 *
 * Internal: used by `CheckoutSync`, which re-exports its models.
 *
 * @since 0.1.0
 */
import type { Errors } from "@oompa/core"
import { Effect, Schedule } from "effect"
import * as nodeFs from "node:fs"
import { recordFile } from "./checkoutRecord.ts"
import * as GitParse from "./gitParse.ts"
import type * as GitRepo from "./gitRepo.ts"

/** A state file of git's, trimmed; `undefined` when absent or unreadable. */
const readState = (file: string): Effect.Effect<string | undefined> =>
  Effect.try({ try: () => nodeFs.readFileSync(file, "utf8").trim(), catch: () => undefined }).pipe(Effect.orElseSucceed(() => undefined))

const stateExists = (file: string): Effect.Effect<boolean> => Effect.sync(() => nodeFs.existsSync(file))

/** The branch a worktree is being rebased from (`rebase-merge/head-name`, `rebase-apply/head-name`), if any. */
export const rebasedBranch = Effect.fn("CheckoutSync.rebasedBranch")(function*(gitDir: string) {
  return (yield* readState(`${gitDir}/rebase-merge/head-name`)) ?? (yield* readState(`${gitDir}/rebase-apply/head-name`))
})

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

/**
 * How a held `index.lock` is waited for: looked at again every `lockPollMs`, at most as many times as
 * fit in `lockWaitMs` (20), so it is given up on `lockWaitMs` after it was first seen.
 */
const lockPolls: Schedule.Schedule<number> = Schedule.spaced(lockPollMs).pipe(Schedule.upTo({ times: Math.ceil(lockWaitMs / lockPollMs) }))

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
export const busyIn = Effect.fn("CheckoutSync.busyIn")(function*(checkout: GitRepo.Worktree) {
  const operation = yield* operationIn(checkout.adminDir)
  if (operation !== undefined) return operation
  const lock = `${checkout.adminDir}/index.lock`
  const held = yield* stateExists(lock).pipe(Effect.repeat({ schedule: lockPolls, while: (exists) => exists }))
  return held ? busy("index-lock", lock) : undefined
})

/** Whether the checkout's index has unmerged entries (conflicts no state file accounts for: a `stash pop`'s, say). */
export const unmergedIn = (repo: GitRepo.Repo, checkout: GitRepo.Worktree): Effect.Effect<Busy | undefined, Errors.GitError> =>
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
