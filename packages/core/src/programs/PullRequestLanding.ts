/**
 * Landing through pull requests (issue 20, `target.mode: "pr"`): the merge queue of a run whose work
 * reaches main through the code host, its checks and its people.
 *
 * Each submission is built as the local queue builds it — the approved tree as a commit oompa
 * writes onto the remote's current main (`Git.merge`), checked against the policy and, when a test
 * command is set, tested — and that commit, exactly, is pushed to the remote's branch
 * `oompa/<task>` and opened as a pull request (one per task: a later submission of the task updates
 * it). Then it is watched, every `pollMs`:
 *
 * - merged by the host (a person, or `autoMerge` below) → `Merged`, with the commit on main;
 * - closed without merging → `Closed`: the task fails with the reason;
 * - a check failed on the pushed commit → `TestFailed` with the checks' report, and a reviewer who
 *   asked for changes on it → `ChangesRequested` with what they wrote: both go back to the worker as
 *   fix feedback (`ReviewLoop`, bounded by `max_review_attempts`), whose next approved submission
 *   is pushed to the same pull request;
 * - with `autoMerge`, once the checks passed and no reviewer asks for changes, the host is asked to
 *   merge that commit (and only that one: the request names it). A refusal because main moved on
 *   rebuilds the commit on the new main and pushes it; any other (a required review, a required
 *   check) is waited out.
 *
 * A run stopped while a pull request waits (Ctrl-C, `kill -9`) leaves it with people; the next
 * claim of its task finds it again by its branch (`resume`): merged meanwhile, the task completes
 * without an agent call; open, it is watched as above, and feedback is acted on from the commit it
 * holds. A pull request closed without merging is passed over: the task is being tried again.
 *
 * Submissions are watched concurrently (people take hours); local builds and tests take turns
 * within `speculation` at once. A submission delivered twice (the same worker, iteration and
 * number) gets the one outcome. Main is the host's: it is never pushed to, only followed, so the
 * queue never halts (`checkMain` only reads it).
 *
 * Needs `Git` (a remote target), `PullRequests`, `EventSink`, and `CommandRunner` with a test
 * command.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Effect, Option, Semaphore } from "effect"
import type { MergeStrategy } from "../domain/SwarmConfig.ts"
import type { CommandRunner } from "../services/CommandRunner.ts"
import { emitNow, type EventSink } from "../services/EventSink.ts"
import type { CommandError, GitError, PullRequestError } from "../services/Errors.ts"
import { Git } from "../services/Git.ts"
import { type MergeMethod, type PullRequest, PullRequests } from "../services/PullRequests.ts"
import { keyOf, testCandidate } from "./MergePipeline.ts"
import { type MergeOutcome, MergeQueue, type Resumed, type ResumeRequest, resultEvent, type Submission } from "./MergeQueue.ts"
import type * as PolicyGate from "./PolicyGate.ts"

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
  /** How many submissions are built and tested locally at once; default 1. */
  readonly speculation?: number | undefined
  readonly autoMerge: boolean
  /** How long between two looks at an open pull request. */
  readonly pollMs: number
}

/**
 * The remote branch a submission's pull request is made from: one per task.
 *
 * @category naming
 * @since 0.1.0
 */
export const branchOf = (submission: Submission): string =>
  `oompa/${submission.task ?? `${submission.worker}-${submission.iteration}`}`

/**
 * How the host merges, after the strategy oompa already applied to the pushed commit: a squashed
 * or rebased commit is squashed or rebased again (one commit on main); otherwise a merge commit.
 *
 * @category naming
 * @since 0.1.0
 */
export const methodOf = (strategy: MergeStrategy): MergeMethod => strategy === "squash" ? "squash" : strategy === "rebase" ? "rebase" : "merge"

/** A built submission: the commit pushed, and the main it was built on. */
type Built =
  | { readonly _tag: "Built"; readonly sha: string; readonly onto: string }
  | { readonly _tag: "Decided"; readonly outcome: MergeOutcome }

/**
 * Returns the merge queue of a run landing through pull requests.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const git = yield* Git
    const pullRequests = yield* PullRequests
    const services = yield* Effect.context<EventSink | CommandRunner>()
    const builds = yield* Semaphore.make(Math.max(1, options.speculation ?? 1))
    const decided = new Map<string, Deferred.Deferred<MergeOutcome, GitError | CommandError | PullRequestError>>()
    const method = methodOf(options.strategy)

    /** Deletes a merged pull request's branch from the remote; a failure to delete it loses nothing, and is said. */
    const retireRemoteBranch = (worker: string, number: number, branch: string) =>
      git.publishBranch(branch, undefined).pipe(
        Effect.catchTag("GitError", (e) => emitNow((at) => ({ _tag: "Warning", at, worker, message: `pull request #${number} merged, but its branch ${branch} stays on the remote: ${e.message}` })))
      )

    /** The approved tree as a commit onto the remote's main, through the policy and the test. */
    const build = (submission: Submission) =>
      builds.withPermit(Effect.gen(function*() {
        const onto = yield* git.refreshMain
        const timed = (testMs: number) => ({ waitedMs: 0, testMs })
        const attempt = yield* git.merge({ onto, base: submission.base, head: submission.head, strategy: options.strategy, message: submission.message })
        if (attempt._tag === "Conflict") return { _tag: "Decided", outcome: { _tag: "Conflict", files: attempt.files, ...timed(0) } } satisfies Built
        const violations = options.policy.check(yield* git.diffStat(onto, attempt.sha))
        if (violations.length > 0) return { _tag: "Decided", outcome: { _tag: "PolicyFailed", sha: attempt.sha, violations, ...timed(0) } } satisfies Built
        let testMs = 0
        if (options.testCommand !== undefined) {
          const tested = yield* testCandidate(submission, attempt.sha, options.testCommand, options.testTimeoutMs, 1)
          testMs = tested.durationMs
          if (!tested.passed) return { _tag: "Decided", outcome: { _tag: "TestFailed", sha: attempt.sha, output: tested.output, ...timed(testMs) } } satisfies Built
        }
        if (options.dryRun) return { _tag: "Decided", outcome: { _tag: "DryRun", sha: attempt.sha, previous: onto, ...timed(testMs) } } satisfies Built
        return { _tag: "Built", sha: attempt.sha, onto } satisfies Built
      }))

    /** Pushes the built commit and opens (or updates) the task's pull request. */
    const publish = Effect.fnUntraced(function*(submission: Submission, sha: string) {
      const branch = branchOf(submission)
      yield* git.publishBranch(branch, sha)
      const opened = yield* pullRequests.open({
        branch,
        base: git.targetBranch,
        title: (submission.message.split("\n", 1)[0] ?? branch).replace(/^oompa: /, ""),
        body: submission.description ?? submission.message
      })
      yield* emitNow((at) => ({
        _tag: "PullRequestOpened",
        at,
        worker: submission.worker,
        iteration: submission.iteration,
        ...(submission.task === undefined ? {} : { task: submission.task }),
        number: opened.number,
        url: opened.url,
        branch,
        head: sha
      }))
      return opened
    })

    /** Watches the pull request `opened` of `sha` (built on `onto`) until it is decided. */
    const watch = Effect.fnUntraced(function*(submission: Submission, built: { sha: string; onto: string }, first: PullRequest, startedMs: number) {
      let { onto, sha } = built
      let opened = first
      const timed = () => Effect.map(Clock.currentTimeMillis, (now) => ({ waitedMs: Math.max(0, now - startedMs), testMs: 0 }))
      while (true) {
        const state = yield* pullRequests.state(opened.number, sha)
        if (state._tag === "Merged") {
          yield* git.refreshMain
          if (submission.retireBranch === true) yield* git.deleteBranch(submission.branch)
          yield* retireRemoteBranch(submission.worker, opened.number, branchOf(submission))
          return { _tag: "Merged", sha: state.sha, previous: onto, ...(yield* timed()) } satisfies MergeOutcome
        }
        if (state._tag === "Closed") {
          return { _tag: "Closed", sha, reason: `pull request #${opened.number} (${opened.url}) was closed without being merged`, ...(yield* timed()) } satisfies MergeOutcome
        }
        if (state.checks._tag === "Failed") {
          return { _tag: "TestFailed", sha, output: `The checks of pull request #${opened.number} failed:\n${state.checks.report}`, ...(yield* timed()) } satisfies MergeOutcome
        }
        if (state.changesRequested !== undefined) {
          return { _tag: "ChangesRequested", sha, feedback: state.changesRequested, ...(yield* timed()) } satisfies MergeOutcome
        }
        if (options.autoMerge && state.checks._tag === "Passed" && state.head === sha) {
          const answer = yield* pullRequests.merge(opened.number, sha, method)
          if (answer._tag === "Merged") continue // the next look finds it merged, with the host's commit
          // Refused: if main moved on, the work is built again on it (a conflict goes back to the worker).
          if ((yield* git.refreshMain) !== onto) {
            const rebuilt = yield* build(submission)
            if (rebuilt._tag === "Decided") return rebuilt.outcome
            ;({ onto, sha } = rebuilt)
            opened = yield* publish(submission, sha)
            continue
          }
        }
        yield* Effect.sleep(options.pollMs)
      }
    })

    const decide = (submission: Submission) =>
      Effect.gen(function*() {
        const startedMs = yield* Clock.currentTimeMillis
        const built = yield* build(submission)
        const outcome = built._tag === "Decided" ? built.outcome : yield* watch(submission, built, yield* publish(submission, built.sha), startedMs)
        yield* emitNow((at) => resultEvent(submission, outcome, at))
        return outcome
      })

    const submit = (submission: Submission) =>
      Effect.gen(function*() {
        const key = keyOf(submission)
        const known = decided.get(key)
        if (known !== undefined) return yield* Deferred.await(known)
        const deferred = yield* Deferred.make<MergeOutcome, GitError | CommandError | PullRequestError>()
        decided.set(key, deferred)
        // Whoever delivered it first decides it; a copy delivered again waits for that outcome.
        const exit = yield* Effect.exit(decide(submission))
        yield* Deferred.done(deferred, exit)
        // An interrupted submitter leaves nothing decided: a copy delivered later starts again.
        if (exit._tag === "Failure" && exit.cause.reasons.some((r) => r._tag === "Interrupt")) decided.delete(key)
        return yield* exit
      }).pipe(Effect.provideContext(services))

    /** The task's open pull request, left by an earlier run, watched to its outcome. */
    const resume = (request: ResumeRequest) =>
      Effect.gen(function*() {
        const branch = `oompa/${request.task}`
        const found = yield* pullRequests.find(branch, git.targetBranch)
        if (found === undefined) return undefined
        if (found.merged !== undefined) {
          // Merged while no run watched: the work is on main, the task is done.
          const merged = found.merged
          yield* git.refreshMain
          yield* retireRemoteBranch(request.worker, found.number, branch)
          return { head: found.head, base: found.head, outcome: { _tag: "Merged", sha: merged, previous: merged, waitedMs: 0, testMs: 0 } } satisfies Resumed
        }
        // Its branch as the host has it now (a push since the last look included); its commits come with it.
        const head = (yield* git.fetchBranch(branch)) ?? found.head
        const commit = yield* git.readCommit(head)
        const base = commit.parents[0] ?? head
        // As if this iteration had submitted it: a rebuild (main moved) writes the same message again.
        const submission: Submission = { worker: request.worker, iteration: request.iteration, number: 0, branch: request.branch, base, head, message: commit.message, task: request.task }
        yield* emitNow((at) => ({ _tag: "PullRequestOpened", at, worker: request.worker, iteration: request.iteration, task: request.task, number: found.number, url: found.url, branch, head }))
        const outcome = yield* watch(submission, { sha: head, onto: base }, found, yield* Clock.currentTimeMillis)
        yield* emitNow((at) => resultEvent(submission, outcome, at))
        return { head, base, outcome } satisfies Resumed
      }).pipe(Effect.provideContext(services))

    return MergeQueue.of({
      resume,
      submit,
      checkMain: () => Effect.map(git.mainHead, (main) => ({ _tag: "Unchanged", main }) as const),
      halted: Effect.succeed(Option.none())
    })
  })
