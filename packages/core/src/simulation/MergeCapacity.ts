/**
 * The speculative merge queue's capacity, measured in the simulator (issue 19): the real
 * `MergeQueue` over an in-memory repository, fed more approved changes than it can take, each test
 * taking the same simulated time and failing for a share `p` of trees (decided by the tree's
 * content). It reports candidates decided (landed or ejected) and landed per test time, next to the
 * pipeline's expected rate: with depth k, a round of k parallel tests decides candidates up to and
 * including the first that fails, (1 − (1 − p)^k) / p of them on average, (1 − p) times that landed.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Layer } from "effect"
import type { WorkerId } from "../domain/Ids.ts"
import * as MergeQueue from "../programs/MergeQueue.ts"
import * as PolicyGate from "../programs/PolicyGate.ts"
import * as CollectingEventSink from "../testing/CollectingEventSink.ts"
import * as MemoryGit from "../testing/MemoryGit.ts"
import * as ScriptedCommands from "../testing/ScriptedCommands.ts"
import { runToEnd } from "./DiscreteTime.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface CapacityOptions {
  /** The share of trees that fail the tests. */
  readonly failShare: number
  /** The queue's depth (`merge.speculation`). */
  readonly speculation: number
  /** Approved changes, all waiting from the start (none conflict). */
  readonly changes: number
  /** How long every test runs, in simulated ms. */
  readonly testMs?: number
  /** Picks which trees fail; the same salt, the same trees. */
  readonly salt?: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Capacity {
  readonly decided: number
  readonly landed: number
  readonly ejected: number
  /** Every test the queue ran, rebuilt candidates' included. */
  readonly tests: number
  readonly simulatedMs: number
  /** Candidates decided per test time. */
  readonly decidedPerTest: number
  readonly landedPerTest: number
  /** The share of decided candidates that failed: the `p` this run really saw. */
  readonly observedFailShare: number
}

/**
 * Candidates decided per test time by a pipeline of depth `k` when a share `p` of them fail:
 * (1 − (1 − p)^k) / p (k when nothing fails).
 *
 * @category formulas
 * @since 0.1.0
 */
export const expectedDecidedPerTest = (p: number, k: number): number => p === 0 ? k : (1 - (1 - p) ** k) / p

const failsShare = (digest: number, salt: number, share: number): boolean => {
  let h = Math.imul(digest ^ salt, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return ((h ^ (h >>> 16)) >>> 0) / 0x1_0000_0000 < share
}

/**
 * Runs the queue over `changes` approved changes in simulated time and measures it.
 *
 * @category programs
 * @since 0.1.0
 */
export const measure = (options: CapacityOptions): Capacity => {
  const testMs = options.testMs ?? 60_000
  const salt = options.salt ?? 0x2545f491
  const repo = MemoryGit.MemoryRepo.make({ files: { "README.md": "# capacity\n" } })
  const base = repo.mainHead()
  const workspace = repo.acquireWorkspace("w0" as WorkerId)
  const submissions = Array.from({ length: options.changes }, (_, i): MergeQueue.Submission => {
    const branch = `oompa/w0/${i + 1}`
    repo.resetWorkspace(workspace, branch, base)
    repo.writeFile(workspace.path, `src/change-${i}.txt`, `change ${i}\n`)
    const head = repo.commitAll(workspace, `change ${i}`)!
    return { worker: `w${i}`, iteration: 1, branch, base, head, message: `oompa: change ${i}`, task: `t${i}` }
  })
  const commands = new ScriptedCommands.ScriptedCommandsState(repo, {
    test: (_tree, sha) => ({ passed: !failsShare(repo.treeDigest(sha), salt, options.failShare), delayMs: testMs })
  })
  const program = Effect.scoped(Effect.gen(function*() {
    const queue = yield* MergeQueue.make({
      strategy: "no-ff",
      policy: PolicyGate.make({}, "tasks"),
      testCommand: "test",
      testTimeoutMs: testMs * 2,
      dryRun: false,
      speculation: options.speculation
    })
    return yield* Effect.forEach(submissions, (submission) => queue.submit(submission), { concurrency: "unbounded" })
  })).pipe(Effect.provide(Layer.mergeAll(
    MemoryGit.layer(repo),
    ScriptedCommands.layer(commands),
    CollectingEventSink.layer(new CollectingEventSink.EventLog(undefined, { retain: false }))
  )))
  const { elapsedMs, exit } = runToEnd(program)
  if (exit === undefined || Exit.isFailure(exit)) throw new Error(`the merge queue did not finish its ${options.changes} changes: ${exit === undefined ? "it stalled" : String(exit.cause)}`)
  const landed = exit.value.filter((outcome) => outcome._tag === "Merged").length
  const ejected = exit.value.filter((outcome) => outcome._tag === "TestFailed").length
  const testTimes = elapsedMs / testMs
  return {
    decided: exit.value.length,
    landed,
    ejected,
    tests: commands.tested.length,
    simulatedMs: elapsedMs,
    decidedPerTest: exit.value.length / testTimes,
    landedPerTest: landed / testTimes,
    observedFailShare: ejected / exit.value.length
  }
}
