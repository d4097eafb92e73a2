/**
 * The worktree environment contract (issue 18), over the in-memory world: what every agent call,
 * `setup_command` and `teardown_command` is told; ports no two workers share; a teardown however
 * the worker ends; a setup that fails stops its worker and not the run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { makeSwarmConfig } from "../../src/domain/SwarmConfig.ts"
import * as Swarm from "../../src/programs/Swarm.ts"
import * as ScriptedAgent from "../../src/testing/ScriptedAgent.ts"
import * as TestSwarm from "../../src/testing/TestSwarm.ts"
import { task, worker } from "./fixtures.ts"

const oneFilePerTask = ScriptedAgent.byCall({
  propose: (request) => ({ answer: "done", edits: { [`src/${request.task}.txt`]: `work for ${request.task}\n` } }),
  review: ScriptedAgent.approve
})

const portRange = (env: Readonly<Record<string, string>>) => {
  const [from, to] = env["OOMPA_PORTS"]!.split("-").map(Number)
  return { from: from!, to: to! }
}

describe("the worktree environment contract", () => {
  it.effect("every agent call is told its run, worker, iteration, task, worktree, repository and ports; workers' ports never overlap", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ tasks: ["a", "b", "c", "d"].map(task), script: oneFilePerTask })
      const config = makeSwarmConfig({ workers: [worker("w0"), worker("w1"), worker("w2")], worktree: { ports_per_worker: 5, setup_inputs: [], copy: [], link: [] } })
      const report = yield* Swarm.run(config, { runId: "0000e001", environment: { repo: "/home/me/project", portBase: 30_000 } }).pipe(
        Effect.provide(TestSwarm.layer(world))
      )
      assert.strictEqual(report.merged, 4)
      const calls = world.agent.calls
      assert.isAbove(calls.length, 0)
      const rangeOf = new Map<string, { from: number; to: number }>()
      for (const { request } of calls) {
        const env = request.env!
        assert.strictEqual(env["OOMPA_RUN"], "0000e001")
        assert.strictEqual(env["OOMPA_WORKER"], request.worker)
        assert.strictEqual(env["OOMPA_ITERATION"], String(request.iteration))
        assert.strictEqual(env["OOMPA_TASK"], request.task)
        assert.strictEqual(env["OOMPA_WORKTREE"], request.cwd)
        assert.strictEqual(env["OOMPA_REPO"], "/home/me/project")
        const range = portRange(env)
        assert.strictEqual(Number(env["OOMPA_PORT"]), range.from)
        assert.strictEqual(range.to - range.from + 1, 5)
        // A worker's range is the same on every call.
        const known = rangeOf.get(request.worker)
        if (known !== undefined) assert.deepStrictEqual(range, known)
        rangeOf.set(request.worker, range)
      }
      const ranges = [...rangeOf.values()].sort((a, b) => a.from - b.from)
      assert.strictEqual(ranges[0]!.from, 30_000)
      for (let i = 1; i < ranges.length; i++) assert.isAbove(ranges[i]!.from, ranges[i - 1]!.to, "two workers share a port")
    }))

  it.effect("setup and teardown get the same variables; teardown runs once per worktree, before it is removed", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ tasks: ["a", "b"].map(task), script: oneFilePerTask })
      const config = makeSwarmConfig({ workers: [worker("w0"), worker("w1")], setup_command: "make setup", teardown_command: "make down" })
      yield* Swarm.run(config, { runId: "0000e002", environment: { repo: "/r", portBase: 40_000 } }).pipe(Effect.provide(TestSwarm.layer(world)))
      const setups = world.commands.workspaceCommands.filter((c) => c.command === "make setup")
      const teardowns = world.commands.workspaceCommands.filter((c) => c.command === "make down")
      assert.isAbove(setups.length, 0)
      for (const setup of setups) {
        assert.strictEqual(setup.env["OOMPA_WORKTREE"], setup.cwd)
        assert.strictEqual(setup.env["OOMPA_RUN"], "0000e002")
        assert.isDefined(setup.env["OOMPA_ITERATION"])
        assert.isDefined(setup.env["OOMPA_PORT"])
      }
      assert.deepStrictEqual(teardowns.map((t) => t.env["OOMPA_WORKER"]).sort(), ["w0", "w1"])
      for (const teardown of teardowns) {
        assert.strictEqual(teardown.env["OOMPA_WORKTREE"], teardown.cwd)
        assert.strictEqual(teardown.env["OOMPA_REPO"], "/r")
        assert.isUndefined(teardown.env["OOMPA_ITERATION"], "teardown belongs to no iteration")
      }
      // Each worker's teardown comes after its last setup: the worktree was still there.
      for (const id of ["w0", "w1"]) {
        const order = world.commands.workspaceCommands.filter((c) => c.env["OOMPA_WORKER"] === id).map((c) => c.command)
        assert.strictEqual(order[order.length - 1], "make down")
        assert.strictEqual(order.filter((c) => c === "make down").length, 1)
      }
      assert.strictEqual(world.repo.listWorkspaces().length, 0)
    }))

  it.effect("an interrupted run still tears every worktree down", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: ["a", "b"].map(task),
        script: ScriptedAgent.byCall({ propose: () => ({ answer: "", delayMs: 60_000 }) })
      })
      const config = makeSwarmConfig({ workers: [worker("w0"), worker("w1")], teardown_command: "docker compose down" })
      const fiber = yield* Effect.forkChild(Swarm.run(config, { runId: "0000e003" }).pipe(Effect.provide(TestSwarm.layer(world))))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(world.commands.workspaceCommands.length, 0, "nothing torn down while the agents work")
      yield* Fiber.interrupt(fiber)
      const teardowns = world.commands.workspaceCommands.filter((c) => c.command === "docker compose down")
      assert.deepStrictEqual(teardowns.map((t) => t.env["OOMPA_WORKER"]).sort(), ["w0", "w1"])
      assert.strictEqual(world.repo.listWorkspaces().length, 0)
    }))

  it.effect("a failing teardown is a warning with its output; the worktree is removed all the same", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: oneFilePerTask,
        commands: { setup: (_cwd, command) => command === "stop-db" ? { passed: false, output: "db: no such container\n" } : { passed: true } }
      })
      const config = makeSwarmConfig({ workers: [worker("w0")], teardown_command: "stop-db" })
      const report = yield* Swarm.run(config, { runId: "0000e004" }).pipe(Effect.provide(TestSwarm.layer(world)))
      assert.strictEqual(report.merged, 1)
      const warnings = world.events.ofTag("Warning").map((w) => w.message)
      assert.isTrue(warnings.some((m) => m.includes("teardown_command failed") && m.includes("db: no such container")), warnings.join("\n"))
      assert.strictEqual(world.repo.listWorkspaces().length, 0)
    }))

  it.effect("a setup that fails stops its worker with the output's tail; the other worker goes on and the task goes back", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: ["a", "b"].map(task),
        script: oneFilePerTask,
        commands: {
          setup: (cwd) => cwd.endsWith("w0") ? { passed: false, output: `${"noise\n".repeat(50)}npm ERR! missing script: setup\n` } : { passed: true }
        }
      })
      const config = makeSwarmConfig({ workers: [worker("w0"), worker("w1")], setup_command: "npm run setup" })
      const report = yield* Swarm.run(config, { runId: "0000e005" }).pipe(Effect.provide(TestSwarm.layer(world)))
      const w0 = report.workers.find((w) => w.worker === "w0")!
      assert.strictEqual(w0.reason, "setup-failed")
      assert.strictEqual(w0.iterations.length, 1)
      const detail = w0.iterations[0]!.detail!
      assert.include(detail, "npm ERR! missing script: setup")
      assert.isBelow(detail.split("\n").length, 25, "the tail, not the whole output")
      assert.strictEqual(report.merged, 2, "w1 did both tasks")
      assert.deepStrictEqual(world.queue.list("complete").map((t) => t.id).sort(), ["a", "b"])
    }))

  describe("setup_command once per worktree", () => {
    /** A setup that creates `generated/dep.js` (a build output nobody ignored). */
    const creating = (world: TestSwarm.World) => (cwd: string) => {
      world.repo.writeFile(cwd, "generated/dep.js", "module.exports = 1\n")
      return { passed: true }
    }

    it.effect("a setup that only creates files runs once per worktree; what it created stays and is never committed", () =>
      Effect.gen(function*() {
        const found: Array<boolean> = []
        const world: TestSwarm.World = TestSwarm.makeWorld({
          tasks: ["a", "b", "c"].map(task),
          script: ScriptedAgent.byCall({
            propose: (request) => {
              // Each iteration's agent finds what the setup created, though it ran only for the first.
              found.push(world.repo.readFile(request.cwd, "generated/dep.js") !== undefined)
              return { answer: "done", edits: { [`src/${request.task}.txt`]: `work for ${request.task}\n` } }
            },
            review: ScriptedAgent.approve
          })
        })
        world.commands.scripts = { setup: creating(world) }
        const config = makeSwarmConfig({ workers: [worker("w0")], setup_command: "npm ci" })
        const report = yield* Swarm.run(config, { runId: "0000e006" }).pipe(Effect.provide(TestSwarm.layer(world)))
        assert.strictEqual(report.merged, 3)
        assert.deepStrictEqual(found, [true, true, true])
        assert.strictEqual(world.commands.workspaceCommands.filter((c) => c.command === "npm ci").length, 1)
        const tree = world.repo.treeOf(world.repo.mainHead())
        assert.isFalse(tree.has("generated/dep.js"), "the setup's output landed")
        for (const id of ["a", "b", "c"]) assert.isTrue(tree.has(`src/${id}.txt`))
      }))

    it.effect("it runs again when a file of worktree.setup_inputs changed on main", () =>
      Effect.gen(function*() {
        // The proposer of task b bumps the lock file: the next iteration's worktree must set up again.
        const world: TestSwarm.World = TestSwarm.makeWorld({
          files: { "package-lock.json": "{\"v\":1}\n" },
          tasks: ["a", "b", "c"].map(task),
          script: ScriptedAgent.byCall({
            propose: (request) => ({
              answer: "done",
              edits: request.task === "b" ? { "package-lock.json": "{\"v\":2}\n", "src/b.txt": "b\n" } : { [`src/${request.task}.txt`]: `${request.task}\n` }
            }),
            review: ScriptedAgent.approve
          })
        })
        world.commands.scripts = { setup: creating(world) }
        const config = makeSwarmConfig({ workers: [worker("w0")], setup_command: "npm ci", worktree: { ports_per_worker: 10, setup_inputs: ["package-lock.json"], copy: [], link: [] } })
        const report = yield* Swarm.run(config, { runId: "0000e007" }).pipe(Effect.provide(TestSwarm.layer(world)))
        assert.strictEqual(report.merged, 3)
        const setups = world.commands.workspaceCommands.filter((c) => c.command === "npm ci").map((c) => Number(c.env["OOMPA_ITERATION"]))
        assert.deepStrictEqual(setups, [1, 3], "set up for the first iteration, and after main's lock file changed")
      }))

    it.effect("a setup that changes a tracked file runs for every iteration (a reset undoes what it did)", () =>
      Effect.gen(function*() {
        const world: TestSwarm.World = TestSwarm.makeWorld({ files: { "config.txt": "default\n" }, tasks: ["a", "b"].map(task), script: oneFilePerTask })
        world.commands.scripts = {
          setup: (cwd) => {
            world.repo.writeFile(cwd, "config.txt", "local\n")
            return { passed: true }
          }
        }
        const config = makeSwarmConfig({ workers: [worker("w0")], setup_command: "./configure" })
        const report = yield* Swarm.run(config, { runId: "0000e008" }).pipe(Effect.provide(TestSwarm.layer(world)))
        assert.strictEqual(report.merged, 2)
        assert.strictEqual(world.commands.workspaceCommands.filter((c) => c.command === "./configure").length, 2)
        assert.strictEqual(world.repo.treeOf(world.repo.mainHead()).get("config.txt"), "default\n")
      }))
  })
})
