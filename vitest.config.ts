import { defineConfig } from "vitest/config"

// One run over every package's tests and the end-to-end suite. Long sweeps read OOMPA_LONG.
export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    pool: "forks"
  }
})
