/**
 * Deliberately broken orchestrators (STYLE 13): each variant swaps one piece of oompa, or of the
 * world it trusts, for a wrong one, and the simulation must catch every one of them with the
 * invariant it breaks (`test/simulation/Simulation.test.ts` finds a failing seed for each).
 *
 * A checker that never fails proves nothing; these are what make a passing seed mean something. This
 * module holds the wrong behaviour only, as pieces the simulated world (`World`) and the crash
 * recovery (`Simulation`) put in place of the right ones; with no variant each piece is the right
 * behaviour, unchanged.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Option } from "effect"
import type { Event } from "../domain/Event.ts"
import type * as MergePipeline from "../programs/MergePipeline.ts"
import { Agent } from "../services/Agent.ts"
import { CommandRunner } from "../services/CommandRunner.ts"
import type { Git, MergeAttempt, MergeRequest } from "../services/Git.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import type * as MemoryGit from "../testing/MemoryGit.ts"
import * as MemoryTaskQueue from "../testing/MemoryTaskQueue.ts"
import * as ScriptedAgent from "../testing/ScriptedAgent.ts"
import * as ScriptedCommands from "../testing/ScriptedCommands.ts"

/**
 * Deliberately broken orchestrators, each of which the simulation must catch.
 *
 * @category models
 * @since 0.1.0
 */
export type Variant =
  | "merge-skips-queue"
  | "reviewer-bypass"
  | "non-atomic-claim"
  | "crash-loses-claim"
  | "merge-ignores-failing-test"
  | "recovery-drops-unreviewed-tip"
  | "lands-agent-history"
  | "swap-without-old-value"
  | "claim-ignores-dependencies"
  | "blocked-never-settled"
  | "lands-past-ejected-candidate"
  | "reuses-stale-test"
  | "lands-redelivery-twice"
  | "push-without-lease"
  | "lands-twice-after-failover"

/**
 * Every broken variant, with what it breaks: `oompa sim --variant` lists them.
 *
 * @category models
 * @since 0.1.0
 */
export const variants: { readonly [V in Variant]: string } = {
  "merge-skips-queue": "every commit lands on main at once, outside the merge queue and unreviewed",
  "reviewer-bypass": "whatever the reviewer says, the orchestrator hears APPROVED",
  "non-atomic-claim": "a claim reads the queue, yields, then takes the task without checking it is still there",
  "crash-loses-claim": "recovery does not see the claims a dead run left in current/",
  "merge-ignores-failing-test": "the test gate reports green whatever the tests said",
  "recovery-drops-unreviewed-tip": "recovery counts a branch as approved only when its head is (oompa 0.1's defect)",
  "swap-without-old-value": "main is moved by a plain update-ref, not from the value the queue last saw, so a move by an agent in between is overwritten and never reported",
  "lands-agent-history": "a merge keeps the agent's own commits as its second parent, so a file the policy denied and the fix deleted stays reachable from main",
  "claim-ignores-dependencies": "a claim takes the first pending task in claim order, whether or not its dependencies merged",
  "blocked-never-settled": "a task whose dependency failed, is unknown or closes a cycle stays in pending/, waiting for ever",
  "lands-past-ejected-candidate": "with speculation, the candidates behind one that failed its test are not rebuilt: they land with the failed change under them",
  "reuses-stale-test": "with speculation, a rebuilt candidate takes the result of the test its previous build ran, on a tree it no longer is",
  "lands-redelivery-twice": "the merge queue does not know a submission delivered twice (at-least-once delivery), and lands it twice",
  "push-without-lease": "a remote target is pushed to with --force, not --force-with-lease: a teammate's push in between is overwritten",
  "lands-twice-after-failover": "a merge queue started after another died (a cluster's failover) does not look on main for the landing of a copy it is given, and lands it again"
}

/**
 * The pipeline's own broken behaviour (`MergePipeline.Broken`) a variant switches on, if any.
 *
 * @category combinators
 * @since 0.1.0
 */
export const brokenPipeline = (variant: Variant | undefined): ReadonlySet<MergePipeline.BrokenPipeline> => {
  switch (variant) {
    case "lands-past-ejected-candidate":
    case "reuses-stale-test":
    case "lands-redelivery-twice":
    case "lands-twice-after-failover":
      return new Set([variant])
    default:
      return new Set()
  }
}

/**
 * What a merge returns: under `lands-agent-history`, a merge that records the agent's branch head
 * as its second parent, history and all.
 *
 * @category combinators
 * @since 0.1.0
 */
export const mergeResult = (
  variant: Variant | undefined,
  repo: MemoryGit.MemoryRepo,
  request: MergeRequest,
  result: MergeAttempt
): MergeAttempt =>
  variant === "lands-agent-history" && result._tag === "Merged"
    ? { _tag: "Merged" as const, sha: repo.commitWithParents([request.onto, request.head], request.message, result.sha) }
    : result

/**
 * The compare-and-swap of main: under `swap-without-old-value`, a move wherever main is, as
 * `update-ref refs/heads/main NEW` without OLD would.
 *
 * @category combinators
 * @since 0.1.0
 */
export const compareAndSwapMain = (
  variant: Variant | undefined,
  repo: MemoryGit.MemoryRepo,
  base: Git["Service"]
): Git["Service"]["compareAndSwapMain"] =>
(expected, next, landed) => {
  if (variant === "push-without-lease" && repo.remote !== undefined) {
    const remote = repo.remote
    return Effect.sync(() => {
      remote.head = next
      repo.setBranch(repo.targetBranch, next)
      for (const task of landed ?? []) repo.forgeMarker(task, next)
      return true
    })
  }
  return variant !== "swap-without-old-value" ? base.compareAndSwapMain(expected, next, landed) : Effect.sync(() => {
    repo.setBranch(repo.targetBranch, next)
    for (const task of landed ?? []) repo.forgeMarker(task, next)
    return true
  })
}

/**
 * A workspace commit: under `merge-skips-queue`, every commit also lands on main at once, unreviewed.
 *
 * @category combinators
 * @since 0.1.0
 */
export const commitAll = (variant: Variant | undefined, repo: MemoryGit.MemoryRepo, base: Git["Service"]): Git["Service"]["commitAll"] =>
  variant !== "merge-skips-queue" ? base.commitAll : (workspace, message) =>
    Effect.tap(base.commitAll(workspace, message), (sha) =>
      Effect.sync(() => {
        const main = repo.mainHead()
        if (Option.isSome(sha) && repo.isAncestor(main, sha.value)) repo.compareAndSwapMain(main, sha.value)
      }))

/**
 * The task queue: under `non-atomic-claim`, a claim reads, yields, then "renames" without checking
 * that the task is still there; under `claim-ignores-dependencies`, a claim takes the first pending
 * task, ready or not; under `blocked-never-settled`, the tasks that can never be claimed are never
 * moved on.
 *
 * @category constructors
 * @since 0.1.0
 */
export const taskQueue = (variant: Variant | undefined, state: MemoryTaskQueue.MemoryTaskQueueState): TaskQueue["Service"] => {
  const base = MemoryTaskQueue.make(state)
  switch (variant) {
    case "non-atomic-claim":
      return {
        ...base,
        claim: Effect.gen(function*() {
          const next = state.readiness.live[0]
          if (next === undefined) return Option.none()
          yield* Effect.yieldNow
          if (state.folders.pending.has(next.id)) state.move(next.id, "pending", "current")
          return Option.some(next)
        })
      }
    case "claim-ignores-dependencies":
      return {
        ...base,
        claim: Effect.sync(() => {
          const next = state.list("pending")[0]
          return next === undefined ? Option.none() : Option.some(state.move(next.id, "pending", "current"))
        }),
        // Waiting executors look for a task to claim as this claim sees them.
        ready: Effect.sync(() => state.list("pending"))
      }
    case "blocked-never-settled":
      return { ...base, settleBlocked: Effect.succeed([]) }
    default:
      return base
  }
}

/**
 * The agents: under `reviewer-bypass`, whatever the reviewer said, the orchestrator hears APPROVED.
 *
 * @category constructors
 * @since 0.1.0
 */
export const agent = (variant: Variant | undefined, state: ScriptedAgent.ScriptedAgentState): Agent["Service"] => {
  const base = ScriptedAgent.make(state)
  if (variant !== "reviewer-bypass") return base
  return { run: (request) => Effect.map(base.run(request), (result) => (request.call === "review" ? { ...result, answer: "VERDICT: APPROVED" } : result)) }
}

/**
 * The commands: under `merge-ignores-failing-test`, the tests run, then report green whatever they said.
 *
 * @category constructors
 * @since 0.1.0
 */
export const commandRunner = (variant: Variant | undefined, state: ScriptedCommands.ScriptedCommandsState): CommandRunner["Service"] => {
  const base = ScriptedCommands.make(state)
  if (variant !== "merge-ignores-failing-test") return base
  return { ...base, inCommit: (sha, command, timeoutMs) => Effect.map(base.inCommit(sha, command, timeoutMs), (run) => ({ ...run, passed: true })) }
}

/**
 * The task queue recovery reads: under `crash-loses-claim`, one that does not see the claims a dead
 * run left in `current/`.
 *
 * @category layers
 * @since 0.1.0
 */
export const recoveryTaskQueue = (variant: Variant | undefined, state: MemoryTaskQueue.MemoryTaskQueueState): Layer.Layer<TaskQueue> =>
  variant === "crash-loses-claim"
    ? Layer.succeed(TaskQueue, { ...MemoryTaskQueue.make(state), list: (status) => status === "current" ? Effect.succeed([]) : MemoryTaskQueue.make(state).list(status) })
    : MemoryTaskQueue.layer(state)

/**
 * A dead run's log as recovery reads it: under `recovery-drops-unreviewed-tip` (oompa's own first
 * version), a branch counts as approved only when its head is, so a crash during a conflict
 * resolution loses the approved commit under it.
 *
 * @category combinators
 * @since 0.1.0
 */
export const recoveryRunLog = (variant: Variant | undefined, log: ReadonlyArray<Event>): ReadonlyArray<Event> =>
  variant === "recovery-drops-unreviewed-tip" ? approvalsOfHeadsOnly(log) : log

/** The log without the approvals of iterations that committed again after their last one. */
const approvalsOfHeadsOnly = (log: ReadonlyArray<Event>): ReadonlyArray<Event> => {
  const key = (e: { readonly worker: string; readonly iteration: number }) => `${e.worker}\u0000${e.iteration}`
  const last = new Map<string, "committed" | "approved">()
  for (const e of log) {
    if (e._tag === "Committed") last.set(key(e), "committed")
    else if (e._tag === "VerdictGiven" && e.verdict === "approved") last.set(key(e), "approved")
  }
  return log.filter((e) => !(e._tag === "VerdictGiven" && e.verdict === "approved" && last.get(key(e)) === "committed"))
}
