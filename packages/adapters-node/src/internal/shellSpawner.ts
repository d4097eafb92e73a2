/**
 * Short commands (git) started by a `/bin/sh` this process keeps, one per environment, instead of a
 * Node spawn for each.
 *
 * Every iteration runs about ten git processes one after another, so the latency of a spawn is
 * paid ten times on the path of every landing. Through the spawning helper a call crossed two
 * Node IPC hops and a Node `spawn` (a fork of the helper's whole memory): 7.8 ms from the request
 * to the answer for `/bin/true`, against 4.1 ms in a bash loop. The shell forks itself, a process
 * of about a megabyte, and talks over two pipes (docs/decisions.md, issue 17).
 *
 * Each command is one line that the shell reads from its stdin, every word single-quoted:
 *
 *     ( trap 'echo "e ID $?"' EXIT; cd -P -- DIR 2>/dev/null || { trap - EXIT; echo "n ID"; exit; }
 *       set -C; export K=V; exec PROGRAM ARGS <IN >OUT 2>ERR & echo "s ID $!"; wait "$!" ) & jobs
 *
 * A subshell enters the command's folder, forks the command (`exec` runs the program found on PATH
 * here, never a shell builtin of the same name), reports its pid, waits for it and reports its
 * status, a line each on the shell's stdout (short writes to a pipe are atomic, so concurrent
 * subshells do not mix; nothing the command prints reaches that pipe). The EXIT trap also reports
 * a subshell that failed before its command ran. The command's input and output are files in a
 * folder of this process (mode 0700, outside the temporary folder agents may write to), created
 * exclusively and read without following links, then removed. What this cannot run exactly as
 * Node would is left to the caller (`run` returns `undefined`; it uses the spawning helper): a
 * word holding a NUL, a relative folder, a PATH with relative entries or without the program, a
 * command line over 64 KiB, a variable name the shell would drop or that sets its options, no
 * folder for the files.
 *
 * What differs from Node's `spawn`:
 * - a command killed by a signal sent through `kill` reports that signal; any other end reports the
 *   status the shell saw (128 + n for a signal from elsewhere);
 * - the shell and its commands ignore SIGINT, SIGQUIT and SIGHUP, so a Ctrl-C does not cut a git
 *   call short: oompa stops one with SIGTERM;
 * - the command's `PWD` is its folder (the shell keeps `PWD` as `cd` leaves it).
 *
 * The shell ends when this process does (its stdin closes, kill -9 included); commands it started
 * run to their end, as before. An idle shell is closed after `idleMs`. A shell that dies fails the
 * commands it held (`NotStarted`) and is replaced on the next command. A subshell killed on its
 * own (by another process of this user) leaves its command waiting: the same user can stop git or
 * the helper as well.
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
import * as ProcessOwner from "../ProcessOwner.ts"
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
/**
 * What a shell for an environment needs, found once per environment object: the environment it
 * starts with (without oompa's process markers: recovery must see the git it starts as git, never
 * the shell as a process to kill with its group), and the markers exported to each command.
 * `undefined`: not an environment for a shell (a name the shell would drop or that sets its options).
 */
const shellEnvs = new WeakMap<object, { readonly start: Record<string, string>; readonly exports: string } | undefined>()
/** Programs found on PATH, by PATH and name, as `execvp` would find them. */
const programs = new Map<string, string>()
let nextId = 0
let folder: string | undefined
let usable: boolean | undefined
/** Longer command lines go to the helper, where a spawn that is too long is refused as Node refuses it (E2BIG). */
const maxLineBytes = 64 * 1024
/** A leftover folder is removed when its process is gone and it has not changed for this long. */
const leftoverAgeMs = 60 * 60 * 1000

/**
 * This process's folder for commands' input and output (mode 0700), made on first use and again
 * if it went: under `$XDG_RUNTIME_DIR/oompa` or `~/.cache/oompa`, not the shared temporary folder,
 * where a sandboxed agent may write (Codex's `workspace-write` lets it write /tmp and $TMPDIR) and
 * could plant or rewrite a command's output. `undefined` when neither can be made.
 */
const filesFolder = (): string | undefined => {
  if (folder !== undefined && nodeFs.existsSync(folder)) return folder
  const runtime = process.env["XDG_RUNTIME_DIR"]
  const home = process.env["HOME"]
  const parent = runtime !== undefined && runtime.startsWith("/") && nodeFs.existsSync(runtime)
    ? nodePath.join(runtime, "oompa")
    : home !== undefined && home.startsWith("/") ? nodePath.join(home, ".cache", "oompa") : undefined
  if (parent === undefined) return undefined
  try {
    nodeFs.mkdirSync(parent, { recursive: true, mode: 0o700 })
    if (folder === undefined) sweepLeftovers(parent)
    const made = nodeFs.mkdtempSync(nodePath.join(parent, `sh-${process.pid}-`))
    if (folder === undefined) process.once("exit", () => nodeFs.rmSync(folder!, { recursive: true, force: true }))
    return folder = made
  } catch {
    return undefined
  }
}

/**
 * Removes the folders of processes that are gone and that have not changed for an hour (a kill -9
 * leaves its folder; a process in another PID namespace looks gone but keeps its folder changing).
 * Best effort: a folder that goes meanwhile or cannot be removed is not this run's business.
 */
const sweepLeftovers = (parent: string): void => {
  for (const name of nodeFs.readdirSync(parent)) {
    const pid = /^sh-(\d+)-/.exec(name)?.[1]
    if (pid === undefined || alive(Number(pid))) continue
    try {
      const leftover = nodePath.join(parent, name)
      if (Date.now() - nodeFs.lstatSync(leftover).mtimeMs > leftoverAgeMs) nodeFs.rmSync(leftover, { recursive: true, force: true })
    } catch {
      // gone meanwhile, or not ours to remove
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

const executable = (file: string): boolean => {
  try {
    nodeFs.accessSync(file, nodeFs.constants.X_OK)
    return nodeFs.statSync(file).isFile()
  } catch {
    return false
  }
}

const findProgram = (command: string, searchPath: string | undefined): string | undefined => {
  if (searchPath === undefined || command.includes("/") || command === "") return undefined
  const key = `${searchPath}\0${command}`
  const known = programs.get(key)
  if (known !== undefined) return known
  const folders = searchPath.split(":")
  if (folders.some((dir) => !dir.startsWith("/"))) return undefined
  const file = folders.map((dir) => nodePath.join(dir, command)).find(executable)
  if (file !== undefined) programs.set(key, file)
  return file
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

/** Best effort: a file already gone, or a folder an agent replaced, leaves nothing for this run to do. */
const removeFiles = (running: Running): void => {
  for (const file of [running.files.out, running.files.err, ...(running.hasInput ? [running.files.in] : [])]) {
    try {
      nodeFs.unlinkSync(file)
    } catch {
      // see above
    }
  }
}

/** A file's bytes, never through a symbolic link put in its place. */
const readOwnFile = (file: string): Uint8Array => {
  const fd = nodeFs.openSync(file, nodeFs.constants.O_RDONLY | nodeFs.constants.O_NOFOLLOW)
  try {
    return nodeFs.readFileSync(fd)
  } finally {
    nodeFs.closeSync(fd)
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
  if (status === 126 || status === 127) {
    // The program found before may have gone or lost its mode since: Node's spawn says so as NotStarted.
    const missing = !nodeFs.existsSync(running.program)
    if (missing || !executable(running.program)) {
      programs.clear()
      const code = missing ? "ENOENT" : "EACCES"
      return { _tag: "NotStarted", code, message: `spawn ${running.program} ${code}` }
    }
  }
  const by = status > 128 ? running.signals.find((name) => nodeOs.constants.signals[name] === status - 128) : undefined
  let stdout: Uint8Array
  let stderr: Uint8Array
  try {
    stdout = readOwnFile(running.files.out)
    stderr = readOwnFile(running.files.err)
  } catch (error) {
    // Killed before its redirections were made: it printed nothing.
    const killedEarly = by !== undefined && (error as NodeJS.ErrnoException).code === "ENOENT"
    if (!killedEarly) return { _tag: "NotStarted", code: (error as NodeJS.ErrnoException).code, message: `its output could not be kept: ${(error as Error).message}` }
    stdout = new Uint8Array()
    stderr = new Uint8Array()
  }
  return { _tag: "Exited", code: by === undefined ? status : null, signal: by ?? null, stdout, stderr }
}

/** oompa's marks on the processes it starts (`ProcessOwner`): the shell's commands carry them, the shell does not. */
const markers = new Set([ProcessOwner.orchestratorPidVariable, ProcessOwner.repoVariable, ProcessOwner.callVariable])

/** Names that set a shell's options when it starts (bash, /bin/sh on some systems, reads them). */
const shellOptionVariables = new Set(["SHELLOPTS", "BASHOPTS"])

const shellEnvironment = (env: Readonly<Record<string, string>>) => {
  if (shellEnvs.has(env)) return shellEnvs.get(env)
  const names = Object.keys(env)
  const fit = names.every((name) => shellName.test(name) && !shellOptionVariables.has(name)) &&
    Object.values(env).every((value) => !value.includes("\0"))
  const start: Record<string, string> = {}
  let exports = ""
  for (const name of names) {
    if (markers.has(name)) exports += `export ${name}=${quote(env[name]!)}; `
    else start[name] = env[name]!
  }
  const found = fit ? { start, exports } : undefined
  shellEnvs.set(env, found)
  return found
}

const startShell = (env: Readonly<Record<string, string>>, start: Record<string, string>): Shell => {
  // In this process's group and session, as git was before: a Ctrl-C reaches the group, and the
  // shell ignores it (its commands do too, as POSIX background jobs), so git calls end on their own
  // or when oompa stops them with SIGTERM.
  const child = spawn(shellPath, [], { cwd: "/", env: start, stdio: ["pipe", "pipe", "ignore"] })
  child.stdin!.write("trap '' INT QUIT HUP\n")
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
  if (!request.cwd.startsWith("/") || words.some((word) => word.includes("\0")) || extraEnv.some(([name]) => !shellName.test(name) || shellOptionVariables.has(name))) return undefined
  if (words.reduce((bytes, word) => bytes + Buffer.byteLength(word), 0) > maxLineBytes) return undefined
  const environment = shellEnvironment(request.env)
  const program = findProgram(request.command, request.extraEnv?.["PATH"] ?? request.env["PATH"])
  if (environment === undefined || program === undefined || !(usable ??= nodeFs.existsSync(shellPath))) return undefined
  const files = filesFolder()
  if (files === undefined) return undefined
  const id = nextId++
  const base = nodePath.join(files, String(id))
  const running: Running = { program, cwd: request.cwd, files: { in: `${base}.in`, out: `${base}.out`, err: `${base}.err` }, hasInput: request.stdin !== undefined, done, pid: undefined, signals: [] }
  if (request.stdin !== undefined) {
    try {
      // A file of its own (O_EXCL): never one that was put there first, nor through a link.
      nodeFs.writeFileSync(running.files.in, request.stdin, { flag: "wx", mode: 0o600 })
    } catch (error) {
      const failure = `its input could not be written to ${running.files.in}: ${(error as Error).message}`
      queueMicrotask(() => done({ _tag: "NotStarted", code: (error as NodeJS.ErrnoException).code, message: failure }))
      return { kill: () => {} }
    }
  }
  const shell = shells.get(request.env) ?? startShell(request.env, environment.start)
  clearTimeout(shell.idle)
  if (shell.running.size === 0) hold(shell, true)
  shell.running.set(id, running)
  const exports = environment.exports + extraEnv.map(([name, value]) => `export ${name}=${quote(value)}; `).join("")
  // `set -C`: the output files are created, never opened if something is already there (a link included).
  // `jobs` collects the subshells that have ended (dash reaps background jobs only when asked).
  shell.child.stdin!.write(`( trap 'echo "e ${id} $?"' EXIT; cd -P -- ${quote(request.cwd)} 2>/dev/null || { trap - EXIT; echo "n ${id}"; exit; }; ` +
    `set -C; ${exports}exec ${[program, ...request.args].map(quote).join(" ")} <${quote(request.stdin === undefined ? "/dev/null" : running.files.in)} ` +
    `>${quote(running.files.out)} 2>${quote(running.files.err)} & echo "s ${id} $!"; wait "$!" ) & jobs >/dev/null\n`)
  return {
    kill: (name) => {
      if (!shell.running.has(id)) return
      running.signals.push(name)
      if (running.pid !== undefined) signal(running.pid, name)
    }
  }
}
