/**
 * The merge queue (SPEC F6, F8): the only way work reaches main.
 *
 * One fiber takes submissions in order and handles one at a time: it merges the candidate onto the
 * current main (a new commit nobody points to), checks the merge result against the policy, runs
 * the test gate on exactly that commit while it holds the queue, and moves main by compare-and-swap
 * only to that tested commit. When main moved underneath (someone else pushed), it starts over on
 * the new main, a bounded number of times. The fiber never ends on its own; the swarm's scope
 * interrupts it.
 *
 * Needs `Git`, `CommandRunner` (when a test command is set) and `EventSink`.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Effect, Queue } from "effect"
import type { MergeStrategy } from "../domain/SwarmConfig.ts"
import { CommandRunner } from "../services/CommandRunner.ts"
import type { CommandError, GitError } from "../services/Errors.ts"
import { emitNow, EventSink } from "../services/EventSink.ts"
import { Git } from "../services/Git.ts"
import type * as PolicyGate from "./PolicyGate.ts"

/**
 * Approved work asking to land.
 *
 * @category models
 * @since 0.1.0
 */
export interface Submission {
  readonly worker: string
  readonly iteration: number
  readonly branch: string
  /** The approved commit (head of the worker's branch). */
  readonly head: string
  readonly message: string
}

/**
 * What happened to a submission.
 *
 * @category models
 * @since 0.1.0
 */
export type MergeOutcome =
  | { readonly _tag: "Merged"; readonly sha: string; readonly previous: string; readonly waitedMs: number; readonly testMs: number }
  | { readonly _tag: "Conflict"; readonly files: ReadonlyArray<string>; readonly waitedMs: number }
  | { readonly _tag: "TestFailed"; readonly output: string; readonly waitedMs: number; readonly testMs: number }
  | { readonly _tag: "PolicyFailed"; readonly violations: ReadonlyArray<string>; readonly waitedMs: number }
  | { readonly _tag: "DryRun"; readonly sha: string; readonly waitedMs: number; readonly testMs: number }

/**
 * @category models
 * @since 0.1.0
 */
export interface MergeQueue {
  /** Queues the submission and waits for its outcome. */
  readonly submit: (submission: Submission) => Effect.Effect<MergeOutcome, GitError | CommandError>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly strategy: MergeStrategy
  readonly policy: PolicyGate.PolicyGate
  readonly testCommand: string | undefined
  readonly testTimeoutMs: number
  readonly dryRun: boolean
  /** How often a lost compare-and-swap (main moved by someone else) is retried on the new main. */
  readonly casRetriesMax: number
}

interface Entry {
  readonly submission: Submission
  readonly queuedAtMs: number
  readonly done: Deferred.Deferred<MergeOutcome, GitError | CommandError>
}

/** Capacity of the queue: more than any swarm has workers, each of which waits for its own entry. */
const queueCapacity = 1024

/**
 * Starts the queue's fiber in the current scope and returns the queue.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<Entry>(queueCapacity)
    const sink = yield* EventSink
    const handle = Effect.fnUntraced(function*(entry: Entry) {
      const startedMs = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(process(entry.submission, startedMs - entry.queuedAtMs, options))
      yield* Deferred.done(entry.done, exit)
    })
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(queue), handle)))
    const submit = Effect.fnUntraced(function*(submission: Submission) {
      const done = yield* Deferred.make<MergeOutcome, GitError | CommandError>()
      const queuedAtMs = yield* Clock.currentTimeMillis
      const position = (yield* Queue.size(queue)) + 1
      yield* sink.emit({ _tag: "MergeQueued", at: queuedAtMs, worker: submission.worker, iteration: submission.iteration, position })
      yield* Queue.offer(queue, { submission, queuedAtMs, done })
      return yield* Deferred.await(done)
    })
    return { submit } satisfies MergeQueue
  })

const process = Effect.fnUntraced(function*(submission: Submission, waitedMs: number, options: Options) {
  const git = yield* Git
  const sink = yield* EventSink
  const report = (outcome: "merged" | "conflict" | "test-failed" | "policy-failed" | "dry-run", fields: {
    readonly sha?: string
    readonly previous?: string
    readonly files?: ReadonlyArray<string>
  }) =>
    emitNow((at) => ({
      _tag: "MergeResult",
      at,
      worker: submission.worker,
      iteration: submission.iteration,
      outcome,
      branch: submission.branch,
      files: fields.files ?? [],
      ...(fields.sha === undefined ? {} : { sha: fields.sha }),
      ...(fields.previous === undefined ? {} : { previous: fields.previous })
    }))
  let testMs = 0
  for (let round = 0; round <= options.casRetriesMax; round++) {
    const onto = yield* git.mainHead
    const attempt = yield* git.merge({ onto, head: submission.head, strategy: options.strategy, message: submission.message })
    if (attempt._tag === "Conflict") {
      yield* report("conflict", { files: attempt.files })
      return { _tag: "Conflict", files: attempt.files, waitedMs } as const
    }
    const violations = options.policy.check(yield* git.diffStat(onto, attempt.sha))
    if (violations.length > 0) {
      yield* report("policy-failed", { sha: attempt.sha, files: violations })
      return { _tag: "PolicyFailed", violations, waitedMs } as const
    }
    if (options.testCommand !== undefined) {
      const test = yield* runTest(submission, attempt.sha, options.testCommand, options.testTimeoutMs)
      testMs += test.durationMs
      if (!test.passed) {
        yield* report("test-failed", { sha: attempt.sha })
        return { _tag: "TestFailed", output: test.output, waitedMs, testMs } as const
      }
    }
    if (options.dryRun) {
      yield* report("dry-run", { sha: attempt.sha, previous: onto })
      return { _tag: "DryRun", sha: attempt.sha, waitedMs, testMs } as const
    }
    if (yield* git.compareAndSwapMain(onto, attempt.sha)) {
      yield* report("merged", { sha: attempt.sha, previous: onto })
      return { _tag: "Merged", sha: attempt.sha, previous: onto, waitedMs, testMs } as const
    }
    yield* sink.emit({
      _tag: "Warning",
      at: yield* Clock.currentTimeMillis,
      worker: submission.worker,
      message: `main moved while ${submission.branch} was being merged; merging again onto the new main`
    })
  }
  yield* report("conflict", {})
  return { _tag: "Conflict", files: [], waitedMs } as const
})

const runTest = Effect.fnUntraced(function*(submission: Submission, sha: string, command: string, timeoutMs: number) {
  const runner = yield* CommandRunner
  const result = yield* runner.inCommit(sha, command, timeoutMs).pipe(
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () => Effect.succeed({ passed: false, output: `the test command timed out after ${timeoutMs} ms`, durationMs: timeoutMs, timedOut: true })
    })
  )
  yield* emitNow((at) => ({
    _tag: "TestResult",
    at,
    worker: submission.worker,
    iteration: submission.iteration,
    sha,
    passed: result.passed,
    durationMs: result.durationMs,
    output: result.output
  }))
  return result
})
