/**
 * Goal: `worktree.copy`/`link` (`internal/worktreeFiles.ts`) take only files git ignores, look no
 * deeper than a pattern reaches, and never place a file through a symlinked or non-folder step of
 * the worktree (a tracked symlink leading out), reporting it instead of failing the iteration.
 * Method: a real repository in a temp folder.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as WorktreeFiles from "../src/internal/worktreeFiles.ts"

const repository = () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-wtfiles-")))
  const repo = path.join(root, "repo")
  fs.mkdirSync(repo)
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: repo })
  fs.writeFileSync(path.join(repo, ".gitignore"), ".env*\nnode_modules/\nsecrets/\n")
  return { root, repo }
}

describe("worktree.copy and worktree.link", () => {
  it.effect("a top-level glob does not walk into node_modules; matches must be ignored files", () =>
    Effect.gen(function*() {
      const { repo, root } = repository()
      fs.writeFileSync(path.join(repo, ".env"), "A=1\n")
      fs.writeFileSync(path.join(repo, ".env.local"), "B=2\n")
      fs.mkdirSync(path.join(repo, "node_modules/deep/er"), { recursive: true })
      for (let i = 0; i < 12_000; i++) fs.writeFileSync(path.join(repo, "node_modules/deep/er", `f${i}.js`), "")
      fs.writeFileSync(path.join(repo, "node_modules/deep/.env.x"), "")
      const files = yield* WorktreeFiles.resolve(repo, { copy: [".env*"], link: [] })
      assert.deepStrictEqual(files.copy, [".env", ".env.local"])
      fs.writeFileSync(path.join(repo, "tracked.key"), "k\n")
      const error = yield* Effect.flip(WorktreeFiles.resolve(repo, { copy: ["*.key"], link: [] }))
      assert.include(error.message, "worktree.copy: tracked.key is not a file git ignores")
      fs.rmSync(root, { recursive: true, force: true })
    }), 60_000)

  it("a destination through a symlinked folder (or a file where a folder should be) is refused and reported; nothing lands outside", () => {
    const { repo, root } = repository()
    fs.mkdirSync(path.join(repo, "secrets"))
    fs.writeFileSync(path.join(repo, "secrets/key.pem"), "K\n")
    fs.writeFileSync(path.join(repo, ".env"), "A=1\n")
    const worktree = path.join(root, "worktree")
    const outside = path.join(root, "outside")
    fs.mkdirSync(worktree)
    fs.mkdirSync(outside)
    fs.symlinkSync(outside, path.join(worktree, "secrets"))
    const problems = WorktreeFiles.place(repo, worktree, { copy: ["secrets/key.pem", ".env"], link: [] })
    assert.strictEqual(problems.length, 1)
    assert.include(problems[0]!, "secrets is a symlink")
    assert.deepStrictEqual(fs.readdirSync(outside), [], "a file was written outside the worktree")
    assert.strictEqual(fs.readFileSync(path.join(worktree, ".env"), "utf8"), "A=1\n")
    fs.rmSync(path.join(worktree, "secrets"))
    fs.writeFileSync(path.join(worktree, "secrets"), "a file\n")
    assert.include(WorktreeFiles.place(repo, worktree, { copy: ["secrets/key.pem"], link: [] })[0]!, "secrets is not a folder")
    fs.rmSync(root, { recursive: true, force: true })
  })
})
