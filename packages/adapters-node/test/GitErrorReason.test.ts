/**
 * Goal: every `GitError` the Node git layer raises says why in its `reason`, so callers match on it
 * rather than on git's words: a folder that is no repository, a commit that does not exist, a lock
 * another process holds, output or a record that cannot be read, git that cannot be started.
 * A held lock is the one failure git is run again for, on a growing delay (`lockRetries`).
 * Method: git's stderr classified as plain data (samples of what git 2.39 prints under `LC_ALL=C`),
 * then the same reasons raised by the layers against temporary repositories (real git, slow: a held
 * lock is retried for about a second before it is reported).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Errors, Git, Ids } from "@oompa/core"
import { Clock, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as CheckoutSync from "../src/CheckoutSync.ts"
import * as GitCommand from "../src/internal/gitCommand.ts"
import * as GitRepo from "../src/internal/gitRepo.ts"
import * as NodeGit from "../src/NodeGit.ts"
import { git as cli, gitdir, isolateGit, type TempRepo } from "./fixtures/gitdir.ts"

isolateGit()

const missing = "0123456789abcdef0123456789abcdef01234567"

const gitLayer = (temp: Pick<TempRepo, "repo" | "worktrees">) =>
  NodeGit.layer({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de" }).pipe(Layer.provide(NodeServices.layer))

const withGit = <A, E>(temp: Pick<TempRepo, "repo" | "worktrees">, effect: Effect.Effect<A, E, Git.Git>) => effect.pipe(Effect.provide(gitLayer(temp)))

/** The reason of the `GitError` `effect` fails with. */
const reasonOf = <A, R>(effect: Effect.Effect<A, Errors.GitError, R>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.instanceOf(error, Errors.GitError)
    return error.reason
  })

/** A folder under the temporary folder that no repository contains, removed when the scope closes. */
const plainFolder = Effect.acquireRelease(
  Effect.sync(() => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-not-a-repo-")))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

describe("GitCommand.reasonOf: git's stderr, classified", () => {
  const samples: ReadonlyArray<readonly [string, Errors.GitErrorReason]> = [
    ["fatal: not a git repository (or any of the parent directories): .git\n", "not-a-repository"],
    ["fatal: not a git repository: /w/.git/worktrees/w0\n", "not-a-repository"],
    ["fatal: '/w/w0' is not a working tree\n", "not-a-repository"],
    [`fatal: Not a valid object name ${missing}^{commit}\n`, "missing-object"],
    [`fatal: Not a valid commit name ${missing}\n`, "missing-object"],
    [`fatal: bad object ${missing}\n`, "missing-object"],
    ["fatal: ambiguous argument 'nope': unknown revision or path not in the working tree.\nUse '--' to separate paths from revisions\n", "missing-object"],
    [`fatal: invalid reference: ${missing}\n`, "missing-object"],
    [`fatal: ${missing}^{commit}: not a valid SHA1\n`, "missing-object"],
    [`fatal: ${missing} is not a valid object\n`, "missing-object"],
    ["error: refs/heads/x does not point to a valid object!\n", "missing-object"],
    [`fatal: failed to unpack tree object ${missing}\n`, "missing-object"],
    [`fatal: update_ref failed for ref 'refs/heads/main': cannot lock ref 'refs/heads/main': is at ${missing} but expected 89abcdef0123456789abcdef0123456789abcdef\n`, "ref-moved"],
    ["fatal: cannot lock ref 'refs/oompa/merged/t1': reference already exists\n", "ref-moved"],
    ["fatal: cannot lock ref 'refs/heads/main': Unable to create '/r/.git/refs/heads/main.lock': File exists.\n\nAnother git process seems to be running in this repository\n", "locked"],
    ["fatal: Unable to create '/r/.git/worktrees/w0/index.lock': File exists.\n", "locked"],
    ["error: cannot lock ref 'refs/heads/x': unable to resolve reference 'refs/heads/x'\n", "locked"],
    ["fatal: cannot lock ref 'refs/heads/a/b': 'refs/heads/a' exists; cannot create 'refs/heads/a/b'\n", "failed"],
    ["error: Your local changes to the following files would be overwritten by merge:\n\ta.txt\n", "failed"],
    ["", "failed"]
  ]
  for (const [stderr, reason] of samples) {
    it(`${reason}: ${JSON.stringify(stderr.split("\n")[0])}`, () => {
      assert.strictEqual(GitCommand.reasonOf(stderr), reason)
    })
  }

  it("a failed call's GitError carries the reason of its stderr, and git's words in its message", () => {
    const error = GitCommand.failure("readCommit", { cwd: "/r", args: ["cat-file", "commit", missing] }, {
      exitCode: 128,
      stdout: new Uint8Array(),
      stderr: `fatal: Not a valid object name ${missing}\n`
    })
    assert.strictEqual(error.reason, "missing-object")
    assert.include(error.message, "Not a valid object name")
  })
})

describe("GitCommand.lockRetries: a held lock is tried again", () => {
  it.effect("8 more tries, after 25, 50, … 200 ms (TestClock), and none once the lock is gone", () =>
    Effect.gen(function*() {
      const held = { exitCode: 128, stdout: new Uint8Array(), stderr: "fatal: Unable to create '/r/.git/index.lock': File exists.\n" }
      const startedMs: Array<number> = []
      const call = (lockGoneAfter: number) =>
        Effect.gen(function*() {
          startedMs.push(yield* Clock.currentTimeMillis)
          return startedMs.length > lockGoneAfter ? { ...held, exitCode: 0, stderr: "" } : held
        }).pipe(Effect.repeat({ schedule: GitCommand.lockRetries, while: GitCommand.failedOnLock }))
      const fiber = yield* Effect.forkChild(call(Number.POSITIVE_INFINITY))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(fiber)).exitCode, 128)
      assert.deepStrictEqual(startedMs, [0, 25, 75, 150, 250, 375, 525, 700, 900])
      startedMs.length = 0
      const freed = yield* Effect.forkChild(call(2))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(freed)).exitCode, 0)
      assert.deepStrictEqual(startedMs, [1000, 1025, 1075])
    }))
})

describe("GitRepo: in-process failures", () => {
  it("isomorphic-git's NotFoundError is a missing object, its other errors an unreadable repository, an errno a failure", () => {
    assert.strictEqual(GitRepo.reasonOfCause({ code: "NotFoundError" }), "missing-object")
    assert.strictEqual(GitRepo.reasonOfCause({ code: "ObjectTypeError" }), "unreadable")
    assert.strictEqual(GitRepo.reasonOfCause({ code: "InternalError" }), "unreadable")
    assert.strictEqual(GitRepo.reasonOfCause({ code: "EACCES" }), "failed")
    assert.strictEqual(GitRepo.reasonOfCause(new Error("boom")), "failed")
  })

  it.effect("output a parser does not understand is unreadable", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* reasonOf(GitRepo.parse("diffStat", () => { throw new Error("unexpected field") })), "unreadable")
    }))
})

describe("NodeGit: the reasons a real repository gives", () => {
  it.live("a folder that is no repository: not-a-repository, when the layer opens it and when git is run there", () =>
    Effect.gen(function*() {
      const dir = yield* plainFolder
      assert.strictEqual(yield* reasonOf(withGit({ repo: dir, worktrees: path.join(dir, "worktrees") }, Git.Git.use(Effect.succeed))), "not-a-repository")
      const runner = GitCommand.make(GitCommand.environment(process.env, { name: true, email: true }))
      assert.strictEqual(yield* reasonOf(runner.ok("probe", { cwd: dir, args: ["rev-parse", "HEAD"] })), "not-a-repository")
      // A folder that is gone is no repository either (the spawner refuses the cwd before git starts).
      assert.strictEqual(yield* reasonOf(runner.ok("probe", { cwd: path.join(dir, "gone"), args: ["status"] })), "not-a-repository")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("git that cannot be started: spawn-failed", () =>
    Effect.gen(function*() {
      const dir = yield* plainFolder
      const runner = GitCommand.make({ PATH: path.join(dir, "no-bin") })
      assert.strictEqual(yield* reasonOf(runner.ok("probe", { cwd: dir, args: ["--version"] })), "spawn-failed")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("a commit that does not exist: missing-object, read in-process or by git", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const head = cli(temp.repo, ["rev-parse", "HEAD"]).trim()
      const reasons = yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        return [
          yield* reasonOf(git.readCommit(missing)),
          yield* reasonOf(git.isAncestor(missing, head)),
          yield* reasonOf(git.diffStat(missing, head)),
          yield* reasonOf(git.setBranch("feature", missing)),
          yield* reasonOf(git.merge({ base: missing, head, onto: head, message: "m", strategy: "squash" }))
        ]
      }))
      assert.deepStrictEqual(reasons, ["missing-object", "missing-object", "missing-object", "missing-object", "missing-object"])
    }))

  it.live("a ref lock another process holds (refs/heads/<branch>.lock, refs/heads/main.lock): locked, once the retries are spent", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const head = cli(temp.repo, ["rev-parse", "HEAD"]).trim()
      const next = cli(temp.repo, ["commit-tree", `${head}^{tree}`, "-p", head, "-m", "next"]).trim()
      const heads = path.join(temp.repo, ".git/refs/heads")
      fs.writeFileSync(path.join(heads, "feature.lock"), "")
      fs.writeFileSync(path.join(heads, "main.lock"), "")
      const [branch, main] = yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        return [yield* reasonOf(git.setBranch("feature", head)), yield* reasonOf(git.compareAndSwapMain(head, next))] as const
      }))
      assert.strictEqual(branch, "locked")
      assert.strictEqual(main, "locked")
      // Nothing moved: git takes the lock before it changes anything.
      assert.strictEqual(cli(temp.repo, ["rev-parse", "refs/heads/main"]).trim(), head)
    }))

  it.live("a workspace's held index.lock: commitAll fails with locked; the next reset clears the stale lock", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const reason = yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const workspace = yield* git.acquireWorkspace(Ids.WorkerId.make("w0"))
        yield* git.resetWorkspace(workspace, "oompa/t/w0-1", yield* git.mainHead)
        fs.writeFileSync(path.join(workspace.path, "b.txt"), "b\n")
        const adminDir = cli(workspace.path, ["rev-parse", "--absolute-git-dir"]).trim()
        fs.writeFileSync(path.join(adminDir, "index.lock"), "")
        const reason = yield* reasonOf(git.commitAll(workspace, "add b"))
        yield* git.resetWorkspace(workspace, "oompa/t/w0-1", yield* git.mainHead)
        assert.isFalse(fs.existsSync(path.join(adminDir, "index.lock")))
        return reason
      }))
      assert.strictEqual(reason, "locked")
    }))

  it.live("a checkout-sync record that is not JSON: unreadable", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      fs.mkdirSync(path.join(temp.repo, ".oompa"), { recursive: true })
      fs.writeFileSync(path.join(temp.repo, CheckoutSync.recordFile), "{ not json")
      const reason = yield* reasonOf(Effect.flatMap(GitRepo.open({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de", exclude: false }), CheckoutSync.recover))
      assert.strictEqual(reason, "unreadable")
    }).pipe(Effect.provide(NodeServices.layer)))
})
