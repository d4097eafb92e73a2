/**
 * Goal: a remote target (`NodeGit.Options.remote`, `target.mode: "push"`, issue 20) lands on the
 * remote's branch by `git push --force-with-lease` and never overwrites a teammate's push: a landing
 * pushes main with its merged markers and the local branch and the user's checkout follow (local
 * commits the remote lacks keep the local branch where it is); a teammate's push makes the swap
 * report `false` without moving oompa's view of main until `refreshMain` shows the teammate's commit;
 * a landing whose answer was lost is not landed twice; a host refusing `refs/oompa/*` gets the push
 * without markers (one warning a run); network faults are retried, refused logins are not, and no
 * URL's userinfo reaches a message; a run whose remote refuses the login stops before anything is
 * claimed (`SetupError` `remote`, the CLI's exit 2); recovery sees a task whose push landed but
 * whose local bookkeeping never happened.
 * Method: a bare repository as the remote (a file path; an HTTP server on loopback answering 401
 * for the login) and a clone of it as the repository, with the real layer; checked with the git CLI.
 * Slow (real git).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Git, Ids, SwarmConfig } from "@oompa/core"
import { Effect, Layer, Option } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import * as DiskRecovery from "../src/DiskRecovery.ts"
import * as NodeGit from "../src/NodeGit.ts"
import * as Project from "../src/Project.ts"
import * as SwarmRun from "../src/SwarmRun.ts"
import { commitOnBranch, git as cli, gitStatus, isolateGit, makeRepo, removeRepo, type TempRepo } from "./fixtures/gitdir.ts"

isolateGit()

const w0 = Ids.WorkerId.make("w0")

/** A bare repository (`remote`) holding `files` on main, and a clone of it (`temp.repo`) with main checked out. */
const withRemote = Effect.acquireRelease(
  Effect.sync(() => {
    const origin = makeRepo({ "a.txt": "a\n" })
    const remote = path.join(origin.dir, "remote.git")
    cli(origin.dir, ["clone", "-q", "--bare", origin.repo, remote])
    const clone = path.join(origin.dir, "clone")
    cli(origin.dir, ["clone", "-q", remote, clone])
    return { temp: { dir: origin.dir, repo: clone, worktrees: path.join(origin.dir, "worktrees") } satisfies TempRepo, remote }
  }),
  ({ temp }) => Effect.sync(() => removeRepo(temp))
)

const remoteGit = (temp: TempRepo, options: Partial<NodeGit.Options> = {}, warnings: Array<string> = []) =>
  NodeGit.layer({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de", remote: "origin", onWarning: (line) => Effect.sync(() => warnings.push(line)), ...options }).pipe(
    Layer.provide(NodeServices.layer)
  )

const rev = (repo: string, ref: string): string | undefined => {
  const found = gitStatus(repo, ["rev-parse", "--verify", "-q", ref])
  return found.code === 0 ? found.stdout.trim() : undefined
}

const refsUnder = (repo: string, prefix: string): ReadonlyArray<string> =>
  cli(repo, ["for-each-ref", "--format=%(refname)", prefix]).split("\n").filter((line) => line.length > 0)

/** A change to `files` for `task`, merged onto main as oompa would (nothing moved yet). */
const prepare = (task: string, files: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const git = yield* Git.Git
    const expected = yield* git.mainHead
    const branch = `oompa/${task}`
    const workspace = yield* git.acquireWorkspace(w0)
    yield* git.resetWorkspace(workspace, branch, expected)
    for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(workspace.path, file), content)
    const head = Option.getOrThrow(yield* git.commitAll(workspace, `work on ${task}`))
    const merge = (onto: string) =>
      Effect.map(git.merge({ onto, base: expected, head, strategy: "squash", message: `Land ${task}\n\nOompa-Task: ${task}\n` }), (merged) => {
        if (merged._tag !== "Merged") throw new Error(`conflict in ${merged.files.join(", ")}`)
        return merged.sha
      })
    return { expected, next: yield* merge(expected), merge, branch }
  })

describe("NodeGit with a remote target: landing", () => {
  it.live("pushes main and the markers; the tracking ref, the local branch and the user's checkout follow, the branch is retired", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      const before = rev(remote, "refs/heads/main")
      const { branch, expected, next } = yield* Effect.gen(function*() {
        const git = yield* Git.Git
        assert.strictEqual(git.target, "remote")
        assert.strictEqual(yield* git.mainHead, before)
        const landing = yield* prepare("t1", { "a.txt": "a\nt1\n", "t1.txt": "t1\n" })
        assert.isTrue(yield* git.compareAndSwapMain(landing.expected, landing.next, ["t1"], landing.branch))
        assert.strictEqual(yield* git.mainHead, landing.next)
        return landing
      }).pipe(Effect.provide(remoteGit(temp)))
      assert.strictEqual(expected, before)
      assert.strictEqual(rev(remote, "refs/heads/main"), next)
      assert.strictEqual(rev(remote, "refs/oompa/merged/t1"), next)
      assert.strictEqual(rev(temp.repo, "refs/oompa/target/main"), next)
      assert.strictEqual(rev(temp.repo, "refs/oompa/merged/t1"), next)
      assert.strictEqual(rev(temp.repo, "refs/heads/main"), next, "the local branch follows")
      assert.isUndefined(rev(temp.repo, `refs/heads/${branch}`), "the landed branch is retired")
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "t1.txt"), "utf8"), "t1\n", "the user's checkout follows")
      assert.strictEqual(cli(temp.repo, ["status", "--porcelain"]), "")
    }))

  it.live("an agent that points origin elsewhere during the run redirects neither the push nor the fetch", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      const decoy = path.join(temp.dir, "decoy.git")
      cli(temp.dir, ["clone", "-q", "--bare", remote, decoy])
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        cli(temp.repo, ["config", "remote.origin.url", decoy])
        const landing = yield* prepare("t1", { "t1.txt": "t1\n" })
        assert.isTrue(yield* git.compareAndSwapMain(landing.expected, landing.next, ["t1"], landing.branch))
        assert.strictEqual(rev(remote, "refs/heads/main"), landing.next)
        assert.notStrictEqual(rev(decoy, "refs/heads/main"), landing.next)
        const teammate = commitOnBranch(remote, "main", { "theirs.txt": "theirs\n" }, "a teammate's push")
        assert.strictEqual(yield* git.refreshMain, teammate)
      }).pipe(Effect.provide(remoteGit(temp)))
    }))

  it.live("a worktree being added meanwhile (git's placeholder HEAD, the null id) fails a fetch for a moment: it is waited out, not reported", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        const teammate = commitOnBranch(remote, "main", { "theirs.txt": "theirs\n" }, "a teammate's push")
        // What `git worktree add` leaves between writing its administrative folder and checking out.
        const admin = path.join(temp.repo, ".git", "worktrees", "being-added")
        fs.mkdirSync(admin, { recursive: true })
        fs.writeFileSync(path.join(admin, "HEAD"), `${"0".repeat(40)}\n`)
        fs.writeFileSync(path.join(admin, "gitdir"), `${path.join(temp.dir, "being-added", ".git")}\n`)
        fs.writeFileSync(path.join(admin, "commondir"), "../..\n")
        assert.match(gitStatus(temp.repo, ["fetch", "-q", "origin"]).stderr, /bad object worktrees\/being-added\/HEAD/, "git itself fails while the placeholder is there")
        // The add completes a moment later.
        setTimeout(() => fs.writeFileSync(path.join(admin, "HEAD"), `${teammate}\n`), 300)
        assert.strictEqual(yield* git.refreshMain, teammate)
      }).pipe(Effect.provide(remoteGit(temp, { remoteRetry: { times: 4, base: "200 millis" } })))
    }))

  it.live("local commits the remote lacks keep the local branch where it is (one warning), the remote still lands", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      const mine = commitOnBranch(temp.repo, "main", { "mine.txt": "mine\n" }, "my own work")
      cli(temp.repo, ["reset", "-q", "--hard", mine])
      const warnings: Array<string> = []
      const nexts = yield* Effect.gen(function*() {
        const git = yield* Git.Git
        const landed: Array<string> = []
        for (const task of ["t1", "t2"]) {
          const landing = yield* prepare(task, { [`${task}.txt`]: `${task}\n` })
          assert.isTrue(yield* git.compareAndSwapMain(landing.expected, landing.next, [task], landing.branch))
          assert.isUndefined(rev(temp.repo, `refs/heads/${landing.branch}`), "the landed branch is retired all the same")
          landed.push(landing.next)
        }
        return landed
      }).pipe(Effect.provide(remoteGit(temp, {}, warnings)))
      assert.strictEqual(rev(remote, "refs/heads/main"), nexts[1])
      assert.strictEqual(rev(temp.repo, "refs/heads/main"), mine, "the user's commit is not moved away")
      assert.isFalse(fs.existsSync(path.join(temp.repo, "t1.txt")))
      assert.strictEqual(warnings.filter((line) => line.includes("has commits that are not on origin")).length, 1)
    }))

  it.live("a teammate's push: the swap reports false and never overwrites it; refreshMain shows it, and the rebuilt change lands on it", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        const landing = yield* prepare("t1", { "t1.txt": "t1\n" })
        const teammate = commitOnBranch(remote, "main", { "theirs.txt": "theirs\n" }, "a teammate's push")
        assert.isFalse(yield* git.compareAndSwapMain(landing.expected, landing.next, ["t1"], landing.branch))
        assert.strictEqual(rev(remote, "refs/heads/main"), teammate, "never overwritten")
        assert.isUndefined(rev(remote, "refs/oompa/merged/t1"))
        assert.strictEqual(yield* git.mainHead, landing.expected, "oompa's view of main moves with refreshMain only")
        assert.strictEqual(yield* git.refreshMain, teammate)
        assert.strictEqual(yield* git.mainHead, teammate)
        const rebuilt = yield* landing.merge(teammate)
        assert.isTrue(yield* git.compareAndSwapMain(teammate, rebuilt, ["t1"], landing.branch))
        assert.strictEqual(rev(remote, "refs/heads/main"), rebuilt)
        assert.strictEqual(cli(remote, ["show", "main:theirs.txt"]), "theirs\n")
        assert.strictEqual(cli(remote, ["show", "main:t1.txt"]), "t1\n")
        assert.strictEqual(rev(temp.repo, "refs/heads/main"), rebuilt, "the local branch follows across the teammate's commit")
      }).pipe(Effect.provide(remoteGit(temp)))
    }))

  it.live("an answer that was lost: the same swap again reports true and lands nothing twice, also under a teammate's later push", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        const landing = yield* prepare("t1", { "t1.txt": "t1\n" })
        // Pushed as oompa does, with no bookkeeping after it: the answer never arrived.
        cli(temp.repo, ["push", "-q", "--atomic", "origin", `${landing.next}:refs/heads/main`, `+${landing.next}:refs/oompa/merged/t1`])
        const count = cli(remote, ["rev-list", "--count", "main"])
        assert.isTrue(yield* git.compareAndSwapMain(landing.expected, landing.next, ["t1"], landing.branch))
        assert.strictEqual(cli(remote, ["rev-list", "--count", "main"]), count, "nothing landed twice")
        assert.strictEqual(rev(temp.repo, "refs/heads/main"), landing.next, "the bookkeeping is done")
        assert.strictEqual(rev(temp.repo, "refs/oompa/merged/t1"), landing.next)
        assert.isUndefined(rev(temp.repo, `refs/heads/${landing.branch}`))
        const teammate = commitOnBranch(remote, "main", { "theirs.txt": "theirs\n" }, "a teammate's push")
        assert.isTrue(yield* git.compareAndSwapMain(landing.expected, landing.next, ["t1"], landing.branch))
        assert.strictEqual(rev(remote, "refs/heads/main"), teammate)
        assert.strictEqual(yield* git.mainHead, landing.next, "where the queue left it: the teammate's push shows at refreshMain")
      }).pipe(Effect.provide(remoteGit(temp)))
    }))

  it.live("a host that refuses refs/oompa/*: lands without markers, warns once, and does not offer them again this run", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      const log = path.join(temp.dir, "update-hook.log")
      const hook = path.join(remote, "hooks", "update")
      fs.writeFileSync(hook, `#!/bin/sh\necho "$1" >> '${log}'\ncase "$1" in refs/oompa/*) echo "refs/oompa/* is not allowed here" >&2; exit 1;; esac\nexit 0\n`, { mode: 0o755 })
      const warnings: Array<string> = []
      const nexts = yield* Effect.gen(function*() {
        const git = yield* Git.Git
        const landed: Array<string> = []
        for (const task of ["t1", "t2"]) {
          const landing = yield* prepare(task, { [`${task}.txt`]: `${task}\n` })
          assert.isTrue(yield* git.compareAndSwapMain(landing.expected, landing.next, [task], landing.branch))
          landed.push(landing.next)
        }
        return landed
      }).pipe(Effect.provide(remoteGit(temp, {}, warnings)))
      assert.strictEqual(rev(remote, "refs/heads/main"), nexts[1])
      assert.deepStrictEqual(refsUnder(remote, "refs/oompa/"), [])
      assert.strictEqual(rev(temp.repo, "refs/oompa/merged/t1"), nexts[0], "the local markers are kept")
      assert.strictEqual(rev(temp.repo, "refs/heads/main"), nexts[1])
      const offered = fs.readFileSync(log, "utf8").split("\n").filter((line) => line.startsWith("refs/oompa/"))
      assert.deepStrictEqual(offered, ["refs/oompa/merged/t1"])
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "refused oompa's refs/oompa/merged/* markers")
    }))
})

describe("NodeGit with a remote target: main as the remote answers", () => {
  it.effect("refreshMain answers the remote's head even when an agent rewrites the tracking ref right after the fetch", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      // The agent's forgery: a commit on top of main, and a git that, as an agent looping
      // `git update-ref` would, points the tracking ref at it the moment a fetch has written it.
      const main = rev(temp.repo, "refs/heads/main")!
      const forged = cli(temp.repo, ["commit-tree", "-p", main, "-m", "forged\n\nOompa-Task: t9", `${main}^{tree}`]).trim()
      const shim = path.join(temp.dir, "shim")
      fs.mkdirSync(shim)
      const real = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim()
      fs.writeFileSync(path.join(shim, "git"), [
        "#!/bin/sh",
        `"${real}" "$@"`,
        "code=$?",
        `for a in "$@"; do case "$a" in *:${NodeGit.remoteTrackingRef("main")}) "${real}" update-ref ${NodeGit.remoteTrackingRef("main")} ${forged};; esac; done`,
        "exit $code",
        ""
      ].join("\n"), { mode: 0o755 })
      const path0 = process.env["PATH"]
      process.env["PATH"] = `${shim}:${path0}`
      const answered = yield* Effect.gen(function*() {
        const git = yield* Git.Git
        return yield* git.refreshMain
      }).pipe(Effect.provide(remoteGit(temp)), Effect.ensuring(Effect.sync(() => (process.env["PATH"] = path0))))
      assert.strictEqual(answered, rev(remote, "refs/heads/main"))
      assert.notStrictEqual(answered, forged)
    }))
})

/** An HTTP server on loopback that refuses every request with 401; counts the requests that carried no credentials. */
const refusingServer = Effect.acquireRelease(
  Effect.callback<{ readonly port: number; readonly anonymous: () => number; readonly server: http.Server }>((resume) => {
    let anonymous = 0
    const server = http.createServer((request, response) => {
      if (request.headers.authorization === undefined) anonymous++
      response.writeHead(401, { "WWW-Authenticate": "Basic realm=\"test\"" }).end("no\n")
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ port: (server.address() as { port: number }).port, anonymous: () => anonymous, server })))
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

describe("NodeGit with a remote target: failures", () => {
  it.live("an unreachable remote is retried, then fails naming it with its userinfo redacted; so does a remote lost mid-run", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      const url = "https://oompa-user:s3cret-token@127.0.0.1:1/repo.git"
      const retry = { times: 2, base: "10 millis" } as const
      const failed = yield* Effect.flip(Git.Git.use(Effect.succeed).pipe(Effect.provide(remoteGit(temp, { remote: url, remoteRetry: retry }))))
      assert.strictEqual(failed.operation, "remote")
      assert.include(failed.message, "cannot reach the remote https://***@127.0.0.1:1/repo.git (git fetch, 3 attempts)")
      assert.notInclude(failed.message, "s3cret-token")
      assert.notInclude(failed.message, "oompa-user")
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        fs.renameSync(remote, `${remote}.gone`)
        const lost = yield* Effect.flip(git.refreshMain)
        assert.include(lost.message, "cannot reach the remote origin (git ls-remote, 3 attempts)")
      }).pipe(Effect.provide(remoteGit(temp, { remoteRetry: retry })))
    }))

  it.live("a refused login is not retried and says so; a missing branch or an unknown remote name is named", () =>
    Effect.gen(function*() {
      const { temp } = yield* withRemote
      const server = yield* refusingServer
      const url = `http://oompa-user:s3cret-token@127.0.0.1:${server.port}/repo.git`
      const refused = yield* Effect.flip(Git.Git.use(Effect.succeed).pipe(Effect.provide(remoteGit(temp, { remote: url, remoteRetry: { times: 3, base: "10 millis" } }))))
      assert.include(refused.message, `authentication to the remote http://***@127.0.0.1:${server.port}/repo.git failed`)
      assert.notInclude(refused.message, "s3cret-token")
      assert.strictEqual(server.anonymous(), 1, "tried once")
      // SSH's refusal ends in the same "Could not read from remote repository" as an unreachable host: still not retried.
      const ssh = path.join(temp.dir, "fake-ssh")
      const calls = path.join(temp.dir, "ssh-calls")
      fs.writeFileSync(ssh, `#!/bin/sh\necho call >> '${calls}'\necho "git@example.invalid: Permission denied (publickey)." >&2\nexit 255\n`, { mode: 0o755 })
      process.env["GIT_SSH_COMMAND"] = ssh
      process.env["GIT_SSH_VARIANT"] = "simple"
      const sshRefused = yield* Effect.flip(Git.Git.use(Effect.succeed).pipe(Effect.provide(remoteGit(temp, { remote: "ssh://git@example.invalid/repo.git", remoteRetry: { times: 3, base: "10 millis" } }))))
        .pipe(Effect.ensuring(Effect.sync(() => {
          delete process.env["GIT_SSH_COMMAND"]
          delete process.env["GIT_SSH_VARIANT"]
        })))
      assert.include(sshRefused.message, "authentication to the remote ssh://***@example.invalid/repo.git failed")
      assert.strictEqual(fs.readFileSync(calls, "utf8"), "call\n", "tried once")
      cli(temp.repo, ["branch", "develop"])
      const missing = yield* Effect.flip(Git.Git.use(Effect.succeed).pipe(Effect.provide(remoteGit(temp, { branch: "develop" }))))
      assert.include(missing.message, "the remote origin has no branch develop")
      const unknown = yield* Effect.flip(Git.Git.use(Effect.succeed).pipe(Effect.provide(remoteGit(temp, { remote: "orign" }))))
      assert.include(unknown.message, "no git remote named orign")
    }))

  it.live("a run whose remote refuses the login stops before anything is claimed: SetupError remote (the CLI's exit 2)", () =>
    Effect.gen(function*() {
      const { temp } = yield* withRemote
      const server = yield* refusingServer
      fs.mkdirSync(path.join(temp.repo, "tasks", "pending"), { recursive: true })
      fs.writeFileSync(path.join(temp.repo, "tasks", "pending", "t1.json"), JSON.stringify({ id: "t1", summary: "Do t1" }))
      const config = SwarmConfig.makeSwarmConfig({
        workers: [],
        worktrees_dir: temp.worktrees,
        target: { remote: `http://oompa-user:s3cret-token@127.0.0.1:${server.port}/repo.git`, mode: "push" }
      })
      const failed = yield* Effect.flip(SwarmRun.run({ cwd: temp.repo, config, agent: () => "done" }).pipe(Effect.provide(NodeServices.layer)))
      assert.strictEqual(failed._tag, "SetupError")
      assert.strictEqual((failed as Project.SetupError).reason, "remote")
      assert.include(failed.message, "authentication to the remote http://***@127.0.0.1")
      assert.include(failed.message, "nothing was claimed")
      assert.notInclude(failed.message, "s3cret-token")
      assert.deepStrictEqual(fs.readdirSync(path.join(temp.repo, "tasks", "pending")), ["t1.json"])
      assert.isFalse(fs.existsSync(path.join(temp.repo, "tasks", "current", "t1.json")))
    }))
})

describe("NodeGit with a remote target: recovery", () => {
  it.live("a task whose push landed but whose local bookkeeping never happened (kill -9) is seen as landed", () =>
    Effect.gen(function*() {
      const { remote, temp } = yield* withRemote
      // What oompa's push does, and nothing after it: local main, markers and tracking ref stay behind.
      cli(temp.repo, ["branch", "oompa-landing", "main"])
      const next = commitOnBranch(temp.repo, "oompa-landing", { "t1.txt": "t1\n" }, "Land t1\n\nOompa-Task: t1\n")
      cli(temp.repo, ["branch", "-D", "oompa-landing"])
      cli(temp.repo, ["push", "-q", "--atomic", "origin", `${next}:refs/heads/main`, `+${next}:refs/oompa/merged/t1`])
      assert.notStrictEqual(rev(temp.repo, "refs/heads/main"), next)
      assert.isUndefined(rev(temp.repo, "refs/oompa/merged/t1"))
      const opened = yield* Effect.gen(function*() {
        const git = yield* Git.Git
        return { main: yield* git.mainHead, markers: yield* git.mergedMarkers }
      }).pipe(Effect.provide(remoteGit(temp)))
      assert.strictEqual(opened.main, next)
      assert.strictEqual(opened.markers.get("t1"), next)
      assert.strictEqual(rev(remote, "refs/heads/main"), next)
      // The repair a run starts with (and oompa cleanup) opens the remote too.
      fs.mkdirSync(path.join(temp.repo, "tasks", "current"), { recursive: true })
      fs.writeFileSync(path.join(temp.repo, "tasks", "current", "t1.json"), JSON.stringify({ id: "t1", summary: "Do t1" }))
      cli(temp.repo, ["update-ref", "-d", "refs/oompa/merged/t1"])
      cli(temp.repo, ["update-ref", "-d", "refs/oompa/target/main"])
      const config = SwarmConfig.makeSwarmConfig({ workers: [], worktrees_dir: temp.worktrees, target: { remote: "origin", mode: "push" } })
      const project = yield* Project.fromConfig(temp.repo, config).pipe(Effect.provide(NodeServices.layer))
      const lines = yield* DiskRecovery.repair(project).pipe(Effect.provide(NodeServices.layer))
      assert.include(lines, `task t1: current/ -> complete/ (merged in ${next.slice(0, 10)})`)
      assert.isTrue(fs.existsSync(path.join(temp.repo, "tasks", "complete", "t1.json")))
    }))
})
