/**
 * How approved work lands on the target branch: `merge` writes the reviewed commit and merges it onto
 * main as commits nobody points to yet, `compareAndSwapMain` moves main (and the merged markers) with
 * one `update-ref --stdin` transaction — git's compare-and-swap — and brings the user's checkout
 * along (`CheckoutSync`), and `mergeIntoWorkspace` merges main into a worker's branch when the merge
 * conflicted. The merged markers (`refs/oompa/merged/<task>`) tell recovery what landed.
 *
 * Internal: used by `NodeGit`.
 *
 * @since 0.1.0
 */
// `Errors` is what the declarations of the effects exported here name their failures by.
import type { Errors, Git } from "@oompa/core"
import { Ids } from "@oompa/core"
import { Effect, Schema, type Semaphore } from "effect"
import * as CheckoutSync from "../CheckoutSync.ts"
import { dropSetupOutputs } from "./gitCommits.ts"
import * as GitCommand from "./gitCommand.ts"
import * as GitObjects from "./gitObjects.ts"
import * as MainChain from "./gitMainChain.ts"
import * as Heads from "./gitHeads.ts"
import { plainBranch, type Records, recordOf, writeHeadFile } from "./gitHeads.ts"
import * as GitParse from "./gitParse.ts"
import * as GitRepo from "./gitRepo.ts"
import { ownAdminDir } from "./gitWorkspaces.ts"

/**
 * Lands the approved tree of `head` onto `onto` as unreferenced commits (or the conflicting files).
 * The reviewed commit is written first: `head`'s tree on `base` with the merge message, so nothing
 * of the agent's history, messages or trailers is used. When main moved past `base` it is merged
 * onto `onto` with `merge-tree --write-tree`, whose merge base is then `base` (the reviewed
 * commit's only parent, an ancestor of `onto`) — not whatever history an agent gave `head`.
 */
export const merge = (repo: GitRepo.Repo) =>
  Effect.fn("NodeGit.merge")(function*(request: Git.MergeRequest) {
    const { base, head, message, onto, strategy } = request
    if (!(yield* GitRepo.isAncestor(repo, base, onto))) {
      return yield* GitRepo.gitError("merge", "failed", `the reviewed change's base ${base} is not part of ${onto}`)
    }
    const commitTree = (tree: string, parents: ReadonlyArray<string>) => GitObjects.commitTree(repo, "merge", tree, parents, message)
    const headTree = (yield* GitRepo.readCommit(repo, head)).tree
    const reviewed = yield* commitTree(headTree, [base])
    if (onto === base) {
      return { _tag: "Merged", sha: strategy === "no-ff" ? yield* commitTree(headTree, [onto, reviewed]) : reviewed } satisfies Git.MergeAttempt
    }
    // Inside the common `.git`, where git has no work tree: a `.gitattributes` (the user's checkout
    // has main's) cannot select a merge driver such as `union`, which would settle a conflict
    // silently instead of sending it back to the agent and its reviewer.
    const output = yield* repo.git.ok("merge", {
      cwd: repo.commonDir,
      args: ["merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", onto, reviewed]
    }, [0, 1])
    const result = yield* GitRepo.parse("merge", () => GitParse.mergeTree(GitCommand.text(output.stdout)))
    if (output.exitCode === 1) {
      if (result.conflicts.length === 0) return yield* GitCommand.failure("merge", { cwd: repo.root, args: ["merge-tree", onto, reviewed] }, output)
      return { _tag: "Conflict", files: result.conflicts } satisfies Git.MergeAttempt
    }
    // no-ff records both parents; squash, rebase and ff keep main linear.
    return { _tag: "Merged", sha: yield* commitTree(result.tree, strategy === "no-ff" ? [onto, reviewed] : [onto]) } satisfies Git.MergeAttempt
  })

/** The ref that records which commit landed `task`. */
export const mergedMarkerRef = (task: string): string => `refs/oompa/merged/${task}`

const mergedMarkersPrefix = "refs/oompa/merged/"

/** Every merged marker, task → commit (`for-each-ref`; read by recovery only). */
export const mergedMarkers = (repo: GitRepo.Repo) =>
  Effect.map(
    repo.git.ok("mergedMarkers", { cwd: repo.root, args: ["for-each-ref", "--format=%(refname)%00%(objectname)", mergedMarkersPrefix] }),
    (output) => {
      const markers = new Map<string, string>()
      for (const line of GitCommand.text(output.stdout).split("\n")) {
        const [ref, sha] = line.split("\0")
        if (ref !== undefined && sha !== undefined && ref.startsWith(mergedMarkersPrefix)) markers.set(ref.slice(mergedMarkersPrefix.length), sha)
      }
      return markers as ReadonlyMap<string, string>
    }
  )

/**
 * Moves the target branch from `expected` to `next` with `git update-ref NEW OLD`. Dies when `next`
 * does not descend from `expected` (the adapter half of STYLE 9's paired assertion). A checkout that
 * has the branch checked out is synced after the move; the sync is recorded before it. Swaps in one
 * process take turns (`swaps`), so two syncs never share the record; between processes the ref's own
 * lock decides, and the run lock keeps a second run away.
 */
export const compareAndSwapMain = (repo: GitRepo.Repo, warn: (line: string) => Effect.Effect<void>, swaps: Semaphore.Semaphore, records: Records) =>
  Effect.fn("NodeGit.compareAndSwapMain")(function*(expected: string, next: string, landed: ReadonlyArray<string> = [], retired?: string) {
    for (const task of landed) {
      if (!Schema.is(Ids.TaskId)(task)) return yield* GitRepo.gitError("compareAndSwapMain", "failed", `invalid task id ${JSON.stringify(task)} for a merged marker`)
    }
    if (!(yield* GitRepo.isAncestor(repo, expected, next))) {
      return yield* Effect.die(new Error(`NodeGit.compareAndSwapMain: ${next} does not descend from ${expected}; main only moves forward`))
    }
    // A sync a crash left behind is finished before a new one is recorded.
    yield* Effect.forEach(yield* CheckoutSync.recover(repo), warn)
    const record = yield* CheckoutSync.prepare(repo, { old: expected, next })
    const ref = `refs/heads/${repo.targetBranch}`
    // The landed work's branch goes in the same transaction (a git process less per iteration, and
    // no crash leaves it behind); one that cannot, because it is held outside oompa, is left to `deleteBranch`.
    const retiring = retired === undefined ? undefined : yield* Heads.retiring(repo, retired).pipe(Effect.orElseSucceed(() => undefined))
    const transaction = (retire: Heads.Retiring | undefined) =>
      repo.git.run("compareAndSwapMain", {
        cwd: repo.root,
        args: ["update-ref", "-m", `oompa ${repo.runId}: merge`, "--stdin"],
        stdin: [
          "start",
          `update ${ref} ${next} ${expected}`,
          ...landed.map((task) => `update ${mergedMarkerRef(task)} ${next}`),
          ...(retire === undefined ? [] : [`delete ${retire.ref} ${retire.sha}`]),
          "prepare",
          "commit",
          ""
        ].join("\n")
      })
    // What the sync will need is read while the ref moves (it does not depend on the move).
    const [first, touched] = yield* Effect.all([
      // One transaction: main and the markers of what it lands move together or not at all.
      transaction(retiring),
      record === undefined
        ? Effect.succeed(undefined)
        // Once main has moved the swap must report success: `finish` reads the files again and reports a failure.
        : CheckoutSync.touchedFiles(repo, expected, next).pipe(Effect.catchTag("GitError", () => Effect.succeed(undefined)))
    ], { concurrency: "unbounded" })
    // The branch moved since it was read (its agent's doing): main still lands, the branch is left to `deleteBranch`.
    const retry = first.exitCode !== 0 && retiring !== undefined && (yield* GitRepo.resolveRef(repo.commonDir, ref)) === expected
    const update = retry ? yield* transaction(undefined) : first
    if (update.exitCode === 0) MainChain.recordMainMove(repo.mainChain, expected, next)
    if (update.exitCode === 0 && retiring !== undefined && !retry) yield* Heads.retired(repo, records, retired!, retiring)
    if (update.exitCode !== 0) {
      const now = yield* GitRepo.resolveRef(repo.commonDir, ref)
      if (record !== undefined) yield* CheckoutSync.discard(repo)
      // Main is elsewhere: a lost race, which the caller retries on the new main.
      if (now !== expected) return false
      return yield* GitCommand.failure("compareAndSwapMain", { cwd: repo.root, args: ["update-ref", ref, next, expected] }, update)
    }
    if (record !== undefined) yield* Effect.forEach(yield* CheckoutSync.finishOrReport(repo, record, touched), warn)
    return true
  }, (effect) => swaps.withPermit(effect))

/** Merges `onto` into the workspace's branch with `--no-commit`; the next `commitAll` makes the merge commit. */
export const mergeIntoWorkspace = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.mergeIntoWorkspace")(function*(workspace: Git.Workspace, onto: string) {
    const recorded = yield* recordOf(repo, records, workspace.path)
    if (yield* GitRepo.isAncestor(repo, onto, recorded.head)) return []
    // `git merge` reads HEAD: it must be the recorded head, whatever an agent made of it.
    const adminDir = yield* ownAdminDir(repo, workspace.path)
    if (adminDir === undefined) return yield* GitRepo.gitError("mergeIntoWorkspace", "missing-object", `no workspace at ${workspace.path}`)
    if (recorded.branch !== undefined) {
      yield* plainBranch(repo, recorded.branch)
      yield* repo.git.ok("mergeIntoWorkspace", { cwd: repo.root, args: ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: restore`, `refs/heads/${recorded.branch}`, recorded.head] })
    }
    yield* writeHeadFile(repo, adminDir, workspace.path, recorded.branch === undefined ? `${recorded.head}\n` : `ref: refs/heads/${recorded.branch}\n`)
    yield* dropSetupOutputs(repo, workspace, recorded)
    records.set(workspace.path, { ...recorded, setup: new Map(), mergeParent: onto })
    const output = yield* repo.git.ok("mergeIntoWorkspace", {
      cwd: workspace.path,
      args: ["merge", "-q", "--no-commit", "--no-ff", "--no-edit", onto]
    }, [0, 1])
    const unmerged = yield* repo.git.ok("mergeIntoWorkspace", {
      cwd: workspace.path,
      args: ["diff", "--name-only", "--diff-filter=U", "-z"]
    })
    const files = [...new Set(GitParse.nulFields(GitCommand.text(unmerged.stdout)))].sort()
    // Exit 1 without conflicts is a refusal (local changes in the way), not a merge.
    if (output.exitCode === 1 && files.length === 0) {
      return yield* GitCommand.failure("mergeIntoWorkspace", { cwd: workspace.path, args: ["merge", onto] }, output)
    }
    return files
  })
