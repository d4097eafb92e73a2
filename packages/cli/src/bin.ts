/**
 * The `oompa` executable: runs the CLI on this process's arguments; Ctrl-C (SIGINT) and SIGTERM
 * interrupt the run, which releases its workspaces and claims before exiting 130.
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
  const onSignal = () => {
    interrupts++
    // A second Ctrl-C exits at once, leaving what `oompa cleanup` repairs.
    if (interrupts > 1 || fiber === undefined) process.exit(130)
    Effect.runFork(Fiber.interrupt(fiber))
  }
  // Before the fiber starts: it runs synchronously until it first waits, which a long computation
  // (a simulation sweep) may not do for a while; a Ctrl-C meanwhile must still be ours.
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber = Effect.runFork(main(process.argv.slice(2), { simulationWorker: new URL(import.meta.url) }))
  fiber.addObserver((exit) => {
    process.exitCode = exit._tag === "Success" ? exit.value : 130
  })
}
