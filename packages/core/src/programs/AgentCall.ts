/**
 * One agent call as the iteration sees it: budget checked first, the timeout enforced through the
 * `Clock` (so simulations drive it), cost and tokens recorded, an `AgentFinished` event emitted.
 *
 * A non-zero exit, a timeout or an agent that cannot be started are all `Failed`: the iteration
 * decides what that means.
 *
 * @since 0.1.0
 */
import * as WorktreeEnvironment from "../domain/WorktreeEnvironment.ts"
import { Clock, Effect, Option, Ref } from "effect"
import { type AgentSpec, formatModelString } from "../domain/AgentSpec.ts"
import type { BudgetName } from "../domain/Budget.ts"
import type { AgentCallKind } from "../domain/Event.ts"
import { hasDoneSignal } from "../domain/Verdict.ts"
import { Agent, type AgentResult } from "../services/Agent.ts"
import * as Errors from "../services/Errors.ts"
import { EventSink } from "../services/EventSink.ts"
import { BudgetTracker } from "./BudgetTracker.ts"
import { CurrentRun, CurrentWorker, RunState } from "./RunServices.ts"

/**
 * @category models
 * @since 0.1.0
 */
export type CallResult =
  | { readonly _tag: "Answered"; readonly result: AgentResult; readonly done: boolean }
  | { readonly _tag: "Failed"; readonly detail: string; readonly result?: AgentResult }
  | { readonly _tag: "BudgetSpent"; readonly budget: BudgetName }
  /** The agent cannot run at all in this run; the run is stopping (`RunState.unavailable`). */
  | { readonly _tag: "Unavailable"; readonly detail: string }

/**
 * Slack on top of the call's own timeout before the core gives up on it: a real adapter enforces
 * `timeoutMs` itself (killing the process group and keeping the output), so the core's clock only
 * fires when the adapter could not — and then the call still ends in bounded time.
 */
export const timeoutMarginMs = 15_000

/** The most characters of stderr quoted in a failure's detail (the whole of it is in the transcript). */
const stderrQuotedMax = 300

/**
 * One line of stderr that says why a call failed: the last line naming an error, else the last line.
 * CLIs print warnings and stack traces there (gemini does both), and a failure is reported in one line.
 */
export const failureLine = (stderr: string): string => {
  const lines = stderr.split("\n").map((line) => line.trim()).filter((line) => line !== "" && !/^at\s/.test(line))
  const named = [...lines].reverse().find((line) => /error|fail|denied|refuse|not (logged|authenticated)|unauthori[sz]ed/i.test(line))
  const line = named ?? lines[lines.length - 1]
  return line === undefined ? "" : `: ${line.length > stderrQuotedMax ? `${line.slice(0, stderrQuotedMax)}…` : line}`
}


/**
 * Runs one call for iteration `n` of the current worker.
 *
 * @category programs
 * @since 0.1.0
 */
export const run = Effect.fnUntraced(function*(n: number, options: {
  readonly call: AgentCallKind
  readonly agent: AgentSpec
  readonly prompt: string
  readonly task: string | undefined
  readonly sessionId?: string | undefined
}): Effect.fn.Return<CallResult, never, Agent | EventSink | BudgetTracker | CurrentRun | CurrentWorker | RunState> {
  const { call, agent, prompt, sessionId, task } = options
  const budget = yield* BudgetTracker
  const { config } = yield* CurrentRun
  const { environment, worker, workspace } = yield* CurrentWorker
  const spent = yield* budget.check(worker.id, worker.budget)
  if (Option.isSome(spent)) return { _tag: "BudgetSpent", budget: spent.value }
  const timeoutMs = (call === "review" ? config.timeouts.review : config.timeouts.propose) * 1000
  const startedMs = yield* Clock.currentTimeMillis
  const runner = yield* Agent
  const result = yield* runner.run({
    agent,
    call,
    worker: worker.id,
    iteration: n,
    prompt,
    cwd: workspace.path,
    env: WorktreeEnvironment.variables(environment, n, task),
    timeoutMs,
    ...(task === undefined ? {} : { task }),
    ...(sessionId === undefined ? {} : { sessionId })
  }).pipe(
    Effect.map((r): AgentResult | string | Errors.AgentUnavailable => r),
    Effect.catchTag("AgentUnavailable", (e) => Effect.succeed(e.stopsRun === true ? e : e.message)),
    Effect.timeoutOrElse({
      duration: timeoutMs + timeoutMarginMs,
      orElse: () => Effect.succeed<AgentResult | string>({ exitCode: -1, answer: "", stderr: "", durationMs: timeoutMs, timedOut: true })
    })
  )
  const finishedMs = yield* Clock.currentTimeMillis
  const label = formatModelString(agent)
  if (result instanceof Errors.AgentUnavailable) {
    yield* emitFinished(worker.id, n, call, label, finishedMs, { exitCode: 127, durationMs: finishedMs - startedMs, timedOut: false, error: result.message })
    const { unavailable } = yield* RunState
    const first = Option.isNone(yield* Ref.getAndUpdate(unavailable, (seen) => Option.isSome(seen) ? seen : Option.some(`${label}: ${result.message}`)))
    if (first) {
      yield* EventSink.use((sink) => sink.emit({ _tag: "Warning", at: finishedMs, worker: worker.id, message: `${label} cannot run: ${result.message}; the run stops, and no task attempt is counted` }))
    }
    return { _tag: "Unavailable", detail: `${label} cannot run: ${result.message}` }
  }
  if (typeof result === "string") {
    yield* emitFinished(worker.id, n, call, label, finishedMs, { exitCode: 127, durationMs: finishedMs - startedMs, timedOut: false, error: result })
    return { _tag: "Failed", detail: `${label} could not run: ${result}` }
  }
  yield* budget.record(worker.id, { harness: agent.harness, costUsd: result.costUsd, costEstimatedWith: result.costEstimatedWith, tokens: result.tokens })
  // Built only for a failed call: the failure line scans stderr.
  const detail = result.timedOut
    ? `${label} timed out after ${timeoutMs / 1000} s`
    : result.exitCode !== 0
    ? `${label} exited with code ${result.exitCode}${failureLine(result.stderr)}`
    : undefined
  yield* emitFinished(worker.id, n, call, label, finishedMs, {
    exitCode: result.exitCode,
    durationMs: result.timedOut ? timeoutMs : result.durationMs,
    timedOut: result.timedOut,
    ...(result.tokens === undefined ? {} : { tokens: result.tokens }),
    ...(result.costUsd === undefined ? {} : { costUsd: result.costUsd }),
    ...(result.costUsd === undefined || result.costEstimatedWith === undefined ? {} : { costEstimatedWith: result.costEstimatedWith }),
    ...(detail === undefined ? {} : { error: detail })
  })
  if (detail !== undefined) return { _tag: "Failed", detail, result }
  return { _tag: "Answered", result, done: call !== "review" && hasDoneSignal(result.answer) }
})

const emitFinished = (worker: string, n: number, call: AgentCallKind, agent: string, at: number, fields: {
  readonly exitCode: number
  readonly durationMs: number
  readonly timedOut: boolean
  readonly tokens?: { readonly input: number; readonly output: number }
  readonly costUsd?: number
  readonly costEstimatedWith?: string
  readonly error?: string
}) => EventSink.use((sink) => sink.emit({ _tag: "AgentFinished", at, worker, iteration: n, call, agent, ...fields }))
