/**
 * Goal: a run asks git about its repository once (`NodeGit.discover`): where it is and who commits,
 * in three git processes from the main worktree; recovery, the git layer and the test gate's runner
 * then open it without spawning git for that again (issue 17: four openings cost sixteen). The
 * shortcut must give what asking the long way gave: the main worktree's top level from a subfolder
 * or a linked worktree, a bare repository refused, and the identity `git var` prints under the
 * environment every later git call gets — configured, from the environment, or the fallback.
 * Method: temporary repositories; a `git` first on PATH that logs its subcommand.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Git } from "@oompa/core"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as NodeCommandRunner from "../src/NodeCommandRunner.ts"
import * as NodeGit from "../src/NodeGit.ts"
import { git, gitdir, gitStatus, isolateGit, type TempRepo } from "./fixtures/gitdir.ts"

isolateGit()

/** Runs `effect` with a logging `git` first on PATH; returns its value and the subcommands git ran. */
const counted = <A, E>(temp: TempRepo, effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const shim = path.join(temp.dir, "shim")
    const log = path.join(temp.dir, "git-calls.log")
    fs.mkdirSync(shim, { recursive: true })
    fs.rmSync(log, { force: true })
    const real = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim()
    fs.writeFileSync(path.join(shim, "git"), [
      "#!/bin/sh",
      `sub="$1"; for a in "$@"; do case "$a" in -*|*=*) ;; *) sub="$a"; break ;; esac; done`,
      `printf "%s\\n" "$sub" >> '${log}'`,
      `exec "${real}" "$@"`,
      ""
    ].join("\n"), { mode: 0o755 })
    const path0 = process.env["PATH"]
    process.env["PATH"] = `${shim}:${path0}`
    const value = yield* effect.pipe(Effect.ensuring(Effect.sync(() => (process.env["PATH"] = path0))))
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter((l) => l !== "") : []
    return { value, calls }
  })

/** What `git var` prints as the author under `env` (a commit's `Name <email>`). */
const authorUnder = (cwd: string, env: Readonly<Record<string, string>>): string =>
  execFileSync("git", ["var", "GIT_AUTHOR_IDENT"], { cwd, env: { ...env }, encoding: "utf8" }).trim().replace(/ \d+ [+-]\d{4}$/, "")

const withoutIdentity = <A, E, R>(effect: Effect.Effect<A, E, R>, env: Readonly<Record<string, string>> = {}) =>
  Effect.gen(function*() {
    const names = ["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"]
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]))
    for (const n of names) delete process.env[n]
    Object.assign(process.env, env)
    return yield* effect.pipe(Effect.ensuring(Effect.sync(() => {
      for (const n of names) {
        if (saved[n] === undefined) delete process.env[n]
        else process.env[n] = saved[n]
      }
    })))
  })

describe("NodeGit.discover: the repository asked about once per run", () => {
  it.live("three git processes from the main worktree; the git layer and the test gate's runner opened with it spawn no git to open", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      git(temp.repo, ["config", "user.name", "Ada Lovelace"])
      git(temp.repo, ["config", "user.email", "ada@example.com"])
      const asked = yield* counted(temp, NodeGit.discover(temp.repo))
      assert.deepStrictEqual(asked.calls, ["rev-parse", "config", "var"])
      const discovered = asked.value
      assert.strictEqual(discovered.root, fs.realpathSync(temp.repo))
      assert.strictEqual(discovered.commonDir, fs.realpathSync(path.join(temp.repo, ".git")))
      const layers = Layer.mergeAll(
        NodeGit.layer({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de", discovered }),
        NodeCommandRunner.layer({ repoRoot: temp.repo, worktreesDir: temp.worktrees, discovered })
      ).pipe(Layer.provide(NodeServices.layer))
      const opened = yield* counted(temp, Git.Git.use((g) => Effect.succeed(g.targetBranch)).pipe(Effect.provide(layers)))
      assert.strictEqual(opened.value, "main")
      assert.deepStrictEqual(opened.calls.filter((c) => ["rev-parse", "var", "config", "worktree"].includes(c)), [])
      // Without it, each layer asks again.
      const again = yield* counted(temp, Git.Git.use((g) => Effect.succeed(g.targetBranch)).pipe(Effect.provide(
        NodeGit.layer({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de" }).pipe(Layer.provide(NodeServices.layer))
      )))
      assert.deepStrictEqual(again.calls.filter((c) => ["rev-parse", "config", "var"].includes(c)), ["rev-parse", "config", "var"])
    }))

  it.live("from a subfolder or a linked worktree the root is the main worktree's top level; a bare repository is refused by name", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "src/deep/a.txt": "a\n" })
      const root = fs.realpathSync(temp.repo)
      assert.strictEqual((yield* NodeGit.discover(path.join(temp.repo, "src/deep"))).root, root)
      const linked = path.join(temp.dir, "linked")
      git(temp.repo, ["worktree", "add", "-q", "--detach", linked])
      const fromLinked = yield* NodeGit.discover(linked)
      assert.strictEqual(fromLinked.root, root)
      assert.strictEqual(fromLinked.commonDir, fs.realpathSync(path.join(temp.repo, ".git")))
      const bare = path.join(temp.dir, "bare.git")
      git(temp.dir, ["clone", "-q", "--bare", temp.repo, bare])
      const refused = yield* Effect.flip(NodeGit.discover(bare))
      assert.include(refused.message, "is a bare repository; oompa needs a checkout")
      // core.worktree (an agent can write it into the shared config) does not move the root.
      const elsewhere = path.join(temp.dir, "elsewhere")
      fs.mkdirSync(elsewhere)
      git(temp.repo, ["config", "core.worktree", elsewhere])
      assert.strictEqual((yield* NodeGit.discover(temp.repo)).root, root)
      git(temp.repo, ["config", "--unset", "core.worktree"])
      const plain = path.join(temp.dir, "plain")
      fs.mkdirSync(plain)
      const none = yield* Effect.flip(NodeGit.discover(plain))
      assert.strictEqual(none.reason, "not-a-repository")
    }))

  it.live("who commits is what git var prints under the run's environment: configured, from the environment, partly each, or the fallback", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const cases: ReadonlyArray<{ readonly config: Readonly<Record<string, string>>; readonly env: Readonly<Record<string, string>> }> = [
        { config: { "user.name": "Ada Lovelace", "user.email": "ada@example.com" }, env: {} },
        { config: {}, env: { GIT_AUTHOR_NAME: "Env Author", GIT_AUTHOR_EMAIL: "env@example.com", GIT_COMMITTER_NAME: "Env C", GIT_COMMITTER_EMAIL: "c@example.com" } },
        { config: { "user.name": "Grace Hopper" }, env: { EMAIL: "grace@example.com" } },
        { config: { "user.email": "only@example.com" }, env: {} },
        { config: {}, env: {} }
      ]
      const identities: Array<string> = []
      for (const { config, env } of cases) {
        for (const key of ["user.name", "user.email"]) gitStatus(temp.repo, ["config", "--unset-all", key])
        for (const [key, value] of Object.entries(config)) git(temp.repo, ["config", key, value])
        const discovered = yield* withoutIdentity(NodeGit.discover(temp.repo), env)
        const expected = authorUnder(temp.repo, discovered.git.env)
        assert.strictEqual(discovered.identity?.author, expected, JSON.stringify({ config, env }))
        identities.push(expected)
      }
      // What neither names is oompa's fallback: never the machine's account.
      assert.deepStrictEqual(identities, [
        "Ada Lovelace <ada@example.com>",
        "Env Author <env@example.com>",
        "Grace Hopper <grace@example.com>",
        "oompa <only@example.com>",
        "oompa <oompa@localhost>"
      ])
      // A value or subsection holding a newline or `=` does not pass for user.name or user.email.
      fs.appendFileSync(path.join(temp.repo, ".git/config"), '[user "name=evil"]\n\tx = 1\n[other]\n\tnote = "a\\nuser.email=spoof@example.com"\n')
      const spoofed = yield* withoutIdentity(NodeGit.discover(temp.repo))
      assert.strictEqual(spoofed.identity?.author, "oompa <oompa@localhost>")
    }))
})
