/**
 * What the reliability tests (issue 8) share beyond `test/cli/helpers.ts`: process liveness, the
 * agent pids a run left on record, a seeded PRNG for the crash moments, the checks every crash
 * trial ends with, and a run of the bundle whose peak memory is measured.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { ensureBundle, environment, fakeCalls, git, runIds, type Scratch, workspaceRoot } from "../cli/helpers.ts"

/** Whether the process exists and is not a zombie waiting for a reaper. */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")
    return !stat.startsWith("Z")
  } catch {
    // Gone between the two reads.
    return false
  }
}

/** The agent process groups `.oompa/runs/*\/agents/*.json` records (NodeAgent.GroupRecord). */
export const recordedAgents = (scratch: Scratch): Array<{ readonly pid: number; readonly pgid: number; readonly orchestratorPid: number; readonly run: string }> => {
  const runs = path.join(scratch.repo, ".oompa/runs")
  if (!fs.existsSync(runs)) return []
  return fs.readdirSync(runs).flatMap((run) => {
    const dir = path.join(runs, run, "agents")
    if (!fs.existsSync(dir)) return []
    return fs.readdirSync(dir).flatMap((file) => {
      try {
        const record = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { pid: number; pgid: number; orchestratorPid: number }
        return [{ pid: record.pid, pgid: record.pgid, orchestratorPid: record.orchestratorPid, run }]
      } catch {
        // A record being written or removed right now.
        return []
      }
    })
  })
}

/** Every agent process the fakes logged (calls.jsonl), recorded or not. */
export const calledPids = (scratch: Scratch): Array<number> => fakeCalls(scratch).map((c) => c.pid)

/** Mulberry32: a small seeded PRNG, so a failing trial's kill moment can be replayed from its seed. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms))

/** Waits until every pid is dead (or a zombie), at most `timeoutMs`; returns those still alive. */
export const waitDead = async (pids: ReadonlyArray<number>, timeoutMs: number): Promise<Array<number>> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const alive = pids.filter(isAlive)
    if (alive.length === 0 || Date.now() > deadline) return alive
    await sleep(25)
  }
}

/**
 * The git commands oompa process `orchestratorPid` started that are still running (they carry its
 * `OOMPA_ORCHESTRATOR_PID`; Linux /proc). A kill of oompa alone leaves them finishing as orphans.
 */
export const gitCommandsOf = (orchestratorPid: number): Array<number> => {
  const marker = `OOMPA_ORCHESTRATOR_PID=${orchestratorPid}`
  return fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    try {
      const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? ""
      return /(^|\/)git$/.test(argv0) && fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(marker)
    } catch {
      return false // gone, or not ours
    }
  })
}

/** `git fsck` of the repository: its exit code and what it printed (dangling objects are not errors). */
export const fsck = (repo: string): { readonly ok: boolean; readonly output: string } => {
  try {
    const output = git(repo, "fsck", "--no-dangling", "--no-progress", "--strict")
    return { ok: true, output }
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` || e.message }
  }
}

/** How many merge commits on main's first-parent chain carry `Oompa-Task: <id>`, by id. */
export const landedTasks = (repo: string, branch = "main"): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const message of git(repo, "log", "--first-parent", "--format=%B%x00", branch).split("\0")) {
    const id = /^Oompa-Task: (\S+)$/m.exec(message)?.[1]
    if (id !== undefined && id !== "none") counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  return counts
}

/** The user's checkout: on `branch`, at its tip, nothing modified or staged outside the task queue. */
export const checkoutState = (repo: string, branch = "main") => ({
  head: git(repo, "symbolic-ref", "--quiet", "HEAD"),
  atTip: git(repo, "rev-parse", "HEAD") === git(repo, "rev-parse", branch),
  status: git(repo, "status", "--porcelain", "--", ".", ":!tasks")
})

export interface MeasuredRun {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
  /** Peak resident set of the oompa process, in bytes (`process.resourceUsage().maxRSS` at exit). */
  readonly maxRssBytes: number
  /** Peak resident set of its spawning helper (which carries the agents' output), in bytes; 0 when none ran. */
  readonly helperMaxRssBytes: number
}

const rssProbe = path.join(import.meta.dirname, "fixtures/report-max-rss.mjs")
const installedBin = path.join(workspaceRoot, "packages/cli/bin/oompa.mjs")

/**
 * Runs `oompa args…` through its bin, as a shell does (Node gets the options the bin gives the
 * command), with a preload that writes the process's peak RSS when it exits (only the oompa process
 * loads it: it takes itself out of the environment agents inherit).
 */
export const oompaMeasured = (scratch: Scratch, args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>> = {}, timeoutMs = 120_000): Promise<MeasuredRun> => {
  const report = path.join(scratch.root, `max-rss-${Date.now()}-${Math.random().toString(16).slice(2)}.json`)
  const started = Date.now()
  ensureBundle()
  // The bin, as a user's shell runs it: Node starts with the options the bin gives the command.
  const child = spawn(installedBin, args, {
    cwd: scratch.repo,
    env: environment(scratch, { ...env, NODE_OPTIONS: `--import "${rssProbe}"`, OOMPA_TEST_MAX_RSS_FILE: report }),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
  return new Promise((done) =>
    child.on("close", (status, signal) => {
      clearTimeout(timer)
      const measured = fs.existsSync(report)
        ? JSON.parse(fs.readFileSync(report, "utf8")) as { maxRssBytes: number; helperMaxRssBytes: number }
        : { maxRssBytes: -1, helperMaxRssBytes: -1 }
      done({ status, signal, stdout, stderr, ms: Date.now() - started, ...measured })
    }))
}

/** An event of a run's log, as the end-to-end tests read it (untyped beyond its tag). */
export interface LoggedEvent {
  readonly _tag: string
  readonly [key: string]: unknown
}

/** Every event of every run's events.jsonl (`.oompa/runs/<id>/events.jsonl`), a torn last line skipped. */
export const loggedEvents = (scratch: Scratch): Array<LoggedEvent> =>
  runIds(scratch).flatMap((id) => {
    const file = path.join(scratch.repo, ".oompa/runs", id, "events.jsonl")
    if (!fs.existsSync(file)) return []
    return fs.readFileSync(file, "utf8").split("\n").slice(0, -1).map((line) => JSON.parse(line) as LoggedEvent)
  })
