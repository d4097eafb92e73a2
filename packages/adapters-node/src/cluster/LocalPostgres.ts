/**
 * A private PostgreSQL server on loopback (issue 21): for `oompa cluster dev` and the cluster's
 * tests. It is the system's own `postgres` (Debian's `postgresql` package), started in a folder of
 * ours with `initdb`, listening on 127.0.0.1 at a free port, and stopped with its scope.
 *
 * PostgreSQL refuses to run as root; as root, the folder is given to the `postgres` user and the
 * server runs as that user (the spawn's own `uid`/`gid`, so no wrapper stands between us and the
 * server's signals). Durability is off (`fsync=off`): this server is for one
 * machine's tests and demos, and dies with them.
 *
 * @since 0.1.0
 */
import { Data, Effect, type Scope } from "effect"
import { execFile, spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { findFreeBlock } from "../internal/portRange.ts"

const run = promisify(execFile)

/**
 * PostgreSQL could not be found or started.
 *
 * @category errors
 * @since 0.1.0
 */
export class LocalPostgresError extends Data.TaggedError("LocalPostgresError")<{ readonly message: string }> {}

/**
 * A running server.
 *
 * @category models
 * @since 0.1.0
 */
export interface LocalPostgres {
  /** `postgres://oompa@127.0.0.1:<port>/oompa` (trust authentication, loopback only). */
  readonly url: string
  readonly port: number
  readonly dataDir: string
}

/** The folder with `initdb` and `postgres`: `pg_config --bindir`, else the newest `/usr/lib/postgresql/<v>/bin`. */
export const findBinaries: Effect.Effect<string, LocalPostgresError> = Effect.tryPromise({
  try: async () => {
    const candidates: Array<string> = []
    try {
      candidates.push((await run("pg_config", ["--bindir"])).stdout.trim())
    } catch {
      // pg_config is in the -dev package; the server's folder is the usual place.
    }
    const root = "/usr/lib/postgresql"
    if (fs.existsSync(root)) {
      for (const version of fs.readdirSync(root).sort((a, b) => Number(b) - Number(a))) candidates.push(path.join(root, version, "bin"))
    }
    const found = candidates.find((dir) => fs.existsSync(path.join(dir, "initdb")) && fs.existsSync(path.join(dir, "postgres")))
    if (found === undefined) throw new Error("no PostgreSQL server found (looked for initdb and postgres via pg_config and in /usr/lib/postgresql/*/bin); install Debian's postgresql package")
    return found
  },
  catch: (cause) => new LocalPostgresError({ message: cause instanceof Error ? cause.message : String(cause) })
})

/** As root, the server's user: the `postgres` user, who must own the data folder. */
interface ServerUser {
  readonly uid?: number
  readonly gid?: number
}

const waitForExit = (child: ChildProcess): Promise<void> =>
  new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    child.once("exit", () => done())
  })

/**
 * Starts a server in `dataDir` (a new temporary folder by default, removed at the end) and stops
 * it when the scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const start = (options: { readonly dataDir?: string; readonly port?: number } = {}): Effect.Effect<LocalPostgres, LocalPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const bin = yield* findBinaries
    const owned = options.dataDir === undefined
    const base = owned ? fs.mkdtempSync(path.join(os.tmpdir(), "oompa-pg-")) : options.dataDir!
    yield* Effect.addFinalizer(() => Effect.sync(() => owned && fs.rmSync(base, { recursive: true, force: true })))
    const dataDir = path.join(base, "data")
    const fail = (message: string) => new LocalPostgresError({ message })
    let user: ServerUser = {}
    if (process.getuid?.() === 0) {
      const ids = yield* Effect.tryPromise({ try: () => run("id", ["-u", "postgres"]), catch: () => fail("running as root needs a 'postgres' user to run the server as (Debian's postgresql package creates it)") })
      const gids = yield* Effect.tryPromise({ try: () => run("id", ["-g", "postgres"]), catch: () => fail("no group for the 'postgres' user") })
      user = { uid: Number(ids.stdout.trim()), gid: Number(gids.stdout.trim()) }
      fs.chownSync(base, user.uid!, user.gid!)
      // The server user must reach the folder through the temporary directory.
      fs.chmodSync(base, 0o700)
    }
    if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) {
      const args = ["-D", dataDir, "-U", "oompa", "--auth=trust", "-E", "UTF8", "--no-sync"]
      yield* Effect.tryPromise({ try: () => run(path.join(bin, "initdb"), args, { ...user, cwd: base }), catch: (cause) => fail(`initdb failed in ${dataDir}: ${String((cause as { stderr?: string }).stderr ?? cause)}`) })
    }
    const port = options.port ?? (yield* findFreeBlock(1, 15_432))
    const args = [
      "-D", dataDir, "-h", "127.0.0.1", "-p", String(port), "-k", base,
      "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300"
    ]
    const log: Array<string> = []
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(path.join(bin, "postgres"), args, { ...user, cwd: base, stdio: ["ignore", "pipe", "pipe"] })
        const keep = (chunk: Buffer) => log.push(chunk.toString())
        child.stdout?.on("data", keep)
        child.stderr?.on("data", keep)
        return child
      }),
      (child) =>
        Effect.promise(async () => {
          // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, the server exits at once.
          child.kill("SIGINT")
          await waitForExit(child)
        })
    )
    const url = `postgres://oompa@127.0.0.1:${port}/postgres`
    const isready = path.join(bin, "pg_isready")
    for (let attempt = 0; ; attempt++) {
      if (child.exitCode !== null) return yield* fail(`postgres exited with ${child.exitCode}:\n${log.join("").trim()}`)
      const ready = yield* Effect.promise(() => run(isready, ["-h", "127.0.0.1", "-p", String(port), "-U", "oompa"]).then(() => true, () => false))
      if (ready) break
      if (attempt > 300) return yield* fail(`postgres did not accept connections on 127.0.0.1:${port} within 30 s:\n${log.join("").trim()}`)
      yield* Effect.promise(() => new Promise((done) => setTimeout(done, 100)))
    }
    return { url, port, dataDir } satisfies LocalPostgres
  })
