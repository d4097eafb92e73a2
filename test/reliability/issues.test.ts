/**
 * Tasks from GitHub Issues end to end (issue 20, "Tasks from GitHub Issues" and its "What must be
 * shown"): two oompa runs — two machines, each with its own clone — take their tasks from the same
 * repository's issues labelled `oompa`, served by the scripted GitHub REST server on loopback
 * (`test/github/server.ts`), and race for them. A claim is a ref created on the host
 * (`refs/oompa/claims/issue-<n>`: 201 for the winner, 422 for everyone else), so every issue is
 * worked on by one run only: one "claimed" comment, one agent proposal, one merge, closed as
 * completed with the merge's sha; an issue without the label is left alone; no claim is left.
 * A token GitHub refuses stops the run before anything is claimed (exit 2). The test command (code
 * agents wrote) runs without GitHub's token.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fakeCalls, git, oompaAsync, type Scratch, scratchRepo, show } from "../cli/helpers.ts"
import { runOompa, scriptedGitHubForFile } from "./githubSupport.ts"

const owner = "acme"
const workers = [{ model: "claude:opus", role: "executor", count: 2, iterations: 8 }]
const reviewer = "codex:gpt-5-codex"

const github = scriptedGitHubForFile("ghs_issues_token_0123456789")

/** A machine: a repository of its own whose tasks are the issues of `acme/<name>`. */
const machine = (name: string) =>
  scratchRepo({
    config: {
      workers,
      review_model: reviewer,
      tasks: { github: { owner, repo: name, api_url: github.server().url } },
      max_wait_for_tasks: 5,
      // Code an agent wrote runs here: it must not get the token that moves issues.
      test_command: "test -z \"$GITHUB_TOKEN$GH_TOKEN\" && test \"$GH_CONFIG_DIR\" != \"\""
    }
  })

const run = (scratch: Scratch, env: Readonly<Record<string, string | undefined>>) => runOompa(scratch, ["swarm"], env)

const isOnMain = (repo: string, sha: string): boolean => {
  try {
    git(repo, "merge-base", "--is-ancestor", sha, "main")
    return true
  } catch {
    return false
  }
}

describe("tasks from GitHub Issues", () => {
  it("two runs racing for the same issues: each issue claimed, worked on and closed by one of them", async () => {
    const name = "queue"
    const first = machine(name)
    const second = machine(name)
    const bare = github.serve(first, owner, name)
    const numbers = Array.from({ length: 6 }, (_, i) => github.server().addIssue(owner, name, { title: `Write the file of issue ${i + 1}`, body: `Issue ${i + 1}'s work.`, labels: ["oompa"] }))
    const unlabelled = github.server().addIssue(owner, name, { title: "A question, not a task", body: "?" })
    const env = { GITHUB_TOKEN: github.server().token, E2E_DELAY_MS: "300" }

    const [a, b] = await Promise.all([run(first, env), run(second, env)])
    assert.strictEqual(a.status, 0, show(a))
    assert.strictEqual(b.status, 0, show(b))

    const proposals = [...fakeCalls(first), ...fakeCalls(second)].filter((c) => c.kind === "propose").map((c) => c.task).sort()
    assert.deepStrictEqual(proposals, numbers.map((n) => `issue-${n}`).sort(), "each issue proposed once, by one machine")
    assert.isAbove(fakeCalls(first).filter((c) => c.kind === "propose").length, 0, "the first machine took some")
    assert.isAbove(fakeCalls(second).filter((c) => c.kind === "propose").length, 0, "the second machine took some")
    for (const n of numbers) {
      const issue = github.server().issue(owner, name, n)
      const context = `issue ${n}: ${JSON.stringify(issue)}`
      assert.strictEqual(issue.state, "closed", context)
      assert.strictEqual(issue.stateReason, "completed", context)
      assert.strictEqual(issue.comments.filter((c) => /claimed this issue/.test(c)).length, 1, context)
      const merged = issue.comments.filter((c) => /^Merged by oompa run/.test(c))
      assert.strictEqual(merged.length, 1, context)
      assert.notInclude(issue.labels, "oompa:claimed", context)
      // The sha it names is on the main of the machine that did it, and only there.
      const sha = /([0-9a-f]{40})/.exec(merged[0]!)![1]!
      const on = [first, second].filter((m) => isOnMain(m.repo, sha))
      assert.strictEqual(on.length, 1, context)
      assert.strictEqual(git(on[0]!.repo, "show", `main:src/issue-${n}.txt`).length > 0, true)
    }
    const left = github.server().issue(owner, name, unlabelled)
    assert.deepStrictEqual([left.state, left.comments, left.labels], ["open", [], []])
    assert.strictEqual(git(bare, "for-each-ref", "refs/oompa/claims/"), "", "no claim is left")
  }, 120_000)

  it("kill -9 with two issues claimed: oompa cleanup returns exactly those (not another machine's claim), and the next run does them", async () => {
    const name = "crashy"
    const scratch = machine(name)
    const bare = github.serve(scratch, owner, name)
    const numbers = [1, 2, 3].map((i) => github.server().addIssue(owner, name, { title: `Issue ${i}`, body: "", labels: ["oompa"] }))
    // Another machine's live run holds the third: its ref and label, as its claim made them.
    const api = async (method: string, route: string, body: unknown) => {
      const answer = await fetch(`${github.server().url}${route}`, { method, headers: { authorization: `token ${github.server().token}`, "content-type": "application/json" }, body: JSON.stringify(body) })
      assert.isTrue(answer.ok, `${method} ${route}: ${answer.status}`)
    }
    const foreign = numbers[2]!
    await api("POST", `/repos/${owner}/${name}/git/refs`, { ref: `refs/oompa/claims/issue-${foreign}`, sha: git(bare, "rev-parse", "main") })
    await api("POST", `/repos/${owner}/${name}/issues/${foreign}/labels`, { labels: ["oompa:claimed"] })

    const env = { GITHUB_TOKEN: github.server().token }
    const first = oompaAsync(scratch, ["swarm"], { env: { ...env, E2E_DELAY_MS: "60000" } })
    const claimed = () => numbers.slice(0, 2).every((n) => github.server().issue(owner, name, n).labels.includes("oompa:claimed")) && fs.readdirSync(path.join(scratch.repo, ".oompa/claims")).length === 2
    const deadline = Date.now() + 30_000
    while (!(fs.existsSync(path.join(scratch.repo, ".oompa/claims")) && claimed()) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50))
    assert.isTrue(claimed(), "both free issues were claimed")
    first.child.kill("SIGKILL")
    await first.exited

    const cleanup = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const started = oompaAsync(scratch, ["cleanup"], { env })
      void started.exited.then(done)
    })
    assert.strictEqual(cleanup.status, 0, show(cleanup))
    for (const n of numbers.slice(0, 2)) {
      assert.include(cleanup.stdout, `task issue-${n}: current/ -> pending/`)
      assert.notInclude(github.server().issue(owner, name, n).labels, "oompa:claimed")
    }
    assert.deepStrictEqual(fs.readdirSync(path.join(scratch.repo, ".oompa/claims")), [])
    assert.include(github.server().issue(owner, name, foreign).labels, "oompa:claimed", "another machine's claim is not ours to return")
    assert.strictEqual(git(bare, "for-each-ref", "--format=%(refname)", "refs/oompa/claims/"), `refs/oompa/claims/issue-${foreign}`)

    const result = await run(scratch, env)
    assert.strictEqual(result.status, 0, show(result))
    for (const n of numbers.slice(0, 2)) assert.strictEqual(github.server().issue(owner, name, n).state, "closed")
    assert.strictEqual(github.server().issue(owner, name, foreign).state, "open")
  }, 120_000)

  it("a token GitHub refuses stops the run before anything is claimed: exit 2, the repository named", async () => {
    const name = "refused"
    const scratch = machine(name)
    const bare = github.serve(scratch, owner, name)
    const n = github.server().addIssue(owner, name, { title: "Work", body: "", labels: ["oompa"] })
    const result = await run(scratch, { GITHUB_TOKEN: "ghp_not_the_token" })
    assert.strictEqual(result.status, 2, show(result))
    assert.include(result.stderr, "tasks.github (acme/refused)")
    assert.notInclude(result.stderr, "ghp_not_the_token")
    assert.deepStrictEqual(github.server().issue(owner, name, n).comments, [])
    assert.deepStrictEqual(fakeCalls(scratch), [])
  }, 60_000)
})
