/**
 * The `oompa` executable (bundled as `dist/oompa.mjs`): help and the version come from the texts the
 * full CLI rendered at build time (`FastPath.ts`, `dist/help.json`), without loading Effect; every
 * other invocation loads the full CLI (`FullCli.ts`, `dist/cli.mjs`) and runs it. From the sources
 * there is no `help.json` beside this file, so the full CLI answers everything.
 *
 * A worker thread started on this file (a simulation sweep's, as `bench/src/sim.bench.ts` starts
 * them) is the full CLI's too: importing it serves the seeds.
 */
import { isMainThread } from "node:worker_threads"
import { printKnown } from "./FastPath.ts"

const argv = process.argv.slice(2)
if (!isMainThread || !printKnown(argv, new URL("./help.json", import.meta.url))) {
  const cli = await import("./FullCli.ts")
  if (isMainThread) cli.start(argv)
}
