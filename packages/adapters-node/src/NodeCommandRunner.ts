/**
 * The real `CommandRunner` service (`@oompa/core`'s shell boundary): `test_command` on exactly one
 * commit's tree (the test gate, SPEC F8) and `setup_command` in a worker's workspace (SPEC F5), each
 * through `sh -c`.
 *
 * - The test runs in a worktree of its own, `<worktreesDir>/.test-gate`, created once and then moved
 *   (detached) to each commit to test: `checkout -f --detach <sha>` + `clean -ffd`. Tracked and
 *   untracked files are exactly the commit's; ignored files (installed dependencies, build caches)
 *   are kept between runs so that `npm test` does not need a fresh install each time — pass
 *   `cleanIgnored: true` for a pristine tree. One test runs at a time.
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
import { Clock, Duration, Effect, Fiber, Layer, Option, Semaphore, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as GitCommand from "./internal/gitCommand.ts"
import * as GitRepo from "./internal/gitRepo.ts"
import * as ProcessOwner from "./ProcessOwner.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The repository (any folder inside its main worktree). */
  readonly repoRoot: string
  /** Where the test worktree lives (as `NodeGit`'s option); default `NodeGit.defaultWorktreesDir`. */
  readonly worktreesDir?: string | undefined
  /** The target branch, as for `NodeGit`. */
  readonly branch?: string | undefined
  /** Time between TERM and KILL of a command's process group; default 5000. */
  readonly killGraceMs?: number | undefined
  /** Bytes of output kept (half head, half tail); default 64 KiB. */
  readonly outputBytesMax?: number | undefined
  /** Also remove ignored files from the test worktree before each test; default false. */
  readonly cleanIgnored?: boolean | undefined
}

/**
 * The test worktree's folder name under `worktreesDir` (a dot keeps it out of `listWorkspaces`).
 *
 * @category constants
 * @since 0.1.0
 */
export const testWorktreeName = ".test-gate"

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

/** Moves the test worktree to `sha` (creating it the first time) and returns its path. */
const prepareTestWorktree = (repo: GitRepo.Repo, cleanIgnored: boolean) =>
  Effect.fn("NodeCommandRunner.prepareTestWorktree")(function*(sha: string) {
    const path = `${repo.worktreesDir}/${testWorktreeName}`
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
    yield* repo.fs.remove(`${adminDir}/index.lock`, { force: true }).pipe(
      Effect.mapError((error) => GitRepo.gitError("inCommit", "failed", error.message))
    )
    yield* repo.git.ok("inCommit", { cwd: path, args: ["checkout", "-q", "-f", "--detach", `${sha}^{commit}`] })
    yield* repo.git.ok("inCommit", { cwd: path, args: ["clean", "-q", cleanIgnored ? "-ffdx" : "-ffd"] })
    return path
  })

/**
 * The `CommandRunner` service over an opened repository.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("NodeCommandRunner.make")(function*(repo: GitRepo.Repo, options: Options) {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const settings: RunSettings = {
    // Marked with this process and the repository: a test or setup command left running by a run
    // killed with `kill -9` is found and killed by recovery (SPEC F14; it has no record of its own).
    env: GitCommand.environment({ ...process.env, ...ProcessOwner.variables(repo.root) }, { name: true, email: true }),
    killGraceMs: options.killGraceMs ?? killGraceMsDefault,
    outputBytesMax: options.outputBytesMax ?? outputBytesMaxDefault
  }
  const run = runShell(spawner, settings)
  const prepare = prepareTestWorktree(repo, options.cleanIgnored ?? false)
  // One test worktree, so one test at a time (the merge queue runs one anyway).
  const testGate = yield* Semaphore.make(1)
  return CommandRunner.CommandRunner.of({
    inCommit: (sha, command, timeoutMs) =>
      testGate.withPermit(Effect.gen(function*() {
        const path = yield* prepare(sha).pipe(
          Effect.mapError((error) => new Errors.CommandError({ command, message: `cannot check out ${sha} for the test: ${error.message}` }))
        )
        return yield* run(path, command, timeoutMs)
      })),
    inWorkspace: (cwd, command, timeoutMs, env) => run(cwd, command, timeoutMs, env)
  })
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
    GitRepo.open({ repoRoot: options.repoRoot, worktreesDir: options.worktreesDir, branch: options.branch, runId: "runner", exclude: false }),
    (repo) => make(repo, options)
  ))
