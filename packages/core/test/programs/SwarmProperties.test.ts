/**
 * Swarm properties under arbitrary worker counts and agent behaviours. Goal: the merge queue never
 * runs two merges at once, every approved change is merged or reported as a conflict with its branch
 * kept, no task is held by two workers, and every claim is settled. Method: fast-check draws the
 * swarm's shape and a seed; a seeded script decides each agent answer (edits that may overlap and
 * conflict, verdicts, crashes, failing tests); checkers watch every event as it is emitted.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { Event } from "../../src/domain/Event.ts"
import type { WorkerId } from "../../src/domain/Ids.ts"
import { makeSwarmConfig, type WorkerConfig } from "../../src/domain/SwarmConfig.ts"
import type { Task } from "../../src/domain/Task.ts"
import * as Swarm from "../../src/programs/Swarm.ts"
import { Git } from "../../src/services/Git.ts"
import * as MemoryGit from "../../src/testing/MemoryGit.ts"
import * as SimulatedTime from "../../src/testing/SimulatedTime.ts"
import type * as ScriptedAgent from "../../src/testing/ScriptedAgent.ts"
import * as TestSwarm from "../../src/testing/TestSwarm.ts"

/** mulberry32: a tiny seeded generator, so one fast-check seed fixes every agent answer. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Shape {
  readonly workers: number
  readonly tasks: number
  readonly seed: number
  readonly conflictRate: number
  readonly crashRate: number
  readonly approveRate: number
  readonly testFailRate: number
  readonly onConflict: "abort" | "agent"
  readonly strategy: "no-ff" | "ff" | "squash" | "rebase"
}

const shape: fc.Arbitrary<Shape> = fc.record({
  workers: fc.integer({ min: 1, max: 6 }),
  tasks: fc.integer({ min: 1, max: 10 }),
  seed: fc.integer(),
  conflictRate: fc.double({ min: 0, max: 0.8, noNaN: true }),
  crashRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
  approveRate: fc.double({ min: 0.2, max: 1, noNaN: true }),
  testFailRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
  onConflict: fc.constantFrom("abort", "agent"),
  strategy: fc.constantFrom("no-ff", "ff", "squash", "rebase")
})

const scriptOf = (s: Shape): ScriptedAgent.Script => {
  const random = prng(s.seed)
  return (request, files) => {
    const delayMs = Math.floor(random() * 5000)
    if (random() < s.crashRate) return { answer: "", exitCode: 1, stderr: "crashed", delayMs }
    if (request.call === "review") {
      const r = random()
      return { delayMs, answer: r < s.approveRate ? "VERDICT: APPROVED" : r < (1 + s.approveRate) / 2 ? "VERDICT: NEEDS_CHANGES\n- again" : random() < 0.5 ? "VERDICT: REJECTED\nno" : "garbage ~~~" }
    }
    // Overlapping edits: everyone rewrites line 1 of shared.txt, which conflicts across branches.
    const shared = files.read("shared.txt")
    const lines = typeof shared === "string" ? shared.split("\n") : ["", "", ""]
    const edits: Record<string, string> = { [`src/${request.worker}-${request.iteration}-${Math.floor(random() * 1e6)}.txt`]: `${request.task}\n` }
    if (random() < s.conflictRate) edits["shared.txt"] = [`${request.worker} ${request.iteration} ${random()}`, ...lines.slice(1)].join("\n")
    return { delayMs, answer: "done", edits }
  }
}

/** Watches the trace as it is emitted and records every broken invariant. */
const makeChecker = () => {
  const broken: Array<string> = []
  const holders = new Map<string, string>()
  let mergesInFlight = 0
  /** Heads submitted to the merge queue: only approved work is submitted. */
  const approvedHeads = new Set<string>()
  const observe = (event: Event) => {
    switch (event._tag) {
      case "TaskClaimed": {
        const holder = holders.get(event.task)
        if (holder !== undefined) broken.push(`task ${event.task} claimed by ${event.worker} while ${holder} holds it`)
        holders.set(event.task, event.worker)
        break
      }
      case "TaskMoved":
        if (event.from === "current") holders.delete(event.task)
        break
      case "MergeQueued":
        break
      case "MergeResult":
        mergesInFlight--
        if (mergesInFlight !== 0) broken.push(`merge of ${event.branch} ended with ${mergesInFlight} other merges in flight`)
        break
    }
  }
  return { broken, holders, observe, approvedHeads, startMerge: () => {
    mergesInFlight++
    if (mergesInFlight > 1) broken.push(`${mergesInFlight} merges in flight at once`)
  } }
}

const runShape = (s: Shape) =>
  Effect.gen(function*() {
    const checker = makeChecker()
    const tasks = Array.from({ length: s.tasks }, (_, i) => ({ id: `t${i}`, summary: `task ${i}` }) as Task)
    const random = prng(s.seed ^ 0x5eed)
    const world = TestSwarm.makeWorld({
      files: { "shared.txt": "one\ntwo\nthree\n" },
      tasks,
      script: scriptOf(s),
      observe: checker.observe,
      commands: {
        test: () => {
          return { passed: random() >= s.testFailRate, output: "1 test failed", delayMs: 3000 }
        }
      }
    })
    const workers: Array<WorkerConfig> = Array.from({ length: s.workers }, (_, i) => ({
      id: `w${i}` as WorkerId,
      agent: { harness: "codex" },
      role: "executor",
      iterations: 20,
      prompt: [],
      wait_between: 0,
      budget: {}
    }))
    const config = makeSwarmConfig({
      workers,
      test_command: "npm test",
      merge: { strategy: s.strategy, on_conflict: s.onConflict, speculation: 1 },
      max_task_attempts: 3
    })
    // A merge is in flight from the queue's call to Git.merge until its MergeResult event.
    const base = MemoryGit.make(world.repo)
    const countingGit = Layer.succeed(Git, Git.of({
      ...base,
      merge: (request) => Effect.andThen(Effect.sync(() => {
        checker.startMerge()
        checker.approvedHeads.add(request.head)
      }), base.merge(request))
    }))
    const report = yield* SimulatedTime.run(
      Swarm.run(config, { runId: "0000beef" }).pipe(Effect.provide(countingGit), Effect.provide(TestSwarm.layer(world))),
      { stepMs: 500 }
    )
    return { world, report, checker, approvedHeads: checker.approvedHeads }
  })

describe("Swarm properties", () => {
  it.effect("merges one at a time, loses no approved work, never double-holds a task", () => {
    // Coverage: the runs must actually merge, conflict, fail tests and send work back, or they prove nothing.
    const seen = { merged: 0, unmerged: 0, testFailed: 0, fixes: 0, failedTasks: 0 }
    return Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(shape, (s) =>
          Effect.runPromise(runShape(s).pipe(Effect.provide(TestClock.layer()))).then(({ world, report, checker, approvedHeads }) => {
            assert.deepStrictEqual(checker.broken, [])
            seen.merged += report.merged
            seen.unmerged += report.unmerged.length
            seen.testFailed += world.events.ofTag("TestResult").filter((t) => !t.passed).length
            seen.fixes += world.agent.callsOf("fix").length
            seen.failedTasks += world.queue.list("failed").length
            assert.strictEqual(world.queue.list("current").length, 0, "a claim was left in current/")
            assert.strictEqual(checker.holders.size, 0, "a claim was never settled")
            const finished = world.events.ofTag("IterationFinished")
            const merged = world.events.ofTag("MergeResult").filter((m) => m.outcome === "merged")
            // Every merge moved main from exactly the previous head: one at a time, nothing lost.
            const history = world.repo.mainHistory
            assert.strictEqual(history.length, merged.length + 1)
            merged.forEach((m, i) => {
              assert.strictEqual(m.previous, history[i])
              assert.strictEqual(m.sha, history[i + 1])
            })
            // Approved work that did not land is reported, and its branch still holds it.
            for (const unmerged of report.unmerged) {
              assert.isDefined(world.repo.branchHead(unmerged.branch), `${unmerged.branch} was deleted`)
            }
            assert.isAtLeast(report.unmerged.length, finished.filter((f) => f.outcome === "conflict").length)
            for (const unmerged of report.unmerged) {
              // The kept branch holds approved work: a commit some reviewer approved.
              const head = world.repo.branchHead(unmerged.branch)!
              assert.isTrue(approvedHeads.has(head), `${unmerged.branch} points to unapproved ${head}`)
            }
            // Each task is complete at most once and its merge is on main.
            for (const task of world.queue.list("complete")) {
              assert.include(history, task.merged_sha!)
            }
            assert.strictEqual(world.queue.list("complete").length, finished.filter((f) => f.outcome === "merged").length)
            // Nothing else is left behind.
            assert.strictEqual(world.repo.listWorkspaces().length, 0)
            const keptBranches = world.repo.listBranches("oompa/").map((b) => b.name).sort()
            assert.deepStrictEqual(keptBranches, report.unmerged.map((u) => u.branch).sort())
          })
        ),
        { numRuns: Number(process.env.SWARM_PROPERTY_RUNS ?? (process.env.OOMPA_LONG ? 3000 : 150)) }
      )
    ).pipe(Effect.tap(() =>
      Effect.sync(() => {
        for (const [what, count] of Object.entries(seen)) assert.isAbove(count, 0, `no run exercised ${what}`)
      })
    ))
  })
})
