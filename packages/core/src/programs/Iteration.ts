/**
 * One iteration of one worker (SPEC F5), the heart of oompa.
 *
 * A fresh branch from the current main in the worker's workspace → `setup_command` → claim a task
 * (when the role claims) → render the prompt → proposer → collect new tasks → commit → nothing
 * changed? stop → policy gate → reviewer → fix loop (decided by `ReviewLoop`) → merge queue with the
 * test gate → task complete. Rejected or exhausted work goes back to `pending/` (or `failed/`).
 *
 * Invariants it keeps: a claim is always settled — completed, released, or (on interruption)
 * returned by its scope's finalizer; a branch holding approved-but-unmerged work is never deleted;
 * nothing reaches main except through the merge queue after an approval.
 *
 * Needs `Git`, `Agent`, `TaskQueue`, `EventSink`, `Prompts`, `CommandRunner`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Ref } from "effect"
import { formatModelString } from "../domain/AgentSpec.ts"
import { iterationBranch } from "../domain/Ids.ts"
import type { AgentCallKind, IterationOutcome, Phase, PhaseTimings } from "../domain/Event.ts"
import { zeroTimings } from "../domain/Event.ts"
import type { PromptName } from "../domain/DefaultPrompts.ts"
import { visibleLine } from "../domain/Prompt.ts"
import * as RunSummary from "../domain/RunSummary.ts"
import type { Task } from "../domain/Task.ts"
import { CommandRunner } from "../services/CommandRunner.ts"
import { emitNow } from "../services/EventSink.ts"
import { Git } from "../services/Git.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import * as AgentCall from "./AgentCall.ts"
import type * as MergeQueue from "./MergeQueue.ts"
import type { WorkerContext } from "./WorkerContext.ts"
import * as NewTasks from "./NewTasks.ts"
import * as PromptInputs from "./PromptInputs.ts"
import * as Recovery from "./Recovery.ts"
import * as ReviewLoop from "./ReviewLoop.ts"

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
  readonly timings: PhaseTimings
  readonly detail?: string
  /** Approved work that could not be merged: its branch is kept. */
  readonly unmerged?: { readonly branch: string; readonly files: ReadonlyArray<string> }
  readonly mergedSha?: string
  /** Where the claimed task went when the iteration ended. */
  readonly taskMovedTo?: "complete" | "pending" | "failed"
}

/**
 * An executor found nothing to claim: no iteration ran.
 *
 * @category models
 * @since 0.1.0
 */
export interface NothingToClaim {
  readonly _tag: "NothingToClaim"
}

/** Phase time accumulator for one iteration; iterations are sequential, so plain mutation is safe. */
interface Stopwatch {
  readonly timings: { -readonly [K in Phase]: number }
  readonly time: <A, E, R>(phase: Phase, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

const makeStopwatch = (): Stopwatch => {
  const timings = { ...zeroTimings }
  return {
    timings,
    time: (phase, effect) =>
      Effect.clockWith((clock) => {
        const start = clock.currentTimeMillisUnsafe()
        return Effect.onExit(effect, () =>
          Effect.sync(() => {
            timings[phase] += clock.currentTimeMillisUnsafe() - start
          }))
      })
  }
}

/**
 * Runs iteration `n` of the worker.
 *
 * @category programs
 * @since 0.1.0
 */
export const run = Effect.fnUntraced(function*(context: WorkerContext, n: number) {
  const claims = context.worker.role !== "planner"
  const claimed = claims ? yield* acquireClaim(context, n) : Option.none<ClaimHandle>()
  if (context.worker.role === "executor" && Option.isNone(claimed)) return { _tag: "NothingToClaim" } as NothingToClaim
  const task = Option.map(claimed, (c) => c.task)
  const watch = makeStopwatch()
  const report = yield* attempt(context, n, Option.getOrUndefined(claimed), watch).pipe(
    Effect.catch((error) => Effect.succeed(ended("error", `${error._tag}: ${error.message}`)))
  )
  const movedTo = Option.isSome(claimed) ? yield* settleClaim(context, claimed.value, report) : undefined
  const full: IterationReport = {
    ...report,
    timings: { ...watch.timings },
    ...(Option.isSome(task) ? { task: task.value.id } : {}),
    ...(movedTo === undefined ? {} : { taskMovedTo: movedTo })
  }
  yield* emitFinished(context, n, full)
  return full
}, Effect.scoped)

/** A report without timings: what the steps return before the stopwatch is read. */
type Ended = Omit<IterationReport, "timings">

const ended = (outcome: IterationOutcome, detail?: string, fields: Partial<Ended> = {}): Ended => ({
  outcome,
  done: false,
  reviews: 0,
  ...(detail === undefined ? {} : { detail }),
  ...fields
})

/**
 * A held task; `settled` once the iteration moved it, so the scope's finalizer leaves it alone.
 * `submitted` once its work went to the merge queue: from then on the merge may land before the
 * iteration hears of it, so an interrupted iteration looks at main before returning the task.
 */
interface ClaimHandle {
  readonly task: Task
  settled: boolean
  submitted: boolean
}

const claimNext = Effect.fnUntraced(function*(context: WorkerContext, n: number) {
  const queue = yield* TaskQueue
  const claimed = yield* queue.claim
  if (Option.isNone(claimed)) return Option.none<ClaimHandle>()
  const task = claimed.value
  const handle: ClaimHandle = { task, settled: false, submitted: false }
  yield* emitNow((at) => ({ _tag: "TaskClaimed", at, worker: context.worker.id, iteration: n, task: task.id }))
  yield* emitNow((at) => ({ _tag: "TaskMoved", at, task: task.id, from: "pending", to: "current", worker: context.worker.id }))
  return Option.some(handle)
})

/**
 * Claims a task for the iteration's scope: if the scope closes before the claim is settled, it goes
 * back — unless its merge already landed (the run was stopped between the merge and the iteration
 * hearing of it), in which case it is complete: returned, it would be merged a second time.
 */
const acquireClaim = (context: WorkerContext, n: number) =>
  Effect.acquireRelease(
    claimNext(context, n),
    (claimed) =>
      Option.isNone(claimed) || claimed.value.settled
        ? Effect.void
        : settleInterrupted(context, claimed.value).pipe(Effect.orDie)
  )

const settleInterrupted = Effect.fnUntraced(function*(context: WorkerContext, claim: ClaimHandle) {
  const landed = claim.submitted ? yield* Recovery.findMerge(claim.task.id) : undefined
  if (landed === undefined) return yield* returnClaim(context, claim.task, "the run was interrupted")
  const queue = yield* TaskQueue
  yield* queue.complete(claim.task.id, landed)
  yield* emitNow((at) => ({
    _tag: "TaskMoved",
    at,
    task: claim.task.id,
    from: "current",
    to: "complete",
    worker: context.worker.id,
    reason: `merged in ${landed} before the run was interrupted`
  }))
})

const returnClaim = Effect.fnUntraced(function*(context: WorkerContext, task: Task, reason: string) {
  const queue = yield* TaskQueue
  yield* queue.release(task.id, { feedback: task.last_feedback ?? "", countAttempt: false, maxAttempts: context.config.max_task_attempts })
  yield* emitNow((at) => ({ _tag: "TaskMoved", at, task: task.id, from: "current", to: "pending", worker: context.worker.id, reason }))
})

/** Moves the claimed task where the iteration's outcome sends it. */
const settleClaim = Effect.fnUntraced(function*(context: WorkerContext, claim: ClaimHandle, report: Ended) {
  claim.settled = true
  const queue = yield* TaskQueue
  const task = claim.task
  if (report.outcome === "merged" && report.mergedSha !== undefined) {
    yield* queue.complete(task.id, report.mergedSha)
    yield* emitNow((at) => ({ _tag: "TaskMoved", at, task: task.id, from: "current", to: "complete", worker: context.worker.id }))
    return "complete" as const
  }
  // Attempts count what the work did, not what stopped the run around it.
  const countAttempt = report.outcome !== "budget" && report.outcome !== "dry-run" && report.outcome !== "main-moved" && report.outcome !== "unavailable"
  const feedback = report.detail ?? ""
  const to = yield* queue.release(task.id, { feedback, countAttempt, maxAttempts: context.config.max_task_attempts })
  yield* emitNow((at) => ({
    _tag: "TaskMoved",
    at,
    task: task.id,
    from: "current",
    to,
    worker: context.worker.id,
    reason: `${report.outcome}${feedback === "" ? "" : `: ${firstLine(feedback)}`}`
  }))
  return to
})

const firstLine = (text: string): string => text.split("\n", 1)[0] ?? ""

const emitFinished = (context: WorkerContext, n: number, report: IterationReport) =>
  emitNow((at) => ({
    _tag: "IterationFinished",
    at,
    worker: context.worker.id,
    iteration: n,
    outcome: report.outcome,
    reviews: report.reviews,
    timings: report.timings,
    ...(report.task === undefined ? {} : { task: report.task }),
    ...(report.detail === undefined ? {} : { detail: firstLine(report.detail) }),
    ...(report.unmerged === undefined ? {} : { kept: report.unmerged.branch })
  }))

/** The iteration proper, from the workspace reset to the merge; the claim is handled by the caller. */
const attempt = Effect.fnUntraced(function*(context: WorkerContext, n: number, claim: ClaimHandle | undefined, watch: Stopwatch) {
  const task = claim?.task
  const git = yield* Git
  const start = yield* watch.time("git", context.mergeQueue.checkMain())
  if (start._tag === "Moved") return ended("main-moved", mainMovedDetail(start.move))
  const base = start.main
  const branch = iterationBranch(context.runId, context.worker.id, n)
  const approved = yield* Ref.make<string | undefined>(undefined)
  const conflicted = yield* Ref.make<string | undefined>(undefined)
  yield* Effect.acquireRelease(
    watch.time("git", git.resetWorkspace(context.workspace, branch, base)),
    // A branch holding approved-but-unmerged work is never deleted (SPEC F5, F14).
    () => Effect.flatMap(Ref.get(approved), (head) =>
      context.keepBranches || head !== undefined ? Effect.void : Effect.ignore(git.deleteBranch(branch)))
  )
  yield* emitNow((at) => ({ _tag: "IterationStarted", at, worker: context.worker.id, iteration: n, branch, base }))
  if (context.config.setup_command !== undefined) {
    const setup = yield* watch.time("setup", runSetup(context, context.config.setup_command))
    if (!setup.passed) return ended("error", `setup_command failed:\n${setup.output}`)
    // What the setup wrote is not the agent's change (issue 15).
    yield* watch.time("git", git.markSetupOutputs(context.workspace))
  }
  const steps = { context, n, task, claim, watch, branch, base: yield* Ref.make(base), approved, conflicted }
  const proposal = yield* propose(steps)
  if (proposal._tag === "Stopped") return proposal.report
  return yield* reviewAndMerge(steps, proposal.sessionId, proposal.done)
})

interface Steps {
  readonly context: WorkerContext
  readonly n: number
  readonly task: Task | undefined
  readonly claim: ClaimHandle | undefined
  readonly watch: Stopwatch
  readonly branch: string
  /**
   * The main the change starts from: where the iteration began, then the main it merged in to
   * resolve a conflict. Reviews, the policy and the landing all take the change from here.
   */
  readonly base: Ref.Ref<string>
  /** The approved commit while it is not merged; its branch is kept and reported if the loop gives up. */
  readonly approved: Ref.Ref<string | undefined>
  /**
   * The latest approved commit whose merge conflicted: approved work in its own right, kept until
   * something built on it lands, even if the resolution later fails its review or its tests.
   */
  readonly conflicted: Ref.Ref<string | undefined>
}

type Proposal =
  | { readonly _tag: "Proposed"; readonly sessionId: string | undefined; readonly done: boolean }
  | { readonly _tag: "Stopped"; readonly report: Ended }

const runSetup = (context: WorkerContext, command: string) =>
  CommandRunner.use((runner) => {
    const timeoutMs = context.config.timeouts.setup * 1000
    return runner.inWorkspace(context.workspace.path, command, timeoutMs).pipe(
      Effect.timeoutOrElse({
        duration: timeoutMs,
        orElse: () => Effect.succeed({ passed: false, output: `timed out after ${timeoutMs} ms`, durationMs: timeoutMs, timedOut: true })
      })
    )
  })

const proposerPromptName = (context: WorkerContext, task: Task | undefined): PromptName =>
  context.worker.role === "planner" ? "planner" : task !== undefined && context.worker.role === "executor" ? "executor" : "worker"

/** Renders the proposer's prompt, runs it, collects new tasks; stops early on failure or budget. */
const propose = Effect.fnUntraced(function*(steps: Steps) {
  const { context, n, task, watch } = steps
  const prompt = yield* PromptInputs.render(context, proposerPromptName(context, task), context.worker.prompt, {
    ...PromptInputs.taskTokens(task),
    branch: steps.branch,
    iteration: String(n),
    iterations: String(context.worker.iterations)
  })
  const call = yield* watch.time("agent", AgentCall.run(context, n, {
    call: context.worker.role === "planner" ? "plan" : "propose",
    agent: context.worker.agent,
    prompt,
    task: task?.id
  }))
  yield* NewTasks.collect(context, n)
  const moved = yield* movedDuringCall(steps)
  if (moved !== undefined) return { _tag: "Stopped", report: moved } satisfies Proposal
  const proposal: Proposal = call._tag === "BudgetSpent"
    ? { _tag: "Stopped", report: ended("budget", `budget ${call.budget} spent`) }
    : call._tag === "Unavailable"
    ? { _tag: "Stopped", report: ended("unavailable", call.detail) }
    : call._tag === "Failed"
    ? { _tag: "Stopped", report: ended("error", call.detail) }
    : { _tag: "Proposed", sessionId: call.result.sessionId, done: call.done }
  return proposal
})

/** Drives `ReviewLoop` from the first commit to its end, performing each step. */
const reviewAndMerge = Effect.fnUntraced(function*(steps: Steps, sessionId: string | undefined, done: boolean) {
  const { context } = steps
  let session = sessionId
  let [state, step] = ReviewLoop.step(
    ReviewLoop.initial({
      reviewAttemptsMax: context.config.max_review_attempts,
      conflictRetriesMax: context.config.max_merge_retries
    }),
    yield* commit(steps, "propose")
  )
  // Bounded: every cycle ends, or spends a review attempt or a conflict retry (ReviewLoop's invariant).
  const stepsMax = 4 * (context.config.max_review_attempts + context.config.max_merge_retries) + 8
  for (let i = 0; i < stepsMax; i++) {
    if (step._tag !== "Submit" && ReviewLoop.isTerminal(step)) return yield* keepApproved(steps, finish(steps, state, step, done))
    const performed = step._tag === "Submit" ? yield* submit(steps) : yield* perform(steps, state, step, session)
    if (performed._tag === "Stop") {
      const report = { ...performed.report, done, reviews: state.attempts } satisfies Ended
      return report.outcome === "merged" || report.outcome === "dry-run" ? report : yield* keepApproved(steps, report)
    }
    if (performed.sessionId !== undefined) session = performed.sessionId
    ;[state, step] = ReviewLoop.step(state, performed.observation)
  }
  return yield* Effect.die(new Error(`assertion failed: review loop of ${steps.branch} did not end within ${stepsMax} steps`))
})

type Performed =
  | { readonly _tag: "Observed"; readonly observation: ReviewLoop.Observation; readonly sessionId?: string | undefined }
  | { readonly _tag: "Stop"; readonly report: Ended }

const observed = (observation: ReviewLoop.Observation, sessionId?: string): Performed => ({ _tag: "Observed", observation, sessionId })

const stop = (outcome: IterationOutcome, detail?: string, fields: Partial<Ended> = {}): Performed => ({
  _tag: "Stop",
  report: ended(outcome, detail, fields)
})

const perform = Effect.fnUntraced(function*(steps: Steps, state: ReviewLoop.State, step: Exclude<ReviewLoop.Step, ReviewLoop.Terminal>, session: string | undefined) {
  const { context, n, watch } = steps
  switch (step._tag) {
    case "CheckPolicy": {
      const git = yield* Git
      const head = yield* git.workspaceHead(context.workspace)
      const violations = context.policy.check(yield* watch.time("git", git.diffStat(yield* Ref.get(steps.base), head)))
      if (violations.length > 0) {
        yield* emitNow((at) => ({ _tag: "PolicyViolated", at, worker: context.worker.id, iteration: n, attempt: state.attempts + 1, stage: "change", violations }))
      }
      return observed({ _tag: "PolicyChecked", violations })
    }
    case "Review":
      return yield* review(steps, step.attempt)
    case "Fix":
      return yield* fix(steps, "fix", "fix", step.feedback, session)
    case "ResolveConflict": {
      const git = yield* Git
      const checked = yield* context.mergeQueue.checkMain()
      if (checked._tag === "Moved") return stop("main-moved", mainMovedDetail(checked.move))
      const main = checked.main
      const files = yield* watch.time("git", git.mergeIntoWorkspace(context.workspace, main))
      // The workspace now holds all of `main`: the change to review and land starts there.
      yield* Ref.set(steps.base, main)
      if (files.length === 0) return yield* Effect.map(commit(steps, "resolve-conflict"), (o) => observed(o))
      return yield* fix(steps, "resolve-conflict", "conflict", `Merge conflicts in: ${files.join(", ")}`, session, { conflict_files: files.join("\n") })
    }
  }
})

const commit = Effect.fnUntraced(function*(steps: Steps, label: string) {
  const git = yield* Git
  const { context, n, watch } = steps
  const message = `${context.worker.id}: ${steps.task?.summary ?? `iteration ${n}`} (${label})`
  const sha = yield* watch.time("git", git.commitAll(context.workspace, message))
  const head = yield* git.workspaceHead(context.workspace)
  const changes = yield* watch.time("git", git.diffStat(yield* Ref.get(steps.base), head))
  if (Option.isSome(sha)) {
    const added = changes.reduce((s, c) => s + c.added, 0)
    const deleted = changes.reduce((s, c) => s + c.deleted, 0)
    yield* emitNow((at) => ({ _tag: "Committed", at, worker: context.worker.id, iteration: n, sha: sha.value, files: changes.length, added, deleted }))
  }
  return { _tag: "Committed", hasChanges: changes.length > 0 } as const
})

/** A fix or conflict-resolution call in the same workspace, resuming the proposer's session. */
const fix = Effect.fnUntraced(function*(steps: Steps, call: AgentCallKind, promptName: PromptName, feedback: string, session: string | undefined, extra: Record<string, string> = {}) {
  const { context, n, watch } = steps
  const prompt = yield* PromptInputs.render(context, promptName, [], {
    ...PromptInputs.taskTokens(steps.task),
    review_feedback: feedback,
    branch: steps.branch,
    iteration: String(n),
    iterations: String(context.worker.iterations),
    ...extra
  })
  const result = yield* watch.time("fix", AgentCall.run(context, n, { call, agent: context.worker.agent, prompt, task: steps.task?.id, sessionId: session }))
  yield* NewTasks.collect(context, n)
  const moved = yield* movedDuringCall(steps)
  if (moved !== undefined) return { _tag: "Stop", report: moved } satisfies Performed
  if (result._tag === "BudgetSpent") return stop("budget", `budget ${result.budget} spent`)
  if (result._tag === "Unavailable") return stop("unavailable", result.detail)
  if (result._tag === "Failed") return stop("error", result.detail)
  return observed(yield* commit(steps, call), result.result.sessionId)
})

/** Asks the reviewers in order until one answers; `review: false` approves without asking. */
const review = Effect.fnUntraced(function*(steps: Steps, attempt: number) {
  const { context, n, watch } = steps
  const git = yield* Git
  const emitVerdict = (verdict: "approved" | "needs-changes" | "rejected", clear: boolean, feedback: string, reviewer: string) =>
    emitNow((at) => ({ _tag: "VerdictGiven", at, worker: context.worker.id, iteration: n, attempt, verdict, clear, feedback, reviewer }))
  if (!context.config.review) {
    yield* emitVerdict("approved", true, "review is off (auto-approved)", "none")
    return observed({ _tag: "Reviewed", verdict: { _tag: "Approved" } })
  }
  const head = yield* git.workspaceHead(context.workspace)
  const fullDiff = yield* watch.time("git", git.diffText(yield* Ref.get(steps.base), head))
  const capped = PromptInputs.capDiff(fullDiff)
  if (capped.omitted.length > 0) {
    yield* emitNow((at) => ({
      _tag: "Warning",
      at,
      worker: context.worker.id,
      message: `iteration ${n}: the diff for review is ${capped.bytes} bytes; the prompt carries ${PromptInputs.reviewDiffBytesMax}, and says which ${capped.omitted.length} file(s) it leaves out`
    }))
  }
  const diff = capped.text
  const reviewers = context.config.reviewers.length > 0 ? context.config.reviewers : [{ agent: context.worker.agent }]
  const failures: Array<string> = []
  for (const reviewer of reviewers) {
    const prompt = yield* PromptInputs.render(context, "reviewer", "prompt" in reviewer && reviewer.prompt !== undefined ? [reviewer.prompt] : [], {
      ...PromptInputs.taskTokens(steps.task),
      // From the whole diff: a change to .gitattributes past the cap is still called out.
      diff: PromptInputs.gitControlNote(fullDiff) + diff,
      branch: steps.branch,
      iteration: String(n),
      iterations: String(context.worker.iterations)
    })
    const result = yield* watch.time("review", AgentCall.run(context, n, { call: "review", agent: reviewer.agent, prompt, task: steps.task?.id }))
    // A reviewer is an agent too, with the same access to the refs.
    const moved = yield* movedDuringCall(steps)
    if (moved !== undefined) return { _tag: "Stop", report: moved } satisfies Performed
    if (result._tag === "BudgetSpent") return stop("budget", `budget ${result.budget} spent`)
    if (result._tag === "Unavailable") return stop("unavailable", result.detail)
    if (result._tag === "Failed") {
      failures.push(`${formatModelString(reviewer.agent)}: ${result.detail}`)
      continue
    }
    const verdict = PromptInputs.verdictOf(result.result.answer)
    const tag = verdict._tag === "Approved" ? "approved" : verdict._tag === "Rejected" ? "rejected" : "needs-changes"
    const feedback = verdict._tag === "Approved" ? "" : verdict._tag === "Rejected" ? verdict.reason : verdict.feedback
    yield* emitVerdict(tag, verdict._tag !== "NeedsChanges" || verdict.clear, feedback, formatModelString(reviewer.agent))
    return observed({ _tag: "Reviewed", verdict })
  }
  return stop("error", `no reviewer answered:\n${failures.join("\n")}`)
})

/**
 * When the loop gives up on work that was approved once (its merge conflicted, and the resolution
 * was not approved), the branch is set back to the approved commit — never to unreviewed commits —
 * kept, and reported.
 */
const keepApproved = Effect.fnUntraced(function*(steps: Steps, report: Ended) {
  const head = yield* Ref.get(steps.approved)
  if (head === undefined) return report
  yield* Git.use((git) => git.setBranch(steps.branch, head))
  if (report.unmerged !== undefined) return report
  const detail = `${report.detail ?? report.outcome}; the approved commit ${head.slice(0, 12)} was not merged: branch ${steps.branch} kept`
  return { ...report, detail, unmerged: { branch: steps.branch, files: [] } } satisfies Ended
})

/** The report for a step that ends the loop without a merge. */
const finish = (
  steps: Steps,
  state: ReviewLoop.State,
  step: Exclude<ReviewLoop.Terminal, { _tag: "Submit" }>,
  done: boolean
): Omit<IterationReport, "timings"> => {
  const reviews = state.attempts
  switch (step._tag) {
    case "Skip":
      return { outcome: "no-changes", done, reviews, detail: "the agent made no changes" }
    case "Reject":
      return { outcome: "rejected", done, reviews, detail: step.reason }
    case "Exhausted":
      return { outcome: "exhausted", done, reviews, detail: step.feedback }
    case "Unmergeable":
      return {
        outcome: "conflict",
        done,
        reviews,
        detail: `approved work could not be merged (conflicts in: ${step.files.join(", ") || "main kept moving"}); branch ${steps.branch} kept`,
        unmerged: { branch: steps.branch, files: step.files }
      }
  }
}

/** Hands approved work to the merge queue; a failed test or a conflict goes back into the loop. */
const submit = Effect.fnUntraced(function*(steps: Steps) {
  const { context, n, watch } = steps
  const git = yield* Git
  const head = yield* git.workspaceHead(context.workspace)
  // Approved work is never deleted: from here until it lands, the branch is kept.
  yield* Ref.set(steps.approved, head)
  if (steps.claim !== undefined) steps.claim.submitted = true
  const outcome = yield* context.mergeQueue.submit({
    worker: context.worker.id,
    iteration: n,
    branch: steps.branch,
    base: yield* Ref.get(steps.base),
    head,
    message: mergeMessage(steps),
    task: steps.task?.id
  })
  watch.timings.mergeWait += outcome.waitedMs
  if ("testMs" in outcome) watch.timings.test += outcome.testMs
  switch (outcome._tag) {
    case "Merged":
      yield* Ref.set(steps.approved, undefined)
      yield* Ref.set(steps.conflicted, undefined)
      return stop("merged", undefined, { mergedSha: outcome.sha })
    case "DryRun":
      return stop("dry-run", `dry run: approved, not merged; branch ${steps.branch} kept`)
    case "MainMoved":
      // Approved work stays approved (and kept: `keepApproved`); it just cannot land in this run.
      return stop("main-moved", mainMovedDetail(outcome.move))
    case "TestFailed":
      // Work that fails the test gate is not mergeable work; the fix loop decides what becomes of it.
      yield* Ref.set(steps.approved, yield* Ref.get(steps.conflicted))
      return observed({ _tag: "TestFailed", output: outcome.output })
    case "PolicyFailed":
      yield* Ref.set(steps.approved, yield* Ref.get(steps.conflicted))
      return observed({ _tag: "MergePolicyFailed", violations: outcome.violations })
    case "Conflict":
      // Approved work that conflicts stays kept: reported if the loop gives up, resolved and merged otherwise.
      // The latest such commit holds every earlier one (each resolution builds on the last).
      yield* Ref.set(steps.conflicted, head)
      return observed({ _tag: "MergeConflict", files: outcome.files, agentResolves: context.config.merge.on_conflict === "agent" })
  }
})

/** Why an iteration stopped on a foreign move of main (see `MergeQueue`). */
const mainMovedDetail = (move: MergeQueue.ForeignMove): string => RunSummary.describeMainMoved(move)

/**
 * After an agent call: main must be where the merge queue left it. The agent runs with write access
 * to the repository's refs; a move noticed now is reported naming this iteration.
 */
const movedDuringCall = Effect.fnUntraced(function*(steps: Steps) {
  const checked = yield* steps.context.mergeQueue.checkMain({ worker: steps.context.worker.id, iteration: steps.n })
  return checked._tag === "Moved" ? ended("main-moved", mainMovedDetail(checked.move)) : undefined
})

/** The merge commit's message, with SPEC F6's trailers so recovery can tell which tasks landed. */
const mergeMessage = (steps: Steps): string => {
  const { context, task } = steps
  // One line: a summary is task-file text, and a line of its own could forge a trailer.
  const title = task === undefined ? `${context.worker.id} iteration ${steps.n}` : `${visibleLine(task.summary)} (${task.id})`
  return [
    `oompa: ${title}`,
    "",
    `Oompa-Run: ${context.runId}`,
    `Oompa-Task: ${task?.id ?? "none"}`,
    `Oompa-Worker: ${context.worker.id}`,
    `Oompa-Verdict: ${context.config.review ? "approved" : "auto-approved"}`
  ].join("\n")
}
