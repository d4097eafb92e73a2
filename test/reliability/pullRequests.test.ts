/**
 * Landing through pull requests end to end (issue 20, "Pull-request mode" and its "What must be
 * shown"): the built CLI with `target: {mode: "pr", github: {…, api_url}}` against the scripted
 * GitHub REST server on loopback (`test/github/server.ts`, driven by `@octokit/rest` inside oompa),
 * whose pull requests are branches of a bare repository on disk that is the scratch repository's
 * `origin`.
 *
 * - One task goes the whole way: its pull request is opened; a failing check is fed back and the fix
 *   pushed to the same pull request; a reviewer's "changes requested" (with a line comment) is fed
 *   back and that fix pushed; approved and green, oompa merges it through the host's API (which
 *   requires an approval) and the task completes with the host's commit. Beside it, a second task's
 *   pull request waits for its CI, then is approved. Polling uses conditional requests (304s).
 * - A token GitHub refuses stops the run before anything is claimed: exit 2, the repository named,
 *   the token never printed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fakeCalls, git, oompaAsync, type Scratch, scratchRepo, show, tasksIn } from "../cli/helpers.ts"
import { runOompa, scriptedGitHubForFile } from "./githubSupport.ts"
import { fsck, loggedEvents } from "./support.ts"

const owner = "acme"
const workers = [{ model: "claude:opus", role: "executor", count: 2, iterations: 6 }]
const reviewer = "codex:gpt-5-codex"

const github = scriptedGitHubForFile("ghs_scripted_token_0123456789")

/** A scratch repository whose origin is a bare repository the scripted GitHub serves as `acme/<name>`. */
const project = (name: string, ids: ReadonlyArray<string>) => {
  const target = { mode: "pr", github: { owner, repo: name, api_url: github.server().url }, auto_merge: true, poll_seconds: 0.2 }
  const scratch = scratchRepo({ config: { workers, review_model: reviewer, target }, pending: ids.map((id) => ({ id, summary: `Write src/${id}.txt` })) })
  const bare = github.serve(scratch, owner, name)
  git(scratch.repo, "remote", "add", "origin", bare)
  return { scratch, bare }
}

const run = (scratch: Scratch, env: Readonly<Record<string, string | undefined>>) => runOompa(scratch, ["swarm"], env)

const prompts = (scratch: Scratch, kind: string): Array<string> => {
  const folder = path.join(scratch.state, "prompts")
  if (!fs.existsSync(folder)) return []
  return fs.readdirSync(folder).filter((f) => f.endsWith(`-${kind}.md`)).sort().map((f) => fs.readFileSync(path.join(folder, f), "utf8"))
}

describe("pull-request mode against a scripted GitHub", () => {
  it("a failing check and requested changes go back to the agent; approved and green, the pull request is merged and the task completes", async () => {
    const name = "app"
    const { scratch, bare } = project(name, ["a", "b"])
    github.server().requireApproval(owner, name, true)
    github.server().onNewHead((_owner, repo, pull, sha, index) => {
      if (repo !== name) return
      if (pull.head === "oompa/b") {
        // Its CI takes a while: oompa keeps asking, and the unchanged answers come back 304.
        github.server().setCheckRun(owner, name, sha, { name: "ci/unit", status: "in_progress" })
        setTimeout(() => {
          github.server().setCheckRun(owner, name, sha, { name: "ci/unit", status: "completed", conclusion: "success" })
          github.server().addReview(owner, name, pull.number, { user: "bob", state: "APPROVED", body: "fine", commitId: sha })
        }, 1500)
        return
      }
      if (index === 0) {
        github.server().setCheckRun(owner, name, sha, { name: "ci/unit", status: "completed", conclusion: "failure", title: "2 tests failed", summary: "test_a: expected 1, got 2" })
      } else if (index === 1) {
        github.server().setCheckRun(owner, name, sha, { name: "ci/unit", status: "completed", conclusion: "success" })
        github.server().addReview(owner, name, pull.number, {
          user: "alice",
          state: "CHANGES_REQUESTED",
          body: "Almost there.",
          commitId: sha,
          comments: [{ path: "src/a.txt", line: 1, body: "say what the file is for" }]
        })
      } else {
        github.server().setCheckRun(owner, name, sha, { name: "ci/unit", status: "completed", conclusion: "success" })
        github.server().addReview(owner, name, pull.number, { user: "alice", state: "APPROVED", body: "Thanks!", commitId: sha })
      }
    })
    const result = await run(scratch, { GITHUB_TOKEN: github.server().token, E2E_FIX_ANY: "*", E2E_SAVE_PROMPTS: "1" })
    assert.strictEqual(result.status, 0, show(result))

    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["a", "b"], show(result))
    for (const folder of ["pending", "current", "failed"]) assert.deepStrictEqual(tasksIn(scratch, folder), [], folder)
    // One pull request per task, each merged by the host onto the remote's main.
    const pulls = github.server().pulls(owner, name)
    assert.deepStrictEqual(pulls.map((p) => [p.head, p.merged]).sort(), [["oompa/a", true], ["oompa/b", true]])
    const remoteMain = git(bare, "rev-parse", "main")
    for (const pull of pulls) assert.strictEqual(git(bare, "merge-base", "--is-ancestor", pull.mergeCommitSha!, "main"), "")
    // a's work carries both fixes; the remote's oompa branches went once merged; the local main follows.
    const a = git(bare, "show", "main:src/a.txt")
    assert.strictEqual(a.split("\n").filter((l) => l !== "").length, 3, a)
    assert.strictEqual(git(bare, "show", "main:src/b.txt"), "b: written by claude")
    assert.strictEqual(git(bare, "for-each-ref", "refs/heads/oompa/"), "")
    assert.strictEqual(git(scratch.repo, "rev-parse", "refs/oompa/target/main"), remoteMain)
    assert.isTrue(fsck(bare).ok)

    // What GitHub said reached the agent, in order.
    const fixes = prompts(scratch, "fix")
    assert.strictEqual(fixes.length, 2, fixes.join("\n---\n"))
    assert.include(fixes[0], "test_a: expected 1, got 2")
    assert.include(fixes[1], "say what the file is for")
    assert.include(fixes[1], "alice requested changes")
    // The run log tells the story.
    const events = loggedEvents(scratch)
    const results = events.filter((e) => e["_tag"] === "MergeResult").map((e) => String(e["outcome"]))
    assert.deepStrictEqual(results.filter((o) => o !== "merged"), ["test-failed", "changes-requested"], JSON.stringify(results))
    assert.strictEqual(results.filter((o) => o === "merged").length, 2)
    const opened = events.filter((e) => e["_tag"] === "PullRequestOpened" && e["task"] === "a")
    assert.strictEqual(opened.length, 3)
    assert.strictEqual(new Set(opened.map((e) => e["number"])).size, 1, "every fix went to the same pull request")
    // Polling asked with ETags: unchanged answers came back 304.
    assert.isAbove(github.server().requests.filter((r) => r.status === 304).length, 0)
  }, 120_000)

  it("kill -9 while two pull requests wait on people: the next run finds them by their branches; one merged meanwhile completes at once, the other is watched until it is merged; no agent is asked again", async () => {
    const name = "killed"
    const { scratch, bare } = project(name, ["a", "b"])
    const withPeople: Array<number> = []
    github.server().onNewHead((_owner, repo, pull) => {
      if (repo === name) withPeople.push(pull.number)
    })
    const env = { GITHUB_TOKEN: github.server().token, E2E_SAVE_PROMPTS: "1" }
    const config = JSON.parse(fs.readFileSync(path.join(scratch.repo, "oompa.json"), "utf8"))
    fs.writeFileSync(path.join(scratch.repo, "oompa.json"), JSON.stringify({ ...config, target: { ...config.target, auto_merge: false } }))
    const first = oompaAsync(scratch, ["swarm"], { env })
    const deadline = Date.now() + 60_000
    while (withPeople.length < 2 && Date.now() < deadline && first.child.exitCode === null) await new Promise((done) => setTimeout(done, 50))
    assert.strictEqual(withPeople.length, 2, "both pull requests were opened")
    first.child.kill("SIGKILL")
    await first.exited
    const proposals = fakeCalls(scratch).filter((c) => c.kind === "propose").length
    assert.strictEqual(proposals, 2)

    // While no run watches, a person merges a's pull request; b's is merged a little after the next run starts.
    const [pullA, pullB] = [...github.server().pulls(owner, name)].sort((x, y) => x.head.localeCompare(y.head))
    github.server().mergePull(owner, name, pullA!.number)
    // b's is merged by a person once the next run is seen watching it (asking GitHub about it).
    const seen = github.server().requests.length
    let mergedWhileWatched = false
    const watching = setInterval(() => {
      if (github.server().requests.slice(seen).some((r) => r.method === "GET" && r.path.startsWith(`/repos/${owner}/${name}/pulls/${pullB!.number}`))) {
        clearInterval(watching)
        github.server().mergePull(owner, name, pullB!.number)
        mergedWhileWatched = true
      }
    }, 20)
    const result = await run(scratch, env)
    clearInterval(watching)
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["a", "b"], show(result))
    assert.strictEqual(fakeCalls(scratch).filter((c) => c.kind === "propose").length, proposals, "no agent was asked again")
    assert.strictEqual(github.server().pulls(owner, name).length, 2, "no second pull request")
    assert.strictEqual(git(bare, "show", "main:src/a.txt"), "a: written by claude")
    assert.strictEqual(git(bare, "show", "main:src/b.txt"), "b: written by claude")
    // b's merge came only once the run asked GitHub about it, and the run saw it and completed b.
    assert.isTrue(mergedWhileWatched, "b's pull request was found again and watched")
    assert.isAbove(loggedEvents(scratch).filter((e) => e["_tag"] === "PullRequestOpened" && e["number"] === pullB!.number).length, 0)
  }, 120_000)

  it("a token GitHub refuses stops the run before anything is claimed: exit 2, the repository named, the token not printed", async () => {
    const { scratch } = project("refused", ["a"])
    const token = "ghp_wrong_token_4242424242"
    const result = await run(scratch, { GITHUB_TOKEN: token })
    assert.strictEqual(result.status, 2, show(result))
    assert.include(result.stderr, "target.github (acme/refused)")
    assert.include(result.stderr, "401")
    assert.notInclude(result.stderr + result.stdout, token)
    assert.deepStrictEqual(tasksIn(scratch, "pending"), ["a"])
    assert.deepStrictEqual(fakeCalls(scratch), [])
  }, 60_000)
})
