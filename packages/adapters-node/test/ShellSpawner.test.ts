/**
 * Goal: the shell that starts git (`internal/shellSpawner.ts`) runs exactly the program and words
 * it was given, whatever they hold, in the folder and environment given, feeds its stdin and hands
 * back its output and status; it reports a folder that is gone, a kill and a shell that died; it
 * leaves to the spawning helper what it cannot run as Node would; and it goes away with its process.
 * Method: real processes. Words that would mean something to a shell (quotes, `$`, newlines,
 * globs, a leading `-`) are echoed back byte for byte by a program that prints its argv.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ShellSpawner from "../src/internal/shellSpawner.ts"
import type * as SpawnHelper from "../src/internal/spawnHelper.ts"
import { alive, until } from "./fixtures/processes.ts"

const scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-shell-spawner-")))
const bin = path.join(scratch, "bin")
fs.mkdirSync(bin)
const env = { PATH: `${bin}:/usr/bin:/bin` }
/** Prints each argument followed by a NUL, then `cwd=…`, its stdin, and VAR's value, on stdout. */
fs.writeFileSync(path.join(bin, "argv"), `#!/bin/sh
for a in "$@"; do printf '%s\\0' "$a"; done
printf 'cwd=%s\\0' "$(pwd -P)"
printf 'in=%s\\0' "$(cat)"
printf 'var=%s\\0' "$VAR"
echo "to stderr" >&2
exit 7
`, { mode: 0o755 })
fs.writeFileSync(path.join(bin, "echo"), `#!/bin/sh\nprintf 'the echo on PATH:%s' "$*"\n`, { mode: 0o755 })

const run = (request: Partial<SpawnHelper.SpawnRequest> & { readonly command: string }) =>
  new Promise<SpawnHelper.SpawnResult>((done, fail) => {
    const started = ShellSpawner.run({ args: [], cwd: scratch, env, ...request }, done)
    if (started === undefined) fail(new Error("the shell did not take the request"))
  })

const decoded = (result: SpawnHelper.SpawnResult) => {
  assert.strictEqual(result._tag, "Exited", result._tag === "NotStarted" ? result.message : "")
  return result._tag === "Exited" ? { ...result, stdout: new TextDecoder().decode(result.stdout), stderr: new TextDecoder().decode(result.stderr) } : assert.fail()
}

/** This process's folder for the commands' files (one per process, made on first use). */
const ownFolder = () => {
  const parent = process.env["XDG_RUNTIME_DIR"] !== undefined && fs.existsSync(process.env["XDG_RUNTIME_DIR"])
    ? path.join(process.env["XDG_RUNTIME_DIR"], "oompa")
    : path.join(os.homedir(), ".cache", "oompa")
  const folders = fs.readdirSync(parent).filter((name) => name.startsWith(`sh-${process.pid}-`))
  assert.strictEqual(folders.length, 1, folders.join(", "))
  return path.join(parent, folders[0]!)
}

const hostileWords = [
  "it's", "'", "''\\''", "\"$HOME\"", "$(touch pwned)", "`touch pwned`", "a\nb", "line\n", "\\", "\\'", "*", "-n", "--", "",
  " spaced  out ", "${PATH}", "; touch pwned #", "|| touch pwned", "é ✓ \u{1F600}", "\t", "!", "~", "\r"
]

describe("the shell that starts git", () => {
  it("runs the program with exactly the words given (quotes, $, newlines, globs: none is interpreted), in its folder, with its stdin and variables", async () => {
    const folder = path.join(scratch, "it's a $folder\nwith `odd` name")
    fs.mkdirSync(folder)
    const result = decoded(await run({ command: "argv", args: hostileWords, cwd: folder, stdin: new TextEncoder().encode("fed\nin"), extraEnv: { VAR: "v'a$l\nue" } }))
    assert.deepStrictEqual(result.stdout.split("\0").slice(0, -1), [...hostileWords, `cwd=${folder}`, "in=fed\nin", "var=v'a$l\nue"])
    assert.strictEqual(result.code, 7)
    assert.strictEqual(result.signal, null)
    assert.strictEqual(result.stderr, "to stderr\n")
    assert.isFalse(fs.existsSync(path.join(folder, "pwned")), "a word was run as a command")
    assert.isFalse(fs.existsSync(path.join(scratch, "pwned")), "a word was run as a command")
  })

  it("runs the program found on PATH, never a shell builtin of that name", async () => {
    assert.strictEqual(decoded(await run({ command: "echo", args: ["a\\nb"] })).stdout, "the echo on PATH:a\\nb")
  })

  it("many commands at once each get their own output and status", async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => run({ command: "sh", args: ["-c", `printf %s ${i}; exit $((${i} % 5))`] })))
    results.forEach((result, i) => {
      const { stdout, code } = decoded(result)
      assert.strictEqual(stdout, String(i))
      assert.strictEqual(code, i % 5)
    })
  })

  it("a folder that is gone: NotStarted with ENOENT, as Node's spawn says it", async () => {
    const result = await run({ command: "argv", cwd: path.join(scratch, "gone") })
    assert.strictEqual(result._tag, "NotStarted")
    assert.strictEqual(result._tag === "NotStarted" ? result.code : undefined, "ENOENT")
  })

  it("what it cannot run as Node would is left to the caller: a NUL, a relative folder, a relative PATH entry, a program not on PATH, a variable that is no shell name", () => {
    const done = () => assert.fail("no command should have run")
    for (const request of [
      { command: "argv", args: ["a\0b"], cwd: scratch, env },
      { command: "argv", args: [], cwd: "relative", env },
      { command: "argv", args: [], cwd: scratch, env: { PATH: `.:${bin}` } },
      { command: "no-such-program", args: [], cwd: scratch, env },
      { command: "./argv", args: [], cwd: bin, env },
      { command: "argv", args: [], cwd: scratch, env, extraEnv: { "A-B": "1" } }
    ]) assert.isUndefined(ShellSpawner.run(request, done), JSON.stringify(request))
  })

  it("a kill reports the signal sent; a status of 128 + n that was not a kill stays an exit code", async () => {
    const killed = new Promise<SpawnHelper.SpawnResult>((done) => {
      const started = ShellSpawner.run({ command: "sleep", args: ["30"], cwd: scratch, env }, done)!
      // At once (before the shell has said its pid) and again later: both reach it.
      started.kill("SIGTERM")
      setTimeout(() => started.kill("SIGTERM"), 100)
    })
    const result = decoded(await killed)
    assert.strictEqual(result.signal, "SIGTERM")
    assert.strictEqual(result.code, null)
    const exited = decoded(await run({ command: "sh", args: ["-c", "exit 143"] }))
    assert.strictEqual(exited.code, 143)
    assert.strictEqual(exited.signal, null)
  })

  it("keeps its files in a folder of its own (0700) outside the temporary folder, and leaves none behind", async () => {
    await run({ command: "argv", stdin: new Uint8Array([1, 2, 3]) })
    const folder = ownFolder()
    assert.isFalse(folder.startsWith(os.tmpdir()), folder)
    assert.deepStrictEqual(fs.readdirSync(folder), [])
    assert.strictEqual(fs.statSync(folder).mode & 0o777, 0o700)
  })

  it("files planted where its next commands' input and output go (links to a file elsewhere) are never written through, nor read", async () => {
    await run({ command: "true" })
    const folder = ownFolder()
    const target = path.join(scratch, "target")
    fs.writeFileSync(target, "untouched")
    for (let id = 0; id < 2_000; id++) for (const kind of ["in", "out", "err"]) fs.symlinkSync(target, path.join(folder, `${id}.${kind}`))
    try {
      const withInput = await run({ command: "argv", stdin: new TextEncoder().encode("secret") })
      assert.strictEqual(withInput._tag, "NotStarted")
      const withoutInput = await run({ command: "argv" })
      assert.strictEqual(withoutInput._tag, "NotStarted")
      assert.strictEqual(fs.readFileSync(target, "utf8"), "untouched")
    } finally {
      for (const name of fs.readdirSync(folder)) fs.rmSync(path.join(folder, name))
    }
  })

  it("oompa's process marks reach the command, not the shell (recovery waits for a dead run's git, and would kill the shell's group); ended subshells are collected", async () => {
    const marked = { ...env, OOMPA_ORCHESTRATOR_PID: "12345", OOMPA_REPO: "/some/repo" }
    const result = decoded(await run({ command: "sh", args: ["-c", `printf '%s|%s|%s' "$OOMPA_ORCHESTRATOR_PID" "$OOMPA_REPO" "$PPID"`], env: marked }))
    const [pid, repo, subshell] = result.stdout.split("|")
    assert.deepStrictEqual([pid, repo], ["12345", "/some/repo"])
    const shell = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${subshell}/status`, "utf8"))![1])
    assert.notInclude(fs.readFileSync(`/proc/${shell}/environ`, "utf8"), "OOMPA_")
    await Promise.all(Array.from({ length: 100 }, () => run({ command: "true", env: marked })))
    await run({ command: "true", env: marked })
    const children = fs.readFileSync(`/proc/${shell}/task/${shell}/children`, "utf8").trim().split(" ").filter(Boolean)
    assert.isBelow(children.length, 10, `the shell still has ${children.length} children after 101 commands`)
  })

  it("an environment the shell would change, or a line too long for it, is left to the helper", () => {
    const done = () => assert.fail("no command should have run")
    for (const request of [
      { command: "argv", args: [], cwd: scratch, env: { ...env, "NOT-A-NAME": "1" } },
      { command: "argv", args: [], cwd: scratch, env: { ...env, SHELLOPTS: "xtrace" } },
      { command: "argv", args: [], cwd: scratch, env, extraEnv: { BASHOPTS: "x" } },
      { command: "argv", args: ["x".repeat(70_000)], cwd: scratch, env }
    ]) assert.isUndefined(ShellSpawner.run(request, done), JSON.stringify(request).slice(0, 200))
  })

  it("a shell that dies: a command it had started still says how it ended, the next command starts another shell; SIGTERM to the shell (a group's stop) does not stop it", async () => {
    const ownEnv = { ...env }
    const pidFile = path.join(scratch, "sleeping")
    const held = run({ command: "sh", args: ["-c", `echo $PPID $$ > '${pidFile}'; exec sleep 30`], env: ownEnv })
    await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n"))
    // The command's parent is the subshell; the subshell's parent is the shell.
    const [subshell, command] = fs.readFileSync(pidFile, "utf8").trim().split(" ").map(Number)
    const shell = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${subshell}/status`, "utf8"))![1])
    process.kill(shell, "SIGTERM")
    assert.strictEqual(decoded(await run({ command: "argv", env: ownEnv })).code, 7)
    assert.isTrue(alive(shell), "SIGTERM stopped the shell")
    // A command sent at once may reach the dead shell (its exit not seen yet): it never started
    // there, and runs in a new shell once the dead one's last command has ended.
    process.kill(shell, "SIGKILL")
    const next = run({ command: "argv", env: ownEnv })
    // Reaped (not a zombie any more): this process has seen its exit, so the next command starts a new shell at once.
    await until(() => !alive(shell))
    assert.strictEqual(decoded(await run({ command: "argv", env: ownEnv })).code, 7)
    process.kill(command!, "SIGTERM")
    const result = decoded(await held)
    assert.strictEqual(result.code, 143)
    assert.strictEqual(decoded(await next).code, 7)
  })

  it("a process killed with SIGKILL leaves no shell behind", async () => {
    const module = path.resolve(import.meta.dirname, "../src/internal/shellSpawner.ts")
    const standIn = spawn(process.execPath, ["--input-type=module", "-e", `
      const ShellSpawner = await import(${JSON.stringify(module)})
      ShellSpawner.run({ command: "sh", args: ["-c", "echo $PPID; exec sleep 30"], cwd: "/", env: { PATH: process.env.PATH } }, () => {})
      setInterval(() => {}, 1000)
    `], { stdio: ["ignore", "pipe", "inherit"] })
    const shellPid = await new Promise<number>((done) => {
      const poll = setInterval(() => {
        const children = fs.readFileSync(`/proc/${standIn.pid}/task/${standIn.pid}/children`, "utf8").trim()
        if (children !== "") {
          clearInterval(poll)
          done(Number(children.split(" ")[0]))
        }
      }, 20)
    })
    assert.isTrue(alive(shellPid))
    standIn.kill("SIGKILL")
    await until(() => !alive(shellPid))
  }, 20_000)
})
