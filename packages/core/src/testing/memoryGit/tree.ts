/**
 * The memory repository's trees: immutable maps from path to content, each derived from another by
 * a few edits, as commits are.
 *
 * A tree is a snapshot shared with other trees plus a small set of its own overrides, folded into a
 * new snapshot every ~√n derivations; it remembers the tree it was derived from and which paths it
 * changed, and carries a digest (`hash.ts`) updated from its parent's. So a commit hashes only the
 * changed files, and a diff or a merge between related trees looks only at the paths changed on
 * the way between them, not at the whole tree: the orchestration benchmark commits and merges on
 * every iteration of a swarm. Each of these pays for itself there (`bench/src/swarm.bench.ts`, CPU
 * time, measured when this module was split out): with whole-map trees it ran ~25% slower, with a
 * digest recomputed per tree ~35%, comparing whole trees instead of the changed paths ~55%, and
 * listing a folder (`pathsUnder`) through the whole map ~10%.
 *
 * @since 0.1.0
 */
import { applyEntry, type Lanes } from "./hash.ts"

/**
 * A file's content: a string for text, bytes for a binary file. Bytes handed out by the driver
 * (trees, workspace views) are shared with the stored commits: treat them as immutable.
 *
 * @category models
 * @since 0.1.0
 */
export type FileContent = string | Uint8Array

/** Path to new content, `undefined` meaning deleted: a tree's overrides, a workspace's edits. */
export type Edits = ReadonlyMap<string, FileContent | undefined>

/** Whether two contents are equal (bytes compared byte by byte; text never equals bytes). */
export const sameContent = (a: FileContent | undefined, b: FileContent | undefined): boolean => {
  if (a === b) return true
  if (a === undefined || b === undefined || typeof a === "string" || typeof b === "string") return false
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** A copy the caller may keep: bytes are copied, text is immutable. */
export const copyContent = (content: FileContent): FileContent => typeof content === "string" ? content : content.slice()

// The overrides a tree may carry before they are folded into a new snapshot. About √n balances the
// two costs: deriving copies the overrides, and folding copies the snapshot every ~√n derivations.
const overridesMax = (size: number): number => 8 + Math.ceil(Math.sqrt(size))

/** The snapshot with the overrides applied; copying the snapshot whole is what Map does fastest. */
export const flatten = (snapshot: ReadonlyMap<string, FileContent>, overrides: Edits): Map<string, FileContent> => {
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
export class Tree {
  readonly snapshot: ReadonlyMap<string, FileContent>
  readonly overrides: Edits
  readonly size: number
  readonly digest: Readonly<Lanes>
  readonly from: Tree | undefined
  readonly changed: ReadonlyArray<string>
  /** Derivation steps from the root tree; it lets two trees find the tree both came from. */
  readonly depth: number

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
  static root(files: ReadonlyMap<string, FileContent>): Tree {
    const digest = { lo: 0, hi: 0 }
    for (const [path, content] of files) applyEntry(digest, path, content, 1)
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

  /** Every file as one map, built for callers that read the whole tree. */
  files(): ReadonlyMap<string, FileContent> {
    return this.overrides.size === 0 ? this.snapshot : flatten(this.snapshot, this.overrides)
  }
}

/** `from` with `edits` applied; `from` itself when they change nothing. O(edits + √size) amortized. */
export const deriveTree = (from: Tree, edits: Edits): Tree => {
  const digest = { ...from.digest }
  const changed: Array<string> = []
  let size = from.size
  for (const [path, content] of edits) {
    const before = from.get(path)
    if (sameContent(before, content)) continue
    changed.push(path)
    if (before !== undefined) applyEntry(digest, path, before, -1)
    if (content !== undefined) applyEntry(digest, path, content, 1)
    size += (content === undefined ? 0 : 1) - (before === undefined ? 0 : 1)
  }
  if (changed.length === 0) return from
  const overrides = new Map(from.overrides)
  for (const path of changed) overrides.set(path, edits.get(path))
  // Past the bound, the overrides are folded into a new snapshot.
  const fold = overrides.size > overridesMax(size)
  return new Tree({
    snapshot: fold ? flatten(from.snapshot, overrides) : from.snapshot,
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
export const changedPaths = (a: Tree, b: Tree): Array<string> => {
  if (a === b) return []
  const candidates = derivationDelta(a, b) ?? new Set([...a.files().keys(), ...b.files().keys()])
  return [...candidates].filter((path) => !sameContent(a.get(path), b.get(path))).sort()
}

/** Whether two trees hold the same files. */
export const sameTree = (a: Tree, b: Tree): boolean =>
  a === b || (a.size === b.size && a.digest.lo === b.digest.lo && a.digest.hi === b.digest.hi && changedPaths(a, b).length === 0)
