/**
 * The module `SimulationSweep` runs in each thread when it runs from source (the bundled CLI serves
 * from its own file instead).
 */
import { serve } from "./SimulationSweep.ts"

serve()
