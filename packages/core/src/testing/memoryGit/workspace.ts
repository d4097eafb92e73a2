/**
 * A workspace of the memory repository — one per worker, as a git worktree is: its checked-out
 * branch and head, its working files, the agent's task outbox `.oompa-new-tasks/` (never
 * committed), what the setup command left (never committed while unchanged), and a merge in
 * progress (`mergeIntoWorkspace` sets the second parent of the next commit).
 *
 * Working files are the tree they started from plus the paths written or deleted since, so a commit
 * looks only at what the agent touched.
 *
 * @since 0.1.0
 */
import type { WorkerId } from "../../domain/Ids.ts"
import * as RepoLayout from "../../domain/RepoLayout.ts"
import type { NewTaskFile } from "../../services/Git.ts"
import { failWith } from "./failure.ts"
import { type FileContent, flatten, sameContent, type Tree } from "./tree.ts"

/**
 * The folder an agent writes new tasks into (SPEC F2), as a prefix of the paths in it; never committed.
 *
 * @category constants
 * @since 0.1.0
 */
export const newTasksFolder = `${RepoLayout.newTasksFolder}/`

/**
 * Where a worker's workspace lives in the memory repository.
 *
 * @category constructors
 * @since 0.1.0
 */
export const workspacePath = (worker: WorkerId): string => `/memory/worktrees/${worker}`

/** Whether `path` is in the task outbox. */
export const isOutbox = (path: string): boolean => path.startsWith(newTasksFolder)

// An empty path, or a segment that is empty, `.` or `..` (a leading, trailing or doubled `/` included).
const badSegment = /(?:^|\/)\.{0,2}(?:\/|$)/

/** `file`, when it is a path a file can have; else a `GitError` of `operation`. */
export const validFilePath = (operation: string, file: string): string =>
  badSegment.test(file) ? failWith(operation, `invalid file path ${JSON.stringify(file)}`) : file

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

/** One workspace, as the repository keeps it. */
export interface WorkspaceState {
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

/** A new workspace, detached at `head` (whose tree is `tree`). */
export const makeWorkspace = (worker: WorkerId, path: string, head: string, tree: Tree): WorkspaceState => ({
  worker,
  path,
  branch: undefined,
  head,
  pendingMergeParent: undefined,
  base: tree,
  edits: new Map(),
  outbox: new Map(),
  setup: new Map()
})

/** A working file: the workspace's own edit when it has one, else the file it started from. */
export const workingFile = (state: WorkspaceState, path: string): FileContent | undefined =>
  state.edits.has(path) ? state.edits.get(path) : state.base.get(path)

/** Every committable working file as one map, for the driver's whole-workspace views. */
export const workingFiles = (state: WorkspaceState): ReadonlyMap<string, FileContent> =>
  state.edits.size === 0 ? state.base.files() : flatten(state.base.files(), state.edits)

/** The working files become `tree`'s, with no edits. */
export const startFrom = (state: WorkspaceState, tree: Tree): void => {
  state.base = tree
  state.edits = new Map()
}

/** The driver's snapshot of a workspace, the outbox included. */
export const viewOf = (state: WorkspaceState): WorkspaceView => ({
  worker: state.worker,
  path: state.path,
  branch: state.branch,
  head: state.head,
  pendingMergeParent: state.pendingMergeParent,
  files: new Map([...workingFiles(state), ...state.outbox])
})

/**
 * The edits a commit takes, and the setup's outputs the agent left as they were: those stay out of
 * the commit and in the working files.
 */
export const committable = (state: WorkspaceState): {
  readonly committed: ReadonlyMap<string, FileContent | undefined>
  readonly untouched: ReadonlyArray<readonly [string, FileContent | undefined]>
} => {
  const untouched = [...state.setup].filter(([path, content]) => state.edits.has(path) && sameContent(state.edits.get(path), content))
  const left = new Set(untouched.map(([path]) => path))
  const committed = left.size === 0 ? state.edits : new Map([...state.edits].filter(([path]) => !left.has(path)))
  return { committed, untouched }
}

/** Reads and removes the files of the task outbox, sorted by name. */
export const takeOutbox = (state: WorkspaceState): ReadonlyArray<NewTaskFile> => {
  const decoder = new TextDecoder()
  const taken = [...state.outbox.keys()].sort().map((path): NewTaskFile => {
    const content = state.outbox.get(path) ?? ""
    return { name: path.slice(newTasksFolder.length), content: typeof content === "string" ? content : decoder.decode(content) }
  })
  state.outbox.clear()
  return taken
}
