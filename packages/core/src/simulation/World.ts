/**
 * The simulated world one seed runs in: `TestSwarm`'s in-memory repository, task queue, scripted
 * agents (the `AgentModel`) and scripted tests, plus what the simulator keeps beside them — the
 * invariant checker, the trace hash, the counters, each run's log, the faults switch and the
 * orchestrator's discrete time.
 *
 * Its layer is `TestSwarm`'s, instrumented: the merge queue's merges and swaps of main report to the
 * checker as they happen, so the checker judges what really happened in the world and not what the
 * orchestrator's events say; and broken as the `Variant` says, when one is given.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { Event } from "../domain/Event.ts"
import type { SwarmConfig } from "../domain/SwarmConfig.ts"
import type { Task } from "../domain/Task.ts"
import * as MergePipeline from "../programs/MergePipeline.ts"
import * as MergeQueue from "../programs/MergeQueue.ts"
import * as PolicyGate from "../programs/PolicyGate.ts"
import type * as Swarm from "../programs/Swarm.ts"
import { Agent } from "../services/Agent.ts"
import { CommandRunner } from "../services/CommandRunner.ts"
import { Git } from "../services/Git.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import * as MemoryGit from "../testing/MemoryGit.ts"
import type * as ScriptedCommands from "../testing/ScriptedCommands.ts"
import * as TestSwarm from "../testing/TestSwarm.ts"
import * as AgentModel from "./AgentModel.ts"
import { DiscreteTime } from "./DiscreteTime.ts"
import { InvariantChecker } from "./Invariants.ts"
import type { Parameters } from "./Parameters.ts"
import * as Prng from "./Prng.ts"
import * as Variant from "./Variant.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface World {
  readonly world: TestSwarm.World
  readonly checker: InvariantChecker
  readonly switches: AgentModel.Switches
  readonly layer: Layer.Layer<Swarm.Services>
  readonly trace: Prng.TraceHash
  readonly counts: { events: number; iterations: number; calls: number }
  /** The events of each run that may crash, by run id, and the log the running one appends to. */
  readonly runLogs: Map<string, ReadonlyArray<Event>>
  readonly log: { current: Array<Event> | undefined }
  /** The orchestrator's time: replaced when it crashes, so nothing of the dead run ever runs again. */
  time: DiscreteTime
}

/**
 * What a world is made of.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorldOptions {
  readonly parameters: Parameters
  readonly config: SwarmConfig
  readonly tasks: ReadonlyArray<Task>
  readonly variant: Variant.Variant | undefined
  /** Sees every event as it is emitted, after the checker. */
  readonly observe: ((event: Event) => void) | undefined
  /** How long each merge the queue computes takes (a plan's calibrated landings); none: no time. */
  readonly mergeDelayMs?: (() => number) | undefined
  /** The test gate's model instead of the seed's (a plan's calibrated tests); its verdicts reach the checker the same way. */
  readonly test?: ((repo: MemoryGit.MemoryRepo) => NonNullable<ScriptedCommands.CommandScripts["test"]>) | undefined
}

/**
 * A fresh world, faults on. Its streams fork from the seed: one for the agents, one for the tests.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: WorldOptions): World => {
  const { config, observe, parameters: p, tasks, variant } = options
  const switches: AgentModel.Switches = { faults: true }
  const trace = new Prng.TraceHash()
  const counts = { events: 0, iterations: 0, calls: 0 }
  const log: { current: Array<Event> | undefined } = { current: undefined }
  const root = Prng.make(p.seed ^ 0x51ed)
  const agentPrng = root.fork()
  // Once the test's stream: kept so the streams forked after it stay what they were.
  root.fork()
  const deliveryPrng = root.fork()
  let checker: InvariantChecker | undefined
  const verdicts = new Map<string, boolean>()
  let calibratedTest: NonNullable<ScriptedCommands.CommandScripts["test"]> | undefined
  const world = TestSwarm.makeWorld({
    files: { "README.md": "# simulated\n", "shared.txt": "one\ntwo\nthree\nfour\n" },
    tasks,
    retainEvents: false,
    observe: (event: Event) => {
      counts.events++
      log.current?.push(event)
      if (event._tag === "IterationFinished") counts.iterations++
      if (event._tag === "AgentFinished") counts.calls++
      trace.add(JSON.stringify(event))
      checker!.observe(event)
      observe?.(event)
    },
    commands: {
      // A pure function of the tree (issue 19): the same tree always gets the same verdict, whoever
      // builds it and on whatever chain, so a speculative queue's outcomes can be compared with a
      // one-at-a-time queue's; a deterministic fraction `testFail` of trees fails while faults are on.
      test: (tree, sha) => {
        if (options.test !== undefined) {
          const result = (calibratedTest ??= options.test(world.repo))(tree, sha)
          verdicts.set(sha, result.passed)
          return result
        }
        const digest = world.repo.treeDigest(sha)
        const passed = !(switches.faults && treeFails(digest, p))
        // The checker learns it when the test ends (`layerOf`): an interrupted test passed nothing.
        verdicts.set(sha, passed)
        // Some trees test longer than others: a candidate's test may end before the one ahead of it.
        return { passed, output: passed ? "ok" : "1 failing test", delayMs: testDelayMs + (digest % testDelayMs) }
      }
    }
  })
  if (p.remote) world.repo.useRemote()
  checker = new InvariantChecker({
    repo: world.repo,
    queue: world.queue,
    policy: PolicyGate.make(config.policy, config.tasks_dir),
    reviewAttemptsMax: config.max_review_attempts,
    testGate: config.test_command !== undefined,
    speculation: config.merge.speculation
  })
  world.agent.script = AgentModel.script({ parameters: p, prng: agentPrng, switches, repo: world.repo, checker, timeoutMs: config.timeouts.propose * 1000 })
  // At-least-once delivery to the merge queue, as across machines: now and then a submission twice.
  const delivery = {
    copies: () => switches.faults && deliveryPrng.chance(redeliveryRate) ? 2 : 1,
    // Sometimes a copy comes again long after, when its submission was long decided.
    lateMs: () => switches.faults && deliveryPrng.chance(redeliveryRate) ? deliveryPrng.int(1, 60) * 1000 : undefined,
    // Landing on a remote (a cluster's hub), a landed submission's answer is sometimes lost with the
    // queue's runner, and its copy reaches the queue of the runner that took over (issue 21).
    failover: p.remote ? {
      afterMs: () => switches.faults && deliveryPrng.chance(redeliveryRate) ? deliveryPrng.int(1, 10) * 1000 : undefined,
      // That runner reads the remote through its own clone, which no agent of this one can touch.
      git: successorGit(world.repo, checker, variant)
    } : undefined
  }
  return { world, checker, switches, trace, counts, runLogs: new Map(), log, time: new DiscreteTime(), layer: layerOf(world, checker, variant, delivery, verdicts, options.mergeDelayMs) }
}

/** How long a simulated test runs at least; at most twice that. */
const testDelayMs = 3000

/** How often, while faults are on, a submission reaches the merge queue twice. */
const redeliveryRate = 0.1

/** Whether the tree with digest `digest` fails the tests: a fraction `testFail` of trees, fixed per seed. */
const treeFails = (digest: number, p: Parameters): boolean => {
  let h = Math.imul(digest ^ p.seed, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return ((h ^ (h >>> 16)) >>> 0) / 0x1_0000_0000 < p.faults.testFail
}

/** The world's services: instrumented for the checker, broken as the variant says. */
const layerOf = (
  world: TestSwarm.World,
  checker: InvariantChecker,
  variant: Variant.Variant | undefined,
  delivery: (typeof MergeQueue.Delivery)["Service"],
  verdicts: ReadonlyMap<string, boolean>,
  mergeDelayMs: (() => number) | undefined
): Layer.Layer<Swarm.Services> => {
  const commands = Variant.commandRunner(variant, world.commands)
  const services = Layer.mergeAll(
    Layer.succeed(Git, gitOf(world.repo, checker, variant, mergeDelayMs)),
    Layer.succeed(TaskQueue, Variant.taskQueue(variant, world.queue)),
    Layer.succeed(Agent, Variant.agent(variant, world.agent)),
    Layer.succeed(CommandRunner, {
      ...commands,
      // What the test model said, recorded once the test ended — whatever a broken runner reported.
      inCommit: (sha, command, timeoutMs) =>
        Effect.tap(commands.inCommit(sha, command, timeoutMs), () => Effect.sync(() => checker.testVerdicts.set(sha, verdicts.get(sha) ?? false)))
    }),
    Layer.succeed(MergeQueue.Delivery, delivery),
    Layer.succeed(MergePipeline.Broken, Variant.brokenPipeline(variant))
  )
  return Layer.provideMerge(services, TestSwarm.layer(world))
}

/**
 * The remote as a queue on another runner sees it: its main is the remote's head, read without
 * fetching into this clone's ref of it (the simulation has one repository for every runner; a
 * fetch here would write over an agent's move of that ref before this run's queue reported it).
 */
const successorGit = (repo: MemoryGit.MemoryRepo, checker: InvariantChecker, variant: Variant.Variant | undefined): Git["Service"] => {
  const git = gitOf(repo, checker, variant)
  const remoteHead = Effect.sync(() => repo.remote!.head)
  return { ...git, mainHead: remoteHead, refreshMain: remoteHead }
}

/** `Git` over the repository, telling the checker of every merge the queue computes and every move of main. */
const gitOf = (repo: MemoryGit.MemoryRepo, checker: InvariantChecker, variant: Variant.Variant | undefined, mergeDelayMs?: () => number): Git["Service"] => {
  const base = MemoryGit.make(repo)
  const delay = mergeDelayMs === undefined ? Effect.void : Effect.suspend(() => Effect.sleep(mergeDelayMs()))
  const compareAndSwapMain = Variant.compareAndSwapMain(variant, repo, base)
  return {
    ...base,
    merge: (request) =>
      Effect.sync(() => checker.mergeStarted(request.head)).pipe(
        Effect.andThen(delay),
        Effect.andThen(base.merge(request)),
        Effect.map((result) => Variant.mergeResult(variant, repo, request, result)),
        Effect.tap((result) => Effect.sync(() => result._tag === "Merged" && checker.mergeComputed(request.head, result.sha)))
      ),
    compareAndSwapMain: (expected, next, landed) =>
      Effect.tap(compareAndSwapMain(expected, next, landed), (moved) => Effect.sync(() => moved && checker.mainMoved(expected, next))),
    refreshMain: Effect.tap(base.refreshMain, (head) => Effect.sync(() => checker.refreshed(head))),
    commitAll: Variant.commitAll(variant, repo, base)
  }
}
