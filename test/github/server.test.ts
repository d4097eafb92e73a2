/**
 * The scripted GitHub (server.ts) driven by a real `@octokit/rest` client (`baseUrl` the server), so
 * the fake is shown to speak what octokit expects: pull requests over a real bare repository (create,
 * find, a new head noticed, mergeability, merges that move the base branch, conflicts), check runs
 * and commit statuses, reviews, ETags and 304, the rate limit, injected 5xx, auth, issues (pull
 * requests among them), and `git/refs` (create-only, the atomic claim two machines race for).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Octokit } from "@octokit/rest"
import { RequestError } from "@octokit/request-error"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type ScriptedGitHub, startScriptedGitHub } from "./server.ts"

const owner = "acme"
const repo = "widgets"
let root = ""
let bare = ""
let work = ""
let server: ScriptedGitHub
let octokit: Octokit
/** What octokit logs: its request-log plugin reports every answer >= 400, and 304, on `log.error`. */
const logged: Array<string> = []
const log = { debug: () => {}, info: () => {}, warn: (line: string) => void logged.push(line), error: (line: string) => void logged.push(line) }
const heads: Array<{ readonly pull: number; readonly sha: string; readonly index: number; readonly requestsBefore: number }> = []

const git = (cwd: string, ...args: Array<string>): string => {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: root, GIT_CONFIG_NOSYSTEM: "1" }
  for (const key of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"]) delete env[key]
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim()
}
const inBare = (...args: Array<string>) => git(bare, ...args)

/** Commits `files` on `branch` (reset to `from`, e.g. `origin/main`) in the scratch clone and force-pushes it; the sha. */
const push = (branch: string, from: string, files: Record<string, string>): string => {
  git(work, "fetch", "-q", "origin")
  git(work, "checkout", "-q", "-B", branch, from)
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(work, name), content)
  git(work, "add", "-A")
  git(work, "commit", "-q", "-m", `${branch}: ${Object.keys(files).join(", ")}`)
  git(work, "push", "-q", "-f", "origin", `${branch}:refs/heads/${branch}`)
  return git(work, "rev-parse", "HEAD")
}

/** The RequestError a call ends with (anything else fails the test). */
const failure = async (call: Promise<unknown>): Promise<RequestError> => {
  try {
    await call
  } catch (error) {
    assert.instanceOf(error, RequestError)
    return error as RequestError
  }
  return assert.fail("the request succeeded")
}
const messageOf = (error: RequestError) => (error.response?.data as { readonly message: string }).message
const remainingOf = (headers: Record<string, unknown> | undefined) => Number(headers?.["x-ratelimit-remaining"])

beforeAll(async () => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-github-")))
  bare = path.join(root, "widgets.git")
  work = path.join(root, "work")
  git(root, "init", "-q", "--bare", "-b", "main", bare)
  git(root, "init", "-q", "-b", "main", work)
  fs.writeFileSync(path.join(work, "README.md"), "widgets\n")
  fs.writeFileSync(path.join(work, "shared.txt"), "one\ntwo\nthree\n")
  git(work, "add", "-A")
  git(work, "commit", "-q", "-m", "initial")
  git(work, "remote", "add", "origin", bare)
  git(work, "push", "-q", "origin", "main")
  server = await startScriptedGitHub()
  server.addRepo(owner, repo, { bare })
  server.onNewHead((o, r, pull, sha, index) => {
    assert.deepStrictEqual([o, r, pull.headSha], [owner, repo, sha])
    heads.push({ pull: pull.number, sha, index, requestsBefore: server.requests.length })
  })
  octokit = new Octokit({ auth: server.token, baseUrl: server.url, log })
})

afterAll(async () => {
  await server?.close()
  if (root !== "") fs.rmSync(root, { recursive: true, force: true })
})

describe("scripted GitHub through octokit", () => {
  let first = 0
  let firstSha = ""

  it("answers the repository", async () => {
    const { data, status, headers } = await octokit.rest.repos.get({ owner, repo })
    assert.strictEqual(status, 200)
    assert.strictEqual(data.full_name, "acme/widgets")
    assert.strictEqual(data.default_branch, "main")
    assert.isTrue(data.permissions?.push)
    assert.match(headers["content-type"] ?? "", /^application\/json/)
    assert.strictEqual(headers["x-ratelimit-resource"], "core")
  })

  it("creates and finds pull requests; refuses a duplicate, an unknown head, a head with nothing new", async () => {
    firstSha = push("feature-a", "origin/main", { "a.txt": "a\n" })
    const created = await octokit.rest.pulls.create({ owner, repo, title: "Add a", head: `${owner}:feature-a`, base: "main", body: "adds a" })
    assert.strictEqual(created.status, 201)
    first = created.data.number
    assert.deepStrictEqual([created.data.state, created.data.head.sha, created.data.head.ref, created.data.head.label, created.data.mergeable], ["open", firstSha, "feature-a", "acme:feature-a", true])
    assert.strictEqual(created.data.base.sha, inBare("rev-parse", "main"))
    assert.deepStrictEqual(heads, [{ pull: first, sha: firstSha, index: 0, requestsBefore: server.requests.length - 1 }])

    push("feature-b", "origin/main", { "b.txt": "b\n" })
    const second = (await octokit.rest.pulls.create({ owner, repo, title: "Add b", head: "feature-b", base: "main" })).data.number
    const byHead = await octokit.rest.pulls.list({ owner, repo, head: `${owner}:feature-a`, state: "open" })
    assert.deepStrictEqual(byHead.data.map((p) => p.number), [first])
    assert.isUndefined((byHead.data[0] as { merged?: boolean }).merged) // the list has no `merged`, as on GitHub
    // A bare branch name is no filter at all on GitHub; newest first.
    assert.deepStrictEqual((await octokit.rest.pulls.list({ owner, repo, head: "feature-a" })).data.map((p) => p.number), [second, first])
    assert.deepStrictEqual((await octokit.rest.pulls.list({ owner, repo, state: "closed" })).data, [])

    const duplicate = await failure(octokit.rest.pulls.create({ owner, repo, title: "again", head: "feature-a", base: "main" }))
    assert.strictEqual(duplicate.status, 422)
    assert.deepStrictEqual(duplicate.response?.data, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "custom", message: "A pull request already exists for acme:feature-a." }] })
    assert.strictEqual((await failure(octokit.rest.pulls.create({ owner, repo, title: "x", head: "no-such-branch", base: "main" }))).status, 422)
    inBare("update-ref", "refs/heads/empty", "main")
    const empty = await failure(octokit.rest.pulls.create({ owner, repo, title: "x", head: "empty", base: "main" }))
    assert.strictEqual(empty.status, 422)
    assert.include(empty.message, "No commits between main and empty")
    assert.deepStrictEqual(server.pulls(owner, repo).map((p) => [p.number, p.head, p.state]), [[first, "feature-a", "open"], [second, "feature-b", "open"]])
  })

  it("notices a new head when a request reads the pull request, once, before answering it", async () => {
    const next = push("feature-a", "origin/feature-a", { "a2.txt": "a2\n" })
    assert.strictEqual(server.pull(owner, repo, first).headSha, firstSha) // nothing read git yet
    const { data } = await octokit.rest.pulls.get({ owner, repo, pull_number: first })
    assert.strictEqual(data.head.sha, next)
    const seen = heads.filter((h) => h.pull === first)
    assert.deepStrictEqual(seen.map((h) => [h.sha, h.index]), [[firstSha, 0], [next, 1]])
    assert.strictEqual(server.requests[seen[1]!.requestsBefore]?.path, `/repos/acme/widgets/pulls/${first}`)
    await octokit.rest.pulls.get({ owner, repo, pull_number: first })
    assert.strictEqual(heads.filter((h) => h.pull === first).length, 2)
    assert.strictEqual(server.pull(owner, repo, first).headSha, next)
    firstSha = next
  })

  it("answers the check runs and the combined status of a sha", async () => {
    const empty = await octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: firstSha })
    assert.deepStrictEqual([empty.data.state, empty.data.total_count, empty.data.sha], ["pending", 0, firstSha])
    server.setCheckRun(owner, repo, firstSha, { name: "test", status: "in_progress" })
    const running = (await octokit.rest.checks.listForRef({ owner, repo, ref: firstSha })).data.check_runs[0]!
    assert.deepStrictEqual([running.status, running.conclusion], ["in_progress", null])
    server.setCheckRun(owner, repo, firstSha, { name: "test", status: "completed", conclusion: "success", title: "42 passed", summary: "all green", detailsUrl: "https://ci/1" })
    server.setCheckRun(owner, repo, firstSha, { name: "lint", status: "completed", conclusion: "failure" })
    const checks = await octokit.rest.checks.listForRef({ owner, repo, ref: "feature-a" }) // a branch resolves to its sha
    assert.strictEqual(checks.data.total_count, 2)
    const [test, lint] = checks.data.check_runs
    assert.deepStrictEqual([test!.id, test!.name, test!.head_sha, test!.status, test!.conclusion, test!.details_url], [running.id, "test", firstSha, "completed", "success", "https://ci/1"])
    assert.deepStrictEqual([test!.output.title, test!.output.summary, lint!.conclusion], ["42 passed", "all green", "failure"])
    assert.deepStrictEqual((await octokit.rest.checks.listForRef({ owner, repo, ref: firstSha, check_name: "lint" })).data.check_runs.map((r) => r.name), ["lint"])

    server.setStatus(owner, repo, firstSha, { context: "ci/build", state: "pending" })
    server.setStatus(owner, repo, firstSha, { context: "ci/deploy", state: "success", description: "ok", targetUrl: "https://ci/2" })
    assert.strictEqual((await octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: firstSha })).data.state, "pending")
    server.setStatus(owner, repo, firstSha, { context: "ci/build", state: "success" })
    const green = await octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: firstSha })
    assert.deepStrictEqual([green.data.state, green.data.total_count, green.data.statuses[1]?.target_url], ["success", 2, "https://ci/2"])
    server.setStatus(owner, repo, firstSha, { context: "ci/security", state: "error" })
    assert.strictEqual((await octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: firstSha })).data.state, "failure")
    assert.strictEqual((await failure(octokit.rest.checks.listForRef({ owner, repo, ref: "no-such-ref" }))).status, 422)
  })

  it("answers 304 to a matching If-None-Match, free of the rate limit", async () => {
    const fresh = await octokit.rest.pulls.get({ owner, repo, pull_number: first })
    const etag = fresh.headers.etag!
    assert.match(etag, /^W\/"[0-9a-f]{64}"$/)
    const notModified = await failure(octokit.rest.pulls.get({ owner, repo, pull_number: first, headers: { "if-none-match": etag } }))
    assert.strictEqual(notModified.status, 304)
    assert.strictEqual(notModified.message, "Not modified")
    assert.strictEqual(notModified.response?.headers.etag, etag)
    assert.strictEqual(notModified.response?.data, "")
    assert.strictEqual(remainingOf(notModified.response?.headers), remainingOf(fresh.headers))
    assert.strictEqual(server.requests.at(-1)?.status, 304)
    assert.match(logged.at(-1)!, new RegExp(`^GET /repos/acme/widgets/pulls/${first} - 304 with id SCRIPTED-${server.requests.length - 1} in \\d+ms$`))
    await octokit.rest.pulls.update({ owner, repo, pull_number: first, title: "Add a (v2)" })
    const changed = await octokit.rest.pulls.get({ owner, repo, pull_number: first, headers: { "if-none-match": etag } })
    assert.strictEqual(changed.data.title, "Add a (v2)")
    assert.notStrictEqual(changed.headers.etag, etag)
  })

  it("lists reviews and their comments in order", async () => {
    const changes = server.addReview(owner, repo, first, { user: "rev", state: "CHANGES_REQUESTED", body: "fix it", commitId: firstSha, comments: [{ path: "a.txt", line: 1, body: "typo" }, { path: "a2.txt", line: 1, body: "why?" }] })
    const note = server.addReview(owner, repo, first, { user: "other", state: "COMMENTED", body: "looks fine", commitId: firstSha })
    const reviews = (await octokit.rest.pulls.listReviews({ owner, repo, pull_number: first })).data
    assert.deepStrictEqual(reviews.map((r) => [r.id, r.user?.login, r.state, r.body, r.commit_id]), [[changes, "rev", "CHANGES_REQUESTED", "fix it", firstSha], [note, "other", "COMMENTED", "looks fine", firstSha]])
    assert.isString(reviews[0]!.submitted_at)
    const comments = (await octokit.rest.pulls.listReviewComments({ owner, repo, pull_number: first })).data
    assert.deepStrictEqual(comments.map((c) => [c.pull_request_review_id, c.path, c.line, c.body, c.user.login]), [[changes, "a.txt", 1, "typo", "rev"], [changes, "a2.txt", 1, "why?", "rev"]])
  })

  it("merges only the reviewed head, with an approval when required, and moves the base branch", async () => {
    server.requireApproval(owner, repo, true)
    const wrongSha = await failure(octokit.rest.pulls.merge({ owner, repo, pull_number: first, sha: "0".repeat(40) }))
    assert.deepStrictEqual([wrongSha.status, messageOf(wrongSha)], [409, "Head branch was modified. Review and try the merge again."])
    const unapproved = await failure(octokit.rest.pulls.merge({ owner, repo, pull_number: first, sha: firstSha }))
    assert.deepStrictEqual([unapproved.status, messageOf(unapproved)], [405, "At least 1 approving review is required by reviewers with write access."])
    assert.strictEqual((await octokit.rest.pulls.get({ owner, repo, pull_number: first })).data.mergeable_state, "blocked")
    server.addReview(owner, repo, first, { user: "rev", state: "APPROVED", body: "", commitId: "1".repeat(40) }) // an older head
    assert.strictEqual((await failure(octokit.rest.pulls.merge({ owner, repo, pull_number: first, sha: firstSha }))).status, 405)
    server.addReview(owner, repo, first, { user: "rev", state: "APPROVED", body: "lgtm", commitId: firstSha })

    const before = inBare("rev-parse", "main")
    const merged = await octokit.rest.pulls.merge({ owner, repo, pull_number: first, sha: firstSha, merge_method: "merge" })
    assert.deepStrictEqual(merged.data, { sha: merged.data.sha, merged: true, message: "Pull Request successfully merged" })
    assert.strictEqual(inBare("rev-parse", "main"), merged.data.sha)
    assert.strictEqual(inBare("rev-list", "--parents", "-n", "1", merged.data.sha), `${merged.data.sha} ${before} ${firstSha}`)
    assert.strictEqual(inBare("rev-parse", `${merged.data.sha}^{tree}`), inBare("merge-tree", "--write-tree", before, firstSha))
    const after = (await octokit.rest.pulls.get({ owner, repo, pull_number: first })).data
    assert.deepStrictEqual([after.state, after.merged, after.merge_commit_sha, after.mergeable], ["closed", true, merged.data.sha, null])
    assert.isString(after.merged_at)
    assert.strictEqual((await failure(octokit.rest.pulls.merge({ owner, repo, pull_number: first }))).status, 405)
    assert.strictEqual((await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}/merge", { owner, repo, pull_number: first })).status, 204)
    server.requireApproval(owner, repo, false)
  })

  it("squashes; a conflicting pull request is unmergeable and refused", async () => {
    const one = push("conflict-1", "origin/main", { "shared.txt": "one\nTWO (first)\nthree\n" })
    const two = push("conflict-2", "origin/main", { "shared.txt": "one\nTWO (second)\nthree\n" })
    const [p1, p2] = [(await octokit.rest.pulls.create({ owner, repo, title: "c1", head: "conflict-1", base: "main" })).data, (await octokit.rest.pulls.create({ owner, repo, title: "c2", head: "conflict-2", base: "main", body: "second" })).data]
    assert.deepStrictEqual([p1.mergeable, p2.mergeable], [true, true])
    const before = inBare("rev-parse", "main")
    const squashed = (await octokit.rest.pulls.merge({ owner, repo, pull_number: p1.number, sha: one, merge_method: "squash" })).data.sha
    assert.strictEqual(inBare("rev-list", "--parents", "-n", "1", "main"), `${squashed} ${before}`)
    assert.strictEqual(inBare("show", "-s", "--format=%s", squashed), `c1 (#${p1.number})`)
    assert.strictEqual(inBare("show", `${squashed}:shared.txt`), "one\nTWO (first)\nthree")
    const stale = (await octokit.rest.pulls.get({ owner, repo, pull_number: p2.number })).data
    assert.deepStrictEqual([stale.mergeable, stale.mergeable_state, stale.head.sha], [false, "dirty", two])
    const refused = await failure(octokit.rest.pulls.merge({ owner, repo, pull_number: p2.number, sha: two }))
    assert.deepStrictEqual([refused.status, messageOf(refused)], [405, "Pull Request is not mergeable"])
    assert.strictEqual(inBare("rev-parse", "main"), squashed)
  })

  it("closes, reopens, and lets a human close or merge; deleting the head branch closes it", async () => {
    const b = server.pulls(owner, repo).find((p) => p.head === "feature-b")!.number
    assert.strictEqual((await octokit.rest.pulls.update({ owner, repo, pull_number: b, state: "closed" })).data.state, "closed")
    assert.strictEqual((await octokit.rest.pulls.update({ owner, repo, pull_number: b, state: "open", body: "again" })).data.state, "open")
    assert.deepStrictEqual([server.pull(owner, repo, b).state, server.pull(owner, repo, b).body], ["open", "again"])
    server.closePull(owner, repo, b)
    assert.strictEqual((await octokit.rest.pulls.get({ owner, repo, pull_number: b })).data.state, "closed")
    assert.throws(() => server.mergePull(owner, repo, b), /not mergeable/)
    await octokit.rest.pulls.update({ owner, repo, pull_number: b, state: "open" })
    const sha = server.mergePull(owner, repo, b, "squash")
    assert.deepStrictEqual([inBare("rev-parse", "main"), server.pull(owner, repo, b).merged, server.pull(owner, repo, b).mergeCommitSha], [sha, true, sha])
    push("doomed", "origin/main", { "d.txt": "d\n" })
    const doomed = (await octokit.rest.pulls.create({ owner, repo, title: "d", head: "doomed", base: "main" })).data.number
    inBare("update-ref", "-d", "refs/heads/doomed")
    assert.deepStrictEqual([(await octokit.rest.pulls.get({ owner, repo, pull_number: doomed })).data.state, server.pull(owner, repo, doomed).merged], ["closed", false])
  })

  it("lists, edits, comments on, labels and assigns issues", async () => {
    const bug = server.addIssue(owner, repo, { title: "Crash", body: "boom", labels: ["bug", "ready"] })
    const idea = server.addIssue(owner, repo, { title: "Idea", body: "maybe", labels: ["ready"] })
    const chore = server.addIssue(owner, repo, { title: "Chore", body: "later" })
    const ready = (await octokit.rest.issues.listForRepo({ owner, repo, labels: "ready" })).data
    assert.deepStrictEqual(ready.map((i) => i.number), [idea, bug])
    const both = (await octokit.rest.issues.listForRepo({ owner, repo, labels: "bug,ready" })).data
    assert.deepStrictEqual(both.map((i) => [i.number, i.title, i.body, i.state, i.labels.map((l) => (typeof l === "string" ? l : l.name))]), [[bug, "Crash", "boom", "open", ["bug", "ready"]]])
    const everything = await octokit.paginate(octokit.rest.issues.listForRepo, { owner, repo, per_page: 2 }) // pull requests too, as on GitHub
    assert.deepStrictEqual(everything.filter((i) => i.pull_request === undefined).map((i) => i.number), [chore, idea, bug])

    const comment = await octokit.rest.issues.createComment({ owner, repo, issue_number: bug, body: "on it" })
    assert.deepStrictEqual([comment.status, comment.data.body], [201, "on it"])
    const labels = await octokit.rest.issues.addLabels({ owner, repo, issue_number: bug, labels: ["in progress", "bug"] })
    assert.deepStrictEqual([labels.status, labels.data.map((l) => l.name)], [200, ["bug", "ready", "in progress"]])
    assert.deepStrictEqual((await octokit.rest.issues.removeLabel({ owner, repo, issue_number: bug, name: "in progress" })).data.map((l) => l.name), ["bug", "ready"])
    assert.strictEqual((await failure(octokit.rest.issues.removeLabel({ owner, repo, issue_number: bug, name: "absent" }))).status, 404)
    const assigned = await octokit.rest.issues.addAssignees({ owner, repo, issue_number: bug, assignees: ["ann", "bob"] })
    assert.deepStrictEqual([assigned.status, assigned.data.assignees?.map((a) => a.login), assigned.data.assignee?.login], [201, ["ann", "bob"], "ann"])
    assert.deepStrictEqual((await octokit.rest.issues.listForRepo({ owner, repo, assignee: "bob" })).data.map((i) => i.number), [bug])
    const unassigned = await octokit.rest.issues.removeAssignees({ owner, repo, issue_number: bug, assignees: ["ann"] })
    assert.deepStrictEqual([unassigned.status, unassigned.data.assignees?.map((a) => a.login)], [200, ["bob"]])

    const closed = await octokit.rest.issues.update({ owner, repo, issue_number: bug, title: "Crash on start", state: "closed", state_reason: "not_planned" })
    assert.deepStrictEqual([closed.data.title, closed.data.state, closed.data.state_reason], ["Crash on start", "closed", "not_planned"])
    assert.deepStrictEqual(server.issue(owner, repo, bug), { number: bug, title: "Crash on start", body: "boom", state: "closed", stateReason: "not_planned", labels: ["bug", "ready"], assignees: ["bob"], comments: ["on it"] })
    assert.deepStrictEqual((await octokit.rest.issues.listForRepo({ owner, repo, labels: "bug" })).data, [])
    assert.strictEqual((await octokit.rest.issues.get({ owner, repo, issue_number: bug })).data.state, "closed")
    await octokit.rest.issues.update({ owner, repo, issue_number: bug, state: "open", labels: ["bug"] })
    assert.deepStrictEqual([server.issue(owner, repo, bug).state, server.issue(owner, repo, bug).stateReason, server.issue(owner, repo, bug).labels], ["open", "reopened", ["bug"]])
  })

  it("creates issues; lists pull requests among the issues (with pull_request), labelled through the issues API; comments by others", async () => {
    const created = await octokit.rest.issues.create({ owner, repo, title: "New", body: "from the API", labels: ["queue"] })
    assert.deepStrictEqual([created.status, created.data.title, created.data.body, created.data.state, created.data.labels.map((l) => (typeof l === "string" ? l : l.name))], [201, "New", "from the API", "open", ["queue"]])
    assert.deepStrictEqual(server.issue(owner, repo, created.data.number).labels, ["queue"])
    assert.strictEqual((await failure(octokit.request(`POST /repos/${owner}/${repo}/issues`, { body: "no title" }))).status, 422)
    const pull = server.pulls(owner, repo).find((p) => p.state === "open") ?? assert.fail("no open pull request")
    const labels = await octokit.rest.issues.addLabels({ owner, repo, issue_number: pull.number, labels: ["queue"] }) // a label no one created: GitHub creates it
    assert.deepStrictEqual(labels.data.map((l) => l.name), ["queue"])
    assert.deepStrictEqual((await octokit.rest.pulls.get({ owner, repo, pull_number: pull.number })).data.labels.map((l) => l.name), ["queue"])
    const listed = (await octokit.rest.issues.listForRepo({ owner, repo, labels: "queue", state: "all" })).data
    assert.deepStrictEqual(listed.map((i) => [i.number, i.pull_request === undefined]), [[created.data.number, true], [pull.number, false]].sort((a, b) => Number(b[0]) - Number(a[0])))
    const asIssue = listed.find((i) => i.number === pull.number)!
    assert.deepStrictEqual([asIssue.title, asIssue.state, asIssue.pull_request?.url], [pull.title, "open", `${server.url}/repos/${owner}/${repo}/pulls/${pull.number}`])
    assert.deepStrictEqual((await octokit.rest.issues.removeLabel({ owner, repo, issue_number: pull.number, name: "queue" })).data, [])
    server.addComment(owner, repo, created.data.number, { body: "drive-by", user: "stranger" })
    await octokit.rest.issues.createComment({ owner, repo, issue_number: created.data.number, body: "mine" })
    const comments = (await octokit.rest.issues.listComments({ owner, repo, issue_number: created.data.number })).data
    assert.deepStrictEqual(comments.map((c) => [c.body, c.user?.login]), [["drive-by", "stranger"], ["mine", "oompa"]])
  })

  it("creates a ref only once (the atomic claim), reads and deletes it", async () => {
    const main = inBare("rev-parse", "main")
    const created = await octokit.rest.git.createRef({ owner, repo, ref: "refs/oompa/claims/task-1", sha: main })
    assert.deepStrictEqual([created.status, created.data.ref, created.data.object.sha, created.data.object.type], [201, "refs/oompa/claims/task-1", main, "commit"])
    assert.strictEqual(inBare("rev-parse", "refs/oompa/claims/task-1"), main)
    const again = await failure(octokit.rest.git.createRef({ owner, repo, ref: "refs/oompa/claims/task-1", sha: main }))
    assert.deepStrictEqual([again.status, again.response?.data], [422, { message: "Reference already exists" }])
    const race = await Promise.allSettled([1, 2].map(() => octokit.rest.git.createRef({ owner, repo, ref: "refs/oompa/claims/task-2", sha: main })))
    assert.deepStrictEqual(race.map((r) => (r.status === "fulfilled" ? r.value.status : (r.reason as RequestError).status)).sort(), [201, 422])
    assert.strictEqual((await failure(octokit.rest.git.createRef({ owner, repo, ref: "refs/oompa/x", sha: "f".repeat(40) }))).status, 422)

    assert.strictEqual((await octokit.rest.git.getRef({ owner, repo, ref: "oompa/claims/task-1" })).data.object.sha, main)
    assert.strictEqual((await octokit.rest.git.deleteRef({ owner, repo, ref: "oompa/claims/task-1" })).status, 204)
    assert.strictEqual((await failure(octokit.rest.git.getRef({ owner, repo, ref: "oompa/claims/task-1" }))).status, 404)
    const gone = await failure(octokit.rest.git.deleteRef({ owner, repo, ref: "oompa/claims/task-1" }))
    assert.deepStrictEqual([gone.status, messageOf(gone)], [422, "Reference does not exist"])
  })
})

describe("scripted GitHub's failures", () => {
  it("spends the rate limit, answers 403 at zero, refills at the reset", async () => {
    const limited = await startScriptedGitHub({ rateLimit: 2 })
    try {
      limited.addRepo(owner, repo, { bare })
      const client = new Octokit({ auth: limited.token, baseUrl: limited.url, log })
      const one = await client.rest.repos.get({ owner, repo })
      assert.deepStrictEqual([one.headers["x-ratelimit-limit"], one.headers["x-ratelimit-remaining"], one.headers["x-ratelimit-used"]], ["2", "1", "1"])
      assert.approximately(Number(one.headers["x-ratelimit-reset"]), Date.now() / 1000 + 3600, 5)
      await client.rest.repos.get({ owner, repo })
      const spent = await failure(client.rest.repos.get({ owner, repo }))
      assert.deepStrictEqual([spent.status, messageOf(spent), remainingOf(spent.response?.headers)], [403, "API rate limit exceeded for user.", 0])

      limited.exhaustRateLimit(1)
      const exhausted = await failure(client.rest.repos.get({ owner, repo }))
      assert.deepStrictEqual([exhausted.status, remainingOf(exhausted.response?.headers)], [403, 0])
      assert.isAtMost(Number(exhausted.response?.headers["x-ratelimit-reset"]), Math.ceil(Date.now() / 1000) + 2)
      await new Promise((done) => setTimeout(done, 1100))
      assert.strictEqual(remainingOf((await client.rest.repos.get({ owner, repo })).headers), 1)
      assert.deepStrictEqual(limited.requests.map((r) => r.status), [200, 200, 403, 403, 200])
    } finally {
      await limited.close()
    }
  })

  it("fails the next requests on demand, without spending the rate limit", async () => {
    const before = remainingOf((await octokit.rest.repos.get({ owner, repo })).headers)
    server.failNext(1)
    const once = await failure(octokit.rest.repos.get({ owner, repo }))
    assert.deepStrictEqual([once.status, once.response?.data], [502, { message: "Server Error" }])
    server.failNext(2, 503)
    assert.strictEqual((await failure(octokit.rest.issues.listForRepo({ owner, repo }))).status, 503)
    assert.strictEqual((await failure(octokit.rest.repos.get({ owner, repo }))).status, 503)
    assert.strictEqual(remainingOf((await octokit.rest.repos.get({ owner, repo })).headers), before - 1)
    assert.deepStrictEqual(server.requests.slice(-4).map((r) => [r.method, r.path, r.status]), [["GET", "/repos/acme/widgets", 502], ["GET", "/repos/acme/widgets/issues", 503], ["GET", "/repos/acme/widgets", 503], ["GET", "/repos/acme/widgets", 200]])
  })

  it("refuses a bad token (401), hides an unknown repository (404), rejects bad JSON (400)", async () => {
    const stranger = await failure(new Octokit({ auth: "wrong", baseUrl: server.url, log }).rest.repos.get({ owner, repo }))
    assert.deepStrictEqual([stranger.status, stranger.response?.data], [401, { message: "Bad credentials" }])
    assert.strictEqual((await failure(new Octokit({ baseUrl: server.url, log }).rest.repos.get({ owner, repo }))).status, 401)
    const unknown = await failure(octokit.rest.repos.get({ owner, repo: "secret" }))
    assert.deepStrictEqual([unknown.status, unknown.response?.data], [404, { message: "Not Found" }])
    assert.strictEqual((await failure(octokit.request("GET /repos/{owner}/{repo}/wikis", { owner, repo }))).status, 404)
    const bearer = await fetch(`${server.url}/repos/${owner}/${repo}`, { headers: { authorization: `Bearer ${server.token}` } })
    assert.strictEqual(bearer.status, 200)
    const broken = await fetch(`${server.url}/repos/${owner}/${repo}/pulls`, { method: "POST", headers: { authorization: `token ${server.token}` }, body: "{not json" })
    assert.strictEqual(broken.status, 400)
  })
})
