/**
 * How oompa runs the git CLI: one process per call (started by a shell, off the main thread), with the environment and
 * the `-c` options every call needs, a call that found a lock held run again (`lockRetries`), and
 * git's failures turned into `GitError`s that carry the operation, the reason read from git's stderr
 * (`reasonOf`) and the first lines of it.
 *
 * Why these settings, once for every call:
 * - `GIT_DIR`, `GIT_WORK_TREE`, `GIT_INDEX_FILE` and the other repository-location variables are
 *   removed: oompa started from a git hook would otherwise point every worktree at the hook's repo.
 * - `GIT_TERMINAL_PROMPT=0` and `GIT_EDITOR=true`: nothing may wait for a human.
 * - `LC_ALL=C`: the few messages we read (a lost compare-and-swap, a held lock) are git's English ones.
 * - `-c gc.auto=0 -c maintenance.auto=false` (SPEC F6): no repack while objects are being written, which
 *   also keeps oompa's own commits loose, where in-process reads find them cheaply.
 * - `-c core.hooksPath=/dev/null`: oompa's commits, checkouts and merges in its worktrees are
 *   mechanical; the user's hooks (lint on pre-commit, installs on post-checkout) would make them
 *   slow, interactive or refused. Policy and the test gate are oompa's checks.
 * - `-c commit.gpgSign=false`: a signing prompt would hang the run.
 * - `-c core.fsmonitor=false`: a hook program named in the repository's config (which anything with
 *   a shell in a worktree can write) would run inside oompa's own `add`, `diff` and `checkout`.
 * - An author and committer identity (`oompa <oompa@localhost>`) only where the repository and
 *   environment give none, so a fresh clone on a CI machine can still commit.
 *
 * Internal: used by `NodeGit`, `CheckoutSync` and `NodeCommandRunner`.
 *
 * @since 0.1.0
 */
import * as nodeFs from "node:fs"
import * as nodeOs from "node:os"
import * as nodePath from "node:path"
import { Errors } from "@oompa/core"
import { Duration, Effect, Schedule } from "effect"
import * as PrivateFolder from "./privateFolder.ts"
import * as ShellSpawner from "./shellSpawner.ts"
import * as SpawnHelper from "./spawnHelper.ts"

/** Variables that tell git where a repository is; inherited ones would redirect every call. */
const locationVariables = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
  "GIT_CEILING_DIRECTORIES",
  "GIT_DISCOVERY_ACROSS_FILESYSTEM"
] as const

/** `-c` options for every call (see the header for why). */
export const configArgs: ReadonlyArray<string> = [
  // No attributes file from $HOME (an agent can write one): only the repository's own apply.
  "-c", "core.attributesFile=/dev/null",
  "-c", "gc.auto=0",
  "-c", "maintenance.auto=false",
  "-c", "core.hooksPath=/dev/null",
  "-c", "commit.gpgSign=false",
  "-c", "core.fsmonitor=false",
  "-c", "color.ui=never"
]

/** The identity used when neither the repository's config nor the environment names one. */
export const fallbackIdentity = { name: "oompa", email: "oompa@localhost" } as const

/** What one git call produced. A non-zero exit is data here; `Git.ok` turns it into an error. */
export interface Output {
  readonly exitCode: number
  readonly stdout: Uint8Array
  readonly stderr: string
}

/** One git call. */
export interface Call {
  readonly cwd: string
  readonly args: ReadonlyArray<string>
  /** Bytes written to git's stdin (then closed); stdin is empty when absent. */
  readonly stdin?: string | Uint8Array
  /** Extra environment for this call only. */
  readonly env?: Readonly<Record<string, string>>
}

/** A git runner bound to one environment. */
export interface Git {
  /** Runs git and returns its exit code and output, whatever the exit code. */
  readonly run: (operation: string, call: Call) => Effect.Effect<Output, Errors.GitError>
  /** Runs git and fails with `GitError` unless the exit code is one of `okExitCodes` (default `[0]`). */
  readonly ok: (operation: string, call: Call, okExitCodes?: ReadonlyArray<number>) => Effect.Effect<Output, Errors.GitError>
  /** The environment every call runs with. */
  readonly env: Readonly<Record<string, string>>
}

/** Lines of stderr kept in an error message: enough for git's `fatal:` plus its hint. */
const stderrLinesMax = 6

/** The first lines of git's stderr, for an error message. */
export const firstLines = (text: string, linesMax = stderrLinesMax): string => {
  const lines = text.split("\n").map((line) => line.trimEnd()).filter((line) => line.length > 0)
  const kept = lines.slice(0, linesMax).join("\n")
  return lines.length > linesMax ? `${kept}\n… (${lines.length - linesMax} more lines)` : kept
}

// What git prints (in the C locale) for each reason a call can fail for; checked in this order.
const notARepository = /not a git repository|is not a working tree/i
// A lost compare-and-swap: `is at X but expected Y`, `reference is missing but expected X`, or a ref
// created with an all-zero old value that exists already.
const refMoved = /but expected|reference already exists/i
// A lock file another process holds (`index.lock`, `refs/heads/<b>.lock`): the one failure retried.
const lockHeld = /Unable to create '[^']*\.lock': File exists/
// Any other refusal to lock a ref, except a name clash with an existing ref (`'refs/heads/a' exists;
// cannot create 'refs/heads/a/b'`), which no waiting resolves.
const refLockRefused = /cannot lock ref/i
const refNameClash = /exists; cannot create/i
const missingObject =
  /bad object|bad revision|unknown revision|not a valid object name|not a valid commit name|is not a valid object|not a valid SHA1|does not point to a valid object|invalid reference|is not a commit and a branch|failed to unpack tree object|not a tree object|not something we can merge/i

/**
 * The reason a git call failed, read from its stderr (git runs with `LC_ALL=C`, so its messages are
 * the English ones matched here): `not-a-repository`, `ref-moved`, `locked`, `missing-object`, else
 * `failed`.
 */
export const reasonOf = (stderr: string): Errors.GitErrorReason => {
  if (notARepository.test(stderr)) return "not-a-repository"
  if (refMoved.test(stderr)) return "ref-moved"
  if (lockHeld.test(stderr) || (refLockRefused.test(stderr) && !refNameClash.test(stderr))) return "locked"
  if (missingObject.test(stderr)) return "missing-object"
  return "failed"
}

/** A `GitError` for a failed call: the operation, the command, the exit code and git's stderr. */
export const failure = (operation: string, call: Call, output: Output): Errors.GitError =>
  new Errors.GitError({
    operation,
    reason: reasonOf(output.stderr),
    message: `git ${call.args.join(" ")} (in ${call.cwd}) exited with ${output.exitCode}` +
      (output.stderr.trim().length > 0 ? `:\n${firstLines(output.stderr)}` : "")
  })

/** This process's snapshots of the global config, by content; removed when the process exits. */
const snapshots = new Map<string, string>()

/**
 * A copy of the global git config files (`$GIT_CONFIG_GLOBAL`, else `~/.gitconfig` and
 * `$XDG_CONFIG_HOME/git/config`) as they are now, in a file of this process (its private folder,
 * `privateFolder`, else the temporary folder), removed when it exits; `undefined` when it cannot be written (git then reads the real ones).
 */
const globalConfigSnapshot = (env: Readonly<Record<string, string>>): string | undefined => {
  const home = env["HOME"]
  const files = env["GIT_CONFIG_GLOBAL"] !== undefined
    ? [env["GIT_CONFIG_GLOBAL"]]
    : [
      ...(home === undefined ? [] : [nodePath.join(home, ".gitconfig")]),
      nodePath.join(env["XDG_CONFIG_HOME"] ?? (home === undefined ? "/nonexistent" : nodePath.join(home, ".config")), "git", "config")
    ]
  const text = files.map((file) => {
    try {
      return nodeFs.readFileSync(file, "utf8")
    } catch {
      return ""
    }
  }).join("\n")
  const known = snapshots.get(text)
  if (known !== undefined) return known
  let snapshot: string
  try {
    // A folder of its own with a random name (mode 0700): not a path an agent can guess and prepare;
    // in this process's private folder when there is one, since a sandboxed agent may write the
    // temporary folder (and a filter added to this copy would run in oompa's own `git add`).
    const folder = nodeFs.mkdtempSync(nodePath.join(PrivateFolder.processFolder() ?? env["TMPDIR"] ?? nodeOs.tmpdir(), "oompa-gitconfig-"))
    snapshot = nodePath.join(folder, "config")
    nodeFs.writeFileSync(snapshot, text, { mode: 0o600, flag: "wx" })
  } catch {
    return undefined
  }
  if (snapshots.size === 0) {
    process.once("exit", () => {
      for (const file of snapshots.values()) nodeFs.rmSync(nodePath.dirname(file), { recursive: true, force: true })
    })
  }
  snapshots.set(text, snapshot)
  return snapshot
}

/**
 * The environment for git: the process's own minus the location variables, no prompts, C locale,
 * and the fallback identity for whatever part of it is missing (`hasConfig` says what the repository
 * config sets).
 */
export const environment = (
  base: Readonly<Record<string, string | undefined>>,
  hasConfig: { readonly name: boolean; readonly email: boolean }
): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(base)) if (value !== undefined) env[key] = value
  for (const key of locationVariables) delete env[key]
  env["GIT_TERMINAL_PROMPT"] = "0"
  env["GIT_EDITOR"] = "true"
  env["GIT_MERGE_AUTOEDIT"] = "no"
  env["LC_ALL"] = "C"
  env["LANGUAGE"] = "C"
  // `refs/replace/*` (which an agent can write) would make every read show one blob while the tree
  // stores another: the reviewer would see harmless text and main would hold the payload.
  env["GIT_NO_REPLACE_OBJECTS"] = "1"
  // The user's global config as the run found it: an agent shares $HOME and could add a filter or
  // merge driver there that git would run inside oompa's calls (issue 15).
  const snapshot = globalConfigSnapshot(env)
  if (snapshot !== undefined) env["GIT_CONFIG_GLOBAL"] = snapshot
  if (!hasConfig.name) {
    env["GIT_AUTHOR_NAME"] ??= fallbackIdentity.name
    env["GIT_COMMITTER_NAME"] ??= fallbackIdentity.name
  }
  if (!hasConfig.email) {
    env["GIT_AUTHOR_EMAIL"] ??= env["EMAIL"] ?? fallbackIdentity.email
    env["GIT_COMMITTER_EMAIL"] ??= env["EMAIL"] ?? fallbackIdentity.email
  }
  return env
}


const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** Decodes git's output as UTF-8 (paths and messages are bytes to git; oompa treats them as UTF-8). */
export const text = (bytes: Uint8Array): string => decoder.decode(bytes)

const lockRetriesMax = 8
const lockRetryDelayMs = 25

/**
 * When a call found a lock held (`lockHeld`): tried again after 25 ms, 50 ms, … (25 ms more each
 * time), at most `lockRetriesMax` more times. Held locks are the one failure worth retrying: git
 * takes the lock before it changes anything, and the holder is another short git call.
 */
export const lockRetries: Schedule.Schedule<number> = Schedule.recurs(lockRetriesMax).pipe(
  Schedule.modifyDelay(({ attempt }) => Effect.succeed(Duration.millis(lockRetryDelayMs * attempt)))
)

/** Whether a call failed on a lock another process holds (and is worth running again). */
export const failedOnLock = (output: Output): boolean => output.exitCode !== 0 && lockHeld.test(output.stderr)

/** How long an interrupted git call gets between SIGTERM and SIGKILL. */
const killGraceMs = 2_000

/**
 * Runs git once, started by a shell this process keeps (`shellSpawner`), or by the spawning helper
 * (`spawnHelper`) for what the shell does not take: a git call is the hot path of every iteration,
 * `effect/process`'s spawner (streams, scopes, a cwd check) cost ~1.4 ms more CPU per call than the
 * spawn itself, and a spawn from this process forks all of its memory and blocks the calling thread
 * until git has exec'd (docs/decisions.md). Interruption sends SIGTERM, then SIGKILL after
 * `killGraceMs`, and waits for the exit, so an interrupted call never outlives its fiber.
 */
const spawnOnce = (env: Readonly<Record<string, string>>, operation: string, call: Call): Effect.Effect<Output, Errors.GitError> =>
  Effect.callback<Output, Errors.GitError>((resume) => {
    let ended = false
    const waiting: Array<() => void> = []
    const request: SpawnHelper.SpawnRequest = {
      command: "git",
      args: [...configArgs, ...call.args],
      cwd: call.cwd,
      env,
      extraEnv: call.env,
      stdin: call.stdin === undefined ? undefined : typeof call.stdin === "string" ? encoder.encode(call.stdin) : call.stdin
    }
    const spawned = ShellSpawner.run(request, finished) ?? SpawnHelper.spawnInHelper(request, finished)
    function finished(result: SpawnHelper.SpawnResult): void {
      ended = true
      for (const wake of waiting) wake()
      if (result._tag === "NotStarted") {
        // Node refuses a cwd that is gone with the same ENOENT as a missing git: a folder that is gone is no repository (any more).
        const reason: Errors.GitErrorReason = result.code === "ENOENT" && !nodeFs.existsSync(call.cwd) ? "not-a-repository" : "spawn-failed"
        return resume(Effect.fail(new Errors.GitError({ operation, reason, message: `could not run git ${call.args.join(" ")}: ${result.message}` })))
      }
      resume(Effect.succeed({ exitCode: result.code ?? (result.signal === null ? 1 : 128), stdout: result.stdout, stderr: text(result.stderr) }))
    }
    return Effect.callback<void>((done) => {
      if (ended) return done(Effect.void)
      const kill = setTimeout(() => spawned.kill("SIGKILL"), killGraceMs)
      waiting.push(() => {
        clearTimeout(kill)
        done(Effect.void)
      })
      spawned.kill("SIGTERM")
    })
  })

/**
 * A runner with the given environment. A git call is short, and an interrupted one is killed on
 * its own (a Ctrl-C at the terminal does not reach it: the shell that starts it has a session of
 * its own).
 */
export const make = (env: Readonly<Record<string, string>>): Git => {
  const run = (operation: string, call: Call): Effect.Effect<Output, Errors.GitError> =>
    spawnOnce(env, operation, call).pipe(Effect.repeat({ schedule: lockRetries, while: failedOnLock }))

  const ok = (operation: string, call: Call, okExitCodes: ReadonlyArray<number> = [0]) =>
    Effect.flatMap(run(operation, call), (output) =>
      okExitCodes.includes(output.exitCode) ? Effect.succeed(output) : Effect.fail(failure(operation, call, output)))

  return { run, ok, env }
}

