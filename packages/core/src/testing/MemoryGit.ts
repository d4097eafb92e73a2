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
 * repeats is linear in the size of the tree or of the history. A tree is a shared snapshot plus a
 * small set of overrides, remembers the tree it was derived from and which paths it changed, and
 * carries a digest (a sum of per-entry hashes) updated from its parent's; so a commit hashes only the
 * changed files, and a diff or a merge looks only at the paths changed on the way between the trees.
 * Ancestry walks go newest-generation first and stop as soon as the answer is known, so merging a
 * short branch costs its length plus how far main moved since the fork, not the whole history.
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
import { GitError, type GitErrorReason } from "../services/Errors.ts"
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
 * A commit as the driver stores it: the whole tree, not a delta (built on first read of `tree`, then
 * kept).
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

/**
 * A 64-bit hash as two 32-bit lanes. A tree's digest is the lane-wise sum (mod 2^32) of its
 * entries' hashes: a sum does not depend on insertion order, and changing one entry is a
 * subtraction and an addition, so a derived tree's digest costs O(changed entries), not a rehash.
 */
interface Lanes {
  lo: number
  hi: number
}

// cyrb53's two lanes, both kept whole: one pass over the text.
const hashText = (text: string, seed: number): Lanes => {
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
  return { lo: h1 >>> 0, hi: h2 >>> 0 }
}

// murmur3's finalizer: every input bit affects every output bit.
const fmix = (word: number): number => {
  let h = Math.imul(word ^ (word >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

// Folds a 32-bit word into the lanes; the order of folds matters, as it must for a commit's parents.
const fold = (lanes: Lanes, word: number): void => {
  lanes.lo = fmix(lanes.lo ^ word)
  lanes.hi = fmix((lanes.hi + Math.imul(word ^ 0x9e3779b9, 0x27d4eb2f) + lanes.lo) | 0)
}

const hexByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

const hex8 = (word: number): string =>
  hexByte[word >>> 24]! + hexByte[(word >>> 16) & 255]! + hexByte[(word >>> 8) & 255]! + hexByte[word & 255]!

// 40 hex digits: the lanes themselves, then three words mixed from them to fill a sha's width.
const sha40 = (lanes: Lanes): string =>
  hex8(lanes.lo) + hex8(lanes.hi) + [1, 2, 3].map((k) => hex8(fmix(lanes.lo ^ Math.imul(k, 0x9e3779b9)) ^ lanes.hi)).join("")

// A sha's first 16 digits are its lanes: how a commit's sha enters its children's.
const lanesOfSha = (sha: string): Lanes => ({ lo: parseInt(sha.slice(0, 8), 16), hi: parseInt(sha.slice(8, 16), 16) })

const bytesAsText = (bytes: Uint8Array): string => {
  let out = ""
  for (const byte of bytes) out += String.fromCharCode(byte)
  return out
}

/** Hashes tree entries; one per repository, caching content hashes so each content is read once. */
class EntryHasher {
  // Strings are keyed by value, bytes by identity (stored bytes are never mutated). The contents
  // are held by the commits' trees anyway, so the cache costs two numbers per content.
  private readonly contents = new Map<FileContent, Lanes>()

  private content(content: FileContent): Lanes {
    let lanes = this.contents.get(content)
    if (lanes === undefined) {
      // Different seeds keep the text "1" and the bytes [49] apart.
      lanes = typeof content === "string" ? hashText(content, 1) : hashText(bytesAsText(content), 2)
      this.contents.set(content, lanes)
    }
    return lanes
  }

  /** Adds (`sign` 1) or removes (`sign` -1) one entry's hash to a digest. */
  apply(digest: Lanes, path: string, content: FileContent, sign: 1 | -1): void {
    const entry = hashText(path, 3)
    const { hi, lo } = this.content(content)
    fold(entry, lo)
    fold(entry, hi)
    digest.lo = (digest.lo + sign * entry.lo) >>> 0
    digest.hi = (digest.hi + sign * entry.hi) >>> 0
  }
}

/** A commit's sha: its message, parents in order, and tree (size and digest), folded into 64 bits. */
const commitSha = (message: string, parents: ReadonlyArray<string>, size: number, digest: Readonly<Lanes>): string => {
  const lanes = hashText(message, 4)
  for (const parent of parents) {
    const { hi, lo } = lanesOfSha(parent)
    fold(lanes, lo)
    fold(lanes, hi)
  }
  for (const word of [parents.length, size, digest.lo, digest.hi]) fold(lanes, word)
  return sha40(lanes)
}

// ---------------------------------------------------------------------------------------------------
// Files and trees
// ---------------------------------------------------------------------------------------------------

const sortedKeys = (map: ReadonlyMap<string, unknown>): Array<string> => [...map.keys()].sort()

const sameContent = (a: FileContent | undefined, b: FileContent | undefined): boolean => {
  if (a === b) return true
  if (a === undefined || b === undefined || typeof a === "string" || typeof b === "string") return false
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const copyContent = (content: FileContent): FileContent => typeof content === "string" ? content : content.slice()

const isOutbox = (path: string): boolean => path.startsWith(newTasksFolder)

/** Path to new content, `undefined` meaning deleted: a tree's overrides, a workspace's edits. */
type Edits = ReadonlyMap<string, FileContent | undefined>

// The overrides a tree may carry before they are folded into a new snapshot. About √n balances the
// two costs: deriving copies the overrides, and folding copies the snapshot every ~√n derivations.
const overridesMax = (size: number): number => 8 + Math.ceil(Math.sqrt(size))

// The snapshot with the overrides applied; copying the snapshot whole is what Map does fastest.
const flatten = (snapshot: ReadonlyMap<string, FileContent>, overrides: Edits): Map<string, FileContent> => {
  const files = new Map(snapshot)
  for (const [path, content] of overrides) {
    if (content === undefined) files.delete(path)
    else files.set(path, content)
  }
  return files
}

/**
 * An immutable tree: a snapshot shared with other trees plus this tree's own overrides. It also
 * records the tree it was derived from and the paths that differ from it, which is what lets a diff
 * or a merge between related trees visit only the paths changed on the way.
 */
class Tree {
  readonly snapshot: ReadonlyMap<string, FileContent>
  readonly overrides: Edits
  readonly size: number
  readonly digest: Readonly<Lanes>
  readonly from: Tree | undefined
  readonly changed: ReadonlyArray<string>
  /** Derivation steps from the root tree; it lets two trees find the tree both came from. */
  readonly depth: number
  private flat: ReadonlyMap<string, FileContent> | undefined

  constructor(fields: Omit<Tree, "get" | "files" | "pathsUnder">) {
    this.snapshot = fields.snapshot
    this.overrides = fields.overrides
    this.size = fields.size
    this.digest = fields.digest
    this.from = fields.from
    this.changed = fields.changed
    this.depth = fields.depth
  }

  /** A tree with no history, digested entry by entry. */
  static root(files: ReadonlyMap<string, FileContent>, hasher: EntryHasher): Tree {
    const digest = { lo: 0, hi: 0 }
    for (const [path, content] of files) hasher.apply(digest, path, content, 1)
    return new Tree({ snapshot: files, overrides: new Map(), size: files.size, digest, from: undefined, changed: [], depth: 0 })
  }

  get(path: string): FileContent | undefined {
    const content = this.overrides.get(path)
    if (content !== undefined) return content
    // An override of `undefined` is a deletion; only a path without one falls through to the snapshot.
    return this.overrides.has(path) ? undefined : this.snapshot.get(path)
  }

  /** The paths starting with `prefix`, unsorted, without building the whole map. */
  pathsUnder(prefix: string): Array<string> {
    const paths: Array<string> = []
    for (const path of this.snapshot.keys()) if (path.startsWith(prefix) && !this.overrides.has(path)) paths.push(path)
    for (const [path, content] of this.overrides) if (content !== undefined && path.startsWith(prefix)) paths.push(path)
    return paths
  }

  /** Every file as one map; built once, and only for callers that read the whole tree. */
  files(): ReadonlyMap<string, FileContent> {
    if (this.overrides.size === 0) return this.snapshot
    this.flat ??= flatten(this.snapshot, this.overrides)
    return this.flat
  }
}

/** `from` with `edits` applied; `from` itself when they change nothing. O(edits + √size) amortized. */
const deriveTree = (from: Tree, edits: Edits, hasher: EntryHasher): Tree => {
  const digest = { ...from.digest }
  const changed: Array<string> = []
  let size = from.size
  for (const [path, content] of edits) {
    const before = from.get(path)
    if (sameContent(before, content)) continue
    changed.push(path)
    if (before !== undefined) hasher.apply(digest, path, before, -1)
    if (content !== undefined) hasher.apply(digest, path, content, 1)
    size += (content === undefined ? 0 : 1) - (before === undefined ? 0 : 1)
  }
  if (changed.length === 0) return from
  // Past the bound, the overrides restart from `from`'s flattened files, which `from` caches: the
  // many trees derived from one tree (branches from main) then share a single copy.
  const restart = from.overrides.size + changed.length > overridesMax(size)
  const snapshot = restart ? from.files() : from.snapshot
  const overrides = new Map(restart ? [] : from.overrides)
  for (const path of changed) overrides.set(path, edits.get(path))
  const fold = overrides.size > overridesMax(size)
  return new Tree({
    snapshot: fold ? flatten(snapshot, overrides) : snapshot,
    overrides: fold ? new Map() : overrides,
    size,
    digest,
    from,
    changed,
    depth: from.depth + 1
  })
}

// Paths that may differ between two trees: those changed on the way from each up to the tree both
// were derived from. `undefined` when that walk would cost more than comparing the trees outright.
const derivationDelta = (a: Tree, b: Tree): Set<string> | undefined => {
  const budget = 16 + a.size + b.size
  const paths = new Set<string>()
  let cost = 0
  let x: Tree | undefined = a
  let y: Tree | undefined = b
  while (x !== y) {
    if (x === undefined || y === undefined) return undefined
    // Step up from the deeper tree, so both reach their common tree at the same time.
    const step: Tree = x.depth >= y.depth ? x : y
    for (const path of step.changed) paths.add(path)
    cost += 1 + step.changed.length
    if (cost > budget) return undefined
    if (step === x) x = x.from
    else y = y.from
  }
  return paths
}

/** The paths whose content differs between two trees, sorted. */
const changedPaths = (a: Tree, b: Tree): Array<string> => {
  if (a === b) return []
  const candidates = derivationDelta(a, b) ?? new Set([...a.files().keys(), ...b.files().keys()])
  return [...candidates].filter((path) => !sameContent(a.get(path), b.get(path))).sort()
}

const sameTree = (a: Tree, b: Tree): boolean =>
  a === b || (a.size === b.size && a.digest.lo === b.digest.lo && a.digest.hi === b.digest.hi && changedPaths(a, b).length === 0)


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
  const [removed, added] = [a.slice(prefix, a.length - suffix), b.slice(prefix, b.length - suffix)]
  // A pure insertion or deletion (a new or deleted file, most often) needs no diff algorithm.
  const parts = removed.length === 0 || added.length === 0 ? [{ buffer1: removed, buffer2: added }] : diffComm(removed, added)
  for (const part of parts) {
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
  readonly tree: Tree
  readonly conflicts: Array<string>
}

/**
 * Three-way merges `paths`, which must include every path where the side that is not `start`
 * differs from `base`. Everywhere else that side equals `base`, so git's rules keep `start`'s
 * content, and the result is `start` with the merged paths applied. Conflicts are sorted by path.
 */
const mergeTrees = (
  base: Tree,
  sides: { readonly ours: (path: string) => FileContent | undefined; readonly theirs: (path: string) => FileContent | undefined },
  start: Tree,
  paths: Iterable<string>,
  labels: MarkerLabels,
  hasher: EntryHasher
): TreeMerge => {
  const edits = new Map<string, FileContent | undefined>()
  const conflicts: Array<string> = []
  for (const path of [...paths].sort()) {
    const merged = mergeFile(base.get(path), sides.ours(path), sides.theirs(path), labels)
    if (merged.conflict) conflicts.push(path)
    edits.set(path, merged.content)
  }
  return { tree: deriveTree(start, edits, hasher), conflicts }
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
  /** The tree the committable working files started from; `edits` say how they differ from it. */
  base: Tree
  /** Committable paths written or deleted since `base`: what a commit must look at, and no more. */
  edits: Map<string, FileContent | undefined>
  /** The task outbox, kept apart because it is never committed. */
  outbox: Map<string, FileContent>
  /** What the setup left that differs from `head` (`markSetupOutputs`): never committed while unchanged. */
  setup: Map<string, FileContent | undefined>
}

/**
 * A tree's files as a `ReadonlyMap`: lookups read the tree directly, and only iteration builds the
 * whole map. The test gate is handed every merged commit's files, and most scripts look up a path
 * or two, if any.
 */
class TreeFiles implements ReadonlyMap<string, FileContent> {
  readonly #tree: Tree
  constructor(tree: Tree) {
    this.#tree = tree
  }
  get size(): number {
    return this.#tree.size
  }
  get(path: string): FileContent | undefined {
    return this.#tree.get(path)
  }
  has(path: string): boolean {
    return this.#tree.get(path) !== undefined
  }
  forEach(callback: (value: FileContent, key: string, map: ReadonlyMap<string, FileContent>) => void, thisArg?: unknown): void {
    for (const [path, content] of this.#tree.files()) callback.call(thisArg, content, path, this)
  }
  entries(): MapIterator<[string, FileContent]> {
    return this.#tree.files().entries()
  }
  keys(): MapIterator<string> {
    return this.#tree.files().keys()
  }
  values(): MapIterator<FileContent> {
    return this.#tree.files().values()
  }
  [Symbol.iterator](): MapIterator<[string, FileContent]> {
    return this.entries()
  }
}

// A commit as callers see it; the whole-tree map is built only when one iterates `tree`.
class StoredRecord implements CommitRecord {
  readonly sha: string
  readonly parents: ReadonlyArray<string>
  readonly message: string
  readonly tree: ReadonlyMap<string, FileContent>

  constructor(sha: string, parents: ReadonlyArray<string>, message: string, files: Tree) {
    this.sha = sha
    this.parents = parents
    this.message = message
    this.tree = new TreeFiles(files)
  }
}

/** A stored commit with what ancestry walks and merges need next to it. */
interface CommitNode {
  readonly record: CommitRecord
  readonly tree: Tree
  /** 0 for a root, else one more than its highest parent: an ancestor's is always lower. */
  readonly generation: number
  /**
   * The last `diffStat` ending here: the same pair is asked for twice in a row (a commit's stats,
   * then its policy check; the merge queue's policy check, then the checker's).
   */
  diffStatFrom?: { readonly base: string; readonly changes: ReadonlyArray<FileChange> }
}

/** A max-heap of commits by generation, so ancestry walks visit the newest commits first. */
class GenerationQueue {
  private readonly items: Array<CommitNode> = []

  push(node: CommitNode): void {
    const items = this.items
    let i = items.push(node) - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if (items[up]!.generation >= node.generation) break
      items[i] = items[up]!
      i = up
    }
    items[i] = node
  }

  pop(): CommitNode | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= items.length) break
      const child = left + 1 < items.length && items[left + 1]!.generation > items[left]!.generation ? left + 1 : left
      if (items[child]!.generation <= last.generation) break
      items[i] = items[child]!
      i = child
    }
    items[i] = last
    return top
  }
}

const failWith = (operation: string, message: string, reason: GitErrorReason = "failed"): never => {
  throw new GitError({ operation, reason, message })
}

// An empty path, or a segment that is empty, `.` or `..` (a leading, trailing or doubled `/` included).
const badSegment = /(?:^|\/)\.{0,2}(?:\/|$)/

const validFilePath = (operation: string, file: string): string =>
  badSegment.test(file) ? failWith(operation, `invalid file path ${JSON.stringify(file)}`) : file

// A working file: the workspace's own edit when it has one, else the file it started from.
const workingFile = (state: WorkspaceState, path: string): FileContent | undefined =>
  state.edits.has(path) ? state.edits.get(path) : state.base.get(path)

// Every committable working file as one map, for the driver's whole-workspace views.
const workingFiles = (state: WorkspaceState): ReadonlyMap<string, FileContent> =>
  state.edits.size === 0 ? state.base.files() : flatten(state.base.files(), state.edits)

const startFrom = (state: WorkspaceState, tree: Tree): void => {
  state.base = tree
  state.edits = new Map()
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
  private readonly commits = new Map<string, CommitNode>()
  private readonly branches = new Map<string, string>()
  private readonly markers = new Map<string, string>()
  private readonly workspaces = new Map<string, WorkspaceState>()
  private readonly history: Array<string> = []
  private readonly hasher = new EntryHasher()
  private counts = { casSuccesses: 0, casFailures: 0, targetMovesBySetBranch: 0, merges: 0, mergeConflicts: 0 }

  private constructor(targetBranch: string) {
    this.targetBranch = targetBranch
  }

  /** A repository whose target branch points to one root commit holding `files`. */
  static make(options: MemoryRepoOptions): MemoryRepo {
    const repo = new MemoryRepo(options.branch ?? "main")
    const files = new Map<string, FileContent>()
    for (const [path, content] of Object.entries(options.files)) {
      if (!isOutbox(validFilePath("make", path))) files.set(path, copyContent(content))
    }
    repo.moveBranch(repo.targetBranch, repo.addCommit(Tree.root(files, repo.hasher), [], options.message ?? "initial"))
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

  /** Where a branch points, or `undefined` when it does not exist. */
  branchHead(name: string): string | undefined {
    return this.branches.get(name)
  }

  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  isAncestor(ancestor: string, descendant: string, operation = "isAncestor"): boolean {
    const floor = this.node(ancestor, operation).generation
    const start = this.node(descendant, operation)
    if (ancestor === descendant) return true
    const seen = new Set<string>([descendant])
    const stack = [start]
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      for (const parent of node.record.parents) {
        if (parent === ancestor) return true
        const next = this.node(parent, operation)
        // An ancestor always has a lower generation, so the walk stops once it drops to `ancestor`'s.
        if (!seen.has(parent) && next.generation > floor) {
          seen.add(parent)
          stack.push(next)
        }
      }
    }
    return false
  }

  /** Every commit reachable from `heads`, the heads included: one walk, where many `isAncestor` calls would repeat it. */
  reachableFrom(heads: Iterable<string>, operation = "reachableFrom"): ReadonlySet<string> {
    const seen = new Set<string>()
    const stack: Array<string> = []
    for (const head of heads) {
      this.node(head, operation)
      if (!seen.has(head)) seen.add(head), stack.push(head)
    }
    for (let sha = stack.pop(); sha !== undefined; sha = stack.pop()) {
      for (const parent of this.node(sha, operation).record.parents) {
        if (!seen.has(parent)) seen.add(parent), stack.push(parent)
      }
    }
    return seen
  }

  /**
   * The best common ancestor of `a` and `b`, or `undefined` for unrelated histories. Of several,
   * the one with the highest generation (then the smallest sha): it is never an ancestor of another.
   *
   * Walks both histories together, highest generation first, marking what each side reaches. A
   * commit's marks are final when it is taken (its children all have higher generations), so the
   * first commit both sides reach is a best one, and the walk ends once the generation drops below it.
   */
  mergeBase(a: string, b: string, operation = "mergeBase"): string | undefined {
    const reached = new Map<string, number>([[a, 1]])
    reached.set(b, (reached.get(b) ?? 0) | 2)
    const queue = new GenerationQueue()
    queue.push(this.node(a, operation))
    if (b !== a) queue.push(this.node(b, operation))
    let best: CommitNode | undefined
    for (let node = queue.pop(); node !== undefined; node = queue.pop()) {
      if (best !== undefined && node.generation < best.generation) break
      const sides = reached.get(node.record.sha) ?? 0
      if (sides === 3) {
        if (best === undefined || node.record.sha < best.record.sha) best = node
        continue // its ancestors are older than the answer
      }
      for (const parent of node.record.parents) {
        const had = reached.get(parent)
        if (had === undefined) queue.push(this.node(parent, operation))
        reached.set(parent, (had ?? 0) | sides)
      }
    }
    return best?.record.sha
  }

  private node(sha: string, operation = "commit"): CommitNode {
    return this.commits.get(sha) ?? failWith(operation, `unknown commit ${sha}`, "missing-object")
  }

  // The sha covers the tree through its digest and size, so it costs O(message), not O(files).
  private addCommit(tree: Tree, parents: ReadonlyArray<string>, message: string): string {
    const sha = commitSha(message, parents, tree.size, tree.digest)
    const existing = this.commits.get(sha)
    if (existing !== undefined) {
      // Same parents, message and tree is the same commit; anything else is a hash collision.
      const { record } = existing
      if (record.message !== message || record.parents.join() !== parents.join() || !sameTree(existing.tree, tree)) {
        throw new Error(`MemoryGit: hash collision on ${sha}`)
      }
      return sha
    }
    let generation = 0
    for (const parent of parents) generation = Math.max(generation, this.node(parent).generation + 1)
    this.commits.set(sha, { record: new StoredRecord(sha, [...parents], message, tree), tree, generation })
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
      files: new Map([...workingFiles(state), ...state.outbox])
    }
  }

  /** The commit the workspace at `path` started from, or `undefined` without one (no copy of its files). */
  workspaceHeadAt(path: string): string | undefined {
    return this.workspaces.get(path)?.head
  }

  /** A working file, or `undefined` when absent. */
  readFile(workspacePath: string, file: string): FileContent | undefined {
    const state = this.workspace(workspacePath, "readFile")
    const content = isOutbox(file) ? state.outbox.get(file) : workingFile(state, file)
    return content === undefined ? undefined : copyContent(content)
  }

  /** Writes a working file (what an agent does). */
  writeFile(workspacePath: string, file: string, content: FileContent): void {
    const state = this.workspace(workspacePath, "writeFile")
    if (isOutbox(validFilePath("writeFile", file))) state.outbox.set(file, copyContent(content))
    else state.edits.set(file, copyContent(content))
  }

  /** Deletes a working file; a missing file is not an error. */
  deleteFile(workspacePath: string, file: string): void {
    const state = this.workspace(workspacePath, "deleteFile")
    if (isOutbox(file)) state.outbox.delete(file)
    else state.edits.set(file, undefined)
  }

  /** Every working file, the outbox included, sorted. */
  listFiles(workspacePath: string): ReadonlyArray<string> {
    const state = this.workspace(workspacePath, "listFiles")
    return [...workingFiles(state).keys(), ...state.outbox.keys()].sort()
  }

  private workspace(path: string, operation: string): WorkspaceState {
    return this.workspaces.get(path) ?? failWith(operation, `no workspace at ${path}`, "missing-object")
  }

  // ---- the Git service, synchronously ------------------------------------------------------------

  /** The commit the target branch points to. */
  mainHead(): string {
    return this.branches.get(this.targetBranch) ?? failWith("mainHead", `target branch ${this.targetBranch} is missing`, "missing-object")
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
        base: this.node(head).tree,
        edits: new Map(),
        outbox: new Map(),
        setup: new Map()
      })
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
    startFrom(state, tree)
    state.outbox = new Map()
    state.setup = new Map()
  }

  /** The working files as they are now are the setup's: `commitAll` leaves out those still unchanged. */
  markSetupOutputs(workspace: Workspace): void {
    const state = this.workspace(workspace.path, "markSetupOutputs")
    const head = this.node(state.head, "markSetupOutputs").tree
    state.setup = new Map([...state.edits].filter(([path, content]) => !sameContent(content, head.get(path))))
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
    const untouched = [...state.setup].filter(([path, content]) => state.edits.has(path) && sameContent(state.edits.get(path), content))
    const left = new Set(untouched.map(([path]) => path))
    const committed = left.size === 0 ? state.edits : new Map([...state.edits].filter(([path]) => !left.has(path)))
    // Deriving looks only at the edited paths; it returns the base itself when they changed nothing.
    const tree = deriveTree(state.base, committed, this.hasher)
    const merging = state.pendingMergeParent
    if (merging === undefined && sameTree(tree, head.tree)) return undefined
    const sha = this.addCommit(tree, merging === undefined ? [state.head] : [state.head, merging], message)
    state.head = sha
    state.pendingMergeParent = undefined
    startFrom(state, tree)
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
    const before = this.node(base, "diffStat").tree
    const node = this.node(head, "diffStat")
    if (node.diffStatFrom?.base === base) return node.diffStatFrom.changes
    const after = node.tree
    const changes = Object.freeze(changedPaths(before, after).map((path) => fileChange(path, before.get(path), after.get(path))))
    node.diffStatFrom = { base, changes }
    return changes
  }

  /** A unified diff from `base` to `head` (3 lines of context), new, deleted and binary files included. */
  diffText(base: string, head: string): string {
    const before = this.node(base, "diffText").tree
    const after = this.node(head, "diffText").tree
    const lines = changedPaths(before, after).flatMap((path) => fileDiffText(path, before.get(path), after.get(path)))
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`
  }

  /**
   * Lands the approved tree of `head` onto `onto` as new unreferenced commits, or reports the
   * conflicting files. The reviewed commit is written first — `head`'s tree on `base`, with the
   * merge message — so nothing of `head`'s history or message is used; then, when main moved past
   * `base`, it is merged onto `onto` (only the paths it changed since `base`; the rest is `onto`'s).
   * `no-ff` records `onto` and the reviewed commit as parents; `ff`, `rebase` and `squash` land the
   * reviewed commit itself when `onto` is `base`, and otherwise one commit on `onto`.
   */
  merge(request: MergeRequest): MergeAttempt {
    const { base, head, message, onto, strategy } = request
    const operation = "merge"
    const ours = this.node(onto, operation).tree
    const theirs = this.node(head, operation).tree
    this.node(base, operation)
    this.counts.merges++
    if (!this.isAncestor(base, onto, operation)) failWith(operation, `the reviewed change's base ${base} is not part of ${onto}`)
    const reviewed = this.addCommit(theirs, [base], message)
    if (onto === base) {
      return { _tag: "Merged", sha: strategy === "no-ff" ? this.addCommit(theirs, [onto, reviewed], message) : reviewed }
    }
    // As git does: from the best common ancestor — `base`, unless the reviewed commit is already in main.
    const baseTree = this.node(this.mergeBase(onto, reviewed, operation) ?? base).tree
    const merged = mergeTrees(
      baseTree,
      { ours: (path) => ours.get(path), theirs: (path) => theirs.get(path) },
      ours,
      changedPaths(baseTree, theirs),
      { ours: this.targetBranch, theirs: "head" },
      this.hasher
    )
    if (merged.conflicts.length > 0) {
      this.counts.mergeConflicts++
      return { _tag: "Conflict", files: merged.conflicts }
    }
    // As git's commit-tree, one parent given twice is recorded once.
    const parents = strategy === "no-ff" && reviewed !== onto ? [onto, reviewed] : [onto]
    return { _tag: "Merged", sha: this.addCommit(merged.tree, parents, message) }
  }

  /**
   * Moves the target branch from `expected` to `next`, and sets the merged marker of each task in
   * `landed`; dies when `next` does not descend from `expected`.
   */
  compareAndSwapMain(expected: string, next: string, landed: ReadonlyArray<string> = []): boolean {
    const operation = "compareAndSwapMain"
    if (!this.isAncestor(expected, next, operation)) {
      throw new Error(`MemoryGit.compareAndSwapMain: ${next} does not descend from ${expected}; main only moves forward`)
    }
    if (this.mainHead() !== expected) {
      this.counts.casFailures++
      return false
    }
    this.moveBranch(this.targetBranch, next)
    for (const task of landed) this.markers.set(task, next)
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
    return this.addCommit(this.node(filesOf ?? first, "commitWithParents").tree, parents, message)
  }

  /** Writes (or, with `undefined`, deletes) a merged marker outside any landing: what a hostile agent can do. */
  forgeMarker(task: string, sha: string | undefined): void {
    if (sha === undefined) this.markers.delete(task)
    else this.markers.set(task, this.commit(sha, "forgeMarker").sha)
  }

  /**
   * Three-way merges `onto` into the working files (the outbox untouched), leaving conflict markers
   * in conflicting text files; returns the conflicting files. Nothing happens when `onto` is already
   * part of the workspace's history. Only the paths the workspace changed since the merge base are
   * merged; the rest of the working files become `onto`'s.
   */
  mergeIntoWorkspace(workspace: Workspace, onto: string): ReadonlyArray<string> {
    const operation = "mergeIntoWorkspace"
    const state = this.workspace(workspace.path, operation)
    const theirs = this.node(onto, operation).tree
    if (this.isAncestor(onto, state.head, operation)) return []
    const base = this.mergeBase(state.head, onto, operation) ??
      failWith(operation, `${state.head} and ${onto} share no history`, "missing-object")
    const baseTree = this.node(base).tree
    const merged = mergeTrees(
      baseTree,
      { ours: (path) => workingFile(state, path), theirs: (path) => theirs.get(path) },
      theirs,
      new Set([...changedPaths(baseTree, state.base), ...state.edits.keys()]),
      { ours: "ours", theirs: this.targetBranch },
      this.hasher
    )
    startFrom(state, merged.tree)
    state.pendingMergeParent = onto
    return merged.conflicts
  }

  /** Reads and removes the files under `.oompa-new-tasks/`, sorted by name. */
  takeNewTaskFiles(workspace: Workspace): ReadonlyArray<NewTaskFile> {
    const state = this.workspace(workspace.path, "takeNewTaskFiles")
    const decoder = new TextDecoder()
    const taken = sortedKeys(state.outbox).map((path): NewTaskFile => {
      const content = state.outbox.get(path) ?? ""
      return { name: path.slice(newTasksFolder.length), content: typeof content === "string" ? content : decoder.decode(content) }
    })
    state.outbox.clear()
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
    markSetupOutputs: (workspace) => attempt(() => repo.markSetupOutputs(workspace)),
    workspaceHead: (workspace) => attempt(() => repo.workspaceHead(workspace)),
    diffStat: (base, head) => attempt(() => repo.diffStat(base, head)),
    diffText: (base, head) => attempt(() => repo.diffText(base, head)),
    merge: (request) => attempt(() => repo.merge(request)),
    compareAndSwapMain: (expected, next, landed) => attempt(() => repo.compareAndSwapMain(expected, next, landed)),
    mergedMarkers: attempt(() => repo.mergedMarkers()),
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
