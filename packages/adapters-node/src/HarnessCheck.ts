/**
 * What `oompa check` says about the agent CLIs (SPEC F3, F12): for each harness, whether its binary
 * runs, its `--version`, and what would stop a call before it starts — codex not logged in (offline
 * and logged out, codex waits on the network until the call's timeout, so `codex login status` is
 * asked here), claude run as root without `IS_SANDBOX=1`.
 *
 * Boundary: runs short probe processes, each in its own process group and stopped after
 * `probeTimeoutMs`. Called by the CLI's `check` command (and `runBlockers`, which runs
 * nothing, by every run's start); needs `ChildProcessSpawner`,
 * `FileSystem` and `Path` (`NodeServices.layer`). Never fails: a probe that cannot run is a finding.
 *
 * @since 0.1.0
 */
import { AgentSpec, type SwarmConfig } from "@oompa/core"
import { Duration, Effect, FileSystem, Path, Schema, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as Harnesses from "./Harnesses.ts"
import * as OutputCapture from "./internal/outputCapture.ts"

/**
 * What `oompa check` found about one harness (a Schema: `oompa check --json` prints it).
 *
 * @category models
 * @since 0.1.0
 */
export const HarnessStatus = Schema.Struct({
  harness: AgentSpec.Harness,
  /** The binary probed (`harnesses.<name>.command` or the default). */
  command: Schema.String,
  /** Its binary is there and started. */
  available: Schema.Boolean,
  /**
   * Available, and nothing found that stops every call before it starts (codex logged out, claude
   * as root without `IS_SANDBOX=1`).
   */
  usable: Schema.Boolean,
  /** First line of `--version`, when it answered. */
  version: Schema.optionalKey(Schema.String),
  /** One line each: what would make a call fail, or how the probe went. */
  notes: Schema.Array(Schema.String)
})
export type HarnessStatus = typeof HarnessStatus.Type

/**
 * Everything `oompa check --json` prints: the Node and git it runs with, every harness probed, the
 * harnesses the repository's oompa.json uses (every agent CLI when there is none), and whether they
 * are usable: every one oompa.json uses (what a run's preflight needs), or any one without oompa.json
 * — `oompa check` exits 1 when not.
 *
 * @category models
 * @since 0.1.0
 */
export const CheckReport = Schema.Struct({
  node: Schema.String,
  /** `git --version`; absent when git is not found. */
  git: Schema.optionalKey(Schema.String),
  harnesses: Schema.Array(HarnessStatus),
  required: Schema.Array(AgentSpec.Harness),
  usable: Schema.Boolean
})
export type CheckReport = typeof CheckReport.Type

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** `harnesses` of oompa.json (binary and env per harness). */
  readonly harnesses?: Readonly<Record<string, SwarmConfig.HarnessOverride>>
  /** The environment the agents would get (default: this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** How long one probe may take before its process group is stopped. */
  readonly probeTimeoutMs?: number
  /** The user id oompa runs as (default: this process's); 0 is root. */
  readonly uid?: number | undefined
}

/**
 * @category constants
 * @since 0.1.0
 */
export const defaults = { probeTimeoutMs: 5_000 } as const

/** Output kept from one probe: versions and login states are one line. */
const probeOutputBytesMax = 64 * 1024
/** A probe that ignores TERM is killed this long after it. */
const probeGraceMs = 500

type Probe =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Failed"; readonly message: string }
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "Exited"; readonly exitCode: number; readonly stdout: string; readonly stderr: string }

const firstLine = (text: string): string => text.split("\n").map((line) => line.trim()).find((line) => line !== "") ?? ""

/** Runs `command args` with no stdin, captures a little output, stops the group at the timeout. */
const probe = (command: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>>, timeoutMs: number) =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const stdout = OutputCapture.make(probeOutputBytesMax)
    const stderr = OutputCapture.make(probeOutputBytesMax)
    const run = Effect.scoped(Effect.gen(function*() {
      const handle = yield* spawner.spawn(ChildProcess.make(command, args, {
        env,
        extendEnv: false,
        detached: true,
        stdin: "ignore",
        forceKillAfter: Duration.millis(probeGraceMs)
      }))
      const read = (stream: typeof handle.stdout, capture: OutputCapture.OutputCapture) =>
        Stream.runForEach(stream, (chunk) => Effect.sync(() => capture.push(chunk)))
      const [exitCode] = yield* Effect.all([handle.exitCode, read(handle.stdout, stdout), read(handle.stderr, stderr)], { concurrency: 3 })
      return { _tag: "Exited", exitCode, stdout: stdout.render(), stderr: stderr.render() } as Probe
    }))
    return yield* run.pipe(
      Effect.timeoutOrElse({ duration: timeoutMs, orElse: () => Effect.succeed<Probe>({ _tag: "TimedOut" }) }),
      // A missing binary is the finding `available: false`; any other failure is reported as a note.
      Effect.catch((error) =>
        Effect.succeed<Probe>(
          error.reason._tag === "NotFound" && error.reason.method === "spawn" ? { _tag: "Missing" } : { _tag: "Failed", message: error.message }
        ))
    )
  })

/** Whether claude, with this environment, refuses to run as the user `uid` (default: this process's). */
const refusesAsRoot = (env: Readonly<Record<string, string>>, uid: number | undefined): boolean =>
  (uid ?? process.getuid?.()) === 0 && env["IS_SANDBOX"] !== "1"

/** Whether a `command` harness's binary resolves: a path, or a name on the env's PATH. */
const onPath = Effect.fnUntraced(function*(command: string, env: Readonly<Record<string, string>>) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const candidates = command.includes("/")
    ? [command]
    : (env["PATH"] ?? "").split(path.sep === "\\" ? ";" : ":").filter((dir) => dir !== "").map((dir) => path.join(dir, command))
  for (const candidate of candidates) {
    if (yield* fs.exists(candidate).pipe(Effect.orElseSucceed(() => false))) return true
  }
  return false
})

const codexLoginNote = (login: Probe, binary: string, timeoutMs: number): string => {
  switch (login._tag) {
    case "Exited":
      return login.exitCode === 0
        ? `login: ${firstLine(login.stdout) || "logged in"}`
        : `not logged in (${firstLine(login.stderr) || firstLine(login.stdout) || `exit ${login.exitCode}`}): run \`${binary} login\`; logged out and offline, codex waits on the network until the call's timeout`
    case "TimedOut":
      return `\`${binary} login status\` did not answer within ${timeoutMs / 1000} s`
    case "Missing":
    case "Failed":
      return `\`${binary} login status\` could not run`
  }
}

const checkCli = Effect.fnUntraced(function*(harness: Exclude<AgentSpec.Harness, "command">, options: Options, timeoutMs: number) {
  const override = options.harnesses?.[harness]
  const binary = Harnesses.binaryOf(harness, override) ?? harness
  const env = Harnesses.agentEnvironment(options.env ?? process.env, override)
  const version = yield* probe(binary, ["--version"], env, timeoutMs)
  if (version._tag === "Missing") {
    return { harness, command: binary, available: false, usable: false, notes: [Harnesses.missingBinaryMessage(harness, binary)] } satisfies HarnessStatus
  }
  const notes: Array<string> = []
  if (version._tag === "TimedOut") notes.push(`\`${binary} --version\` did not answer within ${timeoutMs / 1000} s`)
  if (version._tag === "Failed") notes.push(`\`${binary} --version\` could not run: ${version.message}`)
  if (version._tag === "Exited" && version.exitCode !== 0) {
    notes.push(`\`${binary} --version\` exited with ${version.exitCode}: ${firstLine(version.stderr) || firstLine(version.stdout)}`)
  }
  let blocked = false
  if (harness === "codex") {
    const login = yield* probe(binary, ["login", "status"], env, timeoutMs)
    blocked = login._tag === "Exited" && login.exitCode !== 0
    notes.push(codexLoginNote(login, binary, timeoutMs))
  }
  if (harness === "claude" && refusesAsRoot(env, options.uid)) {
    blocked = true
    notes.push(Harnesses.rootRefusalMessage)
  }
  const line = version._tag === "Exited" && version.exitCode === 0 ? firstLine(version.stdout) : ""
  // It started: a probe that timed out still found the binary.
  const available = version._tag === "Exited" || version._tag === "TimedOut"
  return {
    harness,
    command: binary,
    available,
    usable: available && !blocked,
    ...(line === "" ? {} : { version: line }),
    notes
  } satisfies HarnessStatus
})

/**
 * Probes every harness (and a configured `command` harness, whose binary is only looked up: an
 * arbitrary command has no `--version`). Probes run concurrently, each bounded by `probeTimeoutMs`.
 *
 * @category programs
 * @since 0.1.0
 */
export const check = Effect.fn("HarnessCheck.check")(function*(options: Options = {}): Effect.fn.Return<
  ReadonlyArray<HarnessStatus>,
  never,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path
> {
  const timeoutMs = options.probeTimeoutMs ?? defaults.probeTimeoutMs
  const clis = ["codex", "claude", "gemini", "opencode"] as const
  const statuses: Array<HarnessStatus> = yield* Effect.forEach(clis, (harness) => checkCli(harness, options, timeoutMs), { concurrency: clis.length })
  const configured = options.harnesses?.["command"]?.command
  if (configured !== undefined) {
    const env = Harnesses.agentEnvironment(options.env ?? process.env, options.harnesses?.["command"])
    const available = yield* onPath(configured, env)
    statuses.push({
      harness: "command",
      command: configured,
      available,
      usable: available,
      notes: available ? [] : [Harnesses.missingBinaryMessage("command", configured)]
    })
  }
  return statuses
})

/**
 * The harnesses a swarm's agents use (planner, workers, reviewers), first use first: what
 * `oompa check` requires to be usable when the repository has an oompa.json.
 *
 * @category programs
 * @since 0.1.0
 */
export const usedHarnesses = (config: SwarmConfig.SwarmConfig): ReadonlyArray<AgentSpec.Harness> => [...harnessUsers(config).keys()]

/** Each harness a swarm uses, first use first, with who uses it (for messages). */
const harnessUsers = (config: SwarmConfig.SwarmConfig): ReadonlyMap<AgentSpec.Harness, ReadonlyArray<string>> => {
  const users = new Map<AgentSpec.Harness, Array<string>>()
  const use = (harness: AgentSpec.Harness, who: string) => users.set(harness, [...(users.get(harness) ?? []), who])
  if (config.planner !== undefined) use(config.planner.agent.harness, "the planner")
  for (const worker of config.workers) use(worker.agent.harness, worker.id)
  config.reviewers.forEach((reviewer, i) => use(reviewer.agent.harness, config.reviewers.length === 1 ? "the reviewer" : `reviewer ${i + 1}`))
  return users
}

/**
 * What would stop every call of a swarm's agents, known before it starts: one line per binary that
 * is not there (naming it, the oompa.json field that sets it and who uses it), and claude's refusal
 * to run as root without `IS_SANDBOX=1`. Empty when nothing does. Binaries are only looked up on the
 * agents' PATH, nothing is run, so it costs a few `stat`s. Every run checks this first: each failed
 * call counted against the claimed task's attempts, so a typo in `harnesses.<name>.command` (or
 * claude as root) used to move tasks to `failed/`.
 *
 * @category programs
 * @since 0.1.0
 */
export const runBlockers = Effect.fnUntraced(function*(
  config: SwarmConfig.SwarmConfig,
  options: { readonly env?: Readonly<Record<string, string | undefined>>; readonly uid?: number | undefined } = {}
): Effect.fn.Return<ReadonlyArray<string>, never, FileSystem.FileSystem | Path.Path> {
  const lines: Array<string> = []
  for (const [harness, who] of harnessUsers(config)) {
    const override = config.harnesses[harness]
    const binary = Harnesses.binaryOf(harness, override)
    const env = Harnesses.agentEnvironment(options.env ?? process.env, override)
    if (binary === undefined) {
      lines.push(`harnesses.${harness}.command is not set in oompa.json (used by ${who.join(", ")})`)
    } else if (!(yield* onPath(binary, env))) {
      lines.push(`${Harnesses.missingBinaryMessage(harness, binary)}; used by ${who.join(", ")}`)
    } else if (harness === "claude" && refusesAsRoot(env, options.uid)) {
      lines.push(`${Harnesses.rootRefusalMessage} (claude is used by ${who.join(", ")})`)
    }
  }
  return lines
})

/**
 * One line per harness — `ok`, `blocked` (there, but a note says what stops it) or `missing` — then
 * its notes indented: what `oompa check` prints.
 *
 * @category formatting
 * @since 0.1.0
 */
export const format = (statuses: ReadonlyArray<HarnessStatus>): ReadonlyArray<string> =>
  statuses.flatMap((status) => [
    `${status.usable ? "ok     " : status.available ? "blocked" : "missing"} ${status.harness.padEnd(8)} ${status.command}${status.version === undefined ? "" : ` (${status.version})`}`,
    ...status.notes.map((note) => `        ${note}`)
  ])
