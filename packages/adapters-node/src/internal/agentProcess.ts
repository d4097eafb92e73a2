/**
 * An agent's process, started by the spawning helper (`spawnHelper`) as the leader of its own
 * process group: its output handed over chunk by chunk as it arrives, its exit code, and the whole
 * group stopped when the scope closes, TERM then KILL after the grace period, then waited for.
 *
 * Not `effect/process`: its spawn forks this whole process on the main thread (6–10 ms at
 * 150–250 MB, every fiber stopped meanwhile, twice an iteration); the helper forks a bare Node
 * process instead (issue 17, docs/decisions.md). The group is signalled from here, by pid: it is
 * this user's, and that works whatever became of the helper.
 *
 * Internal: used by `agentAttempt`.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, type Scope } from "effect"
import { constants as osConstants } from "node:os"
import * as SpawnHelper from "./spawnHelper.ts"

/** Why the process could not be started: the system's error code (`ENOENT`, …) and message. */
export interface NotStarted {
  readonly code: string | undefined
  readonly message: string
}

export interface AgentProcess {
  readonly pid: number
  /** Its exit code; 128 + the signal's number when a signal ended it; -1 when that is unknown. */
  readonly exitCode: Effect.Effect<number>
  /** Completes when its output is closed: nothing more will be handed over. */
  readonly outputClosed: Effect.Effect<void>
}

export interface Handlers {
  readonly output: (fd: 1 | 2, chunk: Uint8Array) => void
  readonly dropped: (fd: 1 | 2, bytes: number) => void
  readonly note: (message: string) => void
}

/** How often a stopping group is looked at. */
const pollMs = 20
/** How long a group is waited for after SIGKILL (a process in uninterruptible sleep). */
const afterKillMs = 2_000
/** How long the tail the helper held is waited for once the pipes are abandoned (it sends it at once). */
const heldOutputMs = 1_000

/** The exit code of a process a signal ended: 128 + the signal's number, as a shell reports it. */
const signalExitCode = (signal: string): number => {
  const number = (osConstants.signals as Record<string, number | undefined>)[signal]
  return number === undefined ? -1 : 128 + number
}

/** Sends `signal` to the group; false when nothing is left in it. */
const signalGroup = (pid: number, signal: NodeJS.Signals | 0): boolean => {
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false
  }
}

/** Completes when the group is empty or `ms` have passed. */
const groupGone = (pid: number, ms: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const deadline = Date.now() + ms
    let timer: ReturnType<typeof setTimeout> | undefined
    const poll = () => {
      if (Date.now() >= deadline || !signalGroup(pid, 0)) return resume(Effect.void)
      timer = setTimeout(poll, pollMs)
    }
    poll()
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Starts the process. Closing the scope stops its whole group — also after the leader exited,
 * for what it left running — TERM, then KILL after `graceMs`, and waits until the group is gone.
 */
export const start = (request: SpawnHelper.StreamedRequest, handlers: Handlers, graceMs: number): Effect.Effect<AgentProcess, NotStarted, Scope.Scope> => {
  const exit = Deferred.makeUnsafe<number>()
  const closed = Deferred.makeUnsafe<void>()
  let abandon = () => {}
  let isClosed = false
  const acquire = Effect.callback<number, NotStarted>((resume) => {
    abandon = SpawnHelper.streamInHelper(request, {
      notStarted: (code, message) => resume(Effect.fail({ code, message })),
      started: (pid) => resume(Effect.succeed(pid)),
      output: handlers.output,
      dropped: handlers.dropped,
      exited: (code, signal) => void Deferred.doneUnsafe(exit, Effect.succeed(code ?? (signal === null ? -1 : signalExitCode(signal)))),
      closed: () => {
        // The helper died before the exit was seen: the code is unknown.
        Deferred.doneUnsafe(exit, Effect.succeed(-1))
        isClosed = true
        Deferred.doneUnsafe(closed, Effect.void)
      },
      note: handlers.note
    }).abandon
  })
  const stop = (pid: number) =>
    Effect.gen(function*() {
      if (signalGroup(pid, "SIGTERM")) {
        yield* groupGone(pid, graceMs)
        if (signalGroup(pid, "SIGKILL")) yield* groupGone(pid, afterKillMs)
      }
      // A process that left the group (setsid) may hold its pipes open forever: stop waiting for
      // them, but take what the helper held of the output (the tail, what the agent did last).
      if (!isClosed) {
        abandon()
        yield* Deferred.await(closed).pipe(Effect.timeoutOrElse({ duration: heldOutputMs, orElse: () => Effect.void }))
      }
    })
  return Effect.acquireRelease(acquire, stop).pipe(
    Effect.map((pid) => ({ pid, exitCode: Deferred.await(exit), outputClosed: Deferred.await(closed) }))
  )
}
