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
import type { Effect } from "effect"
import { Context } from "effect"
import type { AgentSpec } from "../domain/AgentSpec.ts"
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
  /** Dollars this call cost, when the harness reports it (claude, opencode). */
  readonly costUsd?: number
}

/**
 * @category services
 * @since 0.1.0
 */
export class Agent extends Context.Service<Agent, {
  /** Runs one call; fails only when the agent cannot be run at all. */
  readonly run: (request: AgentRequest) => Effect.Effect<AgentResult, AgentUnavailable>
}>()("@oompa/core/services/Agent") {}
