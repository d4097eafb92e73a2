/**
 * The worktree environment contract (issue 18): the variables every agent process, `setup_command`
 * and `teardown_command` of a worker gets, so that a project's scripts can tell which run, worker,
 * iteration and task they serve, where the worktree and the user's repository are, and which ports
 * are theirs. Each worker owns `ports_per_worker` consecutive ports from `OOMPA_PORT`, by its place
 * in the configuration: no two workers of a run share one, so two dev servers never collide.
 *
 * @since 0.1.0
 */

/** The variables' names, as documented in the README's configuration section. */
export const names = {
  run: "OOMPA_RUN",
  worker: "OOMPA_WORKER",
  iteration: "OOMPA_ITERATION",
  task: "OOMPA_TASK",
  worktree: "OOMPA_WORKTREE",
  repo: "OOMPA_REPO",
  port: "OOMPA_PORT",
  ports: "OOMPA_PORTS"
} as const

/**
 * Where the run's ports start and how many each worker owns.
 *
 * @category models
 * @since 0.1.0
 */
export interface Ports {
  readonly base: number
  readonly perWorker: number
}

/** The default first port of a run, when the host chose none (the simulator, tests). */
export const defaultPortBase = 20_000

/**
 * The first port of the worker in `slot` (its place among the run's workers, from 0).
 *
 * @category operations
 * @since 0.1.0
 */
export const firstPort = (ports: Ports, slot: number): number => ports.base + slot * ports.perWorker

/**
 * What a worker's processes are told, for the whole run (the iteration adds its own).
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkerEnvironment {
  readonly runId: string
  readonly worker: string
  readonly worktree: string
  /** The user's repository (its main worktree); omitted when the host did not say. */
  readonly repo?: string | undefined
  readonly firstPort: number
  readonly ports: number
}

/**
 * The variables for one process: the worker's, and the iteration's and task's when there is one
 * (setup and agents run within an iteration; teardown after the last).
 *
 * @category operations
 * @since 0.1.0
 */
export const variables = (worker: WorkerEnvironment, iteration?: number, task?: string): Readonly<Record<string, string>> => ({
  [names.run]: worker.runId,
  [names.worker]: worker.worker,
  [names.worktree]: worker.worktree,
  ...(worker.repo === undefined ? {} : { [names.repo]: worker.repo }),
  [names.port]: String(worker.firstPort),
  [names.ports]: `${worker.firstPort}-${worker.firstPort + worker.ports - 1}`,
  ...(iteration === undefined ? {} : { [names.iteration]: String(iteration) }),
  ...(task === undefined ? {} : { [names.task]: task })
})
