/**
 * Which oompa process started a process (SPEC F14): every agent, test command and setup command a
 * run starts carries `OOMPA_ORCHESTRATOR_PID` and `OOMPA_REPO` in its environment, and so does
 * everything it starts in turn — also a descendant that left the process group (`setsid`) — and
 * so do oompa's own git commands, which recovery lets finish rather than kills.
 *
 * Why, beside the process-group records of `NodeAgent`: a record is written just after the spawn,
 * so an oompa killed with `kill -9` in between (measured: every kill at the instant the agent has
 * started) left an agent no record names, alive; test and setup commands had no record at all; and
 * a descendant in a session of its own escapes the group kill. Recovery (`oompa cleanup`, the start
 * of every run) asks `findOrphans` for the processes whose orchestrator is dead, and kills them.
 *
 * Each agent call and command also carries its own `OOMPA_CALL` tag: when the call ends (exit,
 * timeout, interruption) and its process group has been stopped, `reapCall` kills what is left
 * with that tag, such as a tool that put itself in a session of its own (`setsid`).
 *
 * Linux only (`/proc/<pid>/environ`, readable for the user's own processes); elsewhere
 * `findOrphans` finds nothing and the records are all recovery has.
 *
 * Called by `NodeServices` (agents' environment), `NodeCommandRunner` (commands' environment), the
 * git layer (its commands' environment) and
 * the CLI's `cleanup`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"

/**
 * @category constants
 * @since 0.1.0
 */
export const orchestratorPidVariable = "OOMPA_ORCHESTRATOR_PID"

/**
 * @category constants
 * @since 0.1.0
 */
export const repoVariable = "OOMPA_REPO"

/**
 * The variables that mark a process as started by this oompa process for the repository at `repoRoot`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const variables = (repoRoot: string): Record<string, string> => ({
  [orchestratorPidVariable]: String(process.pid),
  [repoVariable]: repoRoot
})

/**
 * A live process started for the repository by an oompa process that no longer exists.
 *
 * @category models
 * @since 0.1.0
 */
export interface Orphan {
  readonly pid: number
  readonly pgid: number
  readonly orchestratorPid: number
  /** argv[0] and argv[1], for the report. */
  readonly command: string
}

const realOrSelf = (path: string): string => {
  try {
    return fs.realpathSync(path)
  } catch {
    return path
  }
}

/** State and process group from `/proc/<pid>/stat` (the fields after the command's closing parenthesis). */
const statOf = (pid: number): { readonly state: string; readonly pgid: number } | undefined => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")
    return { state: fields[0] ?? "", pgid: Number(fields[2]) }
  } catch {
    return undefined
  }
}

/** Every other process whose environment can be read (this user's), with its variables; none without `/proc`. */
function* readableProcesses(): Generator<{ readonly pid: number; readonly environ: ReadonlyArray<string> }> {
  let entries: Array<string>
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (pid === process.pid) continue
    try {
      yield { pid, environ: fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0") }
    } catch {
      // another user's process, or gone
    }
  }
}

/** argv[0] and argv[1] of a process, for a report; empty when it is gone. */
const commandOf = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, 2).join(" ")
  } catch {
    return ""
  }
}

/**
 * The processes marked for `repoRoot` whose orchestrator is not alive (and is not this process).
 * Zombies are left out (they are already dead). Never throws: a process that ends or cannot be read
 * while it is looked at is skipped.
 *
 * @category reading
 * @since 0.1.0
 */
export const findOrphans = (repoRoot: string, isAlive: (pid: number) => boolean): Array<Orphan> => {
  const root = realOrSelf(repoRoot)
  const orphans: Array<Orphan> = []
  for (const { environ, pid } of readableProcesses()) {
    let owner: string | undefined
    let repo: string | undefined
    for (const variable of environ) {
      if (variable.startsWith(`${orchestratorPidVariable}=`)) owner = variable.slice(orchestratorPidVariable.length + 1)
      else if (variable.startsWith(`${repoVariable}=`)) repo = variable.slice(repoVariable.length + 1)
    }
    if (owner === undefined || repo === undefined || !/^\d+$/.test(owner)) continue
    const orchestratorPid = Number(owner)
    if (orchestratorPid === process.pid || isAlive(orchestratorPid) || realOrSelf(repo) !== root) continue
    const stat = statOf(pid)
    if (stat === undefined || stat.state === "Z") continue
    const command = commandOf(pid)
    orphans.push({ pid, pgid: stat.pgid, orchestratorPid, command })
  }
  return orphans.sort((a, b) => a.pid - b.pid)
}

/**
 * The variable that tags every process of one agent call or command (and whatever it starts, in its
 * process group or not): the value is unique to that call in this oompa process.
 *
 * @category constants
 * @since 0.1.0
 */
export const callVariable = "OOMPA_CALL"

let callsTagged = 0

/**
 * A new tag for one call's processes (`OOMPA_CALL=<tag>`): this process's pid and a counter.
 *
 * @category constructors
 * @since 0.1.0
 */
export const newCallTag = (label: string): string => `${process.pid}-${++callsTagged}-${label.replace(/[^A-Za-z0-9._-]/g, "_")}`

/** The last process id the kernel handed out (Linux), or `undefined`. */
const lastPid = (): number | undefined => {
  try {
    const value = Number(fs.readFileSync("/proc/sys/kernel/ns_last_pid", "utf8").trim())
    return Number.isInteger(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** Whether the NUL-separated environment `environ` holds exactly the entry `entry` (`NAME=value\0`). */
const holdsEntry = (environ: Buffer, entry: Buffer): boolean => {
  for (let at = environ.indexOf(entry); at >= 0; at = environ.indexOf(entry, at + 1)) {
    if (at === 0 || environ[at - 1] === 0) return true
  }
  return false
}

/**
 * Kills (SIGKILL) every live process tagged `OOMPA_CALL=<tag>` — what a call left running after its
 * process group was stopped: a tool that started itself in a session of its own (`setsid`, as
 * Claude Code's Bash tool does), a daemon, a background server. Returns their descriptions. Never
 * throws; Linux only (`/proc`), elsewhere it finds nothing.
 *
 * `firstPid`, the call's own process, narrows the search: process ids count up, so whatever the
 * call started has an id from `firstPid` on — unless the kernel's counter wrapped around since
 * (the last id handed out is below it), and then every process is looked at. A scan of every
 * process's environment for every agent call cost ~10 ms on a busy machine (issue 17).
 *
 * @category killing
 * @since 0.1.0
 */
export const reapCall = (tag: string, firstPid?: number): Array<string> => {
  const entry = Buffer.from(`${callVariable}=${tag}\0`)
  const last = firstPid === undefined ? undefined : lastPid()
  const from = firstPid !== undefined && last !== undefined && last >= firstPid ? firstPid : 0
  let entries: Array<string>
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return []
  }
  const killed: Array<string> = []
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    if (pid < from || pid === process.pid) continue
    let environ: Buffer
    try {
      environ = fs.readFileSync(`/proc/${pid}/environ`)
    } catch {
      continue
    }
    if (!holdsEntry(environ, entry) || statOf(pid)?.state === "Z") continue
    const command = commandOf(pid)
    try {
      process.kill(pid, "SIGKILL")
      killed.push(`${command} (pid ${pid})`)
    } catch {
      // gone meanwhile
    }
  }
  return killed
}

