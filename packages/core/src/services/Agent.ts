/**
 * The agent boundary: runs one call of an agent CLI (or a scripted stand-in) and returns its answer.
 *
 * Implemented by `@oompa/adapters-node`'s `NodeAgent` (real processes, one process group per call)
 * and by `@oompa/core/testing`'s `ScriptedAgent`. Called by the iteration for proposals, reviews,
 * fixes and conflict resolution. The caller enforces the timeout through `Clock` (so simulations can
 * drive it); an implementation must stop the call's processes when it is interrupted.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Result, Schema } from "effect"
import type { AgentSpec } from "../domain/AgentSpec.ts"
import { formatIssue } from "../domain/SchemaProblems.ts"
import type { AgentCallKind } from "../domain/Event.ts"
import type { WorkerId } from "../domain/Ids.ts"
import type { AgentUnavailable } from "./Errors.ts"

/**
 * One agent call.
 *
 * @category models
 * @since 0.1.0
 */
export interface AgentRequest {
  readonly agent: AgentSpec
  readonly call: AgentCallKind
  readonly worker: WorkerId
  readonly iteration: number
  /** The task the iteration holds, if any (for transcripts and scripted agents). */
  readonly task?: string
  readonly prompt: string
  /** The workspace the agent works in (its cwd). */
  readonly cwd: string
  /** Variables for the agent's process on top of its harness's (the worktree environment contract, issue 18). */
  readonly env?: Readonly<Record<string, string>>
  readonly timeoutMs: number
  /** Resume this session (the fix step continues the proposer's conversation, SPEC F3). */
  readonly sessionId?: string
}

/**
 * What a call produced. A non-zero exit or a timeout is a result, not an error.
 *
 * @category models
 * @since 0.1.0
 */
export interface AgentResult {
  readonly exitCode: number
  /** The agent's answer (for claude/codex/gemini/opencode: the text extracted from their JSON output). */
  readonly answer: string
  readonly stderr: string
  readonly durationMs: number
  readonly timedOut: boolean
  readonly sessionId?: string
  readonly tokens?: { readonly input: number; readonly output: number }
  /**
   * Dollars this call cost: reported by the harness (claude, opencode), or estimated from its tokens
   * with a price table (then `costEstimatedWith` names the table).
   */
  readonly costUsd?: number
  /**
   * The price table `costUsd` was estimated with from the call's tokens (`@pydantic/genai-prices
   * 0.1.8`, `oompa.json pricing`); absent when the harness reported the cost itself.
   */
  readonly costEstimatedWith?: string
}

/**
 * @category services
 * @since 0.1.0
 */
export class Agent extends Context.Service<Agent, {
  /** Runs one call; fails only when the agent cannot be run at all. */
  readonly run: (request: AgentRequest) => Effect.Effect<AgentResult, AgentUnavailable>
}>()("@oompa/core/services/Agent") {}

/**
 * What an agent written as a function answers: its reply (the text a CLI would print as its answer)
 * and, optionally, what a CLI reports besides. A plain string is `{ answer }`.
 *
 * @category models
 * @since 0.1.0
 */
export interface FunctionReply {
  readonly answer: string
  /** 0 unless given: a non-zero exit is a failed call, as for a CLI. */
  readonly exitCode?: number
  readonly stderr?: string
  readonly sessionId?: string
  readonly tokens?: { readonly input: number; readonly output: number }
  readonly costUsd?: number
}

/**
 * An agent as a function of the call: it works in `request.cwd` (the worker's worktree) however it
 * likes and answers. `signal` aborts when the call is interrupted — at `request.timeoutMs` (a timed
 * out call, as for a CLI), Ctrl-C, the run's end: the function should stop its work then. A thrown
 * error, a rejected promise or a reply of the wrong shape is a failed call (exit 1, the reason as
 * stderr), as a crashing CLI would be.
 *
 * @category models
 * @since 0.1.0
 */
export type AgentFunction = (request: AgentRequest, signal: AbortSignal) => FunctionReply | string | PromiseLike<FunctionReply | string>

/**
 * What a function may answer, checked: a plain-JavaScript caller gets no type check, and a reply
 * that is not one is a failed call naming what is wrong, not a crash of the run.
 */
const Reply = Schema.Union([
  Schema.String,
  Schema.Struct({
    answer: Schema.String,
    exitCode: Schema.optionalKey(Schema.Int),
    stderr: Schema.optionalKey(Schema.String),
    sessionId: Schema.optionalKey(Schema.String),
    tokens: Schema.optionalKey(Schema.Struct({ input: Schema.Number, output: Schema.Number })),
    costUsd: Schema.optionalKey(Schema.Number)
  })
])
const decodeReply = Schema.decodeUnknownResult(Reply)

const failedCall = (stderr: string): FunctionReply => ({ answer: "", exitCode: 1, stderr })

const replyOf = (value: unknown): FunctionReply => {
  const decoded = decodeReply(value)
  if (Result.isFailure(decoded)) {
    return failedCall(`the agent function's reply is not a string or { answer: string, ... }: ${formatIssue(decoded.failure.issue)}`)
  }
  return typeof decoded.success === "string" ? { answer: decoded.success } : decoded.success
}

/**
 * The `Agent` service of a function (see {@link AgentFunction}): how an embedder brings its own agent
 * without writing an Effect.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromFunction = (agent: AgentFunction): Agent["Service"] =>
  Agent.of({
    run: Effect.fnUntraced(function*(request: AgentRequest): Effect.fn.Return<AgentResult> {
      const startedMs = yield* Clock.currentTimeMillis
      const outcome = yield* Effect.tryPromise({
        try: async (signal) => agent(request, signal),
        catch: (cause) => failedCall(cause instanceof Error ? cause.message : String(cause))
      }).pipe(
        Effect.match({ onFailure: (failed) => failed, onSuccess: replyOf }),
        // Interrupting the call aborts the function's signal.
        Effect.timeoutOption(request.timeoutMs)
      )
      const durationMs = (yield* Clock.currentTimeMillis) - startedMs
      if (Option.isNone(outcome)) return { exitCode: -1, answer: "", stderr: "", durationMs, timedOut: true }
      const reply = outcome.value
      return {
        exitCode: reply.exitCode ?? 0,
        answer: reply.answer,
        stderr: reply.stderr ?? "",
        durationMs,
        timedOut: false,
        ...(reply.sessionId === undefined ? {} : { sessionId: reply.sessionId }),
        ...(reply.tokens === undefined ? {} : { tokens: reply.tokens }),
        ...(reply.costUsd === undefined ? {} : { costUsd: reply.costUsd })
      } satisfies AgentResult
    })
  })

/**
 * {@link fromFunction} as a layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFunction = (agent: AgentFunction): Layer.Layer<Agent> => Layer.sync(Agent, () => fromFunction(agent))
