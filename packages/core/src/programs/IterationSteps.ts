/**
 * The steps the review loop asks an iteration to perform (SPEC F4–F8): commit, check the policy,
 * review, fix, resolve a conflict, submit to the merge queue. Each performs one step of
 * `ReviewLoop` and returns what it observed, or a stop with the iteration's outcome. The loop's
 * state — attempts, and the approved commit that must never be lost — lives in `ReviewLoop.State`.
 *
 * @since 0.1.0
 */
import { Effect, Option, Ref } from "effect"
import { formatModelString } from "../domain/AgentSpec.ts"
import type { AgentCallKind, IterationOutcome, Phase } from "../domain/Event.ts"
import type { PromptName } from "../domain/DefaultPrompts.ts"
import { visibleLine } from "../domain/Prompt.ts"
import { dataBlock } from "../domain/VisibleText.ts"
import * as RunSummary from "../domain/RunSummary.ts"
import type { Task } from "../domain/Task.ts"
import { emitNow } from "../services/EventSink.ts"
import { Git } from "../services/Git.ts"
import * as AgentCall from "./AgentCall.ts"
import type * as Claim from "./Claim.ts"
import { Delivery, type ForeignMove, make as makeMergeQueue, type MergeOutcome, MergeQueue, type Submission } from "./MergeQueue.ts"
import * as NewTasks from "./NewTasks.ts"
import * as PromptInputs from "./PromptInputs.ts"
import * as ReviewLoop from "./ReviewLoop.ts"
import { CurrentRun, CurrentWorker, landingOf } from "./RunServices.ts"

/**
 * What one iteration did.
 *
 * @category models
 * @since 0.1.0
 */
export interface IterationReport {
  readonly outcome: IterationOutcome
  readonly task?: string
  /** The proposer printed `__DONE__` alone on a line. */
  readonly done: boolean
  readonly reviews: number
  readonly timings: { readonly [K in Phase]: number }
  readonly detail?: string
  /** Approved work that could not be merged: its branch is kept. */
  readonly unmerged?: { readonly branch: string; readonly files: ReadonlyArray<string> }
  readonly mergedSha?: string
  /** Where the claimed task went when the iteration ended. */
  readonly taskMovedTo?: "complete" | "pending" | "failed"
  /** `setup_command` failed: the worktree cannot be used, the worker stops (issue 18). */
  readonly setupFailed?: true
}

/**
 * A report without timings: what the steps return before the stopwatch is read.
 *
 * @category models
 * @since 0.1.0
 */
export type Ended = Omit<IterationReport, "timings">

/** @category constructors @since 0.1.0 */
export const ended = (outcome: IterationOutcome, detail?: string, fields: Partial<Ended> = {}): Ended => ({
  outcome,
  done: false,
  reviews: 0,
  ...(detail === undefined ? {} : { detail }),
  ...fields
})

/**
 * Phase time of one iteration; iterations are sequential, so plain mutation is safe.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stopwatch {
  readonly timings: { -readonly [K in Phase]: number }
  readonly time: <A, E, R>(phase: Phase, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * What every step of one iteration shares.
 *
 * @category models
 * @since 0.1.0
 */
export interface Steps {
  readonly n: number
  readonly task: Task | undefined
  readonly claim: Claim.Claim | undefined
  readonly watch: Stopwatch
  readonly branch: string
  /**
   * The main the change starts from: where the iteration began, then the main it merged in to
   * resolve a conflict. Reviews, the policy and the landing all take the change from here.
   */
  readonly base: Ref.Ref<string>
  /** The review loop's state, where the approved commit is; the branch's finalizer reads it. */
  readonly loop: Ref.Ref<ReviewLoop.State>
  /** Submissions to the merge queue so far: each is known to it by its number (a copy delivered late gets its outcome). */
  readonly submitted: { count: number }
}

/**
 * What performing a step led to.
 *
 * @category models
 * @since 0.1.0
 */
export type Performed =
  | { readonly _tag: "Observed"; readonly observation: ReviewLoop.Observation; readonly sessionId?: string | undefined }
  | { readonly _tag: "Stop"; readonly report: Ended }

const observed = (observation: ReviewLoop.Observation, sessionId?: string): Performed => ({ _tag: "Observed", observation, sessionId })

const stop = (outcome: IterationOutcome, detail?: string, fields: Partial<Ended> = {}): Performed => ({
  _tag: "Stop",
  report: ended(outcome, detail, fields)
})

/**
 * How an agent call that gave no answer ends the iteration: a spent budget, an agent that cannot
 * run in this run, or an error.
 *
 * @category constructors
 * @since 0.1.0
 */
export const stoppedBy = (result: Exclude<AgentCall.CallResult, { readonly _tag: "Answered" }>): Ended =>
  result._tag === "BudgetSpent"
    ? ended("budget", `budget ${result.budget} spent`)
    : result._tag === "Unavailable"
    ? ended("unavailable", result.detail)
    : ended("error", result.detail)

/**
 * Performs one non-terminal step of the review loop.
 *
 * @category programs
 * @since 0.1.0
 */
export const perform = Effect.fnUntraced(function*(steps: Steps, state: ReviewLoop.State, step: Exclude<ReviewLoop.Step, ReviewLoop.Terminal>, session: string | undefined) {
  switch (step._tag) {
    case "CheckPolicy":
      return yield* checkPolicy(steps, state)
    case "Review":
      return yield* review(steps, step.attempt)
    case "Fix":
      return yield* fix(steps, "fix", "fix", step.feedback, session)
    case "ResolveConflict":
      return yield* resolveConflict(steps, session)
  }
})

const checkPolicy = Effect.fnUntraced(function*(steps: Steps, state: ReviewLoop.State) {
  const git = yield* Git
  const { policy } = yield* CurrentRun
  const { worker, workspace } = yield* CurrentWorker
  const head = yield* git.workspaceHead(workspace)
  const violations = policy.check(yield* steps.watch.time("git", git.diffStat(yield* Ref.get(steps.base), head)))
  if (violations.length > 0) {
    yield* emitNow((at) => ({ _tag: "PolicyViolated", at, worker: worker.id, iteration: steps.n, attempt: state.attempts + 1, stage: "change", violations }))
  }
  return observed({ _tag: "PolicyChecked", violations })
})

const resolveConflict = Effect.fnUntraced(function*(steps: Steps, session: string | undefined) {
  const git = yield* Git
  const mergeQueue = yield* MergeQueue
  const { setup, workspace } = yield* CurrentWorker
  const checked = yield* mergeQueue.checkMain()
  if (checked._tag === "Moved") return stop("main-moved", mainMovedDetail(checked.move))
  const main = checked.main
  // The merge puts back the files the setup created that stood in its way: the next iteration sets up again.
  yield* Ref.set(setup, undefined)
  const files = yield* steps.watch.time("git", git.mergeIntoWorkspace(workspace, main))
  // The workspace now holds all of `main`: the change to review and land starts there.
  yield* Ref.set(steps.base, main)
  if (files.length === 0) return observed(yield* commit(steps, "resolve-conflict"))
  return yield* fix(steps, "resolve-conflict", "conflict", `Merge conflicts in: ${files.join(", ")}`, session, { conflict_files: files.join("\n") })
})

/**
 * Commits the workspace's change (labelled in the message) and says whether there is one.
 *
 * @category programs
 * @since 0.1.0
 */
export const commit = Effect.fnUntraced(function*(steps: Steps, label: string) {
  const git = yield* Git
  const { worker, workspace } = yield* CurrentWorker
  const message = `${worker.id}: ${steps.task?.summary ?? `iteration ${steps.n}`} (${label})`
  const sha = yield* steps.watch.time("git", git.commitAll(workspace, message))
  const head = yield* git.workspaceHead(workspace)
  const changes = yield* steps.watch.time("git", git.diffStat(yield* Ref.get(steps.base), head))
  if (Option.isSome(sha)) {
    const added = changes.reduce((s, c) => s + c.added, 0)
    const deleted = changes.reduce((s, c) => s + c.deleted, 0)
    yield* emitNow((at) => ({ _tag: "Committed", at, worker: worker.id, iteration: steps.n, sha: sha.value, files: changes.length, added, deleted }))
  }
  return { _tag: "Committed", hasChanges: changes.length > 0 } as const
})

/** The tokens every prompt of the iteration gets. */
const iterationTokens = Effect.fnUntraced(function*(steps: Steps) {
  const { worker } = yield* CurrentWorker
  return { ...PromptInputs.taskTokens(steps.task), branch: steps.branch, iteration: String(steps.n), iterations: String(worker.iterations) }
})

/** A fix or conflict-resolution call in the same workspace, resuming the proposer's session. */
const fix = Effect.fnUntraced(function*(steps: Steps, call: AgentCallKind, promptName: PromptName, feedback: string, session: string | undefined, extra: Record<string, string> = {}) {
  const { worker } = yield* CurrentWorker
  const prompt = yield* PromptInputs.render(promptName, [], { ...yield* iterationTokens(steps), review_feedback: feedback, ...extra })
  const result = yield* steps.watch.time("fix", AgentCall.run(steps.n, { call, agent: worker.agent, prompt, task: steps.task?.id, sessionId: session }))
  yield* NewTasks.collect(steps.n)
  const moved = yield* movedDuringCall(steps)
  if (moved !== undefined) return { _tag: "Stop", report: moved } satisfies Performed
  if (result._tag !== "Answered") return { _tag: "Stop", report: stoppedBy(result) } satisfies Performed
  return observed(yield* commit(steps, call), result.result.sessionId)
})

/** Asks the reviewers in order until one answers; `review: false` approves without asking. */
const review = Effect.fnUntraced(function*(steps: Steps, attempt: number) {
  const git = yield* Git
  const { config } = yield* CurrentRun
  const { worker, workspace } = yield* CurrentWorker
  const n = steps.n
  const emitVerdict = (verdict: "approved" | "needs-changes" | "rejected", clear: boolean, feedback: string, reviewer: string) =>
    emitNow((at) => ({ _tag: "VerdictGiven", at, worker: worker.id, iteration: n, attempt, verdict, clear, feedback, reviewer }))
  const head = yield* git.workspaceHead(workspace)
  if (!config.review) {
    yield* emitVerdict("approved", true, "review is off (auto-approved)", "none")
    return observed({ _tag: "Reviewed", verdict: { _tag: "Approved" }, head })
  }
  const fullDiff = yield* steps.watch.time("git", git.diffText(yield* Ref.get(steps.base), head))
  const capped = PromptInputs.capDiff(fullDiff)
  if (capped.omitted.length > 0) {
    yield* emitNow((at) => ({
      _tag: "Warning",
      at,
      worker: worker.id,
      message: `iteration ${n}: the diff for review is ${capped.bytes} bytes; the prompt carries ${PromptInputs.reviewDiffBytesMax}, and says which ${capped.omitted.length} file(s) it leaves out`
    }))
  }
  const reviewers = config.reviewers.length > 0 ? config.reviewers : [{ agent: worker.agent }]
  const failures: Array<string> = []
  for (const reviewer of reviewers) {
    const prompt = yield* PromptInputs.render("reviewer", "prompt" in reviewer && reviewer.prompt !== undefined ? [reviewer.prompt] : [], {
      ...yield* iterationTokens(steps),
      // From the whole diff: a change to .gitattributes past the cap is still called out.
      diff: PromptInputs.gitControlNote(fullDiff) + capped.text
    })
    const result = yield* steps.watch.time("review", AgentCall.run(n, { call: "review", agent: reviewer.agent, prompt, task: steps.task?.id }))
    // A reviewer is an agent too, with the same access to the refs.
    const moved = yield* movedDuringCall(steps)
    if (moved !== undefined) return { _tag: "Stop", report: moved } satisfies Performed
    if (result._tag === "Failed") {
      failures.push(`${formatModelString(reviewer.agent)}: ${result.detail}`)
      continue
    }
    if (result._tag !== "Answered") return { _tag: "Stop", report: stoppedBy(result) } satisfies Performed
    const verdict = PromptInputs.verdictOf(result.result.answer)
    const tag = verdict._tag === "Approved" ? "approved" : verdict._tag === "Rejected" ? "rejected" : "needs-changes"
    const feedback = verdict._tag === "Approved" ? "" : verdict._tag === "Rejected" ? verdict.reason : verdict.feedback
    yield* emitVerdict(tag, verdict._tag !== "NeedsChanges" || verdict.clear, feedback, formatModelString(reviewer.agent))
    return observed({ _tag: "Reviewed", verdict, head })
  }
  return stop("error", `no reviewer answered:\n${failures.join("\n")}`)
})

/**
 * Hands approved work to the merge queue; a failed test or a conflict goes back into the loop.
 *
 * @category programs
 * @since 0.1.0
 */
export const submit = Effect.fnUntraced(function*(steps: Steps, state: ReviewLoop.State) {
  const mergeQueue = yield* MergeQueue
  const { config, keepBranches } = yield* CurrentRun
  const { worker } = yield* CurrentWorker
  const head = state.approved
  if (head === undefined) return yield* Effect.die(new Error(`assertion failed: ${steps.branch} was submitted without an approved commit`))
  if (steps.claim !== undefined) steps.claim.submitted = true
  const submission: Submission = {
    worker: worker.id,
    iteration: steps.n,
    number: ++steps.submitted.count,
    branch: steps.branch,
    base: yield* Ref.get(steps.base),
    head,
    message: yield* mergeMessage(steps),
    task: steps.task?.id,
    retireBranch: !keepBranches,
    ...(config.target?.mode === "pr" ? { description: pullRequestBody(steps, state, worker.id, config.review) } : {})
  }
  const delivery = yield* Delivery
  const copies = Math.max(1, delivery.copies(submission))
  const lateMs = delivery.lateMs(submission)
  // Redelivered later by the transport, on its own: nobody waits for it, and the queue must know it.
  if (lateMs !== undefined) yield* Effect.forkDetach(Effect.andThen(Effect.sleep(lateMs), Effect.exit(mergeQueue.submit(submission))))
  // Every copy gets the one outcome the queue decided for the submission.
  const outcome = (yield* Effect.all(Array.from({ length: copies }, () => mergeQueue.submit(submission)), { concurrency: "unbounded" }))[0]!
  const failoverMs = outcome._tag === "Merged" ? delivery.failover?.afterMs(submission) : undefined
  // Landed, its answer lost with the queue's runner: the copy reaches the queue of the runner that took over.
  if (failoverMs !== undefined) {
    const { config, policy, dryRun } = yield* CurrentRun
    const successor = Effect.scoped(Effect.flatMap(makeMergeQueue(landingOf(config, policy, dryRun)), (queue) => queue.submit(submission)))
    const git = delivery.failover?.git ?? (yield* Git)
    yield* Effect.forkDetach(Effect.andThen(Effect.sleep(failoverMs), Effect.exit(Effect.provideService(successor, Git, git))))
  }
  return yield* afterOutcome(steps, outcome)
})

/**
 * Where the merge queue's outcome takes the iteration: landed, stopped, or back into the loop (a
 * failed test, a conflict, requested changes).
 *
 * @category programs
 * @since 0.1.0
 */
export const afterOutcome = Effect.fnUntraced(function*(steps: Steps, outcome: MergeOutcome) {
  const { config } = yield* CurrentRun
  steps.watch.timings.mergeWait += outcome.waitedMs
  steps.watch.timings.test += outcome.testMs
  switch (outcome._tag) {
    case "Merged":
      yield* Ref.update(steps.loop, ReviewLoop.landed)
      return stop("merged", undefined, { mergedSha: outcome.sha })
    case "DryRun":
      return stop("dry-run", `dry run: approved, not merged; branch ${steps.branch} kept`)
    case "MainMoved":
      // Approved work stays approved (and kept); it just cannot land in this run.
      return stop("main-moved", mainMovedDetail(outcome.move))
    case "TestFailed":
      return observed({ _tag: "TestFailed", output: outcome.output })
    case "PolicyFailed":
      return observed({ _tag: "MergePolicyFailed", violations: outcome.violations })
    case "Conflict":
      return observed({ _tag: "MergeConflict", files: outcome.files, agentResolves: config.merge.on_conflict === "agent" })
    case "ChangesRequested":
      return observed({ _tag: "ChangesRequested", feedback: outcome.feedback })
    case "Closed":
      // Somebody decided against it: the work is not resubmitted, and the task fails with the reason.
      yield* Ref.update(steps.loop, ReviewLoop.landed)
      return stop("closed", outcome.reason)
  }
})

/**
 * Why an iteration stopped on a foreign move of main (see `MergeQueue`).
 *
 * @category formatting
 * @since 0.1.0
 */
export const mainMovedDetail = (move: ForeignMove): string => RunSummary.describeMainMoved(move)

/**
 * After an agent call: main must be where the merge queue left it. The agent runs with write access
 * to the repository's refs; a move noticed now is reported naming this iteration.
 *
 * @category programs
 * @since 0.1.0
 */
export const movedDuringCall = Effect.fnUntraced(function*(steps: Steps) {
  const mergeQueue = yield* MergeQueue
  const { worker } = yield* CurrentWorker
  const checked = yield* mergeQueue.checkMain({ worker: worker.id, iteration: steps.n })
  return checked._tag === "Moved" ? ended("main-moved", mainMovedDetail(checked.move)) : undefined
})

/**
 * What a pull request says of the work: the task (fenced: it is text an agent may have written, and
 * must not mention people or render as markup), who did it, the review and the policy.
 */
const pullRequestBody = (steps: Steps, state: ReviewLoop.State, worker: string, reviewed: boolean): string => {
  const task = steps.task
  return [
    ...(task === undefined ? [] : [`Task \`${task.id}\`:`, "", dataBlock([task.summary, ...(task.description === undefined ? [] : ["", task.description])].join("\n")), ""]),
    `- Worker: ${worker}, iteration ${steps.n}`,
    `- Review: ${reviewed ? `approved by oompa's reviewer (${state.attempts} review attempt${state.attempts === 1 ? "" : "s"})` : "review is off in this run (auto-approved)"}`,
    "- Policy: passed (checked on the change and again on this commit)",
    "",
    "Failing checks and requested changes go back to the agent; the fix is pushed here."
  ].join("\n")
}

/** The merge commit's message, with SPEC F6's trailers so recovery can tell which tasks landed. */
const mergeMessage = Effect.fnUntraced(function*(steps: Steps) {
  const { config, runId } = yield* CurrentRun
  const { worker } = yield* CurrentWorker
  const task = steps.task
  // One line: a summary is task-file text, and a line of its own could forge a trailer.
  const title = task === undefined ? `${worker.id} iteration ${steps.n}` : `${visibleLine(task.summary)} (${task.id})`
  return [
    `oompa: ${title}`,
    "",
    `Oompa-Run: ${runId}`,
    `Oompa-Task: ${task?.id ?? "none"}`,
    `Oompa-Worker: ${worker.id}`,
    `Oompa-Iteration: ${steps.n}`,
    `Oompa-Verdict: ${config.review ? "approved" : "auto-approved"}`
  ].join("\n")
})
