/**
 * Goal: refs read from their files (`internal/gitFiles.ts`, behind `GitRepo.resolveRef`) say what
 * git says — a loose ref, a packed one, a loose one that shadows its packed value, a packed-refs
 * file rewritten since it was parsed, a missing ref — and a symbolic ref is left to isomorphic-git.
 * Method: a temporary repository, changed with the git CLI between reads.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as GitFiles from "../src/internal/gitFiles.ts"
import * as fs from "node:fs"
import * as path from "node:path"
import { execFileSync } from "node:child_process"
import * as GitRepo from "../src/internal/gitRepo.ts"
import { commitOnBranch, git, gitdir, isolateGit } from "./fixtures/gitdir.ts"

isolateGit()

describe("refs read from their files", () => {
  it.live("loose, packed, shadowed, repacked, missing; a symbolic ref through isomorphic-git", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const commonDir = `${temp.repo}/.git`
      const rev = (ref: string) => git(temp.repo, ["rev-parse", ref]).trim()
      const first = rev("main")
      assert.strictEqual(GitFiles.readRefDirectly(commonDir, "refs/heads/main"), first)
      git(temp.repo, ["branch", "side"])
      git(temp.repo, ["pack-refs", "--all"])
      assert.strictEqual(GitFiles.readRefDirectly(commonDir, "refs/heads/side"), first)
      // A loose ref written after packing shadows the packed value, as in git.
      const second = commitOnBranch(temp.repo, "side", { "b.txt": "b\n" })
      assert.strictEqual(GitFiles.readRefDirectly(commonDir, "refs/heads/side"), second)
      git(temp.repo, ["pack-refs", "--all"])
      assert.strictEqual(GitFiles.readRefDirectly(commonDir, "refs/heads/side"), second)
      // Deleted: gone from packed-refs too (git rewrote it; the parsed copy is not reused).
      git(temp.repo, ["update-ref", "-d", "refs/heads/side"])
      assert.isUndefined(GitFiles.readRefDirectly(commonDir, "refs/heads/side"))
      assert.isUndefined(yield* GitRepo.resolveRef(commonDir, "refs/heads/side"))
      assert.isUndefined(GitFiles.readRefDirectly(commonDir, "refs/heads/main/deeper"))
      // Symbolic: not read here; resolveRef follows it as git does.
      git(temp.repo, ["symbolic-ref", "refs/heads/alias", "refs/heads/main"])
      assert.isNull(GitFiles.readRefDirectly(commonDir, "refs/heads/alias"))
      assert.strictEqual(yield* GitRepo.resolveRef(commonDir, "refs/heads/alias"), rev("main"))
      assert.isNull(GitFiles.readRefDirectly(commonDir, "refs/heads/../../config"))
    }))

  it.live("small files: read when regular; a FIFO, a folder or nothing reads as absent, without blocking", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const dir = path.join(temp.repo, "probe")
      fs.mkdirSync(dir)
      fs.writeFileSync(path.join(dir, "HEAD"), "ref: refs/heads/main\n")
      assert.strictEqual(GitFiles.readSmallFile(path.join(dir, "HEAD")), "ref: refs/heads/main\n")
      execFileSync("mkfifo", [path.join(dir, "fifo")])
      assert.isUndefined(GitFiles.readSmallFile(path.join(dir, "fifo")))
      assert.isUndefined(GitFiles.readSmallFile(dir))
      assert.isUndefined(GitFiles.readSmallFile(path.join(dir, "missing")))
      assert.isUndefined(GitFiles.readSmallFile(path.join(dir, "HEAD", "deeper")))
      fs.writeFileSync(path.join(dir, "big"), "x".repeat(200 * 1024))
      assert.strictEqual(GitFiles.readSmallFile(path.join(dir, "big"))!.length, 64 * 1024)
      fs.writeFileSync(path.join(dir, "empty"), "")
      assert.strictEqual(GitFiles.readSmallFile(path.join(dir, "empty")), "")
      fs.writeFileSync(path.join(dir, "exact"), "y".repeat(64 * 1024 - 1))
      assert.strictEqual(GitFiles.readSmallFile(path.join(dir, "exact")), "y".repeat(64 * 1024 - 1))
    }))
})
