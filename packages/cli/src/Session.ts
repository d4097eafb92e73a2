/**
 * Where a command runs: the repository (the top level of its main worktree, whatever the current
 * directory), the decoded configuration, and the run's folders. Every problem here is the user's
 * input — not a repository, a missing or invalid oompa.json — and exits 2 before anything is
 * created.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import { ConfigFile, SwarmConfig } from "@oompa/core"
import { RunPaths } from "@oompa/adapters-node"
import { UsageError } from "./Errors.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Session {
  readonly repoRoot: string
  readonly config: SwarmConfig.SwarmConfig
  /** Prompt files are relative to this folder. */
  readonly configDir: string
  /** The oompa.json read, if one was. */
  readonly configFile: string | undefined
  readonly paths: RunPaths.RunPaths
}

/**
 * The repository containing `cwd`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const repoRoot = (cwd: string) =>
  RunPaths.findRepoRoot(cwd).pipe(
    Effect.mapError(() => new UsageError({ message: `not inside a git repository: ${cwd}\nRun oompa from a folder of the repository the agents should work on.` }))
  )

/**
 * Reads and decodes `file`; a missing file prints an example config.
 *
 * @category constructors
 * @since 0.1.0
 */
export const readConfig = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    if (!exists) {
      return yield* new UsageError({ message: `config file not found: ${file}\nCreate it, for example:\n${ConfigFile.exampleConfig}` })
    }
    const text = yield* fs.readFileString(file).pipe(Effect.mapError((e) => new UsageError({ message: `cannot read ${file}: ${e.message}` })))
    return yield* ConfigFile.decodeConfigFile(text, file).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
  })

/**
 * A session from an oompa.json (`configArg`, or `oompa.json` in the current folder, then at the
 * repository's top level).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromConfigFile = (cwd: string, configArg: string | undefined) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const fs = yield* FileSystem.FileSystem
    const root = yield* repoRoot(cwd)
    const candidates = configArg !== undefined ? [path.resolve(cwd, configArg)] : [path.join(cwd, "oompa.json"), path.join(root, "oompa.json")]
    const found = yield* Effect.filter(candidates, (c) => fs.exists(c).pipe(Effect.orElseSucceed(() => false)))
    const file = found[0] ?? candidates[0]!
    const config = yield* readConfig(file)
    return {
      repoRoot: root,
      config,
      configDir: path.dirname(file),
      configFile: file,
      paths: RunPaths.make(root, { tasksDir: config.tasks_dir })
    } satisfies Session
  })

/**
 * A session without a config file (`loop --workers …`, `prompt`): workers from the command line.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromWorkers = (cwd: string, workers: ReadonlyArray<SwarmConfig.WorkerConfig>, base?: SwarmConfig.SwarmConfig) =>
  Effect.map(repoRoot(cwd), (root): Session => {
    const config = base === undefined ? SwarmConfig.makeSwarmConfig({ workers }) : { ...base, workers }
    return { repoRoot: root, config, configDir: root, configFile: undefined, paths: RunPaths.make(root, { tasksDir: config.tasks_dir }) }
  })
