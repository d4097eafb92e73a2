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
import type { Event } from "../domain/Event.ts"
import { iterationBranchPrefix, parseIterationBranch, type RunId } from "../domain/Ids.ts"
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
  readonly branchesKept: ReadonlyArray<KeptBranch>
}

/**
 * A run branch kept because it holds approved work that never landed.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeptBranch {
  readonly branch: string
  /** The task the work does, when the log names one. */
  readonly task?: string
  /**
   * The commit on main that has landed the same task since (recovery returned the dead iteration's
   * task and a later run redid it): merging the branch now would apply the task a second time.
   */
  readonly landedSince?: string
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
 * What a run log says about the iterations that hold approved work that never landed: their branch
 * → the approved commit (the iteration's last commit before its latest approval; `undefined` when
 * the log has no commit) and the task it held. Pure, over the events as the run wrote them.
 *
 * @category recovery
 * @since 0.1.0
 */
export const approvedWork = (events: ReadonlyArray<Event>): ReadonlyMap<string, ApprovedWork> => {
  interface Seen {
    branch?: string
    committed?: string
    approved?: { readonly sha: string | undefined }
    merged: boolean
    task?: string
  }
  const iterations = new Map<string, Seen>()
  const seen = (worker: string, iteration: number): Seen => {
    const key = `${worker}\u0000${iteration}`
    let entry = iterations.get(key)
    if (entry === undefined) iterations.set(key, entry = { merged: false })
    return entry
  }
  for (const e of events) {
    switch (e._tag) {
      case "IterationStarted":
        seen(e.worker, e.iteration).branch = e.branch
        break
      case "Committed":
        seen(e.worker, e.iteration).committed = e.sha
        break
      case "VerdictGiven":
        if (e.verdict === "approved") {
          const entry = seen(e.worker, e.iteration)
          entry.approved = { sha: entry.committed }
        }
        break
      case "MergeResult":
        if (e.outcome === "merged") seen(e.worker, e.iteration).merged = true
        break
      case "TaskClaimed":
        seen(e.worker, e.iteration).task ??= e.task
        break
    }
  }
  const work = new Map<string, ApprovedWork>()
  for (const entry of iterations.values()) {
    if (entry.branch === undefined || entry.approved === undefined || entry.merged) continue
    work.set(entry.branch, { approved: entry.approved.sha, task: entry.task })
  }
  return work
}

/**
 * Approved work a run log records for one branch.
 *
 * @category models
 * @since 0.1.0
 */
export interface ApprovedWork {
  readonly approved: string | undefined
  readonly task: string | undefined
}

/**
 * Repairs the repository after dead runs, reading each dead run's log (`runLog`, by run id: the
 * disk's `events.jsonl`, or the simulated run's events) to tell which run branches hold approved
 * work. A branch holding approved work that is not on main is kept, set back to its approved commit:
 * a crash may have left unreviewed commits (a conflict resolution in progress) on top, and a kept
 * branch is offered for merging. It is only ever set back along its own history: a log that names
 * any other commit leaves the branch where it is.
 *
 * @category programs
 * @since 0.1.0
 */
export const run = Effect.fn("Recovery.run")(function*(options: {
  readonly maxTaskAttempts: number
  readonly runLog: (runId: RunId) => Effect.Effect<ReadonlyArray<Event>>
}) {
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
  const kept: Array<KeptBranch> = []
  const logs = new Map<RunId, ReadonlyMap<string, ApprovedWork>>()
  for (const branch of yield* git.listBranches(iterationBranchPrefix)) {
    const work = yield* approvedWorkOf(branch.name, logs, options.runLog)
    if (work !== undefined) {
      // A log without the approved commit's sha, or naming one off the branch's own history (a log
      // is a file anyone can write, and may name a commit that does not exist), keeps the branch where it is.
      const approved = work.approved !== undefined && work.approved !== branch.sha &&
          (yield* git.isAncestor(work.approved, branch.sha).pipe(Effect.orElseSucceed(() => false)))
        ? work.approved
        : branch.sha
      const landed = work.task === undefined ? undefined : merged.get(work.task)
      // Landed as a commit oompa wrote of it (never the approved commit itself): the landing's
      // trailers name this very iteration when a crash cut its bookkeeping short.
      const landedHere = landed !== undefined && landedBy((yield* git.readCommit(landed)).message, branch.name)
      if (!landedHere && !(yield* git.isAncestor(approved, main))) {
        if (approved !== branch.sha) yield* git.setBranch(branch.name, approved)
        kept.push({
          branch: branch.name,
          ...(work.task === undefined ? {} : { task: work.task }),
          ...(landed === undefined ? {} : { landedSince: landed })
        })
        continue
      }
    }
    yield* git.deleteBranch(branch.name)
    deleted.push(branch.name)
  }
  return { returned, completed, workspacesRemoved: workspaces.map((w) => w.path), branchesDeleted: deleted, branchesKept: kept } satisfies RecoveryReport
})

/**
 * Whether the merge commit with `message` landed the work of iteration branch `branch`: its
 * `Oompa-Run`, `Oompa-Worker` and `Oompa-Iteration` trailers (the last of each) name it.
 *
 * @category parsing
 * @since 0.1.0
 */
export const landedBy = (message: string, branch: string): boolean => {
  const named = parseIterationBranch(branch)
  if (named === undefined) return false
  const trailer = (key: string) => [...message.matchAll(new RegExp(`^${key}: (\\S+)$`, "gm"))].at(-1)?.[1]
  return trailer("Oompa-Run") === named.runId && trailer("Oompa-Worker") === named.worker && trailer("Oompa-Iteration") === String(named.iteration)
}

/** How far back along main's first parents a landing is looked for: far more landings than a run makes. */
const firstParentsMax = 10_000

/**
 * Whether `commit` is `main` or one of its first-parent ancestors: a commit main itself moved to,
 * not one merged in from an agent's branch.
 */
const onFirstParentChain = Effect.fnUntraced(function*(commit: string, main: string) {
  const git = yield* Git
  let at = main
  for (let i = 0; i < firstParentsMax; i++) {
    if (at === commit) return true
    const parent = (yield* git.readCommit(at)).parents[0]
    if (parent === undefined) return false
    at = parent
  }
  return false
})

/**
 * Where main at `main` already holds the landing of iteration branch `branch`'s work on `task`: the
 * task's merged marker is on main's first-parent chain and its trailers name that iteration. A
 * merge queue started after another died (a cluster's failover) meets copies of what that one
 * landed: this, not memory, keeps them from landing twice. A task landed by another iteration (a
 * reopened task) is not this one.
 *
 * The marker is a local ref an agent could point anywhere, so it proves nothing by itself: only a
 * commit main moved to carries trailers the merge queue wrote. An agent's own commit, landed inside
 * its work, may carry any trailers (naming another iteration, to have that one's work taken as
 * landed and never landed); it is on main, but never on its first-parent chain. `main` must come
 * from where agents cannot write (the hub as fetched, the queue's own record), never a local ref.
 *
 * @category programs
 * @since 0.1.0
 */
export const landingOnMain = Effect.fnUntraced(function*(task: string, branch: string, main: string) {
  const git = yield* Git
  const marker = (yield* git.mergedMarkers).get(task)
  if (marker === undefined || !(yield* git.isAncestor(marker, main))) return undefined
  const commit = yield* git.readCommit(marker)
  if (!landedBy(commit.message, branch) || !(yield* onFirstParentChain(marker, main))) return undefined
  return { sha: marker, previous: commit.parents[0] ?? marker }
})

/** The approved work the branch's run log records, each log read once. */
const approvedWorkOf = Effect.fnUntraced(function*(
  branch: string,
  logs: Map<RunId, ReadonlyMap<string, ApprovedWork>>,
  runLog: (runId: RunId) => Effect.Effect<ReadonlyArray<Event>>
) {
  const named = parseIterationBranch(branch)
  if (named === undefined) return undefined
  let work = logs.get(named.runId)
  if (work === undefined) logs.set(named.runId, work = approvedWork(yield* runLog(named.runId)))
  return work.get(branch)
})
