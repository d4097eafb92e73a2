/**
 * The speculative merge queue (issue 19): what `merge.speculation` k buys, in the simulator and in
 * a real swarm.
 *
 * 1. Simulator (`MergeCapacity.measure`, simulated time, fast): for a share p of failing trees and
 *    depth k, candidates decided (landed or ejected) and landed per test time, 400 changes, next to
 *    the pipeline's formula (1 − (1 − p)^k) / p at p and at the fail share the run really saw.
 *    Goal: decided ≥ 0.95 × formula(observed p).
 * 2. Real swarm (`runSwarm`, the same layers as `oompa swarm`): a scratch repository, 40 tasks in
 *    the folder queue, 8 workers, fake agents through the `command` harness (a shell script: the
 *    proposer adds one new file, the reviewer approves; 100 ms a call). The test command sleeps 2 s
 *    and fails for the trees whose id starts with a byte below 26 (26/256 ≈ 10%): decided by the
 *    tree alone, so a candidate's verdict depends on what it was merged onto. A failed test goes
 *    back to its agent as fix feedback; the fix adds another file, a new tree, which usually
 *    passes. Run with k = 1 and k = 4, each on a fresh repository: the time until all 40 tasks are
 *    in complete/ or failed/, merges per minute, and their ratio, goal ≥ 3x (the formula's ceiling
 *    at p = 0.1 is 3.44x).
 *    Correctness, checked after each run (exit 1 if broken): every commit on main's first-parent
 *    chain since the start passes the gate's rule (recomputed with git from its tree), and no
 *    `.test-gate*` worktree is left.
 *
 * A missed speed goal is printed (MISSED) and does not fail the run.
 *
 * Run: `npm run bench`, or `node --conditions=@oompa/source bench/src/speculation.bench.ts`.
 */
import { runSwarm } from "@oompa/adapters-node"
import type { Event } from "@oompa/core"
import { MergeCapacity } from "@oompa/core/simulation"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { gitEnvironment } from "./fixtures.ts"

const simulated = { failShares: [0.05, 0.1, 0.3], depths: [1, 2, 4, 8], changes: 400, goal: 0.95 }
const real = { tasks: 40, workers: 8, testSeconds: 2, callMs: 100, depths: [1, 4] as const, goalRatio: 3 }
/** A tree fails the gate when its id's first byte is below this: 26/256 ≈ 10.2%. */
const redBelow = 26

let broken = false
const fmt = (x: number, digits = 2) => x.toFixed(digits)
const pad = (s: string, n: number) => s.padStart(n)

// ---- 1. Simulator ---------------------------------------------------------------------------------

console.log(`speculation, simulator: ${simulated.changes} approved changes, every test the same time; ` +
  `formula = (1 − (1 − p)^k) / p; goal decided ≥ ${simulated.goal} × formula(observed p)`)
console.log(["p", "k", "decided/test", "landed/test", "formula(p)", "observed p", "formula(obs)", "ratio", "goal"]
  .map((h, i) => pad(h, [5, 3, 13, 12, 11, 11, 13, 7, 7][i]!)).join(" "))
for (const p of simulated.failShares) {
  for (const k of simulated.depths) {
    const c = MergeCapacity.measure({ failShare: p, speculation: k, changes: simulated.changes })
    const atP = MergeCapacity.expectedDecidedPerTest(p, k)
    const atObserved = MergeCapacity.expectedDecidedPerTest(c.observedFailShare, k)
    const ratio = c.decidedPerTest / atObserved
    console.log([
      pad(fmt(p), 5),
      pad(String(k), 3),
      pad(fmt(c.decidedPerTest, 3), 13),
      pad(fmt(c.landedPerTest, 3), 12),
      pad(fmt(atP, 3), 11),
      pad(fmt(c.observedFailShare, 3), 11),
      pad(fmt(atObserved, 3), 13),
      pad(fmt(ratio, 3), 7),
      pad(ratio >= simulated.goal ? "ok" : "MISSED", 7)
    ].join(" "))
  }
}

// ---- 2. Real swarm --------------------------------------------------------------------------------

Object.assign(process.env, gitEnvironment)

const scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-speculation-")))
const git = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, encoding: "utf8" })

/**
 * The agent: the proposer (and its fixes) adds one new file, uniquely named so that no two changes
 * conflict; the reviewer approves.
 */
const agentScript = path.join(scratch, "agent.sh")
fs.writeFileSync(agentScript, `#!/bin/sh
prompt=$(cat)
sleep ${real.callMs / 1000}
case "$prompt" in
  *"VERDICT: APPROVED"*) echo "Looks right."; echo "VERDICT: APPROVED" ;;
  *) n="$$-$(date +%s%N)"; mkdir -p src && echo "work $n" > "src/work-$n.txt" && echo "Added src/work-$n.txt." ;;
esac
`, { mode: 0o755 })

/** The gate: 2 s, then red for the trees whose first byte is below \`redBelow\`; nothing else counts. */
const testCommand = `sleep ${real.testSeconds}; t=$(git rev-parse 'HEAD^{tree}') || exit 2; ` +
  `if [ $((0x$(printf %s "$t" | cut -c1-2))) -lt ${redBelow} ]; then echo "red tree $t"; exit 1; fi; echo "green tree $t"`
const isRed = (tree: string) => parseInt(tree.slice(0, 2), 16) < redBelow

/** A small repository with `tasks` pending tasks; returns it and its first commit. */
const repository = (name: string, tasks: number) => {
  const repo = path.join(scratch, name)
  fs.mkdirSync(path.join(repo, "lib"), { recursive: true })
  git(repo, "init", "-q", "-b", "main")
  for (let f = 0; f < 20; f++) fs.writeFileSync(path.join(repo, "lib", `f${f}.ts`), `export const v${f} = ${f}\n`)
  fs.writeFileSync(path.join(repo, ".gitignore"), ".oompa/\n")
  git(repo, "add", "-A")
  git(repo, "commit", "-qm", "initial")
  const pending = path.join(repo, "tasks", "pending")
  fs.mkdirSync(pending, { recursive: true })
  for (let i = 0; i < tasks; i++) {
    const id = `task-${String(i).padStart(4, "0")}`
    fs.writeFileSync(path.join(pending, `${id}.json`), JSON.stringify({ id, summary: `Task ${i}` }))
  }
  return { repo, start: git(repo, "rev-parse", "HEAD").trim() }
}

interface Measured {
  readonly speculation: number
  readonly repo: string
  readonly start: string
  /** Until every task is in complete/ or failed/. */
  readonly seconds: number
  /** The whole `runSwarm`, its end (worktrees and gates removed) included. */
  readonly runSeconds: number
  readonly merged: number
  readonly failedTasks: number
  readonly tests: number
  readonly testsFailed: number
  readonly testMs: number
  readonly ejected: number
  readonly rebuilds: number
  readonly conflicts: number
  readonly behindAtLanding: number
  readonly firstMergeSeconds: number
}

let runs = 0
const swarm = async (speculation: number, tasks: number, test: string): Promise<Measured> => {
  const { repo, start } = repository(`repo-${runs}`, tasks)
  const worktrees = path.join(scratch, `worktrees-${runs++}`)
  const configJson = {
    workers: [{ model: "command:bench", role: "executor", count: real.workers, iterations: tasks * 2 }],
    review_model: "command:bench",
    harnesses: { command: { command: agentScript } },
    max_wait_for_tasks: 0,
    merge: { speculation },
    test_command: test,
    max_review_attempts: 20,
    max_task_attempts: 10,
    worktrees_dir: worktrees
  }
  const ended = new Set<string>()
  let failedTasks = 0
  let doneAt: number | undefined
  let firstMergeAt: number | undefined
  let tests = 0, testsFailed = 0, testMs = 0, ejected = 0, rebuilds = 0, conflicts = 0, behind = 0, merges = 0
  const onEvent = (event: Event.Event) => {
    switch (event._tag) {
      case "TaskMoved":
        if ((event.to === "complete" || event.to === "failed") && !ended.has(event.task)) {
          ended.add(event.task)
          if (event.to === "failed") failedTasks++
          if (ended.size === tasks) doneAt = performance.now()
        }
        break
      case "TestResult":
        tests++
        testMs += event.durationMs
        if (!event.passed) testsFailed++
        break
      case "CandidateEjected":
        if (event.reason === "test-failed") ejected++
        break
      case "CandidateBuilt":
        if (event.rebuild > 0) rebuilds++
        break
      case "MergeResult":
        if (event.outcome === "conflict") conflicts++
        if (event.outcome === "merged") {
          merges++
          behind += event.behind ?? 0
          firstMergeAt ??= performance.now()
        }
        break
    }
  }
  const started = performance.now()
  const result = await runSwarm({ cwd: repo, configJson, onEvent })
  const finished = performance.now()
  if (doneAt === undefined) {
    throw new Error(`speculation ${speculation}: only ${ended.size} of ${tasks} tasks ended (run log ${result.eventsPath})`)
  }
  return {
    speculation,
    repo,
    start,
    seconds: (doneAt - started) / 1000,
    runSeconds: (finished - started) / 1000,
    merged: result.report.merged,
    failedTasks,
    tests,
    testsFailed,
    testMs,
    ejected,
    rebuilds,
    conflicts,
    behindAtLanding: merges === 0 ? 0 : behind / merges,
    firstMergeSeconds: firstMergeAt === undefined ? NaN : (firstMergeAt - started) / 1000
  }
}

/** Every commit on main's first-parent chain since `start` must pass the gate; returns how many there are. */
const checkMain = (m: Measured): number => {
  const chain = git(m.repo, "log", "--first-parent", "--format=%H %T", `${m.start}..main`).trim().split("\n").filter(Boolean)
  const red = chain.map((line) => line.split(" ")).filter(([, tree]) => isRed(tree!))
  for (const [commit, tree] of red) console.error(`  BROKEN: main holds ${commit}, whose tree ${tree} fails the gate`)
  if (red.length > 0) broken = true
  if (chain.length !== m.merged) {
    console.error(`  BROKEN: main gained ${chain.length} commits for ${m.merged} merges`)
    broken = true
  }
  console.log(`  k=${m.speculation}: ${chain.length} commits on main's first-parent chain since the start, ` +
    `${chain.length - red.length} pass the gate${red.length > 0 ? `, ${red.length} DO NOT` : ""}`)
  return chain.length
}

/** No gate worktree may outlive its run. */
const checkGates = (m: Measured, worktreesDir: string) => {
  const listed = git(m.repo, "worktree", "list", "--porcelain").split("\n")
    .filter((line) => line.startsWith("worktree ") && path.basename(line.slice(9)).startsWith(".test-gate"))
  const onDisk = fs.existsSync(worktreesDir) ? fs.readdirSync(worktreesDir).filter((name) => name.startsWith(".test-gate")) : []
  if (listed.length + onDisk.length > 0) {
    console.error(`  BROKEN: k=${m.speculation} left gates behind: ${[...listed, ...onDisk.map((n) => path.join(worktreesDir, n))].join(", ")}`)
    broken = true
  } else {
    console.log(`  k=${m.speculation}: no .test-gate worktree left (git worktree list, ${path.basename(worktreesDir)}/)`)
  }
}

try {
  // Warm-up: module loading and the JIT are not the queue's time.
  await swarm(1, 2, "true")
  console.log(`\nspeculation, real swarm: ${real.tasks} tasks, ${real.workers} workers, agents ${real.callMs} ms a call, ` +
    `test ${real.testSeconds} s failing for trees below ${redBelow}/256 (${fmt(redBelow / 256 * 100, 1)}%)`)
  const measured: Array<Measured> = []
  for (const k of real.depths) {
    const worktreesDir = path.join(scratch, `worktrees-${runs}`)
    const m = await swarm(k, real.tasks, testCommand)
    measured.push(m)
    const perMinute = m.merged / m.seconds * 60
    const decided = m.merged + m.ejected
    console.log(`k=${k}: ${m.merged} merges (${m.failedTasks} tasks failed) in ${fmt(m.seconds, 1)} s ` +
      `(run ${fmt(m.runSeconds, 1)} s, first merge at ${fmt(m.firstMergeSeconds, 1)} s): ${fmt(perMinute, 1)} merges/min; ` +
      `${m.tests} tests (${m.testsFailed} red, ${m.rebuilds} rebuilt candidates), ${m.ejected} ejected for a red test ` +
      `(fail share ${fmt(decided === 0 ? 0 : m.ejected / decided, 3)}), ${m.conflicts} conflicts; ` +
      `tests running on average ${fmt(m.testMs / 1000 / m.seconds)} (finished ones; interrupted ones not counted), ` +
      `candidates behind a landing on average ${fmt(m.behindAtLanding)}`)
    checkMain(m)
    checkGates(m, worktreesDir)
  }
  const [one, four] = [measured[0]!, measured[1]!]
  const rate = (m: Measured) => m.merged / m.seconds
  const ratio = rate(four) / rate(one)
  const p = (four.ejected + one.ejected) / (four.merged + four.ejected + one.merged + one.ejected)
  console.log(`speculation: k=4 / k=1 merges/min ${fmt(ratio)}x (goal ≥ ${real.goalRatio}x: ${ratio >= real.goalRatio ? "ok" : "MISSED"}; ` +
    `the formula's ceiling at the observed fail share ${fmt(p, 3)}: ${fmt(MergeCapacity.expectedDecidedPerTest(p, 4))}x); ` +
    `${fmt(rate(one) * 60, 1)} → ${fmt(rate(four) * 60, 1)} merges/min, ${fmt(one.seconds, 1)} s → ${fmt(four.seconds, 1)} s`)
  if (broken) console.error("speculation bench: BROKEN (a red commit on main, or a gate left behind)")
  process.exitCode = broken ? 1 : 0
} finally {
  fs.rmSync(scratch, { recursive: true, force: true })
}
