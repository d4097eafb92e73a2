/**
 * Crash safety end to end (SPEC F14, issue 8 "What must be shown"): a swarm of three executors over
 * six tasks, with slow fake agents, is killed with `kill -9` — SIGKILL to the oompa process only, so
 * its agents live on as orphans — at a random moment; then `oompa cleanup` and a second `oompa swarm`
 * (or the second swarm alone, whose start runs the same repair) must finish every task exactly once.
 *
 * After each kill, once the git commands the dead run left running have finished: `git fsck` is clean, main's first-parent chain holds only whole merges, and
 * `oompa status` says the run died (not "running"). After
 * the repair: no claim in `current/`, `complete/` is exactly the set of tasks main's trailers say
 * landed, no agent process of the dead run is alive (pids from the process-group records AND from
 * the fakes' own call log, so an agent the records missed is caught too), and the user's clean
 * checkout is clean and at main. After the second swarm: each task's `Oompa-Task` trailer exactly
 * once on main's first-parent chain, every task in `complete/`, nothing left behind.
 *
 * The moment of the kill: right after the k-th event of the run log (k drawn uniformly over the
 * events a run without a kill writes) plus 0–40 ms, so kills land in every phase — claim, agent,
 * commit, review, fix, merge, checkout sync, task move. The seeds are random per run (trial i uses
 * base + i); a failing trial prints its seed and the command that replays its kill moment,
 * `OOMPA_CRASH_SEED=<base>` (the timing of the processes around the kill is the machine's).
 * `npm test` runs 4 trials; `OOMPA_LONG=1` (npm run test:long) runs 24.
 *
 * Two moments a random kill rarely hits get a test of their own: the instant an agent has started,
 * before `NodeAgent` has written its process-group record, and the test gate (whose command has no
 * record). Both left processes running after cleanup before `ProcessOwner` marked them.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, git, leftovers, oompa, oompaAsync, runIds, type Scratch, scratchRepo, show, tasksIn } from "../cli/helpers.ts"
import { calledPids, checkoutState, fsck, gitCommandsOf, isAlive, landedTasks, prng, recordedAgents, sleep, waitDead } from "./support.ts"

afterAll(cleanupAll)

const long = (process.env["OOMPA_LONG"] ?? "") !== ""
const trials = long ? 24 : 4
const baseSeed = process.env["OOMPA_CRASH_SEED"] !== undefined && process.env["OOMPA_CRASH_SEED"] !== ""
  ? Number(process.env["OOMPA_CRASH_SEED"])
  : Math.floor(Math.random() * 2 ** 31)

const taskIds = ["t1", "t2", "t3", "t4", "t5", "t6"]
const config = {
  workers: [{ model: "claude:opus", role: "executor", count: 3, iterations: 10 }],
  review_model: "codex:gpt-5-codex"
}
// Proposals take 1.5 s, so the orphans of a kill are still running when cleanup looks for them;
// two tasks go through a fix round, so kills also land in fix and re-review.
const env = { E2E_DELAY_MS: "1500", E2E_FIX_ONCE: "t2,t5" }

// Odd trials land with ff, whose landings once were the agent's own commits (no trailers: a kill
// between merge and bookkeeping merged a task twice, issue 15); even trials with no-ff.
const newScratch = (strategy: "no-ff" | "ff" = "no-ff") =>
  scratchRepo({ config: { ...config, merge: { strategy } }, pending: taskIds.map((id) => ({ id, summary: `Write src/${id}.txt` })) })

/** Complete lines of the (only) run's events.jsonl so far. */
const eventLines = (scratch: Scratch): Array<string> => {
  const ids = runIds(scratch)
  if (ids.length === 0) return []
  try {
    const text = fs.readFileSync(path.join(scratch.repo, ".oompa/runs", ids[0]!, "events.jsonl"), "utf8")
    return text.split("\n").slice(0, -1)
  } catch {
    return []
  }
}

/** Main's first-parent chain since `initial`: every commit a whole oompa merge (trailers present). */
const assertOnlyWholeMerges = (scratch: Scratch, initial: string, context: string) => {
  const messages = git(scratch.repo, "log", "--first-parent", "--format=%H%n%B%x00", `${initial}..main`).split("\0").map((m) => m.trim()).filter((m) => m !== "")
  for (const message of messages) {
    assert.match(message, /^Oompa-Run: [0-9a-f]{8}$/m, `${context}\na commit on main without oompa's trailers:\n${message}`)
    assert.match(message, /^Oompa-Task: t\d$/m, `${context}\na commit on main without oompa's trailers:\n${message}`)
  }
  assert.strictEqual(git(scratch.repo, "merge-base", "--is-ancestor", initial, "main"), "", context)
}

/** Events a run without a kill writes: the range the kill moment is drawn from (set by the first test). */
let eventsOfFullRun = 0

describe("kill -9 at a random moment, then recovery", () => {
  it("without a kill: the six tasks land once each (the baseline the kill moments are drawn from)", () => {
    const scratch = newScratch()
    const result = oompa(scratch, ["swarm"], { env, timeoutMs: 90_000 })
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), taskIds)
    assert.deepStrictEqual([...landedTasks(scratch.repo).entries()].sort(), taskIds.map((id) => [id, 1]))
    eventsOfFullRun = eventLines(scratch).length
    assert.isAbove(eventsOfFullRun, 40)
    scratch.cleanup()
  }, 90_000)

  for (let trial = 1; trial <= trials; trial++) {
    // Every fourth trial repairs with the second swarm's own start instead of `oompa cleanup`.
    const repairBy = trial % 4 === 0 ? "swarm" : "cleanup"
    it(`trial ${trial}: kill -9 mid-run, ${repairBy === "cleanup" ? "oompa cleanup, then a second swarm" : "a second swarm (its start repairs)"}: every task lands exactly once`, async () => {
      const seed = (baseSeed + trial) >>> 0
      const random = prng(seed)
      const range = eventsOfFullRun > 2 ? eventsOfFullRun : 60
      const killAfter = 1 + Math.floor(random() * (range - 2))
      const jitterMs = Math.floor(random() * 40)
      const strategy = trial % 2 === 1 ? "ff" : "no-ff"
      let context = `seed ${seed} (replay: OOMPA_CRASH_SEED=${baseSeed} npx vitest run test/reliability/crash.test.ts -t "without a kill|trial ${trial}:"), ${strategy}, kill after event ${killAfter} of ${range} + ${jitterMs} ms`

      const scratch = newScratch(strategy)
      const initial = git(scratch.repo, "rev-parse", "main")
      const first = oompaAsync(scratch, ["swarm"], { env })
      let finished = false
      void first.exited.then(() => (finished = true))
      try {
        // Poll the run log until the k-th event is written (or the run ended on its own).
        const deadline = Date.now() + 60_000
        while (!finished && eventLines(scratch).length < killAfter && Date.now() < deadline) await sleep(3)
        await sleep(jitterMs)
        first.child.kill("SIGKILL")
        const exited = await first.exited
        const seen = eventLines(scratch)
        const last = seen.length === 0 ? "none" : (JSON.parse(seen[seen.length - 1]!) as { _tag: string })._tag
        context += `; killed after ${seen.length} events (last: ${last}), ${exited.signal === "SIGKILL" ? "by SIGKILL" : `but it had exited ${exited.status}`}`

        // Once the git commands the dead run left running have finished (milliseconds; fsck beside
        // a `git worktree add` still running sees its null HEAD): the repository is sound and main
        // holds only whole merges.
        const gitStillRunning = await waitDead(gitCommandsOf(first.child.pid!), 5_000)
        assert.deepStrictEqual(gitStillRunning, [], `${context}
git commands of the dead run still running after 5 s`)
        const checked = fsck(scratch.repo)
        assert.isTrue(checked.ok, `${context}\ngit fsck after the kill:\n${checked.output}`)
        assertOnlyWholeMerges(scratch, initial, context)
        // The log explains the dead run (a torn last line is skipped), and says it died.
        const status = oompa(scratch, ["status"])
        assert.strictEqual(status.status, 0, `${context}\n${show(status)}`)
        if (exited.signal === "SIGKILL" && last !== "SwarmFinished") {
          assert.match(status.stdout, /^run [0-9a-f]{8}: died/, `${context}\n${show(status)}`)
          assert.include(status.stdout, "oompa cleanup repairs what it left", context)
        }

        // The dead run's agents: every pid on record and every pid the fakes logged.
        const deadRunPids = [...new Set([...recordedAgents(scratch).map((r) => r.pid), ...calledPids(scratch)])]
        const callsBefore = calledPids(scratch).length

        if (repairBy === "cleanup") {
          const cleanup = oompa(scratch, ["cleanup"])
          assert.strictEqual(cleanup.status, 0, `${context}\n${show(cleanup)}`)
          const alive = await waitDead(deadRunPids, 1_000)
          assert.deepStrictEqual(alive, [], `${context}\nagents of the dead run still alive after cleanup:\n${show(cleanup)}`)
          assert.deepStrictEqual(tasksIn(scratch, "current"), [], `${context}\nclaims left in current/ after cleanup:\n${show(cleanup)}`)
          // Exactly the tasks main says landed are complete; every other one is pending again.
          const landed = [...landedTasks(scratch.repo).keys()].sort()
          assert.deepStrictEqual(tasksIn(scratch, "complete"), landed, `${context}\n${show(cleanup)}`)
          assert.deepStrictEqual(tasksIn(scratch, "pending"), taskIds.filter((id) => !landed.includes(id)), `${context}\n${show(cleanup)}`)
          assert.deepStrictEqual(checkoutState(scratch.repo), { head: "refs/heads/main", atTip: true, status: "" }, `${context}\n${show(cleanup)}`)
          assert.isFalse(fs.existsSync(path.join(scratch.repo, ".oompa/lock")), context)
          // Only branches of approved, unmerged work may stay, each listed with how to merge it.
          for (const branch of git(scratch.repo, "branch", "--list", "--format=%(refname:short)", "oompa/*").split("\n").filter((b) => b !== "")) {
            assert.include(cleanup.stdout, `kept ${branch}: approved work that was never merged`, `${context}\n${show(cleanup)}`)
          }
          assert.strictEqual(leftovers(scratch).worktrees, 1, `${context}\n${git(scratch.repo, "worktree", "list")}`)
          assert.isTrue(fsck(scratch.repo).ok, `${context}\ngit fsck after cleanup:\n${fsck(scratch.repo).output}`)
        }

        const second = oompa(scratch, ["swarm"], { env, timeoutMs: 90_000 })
        assert.strictEqual(second.status, 0, `${context}\n${show(second)}`)
        if (repairBy === "swarm") {
          const alive = await waitDead(deadRunPids, 1_000)
          assert.deepStrictEqual(alive, [], `${context}\nagents of the dead run still alive after the second swarm:\n${show(second)}`)
        }

        // Every task exactly once on main, all complete, nothing left anywhere else.
        const landed = landedTasks(scratch.repo)
        assert.deepStrictEqual([...landed.entries()].sort(), taskIds.map((id) => [id, 1]), `${context}\nOompa-Task trailers on main:\n${show(second)}`)
        assert.deepStrictEqual(tasksIn(scratch, "complete"), taskIds, `${context}\n${show(second)}`)
        for (const folder of ["pending", "current", "failed", "invalid"]) assert.deepStrictEqual(tasksIn(scratch, folder), [], `${context}: ${folder}/`)
        for (const id of taskIds) {
          const expected = `${id}: written by claude${["t2", "t5"].includes(id) ? "\nfixed after review" : ""}`
          assert.strictEqual(git(scratch.repo, "show", `main:src/${id}.txt`), expected, `${context}: src/${id}.txt`)
        }
        assertOnlyWholeMerges(scratch, initial, context)
        assert.isTrue(fsck(scratch.repo).ok, context)
        assert.deepStrictEqual(checkoutState(scratch.repo), { head: "refs/heads/main", atTip: true, status: "" }, `${context}\n${show(second)}`)
        assert.strictEqual(leftovers(scratch).worktrees, 1, `${context}\n${git(scratch.repo, "worktree", "list")}`)
        assert.deepStrictEqual(leftovers(scratch).worktreesDir, [], context)
        // The second run's agents are gone too.
        assert.deepStrictEqual(await waitDead(calledPids(scratch).slice(callsBefore), 2_000), [], context)
        scratch.cleanup()
      } finally {
        first.child.kill("SIGKILL")
        for (const pid of calledPids(scratch)) {
          try {
            process.kill(pid, "SIGKILL")
          } catch {
            // Already gone.
          }
        }
      }
    }, 120_000)
  }
})

/** The pids of the processes whose parent is `pid` (from /proc). */
const childrenOf = (pid: number): Array<number> => {
  const file = `/proc/${pid}/task/${pid}/children`
  if (fs.existsSync(file)) {
    try {
      return fs.readFileSync(file, "utf8").trim().split(" ").filter((p) => p !== "").map(Number)
    } catch {
      return []
    }
  }
  return fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => {
    try {
      return Number(fs.readFileSync(`/proc/${p}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]) === pid
    } catch {
      return false
    }
  })
}

const commandLine = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ")
  } catch {
    return ""
  }
}

describe("kill -9 at the moments the process-group records cannot cover", () => {
  it("a process-group record the kill cut short: cleanup removes it instead of failing on it", () => {
    // Seen in the crash trials before records were renamed into place: cleanup exited 70 on
    // "Unexpected end of JSON input". An empty record, and a `.partial` one cut mid-line.
    const scratch = scratchRepo({ config, pending: [] })
    const agents = path.join(scratch.repo, ".oompa/runs/0badc0de/agents")
    fs.mkdirSync(agents, { recursive: true })
    fs.writeFileSync(path.join(agents, "4242.json"), "")
    fs.writeFileSync(path.join(agents, "4243.json.partial"), "{\"pid\":4243,\"pgid\":42")
    const cleanup = oompa(scratch, ["cleanup"])
    assert.strictEqual(cleanup.status, 0, show(cleanup))
    assert.deepStrictEqual(fs.readdirSync(agents), [])
    scratch.cleanup()
  })

  it("a git command the dead run left running: cleanup lets it finish (killed, git would leave its lock files or a half-made worktree)", async () => {
    const scratch = scratchRepo({ config, pending: [] })
    // A stand-in `git` (sleep under that name) marked as started by an oompa process that is gone,
    // running longer than cleanup takes to start.
    const bin = fs.mkdtempSync(path.join(scratch.home, "bin-"))
    fs.symlinkSync(fs.realpathSync("/bin/sleep"), path.join(bin, "git"))
    const deadOompa = spawnSync(process.execPath, ["-e", "0"]).pid!
    const orphan = spawn(path.join(bin, "git"), ["2"], {
      env: { ...process.env, OOMPA_ORCHESTRATOR_PID: String(deadOompa), OOMPA_REPO: scratch.repo },
      stdio: "ignore",
      detached: true
    })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => orphan.on("exit", (code, signal) => done({ code, signal })))
    try {
      while (gitCommandsOf(deadOompa).length === 0) await sleep(5)
      const cleanup = oompa(scratch, ["cleanup"])
      assert.strictEqual(cleanup.status, 0, show(cleanup))
      assert.isFalse(isAlive(orphan.pid!), `cleanup returned while the dead run's git was running:\n${show(cleanup)}`)
      assert.deepStrictEqual(await exited, { code: 0, signal: null }, show(cleanup))
      assert.notInclude(cleanup.stdout, "git", show(cleanup))
      scratch.cleanup()
    } finally {
      orphan.kill("SIGKILL")
    }
  }, 30_000)

  it("the instant an agent has started, before its record is written: cleanup still kills it", async () => {
    // An agent that neither reads its prompt nor ends on its own (a `command` harness running sleep):
    // whatever oompa managed to do before the kill, only recovery can stop it.
    const scratch = scratchRepo({
      config: { workers: [{ model: "command:sleeper", role: "executor" }], harnesses: { command: { command: "sleep", args: ["37"] } } },
      pending: [{ id: "early", summary: "x" }]
    })
    const run = oompaAsync(scratch, ["swarm"])
    const pid = run.child.pid!
    let agent: number | undefined
    try {
      // Spin on /proc until the agent's process has exec'd.
      const deadline = Date.now() + 20_000
      while (agent === undefined && Date.now() < deadline) {
        // oompa's children, and theirs: agents are started by its spawning helper.
        agent = childrenOf(pid).flatMap((child) => [child, ...childrenOf(child)]).find((child) => commandLine(child).startsWith("sleep 37"))
      }
      assert.isDefined(agent, "the agent never started")
      run.child.kill("SIGKILL")
      await run.exited
      const recorded = recordedAgents(scratch).some((r) => r.pid === agent)
      // Observed on every try: the record is not there yet, and the orphan runs on.
      if (recorded) console.log("note: the agent's record was already written; this trial did not hit the gap")
      assert.isTrue((await waitDead([agent!], 300)).length === 1, "the orphaned agent runs on after the kill")
      const cleanup = oompa(scratch, ["cleanup"])
      assert.strictEqual(cleanup.status, 0, show(cleanup))
      assert.deepStrictEqual(await waitDead([agent!], 1_000), [], `the orphaned agent (recorded: ${recorded}) survived cleanup:\n${show(cleanup)}`)
      assert.include(cleanup.stdout, `(pid ${agent})`)
      assert.deepStrictEqual(tasksIn(scratch, "pending"), ["early"])
      assert.strictEqual(leftovers(scratch).worktrees, 1)
    } finally {
      run.child.kill("SIGKILL")
      if (agent !== undefined) {
        try {
          process.kill(-agent, "SIGKILL")
        } catch {
          // gone
        }
      }
    }
  }, 60_000)

  it("during the test gate: cleanup kills the test command, returns the claim and keeps the approved branch with how to merge it; once a later run redid the task, it is called superseded", async () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "codex:gpt-5-codex", role: "executor" }], test_command: "echo $$ > \"$HOME/test-gate.pid\"; exec sleep 60" },
      pending: [{ id: "gated", summary: "x" }]
    })
    const pidFile = path.join(scratch.home, "test-gate.pid")
    const run = oompaAsync(scratch, ["swarm"])
    let testPid: number | undefined
    try {
      const deadline = Date.now() + 20_000
      while (!fs.existsSync(pidFile) && Date.now() < deadline) await sleep(20)
      await sleep(50)
      testPid = Number(fs.readFileSync(pidFile, "utf8").trim())
      run.child.kill("SIGKILL")
      await run.exited
      assert.isTrue((await waitDead([testPid], 300)).length === 1, "the test command runs on after the kill")
      const cleanup = oompa(scratch, ["cleanup"])
      assert.strictEqual(cleanup.status, 0, show(cleanup))
      assert.deepStrictEqual(await waitDead([testPid], 1_000), [], `the test command survived cleanup:\n${show(cleanup)}`)
      assert.include(cleanup.stdout, `(pid ${testPid}) left by the dead oompa process ${run.child.pid}`)
      assert.include(cleanup.stdout, "task gated: current/ -> pending/")
      assert.match(cleanup.stdout, /kept oompa\/[0-9a-f]{8}\/w0-1: approved work that was never merged; to merge it: git switch main && git merge oompa\/[0-9a-f]{8}\/w0-1/)
      assert.strictEqual(landedTasks(scratch.repo).size, 0)
      assert.deepStrictEqual(checkoutState(scratch.repo), { head: "refs/heads/main", atTip: true, status: "" })

      // The user drops the hanging test command; the next run redoes the task, which lands once.
      fs.writeFileSync(path.join(scratch.repo, "oompa.json"), `${JSON.stringify({ worktrees_dir: scratch.worktrees, workers: [{ model: "codex:gpt-5-codex", role: "executor" }] }, null, 2)}\n`)
      git(scratch.repo, "commit", "-qam", "no test gate")
      const rerun = oompa(scratch, ["swarm"])
      assert.strictEqual(rerun.status, 0, show(rerun))
      assert.deepStrictEqual([...landedTasks(scratch.repo).entries()], [["gated", 1]])
      // The branch kept from the dead run is still there, but merging it now would apply the task
      // twice: cleanup says it is most likely superseded instead of how to merge it.
      const after = oompa(scratch, ["cleanup"])
      assert.strictEqual(after.status, 0, show(after))
      assert.match(after.stdout, /kept (oompa\/[0-9a-f]{8}\/w0-1): approved work that was never merged; its task gated has since landed on main in [0-9a-f]{10}, so this is most likely superseded: compare with git diff main\.\.\.\1, delete it with git branch -D \1/, show(after))
      assert.notInclude(after.stdout, "git merge")
    } finally {
      run.child.kill("SIGKILL")
      if (testPid !== undefined) {
        try {
          process.kill(testPid, "SIGKILL")
        } catch {
          // gone
        }
      }
    }
  }, 60_000)
})
