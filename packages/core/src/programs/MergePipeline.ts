/**
 * The merge queue's pipeline (issue 19, Zuul's speculative gating): up to `speculation` candidates
 * at once, candidate i being the approved work of submission i merged onto candidate i − 1 (or onto
 * main), each tested in its own gate at the same time.
 *
 * What makes it safe:
 * - Only the head of the pipeline is ever decided, so every outcome is the one a one-at-a-time
 *   queue would give for the same submissions in the same order: a candidate's build and test are
 *   final only once everything ahead of it has landed or left. Main moves by compare-and-swap, from
 *   the value the queue last saw, to the head's tested commit with its task's merged marker — one
 *   candidate per transaction, in order, so main only ever holds tested commits.
 * - A head that failed its test (or whose test could not run) is ejected and every candidate behind
 *   it was built on it: each is merged again onto what it stood on, and its test restarts. A result
 *   is taken only for the build it tested (`generation`); a running test of a stale build is
 *   interrupted, and its result, if it still arrives, is dropped.
 * - A conflict or a policy failure found while building ejects only that candidate: the ones behind
 *   it were built on what it stood on, and the chain says so (`chainAfter`).
 * - A submission delivered twice (at-least-once delivery, the cluster's) is one entry: a copy joins
 *   the entry already queued, or gets the outcome of the one that landed.
 *
 * One fiber (the coordinator) owns every mutable field here; tests run in fibers of their own and
 * report back through the coordinator's mailbox.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Deferred, Effect, Exit, Fiber, Queue, type Scope } from "effect"
import { CommandRunner, type CommandRun } from "../services/CommandRunner.ts"
import type { CommandError, GitError } from "../services/Errors.ts"
import { emitNow, type EventSink } from "../services/EventSink.ts"
import { Git } from "../services/Git.ts"
import type { ForeignMove, MainCheck, MergeOutcome, Options, Submission } from "./MergeQueue.ts"
import { resultEvent } from "./MergeQueue.ts"
import { landingOnMain } from "./Recovery.ts"

/**
 * Deliberately broken pipelines, for the simulation's variants only (`Variant`): oompa itself never
 * provides this, so it is always empty outside the simulator.
 *
 * @category models
 * @since 0.1.0
 */
export type BrokenPipeline = "lands-past-ejected-candidate" | "reuses-stale-test" | "lands-redelivery-twice" | "lands-twice-after-failover"

/**
 * @category references
 * @since 0.1.0
 */
export const Broken = Context.Reference<ReadonlySet<BrokenPipeline>>("@oompa/core/programs/MergePipeline/Broken", {
  defaultValue: () => new Set()
})

/**
 * A submission waiting for its outcome.
 *
 * @category models
 * @since 0.1.0
 */
export interface Entry {
  readonly submission: Submission
  readonly key: string
  readonly queuedAtMs: number
  readonly done: Deferred.Deferred<MergeOutcome, GitError | CommandError>
  /** Its submitter was interrupted (Ctrl-C): it must not land any more, its claim is being given back. */
  withdrawn: boolean
  /** Its compare-and-swap has begun: a submitter interrupted now waits for the answer. */
  landing: boolean
}

/** What building a candidate found. */
type Build =
  | { readonly _tag: "Built"; readonly sha: string }
  | { readonly _tag: "Conflict"; readonly files: ReadonlyArray<string> }
  | { readonly _tag: "PolicyFailed"; readonly sha: string; readonly violations: ReadonlyArray<string> }
  | { readonly _tag: "MainMoved"; readonly move: ForeignMove }
  | { readonly _tag: "Failed"; readonly error: GitError | CommandError }

interface Candidate {
  readonly entry: Entry
  readonly enteredMs: number
  /** Bumped by every rebuild: a test result counts only for the build it tested. */
  generation: number
  onto: string
  build: Build
  test: Fiber.Fiber<void> | undefined
  tested: Exit.Exit<CommandRun, CommandError> | undefined
}

type Signal =
  | { readonly _tag: "Submitted"; readonly entry: Entry }
  | { readonly _tag: "Tested"; readonly candidate: Candidate; readonly generation: number; readonly exit: Exit.Exit<CommandRun, CommandError> }

/**
 * Where main is, as the queue knows it, and how a check of it and a landing take turns.
 *
 * @category models
 * @since 0.1.0
 */
export interface Main {
  /** The value the queue last moved main to (or found it at). */
  readonly lastSeen: () => string
  /** Compares main with `lastSeen`, reporting and halting on a foreign move. */
  readonly check: Effect.Effect<MainCheck, GitError>
  /** The compare-and-swap from `lastSeen`, under the same lock as `check`; `lastSeen` follows. */
  readonly swap: (next: string, landed: ReadonlyArray<string>, retired: string | undefined) => Effect.Effect<boolean, GitError>
  /** Whether a lost swap means someone else moved the target, to build on (a remote target), rather than a move to halt on. */
  readonly follows: boolean
  /** Asks the target where it is now, `lastSeen` following: whether it moved; or a foreign move of the ref it is kept in. */
  readonly refresh: Effect.Effect<{ readonly _tag: "Refreshed"; readonly moved: boolean } | Extract<MainCheck, { readonly _tag: "Moved" }>, GitError>
}

/**
 * The key a submission is known by: delivered twice, it is one entry.
 *
 * @category models
 * @since 0.1.0
 */
export const keyOf = (submission: Submission): string => `${submission.worker}\u0000${submission.iteration}\u0000${submission.number ?? 1}\u0000${submission.head}`

/**
 * Starts the pipeline's coordinator in `scope`; returns how to submit to it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options, main: Main, scope: Scope.Scope) {
  const git = yield* Git
  const broken = yield* Broken
  const depth = Math.max(1, options.speculation ?? 1)
  const mailbox = yield* Queue.unbounded<Signal>()
  const waiting: Array<Entry> = []
  const pipeline: Array<Candidate> = []
  const inFlight = new Map<string, Entry>()
  /** Every outcome given, by key: a copy delivered after its submission was decided gets it. */
  const decided = new Map<string, MergeOutcome>()
  /** Submissions withdrawn by their interrupted submitters: a copy delivered later does not bring them back. */
  const withdrawnKeys = new Set<string>()
  /** Submissions queued and not yet told their outcome. */
  let undecided = 0
  /** The head being decided: out of the pipeline, not yet told its outcome. */
  let deciding: Candidate | undefined
  const services = yield* Effect.context<EventSink | CommandRunner>()

  /** What candidates behind `candidate` are built on: its merge, unless it will not land. */
  const chainAfter = (candidate: Candidate): string =>
    candidate.build._tag === "Built" && !options.dryRun ? candidate.build.sha : candidate.onto
  const chainEnd = (): string => pipeline.length === 0 ? main.lastSeen() : chainAfter(pipeline[pipeline.length - 1]!)

  /** Each candidate stands on the one ahead of it, the head on main: checked after every step. */
  const assertChain = () => {
    if (broken.has("lands-past-ejected-candidate")) return
    let onto = main.lastSeen()
    for (const [i, candidate] of pipeline.entries()) {
      if (candidate.onto !== onto) throw new Error(`assertion failed: candidate ${i + 1} (${candidate.entry.key}) stands on ${candidate.onto}, not on ${onto}`)
      onto = chainAfter(candidate)
    }
  }

  const build = Effect.fnUntraced(function*(candidate: Candidate, position: number, rebuild: number) {
    const { submission } = candidate.entry
    const result: Build = yield* Effect.gen(function*() {
      const checked = yield* main.check
      if (checked._tag === "Moved") return { _tag: "MainMoved", move: checked.move } as const
      const attempt = yield* git.merge({ onto: candidate.onto, base: submission.base, head: submission.head, strategy: options.strategy, message: submission.message })
      if (attempt._tag === "Conflict") return { _tag: "Conflict", files: attempt.files } as const
      const violations = options.policy.check(yield* git.diffStat(candidate.onto, attempt.sha))
      if (violations.length > 0) return { _tag: "PolicyFailed", sha: attempt.sha, violations } as const
      return { _tag: "Built", sha: attempt.sha } as const
    }).pipe(Effect.catch((error) => Effect.succeed({ _tag: "Failed", error } as const)))
    candidate.build = result
    candidate.tested = undefined
    if (result._tag === "MainMoved" || result._tag === "Failed") return
    yield* emitNow((at) => ({
      _tag: "CandidateBuilt",
      at,
      worker: submission.worker,
      iteration: submission.iteration,
      position,
      onto: candidate.onto,
      head: submission.head,
      outcome: result._tag === "Built" ? "built" : result._tag === "Conflict" ? "conflict" : "policy-failed",
      ...(result._tag === "Conflict" ? {} : { sha: result.sha }),
      rebuild
    }))
    if (result._tag !== "Built" || options.testCommand === undefined) return
    const generation = candidate.generation
    const test = testCandidate(submission, result.sha, options.testCommand, options.testTimeoutMs, position).pipe(
      Effect.exit,
      Effect.flatMap((exit) => Queue.offer(mailbox, { _tag: "Tested", candidate, generation, exit })),
      Effect.asVoid,
      Effect.provideContext(services)
    )
    candidate.test = yield* Effect.forkIn(test, scope)
  })

  const enter = Effect.fnUntraced(function*(entry: Entry) {
    const candidate: Candidate = {
      entry,
      enteredMs: yield* Clock.currentTimeMillis,
      generation: 0,
      onto: chainEnd(),
      build: { _tag: "Conflict", files: [] },
      test: undefined,
      tested: undefined
    }
    pipeline.push(candidate)
    yield* build(candidate, pipeline.length, 0)
  })

  /** Every candidate from `from` on is merged again, each onto the one ahead of it, and retested. */
  const rebuildFrom = Effect.fnUntraced(function*(from: number) {
    for (let i = from; i < pipeline.length; i++) {
      const candidate = pipeline[i]!
      // Not awaited: a test killed with TERM may take its grace period to go, and nothing waits on it.
      if (candidate.test !== undefined) yield* Effect.forkIn(Fiber.interrupt(candidate.test), scope)
      candidate.test = undefined
      candidate.generation++
      candidate.onto = i === 0 ? main.lastSeen() : chainAfter(pipeline[i - 1]!)
      const stale = candidate.tested
      yield* build(candidate, i + 1, candidate.generation)
      if (broken.has("reuses-stale-test") && stale !== undefined) candidate.tested = stale
    }
  })

  const finish = Effect.fnUntraced(function*(candidate: Candidate, exit: Exit.Exit<MergeOutcome, GitError | CommandError>) {
    const { entry } = candidate
    inFlight.delete(entry.key)
    undecided--
    if (Exit.isSuccess(exit)) {
      decided.set(entry.key, exit.value)
      yield* emitNow((at) => ({ ...resultEvent(entry.submission, exit.value, at), behind: pipeline.length }))
    }
    yield* Deferred.done(entry.done, exit)
  })

  /** An entry that leaves without an outcome anyone waits for. */
  const forget = (entry: Entry) => {
    inFlight.delete(entry.key)
    withdrawnKeys.add(entry.key)
    undecided--
  }

  /**
   * The head leaves the pipeline without landing, told `exit` — or, withdrawn, told nothing: its
   * submitter is gone. Those behind were built on it only if it was going to land.
   */
  const eject = Effect.fnUntraced(function*(
    candidate: Candidate,
    reason: "conflict" | "test-failed" | "policy-failed" | "main-moved" | "error" | "withdrawn",
    exit: Exit.Exit<MergeOutcome, GitError | CommandError> | undefined
  ) {
    const rebuilding = chainAfter(candidate) === candidate.onto || broken.has("lands-past-ejected-candidate") ? 0 : pipeline.length
    const { submission } = candidate.entry
    yield* emitNow((at) => ({ _tag: "CandidateEjected", at, worker: submission.worker, iteration: submission.iteration, reason, rebuilding }))
    if (exit !== undefined) {
      yield* finish(candidate, exit)
    } else {
      forget(candidate.entry)
      yield* Deferred.interrupt(candidate.entry.done)
    }
    if (rebuilding > 0) yield* rebuildFrom(0)
  })

  /** Decides the head, if it can be decided now. */
  const settleHead = Effect.fnUntraced(function*(head: Candidate) {
    const timed = (testMs: number) => ({ waitedMs: head.enteredMs - head.entry.queuedAtMs, testMs })
    const build = head.build
    switch (build._tag) {
      case "MainMoved":
        return yield* eject(head, "main-moved", Exit.succeed({ _tag: "MainMoved", move: build.move, ...timed(0) }))
      case "Failed":
        return yield* eject(head, "error", Exit.fail(build.error))
      case "Conflict":
        return yield* eject(head, "conflict", Exit.succeed({ _tag: "Conflict", files: build.files, ...timed(0) }))
      case "PolicyFailed":
        return yield* eject(head, "policy-failed", Exit.succeed({ _tag: "PolicyFailed", sha: build.sha, violations: build.violations, ...timed(0) }))
      case "Built":
        break
    }
    const tested = head.tested
    const testMs = tested !== undefined && Exit.isSuccess(tested) ? tested.value.durationMs : 0
    if (tested !== undefined && Exit.isFailure(tested)) return yield* eject(head, "error", Exit.failCause(tested.cause))
    if (tested !== undefined && !tested.value.passed) {
      return yield* eject(head, "test-failed", Exit.succeed({ _tag: "TestFailed", sha: build.sha, output: tested.value.output, ...timed(testMs) }))
    }
    if (options.dryRun) return yield* finish(head, Exit.succeed({ _tag: "DryRun", sha: build.sha, previous: head.onto, ...timed(testMs) }))
    const { submission } = head.entry
    // Its submitter is gone and has given its task back (or is doing so): landing it now would merge a task left in pending/.
    if (head.entry.withdrawn) return yield* eject(head, "withdrawn", undefined)
    // Another copy of this iteration's work (its message delivered again, redone; or landed by a queue
    // thought dead, whose push beat ours and sent this head back here) may have landed meanwhile.
    const landedMeanwhile = yield* Effect.exit(landedAlready(submission))
    if (Exit.isFailure(landedMeanwhile)) return yield* eject(head, "error", Exit.failCause(landedMeanwhile.cause))
    if (landedMeanwhile.value !== undefined) return yield* finish(head, Exit.succeed({ ...landedMeanwhile.value, ...timed(testMs) }))
    head.entry.landing = true
    const previous = main.lastSeen()
    const swapped = yield* Effect.exit(main.swap(build.sha, submission.task === undefined ? [] : [submission.task], submission.retireBranch === true ? submission.branch : undefined))
    if (Exit.isFailure(swapped)) return yield* eject(head, "error", Exit.failCause(swapped.cause))
    if (swapped.value) return yield* finish(head, Exit.succeed({ _tag: "Merged", sha: build.sha, previous, ...timed(testMs) }))
    if (main.follows) {
      const moved = yield* Effect.exit(main.refresh)
      if (Exit.isFailure(moved)) return yield* eject(head, "error", Exit.failCause(moved.cause))
      if (moved.value._tag === "Moved") return yield* eject(head, "main-moved", Exit.succeed({ _tag: "MainMoved", move: moved.value.move, ...timed(testMs) }))
      if (!moved.value.moved) return yield* Effect.die(new Error(`assertion failed: the push from ${previous} was refused with the remote at ${previous}`))
      // Someone pushed: the head goes back first in line (unless its submitter is gone), and every candidate is
      // merged onto their push and tested again — no longer landing, so an interrupted submitter need not wait for it.
      head.entry.landing = false
      if (head.entry.withdrawn) return yield* eject(head, "withdrawn", undefined)
      pipeline.unshift(head)
      return yield* rebuildFrom(0)
    }
    const after = yield* Effect.exit(main.check)
    if (Exit.isFailure(after)) return yield* eject(head, "error", Exit.failCause(after.cause))
    if (after.value._tag === "Unchanged") return yield* Effect.die(new Error(`assertion failed: the compare-and-swap from ${previous} failed with main at ${previous}`))
    return yield* eject(head, "main-moved", Exit.succeed({ _tag: "MainMoved", move: after.value.move, ...timed(testMs) }))
  })

  const decidable = (head: Candidate): boolean =>
    head.build._tag !== "Built" || options.testCommand === undefined || head.tested !== undefined

  /** Fills the pipeline and decides its head, until the head waits for its test. */
  const advance = Effect.fnUntraced(function*() {
    for (;;) {
      while (pipeline.length < depth && waiting.length > 0) {
        const entry = waiting.shift()!
        if (entry.withdrawn) forget(entry)
        else yield* enter(entry)
      }
      assertChain()
      const head = pipeline[0]
      if (head === undefined || !decidable(head)) return
      pipeline.shift()
      deciding = head
      yield* settleHead(head)
      deciding = undefined
    }
  })

  const receive = Effect.fnUntraced(function*(signal: Signal) {
    if (signal._tag === "Submitted") {
      waiting.push(signal.entry)
    } else {
      const { candidate } = signal
      const current = pipeline.includes(candidate) && candidate.build._tag === "Built"
      // A result of a build thrown away is the test of a tree that is no longer the candidate.
      if (current && signal.generation === candidate.generation) candidate.tested = signal.exit
    }
    yield* advance()
  })

  // A defect here (a broken assertion) fails every waiting submission with it, rather than leave them waiting.
  const failAll = (cause: Cause.Cause<never>) =>
    Effect.forEach(
      [...(deciding === undefined ? [] : [deciding]), ...pipeline].map((candidate) => candidate.entry).concat(waiting),
      (entry) => Deferred.failCause(entry.done, cause),
      { discard: true }
    )
  const coordinator = yield* Effect.forkIn(
    Effect.forever(Effect.flatMap(Queue.take(mailbox), receive)).pipe(
      Effect.tapCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.void : failAll(cause))
    ),
    scope
  )
  // It never ends but by a defect or the run's end: a submission waiting on it then ends with it.
  const coordinatorEnded = Effect.flatMap(Fiber.join(coordinator), () => Effect.never)

  /**
   * The outcome, unless the coordinator ends first. Interrupted (Ctrl-C), the submission is withdrawn
   * — or, when its landing has begun, its answer is awaited, so the claim settles by what main holds.
   */
  const awaitOutcome = (entry: Entry) =>
    Effect.raceFirst(Deferred.await(entry.done), coordinatorEnded).pipe(
      Effect.onInterrupt(() =>
        Effect.suspend(() => {
          entry.withdrawn = true
          return entry.landing ? Effect.asVoid(Effect.exit(Effect.raceFirst(Deferred.await(entry.done), coordinatorEnded))) : Effect.void
        }))
    )

  /** A copy of work main already holds (a cluster's failover) is answered with that landing, not landed again. */
  const landedAlready = (submission: Submission) =>
    !options.landsOnce || submission.task === undefined || broken.has("lands-twice-after-failover")
      ? Effect.succeed(undefined)
      : Effect.map(landingOnMain(submission.task, submission.branch, main.lastSeen()), (landed): MergeOutcome | undefined =>
        landed === undefined ? undefined : { _tag: "Merged", ...landed, waitedMs: 0, testMs: 0 }).pipe(Effect.provideService(Git, git))

  const submit = Effect.fnUntraced(function*(submission: Submission) {
    const landed = yield* landedAlready(submission)
    if (landed !== undefined) {
      decided.set(keyOf(submission), landed)
      yield* emitNow((at) => resultEvent(submission, landed, at))
      return landed
    }
    const queuedAtMs = yield* Clock.currentTimeMillis
    const done = yield* Deferred.make<MergeOutcome, GitError | CommandError>()
    const entry: Entry = { submission, key: keyOf(submission), queuedAtMs, done, withdrawn: false, landing: false }
    // Read and recorded in one step: two copies delivered at once are still one entry.
    const known = yield* Effect.sync(() => {
      if (broken.has("lands-redelivery-twice")) return undefined
      if (withdrawnKeys.has(entry.key)) return "withdrawn" as const
      const outcome = decided.get(entry.key)
      if (outcome !== undefined) return outcome
      const queued = inFlight.get(entry.key)
      if (queued !== undefined) return queued
      inFlight.set(entry.key, entry)
      return undefined
    })
    if (known === "withdrawn") return yield* Effect.interrupt
    if (known !== undefined) return "done" in known ? yield* awaitOutcome(known) : known
    // Every submission not yet decided, this one included (some may still be on their way to the coordinator).
    const position = ++undecided
    yield* emitNow((at) => ({ _tag: "MergeQueued", at, worker: submission.worker, iteration: submission.iteration, position }))
    yield* Queue.offer(mailbox, { _tag: "Submitted", entry })
    return yield* awaitOutcome(entry)
  }, Effect.provideContext(services))
  return { submit }
})

/**
 * Runs the test command on the candidate `sha` and records the result (`TestResult`).
 *
 * @category programs
 * @since 0.1.0
 */
export const testCandidate = Effect.fnUntraced(function*(submission: Submission, sha: string, command: string, timeoutMs: number, position: number) {
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
    output: result.output,
    position
  }))
  return result
})
