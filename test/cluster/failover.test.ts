/**
 * One swarm over three runners, and the loss of one (issue 21, "What must be shown"): the built CLI
 * as three `oompa cluster runner` processes on loopback, a hub served by `git daemon`, a private
 * PostgreSQL (Debian's, started by the test), and `oompa swarm --cluster` driving six executors of
 * fixed-latency fake agents over 30 tasks. Once a quarter of them merged, the runner that ran the
 * latest iteration is killed with SIGKILL.
 *
 * What must hold: every task is merged exactly once (its trailer once on the hub's first-parent
 * chain, its marker on main), the hub passes `git fsck`, the run's queue holds no claim, the
 * surviving runners leave no worktree, and the slots of the dead runner moved to the others. The
 * failover time — from the kill to the first iteration answered for a slot the dead runner held —
 * is printed (goal ≤ 10 s), not asserted: no wall-clock limit in a test.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { ClusterRunner, LocalPostgres } from "@oompa/adapters-node/cluster"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { cleanupAll, git, oompa, oompaAsync, readTask, scratchRepo, show, tasksIn } from "../cli/helpers.ts"
import { freePort, type GitDaemon, startGitDaemon } from "../reliability/gitDaemon.ts"
import { fsck, landedTasks, sleep } from "../reliability/support.ts"

let daemon: GitDaemon | undefined
let scope: Scope.Closeable | undefined
let db = ""

beforeAll(async () => {
  daemon = await startGitDaemon()
  scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(Scope.provide(LocalPostgres.start(), scope))
  db = server.url
}, 60_000)

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  daemon?.stop()
  cleanupAll()
})

/** How long the runners are given to share the shards once they all listen. */
const settleMs = 8000

/** A line of the driver: `<worker> #<n> <outcome> [<task>] on <runner>`. */
const iterationLine = /^(\S+) #(\d+) (\S+)(?: (\S+))? on (\S+)/

describe("a swarm on three runners (Effect Cluster, PostgreSQL, a git hub)", () => {
  it("one runner killed with kill -9 mid-run: every task merged exactly once, the hub clean, no claim or worktree left", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `t${String(i + 1).padStart(2, "0")}`)
    const scratch = scratchRepo({
      config: { workers: [{ model: "claude:opus", role: "executor", count: 6, iterations: 20 }], review_model: "codex:gpt-5-codex" },
      pending: ids.map((id) => ({ id, summary: `Write src/${id}.txt` }))
    })
    const hub = path.join(daemon!.base, "hub.git")
    git(daemon!.base, "clone", "-q", "--bare", scratch.repo, hub)
    const initial = git(hub, "rev-parse", "main")
    const env = { E2E_DELAY_MS: "1500" }
    const runners = await Promise.all([0, 1, 2].map(async (i) => {
      const port = await freePort()
      const dir = path.join(scratch.root, `runner-${i}`)
      const process = oompaAsync(scratch, ["cluster", "runner", "--hub", daemon!.url("hub"), "--db", db, "--dir", dir, "--port", String(port)], { env })
      // Listening, it has joined the cluster.
      const listening = new Promise<void>((done) => process.child.stdout!.on("data", (chunk: string) => chunk.includes("Listening on") && done()))
      return { name: `127.0.0.1:${port}`, dir, process, listening }
    }))
    await Promise.all(runners.map((r) => r.listening))
    // Runners are long-lived: the shards settle among them (a few lock refreshes) before a run, so
    // the killed runner's slots are its own, not ones it was about to hand over.
    await sleep(settleMs)
    const driver = oompaAsync(scratch, ["swarm", "--cluster", db], { env })
    const lastRunnerOf = new Map<string, string>()
    let victim: (typeof runners)[number] | undefined
    let victimSlots = new Set<string>()
    let killedAt = 0
    let failoverMs: number | undefined
    let merged = 0
    const onLine = (line: string) => {
      const match = iterationLine.exec(line)
      if (match === null) return
      const [, worker, , outcome, , runner] = match as unknown as [string, string, string, string, string | undefined, string]
      if (victim !== undefined && victimSlots.has(worker) && runner !== victim.name) failoverMs ??= Date.now() - killedAt
      lastRunnerOf.set(worker, runner)
      if (outcome === "merged") merged++
      if (victim === undefined && merged >= ids.length / 4) {
        victim = runners.find((r) => r.name === runner)
        victimSlots = new Set([...lastRunnerOf].filter(([, at]) => at === runner).map(([slot]) => slot))
        victim?.process.child.kill("SIGKILL")
        killedAt = Date.now()
      }
    }
    let buffer = ""
    driver.child.stdout!.on("data", (chunk: string) => {
      buffer += chunk
      for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
        onLine(buffer.slice(0, end))
        buffer = buffer.slice(end + 1)
      }
    })
    const result = await driver.exited
    const survivors = runners.filter((r) => r !== victim)
    // What the cluster says of itself while its runners still run: its runners, the run's tasks, where each worker last ran.
    const status = oompa(scratch, ["cluster", "status", "--db", db])
    for (const runner of survivors) runner.process.child.kill("SIGTERM")
    const stopped = await Promise.all(runners.map((r) => r.process.exited))
    const context = [
      `driver (exit ${result.status}):`, result.stdout, result.stderr,
      ...runners.map((r, i) => `--- runner ${r.name}${r === victim ? " (killed)" : ""}:\n${stopped[i]!.stdout}\n${stopped[i]!.stderr.slice(-3000)}`)
    ].join("\n")
    // Failover proper: from the kill to the start of a moved slot's first iteration on another runner (its run log).
    const runId = /^run (\w+):/m.exec(result.stdout)?.[1]
    const restarts = survivors.flatMap((runner) => {
      const log = path.join(ClusterRunner.runCloneOf(runner.dir, runId ?? "-"), ".oompa", "runs", runId ?? "-", "events.jsonl")
      if (!fs.existsSync(log)) return []
      return fs.readFileSync(log, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { _tag: string; at: number; worker?: string })
        .filter((event) => event._tag === "IterationStarted" && victimSlots.has(event.worker ?? "") && event.at >= killedAt).map((event) => event.at - killedAt)
    })
    const startedAgainMs = restarts.length === 0 ? undefined : Math.min(...restarts)
    // (A moved slot may find nothing left to claim: then it answers, but starts no iteration.)
    console.log(`cluster failover: a moved slot's next iteration started ${startedAgainMs === undefined ? "never (nothing left to claim)" : `${(startedAgainMs / 1000).toFixed(1)} s`} after kill -9 (goal <= 10 s), and answered ${failoverMs === undefined ? "never" : `${(failoverMs / 1000).toFixed(1)} s`} after; ${victimSlots.size} slot(s) moved`)
    assert.isDefined(victim, context)
    assert.strictEqual(result.status, 0, context)
    assert.isDefined(failoverMs, `a slot of the killed runner ran again on another\n${context}`)
    // Exactly once each, on the hub's first-parent chain, with its marker on main.
    assert.deepStrictEqual([...landedTasks(hub).entries()].sort(), ids.map((id) => [id, 1]), context)
    assert.strictEqual(git(hub, "rev-list", "--first-parent", "--count", `${initial}..main`), String(ids.length), context)
    for (const id of ids) git(hub, "merge-base", "--is-ancestor", `refs/oompa/merged/${id}`, "main")
    const checked = fsck(hub)
    assert.isTrue(checked.ok, checked.output)
    assert.match(result.stdout, new RegExp(`finished: ${ids.length} complete, 0 failed, 0 pending, 0 held \\(${ids.length} task file`), context)
    // The folder queue says what became of its tasks, as after a run on one machine.
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ids, context)
    assert.deepStrictEqual(tasksIn(scratch, "pending"), [], context)
    for (const id of ids) assert.strictEqual(readTask(scratch, "complete", id)["merged_sha"] !== undefined, true, `${id}: its merge sha`)
    // The survivors stopped cleanly and left no worktree; the dead runner's disk is as it died. Each
    // runner ran the run in a clone of its own.
    for (const runner of survivors) {
      const clone = ClusterRunner.runCloneOf(runner.dir, runId!)
      // A runner that held no slot or queue of the run never made its clone.
      if (!fs.existsSync(clone)) continue
      assert.strictEqual(git(clone, "worktree", "list").split("\n").length, 1, `${runner.name}: ${git(clone, "worktree", "list")}`)
    }
    // Nor a worktree folder: runners keep theirs under HOME's cache, one folder per clone; a folder
    // left there is the killed runner's (its .git names its clone).
    const worktreesRoot = path.join(scratch.home, ".cache", "oompa", "worktrees")
    const folders = fs.existsSync(worktreesRoot) ? fs.readdirSync(worktreesRoot) : []
    assert.isAbove(folders.length, 0, `the runners' worktrees are where this test looks: ${worktreesRoot}`)
    for (const folder of folders) {
      for (const left of fs.readdirSync(path.join(worktreesRoot, folder))) {
        const link = fs.readFileSync(path.join(worktreesRoot, folder, left, ".git"), "utf8")
        assert.include(link, ClusterRunner.runCloneOf(victim!.dir, runId!), `a worktree left by a runner that stopped cleanly: ${folder}/${left}: ${link}`)
      }
    }
    // The cluster's own view, taken while the survivors still ran.
    assert.strictEqual(status.status, 0, show(status))
    for (const runner of runners.filter((r) => r !== victim)) assert.match(status.stdout, new RegExp(`${runner.name.replace(/\./g, "\\.")} +healthy`), show(status))
    assert.match(status.stdout, /0 pending, 0 current, 30 complete, 0 failed/, show(status))
    for (let w = 0; w < 6; w++) assert.match(status.stdout, new RegExp(`^  w${w} +on 127\\.0\\.0\\.1:\\d+ +\\d+ iteration`, "m"), show(status))
    // The run's merged log, copied into the checkout it was started from: every runner's events and
    // the driver's, so oompa status and oompa view tell the run as they tell one on one machine.
    const events = fs.readFileSync(path.join(scratch.repo, ".oompa", "runs", runId!, "events.jsonl"), "utf8").trim().split("\n")
      .map((line) => JSON.parse(line) as { _tag: string; worker?: string; iteration?: number; task?: string; to?: string })
    assert.strictEqual(events[0]?._tag, "SwarmStarted", context)
    assert.strictEqual(events[events.length - 1]?._tag, "SwarmFinished", context)
    // Each iteration the driver heard of is in it. One whose answer was lost (its runner killed, or
    // its shard moved on before the answer was stored) was delivered again and ran again: it may
    // show twice, and then both runs took the same task (the copy takes its own claim back).
    const heard = result.stdout.split("\n").flatMap((l) => {
      const match = iterationLine.exec(l)
      return match === null || match[3] === "nothing-to-claim" ? [] : [`${match[1]}#${match[2]}`]
    })
    const finished = events.filter((e) => e._tag === "IterationFinished")
    assert.deepStrictEqual([...new Set(finished.map((e) => `${e.worker}#${e.iteration}`))].sort(), [...heard].sort(), context)
    const tasksOf = new Map<string, Set<string | undefined>>()
    for (const e of finished) tasksOf.set(`${e.worker}#${e.iteration}`, (tasksOf.get(`${e.worker}#${e.iteration}`) ?? new Set()).add(e.task))
    const split = [...tasksOf].filter(([, tasks]) => tasks.size > 1)
    assert.deepStrictEqual(split, [], `an iteration run twice took two tasks: ${JSON.stringify(split.map(([key, tasks]) => [key, [...tasks]]))}`)
    assert.deepStrictEqual([...new Set(events.filter((e) => e._tag === "TaskMoved" && e.to === "complete").map((e) => e.task))].sort(), ids, context)
    const local = oompa(scratch, ["status", "--cluster", db])
    assert.strictEqual(local.status, 0, show(local))
    assert.match(local.stdout, new RegExp(`^run ${runId}: ok on main`, "m"), show(local))
    // Each landing once, whichever runner reported it, and however many times.
    assert.match(local.stdout, new RegExp(`^  ${ids.length} merged, 0 rejected, 0 failed`, "m"), show(local))
    assert.match(local.stdout, /^  w0 +executor/m, show(local))
    assert.match(local.stdout, new RegExp(`^workers of ${runId}:`, "m"), show(local))
    const view = oompa(scratch, ["view", runId!])
    assert.strictEqual(view.status, 0, show(view))
    assert.match(view.stdout, /merged/, show(view))
    scratch.cleanup()
  }, 300_000)

  it("oompa cluster dev: PostgreSQL, a hub copied from the repository and a runner on this machine; two swarms from two checkouts run on it at once; Ctrl-C stops them all", async () => {
    const ids = ["t1", "t2", "t3"]
    const otherIds = ["t4", "t5", "t6"]
    const config = { workers: [{ model: "claude:opus", role: "executor", count: 2, iterations: 5 }], review_model: "codex:gpt-5-codex", max_wait_for_tasks: 0 }
    const scratch = scratchRepo({ config, pending: ids.map((id) => ({ id, summary: `Write src/${id}.txt` })) })
    // A teammate's checkout driving the same cluster: its workers are named w0 and w1 too.
    const teammate = scratchRepo({ config, pending: otherIds.map((id) => ({ id, summary: `Write src/${id}.txt` })) })
    // A teammate who stops their run with Ctrl-C: 6 tasks, agents slow enough to be caught mid-iteration.
    const stopIds = ["t7", "t8", "t9", "ta", "tb", "tc"]
    const stopper = scratchRepo({ config, pending: stopIds.map((id) => ({ id, summary: `Write src/${id}.txt` })) })
    const dev = oompaAsync(scratch, ["cluster", "dev", "--runners", "1"], { env: { E2E_DELAY_MS: "1000" } })
    let printed = ""
    const url = await new Promise<string>((done) => dev.child.stdout!.on("data", (chunk: string) => {
      printed += chunk
      const found = /^PostgreSQL: (\S+)$/m.exec(printed)
      if (found !== null && printed.includes("Ctrl-C")) done(found[1]!)
    }))
    await sleep(settleMs)
    const [run, other] = await Promise.all([oompaAsync(scratch, ["swarm", "--cluster", url]).exited, oompaAsync(teammate, ["swarm", "--cluster", url]).exited])
    // Ctrl-C once the first task merged: no new iteration is sent, the one in flight is waited for,
    // and the run ends as any run does, its folder saying what became of each task.
    const stopping = oompaAsync(stopper, ["swarm", "--cluster", url])
    let seen = ""
    stopping.child.stdout!.on("data", (chunk: string) => {
      const before = seen
      seen += chunk
      if (!/^w\d #1 merged/m.test(before) && /^w\d #1 merged/m.test(seen)) stopping.child.kill("SIGINT")
    })
    const stopped = await stopping.exited
    await sleep(2000)
    dev.child.kill("SIGINT")
    const ended = await dev.exited
    const context = `${run.stdout}\n${run.stderr}\n--- the teammate's:\n${other.stdout}\n${other.stderr}\n--- dev:\n${ended.stdout}\n${ended.stderr}`
    assert.strictEqual(run.status, 0, context)
    assert.strictEqual(other.status, 0, context)
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ids, context)
    assert.deepStrictEqual(tasksIn(teammate, "complete"), otherIds, context)
    const hub = path.join(scratch.repo, ".oompa", "cluster", "hub.git")
    const stoppedContext = `${stopped.stdout}\n${stopped.stderr}\n${context}`
    assert.strictEqual(stopped.status, 130, stoppedContext)
    assert.match(stopped.stdout, /stopping; waiting for the iterations the runners are running/, stoppedContext)
    const completed = tasksIn(stopper, "complete")
    assert.isAbove(completed.length, 0, stoppedContext)
    assert.isBelow(completed.length, stopIds.length, stoppedContext)
    assert.deepStrictEqual([...completed, ...tasksIn(stopper, "pending")].sort(), stopIds, stoppedContext)
    const stopRun = /^run (\w+):/m.exec(stopped.stdout)![1]!
    const stopLog = fs.readFileSync(path.join(stopper.repo, ".oompa", "runs", stopRun, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { _tag: string; outcome?: string })
    assert.deepStrictEqual([stopLog.at(-1)?._tag, stopLog.at(-1)?.outcome], ["SwarmFinished", "interrupted"], stoppedContext)
    // Nothing of that run landed after it ended: what landed is what its folder says completed.
    const landed = landedTasks(hub)
    assert.deepStrictEqual(stopIds.filter((id) => landed.has(id)), completed, stoppedContext)
    assert.deepStrictEqual([...landed.entries()].filter(([id]) => !stopIds.includes(id)).sort(), [...ids, ...otherIds].map((id) => [id, 1]), context)
    assert.strictEqual(ended.status, 130, context)
    // Its PostgreSQL went with it.
    const port = Number(new URL(url).port)
    assert.isFalse(await new Promise<boolean>((done) => {
      const socket = net.connect(port, "127.0.0.1")
      socket.once("connect", () => (socket.destroy(), done(true)))
      socket.once("error", () => done(false))
    }), `PostgreSQL still listens on ${port}\n${context}`)
    scratch.cleanup()
    teammate.cleanup()
    stopper.cleanup()
  }, 120_000)

  it("bad flags are refused with exit 2, the flag named, before anything connects", () => {
    const scratch = scratchRepo({ config: { workers: [{ model: "claude:opus", role: "executor", count: 1, iterations: 1 }] } })
    const cases: ReadonlyArray<[ReadonlyArray<string>, RegExp]> = [
      [["cluster", "runner", "--hub", "/nowhere.git", "--db", "not a url"], /--db: expected a PostgreSQL URL/],
      [["cluster", "runner", "--hub", "/nowhere.git", "--db", "mysql://x@h/d"], /--db: expected a postgres:\/\/ URL/],
      [["cluster", "runner", "--hub", "/nowhere.git", "--db", db, "--port", "70000"], /--port: expected a port from 1 to 65535/],
      [["cluster", "runner", "--hub", "/nowhere.git", "--db", db, "--slots", "0"], /--slots: expected at least 1/],
      [["swarm", "--cluster", "http://example.com"], /--cluster: expected a postgres:\/\/ URL/],
      // What --cluster does not take yet is refused, not ignored: a --dry-run that lands would be a surprise.
      [["swarm", "other.json", "--dry-run", "--cluster", db], /--cluster does not take a config file argument .*, --dry-run yet/],
      // A database out of reach: exit 2, the flag named, its password never printed.
      [["swarm", "--cluster", "postgres://u:hunter2@127.0.0.1:1/d"], /^oompa: --cluster: .*connect/m],
      [["cluster", "status", "--db", "postgres://u:hunter2@127.0.0.1:1/d"], /^oompa: --db: .*connect/m]
    ]
    for (const [args, message] of cases) {
      const result = oompa(scratch, args)
      assert.strictEqual(result.status, 2, show(result))
      assert.match(result.stderr, message, show(result))
      assert.notInclude(result.stdout + result.stderr, "hunter2", show(result))
    }
    // A hub that cannot be cloned: named, exit 2, the password of the database URL never printed.
    const noHub = oompa(scratch, ["cluster", "runner", "--hub", "https://user:s3kret@127.0.0.1:1/missing.git", "--db", "postgres://u:hunter2@127.0.0.1:1/d", "--dir", path.join(scratch.root, "r")])
    assert.strictEqual(noHub.status, 2, show(noHub))
    assert.match(noHub.stderr, /cannot clone the hub/, show(noHub))
    for (const secret of ["hunter2", "s3kret"]) assert.notInclude(noHub.stdout + noHub.stderr, secret, show(noHub))
    scratch.cleanup()
  }, 60_000)
})
