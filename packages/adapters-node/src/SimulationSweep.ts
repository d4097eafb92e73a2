/**
 * Many simulation seeds at once (SPEC F13): seeds `first..first+count-1` spread over worker threads,
 * one seed per thread at a time, handed out in seed order. Each seed's run is the same pure
 * `Simulation.simulate` as in-process, so a seed's result and trace do not depend on the thread that
 * ran it or on the thread count.
 *
 * "Stop at the first failure" stays exact with several threads: seeds are handed out in order, so
 * when seed `s` fails every seed below it has already started; the sweep stops handing out seeds,
 * lets those finish (one of them may fail too, and the lowest failing seed is the one reported),
 * and stops the threads still running seeds above `s`.
 *
 * A thread runs a module that calls {@link serve} when {@link isSimulationWorker} says so: the
 * bundled CLI serves from its own file; from source, `./simulationWorker.ts` does.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { availableParallelism } from "node:os"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { Simulation } from "@oompa/core/simulation"

/**
 * The thread module beside this one: `simulationWorker.ts` when running from the sources (the
 * workspace), `simulationWorker.js` from the compiled package an embedder installs.
 */
const defaultWorkerScript = (): URL =>
  new URL(import.meta.url.endsWith(".ts") ? "./simulationWorker.ts" : "./simulationWorker.js", import.meta.url)

/**
 * What every seed of a sweep shares.
 *
 * @category models
 * @since 0.1.0
 */
export type Shared = Omit<Simulation.SimulationOptions, "seed" | "observe">

/**
 * @category models
 * @since 0.1.0
 */
export interface SweepOptions {
  readonly first: number
  readonly count: number
  /** Threads to run seeds on (default: the machine's available parallelism); 1 runs them in this thread. */
  readonly threads?: number
  readonly simulation?: Shared
  /** The module each thread runs; it must call {@link serve} (default: `./simulationWorker.ts`). */
  readonly workerScript?: URL
  /** Called as the run of passed seeds from `first` grows (with its length). */
  readonly onProgress?: (passed: number) => void
}

/**
 * @category models
 * @since 0.1.0
 */
export interface SweepReport {
  /** Seeds from `first` on that passed before the first failure (all of them without one). */
  readonly passed: number
  /** The lowest failing seed's result. */
  readonly failure?: Simulation.SimulationResult
  /** Totals over every seed that finished, failing or not. */
  readonly seedsRun: number
  readonly agentCalls: number
  readonly steps: number
  readonly threads: number
}

const marker = "oompa-simulation-worker"

type ToWorker = { readonly seed: number }
type FromWorker =
  | { readonly seed: number; readonly result: Simulation.SimulationResult }
  | { readonly seed: number; readonly defect: string }

/**
 * Whether this thread was started by {@link sweep} to run seeds.
 *
 * @category workers
 * @since 0.1.0
 */
export const isSimulationWorker = (): boolean =>
  !isMainThread && typeof workerData === "object" && workerData !== null && marker in workerData

/**
 * Runs the seeds the sweep sends this thread, one at a time, until the sweep closes it.
 *
 * @category workers
 * @since 0.1.0
 */
export const serve = (): void => {
  const port = parentPort
  if (port === null || !isSimulationWorker()) throw new Error("SimulationSweep.serve: not a thread started by SimulationSweep.sweep")
  const shared = (workerData as { readonly [marker]: Shared })[marker]
  port.on("message", (message: ToWorker) => {
    Effect.runPromise(Simulation.simulate({ ...shared, seed: message.seed })).then(
      (result) => port.postMessage({ seed: message.seed, result } satisfies FromWorker),
      (error: unknown) => port.postMessage({ seed: message.seed, defect: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies FromWorker)
    )
  })
}

/** Bookkeeping shared by both ways of running seeds: what finished, and what is reported. */
class Tally {
  /** Whether each finished seed past the run of passed ones passed (kept only until the run reaches it). */
  private readonly ahead = new Map<number, boolean>()
  lowestFailure: Simulation.SimulationResult | undefined
  passed = 0
  seedsRun = 0
  agentCalls = 0
  steps = 0
  readonly options: SweepOptions
  constructor(options: SweepOptions) {
    this.options = options
  }

  record(result: Simulation.SimulationResult): void {
    this.ahead.set(result.seed, result.ok)
    this.seedsRun++
    this.agentCalls += result.agentCalls
    this.steps += result.steps
    if (!result.ok && (this.lowestFailure === undefined || result.seed < this.lowestFailure.seed)) this.lowestFailure = result
    const before = this.passed
    while (this.ahead.get(this.options.first + this.passed) === true) this.ahead.delete(this.options.first + this.passed++)
    if (this.passed > before) this.options.onProgress?.(this.passed)
  }

  report(threads: number): SweepReport {
    return {
      passed: this.passed,
      ...(this.lowestFailure === undefined ? {} : { failure: this.lowestFailure }),
      seedsRun: this.seedsRun,
      agentCalls: this.agentCalls,
      steps: this.steps,
      threads
    }
  }
}

const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

const inThisThread = (options: SweepOptions): Effect.Effect<SweepReport> =>
  Effect.gen(function*() {
    const tally = new Tally(options)
    for (let seed = options.first; seed < options.first + options.count; seed++) {
      tally.record(yield* Simulation.simulate({ ...options.simulation, seed }))
      if (tally.lowestFailure !== undefined) break
      // A seed runs synchronously: between seeds, the event loop gets a turn (progress output, Ctrl-C).
      yield* nextTurn
    }
    return tally.report(1)
  })

const onThreads = (options: SweepOptions, threads: number): Effect.Effect<SweepReport> =>
  Effect.callback<SweepReport>((resume) => {
    const tally = new Tally(options)
    const end = options.first + options.count
    const workers: Array<Worker> = []
    let next = options.first
    let done = false
    // Which seed each thread runs, if any.
    const running = new Map<Worker, number>()
    const finish = (outcome: Effect.Effect<SweepReport>) => {
      if (done) return
      done = true
      for (const worker of workers) void worker.terminate()
      resume(outcome)
    }
    const handOut = (worker: Worker) => {
      // No seed at or past the lowest failure is started; the sweep ends when none below it runs.
      const limit = tally.lowestFailure?.seed ?? end
      if (next < limit) {
        running.set(worker, next)
        worker.postMessage({ seed: next++ } satisfies ToWorker)
      } else {
        running.delete(worker)
        if (![...running.values()].some((seed) => seed < limit)) finish(Effect.succeed(tally.report(threads)))
      }
    }
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(options.workerScript ?? defaultWorkerScript(), {
        workerData: { [marker]: options.simulation ?? {} },
        // A simulation allocates many short-lived objects: a larger young generation means fewer
        // scavenges (measured on the bench swarm, 500 seeds on 2 threads: 33.0-34.4 seeds/s with
        // the default, 35.7-36.0 with 96 MB).
        resourceLimits: { maxYoungGenerationSizeMb: 96 }
      })
      workers.push(worker)
      worker.on("message", (message: FromWorker) => {
        if (done) return
        if ("defect" in message) return finish(Effect.die(new Error(`simulation of seed ${message.seed} died: ${message.defect}`)))
        tally.record(message.result)
        handOut(worker)
      })
      worker.on("error", (error) => finish(Effect.die(error)))
      worker.on("exit", (code) => {
        if (!done) finish(Effect.die(new Error(`a simulation thread exited with code ${code} while running seed ${running.get(worker) ?? "none"}`)))
      })
      handOut(worker)
    }
    return Effect.sync(() => {
      done = true
      for (const worker of workers) void worker.terminate()
    })
  })

/**
 * Runs seeds `first..first+count-1`, stopping at the first failure.
 *
 * @category programs
 * @since 0.1.0
 */
export const sweep = (options: SweepOptions): Effect.Effect<SweepReport> => {
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), options.count))
  return threads === 1 ? inThisThread(options) : onThreads(options, threads)
}
