/**
 * One swarm over many machines (issue 21): `oompa cluster runner` joins a machine to a cluster,
 * `oompa cluster swarm` (also `oompa swarm --cluster`) runs this repository's swarm on it, and
 * `oompa cluster postgres` starts a private PostgreSQL for trying it on one machine. The cluster's
 * code and its database client load only here (`@oompa/adapters-node/cluster`).
 *
 * @since 0.1.0
 */
import { Cause, Deferred, Effect, type FileSystem, Layer, Option, type Path } from "effect"
import { Command, Flag } from "effect/cli"
import { RepoLayout } from "@oompa/core"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RunFailed, UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as Session from "../Session.ts"
import { orchestratorNodeOptions } from "./shared.ts"

const cluster = () => Effect.promise(() => import("@oompa/adapters-node/cluster"))

const dbFlag = Flag.String("db").pipe(Flag.withDescription("The cluster's PostgreSQL: postgres://user@host:port/database"))

/** A postgres URL, checked before anything connects (an error names the flag, never a password). */
const checkDb = (flag: string, value: string) =>
  Effect.gen(function*() {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return yield* new UsageError({ message: `${flag}: expected a PostgreSQL URL (postgres://user@host:port/database)` })
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
      return yield* new UsageError({ message: `${flag}: expected a postgres:// URL, got the scheme ${url.protocol}` })
    }
    return value
  })

const portOf = (flag: string, value: number) =>
  value >= 1 && value <= 65_535 ? Effect.succeed(value) : Effect.fail(new UsageError({ message: `${flag}: expected a port from 1 to 65535, got ${value}` }))

/** A failure or defect of the cluster's setup as a usage error naming `flag`; an interruption stays one. */
const namedBy = (flag: string) => (cause: Cause.Cause<unknown>) => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
  const error = Cause.squash(cause)
  return Effect.fail(new UsageError({ message: `${flag}: ${error instanceof Error || (typeof error === "object" && error !== null && "message" in error) ? (error as { message: string }).message : String(error)}` }))
}

/** Setup failures of the cluster (the hub, the database) are usage errors: exit 2, the cause named. */
const asUsage = <A, R>(effect: Effect.Effect<A, { readonly message: string }, R>) => Effect.mapError(effect, (e) => new UsageError({ message: e.message }))

export const runner = Command.make("runner", {
  hub: Flag.String("hub").pipe(Flag.withDescription("The hub repository every runner fetches from and lands on (a URL git can push to)")),
  db: dbFlag,
  dir: Flag.String("dir").pipe(Flag.optional, Flag.withDescription("This runner's clone of the hub (default: ~/.oompa/runners/<port>)")),
  host: Flag.String("host").pipe(Flag.withDefault("127.0.0.1"), Flag.withDescription("The address other runners reach this one at")),
  port: Flag.Int("port").pipe(Flag.withDefault(34_431), Flag.withDescription("The port this runner listens on for other runners")),
  slots: Flag.Int("slots").pipe(Flag.optional, Flag.withDescription("Iterations this runner runs at once (default: as many as the worker slots it holds)"))
}, (flags) =>
  Effect.gen(function*() {
    const db = yield* checkDb("--db", flags.db)
    const port = yield* portOf("--port", flags.port)
    if (Option.isSome(flags.slots) && flags.slots.value < 1) return yield* new UsageError({ message: `--slots: expected at least 1, got ${flags.slots.value}` })
    const dir = path.resolve(Option.getOrElse(flags.dir, () => path.join(os.homedir(), RepoLayout.stateFolder, "runners", String(port))))
    const { ClusterRunner } = yield* cluster()
    yield* Output.lines([`runner ${flags.host}:${port}: hub ${ClusterRunner.shownHub(flags.hub)}, clone ${dir}`])
    yield* asUsage(ClusterRunner.ensureClone(flags.hub, dir))
    yield* Layer.launch(ClusterRunner.layer({ hub: flags.hub, db, dir, host: flags.host, port, ...(Option.isSome(flags.slots) ? { slots: flags.slots.value } : {}) })).pipe(
      Effect.catchCause(namedBy(`runner ${flags.host}:${port} stopped (--db or --hub)`))
    )
  })).pipe(
  Command.withDescription("Join this machine to a cluster: run the iterations and merge queues the cluster gives it"),
  Command.withExamples([{ command: "oompa cluster runner --hub ssh://git@host/repo.git --db postgres://oompa@db/oompa", description: "One runner per machine" }])
)

/**
 * Runs this repository's swarm on the cluster at `db` (the flag `flag`): exit 1 when a task failed
 * or is left held, 2 when the cluster cannot be reached or the configuration is refused.
 */
export const runSwarm = (dbValue: string, flag = "--cluster"): Effect.Effect<void, UsageError | RunFailed, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const db = yield* checkDb(flag, dbValue)
    const { ClusterSwarm } = yield* cluster()
    const report = yield* ClusterSwarm.run({ db, onLine: (line) => process.stdout.write(`${line}\n`) }).pipe(
      Effect.provide(ClusterSwarm.layer(db)),
      // The database out of reach fails the layer with a defect: a setup failure all the same, named by its flag.
      Effect.catchCause(namedBy(flag))
    )
    yield* Output.lines([`run log: ${path.relative(process.cwd(), report.eventsPath)} (oompa status, oompa view ${report.runId})`])
    // Stopped by Ctrl-C (after the iterations in flight ended): exit 130, as a run on one machine.
    if (report.outcome === "interrupted") return yield* Effect.interrupt
    if (report.outcome === "unavailable") return yield* new UsageError({ message: `run ${report.runId} stopped: an agent cannot run on a runner (oompa view ${report.runId} says which)` })
    if (report.outcome !== "ok") {
      return yield* new RunFailed({ message: `run ${report.runId}: ${report.tasks.failed} task(s) failed, ${report.tasks.current} left held${report.tasks.failed + report.tasks.current === 0 ? " (oompa status says why it failed)" : ""}` })
    }
  })

export const swarm = Command.make("swarm", { db: dbFlag }, ({ db }) => runSwarm(db, "--db")).pipe(
  Command.withDescription("Run this repository's swarm (oompa.json, tasks/pending) on a cluster's runners"),
  Command.withExamples([{ command: "oompa cluster swarm --db postgres://oompa@db/oompa", description: "The same as oompa swarm --cluster" }])
)

export const postgres = Command.make("postgres", {
  dir: Flag.String("dir").pipe(Flag.optional, Flag.withDescription("Keep its data in this folder (default: a temporary one, removed at the end)")),
  port: Flag.Int("port").pipe(Flag.optional, Flag.withDescription("Listen on this port of 127.0.0.1 (default: a free one from 15432)"))
}, (flags) =>
  Effect.scoped(Effect.gen(function*() {
    const { LocalPostgres } = yield* cluster()
    const port = Option.isSome(flags.port) ? yield* portOf("--port", flags.port.value) : undefined
    const server = yield* asUsage(LocalPostgres.start({
      ...(Option.isSome(flags.dir) ? { dataDir: path.resolve(flags.dir.value) } : {}),
      ...(port === undefined ? {} : { port })
    }))
    yield* Output.lines([server.url, "(Ctrl-C stops it)"])
    return yield* Effect.never
  }))).pipe(
  Command.withDescription("Start a private PostgreSQL on 127.0.0.1 for a cluster on one machine (Debian's postgresql package)"),
  Command.withExamples([{ command: "oompa cluster postgres", description: "Prints its URL, runs until Ctrl-C" }])
)

/** The cluster's status as lines (the workers of `runId`, or of its newest run), read from `db` given by `flag`. */
export const statusLines = (flag: string, db: string, runId?: string) =>
  Effect.gen(function*() {
    const url = yield* checkDb(flag, db)
    const { ClusterRunner, ClusterStatus } = yield* cluster()
    const status = yield* ClusterStatus.read({ ...(runId === undefined ? {} : { run: runId }) }).pipe(
      Effect.provide(ClusterRunner.database(url)),
      Effect.catchCause(namedBy(flag))
    )
    return ClusterStatus.lines(status)
  })

export const status = Command.make("status", { db: dbFlag }, ({ db }) =>
  Effect.flatMap(statusLines("--db", db), Output.lines)).pipe(
  Command.withDescription("Show a cluster's runners, its latest runs and where each worker of the newest ran"),
  Command.withExamples([{ command: "oompa cluster status --db postgres://oompa@db/oompa", description: "Runners, runs, workers" }])
)

/** A runner process of this same CLI; ended with its scope (SIGTERM: it releases its worktrees). */
const runnerProcess = (args: ReadonlyArray<string>, onExit: (code: number | null) => void) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [...orchestratorNodeOptions(), process.argv[1]!, "cluster", "runner", ...args], { stdio: ["ignore", "ignore", "inherit"] })
      child.on("exit", onExit)
      return child
    }),
    (child) =>
      Effect.promise(() =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done()
          child.once("exit", () => done())
          child.kill("SIGTERM")
        }))
  )

export const dev = Command.make("dev", {
  runners: Flag.Int("runners").pipe(Flag.withDefault(3), Flag.withDescription("How many runner processes to start on this machine")),
  slots: Flag.Int("slots").pipe(Flag.optional, Flag.withDescription("Iterations each runner runs at once"))
}, (flags) =>
  Effect.scoped(Effect.gen(function*() {
    if (flags.runners < 1 || flags.runners > 32) return yield* new UsageError({ message: `--runners: expected 1 to 32, got ${flags.runners}` })
    if (Option.isSome(flags.slots) && flags.slots.value < 1) return yield* new UsageError({ message: `--slots: expected at least 1, got ${flags.slots.value}` })
    const root = yield* Session.repoRoot(process.cwd())
    const { ClusterRunner, LocalPostgres } = yield* cluster()
    const server = yield* asUsage(LocalPostgres.start())
    // The hub: a bare copy of this repository, beside oompa's other state; kept between starts.
    const state = path.join(root, RepoLayout.stateFolder, "cluster")
    const hub = path.join(state, "hub.git")
    if (!fs.existsSync(hub)) {
      fs.mkdirSync(state, { recursive: true })
      const cloned = spawnSync("git", ["clone", "--quiet", "--bare", "--no-tags", "--", root, hub], { encoding: "utf8" })
      if (cloned.status !== 0) return yield* new UsageError({ message: `cannot make the hub ${hub} from ${root}: ${cloned.stderr.trim()}` })
    }
    const stopped = yield* Deferred.make<string>()
    for (let i = 0; i < flags.runners; i++) {
      const port = yield* ClusterRunner.freePort
      yield* runnerProcess([
        "--hub", hub, "--db", server.url, "--dir", path.join(state, `runner-${i}`), "--port", String(port),
        ...(Option.isSome(flags.slots) ? ["--slots", String(flags.slots.value)] : [])
      ], (code) => Effect.runFork(Deferred.succeed(stopped, `runner ${i} (port ${port}) exited with ${code}`)))
    }
    yield* Output.lines([
      `PostgreSQL: ${server.url}`,
      `hub: ${hub}`,
      `${flags.runners} runner(s) started; run a swarm from this repository with:`,
      `  oompa swarm --cluster ${server.url}`,
      `then bring its work home: git pull ${hub} main`,
      "(Ctrl-C stops the runners and PostgreSQL)"
    ])
    const why = yield* Deferred.await(stopped)
    return yield* new UsageError({ message: why })
  }))).pipe(
  Command.withDescription("A cluster on this machine: a private PostgreSQL, a hub copied from this repository, N runner processes"),
  Command.withExamples([{ command: "oompa cluster dev --runners 3", description: "Then, in another terminal: oompa swarm --cluster <the printed URL>" }])
)

export const command = Command.make("cluster").pipe(
  Command.withDescription("One swarm over many machines: runners, a hub repository, PostgreSQL"),
  Command.withSubcommands([runner, swarm, status, postgres, dev])
)
