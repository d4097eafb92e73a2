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
 * run to their end, as before. An idle shell is closed after `idleMs`. A shell that dies is
 * replaced on the next command; the commands it had started still report how they ended, and one
 * it never started (its line unread) gets one more try in a new shell once the dead shell's last
 * command has ended, then fails (`NotStarted`). A subshell killed on its
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
import * as PrivateFolder from "./privateFolder.ts"
import type { Spawned, SpawnRequest, SpawnResult } from "./spawnHelper.ts"

/**
 * dash where there is one (it reads its input in blocks; bash, /bin/sh on some systems, reads a
 * pipe a byte at a time, a system call for every byte of every line), else /bin/sh.
 */
const shellPath = ["/bin/dash", "/usr/bin/dash"].find((file) => nodeFs.existsSync(file)) ?? "/bin/sh"
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
  /** What it was asked to run, and whether it is already a second try (see the shell's stdout close). */
  readonly request: SpawnRequest
  readonly retried: boolean
  /** The caller's handle: follows the command to its second try. */
  readonly handle: Handle
}

/** Where the caller's `kill` goes: the command's current try. */
interface Handle {
  send: ((name: NodeJS.Signals) => void) | undefined
}

interface Shell {
  readonly env: object
  readonly child: ChildProcess
  readonly running: Map<number, Running>
  idle: ReturnType<typeof setTimeout> | undefined
  /** It exited or failed: no command goes to it any more. */
  gone: boolean
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
let usable: boolean | undefined
/** Longer command lines go to the helper, where a spawn that is too long is refused as Node refuses it (E2BIG). */
const maxLineBytes = 64 * 1024
/** Sends `signal` to `pid`; a command that has just ended may be gone before its status arrives. */
const signal = (pid: number, name: NodeJS.Signals): void => {
  try {
    process.kill(pid, name)
  } catch (error) {
    // Gone (ESRCH), or its pid already another user's process (EPERM): nothing of ours to stop.
    const code = (error as NodeJS.ErrnoException).code
    if (code !== "ESRCH" && code !== "EPERM") throw error
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
  if (shell.running.size === 0 && !shell.gone) {
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

const startShell = (env: Readonly<Record<string, string>>, start: Record<string, string>): Shell | undefined => {
  // In this process's group and session, as git was before. The shell ignores a Ctrl-C, a hang-up
  // and a SIGTERM sent to the whole group (the helper did too: the run still needs git to clean up);
  // its commands ignore SIGINT and SIGQUIT (POSIX background jobs) and get SIGTERM back, so git
  // calls end on their own or when oompa stops them.
  let child: ChildProcess
  try {
    child = spawn(shellPath, [], { cwd: "/", env: start, stdio: ["pipe", "pipe", "ignore"] })
  } catch {
    return undefined
  }
  if (child.pid === undefined) {
    // Not started (EAGAIN, EMFILE, EACCES: Node says so with an `error` event only): the helper takes the call.
    child.once("error", () => {})
    return undefined
  }
  child.stdin!.write("trap '' INT QUIT HUP TERM\n")
  const shell: Shell = { env, child, running: new Map(), idle: undefined, gone: false }
  let lines = ""
  child.stdin!.on("error", () => {
    // The shell is gone: see below.
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
  // The shell gone (its exit, or an error after its start): later commands go to a new one. What it
  // held is settled when its stdout closes: its subshells keep that open until their commands have
  // ended and reported, so a command that ran says how it ended, and one whose line the shell never
  // read fails then.
  const gone = () => {
    shell.gone = true
    if (shells.get(env) === shell) shells.delete(env)
    clearTimeout(shell.idle)
  }
  child.once("exit", gone)
  child.once("error", gone)
  // A command that never said "s" never ran (its subshell would hold stdout until it had): the
  // shell died before it read the line, or it was written to a shell already dead (its exit not yet
  // seen here). It gets one more try in a new shell, unless its caller has asked it to stop.
  child.stdout!.once("close", () => {
    gone()
    for (const [id, running] of shell.running) {
      if (running.pid === undefined && !running.retried && running.signals.length === 0) {
        shell.running.delete(id)
        removeFiles(running)
        if (startCommand(running.request, running.done, true, running.handle)) continue
      }
      ended(shell, id, running, { _tag: "NotStarted", code: undefined, message: "the shell that starts git stopped before it started this command" })
    }
    hold(shell, false)
  })
  shells.set(env, shell)
  return shell
}

/**
 * Starts `request` through the environment's shell (started when missing); `done` is called once
 * with how it ended. `undefined`: this request is not one for the shell (see the header).
 */
export const run = (request: SpawnRequest, done: (result: SpawnResult) => void): Spawned | undefined => {
  const handle: Handle = { send: undefined }
  return startCommand(request, done, false, handle) ? { kill: (name) => handle.send?.(name) } : undefined
}

/** `run`, as a first or a second try; false when the shell cannot take it (nothing started then). */
const startCommand = (request: SpawnRequest, done: (result: SpawnResult) => void, retried: boolean, handle: Handle): boolean => {
  const extraEnv = Object.entries(request.extraEnv ?? {})
  const words = [request.command, ...request.args, request.cwd, ...extraEnv.flat()]
  if (!request.cwd.startsWith("/") || words.some((word) => word.includes("\0")) || extraEnv.some(([name]) => !shellName.test(name) || shellOptionVariables.has(name))) return false
  if (words.reduce((bytes, word) => bytes + Buffer.byteLength(word), 0) > maxLineBytes) return false
  const environment = shellEnvironment(request.env)
  const program = findProgram(request.command, request.extraEnv?.["PATH"] ?? request.env["PATH"])
  if (environment === undefined || program === undefined || !(usable ??= nodeFs.existsSync(shellPath))) return false
  const files = PrivateFolder.processFolder()
  if (files === undefined) return false
  const shell = shells.get(request.env) ?? startShell(request.env, environment.start)
  if (shell === undefined) return false
  const id = nextId++
  const base = nodePath.join(files, String(id))
  const running: Running = {
    program, cwd: request.cwd, files: { in: `${base}.in`, out: `${base}.out`, err: `${base}.err` }, hasInput: request.stdin !== undefined,
    done, pid: undefined, signals: [], request, retried, handle
  }
  handle.send = (name) => {
    if (!shell.running.has(id)) return
    running.signals.push(name)
    if (running.pid !== undefined) signal(running.pid, name)
  }
  clearTimeout(shell.idle)
  if (shell.running.size === 0) hold(shell, true)
  shell.running.set(id, running)
  if (request.stdin !== undefined) {
    try {
      // A file of its own (O_EXCL): never one that was put there first, nor through a link.
      nodeFs.writeFileSync(running.files.in, request.stdin, { flag: "wx", mode: 0o600 })
    } catch (error) {
      const failure = `its input could not be written to ${running.files.in}: ${(error as Error).message}`
      queueMicrotask(() => ended(shell, id, running, { _tag: "NotStarted", code: (error as NodeJS.ErrnoException).code, message: failure }))
      return true
    }
  }
  const exports = environment.exports + extraEnv.map(([name, value]) => `export ${name}=${quote(value)}; `).join("")
  // `set -C`: the output files are created, never opened if something is already there (a link included).
  // `jobs` collects the subshells that have ended (dash reaps background jobs only when asked).
  shell.child.stdin!.write(`( trap - TERM; trap 'echo "e ${id} $?"' EXIT; cd -P -- ${quote(request.cwd)} 2>/dev/null || { trap - EXIT; echo "n ${id}"; exit; }; ` +
    `set -C; ${exports}exec ${[program, ...request.args].map(quote).join(" ")} <${quote(request.stdin === undefined ? "/dev/null" : running.files.in)} ` +
    `>${quote(running.files.out)} 2>${quote(running.files.err)} & echo "s ${id} $!"; wait "$!" ) & jobs >/dev/null\n`)
  return true
}
