/**
 * The invariants of SPEC F13, checked on every event of a simulated run (not only at the end), each
 * with its name and a message naming the commit, task or worker that broke it.
 *
 * Ground truth comes from the simulated world, not from the programs under test: which commits the
 * agent model really approved, which trees really passed the tests, which merges really went
 * through the merge queue. A broken orchestrator (a reviewer bypass, a merge that skips the queue,
 * a merge that ignores a failing test) is therefore caught even when its own events look fine.
 *
 * - I1 every commit main moves to passed policy, review and tests, through the merge queue; and no
 *   commit reachable from main changes a path the policy denies (history included: a `.env`
 *   committed and deleted again must not ride along in a merged branch). A move of main by an agent
 *   (a simulated fault) is not the orchestrator's doing, but it must report it (`MainMovedOutside`)
 *   before the run ends, and never land anything on top of it
 * - I2 no approved work is lost: merged, or kept on a branch
 * - I3 a task is held by at most one worker; none is left in `current/`
 * - I4 main only moves forward, from where it is, through commits the queue computed; no more
 *   candidates in flight than the queue's depth (`merge.speculation`); with a remote target, from
 *   where the remote really is: a teammate's push is never overwritten (issue 20)
 * - I5 review attempts never exceed the bound
 * - I6 the run terminates within bounded simulated time (checked by the simulation loop)
 * - I7 the same seed gives the same trace (checked by running twice)
 * - I8 no task is merged twice
 * - I9 no task is claimed before each of its dependencies merged (issue 18)
 * - I10 no task waits forever: once the liveness phase ends, each task is complete, failed or
 *   invalid (checked by the simulation)
 *
 * @since 0.1.0
 */
import type { Event } from "../domain/Event.ts"
import { dependenciesOf } from "../domain/Task.ts"
import type { PolicyGate } from "../programs/PolicyGate.ts"
import { mergedTaskOf } from "../programs/Recovery.ts"
import type { MemoryRepo } from "../testing/MemoryGit.ts"
import type { MemoryTaskQueueState } from "../testing/MemoryTaskQueue.ts"

/**
 * @category models
 * @since 0.1.0
 */
export type InvariantName = "I1" | "I2" | "I3" | "I4" | "I5" | "I6" | "I7" | "I8" | "I9" | "I10"

/**
 * @category models
 * @since 0.1.0
 */
export interface Violation {
  readonly invariant: InvariantName
  readonly message: string
}

/** What happened to one submission to the merge queue. */
type SubmissionOutcome = "in-flight" | Extract<Event, { _tag: "MergeResult" }>["outcome"]

/**
 * The checker: fed by the world (`recordApproval`, `recordTest`, `mergeStarted`) and by events.
 *
 * @category models
 * @since 0.1.0
 */
export class InvariantChecker {
  readonly violations: Array<Violation> = []
  /** Heads the agent model approved (its intent, whatever the orchestrator did with the answer). */
  readonly approvedHeads = new Set<string>()
  /** Trees the test model passed or failed, by commit. */
  readonly testVerdicts = new Map<string, boolean>()
  /** Merge results computed by the queue, to the branch head they merged. */
  readonly mergedFrom = new Map<string, string>()
  readonly submissions = new Map<string, SubmissionOutcome>()
  private readonly submissionBranches = new Map<string, string>()
  private readonly holders = new Map<string, string>()
  private readonly reviews = new Map<string, number>()
  private readonly mergedTasks = new Map<string, string>()
  /** Commits known to be reachable from main, each checked for denied paths once. */
  private readonly onMain: Set<string>
  /** Commits an agent moved main to (a fault), and the latest such move not reported yet. */
  private readonly foreign = new Set<string>()
  private unreported: string | undefined
  /** Foreign heads this run reported: it must not land on them (a later run may, after a look). */
  private readonly reportedThisRun = new Set<string>()
  /** The candidates built and not yet decided, by `worker#iteration`, to the head each merges. */
  private readonly candidates = new Map<string, string>()
  private main: string
  /** A remote target's head as it really is (teammates' pushes included); `undefined` for a local target. */
  private target: string | undefined
  private readonly repo: MemoryRepo
  private readonly queue: MemoryTaskQueueState
  private readonly policy: PolicyGate
  private readonly reviewAttemptsMax: number
  private readonly testGate: boolean
  private readonly speculation: number

  constructor(options: {
    readonly repo: MemoryRepo
    readonly queue: MemoryTaskQueueState
    readonly policy: PolicyGate
    readonly reviewAttemptsMax: number
    readonly testGate: boolean
    readonly speculation: number
  }) {
    this.repo = options.repo
    this.queue = options.queue
    this.policy = options.policy
    this.reviewAttemptsMax = options.reviewAttemptsMax
    this.testGate = options.testGate
    this.speculation = options.speculation
    this.main = options.repo.mainHead()
    this.target = options.repo.remote?.head
    this.onMain = new Set(options.repo.reachableFrom([this.main]))
  }

  get ok(): boolean {
    return this.violations.length === 0
  }

  private fail(invariant: InvariantName, message: string): void {
    this.violations.push({ invariant, message })
  }

  /**
   * An agent moves main to `sha` itself (the fault, not the orchestrator's doing; the world moves it
   * right after). From now on main is there: a swap from anywhere else passes over it (I4), and the
   * run must report it before it ends (I1).
   */
  foreignMove(sha: string): void {
    this.foreign.add(sha)
    this.onMain.add(sha)
    this.main = sha
    this.unreported = sha
  }

  /** A teammate pushed `sha` to the remote target: the queue may build on it, and must never overwrite it. */
  teammatePushed(sha: string): void {
    this.target = sha
    this.onMain.add(sha)
  }

  /** The queue fetched the remote target: oompa's ref of it now holds `head`, where the remote is. */
  refreshed(head: string): void {
    // A local target's is a read: a move of it is judged as any other.
    if (this.target === undefined) return
    if (head !== this.target) this.fail("I4", `a fetch of the remote target gave ${head.slice(0, 12)}, but it is at ${this.target?.slice(0, 12) ?? "no remote"}`)
    this.main = head
  }

  /** The orchestrator died: a move it had not noticed yet is the next run's starting point. */
  crashed(): void {
    this.unreported = undefined
    this.reportedThisRun.clear()
  }

  /** The merge queue asked Git to merge `head` (again, when a candidate ahead of it left). */
  mergeStarted(head: string): void {
    this.submissions.set(head, "in-flight")
  }

  /** The merge of `head` produced `result` (not yet on main). */
  mergeComputed(head: string, result: string): void {
    this.mergedFrom.set(result, head)
  }

  /** Checks one event, as it is emitted. */
  observe(event: Event): void {
    this.checkMainMovedOnlyByQueue(event)
    switch (event._tag) {
      case "TaskClaimed": {
        const holder = this.holders.get(event.task)
        if (holder !== undefined) this.fail("I3", `task ${event.task} claimed by ${event.worker} while ${holder} holds it`)
        this.holders.set(event.task, event.worker)
        return this.checkDependenciesMerged(event.task, event.worker)
      }
      case "TaskMoved":
        if (event.from === "current") this.holders.delete(event.task)
        return
      case "VerdictGiven":
      case "PolicyViolated": {
        if (event._tag === "PolicyViolated" && event.stage !== "change") return
        const key = `${event.worker}#${event.iteration}`
        const count = (this.reviews.get(key) ?? 0) + 1
        this.reviews.set(key, count)
        if (count > this.reviewAttemptsMax) {
          this.fail("I5", `${event.worker} iteration ${event.iteration}: ${count} review attempts, more than max_review_attempts = ${this.reviewAttemptsMax}`)
        }
        return
      }
      case "CandidateBuilt":
        this.candidates.set(`${event.worker}#${event.iteration}`, event.head)
        if (this.candidates.size > this.speculation) {
          this.fail("I4", `${this.candidates.size} candidates in flight at once, more than merge.speculation = ${this.speculation} (building ${event.head.slice(0, 12)})`)
        }
        return
      case "CandidateEjected":
        // An error ends a submission without a result: it is out of the pipeline all the same.
        if (event.reason === "error" || event.reason === "withdrawn") this.candidates.delete(`${event.worker}#${event.iteration}`)
        return
      case "MergeResult":
        return this.mergeEnded(event)
      case "MainMovedOutside":
        if (event.to !== this.repo.mainHead() && !this.foreign.has(event.to)) this.fail("I1", `a move of main to ${event.to.slice(0, 12)} was reported that never happened`)
        this.unreported = undefined
        this.reportedThisRun.add(event.to)
        return
      default:
        return
    }
  }

  /**
   * A task just claimed (it is in `current/`) waits for nothing: each of its dependencies merged —
   * judged by the merges main really moved to, not by the folders the orchestrator moves tasks in.
   */
  private checkDependenciesMerged(id: string, worker: string): void {
    const task = this.queue.folders.current.get(id)
    if (task === undefined) return
    const unmerged = dependenciesOf(task).filter((dependency) => !this.mergedTasks.has(dependency))
    if (unmerged.length > 0) this.fail("I9", `task ${id} claimed by ${worker} before its dependencies ${unmerged.join(", ")} merged`)
  }

  /** Main may only be where the merge queue's last compare-and-swap put it. */
  private checkMainMovedOnlyByQueue(event: Event): void {
    const head = this.repo.mainHead()
    if (head === this.main) return
    this.fail("I1", `main moved to ${head.slice(0, 12)} without a merge through the merge queue (seen at ${event._tag})`)
    this.main = head
  }

  private mergeEnded(event: Extract<Event, { _tag: "MergeResult" }>): void {
    const key = `${event.worker}#${event.iteration}`
    const head = this.candidates.get(key)
    // Refused before any merge was computed: main had already moved outside the queue.
    if (head === undefined) return
    this.candidates.delete(key)
    this.submissions.set(head, event.outcome)
    this.submissionBranches.set(head, event.branch)
  }

  /**
   * The merge queue moved main from `previous` to `sha` by compare-and-swap: every commit that took
   * main's first-parent chain from `previous` to `sha` is checked — one, unless a candidate landed
   * on top of another that never did.
   */
  mainMoved(previous: string, sha: string): void {
    const head = this.target ?? this.main
    if (previous !== head) {
      this.fail("I4", this.target === undefined
        ? `merge ${sha.slice(0, 12)} moved main from ${previous.slice(0, 12)}, not from its head ${head.slice(0, 12)}`
        : `merge ${sha.slice(0, 12)} was pushed over the remote's head ${head.slice(0, 12)} from ${previous.slice(0, 12)}: a teammate's push is lost`)
    }
    if (this.foreign.has(previous) && (this.unreported === previous || this.reportedThisRun.has(previous))) this.fail("I1", `merge ${sha.slice(0, 12)} landed on ${previous.slice(0, 12)}, where an agent had moved main outside the merge queue`)
    const chain: Array<string> = []
    for (let next: string | undefined = sha; next !== previous; next = this.repo.commit(next).parents[0]) {
      if (next === undefined) {
        this.fail("I4", `main moved to ${sha.slice(0, 12)}, whose first parents never reach ${previous.slice(0, 12)}`)
        break
      }
      chain.push(next)
    }
    for (const landed of chain.reverse()) this.checkLanded(sha, landed)
    this.checkHistory(sha)
    if (this.target !== undefined) {
      this.target = sha
      // oompa's ref of a remote target follows only from where oompa left it: an agent's move of it stays, to be reported.
      if (this.repo.mainHead() === sha) this.main = sha
    } else {
      this.main = sha
    }
  }

  /** One commit main's move to `sha` put on its first-parent chain: reviewed, tested, within the policy, a task once. */
  private checkLanded(sha: string, landed: string): void {
    const what = landed === sha ? `main moved to ${sha.slice(0, 12)}` : `main moved to ${sha.slice(0, 12)} through ${landed.slice(0, 12)}`
    const head = this.mergedFrom.get(landed)
    if (head === undefined || !this.approvedHeads.has(head)) this.fail("I1", `${what}, whose work no reviewer approved`)
    if (this.testGate && this.testVerdicts.get(landed) !== true) {
      this.fail("I1", `${what}, which ${this.testVerdicts.has(landed) ? "failed" : "never ran"} the tests`)
    }
    const parent = this.repo.commit(landed).parents[0]
    const violations = parent === undefined ? [] : this.policy.check(this.repo.diffStat(parent, landed))
    if (violations.length > 0) this.fail("I1", `${what}, which breaks the policy: ${violations.join("; ")}`)
    // Read as recovery reads it, so I8 checks what recovery would conclude.
    const task = mergedTaskOf(this.repo.commit(landed).message)
    if (task !== undefined) {
      const earlier = this.mergedTasks.get(task)
      if (earlier !== undefined) this.fail("I8", `task ${task} merged twice: ${earlier.slice(0, 12)} and ${landed.slice(0, 12)}`)
      this.mergedTasks.set(task, landed)
    }
  }

  /**
   * Every commit main's move made reachable, against each of its parents: none may change a denied
   * path. Walks only the new commits (those not yet known to be on main).
   */
  private checkHistory(sha: string): void {
    const stack = [sha]
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      if (this.onMain.has(next)) continue
      this.onMain.add(next)
      for (const parent of this.repo.commit(next).parents) {
        const denied = this.repo.diffStat(parent, next).filter((change) => this.policy.isDenied(change.path))
        if (denied.length > 0) {
          this.fail("I1", `main moved to ${sha.slice(0, 12)}, from which commit ${next.slice(0, 12)} is reachable, changing denied path(s) ${denied.map((c) => c.path).join(", ")}`)
        }
        stack.push(parent)
      }
    }
  }

  /** The checks that hold once a run (or a crash and its recovery) is over. */
  checkQuiescent(stage: string): void {
    if (this.unreported !== undefined) this.fail("I1", `an agent moved main to ${this.unreported.slice(0, 12)} outside the merge queue, and ${stage} ended without reporting it`)
    this.unreported = undefined
    this.reportedThisRun.clear()
    const current = this.queue.list("current")
    if (current.length > 0) this.fail("I3", `after ${stage}, tasks are left in current/: ${current.map((t) => t.id).join(", ")}`)
    // A new run starts after this point: its workers number their iterations from 1 again.
    this.holders.clear()
    this.reviews.clear()
    this.candidates.clear()
    // Work is kept when some merge main went through came from it or a descendant (landed), or a
    // branch holds it: everything reachable from those merged heads and from the branches.
    // With a remote target, what landed is on the remote, whatever an agent did to oompa's ref of it.
    const onMain = this.repo.reachableFrom(this.target === undefined ? [this.main] : [this.main, this.target])
    const landedFrom = [...this.mergedFrom].filter(([result]) => onMain.has(result)).map(([, from]) => from)
    const kept = this.repo.reachableFrom([...landedFrom, ...this.repo.listBranches("oompa/").map((b) => b.sha)])
    for (const [head, outcome] of this.submissions) {
      if (outcome !== "conflict" && outcome !== "in-flight" && outcome !== "dry-run" && outcome !== "main-moved") continue
      if (kept.has(head)) continue
      this.fail("I2", `approved work ${head.slice(0, 12)} of ${this.submissionBranches.get(head) ?? "an unknown branch"} (${outcome}) is neither merged nor kept on a branch after ${stage}`)
    }
  }
}
