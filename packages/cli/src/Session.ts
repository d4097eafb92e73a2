/**
 * Where a command runs: `@oompa/adapters-node`'s `Project` (the repository, its decoded oompa.json
 * and oompa's folders in it), with its setup errors as the CLI's usage errors (exit 2, nothing
 * created).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { SwarmConfig } from "@oompa/core"
import { Project } from "@oompa/adapters-node"
import { UsageError } from "./Errors.ts"

/**
 * @category models
 * @since 0.1.0
 */
export type Session = Project.Project

const usage = <A, R>(effect: Effect.Effect<A, Project.SetupError, R>): Effect.Effect<A, UsageError, R> =>
  Effect.mapError(effect, (e) => new UsageError({ message: e.message }))

/**
 * The repository containing `cwd`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const repoRoot = (cwd: string) => usage(Project.findRepoRoot(cwd))

/**
 * Reads and decodes `file`; a missing file prints an example config.
 *
 * @category constructors
 * @since 0.1.0
 */
export const readConfig = (file: string) => usage(Project.readConfig(file))

/**
 * A session from an oompa.json (`configArg`, or `oompa.json` in the current folder, then at the
 * repository's top level).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromConfigFile = (cwd: string, configArg: string | undefined) => usage(Project.fromConfigFile(cwd, configArg))

/**
 * A session without a config file (`loop --workers …`, `prompt`): workers from the command line.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromWorkers = (cwd: string, workers: ReadonlyArray<SwarmConfig.WorkerConfig>, base?: SwarmConfig.SwarmConfig) =>
  usage(Project.fromConfig(cwd, base === undefined ? SwarmConfig.makeSwarmConfig({ workers }) : { ...base, workers }))

/**
 * Whether an oompa.json is where `fromConfigFile` would look without a name.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hasConfigFile = (cwd: string) => Effect.map(usage(Project.findConfigFile(cwd)), (file) => file !== undefined)

/**
 * The session of the current repository: its oompa.json when there is one, defaults otherwise.
 *
 * @category constructors
 * @since 0.1.0
 */
export const current = (cwd: string) => usage(Project.current(cwd))
