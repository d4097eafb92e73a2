/**
 * Goal: a cluster runner gives each run a clone of its own (`runClones`), and removes the clones of
 * finished runs — with the worktrees a killed runner left in them — while keeping those of runs
 * still going. Method: a real repository as the runner's clone of the hub; worktrees made by git.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as RunClones from "../src/cluster/runClones.ts"
import * as GitRepo from "../src/internal/gitRepo.ts"

const git = (cwd: string, ...args: ReadonlyArray<string>) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd, encoding: "utf8" }).trim()

describe("a runner's clone per run", () => {
  it.effect("each run its own clone of the runner's; a finished run's goes with its worktrees, a running one's stays", () =>
    Effect.gen(function*() {
      const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-runclones-")))
      const runner = path.join(root, "runner")
      fs.mkdirSync(runner)
      git(runner, "init", "-q", "-b", "main")
      fs.writeFileSync(path.join(runner, "a.txt"), "a\n")
      git(runner, "add", "a.txt")
      git(runner, "commit", "-q", "-m", "a")
      const done = yield* RunClones.ensure(runner, "0000dead")
      const going = yield* RunClones.ensure(runner, "0000beef")
      assert.notStrictEqual(done, going)
      assert.strictEqual(git(done, "rev-parse", "main"), git(runner, "rev-parse", "main"))
      // Made once: a second call keeps what the run has done there.
      fs.writeFileSync(path.join(done, "b.txt"), "b\n")
      assert.strictEqual(yield* RunClones.ensure(runner, "0000dead"), done)
      assert.isTrue(fs.existsSync(path.join(done, "b.txt")))
      // A worktree a killed runner left, where runners keep them (the clone's default worktrees folder).
      const env = { XDG_CACHE_HOME: path.join(root, "cache") }
      const left = path.join(GitRepo.defaultWorktreesDir(done, env), "w0")
      git(done, "worktree", "add", "-q", "--detach", left)
      // An agent sharing the clone's .git registers a "worktree" at a folder it wants gone.
      const precious = path.join(root, "precious")
      fs.mkdirSync(precious)
      fs.writeFileSync(path.join(precious, "keep.txt"), "keep\n")
      fs.mkdirSync(path.join(done, ".git", "worktrees", "evil"), { recursive: true })
      fs.writeFileSync(path.join(done, ".git", "worktrees", "evil", "gitdir"), `${path.join(precious, ".git")}\n`)
      fs.writeFileSync(path.join(done, ".git", "worktrees", "evil", "HEAD"), `${git(done, "rev-parse", "HEAD")}\n`)
      assert.include(git(done, "worktree", "list"), precious)
      yield* RunClones.removeFinished(runner, (runId) => Effect.succeed(runId === "0000dead"), env)
      assert.isFalse(fs.existsSync(done))
      assert.isFalse(fs.existsSync(left))
      assert.isTrue(fs.existsSync(path.join(precious, "keep.txt")), "a folder the clone's git named, not oompa's, is left alone")
      assert.isTrue(fs.existsSync(path.join(going, ".git")))
      // A clone cut short is made again.
      fs.rmSync(path.join(going, ".git"), { recursive: true })
      assert.strictEqual(git(yield* RunClones.ensure(runner, "0000beef"), "rev-parse", "main"), git(runner, "rev-parse", "main"))
      fs.rmSync(root, { recursive: true, force: true })
    }))
})
