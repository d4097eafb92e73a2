import { defineConfig } from "vitest/config"
import { resolve, ssr } from "./vitest.shared.ts"

// The harness contract suite (SPEC F3): the real codex, claude, gemini and opencode binaries, installed
// by scripts/install-contract-clis.mjs, against a scripted model server on 127.0.0.1. Kept apart
// from `npm test`: its files are named `*.contract.ts`, which vitest.config.ts's `**/*.test.ts` does
// not match (it includes all of `test/`). Run it with `npm run test:contracts`.
export default defineConfig({
  resolve,
  ssr,
  test: {
    include: ["test/contracts/**/*.contract.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Each CLI is a large process (a Node bundle or a native binary of 100+ MB): one file at a time
    // keeps a 2-core machine's timings far from the tests' timeouts.
    fileParallelism: false
  }
})
