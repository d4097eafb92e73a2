/**
 * Goal: the git runner (`internal/gitCommand.ts`, `node:child_process` directly) gives a call its
 * output and exit code, feeds its stdin, and never lets an interrupted call outlive its fiber — git
 * that ignores SIGTERM is killed after the grace period.
 * Method: the runner over a `git` on a private PATH (a shell script that records its pid and what it
 * read), interrupted while it runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as GitCommand from "../src/internal/gitCommand.ts"
import { alive } from "./fixtures/processes.ts"

const scratch = Effect.acquireRelease(
  Effect.sync(() => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-gitcommand-")))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A runner whose `git` is `script` (sh), in a bin folder of `dir`. */
const fakeGit = (dir: string, script: string) => {
  fs.mkdirSync(path.join(dir, "bin"), { recursive: true })
  fs.writeFileSync(path.join(dir, "bin", "git"), `#!/bin/sh\n${script}\n`, { mode: 0o755 })
  return GitCommand.make({ PATH: `${path.join(dir, "bin")}:/usr/bin:/bin` })
}

const waitForFile = (file: string) =>
  Effect.promise(async () => {
    while (!fs.existsSync(file) || fs.readFileSync(file, "utf8").trim() === "") await new Promise((done) => setTimeout(done, 10))
    return Number(fs.readFileSync(file, "utf8").trim())
  })

describe("the git runner", () => {
  it.live("returns git's exit code, stdout and stderr, and feeds its stdin", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* scratch
      const git = fakeGit(dir, `input=$(cat); printf 'out:%s' "$input"; printf 'err:%s' "$*" >&2; exit 3`)
      const output = yield* git.run("probe", { cwd: dir, args: ["status"], stdin: "hello" })
      assert.strictEqual(output.exitCode, 3)
      assert.strictEqual(new TextDecoder().decode(output.stdout), "out:hello")
      assert.include(output.stderr, "err:")
      assert.include(output.stderr, "status")
      // A call's own variables reach that call only, on top of the runner's environment.
      const envGit = fakeGit(path.join(dir, "env"), `printf '%s|%s' "$PATH" "$EXTRA"`)
      const withExtra = yield* envGit.run("probe", { cwd: dir, args: [], env: { EXTRA: "one" } })
      assert.match(new TextDecoder().decode(withExtra.stdout), /^.*bin.*\|one$/)
      assert.match(new TextDecoder().decode((yield* envGit.run("probe", { cwd: dir, args: [] })).stdout), /\|$/)
      const error = yield* Effect.flip(git.ok("probe", { cwd: dir, args: ["status"] }))
      assert.strictEqual(error.reason, "failed")
      assert.include(error.message, "exited with 3")
    })))

  it.live("an interrupted call is killed, even one that ignores SIGTERM, before the interruption completes", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* scratch
      const pidFile = path.join(dir, "pid")
      const git = fakeGit(dir, `trap '' TERM; echo $$ > '${pidFile}'; while :; do sleep 0.05; done`)
      const fiber = yield* Effect.forkChild(git.run("probe", { cwd: dir, args: ["status"] }))
      const pid = yield* waitForFile(pidFile)
      assert.isTrue(alive(pid))
      yield* Fiber.interrupt(fiber)
      assert.isFalse(alive(pid), "git outlived the interrupted call")
    })), 15_000)

  it.live("a cwd that is gone: not-a-repository; a git that cannot be started: spawn-failed", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* scratch
      const git = GitCommand.make({ PATH: path.join(dir, "no-bin") })
      assert.strictEqual((yield* Effect.flip(git.run("probe", { cwd: path.join(dir, "gone"), args: ["status"] }))).reason, "not-a-repository")
      assert.strictEqual((yield* Effect.flip(git.run("probe", { cwd: dir, args: ["status"] }))).reason, "spawn-failed")
    })))
})
