/**
 * A scripted stand-in for the agent CLIs: each call is answered by a function of the request that
 * may edit the workspace's files (in a `MemoryRepo`), write new-task files, take simulated time
 * (through `Clock`, so timeouts fire under `TestClock`), fail, or print anything at all.
 *
 * The driver keeps every call (`calls`) for assertions. Faults are whatever the script does: a
 * non-zero exit, a hang (`delayMs` past the timeout), garbage answers.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { AgentCallKind } from "../domain/Event.ts"
import { Agent, type AgentRequest, type AgentResult } from "../services/Agent.ts"
import type { FileContent, MemoryRepo } from "./MemoryGit.ts"
import { newTasksFolder } from "./MemoryGit.ts"

/**
 * The files of the workspace a call runs in.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkspaceFiles {
  readonly read: (file: string) => FileContent | undefined
  readonly write: (file: string, content: FileContent) => void
  readonly remove: (file: string) => void
  readonly list: () => ReadonlyArray<string>
}

/**
 * A scripted answer.
 *
 * @category models
 * @since 0.1.0
 */
export interface Reply {
  readonly answer: string
  readonly exitCode?: number
  readonly stderr?: string
  /** Simulated time the call takes (through `Clock`). */
  readonly delayMs?: number
  /**
   * Files to write (`null` deletes). Applied before the call returns. A `Map` suits paths made up
   * per call: an object gets a new shape for every new key.
   */
  readonly edits?: Readonly<Record<string, FileContent | null>> | ReadonlyMap<string, FileContent | null>
  /** New tasks, written as JSON files into the workspace's `.oompa-new-tasks/` (raw strings kept as-is). */
  readonly newTasks?: ReadonlyArray<Readonly<Record<string, unknown>> | { readonly file: string; readonly raw: string }>
  readonly sessionId?: string
  readonly costUsd?: number
  /** The price table `costUsd` was estimated with, as a real layer says of a harness that reports only tokens. */
  readonly costEstimatedWith?: string
  readonly tokens?: { readonly input: number; readonly output: number }
}

/**
 * A script: the reply to one call, given the request and the workspace's files.
 *
 * @category models
 * @since 0.1.0
 */
export type Script = (request: AgentRequest, files: WorkspaceFiles) => Reply | Effect.Effect<Reply>

/**
 * One recorded call.
 *
 * @category models
 * @since 0.1.0
 */
export interface Call {
  readonly request: AgentRequest
  readonly reply: Reply
}

/**
 * The driver: the script and every call made.
 *
 * @category models
 * @since 0.1.0
 */
export class ScriptedAgentState {
  readonly calls: Array<Call> = []
  readonly repo: MemoryRepo
  script: Script
  constructor(repo: MemoryRepo, script: Script) {
    this.repo = repo
    this.script = script
  }

  callsOf(kind: AgentCallKind): ReadonlyArray<Call> {
    return this.calls.filter((c) => c.request.call === kind)
  }
}

const filesOf = (repo: MemoryRepo, cwd: string): WorkspaceFiles => ({
  read: (file) => repo.readFile(cwd, file),
  write: (file, content) => repo.writeFile(cwd, file, content),
  remove: (file) => repo.deleteFile(cwd, file),
  list: () => repo.listFiles(cwd)
})

const apply = (repo: MemoryRepo, cwd: string, reply: Reply): void => {
  const edits = reply.edits instanceof Map ? reply.edits : Object.entries(reply.edits ?? {})
  for (const [file, content] of edits) {
    if (content === null) repo.deleteFile(cwd, file)
    else repo.writeFile(cwd, file, content)
  }
  ;(reply.newTasks ?? []).forEach((task, index) => {
    if ("raw" in task && "file" in task) repo.writeFile(cwd, `${newTasksFolder}${String(task.file)}`, String(task.raw))
    else repo.writeFile(cwd, `${newTasksFolder}${String(task["id"] ?? `task-${index}`)}.json`, JSON.stringify(task))
  })
}

/**
 * The `Agent` service over a state.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (state: ScriptedAgentState): Agent["Service"] =>
  Agent.of({
    run: Effect.fnUntraced(function*(request: AgentRequest) {
      const scripted = state.script(request, filesOf(state.repo, request.cwd))
      const reply = Effect.isEffect(scripted) ? yield* scripted : scripted
      if (reply.delayMs !== undefined && reply.delayMs > 0) yield* Effect.sleep(reply.delayMs)
      apply(state.repo, request.cwd, reply)
      state.calls.push({ request, reply })
      const result: AgentResult = {
        exitCode: reply.exitCode ?? 0,
        answer: reply.answer,
        stderr: reply.stderr ?? "",
        durationMs: reply.delayMs ?? 0,
        timedOut: false,
        ...(reply.sessionId === undefined ? {} : { sessionId: reply.sessionId }),
        ...(reply.costUsd === undefined ? {} : { costUsd: reply.costUsd }),
        ...(reply.costEstimatedWith === undefined ? {} : { costEstimatedWith: reply.costEstimatedWith }),
        ...(reply.tokens === undefined ? {} : { tokens: reply.tokens })
      }
      return result
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (state: ScriptedAgentState): Layer.Layer<Agent> => Layer.succeed(Agent, make(state))

/**
 * A script from one function per call kind; kinds without one answer `fallback`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const byCall = (
  scripts: Partial<Record<AgentCallKind, Script>>,
  fallback: Script = () => ({ answer: "" })
): Script =>
(request, files) => (scripts[request.call] ?? fallback)(request, files)

/**
 * A reviewer that approves everything.
 *
 * @category scripts
 * @since 0.1.0
 */
export const approve: Script = () => ({ answer: "Looks good.\nVERDICT: APPROVED" })
