/**
 * Short commands (git) started by a `/bin/sh` this process keeps, one per environment, instead of a
 * Node spawn for each.
 *
 * Every iteration runs about ten git processes one after another, so the latency of a spawn is
 * paid ten times on the path of every landing. Through the spawning helper a call crossed two
 * Node IPC hops and a Node `spawn` (a fork of the helper's whole memory): 7.8 ms from the request
 * to the answer for `/bin/true` and 11.6 ms for `git --version`, against 4.1 and 6.7 ms in a bash
 * loop. The shell forks itself, a process of about a megabyte, and talks over two pipes
 * (docs/decisions.md, issue 17).
 *
 * Each command is one line that the shell reads from its stdin, every word single-quoted:
 *
 *     ( trap 'echo "e ID $?"' EXIT; cd -P -- DIR 2>/dev/null || { trap - EXIT; echo "n ID"; exit; }
 *       export K=V; exec PROGRAM ARGS <IN >OUT 2>ERR & echo "s ID $!"; wait $! ) &
 *
 * A subshell enters the command's folder, forks the command (`exec` runs the program itself, never
 * a shell builtin of the same name), reports its pid, waits for it and reports its status, a line
 * each on the shell's stdout (short writes to a pipe are atomic, so concurrent subshells do not
 * mix). The EXIT trap reports a subshell that failed before its command ran (a failed fork). The
 * command's input and output are files in a folder of this process (mode 0700), read and removed
 * when it ends. What this cannot run exactly as Node would (a word holding a NUL, a relative folder,
 * a PATH with relative entries or without the program, a variable name that is not a shell name)
 * is left to the caller (`run` returns `undefined`), which uses the spawning helper.
 *
 * What differs from Node's `spawn`:
 * - a command killed by a signal sent through `kill` reports that signal; any other end reports the
 *   status the shell saw (128 + n for a signal from elsewhere);
 * - the shell runs in a session of its own and its commands ignore SIGINT and SIGQUIT (POSIX
 *   background jobs), so a Ctrl-C at the terminal does not cut a git call short: oompa stops one
 *   with SIGTERM;
 * - the command's `PWD` is its folder (the shell keeps `PWD` as `cd` leaves it).
 *
 * The shell ends when this process does (its stdin closes, kill -9 included); commands it started
 * run to their end, as before. An idle shell is closed after `idleMs`. A shell that dies fails the
 * commands it held (`NotStarted`) and is replaced on the next command.
 *
 * Internal: used by `gitCommand`.
 *
 * @since 0.1.0
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as nodeFs from "node:fs"
import type * as nodeNet from "node:net"
import * as nodeOs from "node:os"
import * as nodePath from "node:path"
import type { Spawned, SpawnRequest, SpawnResult } from "./spawnHelper.ts"

const shellPath = "/bin/sh"
/** How long a shell with no command running is kept. */
const idleMs = 10_000

interface Running {
  readonly program: string
  readonly cwd: string
  readonly files: { readonly in: string; readonly out: string; readonly err: string }
  readonly hasInput: boolean
  readonly done: (result: SpawnResult) => void
  pid: number | undefined
  readonly signals: Array<NodeJS.Signals>
}

interface Shell {
  readonly env: object
  readonly child: ChildProcess
  readonly running: Map<number, Running>
  idle: ReturnType<typeof setTimeout> | undefined
}

const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`
const shellName = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The shells by environment (the runner's object, a handful per process). */
const shells = new WeakMap<object, Shell>()
/** Programs found on PATH, by PATH and name, as `execvp` would find them. */
const programs = new Map<string, string>()
let nextId = 0
let folder: string | undefined
let usable: boolean | undefined

/** This process's folder for commands' input and output, made on first use. */
const filesFolder = (): string => {
  if (folder !== undefined) return folder
  const parent = nodeOs.tmpdir()
  sweepLeftovers(parent)
  folder = nodeFs.mkdtempSync(nodePath.join(parent, `oompa-sh-${process.pid}-`))
  const made = folder
  process.once("exit", () => nodeFs.rmSync(made, { recursive: true, force: true }))
  return made
}

/**
 * Removes the folders of processes that are gone (a kill -9 leaves its folder). Best effort: a
 * folder of another user, or one that goes meanwhile, is not this run's business.
 */
const sweepLeftovers = (parent: string): void => {
  let names: Array<string>
  try {
    names = nodeFs.readdirSync(parent)
  } catch {
    return
  }
  for (const name of names) {
    const pid = /^oompa-sh-(\d+)-/.exec(name)?.[1]
    if (pid === undefined || alive(Number(pid))) continue
    try {
      nodeFs.rmSync(nodePath.join(parent, name), { recursive: true, force: true })
    } catch {
      // someone else's, or gone
    }
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Sends `signal` to `pid`; a command that has just ended may be gone before its status arrives. */
const signal = (pid: number, name: NodeJS.Signals): void => {
  try {
    process.kill(pid, name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error
  }
}

const findProgram = (command: string, searchPath: string | undefined): string | undefined => {
  if (searchPath === undefined || command.includes("/") || command === "") return undefined
  const key = `${searchPath}\0${command}`
  const known = programs.get(key)
  if (known !== undefined) return known
  const folders = searchPath.split(":")
  if (folders.some((dir) => !dir.startsWith("/"))) return undefined
  for (const dir of folders) {
    const file = nodePath.join(dir, command)
    try {
      nodeFs.accessSync(file, nodeFs.constants.X_OK)
      if (!nodeFs.statSync(file).isFile()) continue
    } catch {
      continue
    }
    programs.set(key, file)
    return file
  }
  return undefined
}

/** Keeps this process alive while the shell runs a command, not while it is idle. */
const hold = (shell: Shell, held: boolean): void => {
  // A child's pipes are sockets (`ref`/`unref`), typed as plain streams.
  for (const handle of [shell.child, shell.child.stdin as nodeNet.Socket | null, shell.child.stdout as nodeNet.Socket | null]) {
    if (handle === null) continue
    if (held) handle.ref()
    else handle.unref()
  }
}

const removeFiles = (running: Running): void => {
  for (const file of [running.files.out, running.files.err, ...(running.hasInput ? [running.files.in] : [])]) {
    try {
      nodeFs.unlinkSync(file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
    }
  }
}

const ended = (shell: Shell, id: number, running: Running, result: SpawnResult): void => {
  shell.running.delete(id)
  removeFiles(running)
  if (shell.running.size === 0) {
    hold(shell, false)
    // Out of the map first: a command that comes meanwhile starts another shell, never writes to this one's closed stdin.
    shell.idle = setTimeout(() => {
      if (shells.get(shell.env) === shell) shells.delete(shell.env)
      shell.child.stdin?.end()
    }, idleMs)
    shell.idle.unref()
  }
  running.done(result)
}

/** How a command that reached its end ended: its status, and its output read from the files. */
const exited = (running: Running, status: number, started: boolean): SpawnResult => {
  if (!started) return { _tag: "NotStarted", code: undefined, message: `the shell could not start ${running.program} (status ${status})` }
  if (status === 127 && !nodeFs.existsSync(running.program)) {
    programs.clear()
    return { _tag: "NotStarted", code: "ENOENT", message: `spawn ${running.program} ENOENT` }
  }
  const by = status > 128 ? running.signals.find((name) => nodeOs.constants.signals[name] === status - 128) : undefined
  let stdout: Uint8Array
  let stderr: Uint8Array
  try {
    stdout = nodeFs.readFileSync(running.files.out)
    stderr = nodeFs.readFileSync(running.files.err)
  } catch (error) {
    // Killed before its redirections were made: it printed nothing.
    const killedEarly = by !== undefined && (error as NodeJS.ErrnoException).code === "ENOENT"
    if (!killedEarly) return { _tag: "NotStarted", code: (error as NodeJS.ErrnoException).code, message: `its output could not be kept: ${(error as Error).message}` }
    stdout = new Uint8Array()
    stderr = new Uint8Array()
  }
  return { _tag: "Exited", code: by === undefined ? status : null, signal: by ?? null, stdout, stderr }
}

const startShell = (env: Readonly<Record<string, string>>): Shell => {
  const child = spawn(shellPath, [], { cwd: "/", env, detached: true, stdio: ["pipe", "pipe", "ignore"] })
  const shell: Shell = { env, child, running: new Map(), idle: undefined }
  let lines = ""
  child.stdin!.on("error", () => {
    // The shell is gone: its close fails what it held.
  })
  child.stdout!.setEncoding("latin1")
  child.stdout!.on("data", (text: string) => {
    lines += text
    for (let end = lines.indexOf("\n"); end >= 0; end = lines.indexOf("\n")) {
      const [kind, idText, value] = lines.slice(0, end).split(" ")
      lines = lines.slice(end + 1)
      const id = Number(idText)
      const running = shell.running.get(id)
      if (running === undefined) continue
      if (kind === "s") {
        running.pid = Number(value)
        for (const name of running.signals) signal(running.pid, name)
      } else if (kind === "n") {
        ended(shell, id, running, { _tag: "NotStarted", code: "ENOENT", message: `spawn ${running.program} ENOENT: cannot enter ${running.cwd}` })
      } else {
        ended(shell, id, running, exited(running, Number(value), running.pid !== undefined))
      }
    }
  })
  // On the shell's exit, not its pipes' close: its subshells hold its stdout until their commands end.
  // What it held is failed (a command whose line it had not read yet would never report); a
  // subshell's later report is ignored, as its command's id is no longer known.
  child.once("exit", () => {
    if (shells.get(env) === shell) shells.delete(env)
    for (const [id, running] of shell.running) {
      ended(shell, id, running, { _tag: "NotStarted", code: undefined, message: "the shell that starts git stopped" })
    }
    clearTimeout(shell.idle)
    hold(shell, false)
  })
  child.once("error", () => {
    // Reported by `exit`, which follows.
  })
  shells.set(env, shell)
  return shell
}

/**
 * Starts `request` through the environment's shell (started when missing); `done` is called once
 * with how it ended. `undefined`: this request is not one for the shell (see the header).
 */
export const run = (request: SpawnRequest, done: (result: SpawnResult) => void): Spawned | undefined => {
  const extraEnv = Object.entries(request.extraEnv ?? {})
  const words = [request.command, ...request.args, request.cwd, ...extraEnv.flat()]
  if (!request.cwd.startsWith("/") || words.some((word) => word.includes("\0")) || extraEnv.some(([name]) => !shellName.test(name))) return undefined
  const program = findProgram(request.command, request.extraEnv?.["PATH"] ?? request.env["PATH"])
  if (program === undefined || !(usable ??= nodeFs.existsSync(shellPath))) return undefined
  const id = nextId++
  const base = nodePath.join(filesFolder(), String(id))
  const running: Running = { program, cwd: request.cwd, files: { in: `${base}.in`, out: `${base}.out`, err: `${base}.err` }, hasInput: request.stdin !== undefined, done, pid: undefined, signals: [] }
  if (request.stdin !== undefined) {
    try {
      nodeFs.writeFileSync(running.files.in, request.stdin)
    } catch (error) {
      nodeFs.rmSync(running.files.in, { force: true })
      const failure = `its input could not be written to ${running.files.in}: ${(error as Error).message}`
      queueMicrotask(() => done({ _tag: "NotStarted", code: (error as NodeJS.ErrnoException).code, message: failure }))
      return { kill: () => {} }
    }
  }
  const shell = shells.get(request.env) ?? startShell(request.env)
  clearTimeout(shell.idle)
  if (shell.running.size === 0) hold(shell, true)
  shell.running.set(id, running)
  const exports = extraEnv.map(([name, value]) => `export ${name}=${quote(value)}; `).join("")
  shell.child.stdin!.write(`( trap 'echo "e ${id} $?"' EXIT; cd -P -- ${quote(request.cwd)} 2>/dev/null || { trap - EXIT; echo "n ${id}"; exit; }; ${exports}` +
    `exec ${[program, ...request.args].map(quote).join(" ")} <${quote(request.stdin === undefined ? "/dev/null" : running.files.in)} ` +
    `>${quote(running.files.out)} 2>${quote(running.files.err)} & echo "s ${id} $!"; wait $! ) &\n`)
  return {
    kill: (name) => {
      if (!shell.running.has(id)) return
      running.signals.push(name)
      if (running.pid !== undefined) signal(running.pid, name)
    }
  }
}
