/**
 * The memory repository's merges of trees: a reviewed change landed onto main (`Git.merge`, every
 * strategy) and main merged into a workspace (`Git.mergeIntoWorkspace`, leaving conflict markers),
 * both from the best common ancestor as git does, and both merging only the paths one side changed
 * since it — everywhere else that side equals the base, so git's rules keep the other side's file.
 *
 * What it does not do: recursive merge bases, or replaying each commit for `rebase` — `rebase`
 * (and `ff` when a fast-forward is impossible) lands one commit holding the merged tree.
 *
 * @since 0.1.0
 */
import type { MergeAttempt, MergeRequest } from "../../services/Git.ts"
import { failWith } from "./failure.ts"
import type { CommitGraph } from "./graph.ts"
import { type MarkerLabels, mergeFile } from "./text.ts"
import { changedPaths, deriveTree, type FileContent, type Tree } from "./tree.ts"
import { startFrom, workingFile, type WorkspaceState } from "./workspace.ts"

/** A merged tree and the paths that conflicted, sorted. */
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
  labels: MarkerLabels
): TreeMerge => {
  const edits = new Map<string, FileContent | undefined>()
  const conflicts: Array<string> = []
  for (const path of [...paths].sort()) {
    const merged = mergeFile(base.get(path), sides.ours(path), sides.theirs(path), labels)
    if (merged.conflict) conflicts.push(path)
    edits.set(path, merged.content)
  }
  return { tree: deriveTree(start, edits), conflicts }
}

/**
 * Lands the approved tree of `head` onto `onto` as new unreferenced commits, or reports the
 * conflicting files. The reviewed commit is written first — `head`'s tree on `base`, with the
 * merge message — so nothing of `head`'s history or message is used; then, when main moved past
 * `base`, it is merged onto `onto` (only the paths it changed since `base`; the rest is `onto`'s).
 * `no-ff` records `onto` and the reviewed commit as parents; `ff`, `rebase` and `squash` land the
 * reviewed commit itself when `onto` is `base`, and otherwise one commit on `onto`.
 */
export const land = (graph: CommitGraph, request: MergeRequest, targetBranch: string): MergeAttempt => {
  const { base, head, message, onto, strategy } = request
  const operation = "merge"
  const ours = graph.node(onto, operation).tree
  const theirs = graph.node(head, operation).tree
  if (!graph.isAncestor(base, onto, operation)) failWith(operation, `the reviewed change's base ${base} is not part of ${onto}`)
  const reviewed = graph.add(theirs, [base], message)
  if (onto === base) {
    return { _tag: "Merged", sha: strategy === "no-ff" ? graph.add(theirs, [onto, reviewed], message) : reviewed }
  }
  // As git does: from the best common ancestor — `base`, unless the reviewed commit is already in main.
  const baseTree = graph.node(graph.mergeBase(onto, reviewed, operation) ?? base).tree
  const merged = mergeTrees(
    baseTree,
    { ours: (path) => ours.get(path), theirs: (path) => theirs.get(path) },
    ours,
    changedPaths(baseTree, theirs),
    { ours: targetBranch, theirs: "head" }
  )
  if (merged.conflicts.length > 0) return { _tag: "Conflict", files: merged.conflicts }
  // As git's commit-tree, one parent given twice is recorded once.
  const parents = strategy === "no-ff" && reviewed !== onto ? [onto, reviewed] : [onto]
  return { _tag: "Merged", sha: graph.add(merged.tree, parents, message) }
}

/**
 * Three-way merges `onto` into the workspace's working files (the outbox untouched), leaving
 * conflict markers in conflicting text files; returns the conflicting files. Nothing happens when
 * `onto` is already part of the workspace's history. Only the paths the workspace changed since the
 * merge base are merged; the rest of the working files become `onto`'s.
 */
export const intoWorkspace = (graph: CommitGraph, state: WorkspaceState, onto: string, targetBranch: string): ReadonlyArray<string> => {
  const operation = "mergeIntoWorkspace"
  const theirs = graph.node(onto, operation).tree
  if (graph.isAncestor(onto, state.head, operation)) return []
  const base = graph.mergeBase(state.head, onto, operation) ??
    failWith(operation, `${state.head} and ${onto} share no history`, "missing-object")
  const baseTree = graph.node(base).tree
  const merged = mergeTrees(
    baseTree,
    { ours: (path) => workingFile(state, path), theirs: (path) => theirs.get(path) },
    theirs,
    new Set([...changedPaths(baseTree, state.base), ...state.edits.keys()]),
    { ours: "ours", theirs: targetBranch }
  )
  startFrom(state, merged.tree)
  state.pendingMergeParent = onto
  return merged.conflicts
}
