/**
 * Recovery (SPEC F14): repairs what a dead run left, over the services — the same program the
 * simulation runs after crashing the orchestrator and the CLI's `oompa cleanup` mirrors on disk.
 *
 * Claims in `current/` go back to `pending/` (no attempt counted), except tasks whose merge already
 * landed on main — found by the merged marker (`refs/oompa/merged/<task>`) the landing moved with
 * main, or by the `Oompa-Task` trailer on main's first-parent chain — which go to `complete/`.
 *
 * Both are checked against each other, because an agent can write any ref: a marker counts only when
 * it names a commit on main whose trailer names the task (only commits oompa writes reach main, see
 * `Git.merge`), and a deleted marker is made up for by the trailer walk, so neither a forged nor a
 * deleted marker can complete an unmerged task or merge a task twice. Workspaces are removed. Run branches are deleted, except those holding approved work
 * that never landed, which are kept and reported. It must only run when no live run holds the
 * repository (the caller holds the run lock).
 *
 * Needs `Git`, `TaskQueue`, `EventSink`.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { EventSink } from "../services/EventSink.ts"
import { type CommitInfo, Git } from "../services/Git.ts"
import { TaskQueue } from "../services/TaskQueue.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface RecoveryReport {
  readonly returned: ReadonlyArray<string>
  readonly completed: ReadonlyArray<{ readonly task: string; readonly sha: string }>
  /** The paths of the workspaces removed. */
  readonly workspacesRemoved: ReadonlyArray<string>
  readonly branchesDeleted: ReadonlyArray<string>
  /** Branches with approved, unmerged work: kept. */
  readonly branchesKept: ReadonlyArray<string>
}

/** How far back main's history is searched for trailers. */
export const historySearchedMax = 10_000

/**
 * The task a merge commit's `Oompa-Task` trailer names (`undefined` for none).
 *
 * @category parsing
 * @since 0.1.0
 */
export const mergedTaskOf = (message: string): string | undefined => {
  // The last one: trailers end the message, and only oompa writes them there.
  const task = [...message.matchAll(/^Oompa-Task: (\S+)$/gm)].at(-1)?.[1]
  return task === "none" ? undefined : task
}

/** The markers that name a commit on main carrying their task's trailer. */
const validMarkers = Effect.gen(function*() {
  const git = yield* Git
  const main = yield* git.mainHead
  const valid = new Map<string, string>()
  for (const [task, sha] of yield* git.mergedMarkers) {
    const onMain = yield* git.isAncestor(sha, main).pipe(Effect.orElseSucceed(() => false))
    if (onMain && mergedTaskOf((yield* git.readCommit(sha)).message) === task) valid.set(task, sha)
  }
  return valid
})

/** The tasks main says were merged, with the commit that landed each: its markers, then its trailers. */
export const mergedTasks = Effect.gen(function*() {
  const git = yield* Git
  const merged = yield* validMarkers
  let sha: string | undefined = yield* git.mainHead
  for (let i = 0; i < historySearchedMax && sha !== undefined; i++) {
    const commit: CommitInfo = yield* git.readCommit(sha)
    const task = mergedTaskOf(commit.message)
    if (task !== undefined && !merged.has(task)) merged.set(task, sha)
    sha = commit.parents[0]
  }
  return merged as ReadonlyMap<string, string>
})

/**
 * The commit on main that landed `task`: its merged marker when that checks out, else the commit on
 * main's first-parent chain with its `Oompa-Task` trailer, searching back from main's head at most
 * `historySearchedMax` commits; `undefined` if none did.
 *
 * @category programs
 * @since 0.1.0
 */
export const findMerge = Effect.fnUntraced(function*(task: string) {
  const git = yield* Git
  const marked = (yield* validMarkers).get(task)
  if (marked !== undefined) return marked
  let sha: string | undefined = yield* git.mainHead
  for (let i = 0; i < historySearchedMax && sha !== undefined; i++) {
    const commit: CommitInfo = yield* git.readCommit(sha)
    if (mergedTaskOf(commit.message) === task) return sha
    sha = commit.parents[0]
  }
  return undefined
})

/**
 * Repairs the repository; `approvedCommit` says which commit of a run branch was approved (the
 * caller knows from the run logs). A branch holding approved work that is not on main is kept, set
 * back to its approved commit: a crash may have left unreviewed commits (a conflict resolution in
 * progress) on top, and a kept branch is offered for merging.
 *
 * @category programs
 * @since 0.1.0
 */
export const run = (options: {
  readonly branchPrefix: string
  readonly maxTaskAttempts: number
  readonly approvedCommit: (branch: string, head: string) => string | undefined
}) =>
  Effect.gen(function*() {
    const git = yield* Git
    const queue = yield* TaskQueue
    const sink = yield* EventSink
    const merged = yield* mergedTasks
    const returned: Array<string> = []
    const completed: Array<{ readonly task: string; readonly sha: string }> = []
    for (const task of yield* queue.list("current")) {
      const sha = merged.get(task.id)
      const at = yield* Clock.currentTimeMillis
      if (sha !== undefined) {
        yield* queue.complete(task.id, sha)
        completed.push({ task: task.id, sha })
        yield* sink.emit({ _tag: "TaskMoved", at, task: task.id, from: "current", to: "complete", reason: `recovery: merged in ${sha}` })
      } else {
        yield* queue.release(task.id, { feedback: task.last_feedback ?? "", countAttempt: false, maxAttempts: options.maxTaskAttempts })
        returned.push(task.id)
        yield* sink.emit({ _tag: "TaskMoved", at, task: task.id, from: "current", to: "pending", reason: "recovery: the run holding it died" })
      }
    }
    const workspaces = yield* git.listWorkspaces
    for (const workspace of workspaces) yield* git.removeWorkspace(workspace)
    const main = yield* git.mainHead
    const deleted: Array<string> = []
    const kept: Array<string> = []
    for (const branch of yield* git.listBranches(options.branchPrefix)) {
      const approved = options.approvedCommit(branch.name, branch.sha)
      if (approved !== undefined && !(yield* git.isAncestor(approved, main))) {
        if (approved !== branch.sha) yield* git.setBranch(branch.name, approved)
        kept.push(branch.name)
        continue
      }
      yield* git.deleteBranch(branch.name)
      deleted.push(branch.name)
    }
    return { returned, completed, workspacesRemoved: workspaces.map((w) => w.path), branchesDeleted: deleted, branchesKept: kept } satisfies RecoveryReport
  })
