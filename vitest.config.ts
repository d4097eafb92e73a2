import { defineConfig } from "vitest/config"
import { resolve, ssr } from "./vitest.shared.ts"

// One run over every package's tests and the end-to-end suite. Long sweeps read OOMPA_LONG.
export default defineConfig({
  resolve,
  ssr,
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 60_000,
    pool: "forks"
  }
})
