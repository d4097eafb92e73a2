/**
 * `oompa sim` (SPEC F13): deterministic simulation of whole swarms. One seed (`--seed S`), a sweep
 * (`--seeds N`, seeds 1..N, stopping at the first failure), or the user's own swarm
 * (`--config oompa.json`). Every failure ends with the command that replays it; exit codes tell a
 * broken invariant (129), no progress (128) and a defect (127) apart.
 *
 * @since 0.1.0
 */
import { Context, Effect, Option, Path } from "effect"
import { availableParallelism } from "node:os"
import { SimulationSweep } from "@oompa/adapters-node"
import { Command, Flag } from "effect/cli"
import type { SwarmConfig } from "@oompa/core"
import { Simulation } from "@oompa/core/simulation"
import { SimulationFailed, UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as Session from "../Session.ts"
import { calibrate } from "./simCalibrate.ts"
import { plan } from "./simPlan.ts"

const variantNames = Object.keys(Simulation.variants) as ReadonlyArray<Simulation.Variant>

const parameterLines = (p: Simulation.Parameters): ReadonlyArray<string> => [
  `SEED=${p.seed}`,
  `  workers=${p.workers} tasks=${p.tasks} iterations=${p.iterations} strategy=${p.strategy} on_conflict=${p.onConflict} test_gate=${p.testGate}`,
  `  max_review_attempts=${p.reviewAttemptsMax} max_task_attempts=${p.taskAttemptsMax} planner=${p.planner} orchestrator_crash_at_event=${p.crashAtEvent ?? "none"}`,
  `  faults: ${Object.entries(p.faults).map(([k, v]) => `${k}=${v.toFixed(3)}`).join(" ")}`,
  `  dependencies: rate=${p.dependencies.rate.toFixed(3)} cycle=${p.dependencies.cycle} unknown=${p.dependencies.unknown}`
]

/** Fails with the exit code of the failure's kind, after the replay command is printed. */
const failWith = (result: Simulation.SimulationResult, configFile: string | undefined, variant: Simulation.Variant | undefined) =>
  Effect.gen(function*() {
    yield* Output.lines([
      `FAILED seed ${result.seed}: ${result.failure?.message ?? "unknown"}`,
      ...(variant === undefined ? [] : [`(found with the deliberately broken variant ${variant}: ${Simulation.variants[variant]})`]),
      `you can reproduce this failure with: ${Simulation.replayCommand(result.seed, { configFile, variant })}`
    ])
    const kind = result.failure?.kind ?? "defect"
    return yield* new SimulationFailed({ kind, exitCode: Simulation.exitCodes[kind] })
  })

/**
 * The module simulation threads run: the executable's own file, which serves seeds when it starts
 * as a simulation thread (`FullCli.ts`). Unset (in-process callers), the adapters' worker module is used.
 *
 * @category references
 * @since 0.1.0
 */
export const WorkerScript = Context.Reference<URL | undefined>("oompa/cli/SimulationWorkerScript", { defaultValue: () => undefined })

export const sim = Command.make("sim", {
  seed: Flag.Int("seed").pipe(Flag.optional, Flag.withDescription("Run one seed")),
  seeds: Flag.Int("seeds").pipe(Flag.optional, Flag.withDescription("Run seeds 1..N, stopping at the first failure")),
  json: Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("With --seed: print only a JSON summary")),
  config: Flag.String("config").pipe(Flag.optional, Flag.withDescription("Simulate the swarm of this oompa.json")),
  threads: Flag.Int("threads").pipe(Flag.optional, Flag.withDescription("With --seeds: threads to run seeds on (default: one per core)")),
  variant: Flag.Literals("variant", variantNames).pipe(
    Flag.optional,
    Flag.withDescription("Simulate a deliberately broken orchestrator, to watch the checker catch it")
  )
}, ({ seed, seeds, json, config, threads, variant: variantFlag }) =>
  Effect.gen(function*() {
    if (Option.isSome(seed) === Option.isSome(seeds)) return yield* new UsageError({ message: "sim: give exactly one of --seed S or --seeds N" })
    if (Option.isSome(seeds) && seeds.value < 1) return yield* new UsageError({ message: `--seeds: expected a positive integer, got ${seeds.value}` })
    if (Option.isSome(threads) && (threads.value < 1 || threads.value > 256)) return yield* new UsageError({ message: `--threads: expected an integer in 1..256, got ${threads.value}` })
    if (Option.isSome(threads) && Option.isSome(seed)) return yield* new UsageError({ message: "--threads: only with --seeds N (one seed runs in one thread)" })
    if (Option.isSome(seed) && (seed.value < 0 || seed.value > 0xffffffff)) return yield* new UsageError({ message: `--seed: expected an integer in 0..4294967295, got ${seed.value}` })
    const variant = Option.getOrUndefined(variantFlag)
    const path = yield* Path.Path
    const configFile = Option.getOrUndefined(config)
    const swarm = configFile === undefined ? undefined : Simulation.withBuiltInPrompts(yield* Session.readConfig(path.resolve(configFile)))
    const run = (s: number) => Simulation.simulate({ seed: s, ...(swarm === undefined ? {} : { config: swarm }), ...(variant === undefined ? {} : { variant }) })
    if (Option.isSome(seed)) {
      const result = yield* run(seed.value)
      if (json) {
        const { parameters: _parameters, ...summary } = result
        yield* Output.lines([JSON.stringify(summary)])
      } else {
        yield* Output.lines([...parameterLines(result.parameters), `steps=${result.steps} iterations=${result.iterations} merged=${result.merged} agent_calls=${result.agentCalls} trace=${result.traceHash}`])
      }
      if (!result.ok) return yield* failWith(result, configFile, variant)
      if (!json) yield* Output.lines([`PASSED (${result.steps} steps)`])
      return
    }
    const total = Option.getOrElse(seeds, () => 0)
    const started = performance.now()
    // Progress on stderr (redrawn in place on a terminal); the verdict on stdout.
    const terminal = Output.progressTerminal()
    const tty = terminal.tty
    let shown = 0
    let passedSoFar = 0
    const workerScript = yield* WorkerScript
    const report = yield* SimulationSweep.sweep({
      first: 1,
      count: total,
      threads: Option.getOrElse(threads, () => availableParallelism()),
      simulation: { ...(swarm === undefined ? {} : { config: swarm }), ...(variant === undefined ? {} : { variant }) },
      ...(workerScript === undefined ? {} : { workerScript }),
      onProgress: (passed) => {
        passedSoFar = passed
        // A line every 50 seeds (redrawn in place on a terminal), and at the end.
        if (passed < total && passed - shown < 50) return
        shown = passed
        const rate = passed / ((performance.now() - started) / 1000)
        terminal.write(`${tty ? "\r" : ""}seeds ${passed}/${total} passed (${rate.toFixed(1)}/s)${tty ? "" : "\n"}`)
      }
    }).pipe(
      Effect.onInterrupt(() =>
        Output.errorLines([`${tty && shown > 0 ? "\n" : ""}${passedSoFar === 0 ? "interrupted before a seed passed" : `interrupted: seeds 1..${passedSoFar} passed`}`]))
    )
    if (tty && shown > 0) yield* Output.errorLines([""])
    if (report.failure !== undefined) {
      yield* Output.lines(["", ...parameterLines(report.failure.parameters)])
      return yield* failWith(report.failure, configFile, variant)
    }
    yield* Output.lines([`PASSED seeds 1..${total} (${report.threads} thread${report.threads === 1 ? "" : "s"}, ${(total / ((performance.now() - started) / 1000)).toFixed(1)} seeds/s)`])
  })).pipe(
  Command.withDescription("Simulate whole swarms from seeds, with faults, checking every invariant"),
  Command.withExamples([
    { command: "oompa sim --seeds 1000", description: "Seeds 1..1000 on every core; stops at the first failure and prints how to replay it" },
    { command: "oompa sim --seed 42 --json", description: "One seed, as a JSON summary" },
    { command: "oompa sim --seeds 200 --config oompa.json", description: "Your own swarm under faults" },
    { command: "oompa sim --seeds 500 --variant reviewer-bypass", description: "A deliberately broken orchestrator: the checker finds a seed that breaks I1" },
    { command: "oompa sim calibrate", description: "Fit your agents' latency, verdicts, errors and costs from your last runs" },
    { command: "oompa sim plan --workers 4,8,16 --speculation 1,4", description: "What each worker count and queue depth would give with those agents" }
  ]),
  Command.withSubcommands([calibrate, plan])
)
