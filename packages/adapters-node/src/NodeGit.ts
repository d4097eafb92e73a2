/**
 * The real `Git` service (`@oompa/core`'s repository boundary) on a git repository on disk.
 *
 * Writes go through the git CLI, as ARCHITECTURE.md decides from measurement: workspaces are real
 * `git worktree`s (an agent's own `git status/diff/log` work in them), commits are `add -A` +
 * `write-tree` + `commit-tree` onto the head oompa recorded, diffs `diff --raw --numstat -z`, and a
 * merge is `commit-tree` of the approved tree, then `merge-tree --write-tree` → `commit-tree`, a
 * commit nobody points to, until `compareAndSwapMain` moves the target branch with one
 * `update-ref --stdin` transaction (main NEW OLD, and the merged markers) — git's compare-and-swap. No operation here checks
 * out, merges into or resets the user's own checkout; when it has the target branch checked out,
 * `CheckoutSync` brings it along after the branch moved (SPEC F6).
 *
 * Reads that a run repeats (the target branch, workspace heads, commits, ancestry, branches) are
 * in-process through isomorphic-git against the common `.git`, uncached, so they always see the
 * CLI's latest writes (see `internal/gitRepo.ts`).
 *
 * Workspaces live under `worktreesDir` (by default outside the source tree, see
 * `defaultWorktreesDir`), one per worker, named after it, and are reused across iterations: a reset
 * is `checkout -f -B <branch> <base>` + `clean -ffdx`, which touches only the files that differ.
 *
 * Semantics follow `@oompa/core/testing`'s `MemoryGit`, with these documented differences:
 * - What lands is a commit oompa writes of the approved tree (see `merge`), for every strategy: the
 *   agent's own commits never reach main (docs/decisions.md).
 * - Merges are git's (`ort`, with rename detection and recursive merge bases), so they are cleaner
 *   than `MemoryGit`'s line merge where files were renamed.
 * - `mergeIntoWorkspace` needs a workspace without uncommitted changes in the files the merge
 *   touches (git refuses to overwrite them); the iteration always commits before it.
 * - `deleteBranch` of a branch checked out in one of oompa's worktrees detaches that worktree at the
 *   branch's commit first (as `MemoryGit`); one checked out in any other worktree — the user's — is
 *   refused, so the user's HEAD is never moved.
 *
 * Called by the core's programs through the `Git` service; built by `layer`. The operations live in
 * `internal/`: workspaces (`gitWorkspaces`), what oompa records of them and the refs it writes
 * (`gitHeads`), commits and diffs (`gitCommits`), merges and the move of main (`gitLanding`), the
 * remote target main is pushed to with `Options.remote` (`gitRemote`), task files (`gitTaskFiles`)
 * and the guard on the repository's config (`gitConfigGuard`). Every failure is a `GitError` whose
 * `reason` says why (`internal/gitCommand.ts` reads it from git's stderr).
 *
 * @since 0.1.0
 */
import { type Errors, Git } from "@oompa/core"
import { Console, Effect, Layer, Schema, Semaphore } from "effect"
import * as WorktreeFiles from "./internal/worktreeFiles.ts"
import * as CheckoutSync from "./CheckoutSync.ts"
import * as Commits from "./internal/gitCommits.ts"
import * as ConfigGuard from "./internal/gitConfigGuard.ts"
import * as Heads from "./internal/gitHeads.ts"
import * as Landing from "./internal/gitLanding.ts"
import * as GitDiscovery from "./internal/gitDiscovery.ts"
import * as GitRemote from "./internal/gitRemote.ts"
import * as GitRepo from "./internal/gitRepo.ts"
import * as TaskFiles from "./internal/gitTaskFiles.ts"
import * as Workspaces from "./internal/gitWorkspaces.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The repository (any folder inside its main worktree). */
  readonly repoRoot: string
  /** Where worktrees live; relative to the repository's top level. Default: `defaultWorktreesDir`. */
  readonly worktreesDir?: string | undefined
  /** The target branch (SPEC F1); default `main` if it exists, else `master`. */
  readonly branch?: string | undefined
  /** The run's id, recorded in reflog messages. */
  readonly runId: string
  /**
   * Receives each `warning:` line of a checkout sync (SPEC F6); default: printed to stderr. The
   * `Git` service has no channel for warnings yet.
   */
  readonly onWarning?: ((line: string) => Effect.Effect<void>) | undefined
  /** The ignored files every worktree gets (`worktree.copy`/`link`, resolved by `SwarmRun`). */
  readonly worktreeFiles?: WorktreeFiles.WorktreeFiles | undefined
  /**
   * Land on the target branch of this git remote (a remote's name or a URL; `target.mode: "push"`,
   * issue 20) instead of the local branch, which then follows (see `internal/gitRemote.ts`).
   */
  readonly remote?: string | undefined
  /** How a remote call that failed on the network is retried; default `remoteRetryDefault`. */
  readonly remoteRetry?: GitRemote.RetryPolicy | undefined
  /**
   * What git said about the repository earlier in the run ({@link discover}), so that opening it
   * again spawns no git; default: asked anew.
   */
  readonly discovered?: Discovery | undefined
}

/**
 * What git says about a repository when a run opens it: its top level and common dir, the
 * environment of every git call, who commits. Taken once by {@link discover} and given to each layer
 * that opens the repository in one run (`Options.discovered`).
 *
 * @category models
 * @since 0.1.0
 */
export type Discovery = GitDiscovery.Discovery

/**
 * Asks git about the repository at `repoRoot` (its main worktree or any folder inside it): from
 * the main worktree, one `rev-parse`, one `config -z` and one `var -l`. Fails with a `GitError` of
 * operation `open` for no repository, a bare one, or a git that cannot run.
 *
 * @category constructors
 * @since 0.1.0
 */
export const discover: (repoRoot: string) => Effect.Effect<Discovery, Errors.GitError> = GitDiscovery.discover

/**
 * How a fetch or push to the remote target that failed on the network is retried by default: 4
 * more attempts, after 0.5, 1, 2 and 4 s. A refused login is never retried.
 *
 * @category constants
 * @since 0.1.0
 */
export const remoteRetryDefault: GitRemote.RetryPolicy = GitRemote.defaultRetry

/**
 * The ref oompa fetches the remote target's branch into (`mainHead` of a remote target); only
 * oompa writes it.
 *
 * @category constants
 * @since 0.1.0
 */
export const remoteTrackingRef: (branch: string) => string = GitRemote.trackingRef

/**
 * One worker's worktree as `listWorkspaces` finds it under `worktreesDir` (`oompa worktrees --json`
 * prints a list of them). A worktree a dead run left is listed too; `oompa cleanup` removes it.
 *
 * @category models
 * @since 0.1.0
 */
export const Worktree = Schema.Struct({
  /** The worker id (`w0`, `planner`, …) the worktree belongs to. */
  worker: Schema.String,
  /** Its absolute path, where the worker's agent runs. */
  path: Schema.String
})
export type Worktree = typeof Worktree.Type

/**
 * The repository's oompa worktrees, by worker id (`oompa worktrees --json`).
 *
 * @category models
 * @since 0.1.0
 */
export const WorktreeList = Schema.Array(Worktree)
export type WorktreeList = typeof WorktreeList.Type

/**
 * The default worktrees folder: `${XDG_CACHE_HOME:-~/.cache}/oompa/worktrees/<repo-name>-<hash>`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const defaultWorktreesDir: (repoTopLevel: string) => string = GitRepo.defaultWorktreesDir

/**
 * The task outbox an agent writes into (SPEC F2), relative to its workspace; never committed.
 *
 * @category constants
 * @since 0.1.0
 */
export const newTasksFolder = TaskFiles.newTasksFolder

/**
 * The ref that records which commit landed `task`.
 *
 * @category constants
 * @since 0.1.0
 */
export const mergedMarkerRef: (task: string) => string = Landing.mergedMarkerRef

/** Where the commit pushed as a task's pull request is recorded (`Git.pullRequestHead`). */
const pullRequestRef = (task: string): string => `refs/oompa/pull/${task}`

/**
 * The `Git` service over an opened repository; with `remote` (an opened remote target), main is the
 * remote's branch and the local one follows.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  repo: GitRepo.Repo,
  warn: (line: string) => Effect.Effect<void>,
  swaps: Semaphore.Semaphore,
  files: WorktreeFiles.WorktreeFiles = WorktreeFiles.none,
  remote?: GitRemote.Remote
): Git.Git["Service"] => {
  const records: Heads.Records = new Map()
  const guard = ConfigGuard.makeGuard(repo)
  const guarded = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | Errors.GitError> => Effect.andThen(ConfigGuard.guardConfig(repo, guard, warn), effect)
  const localSwap = Landing.compareAndSwapMain(repo, warn, swaps, records)
  const remoteSwap = remote?.compareAndSwapMain({
    follow: (from, next, retired) => localSwap(from, next, [], retired),
    retire: Heads.deleteBranch(repo, records),
    warn
  })
  return Git.Git.of({
    targetBranch: repo.targetBranch,
    mainHead: remote?.mainHead ?? Heads.mainHead(repo),
    // A fetch runs what the config names (credential helpers, an SSH command): guarded as merges are.
    refreshMain: remote === undefined ? Heads.mainHead(repo) : guarded(remote.refreshMain),
    target: remote === undefined ? "local" : "remote",
    acquireWorkspace: Workspaces.acquireWorkspace(repo, records),
    resetWorkspace: (workspace, branch, base) => guarded(Workspaces.resetWorkspace(repo, records, files, warn)(workspace, branch, base)),
    removeWorkspace: Workspaces.removeWorkspace(repo, records),
    listWorkspaces: Workspaces.listWorkspaces(repo),
    commitAll: Commits.commitAll(repo, records, warn, guard, files),
    markSetupOutputs: Commits.markSetupOutputs(repo, records),
    setupInputs: Commits.setupInputs(repo, records),
    workspaceHead: (workspace) => Effect.map(Heads.recordOf(repo, records, workspace.path), (recorded) => recorded.head),
    diffStat: Commits.diffStat(repo, records),
    diffText: Commits.diffText(repo),
    // Merges may run merge drivers; the swap syncs the user's checkout (smudge filters).
    merge: (request) => guarded(Landing.merge(repo)(request)),
    compareAndSwapMain: (expected, next, landed = [], retired) => guarded(remoteSwap === undefined ? localSwap(expected, next, landed, retired) : remoteSwap(expected, next, landed, retired)),
    mergedMarkers: Landing.mergedMarkers(repo),
    // A push runs what the config names (credential helpers, an SSH command), as a fetch does.
    publishBranch: (name, sha) =>
      remote === undefined
        ? Effect.fail(GitRepo.gitError("publishBranch", "failed", `cannot publish ${name}: the target is this repository's ${repo.targetBranch}, not a remote`))
        : guarded(remote.publishBranch(name, sha)),
    pullRequestHead: (task) => GitRepo.resolveRef(repo.commonDir, pullRequestRef(task)),
    recordPullRequestHead: (task, sha) =>
      Effect.asVoid(repo.git.ok("recordPullRequestHead", {
        cwd: repo.root,
        args: ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: pull request`, ...(sha === undefined ? ["-d", pullRequestRef(task)] : [pullRequestRef(task), sha])]
      })),
    fetchBranch: (name) =>
      remote === undefined
        ? Effect.fail(GitRepo.gitError("fetchBranch", "failed", `cannot fetch ${name}: the target is this repository's ${repo.targetBranch}, not a remote`))
        : guarded(remote.fetchBranch(name)),
    mergeIntoWorkspace: (workspace, onto) => guarded(Landing.mergeIntoWorkspace(repo, records)(workspace, onto)),
    takeNewTaskFiles: TaskFiles.takeNewTaskFiles(repo),
    setBranch: Heads.setBranch(repo, records),
    deleteBranch: Heads.deleteBranch(repo, records),
    listBranches: (prefix) => GitRepo.listBranches(repo, prefix),
    readFiles: TaskFiles.readFiles(repo),
    isAncestor: (ancestor, descendant) => GitRepo.isAncestor(repo, ancestor, descendant),
    readCommit: (sha) => Effect.map(GitRepo.readCommit(repo, sha), ({ message, parents }) => ({ sha, parents, message }))
  })
}

/**
 * Provides `Git` on the repository at `options.repoRoot`. Opening it picks the target branch (SPEC
 * F1), creates the worktrees folder, adds `.oompa/` and `.oompa-new-tasks/` to `.git/info/exclude`,
 * and finishes a checkout sync a crashed run left behind (SPEC F14). With `options.remote` it then
 * fetches the remote's branch and merged markers: an unreachable remote, a refused login or a branch
 * the remote lacks fail it with a `GitError` of operation `remote`. Needs `ChildProcessSpawner`,
 * `FileSystem` and `Path` (all in `@effect/platform-node`'s `NodeServices.layer`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options) =>
  Layer.effect(Git.Git, Effect.gen(function*() {
    const repo = yield* GitRepo.open(options)
    const warn = options.onWarning ?? ((line: string) => Console.error(line))
    yield* Effect.forEach(yield* CheckoutSync.recover(repo), warn)
    const remote = options.remote === undefined ? undefined : yield* GitRemote.open(repo, options.remote, options.remoteRetry)
    return make(repo, warn, yield* Semaphore.make(1), options.worktreeFiles, remote)
  }))
