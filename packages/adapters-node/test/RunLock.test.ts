/**
 * Goal: one run per repository (SPEC F14): a live holder refuses a second run with an error
 * naming its pid; a dead holder's lock is taken over with a message; the lock goes when the run's
 * scope closes, and only if it is still ours. The lock lives at `.oompa/lock` of the MAIN worktree,
 * whichever folder or worktree oompa starts from (`RunPaths`).
 * Method: real lock files in temp folders; a dead pid comes from a child process that has exited;
 * `TestClock` shows the start time is read from `Clock`; real `git` builds the worktree fixture.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import { hostname } from "node:os"
import * as NodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Ids } from "@oompa/core"
import { Cause, Effect, Exit, FileSystem, Option, type Path, Scope } from "effect"
import * as RunLock from "../src/RunLock.ts"
import * as RunPaths from "../src/RunPaths.ts"

/** A pid that existed a moment ago and no longer does. */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", ""])
  assert.isNumber(child.pid)
  assert.isFalse(RunLock.isProcessAlive(child.pid))
  return child.pid
}

const inTemp = <A, E>(body: (dir: string) => Effect.Effect<A, E, FileSystem.FileSystem | Path.Path | Scope.Scope>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* body(yield* fs.makeTempDirectoryScoped({ prefix: "oompa-lock-" }))
  }).pipe(Effect.provide(NodeServices.layer))

const lockIn = (dir: string) => NodePath.join(dir, ".oompa", "lock")
const readLockFile = (path: string): RunLock.LockHolder => JSON.parse(NodeFs.readFileSync(path, "utf8")) as RunLock.LockHolder

/** Runs `acquire` in its own scope, closed when `body` ends. */
const holding = <A, E>(lockPath: string, runId: string, body: (lock: RunLock.Acquired) => Effect.Effect<A, E>) =>
  Effect.scoped(RunLock.acquire(lockPath, runId).pipe(Effect.flatMap(body))).pipe(Effect.provide(NodeServices.layer))

describe("RunLock", () => {
  it.effect("acquire writes {pid, startedAt, runId, hostname}; startedAt comes from the Clock", () =>
    inTemp((dir) =>
      holding(lockIn(dir), "0badc0de", (lock) =>
        Effect.sync(() => {
          const expected = { pid: process.pid, startedAt: "1970-01-01T00:00:00.000Z", runId: "0badc0de", hostname: hostname() }
          assert.deepStrictEqual(readLockFile(lockIn(dir)), expected)
          assert.deepStrictEqual(lock.holder, expected)
          assert.isUndefined(lock.takeover)
        }))))

  it.live("a second acquire while the holder lives fails with RunLockHeld naming its pid", () =>
    inTemp((dir) =>
      holding(lockIn(dir), "aaaaaaaa", () =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(holding(lockIn(dir), "bbbbbbbb", () => Effect.void))
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) {
            const error = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
            assert.instanceOf(error, RunLock.RunLockHeld)
            assert.strictEqual(error.holder.pid, process.pid)
            assert.include(error.message, `pid ${process.pid}`)
            assert.include(error.message, "run aaaaaaaa")
          }
          assert.strictEqual(readLockFile(lockIn(dir)).runId, "aaaaaaaa", "the holder's lock is untouched")
        }))))

  it.live("the lock is released when the scope closes, also on failure", () =>
    inTemp((dir) =>
      Effect.gen(function*() {
        yield* holding(lockIn(dir), "aaaaaaaa", () => Effect.sync(() => assert.isTrue(NodeFs.existsSync(lockIn(dir)))))
        assert.isFalse(NodeFs.existsSync(lockIn(dir)))
        const failed = yield* Effect.exit(holding(lockIn(dir), "bbbbbbbb", () => Effect.fail("the run failed")))
        assert.isTrue(Exit.isFailure(failed))
        assert.isFalse(NodeFs.existsSync(lockIn(dir)))
        assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(dir, ".oompa")), [], "no temp or aside files left")
      })))

  it.live("a dead holder's lock is taken over, with a message naming it", () =>
    inTemp((dir) =>
      Effect.gen(function*() {
        const pid = deadPid()
        NodeFs.mkdirSync(NodePath.join(dir, ".oompa"))
        NodeFs.writeFileSync(lockIn(dir), JSON.stringify({ pid, startedAt: "2020-01-01T00:00:00.000Z", runId: "deadbeef", hostname: hostname() }))
        assert.deepStrictEqual(yield* RunLock.inspect(lockIn(dir)), {
          _tag: "Held",
          holder: { pid, startedAt: "2020-01-01T00:00:00.000Z", runId: "deadbeef", hostname: hostname() },
          alive: false
        })
        yield* holding(lockIn(dir), "0badc0de", (lock) =>
          Effect.sync(() => {
            assert.include(lock.takeover ?? "", `run deadbeef (pid ${pid}`)
            assert.strictEqual(readLockFile(lockIn(dir)).runId, "0badc0de")
          }))
        assert.deepStrictEqual(yield* RunLock.inspect(lockIn(dir)), { _tag: "Free" })
      })))

  it.live("of 8 contenders for one stale lock exactly one wins; the others see it held", () =>
    inTemp((dir) =>
      Effect.gen(function*() {
        NodeFs.mkdirSync(NodePath.join(dir, ".oompa"))
        NodeFs.writeFileSync(lockIn(dir), JSON.stringify({ pid: deadPid(), startedAt: "x", runId: "deadbeef", hostname: hostname() }))
        const scope = yield* Scope.make()
        const results = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => `0000000${i}`),
          (runId) => Effect.exit(RunLock.acquire(lockIn(dir), runId).pipe(Scope.provide(scope))),
          { concurrency: "unbounded" }
        )
        const winners = results.filter(Exit.isSuccess)
        assert.strictEqual(winners.length, 1)
        assert.strictEqual(readLockFile(lockIn(dir)).runId, winners[0]?.value.holder.runId)
        for (const loser of results.filter(Exit.isFailure)) assert.match(String(loser.cause), /RunLockHeld/)
        yield* Scope.close(scope, Exit.void)
        assert.isFalse(NodeFs.existsSync(lockIn(dir)))
      }).pipe(Effect.provide(NodeServices.layer))))

  it.live("a lock from another host is never taken over (its pid cannot be checked here)", () =>
    inTemp((dir) =>
      Effect.gen(function*() {
        NodeFs.mkdirSync(NodePath.join(dir, ".oompa"))
        NodeFs.writeFileSync(lockIn(dir), JSON.stringify({ pid: deadPid(), startedAt: "x", runId: "cafecafe", hostname: `${hostname()}-elsewhere` }))
        const exit = yield* Effect.exit(holding(lockIn(dir), "0badc0de", () => Effect.void))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.match(String(exit.cause), /RunLockHeld/)
        assert.strictEqual(readLockFile(lockIn(dir)).runId, "cafecafe")
      })))

  it.live("a file at .oompa/lock that is not a lock is an error, not taken over", () =>
    inTemp((dir) =>
      Effect.gen(function*() {
        NodeFs.mkdirSync(NodePath.join(dir, ".oompa"))
        NodeFs.writeFileSync(lockIn(dir), "hello")
        const exit = yield* Effect.exit(holding(lockIn(dir), "0badc0de", () => Effect.void))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.match(String(exit.cause), /RunLockError.*not an oompa lock file/s)
        assert.strictEqual(NodeFs.readFileSync(lockIn(dir), "utf8"), "hello")
      })))

  it.live("release leaves a lock that is no longer ours", () =>
    inTemp((dir) =>
      Effect.gen(function*() {
        const other = JSON.stringify({ pid: process.pid, startedAt: "x", runId: "77777777", hostname: hostname() })
        yield* holding(lockIn(dir), "0badc0de", () => Effect.sync(() => NodeFs.writeFileSync(lockIn(dir), other)))
        assert.strictEqual(NodeFs.readFileSync(lockIn(dir), "utf8"), other)
      })))
})

describe("RunPaths", () => {
  const git = (cwd: string, ...args: ReadonlyArray<string>) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", ...args], { cwd, stdio: "pipe" })

  it("lays out .oompa/, runs and tasks_dir under the root", () => {
    const paths = RunPaths.make("/repo", { tasksDir: "tasks" })
    assert.deepStrictEqual(paths, { root: "/repo", oompaDir: "/repo/.oompa", runsDir: "/repo/.oompa/runs", lockPath: "/repo/.oompa/lock", tasksDir: "/repo/tasks" })
    const runId = "0badc0de" as Ids.RunId
    assert.strictEqual(RunPaths.eventsPath(paths, runId), "/repo/.oompa/runs/0badc0de/events.jsonl")
    assert.strictEqual(RunPaths.transcriptsDir(paths, runId), "/repo/.oompa/runs/0badc0de/transcripts")
    assert.strictEqual(RunPaths.make("/repo", { tasksDir: "/elsewhere/tasks" }).tasksDir, "/elsewhere/tasks")
    assert.throws(() => RunPaths.runDir(paths, "../../x" as Ids.RunId))
  })

  it.live("the root is the main worktree's top level from a subfolder, a linked worktree or its subfolder", () =>
    inTemp((dir) =>
      Effect.gen(function*() {
        NodeFs.mkdirSync(NodePath.join(dir, "main", "src", "deep"), { recursive: true })
        const main = NodeFs.realpathSync(NodePath.join(dir, "main"))
        git(main, "init", "-q")
        NodeFs.writeFileSync(NodePath.join(main, "src", "a.txt"), "a")
        git(main, "add", ".")
        git(main, "commit", "-qm", "init")
        const linked = NodePath.join(dir, "wt", "w0")
        git(main, "worktree", "add", "-q", "-b", "oompa/w0", linked)
        for (const cwd of [main, NodePath.join(main, "src", "deep"), linked, NodePath.join(linked, "src")]) {
          assert.strictEqual(yield* RunPaths.findRepoRoot(cwd), main, `from ${cwd}`)
        }
        const paths = yield* RunPaths.fromCwd(NodePath.join(linked, "src"), { tasksDir: "tasks" })
        assert.strictEqual(paths.lockPath, NodePath.join(main, ".oompa", "lock"))
        const outside = yield* Effect.exit(RunPaths.findRepoRoot(dir))
        assert.isTrue(Exit.isFailure(outside))
      })))
})
