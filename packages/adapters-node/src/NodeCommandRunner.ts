/**
 * The real `CommandRunner` service (`@oompa/core`'s shell boundary): `test_command` on exactly one
 * commit's tree (the test gate, SPEC F8) and `setup_command` in a worker's workspace (SPEC F5), each
 * through `sh -c`.
 *
 * - A test runs in a worktree of its own, a gate: `<worktreesDir>/.test-gate`, `.test-gate-2`,
 *   `.test-gate-3`, … Tests run at the same time each take a free gate (the next one is created
 *   when none is free; the merge queue bounds how many run at once) and give it back when they end,
 *   interrupted ones too once their process group is killed. A gate is moved (detached) to each
 *   commit to test: `checkout -f --detach <sha>` + `clean -ffd`. Tracked and untracked files are
 *   exactly the commit's; ignored files (installed dependencies, build caches) are kept between the
 *   tests of a run so that `npm test` does not need a fresh install each time — pass
 *   `cleanIgnored: true` for a pristine tree. The gates are removed when the layer's scope closes
 *   (the run's end, Ctrl-C); those a `kill -9` leaves are removed by recovery (`DiskRecovery`,
 *   through `removeLeftoverGates`).
 * - A test command gets `OOMPA_GATE=<n>`, its gate's number (1 for `.test-gate`, 2 for
 *   `.test-gate-2`, …): tests running at once have different numbers, so a test suite can derive
 *   distinct ports or scratch folders from it.
 * - Each command runs in its own process group. At its timeout, or when the caller is interrupted,
 *   the whole group gets TERM, then KILL after `killGraceMs` (`forceKillAfter`: without it a child
 *   that ignores TERM would hang the interruption forever).
 * - Output (stdout and stderr interleaved) is capped: the first and last `outputBytesMax / 2` bytes
 *   are kept and the dropped size is stated, so a command printing gigabytes costs a bounded amount
 *   of memory. A background process that keeps the output pipe open after the command exits does not
 *   hold the result: reading stops a moment after the exit, and the group is killed.
 * - `GIT_DIR` and the other repository-location variables are removed from the environment.
 *
 * Called by the merge queue (`inCommit`) and the iteration (`inWorkspace`); built by `layer`.
 *
 * @since 0.1.0
 */
import { CommandRunner, Errors } from "@oompa/core"
import { Clock, Duration, Effect, Fiber, Layer, Option, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as nodeFs from "node:fs"
import * as GitCommand from "./internal/gitCommand.ts"
import * as GitRepo from "./internal/gitRepo.ts"
import type * as NodeGit from "./NodeGit.ts"
import * as ProcessOwner from "./ProcessOwner.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The repository (any folder inside its main worktree). */
  readonly repoRoot: string
  /** Where the gate worktrees live (as `NodeGit`'s option); default `NodeGit.defaultWorktreesDir`. */
  readonly worktreesDir?: string | undefined
  /** The target branch, as for `NodeGit`. */
  readonly branch?: string | undefined
  /** Time between TERM and KILL of a command's process group; default 5000. */
  readonly killGraceMs?: number | undefined
  /** Bytes of output kept (half head, half tail); default 64 KiB. */
  readonly outputBytesMax?: number | undefined
  /** Also remove ignored files from the gate worktree before each test; default false. */
  readonly cleanIgnored?: boolean | undefined
  /**
   * What the commands' environment leaves out of this process's: `withoutGitHubTokens` when the
   * run uses GitHub (a test or setup command runs code an agent wrote); default nothing.
   */
  readonly environment?: ((env: Readonly<Record<string, string | undefined>>) => Record<string, string | undefined>) | undefined
  /**
   * What git said about the repository earlier in the run (`NodeGit.discover`), so that opening it
   * again spawns no git; default: asked anew.
   */
  readonly discovered?: NodeGit.Discovery | undefined
}

/**
 * The first gate's folder name under `worktreesDir` (a dot keeps it out of `listWorkspaces`).
 *
 * @category constants
 * @since 0.1.0
 */
export const testWorktreeName = ".test-gate"

/**
 * The folder name of gate `n` (1, 2, …): `.test-gate`, `.test-gate-2`, …
 *
 * @category constants
 * @since 0.1.0
 */
export const gateName = (n: number): string => n === 1 ? testWorktreeName : `${testWorktreeName}-${n}`

/**
 * Whether a folder name under `worktreesDir` is a gate's.
 *
 * @category constants
 * @since 0.1.0
 */
export const isGateName = (name: string): boolean =>
  name === testWorktreeName || (name.startsWith(`${testWorktreeName}-`) && /^[1-9][0-9]*$/.test(name.slice(testWorktreeName.length + 1)))

/**
 * The variable that gives a test command its gate's number.
 *
 * @category constants
 * @since 0.1.0
 */
export const gateVariable = "OOMPA_GATE"

const killGraceMsDefault = 5_000
const outputBytesMaxDefault = 64 * 1024
// How long output may keep flowing after the command exited (a background child holding the pipe).
const drainAfterExitMs = 1_000

/**
 * Keeps the first and the last bytes of a stream, and counts what falls in between.
 *
 * @category models
 * @since 0.1.0
 */
export class CappedOutput {
  private readonly head: Array<Uint8Array> = []
  private headSize = 0
  private tail: Array<Uint8Array> = []
  private tailSize = 0
  /** Bytes seen but not kept. */
  dropped = 0

  private readonly headMax: number
  private readonly tailMax: number

  constructor(headMax: number, tailMax: number) {
    this.headMax = headMax
    this.tailMax = tailMax
  }

  push(chunk: Uint8Array): void {
    const toHead = Math.min(chunk.length, this.headMax - this.headSize)
    if (toHead > 0) {
      this.head.push(chunk.subarray(0, toHead))
      this.headSize += toHead
    }
    if (toHead === chunk.length) return
    // Copied: the tail outlives the chunk, which may be a view into a larger reused buffer.
    this.tail.push(chunk.slice(toHead))
    this.tailSize += chunk.length - toHead
    while (this.tail.length > 0 && this.tailSize - this.tail[0]!.length >= this.tailMax) {
      this.tailSize -= this.tail[0]!.length
      this.dropped += this.tail[0]!.length
      this.tail.shift()
    }
    const excess = this.tailSize - this.tailMax
    if (excess > 0 && this.tail[0] !== undefined) {
      this.tail[0] = this.tail[0].subarray(excess)
      this.tailSize -= excess
      this.dropped += excess
    }
  }

  render(): string {
    const decoder = new TextDecoder()
    const head = this.head.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode()
    const tail = this.tail.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode()
    return this.dropped === 0 ? head + tail : `${head}\n… [${this.dropped} bytes of output dropped] …\n${tail}`
  }
}

interface RunSettings {
  readonly env: Readonly<Record<string, string>>
  readonly killGraceMs: number
  readonly outputBytesMax: number
}

/** Runs `sh -c command` in `cwd`, in its own process group, with the timeout and the output cap. */
const runShell = (spawner: ChildProcessSpawner.ChildProcessSpawner["Service"], settings: RunSettings) =>
  Effect.fn("NodeCommandRunner.run")(function*(cwd: string, command: string, timeoutMs: number, env: Readonly<Record<string, string>> = {}) {
    const output = new CappedOutput(Math.floor(settings.outputBytesMax / 2), Math.ceil(settings.outputBytesMax / 2))
    const started = yield* Clock.currentTimeMillis
    const exit = yield* Effect.scoped(Effect.gen(function*() {
      // Released after the group is stopped: a background child that left the group dies too.
      const tag = ProcessOwner.newCallTag("command")
      const shell = { pid: undefined as number | undefined }
      yield* Effect.addFinalizer(() => Effect.sync(() => void (shell.pid === undefined ? [] : ProcessOwner.reapCall(tag, shell.pid))))
      const handle = yield* spawner.spawn(ChildProcess.make("sh", ["-c", command], {
        cwd,
        env: { ...settings.env, ...env, [ProcessOwner.callVariable]: tag },
        extendEnv: false,
        detached: true,
        stdin: "ignore",
        forceKillAfter: Duration.millis(settings.killGraceMs)
      }))
      shell.pid = handle.pid
      const reader = yield* Effect.forkChild(Stream.runForEach(handle.all, (chunk) => Effect.sync(() => output.push(chunk))), { startImmediately: true })
      // A shell killed by a signal it did not get from us (an OOM kill, say) failed; it is a result.
      const code = yield* handle.exitCode.pipe(Effect.catchTag("PlatformError", (error) =>
        Effect.sync(() => {
          output.push(new TextEncoder().encode(`\n[${error.message}]\n`))
          return -1
        })))
      yield* Fiber.await(reader).pipe(Effect.timeoutOption(Duration.millis(drainAfterExitMs)))
      yield* Fiber.interrupt(reader)
      return code as number
    })).pipe(Effect.timeoutOption(Duration.millis(timeoutMs)))
    const durationMs = (yield* Clock.currentTimeMillis) - started
    const timedOut = Option.isNone(exit)
    const text = output.render()
    return {
      passed: Option.isSome(exit) && exit.value === 0,
      output: timedOut ? `${text}\n[timed out after ${timeoutMs} ms; the process group was killed]` : text,
      durationMs,
      timedOut
    } satisfies CommandRunner.CommandRun
  }, (effect, _cwd, command) =>
    Effect.mapError(effect, (error) => new Errors.CommandError({ command, message: `could not run sh -c: ${error.message}` })))

/** Moves the gate at `path` to `sha` (creating it when it is not a worktree) and returns `path`. */
const prepareGate = (repo: GitRepo.Repo, cleanIgnored: boolean) =>
  Effect.fn("NodeCommandRunner.prepareGate")(function*(path: string, sha: string) {
    const adminDir = yield* GitRepo.reusableAdminDir(repo, "inCommit", path)
    if (adminDir === undefined) {
      yield* GitRepo.withWorktreeRegistry(repo, Effect.gen(function*() {
        yield* repo.git.ok("inCommit", { cwd: repo.root, args: ["worktree", "prune"] })
        yield* repo.fs.remove(path, { recursive: true, force: true }).pipe(
          Effect.mapError((error) => GitRepo.gitError("inCommit", "failed", error.message))
        )
        yield* GitRepo.addWorktree(repo, "inCommit", path, `${sha}^{commit}`)
      }))
      return path
    }
    // Nothing runs in a gate while it is moved: a lock left by an interrupted git is stale.
    yield* repo.fs.remove(`${adminDir}/index.lock`, { force: true }).pipe(
      Effect.mapError((error) => GitRepo.gitError("inCommit", "failed", error.message))
    )
    yield* repo.git.ok("inCommit", { cwd: path, args: ["checkout", "-q", "-f", "--detach", `${sha}^{commit}`] })
    yield* repo.git.ok("inCommit", { cwd: path, args: ["clean", "-q", cleanIgnored ? "-ffdx" : "-ffd"] })
    return path
  })

/** Gives the owner write access to every folder under `path` (never through a symlink), so that its entries can be removed. */
const makeWritable = (path: string): void => {
  const walk = (folder: string): void => {
    let entries: Array<nodeFs.Dirent>
    try {
      const stat = nodeFs.lstatSync(folder)
      if (!stat.isDirectory()) return
      if ((stat.mode & 0o700) !== 0o700) nodeFs.chmodSync(folder, stat.mode | 0o700)
      entries = nodeFs.readdirSync(folder, { withFileTypes: true })
    } catch {
      // Not there, or not ours: the removal that follows says what went wrong.
      return
    }
    for (const entry of entries) if (entry.isDirectory()) walk(`${folder}/${entry.name}`)
  }
  walk(path)
}

/**
 * Removes the gate at `path`: `worktree remove` when it is a worktree of the repository, else its
 * folder (if any) and the registration left without it (`worktree prune`).
 */
const removeGate = (repo: GitRepo.Repo, path: string) =>
  GitRepo.withWorktreeRegistry(repo, Effect.gen(function*() {
    // A test may leave read-only folders (a module cache, a fixture): made writable so they can go.
    yield* Effect.sync(() => makeWritable(path))
    if ((yield* GitRepo.adminDirOf(repo, path)) !== undefined) return yield* GitRepo.removeWorktree(repo, "removeTestGate", path)
    yield* repo.fs.remove(path, { recursive: true, force: true }).pipe(
      Effect.mapError((error) => GitRepo.gitError("removeTestGate", "failed", error.message))
    )
    yield* repo.git.ok("removeTestGate", { cwd: repo.root, args: ["worktree", "prune"] })
  }))

/**
 * The `CommandRunner` service over an opened repository. The gates it creates are removed when the
 * scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("NodeCommandRunner.make")(function*(repo: GitRepo.Repo, options: Options) {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  // Only a test command gets a gate number (this process may itself run in an outer oompa's gate).
  const { [gateVariable]: _outerGate, ...inherited } = options.environment === undefined ? process.env : options.environment(process.env)
  const settings: RunSettings = {
    // Marked with this process and the repository: a test or setup command left running by a run
    // killed with `kill -9` is found and killed by recovery (SPEC F14; it has no record of its own).
    env: GitCommand.environment({ ...inherited, ...ProcessOwner.variables(repo.root) }, { name: true, email: true }),
    killGraceMs: options.killGraceMs ?? killGraceMsDefault,
    outputBytesMax: options.outputBytesMax ?? outputBytesMaxDefault
  }
  const run = runShell(spawner, settings)
  const prepare = prepareGate(repo, options.cleanIgnored ?? false)
  // The gate pool: gates 1..created exist (or are being created); `free` are those no test holds.
  // Only touched in Effect.sync, so a take or a give is atomic.
  const pool = { created: 0, free: [] as Array<number> }
  const takeGate = Effect.sync(() => {
    if (pool.free.length === 0) return ++pool.created
    // The lowest free one: a test alone always gets gate 1.
    const n = Math.min(...pool.free)
    pool.free.splice(pool.free.indexOf(n), 1)
    return n
  })
  const giveGate = (n: number) => Effect.sync(() => void pool.free.push(n))
  const gatePath = (n: number) => `${repo.worktreesDir}/${gateName(n)}`
  yield* Effect.addFinalizer(() =>
    Effect.forEach(
      Array.from({ length: pool.created }, (_, i) => gatePath(i + 1)),
      (path) => removeGate(repo, path).pipe(Effect.ignore({ log: "Warn", message: `could not remove the test gate ${path}; recovery removes it` })),
      { discard: true }
    ))
  return CommandRunner.CommandRunner.of({
    // The gate goes back to the pool only after `run` returned: on interruption, once the command's
    // process group is killed.
    inCommit: (sha, command, timeoutMs) =>
      Effect.acquireUseRelease(takeGate, (n) =>
        Effect.gen(function*() {
          const path = yield* prepare(gatePath(n), sha).pipe(
            Effect.mapError((error) => new Errors.CommandError({ command, message: `cannot check out ${sha} for the test: ${error.message}` }))
          )
          return yield* run(path, command, timeoutMs, { [gateVariable]: String(n) })
        }), giveGate),
    inWorkspace: (cwd, command, timeoutMs, env) => run(cwd, command, timeoutMs, env)
  })
})

/**
 * Removes the gates a run killed with `kill -9` left under the worktrees folder (recovery, SPEC
 * F14; the caller holds the run lock, so no live run uses them). Returns their paths.
 *
 * @category programs
 * @since 0.1.0
 */
export const removeLeftoverGates = Effect.fn("NodeCommandRunner.removeLeftoverGates")(function*(options: Pick<Options, "repoRoot" | "worktreesDir" | "branch" | "discovered">) {
  const repo = yield* GitRepo.open({ repoRoot: options.repoRoot, worktreesDir: options.worktreesDir, branch: options.branch, runId: "cleanup", exclude: false, discovered: options.discovered })
  const failed = (error: { readonly message: string }) => GitRepo.gitError("removeTestGate", "failed", error.message)
  // No worktrees folder yet: no run ever made a gate.
  if (!(yield* repo.fs.exists(repo.worktreesDir).pipe(Effect.mapError(failed)))) return []
  const names = yield* repo.fs.readDirectory(repo.worktreesDir).pipe(Effect.mapError(failed))
  const leftovers = names.filter(isGateName).sort().map((name) => `${repo.worktreesDir}/${name}`)
  // Best effort: a gate that cannot go (a test left read-only files) is reported, and never stops a run or a cleanup.
  return yield* Effect.forEach(leftovers, (path) =>
    removeGate(repo, path).pipe(
      Effect.as(`removed test worktree ${path}`),
      Effect.catchTag("GitError", (error) => Effect.succeed(`could not remove test worktree ${path}: ${error.message.split("\n")[0]}`))
    ))
})

/**
 * Provides `CommandRunner` for the repository at `options.repoRoot`. Needs `ChildProcessSpawner`,
 * `FileSystem` and `Path` (`NodeServices.layer`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options) =>
  Layer.effect(CommandRunner.CommandRunner, Effect.flatMap(
    GitRepo.open({ repoRoot: options.repoRoot, worktreesDir: options.worktreesDir, branch: options.branch, runId: "runner", exclude: false, discovered: options.discovered }),
    (repo) => make(repo, options)
  ))
