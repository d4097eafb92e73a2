/**
 * Goal: the test gate runs on exactly one commit's tree in a worktree of its own that is reused;
 * tests run at once get gates of their own (`OOMPA_GATE` says which), an interrupted test gives its
 * gate back, and no gate is left once the runner's scope closes (normally or by interruption) or,
 * after a `kill -9`, once recovery ran; a command is killed with its whole process group at its
 * timeout or on interruption, even when it ignores TERM; output is capped (head and tail kept, the
 * dropped size stated) whatever its size; a background child holding the output pipe does not hold
 * the result.
 * Method: real `sh` commands in temporary repositories; the cap is also a property over random
 * chunkings. Slow (real processes).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { CommandRunner, SwarmConfig } from "@oompa/core"
import { Effect, Fiber, Layer } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as DiskRecovery from "../src/DiskRecovery.ts"
import * as NodeCommandRunner from "../src/NodeCommandRunner.ts"
import * as RunPaths from "../src/RunPaths.ts"
import { commitOnBranch, git as cli, gitdir, isolateGit, type TempRepo } from "./fixtures/gitdir.ts"

isolateGit()

const runnerLayer = (temp: TempRepo, options: Partial<NodeCommandRunner.Options> = {}) =>
  NodeCommandRunner.layer({ repoRoot: temp.repo, worktreesDir: temp.worktrees, killGraceMs: 300, ...options }).pipe(Layer.provide(NodeServices.layer))

const withRunner = <A, E>(temp: TempRepo, effect: Effect.Effect<A, E, CommandRunner.CommandRunner>, options: Partial<NodeCommandRunner.Options> = {}) =>
  effect.pipe(Effect.provide(runnerLayer(temp, options)))

/** Whether `pid` runs: a zombie (killed, waiting to be reaped by an init that may be slow) is not running. */
const isAlive = (pid: number): boolean => {
  const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, "utf8") : undefined
  if (stat !== undefined) return stat.slice(stat.lastIndexOf(")") + 2).charAt(0) !== "Z"
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// A full collection on demand (vitest's workers do not run with --expose-gc).
v8.setFlagsFromString("--expose-gc")
const collectGarbage = vm.runInNewContext("gc") as () => void

/** Waits (briefly) for a pid file a command writes. */
const readPid = (file: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100; i++) {
      if (fs.existsSync(file) && fs.readFileSync(file, "utf8").trim().length > 0) return Number(fs.readFileSync(file, "utf8").trim())
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.die(new Error(`no pid in ${file}`))
  })

/** Waits (briefly) for a file a command creates. */
const awaitFile = (file: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 250; i++) {
      if (fs.existsSync(file)) return
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.die(new Error(`no ${file}`))
  })

/** The gates left: folders under the worktrees folder, and git's registrations. */
const gatesLeft = (temp: TempRepo) => ({
  folders: (fs.existsSync(temp.worktrees) ? fs.readdirSync(temp.worktrees) : []).filter((name) => name.startsWith(".test-gate")),
  registered: cli(temp.repo, ["worktree", "list", "--porcelain"]).split("\n").filter((line) => line.startsWith("worktree ") && line.includes(".test-gate"))
})

describe("NodeCommandRunner", () => {
  it.live("inCommit runs on exactly the commit's tree, in one reused worktree; untracked leftovers go, ignored ones stay", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "first\n", ".gitignore": "cache/\n" })
      const first = cli(temp.repo, ["rev-parse", "main"]).trim()
      const second = commitOnBranch(temp.repo, "main", { "a.txt": "second\n" })
      const statusBefore = cli(temp.repo, ["status", "--porcelain"])
      yield* withRunner(temp, Effect.gen(function*() {
        const runner = yield* CommandRunner.CommandRunner
        const one = yield* runner.inCommit(first, "cat a.txt; pwd; mkdir -p cache; touch cache/kept leftover", 10_000)
        assert.isTrue(one.passed)
        const [content, dir] = one.output.split("\n")
        assert.strictEqual(content, "first")
        assert.strictEqual(path.basename(dir ?? ""), NodeCommandRunner.testWorktreeName)
        const two = yield* runner.inCommit(second, "cat a.txt; pwd; ls cache; ls leftover 2>&1 || true", 10_000)
        assert.strictEqual(two.output, `second\n${dir}\nkept\nls: cannot access 'leftover': No such file or directory\n`)
        const failing = yield* runner.inCommit(second, "echo out; echo err >&2; exit 3", 10_000)
        assert.deepStrictEqual([failing.passed, failing.timedOut, failing.output], [false, false, "out\nerr\n"])
        // The user's checkout and main are untouched.
        assert.strictEqual(cli(temp.repo, ["status", "--porcelain"]), statusBefore)
        assert.strictEqual(cli(temp.repo, ["rev-parse", "main"]).trim(), second)
      }))
    }))

  it.live("tests started at once run at the same time, each on its commit's tree in a gate of its own named by OOMPA_GATE; no gate is left after", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "first\n" })
      const first = cli(temp.repo, ["rev-parse", "main"]).trim()
      const second = commitOnBranch(temp.repo, "main", { "a.txt": "second\n" })
      const markers = path.join(temp.dir, "markers")
      fs.mkdirSync(markers)
      // Each says it started, then waits (at most 10 s) until both did: with one test at a time, the
      // first never sees the second and fails.
      const command = `cat a.txt; touch ${markers}/gate-$OOMPA_GATE; i=0; ` +
        `while [ "$(ls ${markers} | wc -l)" -lt 2 ]; do i=$((i+1)); [ $i -gt 200 ] && exit 7; sleep 0.05; done; echo "gate=$OOMPA_GATE"; pwd`
      const [one, two] = yield* withRunner(temp, CommandRunner.CommandRunner.use((runner) =>
        Effect.all([runner.inCommit(first, command, 30_000), runner.inCommit(second, command, 30_000)], { concurrency: "unbounded" })))
      assert.isTrue(one.passed, one.output)
      assert.isTrue(two.passed, two.output)
      const [content1, gate1, dir1] = one.output.trim().split("\n")
      const [content2, gate2, dir2] = two.output.trim().split("\n")
      assert.deepStrictEqual([content1, content2], ["first", "second"])
      assert.deepStrictEqual([gate1, gate2].sort(), ["gate=1", "gate=2"])
      assert.deepStrictEqual(fs.readdirSync(markers).sort(), ["gate-1", "gate-2"])
      // Each ran in the gate its number names.
      for (const [gate, dir] of [[gate1, dir1], [gate2, dir2]]) {
        assert.strictEqual(path.basename(dir ?? ""), NodeCommandRunner.gateName(Number(gate?.slice("gate=".length))))
      }
      assert.deepStrictEqual(gatesLeft(temp), { folders: [], registered: [] })
    }))

  it.live("an interrupted test gives its gate back once its process group is killed; the next test runs there", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "first\n" })
      const first = cli(temp.repo, ["rev-parse", "main"]).trim()
      const second = commitOnBranch(temp.repo, "main", { "a.txt": "second\n" })
      const pidFile = path.join(temp.dir, "child.pid")
      const gateFile = path.join(temp.dir, "gate")
      yield* withRunner(temp, Effect.gen(function*() {
        const runner = yield* CommandRunner.CommandRunner
        const fiber = yield* Effect.forkChild(runner.inCommit(first, `echo $OOMPA_GATE > ${gateFile}; sleep 30 & echo $! > ${pidFile}; wait`, 60_000))
        const pid = yield* readPid(pidFile)
        yield* Fiber.interrupt(fiber)
        assert.isFalse(isAlive(pid))
        assert.strictEqual(fs.readFileSync(gateFile, "utf8"), "1\n")
        const next = yield* runner.inCommit(second, "echo $OOMPA_GATE; cat a.txt", 10_000)
        assert.deepStrictEqual([next.passed, next.output], [true, "1\nsecond\n"])
      }))
    }))

  it.live("the gates are removed when the runner's scope is interrupted (Ctrl-C) during a test", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const sha = cli(temp.repo, ["rev-parse", "main"]).trim()
      const listing = path.join(temp.dir, "listing")
      const fiber = yield* Effect.forkChild(withRunner(temp, CommandRunner.CommandRunner.use((runner) =>
        runner.inCommit(sha, `ls -a ${temp.worktrees} > ${listing}.tmp; mv ${listing}.tmp ${listing}; sleep 30`, 60_000))))
      yield* awaitFile(listing)
      assert.include(fs.readFileSync(listing, "utf8").split("\n"), ".test-gate")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(gatesLeft(temp), { folders: [], registered: [] })
    }))

  it.live("recovery removes the gates a run killed with kill -9 left", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      fs.mkdirSync(temp.worktrees)
      // A gate worktree, and a gate folder a kill cut short before git registered it.
      cli(temp.repo, ["worktree", "add", "-q", "--detach", path.join(temp.worktrees, ".test-gate-2"), "main"])
      fs.mkdirSync(path.join(temp.worktrees, ".test-gate"))
      fs.writeFileSync(path.join(temp.worktrees, ".test-gate", "junk"), "x")
      assert.strictEqual(gatesLeft(temp).registered.length, 1)
      const project = {
        repoRoot: temp.repo,
        config: SwarmConfig.makeSwarmConfig({ workers: [], worktrees_dir: temp.worktrees }),
        configDir: temp.repo,
        configFile: undefined,
        paths: RunPaths.make(temp.repo, { tasksDir: "tasks" })
      }
      const lines = yield* DiskRecovery.repair(project).pipe(Effect.provide(NodeServices.layer))
      for (const name of [".test-gate", ".test-gate-2"]) assert.include(lines, `removed test worktree ${path.join(temp.worktrees, name)}`)
      assert.deepStrictEqual(gatesLeft(temp), { folders: [], registered: [] })
    }))

  it.live("inWorkspace runs in the given folder, without GIT_DIR", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      process.env["GIT_DIR"] = "/nonexistent"
      const result = yield* withRunner(temp, CommandRunner.CommandRunner.use((runner) =>
        runner.inWorkspace(temp.repo, "echo ${GIT_DIR:-unset}; git rev-parse --show-toplevel", 10_000))
      ).pipe(Effect.ensuring(Effect.sync(() => delete process.env["GIT_DIR"])))
      assert.deepStrictEqual(result.output, `unset\n${temp.repo}\n`)
      assert.isTrue(result.passed)
    }))

  it.live("a timeout kills the whole process group, TERM then KILL for a child that ignores TERM", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const pidFile = path.join(temp.dir, "child.pid")
      const started = performance.now()
      const result = yield* withRunner(temp, CommandRunner.CommandRunner.use((runner) =>
        runner.inWorkspace(temp.repo, `sh -c 'trap "" TERM; echo $$ > ${pidFile}; sleep 30' & trap "" TERM; echo started; wait`, 500)))
      const elapsedMs = performance.now() - started
      assert.isTrue(result.timedOut)
      assert.isFalse(result.passed)
      assert.include(result.output, "started")
      assert.include(result.output, "timed out after 500 ms")
      assert.isBelow(elapsedMs, 5_000)
      assert.isFalse(isAlive(yield* readPid(pidFile)), "the grandchild was killed")
    }))

  it.live("interrupting the caller kills the whole process group", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const pidFile = path.join(temp.dir, "child.pid")
      yield* withRunner(temp, Effect.gen(function*() {
        const runner = yield* CommandRunner.CommandRunner
        const fiber = yield* Effect.forkChild(runner.inWorkspace(temp.repo, `sleep 30 & echo $! > ${pidFile}; wait`, 60_000))
        const pid = yield* readPid(pidFile)
        assert.isTrue(isAlive(pid))
        yield* Fiber.interrupt(fiber)
        assert.isFalse(isAlive(pid))
      }))
    }))

  it.live("a background child holding the output pipe does not hold the result, and is killed", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const pidFile = path.join(temp.dir, "child.pid")
      const started = performance.now()
      const result = yield* withRunner(temp, CommandRunner.CommandRunner.use((runner) =>
        runner.inWorkspace(temp.repo, `sleep 30 & echo $! > ${pidFile}; echo done`, 60_000)))
      assert.deepStrictEqual([result.passed, result.output], [true, "done\n"])
      assert.isBelow(performance.now() - started, 10_000)
      assert.isFalse(isAlive(yield* readPid(pidFile)))
    }))

  it.live("50 MB of output is capped: head and tail kept, the dropped size stated, memory bounded", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const { result, before } = yield* withRunner(temp, CommandRunner.CommandRunner.use((runner) =>
        Effect.gen(function*() {
          // Warmed up first, so that what is measured is the 50 MB run alone.
          yield* runner.inWorkspace(temp.repo, "head -c 100000 /dev/zero | tr '\\0' x", 60_000)
          collectGarbage()
          const before = process.memoryUsage()
          const result = yield* runner.inWorkspace(temp.repo, "echo BEGIN; head -c 50000000 /dev/zero | tr '\\0' x; echo; echo END", 60_000)
          return { result, before }
        })), { outputBytesMax: 1000 })
      // The stream's last buffers are released by I/O callbacks still pending when the call returns;
      // on a loaded machine (the whole suite on two cores) that takes a moment, and a single
      // measurement right away saw 5–30 MB of array buffers that were gone 300 ms later. So: collect,
      // measure, and give it up to 2 s to settle; a leak of the 50 MB would never settle.
      let after = process.memoryUsage()
      for (let settle = 0; settle < 20; settle++) {
        collectGarbage()
        after = process.memoryUsage()
        if (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers < 4 * 1024 * 1024) break
        yield* Effect.sleep("100 millis")
      }
      assert.isTrue(result.passed)
      assert.isTrue(result.output.startsWith("BEGIN\nxxx"))
      assert.isTrue(result.output.endsWith("xxx\nEND\n"))
      const total = "BEGIN\n".length + 50_000_000 + "\nEND\n".length
      assert.include(result.output, `[${total - 1000} bytes of output dropped]`)
      assert.isBelow(result.output.length, 1100)
      // What is retained after a collection: the kept head and tail, not the 50 MB.
      assert.isBelow(after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers, 4 * 1024 * 1024)
    }))

  it("CappedOutput keeps exactly the first and last bytes of any chunking and counts the rest", () =>
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), fc.nat({ max: 30 }), fc.nat({ max: 30 }), (chunks, headMax, tailMax) => {
      const capped = new NodeCommandRunner.CappedOutput(headMax, tailMax)
      const ascii = chunks.map((chunk) => chunk.map((byte) => 97 + (byte % 26)))
      for (const chunk of ascii) capped.push(chunk)
      const all = Buffer.concat(ascii).toString("latin1")
      const dropped = Math.max(0, all.length - headMax - tailMax)
      const expected = dropped === 0 ? all : `${all.slice(0, headMax)}\n… [${dropped} bytes of output dropped] …\n${all.slice(all.length - tailMax)}`
      assert.strictEqual(capped.render(), expected)
      assert.strictEqual(capped.dropped, dropped)
    })))
})
