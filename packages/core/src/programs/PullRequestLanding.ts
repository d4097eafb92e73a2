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
import { Cause, Clock, Deferred, Effect, Exit, Option, Semaphore } from "effect"
import type { MergeStrategy } from "../domain/SwarmConfig.ts"
import type { CommandRunner } from "../services/CommandRunner.ts"
import { emitNow, type EventSink } from "../services/EventSink.ts"
import type { CommandError, GitError, PullRequestError } from "../services/Errors.ts"
import { Git } from "../services/Git.ts"
import { type MergeMethod, type PullRequest, PullRequests, type PullRequestState } from "../services/PullRequests.ts"
import { keyOf, testCandidate } from "./MergePipeline.ts"
import { type MergeOutcome, MergeQueue, type Options as MergeQueueOptions, type Resumed, type ResumeRequest, resultEvent, type Submission } from "./MergeQueue.ts"

/**
 * The local queue's options (`speculation`: how many submissions are built and tested locally at
 * once), and how pull requests are watched.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MergeQueueOptions {
  /** Merge through the host once its checks passed and no reviewer asks for changes. */
  readonly autoMerge: boolean
  /** How long between two looks at an open pull request. */
  readonly pollMs: number
}

/**
 * The remote branch a submission's pull request is made from: one per task (`oompa/<task>`); work
 * without a task keeps its iteration's branch, which names the run.
 *
 * @category naming
 * @since 0.1.0
 */
export const branchOf = (submission: Submission): string => submission.task === undefined ? submission.branch : `oompa/${submission.task}`

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

    /** Pushes the built commit, records it as the task's, and opens (or updates) the task's pull request. */
    const publish = Effect.fnUntraced(function*(submission: Submission, sha: string) {
      const branch = branchOf(submission)
      yield* git.publishBranch(branch, sha)
      if (submission.task !== undefined) yield* git.recordPullRequestHead(submission.task, sha)
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

    /** The pull request's state; a host that does not answer (after the client's retries) is waited out, saying so. */
    const look = (submission: Submission, number: number, sha: string): Effect.Effect<PullRequestState, PullRequestError, EventSink> =>
      pullRequests.state(number, sha).pipe(
        Effect.catchTag("PullRequestError", (e) =>
          e.reason !== "unreachable" ? Effect.fail(e) : emitNow((at) => ({ _tag: "Warning", at, worker: submission.worker, message: `pull request #${number}: ${e.message}; asking again in ${Math.round(options.pollMs / 1000)} s` })).pipe(
            Effect.andThen(Effect.sleep(options.pollMs)),
            Effect.andThen(Effect.suspend(() => look(submission, number, sha)))
          ))
      )

    /** Watches the pull request `opened` of `sha` (built on `onto`) until it is decided. */
    const watch = Effect.fnUntraced(function*(submission: Submission, built: { sha: string; onto: string }, first: PullRequest, startedMs: number) {
      let { onto, sha } = built
      let opened = first
      // CI creates its checks a while after a push: a commit with none waits two looks for them before it counts as having none.
      let pushedMs = yield* Clock.currentTimeMillis
      // Once the host said it merged, nothing more is asked of it until a look shows it merged.
      let mergedByUs = false
      const timed = () => Effect.map(Clock.currentTimeMillis, (now) => ({ waitedMs: Math.max(0, now - startedMs), testMs: 0 }))
      const forget = submission.task === undefined ? Effect.void : git.recordPullRequestHead(submission.task, undefined)
      while (true) {
        const state = yield* look(submission, opened.number, sha)
        if (state._tag === "Merged") {
          yield* git.refreshMain
          if (submission.retireBranch === true) yield* git.deleteBranch(submission.branch)
          yield* retireRemoteBranch(submission.worker, opened.number, branchOf(submission))
          yield* forget
          return { _tag: "Merged", sha: state.sha, previous: onto, ...(yield* timed()) } satisfies MergeOutcome
        }
        if (state._tag === "Closed") {
          yield* forget
          return { _tag: "Closed", sha, reason: `pull request #${opened.number} (${opened.url}) was closed without being merged`, ...(yield* timed()) } satisfies MergeOutcome
        }
        if (!mergedByUs && state.checks._tag === "Failed") {
          return { _tag: "TestFailed", sha, output: `The checks of pull request #${opened.number} failed:\n${state.checks.report}`, ...(yield* timed()) } satisfies MergeOutcome
        }
        if (!mergedByUs && state.changesRequested !== undefined) {
          return { _tag: "ChangesRequested", sha, feedback: state.changesRequested, ...(yield* timed()) } satisfies MergeOutcome
        }
        const now = yield* Clock.currentTimeMillis
        const noChecks = state.checks._tag === "Pending" && state.checks.waitingFor.length === 0 && now - pushedMs >= 2 * options.pollMs
        if (!mergedByUs && options.autoMerge && (state.checks._tag === "Passed" || noChecks) && state.head === sha) {
          const answer = yield* pullRequests.merge(opened.number, sha, method)
          if (answer._tag === "Merged") {
            mergedByUs = true
            continue
          }
          // Refused. Merged after all (an answer lost and the request sent again)? The next look says so.
          if ((yield* look(submission, opened.number, sha))._tag === "Merged") continue
          // Main moved on: the work is built again on it (a conflict goes back to the worker); else the refusal is waited out.
          if ((yield* git.refreshMain) !== onto) {
            const rebuilt = yield* build(submission)
            if (rebuilt._tag === "Decided") return rebuilt.outcome
            ;({ onto, sha } = rebuilt)
            opened = yield* publish(submission, sha)
            pushedMs = yield* Clock.currentTimeMillis
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

    type Decided = Deferred.Deferred<MergeOutcome, GitError | CommandError | PullRequestError>
    const submit = (submission: Submission): Effect.Effect<MergeOutcome, GitError | CommandError | PullRequestError> =>
      Effect.suspend(() => {
        const key = keyOf(submission)
        const known = decided.get(key)
        // A copy delivered again waits for the first one's outcome; if its submitter was interrupted, the copy decides.
        if (known !== undefined) {
          return Deferred.await(known).pipe(Effect.catchCause((cause) => Cause.hasInterruptsOnly(cause) ? submit(submission) : Effect.failCause(cause)))
        }
        return Effect.flatMap(Deferred.make<MergeOutcome, GitError | CommandError | PullRequestError>(), (deferred: Decided) => {
          decided.set(key, deferred)
          return decide(submission).pipe(
            Effect.onExit((exit) =>
              Effect.suspend(() => {
                // An interrupted submitter leaves nothing decided: a copy delivered later starts again.
                if (Exit.hasInterrupts(exit)) decided.delete(key)
                return Deferred.done(deferred, exit)
              }))
          )
        })
      }).pipe(Effect.provideContext(services))

    /**
     * The task's pull request, left by an earlier run, taken up again only if it holds the commit
     * this repository recorded pushing: a head pushed by anyone else was never reviewed, and a
     * merged pull request of an earlier claim (a reopened issue) is not this claim's work.
     */
    const resume = (request: ResumeRequest) =>
      Effect.gen(function*() {
        const branch = `oompa/${request.task}`
        const recorded = yield* git.pullRequestHead(request.task)
        if (recorded === undefined) return undefined
        const found = yield* pullRequests.find(branch, git.targetBranch)
        if (found === undefined || found.head !== recorded) return undefined
        if (found.merged !== undefined) {
          // Merged while no run watched: the work is on main, the task is done.
          const merged = found.merged
          yield* git.refreshMain
          yield* retireRemoteBranch(request.worker, found.number, branch)
          yield* git.recordPullRequestHead(request.task, undefined)
          const outcome: MergeOutcome = { _tag: "Merged", sha: merged, previous: merged, waitedMs: 0, testMs: 0 }
          // This run completes the task: its log says the work landed, as for a merge it watched.
          const submission: Submission = { worker: request.worker, iteration: request.iteration, number: 0, branch: request.branch, base: found.head, head: found.head, message: "", task: request.task }
          yield* emitNow((at) => resultEvent(submission, outcome, at))
          return { head: found.head, base: found.head, outcome } satisfies Resumed
        }
        // The branch as the host has it now, with its commits: still the one recorded, or nothing is taken up.
        if ((yield* git.fetchBranch(branch)) !== recorded) return undefined
        const commit = yield* git.readCommit(recorded)
        const base = commit.parents[0] ?? recorded
        // As if this iteration had submitted it: a rebuild (main moved) writes the same message again.
        const submission: Submission = { worker: request.worker, iteration: request.iteration, number: 0, branch: request.branch, base, head: recorded, message: commit.message, task: request.task }
        yield* emitNow((at) => ({ _tag: "PullRequestOpened", at, worker: request.worker, iteration: request.iteration, task: request.task, number: found.number, url: found.url, branch, head: recorded }))
        const outcome = yield* watch(submission, { sha: recorded, onto: base }, found, yield* Clock.currentTimeMillis)
        yield* emitNow((at) => resultEvent(submission, outcome, at))
        return { head: recorded, base, outcome } satisfies Resumed
      }).pipe(Effect.provideContext(services))

    return MergeQueue.of({
      resume,
      submit,
      checkMain: () => Effect.map(git.mainHead, (main) => ({ _tag: "Unchanged", main }) as const),
      halted: Effect.succeed(Option.none())
    })
  })
