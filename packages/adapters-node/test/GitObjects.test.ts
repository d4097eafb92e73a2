/**
 * Goal: a commit oompa writes in-process (`internal/gitObjects.ts`) is byte for byte the commit `git
 * commit-tree` writes — same identity, same date format, same message bytes, so the same sha — and
 * git reads it back as a sound object; where writing it here could differ (a configured commit
 * encoding, dates fixed in the environment, SHA-256 objects) `git commit-tree` is used instead.
 * Method: a temporary repository; the in-process commit at a given instant against `git
 * commit-tree` with `GIT_AUTHOR_DATE`/`GIT_COMMITTER_DATE` set to that instant; `git fsck`.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as GitObjects from "../src/internal/gitObjects.ts"
import * as GitRepo from "../src/internal/gitRepo.ts"
import { commitOnBranch, git, gitdir, isolateGit } from "./fixtures/gitdir.ts"

isolateGit()

const openRepo = (repo: string, worktrees: string) => GitRepo.open({ repoRoot: repo, worktreesDir: worktrees, runId: "0badc0de" })

describe("commits written in-process", () => {
  it.live("are the commits git commit-tree writes: same bytes, same sha, sound objects", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      git(temp.repo, ["config", "user.name", "Ada Lovelace"])
      git(temp.repo, ["config", "user.email", "ada@example.com"])
      const repo = yield* openRepo(temp.repo, temp.worktrees)
      assert.deepStrictEqual(repo.identity, { author: "Ada Lovelace <ada@example.com>", committer: "Ada Lovelace <ada@example.com>" })
      const head = git(temp.repo, ["rev-parse", "HEAD"]).trim()
      const other = commitOnBranch(temp.repo, "main", { "b.txt": "b\n" })
      const tree = git(temp.repo, ["rev-parse", "HEAD^{tree}"]).trim()
      const message = "w0: task (propose)\n\nOompa-Run: 0badc0de\nünïcode ✓\n"
      const now = new Date(Math.floor(Date.now() / 1000) * 1000)
      const text = GitObjects.commitText({ tree, parents: [head, other], identity: repo.identity!, message, now })
      const sha = GitObjects.writeLooseObject(`${repo.commonDir}/objects`, "commit", Buffer.from(text))
      const seconds = String(now.getTime() / 1000)
      const zone = text.match(/ ([+-]\d{4})\n/)![1]!
      // git commit-tree with the same instant: the environment below only fixes its clock.
      const fixed = (() => {
        const saved = { a: process.env["GIT_AUTHOR_DATE"], c: process.env["GIT_COMMITTER_DATE"] }
        process.env["GIT_AUTHOR_DATE"] = `@${seconds} ${zone}`
        process.env["GIT_COMMITTER_DATE"] = `@${seconds} ${zone}`
        try {
          // As the layer runs git: the repository's identity, not the fixtures' environment.
          return execFileSync("git", ["commit-tree", tree, "-p", head, "-p", other], { cwd: temp.repo, input: message, encoding: "utf8" }).trim()
        } finally {
          for (const [key, value] of [["GIT_AUTHOR_DATE", saved.a], ["GIT_COMMITTER_DATE", saved.c]] as const) {
            if (value === undefined) delete process.env[key]
            else process.env[key] = value
          }
        }
      })()
      assert.strictEqual(sha, fixed)
      assert.strictEqual(git(temp.repo, ["cat-file", "commit", sha]), text)
      assert.strictEqual(git(temp.repo, ["cat-file", "-t", sha]).trim(), "commit")
      git(temp.repo, ["fsck", "--strict", "--no-dangling"])
      // Writing it again leaves the object as it is; no temporary file stays behind.
      assert.strictEqual(GitObjects.writeLooseObject(`${repo.commonDir}/objects`, "commit", Buffer.from(text)), sha)
      assert.deepStrictEqual(fs.readdirSync(`${repo.commonDir}/objects/${sha.slice(0, 2)}`).filter((name) => name.startsWith("tmp_obj_")), [])
      // Through the layer's entry point too.
      const viaRepo = yield* GitObjects.commitTree(repo, "test", tree, [head], "plain\n")
      assert.strictEqual(git(temp.repo, ["rev-parse", `${viaRepo}^{tree}`]).trim(), tree)
      assert.strictEqual(git(temp.repo, ["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", viaRepo]), "Ada Lovelace <ada@example.com>|Ada Lovelace <ada@example.com>|plain\n\n")
    }).pipe(Effect.provide(NodeServices.layer)))

  it.live("git commit-tree writes them when a commit encoding is configured or the dates are fixed", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      git(temp.repo, ["config", "i18n.commitEncoding", "ISO-8859-1"])
      assert.isUndefined((yield* openRepo(temp.repo, temp.worktrees)).identity)
      git(temp.repo, ["config", "--unset", "i18n.commitEncoding"])
      assert.isDefined((yield* openRepo(temp.repo, temp.worktrees)).identity)
      process.env["GIT_COMMITTER_DATE"] = "@1700000000 +0000"
      try {
        const repo = yield* openRepo(temp.repo, temp.worktrees)
        assert.isUndefined(repo.identity)
        const tree = git(temp.repo, ["rev-parse", "HEAD^{tree}"]).trim()
        const sha = yield* GitObjects.commitTree(repo, "test", tree, [], "fixed\n")
        assert.include(git(temp.repo, ["cat-file", "commit", sha]), "1700000000 +0000")
      } finally {
        delete process.env["GIT_COMMITTER_DATE"]
      }
    }).pipe(Effect.provide(NodeServices.layer)))
})
