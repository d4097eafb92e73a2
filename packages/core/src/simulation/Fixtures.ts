/**
 * Swarms ready to simulate: the big swarm the bench measures and CI sweeps, and a user's own
 * configuration made simulatable (its prompt files live on the user's disk, which a simulation never
 * reads, so it runs on the built-in prompts instead).
 *
 * @since 0.1.0
 */
import type { WorkerId } from "../domain/Ids.ts"
import { makeSwarmConfig, type SwarmConfig, type WorkerConfig } from "../domain/SwarmConfig.ts"
import type { Task } from "../domain/Task.ts"

/**
 * A user's configuration ready to simulate: its prompt files live on the user's disk, which a
 * simulation does not read, so every worker, the planner and the reviewers use the built-in prompts
 * (`oompa sim oompa.json` does this; so does a host's own test).
 *
 * @category constructors
 * @since 0.1.0
 */
export const withBuiltInPrompts = (config: SwarmConfig): SwarmConfig => {
  const { planner, ...rest } = config
  return {
    ...rest,
    ...(planner === undefined ? {} : { planner: { ...planner, prompt: [] } }),
    workers: config.workers.map((w) => ({ ...w, prompt: [] })),
    reviewers: config.reviewers.map((r) => ({ agent: r.agent }))
  }
}

/**
 * A big swarm to simulate: 8 workers × 20 iterations (one worker that also plans, seven executors),
 * one reviewer, a test gate, 60 tasks. The bench measures it (`bench/src/sim.bench.ts`) and CI
 * sweeps it next to the swarms drawn from each seed, which are smaller.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const bigSwarm: { readonly config: SwarmConfig; readonly tasks: ReadonlyArray<Task> } = {
  config: makeSwarmConfig({
    workers: Array.from({ length: 8 }, (_, i): WorkerConfig => ({
      id: `w${i}` as WorkerId,
      agent: { harness: i % 2 === 0 ? "claude" : "codex" },
      role: i === 0 ? "worker" : "executor",
      iterations: 20,
      prompt: [],
      wait_between: 0,
      budget: {}
    })),
    reviewers: [{ agent: { harness: "codex" } }],
    test_command: "npm test",
    merge: { strategy: "no-ff", on_conflict: "agent", speculation: 1 },
    timeouts: { propose: 120, review: 120, test: 120, setup: 60, teardown: 60 }
  }),
  tasks: Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, summary: `task ${i}` }) as Task)
}
