/**
 * The speculative merge queue end to end (issue 19, `merge.speculation`): with `speculation: 3`,
 * three candidate merges are tested at once, each in a gate worktree of its own
 * (`<worktreesDir>/.test-gate`, `.test-gate-2`, `.test-gate-3`; the test command gets `OOMPA_GATE`).
 *
 * - Ctrl-C while three tests run: exit 130, main unchanged (no test finished), every test command
 *   (and its child) gone, no gate folder or gate worktree left, every claim back in `pending/`, the
 *   approved work kept on its branches and reported.
 * - kill -9 while three tests run: the test commands live on as orphans; `oompa cleanup` kills
 *   them, removes the three gates, returns the claims and keeps the approved branches.
 * - Six tasks, one of which writes a tree the test command fails (its file holds FAIL): the five
 *   others land once each, main's first-parent chain holds only commits the test passed (each
 *   checked with git against the rule), and the run log shows candidates built at positions past 1
 *   and the failing one ejected with `test-failed`.
 *
 * Every test command carries a variable with a value unique to the test (inherited through oompa's
 * environment), so a process left running — the shell or its `sleep` — is found by scanning /proc.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, ensureBundle, environment, git, leftovers, oompa, oompaAsync, runIds, type Scratch, scratchRepo, show, tasksIn, waitFor } from "../cli/helpers.ts"
import { checkoutState, gitCommandsOf, isAlive, landedTasks, sleep, waitDead } from "./support.ts"

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

/** The gate folders under the worktrees folder, and the gate worktrees git knows of. */
const gates = (scratch: Scratch) => ({
  folders: (fs.existsSync(scratch.worktrees) ? fs.readdirSync(scratch.worktrees) : []).filter((name) => name.startsWith(".test-gate")).sort(),
  registered: git(scratch.repo, "worktree", "list", "--porcelain").split("\n").filter((line) => line.startsWith("worktree ") && line.includes(".test-gate"))
})

const oompaBranches = (scratch: Scratch): Array<string> =>
  git(scratch.repo, "branch", "--list", "--format=%(refname:short)", "oompa/*").split("\n").filter((b) => b !== "").sort()

interface Event {
  readonly _tag: string
  readonly [key: string]: unknown
}

/** Every event of every run's events.jsonl (`.oompa/runs/<id>/events.jsonl`), a torn last line skipped. */
const events = (scratch: Scratch): Array<Event> =>
  runIds(scratch).flatMap((id) => {
    const file = path.join(scratch.repo, ".oompa/runs", id, "events.jsonl")
    if (!fs.existsSync(file)) return []
    return fs.readFileSync(file, "utf8").split("\n").slice(0, -1).map((line) => JSON.parse(line) as Event)
  })

const stuckIds = ["s1", "s2", "s3"]

/**
 * Three executors over three tasks, `speculation: 3`, and a test command that writes its shell's pid
 * into `<markers>/<OOMPA_GATE>` (renamed into place, so a marker seen is whole), then sleeps 30 s:
 * once the three agents' work is approved, the three candidates hang in their tests at once.
 */
const stuckSwarm = () => {
  const tag = randomBytes(8).toString("hex")
  let markers = ""
  const scratch = scratchRepo({
    config: {
      workers: [{ model: "claude:opus", role: "executor", count: 3 }],
      review_model: "codex:gpt-5-codex",
      merge: { speculation: 3 },
      test_command: "echo $$ > \"$OOMPA_SPECULATION_MARKERS/.$OOMPA_GATE\" && mv \"$OOMPA_SPECULATION_MARKERS/.$OOMPA_GATE\" \"$OOMPA_SPECULATION_MARKERS/$OOMPA_GATE\"; sleep 30"
    },
    pending: stuckIds.map((id) => ({ id, summary: `Write src/${id}.txt` }))
  })
  markers = path.join(scratch.root, "markers")
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
      // The approved work is kept on its branches, and the summary says how to merge each.
      const kept = assertApprovedKept(scratch, show(result))
      for (const [id, branch] of kept) {
        assert.include(result.stdout, `approved but not merged (task ${id}): branch ${branch} kept`, show(result))
      }
      const status = oompa(scratch, ["status", "--json"])
      assert.strictEqual((JSON.parse(status.stdout) as { outcome: string }).outcome, "interrupted", show(status))
      // Nothing for cleanup to repair but the kept branches, which it keeps.
      const cleanup = oompa(scratch, ["cleanup"])
      assert.strictEqual(cleanup.status, 0, show(cleanup))
      assert.notInclude(cleanup.stdout, "removed", show(cleanup))
      assert.deepStrictEqual(oompaBranches(scratch), [...kept.values()].sort(), show(cleanup))
    } finally {
      if (!finished) process.kill(-child.pid!, "SIGKILL")
      for (const pid of tagged(stuck.tag)) process.kill(pid, "SIGKILL")
    }
  }, 60_000)

  it("kill -9 while three tests run, then oompa cleanup: the orphaned test commands killed, the three gates removed, main unchanged", async () => {
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
      // The kill left them: the tests run on, in their gates.
      assert.strictEqual((await waitDead(testPids, 300)).length, 3, "the test commands died with oompa: nothing for recovery to do")
      assert.deepStrictEqual(gates(scratch).folders, [".test-gate", ".test-gate-2", ".test-gate-3"])
      assert.deepStrictEqual(await waitDead(gitCommandsOf(run.child.pid!), 5_000), [], "git commands of the dead run still running")

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
      const status = oompa(scratch, ["status"])
      assert.match(status.stdout, /^run [0-9a-f]{8}: died/, show(status))
    } finally {
      run.child.kill("SIGKILL")
      for (const pid of tagged(stuck.tag)) process.kill(pid, "SIGKILL")
    }
  }, 60_000)

  it("six tasks, one of which the test fails: the five others land once each, main holds only trees the test passes, candidates past position 1, the failing one ejected", () => {
    const ids = ["h1", "h2", "h3", "h4", "hFAIL", "h6"]
    const failing = "hFAIL"
    // The rule the test command enforces, on a tree: no file under src/ holds FAIL. A short sleep so
    // that candidates queue up behind each other.
    const scratch = scratchRepo({
      config: {
        workers: [{ model: "claude:opus", role: "executor", count: 3, iterations: 10 }],
        review_model: "codex:gpt-5-codex",
        merge: { speculation: 3 },
        test_command: "sleep 0.5; if grep -rq FAIL src; then echo \"FAIL found\"; exit 1; fi"
      },
      pending: ids.map((id) => ({ id, summary: `Write src/${id}.txt` }))
    })
    const initial = git(scratch.repo, "rev-parse", "main")
    // The failing task's fix rounds append a line, and still hold FAIL: it fails every time.
    const result = oompa(scratch, ["swarm"], { env: { E2E_FIX_ANY: failing }, timeoutMs: 50_000 })
    const context = show(result)
    assert.notStrictEqual(result.signal, "SIGKILL", `the run did not end in time\n${context}`)

    // Every other task landed exactly once; the failing one did not.
    const others = ids.filter((id) => id !== failing)
    assert.deepStrictEqual([...landedTasks(scratch.repo).entries()].sort(), others.map((id) => [id, 1]), context)
    assert.deepStrictEqual(tasksIn(scratch, "complete"), others.sort(), context)
    assert.deepStrictEqual(tasksIn(scratch, "current"), [], context)
    for (const id of others) assert.strictEqual(git(scratch.repo, "show", `main:src/${id}.txt`), `${id}: written by claude`, context)

    // Main's first-parent chain: every commit's tree passes the rule, and is one a test passed on.
    const log = events(scratch)
    const passedShas = new Set(log.filter((e) => e._tag === "TestResult" && e["passed"] === true).map((e) => e["sha"] as string))
    const chain = git(scratch.repo, "rev-list", "--first-parent", `${initial}..main`).split("\n").filter((c) => c !== "")
    assert.strictEqual(chain.length, others.length, context)
    for (const commit of chain) {
      const hits = git(scratch.repo, "grep", "-l", "-e", "FAIL", commit, "--", "src").split("\n").filter((f) => f !== "")
      // `git grep` exits 1 on no match, which execFileSync throws on: reaching here means a match.
      assert.fail(`${commit} on main has FAIL in ${hits.join(", ")}\n${context}`)
    }
    for (const commit of chain) assert.isTrue(passedShas.has(commit), `${commit} landed on main without a passing test\n${context}`)
    assert.strictEqual(git(scratch.repo, "merge-base", "--is-ancestor", initial, "main"), "", context)
    assert.isFalse(git(scratch.repo, "ls-tree", "-r", "--name-only", "main").includes(`src/${failing}.txt`), context)

    // Speculation: candidates were built behind others (positions 2 and up), at most 3 deep.
    const built = log.filter((e) => e._tag === "CandidateBuilt")
    const positions = built.map((e) => e["position"] as number)
    assert.isAtLeast(Math.max(...positions), 2, `positions: ${positions.join(", ")}\n${context}`)
    assert.isAtMost(Math.max(...positions), 3, `positions: ${positions.join(", ")}`)
    // The failing task's tests failed, and each time it was ejected as head with reason test-failed.
    const failedTests = log.filter((e) => e._tag === "TestResult" && e["passed"] === false)
    assert.isAbove(failedTests.length, 0, context)
    const ejected = log.filter((e) => e._tag === "CandidateEjected")
    const testFailed = ejected.filter((e) => e["reason"] === "test-failed")
    assert.isAbove(testFailed.length, 0, `ejections: ${JSON.stringify(ejected)}\n${context}`)
    // Only the failing task's candidates were ejected for a failed test.
    const failingBuilds = new Set(built.filter((e) => git(scratch.repo, "grep", "-c", "-e", "FAIL", e["sha"] as string, "--", "src").includes(failing) || false).map((e) => `${e["worker"]}/${e["iteration"]}`))
    for (const e of testFailed) assert.isTrue(failingBuilds.has(`${e["worker"]}/${e["iteration"]}`), `a test-failed ejection of a passing tree: ${JSON.stringify(e)}`)
    // An ejection with candidates behind it rebuilds them onto what the failing one stood on.
    if (testFailed.some((e) => (e["rebuilding"] as number) > 0)) {
      assert.isTrue(built.some((e) => (e["rebuild"] as number) > 0), `no candidate rebuilt after an ejection with candidates behind it\n${context}`)
    }
    assert.deepStrictEqual(gates(scratch), { folders: [], registered: [] }, context)
    scratch.cleanup()
  }, 60_000)
})
