/**
 * Deterministic simulation of whole swarms (SPEC F13), the way FoundationDB and TigerBeetle prove
 * theirs: one seed draws the swarm's shape, its fault probabilities and every agent answer; the real
 * `Swarm` program runs over the in-memory world in simulated time; the invariant checker watches
 * every event; a failing seed replays exactly. Time is discrete (`DiscreteTime`): fibers run until all
 * of them wait, then the clock jumps to the next timer.
 *
 * Phases:
 * 1. Safety — faults on: agents crash, hang past their timeout, answer garbage, edit the same lines
 *    (conflicts), write denied paths; reviewers reject or ask for changes; tests fail; and the
 *    orchestrator itself may crash at a drawn event (it stops between two steps, no finalizer runs,
 *    as under `kill -9`),
 *    after which `Recovery` — the same program `oompa cleanup` runs, reading the dead run's log as
 *    `events.jsonl` would hold it — repairs the world and a new run
 *    resumes on it.
 * 2. Liveness — faults off: executors must bring every task to `complete/` or `failed/` within
 *    bounded simulated time.
 *
 * Broken variants (`variant`) swap in deliberately wrong behaviour, to prove the checker finds it.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Effect, Exit, Layer, Option, Scheduler } from "effect"
import type { Event } from "../domain/Event.ts"
import type { WorkerId } from "../domain/Ids.ts"
import { makeSwarmConfig, type MergeStrategy, type SwarmConfig, type WorkerConfig } from "../domain/SwarmConfig.ts"
import type { Task } from "../domain/Task.ts"
import { timeoutMarginMs } from "../programs/AgentCall.ts"
import * as PolicyGate from "../programs/PolicyGate.ts"
import * as Recovery from "../programs/Recovery.ts"
import * as Swarm from "../programs/Swarm.ts"
import { Agent } from "../services/Agent.ts"
import { CommandRunner } from "../services/CommandRunner.ts"
import { Git } from "../services/Git.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import { InvariantChecker, type InvariantName } from "./checkers/Invariants.ts"
import { DiscreteTime } from "./DiscreteTime.ts"
import * as MemoryGit from "./MemoryGit.ts"
import * as Prng from "./Prng.ts"
import * as MemoryTaskQueue from "./MemoryTaskQueue.ts"
import * as ScriptedAgent from "./ScriptedAgent.ts"
import * as ScriptedCommands from "./ScriptedCommands.ts"
import * as TestSwarm from "./TestSwarm.ts"

/**
 * Deliberately broken orchestrators, each of which the simulation must catch.
 *
 * @category models
 * @since 0.1.0
 */
export type Variant =
  | "merge-skips-queue"
  | "reviewer-bypass"
  | "non-atomic-claim"
  | "crash-loses-claim"
  | "merge-ignores-failing-test"
  | "recovery-drops-unreviewed-tip"
  | "lands-agent-history"
  | "swap-without-old-value"

/**
 * Every broken variant, with what it breaks: `oompa sim --variant` lists them.
 *
 * @category models
 * @since 0.1.0
 */
export const variants: { readonly [V in Variant]: string } = {
  "merge-skips-queue": "every commit lands on main at once, outside the merge queue and unreviewed",
  "reviewer-bypass": "whatever the reviewer says, the orchestrator hears APPROVED",
  "non-atomic-claim": "a claim reads the queue, yields, then takes the task without checking it is still there",
  "crash-loses-claim": "recovery does not see the claims a dead run left in current/",
  "merge-ignores-failing-test": "the test gate reports green whatever the tests said",
  "recovery-drops-unreviewed-tip": "recovery counts a branch as approved only when its head is (oompa 0.1's defect)",
  "swap-without-old-value": "main is moved by a plain update-ref, not from the value the queue last saw, so a move by an agent in between is overwritten and never reported",
  "lands-agent-history": "a merge keeps the agent's own commits as its second parent, so a file the policy denied and the fix deleted stays reachable from main"
}

/**
 * Fault probabilities of one run (swarm testing: each seed draws its own mix).
 *
 * @category models
 * @since 0.1.0
 */
export interface Faults {
  readonly agentCrash: number
  readonly agentHang: number
  readonly garbage: number
  readonly conflict: number
  readonly policy: number
  readonly testFail: number
  readonly reject: number
  readonly needsChanges: number
  readonly noChange: number
  readonly done: number
  /** An agent moves main itself (`git update-ref`) to a commit of its unreviewed work. */
  readonly moveMain: number
}

/**
 * Everything drawn from the seed, printed first so a run can be read without replaying it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Parameters {
  readonly seed: number
  readonly workers: number
  readonly tasks: number
  readonly iterations: number
  readonly strategy: MergeStrategy
  readonly onConflict: "abort" | "agent"
  readonly testGate: boolean
  readonly reviewAttemptsMax: number
  readonly taskAttemptsMax: number
  readonly planner: boolean
  /** The event at which the orchestrator crashes, if it does. */
  readonly crashAtEvent: number | undefined
  readonly faults: Faults
}

/**
 * @category models
 * @since 0.1.0
 */
export interface SimulationOptions {
  readonly seed: number
  /** Simulate this swarm instead of one drawn from the seed (its workers, policy, gates, limits). */
  readonly config?: SwarmConfig
  /** The tasks to start with (default: drawn from the seed). */
  readonly tasks?: ReadonlyArray<Task>
  /** Faults in the safety phase (default on). */
  readonly faults?: boolean
  readonly variant?: Variant
  /** Sees every event as it is emitted (a trace for `oompa sim --trace`). */
  readonly observe?: (event: Event) => void
}

/**
 * Why a simulation failed: a broken invariant, no progress (liveness), or a defect (a bug that died).
 *
 * @category models
 * @since 0.1.0
 */
export interface Failure {
  readonly kind: "invariant" | "liveness" | "defect"
  readonly invariant?: InvariantName
  readonly message: string
}

/**
 * @category models
 * @since 0.1.0
 */
export interface SimulationResult {
  readonly seed: number
  readonly ok: boolean
  readonly failure?: Failure
  /** Events emitted, across phases. */
  readonly steps: number
  readonly iterations: number
  readonly agentCalls: number
  /** Commits main moved to. */
  readonly merged: number
  readonly traceHash: string
  readonly simulatedMs: number
  readonly parameters: Parameters
}

/**
 * Exit codes of `oompa sim` (TigerBeetle's VOPR convention).
 *
 * @category constants
 * @since 0.1.0
 */
export const exitCodes = { ok: 0, defect: 127, liveness: 128, invariant: 129 } as const

/** Simulated time a phase may take before it counts as stuck (I6): a day, hundreds of times what a phase needs. */
const phaseTimeMaxMs = 24 * 3600_000

const drawFaults = (prng: Prng.Prng): Faults => ({
  agentCrash: prng.next() * 0.15,
  agentHang: prng.next() * 0.05,
  garbage: prng.next() * 0.1,
  conflict: prng.next() * 0.4,
  policy: prng.next() * 0.1,
  testFail: prng.next() * 0.25,
  reject: prng.next() * 0.1,
  needsChanges: prng.next() * 0.35,
  noChange: prng.next() * 0.05,
  done: prng.next() * 0.03,
  moveMain: prng.next() * 0.02
})

/**
 * The run's parameters, drawn from its seed.
 *
 * @category constructors
 * @since 0.1.0
 */
export const drawParameters = (
  seed: number,
  options: { readonly variant?: Variant | undefined; readonly tasks?: number | undefined } = {}
): Parameters => {
  const prng = Prng.make(seed)
  const crash = options.variant === "crash-loses-claim" || options.variant === "recovery-drops-unreviewed-tip" || prng.chance(0.3)
  const crashPoint = prng.next()
  const tasks = prng.int(1, 16)
  return {
    seed,
    workers: prng.int(1, 8),
    tasks: options.tasks ?? tasks,
    iterations: prng.int(2, 12),
    strategy: prng.pick(["no-ff", "ff", "squash", "rebase"] as const),
    onConflict: prng.pick(["abort", "agent"] as const),
    testGate: options.variant === "merge-ignores-failing-test" || prng.chance(0.7),
    reviewAttemptsMax: prng.int(1, 4),
    taskAttemptsMax: prng.int(1, 4),
    planner: prng.chance(0.2),
    // Anywhere in the run: a run makes about 20 events per task (the bench swarm's 60 tasks, ~1,200).
    crashAtEvent: crash ? 5 + Math.floor(crashPoint * Math.max(150, 25 * (options.tasks ?? tasks))) : undefined,
    faults: drawFaults(prng)
  }
}

const configOf = (p: Parameters): SwarmConfig =>
  makeSwarmConfig({
    workers: Array.from({ length: p.workers }, (_, i): WorkerConfig => ({
      id: `w${i}` as WorkerId,
      agent: { harness: i % 2 === 0 ? "claude" : "codex" },
      role: p.planner && i === 0 ? "planner" : "executor",
      iterations: p.iterations,
      prompt: [],
      wait_between: 0,
      budget: {}
    })),
    reviewers: [{ agent: { harness: "codex", model: "reviewer" } }],
    policy: { deny: ["secrets/**"], max_files: 12 },
    merge: { strategy: p.strategy, on_conflict: p.onConflict },
    max_review_attempts: p.reviewAttemptsMax,
    max_task_attempts: p.taskAttemptsMax,
    max_wait_for_tasks: 120,
    timeouts: { propose: 120, review: 120, test: 120, setup: 60 },
    ...(p.testGate ? { test_command: "npm test" } : {})
  })

const tasksOf = (p: Parameters): ReadonlyArray<Task> =>
  Array.from({ length: p.tasks }, (_, i) => ({ id: `t${String(i).padStart(2, "0")}`, summary: `simulated task ${i}` }) as Task)

/** The mutable switch of a simulated world: faults on or off. */
interface Switches {
  faults: boolean
}

/** Rewrites a file with conflict markers into one holding both sides, as an agent resolving it would. */
const resolveMarkers = (text: string): string =>
  text.split("\n").filter((line) => !/^(<<<<<<<|=======|>>>>>>>)/.test(line)).join("\n")

/**
 * The agent model: each call's answer drawn from the run's agent stream. Approvals are recorded in
 * the checker as the model's intent, before the orchestrator sees the answer.
 */
const agentModel = (p: Parameters, prng: Prng.Prng, switches: Switches, repo: MemoryGit.MemoryRepo, checker: InvariantChecker, timeoutMs: number): ScriptedAgent.Script =>
(request, files) => {
  const f = p.faults
  const faulty = (probability: number) => switches.faults && prng.chance(probability)
  const delayMs = prng.int(1, 30) * 1000
  if (faulty(f.agentCrash)) return { answer: "", exitCode: 1, stderr: "simulated agent crash", delayMs }
  if (faulty(f.agentHang)) return { answer: "", delayMs: timeoutMs + timeoutMarginMs + 30_000 }
  if (faulty(f.moveMain)) {
    // Hostile (any agent, a reviewer too): main moved to a commit of the workspace's unreviewed files, outside the merge queue.
    const sha = repo.commitWithParents([repo.mainHead()], `${request.worker} ${request.iteration}: moved main itself`, repo.workspaceHeadAt(request.cwd))
    checker.foreignMove(sha)
    repo.setBranch(repo.targetBranch, sha)
  }
  if (request.call === "review") {
    if (faulty(f.garbage)) return { answer: "¯\\_(ツ)_/¯ interesting change, not sure", delayMs }
    if (faulty(f.reject)) return { answer: "Wrong approach.\nVERDICT: REJECTED\nstart over", delayMs }
    if (faulty(f.needsChanges)) return { answer: "VERDICT: NEEDS_CHANGES\n- handle the empty case", delayMs }
    const head = repo.workspaceHeadAt(request.cwd)
    if (head !== undefined) checker.approvedHeads.add(head)
    return { answer: "Good.\nVERDICT: APPROVED", delayMs }
  }
  if (request.call === "plan") {
    const count = prng.int(0, 3)
    return { answer: "planned", delayMs, newTasks: Array.from({ length: count }, (_, i) => ({ id: `p${request.iteration}-${i}-${prng.int(0, 9999)}`, summary: "planned task" })) }
  }
  // A Map, not an object: the paths are new on every call, and each new key would be a new shape.
  const edits = new Map<string, string | null>()
  if (request.call === "resolve-conflict") {
    for (const file of files.list()) {
      const text = files.read(file)
      if (typeof text === "string" && text.includes("<<<<<<<")) edits.set(file, resolveMarkers(text))
    }
    return { answer: "resolved", delayMs, edits }
  }
  if (request.call === "fix" && files.read(".env") !== undefined) edits.set(".env", null)
  if (!faulty(f.noChange)) edits.set(`src/${request.task ?? request.worker}-${request.iteration}-${prng.int(0, 999)}.txt`, `${request.call} by ${request.worker}\n`)
  if (faulty(f.conflict)) {
    const shared = files.read("shared.txt")
    const lines = typeof shared === "string" ? shared.split("\n") : []
    edits.set("shared.txt", [`${request.worker} ${request.iteration} ${prng.int(0, 1e6)}`, ...lines.slice(1)].join("\n"))
  }
  if (faulty(f.policy)) edits.set(".env", "SECRET=1\n")
  return { answer: faulty(f.done) ? "all done\n__DONE__\n" : "done", delayMs, edits, sessionId: `${request.worker}-${request.iteration}` }
}

interface World {
  readonly world: TestSwarm.World
  readonly checker: InvariantChecker
  readonly switches: Switches
  readonly layer: Layer.Layer<Swarm.Services>
  readonly trace: Prng.TraceHash
  readonly counts: { events: number; iterations: number; calls: number }
  /** Each run's events by run id, and the log the running one appends to. */
  readonly runLogs: Map<string, ReadonlyArray<Event>>
  readonly log: { current: Array<Event> }
  /** The orchestrator's time: replaced when it crashes, so nothing of the dead run ever runs again. */
  time: DiscreteTime
}

const makeWorld = (p: Parameters, config: SwarmConfig, tasks: ReadonlyArray<Task>, variant: Variant | undefined, observe: ((event: Event) => void) | undefined): World => {
  const switches: Switches = { faults: true }
  const trace = new Prng.TraceHash()
  const counts = { events: 0, iterations: 0, calls: 0 }
  const log = { current: [] as Array<Event> }
  const root = Prng.make(p.seed ^ 0x51ed)
  const agentPrng = root.fork()
  const testPrng = root.fork()
  let checker: InvariantChecker | undefined
  const world = TestSwarm.makeWorld({
    files: { "README.md": "# simulated\n", "shared.txt": "one\ntwo\nthree\nfour\n" },
    tasks,
    retainEvents: false,
    observe: (event: Event) => {
      counts.events++
      log.current.push(event)
      if (event._tag === "IterationFinished") counts.iterations++
      if (event._tag === "AgentFinished") counts.calls++
      trace.add(JSON.stringify(event))
      checker!.observe(event)
      observe?.(event)
    },
    commands: {
      test: (_tree, sha) => {
        const passed = !(switches.faults && testPrng.chance(p.faults.testFail))
        checker!.testVerdicts.set(sha, passed)
        return { passed, output: passed ? "ok" : "1 failing test", delayMs: 5000 }
      }
    }
  })
  checker = new InvariantChecker({
    repo: world.repo,
    queue: world.queue,
    policy: PolicyGate.make(config.policy, config.tasks_dir),
    reviewAttemptsMax: config.max_review_attempts,
    testGate: config.test_command !== undefined
  })
  world.agent.script = agentModel(p, agentPrng, switches, world.repo, checker, config.timeouts.propose * 1000)
  return { world, checker, switches, trace, counts, runLogs: new Map(), log, time: new DiscreteTime(), layer: layerOf(world, checker, variant) }
}

/** The world's services: instrumented for the checker, broken as the variant says. */
const layerOf = (world: TestSwarm.World, checker: InvariantChecker, variant: Variant | undefined): Layer.Layer<Swarm.Services> => {
  const base = MemoryGit.make(world.repo)
  const git: Git["Service"] = {
    ...base,
    merge: (request) =>
      Effect.sync(() => checker.mergeStarted(request.head)).pipe(
        Effect.andThen(base.merge(request)),
        // Broken: the result records the agent's branch head as its second parent, history and all.
        Effect.map((result) => variant === "lands-agent-history" && result._tag === "Merged"
          ? { _tag: "Merged" as const, sha: world.repo.commitWithParents([request.onto, request.head], request.message, result.sha) }
          : result),
        Effect.tap((result) => Effect.sync(() => result._tag === "Merged" && checker.mergeComputed(request.head, result.sha)))
      ),
    compareAndSwapMain: (expected, next, landed) =>
      Effect.tap(
        variant !== "swap-without-old-value" ? base.compareAndSwapMain(expected, next, landed) : Effect.sync(() => {
          // Broken: moves main wherever it is, as `update-ref refs/heads/main NEW` without OLD would.
          world.repo.setBranch(world.repo.targetBranch, next)
          for (const task of landed ?? []) world.repo.forgeMarker(task, next)
          return true
        }),
        (moved) => Effect.sync(() => moved && checker.mainMoved(expected, next))
      ),
    commitAll: variant !== "merge-skips-queue" ? base.commitAll : (workspace, message) =>
      Effect.tap(base.commitAll(workspace, message), (sha) =>
        Effect.sync(() => {
          // Broken: lands every commit on main directly, unreviewed.
          const main = world.repo.mainHead()
          if (Option.isSome(sha) && world.repo.isAncestor(main, sha.value)) world.repo.compareAndSwapMain(main, sha.value)
        }))
  }
  const services = Layer.mergeAll(
    Layer.succeed(Git, git),
    Layer.succeed(TaskQueue, queueOf(world, variant)),
    Layer.succeed(Agent, agentOf(world, variant)),
    Layer.succeed(CommandRunner, commandsOf(world, variant))
  )
  return Layer.provideMerge(services, TestSwarm.layer(world))
}

const queueOf = (world: TestSwarm.World, variant: Variant | undefined): TaskQueue["Service"] => {
  const base = MemoryTaskQueue.make(world.queue)
  if (variant !== "non-atomic-claim") return base
  return {
    ...base,
    // Broken: reads, yields, then "renames" without checking that the task is still there.
    claim: Effect.gen(function*() {
      const next = world.queue.list("pending")[0]
      if (next === undefined) return Option.none()
      yield* Effect.yieldNow
      if (world.queue.folders.pending.has(next.id)) world.queue.move(next.id, "pending", "current")
      return Option.some(next)
    })
  }
}

const agentOf = (world: TestSwarm.World, variant: Variant | undefined): Agent["Service"] => {
  const base = ScriptedAgent.make(world.agent)
  if (variant !== "reviewer-bypass") return base
  // Broken: whatever the reviewer said, the orchestrator hears APPROVED.
  return { run: (request) => Effect.map(base.run(request), (result) => (request.call === "review" ? { ...result, answer: "VERDICT: APPROVED" } : result)) }
}

const commandsOf = (world: TestSwarm.World, variant: Variant | undefined): CommandRunner["Service"] => {
  const base = ScriptedCommands.make(world.commands)
  if (variant !== "merge-ignores-failing-test") return base
  // Broken: runs the tests, then reports them green whatever they said.
  return { ...base, inCommit: (sha, command, timeoutMs) => Effect.map(base.inCommit(sha, command, timeoutMs), (run) => ({ ...run, passed: true })) }
}

type PhaseEnd = "done" | "crashed" | "violation" | { readonly stalled: string } | { readonly defect: string }

/** Runs `effect` in the world's time until it ends; a crash or a broken invariant cuts it short. */
const runFiber = <A, E>(w: World, effect: Effect.Effect<A, E>, crashAtEvent: number | undefined): PhaseEnd => {
  const time = w.time
  const fiber = Effect.runFork(
    effect.pipe(Effect.provideService(Clock.Clock, time.clock), Effect.provideService(Scheduler.Scheduler, time.scheduler)),
    { scheduler: time.scheduler }
  )
  const deadline = time.now + phaseTimeMaxMs
  const stop = (end: PhaseEnd): PhaseEnd => {
    fiber.interruptUnsafe()
    // Finalizers may wait on time too (a workspace removed, a claim returned): let them finish,
    // within a phase's time again.
    const finalizersDeadline = time.now + phaseTimeMaxMs
    while (fiber.pollUnsafe() === undefined && time.settle() && (time.nextTimerAt() ?? Infinity) <= finalizersDeadline && time.advance());
    return end
  }
  for (;;) {
    if (!time.settle()) return stop({ stalled: "fibers kept yielding to each other without ever waiting (a livelock)" })
    if (!w.checker.ok) return stop("violation")
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) return Exit.isSuccess(exit) ? "done" : { defect: Cause.pretty(exit.cause).split("\n").slice(0, 3).join(" ") }
    if (crashAtEvent !== undefined && w.counts.events >= crashAtEvent) {
      // kill -9: the orchestrator stops between two steps, and no finalizer of it ever runs; its
      // fibers and timers stay behind in a time nobody drives again. Recovery must repair the rest.
      w.time = new DiscreteTime(time.now)
      return "crashed"
    }
    const next = time.nextTimerAt()
    if (next === undefined) return stop({ stalled: "every fiber waits and no timer is set (a deadlock)" })
    if (next > deadline) return stop({ stalled: `it did not end within ${phaseTimeMaxMs / 3600_000} h of simulated time` })
    time.advance()
  }
}

/** Runs one swarm on the world until it ends, crashes, breaks, or stalls. */
const runPhase = (w: World, config: SwarmConfig, runId: string, crashAtEvent: number | undefined): PhaseEnd => {
  // The run's log, as `events.jsonl` holds it on disk: what recovery reads after a crash.
  const log: Array<Event> = []
  w.runLogs.set(runId, log)
  w.log.current = log
  return runFiber(w, Swarm.run(config, { runId }).pipe(Effect.provide(w.layer), Effect.asVoid), crashAtEvent)
}

/** Recovery after a crash: the real program, over the same world, reading the dead run's log as it was written. */
const recover = (w: World, config: SwarmConfig, variant: Variant | undefined): PhaseEnd => {
  const queue = variant === "crash-loses-claim"
    // Broken: recovery does not see the claims a dead run left in current/.
    ? Layer.succeed(TaskQueue, { ...MemoryTaskQueue.make(w.world.queue), list: (status) => status === "current" ? Effect.succeed([]) : MemoryTaskQueue.make(w.world.queue).list(status) })
    : MemoryTaskQueue.layer(w.world.queue)
  return runFiber(w, Recovery.run({
    maxTaskAttempts: config.max_task_attempts,
    runLog: (runId) => {
      const log = w.runLogs.get(runId) ?? []
      // Broken (oompa's own first version): a branch counts as approved only when its head is, so a
      // crash during a conflict resolution loses the approved commit under it.
      return Effect.succeed(variant === "recovery-drops-unreviewed-tip" ? approvalsOfHeadsOnly(log) : log)
    }
  }).pipe(Effect.provide(queue), Effect.provide(TestSwarm.layer(w.world)), Effect.orDie, Effect.asVoid), undefined)
}

/** The log without the approvals of iterations that committed again after their last one. */
const approvalsOfHeadsOnly = (log: ReadonlyArray<Event>): ReadonlyArray<Event> => {
  const key = (e: { readonly worker: string; readonly iteration: number }) => `${e.worker}\u0000${e.iteration}`
  const last = new Map<string, "committed" | "approved">()
  for (const e of log) {
    if (e._tag === "Committed") last.set(key(e), "committed")
    else if (e._tag === "VerdictGiven" && e.verdict === "approved") last.set(key(e), "approved")
  }
  return log.filter((e) => !(e._tag === "VerdictGiven" && e.verdict === "approved" && last.get(key(e)) === "committed"))
}

const failureOf = (w: World, end: PhaseEnd, phase: string): Failure | undefined => {
  const violation = w.checker.violations[0]
  if (violation !== undefined) return { kind: "invariant", invariant: violation.invariant, message: `${violation.invariant}: ${violation.message}` }
  if (typeof end === "object" && "defect" in end) return { kind: "defect", message: `${phase}: ${end.defect}` }
  if (typeof end === "object" && "stalled" in end) return { kind: "liveness", invariant: "I6", message: `I6: the ${phase} did not end: ${end.stalled}` }
  return undefined
}

/** Executors only, with iterations enough for every task to use all its attempts. */
const livenessConfig = (config: SwarmConfig, pending: number): SwarmConfig => {
  const { planner: _planner, ...rest } = config
  return {
    ...rest,
    workers: config.workers.map((w) => ({ ...w, role: "executor", iterations: Math.max(1, pending * config.max_task_attempts + 1), budget: {} })),
    budget: {}
  }
}

/**
 * Runs one seed: the safety phase (faults, maybe an orchestrator crash and recovery), then the
 * liveness phase.
 *
 * @category programs
 * @since 0.1.0
 */
export const simulate = (options: SimulationOptions): Effect.Effect<SimulationResult> => Effect.sync(() => simulateNow(options))

const simulateNow = (options: SimulationOptions): SimulationResult => {
  const parameters = drawParameters(options.seed, { variant: options.variant, tasks: options.tasks?.length })
  const config = options.config ?? configOf(parameters)
  const w = makeWorld(parameters, config, options.tasks ?? tasksOf(parameters), options.variant, options.observe)
  w.switches.faults = options.faults ?? true
  const finish = (failure: Failure | undefined): SimulationResult => ({
    seed: options.seed,
    ok: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
    steps: w.counts.events,
    iterations: w.counts.iterations,
    agentCalls: w.counts.calls,
    merged: w.world.repo.mainHistory.length - 1,
    traceHash: w.trace.hex,
    simulatedMs: w.time.now,
    parameters
  })
  let end = runPhase(w, config, "5afe0001", parameters.crashAtEvent)
  if (end === "crashed") {
    w.checker.crashed()
    const recovered = recover(w, config, options.variant)
    if (recovered !== "done") return finish(failureOf(w, recovered, "recovery"))
    w.checker.checkQuiescent("recovery from the orchestrator's crash")
    if (!w.checker.ok) return finish(failureOf(w, end, "recovery"))
    end = runPhase(w, config, "5afe0002", undefined)
  }
  const safety = failureOf(w, end, "safety phase")
  if (safety !== undefined) return finish(safety)
  w.checker.checkQuiescent("the safety phase")
  if (!w.checker.ok) return finish(failureOf(w, end, "safety phase"))
  w.switches.faults = false
  const pending = w.world.queue.list("pending").length
  const live = runPhase(w, livenessConfig(config, pending), "11fe0001", undefined)
  const liveness = failureOf(w, live, "liveness phase")
  if (liveness !== undefined) return finish(liveness)
  w.checker.checkQuiescent("the liveness phase")
  const left = [...w.world.queue.list("pending"), ...w.world.queue.list("current")].map((t) => t.id)
  if (w.checker.ok && left.length > 0) {
    return finish({ kind: "liveness", message: `liveness: with faults off, tasks never reached complete/ or failed/: ${left.join(", ")}` })
  }
  return finish(failureOf(w, live, "liveness phase"))
}

/**
 * A user's configuration ready to simulate: its prompt files live on the user's disk, which a
 * simulation does not read, so every worker, the planner and the reviewers use the built-in prompts
 * (`oompa sim oompa.json` does this; so does a host's own test).
 *
 * @category constructors
 * @since 0.1.0
 */
export const withBuiltInPrompts = (config: SwarmConfig): SwarmConfig => {
  const { planner, ...rest } = config
  return {
    ...rest,
    ...(planner === undefined ? {} : { planner: { ...planner, prompt: [] } }),
    workers: config.workers.map((w) => ({ ...w, prompt: [] })),
    reviewers: config.reviewers.map((r) => ({ agent: r.agent }))
  }
}

/**
 * A big swarm to simulate: 8 workers × 20 iterations (one worker that also plans, seven executors),
 * one reviewer, a test gate, 60 tasks. The bench measures it (`bench/src/sim.bench.ts`) and CI
 * sweeps it next to the swarms drawn from each seed, which are smaller.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const bigSwarm: { readonly config: SwarmConfig; readonly tasks: ReadonlyArray<Task> } = {
  config: makeSwarmConfig({
    workers: Array.from({ length: 8 }, (_, i): WorkerConfig => ({
      id: `w${i}` as WorkerId,
      agent: { harness: i % 2 === 0 ? "claude" : "codex" },
      role: i === 0 ? "worker" : "executor",
      iterations: 20,
      prompt: [],
      wait_between: 0,
      budget: {}
    })),
    reviewers: [{ agent: { harness: "codex" } }],
    test_command: "npm test",
    merge: { strategy: "no-ff", on_conflict: "agent" },
    timeouts: { propose: 120, review: 120, test: 120, setup: 60 }
  }),
  tasks: Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, summary: `task ${i}` }) as Task)
}

/**
 * The command that replays a seed.
 *
 * @category formatting
 * @since 0.1.0
 */
export const replayCommand = (seed: number, options: { readonly configFile?: string | undefined; readonly variant?: Variant | undefined } = {}): string =>
  `oompa sim --seed ${seed}${options.configFile === undefined ? "" : ` --config ${options.configFile}`}${options.variant === undefined ? "" : ` --variant ${options.variant}`}`
