/**
 * The merge queue (SPEC F6, F8): the only way work reaches main.
 *
 * Submissions are decided in the order they came: each approved tree is landed as commits oompa
 * writes (`Git.merge`: never the agent's own commits) onto main — or, with `speculation` k > 1, onto
 * the candidate ahead of it (`MergePipeline`) — checked against the policy, tested on exactly that
 * commit, and main moves by compare-and-swap — from the value the queue itself last saw, together
 * with the task's merged marker — only to that tested commit. Whatever k, the outcomes are those of a
 * one-at-a-time queue given the same submissions in the same order; k only changes when they come.
 *
 * Main is only ever moved by this queue. When it is found anywhere else (`checkMain`, before every
 * landing and after every agent call; or a lost compare-and-swap), something outside moved it — an
 * agent with `git update-ref`, or through a worktree HEAD it pointed at main — and the queue lands
 * nothing more: building on that commit would bury unreviewed work under reviewed merges. The move
 * is reported (`MainMovedOutside`), every later submission comes back `MainMoved` with its work kept
 * on its branch, and the workers stop. The fiber never ends on its own; the swarm's scope
 * interrupts it.
 *
 * Needs `Git`, `CommandRunner` (when a test command is set) and `EventSink`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Option, Ref, Semaphore } from "effect"
import type { Event } from "../domain/Event.ts"
import type { MergeStrategy } from "../domain/SwarmConfig.ts"
import type { CommandError, GitError, PullRequestError } from "../services/Errors.ts"
import { emitNow, EventSink } from "../services/EventSink.ts"
import * as MergePipeline from "./MergePipeline.ts"
import { Git } from "../services/Git.ts"
import type * as PolicyGate from "./PolicyGate.ts"

/**
 * Approved work asking to land.
 *
 * @category models
 * @since 0.1.0
 */
export interface Submission {
  readonly worker: string
  readonly iteration: number
  /**
   * Which submission of the iteration this is (1, 2, … after a failed test or a conflict): with
   * worker and iteration, what the queue knows it by, so a copy delivered again — at once or after
   * it was decided — gets the one outcome, and only a new submission is merged again. Default 1.
   */
  readonly number?: number | undefined
  readonly branch: string
  /** The main the approved change starts from (see `Git.MergeRequest.base`). */
  readonly base: string
  /** The approved commit (head of the worker's branch). */
  readonly head: string
  readonly message: string
  /** The task it does: its merged marker moves with main. */
  readonly task?: string | undefined
  /** What a pull request says of the work (markdown: the task, the review, the policy); the message otherwise. */
  readonly description?: string | undefined
  /** Whether `branch` goes once its work landed (in the same transaction), as it would after the iteration. */
  readonly retireBranch?: boolean | undefined
}

/**
 * A move of main the queue did not make.
 *
 * @category models
 * @since 0.1.0
 */
export interface ForeignMove {
  readonly from: string
  readonly to: string
  readonly worker?: string | undefined
  readonly iteration?: number | undefined
}

/**
 * What `checkMain` found: main where the queue left it, or moved by someone else.
 *
 * @category models
 * @since 0.1.0
 */
export type MainCheck =
  | { readonly _tag: "Unchanged"; readonly main: string }
  | { readonly _tag: "Moved"; readonly move: ForeignMove }

/**
 * What happened to a submission.
 *
 * @category models
 * @since 0.1.0
 */
export type MergeOutcome = Timed & (
  /** `sha` is on main now, moved from `previous`. */
  | { readonly _tag: "Merged"; readonly sha: string; readonly previous: string }
  | { readonly _tag: "Conflict"; readonly files: ReadonlyArray<string> }
  /** The candidate `sha` (the merge onto main) failed the test gate. */
  | { readonly _tag: "TestFailed"; readonly sha: string; readonly output: string }
  /** The candidate `sha` breaks the policy. */
  | { readonly _tag: "PolicyFailed"; readonly sha: string; readonly violations: ReadonlyArray<string> }
  /** Everything but the landing (`--dry-run`): `sha` would have moved main from `previous`. */
  | { readonly _tag: "DryRun"; readonly sha: string; readonly previous: string }
  | { readonly _tag: "MainMoved"; readonly move: ForeignMove }
  /** A reviewer on the pull request of `sha` asked for changes (`target.mode: "pr"`); `feedback` is what they wrote. */
  | { readonly _tag: "ChangesRequested"; readonly sha: string; readonly feedback: string }
  /** The pull request was closed without being merged (`target.mode: "pr"`). */
  | { readonly _tag: "Closed"; readonly sha: string; readonly reason: string }
)

/**
 * How long a submission waited in the queue, and how long its test ran (0 without one).
 *
 * @category models
 * @since 0.1.0
 */
export interface Timed {
  readonly waitedMs: number
  readonly testMs: number
}

/**
 * The run log's record of an outcome (`MergeResult`): what it names, in the log's words.
 *
 * @category conversions
 * @since 0.1.0
 */
export const resultEvent = (submission: Submission, outcome: MergeOutcome, at: number): Extract<Event, { _tag: "MergeResult" }> => {
  const base = { _tag: "MergeResult", at, worker: submission.worker, iteration: submission.iteration, branch: submission.branch } as const
  switch (outcome._tag) {
    case "Merged":
      return { ...base, outcome: "merged", files: [], sha: outcome.sha, previous: outcome.previous }
    case "Conflict":
      return { ...base, outcome: "conflict", files: outcome.files }
    case "TestFailed":
      return { ...base, outcome: "test-failed", files: [], sha: outcome.sha }
    case "PolicyFailed":
      return { ...base, outcome: "policy-failed", files: outcome.violations, sha: outcome.sha }
    case "DryRun":
      return { ...base, outcome: "dry-run", files: [], sha: outcome.sha, previous: outcome.previous }
    case "MainMoved":
      return { ...base, outcome: "main-moved", files: [], sha: outcome.move.to, previous: outcome.move.from }
    case "ChangesRequested":
      return { ...base, outcome: "changes-requested", files: [], sha: outcome.sha }
    case "Closed":
      return { ...base, outcome: "closed", files: [], sha: outcome.sha }
  }
}

/**
 * The run's merge queue: one per run, shared by its workers (`RunServices.layer` builds it).
 *
 * @category services
 * @since 0.1.0
 */
export class MergeQueue extends Context.Service<MergeQueue, {
  /** Queues the submission and waits for its outcome. */
  readonly submit: (submission: Submission) => Effect.Effect<MergeOutcome, GitError | CommandError | PullRequestError>
  /**
   * Whether main is still where the queue last left it. A move found here halts the queue and is
   * reported once, naming `noticedBy` (whose agent call just ended) when given.
   */
  readonly checkMain: (noticedBy?: { readonly worker: string; readonly iteration: number }) => Effect.Effect<MainCheck, GitError>
  /** The foreign move that halted the queue, if one did. */
  readonly halted: Effect.Effect<Option.Option<ForeignMove>>
  /**
   * Work an earlier run left waiting on people (`target.mode: "pr"`; absent otherwise): the task's
   * open pull request, watched until it is decided, with the commit it holds and the main that
   * commit stands on; `undefined` when the task has none.
   */
  readonly resume?: ((request: ResumeRequest) => Effect.Effect<Resumed | undefined, GitError | CommandError | PullRequestError>) | undefined
}>()("@oompa/core/programs/MergeQueue") {}

/**
 * The iteration asking whether its task's work is already waiting (`MergeQueue.resume`).
 *
 * @category models
 * @since 0.1.0
 */
export interface ResumeRequest {
  readonly worker: string
  readonly iteration: number
  readonly task: string
  /** The iteration's own branch (for the run log). */
  readonly branch: string
}

/**
 * Work found waiting and watched to its outcome: `head` is the commit the pull request holds, `base`
 * the main it was built on (its first parent).
 *
 * @category models
 * @since 0.1.0
 */
export interface Resumed {
  readonly head: string
  readonly base: string
  readonly outcome: MergeOutcome
}

/**
 * How a submission reaches the queue: once, on one machine. Delivery across machines is at least
 * once, so the queue takes a copy for the submission it is (`MergePipeline.keyOf`); the simulation
 * delivers copies now and then to prove it.
 *
 * @category references
 * @since 0.1.0
 */
export const Delivery = Context.Reference<{
  /** Copies delivered at once. */
  readonly copies: (submission: Submission) => number
  /** A copy delivered again this long after (ms), whatever became of the first; `undefined`: none. */
  readonly lateMs: (submission: Submission) => number | undefined
  /**
   * Copies of landed submissions delivered again to a queue started after the first one died — a
   * cluster's failover, the answer lost with the runner — which remembers nothing. Absent: never.
   */
  readonly failover?: {
    /** The copy comes this long after (ms); `undefined`: no copy. */
    readonly afterMs: (submission: Submission) => number | undefined
    /** The target as the runner that took over sees it (its own clone); default: the run's `Git`. */
    readonly git?: Git["Service"] | undefined
  } | undefined
}>("@oompa/core/programs/MergeQueue/Delivery", {
  defaultValue: () => ({ copies: () => 1, lateMs: () => undefined })
})

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly strategy: MergeStrategy
  readonly policy: PolicyGate.PolicyGate
  readonly testCommand: string | undefined
  readonly testTimeoutMs: number
  readonly dryRun: boolean
  /** How many candidates are built and tested at once (`merge.speculation`); default 1. */
  readonly speculation?: number | undefined
  /**
   * Whether each submission of a task first looks on main for its own landing (the task's merged
   * marker, naming its iteration): a copy of work already landed is answered `Merged` and never
   * landed again. Default: on for a remote target, where another machine's queue may have landed
   * it (a cluster's failover); a local target has one queue, which remembers.
   */
  readonly landsOnce?: boolean | undefined
}

/**
 * Starts the queue's fiber in the current scope and returns the queue.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const sink = yield* EventSink
    const git = yield* Git
    // A remote target is fetched first: the queue starts from where it really is.
    const main: MainState = { lastSeen: yield* git.refreshMain, halted: yield* Ref.make(Option.none<ForeignMove>()), lock: yield* Semaphore.make(1) }
    const withServices = <A, E>(effect: Effect.Effect<A, E, Git | EventSink>) => effect.pipe(Effect.provideService(Git, git), Effect.provideService(EventSink, sink))
    const checkMain = (noticedBy?: { readonly worker: string; readonly iteration: number }) => withServices(main.lock.withPermit(check(main, noticedBy)))
    const pipeline = yield* MergePipeline.make({ ...options, landsOnce: options.landsOnce ?? git.target === "remote" }, {
      lastSeen: () => main.lastSeen,
      check: checkMain(),
      follows: git.target === "remote",
      // A remote target moved by someone else's push is followed, never overwritten.
      // The oompa-only ref it is fetched into is checked first: a move of it is an agent's, reported, not fetched over.
      refresh: withServices(main.lock.withPermit(Effect.gen(function*() {
        const checked = yield* check(main)
        if (checked._tag === "Moved") return checked
        const from = main.lastSeen
        const to = yield* git.refreshMain
        main.lastSeen = to
        if (to !== from) yield* emitNow((at) => ({ _tag: "TargetMoved", at, from, to }))
        return { _tag: "Refreshed", moved: to !== from } as const
      }))),
      // From the value the queue last saw, under the lock `checkMain` takes: no check sees main half-moved.
      swap: (next, landed, retired) =>
        main.lock.withPermit(Effect.gen(function*() {
          // A halted queue lands nothing more, even where main was put back since.
          if (Option.isSome(yield* Ref.get(main.halted))) return false
          if (!(yield* git.compareAndSwapMain(main.lastSeen, next, landed, retired))) return false
          main.lastSeen = next
          return true
        }))
    }, yield* Effect.scope)
    return { submit: pipeline.submit, checkMain, halted: Ref.get(main.halted) } satisfies MergeQueue["Service"]
  })

/** Where the queue last left main; `lock` makes a landing and a check of main take turns. */
interface MainState {
  lastSeen: string
  readonly halted: Ref.Ref<Option.Option<ForeignMove>>
  readonly lock: Semaphore.Semaphore
}

/** Compares main with the value the queue last saw; the first difference halts the queue and is reported. */
const check = Effect.fnUntraced(function*(main: MainState, noticedBy?: { readonly worker: string; readonly iteration: number }) {
  const git = yield* Git
  const now = yield* git.mainHead
  const halted = yield* Ref.get(main.halted)
  // Once halted, main is watched from where it was last seen moved: every further move is reported too.
  const seen = Option.isSome(halted) ? halted.value.to : main.lastSeen
  if (now === seen) return Option.isSome(halted) ? { _tag: "Moved", move: halted.value } satisfies MainCheck : { _tag: "Unchanged", main: now } satisfies MainCheck
  return { _tag: "Moved", move: yield* halt(main, seen, now, noticedBy) } satisfies MainCheck
})

/** Reports the move from `from` to `to` and halts the queue; the halt spans every move since the queue last landed. */
const halt = Effect.fnUntraced(function*(main: MainState, from: string, to: string, noticedBy?: { readonly worker: string; readonly iteration: number }) {
  const by = noticedBy === undefined ? {} : { worker: noticedBy.worker, iteration: noticedBy.iteration }
  const first = yield* Ref.get(main.halted)
  const move: ForeignMove = Option.isSome(first) ? { ...first.value, to } : { from, to, ...by }
  yield* Ref.set(main.halted, Option.some(move))
  yield* emitNow((at) => ({ _tag: "MainMovedOutside", at, from, to, ...by }))
  return move
})
