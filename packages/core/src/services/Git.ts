/**
 * The repository boundary: workspaces (one git worktree per worker), commits, diffs, merges and the
 * compare-and-swap of the target branch.
 *
 * Implemented by `@oompa/adapters-node`'s `NodeGit` (git CLI writes, isomorphic-git reads) and by
 * `@oompa/core/testing`'s `MemoryGit`. Called by the iteration and the merge queue.
 *
 * The contract that keeps main safe: nothing here ever checks out, merges into, or resets the user's
 * own checkout. A merge is computed as a new commit nobody points to (`merge`), and only
 * `compareAndSwapMain` moves the target branch — and only when it still points where the caller
 * thinks it does.
 *
 * What lands is exactly what was reviewed (docs/decisions.md, "Only commits oompa writes reach
 * main"): `merge` lands a commit oompa writes of the approved tree on top of `base` (the reviewed
 * commit), never the agent's own commits, so history cannot carry a file, a message or a trailer the
 * reviewer and the policy never saw. An agent runs with write access to its worktree and to the
 * repository's refs: commits go to the branch oompa recorded for the workspace, from the head oompa
 * recorded (`workspaceHead`), never through the worktree's own `HEAD`.
 *
 * @since 0.1.0
 */
import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { WorkerId } from "../domain/Ids.ts"
import type { MergeStrategy } from "../domain/SwarmConfig.ts"
import type { GitError } from "./Errors.ts"

/**
 * A worker's own checkout. Reused across iterations: each iteration starts a fresh branch in it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Workspace {
  readonly worker: WorkerId
  /** Where the agent runs (its cwd). */
  readonly path: string
}

/**
 * One file of a change, from the base commit to the head commit.
 *
 * @category models
 * @since 0.1.0
 */
export interface FileChange {
  readonly path: string
  readonly status: "added" | "modified" | "deleted"
  /** Lines added and deleted; 0 for binary files. */
  readonly added: number
  readonly deleted: number
  readonly binary: boolean
}

/**
 * What a merge attempt produced. `Merged.sha` is a commit no branch points to yet; `Conflict` lists
 * the files that could not be merged.
 *
 * @category models
 * @since 0.1.0
 */
export type MergeAttempt =
  | { readonly _tag: "Merged"; readonly sha: string }
  | { readonly _tag: "Conflict"; readonly files: ReadonlyArray<string> }

/**
 * A request to merge `head` onto `onto` (normally the current main).
 *
 * @category models
 * @since 0.1.0
 */
export interface MergeRequest {
  readonly onto: string
  /**
   * The commit the reviewed change starts from: the main the iteration began on, or the main it
   * last merged in to resolve a conflict. It must be `onto` or one of its ancestors.
   */
  readonly base: string
  /** The approved commit; only its tree is used, never its history or message. */
  readonly head: string
  readonly strategy: MergeStrategy
  /** Commit message, trailers included (SPEC F6). */
  readonly message: string
}

/**
 * A branch name and the commit it points to.
 *
 * @category models
 * @since 0.1.0
 */
export interface BranchRef {
  readonly name: string
  readonly sha: string
}

/**
 * A commit as recovery and the invariant checkers read it.
 *
 * @category models
 * @since 0.1.0
 */
export interface CommitInfo {
  readonly sha: string
  readonly parents: ReadonlyArray<string>
  readonly message: string
}

/**
 * A file an agent wrote into `.oompa-new-tasks/` of its workspace (SPEC F2).
 *
 * @category models
 * @since 0.1.0
 */
export interface NewTaskFile {
  readonly name: string
  readonly content: string
}

/**
 * What `markSetupOutputs` found the setup left.
 *
 * @category models
 * @since 0.1.0
 */
export interface SetupOutputs {
  /** Only new files: a reset keeps them, so the setup need not run again for the next iteration. */
  readonly reusable: boolean
}

/**
 * @category services
 * @since 0.1.0
 */
export class Git extends Context.Service<Git, {
  /** The branch merges land on (SPEC F1: configured, else `main`, else `master`). */
  readonly targetBranch: string
  /**
   * The commit the target branch points to now; for a remote target (`target.mode: "push"`), as
   * last fetched by `refreshMain` or moved by `compareAndSwapMain` (a ref only oompa writes).
   */
  readonly mainHead: Effect.Effect<string, GitError>
  /**
   * The target's head, asked again: a remote target is fetched (a teammate's push shows here);
   * a local one is read, as `mainHead`.
   */
  readonly refreshMain: Effect.Effect<string, GitError>
  /**
   * Where the target lives: `local` (a branch of this repository, moved only by the merge queue,
   * any other move halts it) or `remote` (a branch others push to as well: a move is followed,
   * and the queue rebuilds on it).
   */
  readonly target: "local" | "remote"
  /** The worker's workspace, created on first use and reused afterwards. */
  readonly acquireWorkspace: (worker: WorkerId) => Effect.Effect<Workspace, GitError>
  /** Discards everything in the workspace and checks out a new branch `branch` at `base`. */
  readonly resetWorkspace: (workspace: Workspace, branch: string, base: string) => Effect.Effect<void, GitError>
  /** Removes the workspace (its branch is left alone). */
  readonly removeWorkspace: (workspace: Workspace) => Effect.Effect<void, GitError>
  /** Every workspace that exists, live or left over. */
  readonly listWorkspaces: Effect.Effect<ReadonlyArray<Workspace>, GitError>
  /**
   * Commits every file in the workspace (except `.oompa-new-tasks/`) on top of the workspace's
   * recorded head, to the branch its last reset named — whatever the worktree's `HEAD` says — and
   * points the worktree's `HEAD` back at that branch; `None` when nothing changed.
   */
  readonly commitAll: (workspace: Workspace, message: string) => Effect.Effect<Option.Option<string>, GitError>
  /**
   * Marks the workspace's files as they are now, after `setup_command`, as the setup's: a later
   * `commitAll` leaves out each file that still holds what the setup left there, so setup outputs
   * (a lock file it rewrote, a build folder nobody ignored) never become the agent's change. The
   * files it created (ignored or not) survive later resets of the workspace; `reusable` is false
   * when it changed or deleted a tracked file, which a reset undoes (the setup must then run again).
   */
  readonly markSetupOutputs: (workspace: Workspace) => Effect.Effect<SetupOutputs, GitError>
  /**
   * What the tracked files matching `patterns` (globs) hold in the workspace's index, and whether
   * what the last setup created is still there as it left it, as one fingerprint: the setup runs
   * again when it changes (`worktree.setup_inputs`, an agent that deleted `node_modules/`).
   */
  readonly setupInputs: (workspace: Workspace, patterns: ReadonlyArray<string>) => Effect.Effect<string, GitError>
  /** The last commit oompa made or checked out in the workspace (not what its `HEAD` says now). */
  readonly workspaceHead: (workspace: Workspace) => Effect.Effect<string, GitError>
  /** Per-file change from `base` to `head`: added, modified, deleted and binary files included. */
  readonly diffStat: (base: string, head: string) => Effect.Effect<ReadonlyArray<FileChange>, GitError>
  /** The full textual change from `base` to `head`, as the reviewer reads it. */
  readonly diffText: (base: string, head: string) => Effect.Effect<string, GitError>
  /** Computes the merge of `head` onto `onto` as a new, unreferenced commit, or the conflicting files. */
  readonly merge: (request: MergeRequest) => Effect.Effect<MergeAttempt, GitError>
  /**
   * Moves the target branch from `expected` to `next` and, in the same transaction, sets the merged
   * marker of each task in `landed` to `next` and deletes the branch `retired` (the landed work's,
   * as `deleteBranch` would after it); `false` (and no change) when main is not at `expected`. A
   * retired branch the transaction cannot delete (it moved, or is checked out outside oompa) is
   * left for `deleteBranch`.
   */
  readonly compareAndSwapMain: (expected: string, next: string, landed?: ReadonlyArray<string>, retired?: string) => Effect.Effect<boolean, GitError>
  /**
   * Points the remote target's branch `name` at `sha` whatever it held, or deletes it (`sha`
   * undefined): the branch of a pull request (`target.mode: "pr"`), which only oompa pushes to.
   * Fails for a local target.
   */
  readonly publishBranch: (name: string, sha: string | undefined) => Effect.Effect<void, GitError>
  /**
   * The commit oompa last pushed as `task`'s pull request (`target.mode: "pr"`), as recorded in
   * this repository, or undefined: what a later run may take up again without a review.
   */
  readonly pullRequestHead: (task: string) => Effect.Effect<string | undefined, GitError>
  /** Records (or, with undefined, forgets) the commit pushed as `task`'s pull request. */
  readonly recordPullRequestHead: (task: string, sha: string | undefined) => Effect.Effect<void, GitError>
  /**
   * Fetches the remote target's branch `name` with its commits; the commit it points to, or
   * undefined when the remote has no such branch. Fails for a local target.
   */
  readonly fetchBranch: (name: string) => Effect.Effect<string | undefined, GitError>
  /**
   * The merged markers (`refs/oompa/merged/<task>`): task → the commit that landed it, as recorded.
   * A marker is a ref any process with access to the repository can write: check it against main.
   */
  readonly mergedMarkers: Effect.Effect<ReadonlyMap<string, string>, GitError>
  /** Merges `onto` into the workspace's branch, leaving conflict markers; returns the conflicting files. */
  readonly mergeIntoWorkspace: (workspace: Workspace, onto: string) => Effect.Effect<ReadonlyArray<string>, GitError>
  /** Takes (reads and removes) the task files the agent wrote into the workspace's `.oompa-new-tasks/`. */
  readonly takeNewTaskFiles: (workspace: Workspace) => Effect.Effect<ReadonlyArray<NewTaskFile>, GitError>
  /** Creates or moves a branch. */
  readonly setBranch: (name: string, sha: string) => Effect.Effect<void, GitError>
  /** Deletes a branch; a missing branch is not an error. */
  readonly deleteBranch: (name: string) => Effect.Effect<void, GitError>
  /** Branches whose name starts with `prefix`. */
  readonly listBranches: (prefix: string) => Effect.Effect<ReadonlyArray<BranchRef>, GitError>
  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  readonly isAncestor: (ancestor: string, descendant: string) => Effect.Effect<boolean, GitError>
  /**
   * The files of `commit` under `folder` (recursively), sorted by path, at most `limit` of them,
   * each cut to its first `bytesMax` bytes (read as UTF-8).
   */
  readonly readFiles: (commit: string, folder: string, limits: { readonly limit: number; readonly bytesMax: number }) => Effect.Effect<ReadonlyArray<NewTaskFile>, GitError>
  /** Reads one commit. */
  readonly readCommit: (sha: string) => Effect.Effect<CommitInfo, GitError>
}>()("@oompa/core/services/Git") {}
