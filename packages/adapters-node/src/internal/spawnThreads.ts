/**
 * Short-lived commands (git) started from two worker threads instead of the main thread.
 *
 * Node's `spawn` does not return until the child has exec'd: the calling thread is blocked for the
 * fork of the whole process and the child's exec, ~4.5 ms per spawn for a 200 MB orchestrator on a
 * busy 2-core machine (2.3 ms of it CPU), during which no fiber of the run moves. With ten git
 * calls per iteration the main thread could not start more than ~200 a second, whatever the number
 * of workers (issue 17). From these threads the main thread only posts a message and is woken by
 * the answer; two threads fork side by side on two cores.
 *
 * A thread keeps the process alive only while it has a command running. A thread that dies fails
 * its commands (`spawn-failed` for the caller) and is replaced on the next command.
 *
 * Internal: used by `gitCommand`.
 *
 * @since 0.1.0
 */
import { Worker } from "node:worker_threads"

/** One command to run: what `child_process.spawn` needs, and the bytes for its stdin (closed after). */
export interface SpawnRequest {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  /** The environment, a long-lived object shared by many commands: sent to each thread once. */
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

// The thread's code, plain CommonJS (it runs from a string: the CLI is one bundled file).
const threadSource = `
const { parentPort } = require("node:worker_threads")
const { spawn } = require("node:child_process")
const children = new Map()
const envs = new Map()
parentPort.on("message", (message) => {
  if (message.env !== undefined) envs.set(message.envId, message.env)
  if (message.kill !== undefined) {
    const child = children.get(message.kill)
    if (child !== undefined) child.kill(message.signal)
    return
  }
  const { id, command, args, cwd, envId, extraEnv, stdin } = message
  const env = extraEnv === undefined ? envs.get(envId) : { ...envs.get(envId), ...extraEnv }
  let child
  try {
    child = spawn(command, args, { cwd, env, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] })
  } catch (error) {
    parentPort.postMessage({ id, notStarted: { code: error.code, message: String(error.message) } })
    return
  }
  children.set(id, child)
  const stdout = []
  const stderr = []
  let failed = false
  child.stdout.on("data", (chunk) => stdout.push(chunk))
  child.stderr.on("data", (chunk) => stderr.push(chunk))
  child.once("error", (error) => {
    if (failed) return
    failed = true
    children.delete(id)
    parentPort.postMessage({ id, notStarted: { code: error.code, message: String(error.message) } })
  })
  child.once("close", (code, signal) => {
    children.delete(id)
    if (failed) return
    parentPort.postMessage({ id, code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) })
  })
  if (stdin !== undefined) {
    child.stdin.on("error", () => {})
    child.stdin.end(Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength))
  }
})
`

interface Thread {
  readonly worker: Worker
  readonly pending: Map<number, (result: SpawnResult) => void>
  /** The environments this thread was sent (by id): each goes once, not with every command. */
  readonly envs: Set<number>
}

/** An id per environment object (a runner's: a handful per process). */
const envIds = new WeakMap<object, number>()
let nextEnvId = 0

const threadsMax = 2
const threads: Array<Thread | undefined> = []
let nextId = 0

const startThread = (slot: number): Thread => {
  const worker = new Worker(threadSource, { eval: true })
  const thread: Thread = { worker, pending: new Map(), envs: new Set() }
  worker.unref()
  worker.on("message", (message: { id: number; notStarted?: { code?: string; message: string }; code?: number | null; signal?: string | null; stdout?: Uint8Array; stderr?: Uint8Array }) => {
    const done = thread.pending.get(message.id)
    if (done === undefined) return
    thread.pending.delete(message.id)
    if (thread.pending.size === 0) worker.unref()
    done(message.notStarted !== undefined
      ? { _tag: "NotStarted", code: message.notStarted.code, message: message.notStarted.message }
      : { _tag: "Exited", code: message.code ?? null, signal: message.signal ?? null, stdout: message.stdout!, stderr: message.stderr! })
  })
  const fail = (reason: string) => {
    if (threads[slot] === thread) threads[slot] = undefined
    for (const done of thread.pending.values()) done({ _tag: "NotStarted", code: undefined, message: `the spawning thread stopped: ${reason}` })
    thread.pending.clear()
  }
  worker.on("error", (error: unknown) => fail(error instanceof Error ? error.message : String(error)))
  worker.on("exit", (code) => fail(`exit code ${code}`))
  return thread
}

/** The thread with the fewest commands running (started when missing). */
const leastBusy = (): Thread => {
  let chosen: Thread | undefined
  for (let slot = 0; slot < threadsMax; slot++) {
    const thread = threads[slot] ?? (threads[slot] = startThread(slot))
    if (chosen === undefined || thread.pending.size < chosen.pending.size) chosen = thread
    if (thread.pending.size === 0) break
  }
  return chosen!
}

/** Starts `request` on a spawning thread; `done` is called once with how it ended. */
export const spawnOnThread = (request: SpawnRequest, done: (result: SpawnResult) => void): Spawned => {
  const thread = leastBusy()
  const id = nextId++
  thread.pending.set(id, done)
  thread.worker.ref()
  let envId = envIds.get(request.env)
  if (envId === undefined) envIds.set(request.env, envId = nextEnvId++)
  const env = thread.envs.has(envId) ? undefined : request.env
  thread.envs.add(envId)
  thread.worker.postMessage({ id, command: request.command, args: request.args, cwd: request.cwd, envId, env, extraEnv: request.extraEnv, stdin: request.stdin })
  return { kill: (signal) => thread.worker.postMessage({ kill: id, signal }) }
}
