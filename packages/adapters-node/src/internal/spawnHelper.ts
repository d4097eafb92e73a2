/**
 * Short-lived commands (git) started by a small helper process instead of this one.
 *
 * Node's `spawn` forks the whole calling process and does not return until the child has exec'd.
 * A fork costs in proportion to the memory mapped: measured on Node 22 (issue 17), 0.7 ms of CPU
 * per spawn from a 56 MB process, 4.5 ms from 184 MB, 7.9 ms from 308 MB, mostly in the kernel,
 * and the calling thread waits about twice that. An orchestrator of many workers holds 150–250 MB,
 * and every iteration starts about ten git processes. The helper is a bare Node process (~45 MB,
 * none of oompa's code or data), so each fork is cheap and this process's threads never wait on
 * one: this process only sends a message and is woken by the answer (docs/decisions.md).
 *
 * The helper ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C reaches the whole process group, and the
 * orchestrator still needs git to clean up after one) and exits when this process goes away (its
 * IPC channel closes), kill -9 included; commands it started run to their end, as a command
 * started here would. It keeps this process alive only while it has a command running. A helper
 * that dies fails its commands (`spawn-failed` for the caller) and is replaced on the next command.
 *
 * Agents go through it too (`streamInHelper`): their output is handed over as it comes, except
 * that past the head the caller asked for (`keep`), the helper holds only the stream's last bytes
 * and sends them with the count of those it dropped when the stream ends, so an agent printing
 * hundreds of megabytes costs this process only what it keeps.
 *
 * Internal: used by `gitCommand` and `agentProcess`.
 *
 * @since 0.1.0
 */
import { spawn, type ChildProcess } from "node:child_process"

/** One command to run: what `child_process.spawn` needs, and the bytes for its stdin (closed after). */
export interface SpawnRequest {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  /** The environment, a long-lived object shared by many commands: sent to the helper once. */
  readonly env: Readonly<Record<string, string>>
  /** Variables of this command only, on top of `env`. */
  readonly extraEnv?: Readonly<Record<string, string>> | undefined
  readonly stdin?: Uint8Array | undefined
}

/** How a command ended: its exit code or signal and its output, or why it could not be started. */
export type SpawnResult =
  | { readonly _tag: "Exited"; readonly code: number | null; readonly signal: string | null; readonly stdout: Uint8Array; readonly stderr: Uint8Array }
  | { readonly _tag: "NotStarted"; readonly code: string | undefined; readonly message: string }

/** A running command: signal it; `done` is called once with how it ended. */
export interface Spawned {
  readonly kill: (signal: NodeJS.Signals) => void
}

// The helper's code, plain CommonJS run with `node -e` (the CLI is one bundled file).
// Its first line names it in \`ps\` (benchmarks find it by it).
const helperSource = `// oompa's spawning helper
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => {})
process.on("disconnect", () => process.exit(0))
const { spawn } = require("node:child_process")
const children = new Map()
const envs = new Map()
const send = (message, written) => { if (process.connected) process.send(message, written) }
// Output of streamed commands not yet written to the channel: past the mark, every streamed
// command's output is paused until the channel has taken half of it (an agent printing 300 MB
// must not pile it up here).
const queuedMax = 1 << 20
let queued = 0
const paused = new Set()
const written = (bytes) => () => {
  queued -= bytes
  if (queued > queuedMax / 2) return
  for (const stream of paused) stream.resume()
  paused.clear()
}
// What a stream keeps (\`keep\`): its first \`head\` bytes go to the channel as they come; after them only
// its last \`tail\` bytes are held here, sent when it ends after how many bytes between were dropped,
// so the rest of a flood never crosses the channel (oompa's own memory stays flat).
// The tail is held in pieces of 64 KiB, each byte copied once: an agent writing one byte at a time
// is held, and later sent, in a few dozen pieces, not millions (each its own buffer and message).
const pieceBytes = 1 << 16
const keeper = (id, fd, keep) => {
  let sent = 0
  let pieces = []
  let first = 0
  let filling
  let filled = 0
  let held = 0
  let dropped = 0
  const hold = (bytes) => {
    for (let at = 0; at < bytes.length;) {
      if (filling === undefined) {
        filling = Buffer.allocUnsafe(pieceBytes)
        filled = 0
      }
      const n = Math.min(bytes.length - at, pieceBytes - filled)
      filling.set(bytes.subarray(at, at + n), filled)
      filled += n
      held += n
      at += n
      if (filled === pieceBytes) {
        pieces.push(filling)
        filling = undefined
      }
    }
    // Whole pieces leave the front while the rest still fills the tail.
    while (first < pieces.length && held - pieces[first].length >= keep.tail) {
      dropped += pieces[first].length
      held -= pieces[first].length
      pieces[first++] = undefined
    }
    if (first > 1024 && first * 2 > pieces.length) {
      pieces = pieces.slice(first)
      first = 0
    }
  }
  return {
    // The part of \`chunk\` to send now; the rest is held.
    take: (chunk) => {
      if (keep === undefined) return chunk
      const room = Math.max(keep.head - sent, 0)
      if (room >= chunk.length) {
        sent += chunk.length
        return chunk
      }
      sent += room
      hold(chunk.subarray(room))
      return room === 0 ? undefined : chunk.subarray(0, room)
    },
    flush: () => {
      if (keep === undefined) return
      const tail = pieces.slice(first)
      if (filling !== undefined && filled > 0) tail.push(filling.subarray(0, filled))
      // What is over the tail lies in its oldest piece (the loop above leaves less than a piece over).
      const excess = held - keep.tail
      if (excess > 0) {
        tail[0] = tail[0].subarray(excess)
        dropped += excess
      }
      if (dropped > 0) send({ id, fd, dropped })
      for (const chunk of tail) send({ id, fd, chunk })
      pieces = []
      first = 0
      filling = undefined
      filled = 0
      held = 0
      dropped = 0
    }
  }
}
const startStreamed = ({ id, command, args, cwd, env, stdin, keep }) => {
  let child
  try {
    child = spawn(command, args, { cwd, env, detached: true, stdio: ["pipe", "pipe", "pipe"] })
  } catch (error) {
    send({ id, notStarted: { code: error.code, message: String(error.message) } })
    return
  }
  if (child.pid === undefined) {
    child.once("error", (error) => send({ id, notStarted: { code: error.code, message: String(error.message) } }))
    return
  }
  const keepers = [keeper(id, 1, keep), keeper(id, 2, keep)]
  let ended = false
  // Once: at the pipes' close, or when oompa stops waiting for them (abandon), whichever is first.
  const end = () => {
    if (ended) return
    ended = true
    children.delete(id)
    paused.delete(child.stdout)
    paused.delete(child.stderr)
    for (const kept of keepers) kept.flush()
    send({ id, closed: true })
  }
  children.set(id, { child, end })
  send({ id, started: child.pid })
  child.on("error", (error) => send({ id, note: String(error.message) }))
  for (const [fd, stream] of [[1, child.stdout], [2, child.stderr]]) {
    stream.on("data", (data) => {
      const chunk = keepers[fd - 1].take(data)
      if (chunk === undefined) return
      queued += chunk.length
      send({ id, fd, chunk }, written(chunk.length))
      if (queued > queuedMax) {
        stream.pause()
        paused.add(stream)
      }
    })
  }
  child.once("exit", (code, signal) => send({ id, exit: { code, signal } }))
  child.once("close", end)
  child.stdin.on("error", (error) => send({ id, stdinError: String(error.message) }))
  child.stdin.end(Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength))
}
process.on("message", (message) => {
  if (message.env !== undefined) envs.set(message.envId, message.env)
  if (message.kill !== undefined) {
    const running = children.get(message.kill)
    if (running !== undefined) running.child.kill(message.signal)
    return
  }
  if (message.abandon !== undefined) {
    // Its process is gone; what holds its pipes (a daemon it left) is not waited for. What was
    // held of its output still goes, then \`closed\`.
    const running = children.get(message.abandon)
    if (running?.end !== undefined) {
      running.end()
      running.child.stdout.destroy()
      running.child.stderr.destroy()
    }
    return
  }
  const { id, command, args, cwd, envId, extraEnv, stdin } = message
  if (message.streamed) return startStreamed(message)
  const env = extraEnv === undefined ? envs.get(envId) : { ...envs.get(envId), ...extraEnv }
  let child
  try {
    child = spawn(command, args, { cwd, env, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] })
  } catch (error) {
    send({ id, notStarted: { code: error.code, message: String(error.message) } })
    return
  }
  children.set(id, { child })
  const stdout = []
  const stderr = []
  let failed = false
  child.stdout.on("data", (chunk) => stdout.push(chunk))
  child.stderr.on("data", (chunk) => stderr.push(chunk))
  child.once("error", (error) => {
    if (failed) return
    failed = true
    children.delete(id)
    send({ id, notStarted: { code: error.code, message: String(error.message) } })
  })
  child.once("close", (code, signal) => {
    children.delete(id)
    if (failed) return
    send({ id, code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) })
  })
  if (stdin !== undefined) {
    child.stdin.on("error", () => {})
    child.stdin.end(Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength))
  }
})
`

interface Helper {
  readonly process: ChildProcess
  /** The commands running, by id: each gets every message about it; `stopped` when the helper dies. */
  readonly pending: Map<number, Listener>
  /** The environments this helper was sent (by id): each goes once, not with every command. */
  readonly envs: Set<number>
}

/** An id per environment object (a runner's: a handful per process). */
const envIds = new WeakMap<object, number>()
let nextEnvId = 0

let helper: Helper | undefined
let nextId = 0

interface Answer {
  readonly id: number
  readonly notStarted?: { readonly code?: string; readonly message: string }
  readonly code?: number | null
  readonly signal?: string | null
  readonly stdout?: Uint8Array
  readonly stderr?: Uint8Array
  // Streamed commands only:
  readonly started?: number
  readonly fd?: 1 | 2
  readonly chunk?: Uint8Array
  readonly dropped?: number
  readonly exit?: { readonly code: number | null; readonly signal: string | null }
  readonly closed?: true
  readonly note?: string
  readonly stdinError?: string
}

interface Listener {
  /** Whether this message ends the command (no more messages for it). */
  readonly answer: (message: Answer) => boolean
  readonly stopped: (reason: string) => void
}

/** Lets this process exit while the helper is idle (both the child and its channel hold it). */
const hold = (child: ChildProcess, held: boolean): void => {
  if (held) {
    child.ref()
    child.channel?.ref()
  } else {
    child.unref()
    child.channel?.unref()
  }
}

const startHelper = (): Helper => {
  // Node's own options only from this process's command line; NODE_OPTIONS could preload code into the helper.
  const { NODE_OPTIONS: _ignored, ...env } = process.env
  const child = spawn(process.execPath, ["-e", helperSource], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    serialization: "advanced",
    env
  })
  const started: Helper = { process: child, pending: new Map(), envs: new Set() }
  hold(child, false)
  child.on("message", (message: Answer) => {
    const listener = started.pending.get(message.id)
    if (listener === undefined || !listener.answer(message)) return
    started.pending.delete(message.id)
    if (started.pending.size === 0) hold(child, false)
  })
  let stopped = false
  const fail = (reason: string) => {
    if (helper === started) helper = undefined
    if (stopped) return
    stopped = true
    for (const listener of started.pending.values()) listener.stopped(`the spawning helper stopped: ${reason}`)
    started.pending.clear()
  }
  child.on("error", (error: Error) => fail(error.message))
  // On the channel's end, not the process's exit: every answer sent before it has been read then.
  child.on("disconnect", () => fail("its channel closed"))
  return started
}

/** Starts `request` through the helper (started when missing); `done` is called once with how it ended. */
export const spawnInHelper = (request: SpawnRequest, done: (result: SpawnResult) => void): Spawned => {
  const current = helper ?? (helper = startHelper())
  const id = nextId++
  current.pending.set(id, {
    answer: (message) => {
      done(message.notStarted !== undefined
        ? { _tag: "NotStarted", code: message.notStarted.code, message: message.notStarted.message }
        : { _tag: "Exited", code: message.code ?? null, signal: message.signal ?? null, stdout: message.stdout!, stderr: message.stderr! })
      return true
    },
    stopped: (message) => done({ _tag: "NotStarted", code: undefined, message })
  })
  hold(current.process, true)
  let envId = envIds.get(request.env)
  if (envId === undefined) envIds.set(request.env, envId = nextEnvId++)
  const env = current.envs.has(envId) ? undefined : request.env
  current.envs.add(envId)
  current.process.send({ id, command: request.command, args: request.args, cwd: request.cwd, envId, env, extraEnv: request.extraEnv, stdin: request.stdin })
  return { kill: (signal) => { if (current.process.connected) current.process.send({ kill: id, signal }) } }
}

/** The helper's process id, when one is running (for tests and diagnostics). */
export const helperProcessId = (): number | undefined => helper?.process.pid

/** A long-running command whose output is streamed (an agent): its own process group, stdin written and closed. */
export interface StreamedRequest {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly stdin: Uint8Array
  /**
   * What of each output stream to hand over: the first `head` bytes as they come, then, when the
   * stream ends, how many bytes were dropped (`dropped`) and its last `tail` bytes. The helper holds
   * the tail, so a flood never reaches this process. Absent: everything, as it comes.
   */
  readonly keep?: { readonly head: number; readonly tail: number } | undefined
}

/** What the helper reports about a streamed command, in order: started or not, output, exit, closed. */
export interface StreamedEvents {
  readonly notStarted: (code: string | undefined, message: string) => void
  readonly started: (pid: number) => void
  readonly output: (fd: 1 | 2, chunk: Uint8Array) => void
  /** `bytes` of the stream, after its head and before its tail, were counted and dropped (`keep`). */
  readonly dropped: (fd: 1 | 2, bytes: number) => void
  /** The process exited; output may still follow (a descendant holding its pipes). */
  readonly exited: (code: number | null, signal: string | null) => void
  /** Its output pipes are closed: nothing more comes. Also called when the helper dies. */
  readonly closed: () => void
  /** Something worth writing down that did not stop the command (its stdin refused the input). */
  readonly note: (message: string) => void
}

/**
 * Starts `request` in its own process group through the helper. The caller signals the group
 * itself (`process.kill(-pid)`): the process is this user's, and that works when the helper does not.
 */
export const streamInHelper = (request: StreamedRequest, events: StreamedEvents): { readonly abandon: () => void } => {
  const keep = request.keep
  // Checked here: a bad value would throw in the helper and stop every command it runs.
  if (keep !== undefined && !(Number.isSafeInteger(keep.head) && keep.head >= 0 && Number.isSafeInteger(keep.tail) && keep.tail >= 1)) {
    throw new Error(`keep must be integers, head >= 0 and tail >= 1, got ${JSON.stringify(keep)}`)
  }
  const current = helper ?? (helper = startHelper())
  const id = nextId++
  let started = false
  current.pending.set(id, {
    answer: (message) => {
      if (message.notStarted !== undefined) {
        events.notStarted(message.notStarted.code, message.notStarted.message)
        return true
      }
      if (message.started !== undefined) {
        started = true
        events.started(message.started)
      } else if (message.chunk !== undefined) events.output(message.fd ?? 1, message.chunk)
      else if (message.dropped !== undefined) events.dropped(message.fd ?? 1, message.dropped)
      else if (message.exit !== undefined) events.exited(message.exit.code, message.exit.signal)
      else if (message.note !== undefined) events.note(message.note)
      else if (message.stdinError !== undefined) events.note(`the prompt could not be written to stdin: ${message.stdinError}`)
      else if (message.closed === true) {
        events.closed()
        return true
      }
      return false
    },
    stopped: (reason) => {
      if (!started) return events.notStarted(undefined, reason)
      events.note(reason)
      events.closed()
    }
  })
  hold(current.process, true)
  current.process.send({ id, streamed: true, command: request.command, args: request.args, cwd: request.cwd, env: request.env, stdin: request.stdin, keep: request.keep })
  return {
    // Stops waiting for its pipes (a process outside its group holds them): what the helper held of
    // the output (the tail) is still handed over, then `closed`, and nothing after.
    abandon: () => {
      if (!current.pending.has(id)) return
      if (current.process.connected) return void current.process.send({ abandon: id })
      current.pending.delete(id)
      if (current.pending.size === 0) hold(current.process, false)
      events.closed()
    }
  }
}
