/**
 * The `oompa` executable: runs the CLI on this process's arguments. Ctrl-C (SIGINT), SIGTERM, a
 * closed terminal (SIGHUP) and SIGQUIT interrupt the run, which releases its workspaces and claims
 * before exiting 130; so does output that can no longer be written (a pager quit, `| head`), after
 * which nothing more is printed.
 */
import { Effect, Fiber } from "effect"
import { SimulationSweep } from "@oompa/adapters-node"
import { main } from "./Main.ts"

// `oompa sim --seeds` runs seeds on threads that start this same file: those serve seeds instead.
if (SimulationSweep.isSimulationWorker()) SimulationSweep.serve()
else start()

function start(): void {
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
  fiber = Effect.runFork(main(process.argv.slice(2), { simulationWorker: new URL(import.meta.url) }))
  fiber.addObserver((exit) => {
    process.exitCode = exit._tag === "Success" ? exit.value : 130
  })
}
