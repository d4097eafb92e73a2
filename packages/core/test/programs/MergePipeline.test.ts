/**
 * The speculative merge queue (issue 19), as a specification: whatever its depth k, the queue gives
 * the outcomes and the main a one-at-a-time queue gives for the same submissions in the same order
 * (only when they come differs); a submission delivered twice lands once; and its throughput is the
 * pipeline's: (1 − (1 − p)^k) / p candidates decided per test time, p being the share of failing
 * candidates, measured in simulated time (TestClock).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Layer } from "effect"
import * as fc from "fast-check"
import type { WorkerId } from "../../src/domain/Ids.ts"
import type { MergeStrategy } from "../../src/domain/SwarmConfig.ts"
import * as MergePipeline from "../../src/programs/MergePipeline.ts"
import * as MergeQueue from "../../src/programs/MergeQueue.ts"
import * as PolicyGate from "../../src/programs/PolicyGate.ts"
import { Git } from "../../src/services/Git.ts"
import { runToEnd } from "../../src/simulation/DiscreteTime.ts"
import * as MergeCapacity from "../../src/simulation/MergeCapacity.ts"
import * as CollectingEventSink from "../../src/testing/CollectingEventSink.ts"
import * as MemoryGit from "../../src/testing/MemoryGit.ts"
import * as ScriptedCommands from "../../src/testing/ScriptedCommands.ts"

/** One approved change: the files it writes on top of main as it was when the swarm started. */
interface Change {
  readonly files: Readonly<Record<string, string>>
}

interface Scenario {
  readonly changes: ReadonlyArray<Change>
  /** A tree fails the tests when its digest falls in this share. */
  readonly failShare: number
  readonly strategy: MergeStrategy
}

const fails = (digest: number, share: number) => ((Math.imul(digest ^ 0x5bd1e995, 0x85ebca6b) >>> 0) / 0x1_0000_0000) < share

/** Commits each change on a branch of its own from main, and returns the submissions in order. */
const prepare = (repo: MemoryGit.MemoryRepo, changes: ReadonlyArray<Change>): ReadonlyArray<MergeQueue.Submission> => {
  const base = repo.mainHead()
  const workspace = repo.acquireWorkspace("w0" as WorkerId)
  return changes.map((change, i) => {
    const branch = `oompa/w0/${i + 1}`
    repo.resetWorkspace(workspace, branch, base)
    for (const [file, content] of Object.entries(change.files)) repo.writeFile(workspace.path, file, content)
    const head = repo.commitAll(workspace, `change ${i}`) ?? base
    return { worker: `w${i % 5}`, iteration: i + 1, branch, base, head, message: `oompa: change ${i}`, task: `t${i}` }
  })
}

/** Runs `effect` in the simulator's discrete time to its end; its value. */
const inSimulatedTime = <A, E>(effect: Effect.Effect<A, E>): A => {
  const { exit } = runToEnd(effect)
  if (exit === undefined) throw new Error("the program stalled")
  if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
  return exit.value
}

const newRepo = () => MemoryGit.MemoryRepo.make({ files: { "shared.txt": "one\ntwo\nthree\n", "README.md": "# r\n" } })

/** Runs the queue at depth `k` over every submission at once; their outcomes in order, and main's first-parent chain. */
const runQueue = (scenario: Scenario, k: number, delayMs: (digest: number) => number) =>
  Effect.gen(function*() {
    const repo = newRepo()
    const submissions = prepare(repo, scenario.changes)
    const commands = new ScriptedCommands.ScriptedCommandsState(repo, {
      test: (_tree, sha) => {
        const digest = repo.treeDigest(sha)
        return { passed: !fails(digest, scenario.failShare), delayMs: delayMs(digest) }
      }
    })
    const log = new CollectingEventSink.EventLog()
    const outcomes = yield* Effect.scoped(Effect.gen(function*() {
      const queue = yield* MergeQueue.make({
        strategy: scenario.strategy,
        policy: PolicyGate.make({ deny: ["secrets/**"] }, "tasks"),
        testCommand: "npm test",
        testTimeoutMs: 60_000,
        dryRun: false,
        speculation: k
      })
      return yield* Effect.forEach(submissions, (submission) => queue.submit(submission), { concurrency: "unbounded" })
    })).pipe(Effect.provide(Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(log))))
    const chain: Array<string> = []
    for (let sha: string | undefined = repo.mainHead(); sha !== undefined; sha = repo.commit(sha).parents[0]) chain.push(sha)
    return { outcomes: outcomes.map(({ testMs: _t, waitedMs: _w, ...rest }) => rest), chain, log, repo, commands }
  })

const change = fc.oneof(
  // Its own file: merges cleanly.
  fc.nat(40).map((n): Change => ({ files: { [`src/f${n}.txt`]: `f${n}\n` } })),
  // The same line of one file: conflicts with another such change.
  fc.nat(3).map((n): Change => ({ files: { "shared.txt": `one\nchanged ${n}\nthree\n` } })),
  // A denied path: the policy fails it.
  fc.constant<Change>({ files: { "secrets/key.txt": "s3cret\n" } })
)

const scenario = fc.record({
  changes: fc.array(change, { minLength: 1, maxLength: 12 }),
  failShare: fc.constantFrom(0, 0.1, 0.3, 0.6),
  strategy: fc.constantFrom<MergeStrategy>("no-ff", "squash", "ff", "rebase")
})

describe("MergePipeline", () => {
  it("gives, at every depth, the outcomes and the main of a one-at-a-time queue for the same submissions in the same order", async () => {
    await fc.assert(fc.asyncProperty(scenario, fc.constantFrom(2, 3, 4, 8), async (s, k) => {
      // Test durations vary by tree, in real milliseconds: a candidate's test often ends before the one ahead of it.
      const serial = await Effect.runPromise(runQueue(s, 1, (digest) => digest % 4))
      const speculative = await Effect.runPromise(runQueue(s, k, (digest) => digest % 4))
      assert.deepStrictEqual(speculative.outcomes, serial.outcomes)
      assert.deepStrictEqual(speculative.chain, serial.chain)
      // Main only ever held trees that passed: each commit the queue put on its chain was tested green.
      const passed = new Set(speculative.commands.tested.filter((t) => t.passed).map((t) => t.sha))
      for (const sha of speculative.chain.slice(0, -1)) assert.isTrue(passed.has(sha), `main holds ${sha}, which never passed the tests`)
    }), { numRuns: 60 })
  })

  it("ejects a failing candidate and rebuilds those behind it on what it stood on", () =>
    inSimulatedTime(Effect.gen(function*() {
      const changes: Array<Change> = [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b\n" } }, { files: { "c.txt": "c\n" } }]
      // The second change's tree (a and b) fails: it is ejected, and the third is rebuilt on the first.
      const failing = (tree: ReadonlyMap<string, unknown>) => tree.has("b.txt")
      const repo = newRepo()
      const submissions = prepare(repo, changes)
      const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: (tree) => ({ passed: !failing(tree), delayMs: 1000 }) })
      const log = new CollectingEventSink.EventLog()
      const outcomes = yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, speculation: 3 })
        return yield* Effect.forEach(submissions, (s) => queue.submit(s), { concurrency: "unbounded" })
      })).pipe(Effect.provide(Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(log))))
      assert.deepStrictEqual(outcomes.map((o) => o._tag), ["Merged", "TestFailed", "Merged"])
      assert.strictEqual(yield* Clock.currentTimeMillis, 2000, "two test times")
      // All three tested at once, then the third again on its new chain: two test times in all.
      assert.strictEqual(commands.tested.length, 4)
      const built = log.events.filter((e) => e._tag === "CandidateBuilt")
      assert.deepStrictEqual(built.map((e) => [e.iteration, e.position, e.rebuild]), [[1, 1, 0], [2, 2, 0], [3, 3, 0], [3, 1, 1]])
      const ejected = log.events.filter((e) => e._tag === "CandidateEjected")
      assert.deepStrictEqual(ejected.map((e) => [e.iteration, e.reason, e.rebuilding]), [[2, "test-failed", 1]])
      assert.isFalse(repo.treeOf(repo.mainHead()).has("b.txt"))
      assert.isTrue(repo.treeOf(repo.mainHead()).has("c.txt"))
    })))

  it("with a remote target, a teammate's push during the tests is built on, never overwritten: the candidates are rebuilt onto it and retested", () =>
    inSimulatedTime(Effect.gen(function*() {
      const repo = newRepo()
      repo.useRemote()
      const submissions = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b\n" } }])
      let teammate: string | undefined
      const commands = new ScriptedCommands.ScriptedCommandsState(repo, {
        test: () => {
          // While the first candidates are under test, a teammate pushes to the remote.
          teammate ??= repo.pushAsTeammate({ "teammate.txt": "theirs\n" }, "teammate: a push")
          return { passed: true, delayMs: 1000 }
        }
      })
      const log = new CollectingEventSink.EventLog()
      const outcomes = yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, speculation: 2 })
        return yield* Effect.forEach(submissions, (s) => queue.submit(s), { concurrency: "unbounded" })
      })).pipe(Effect.provide(Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(log))))
      assert.deepStrictEqual(outcomes.map((o) => o._tag), ["Merged", "Merged"])
      assert.strictEqual(outcomes[0]!._tag === "Merged" ? outcomes[0]!.previous : undefined, teammate, "the first landed on the teammate's push")
      assert.isTrue(repo.isAncestor(teammate!, repo.remote!.head), "the teammate's push is on the remote")
      assert.strictEqual(repo.remote!.head, repo.mainHead(), "the local branch followed")
      const files = repo.treeOf(repo.remote!.head)
      assert.deepStrictEqual(["a.txt", "b.txt", "teammate.txt"].map((f) => files.has(f)), [true, true, true])
      assert.deepStrictEqual(log.events.flatMap((e) => e._tag === "TargetMoved" ? [e.to] : []), [teammate!])
      // Both were tested on the old head, then both rebuilt on the push and tested again.
      assert.strictEqual(commands.tested.length, 4)
      assert.deepStrictEqual(log.events.filter((e) => e._tag === "CandidateBuilt").map((e) => e._tag === "CandidateBuilt" && [e.iteration, e.position, e.rebuild]), [[1, 1, 0], [2, 2, 0], [1, 1, 1], [2, 2, 1]])
    })))

  it("lands a submission delivered twice once: the copy gets the outcome of the one that was queued", () =>
    inSimulatedTime(Effect.gen(function*() {
      const repo = newRepo()
      const [first, second] = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b\n" } }])
      const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: () => ({ passed: true, delayMs: 10 }) })
      const log = new CollectingEventSink.EventLog()
      const outcomes = yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, speculation: 2 })
        const together = yield* Effect.all([queue.submit(first!), queue.submit(first!), queue.submit(second!)], { concurrency: "unbounded" })
        // Delivered again after it landed: the same outcome, nothing moves.
        const later = yield* queue.submit(first!)
        return [...together, later]
      })).pipe(Effect.provide(Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(log))))
      assert.deepStrictEqual(outcomes.map((o) => o._tag), ["Merged", "Merged", "Merged", "Merged"])
      assert.strictEqual(outcomes[1], outcomes[0])
      assert.strictEqual(outcomes[3], outcomes[0])
      assert.strictEqual(log.events.filter((e) => e._tag === "MergeResult").length, 2)
      const landed = []
      for (let sha: string | undefined = repo.mainHead(); sha !== undefined; sha = repo.commit(sha).parents[0]) landed.push(repo.commit(sha).message)
      assert.deepStrictEqual(landed.filter((m) => m.startsWith("oompa:")), ["oompa: change 1", "oompa: change 0"])
    })))

  for (const p of [0.05, 0.1, 0.3]) {
    it(`decides at least 0.95 of (1 − (1 − p)^k) / p candidates per test time at p = ${p}, k = 1, 2, 4, 8 (simulated time)`, () => {
      for (const k of [1, 2, 4, 8]) {
        const capacity = MergeCapacity.measure({ failShare: p, speculation: k, changes: 300 })
        // Against the rate at the share of trees that really failed in this run (300 draws of p).
        const expected = MergeCapacity.expectedDecidedPerTest(capacity.observedFailShare, k)
        assert.isAtLeast(capacity.decidedPerTest, 0.95 * expected, `k = ${k}: ${capacity.decidedPerTest.toFixed(2)} decided per test time, expected ${expected.toFixed(2)}`)
        assert.isAtMost(capacity.decidedPerTest, k)
        assert.strictEqual(capacity.decided, 300)
        assert.approximately(capacity.observedFailShare, p, 0.08)
      }
    })
  }

  for (const k of [1, 2]) {
    it(`a halted queue lands nothing more, even once main was put back (k = ${k})`, () =>
      inSimulatedTime(Effect.gen(function*() {
        const repo = newRepo()
        const submissions = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b\n" } }])
        const start = repo.mainHead()
        const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: () => ({ passed: true, delayMs: 1000 }) })
        const outcomes = yield* Effect.scoped(Effect.gen(function*() {
          const queue = yield* MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, speculation: k })
          const noticing = Effect.gen(function*() {
            yield* Effect.sleep(500)
            // Someone moves main while the first is under test, an agent's call ends and notices, then main is put back.
            repo.setBranch("main", repo.commitWithParents([start], "outside", start))
            assert.strictEqual((yield* queue.checkMain({ worker: "w9", iteration: 1 }))._tag, "Moved")
            repo.setBranch("main", start)
          })
          const [landed] = yield* Effect.all([Effect.forEach(submissions, (s) => queue.submit(s), { concurrency: "unbounded" }), noticing], { concurrency: "unbounded" })
          return landed
        })).pipe(Effect.provide(Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(new CollectingEventSink.EventLog()))))
        assert.deepStrictEqual(outcomes.map((o) => o._tag), ["MainMoved", "MainMoved"])
        assert.strictEqual(repo.mainHead(), start)
      })))
  }

  it("a submission whose submitter is interrupted (Ctrl-C) while it is under test never lands, and those behind it are rebuilt without it", () =>
    inSimulatedTime(Effect.gen(function*() {
      const repo = newRepo()
      const [first, second] = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b\n" } }])
      const start = repo.mainHead()
      const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: () => ({ passed: true, delayMs: 1000 }) })
      const log = new CollectingEventSink.EventLog()
      const [late, second_] = yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, speculation: 2 })
        const interrupted = yield* Effect.forkChild(queue.submit(first!))
        const other = yield* Effect.forkChild(queue.submit(second!))
        yield* Effect.sleep(500)
        // The first one's worker is interrupted while both are under test, and gives its task back.
        yield* Fiber.interrupt(interrupted)
        const outcome = yield* Fiber.join(other)
        // Delivered again later, the withdrawn submission stays withdrawn.
        const again = yield* Effect.exit(queue.submit(first!))
        return [again, outcome] as const
      })).pipe(Effect.provide(Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(log))))
      assert.strictEqual(second_._tag, "Merged")
      assert.isTrue(Exit.isFailure(late))
      const tree = repo.treeOf(repo.mainHead())
      assert.deepStrictEqual([tree.has("a.txt"), tree.has("b.txt")], [false, true])
      assert.strictEqual(repo.commit(repo.mainHead()).parents[0], start, "the second landed on main, not on the withdrawn one")
      assert.deepStrictEqual(log.events.flatMap((e) => e._tag === "CandidateEjected" ? [[e.iteration, e.reason, e.rebuilding]] : []), [[1, "withdrawn", 1]])
    })))

  it("with a remote target, a submitter interrupted while its push is refused (a teammate pushed) withdraws it: no rebuild, no retest, no wait for one", () =>
    inSimulatedTime(Effect.gen(function*() {
      const repo = newRepo()
      repo.useRemote()
      const [first] = prepare(repo, [{ files: { "a.txt": "a\n" } }])
      const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: () => ({ passed: true, delayMs: 1000 }) })
      const log = new CollectingEventSink.EventLog()
      const base = MemoryGit.make(repo)
      // The push takes time; a teammate's push lands while it is on its way, so it is refused.
      const git = {
        ...base,
        compareAndSwapMain: (expected: string, next: string, landed?: ReadonlyArray<string>, retired?: string) =>
          Effect.andThen(
            Effect.andThen(Effect.sleep(100), Effect.sync(() => repo.pushAsTeammate({ "teammate.txt": "theirs\n" }, "teammate"))),
            base.compareAndSwapMain(expected, next, landed, retired)
          )
      }
      yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, speculation: 1 })
        const submitter = yield* Effect.forkChild(queue.submit(first!))
        yield* Effect.sleep(1050)
        // Ctrl-C while the push is on its way: the submitter waits for its answer, which is a refusal.
        yield* Fiber.interrupt(submitter)
        assert.isTrue(yield* Clock.currentTimeMillis.pipe(Effect.map((now) => now < 1000 + 1000)), "the interruption did not wait for a retest")
      })).pipe(Effect.provide(Layer.mergeAll(Layer.succeed(Git, git), ScriptedCommands.layer(commands), CollectingEventSink.layer(log))))
      assert.strictEqual(commands.tested.length, 1, "not retested")
      assert.isFalse(repo.treeOf(repo.remote!.head).has("a.txt"))
      assert.deepStrictEqual(log.events.flatMap((e) => e._tag === "CandidateEjected" ? [e.reason] : []), ["withdrawn"])
    })))

  it("a copy delivered after its submission was decided gets that outcome, and is not tested again", () =>
    inSimulatedTime(Effect.gen(function*() {
      const repo = newRepo()
      const [first, second] = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b\n" } }])
      const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: (tree) => ({ passed: !tree.has("a.txt"), delayMs: 10 }) })
      const outcomes = yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, speculation: 2 })
        const decided = yield* Effect.all([queue.submit(first!), queue.submit(second!)], { concurrency: "unbounded" })
        const testsBefore = commands.tested.length
        const late = yield* queue.submit(first!)
        assert.strictEqual(commands.tested.length, testsBefore, "the late copy ran no test")
        // The worker's own next submission (its fix) is a new one: merged and tested again.
        const resubmitted = yield* queue.submit({ ...first!, number: 2 })
        return [...decided, late, resubmitted]
      })).pipe(Effect.provide(Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(new CollectingEventSink.EventLog()))))
      assert.deepStrictEqual(outcomes.map((o) => o._tag), ["TestFailed", "Merged", "TestFailed", "TestFailed"])
      assert.strictEqual(outcomes[2], outcomes[0])
    })))

  it("a submission made after the queue died of a defect fails too, instead of waiting for ever", () =>
    inSimulatedTime(Effect.gen(function*() {
      const repo = newRepo()
      const [first, second] = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b\n" } }])
      const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: () => ({ passed: true, delayMs: 10 }) })
      const exits = yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, speculation: 1 })
        const dead = yield* Effect.exit(queue.submit(first!))
        return [dead, yield* Effect.exit(queue.submit(second!))]
      })).pipe(Effect.provide(Layer.mergeAll(
        Layer.succeed(Git, { ...MemoryGit.make(repo), compareAndSwapMain: () => Effect.succeed(false) }),
        ScriptedCommands.layer(commands),
        CollectingEventSink.layer(new CollectingEventSink.EventLog())
      )))
      assert.isTrue(exits.every(Exit.isFailure))
    })))

  it("fails every waiting submission with a defect of the pipeline, instead of leaving them waiting", () =>
    inSimulatedTime(Effect.gen(function*() {
      const repo = newRepo()
      const submissions = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b\n" } }])
      const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: () => ({ passed: true, delayMs: 10 }) })
      const exits = yield* Effect.scoped(Effect.gen(function*() {
        const queue = yield* MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, speculation: 2 })
        // The compare-and-swap fails with main where the queue last saw it: an assertion of the queue breaks.
        return yield* Effect.forEach(submissions, (s) => Effect.exit(queue.submit(s)), { concurrency: "unbounded" })
      })).pipe(Effect.provide(Layer.mergeAll(
        Layer.succeed(Git, { ...MemoryGit.make(repo), compareAndSwapMain: () => Effect.succeed(false) }),
        ScriptedCommands.layer(commands),
        CollectingEventSink.layer(new CollectingEventSink.EventLog())
      )))
      assert.isTrue(exits.every(Exit.isFailure), "every submission failed")
    })))

  describe("a queue started after another died (a cluster's failover) meets copies of what that one landed", () => {
    /** A landing by queue A, then copies of it and a new iteration's work for the same task, given to queue B. */
    const failover = (broken: ReadonlySet<MergePipeline.BrokenPipeline>) =>
      inSimulatedTime(Effect.gen(function*() {
        const repo = newRepo()
        repo.useRemote()
        const [first, again] = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b, the task reopened\n" } }]).map((s, i) => ({
          ...s,
          task: "t0",
          branch: `oompa/0badc0de/w0-${i + 1}`,
          message: `oompa: t0\n\nOompa-Run: 0badc0de\nOompa-Task: t0\nOompa-Worker: w0\nOompa-Iteration: ${i + 1}`
        }))
        const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: () => ({ passed: true, delayMs: 10 }) })
        const log = new CollectingEventSink.EventLog()
        const options = { strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false } as const
        const services = Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(log), Layer.succeed(MergePipeline.Broken, broken))
        const landed = yield* Effect.scoped(Effect.flatMap(MergeQueue.make(options), (a) => a.submit(first!))).pipe(Effect.provide(services))
        const mainAfterA = repo.remote!.head
        const testsAfterA = commands.tested.length
        // Queue A is gone with what it remembered; B starts from the remote, and gets the copy twice, at once.
        const [copy, copyAgain] = yield* Effect.scoped(Effect.flatMap(MergeQueue.make(options), (b) =>
          Effect.all([b.submit(first!), b.submit(first!)], { concurrency: "unbounded" }))).pipe(Effect.provide(services))
        const copies = { copy, copyAgain, mainAfterCopies: repo.remote!.head, testedForCopies: commands.tested.length - testsAfterA }
        const reopened = yield* Effect.scoped(Effect.flatMap(MergeQueue.make(options), (c) => c.submit(again!))).pipe(Effect.provide(services))
        return { landed, mainAfterA, ...copies, reopened, mainAtEnd: repo.remote!.head }
      }))

    it("a copy is answered with the landing main holds, by the task's merged marker and its trailers, and nothing moves or is tested", () => {
      const run = failover(new Set())
      assert.strictEqual(run.landed._tag, "Merged")
      assert.deepStrictEqual([run.copy, run.copyAgain].map((o) => o._tag === "Merged" && o.sha), [run.mainAfterA, run.mainAfterA])
      assert.strictEqual(run.mainAfterCopies, run.mainAfterA, "main did not move for the copies")
      assert.strictEqual(run.testedForCopies, 0)
      // Another iteration's work for the same task (a task reopened) is not taken for the landed one.
      assert.strictEqual(run.reopened._tag, "Merged")
      assert.notStrictEqual(run.mainAtEnd, run.mainAfterA)
    })

    it("an iteration redone after its runner died submits other work for the same task while the first is still queued: one lands, both are answered with it", () => {
      const run = inSimulatedTime(Effect.gen(function*() {
        const repo = newRepo()
        repo.useRemote()
        const [first, redone] = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b, redone\n" } }]).map((s) => ({
          ...s,
          worker: "w0",
          iteration: 5,
          task: "t0",
          branch: "oompa/0badc0de/w0-5",
          message: "oompa: t0\n\nOompa-Run: 0badc0de\nOompa-Task: t0\nOompa-Worker: w0\nOompa-Iteration: 5"
        }))
        const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: () => ({ passed: true, delayMs: 10 }) })
        const log = new CollectingEventSink.EventLog()
        const start = repo.remote!.head
        const outcomes = yield* Effect.scoped(Effect.flatMap(
          MergeQueue.make({ strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false }),
          (queue) => Effect.all([queue.submit(first!), queue.submit(redone!)], { concurrency: "unbounded" })
        )).pipe(Effect.provide(Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(log))))
        return { outcomes, landings: repo.commit(repo.remote!.head).parents[0] === start ? 1 : 2 }
      }))
      assert.deepStrictEqual(run.outcomes.map((o) => o._tag), ["Merged", "Merged"])
      assert.strictEqual(run.outcomes[1]!._tag === "Merged" && run.outcomes[1]!.sha, run.outcomes[0]!._tag === "Merged" && run.outcomes[0]!.sha)
      assert.strictEqual(run.landings, 1, "main moved once")
    })

    it("a marker an agent pointed at its own commit on main, whose trailers name another iteration, is not taken for that iteration's landing", () => {
      const run = inSimulatedTime(Effect.gen(function*() {
        const repo = newRepo()
        repo.useRemote()
        const [mine, theirs] = prepare(repo, [{ files: { "a.txt": "a\n" } }, { files: { "b.txt": "b\n" } }])
        // The hostile agent's commit carries the trailers of w1's iteration 7 on task t9; its work
        // landed, reviewed for its diff, merged with its history as git merges it (the merge's second parent).
        const forged = repo.commitWithParents([mine!.head], "agent\n\nOompa-Run: 0badc0de\nOompa-Task: t9\nOompa-Worker: w1\nOompa-Iteration: 7")
        repo.remote!.head = repo.commitWithParents([mine!.base, forged], "oompa: t0\n\nOompa-Run: 0badc0de\nOompa-Task: t0\nOompa-Worker: w0\nOompa-Iteration: 1", forged)
        const commands = new ScriptedCommands.ScriptedCommandsState(repo, { test: () => ({ passed: true, delayMs: 10 }) })
        const options = { strategy: "no-ff", policy: PolicyGate.make({}, "tasks"), testCommand: "t", testTimeoutMs: 60_000, dryRun: false, landsOnce: true } as const
        const services = Layer.mergeAll(MemoryGit.layer(repo), ScriptedCommands.layer(commands), CollectingEventSink.layer(new CollectingEventSink.EventLog()))
        repo.forgeMarker("t9", forged)
        const before = repo.remote!.head
        const victim = { ...theirs!, worker: "w1", iteration: 7, task: "t9", branch: "oompa/0badc0de/w1-7", message: "oompa: t9\n\nOompa-Run: 0badc0de\nOompa-Task: t9\nOompa-Worker: w1\nOompa-Iteration: 7" }
        const outcome = yield* Effect.scoped(Effect.flatMap(MergeQueue.make(options), (b) => b.submit(victim))).pipe(Effect.provide(services))
        return { outcome, forged, before, after: repo.remote!.head }
      }))
      assert.strictEqual(run.outcome._tag, "Merged")
      assert.notStrictEqual(run.outcome._tag === "Merged" && run.outcome.sha, run.forged, "answered with the agent's commit")
      assert.notStrictEqual(run.after, run.before, "w1's work landed")
    })

    it("without that look (the variant lands-twice-after-failover), the copy lands a second time", () => {
      const run = failover(new Set(["lands-twice-after-failover"]))
      assert.notStrictEqual(run.mainAfterCopies, run.mainAfterA, "the broken queue moved main for a copy")
    })
  })
})
