/**
 * The full CLI (bundled as `dist/cli.mjs`): Effect, effect/cli and every command. `bin.ts` loads it
 * for every invocation its fast path does not answer; run directly (`node dist/cli.mjs …`), it is
 * the CLI without the fast path, which the build renders the fast path's texts with and the tests
 * compare the fast path against.
 *
 * Ctrl-C (SIGINT), SIGTERM, a closed terminal (SIGHUP) and SIGQUIT interrupt the run, which releases
 * its workspaces and claims before exiting 130; so does output that can no longer be written (a
 * pager quit, `| head`), after which nothing more is printed.
 *
 * @since 0.1.0
 */
import { Effect, Fiber } from "effect"
import { SimulationSweep } from "@oompa/adapters-node"
import { realpathSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { main } from "./Main.ts"

export { oompa } from "./Cli.ts"

/** `oompa sim --seeds` runs seeds on threads that start this same file. */
const simulationWorker = new URL(import.meta.url)

/**
 * Runs the CLI on `argv` (without node and the script) in this process: signals, a closed output,
 * and the exit code.
 *
 * @category programs
 * @since 0.1.0
 */
export const start = (argv: ReadonlyArray<string>): void => {
  let interrupts = 0
  let fiber: Fiber.Fiber<number> | undefined
  let interrupting = false
  const interrupt = () => {
    if (interrupting || fiber === undefined) return
    interrupting = true
    Effect.runFork(Fiber.interrupt(fiber))
  }
  const onSignal = () => {
    interrupts++
    // A second signal exits at once, leaving what `oompa cleanup` repairs.
    if (interrupts > 1 || fiber === undefined) process.exit(130)
    interrupt()
  }
  // Before the fiber starts: it runs synchronously until it first waits, which a long computation
  // (a simulation sweep) may not do for a while; a Ctrl-C meanwhile must still be ours.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) process.on(signal, onSignal)
  // A reader that went away (EPIPE; EIO from a hung-up terminal): without a listener Node would throw
  // from the write and skip the run's clean-up. Output stops; the run is interrupted once, cleanly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "EIO") throw error
      stream.write = (() => true) as typeof stream.write
      interrupt()
    })
  }
  fiber = Effect.runFork(main(argv, { simulationWorker }))
  fiber.addObserver((exit) => {
    process.exitCode = exit._tag === "Success" ? exit.value : 130
  })
}

/**
 * Runs `argv` and resolves to its exit code, without `start`'s signal handling: the build renders
 * the fast path's texts with it, several argvs in one process.
 *
 * @category programs
 * @since 0.1.0
 */
export const exitCodeOf = (argv: ReadonlyArray<string>): Promise<number> => Effect.runPromise(main(argv, { simulationWorker }))

/** Whether this file is the script Node was started with (`node dist/cli.mjs …`), not an import. */
const isMainScript = (): boolean => {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (SimulationSweep.isSimulationWorker()) SimulationSweep.serve()
else if (isMainScript()) start(process.argv.slice(2))
