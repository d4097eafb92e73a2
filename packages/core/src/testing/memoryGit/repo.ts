/**
 * The memory repository and its driver (`MemoryRepo`): branches, the target branch and every commit
 * it pointed to, the merged markers, one workspace per worker, and the `Git` service's operations as
 * synchronous methods that throw `GitError` (`failure.ts`). Scripted agents and the invariant
 * checkers read and write it directly; `MemoryGit.make` wraps it as the service.
 *
 * @since 0.1.0
 */
import picomatch from "picomatch"
import type { WorkerId } from "../../domain/Ids.ts"
import type { BranchRef, CommitInfo, FileChange, MergeAttempt, MergeRequest, NewTaskFile, Workspace } from "../../services/Git.ts"
import { failWith } from "./failure.ts"
import { CommitGraph, type CommitNode, type CommitRecord } from "./graph.ts"
import * as Merge from "./merge.ts"
import { copyContent, deriveTree, type FileContent, sameContent, sameTree, Tree } from "./tree.ts"
import * as Ws from "./workspace.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface MemoryRepoOptions {
  /** The root commit's files. */
  readonly files: Readonly<Record<string, FileContent>>
  /** The target branch; `main` when absent. */
  readonly branch?: string
  /** The root commit's message; `initial` when absent. */
  readonly message?: string
}

/**
 * The in-memory repository and its driver. Service operations are synchronous methods that throw
 * `GitError` (and plain `Error` for defects); `make`/`layer` turn them into Effects. Tests and the
 * simulation read its state directly.
 *
 * @category models
 * @since 0.1.0
 */
export class MemoryRepo {
  /** The branch merges land on. */
  readonly targetBranch: string
  private readonly graph = new CommitGraph()
  private readonly branches = new Map<string, string>()
  private readonly markers = new Map<string, string>()
  readonly pullRequestHeads = new Map<string, string>() // the commit pushed as each task's pull request
  private readonly workspaces = new Map<string, Ws.WorkspaceState>()
  private readonly history: Array<string> = []
  private counts = { casSuccesses: 0, casFailures: 0, targetMovesBySetBranch: 0, merges: 0, mergeConflicts: 0 }

  private constructor(targetBranch: string) {
    this.targetBranch = targetBranch
  }

  /** A repository whose target branch points to one root commit holding `files`. */
  static make(options: MemoryRepoOptions): MemoryRepo {
    const repo = new MemoryRepo(options.branch ?? "main")
    const files = new Map<string, FileContent>()
    for (const [path, content] of Object.entries(options.files)) {
      if (!Ws.isOutbox(Ws.validFilePath("make", path))) files.set(path, copyContent(content))
    }
    repo.moveBranch(repo.targetBranch, repo.graph.add(Tree.root(files), [], options.message ?? "initial"))
    return repo
  }

  // ---- counters --------------------------------------------------------------------------------

  /** Compare-and-swaps that moved (or confirmed) the target branch. */
  get casSuccesses(): number {
    return this.counts.casSuccesses
  }
  /** Compare-and-swaps refused because the target branch was not at `expected`. */
  get casFailures(): number {
    return this.counts.casFailures
  }
  /** Times `setBranch` moved the target branch (outside compare-and-swap). */
  get targetMovesBySetBranch(): number {
    return this.counts.targetMovesBySetBranch
  }
  /** Calls to `merge`, and how many of them reported a conflict. */
  get merges(): number {
    return this.counts.merges
  }
  get mergeConflicts(): number {
    return this.counts.mergeConflicts
  }

  /** Every commit the target branch pointed to, in order, starting with the root commit. */
  get mainHistory(): ReadonlyArray<string> {
    return [...this.history]
  }

  // ---- commits and branches --------------------------------------------------------------------

  /** The stored commit; `GitError` when unknown. */
  commit(sha: string, operation = "commit"): CommitRecord {
    return this.node(sha, operation).record
  }

  /** The files of a commit. */
  treeOf(sha: string): ReadonlyMap<string, FileContent> {
    return this.commit(sha, "treeOf").tree
  }

  /** A digest of a commit's tree (its files and their contents, not its history): equal trees, equal digests. */
  treeDigest(sha: string): number {
    const { digest, size } = this.node(sha, "treeDigest").tree
    return (Math.imul(digest.lo ^ size, 0x9e3779b9) ^ digest.hi) >>> 0
  }

  /** Where a branch points, or `undefined` when it does not exist. */
  branchHead(name: string): string | undefined {
    return this.branches.get(name)
  }

  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  isAncestor(ancestor: string, descendant: string, operation = "isAncestor"): boolean {
    return this.graph.isAncestor(ancestor, descendant, operation)
  }

  /** Every commit reachable from `heads`, the heads included: one walk, where many `isAncestor` calls would repeat it. */
  reachableFrom(heads: Iterable<string>, operation = "reachableFrom"): ReadonlySet<string> {
    return this.graph.reachableFrom(heads, operation)
  }

  /**
   * The best common ancestor of `a` and `b`, or `undefined` for unrelated histories. Of several,
   * the one with the highest generation (then the smallest sha): it is never an ancestor of another.
   */
  mergeBase(a: string, b: string, operation = "mergeBase"): string | undefined {
    return this.graph.mergeBase(a, b, operation)
  }

  private node(sha: string, operation = "commit"): CommitNode {
    return this.graph.node(sha, operation)
  }

  private moveBranch(name: string, sha: string): void {
    const previous = this.branches.get(name)
    this.branches.set(name, sha)
    if (name === this.targetBranch && previous !== sha) this.history.push(sha)
    // A workspace's HEAD follows its branch, as git's symbolic HEAD does; its files do not.
    for (const workspace of this.workspaces.values()) if (workspace.branch === name) workspace.head = sha
  }

  // ---- workspaces: driver side -----------------------------------------------------------------

  /** The workspace at `path`, or `undefined`. */
  workspaceByPath(path: string): Ws.WorkspaceView | undefined {
    const state = this.workspaces.get(path)
    return state === undefined ? undefined : Ws.viewOf(state)
  }

  /** The commit the workspace at `path` started from, or `undefined` without one (no copy of its files). */
  workspaceHeadAt(path: string): string | undefined {
    return this.workspaces.get(path)?.head
  }

  /** A working file, or `undefined` when absent. */
  readFile(workspacePath: string, file: string): FileContent | undefined {
    const state = this.workspace(workspacePath, "readFile")
    const content = Ws.isOutbox(file) ? state.outbox.get(file) : Ws.workingFile(state, file)
    return content === undefined ? undefined : copyContent(content)
  }

  /** Writes a working file (what an agent does). */
  writeFile(workspacePath: string, file: string, content: FileContent): void {
    const state = this.workspace(workspacePath, "writeFile")
    if (Ws.isOutbox(Ws.validFilePath("writeFile", file))) state.outbox.set(file, copyContent(content))
    else state.edits.set(file, copyContent(content))
  }

  /** Deletes a working file; a missing file is not an error. */
  deleteFile(workspacePath: string, file: string): void {
    const state = this.workspace(workspacePath, "deleteFile")
    if (Ws.isOutbox(file)) state.outbox.delete(file)
    else state.edits.set(file, undefined)
  }

  /** Every working file, the outbox included, sorted. */
  listFiles(workspacePath: string): ReadonlyArray<string> {
    const state = this.workspace(workspacePath, "listFiles")
    return [...Ws.workingFiles(state).keys(), ...state.outbox.keys()].sort()
  }

  private workspace(path: string, operation: string): Ws.WorkspaceState {
    return this.workspaces.get(path) ?? failWith(operation, `no workspace at ${path}`, "missing-object")
  }

  // ---- the Git service, synchronously ------------------------------------------------------------

  /** The commit the target branch points to (for a remote target: as last fetched). */
  mainHead(): string {
    return this.branches.get(this.targetBranch) ?? failWith("mainHead", `target branch ${this.targetBranch} is missing`, "missing-object")
  }

  /**
   * A remote target (`target.mode: "push"`): where the target branch really is. Teammates push to
   * it (`pushAsTeammate`); the local target branch is what oompa last fetched or landed.
   */
  remote: { head: string; readonly branches: Map<string, string> } | undefined

  /** Makes the target remote, at the current main. */
  useRemote(): void {
    this.remote = { head: this.mainHead(), branches: new Map() }
  }

  /** Points the remote's branch `name` at `sha` (or deletes it), as a forced push would (of a commit it has). */
  publishBranch(name: string, sha: string | undefined): void {
    const remote = this.remote ?? failWith("publishBranch", `cannot publish ${name}: the target is not remote`)
    if (sha === undefined) remote.branches.delete(name)
    else remote.branches.set(name, (this.node(sha, "publishBranch"), sha))
  }

  /** The remote's branch `name`, fetched (one object store: nothing to copy). */
  fetchBranch = (name: string): string | undefined => (this.remote ?? failWith("fetchBranch", `${name}: the target is not remote`)).branches.get(name)

  /** The target's head, fetched: a remote one is copied to the local branch. */
  refreshMain(): string {
    if (this.remote !== undefined) this.moveBranch(this.targetBranch, this.remote.head)
    return this.mainHead()
  }

  /** A teammate pushes a commit writing `files` on top of the remote's head; returns it. */
  pushAsTeammate(files: Readonly<Record<string, FileContent>>, message: string): string {
    const remote = this.remote ?? failWith("pushAsTeammate", "the target is not remote")
    const tree = deriveTree(this.node(remote.head, "pushAsTeammate").tree, new Map(Object.entries(files)))
    remote.head = this.graph.add(tree, [remote.head], message)
    return remote.head
  }

  /** Creates the workspace detached at the current main (as `git worktree add --detach`), or returns it. */
  acquireWorkspace(worker: WorkerId): Workspace {
    const path = Ws.workspacePath(worker)
    if (!this.workspaces.has(path)) {
      const head = this.mainHead()
      this.workspaces.set(path, Ws.makeWorkspace(worker, path, head, this.node(head).tree))
    }
    return { worker, path }
  }

  /** Checks out a new (or moved) `branch` at `base`, discarding every working change. */
  resetWorkspace(workspace: Workspace, branch: string, base: string): void {
    const operation = "resetWorkspace"
    const state = this.workspace(workspace.path, operation)
    const tree = this.node(base, operation).tree
    if (branch.length === 0) failWith(operation, "empty branch name")
    // The target branch is only moved by compare-and-swap, never checked out in a workspace.
    if (branch === this.targetBranch) failWith(operation, `cannot check out the target branch ${branch}`)
    for (const other of this.workspaces.values()) {
      if (other !== state && other.branch === branch) {
        failWith(operation, `branch ${branch} is already checked out at ${other.path}`)
      }
    }
    state.branch = branch
    this.moveBranch(branch, base)
    state.head = base
    state.pendingMergeParent = undefined
    // The files the setup created stay, as a real reset leaves them (its changes to tracked files do not).
    const kept = new Map([...state.setup].filter(([path, content]) => content !== undefined && tree.get(path) === undefined))
    Ws.startFrom(state, tree)
    for (const [path, content] of kept) state.edits.set(path, content)
    state.outbox = new Map()
    state.setup = kept
  }

  /** The working files as they are now are the setup's: `commitAll` leaves out those still unchanged. */
  markSetupOutputs(workspace: Workspace): { readonly reusable: boolean } {
    const state = this.workspace(workspace.path, "markSetupOutputs")
    const head = this.node(state.head, "markSetupOutputs").tree
    state.setup = new Map([...state.edits].filter(([path, content]) => !sameContent(content, head.get(path))))
    return { reusable: [...state.setup].every(([path, content]) => content !== undefined && head.get(path) === undefined) }
  }

  /** The working files matching `patterns`, as one string: equal while they are. */
  setupInputs(workspace: Workspace, patterns: ReadonlyArray<string>): string {
    const state = this.workspace(workspace.path, "setupInputs")
    const matches = picomatch([...patterns], { dot: true })
    const decoder = new TextDecoder()
    return [...Ws.workingFiles(state)]
      .filter(([path]) => matches(path))
      .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
      .map(([path, content]) => `${path}\0${typeof content === "string" ? content : decoder.decode(content)}`)
      .join("\0")
  }

  /** Drops the workspace; its branch stays. */
  removeWorkspace(workspace: Workspace): void {
    this.workspace(workspace.path, "removeWorkspace")
    this.workspaces.delete(workspace.path)
  }

  /** Every workspace, sorted by worker. */
  listWorkspaces(): ReadonlyArray<Workspace> {
    return [...this.workspaces.values()]
      .map(({ path, worker }) => ({ worker, path }))
      .sort((a, b) => a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0)
  }

  /**
   * Commits the working files (outbox excluded) on top of the workspace head; `undefined` when they
   * equal the head's tree. After `mergeIntoWorkspace` it always commits, with the merged commit as
   * second parent, so the branch descends from it even when the tree did not change.
   */
  commitAll(workspace: Workspace, message: string): string | undefined {
    const state = this.workspace(workspace.path, "commitAll")
    const head = this.node(state.head, "commitAll")
    // The setup's outputs the agent left as they were stay out of the commit (and in the files).
    const { committed, untouched } = Ws.committable(state)
    // Deriving looks only at the edited paths; it returns the base itself when they changed nothing.
    const tree = deriveTree(state.base, committed)
    const merging = state.pendingMergeParent
    if (merging === undefined && sameTree(tree, head.tree)) return undefined
    const sha = this.graph.add(tree, merging === undefined ? [state.head] : [state.head, merging], message)
    state.head = sha
    state.pendingMergeParent = undefined
    Ws.startFrom(state, tree)
    for (const [path, content] of untouched) state.edits.set(path, content)
    if (state.branch !== undefined) this.moveBranch(state.branch, sha)
    return sha
  }

  /** The commit the workspace's working files are based on. */
  workspaceHead(workspace: Workspace): string {
    return this.workspace(workspace.path, "workspaceHead").head
  }

  /** Per-file change from `base` to `head`, sorted by path. */
  diffStat(base: string, head: string): ReadonlyArray<FileChange> {
    return this.graph.diffStat(base, head)
  }

  /** A unified diff from `base` to `head` (3 lines of context), new, deleted and binary files included. */
  diffText(base: string, head: string): string {
    return this.graph.diffText(base, head)
  }

  /**
   * Lands the approved tree of `head` onto `onto` as new unreferenced commits, or reports the
   * conflicting files (see `merge.ts`: the reviewed commit first, `head`'s tree on `base`, then
   * merged onto `onto` when main moved past `base`).
   */
  merge(request: MergeRequest): MergeAttempt {
    for (const sha of [request.onto, request.head, request.base]) this.node(sha, "merge")
    this.counts.merges++
    const attempt = Merge.land(this.graph, request, this.targetBranch)
    if (attempt._tag === "Conflict") this.counts.mergeConflicts++
    return attempt
  }

  /**
   * Moves the target branch from `expected` to `next`, sets the merged marker of each task in
   * `landed` and deletes the branch `retired`; dies when `next` does not descend from `expected`.
   */
  compareAndSwapMain(expected: string, next: string, landed: ReadonlyArray<string> = [], retired?: string): boolean {
    const operation = "compareAndSwapMain"
    if (!this.isAncestor(expected, next, operation)) {
      throw new Error(`MemoryGit.compareAndSwapMain: ${next} does not descend from ${expected}; main only moves forward`)
    }
    // A remote target is compared where it really is (`--force-with-lease`); the local branch follows.
    if ((this.remote?.head ?? this.mainHead()) !== expected) {
      this.counts.casFailures++
      return false
    }
    // The local branch follows a remote landing only from where oompa left it (an agent's move of it stays, to be reported).
    const follows = this.remote === undefined || this.mainHead() === expected
    if (this.remote !== undefined) this.remote.head = next
    if (follows) this.moveBranch(this.targetBranch, next)
    for (const task of landed) this.markers.set(task, next)
    if (retired !== undefined) this.deleteBranch(retired)
    this.counts.casSuccesses++
    return true
  }

  /** The merged markers: task → the commit recorded as landing it. */
  mergedMarkers(): ReadonlyMap<string, string> {
    return new Map(this.markers)
  }

  /**
   * A commit with `parents` and the first parent's files (or `filesOf`'s), for building histories (criss-cross
   * merges and the like) that `merge`, which never keeps an agent's history, does not make.
   */
  commitWithParents(parents: ReadonlyArray<string>, message: string, filesOf?: string): string {
    const first = parents[0] ?? failWith("commitWithParents", "no parent")
    for (const parent of parents) this.node(parent, "commitWithParents")
    return this.graph.add(this.node(filesOf ?? first, "commitWithParents").tree, parents, message)
  }

  /** Writes (or, with `undefined`, deletes) a merged marker outside any landing: what a hostile agent can do. */
  forgeMarker(task: string, sha: string | undefined): void {
    if (sha === undefined) this.markers.delete(task)
    else this.markers.set(task, this.commit(sha, "forgeMarker").sha)
  }

  /**
   * Three-way merges `onto` into the working files (the outbox untouched), leaving conflict markers
   * in conflicting text files; returns the conflicting files (see `merge.ts`).
   */
  mergeIntoWorkspace(workspace: Workspace, onto: string): ReadonlyArray<string> {
    const state = this.workspace(workspace.path, "mergeIntoWorkspace")
    return Merge.intoWorkspace(this.graph, state, onto, this.targetBranch)
  }

  /** Reads and removes the files under `.oompa-new-tasks/`, sorted by name. */
  takeNewTaskFiles(workspace: Workspace): ReadonlyArray<NewTaskFile> {
    return Ws.takeOutbox(this.workspace(workspace.path, "takeNewTaskFiles"))
  }

  /** Creates or moves a branch; moving the target branch this way is counted and recorded in `mainHistory`. */
  setBranch(name: string, sha: string): void {
    this.commit(sha, "setBranch")
    if (name.length === 0) failWith("setBranch", "empty branch name")
    if (name === this.targetBranch && this.branches.get(name) !== sha) this.counts.targetMovesBySetBranch++
    this.moveBranch(name, sha)
  }

  /** Deletes a branch (missing is fine); a workspace that had it checked out becomes detached. */
  deleteBranch(name: string): void {
    if (name === this.targetBranch) failWith("deleteBranch", `cannot delete the target branch ${name}`)
    this.branches.delete(name)
    for (const workspace of this.workspaces.values()) if (workspace.branch === name) workspace.branch = undefined
  }

  /** Branches whose name starts with `prefix`, sorted by name. */
  listBranches(prefix: string): ReadonlyArray<BranchRef> {
    return [...this.branches.keys()].sort()
      .filter((name) => name.startsWith(prefix))
      .map((name) => ({ name, sha: this.branches.get(name) ?? "" }))
  }

  /** The files of `commit` under `folder`, sorted by path, at most `limit`, each cut to `bytesMax` bytes. */
  readFiles(commit: string, folder: string, limits: { readonly limit: number; readonly bytesMax: number }): ReadonlyArray<NewTaskFile> {
    const tree = this.node(commit, "readFiles").tree
    const prefix = `${folder.replace(/\/+$/, "")}/`
    const encoder = new TextEncoder()
    const decoder = new TextDecoder()
    return tree.pathsUnder(prefix).sort().slice(0, limits.limit).map((name) => {
      const content = tree.get(name) ?? ""
      const bytes = typeof content === "string" ? encoder.encode(content) : content
      return { name, content: decoder.decode(bytes.subarray(0, limits.bytesMax)) }
    })
  }

  /** One commit's parents and message. */
  readCommit(sha: string): CommitInfo {
    const { message, parents } = this.commit(sha, "readCommit")
    return { sha, parents, message }
  }
}
