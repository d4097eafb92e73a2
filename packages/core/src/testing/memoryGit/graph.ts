/**
 * The memory repository's commits and their history: each commit stored once by sha, with its tree,
 * parents, message and generation (0 for a root, else one more than its highest parent); the
 * ancestry questions the `Git` service asks — is one commit part of another's history, what is
 * reachable from some heads, what is the best common ancestor of two; and the diffs between commits.
 *
 * Walks go newest-generation first and stop as soon as the answer is known, so merging a short
 * branch costs its length plus how far main moved since the fork, not the whole history (walking
 * whole histories instead made the orchestration benchmark ~60% slower). When
 * several best common ancestors exist (criss-cross merges), the one with the highest generation and
 * then the smallest sha is used, where git would merge them recursively.
 *
 * @since 0.1.0
 */
import type { FileChange } from "../../services/Git.ts"
import { failWith } from "./failure.ts"
import { commitSha } from "./hash.ts"
import { fileChange, fileDiffText } from "./text.ts"
import { changedPaths, type FileContent, sameTree, type Tree } from "./tree.ts"

/**
 * A commit as the driver reports it: the whole tree, not a delta (built when `tree` is read).
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

// A commit as callers see it: the whole-tree map is built only when one reads `tree`.
class StoredRecord implements CommitRecord {
  readonly sha: string
  readonly parents: ReadonlyArray<string>
  readonly message: string
  readonly #files: Tree

  constructor(sha: string, parents: ReadonlyArray<string>, message: string, files: Tree) {
    this.sha = sha
    this.parents = parents
    this.message = message
    this.#files = files
  }

  get tree(): ReadonlyMap<string, FileContent> {
    return this.#files.files()
  }
}

/** A stored commit with what ancestry walks and merges need next to it. */
export interface CommitNode {
  readonly record: CommitRecord
  readonly tree: Tree
  /** 0 for a root, else one more than its highest parent: an ancestor's is always lower. */
  readonly generation: number
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

/** Every commit of one repository, by sha, and the walks over their parents. */
export class CommitGraph {
  private readonly commits = new Map<string, CommitNode>()

  /** The stored commit; `GitError` (missing-object) when unknown. */
  node(sha: string, operation = "commit"): CommitNode {
    return this.commits.get(sha) ?? failWith(operation, `unknown commit ${sha}`, "missing-object")
  }

  /**
   * Stores a commit and returns its sha; the same tree, parents and message is the same commit. The
   * sha covers the tree through its digest and size, so it costs O(message), not O(files).
   */
  add(tree: Tree, parents: ReadonlyArray<string>, message: string): string {
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

  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  isAncestor(ancestor: string, descendant: string, operation: string): boolean {
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
  reachableFrom(heads: Iterable<string>, operation: string): ReadonlySet<string> {
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
  mergeBase(a: string, b: string, operation: string): string | undefined {
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

  /** Per-file change from `base` to `head`, sorted by path. */
  diffStat(base: string, head: string): ReadonlyArray<FileChange> {
    const before = this.node(base, "diffStat").tree
    const after = this.node(head, "diffStat").tree
    return changedPaths(before, after).map((path) => fileChange(path, before.get(path), after.get(path)))
  }

  /** A unified diff from `base` to `head` (3 lines of context), new, deleted and binary files included. */
  diffText(base: string, head: string): string {
    const before = this.node(base, "diffText").tree
    const after = this.node(head, "diffText").tree
    const lines = changedPaths(before, after).flatMap((path) => fileDiffText(path, before.get(path), after.get(path)))
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`
  }
}
