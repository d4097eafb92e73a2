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
 * of a non-cryptographic hash of parents, message and tree, so the same operations always give the
 * same shas), authors and timestamps, renames (a rename is a delete plus an add), file modes, the
 * user's own checkout, and recursive merge bases (when several best common ancestors exist, the one
 * with the highest generation and then the smallest sha is used). `rebase` — and `ff` when a
 * fast-forward is impossible — produce one commit holding the merged tree with `onto` as its only
 * parent, rather than replaying each commit.
 *
 * Everything is synchronous under the hood: `MemoryRepo` is the driver that scripted agents and the
 * invariant checkers read and write directly, and `make`/`layer` wrap it as the `Git` service.
 *
 * Faults this fake injects: none yet. Planned (STYLE 13): a lost compare-and-swap race (another
 * writer moves main first; the merge queue must retry on the new main), and a `GitError` from a
 * commit or merge (a lock or a full disk; the iteration must fail cleanly and keep the branch).
 *
 * @since 0.1.0
 */
import type { Context } from "effect"
import { Effect, Layer, Option } from "effect"
import { diff3Merge, diffComm } from "node-diff3"
import type { WorkerId } from "../domain/Ids.ts"
import { GitError } from "../services/Errors.ts"
import type { BranchRef, CommitInfo, FileChange, MergeAttempt, MergeRequest, NewTaskFile, Workspace } from "../services/Git.ts"
import { Git } from "../services/Git.ts"

/**
 * A file's content: a string for text, bytes for a binary file. Bytes handed out by the driver
 * (trees, workspace views) are shared with the stored commits: treat them as immutable.
 *
 * @category models
 * @since 0.1.0
 */
export type FileContent = string | Uint8Array

/**
 * A commit as the driver stores it: the whole tree, not a delta.
 *
 * @category models
 * @since 0.1.0
 */
export interface CommitRecord {
  readonly sha: string
  readonly tree: ReadonlyMap<string, FileContent>
  readonly parents: ReadonlyArray<string>
  readonly message: string
}

/**
 * A snapshot of one workspace, as the driver reports it.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkspaceView {
  readonly worker: WorkerId
  readonly path: string
  /** The checked-out branch; `undefined` when detached (never reset, or its branch was deleted). */
  readonly branch: string | undefined
  /** The commit the working files started from (what `workspaceHead` returns). */
  readonly head: string
  /** Set by `mergeIntoWorkspace`: the next `commitAll` becomes a merge commit with this second parent. */
  readonly pendingMergeParent: string | undefined
  readonly files: ReadonlyMap<string, FileContent>
}

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
 * The folder an agent writes new tasks into (SPEC F2); never committed.
 *
 * @category constants
 * @since 0.1.0
 */
export const newTasksFolder = ".oompa-new-tasks/"

/**
 * Where a worker's workspace lives in the memory repository.
 *
 * @category constructors
 * @since 0.1.0
 */
export const workspacePath = (worker: WorkerId): string => `/memory/worktrees/${worker}`

// ---------------------------------------------------------------------------------------------------
// Hashing: deterministic, 40 hex characters, no crypto (core has no node:* imports).
// ---------------------------------------------------------------------------------------------------

const cyrb53 = (text: string, seed: number): number => {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

// Three differently seeded 53-bit passes give 42 hex digits; the first 40 make the sha.
const hash40 = (text: string): string =>
  [1, 2, 3].map((seed) => cyrb53(text, seed).toString(16).padStart(14, "0")).join("").slice(0, 40)

const bytesAsText = (bytes: Uint8Array): string => {
  let out = ""
  for (const byte of bytes) out += String.fromCharCode(byte)
  return out
}

// Length prefixes keep the encoding unambiguous whatever the names and contents contain.
const commitKey = (tree: ReadonlyMap<string, FileContent>, parents: ReadonlyArray<string>, message: string): string => {
  const parts = [`parents ${parents.join(" ")}`, `message ${message.length}:${message}`]
  for (const path of sortedKeys(tree)) {
    const content = tree.get(path) ?? ""
    parts.push(
      `${path.length}:${path}`,
      typeof content === "string" ? `t${content.length}:${content}` : `b${content.length}:${bytesAsText(content)}`
    )
  }
  return parts.join("\n")
}

// ---------------------------------------------------------------------------------------------------
// Files, trees and lines
// ---------------------------------------------------------------------------------------------------

const sortedKeys = (map: ReadonlyMap<string, unknown>): Array<string> => [...map.keys()].sort()

const sameContent = (a: FileContent | undefined, b: FileContent | undefined): boolean => {
  if (a === undefined || b === undefined || typeof a === "string" || typeof b === "string") return a === b
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const sameTree = (a: ReadonlyMap<string, FileContent>, b: ReadonlyMap<string, FileContent>): boolean => {
  if (a.size !== b.size) return false
  for (const [path, content] of a) if (!sameContent(content, b.get(path))) return false
  return true
}

const copyContent = (content: FileContent): FileContent => typeof content === "string" ? content : content.slice()

const isOutbox = (path: string): boolean => path.startsWith(newTasksFolder)

// The working files minus the outbox: what a commit of this workspace holds.
const committable = (files: ReadonlyMap<string, FileContent>): Map<string, FileContent> =>
  new Map([...files].filter(([path]) => !isOutbox(path)))

// Lines keep their terminator, so "a" and "a\n" differ as they do for git.
const splitLines = (text: string): Array<string> => text.match(/[^\n]*\n|[^\n]+$/g) ?? []

const withNewline = (line: string): string => line.endsWith("\n") ? line : `${line}\n`

interface LineOp {
  readonly kind: " " | "-" | "+"
  readonly line: string
}

// A line diff; the common prefix and suffix are peeled off first so large files with small edits stay cheap.
const lineOps = (before: string, after: string): Array<LineOp> => {
  const a = splitLines(before)
  const b = splitLines(after)
  let prefix = 0
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++
  let suffix = 0
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) {
    suffix++
  }
  const ops: Array<LineOp> = a.slice(0, prefix).map((line) => ({ kind: " ", line }))
  for (const part of diffComm(a.slice(prefix, a.length - suffix), b.slice(prefix, b.length - suffix))) {
    if (part.common !== undefined) ops.push(...part.common.map((line): LineOp => ({ kind: " ", line })))
    else {
      ops.push(...part.buffer1.map((line): LineOp => ({ kind: "-", line })))
      ops.push(...part.buffer2.map((line): LineOp => ({ kind: "+", line })))
    }
  }
  ops.push(...a.slice(a.length - suffix).map((line): LineOp => ({ kind: " ", line })))
  return ops
}

// [start, stop) ranges of `ops` that form hunks with `context` lines around each change.
const hunkRanges = (ops: ReadonlyArray<LineOp>, context: number): Array<readonly [number, number]> => {
  const changes = ops.flatMap((op, index) => op.kind === " " ? [] : [index])
  const ranges: Array<[number, number]> = []
  for (const index of changes) {
    const start = Math.max(0, index - context)
    const stop = Math.min(ops.length, index + 1 + context)
    const last = ranges[ranges.length - 1]
    if (last !== undefined && start <= last[1]) last[1] = stop
    else ranges.push([start, stop])
  }
  return ranges
}

const renderHunks = (ops: ReadonlyArray<LineOp>): Array<string> => {
  const oldBefore: Array<number> = []
  const newBefore: Array<number> = []
  let oldCount = 0
  let newCount = 0
  for (const op of ops) {
    oldBefore.push(oldCount)
    newBefore.push(newCount)
    if (op.kind !== "+") oldCount++
    if (op.kind !== "-") newCount++
  }
  const out: Array<string> = []
  for (const [start, stop] of hunkRanges(ops, 3)) {
    const slice = ops.slice(start, stop)
    const oldLines = slice.filter((op) => op.kind !== "+").length
    const newLines = slice.filter((op) => op.kind !== "-").length
    const oldStart = (oldBefore[start] ?? 0) + (oldLines === 0 ? 0 : 1)
    const newStart = (newBefore[start] ?? 0) + (newLines === 0 ? 0 : 1)
    out.push(`@@ -${oldStart},${oldLines} +${newStart},${newLines} @@`)
    for (const op of slice) {
      out.push(`${op.kind}${op.line.endsWith("\n") ? op.line.slice(0, -1) : op.line}`)
      if (!op.line.endsWith("\n")) out.push("\\ No newline at end of file")
    }
  }
  return out
}

const fileChange = (path: string, before: FileContent | undefined, after: FileContent | undefined): FileChange => {
  const status = before === undefined ? "added" : after === undefined ? "deleted" : "modified"
  const binary = before instanceof Uint8Array || after instanceof Uint8Array
  if (binary) return { path, status, added: 0, deleted: 0, binary }
  const ops = lineOps(before ?? "", after ?? "")
  return {
    path,
    status,
    added: ops.filter((op) => op.kind === "+").length,
    deleted: ops.filter((op) => op.kind === "-").length,
    binary
  }
}

const fileDiffText = (path: string, before: FileContent | undefined, after: FileContent | undefined): Array<string> => {
  const out = [`diff --git a/${path} b/${path}`]
  if (before === undefined) out.push("new file")
  if (after === undefined) out.push("deleted file")
  const from = before === undefined ? "/dev/null" : `a/${path}`
  const to = after === undefined ? "/dev/null" : `b/${path}`
  if (before instanceof Uint8Array || after instanceof Uint8Array) {
    out.push(`Binary files ${from} and ${to} differ`)
    return out
  }
  out.push(`--- ${from}`, `+++ ${to}`)
  out.push(...renderHunks(lineOps(before ?? "", after ?? "")))
  return out
}

// ---------------------------------------------------------------------------------------------------
// Three-way merge of files and trees
// ---------------------------------------------------------------------------------------------------

interface FileMerge {
  readonly conflict: boolean
  /** The merged content; for a conflict, what the working file should hold (markers for text). */
  readonly content: FileContent | undefined
}

interface MarkerLabels {
  readonly ours: string
  readonly theirs: string
}

const mergeText = (base: string, ours: string, theirs: string, labels: MarkerLabels): FileMerge => {
  let conflict = false
  let content = ""
  for (const region of diff3Merge(splitLines(ours), splitLines(base), splitLines(theirs))) {
    if (region.ok !== undefined) content += region.ok.join("")
    if (region.conflict !== undefined) {
      conflict = true
      content += `<<<<<<< ${labels.ours}\n${region.conflict.a.map(withNewline).join("")}=======\n` +
        `${region.conflict.b.map(withNewline).join("")}>>>>>>> ${labels.theirs}\n`
    }
  }
  return { conflict, content }
}

// git's per-file rules: a side that did not change yields to the other; anything else needs diff3.
const mergeFile = (
  base: FileContent | undefined,
  ours: FileContent | undefined,
  theirs: FileContent | undefined,
  labels: MarkerLabels
): FileMerge => {
  if (sameContent(ours, theirs)) return { conflict: false, content: ours }
  if (sameContent(base, ours)) return { conflict: false, content: theirs }
  if (sameContent(base, theirs)) return { conflict: false, content: ours }
  // Deleted on one side and changed on the other: the changed version stays in the working tree.
  if (ours === undefined || theirs === undefined) return { conflict: true, content: ours ?? theirs }
  if (typeof ours !== "string" || typeof theirs !== "string" || (base !== undefined && typeof base !== "string")) {
    return { conflict: true, content: ours }
  }
  return mergeText(base ?? "", ours, theirs, labels)
}

interface TreeMerge {
  readonly tree: Map<string, FileContent>
  readonly conflicts: Array<string>
}

const mergeTrees = (
  base: ReadonlyMap<string, FileContent>,
  ours: ReadonlyMap<string, FileContent>,
  theirs: ReadonlyMap<string, FileContent>,
  labels: MarkerLabels
): TreeMerge => {
  const paths = [...new Set([...base.keys(), ...ours.keys(), ...theirs.keys()])].sort()
  const tree = new Map<string, FileContent>()
  const conflicts: Array<string> = []
  for (const path of paths) {
    const merged = mergeFile(base.get(path), ours.get(path), theirs.get(path), labels)
    if (merged.conflict) conflicts.push(path)
    if (merged.content !== undefined) tree.set(path, merged.content)
  }
  return { tree, conflicts }
}

// ---------------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------------

interface WorkspaceState {
  readonly worker: WorkerId
  readonly path: string
  branch: string | undefined
  head: string
  pendingMergeParent: string | undefined
  files: Map<string, FileContent>
}

const failWith = (operation: string, message: string): never => {
  throw new GitError({ operation, message })
}

const validFilePath = (operation: string, file: string): string => {
  const segments = file.split("/")
  if (file.length === 0 || segments.some((s) => s === "" || s === "." || s === "..")) {
    return failWith(operation, `invalid file path ${JSON.stringify(file)}`)
  }
  return file
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
  private readonly commits = new Map<string, CommitRecord>()
  private readonly generations = new Map<string, number>()
  private readonly branches = new Map<string, string>()
  private readonly workspaces = new Map<string, WorkspaceState>()
  private readonly history: Array<string> = []
  private counts = { casSuccesses: 0, casFailures: 0, targetMovesBySetBranch: 0, merges: 0, mergeConflicts: 0 }

  private constructor(targetBranch: string) {
    this.targetBranch = targetBranch
  }

  /** A repository whose target branch points to one root commit holding `files`. */
  static make(options: MemoryRepoOptions): MemoryRepo {
    const repo = new MemoryRepo(options.branch ?? "main")
    const tree = committable(new Map(Object.entries(options.files).map(([path, content]) => [
      validFilePath("make", path),
      copyContent(content)
    ])))
    repo.moveBranch(repo.targetBranch, repo.addCommit(tree, [], options.message ?? "initial"))
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
    return this.commits.get(sha) ?? failWith(operation, `unknown commit ${sha}`)
  }

  /** The files of a commit. */
  treeOf(sha: string): ReadonlyMap<string, FileContent> {
    return this.commit(sha, "treeOf").tree
  }

  /** Where a branch points, or `undefined` when it does not exist. */
  branchHead(name: string): string | undefined {
    return this.branches.get(name)
  }

  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  isAncestor(ancestor: string, descendant: string, operation = "isAncestor"): boolean {
    this.commit(ancestor, operation)
    this.commit(descendant, operation)
    if (ancestor === descendant) return true
    const floor = this.generation(ancestor)
    const seen = new Set<string>([descendant])
    const stack = [descendant]
    for (let sha = stack.pop(); sha !== undefined; sha = stack.pop()) {
      for (const parent of this.commit(sha, operation).parents) {
        if (parent === ancestor) return true
        // An ancestor always has a lower generation, so older commits cannot lead to `ancestor`.
        if (!seen.has(parent) && this.generation(parent) > floor) {
          seen.add(parent)
          stack.push(parent)
        }
      }
    }
    return false
  }

  /**
   * The best common ancestor of `a` and `b`, or `undefined` for unrelated histories. Of several,
   * the one with the highest generation (then the smallest sha): it is never an ancestor of another.
   */
  mergeBase(a: string, b: string, operation = "mergeBase"): string | undefined {
    const ofA = this.ancestors(a, operation)
    let best: string | undefined
    for (const sha of this.ancestors(b, operation)) {
      if (!ofA.has(sha)) continue
      if (best === undefined) best = sha
      else {
        const [gs, gb] = [this.generation(sha), this.generation(best)]
        if (gs > gb || (gs === gb && sha < best)) best = sha
      }
    }
    return best
  }

  private ancestors(sha: string, operation: string): Set<string> {
    const seen = new Set<string>([sha])
    const stack = [sha]
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      for (const parent of this.commit(next, operation).parents) {
        if (!seen.has(parent)) {
          seen.add(parent)
          stack.push(parent)
        }
      }
    }
    return seen
  }

  private generation(sha: string): number {
    return this.generations.get(sha) ?? 0
  }

  private addCommit(tree: ReadonlyMap<string, FileContent>, parents: ReadonlyArray<string>, message: string): string {
    const sha = hash40(commitKey(tree, parents, message))
    const existing = this.commits.get(sha)
    if (existing !== undefined) {
      // Same parents, message and tree is the same commit; anything else is a hash collision.
      if (existing.message !== message || existing.parents.join() !== parents.join() || !sameTree(existing.tree, tree)) {
        throw new Error(`MemoryGit: hash collision on ${sha}`)
      }
      return sha
    }
    this.commits.set(sha, { sha, tree: new Map(tree), parents: [...parents], message })
    this.generations.set(sha, 1 + Math.max(-1, ...parents.map((parent) => this.generation(parent))))
    return sha
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
  workspaceByPath(path: string): WorkspaceView | undefined {
    const state = this.workspaces.get(path)
    return state === undefined ? undefined : {
      worker: state.worker,
      path: state.path,
      branch: state.branch,
      head: state.head,
      pendingMergeParent: state.pendingMergeParent,
      files: new Map(state.files)
    }
  }

  /** A working file, or `undefined` when absent. */
  readFile(workspacePath: string, file: string): FileContent | undefined {
    const content = this.workspace(workspacePath, "readFile").files.get(file)
    return content === undefined ? undefined : copyContent(content)
  }

  /** Writes a working file (what an agent does). */
  writeFile(workspacePath: string, file: string, content: FileContent): void {
    this.workspace(workspacePath, "writeFile").files.set(validFilePath("writeFile", file), copyContent(content))
  }

  /** Deletes a working file; a missing file is not an error. */
  deleteFile(workspacePath: string, file: string): void {
    this.workspace(workspacePath, "deleteFile").files.delete(file)
  }

  /** Every working file, the outbox included, sorted. */
  listFiles(workspacePath: string): ReadonlyArray<string> {
    return sortedKeys(this.workspace(workspacePath, "listFiles").files)
  }

  private workspace(path: string, operation: string): WorkspaceState {
    return this.workspaces.get(path) ?? failWith(operation, `no workspace at ${path}`)
  }

  // ---- the Git service, synchronously ------------------------------------------------------------

  /** The commit the target branch points to. */
  mainHead(): string {
    return this.branches.get(this.targetBranch) ?? failWith("mainHead", `target branch ${this.targetBranch} is missing`)
  }

  /** Creates the workspace detached at the current main (as `git worktree add --detach`), or returns it. */
  acquireWorkspace(worker: WorkerId): Workspace {
    const path = workspacePath(worker)
    if (!this.workspaces.has(path)) {
      const head = this.mainHead()
      this.workspaces.set(path, {
        worker,
        path,
        branch: undefined,
        head,
        pendingMergeParent: undefined,
        files: new Map(this.commit(head).tree)
      })
    }
    return { worker, path }
  }

  /** Checks out a new (or moved) `branch` at `base`, discarding every working change. */
  resetWorkspace(workspace: Workspace, branch: string, base: string): void {
    const operation = "resetWorkspace"
    const state = this.workspace(workspace.path, operation)
    const tree = this.commit(base, operation).tree
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
    state.files = new Map(tree)
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
    const tree = committable(state.files)
    const merging = state.pendingMergeParent
    if (merging === undefined && sameTree(tree, this.commit(state.head, "commitAll").tree)) return undefined
    const sha = this.addCommit(tree, merging === undefined ? [state.head] : [state.head, merging], message)
    state.head = sha
    state.pendingMergeParent = undefined
    if (state.branch !== undefined) this.moveBranch(state.branch, sha)
    return sha
  }

  /** The commit the workspace's working files are based on. */
  workspaceHead(workspace: Workspace): string {
    return this.workspace(workspace.path, "workspaceHead").head
  }

  /** Per-file change from `base` to `head`, sorted by path. */
  diffStat(base: string, head: string): ReadonlyArray<FileChange> {
    const before = this.commit(base, "diffStat").tree
    const after = this.commit(head, "diffStat").tree
    return changedPaths(before, after).map((path) => fileChange(path, before.get(path), after.get(path)))
  }

  /** A unified diff from `base` to `head` (3 lines of context), new, deleted and binary files included. */
  diffText(base: string, head: string): string {
    const before = this.commit(base, "diffText").tree
    const after = this.commit(head, "diffText").tree
    const lines = changedPaths(before, after).flatMap((path) => fileDiffText(path, before.get(path), after.get(path)))
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`
  }

  /** The merge of `head` onto `onto` as a new unreferenced commit, or the conflicting files. */
  merge(request: MergeRequest): MergeAttempt {
    const { head, message, onto, strategy } = request
    const operation = "merge"
    this.commit(onto, operation)
    this.commit(head, operation)
    this.counts.merges++
    if (strategy === "ff" && this.isAncestor(onto, head, operation)) return { _tag: "Merged", sha: head }
    const base = this.mergeBase(onto, head, operation) ?? failWith(operation, `${onto} and ${head} share no history`)
    const merged = mergeTrees(this.commit(base).tree, this.commit(onto).tree, this.commit(head).tree, {
      ours: this.targetBranch,
      theirs: "head"
    })
    if (merged.conflicts.length > 0) {
      this.counts.mergeConflicts++
      return { _tag: "Conflict", files: merged.conflicts }
    }
    // no-ff records both parents; squash, rebase and a non-fast-forward ff keep a linear main.
    const parents = strategy === "no-ff" ? [onto, head] : [onto]
    return { _tag: "Merged", sha: this.addCommit(merged.tree, parents, message) }
  }

  /** Moves the target branch from `expected` to `next`; dies when `next` does not descend from `expected`. */
  compareAndSwapMain(expected: string, next: string): boolean {
    const operation = "compareAndSwapMain"
    if (!this.isAncestor(expected, next, operation)) {
      throw new Error(`MemoryGit.compareAndSwapMain: ${next} does not descend from ${expected}; main only moves forward`)
    }
    if (this.mainHead() !== expected) {
      this.counts.casFailures++
      return false
    }
    this.moveBranch(this.targetBranch, next)
    this.counts.casSuccesses++
    return true
  }

  /**
   * Three-way merges `onto` into the working files (the outbox untouched), leaving conflict markers
   * in conflicting text files; returns the conflicting files. Nothing happens when `onto` is already
   * part of the workspace's history.
   */
  mergeIntoWorkspace(workspace: Workspace, onto: string): ReadonlyArray<string> {
    const operation = "mergeIntoWorkspace"
    const state = this.workspace(workspace.path, operation)
    this.commit(onto, operation)
    if (this.isAncestor(onto, state.head, operation)) return []
    const base = this.mergeBase(state.head, onto, operation) ??
      failWith(operation, `${state.head} and ${onto} share no history`)
    const merged = mergeTrees(this.commit(base).tree, committable(state.files), this.commit(onto).tree, {
      ours: "ours",
      theirs: this.targetBranch
    })
    const outbox = [...state.files].filter(([path]) => isOutbox(path))
    state.files = new Map([...merged.tree, ...outbox])
    state.pendingMergeParent = onto
    return merged.conflicts
  }

  /** Reads and removes the files under `.oompa-new-tasks/`, sorted by name. */
  takeNewTaskFiles(workspace: Workspace): ReadonlyArray<NewTaskFile> {
    const state = this.workspace(workspace.path, "takeNewTaskFiles")
    const decoder = new TextDecoder()
    const taken: Array<NewTaskFile> = []
    for (const path of sortedKeys(state.files)) {
      if (!isOutbox(path)) continue
      const content = state.files.get(path) ?? ""
      taken.push({ name: path.slice(newTasksFolder.length), content: typeof content === "string" ? content : decoder.decode(content) })
      state.files.delete(path)
    }
    return taken
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
    return sortedKeys(this.branches)
      .filter((name) => name.startsWith(prefix))
      .map((name) => ({ name, sha: this.branches.get(name) ?? "" }))
  }

  /** One commit's parents and message. */
  readCommit(sha: string): CommitInfo {
    const { message, parents } = this.commit(sha, "readCommit")
    return { sha, parents, message }
  }
}

const changedPaths = (before: ReadonlyMap<string, FileContent>, after: ReadonlyMap<string, FileContent>): Array<string> =>
  [...new Set([...before.keys(), ...after.keys()])].sort().filter((path) => !sameContent(before.get(path), after.get(path)))

// ---------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------

// A thrown GitError is the typed failure; anything else thrown is a defect.
const attempt = <A>(thunk: () => A): Effect.Effect<A, GitError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(thunk())
    } catch (error) {
      return error instanceof GitError ? Effect.fail(error) : Effect.die(error)
    }
  })

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
    acquireWorkspace: (worker) => attempt(() => repo.acquireWorkspace(worker)),
    resetWorkspace: (workspace, branch, base) => attempt(() => repo.resetWorkspace(workspace, branch, base)),
    removeWorkspace: (workspace) => attempt(() => repo.removeWorkspace(workspace)),
    listWorkspaces: attempt(() => repo.listWorkspaces()),
    commitAll: (workspace, message) => attempt(() => Option.fromNullishOr(repo.commitAll(workspace, message))),
    workspaceHead: (workspace) => attempt(() => repo.workspaceHead(workspace)),
    diffStat: (base, head) => attempt(() => repo.diffStat(base, head)),
    diffText: (base, head) => attempt(() => repo.diffText(base, head)),
    merge: (request) => attempt(() => repo.merge(request)),
    compareAndSwapMain: (expected, next) => attempt(() => repo.compareAndSwapMain(expected, next)),
    mergeIntoWorkspace: (workspace, onto) => attempt(() => repo.mergeIntoWorkspace(workspace, onto)),
    takeNewTaskFiles: (workspace) => attempt(() => repo.takeNewTaskFiles(workspace)),
    setBranch: (name, sha) => attempt(() => repo.setBranch(name, sha)),
    deleteBranch: (name) => attempt(() => repo.deleteBranch(name)),
    listBranches: (prefix) => attempt(() => repo.listBranches(prefix)),
    isAncestor: (ancestor, descendant) => attempt(() => repo.isAncestor(ancestor, descendant)),
    readCommit: (sha) => attempt(() => repo.readCommit(sha))
  })

/**
 * Provides `Git` backed by `repo`; keep `repo` to drive and inspect it.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (repo: MemoryRepo): Layer.Layer<Git> => Layer.succeed(Git, make(repo))
