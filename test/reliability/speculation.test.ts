/**
 * The speculative merge queue end to end (issue 19, `merge.speculation`): with `speculation: 3`,
 * three candidate merges are tested at once, each in a gate worktree of its own
 * (`<worktreesDir>/.test-gate`, `.test-gate-2`, `.test-gate-3`; the test command gets `OOMPA_GATE`).
 *
 * - Ctrl-C while three tests run: exit 130, main unchanged (no test finished), every test command
 *   (and its child) gone, no gate folder or gate worktree left, every claim back in `pending/`, the
 *   approved work kept on its branches (the run's summary does not name them; `oompa cleanup`
 *   lists each with how to merge it).
 * - kill -9 while three tests run: the test commands live on as orphans; `oompa cleanup` (or the
 *   next run's recovery) kills them, removes the three gates, returns the claims and keeps the
 *   approved branches (the next run then lands the three tasks).
 * - Six tasks, one of which writes a tree the test command fails (its file holds FAIL): the five
 *   others land once each, main's first-parent chain holds only commits the test passed (each
 *   checked with git against the rule), and the run log shows candidates built at positions past 1,
 *   the failing one ejected with `test-failed`, and the candidates behind it rebuilt without it.
 *
 * Every test command carries a variable with a value unique to the test (inherited through oompa's
 * environment), so a process left running — the shell or its `sleep` — is found by scanning /proc.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, ensureBundle, environment, git, leftovers, oompa, oompaAsync, runIds, type Scratch, scratchRepo, show, tasksIn, waitFor } from "../cli/helpers.ts"
import { checkoutState, gitCommandsOf, isAlive, landedTasks, type LoggedEvent, loggedEvents, sleep, waitDead } from "./support.ts"

afterAll(cleanupAll)

const tagVariable = "OOMPA_SPECULATION_TEST_TAG"

/** Live processes (not zombies) whose environment holds `tagVariable=tag`: the test commands and their children. */
const tagged = (tag: string): Array<number> => {
  const marker = `${tagVariable}=${tag}`
  return fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    if (pid === process.pid) return false
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(marker) && isAlive(pid)
    } catch {
      return false // gone, or not ours
    }
  })
}

/** Waits (at most `timeoutMs`) until no process carries the tag; returns those still there with their command lines. */
const waitUntagged = async (tag: string, timeoutMs: number): Promise<Array<string>> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const alive = tagged(tag)
    if (alive.length === 0 || Date.now() > deadline) {
      return alive.map((pid) => {
        try {
          return `${pid}: ${fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ")}`
        } catch {
          return `${pid}`
        }
      })
    }
    await sleep(25)
  }
}

/** Last resort of a failed test: SIGKILL to whatever still carries the tag. */
const killTagged = (tag: string) => {
  for (const pid of tagged(tag)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // gone
    }
  }
}

/** The gate folders under the worktrees folder, and the gate worktrees git knows of. */
const gates = (scratch: Scratch) => ({
  folders: (fs.existsSync(scratch.worktrees) ? fs.readdirSync(scratch.worktrees) : []).filter((name) => name.startsWith(".test-gate")).sort(),
  registered: git(scratch.repo, "worktree", "list", "--porcelain").split("\n").filter((line) => line.startsWith("worktree ") && line.includes(".test-gate"))
})

const oompaBranches = (scratch: Scratch): Array<string> =>
  git(scratch.repo, "branch", "--list", "--format=%(refname:short)", "oompa/*").split("\n").filter((b) => b !== "").sort()

const events = loggedEvents
type Event = LoggedEvent

/** Whether the test command's rule fails on `commit`'s tree: a file under src/ holds FAIL (`git grep` exits 0 on a match). */
const failsRule = (repo: string, commit: string): boolean => {
  const found = spawnSync("git", ["grep", "-q", "-e", "FAIL", commit, "--", "src"], { cwd: repo, env: { PATH: process.env["PATH"], HOME: process.env["HOME"], GIT_CONFIG_NOSYSTEM: "1" } })
  if (found.status !== 0 && found.status !== 1) throw new Error(`git grep in ${commit}: exit ${found.status}\n${found.stderr}`)
  return found.status === 0
}

const stuckIds = ["s1", "s2", "s3"]

/**
 * Three executors over three tasks, `speculation: 3`, and a test command that writes its shell's pid
 * into `<markers>/<OOMPA_GATE>` (renamed into place, so a marker seen is whole), then sleeps 30 s:
 * once the three agents' work is approved, the three candidates hang in their tests at once. Run
 * without `OOMPA_SPECULATION_MARKERS` (a later run), the test passes at once.
 */
const stuckSwarm = () => {
  const tag = randomBytes(8).toString("hex")
  const scratch = scratchRepo({
    config: {
      workers: [{ model: "claude:opus", role: "executor", count: 3 }],
      review_model: "codex:gpt-5-codex",
      merge: { speculation: 3 },
      test_command: "[ -z \"$OOMPA_SPECULATION_MARKERS\" ] && exit 0; echo $$ > \"$OOMPA_SPECULATION_MARKERS/.$OOMPA_GATE\" && mv \"$OOMPA_SPECULATION_MARKERS/.$OOMPA_GATE\" \"$OOMPA_SPECULATION_MARKERS/$OOMPA_GATE\"; sleep 30"
    },
    pending: stuckIds.map((id) => ({ id, summary: `Write src/${id}.txt` }))
  })
  const markers = path.join(scratch.root, "markers")
  fs.mkdirSync(markers)
  const env = { [tagVariable]: tag, OOMPA_SPECULATION_MARKERS: markers }
  return { scratch, tag, markers, env, initial: git(scratch.repo, "rev-parse", "main") }
}

/** Waits until three tests run at once (three markers, generous deadline); returns the test shells' pids by gate. */
const whenThreeTesting = async (stuck: ReturnType<typeof stuckSwarm>, exited: () => boolean) => {
  await waitFor("three test commands running at once", () => {
    if (exited()) throw new Error("oompa exited before three tests ran at once")
    return fs.readdirSync(stuck.markers).filter((f) => !f.startsWith(".")).length >= 3
  }, 45_000)
  const byGate = Object.fromEntries(fs.readdirSync(stuck.markers).filter((f) => !f.startsWith(".")).sort().map((f) => [f, Number(fs.readFileSync(path.join(stuck.markers, f), "utf8").trim())]))
  // Three gates, numbered 1, 2, 3: three tests at once, each in a gate of its own.
  assert.deepStrictEqual(Object.keys(byGate), ["1", "2", "3"])
  assert.deepStrictEqual(gates(stuck.scratch).folders, [".test-gate", ".test-gate-2", ".test-gate-3"])
  assert.strictEqual(gates(stuck.scratch).registered.length, 3)
  const pids = Object.values(byGate)
  assert.deepStrictEqual(pids.filter((pid) => !isAlive(pid)), [], "a test shell is already gone")
  return pids
}

/** What must hold once the run is over and repaired, whichever way it ended. */
const assertNothingLeft = async (stuck: ReturnType<typeof stuckSwarm>, testPids: ReadonlyArray<number>, context: string) => {
  const { scratch } = stuck
  assert.deepStrictEqual(await waitDead(testPids, 2_000), [], `${context}\ntest shells still alive`)
  assert.deepStrictEqual(await waitUntagged(stuck.tag, 2_000), [], `${context}\nprocesses of the test commands still running`)
  assert.deepStrictEqual(gates(scratch), { folders: [], registered: [] }, `${context}\n${git(scratch.repo, "worktree", "list")}`)
  assert.strictEqual(leftovers(scratch).worktrees, 1, `${context}\n${git(scratch.repo, "worktree", "list")}`)
  assert.strictEqual(git(scratch.repo, "rev-parse", "main"), stuck.initial, `${context}\nmain moved, though no test finished`)
  assert.strictEqual(landedTasks(scratch.repo).size, 0, context)
  assert.deepStrictEqual(tasksIn(scratch, "current"), [], context)
  assert.deepStrictEqual(tasksIn(scratch, "pending"), stuckIds, context)
  assert.deepStrictEqual(tasksIn(scratch, "complete"), [], context)
  assert.isFalse(fs.existsSync(path.join(scratch.repo, ".oompa/lock")), context)
  assert.deepStrictEqual(checkoutState(scratch.repo), { head: "refs/heads/main", atTip: true, status: "" }, context)
}

/**
 * The approved work stays, one branch per task, each holding that task's file as the agent wrote
 * it; returns the branch of each task.
 */
const assertApprovedKept = (scratch: Scratch, context: string): Map<string, string> => {
  const branches = oompaBranches(scratch)
  assert.strictEqual(branches.length, stuckIds.length, `${context}\nbranches: ${branches.join(", ")}`)
  const byTask = new Map<string, string>()
  for (const branch of branches) {
    const files = git(scratch.repo, "diff", "--name-only", `main...${branch}`).split("\n").filter((f) => f !== "")
    assert.strictEqual(files.length, 1, `${context}\n${branch} changes ${files.join(", ")}`)
    const id = /^src\/(s\d)\.txt$/.exec(files[0]!)?.[1]
    assert.isDefined(id, `${context}\n${branch} changes ${files[0]}`)
    assert.strictEqual(git(scratch.repo, "show", `${branch}:src/${id}.txt`), `${id}: written by claude`, context)
    byTask.set(id!, branch)
  }
  assert.deepStrictEqual([...byTask.keys()].sort(), stuckIds, context)
  return byTask
}

describe("speculation 3: three candidates tested at once", () => {
  it("Ctrl-C while three tests run: exit 130, main unchanged, every test command killed, no gate left, claims back in pending/, approved work kept", async () => {
    const stuck = stuckSwarm()
    const { scratch } = stuck
    // A shell job, as interrupt.test.ts starts it: a process group of its own, which Ctrl-C signals as a whole.
    const child = spawn(process.execPath, [ensureBundle(), "swarm"], {
      cwd: scratch.repo,
      env: environment(scratch, stuck.env),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    let finished = false
    const exited = new Promise<{ status: number | null; stdout: string; stderr: string }>((done) =>
      child.on("close", (status) => {
        finished = true
        done({ status, stdout, stderr })
      }))
    try {
      const testPids = await whenThreeTesting(stuck, () => finished)
      process.kill(-child.pid!, "SIGINT")
      const result = await exited
      assert.strictEqual(result.status, 130, show(result))
      const runId = runIds(scratch)[0]!
      assert.match(result.stdout, new RegExp(`run ${runId}: interrupted`), show(result))
      await assertNothingLeft(stuck, testPids, show(result))
      // No test finished: no result was taken, nothing was ejected, and no candidate landed.
      const log = events(scratch)
      assert.deepStrictEqual(log.filter((e) => e._tag === "TestResult" && e["passed"] === true), [], show(result))
      assert.deepStrictEqual(log.filter((e) => e._tag === "CandidateEjected"), [], show(result))
      assert.deepStrictEqual(log.filter((e) => e._tag === "CandidateBuilt").map((e) => e["position"]).sort(), [1, 2, 3], show(result))
      // The approved work is kept on its branches. The run's summary does not name them (as with
      // speculation 1); cleanup, with nothing else to repair, lists each with how to merge it.
      const kept = assertApprovedKept(scratch, show(result))
      const status = oompa(scratch, ["status", "--json"])
      assert.strictEqual((JSON.parse(status.stdout) as { outcome: string }).outcome, "interrupted", show(status))
      const cleanup = oompa(scratch, ["cleanup"])
      assert.strictEqual(cleanup.status, 0, show(cleanup))
      assert.deepStrictEqual(
        cleanup.stdout.trim().split("\n"),
        [...kept.values()].sort().map((b) => `kept ${b}: approved work that was never merged; to merge it: git switch main && git merge ${b}`),
        show(cleanup)
      )
      assert.deepStrictEqual(oompaBranches(scratch), [...kept.values()].sort(), show(cleanup))
    } finally {
      if (!finished) process.kill(-child.pid!, "SIGKILL")
      killTagged(stuck.tag)
    }
  }, 60_000)

  for (const repairBy of ["cleanup", "swarm"] as const) {
    it(`kill -9 while three tests run, then ${repairBy === "cleanup" ? "oompa cleanup" : "the next swarm's recovery"}: the orphaned test commands killed, the three gates removed, main unchanged`, async () => {
      const stuck = stuckSwarm()
      const { scratch } = stuck
      const run = oompaAsync(scratch, ["swarm"], { env: stuck.env })
      let finished = false
      void run.exited.then(() => (finished = true))
      try {
        const testPids = await whenThreeTesting(stuck, () => finished)
        run.child.kill("SIGKILL")
        const exited = await run.exited
        assert.strictEqual(exited.signal, "SIGKILL", show(exited))
        // The kill left them: the tests run on, in their gates (else there is nothing to repair).
        assert.strictEqual((await waitDead(testPids, 300)).length, 3, "the test commands died with oompa")
        assert.deepStrictEqual(gates(scratch).folders, [".test-gate", ".test-gate-2", ".test-gate-3"])
        assert.deepStrictEqual(await waitDead(gitCommandsOf(run.child.pid!), 5_000), [], "git commands of the dead run still running")
        const status = oompa(scratch, ["status"])
        assert.match(status.stdout, /^run [0-9a-f]{8}: died/, show(status))

        if (repairBy === "cleanup") {
          const cleanup = oompa(scratch, ["cleanup"])
          assert.strictEqual(cleanup.status, 0, show(cleanup))
          for (const pid of testPids) assert.include(cleanup.stdout, `(pid ${pid}) left by the dead oompa process ${run.child.pid}`, show(cleanup))
          for (const gate of [".test-gate", ".test-gate-2", ".test-gate-3"]) {
            assert.include(cleanup.stdout, `removed test worktree ${path.join(scratch.worktrees, gate)}`, show(cleanup))
          }
          for (const id of stuckIds) assert.include(cleanup.stdout, `task ${id}: current/ -> pending/`, show(cleanup))
          await assertNothingLeft(stuck, testPids, show(cleanup))
          const kept = assertApprovedKept(scratch, show(cleanup))
          for (const branch of kept.values()) assert.include(cleanup.stdout, `kept ${branch}: approved work that was never merged`, show(cleanup))
        } else {
          // The next run (whose tests pass: no markers folder) repairs first, then does the three tasks.
          const rerun = oompa(scratch, ["swarm"], { env: { [tagVariable]: "rerun" }, timeoutMs: 45_000 })
          assert.strictEqual(rerun.status, 0, show(rerun))
          assert.deepStrictEqual(await waitDead(testPids, 2_000), [], `the dead run's test shells survived the next run\n${show(rerun)}`)
          assert.deepStrictEqual(await waitUntagged(stuck.tag, 2_000), [], `processes of the dead run's tests still running\n${show(rerun)}`)
          assert.deepStrictEqual(gates(scratch), { folders: [], registered: [] }, show(rerun))
          assert.strictEqual(leftovers(scratch).worktrees, 1, git(scratch.repo, "worktree", "list"))
          assert.deepStrictEqual([...landedTasks(scratch.repo).entries()].sort(), stuckIds.map((id) => [id, 1]), show(rerun))
          assert.deepStrictEqual(tasksIn(scratch, "complete"), stuckIds, show(rerun))
          assert.deepStrictEqual(checkoutState(scratch.repo), { head: "refs/heads/main", atTip: true, status: "" }, show(rerun))
        }
      } finally {
        run.child.kill("SIGKILL")
        killTagged(stuck.tag)
      }
    }, 60_000)
  }

  it("six tasks, one of which the test fails: the five others land once each, main holds only trees the test passes, candidates past position 1, the failing one ejected and those behind it rebuilt", () => {
    // Claimed first (the queue is taken in file order), so the failing candidate has others behind it.
    const failing = "t0FAIL"
    const ids = [failing, "t1", "t2", "t3", "t4", "t5"]
    const others = ids.filter((id) => id !== failing)
    // The test command's rule on a tree: no file under src/ holds FAIL. A failing test takes seconds,
    // so the candidates submitted meanwhile queue up behind it, and the fewer files the tree has the
    // longer: the tests of the candidates built on the failing one (more files) fail first, and
    // their results, stale once it is ejected, must not count for their rebuilds. Each failure ends
    // the iteration (max_review_attempts 1); the task is tried twice.
    const scratch = scratchRepo({
      config: {
        workers: [{ model: "claude:opus", role: "executor", count: 3, iterations: 10 }],
        review_model: "codex:gpt-5-codex",
        merge: { speculation: 3 },
        max_review_attempts: 1,
        max_task_attempts: 2,
        test_command: "if grep -rq FAIL src; then sleep \"$(ls src | wc -l | awk '{ print 3 - 0.4 * $1 }')\"; echo FAIL found; exit 1; fi; sleep 0.3"
      },
      pending: ids.map((id) => ({ id, summary: `Write src/${id}.txt` }))
    })
    const initial = git(scratch.repo, "rev-parse", "main")
    const result = oompa(scratch, ["swarm"], { timeoutMs: 45_000 })
    const context = show(result)
    // The failed task makes the run's exit 1.
    assert.strictEqual(result.status, 1, context)
    assert.match(result.stdout, /5 merged, .*1 failed/, context)

    // Every other task landed exactly once; the failing one did not.
    assert.deepStrictEqual([...landedTasks(scratch.repo).entries()].sort(), others.map((id) => [id, 1]), context)
    assert.deepStrictEqual(tasksIn(scratch, "complete"), others, context)
    assert.deepStrictEqual(tasksIn(scratch, "failed"), [failing], context)
    assert.deepStrictEqual(tasksIn(scratch, "current"), [], context)
    for (const id of others) assert.strictEqual(git(scratch.repo, "show", `main:src/${id}.txt`), `${id}: written by claude`, context)

    // Main's first-parent chain: one commit per landed task, each tree passing the rule, each a commit a test passed on.
    const log = events(scratch)
    const passedShas = new Set(log.filter((e) => e._tag === "TestResult" && e["passed"] === true).map((e) => e["sha"] as string))
    const chain = git(scratch.repo, "rev-list", "--first-parent", `${initial}..main`).split("\n").filter((c) => c !== "")
    assert.strictEqual(chain.length, others.length, context)
    for (const commit of chain) {
      assert.isFalse(failsRule(scratch.repo, commit), `${commit} on main has FAIL under src/\n${context}`)
      assert.isTrue(passedShas.has(commit), `${commit} landed on main without a passing test\n${context}`)
    }
    assert.strictEqual(git(scratch.repo, "merge-base", "--is-ancestor", initial, "main"), "", context)

    // Speculation: candidates were built behind others (positions 2 and up), never deeper than 3.
    const built = log.filter((e) => e._tag === "CandidateBuilt")
    const positions = built.map((e) => e["position"] as number)
    assert.isAtLeast(Math.max(...positions), 2, `positions: ${positions.join(", ")}\n${context}`)
    assert.isAtMost(Math.max(...positions), 3, `positions: ${positions.join(", ")}`)

    // Only the failing task's candidates (their approved head holds FAIL) were ejected for a failed test, at least once.
    const key = (e: Event) => `${e["worker"]}/${e["iteration"]}`
    const failingKeys = new Set(built.filter((e) => failsRule(scratch.repo, e["head"] as string)).map(key))
    const ejected = log.filter((e) => e._tag === "CandidateEjected")
    const testFailed = ejected.filter((e) => e["reason"] === "test-failed")
    assert.isAbove(testFailed.length, 0, `ejections: ${JSON.stringify(ejected)}\n${context}`)
    for (const e of testFailed) assert.isTrue(failingKeys.has(key(e)), `a test-failed ejection of a passing tree: ${JSON.stringify(e)}`)
    // At least once with candidates behind it (built on it): each was merged again, in order from
    // position 1, onto what the failing one stood on, into a tree without FAIL.
    const withBehind = testFailed.filter((e) => (e["rebuilding"] as number) > 0)
    assert.isAbove(withBehind.length, 0, `the failing candidate never had others behind it: ${JSON.stringify(ejected)}\n${context}`)
    for (const e of withBehind) {
      const at = log.indexOf(e)
      const stoodOn = log.slice(0, at).filter((b) => b._tag === "CandidateBuilt" && key(b) === key(e)).at(-1)!["onto"]
      const rebuilt = log.slice(at).filter((b) => b._tag === "CandidateBuilt").slice(0, e["rebuilding"] as number)
      const described = JSON.stringify(rebuilt)
      assert.strictEqual(rebuilt.length, e["rebuilding"], described)
      assert.deepStrictEqual(rebuilt.map((b) => b["position"]), rebuilt.map((_, i) => i + 1), described)
      assert.strictEqual(rebuilt[0]!["onto"], stoodOn, described)
      for (const b of rebuilt) {
        assert.isAbove(b["rebuild"] as number, 0, described)
        assert.isFalse(failingKeys.has(key(b)), described)
        if (b["outcome"] === "built") assert.isFalse(failsRule(scratch.repo, b["sha"] as string), `a rebuilt candidate still holds the ejected change: ${described}`)
      }
    }
    assert.deepStrictEqual(gates(scratch), { folders: [], registered: [] }, context)
    scratch.cleanup()
  }, 60_000)
})
