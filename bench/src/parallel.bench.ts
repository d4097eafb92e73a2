/**
 * What oompa's own work costs a real swarm: the speed-up of N workers over one, oompa's CPU per
 * iteration, and the git processes it starts per iteration (issue 17).
 *
 * A real run on a real repository, in this process through the library entry (`runSwarm`, the same
 * layers as `oompa swarm`): the task folder queue, git worktrees, the review loop, the policy gate,
 * the merge queue landing on `main` with the user's checkout following. The agent is a real process
 * through the `command` harness: a shell script that takes 300 ms per call (sleeping, not
 * computing), writes one new file as the proposer, approves as the reviewer. So an iteration is
 * 600 ms of agent time, and everything beyond that is oompa's.
 *
 * - speed-up at N = N · time(1 worker, K tasks) / time(N workers, N·K tasks); goal ≥ 0.8·N up to 16
 *   (2 cores: the agents sleep, oompa's work must not queue up behind itself);
 * - oompa's CPU per iteration: this process's CPU time (user + system, children excluded), its
 *   spawning helper's (the child process that starts the agents), over the 16-worker run, divided
 *   by its iterations, plus the shell that starts git (its cost per call measured in the same run,
 *   times the git processes of an iteration); goal ≤ 30 ms. The whole machine's busy time per
 *   iteration says what two cores allow at all;
 * - git processes per iteration: a second run with a counting `git` first on PATH (a shell script
 *   that logs its arguments and runs the real git), not timed; goal ≤ 8 on the common path.
 *
 * - the CLI's peak RSS at 64 workers, and with one agent printing 100 MB (full mode only): `oompa swarm` from the built bundle, one task
 *   per worker, its peak resident set read at exit; goal ≤ 120 MB.
 *
 * Run: `npm run bench`, or `node --conditions=@oompa/source bench/src/parallel.bench.ts [--quick]`.
 * `--quick` (CI): 1 and 8 workers, fewer tasks; exits 1 on a regression of more than 2x from the
 * figures measured when it was written (`quickFloors`): ratios and counts only, never a time.
 */
import { runSwarm } from "@oompa/adapters-node"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ShellSpawner from "../../packages/adapters-node/src/internal/shellSpawner.ts"
import { fixedLatencyAgent, gitEnvironment } from "./fixtures.ts"

const quick = process.argv.includes("--quick")
const only = process.argv.indexOf("--workers")
const workerCounts = only > 0 ? [1, Number(process.argv[only + 1])] : quick ? [1, 8] : [1, 2, 4, 8, 16]
const tasksPerWorker = quick ? 3 : 8
const callMs = 300
const goals = { speedUpShare: 0.8, cpuMsPerIteration: 30, gitPerIteration: 8 }
// Half the speed-up at 8 workers (3.0x) and twice the git processes per iteration of the quick run
// (12.8, start and end included) measured on 2026-12-03 (issue 17).
const quickFloors = { speedUpAt8: 1.5, gitPerIteration: 26 }

Object.assign(process.env, gitEnvironment)

const scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-parallel-")))
const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim()

/** The agent: 300 ms per call; the proposer adds a file named by its process id, the reviewer approves. */
const agentScript = fixedLatencyAgent(scratch, callMs)

/** A `git` that appends its subcommand to a log, then runs the real one. */
const shimDir = path.join(scratch, "shim")
const gitLog = path.join(scratch, "git-calls.log")
fs.mkdirSync(shimDir)
fs.writeFileSync(path.join(shimDir, "git"), `#!/bin/sh
sub="$1"; for a in "$@"; do case "$a" in -*|*=*) ;; *) sub="$a"; break ;; esac; done
printf "%s\\n" "$sub" >> '${gitLog}'
exec '${realGit}' "$@"
`, { mode: 0o755 })

const git = (cwd: string, ...args: Array<string>) => execFileSync(realGit, args, { cwd, encoding: "utf8" })

/** A 500-file repository with `tasks` pending tasks. */
const repository = (name: string, tasks: number): string => {
  const repo = path.join(scratch, name)
  fs.mkdirSync(repo)
  git(repo, "init", "-q", "-b", "main")
  for (let d = 0; d < 10; d++) {
    fs.mkdirSync(path.join(repo, "lib", `d${d}`), { recursive: true })
    for (let f = 0; f < 50; f++) fs.writeFileSync(path.join(repo, "lib", `d${d}`, `f${f}.ts`), `export const v${d}_${f} = ${f}\n`)
  }
  fs.writeFileSync(path.join(repo, ".gitignore"), ".oompa/\n")
  git(repo, "add", "-A")
  git(repo, "commit", "-qm", "initial")
  const pending = path.join(repo, "tasks", "pending")
  fs.mkdirSync(pending, { recursive: true })
  for (let i = 0; i < tasks; i++) {
    const id = `task-${String(i).padStart(4, "0")}`
    fs.writeFileSync(path.join(pending, `${id}.json`), JSON.stringify({ id, summary: `Task ${i}` }))
  }
  return repo
}

/** The pid of oompa's spawning helper (a child process that starts the agents for it), if one runs. */
const helperPid = (): number | undefined => {
  for (const task of fs.readdirSync("/proc/self/task")) {
    for (const pid of fs.readFileSync(`/proc/self/task/${task}/children`, "utf8").trim().split(" ").filter(Boolean)) {
      try {
        if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("oompa's spawning helper")) return Number(pid)
      } catch {
        // gone meanwhile
      }
    }
  }
  return undefined
}

/** The helper's own CPU time (user + system) in ms, part of oompa's cost. */
const helperCpuMs = (): { readonly own: number } => {
  const pid = helperPid()
  if (pid === undefined) return { own: 0 }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const ms = (field: number) => Number(fields[field]) * 1000 / clockTicks
  return { own: ms(11) + ms(12) }
}
const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())

/** The machine's busy time so far, every core (user, nice, system, irq, softirq; not steal), in ms. */
const machineBusyMs = (): number => {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  return [0, 1, 2, 5, 6].reduce((sum, i) => sum + fields[i]!, 0) * 1000 / clockTicks
}

/**
 * What the shell that starts git (`internal/shellSpawner.ts`) costs the machine per call, the
 * command included: `/bin/true` run `calls` times through it under the environment git gets
 * (oompa's own process apart, counted with the rest of its CPU). Its subshells are reaped by the
 * shell, so only the machine's busy time sees them. Counting `/bin/true`'s own start (what any
 * spawner pays) as oompa's overstates oompa, never the reverse.
 */
const shellCostPerCallMs = async (calls: number): Promise<number> => {
  const env = { ...process.env as Record<string, string> }
  const once = () => new Promise<void>((done, fail) => {
    const started = ShellSpawner.run({ command: "true", args: ["-c", "gc.auto=0", "-c", "core.hooksPath=/dev/null"], cwd: scratch, env }, (result) => result._tag === "Exited" ? done() : fail(new Error(result._tag === "NotStarted" ? result.message : "")))
    if (started === undefined) fail(new Error("the shell spawner did not take /bin/true"))
  })
  for (let i = 0; i < 20; i++) await once()
  const before = machineBusyMs()
  const cpu = process.cpuUsage()
  for (let i = 0; i < calls; i++) await once()
  const used = process.cpuUsage(cpu)
  return Math.max(0, (machineBusyMs() - before - (used.user + used.system) / 1000) / calls)
}

interface Measured {
  readonly workers: number
  readonly seconds: number
  readonly iterations: number
  readonly merged: number
  /** This process's CPU and its spawning helper's (which starts the agents). */
  readonly cpuMs: number
  /** The whole machine's busy time over the run (`/proc/stat`; run the bench on an otherwise idle machine). */
  readonly machineMs: number
}

let runs = 0
const swarm = async (workers: number): Promise<Measured> => {
  const repo = repository(`repo-${runs++}`, workers * tasksPerWorker)
  const configJson = {
    workers: [{ model: "command:bench", role: "executor", count: workers, iterations: tasksPerWorker * 4 }],
    review_model: "command:bench",
    harnesses: { command: { command: agentScript } },
    max_wait_for_tasks: 0
  }
  const cpu = process.cpuUsage()
  const helperBefore = helperCpuMs()
  const machineBefore = machineBusyMs()
  const started = performance.now()
  const result = await runSwarm({ cwd: repo, configJson })
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  const machineMs = machineBusyMs() - machineBefore
  const helperAfter = helperCpuMs()
  const iterations = result.report.workers.reduce((sum, w) => sum + w.iterations.length, 0)
  if (result.report.merged !== workers * tasksPerWorker) {
    throw new Error(`${workers} workers: expected ${workers * tasksPerWorker} merges, got ${result.report.merged} (run log ${result.eventsPath})`)
  }
  return {
    workers,
    seconds,
    iterations,
    merged: result.report.merged,
    cpuMs: (used.user + used.system) / 1000 + helperAfter.own - helperBefore.own,
    machineMs
  }
}

try {
  // Warm-up: module loading and the JIT are start-up, not per-iteration work.
  await swarm(2)
  const measured: Array<Measured> = []
  for (const workers of workerCounts) measured.push(await swarm(workers))
  const one = measured[0]!
  const perMerge = (m: Measured) => m.seconds / m.merged
  let failed = false
  for (const m of measured) {
    const speedUp = perMerge(one) / perMerge(m)
    const goal = goals.speedUpShare * m.workers
    const line = `parallel: ${String(m.workers).padStart(2)} workers, ${m.merged} merges in ${m.seconds.toFixed(2)} s: ` +
      `speed-up ${speedUp.toFixed(2)}x (goal ≥ ${goal.toFixed(1)}x: ${speedUp >= goal ? "met" : "NOT met"}); ` +
      `oompa CPU ${(m.cpuMs / m.iterations).toFixed(1)} ms per iteration`
    console.log(line)
    if (quick && m.workers === 8 && speedUp < quickFloors.speedUpAt8) failed = true
  }
  // The git processes of a run with the counting shim first on PATH.
  fs.rmSync(gitLog, { force: true })
  const path_ = process.env["PATH"]
  process.env["PATH"] = `${shimDir}:${path_}`
  const counted = await swarm(2).finally(() => (process.env["PATH"] = path_))
  const calls = fs.readFileSync(gitLog, "utf8").trim().split("\n")
  const bySubcommand = new Map<string, number>()
  for (const sub of calls) bySubcommand.set(sub, (bySubcommand.get(sub) ?? 0) + 1)
  const perIteration = calls.length / counted.iterations
  console.log(`git processes: ${calls.length} for ${counted.iterations} iterations of 2 workers (start and end included): ` +
    `${perIteration.toFixed(1)} per iteration (goal ≤ ${goals.gitPerIteration}: ${perIteration <= goals.gitPerIteration ? "met" : "NOT met"})`)
  console.log(`  by subcommand, per iteration: ${[...bySubcommand].sort((a, b) => b[1] - a[1])
    .map(([sub, n]) => `${sub} ${(n / counted.iterations).toFixed(2)}`).join(", ")}`)
  if (quick && perIteration > quickFloors.gitPerIteration) failed = true

  const widest = measured[measured.length - 1]!
  // oompa's CPU: this process, the helper, and the shell that starts git (its cost per call, measured
  // here, times the git processes of an iteration: its subshells are reaped by it, not seen above).
  const shellPerCall = await shellCostPerCallMs(quick ? 200 : 500)
  const cpuPerIteration = widest.cpuMs / widest.iterations + shellPerCall * perIteration
  // What two cores allow at all: the machine's busy time per iteration (oompa, git, the agents'
  // shells) caps merges per second at cores / CPU; over one worker's merges per second, the best speed-up.
  const allCpu = widest.machineMs / widest.iterations
  const cores = os.availableParallelism()
  const ceiling = perMerge(one) * 1000 * cores / allCpu
  console.log(`CPU per iteration at ${widest.workers} workers, the whole machine: ${allCpu.toFixed(1)} ms (oompa ${cpuPerIteration.toFixed(1)}, ` +
    `git and the agents' processes ${(allCpu - cpuPerIteration).toFixed(1)}): on ${cores} cores no speed-up past ` +
    `${ceiling.toFixed(1)}x (${(cores * 1000 / allCpu).toFixed(1)} iterations a second, one worker does ${(1 / perMerge(one)).toFixed(2)})`)
  console.log(`oompa CPU per iteration at ${widest.workers} workers: ${cpuPerIteration.toFixed(1)} ms (this process and its helper ` +
    `${(widest.cpuMs / widest.iterations).toFixed(1)}, the shell starting git ${shellPerCall.toFixed(2)} ms a call, the started /bin/true included) ` +
    `(goal ≤ ${goals.cpuMsPerIteration} ms: ${cpuPerIteration <= goals.cpuMsPerIteration ? "met" : "NOT met"}; ` +
    `ratio to the agent time of an iteration ${(cpuPerIteration / (2 * callMs)).toFixed(3)})`)
  {
    // One worker: every landing finds main where its iteration started (no merge-tree, no second
    // policy diff). The run's start (up to the first reset) and end (removing the worktree) apart.
    fs.rmSync(gitLog, { force: true })
    process.env["PATH"] = `${shimDir}:${path_}`
    const alone = await swarm(1).finally(() => (process.env["PATH"] = path_))
    const log = fs.readFileSync(gitLog, "utf8").trim().split("\n")
    const first = log.indexOf("checkout")
    const last = log.lastIndexOf("read-tree")
    const steady = log.slice(first, last + 1)
    console.log(`git processes, one worker (main never moved under an iteration): ${(steady.length / alone.iterations).toFixed(1)} per iteration ` +
      `without the run's start (${first}: ${log.slice(0, first).join(", ")}) and end (${log.length - last - 1}: ${log.slice(last + 1).join(", ")}); ` +
      `an iteration: ${steady.slice(0, steady.indexOf("read-tree") + 1).join(", ")}`)
  }
  if (!quick) {
    // The CLI as users run it (the bin, executed as a shell runs it: it starts Node with the
    // options it chooses; the bundle, not these sources): its peak RSS with 64 workers, then with
    // one worker whose agent prints 100 MB before its answer.
    const bin = path.resolve(import.meta.dirname, "../../packages/cli/bin/oompa.mjs")
    const probe = path.resolve(import.meta.dirname, "../../test/reliability/fixtures/report-max-rss.mjs")
    const peakRss = (name: string, workers: number, tasks: number, agent: string) => {
      const repo = repository(name, tasks)
      fs.writeFileSync(path.join(repo, "oompa.json"), JSON.stringify({
        workers: [{ model: "command:bench", role: "executor", count: workers, iterations: 2 }],
        review_model: "command:bench",
        harnesses: { command: { command: agent } },
        max_wait_for_tasks: 0
      }))
      const report = path.join(scratch, `max-rss-${name}.json`)
      const run = spawnSync(bin, ["swarm"], {
        cwd: repo,
        env: { ...process.env, NODE_OPTIONS: `--import "${probe}"`, PATH: `${path.dirname(process.execPath)}:${process.env["PATH"] ?? ""}`, OOMPA_TEST_MAX_RSS_FILE: report, HOME: scratch },
        encoding: "utf8"
      })
      if (run.status !== 0) throw new Error(`oompa swarm (${name}) exited ${run.status}:\n${run.stderr.slice(-2000)}`)
      const peaks = JSON.parse(fs.readFileSync(report, "utf8")) as { maxRssBytes: number; helperMaxRssBytes: number }
      const megabytes = peaks.maxRssBytes / 1e6
      return `peak RSS ${megabytes.toFixed(0)} MB (goal ≤ 120 MB: ${megabytes <= 120 ? "met" : "NOT met"}); its spawning helper ${(peaks.helperMaxRssBytes / 1e6).toFixed(0)} MB more`
    }
    console.log(`oompa swarm, 64 workers (the bin, as a shell runs it): ${peakRss("repo-rss", 64, 64, agentScript)}`)
    const flooding = path.join(scratch, "flooding-agent.sh")
    fs.writeFileSync(flooding, `#!/bin/sh
# Proposals print 100 MB of filler lines first (read and capped by oompa), then do the fixed-latency agent's work.
prompt=$(cat)
case "$prompt" in *"VERDICT: APPROVED"*) ;; *) yes "filler line of an agent that prints too much" | head -c 104857600 ;; esac
printf "%s" "$prompt" | '${agentScript}'
`, { mode: 0o755 })
    console.log(`oompa swarm, one worker whose agent prints 100 MB (the bin): ${peakRss("repo-rss-flood", 1, 1, flooding)}`)
  }
  if (quick) {
    console.log(failed
      ? `quick parallel bench: REGRESSION (speed-up at 8 under ${quickFloors.speedUpAt8}x or more than ${quickFloors.gitPerIteration} git processes an iteration)`
      : "quick parallel bench: no regression of more than 2x")
  }
  process.exitCode = failed ? 1 : 0
} finally {
  fs.rmSync(scratch, { recursive: true, force: true })
}
