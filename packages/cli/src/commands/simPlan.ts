/**
 * `oompa sim plan [--calibration FILE] [--workers 4,8,16] [--speculation 1,4] [--hours 1]
 * [--seeds N] [--config oompa.json] [--json]` (issue 23): the user's own swarm simulated with the
 * agents `oompa sim calibrate` fitted, at each point of the grid, many seeds a point; for each
 * point merges and cost per hour, claim to merge, merge-queue wait and idle share (mean and range
 * across seeds), and the best point within the configured budget (`Plan` of
 * `@oompa/core/simulation`).
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option, Path, Result, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { RunPaths } from "@oompa/adapters-node"
import { SwarmConfig } from "@oompa/core"
import { Calibration, Plan, Simulation } from "@oompa/core/simulation"
import { UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as Session from "../Session.ts"
import { duration } from "./simCalibrate.ts"

/** `4,8,16` as integers within `min..max`, sorted, each once; a clear error naming the flag otherwise. */
export const integerList = (flag: string, text: string, min: number, max: number): Result.Result<ReadonlyArray<number>, string> => {
  const parts = text.split(",").map((part) => part.trim())
  const numbers: Array<number> = []
  for (const part of parts) {
    const n = Number(part)
    if (!/^\d+$/.test(part) || n < min || n > max) return Result.fail(`--${flag}: expected integers in ${min}..${max} separated by commas, got ${JSON.stringify(text)}`)
    numbers.push(n)
  }
  return Result.succeed([...new Set(numbers)].sort((a, b) => a - b))
}

const range = (i: Plan.Interval, show: (n: number) => string) => i.low === i.high ? show(i.mean) : `${show(i.mean)} (${show(i.low)}–${show(i.high)})`
const dollars = (n: number) => `$${n >= 100 ? n.toFixed(0) : n.toFixed(2)}`
const count = (n: number) => n >= 100 ? n.toFixed(0) : n.toFixed(1)
const share = (n: number) => `${Math.round(n * 100)}%`

/**
 * The plan as the table `oompa sim plan` prints.
 *
 * @category rendering
 * @since 0.1.0
 */
export const tableLines = (result: Plan.PlanResult, budget: SwarmConfig.SwarmConfig["budget"]): ReadonlyArray<string> => {
  const seeds = Math.max(0, ...result.points.map((p) => p.seeds + p.failures.length))
  const ran = result.points.filter((p) => p.seeds > 0)
  const lows = ran.map((p) => p.simulatedHours.low)
  const highs = ran.map((p) => p.simulatedHours.high)
  const hours = (h: number) => h >= 1 ? `${h.toFixed(1)} h` : `${(h * 60).toFixed(1)} min`
  const spans = ran.length === 0 ? "-" : `${hours(Math.min(...lows))} to ${hours(Math.max(...highs))}`
  const rows = result.points.map((p) => [
    p.best ? "best" : p.seeds === 0 ? "failed" : p.withinBudget ? "" : "over",
    String(p.workers),
    String(p.speculation),
    range(p.mergesPerHour, count),
    range(p.costPerHour, dollars),
    duration(p.claimToMergeP50Ms.mean),
    duration(p.claimToMergeP95Ms.mean),
    duration(p.mergeWaitMs.mean),
    share(p.idleShare.mean)
  ])
  const header = ["", "workers", "queue", "merges/hour", "cost/hour", "claim→merge p50", "p95", "queue wait", "idle"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => (i >= 3 && i <= 4) || i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ").trimEnd()
  const limits = [
    ...(budget.max_cost_usd === undefined ? [] : [`max_cost_usd $${budget.max_cost_usd}`]),
    ...(budget.max_agent_calls === undefined ? [] : [`max_agent_calls ${budget.max_agent_calls}`])
  ]
  return [
    line(header),
    ...rows.map(line),
    "",
    `each point: ${Output.count(seeds, "seed")}, each a run of ${result.tasksPerWorker} tasks a worker, cut at ${result.hours} h simulated ` +
    `(runs lasted ${spans}); figures per hour of the run, its end included; ranges are the lowest and highest seed's`,
    limits.length === 0
      ? "budget: none configured; best = most merges per hour"
      : `budget over ${result.hours} h: ${limits.join(", ")}; "over" exceeds it; best = most merges per hour within it`,
    ...result.points.flatMap((p) => p.failures.map((f) => `FAILED at ${p.workers} workers, queue ${p.speculation}: ${f}`))
  ]
}

/** The largest calibration file read: a team's is a few KB. */
const calibrationBytesMax = 16 * 1024 * 1024

/** Reads and checks a calibration file: every problem names the file; only a regular file of sensible size is read (a FIFO would hang). */
const readCalibration = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(file).pipe(
      Effect.mapError((e) => new UsageError({ message: `--calibration ${file}: cannot read it (${e.message}); oompa sim calibrate writes one` }))
    )
    if (info.type !== "File") return yield* new UsageError({ message: `--calibration ${file}: not a regular file (a ${info.type.toLowerCase()})` })
    if (Number(info.size) > calibrationBytesMax) return yield* new UsageError({ message: `--calibration ${file}: ${info.size} bytes, more than a calibration holds (${calibrationBytesMax})` })
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => new UsageError({ message: `--calibration ${file}: cannot read it (${e.message}); oompa sim calibrate writes one` }))
    )
    return yield* Schema.decodeUnknownEffect(Schema.fromJsonString(Calibration.Calibration))(text).pipe(
      Effect.mapError((e) => new UsageError({ message: `--calibration ${file}: not a calibration: ${String(e).split("\n").slice(0, 4).join(" ")}` }))
    )
  })

export const plan = Command.make("plan", {
  calibration: Flag.String("calibration").pipe(Flag.optional, Flag.withDescription("The calibration file (default .oompa/calibration.json, from oompa sim calibrate)")),
  workers: Flag.String("workers").pipe(Flag.withDefault("4,8,16"), Flag.withDescription("Worker counts to try, e.g. 4,8,16")),
  speculation: Flag.String("speculation").pipe(Flag.withDefault("1"), Flag.withDescription("Merge-queue depths (merge.speculation) to try, e.g. 1,4")),
  hours: Flag.Finite("hours").pipe(Flag.withDefault(1), Flag.withDescription("Simulated hours per run at most (up to 12)")),
  seeds: Flag.Int("seeds").pipe(Flag.withDefault(8), Flag.withDescription("Seeds per point")),
  config: Flag.String("config").pipe(Flag.optional, Flag.withDescription("The swarm to plan (default: this repository's oompa.json)")),
  json: Output.jsonFlag("the plan (Plan.PlanResult of @oompa/core/simulation)")
}, (flags) =>
  Effect.gen(function*() {
    const workers = integerList("workers", flags.workers, 1, 256)
    if (Result.isFailure(workers)) return yield* new UsageError({ message: workers.failure })
    const speculation = integerList("speculation", flags.speculation, 1, SwarmConfig.speculationMax)
    if (Result.isFailure(speculation)) return yield* new UsageError({ message: speculation.failure })
    if (!(flags.hours > 0 && flags.hours <= Plan.hoursMax)) return yield* new UsageError({ message: `--hours: expected a number of hours above 0 and at most ${Plan.hoursMax}, got ${flags.hours}` })
    if (flags.seeds < 1 || flags.seeds > 1000) return yield* new UsageError({ message: `--seeds: expected an integer in 1..1000, got ${flags.seeds}` })
    const path = yield* Path.Path
    const session = yield* Session.fromConfigFile(process.cwd(), Option.getOrUndefined(flags.config))
    const file = Option.isSome(flags.calibration) ? path.resolve(flags.calibration.value) : RunPaths.calibrationPath(session.paths)
    const calibration = yield* readCalibration(file)
    const config = Simulation.withBuiltInPrompts(session.config)
    const terminal = Output.progressTerminal()
    const total = workers.success.length * speculation.success.length * flags.seeds
    const result = yield* Plan.plan({
      config,
      calibration,
      workers: workers.success,
      speculation: speculation.success,
      hours: flags.hours,
      seeds: flags.seeds,
      onProgress: (done) => {
        if (terminal.tty && (done % 4 === 0 || done === total)) terminal.write(`\rsimulated ${done}/${total} runs`)
      }
    }).pipe(Effect.mapError((e) => new UsageError({ message: `--calibration ${file}: ${e.message}` })))
    if (terminal.tty) yield* Output.errorLines([""])
    if (flags.json) return yield* Output.json(Plan.PlanResult, result)
    yield* Output.lines([
      `plan of ${session.configFile === undefined ? "the default swarm" : Output.shownPath(session.configFile)} with ${Output.shownPath(file)} (calibrated from ${Output.count(calibration.runs.length, "run")})`,
      "",
      ...tableLines(result, session.config.budget)
    ])
  })).pipe(
  Command.withDescription("Simulate your swarm with your calibrated agents across worker counts and merge-queue depths: merges and cost per hour, claim to merge, queue wait, idle share"),
  Command.withExamples([
    { command: "oompa sim plan", description: "4, 8 and 16 workers with .oompa/calibration.json, 1 simulated hour, 8 seeds a point" },
    { command: "oompa sim plan --workers 2,4,8 --speculation 1,4 --hours 2 --json", description: "A grid of 6 points as JSON" }
  ])
)
