/**
 * Flags and helpers shared by the commands that run agents (`swarm`, `run`, `loop`, `prompt`, `cluster`).
 *
 * @since 0.1.0
 */
import { Effect, Option, Result } from "effect"
import { Flag } from "effect/cli"
import { AgentSpec, type Ids, Notification, SwarmConfig } from "@oompa/core"
import { UsageError } from "../Errors.ts"
import type * as Session from "../Session.ts"
import { parseWorkers } from "../WorkersFlag.ts"

/** Flags of every command that runs agents (SPEC F10). */
export const runFlags = {
  dryRun: Flag.Boolean("dry-run").pipe(Flag.withDefault(false), Flag.withDescription("Everything but the merge: approved work stays on its branch")),
  keepWorktrees: Flag.Boolean("keep-worktrees").pipe(Flag.withDefault(false), Flag.withDescription("Keep worktrees and branches after the run")),
  speculation: Flag.Int("speculation").pipe(
    Flag.optional,
    Flag.withDescription("Approved changes the merge queue tests at once, each on top of the ones ahead of it (merge.speculation; 1: one at a time)")
  ),
  remote: Flag.String("remote").pipe(
    Flag.optional,
    Flag.withDescription("Land on this git remote's branch (a name such as origin, or a URL) with git push --force-with-lease, never overwriting a teammate's push (target.mode push)")
  ),
  otlp: Flag.String("otlp").pipe(
    Flag.optional,
    Flag.withDescription("Send the run's spans (run, worker, iteration, agent call, merge) and metrics to this OTLP/HTTP endpoint, e.g. http://localhost:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT)")
  )
}


/** `--speculation`, `--remote` and `--otlp` checked alone (before `--detach` leaves the terminal). */
export const validateRunFlags = (flags: { readonly speculation: Option.Option<number>; readonly remote: Option.Option<string>; readonly otlp?: Option.Option<string> }): Effect.Effect<void, UsageError> =>
  Effect.gen(function*() {
    if (flags.otlp !== undefined && Option.isSome(flags.otlp) && !Notification.isWebUrl(flags.otlp.value)) {
      return yield* new UsageError({ message: `--otlp: expected an OTLP/HTTP endpoint such as http://localhost:4318, got ${JSON.stringify(flags.otlp.value)}` })
    }
    if (Option.isSome(flags.speculation)) {
      const k = flags.speculation.value
      if (!Number.isSafeInteger(k) || k < 1 || k > SwarmConfig.speculationMax) {
        return yield* new UsageError({ message: `--speculation: expected an integer from 1 to ${SwarmConfig.speculationMax}, got ${k}` })
      }
    }
    if (Option.isSome(flags.remote)) {
      const remote = flags.remote.value.trim()
      if (remote === "" || remote.startsWith("-")) return yield* new UsageError({ message: `--remote: expected a git remote's name or URL, got ${JSON.stringify(flags.remote.value)}` })
    }
  })

/** The session with the run flags that change its config: `--speculation`, `--remote`. */
export const withRunFlags = (
  session: Session.Session,
  flags: { readonly speculation: Option.Option<number>; readonly remote: Option.Option<string>; readonly otlp?: Option.Option<string> }
): Effect.Effect<Session.Session, UsageError> =>
  Effect.gen(function*() {
    yield* validateRunFlags(flags)
    const config = session.config
    return {
      ...session,
      config: {
        ...config,
        ...(Option.isNone(flags.speculation) ? {} : { merge: { ...config.merge, speculation: flags.speculation.value } }),
        ...(Option.isNone(flags.remote) ? {} : { target: { remote: flags.remote.value.trim(), mode: "push" as const } })
      }
    }
  })

/** Flags that choose workers without a config file. */
export const workerFlags = {
  workers: Flag.String("workers").pipe(Flag.atLeast(0), Flag.withDescription("Workers: claude:5,codex:4 (repeatable; 0.1.0's space-separated form too), or a count")),
  iterations: Flag.Int("iterations").pipe(Flag.optional, Flag.withDescription("Iterations per worker")),
  harness: Flag.String("harness").pipe(Flag.optional, Flag.withDescription("Harness for workers given as a count: codex, claude, gemini, opencode, command")),
  model: Flag.String("model").pipe(Flag.optional, Flag.withDescription("Model for workers given as a count"))
}

/** The agent `--harness`/`--model` describe (default: codex with its default model). */
export const fallbackAgent = (harness: Option.Option<string>, model: Option.Option<string>) =>
  Effect.gen(function*() {
    const text = [Option.getOrElse(harness, () => "codex"), ...Option.toArray(model)].join(":")
    const parsed = AgentSpec.parseModelString(text)
    if (Result.isFailure(parsed)) return yield* new UsageError({ message: `--harness/--model: ${JSON.stringify(text)} ${parsed.failure.message}` })
    const spec = parsed.success
    if (Option.isSome(harness) && !(AgentSpec.harnesses as ReadonlyArray<string>).includes(harness.value)) {
      return yield* new UsageError({ message: `--harness: unknown harness ${JSON.stringify(harness.value)}; expected one of ${AgentSpec.harnesses.join(", ")}` })
    }
    return spec
  })

/** Worker configs from `--workers`, numbered w0, w1, … in the order given. */
export const workersFromFlags = (
  values: ReadonlyArray<string>,
  fallback: AgentSpec.AgentSpec,
  options: { readonly role: SwarmConfig.Role; readonly iterations: number }
) =>
  Effect.gen(function*() {
    const groups = yield* Effect.fromResult(parseWorkers(values, fallback))
    const workers: Array<SwarmConfig.WorkerConfig> = []
    for (const group of groups) {
      for (let i = 0; i < group.count; i++) {
        workers.push({ id: `w${workers.length}` as Ids.WorkerId, agent: group.agent, role: options.role, iterations: options.iterations, prompt: [], wait_between: 0, budget: {} })
      }
    }
    return workers
  })

/** A positive count from the command line. */
export const positive = (value: number, flag: string) =>
  Number.isSafeInteger(value) && value > 0 ? Effect.succeed(value) : Effect.fail(new UsageError({ message: `${flag}: expected a positive integer, got ${value}` }))

/**
 * The Node options a command started the same way again (`swarm --detach`, `cluster dev`'s
 * runners) keeps: the memory options the bin chose for orchestrating commands
 * (bin/oompa.mjs). Not the rest (an `--inspect` port would clash).
 */
export const orchestratorNodeOptions = (): ReadonlyArray<string> =>
  process.execArgv.filter((option) => /^--(max[-_]semi[-_]space[-_]size(=|$)|optimize[-_]for[-_]size$)/.test(option))
