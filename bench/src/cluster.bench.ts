/**
 * One swarm over more machines (issue 21): the throughput of a run on 3 runners against the same
 * run on 1, measured in the same process one after the other. Goal: ≥ 2.4.
 *
 * Each runner is an `oompa cluster runner` process (the built CLI) on this machine, limited to
 * `--slots 4` iterations at once — what one machine can hold — over a private PostgreSQL (Debian's,
 * started here) and a bare hub repository. The run has more worker slots (32) than one runner's
 * slots, as a run that outgrew one machine does, and its agents are a shell script of fixed latency
 * (`callMs` per call, sleeping, not computing): propose, then review. Throughput is merges per
 * second, from the driver's start to its end (`oompa swarm --cluster`), over `tasks` tasks.
 *
 * Run: `npm run bench`, or `node --conditions=@oompa/source bench/src/cluster.bench.ts`.
 */
import { Effect, Exit, Scope } from "effect"
import { ClusterRunner, LocalPostgres } from "@oompa/adapters-node/cluster"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fixedLatencyAgent, gitEnvironment } from "./fixtures.ts"

const callMs = 1500
const slots = 4
const workerSlots = 32
const tasks = 60
const goal = 2.4
/** How long the runners are given to share the shards once they all listen (a few lock refreshes). */
const settleMs = 8000
const cli = path.resolve("packages/cli/dist/oompa.mjs")

const env = { ...process.env, ...gitEnvironment }
const scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-cluster-bench-")))
const git = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, encoding: "utf8", env })
const agentScript = fixedLatencyAgent(scratch, callMs)

/** The user's repository (oompa.json, `tasks` pending tasks) and its hub, a bare clone. */
const project = (name: string) => {
  const repo = path.join(scratch, name)
  fs.mkdirSync(path.join(repo, "tasks", "pending"), { recursive: true })
  git(repo, "init", "-q", "-b", "main")
  fs.writeFileSync(path.join(repo, ".gitignore"), ".oompa/\n")
  fs.writeFileSync(path.join(repo, "oompa.json"), JSON.stringify({
    workers: [{ model: "command:bench", role: "executor", count: workerSlots, iterations: tasks }],
    review_model: "command:bench",
    harnesses: { command: { command: agentScript } },
    max_wait_for_tasks: 0
  }, null, 2))
  git(repo, "add", "-A")
  git(repo, "commit", "-qm", "initial")
  for (let i = 0; i < tasks; i++) {
    const id = `task-${String(i).padStart(3, "0")}`
    fs.writeFileSync(path.join(repo, "tasks", "pending", `${id}.json`), JSON.stringify({ id, summary: `Task ${i}` }))
  }
  const hub = path.join(scratch, `${name}-hub.git`)
  git(scratch, "clone", "-q", "--bare", repo, hub)
  return { repo, hub }
}

/** Runs the project's swarm on `count` runners; merges per second. */
const measure = async (db: string, count: number): Promise<{ readonly seconds: number; readonly merged: number }> => {
  const { repo, hub } = project(`run-${count}`)
  const runners: Array<ChildProcess> = []
  try {
    const listening: Array<Promise<void>> = []
    for (let i = 0; i < count; i++) {
      const port = await Effect.runPromise(ClusterRunner.freePort)
      const runner = spawn(process.execPath, [cli, "cluster", "runner", "--hub", hub, "--db", db, "--dir", path.join(scratch, `run-${count}-runner-${i}`), "--port", String(port), "--slots", String(slots)], { env, stdio: ["ignore", "pipe", "inherit"] })
      runners.push(runner)
      listening.push(new Promise((done) => runner.stdout!.setEncoding("utf8").on("data", (chunk: string) => chunk.includes("Listening on") && done())))
    }
    // Runners are long-lived; their start is not the run's: each listens, then the shards settle among them.
    await Promise.all(listening)
    await new Promise((done) => setTimeout(done, settleMs))
    const started = performance.now()
    const driver = spawn(process.execPath, [cli, "swarm", "--cluster", db], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    driver.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    driver.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    const status = await new Promise<number | null>((done) => driver.on("close", done))
    const seconds = (performance.now() - started) / 1000
    const merged = output.split("\n").filter((line) => / merged /.test(line)).length
    if (status !== 0 || merged !== tasks) throw new Error(`${count} runner(s): exit ${status}, ${merged} of ${tasks} merged\n${output}`)
    return { seconds, merged }
  } finally {
    for (const runner of runners) runner.kill("SIGTERM")
    await Promise.all(runners.map((runner) => runner.exitCode !== null ? undefined : new Promise((done) => runner.on("close", done))))
  }
}

const scope = Effect.runSync(Scope.make())
try {
  const server = await Effect.runPromise(Scope.provide(LocalPostgres.start(), scope))
  const one = await measure(server.url, 1)
  const three = await measure(server.url, 3)
  const ratio = (three.merged / three.seconds) / (one.merged / one.seconds)
  console.log(`cluster: ${tasks} tasks, ${workerSlots} worker slots, agents ${callMs} ms per call, ${slots} iterations at once per runner`)
  console.log(`  1 runner:  ${one.seconds.toFixed(1)} s, ${(one.merged / one.seconds).toFixed(2)} merges/s`)
  console.log(`  3 runners: ${three.seconds.toFixed(1)} s, ${(three.merged / three.seconds).toFixed(2)} merges/s`)
  console.log(`  throughput ratio 3 vs 1 runners: ${ratio.toFixed(2)}x (goal >= ${goal}x) ${ratio >= goal ? "ok" : "BELOW GOAL"}`)
} finally {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  if (process.env["BENCH_KEEP"] === undefined) fs.rmSync(scratch, { recursive: true, force: true })
  else console.log(`kept ${scratch}`)
}
