/**
 * A remote target end to end (issue 20, "Remote target (push mode)" and the first bullet of "What
 * must be shown"): the built CLI against a real git server on loopback, `git daemon` serving bare
 * repositories over `git://127.0.0.1:<port>/<name>.git` (receive-pack enabled), each made from a
 * scratch repository's initial main and added to it as `origin`; `target: {mode: "push", remote:
 * "origin"}` in oompa.json.
 *
 * - A swarm of three executors over five tasks lands every task on the remote's main (checked in
 *   the bare repository itself), with the markers `refs/oompa/merged/<task>` pushed beside it; the
 *   local main, oompa's ref of the remote and the user's checkout follow; nothing is left behind.
 * - The forced race: the test command's first run (a candidate under test) has a teammate push a
 *   commit to the remote from a clone of its own. The teammate's commit is never overwritten (it is
 *   on the remote's first-parent chain), the run log has a `TargetMoved` to it, the candidate tested
 *   before the push never lands, and every commit oompa put on the remote passed a test.
 * - kill -9 after the push and before the bookkeeping: a `post-receive` hook of the bare remote
 *   (which runs once the refs moved, while `git push` still waits for the server) SIGKILLs the oompa
 *   process on the first push. The task it pushed is still claimed locally; `oompa cleanup`, then
 *   the next swarm (or the next swarm's own start) fetch first and complete it, once: its trailer
 *   appears once on the remote's first-parent chain, its agent is not called again, and every other
 *   task lands. (Not `git log main | grep -c`: a no-ff landing merges a reviewed copy of the work
 *   that carries the same trailers, so the whole history has each task's trailer twice.)
 * - An unreachable remote (`--remote git://127.0.0.1:<closed port>/…`): exit 2 after the retries
 *   (the CLI cannot shorten them: about 7.5 s), the remote named on stderr, nothing claimed, no
 *   agent called, no lock left.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cleanupAll, fakeCalls, git, leftovers, oompa, oompaAsync, runIds, type Scratch, scratchRepo, show, tasksIn } from "../cli/helpers.ts"
import { freePort, type GitDaemon, startGitDaemon } from "./gitDaemon.ts"
import { calledPids, checkoutState, fsck, gitCommandsOf, landedTasks, type LoggedEvent, loggedEvents, sleep, waitDead } from "./support.ts"

const workers = [{ model: "claude:opus", role: "executor", count: 3, iterations: 10 }]
const reviewer = "codex:gpt-5-codex"
const target = { mode: "push", remote: "origin" }

let base = ""
let port = 0
let daemon: GitDaemon | undefined

beforeAll(async () => {
  daemon = await startGitDaemon()
  base = daemon.base
  port = daemon.port
})

afterAll(() => {
  daemon?.stop()
  cleanupAll()
})

/** A bare repository `<name>.git` served by the daemon, made from the scratch repository's main, and added to it as `origin`. */
const serve = (scratch: Scratch, name: string) => {
  const bare = path.join(base, `${name}.git`)
  git(base, "clone", "-q", "--bare", scratch.repo, bare)
  const url = `git://127.0.0.1:${port}/${name}.git`
  git(scratch.repo, "remote", "add", "origin", url)
  return { bare, url, initial: git(bare, "rev-parse", "main") }
}

const swarmOf = (name: string, ids: ReadonlyArray<string>, extra: Record<string, unknown> = {}) => {
  const scratch = scratchRepo({ config: { workers, review_model: reviewer, target, ...extra }, pending: ids.map((id) => ({ id, summary: `Write src/${id}.txt` })) })
  return { scratch, ...serve(scratch, name) }
}

const events = loggedEvents
type Event = LoggedEvent

const refs = (repo: string, prefix: string): Array<string> => git(repo, "for-each-ref", "--format=%(refname)", prefix).split("\n").filter((r) => r !== "")

const isAncestor = (repo: string, ancestor: string, of: string): boolean => {
  try {
    git(repo, "merge-base", "--is-ancestor", ancestor, of)
    return true
  } catch {
    return false
  }
}

/** What must hold once every task landed: on the remote, with the markers, and locally. */
const assertAllLanded = (scratch: Scratch, bare: string, ids: ReadonlyArray<string>, context: string, kept: ReadonlyArray<string> = []) => {
  assert.deepStrictEqual(tasksIn(scratch, "complete"), [...ids].sort(), context)
  for (const folder of ["pending", "current", "failed"]) assert.deepStrictEqual(tasksIn(scratch, folder), [], `${context}\n${folder}/`)
  // On the remote itself: each task's file, and its trailer once on main's first-parent chain.
  for (const id of ids) assert.strictEqual(git(bare, "show", `main:src/${id}.txt`), `${id}: written by claude`, `${context}\nsrc/${id}.txt on the remote`)
  assert.deepStrictEqual([...landedTasks(bare).entries()].sort(), [...ids].sort().map((id) => [id, 1]), context)
  // The markers: one per task, each at a commit of main carrying that task's trailer.
  assert.deepStrictEqual(refs(bare, "refs/oompa/merged/"), [...ids].sort().map((id) => `refs/oompa/merged/${id}`), context)
  for (const id of ids) {
    const marker = `refs/oompa/merged/${id}`
    assert.isTrue(isAncestor(bare, marker, "main"), `${context}\n${marker} is not on the remote's main`)
    assert.match(git(bare, "log", "-1", "--format=%B", marker), new RegExp(`^Oompa-Task: ${id}$`, "m"), context)
  }
  // The local main, oompa's ref of the remote and the user's checkout follow.
  const remoteMain = git(bare, "rev-parse", "main")
  assert.strictEqual(git(scratch.repo, "rev-parse", "main"), remoteMain, `${context}\nthe local main is not the remote's`)
  assert.strictEqual(git(scratch.repo, "rev-parse", "refs/oompa/target/main"), remoteMain, context)
  assert.deepStrictEqual(checkoutState(scratch.repo), { head: "refs/heads/main", atTip: true, status: "" }, context)
  for (const id of ids) assert.isTrue(fs.existsSync(path.join(scratch.repo, `src/${id}.txt`)), `${context}\nsrc/${id}.txt not in the checkout`)
  // Nothing left: one worktree (the user's), no worktree folder, no oompa branch but those `kept`, no lock.
  const left = leftovers(scratch)
  assert.strictEqual(left.worktrees, 1, `${context}\n${git(scratch.repo, "worktree", "list")}`)
  assert.deepStrictEqual(left.worktreesDir, [], context)
  assert.deepStrictEqual(left.branches.split("\n").map((b) => b.trim()).filter((b) => b !== ""), [...kept], context)
  assert.isFalse(fs.existsSync(path.join(scratch.repo, ".oompa/lock")), context)
  assert.isTrue(fsck(bare).ok, `${context}\n${fsck(bare).output}`)
}

describe("remote target (push mode) against git daemon on loopback", () => {
  it("a swarm of three over five tasks lands every task on the remote's main, with its marker; local main and checkout follow", () => {
    const ids = ["t1", "t2", "t3", "t4", "t5"]
    const { scratch, bare, initial } = swarmOf("swarm", ids)
    const result = oompa(scratch, ["swarm"], { timeoutMs: 45_000 })
    const context = show(result)
    assert.strictEqual(result.status, 0, context)
    assertAllLanded(scratch, bare, ids, context)
    // Five landings, one push each: the remote's first-parent chain is the initial commit and five merges.
    assert.strictEqual(git(bare, "rev-list", "--first-parent", "--count", `${initial}..main`), "5", context)
    // No lease was lost (nobody else pushed): no probe ref, and the log has no TargetMoved.
    assert.deepStrictEqual(refs(scratch.repo, "refs/oompa/probe/"), [], context)
    assert.deepStrictEqual(events(scratch).filter((e) => e._tag === "TargetMoved"), [], context)
    scratch.cleanup()
  }, 60_000)

  it("a teammate pushes while a candidate is under test: followed, never overwritten (TargetMoved), the candidate rebuilt and retested on it", () => {
    const ids = ["t1", "t2", "t3", "t4"]
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-e2e-teammate-")))
    const marker = path.join(root, "pushed")
    const teammateScript = path.join(root, "teammate.sh")
    // The test command: its first run (the marker absent) has the teammate push teammate.txt from
    // a clone of their own (git's variables of the gate unset), writes the commit it tests into the
    // marker, and passes; later runs pass at once.
    fs.writeFileSync(teammateScript, [
      "set -e",
      `[ -e '${marker}' ] && exit 0`,
      "tested=$(git rev-parse HEAD)",
      "unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR",
      `cd '${path.join(root, "clone")}'`,
      "git pull -q --ff-only origin main",
      "echo teammate > teammate.txt",
      "git add teammate.txt",
      "git -c user.name=Teammate -c user.email=teammate@example.com commit -qm \"a teammate's push\"",
      "git push -q origin HEAD:main",
      `echo "$tested" > '${marker}'`
    ].join("\n"))
    const { scratch, bare, url, initial } = swarmOf("race", ids, { test_command: `sh '${teammateScript}'` })
    git(root, "clone", "-q", url, "clone")
    try {
      const result = oompa(scratch, ["swarm"], { timeoutMs: 45_000 })
      const context = show(result)
      assert.strictEqual(result.status, 0, context)
      assert.isTrue(fs.existsSync(marker), `${context}\nthe teammate never pushed`)
      const teammate = git(path.join(root, "clone"), "rev-parse", "HEAD")
      const testedBeforePush = fs.readFileSync(marker, "utf8").trim()

      // Never overwritten: the teammate's commit is on the remote's first-parent chain, its file on main.
      assert.isTrue(isAncestor(bare, teammate, "main"), `${context}\nthe teammate's push was overwritten`)
      assert.strictEqual(git(bare, "show", "main:teammate.txt"), "teammate", context)
      const chain = git(bare, "rev-list", "--first-parent", "--reverse", `${initial}..main`).split("\n").filter((c) => c !== "")
      assert.include(chain, teammate, context)
      assertAllLanded(scratch, bare, ids, context)
      assert.strictEqual(git(scratch.repo, "show", "main:teammate.txt"), "teammate", `${context}\nthe local main did not follow`)

      // The run followed the push: TargetMoved from where it stood to the teammate's commit.
      const log = events(scratch)
      const moved = log.filter((e) => e._tag === "TargetMoved")
      assert.deepStrictEqual(moved.map((e) => [e["from"], e["to"]]), [[initial, teammate]], `${context}\n${JSON.stringify(moved)}`)

      // The candidate under test during the push was tested (and passed) but never landed: it was rebuilt on the push.
      const passed = new Set(log.filter((e) => e._tag === "TestResult" && e["passed"] === true).map((e) => e["sha"] as string))
      assert.isTrue(passed.has(testedBeforePush), `${context}\n${testedBeforePush} was not the tested candidate`)
      assert.isFalse(isAncestor(bare, testedBeforePush, "main"), `${context}\nthe candidate built before the push landed`)
      // Every commit oompa put on the remote passed the test; each after the push holds the teammate's file and every earlier task's.
      const files: Array<string> = []
      for (const commit of chain.filter((c) => c !== teammate)) {
        assert.isTrue(passed.has(commit), `${commit} landed on the remote without a passing test\n${context}`)
        const id = /^Oompa-Task: (\S+)$/m.exec(git(bare, "log", "-1", "--format=%B", commit))?.[1]
        assert.isDefined(id, `${commit} has no Oompa-Task trailer`)
        files.push(`src/${id}.txt`)
        const tree = git(bare, "ls-tree", "-r", "--name-only", commit).split("\n")
        for (const file of files) assert.include(tree, file, `${commit} lacks ${file}`)
        if (isAncestor(bare, teammate, commit)) assert.include(tree, "teammate.txt", commit)
      }
      // The lost lease's probe of the remote leaves nothing behind.
      assert.deepStrictEqual(refs(scratch.repo, "refs/oompa/probe/"), [], context)
      scratch.cleanup()
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  }, 60_000)

  for (const repairBy of ["cleanup", "swarm"] as const) {
    it(`kill -9 after the push and before the bookkeeping, then ${repairBy === "cleanup" ? "oompa cleanup and a swarm" : "the next swarm's start"}: the pushed task completes once, the others land`, async () => {
      const ids = ["t1", "t2", "t3", "t4"]
      const { scratch, bare, initial } = swarmOf(`kill-${repairBy}`, ids)
      const pidFile = path.join(scratch.root, "oompa.pid")
      const killed = path.join(scratch.root, "killed")
      // Runs once the refs moved; `git push` waits for it (it may print to the pusher).
      const hook = path.join(bare, "hooks/post-receive")
      fs.writeFileSync(hook, `#!/bin/sh\n[ -e '${killed}' ] && exit 0\ntouch '${killed}'\nkill -9 "$(cat '${pidFile}')"\n`, { mode: 0o755 })
      const first = oompaAsync(scratch, ["swarm"])
      fs.writeFileSync(pidFile, String(first.child.pid))
      try {
        const exited = await first.exited
        let context = show(exited)
        assert.strictEqual(exited.signal, "SIGKILL", `${context}\nthe hook did not kill oompa`)
        assert.deepStrictEqual(await waitDead(gitCommandsOf(first.child.pid!), 5_000), [], "git commands of the dead run still running")
        // The push landed (one task, with its marker) and the bookkeeping never happened: the task is still claimed, oompa's ref of the remote not moved.
        const pushed = refs(bare, "refs/oompa/merged/").map((r) => r.replace("refs/oompa/merged/", ""))
        assert.strictEqual(pushed.length, 1, `${context}\nmarkers on the remote: ${pushed.join(", ")}`)
        const task = pushed[0]!
        assert.deepStrictEqual([...landedTasks(bare).entries()], [[task, 1]], context)
        assert.notStrictEqual(git(bare, "rev-parse", "main"), initial, context)
        assert.strictEqual(git(scratch.repo, "rev-parse", "refs/oompa/target/main"), initial, `${context}\nthe bookkeeping happened before the kill`)
        assert.include(tasksIn(scratch, "current"), task, context)
        assert.deepStrictEqual(tasksIn(scratch, "complete"), [], context)

        const deadRun = runIds(scratch)[0]!
        let repaired = ""
        if (repairBy === "cleanup") {
          const cleanup = oompa(scratch, ["cleanup"])
          context = show(cleanup)
          assert.strictEqual(cleanup.status, 0, context)
          assert.deepStrictEqual(tasksIn(scratch, "complete"), [task], context)
          assert.deepStrictEqual(tasksIn(scratch, "current"), [], context)
          repaired = cleanup.stdout
        }
        const second = oompa(scratch, ["swarm"], { timeoutMs: 45_000 })
        context = `${context}\n--- second swarm ---\n${show(second)}`
        assert.strictEqual(second.status, 0, context)
        if (repairBy === "swarm") repaired = second.stderr.split("\n").filter((l) => l.startsWith("recovered: ")).map((l) => l.slice("recovered: ".length)).join("\n")
        // The repair fetched first: the pushed task went to complete/ from what the remote holds.
        assert.match(repaired, new RegExp(`^task ${task}: current/ -> complete/ \\(merged in `, "m"), context)
        // Branches the repair kept: the dead run's approved work, each reported. The pushed task's (the
        // reviewed copy of its approved commit is what landed, so the commit itself is not on main) is
        // reported as since landed, if kept.
        const kept = leftovers(scratch).branches.split("\n").map((b) => b.trim()).filter((b) => b !== "")
        for (const branch of kept) {
          assert.isTrue(branch.startsWith(`oompa/${deadRun}/`), `${context}\nkept ${branch}`)
          assert.include(repaired, `kept ${branch}: approved work that was never merged`, context)
          const changed = git(scratch.repo, "diff", "--name-only", initial, branch)
          if (changed === `src/${task}.txt`) assert.include(repaired, `kept ${branch}: approved work that was never merged; its task ${task} has since landed on main`, context)
        }
        assertAllLanded(scratch, bare, ids, context, kept)
        // The pushed task was not done again: one proposer call for it, from the killed run.
        assert.strictEqual(fakeCalls(scratch).filter((c) => c.task === task && c.kind === "propose").length, 1, context)
        scratch.cleanup()
      } finally {
        first.child.kill("SIGKILL")
        for (const pid of calledPids(scratch)) {
          try {
            process.kill(pid, "SIGKILL")
          } catch {
            // Already gone.
          }
        }
      }
    }, 60_000)
  }

  it("an unreachable remote: exit 2 naming it, before anything is claimed; no agent called, no lock left", async () => {
    const ids = ["t1", "t2"]
    const scratch = scratchRepo({ config: { workers, review_model: reviewer }, pending: ids.map((id) => ({ id, summary: `Write src/${id}.txt` })) })
    const url = `git://127.0.0.1:${await freePort()}/nowhere.git`
    const result = oompa(scratch, ["swarm", "--remote", url], { timeoutMs: 45_000 })
    const context = show(result)
    assert.strictEqual(result.status, 2, context)
    assert.include(result.stderr, `cannot reach the remote ${url}`, context)
    assert.include(result.stderr, "nothing was claimed", context)
    assert.deepStrictEqual(tasksIn(scratch, "pending"), ids, context)
    assert.deepStrictEqual(tasksIn(scratch, "current"), [], context)
    assert.deepStrictEqual(fakeCalls(scratch), [], context)
    assert.isFalse(fs.existsSync(path.join(scratch.repo, ".oompa/lock")), context)
    assert.strictEqual(git(scratch.repo, "worktree", "list").split("\n").length, 1, context)
    assert.deepStrictEqual(refs(scratch.repo, "refs/oompa/"), [], context)
    scratch.cleanup()
  }, 60_000)
})
