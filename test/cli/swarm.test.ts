/**
 * `oompa swarm` end to end (SPEC F5, F6, F9, F10, F14; issue 5 "What must be shown"): the bundled
 * CLI over a temporary repository, with the prompt-driven fake `claude` and `codex` first on PATH.
 * Goal: a swarm of executors drains the queue through review (one fix round) and the merge queue,
 * lands every change on main, follows the user's clean checkout, leaves nothing behind, and the
 * read-only commands (status, list, view, tasks, context) explain what happened; a task the reviewer
 * keeps rejecting ends in failed/ with exit 1 and can be requeued; a second swarm on a locked
 * repository exits 2 naming the holder, and `oompa stop` interrupts the first (exit 130).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  cleanupAll,
  ensureBundle,
  environment,
  fakeCalls,
  git,
  leftovers,
  oompa,
  oompaAsync,
  readTask,
  runIds,
  type Scratch,
  scratchRepo,
  show,
  tasksIn,
  waitFor
} from "./helpers.ts"

afterAll(cleanupAll)

/** Whether the process exists and is not a zombie waiting for a reaper. */
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, { encoding: "utf8", flag: "r" }).replace(/^.*\) /s, "")
  return !stat.startsWith("Z")
}

/** The main scenario's repository after its swarm, run once and shared by the read-only tests. */
let swarmed: { readonly scratch: Scratch; readonly runId: string; readonly initial: string } | undefined
let swarmFailed = false
const swarmRepo = () => {
  if (swarmed !== undefined) return swarmed
  // A failed swarm fails the first test that asked for it; the others say so instead of running another.
  if (swarmFailed) throw new Error("the shared swarm failed: see the first test of this file")
  swarmFailed = true
  const scratch = scratchRepo({
    config: {
      workers: [{ model: "claude:opus", role: "executor", count: 2, iterations: 5 }],
      review_model: "codex:gpt-5-codex"
    },
    pending: [
      { id: "task-a", summary: "Write src/task-a.txt" },
      { id: "task-b", summary: "Write src/task-b.txt", acceptance: ["ends with the fix line"] },
      { id: "task-c", summary: "Write src/task-c.txt" }
    ]
  })
  const initial = git(scratch.repo, "rev-parse", "main")
  const result = oompa(scratch, ["swarm"], { env: { E2E_FIX_ONCE: "task-b" } })
  assert.strictEqual(result.status, 0, show(result))
  const ids = runIds(scratch)
  assert.strictEqual(ids.length, 1, `one run folder: ${ids.join(", ")}`)
  assert.include(result.stdout, `run log: .oompa/runs/${ids[0]}/events.jsonl`)
  swarmed = { scratch, runId: ids[0]!, initial }
  swarmFailed = false
  return swarmed
}

describe("oompa swarm", () => {
  it("executors drain 3 pending tasks, one fixed after review, all merged onto main and into the clean checkout", () => {
    const { initial, runId, scratch } = swarmRepo()
    const { repo } = scratch
    // Every task complete, none left anywhere else.
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["task-a", "task-b", "task-c"])
    for (const folder of ["pending", "current", "failed", "invalid"]) assert.deepStrictEqual(tasksIn(scratch, folder), [], folder)
    // Each completed task records the merge that landed it, a commit of main's first-parent chain.
    const firstParents = git(repo, "rev-list", "--first-parent", "main").split("\n")
    for (const id of ["task-a", "task-b", "task-c"]) assert.include(firstParents, String(readTask(scratch, "complete", id)["merged_sha"]), id)
    // The work and the fix are on main.
    assert.strictEqual(git(repo, "show", "main:src/task-a.txt"), "task-a: written by claude")
    assert.strictEqual(git(repo, "show", "main:src/task-b.txt"), "task-b: written by claude\nfixed after review")
    assert.strictEqual(git(repo, "show", "main:src/task-c.txt"), "task-c: written by claude")
    // Main only moved forward, by merges carrying the trailers.
    assert.strictEqual(git(repo, "merge-base", "--is-ancestor", initial, "main"), "")
    const messages = git(repo, "log", "--format=%B%x00", `${initial}..main`, "--first-parent")
    for (const id of ["task-a", "task-b", "task-c"]) assert.include(messages, `Oompa-Task: ${id}`)
    assert.include(messages, `Oompa-Run: ${runId}`)
    // The reviewer saw task-b twice: the fix prompt carried the feedback and resumed the proposer's session.
    const calls = fakeCalls(scratch)
    const b = calls.filter((c) => c.task === "task-b")
    assert.deepStrictEqual(b.map((c) => `${c.harness}:${c.kind}`), ["claude:propose", "codex:review", "claude:fix", "codex:review"])
    assert.strictEqual(b[2]!.resumed, b[0]!.session)
    assert.deepStrictEqual(b[2]!.argv.slice(-2), ["--resume", b[0]!.session])
    // Every call ran in a worktree outside the repository (worktrees_dir), never in the user's checkout.
    for (const call of calls) assert.isTrue(call.cwd.startsWith(`${scratch.worktrees}/`), call.cwd)
    // Codex got SPEC F3's command line: -C and --sandbox before the prompt on stdin.
    const review = calls.find((c) => c.harness === "codex")!
    assert.deepStrictEqual(review.argv.slice(0, 4), ["exec", "--json", "--skip-git-repo-check", "-C"])
    assert.deepStrictEqual(review.argv.slice(5), ["--sandbox", "workspace-write", "-m", "gpt-5-codex", "-"])
    // The user's clean checkout of main followed every merge; nothing staged or modified.
    assert.strictEqual(git(repo, "rev-parse", "HEAD"), git(repo, "rev-parse", "main"))
    assert.strictEqual(fs.readFileSync(path.join(repo, "src/task-b.txt"), "utf8"), "task-b: written by claude\nfixed after review\n")
    assert.strictEqual(git(repo, "status", "--porcelain", "--", ".", ":!tasks"), "")
    // Nothing left behind: one worktree (the user's), no oompa/* branch, an empty worktrees folder.
    const left = leftovers(scratch)
    assert.strictEqual(left.worktrees, 1)
    assert.strictEqual(left.branches, "")
    assert.deepStrictEqual(left.worktreesDir, [])
    assert.isFalse(fs.existsSync(path.join(repo, ".oompa/lock")))
  })

  it("the run log holds every event, one JSON object a line, and every agent call has a transcript", () => {
    const { runId, scratch } = swarmRepo()
    const dir = path.join(scratch.repo, ".oompa/runs", runId)
    const events = fs.readFileSync(path.join(dir, "events.jsonl"), "utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as { _tag: string })
    assert.strictEqual(events[0]!._tag, "SwarmStarted")
    assert.strictEqual(events[events.length - 1]!._tag, "SwarmFinished")
    const tags = new Set(events.map((e) => e._tag))
    for (const tag of ["IterationStarted", "AgentFinished", "MergeResult", "TaskMoved", "IterationFinished", "WorkerFinished"]) assert.isTrue(tags.has(tag), tag)
    const transcripts = fs.readdirSync(path.join(dir, "transcripts"))
    assert.strictEqual(transcripts.length, fakeCalls(scratch).length, transcripts.join(", "))
    assert.strictEqual(events.filter((e) => e._tag === "AgentFinished").length, 8)
  })

  it("status, status --json, list, view and tasks describe the run", () => {
    const { runId, scratch } = swarmRepo()
    const status = oompa(scratch, ["status"])
    assert.strictEqual(status.status, 0, show(status))
    assert.match(status.stdout, new RegExp(`^run ${runId}: ok on main`))
    assert.include(status.stdout, "3 merged, 0 rejected, 0 failed")

    const json = oompa(scratch, ["status", "--json"])
    assert.strictEqual(json.status, 0, show(json))
    const summary = JSON.parse(json.stdout) as Record<string, unknown>
    assert.strictEqual(summary["runId"], runId)
    assert.strictEqual(summary["outcome"], "ok")
    assert.strictEqual(summary["branch"], "main")
    assert.strictEqual(summary["merged"], 3)
    assert.strictEqual(summary["failedTasks"], 0)
    assert.strictEqual(summary["agentCalls"], 8)
    // claude reports cost cumulatively over a resumed session: 0.01 per session, counted once; codex
    // reports tokens, which the price table turns into the rest.
    const estimated = summary["estimatedCostUsd"] as number
    assert.isAbove(estimated, 0)
    assert.closeTo(summary["costUsd"] as number, 0.03 + 0.01 + estimated, 1e-9)
    assert.deepStrictEqual(summary["priceTables"], ["@pydantic/genai-prices 0.1.8"])
    assert.deepStrictEqual((summary["workers"] as Array<{ id: string; role: string; agent: string }>).map((w) => [w.id, w.role, w.agent]), [
      ["w0", "executor", "claude:opus"],
      ["w1", "executor", "claude:opus"]
    ])

    const list = oompa(scratch, ["list"])
    assert.strictEqual(list.status, 0, show(list))
    assert.match(list.stdout.trim(), new RegExp(`^${runId}\\s+ok\\s+3 merged`))

    const view = oompa(scratch, ["view", runId])
    assert.strictEqual(view.status, 0, show(view))
    assert.include(view.stdout, "review 1: needs-changes")
    assert.include(view.stdout, "task task-b -> complete/")
    assert.include(view.stdout, `run ${runId}: ok on main`)

    const tasks = oompa(scratch, ["tasks"])
    assert.strictEqual(tasks.status, 0, show(tasks))
    assert.include(tasks.stdout, "pending/ (0)")
    assert.include(tasks.stdout, "complete/ (3)\n  task-a  Write src/task-a.txt\n")

    const unknownRun = oompa(scratch, ["view", "0badc0de"])
    assert.strictEqual(unknownRun.status, 2, show(unknownRun))
    assert.include(unknownRun.stderr, "0badc0de")
  })

  it("a task the reviewer always rejects ends in failed/ with exit 1; tasks, context and requeue handle it", () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "codex:gpt-5-codex", role: "executor" }], max_task_attempts: 1 },
      pending: [{ id: "doomed", summary: "Never right" }, { id: "fine", summary: "Easy" }]
    })
    const result = oompa(scratch, ["swarm"], { env: { E2E_REJECT: "doomed" } })
    assert.strictEqual(result.status, 1, show(result))
    assert.include(result.stdout, "1 merged, 1 rejected, 1 failed")
    assert.deepStrictEqual(tasksIn(scratch, "failed"), ["doomed"])
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["fine"])
    assert.deepStrictEqual(tasksIn(scratch, "current"), [])
    const failed = readTask(scratch, "failed", "doomed")
    assert.strictEqual(failed["attempts"], 1)
    assert.include(String(failed["last_feedback"]), "The approach is wrong.")
    // The rejected work never reached main, and its branch is gone.
    assert.strictEqual(git(scratch.repo, "ls-tree", "--name-only", "main", "src/"), "src/fine.txt")
    assert.strictEqual(leftovers(scratch).branches, "")
    assert.strictEqual(leftovers(scratch).worktrees, 1)

    const tasks = oompa(scratch, ["tasks"])
    assert.strictEqual(tasks.status, 0, show(tasks))
    assert.include(tasks.stdout, "failed/ (1)\n  doomed  Never right  [attempts 1]\n    last feedback: This is not how the task should be done.")

    const requeue = oompa(scratch, ["requeue", "doomed"])
    assert.strictEqual(requeue.status, 0, show(requeue))
    assert.include(requeue.stdout, "task doomed: failed/ -> pending/")
    assert.deepStrictEqual(tasksIn(scratch, "pending"), ["doomed"])
    assert.deepStrictEqual(tasksIn(scratch, "failed"), [])
    assert.notProperty(readTask(scratch, "pending", "doomed"), "attempts")

    const again = oompa(scratch, ["requeue", "doomed"])
    assert.strictEqual(again.status, 2, show(again))
    assert.include(again.stderr, "no task doomed in failed/")

    // The context header agents see: YAML, with the pending task and the queue's counts.
    const context = oompa(scratch, ["context"])
    assert.strictEqual(context.status, 0, show(context))
    assert.match(context.stdout, /^```yaml\n# oompa context/)
    assert.include(context.stdout, `head: ${git(scratch.repo, "rev-parse", "main")}`)
    assert.match(context.stdout, /counts:\n\s+pending: 1\n\s+current: 0\n\s+complete: 1\n\s+failed: 0\n/)
    assert.match(context.stdout, /pending:\n\s+- id: doomed\n\s+summary: Never right\n/)
    assert.include(context.stdout, "claim and finish pending tasks (1 waiting)")
  })

  it("a second swarm while the first holds the lock exits 2 naming its pid; oompa stop interrupts the first (130)", async () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "codex:gpt-5-codex", role: "executor" }] },
      pending: [{ id: "slow", summary: "Takes a while" }]
    })
    const lock = path.join(scratch.repo, ".oompa/lock")
    const first = oompaAsync(scratch, ["swarm"], { env: { E2E_DELAY_MS: "20000" } })
    try {
      // The first run holds the lock and its agent is working (the fake logs its call before the delay).
      await waitFor("the first run's agent call", () => fs.existsSync(lock) && fakeCalls(scratch).length === 1)
      const pid = first.child.pid!
      const holder = JSON.parse(fs.readFileSync(lock, "utf8")) as { pid: number; runId: string }
      assert.strictEqual(holder.pid, pid)

      const second = oompa(scratch, ["swarm"])
      assert.strictEqual(second.status, 2, show(second))
      assert.include(second.stderr, `pid ${pid}`)
      assert.include(second.stderr, `run ${holder.runId}`)
      assert.isAtMost(second.stderr.trim().split("\n").length, 2, second.stderr)
      assert.deepStrictEqual(runIds(scratch), [holder.runId])
      assert.strictEqual(leftovers(scratch).worktrees, 2)

      const running = oompa(scratch, ["status"])
      assert.strictEqual(running.status, 0, show(running))
      assert.match(running.stdout, new RegExp(`^run ${holder.runId}: running`))

      const stop = oompa(scratch, ["stop"])
      assert.strictEqual(stop.status, 0, show(stop))
      assert.include(stop.stdout, `pid ${pid}`)
      const exited = await first.exited
      assert.strictEqual(exited.status, 130, show(exited))
      // The claim went back, the agent's process is gone, and nothing is left behind.
      assert.deepStrictEqual(tasksIn(scratch, "pending"), ["slow"])
      assert.deepStrictEqual(tasksIn(scratch, "current"), [])
      await waitFor("the agent's process to end", () => !isAlive(fakeCalls(scratch)[0]!.pid), 5_000)
      assert.isFalse(fs.existsSync(lock))
      assert.strictEqual(leftovers(scratch).worktrees, 1)
      assert.strictEqual(leftovers(scratch).branches, "")
      const after = oompa(scratch, ["status", "--json"])
      assert.strictEqual((JSON.parse(after.stdout) as { outcome: string }).outcome, "interrupted")
    } finally {
      first.child.kill("SIGKILL")
    }
  })

  it("swarm --detach runs the same swarm in a process of its own, with the Node options the bin chose, its output in .oompa/detached.log", async () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "claude:opus", role: "executor", count: 1, iterations: 2 }], review_model: "codex:gpt-5-codex" },
      pending: [{ id: "task-a", summary: "Write src/task-a.txt" }]
    })
    const started = spawnSync(process.execPath, ["--max-semi-space-size=2", "--optimize-for-size", ensureBundle(), "swarm", "--detach"], {
      cwd: scratch.repo,
      env: environment(scratch, { E2E_DELAY_MS: "1500" }),
      encoding: "utf8"
    })
    assert.strictEqual(started.status, 0, show(started))
    const pid = Number(/\(pid (\d+)\)/.exec(started.stdout)?.[1])
    assert.isTrue(Number.isInteger(pid), started.stdout)
    try {
      // The agent takes 1.5 s: the background run is still there to look at.
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      assert.deepStrictEqual(argv.slice(1, 3), ["--max-semi-space-size=2", "--optimize-for-size"])
      assert.includeMembers(argv, ["swarm"])
      await waitFor("the detached swarm to land its task and end", () => tasksIn(scratch, "complete").includes("task-a") && !isAlive(pid), 60_000)
    } finally {
      if (isAlive(pid)) process.kill(pid, "SIGKILL")
    }
    assert.strictEqual(git(scratch.repo, "show", "main:src/task-a.txt"), "task-a: written by claude")
    assert.include(fs.readFileSync(path.join(scratch.repo, ".oompa/detached.log"), "utf8"), "task-a")
  })

  it("oompa stop refuses a run embedded in another program (its lock says SIGINT would kill the host) and signals nothing", () => {
    const scratch = scratchRepo({ config: { workers: [{ model: "codex:gpt-5-codex", role: "executor", iterations: 1 }] } })
    // The host: a live process that a SIGINT would end.
    const host = spawn("sleep", ["60"], { stdio: "ignore" })
    try {
      fs.mkdirSync(path.join(scratch.repo, ".oompa"), { recursive: true })
      const holder = { pid: host.pid, startedAt: new Date().toISOString(), runId: "0e0e0e0e", hostname: os.hostname(), stopsOnSigint: false }
      fs.writeFileSync(path.join(scratch.repo, ".oompa/lock"), `${JSON.stringify(holder)}\n`)
      const stopped = oompa(scratch, ["stop"])
      assert.strictEqual(stopped.status, 2, show(stopped))
      assert.include(stopped.stderr, `run 0e0e0e0e runs inside another program (pid ${host.pid})`)
      assert.isNull(host.exitCode)
      assert.isNull(host.signalCode)
      // A second run is told where the run it waits for lives.
      const second = oompa(scratch, ["swarm"])
      assert.strictEqual(second.status, 2, show(second))
      assert.include(second.stderr, `stop it from the program it runs in (pid ${host.pid})`)
    } finally {
      host.kill("SIGKILL")
    }
  })

  it("after kill -9, worktrees lists what the dead run left and cleanup repairs it: agents killed, claim returned, worktree and branch removed", async () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "claude:opus", role: "executor" }], review_model: "codex:gpt-5-codex" },
      pending: [{ id: "crash", summary: "Interrupted by kill -9" }]
    })
    const clean = oompa(scratch, ["worktrees"])
    assert.strictEqual(clean.status, 0, show(clean))
    assert.strictEqual(clean.stdout.trim(), "no oompa worktrees")

    const first = oompaAsync(scratch, ["swarm"], { env: { E2E_DELAY_MS: "30000" } })
    let agentPid: number | undefined
    try {
      await waitFor("the agent call", () => fakeCalls(scratch).length === 1)
      agentPid = fakeCalls(scratch)[0]!.pid
      first.child.kill("SIGKILL")
      await first.exited
      // What a kill -9 leaves: the claim, the worktree, the branch, the lock of a dead pid, the agent.
      assert.deepStrictEqual(tasksIn(scratch, "current"), ["crash"])
      assert.strictEqual(leftovers(scratch).worktrees, 2)
      assert.match(leftovers(scratch).branches, /oompa\/[0-9a-f]{8}\/w0-1/)
      assert.isTrue(isAlive(agentPid))

      const listed = oompa(scratch, ["worktrees"])
      assert.strictEqual(listed.status, 0, show(listed))
      assert.strictEqual(listed.stdout.trim(), `w0         ${scratch.worktrees}/w0`)

      const repaired = oompa(scratch, ["cleanup"])
      assert.strictEqual(repaired.status, 0, show(repaired))
      assert.include(repaired.stdout, `(pid ${agentPid})`)
      assert.include(repaired.stdout, "task crash: current/ -> pending/")
      assert.include(repaired.stdout, `removed worktree ${scratch.worktrees}/w0`)
      assert.match(repaired.stdout, /deleted branch oompa\/[0-9a-f]{8}\/w0-1/)
      await waitFor("the dead run's agent to be killed", () => !isAlive(agentPid!), 5_000)
      assert.deepStrictEqual(tasksIn(scratch, "pending"), ["crash"])
      assert.deepStrictEqual(tasksIn(scratch, "current"), [])
      assert.deepStrictEqual(leftovers(scratch), { worktrees: 1, branches: "", oompaDir: true, worktreesDir: [] })
      assert.isFalse(fs.existsSync(path.join(scratch.repo, ".oompa/lock")))
      const again = oompa(scratch, ["cleanup"])
      assert.strictEqual(again.stdout.trim(), "nothing to clean up", show(again))

      // The repaired repository runs the task to the end.
      const rerun = oompa(scratch, ["swarm"])
      assert.strictEqual(rerun.status, 0, show(rerun))
      assert.deepStrictEqual(tasksIn(scratch, "complete"), ["crash"])
      assert.strictEqual(git(scratch.repo, "show", "main:src/crash.txt"), "crash: written by claude")
    } finally {
      first.child.kill("SIGKILL")
      if (agentPid !== undefined && isAlive(agentPid)) process.kill(agentPid, "SIGKILL")
    }
  })
})
