/**
 * Small builders shared by the program tests: a task and a worker with every field filled in.
 */
import type { WorkerId } from "../../src/domain/Ids.ts"
import type { WorkerConfig } from "../../src/domain/SwarmConfig.ts"
import type { Task } from "../../src/domain/Task.ts"

/** A pending task `id` ("do <id>"); one argument, so `ids.map(task)` is safe. */
export const task = (id: string): Task => ({ id, summary: `do ${id}` }) as Task

/** An executor on claude:opus with 10 iterations, unless `fields` say otherwise. */
export const worker = (id: string, fields: Partial<WorkerConfig> = {}): WorkerConfig => ({
  id: id as WorkerId,
  agent: { harness: "claude", model: "opus" },
  role: "executor",
  iterations: 10,
  prompt: [],
  wait_between: 0,
  budget: {},
  ...fields
})
