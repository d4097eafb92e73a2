import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"
import { resolve, ssr } from "./vitest.shared.ts"

// One run over every package's tests and the end-to-end suite. Long sweeps read OOMPA_LONG.
export default defineConfig({
  resolve,
  ssr,
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 60_000,
    pool: "forks",
    // Vitest's default is one file at a time on 2 cores (cores - 1). Most files wait on git and
    // agent processes rather than compute: two at a time took npm test from 801 s to 669 s on a
    // 2-core machine (while other work ran on it), every test still green.
    maxWorkers: Math.max(2, availableParallelism() - 1)
  }
})
