/**
 * Where a run's files live (SPEC F1 "Paths", F9): `.oompa/` (lock, runs), `.oompa/runs/<id>/`
 * (events, transcripts, the cached summary) and `tasks_dir` are relative to the top level of the repository's MAIN
 * worktree, whatever the current directory — also when oompa is started from inside one of its
 * own linked worktrees or a subfolder.
 *
 * Called by the CLI once at start: `findRepoRoot(cwd)` (or a root it already knows), then `make`.
 * The layout itself is pure; only finding the root reads the disk.
 *
 * Finding the root walks up from `cwd` to the first `.git`: a folder means this is the main
 * worktree; a file (`gitdir: …`) means a linked worktree or a submodule — a linked worktree's git
 * folder has a `commondir` pointing at the main `.git`, whose parent is the main worktree; a
 * submodule's has none, and the folder holding the `.git` file is its top level. This is what
 * `git rev-parse --git-common-dir` computes, without starting git.
 *
 * @since 0.1.0
 */
import * as NodePath from "node:path"
import { Ids, RepoLayout } from "@oompa/core"
import { Effect, FileSystem, Path, Schema } from "effect"
import * as Atomic from "./internal/fsAtomic.ts"

/**
 * The repository's top level could not be found from the given folder.
 *
 * @category errors
 * @since 0.1.0
 */
export class RunPathsError extends Schema.TaggedError<RunPathsError>()("RunPathsError", {
  cwd: Schema.String,
  message: Schema.String
}) {}

/**
 * The fixed places of oompa's files in one repository (all absolute).
 *
 * @category models
 * @since 0.1.0
 */
export interface RunPaths {
  /** Top level of the main worktree. */
  readonly root: string
  /** `<root>/.oompa` */
  readonly oompaDir: string
  /** `<root>/.oompa/runs` */
  readonly runsDir: string
  /** `<root>/.oompa/lock` */
  readonly lockPath: string
  /** `tasks_dir` resolved against the root (an absolute `tasks_dir` is kept). */
  readonly tasksDir: string
}

/**
 * The layout for a repository whose main worktree is at `root`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (root: string, options: { readonly tasksDir: string }): RunPaths => {
  const top = NodePath.resolve(root)
  const oompaDir = NodePath.join(top, RepoLayout.stateFolder)
  return {
    root: top,
    oompaDir,
    runsDir: NodePath.join(oompaDir, "runs"),
    lockPath: NodePath.join(oompaDir, "lock"),
    tasksDir: NodePath.resolve(top, options.tasksDir)
  }
}

/**
 * `.oompa/runs/<id>/`. The id is checked again here because it becomes a path.
 *
 * @category paths
 * @since 0.1.0
 */
export const runDir = (paths: RunPaths, runId: Ids.RunId): string => {
  if (!Ids.isRunId(runId)) throw new Error(`assertion failed: run id ${JSON.stringify(runId)} is not 8 hex characters`)
  return NodePath.join(paths.runsDir, runId)
}

/**
 * `.oompa/runs/<id>/events.jsonl`, the run log.
 *
 * @category paths
 * @since 0.1.0
 */
export const eventsPath = (paths: RunPaths, runId: Ids.RunId): string => NodePath.join(runDir(paths, runId), RepoLayout.runLogFile)

/**
 * `.oompa/runs/<id>/report.html`, where `oompa view <id> --html` writes the run's report.
 *
 * @category paths
 * @since 0.1.0
 */
export const reportPath = (paths: RunPaths, runId: Ids.RunId): string => NodePath.join(runDir(paths, runId), RepoLayout.runReportFile)

/**
 * `.oompa/calibration.json`: what `oompa sim calibrate` fitted from the runs (`oompa sim plan` reads it).
 *
 * @category paths
 * @since 0.1.0
 */
export const calibrationPath = (paths: RunPaths): string => NodePath.join(paths.oompaDir, RepoLayout.calibrationFile)

/**
 * `.oompa/claims/`: one empty file per task this repository's runs hold in a queue shared with
 * other machines (`tasks.github`), so recovery returns only those (`internal/claimJournal.ts`).
 *
 * @category paths
 * @since 0.1.0
 */
export const claimsDir = (paths: RunPaths): string => NodePath.join(paths.oompaDir, "claims")

/**
 * `.oompa/runs/index.json`, the run index `JsonlEventLog.readHistory` keeps (each run's start, or
 * why its log cannot be read, as of the log's last change): a cache, rebuilt from the logs.
 *
 * @category paths
 * @since 0.1.0
 */
export const runIndexPath = (paths: RunPaths): string => NodePath.join(paths.runsDir, "index.json")

/**
 * `.oompa/runs/<id>/summary.json`, the run's summary as of its log's last change, kept by
 * `JsonlEventLog.readHistory`: a cache, rebuilt from the log.
 *
 * @category paths
 * @since 0.1.0
 */
export const summaryPath = (paths: RunPaths, runId: Ids.RunId): string => NodePath.join(runDir(paths, runId), "summary.json")

/**
 * `.oompa/runs/<id>/transcripts/`, one file per agent call.
 *
 * @category paths
 * @since 0.1.0
 */
export const transcriptsDir = (paths: RunPaths, runId: Ids.RunId): string => NodePath.join(runDir(paths, runId), "transcripts")

/** Folders walked up from `cwd` before giving up (deeper than any real checkout). */
const depthMax = 256

/** The main worktree of the repository whose `.git` file is in `dir`. */
const fromGitFile = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, path: Path.Path, cwd: string, dir: string) {
  const text = yield* fs.readFileString(path.join(dir, ".git"))
  const match = /^gitdir:\s*(.+?)\s*$/m.exec(text)
  if (match?.[1] === undefined) return yield* new RunPathsError({ cwd, message: `${path.join(dir, ".git")} is not a git link file (no "gitdir:" line)` })
  const gitDir = path.resolve(dir, match[1])
  const common = yield* Atomic.readIfPresent(fs, path.join(gitDir, "commondir"))
  if (common === undefined) return dir // a submodule, or a main worktree with a separate git dir
  const commonDir = path.resolve(gitDir, common.trim())
  if (path.basename(commonDir) !== ".git") {
    return yield* new RunPathsError({ cwd, message: `the repository's git folder ${commonDir} is not inside its main worktree; run oompa from the main worktree` })
  }
  return path.dirname(commonDir)
})

/**
 * The top level of the main worktree of the repository containing `cwd` (symlinks resolved).
 *
 * @category constructors
 * @since 0.1.0
 */
export const findRepoRoot = Effect.fn("RunPaths.findRepoRoot")(function*(cwd: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const toError = (e: { readonly message: string }) => new RunPathsError({ cwd, message: e.message })
  let dir = yield* fs.realPath(path.resolve(cwd)).pipe(Effect.mapError(toError))
  for (let depth = 0; depth < depthMax; depth++) {
    const info = yield* fs.stat(path.join(dir, ".git")).pipe(
      Effect.catchReason("PlatformError", "NotFound", () => Effect.succeed(undefined)),
      Effect.mapError(toError)
    )
    if (info?.type === "Directory") return dir
    if (info?.type === "File") {
      const top = yield* fromGitFile(fs, path, cwd, dir).pipe(Effect.catchTag("PlatformError", (e) => Effect.fail(toError(e))))
      return yield* fs.realPath(top).pipe(Effect.mapError(toError))
    }
    const parent = path.dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  return yield* new RunPathsError({ cwd, message: `${cwd} is not inside a git repository` })
})

/**
 * `findRepoRoot` then `make`: the layout for the repository containing `cwd`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromCwd = Effect.fn("RunPaths.fromCwd")(function*(cwd: string, options: { readonly tasksDir: string }) {
  return make(yield* findRepoRoot(cwd), options)
})
