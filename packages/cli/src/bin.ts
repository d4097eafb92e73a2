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
  const fiber = Effect.runFork(main(process.argv.slice(2), { simulationWorker: new URL(import.meta.url) }))
  let interrupts = 0
  const onSignal = () => {
    interrupts++
    // A second Ctrl-C exits at once, leaving what `oompa cleanup` repairs.
    if (interrupts > 1) process.exit(130)
    Effect.runFork(Fiber.interrupt(fiber))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.exitCode = exit._tag === "Success" ? exit.value : 130
  })
}
