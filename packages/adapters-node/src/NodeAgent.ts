/**
 * The `Agent` service over real processes (SPEC F3): each call runs its harness's CLI with the
 * exact command line `Harnesses` builds, in the worktree, with the prompt on stdin (then closed).
 *
 * Boundary: this is where oompa meets agent processes. Called by core's `AgentCall` for every
 * proposal, review, fix and conflict resolution; provided by `NodeServices` next to the other
 * Node layers. Needs `ChildProcessSpawner`, `FileSystem` and `Path` (all in `NodeServices.layer`
 * of `@effect/platform-node`).
 *
 * What each call guarantees:
 * - its own process group (`detached`), recorded in `<runDir>/agents/<pid>.json` while it lives, so
 *   that recovery (F14) can kill the groups of a run that died;
 * - the whole group stopped — TERM, then KILL after `graceMs` — when the call times out (its own
 *   backstop, `request.timeoutMs`) or is interrupted (core's timeout through `Clock`, the run ending);
 * - stdout and stderr read as they arrive into a bounded capture (head and tail, the dropped size
 *   stated), so a 50 MB answer never sits in memory;
 * - a usage-limit or rate-limit answer backed off (`Effect.sleep`, so `TestClock` drives it) and
 *   retried at most `rateLimitRetriesMax` times;
 * - a transcript per process under `<runDir>/transcripts/` however the process ends.
 *
 * Fails with `AgentUnavailable` only when the agent cannot run at all: binary missing, worktree
 * missing, claude refusing to run as root, gemini not authenticated. Everything else is a result.
 *
 * @since 0.1.0
 */
import { Agent, AgentSpec, Errors, type SwarmConfig } from "@oompa/core"
import { Clock, Duration, Effect, Exit, Fiber, FileSystem, Layer, Path, PlatformError, Schema, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { constants as osConstants } from "node:os"
import * as Harnesses from "./Harnesses.ts"
import * as OutputCapture from "./internal/outputCapture.ts"
import * as ProcessOwner from "./ProcessOwner.ts"
import * as Transcripts from "./Transcripts.ts"

type AgentRequest = Agent.AgentRequest
type AgentResult = Agent.AgentResult
type AgentUnavailable = Errors.AgentUnavailable

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The run's folder (`.oompa/runs/<id>`): `agents/` and `transcripts/` are written inside. */
  readonly runDir: string
  /** `harnesses` of oompa.json: binary, extra args and env per harness. */
  readonly harnesses: Readonly<Record<string, SwarmConfig.HarnessOverride>>
  /** Bytes kept of each of stdout and stderr per process (half head, half tail). */
  readonly outputBytesMax?: number
  /** Time between TERM and KILL when a call's process group is stopped. */
  readonly graceMs?: number
  /** Retries after a usage-limit or rate-limit answer before it is returned as it is. */
  readonly rateLimitRetriesMax?: number
  /** The first back-off after a rate limit; each further one doubles, up to `rateLimitBackoffMsMax`. */
  readonly rateLimitBackoffMs?: number
  readonly rateLimitBackoffMsMax?: number
  /** Told of each wait before a rate-limited call is retried (the run log's `RateLimited` event). */
  readonly onRateLimit?: ((wait: RateLimitWait) => Effect.Effect<void>) | undefined
  /** The environment agents inherit (default: this process's); `GIT_DIR` & co. are removed from it. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

/**
 * A wait before a rate-limited call is retried.
 *
 * @category models
 * @since 0.1.0
 */
export interface RateLimitWait {
  readonly request: AgentRequest
  readonly retry: number
  readonly waitMs: number
  readonly source: "retry-after" | "backoff"
}

/**
 * @category constants
 * @since 0.1.0
 */
export const defaults = {
  outputBytesMax: 4 * 1024 * 1024,
  graceMs: 5_000,
  rateLimitRetriesMax: 3,
  rateLimitBackoffMs: 30_000,
  rateLimitBackoffMsMax: 10 * 60_000
} as const

/**
 * How long output may still arrive after the agent's own process exited: a descendant that keeps
 * stdout open is not waited for (the group is stopped when the call ends).
 */
const outputDrainMs = 1_000

/** Sessions whose last reported cost and tokens are remembered (for the cumulative harnesses). */
const sessionsTrackedMax = 10_000

/** Everything `run` derives once from its options. */
interface Settings {
  readonly runDir: string
  readonly harnesses: Readonly<Record<string, SwarmConfig.HarnessOverride>>
  readonly outputBytesMax: number
  readonly graceMs: number
  readonly rateLimitRetriesMax: number
  readonly rateLimitBackoffMs: number
  readonly rateLimitBackoffMsMax: number
  readonly onRateLimit: ((wait: RateLimitWait) => Effect.Effect<void>) | undefined
  readonly env: Readonly<Record<string, string | undefined>>
}

/** The mutable bookkeeping of one layer instance (one run). */
interface LayerState {
  /** Next transcript number per `<worker>-<iteration>-<call>`. */
  readonly counters: Map<string, number>
  /** Last cumulative cost/tokens reported per `harness:session`. */
  readonly sessions: Map<string, Reported>
}

interface Reported {
  readonly costUsd?: number | undefined
  readonly tokens?: { readonly input: number; readonly output: number } | undefined
}

/** One process of a call, as it went. Filled in while it runs, read by the transcript. */
interface Attempt {
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

type Services = ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path

const unavailable = (request: AgentRequest, message: string, stopsRun = false): AgentUnavailable =>
  new Errors.AgentUnavailable({ agent: AgentSpec.formatModelString(request.agent), message, ...(stopsRun ? { stopsRun } : {}) })

const settingsOf = (options: Options): Settings => {
  const settings: Settings = {
    runDir: options.runDir,
    harnesses: options.harnesses,
    outputBytesMax: options.outputBytesMax ?? defaults.outputBytesMax,
    graceMs: options.graceMs ?? defaults.graceMs,
    rateLimitRetriesMax: options.rateLimitRetriesMax ?? defaults.rateLimitRetriesMax,
    rateLimitBackoffMs: options.rateLimitBackoffMs ?? defaults.rateLimitBackoffMs,
    rateLimitBackoffMsMax: options.rateLimitBackoffMsMax ?? defaults.rateLimitBackoffMsMax,
    onRateLimit: options.onRateLimit,
    env: options.env ?? process.env
  }
  if (!(settings.outputBytesMax >= 2 && settings.graceMs >= 0 && settings.rateLimitRetriesMax >= 0 && settings.rateLimitBackoffMs >= 0)) {
    throw new Error(`NodeAgent.layer: invalid options ${JSON.stringify({ ...settings, env: undefined })}`)
  }
  return settings
}

/**
 * The back-off before retry `retry` (from 1) after a rate limit: doubling from
 * `rateLimitBackoffMs`, capped at `rateLimitBackoffMsMax`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const backoffMs = (settings: { readonly rateLimitBackoffMs: number; readonly rateLimitBackoffMsMax: number }, retry: number): number =>
  Math.min(settings.rateLimitBackoffMsMax, settings.rateLimitBackoffMs * 2 ** Math.max(0, retry - 1))

// ---------------------------------------------------------------------------------------------
// One process
// ---------------------------------------------------------------------------------------------

/** The exit code of a process a signal ended: 128 + the signal's number, as a shell reports it. */
const signalExitCode = (error: PlatformError.PlatformError): number => {
  const cause = error.reason.cause
  const name = /signal: '?(SIG[A-Z0-9]+)/.exec(cause instanceof Error ? cause.message : error.message)?.[1]
  const number = name === undefined ? undefined : (osConstants.signals as Record<string, number | undefined>)[name]
  return number === undefined ? -1 : 128 + number
}

/** Why a spawn failed, in one line naming the binary (or the worktree). */
const spawnFailure = (request: AgentRequest, line: Harnesses.CommandLine, error: PlatformError.PlatformError): AgentUnavailable => {
  const reason = error.reason
  if (reason._tag === "NotFound" && reason.method === "spawn") {
    return unavailable(request, Harnesses.missingBinaryMessage(request.agent.harness, line.command), true)
  }
  if (reason.module === "FileSystem") return unavailable(request, `the worktree ${request.cwd} cannot be used as the agent's cwd: ${reason.message}`)
  return unavailable(request, `${line.command} could not be started: ${reason.message}`)
}

/**
 * The folder of a run (`<runDir>/agents/`) holding one `<pid>.json` per live agent process group.
 *
 * @category constants
 * @since 0.1.0
 */
export const groupsFolderName = "agents"

/**
 * One live agent process group, as recorded in `<runDir>/agents/<pid>.json` while its call runs
 * and removed after the group is stopped. A record left behind belongs to a run that died: recovery
 * (F14) kills the group `-pgid` once it has checked that `orchestratorPid` is no longer alive.
 *
 * @category models
 * @since 0.1.0
 */
export const GroupRecord = Schema.Struct({
  pid: Schema.Finite,
  /** Equal to `pid`: the agent leads its own group (spawned detached). */
  pgid: Schema.Finite,
  orchestratorPid: Schema.Finite,
  worker: Schema.String,
  iteration: Schema.Finite,
  call: Schema.String,
  command: Schema.String,
  args: Schema.Array(Schema.String),
  cwd: Schema.String,
  startedAt: Schema.String
})
export type GroupRecord = typeof GroupRecord.Type

/** Writes the group's record; a crash between the spawn and this write leaves an unrecorded group. */
const recordGroup = Effect.fnUntraced(function*(settings: Settings, request: AgentRequest, line: Harnesses.CommandLine, pid: number, startedMs: number) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const folder = path.join(settings.runDir, groupsFolderName)
  yield* fs.makeDirectory(folder, { recursive: true })
  const record: GroupRecord = {
    pid,
    pgid: pid,
    orchestratorPid: process.pid,
    worker: request.worker,
    iteration: request.iteration,
    call: request.call,
    command: line.command,
    args: line.args,
    cwd: request.cwd,
    startedAt: new Date(startedMs).toISOString()
  }
  // Whole or absent: a kill during a plain write left an empty record that recovery could not read.
  const target = path.join(folder, `${pid}.json`)
  yield* fs.writeFileString(`${target}${partialSuffix}`, `${JSON.stringify(record)}\n`)
  yield* fs.rename(`${target}${partialSuffix}`, target)
})

/**
 * The suffix of a record being written; one left by a kill mid-write is removed by recovery.
 *
 * @category constants
 * @since 0.1.0
 */
export const partialSuffix = ".partial"

const unrecordGroup = (settings: Settings, pid: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* fs.remove(path.join(settings.runDir, groupsFolderName, `${pid}.json`), { force: true })
  }).pipe(Effect.catch((error) => Effect.logWarning(`oompa: could not remove the process-group record of ${pid}: ${error.message}`)))

/** Reads one output stream into its capture, chunk by chunk; a read error becomes a note. */
const drain = (stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>, capture: OutputCapture.OutputCapture, name: string, notes: Array<string>) =>
  stream.pipe(
    Stream.runForEach((chunk) => Effect.sync(() => capture.push(chunk))),
    Effect.catch((error) => Effect.sync(() => void notes.push(`reading ${name} failed: ${error.message}`)))
  )

/**
 * Spawns the process and waits for its exit and its output. Scoped: closing the scope (timeout,
 * interruption, or the end of the call) stops the whole group, TERM then KILL after `graceMs`.
 */
const spawnAndWait = Effect.fnUntraced(function*(settings: Settings, request: AgentRequest, state: Attempt, line: Harnesses.CommandLine) {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  // Released last, after the group is stopped: what the call left outside its group (a setsid tool,
  // a daemon) is found by its tag and killed, so nothing an agent started outlives its call.
  const tag = ProcessOwner.newCallTag(`${request.worker}-${request.iteration}-${request.call}`)
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      const killed = ProcessOwner.reapCall(tag)
      if (killed.length > 0) state.notes.push(`killed ${killed.length} process(es) the agent left running outside its process group: ${killed.join(", ")}`)
    }))
  // Acquired before the spawn so that its release runs after the spawn's (which kills the group).
  const recorded = yield* Effect.acquireRelease(
    Effect.sync(() => ({ pid: undefined as number | undefined })),
    (slot) => slot.pid === undefined ? Effect.void : unrecordGroup(settings, slot.pid)
  )
  const command = ChildProcess.make(line.command, line.args, {
    cwd: request.cwd,
    env: { ...line.env, [ProcessOwner.callVariable]: tag },
    extendEnv: false,
    detached: true,
    stdin: "pipe",
    killSignal: "SIGTERM",
    forceKillAfter: Duration.millis(settings.graceMs)
  })
  const handle = yield* spawner.spawn(command).pipe(Effect.mapError((error) => spawnFailure(request, line, error)))
  state.pid = handle.pid
  yield* recordGroup(settings, request, line, handle.pid, state.startedMs).pipe(
    Effect.mapError((error) => unavailable(request, `cannot record the agent's process group in ${settings.runDir}/${groupsFolderName}: ${error.message}`))
  )
  recorded.pid = handle.pid
  yield* Stream.run(Stream.make(new TextEncoder().encode(request.prompt)), handle.stdin).pipe(
    // An agent may exit without reading its prompt (a configured command that ignores stdin).
    Effect.catch((error) => Effect.sync(() => void state.notes.push(`the prompt could not be written to stdin: ${error.message}`))),
    Effect.forkScoped
  )
  const readers = yield* Effect.forkScoped(Effect.all([
    drain(handle.stdout, state.stdout, "stdout", state.notes),
    drain(handle.stderr, state.stderr, "stderr", state.notes)
  ], { concurrency: 2, discard: true }))
  state.exitCode = yield* handle.exitCode.pipe(Effect.catch((error) => Effect.succeed(signalExitCode(error))))
  yield* Fiber.join(readers).pipe(Effect.timeoutOrElse({
    duration: outputDrainMs,
    orElse: () => Effect.sync(() => void state.notes.push("output stayed open after the agent exited (a descendant kept it); its group was stopped"))
  }))
})

/** Writes the attempt's transcript; a failure to write is logged, it does not fail the call. */
const writeTranscript = (settings: Settings, request: AgentRequest, state: Attempt, interrupted: boolean) =>
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

const isFailed = (state: Attempt, parsed: Harnesses.ParsedOutput): boolean =>
  state.timedOut || state.exitCode !== 0 || parsed.isError

/** Writes the prompt where a configured argv's `{prompt_file}` points. */
const writePromptFile = Effect.fnUntraced(function*(settings: Settings, request: AgentRequest, n: number) {
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
const runAttempt = Effect.fnUntraced(function*(settings: Settings, layerState: LayerState, request: AgentRequest, attempt: number, timeoutMs: number) {
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

// ---------------------------------------------------------------------------------------------
// One call
// ---------------------------------------------------------------------------------------------

/**
 * Turns claude's cumulative cost and codex's cumulative tokens into what this call added: the
 * difference from the last report of the session it resumed. A session oompa has not seen before
 * counts in full (over-counting is the safe side of a budget).
 */
const perCall = (layerState: LayerState, request: AgentRequest, parsed: Harnesses.ParsedOutput): Reported => {
  const harness = request.agent.harness
  const previous = request.sessionId === undefined ? undefined : layerState.sessions.get(`${harness}:${request.sessionId}`)
  const costUsd = harness === "claude" && parsed.costUsd !== undefined && previous?.costUsd !== undefined
    ? Math.max(0, parsed.costUsd - previous.costUsd)
    : parsed.costUsd
  const tokens = harness === "codex" && parsed.tokens !== undefined && previous?.tokens !== undefined
    ? { input: Math.max(0, parsed.tokens.input - previous.tokens.input), output: Math.max(0, parsed.tokens.output - previous.tokens.output) }
    : parsed.tokens
  const session = parsed.sessionId ?? request.sessionId
  if (session !== undefined && (harness === "claude" || harness === "codex")) {
    if (layerState.sessions.size >= sessionsTrackedMax) layerState.sessions.delete(layerState.sessions.keys().next().value!)
    layerState.sessions.set(`${harness}:${session}`, { costUsd: parsed.costUsd, tokens: parsed.tokens })
  }
  return { costUsd, tokens }
}

/** The call's result from its last process. */
const toResult = (layerState: LayerState, request: AgentRequest, state: Attempt, durationMs: number): AgentResult => {
  const stdout = state.stdout.render()
  const stderr = state.stderr.render()
  const parsed = Harnesses.parseOutput(request.agent.harness, stdout)
  const reported = perCall(layerState, request, parsed)
  // A harness that says it failed while exiting 0 still failed: the iteration must see a non-zero exit.
  const exitCode = state.timedOut ? -1 : state.exitCode === 0 && parsed.isError ? 1 : state.exitCode ?? -1
  const notes = [...state.notes, ...(parsed.isError && parsed.errorMessage !== undefined ? [parsed.errorMessage] : [])]
  return {
    exitCode,
    answer: parsed.answer,
    stderr: [stderr, ...notes].filter((part) => part.trim() !== "").join("\n"),
    durationMs,
    timedOut: state.timedOut,
    ...(parsed.sessionId === undefined ? {} : { sessionId: parsed.sessionId }),
    ...(reported.tokens === undefined ? {} : { tokens: reported.tokens }),
    ...(reported.costUsd === undefined ? {} : { costUsd: reported.costUsd })
  }
}

/** A process that says the agent cannot run at all in this setup. */
const refusal = (request: AgentRequest, state: Attempt): AgentUnavailable | undefined => {
  const { harness } = request.agent
  const stdout = state.stdout.render()
  const stderr = state.stderr.render()
  if (state.exitCode !== 0 && Harnesses.isRootRefusal(harness, stdout, stderr)) return unavailable(request, Harnesses.rootRefusalMessage, true)
  // A harness that says it failed while exiting 0 (claude's is_error) failed all the same.
  const exitCode = state.exitCode === 0 && Harnesses.parseOutput(harness, stdout).isError ? 1 : state.exitCode
  if (exitCode !== null && !state.timedOut && Harnesses.isNotAuthenticated(harness, exitCode, stdout, stderr)) {
    const said = Harnesses.authenticationLine(harness, stdout, stderr)
    const binary = state.line?.command.split("/").pop() ?? harness
    return unavailable(request, said === undefined ? Harnesses.notAuthenticatedMessage(binary) : `${binary} is not authenticated: ${said}`, true)
  }
  return undefined
}

const isRateLimitedAttempt = (request: AgentRequest, state: Attempt): boolean => {
  if (state.timedOut) return false
  const stdout = state.stdout.render()
  const parsed = Harnesses.parseOutput(request.agent.harness, stdout)
  return isFailed(state, parsed) && Harnesses.isRateLimited(request.agent.harness, stdout, state.stderr.render())
}

const runCall = Effect.fnUntraced(function*(settings: Settings, layerState: LayerState, request: AgentRequest): Effect.fn.Return<AgentResult, AgentUnavailable, Services> {
  const startedMs = yield* Clock.currentTimeMillis
  const deadlineMs = startedMs + request.timeoutMs
  const attemptOnce = Effect.fnUntraced(function*(attempt: number) {
    const remainingMs = deadlineMs - (yield* Clock.currentTimeMillis)
    const state = yield* runAttempt(settings, layerState, request, attempt, remainingMs)
    const refused = refusal(request, state)
    if (refused !== undefined) return yield* refused
    return state
  })
  let state = yield* attemptOnce(1)
  for (let retry = 1; retry <= settings.rateLimitRetriesMax; retry++) {
    if (!isRateLimitedAttempt(request, state)) break
    // The wait the CLI names, when it names one (bounded like the back-off), else the back-off.
    const named = Harnesses.retryAfterMs(request.agent.harness, state.stdout.render(), state.stderr.render())
    const waitMs = named === undefined ? backoffMs(settings, retry) : Math.min(named, settings.rateLimitBackoffMsMax)
    // No retry that could not finish before the call's deadline: the answer is returned as it is.
    if ((yield* Clock.currentTimeMillis) + waitMs >= deadlineMs) break
    if (settings.onRateLimit === undefined) {
      yield* Effect.logWarning(`oompa: ${AgentSpec.formatModelString(request.agent)} hit a usage or rate limit (${request.worker} iteration ${request.iteration} ${request.call}); retrying in ${Math.round(waitMs / 1000)} s`)
    } else yield* settings.onRateLimit({ request, retry, waitMs, source: named === undefined ? "backoff" : "retry-after" })
    yield* Effect.sleep(waitMs)
    state = yield* attemptOnce(retry + 1)
  }
  return toResult(layerState, request, state, (yield* Clock.currentTimeMillis) - startedMs)
})

/**
 * The `Agent` service over real processes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Agent.Agent["Service"], never, Services> =>
  Effect.gen(function*() {
    const settings = settingsOf(options)
    const services = yield* Effect.context<Services>()
    const layerState: LayerState = { counters: new Map(), sessions: new Map() }
    const run = Effect.fn("NodeAgent.run")(function*(request: AgentRequest): Effect.fn.Return<AgentResult, AgentUnavailable> {
      return yield* runCall(settings, layerState, request).pipe(Effect.provideContext(services))
    })
    return Agent.Agent.of({ run })
  })

/**
 * The `Agent` layer over real processes. Needs `ChildProcessSpawner`, `FileSystem` and `Path`
 * (`NodeServices.layer` of `@effect/platform-node` provides all three).
 *
 * **Example** (Running a swarm's agents as real processes)
 *
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { NodeAgent } from "@oompa/adapters-node"
 *
 * const agents = NodeAgent.layer({ runDir: ".oompa/runs/0000000f", harnesses: {} }).pipe(
 *   Layer.provide(NodeServices.layer)
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Agent.Agent, never, Services> => Layer.effect(Agent.Agent, make(options))
