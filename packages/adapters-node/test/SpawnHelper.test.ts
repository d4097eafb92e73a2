/**
 * Goal: the helper that starts git for oompa (`internal/spawnHelper.ts`) survives what a run
 * survives and dies with the run: a Ctrl-C or SIGTERM to the process group does not stop it (the
 * run still needs git to clean up), a helper that dies fails only the commands it held and is
 * replaced, and a run killed with SIGKILL leaves no helper behind.
 * Method: real processes; signals sent to the helper's pid, and an orchestrator stand-in (a Node
 * process using the helper) killed with SIGKILL.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SpawnHelper from "../src/internal/spawnHelper.ts"
import { alive, until } from "./fixtures/processes.ts"

const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin" }

const run = (command: string, args: Array<string>) =>
  new Promise<SpawnHelper.SpawnResult>((done) => SpawnHelper.spawnInHelper({ command, args, cwd: process.cwd(), env }, done))

const text = (result: SpawnHelper.SpawnResult) => result._tag === "Exited" ? new TextDecoder().decode(result.stdout) : result.message

describe("the spawning helper", () => {
  it("ignores SIGINT, SIGTERM and SIGHUP: the same helper answers afterwards", async () => {
    assert.strictEqual(text(await run("echo", ["one"])), "one\n")
    const pid = SpawnHelper.helperProcessId()!
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.kill(pid, signal)
    await new Promise((done) => setTimeout(done, 100))
    assert.strictEqual(text(await run("echo", ["two"])), "two\n")
    assert.strictEqual(SpawnHelper.helperProcessId(), pid)
  })

  it("a helper that dies fails the commands it held, and the next command starts another", async () => {
    await run("true", [])
    const pid = SpawnHelper.helperProcessId()!
    const held = run("sleep", ["5"])
    process.kill(pid, "SIGKILL")
    const result = await held
    assert.strictEqual(result._tag, "NotStarted")
    assert.include(text(result), "the spawning helper stopped")
    assert.strictEqual(text(await run("echo", ["three"])), "three\n")
    assert.notStrictEqual(SpawnHelper.helperProcessId(), pid)
  })

  it("a streamed command's output waits in the pipe, not in the helper, while this process is busy", async () => {
    await run("true", [])
    const pid = SpawnHelper.helperProcessId()!
    const peak = () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024
    const before = peak()
    let received = 0
    const closed = new Promise<void>((done) =>
      SpawnHelper.streamInHelper({ command: "head", args: ["-c", String(300 << 20), "/dev/zero"], cwd: process.cwd(), env, stdin: new Uint8Array() }, {
        notStarted: (_code, message) => assert.fail(message),
        started: () => {},
        output: (_fd, chunk) => (received += chunk.length),
        dropped: () => assert.fail("nothing is dropped without keep"),
        exited: () => {},
        closed: done,
        note: () => {}
      }))
    // This thread stops reading for 3 s: the helper must not take in the 300 MB meanwhile.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3_000)
    await closed
    assert.strictEqual(received, 300 << 20)
    assert.isBelow(peak() - before, 64 << 20, `the helper's peak RSS grew from ${before >> 20} MB to ${peak() >> 20} MB`)
  }, 60_000)

  it("keep: a stream's head comes as it is printed; the bytes after it are held by the helper, and only the dropped count and the last bytes cross the channel", async () => {
    // Lines of every length in many small writes, to stdout and stderr: the helper trims at any byte.
    const script = "i=0; while [ $i -lt 20000 ]; do echo line-$i; echo err-$i >&2; i=$((i+1)); done"
    const expected = (prefix: string) => Array.from({ length: 20000 }, (_, i) => `${prefix}-${i}\n`).join("")
    for (const keep of [{ head: 1000, tail: 777 }, { head: 1, tail: 1 }, { head: 0, tail: 65_536 }, { head: 200_000, tail: 200_000 }]) {
      const streams = { 1: { kept: [] as Array<string>, dropped: 0, droppedAt: -1 }, 2: { kept: [] as Array<string>, dropped: 0, droppedAt: -1 } }
      await new Promise<void>((done) =>
        SpawnHelper.streamInHelper({ command: "sh", args: ["-c", script], cwd: process.cwd(), env, stdin: new Uint8Array(), keep }, {
          notStarted: (_code, message) => assert.fail(message),
          started: () => {},
          output: (fd, chunk) => void streams[fd].kept.push(Buffer.from(chunk).toString("latin1")),
          dropped: (fd, bytes) => {
            assert.strictEqual(streams[fd].dropped, 0, "one count a stream")
            streams[fd].dropped = bytes
            streams[fd].droppedAt = streams[fd].kept.join("").length
          },
          exited: () => {},
          closed: done,
          note: () => {}
        }))
      for (const [fd, prefix] of [[1, "line"], [2, "err"]] as const) {
        const full = expected(prefix)
        const { kept, dropped, droppedAt } = streams[fd]
        const text = kept.join("")
        const label = `fd ${fd}, keep ${JSON.stringify(keep)}`
        if (full.length <= keep.head + keep.tail) {
          assert.strictEqual(text, full, label)
          assert.strictEqual(dropped, 0, label)
          continue
        }
        assert.strictEqual(dropped, full.length - keep.head - keep.tail, label)
        assert.strictEqual(droppedAt, keep.head, label)
        assert.strictEqual(text, full.slice(0, keep.head) + full.slice(full.length - keep.tail), label)
      }
    }
  }, 60_000)

  it("keep: 300 MB printed, at most head and tail handed over; abandoning a stream whose pipes stay open still hands over the tail, then closed", async () => {
    let received = 0
    let dropped = 0
    let tail = ""
    // Prints 300 MB then its marker, then keeps its pipes open: only an abandon ends the wait.
    const script = "head -c 314572800 /dev/zero; printf 'the last words'; exec sleep 30"
    let pid = 0
    let abandon = () => {}
    const closed = new Promise<void>((done) => {
      abandon = SpawnHelper.streamInHelper({ command: "sh", args: ["-c", script], cwd: process.cwd(), env, stdin: new Uint8Array(), keep: { head: 1024, tail: 4096 } }, {
        notStarted: (_code, message) => assert.fail(message),
        started: (started) => (pid = started),
        output: (_fd, chunk) => {
          received += chunk.length
          tail = (tail + Buffer.from(chunk).toString("latin1")).slice(-64)
        },
        dropped: (_fd, bytes) => (dropped = bytes),
        exited: () => {},
        closed: done,
        note: () => {}
      }).abandon
    })
    // Wait until sh has printed everything (it sleeps then): its child \`head\` is gone.
    await until(() => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep")
      } catch {
        return false
      }
    })
    await new Promise((done) => setTimeout(done, 200))
    abandon()
    await closed
    process.kill(-pid, "SIGKILL")
    assert.strictEqual(received, 1024 + 4096)
    assert.strictEqual(dropped, 314572800 + 14 - 1024 - 4096)
    assert.isTrue(tail.endsWith("the last words"), JSON.stringify(tail))
  }, 60_000)

  it("keep: a tail written one byte at a time is handed over in 64 KiB pieces, at once (not a message a byte, which took seconds and held up git)", async () => {
    const writes = 300_000
    const script = `const fs = require("node:fs"); for (let i = 0; i < ${writes}; i++) fs.writeSync(1, "x"); fs.writeSync(1, "THE END")`
    const keep = { head: 16, tail: 200_000 }
    let dropped = -1
    let afterDropped = 0
    let text = ""
    await new Promise<void>((done) =>
      SpawnHelper.streamInHelper({ command: process.execPath, args: ["-e", script], cwd: process.cwd(), env, stdin: new Uint8Array(), keep }, {
        notStarted: (_code, message) => assert.fail(message),
        started: () => {},
        output: (_fd, chunk) => {
          if (dropped >= 0) afterDropped += 1
          text += Buffer.from(chunk).toString("latin1")
        },
        dropped: (_fd, bytes) => (dropped = bytes),
        exited: () => {},
        closed: done,
        note: () => {}
      }))
    assert.strictEqual(dropped, writes + 7 - keep.head - keep.tail)
    assert.strictEqual(text.length, keep.head + keep.tail)
    assert.isTrue(text.endsWith("xTHE END"), text.slice(-20))
    assert.isAtMost(afterDropped, Math.ceil(keep.tail / 65_536) + 1)
  }, 60_000)

  it("keep must be whole numbers, a tail of at least one byte: refused here, before it could stop the helper", () => {
    const events = { notStarted: () => {}, started: () => {}, output: () => {}, dropped: () => {}, exited: () => {}, closed: () => {}, note: () => {} }
    for (const keep of [{ head: 1, tail: 0 }, { head: -1, tail: 1 }, { head: 1, tail: Number.NaN }, { head: 0.5, tail: 1 }]) {
      assert.throws(() => SpawnHelper.streamInHelper({ command: "true", args: [], cwd: process.cwd(), env, stdin: new Uint8Array(), keep }, events), /keep must be/)
    }
  })

  it("an orchestrator killed with SIGKILL leaves no helper behind", async () => {
    const module = path.resolve(import.meta.dirname, "../src/internal/spawnHelper.ts")
    const standIn = spawn(process.execPath, ["--input-type=module", "-e", `
      const SpawnHelper = await import(${JSON.stringify(module)})
      SpawnHelper.spawnInHelper({ command: "sleep", args: ["30"], cwd: process.cwd(), env: { PATH: process.env.PATH } }, () => {})
      setTimeout(() => console.log(SpawnHelper.helperProcessId()), 200)
      setInterval(() => {}, 1000)
    `], { stdio: ["ignore", "pipe", "inherit"] })
    const helperPid = await new Promise<number>((done) => standIn.stdout.once("data", (chunk: Buffer) => done(Number(chunk.toString().trim()))))
    assert.isTrue(alive(helperPid))
    standIn.kill("SIGKILL")
    await until(() => !alive(helperPid))
  }, 20_000)
})
