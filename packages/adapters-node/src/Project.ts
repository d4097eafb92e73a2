/**
 * The repository a swarm works on, with its decoded configuration and oompa's folders in it: what
 * every run and every read command starts from. The repository is the top level of the main
 * worktree containing the folder given, whatever that folder is; the configuration comes from an
 * oompa.json (SPEC F1) or from code.
 *
 * Every problem here is the user's setup — not a repository, a missing or invalid oompa.json — and
 * fails with a {@link SetupError} before anything is created.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Schema } from "effect"
import { ConfigFile, SwarmConfig } from "@oompa/core"
import * as RunPaths from "./RunPaths.ts"

/**
 * Why a run could not start, or a command could not open the repository: not a repository, a
 * missing or invalid oompa.json, an agent CLI that cannot run (preflight), another live run holding
 * the lock, the repository's layers failing to open (no main branch, unwritable folders), or a
 * remote target that cannot be reached, refuses the login or lacks the branch (`remote`). The CLI
 * exits 2 on it; nothing was claimed or created.
 *
 * @category errors
 * @since 0.1.0
 */
export class SetupError extends Schema.TaggedError<SetupError>()("SetupError", {
  reason: Schema.Literals(["repository", "config", "preflight", "lock", "layers", "remote"]),
  message: Schema.String
}) {}

/**
 * @category models
 * @since 0.1.0
 */
export interface Project {
  /** The top level of the repository's main worktree. */
  readonly repoRoot: string
  readonly config: SwarmConfig.SwarmConfig
  /** Prompt files are relative to this folder (oompa.json's). */
  readonly configDir: string
  /** The oompa.json read, if one was. */
  readonly configFile: string | undefined
  readonly paths: RunPaths.RunPaths
}

/**
 * The top level of the repository containing `cwd`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const findRepoRoot = (cwd: string): Effect.Effect<string, SetupError, FileSystem.FileSystem | Path.Path> =>
  RunPaths.findRepoRoot(cwd).pipe(
    Effect.mapError(() =>
      new SetupError({
        reason: "repository",
        message: `not inside a git repository: ${cwd}\nRun oompa from a folder of the repository the agents should work on.`
      })
    )
  )

/**
 * Reads and decodes an oompa.json; a missing file's message shows an example config.
 *
 * @category constructors
 * @since 0.1.0
 */
export const readConfig = Effect.fnUntraced(function*(file: string): Effect.fn.Return<SwarmConfig.SwarmConfig, SetupError, FileSystem.FileSystem> {
  const fs = yield* FileSystem.FileSystem
  if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) {
    return yield* new SetupError({ reason: "config", message: `config file not found: ${file}\nCreate it (oompa init writes one), for example:\n${ConfigFile.exampleConfig}` })
  }
  const text = yield* fs.readFileString(file).pipe(Effect.mapError((e) => new SetupError({ reason: "config", message: `cannot read ${file}: ${e.message}` })))
  return yield* ConfigFile.decodeConfigFile(text, file).pipe(Effect.mapError((e) => new SetupError({ reason: "config", message: e.message })))
})

/** Where an oompa.json is looked for when none is named: the folder, then the repository's top level. */
const configCandidates = (path: Path.Path, cwd: string, root: string): ReadonlyArray<string> =>
  [...new Set([path.join(cwd, "oompa.json"), path.join(root, "oompa.json")])]

/**
 * The oompa.json `fromConfigFile` would read without a name, if there is one.
 *
 * @category constructors
 * @since 0.1.0
 */
export const findConfigFile = Effect.fnUntraced(function*(cwd: string): Effect.fn.Return<string | undefined, SetupError, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const root = yield* findRepoRoot(cwd)
  for (const candidate of configCandidates(path, path.resolve(cwd), root)) {
    if (yield* fs.exists(candidate).pipe(Effect.orElseSucceed(() => false))) return candidate
  }
  return undefined
})

/**
 * The project of an oompa.json: `file` (relative to `cwd`), else `oompa.json` in `cwd`, then at the
 * repository's top level.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromConfigFile = Effect.fnUntraced(function*(cwd: string, file?: string): Effect.fn.Return<Project, SetupError, FileSystem.FileSystem | Path.Path> {
  const path = yield* Path.Path
  const root = yield* findRepoRoot(cwd)
  const chosen = file !== undefined ? path.resolve(cwd, file) : (yield* findConfigFile(cwd)) ?? path.join(path.resolve(cwd), "oompa.json")
  const config = yield* readConfig(chosen)
  return { repoRoot: root, config, configDir: path.dirname(chosen), configFile: chosen, paths: RunPaths.make(root, { tasksDir: config.tasks_dir }) }
})

/**
 * The project of a configuration built in code (`SwarmConfig.makeSwarmConfig`, or a decoded one);
 * prompt files are relative to `configDir` (default: the repository's top level).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromConfig = Effect.fnUntraced(function*(
  cwd: string,
  config: SwarmConfig.SwarmConfig,
  configDir?: string
): Effect.fn.Return<Project, SetupError, FileSystem.FileSystem | Path.Path> {
  const root = yield* findRepoRoot(cwd)
  return { repoRoot: root, config, configDir: configDir ?? root, configFile: undefined, paths: RunPaths.make(root, { tasksDir: config.tasks_dir }) }
})

/**
 * The project of the repository containing `cwd`: its oompa.json when there is one, defaults (no
 * workers) otherwise — what the read commands (`status`, `tasks`, …) open.
 *
 * @category constructors
 * @since 0.1.0
 */
export const current = Effect.fnUntraced(function*(cwd: string): Effect.fn.Return<Project, SetupError, FileSystem.FileSystem | Path.Path> {
  const file = yield* findConfigFile(cwd)
  return file !== undefined ? yield* fromConfigFile(cwd, file) : yield* fromConfig(cwd, SwarmConfig.makeSwarmConfig({ workers: [] }))
})
