/**
 * One iteration of one worker (SPEC F5), the heart of oompa.
 *
 * A fresh branch from the current main in the worker's workspace → `setup_command` → claim a task
 * (when the role claims) → render the prompt → proposer → collect new tasks → commit → nothing
 * changed? stop → policy gate → reviewer → fix loop (decided by `ReviewLoop`, performed by
 * `IterationSteps`) → merge queue with the test gate → task complete. Rejected or exhausted work
 * goes back to `pending/` (or `failed/`).
 *
 * Invariants it keeps: a claim is always settled — completed, released, or (on interruption)
 * returned by its scope's finalizer (`Claim`); a branch holding approved-but-unmerged work is never
 * deleted; nothing reaches main except through the merge queue after an approval.
 *
 * Needs the run's services (`RunServices`), `CurrentWorker`, and `Git`, `Agent`, `TaskQueue`,
 * `EventSink`, `Prompts`, `CommandRunner`.
 *
 * @since 0.1.0
 */
import * as WorktreeEnvironment from "../domain/WorktreeEnvironment.ts"
import { Effect, Exit, Option, Ref } from "effect"
import type { PromptName } from "../domain/DefaultPrompts.ts"
import { zeroTimings } from "../domain/Event.ts"
import { iterationBranch } from "../domain/Ids.ts"
import type { Task } from "../domain/Task.ts"
import { CommandRunner } from "../services/CommandRunner.ts"
import { emitNow } from "../services/EventSink.ts"
import { Git } from "../services/Git.ts"
import * as AgentCall from "./AgentCall.ts"
import * as Claim from "./Claim.ts"
import { type Ended, ended, type IterationReport, type Stopwatch, type Steps } from "./IterationSteps.ts"
import * as IterationSteps from "./IterationSteps.ts"
import { MergeQueue, type Resumed } from "./MergeQueue.ts"
import * as NewTasks from "./NewTasks.ts"
import * as PromptInputs from "./PromptInputs.ts"
import * as ReviewLoop from "./ReviewLoop.ts"
import { CurrentRun, CurrentWorker } from "./RunServices.ts"

export type { IterationReport } from "./IterationSteps.ts"

/**
 * An executor found nothing to claim: no iteration ran.
 *
 * @category models
 * @since 0.1.0
 */
export interface NothingToClaim {
  readonly _tag: "NothingToClaim"
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
 * Runs iteration `n` of the current worker.
 *
 * @category programs
 * @since 0.1.0
 */
export const run = Effect.fnUntraced(function*(n: number) {
  const { worker } = yield* CurrentWorker
  const claimed = worker.role !== "planner" ? yield* Claim.acquire(n) : Option.none<Claim.Claim>()
  if (worker.role === "executor" && Option.isNone(claimed)) return { _tag: "NothingToClaim" } as NothingToClaim
  const watch = makeStopwatch()
  const report = yield* attempt(n, Option.getOrUndefined(claimed), watch).pipe(
    Effect.catch((error) => Effect.succeed(ended("error", `${error._tag}: ${error.message}`)))
  )
  const movedTo = Option.isSome(claimed) ? yield* Claim.settle(claimed.value, report) : undefined
  const full: IterationReport = {
    ...report,
    timings: { ...watch.timings },
    ...(Option.isSome(claimed) ? { task: claimed.value.task.id } : {}),
    ...(movedTo === undefined ? {} : { taskMovedTo: movedTo })
  }
  yield* emitFinished(worker.id, n, full)
  return full
}, Effect.scoped)

const emitFinished = (worker: string, n: number, report: IterationReport) =>
  emitNow((at) => ({
    _tag: "IterationFinished",
    at,
    worker,
    iteration: n,
    outcome: report.outcome,
    reviews: report.reviews,
    timings: report.timings,
    ...(report.task === undefined ? {} : { task: report.task }),
    ...(report.detail === undefined ? {} : { detail: Claim.firstLine(report.detail) }),
    ...(report.unmerged === undefined ? {} : { kept: report.unmerged.branch })
  }))

/** The iteration proper, from the workspace reset to the merge; the claim is handled by the caller. */
const attempt = Effect.fnUntraced(function*(n: number, claim: Claim.Claim | undefined, watch: Stopwatch) {
  const git = yield* Git
  const mergeQueue = yield* MergeQueue
  const { config, keepBranches, runId } = yield* CurrentRun
  const { worker, workspace } = yield* CurrentWorker
  const start = yield* watch.time("git", mergeQueue.checkMain())
  if (start._tag === "Moved") return ended("main-moved", IterationSteps.mainMovedDetail(start.move))
  const base = start.main
  const branch = iterationBranch(runId, worker.id, n)
  const loop = yield* Ref.make(ReviewLoop.initial({ reviewAttemptsMax: config.max_review_attempts, conflictRetriesMax: config.max_merge_retries }))
  yield* Effect.acquireRelease(
    watch.time("git", git.resetWorkspace(workspace, branch, base)),
    // A branch holding approved-but-unmerged work is never deleted (SPEC F5, F14); interrupted, the run says it kept it.
    (_, exit) => Effect.flatMap(Ref.get(loop), (state) => {
      if (state.approved === undefined) return keepBranches ? Effect.void : Effect.ignore(git.deleteBranch(branch))
      if (!Exit.hasInterrupts(exit)) return Effect.void
      const approved = state.approved
      return emitNow((at) => ({
        _tag: "Warning",
        at,
        worker: worker.id,
        message: `${worker.id} iteration ${n} was interrupted before its approved commit ${approved.slice(0, 12)} was merged: branch ${branch} kept (oompa cleanup says how to merge it)`
      }))
    })
  )
  yield* emitNow((at) => ({ _tag: "IterationStarted", at, worker: worker.id, iteration: n, branch, base }))
  if (config.setup_command !== undefined) {
    // Once per worktree, and again when its inputs changed or a reset undid what it did (issue 18).
    const { setup: done } = yield* CurrentWorker
    const inputs = yield* watch.time("git", git.setupInputs(workspace, config.worktree.setup_inputs))
    const last = yield* Ref.get(done)
    if (last === undefined || !last.reusable || last.inputs !== inputs) {
      const setup = yield* watch.time("setup", runSetup(config.setup_command, config.timeouts.setup * 1000, n, claim?.task.id))
      // A worktree the setup cannot prepare is no place to work: this worker stops, the run goes on.
      if (!setup.passed) return ended("error", `setup_command failed:\n${outputTail(setup.output)}`, { setupFailed: true })
      // What the setup wrote is not the agent's change (issue 15).
      const outputs = yield* watch.time("git", git.markSetupOutputs(workspace))
      // As the setup left them: what the next iteration must find again to skip it.
      const left = yield* watch.time("git", git.setupInputs(workspace, config.worktree.setup_inputs))
      yield* Ref.set(done, { inputs: left, reusable: outputs.reusable })
    }
  }
  const steps: Steps = { n, task: claim?.task, claim, watch, branch, base: yield* Ref.make(base), loop, submitted: { count: 0 } }
  if (claim !== undefined && mergeQueue.resume !== undefined) {
    const resumed = yield* mergeQueue.resume({ worker: worker.id, iteration: n, task: claim.task.id, branch })
    if (resumed !== undefined) return yield* resumeFrom(steps, resumed)
  }
  const proposal = yield* propose(steps)
  if (proposal._tag === "Stopped") return proposal.report
  return yield* reviewAndMerge(steps, proposal.sessionId, proposal.done)
})

/** The last lines of a command's output: what a failure report shows. */
const outputTail = (output: string, lines = 20): string => output.trimEnd().split("\n").slice(-lines).join("\n")

const runSetup = Effect.fnUntraced(function*(command: string, timeoutMs: number, n: number, task: string | undefined) {
  const runner = yield* CommandRunner
  const { environment, workspace } = yield* CurrentWorker
  return yield* runner.inWorkspace(workspace.path, command, timeoutMs, WorktreeEnvironment.variables(environment, n, task)).pipe(
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () => Effect.succeed({ passed: false, output: `timed out after ${timeoutMs} ms`, durationMs: timeoutMs, timedOut: true })
    })
  )
})

type Proposal =
  | { readonly _tag: "Proposed"; readonly sessionId: string | undefined; readonly done: boolean }
  | { readonly _tag: "Stopped"; readonly report: Ended }

const proposerPromptName = (role: string, task: Task | undefined): PromptName =>
  role === "planner" ? "planner" : task !== undefined && role === "executor" ? "executor" : "worker"

/** Renders the proposer's prompt, runs it, collects new tasks; stops early on failure or budget. */
const propose = Effect.fnUntraced(function*(steps: Steps) {
  const { worker } = yield* CurrentWorker
  const { n, task } = steps
  const prompt = yield* PromptInputs.render(proposerPromptName(worker.role, task), worker.prompt, {
    ...PromptInputs.taskTokens(task),
    branch: steps.branch,
    iteration: String(n),
    iterations: String(worker.iterations)
  })
  const call = yield* steps.watch.time("agent", AgentCall.run(n, {
    call: worker.role === "planner" ? "plan" : "propose",
    agent: worker.agent,
    prompt,
    task: task?.id
  }))
  yield* NewTasks.collect(n)
  const moved = yield* IterationSteps.movedDuringCall(steps)
  if (moved !== undefined) return { _tag: "Stopped", report: moved } satisfies Proposal
  if (call._tag !== "Answered") return { _tag: "Stopped", report: IterationSteps.stoppedBy(call) } satisfies Proposal
  return { _tag: "Proposed", sessionId: call.result.sessionId, done: call.done } satisfies Proposal
})

/**
 * Goes on from work an earlier run left waiting on people (`MergeQueue.resume`): its outcome is
 * taken as this iteration's own submission's would be; feedback to act on is acted on in a
 * workspace at the commit the pull request holds, built on the main it was built on, and the fix
 * goes through review and into the same pull request. Its approval counts as one review.
 */
const resumeFrom = Effect.fnUntraced(function*(steps: Steps, resumed: Resumed) {
  const git = yield* Git
  const { workspace } = yield* CurrentWorker
  if (steps.claim !== undefined) steps.claim.submitted = true
  yield* Ref.update(steps.loop, (state) => ({ ...state, attempts: 1 }))
  const performed = yield* IterationSteps.afterOutcome(steps, resumed.outcome)
  if (performed._tag === "Stop") return { ...performed.report, reviews: 1 } satisfies Ended
  yield* steps.watch.time("git", git.resetWorkspace(workspace, steps.branch, resumed.head))
  yield* Ref.set(steps.base, resumed.base)
  return yield* reviewAndMerge(steps, undefined, false, performed.observation)
})

/**
 * Drives `ReviewLoop` from the first commit (or from `first`, an observation made before this
 * iteration's loop began) to its end, performing each step.
 */
const reviewAndMerge = Effect.fnUntraced(function*(steps: Steps, sessionId: string | undefined, done: boolean, first?: ReviewLoop.Observation) {
  const { config } = yield* CurrentRun
  let session = sessionId
  let [state, step] = ReviewLoop.step(yield* Ref.get(steps.loop), first ?? (yield* IterationSteps.commit(steps, "propose")))
  yield* Ref.set(steps.loop, state)
  // Bounded: every cycle ends, or spends a review attempt or a conflict retry (ReviewLoop's invariant).
  const stepsMax = 4 * (config.max_review_attempts + config.max_merge_retries) + 8
  for (let i = 0; i < stepsMax; i++) {
    if (step._tag !== "Submit" && ReviewLoop.isTerminal(step)) return yield* keepApproved(steps, finish(steps, state, step, done))
    const performed = step._tag === "Submit" ? yield* IterationSteps.submit(steps, state) : yield* IterationSteps.perform(steps, state, step, session)
    if (performed._tag === "Stop") {
      const report = { ...performed.report, done, reviews: state.attempts } satisfies Ended
      return report.outcome === "merged" || report.outcome === "dry-run" ? report : yield* keepApproved(steps, report)
    }
    if (performed.sessionId !== undefined) session = performed.sessionId
    ;[state, step] = ReviewLoop.step(state, performed.observation)
    yield* Ref.set(steps.loop, state)
  }
  return yield* Effect.die(new Error(`assertion failed: review loop of ${steps.branch} did not end within ${stepsMax} steps`))
})

/**
 * When the loop gives up on work that was approved once (its merge conflicted, and the resolution
 * was not approved), the branch is set back to the approved commit — never to unreviewed commits —
 * kept, and reported.
 */
const keepApproved = Effect.fnUntraced(function*(steps: Steps, report: Ended) {
  const head = (yield* Ref.get(steps.loop)).approved
  if (head === undefined) return report
  yield* Git.use((git) => git.setBranch(steps.branch, head))
  if (report.unmerged !== undefined) return report
  const detail = `${report.detail ?? report.outcome}; the approved commit ${head.slice(0, 12)} was not merged: branch ${steps.branch} kept`
  return { ...report, detail, unmerged: { branch: steps.branch, files: [] } } satisfies Ended
})

/** The report for a step that ends the loop without a merge. */
const finish = (steps: Steps, state: ReviewLoop.State, step: Exclude<ReviewLoop.Terminal, { _tag: "Submit" }>, done: boolean): Ended => {
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
