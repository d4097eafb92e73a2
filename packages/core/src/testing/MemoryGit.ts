/**
 * An in-memory repository that implements the `Git` service, for tests and the deterministic
 * simulation (SPEC F13).
 *
 * What it models: commits as whole-tree snapshots with parents and a message; branches; the target
 * branch and the history of every commit it pointed to; one workspace per worker with its own
 * working files, branch and head; the agent's task outbox `.oompa-new-tasks/`, which is never
 * committed; line-level three-way merges (diff3, via `node-diff3`) with git's rules for deletions
 * and binary files; conflict markers in a workspace; and the compare-and-swap of the target branch,
 * which dies when asked to move main to a commit that does not descend from it (STYLE 9: the adapter
 * half of a paired assertion).
 *
 * What it does not model: an index or staging area, real git object ids (shas are 40 hex characters
 * of a non-cryptographic hash of parents, message and a digest of the tree, so the same operations
 * always give the same shas), authors and timestamps, renames (a rename is a delete plus an add),
 * file modes, the user's own checkout, and recursive merge bases (when several best common ancestors
 * exist, the one with the highest generation and then the smallest sha is used). `rebase` — and `ff`
 * when a fast-forward is impossible — produce one commit holding the merged tree with `onto` as its
 * only parent, rather than replaying each commit.
 *
 * What it costs: the orchestration benchmark runs whole swarms on it, so no operation the swarm
 * repeats is linear in the size of the tree or of the history: trees are derived from one another
 * and digested incrementally (`memoryGit/tree.ts`, `memoryGit/hash.ts`), and ancestry walks stop as
 * soon as the answer is known (`memoryGit/graph.ts`).
 *
 * Everything is synchronous under the hood: `MemoryRepo` (`memoryGit/repo.ts`) is the driver that
 * scripted agents and the invariant checkers read and write directly, and `make`/`layer` here wrap
 * it as the `Git` service.
 *
 * Faults this fake injects: none yet. Planned (STYLE 13): a lost compare-and-swap race (another
 * writer moves main first; the merge queue must retry on the new main), and a `GitError` from a
 * commit or merge (a lock or a full disk; the iteration must fail cleanly and keep the branch).
 *
 * @since 0.1.0
 */
import type { Context } from "effect"
import { Effect, Layer, Option } from "effect"
import { Git } from "../services/Git.ts"
import { attempt } from "./memoryGit/failure.ts"
import type { MemoryRepo } from "./memoryGit/repo.ts"

/**
 * The driver's models and the repository itself, defined in `memoryGit/`.
 *
 * @since 0.1.0
 */
export type { CommitRecord } from "./memoryGit/graph.ts"
export { MemoryRepo, type MemoryRepoOptions } from "./memoryGit/repo.ts"
export type { FileContent } from "./memoryGit/tree.ts"
export { newTasksFolder, workspacePath, type WorkspaceView } from "./memoryGit/workspace.ts"

/**
 * The `Git` service over a memory repository; every call reads and writes `repo` directly.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (repo: MemoryRepo): Context.Service.Shape<typeof Git> =>
  Git.of({
    targetBranch: repo.targetBranch,
    mainHead: attempt(() => repo.mainHead()),
    refreshMain: attempt(() => repo.refreshMain()),
    target: repo.remote === undefined ? "local" : "remote",
    acquireWorkspace: (worker) => attempt(() => repo.acquireWorkspace(worker)),
    resetWorkspace: (workspace, branch, base) => attempt(() => repo.resetWorkspace(workspace, branch, base)),
    removeWorkspace: (workspace) => attempt(() => repo.removeWorkspace(workspace)),
    listWorkspaces: attempt(() => repo.listWorkspaces()),
    commitAll: (workspace, message) => attempt(() => Option.fromNullishOr(repo.commitAll(workspace, message))),
    markSetupOutputs: (workspace) => attempt(() => repo.markSetupOutputs(workspace)),
    setupInputs: (workspace, patterns) => attempt(() => repo.setupInputs(workspace, patterns)),
    workspaceHead: (workspace) => attempt(() => repo.workspaceHead(workspace)),
    diffStat: (base, head) => attempt(() => repo.diffStat(base, head)),
    diffText: (base, head) => attempt(() => repo.diffText(base, head)),
    merge: (request) => attempt(() => repo.merge(request)),
    compareAndSwapMain: (expected, next, landed, retired) => attempt(() => repo.compareAndSwapMain(expected, next, landed, retired)),
    mergedMarkers: attempt(() => repo.mergedMarkers()),
    publishBranch: (name, sha) => attempt(() => repo.publishBranch(name, sha)),
    fetchBranch: (name) => attempt(() => repo.fetchBranch(name)),
    pullRequestHead: (task) => Effect.sync(() => repo.pullRequestHeads.get(task)),
    recordPullRequestHead: (task, sha) => Effect.sync(() => void (sha === undefined ? repo.pullRequestHeads.delete(task) : repo.pullRequestHeads.set(task, sha))),
    mergeIntoWorkspace: (workspace, onto) => attempt(() => repo.mergeIntoWorkspace(workspace, onto)),
    takeNewTaskFiles: (workspace) => attempt(() => repo.takeNewTaskFiles(workspace)),
    setBranch: (name, sha) => attempt(() => repo.setBranch(name, sha)),
    deleteBranch: (name) => attempt(() => repo.deleteBranch(name)),
    listBranches: (prefix) => attempt(() => repo.listBranches(prefix)),
    isAncestor: (ancestor, descendant) => attempt(() => repo.isAncestor(ancestor, descendant)),
    readFiles: (commit, folder, limits) => attempt(() => repo.readFiles(commit, folder, limits)),
    readCommit: (sha) => attempt(() => repo.readCommit(sha))
  })

/**
 * Provides `Git` backed by `repo`; keep `repo` to drive and inspect it.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (repo: MemoryRepo): Layer.Layer<Git> => Layer.succeed(Git, make(repo))
