/**
 * One process of an agent call (SPEC F3): its command line from `Harnesses`, spawned as the leader of
 * its own process group (recorded for recovery while it lives), the prompt on stdin, stdout and
 * stderr read as they arrive into bounded captures, the whole group stopped (TERM, then KILL after
 * `graceMs`) at the call's timeout or interruption, and a transcript written however it ends.
 *
 * Internal: used by `NodeAgent`.
 *
 * @since 0.1.0
 */
import { type Agent, AgentSpec, Errors, type SwarmConfig } from "@oompa/core"
import { Clock, Effect, Exit, FileSystem, Path } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import * as nodeFs from "node:fs"
import * as Harnesses from "../Harnesses.ts"
import * as ProcessOwner from "../ProcessOwner.ts"
import * as Transcripts from "../Transcripts.ts"
import * as Groups from "./agentGroups.ts"
import * as AgentProcess from "./agentProcess.ts"
import * as OutputCapture from "./outputCapture.ts"

type AgentRequest = Agent.AgentRequest
type AgentUnavailable = Errors.AgentUnavailable

/**
 * How long output may still arrive after the agent's own process exited: a descendant that keeps
 * stdout open is not waited for (the group is stopped when the call ends).
 */
const outputDrainMs = 1_000

/** What one process of a call needs of the layer's options. */
export interface AttemptSettings {
  readonly runDir: string
  readonly harnesses: Readonly<Record<string, SwarmConfig.HarnessOverride>>
  readonly outputBytesMax: number
  readonly graceMs: number
  readonly env: Readonly<Record<string, string | undefined>>
}

/** The mutable bookkeeping of one layer instance (one run). */
export interface LayerState {
  /** Next transcript number per `<worker>-<iteration>-<call>`. */
  readonly counters: Map<string, number>
  /** Last cumulative cost/tokens reported per `harness:session`. */
  readonly sessions: Map<string, Reported>
}

export interface Reported {
  readonly costUsd?: number | undefined
  readonly tokens?: { readonly input: number; readonly output: number } | undefined
}

/** One process of a call, as it went. Filled in while it runs, read by the transcript. */
export interface Attempt {
  readonly attempt: number
  readonly n: number
  readonly startedMs: number
  readonly stdout: OutputCapture.OutputCapture
  readonly stderr: OutputCapture.OutputCapture
  readonly notes: Array<string>
  line: Harnesses.CommandLine | undefined
  pid: number | undefined
  exitCode: number | null
  timedOut: boolean
  endedMs: number
}

export type Services = ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path

export const unavailable = (request: AgentRequest, message: string, stopsRun = false): AgentUnavailable =>
  new Errors.AgentUnavailable({ agent: AgentSpec.formatModelString(request.agent), message, ...(stopsRun ? { stopsRun } : {}) })

/** Why a spawn failed, in one line naming the binary (or the worktree). */
const spawnFailure = (request: AgentRequest, line: Harnesses.CommandLine, failure: AgentProcess.NotStarted): AgentUnavailable => {
  // Node reports a cwd that is gone with the same ENOENT as a missing binary.
  if (!isFolder(request.cwd)) return unavailable(request, `the worktree ${request.cwd} cannot be used as the agent's cwd: it is not a folder`)
  if (failure.code === "ENOENT") return unavailable(request, Harnesses.missingBinaryMessage(request.agent.harness, line.command), true)
  return unavailable(request, `${line.command} could not be started: ${failure.message}`)
}

const isFolder = (folder: string): boolean => {
  try {
    return nodeFs.statSync(folder).isDirectory()
  } catch {
    return false
  }
}

/**
 * Spawns the process and waits for its exit and its output. Scoped: closing the scope (timeout,
 * interruption, or the end of the call) stops the whole group, TERM then KILL after `graceMs`.
 */
const spawnAndWait = Effect.fnUntraced(function*(settings: AttemptSettings, request: AgentRequest, state: Attempt, line: Harnesses.CommandLine) {
  // Released last, after the group is stopped: what the call left outside its group (a setsid tool,
  // a daemon) is found by its tag and killed, so nothing an agent started outlives its call.
  const tag = ProcessOwner.newCallTag(`${request.worker}-${request.iteration}-${request.call}`)
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      // Nothing was started when the spawn failed; what was, has ids from the agent's own on.
      const killed = state.pid === undefined ? [] : ProcessOwner.reapCall(tag, state.pid)
      if (killed.length > 0) state.notes.push(`killed ${killed.length} process(es) the agent left running outside its process group: ${killed.join(", ")}`)
    }))
  // Acquired before the spawn so that its release runs after the spawn's (which kills the group).
  const recorded = yield* Effect.acquireRelease(
    Effect.sync(() => ({ pid: undefined as number | undefined })),
    (slot) => slot.pid === undefined ? Effect.void : Groups.unrecordGroup(settings.runDir, slot.pid)
  )
  const handle = yield* AgentProcess.start({
    command: line.command,
    args: line.args,
    cwd: request.cwd,
    // The worktree environment contract's variables win over the harness's (issue 18).
    env: { ...line.env, ...request.env, [ProcessOwner.callVariable]: tag },
    stdin: new TextEncoder().encode(request.prompt),
    keep: OutputCapture.split(settings.outputBytesMax)
  }, {
    output: (fd, chunk) => (fd === 1 ? state.stdout : state.stderr).push(chunk),
    dropped: (fd, bytes) => (fd === 1 ? state.stdout : state.stderr).skip(bytes),
    note: (message) => void state.notes.push(message)
  }, settings.graceMs).pipe(Effect.mapError((failure) => spawnFailure(request, line, failure)))
  state.pid = handle.pid
  yield* Groups.recordGroup(settings.runDir, request, line, handle.pid, state.startedMs).pipe(
    Effect.mapError((error) => unavailable(request, `cannot record the agent's process group in ${settings.runDir}/${Groups.groupsFolderName}: ${error.message}`))
  )
  recorded.pid = handle.pid
  state.exitCode = yield* handle.exitCode
  yield* handle.outputClosed.pipe(Effect.timeoutOrElse({
    duration: outputDrainMs,
    orElse: () => Effect.sync(() => void state.notes.push("output stayed open after the agent exited (a descendant kept it); its group was stopped"))
  }))
})

/** Writes the attempt's transcript; a failure to write is logged, it does not fail the call. */
const writeTranscript = (settings: AttemptSettings, request: AgentRequest, state: Attempt, interrupted: boolean) =>
  Effect.gen(function*() {
    const stdout = state.stdout.render()
    const stderr = state.stderr.render()
    const parsed = Harnesses.parseOutput(request.agent.harness, stdout)
    const transcript: Transcripts.Transcript = {
      worker: request.worker,
      iteration: request.iteration,
      call: request.call,
      n: state.n,
      attempt: state.attempt,
      ...(request.task === undefined ? {} : { task: request.task }),
      agent: AgentSpec.formatModelString(request.agent),
      command: state.line?.command ?? "",
      args: state.line?.args ?? [],
      cwd: request.cwd,
      ...(state.pid === undefined ? {} : { pid: state.pid }),
      prompt: request.prompt,
      stdout,
      stderr,
      stdoutBytes: state.stdout.totalBytes(),
      stdoutDroppedBytes: state.stdout.droppedBytes(),
      stderrBytes: state.stderr.totalBytes(),
      stderrDroppedBytes: state.stderr.droppedBytes(),
      exitCode: state.exitCode,
      startedAt: new Date(state.startedMs).toISOString(),
      durationMs: state.endedMs - state.startedMs,
      timedOut: state.timedOut,
      interrupted,
      rateLimited: isFailed(state, parsed) && Harnesses.isRateLimited(request.agent.harness, stdout, stderr),
      ...(parsed.sessionId === undefined ? {} : { sessionId: parsed.sessionId }),
      notes: state.notes
    }
    yield* Transcripts.write(settings.runDir, transcript)
  }).pipe(Effect.catch((error) => Effect.logWarning(`oompa: could not write the transcript of ${request.worker} iteration ${request.iteration} ${request.call}: ${error.message}`)))

export const isFailed = (state: Attempt, parsed: Harnesses.ParsedOutput): boolean =>
  state.timedOut || state.exitCode !== 0 || parsed.isError

/** Writes the prompt where a configured argv's `{prompt_file}` points. */
const writePromptFile = Effect.fnUntraced(function*(settings: AttemptSettings, request: AgentRequest, n: number) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const folder = path.join(settings.runDir, "prompts")
  yield* fs.makeDirectory(folder, { recursive: true })
  const file = path.join(folder, Transcripts.fileName({ worker: request.worker, iteration: request.iteration, call: request.call, n }).replace(/\.json$/, ".md"))
  yield* fs.writeFileString(file, request.prompt)
  return file
})

const nextNumber = (state: LayerState, request: AgentRequest): number => {
  const key = `${request.worker}-${request.iteration}-${request.call}`
  const n = (state.counters.get(key) ?? 0) + 1
  state.counters.set(key, n)
  return n
}

/**
 * Runs one process of a call within `timeoutMs` and returns how it went. The transcript is
 * written whatever happens, interruption included.
 */
export const runAttempt = Effect.fnUntraced(function*(settings: AttemptSettings, layerState: LayerState, request: AgentRequest, attempt: number, timeoutMs: number) {
  const override = settings.harnesses[request.agent.harness]
  const startedMs = yield* Clock.currentTimeMillis
  const state: Attempt = {
    attempt,
    n: nextNumber(layerState, request),
    startedMs,
    stdout: OutputCapture.make(settings.outputBytesMax),
    stderr: OutputCapture.make(settings.outputBytesMax),
    notes: [],
    line: undefined,
    pid: undefined,
    exitCode: null,
    timedOut: false,
    endedMs: startedMs
  }
  const body = Effect.gen(function*() {
    const promptFile = Harnesses.usesPromptFile(override)
      ? yield* writePromptFile(settings, request, state.n).pipe(Effect.mapError((error) => unavailable(request, `cannot write the prompt file: ${error.message}`)))
      : undefined
    const line = Harnesses.commandLine(request.agent, { cwd: request.cwd, sessionId: request.sessionId, promptFile }, override, settings.env)
    if (typeof line === "string") return yield* unavailable(request, line)
    state.line = line
    yield* Effect.scoped(spawnAndWait(settings, request, state, line)).pipe(Effect.timeoutOrElse({
      duration: Math.max(0, timeoutMs),
      orElse: () => Effect.sync(() => {
        state.timedOut = true
      })
    }))
  })
  yield* body.pipe(Effect.onExit((exit) =>
    Effect.flatMap(Clock.currentTimeMillis, (endedMs) => {
      state.endedMs = endedMs
      return writeTranscript(settings, request, state, Exit.hasInterrupts(exit))
    })
  ))
  return state
})
