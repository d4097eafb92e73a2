/**
 * The parts of the scripted GitHub (server.ts) below its request loop: the git plumbing it runs in
 * a repository's bare git directory, synchronously (`execFileSync`, cwd and GIT_DIR the bare
 * folder, a fixed "GitHub" identity for the commits it writes, never a work tree or an index); the
 * state it keeps per repository; the error answers and body readers of its routes; the JSON shapes
 * of GitHub's objects; and the routes that are git alone (`commits/{ref}/...`, `git/refs`).
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import type { CheckRunInput, IssueRecord, PullRecord, ReviewInput, StatusInput } from "./server.ts"

// ---------------------------------------------------------------------------------------------
// Git
// ---------------------------------------------------------------------------------------------

export interface GitResult {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

const identity = {
  GIT_AUTHOR_NAME: "GitHub",
  GIT_AUTHOR_EMAIL: "noreply@github.com",
  GIT_COMMITTER_NAME: "GitHub",
  GIT_COMMITTER_EMAIL: "noreply@github.com"
}

/** Runs git in `bare`; a non-zero exit is returned, not thrown (a missing git binary still throws). */
export const runGit = (bare: string, args: ReadonlyArray<string>): GitResult => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...identity, GIT_DIR: bare }
  delete env["GIT_WORK_TREE"]
  delete env["GIT_INDEX_FILE"]
  try {
    const stdout = execFileSync("git", args, { cwd: bare, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    return { status: 0, stdout, stderr: "" }
  } catch (error) {
    const failed = error as { readonly status?: number | null; readonly stdout?: string; readonly stderr?: string }
    if (typeof failed.status !== "number") throw error
    return { status: failed.status, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" }
  }
}

/** Like runGit, but a non-zero exit throws with git's stderr. */
const mustGit = (bare: string, args: ReadonlyArray<string>): string => {
  const result = runGit(bare, args)
  if (result.status !== 0) throw new Error(`git ${args.join(" ")} (in ${bare}) exited ${result.status}: ${result.stderr.trim()}`)
  return result.stdout.trim()
}

/** The sha a full ref name (`refs/heads/main`) points at, or null when there is no such ref. */
export const readRef = (bare: string, ref: string): string | null => {
  if (!ref.startsWith("refs/")) return null
  const result = runGit(bare, ["show-ref", "--verify", "--hash", ref])
  return result.status === 0 ? result.stdout.trim() : null
}

/** The commit a revision (sha, short sha, branch) names, or null. Options are never taken from input. */
export const resolveCommit = (bare: string, rev: string): string | null => {
  if (rev === "" || rev.startsWith("-")) return null
  const result = runGit(bare, ["rev-parse", "--verify", "--quiet", `${rev}^{commit}`])
  return result.status === 0 ? result.stdout.trim() : null
}

/** `commit`, `tree`, `blob` or `tag` for an object that exists; null otherwise. */
export const objectType = (bare: string, sha: string): string | null => {
  if (!/^[0-9a-f]{4,64}$/.test(sha)) return null
  const result = runGit(bare, ["cat-file", "-t", sha])
  return result.status === 0 ? result.stdout.trim() : null
}

/** Whether `ref` is a well-formed full ref name (`git check-ref-format`), under refs/ with two levels. */
export const validRefName = (bare: string, ref: string): boolean =>
  /^refs\/[^/]+\/.+/.test(ref) && runGit(bare, ["check-ref-format", ref]).status === 0

/** How many commits `head` has that `base` does not (`rev-list --count base..head`). */
export const commitsAhead = (bare: string, base: string, head: string): number => Number(mustGit(bare, ["rev-list", "--count", `${base}..${head}`]))

/**
 * The tree of merging `head` into `base` (`git merge-tree --write-tree`, git >= 2.38), or null when
 * they conflict (exit 1) or cannot be merged at all (no common history, a missing commit).
 */
export const mergeTree = (bare: string, base: string, head: string): string | null => {
  const result = runGit(bare, ["merge-tree", "--write-tree", "--no-messages", base, head])
  if (result.status !== 0) return null
  return result.stdout.split("\n")[0]!.trim()
}

/** A new commit of `tree` with `parents`, written by "GitHub"; its sha. */
export const commitTree = (bare: string, tree: string, parents: ReadonlyArray<string>, message: string): string =>
  mustGit(bare, ["commit-tree", tree, ...parents.flatMap((p) => ["-p", p]), "-m", message])

/**
 * Compare-and-swap of a ref: sets `ref` to `next` only if it is `old` now (`""` = only if it does not
 * exist yet). False when the ref was elsewhere (or git refused, e.g. a missing object).
 */
export const updateRef = (bare: string, ref: string, next: string, old: string): boolean =>
  runGit(bare, ["update-ref", ref, next, old]).status === 0

/** Deletes `ref` (only if it is at `old`, when given); false when it did not exist. */
export const deleteRef = (bare: string, ref: string, old?: string): boolean =>
  runGit(bare, ["update-ref", "-d", ref, ...(old === undefined ? [] : [old])]).status === 0

/** Whether `ancestor` is reachable from `descendant` (a fast-forward from the one to the other). */
export const isAncestor = (bare: string, ancestor: string, descendant: string): boolean =>
  runGit(bare, ["merge-base", "--is-ancestor", ancestor, descendant]).status === 0

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

export interface Review { readonly id: number; readonly input: ReviewInput; readonly submittedAt: string; readonly commentIds: ReadonlyArray<number> }
export interface Pull { readonly record: PullRecord; readonly id: number; readonly createdAt: string; updatedAt: string; closedAt: string | null; mergedAt: string | null; readonly seen: Set<string>; readonly reviews: Array<Review> }
export interface Issue { readonly record: IssueRecord; readonly id: number; readonly createdAt: string; updatedAt: string; closedAt: string | null; readonly commentIds: Array<number>; readonly commentUsers: Array<string> }
export interface CheckRun { readonly id: number; input: CheckRunInput; readonly startedAt: string; completedAt: string | null }
export interface Status { readonly id: number; input: StatusInput; readonly createdAt: string; updatedAt: string }
export interface Repo {
  readonly owner: string
  readonly name: string
  readonly bare: string
  readonly defaultBranch: string
  readonly id: number
  nextNumber: number /* shared by pull requests and issues, as on GitHub */
  approvalRequired: boolean
  readonly pulls: Map<number, Pull>
  readonly issues: Map<number, Issue>
  readonly checks: Map<string, Array<CheckRun>>
  readonly statuses: Map<string, Array<Status>>
}

/** Inserts `input` in `map`'s list for `sha`, or updates the item it is the `same` as. */
export const upsert = <A extends { input: I }, I>(map: Map<string, Array<A>>, sha: string, same: (a: A) => boolean, input: I, create: () => A, update: (a: A) => void) => {
  const items = map.get(sha) ?? []
  map.set(sha, items)
  const found = items.find(same)
  if (found === undefined) items.push(create())
  else (found.input = input), update(found)
}

/** A new open issue (numbered as the repository's next pull request or issue). */
export const addIssue = (repo: Repo, id: number, title: string, body: string, labels: ReadonlyArray<string>): Issue => {
  const record: IssueRecord = { number: repo.nextNumber++, title, body, state: "open", stateReason: null, labels: unique(labels), assignees: [], comments: [] }
  const issue = { record, id, createdAt: now(), updatedAt: now(), closedAt: null, commentIds: [], commentUsers: [] }
  return repo.issues.set(record.number, issue), issue
}

/** Whether some reviewer's latest deciding (not COMMENTED) review approves the current head. */
export const approved = (pull: Pull): boolean => {
  const latest = new Map<string, Review>()
  for (const review of pull.reviews) if (review.input.state !== "COMMENTED") latest.set(review.input.user, review)
  return [...latest.values()].some((review) => review.input.state === "APPROVED" && review.input.commitId === pull.record.headSha)
}

// ---------------------------------------------------------------------------------------------
// Requests and answers
// ---------------------------------------------------------------------------------------------

export interface Req { readonly method: string; readonly pathname: string; readonly segments: ReadonlyArray<string>; readonly query: URLSearchParams; readonly body: Record<string, unknown> }
export interface Reply { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }

/** An answer other than 2xx, thrown out of a route. */
export class HttpError extends Error {
  readonly status: number
  readonly body: unknown
  constructor(status: number, body: { readonly message: string; readonly errors?: ReadonlyArray<unknown> }) {
    super(body.message)
    this.status = status
    this.body = body
  }
}
export const fail = (status: number, message: string, errors?: ReadonlyArray<unknown>): never => {
  throw new HttpError(status, errors === undefined ? { message } : { message, errors })
}
export const notFound = (): never => fail(404, "Not Found")
/** 422 "Validation Failed" with one error of `resource`: `{code: "custom", message}`, or `{field, code: "invalid"}`. */
export const invalid = (resource: string, message: string, field?: string): never =>
  fail(422, "Validation Failed", [field === undefined ? { resource, code: "custom", message } : { resource, field, code: "invalid" }])
export const missing = (key: string): never => fail(422, `Invalid request.\n\n"${key}" wasn't supplied.`)

/** GitHub's timestamps: ISO 8601 to the second. */
export const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")
export const unique = (items: ReadonlyArray<string>) => [...new Set(items)]

/** A string field of a JSON body (undefined when absent or null); 422 when it is another type. */
export const text = (body: Record<string, unknown>, key: string): string | undefined => {
  const value = body[key]
  if (value === undefined || value === null) return undefined
  return typeof value === "string" ? value : fail(422, `Invalid request.\n\nFor 'properties/${key}', ${JSON.stringify(value)} is not a string.`)
}
/** A list of names (`["a"]` or `[{name: "a"}]`), or undefined. */
export const names = (body: Record<string, unknown>, key: string): Array<string> | undefined => {
  const value = body[key]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) return fail(422, `Invalid request.\n\nFor 'properties/${key}', ${JSON.stringify(value)} is not an array.`)
  return value.map((item: unknown) => {
    const name = typeof item === "object" && item !== null ? (item as { readonly name?: unknown }).name : item
    return typeof name === "string" ? name : fail(422, `Invalid request.\n\nFor 'items', ${JSON.stringify(item)} is not a string.`)
  })
}

/** One page of `items` (`per_page` default 30, at most 100; `page` from 1) and GitHub's `link` header. */
export const paginate = <A>(url: string, req: Req, items: ReadonlyArray<A>): { readonly items: ReadonlyArray<A>; readonly headers: Record<string, string> } => {
  const perPage = Math.min(100, Math.max(1, Math.floor(Number(req.query.get("per_page") ?? 30)) || 30))
  const page = Math.max(1, Math.floor(Number(req.query.get("page") ?? 1)) || 1)
  const last = Math.max(1, Math.ceil(items.length / perPage))
  const link = (to: number, rel: string) => {
    const query = new URLSearchParams(req.query)
    query.set("page", String(to))
    return `<${url}${req.pathname}?${query}>; rel="${rel}"`
  }
  const links = [...(page > 1 ? [link(page - 1, "prev"), link(1, "first")] : []), ...(page < last ? [link(page + 1, "next"), link(last, "last")] : [])]
  return { items: items.slice((page - 1) * perPage, page * perPage), headers: links.length > 0 ? { link: links.join(", ") } : {} }
}

// ---------------------------------------------------------------------------------------------
// JSON shapes (the fields GitHub documents that code reads; `url` is the server's)
// ---------------------------------------------------------------------------------------------

export const user = (login: string) => ({ login, id: Number.parseInt(sha256(login).slice(0, 7), 16), type: "User" })
const label = (name: string) => ({ id: Number.parseInt(sha256(`label:${name}`).slice(0, 7), 16), name, color: "ededed", default: false, description: null })
export const labelsJson = (names: ReadonlyArray<string>) => names.map(label)

export const repoJson = (url: string, repo: Repo) => ({
  id: repo.id,
  node_id: `R_${repo.id}`,
  name: repo.name,
  full_name: `${repo.owner}/${repo.name}`,
  owner: user(repo.owner),
  private: false,
  html_url: `${url}/${repo.owner}/${repo.name}`,
  url: `${url}/repos/${repo.owner}/${repo.name}`,
  default_branch: repo.defaultBranch,
  permissions: { admin: false, push: true, pull: true }
})

/** A pull request as the list gives it; `full` adds what only the single GET has (merged, mergeable). */
export const pullJson = (url: string, repo: Repo, pull: Pull, full: boolean) => {
  const record = pull.record
  const baseSha = readRef(repo.bare, `refs/heads/${record.base}`)
  const branch = (ref: string) => ({ label: `${repo.owner}:${ref}`, ref, user: user(repo.owner), repo: repoJson(url, repo) })
  const json = {
    url: `${url}/repos/${repo.owner}/${repo.name}/pulls/${record.number}`,
    id: pull.id,
    node_id: `PR_${pull.id}`,
    html_url: `${url}/${repo.owner}/${repo.name}/pull/${record.number}`,
    number: record.number,
    state: record.state,
    locked: false,
    title: record.title,
    body: record.body,
    user: user("oompa"),
    labels: labelsJson(record.labels),
    draft: false,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: pull.closedAt,
    merged_at: pull.mergedAt,
    merge_commit_sha: record.mergeCommitSha,
    head: { ...branch(record.head), sha: record.headSha },
    base: { ...branch(record.base), sha: baseSha }
  }
  if (!full) return json
  const clean = record.state === "open" && baseSha !== null ? mergeTree(repo.bare, baseSha, record.headSha) !== null : null
  const mergeableState = clean === null ? "unknown" : !clean ? "dirty" : repo.approvalRequired && !approved(pull) ? "blocked" : "clean"
  const reviewComments = pull.reviews.reduce((sum, review) => sum + review.commentIds.length, 0)
  return { ...json, merged: record.merged, mergeable: clean, mergeable_state: mergeableState, merged_by: record.merged ? user("oompa") : null, review_comments: reviewComments }
}

export const reviewJson = (url: string, repo: Repo, pull: Pull, review: Review) => ({
  id: review.id,
  node_id: `PRR_${review.id}`,
  user: user(review.input.user),
  body: review.input.body,
  state: review.input.state,
  commit_id: review.input.commitId,
  author_association: review.input.association ?? "COLLABORATOR",
  submitted_at: review.submittedAt,
  html_url: `${url}/${repo.owner}/${repo.name}/pull/${pull.record.number}#pullrequestreview-${review.id}`
})

export const reviewCommentsJson = (url: string, repo: Repo, pull: Pull, review: Review) =>
  (review.input.comments ?? []).map((comment, i) => ({
    id: review.commentIds[i]!,
    pull_request_review_id: review.id,
    path: comment.path,
    line: comment.line,
    original_line: comment.line,
    side: "RIGHT",
    body: comment.body,
    commit_id: review.input.commitId,
    original_commit_id: review.input.commitId,
    user: user(review.input.user),
    created_at: review.submittedAt,
    html_url: `${url}/${repo.owner}/${repo.name}/pull/${pull.record.number}#discussion_r${review.commentIds[i]!}`
  }))

export const issueJson = (url: string, repo: Repo, issue: Issue) => {
  const record = issue.record
  return {
    url: `${url}/repos/${repo.owner}/${repo.name}/issues/${record.number}`,
    id: issue.id,
    node_id: `I_${issue.id}`,
    html_url: `${url}/${repo.owner}/${repo.name}/issues/${record.number}`,
    number: record.number,
    title: record.title,
    body: record.body,
    state: record.state,
    state_reason: record.stateReason,
    user: user("oompa"),
    labels: labelsJson(record.labels),
    assignee: record.assignees[0] === undefined ? null : user(record.assignees[0]),
    assignees: record.assignees.map(user),
    comments: record.comments.length,
    created_at: issue.createdAt,
    updated_at: issue.updatedAt,
    closed_at: issue.closedAt
  }
}

/** A pull request as the issues list gives it: an issue with `pull_request`. */
export const pullIssueJson = (url: string, repo: Repo, pull: Pull) => {
  const r = pull.record
  const html = `${url}/${repo.owner}/${repo.name}/pull/${r.number}`
  const pullRequest = { url: `${url}/repos/${repo.owner}/${repo.name}/pulls/${r.number}`, html_url: html, diff_url: `${html}.diff`, patch_url: `${html}.patch`, merged_at: pull.mergedAt }
  const issue = { record: { ...r, stateReason: null, assignees: [], comments: [] }, id: pull.id, createdAt: pull.createdAt, updatedAt: pull.updatedAt, closedAt: pull.closedAt, commentIds: [], commentUsers: [] }
  return { ...issueJson(url, repo, issue), html_url: html, pull_request: pullRequest }
}

const checkRunJson = (url: string, repo: Repo, sha: string, run: CheckRun) => ({
  id: run.id,
  name: run.input.name,
  head_sha: sha,
  status: run.input.status,
  conclusion: run.input.status === "completed" ? (run.input.conclusion ?? null) : null,
  details_url: run.input.detailsUrl ?? null,
  html_url: `${url}/${repo.owner}/${repo.name}/runs/${run.id}`,
  started_at: run.startedAt,
  completed_at: run.completedAt,
  output: { title: run.input.title ?? null, summary: run.input.summary ?? null, text: null },
  app: { slug: "scripted-ci" }
})

const statusJson = (status: Status) => ({
  id: status.id,
  context: status.input.context,
  state: status.input.state,
  description: status.input.description ?? null,
  target_url: status.input.targetUrl ?? null,
  created_at: status.createdAt,
  updated_at: status.updatedAt
})

const refJson = (url: string, repo: Repo, ref: string, sha: string, type: string) => ({
  ref,
  node_id: `REF_${sha256(ref).slice(0, 12)}`,
  url: `${url}/repos/${repo.owner}/${repo.name}/git/${ref}`,
  object: { sha, type, url: `${url}/repos/${repo.owner}/${repo.name}/git/${type}s/${sha}` }
})

// ---------------------------------------------------------------------------------------------
// Routes that are git alone (segments after /repos/{o}/{r}); undefined = not one of them
// ---------------------------------------------------------------------------------------------

/** `GET commits/{ref}/check-runs` (`check_name`, `status` filters) and `GET commits/{ref}/status`. */
export const commitsRoute = (url: string, repo: Repo, req: Req, rest: ReadonlyArray<string>): Reply | undefined => {
  const last = rest.at(-1)
  if (rest[0] !== "commits" || rest.length < 3 || req.method !== "GET" || (last !== "check-runs" && last !== "status")) return undefined
  const ref = rest.slice(1, -1).join("/")
  // A sha the test scripted (it need not exist in git), else whatever git resolves the ref to.
  const sha = repo.checks.has(ref) || repo.statuses.has(ref) ? ref : (resolveCommit(repo.bare, ref) ?? fail(422, `No commit found for SHA: ${ref}`))
  if (last === "check-runs") {
    const wanted = (key: string, value: string) => (req.query.get(key) ?? value) === value
    const runs = (repo.checks.get(sha) ?? []).filter((run) => wanted("check_name", run.input.name) && wanted("status", run.input.status))
    const { items, headers } = paginate(url, req, runs)
    return { status: 200, body: { total_count: runs.length, check_runs: items.map((run) => checkRunJson(url, repo, sha, run)) }, headers }
  }
  const statuses = repo.statuses.get(sha) ?? []
  const states = statuses.map((status) => status.input.state)
  const state = states.some((s) => s === "failure" || s === "error") ? "failure" : states.length === 0 || states.includes("pending") ? "pending" : "success"
  const commitUrl = `${url}/repos/${repo.owner}/${repo.name}/commits/${sha}`
  return { status: 200, body: { state, sha, total_count: statuses.length, statuses: statuses.map(statusJson), repository: repoJson(url, repo), commit_url: commitUrl } }
}

/** `POST git/refs`, `GET git/ref/{ref}`, `PATCH git/refs/{ref}` (`force`), `DELETE git/refs/{ref}`. */
export const gitRefsRoute = (url: string, repo: Repo, req: Req, rest: ReadonlyArray<string>): Reply | undefined => {
  const { method, body } = req
  if (rest[0] === "git" && rest[1] === "commits") return gitCommitsRoute(url, repo, req, rest)
  if (rest[0] !== "git" || (rest[1] !== "ref" && rest[1] !== "refs")) return undefined
  if (rest[1] === "refs" && rest.length === 2 && method === "POST") {
    const ref = text(body, "ref") ?? missing("ref")
    const sha = text(body, "sha") ?? missing("sha")
    if (!validRefName(repo.bare, ref)) fail(422, "Reference name is invalid")
    const type = objectType(repo.bare, sha) ?? fail(422, "Object does not exist")
    // Create-only: the old value "" makes git refuse when the ref exists, atomically.
    if (!updateRef(repo.bare, ref, sha, "")) fail(422, "Reference already exists")
    return { status: 201, body: refJson(url, repo, ref, sha, type) }
  }
  if (rest.length < 3) return undefined
  const ref = `refs/${rest.slice(2).join("/")}`
  const sha = readRef(repo.bare, ref)
  if (rest[1] === "ref" && method === "GET") return sha === null ? notFound() : { status: 200, body: refJson(url, repo, ref, sha, objectType(repo.bare, sha) ?? "commit") }
  if (rest[1] === "refs" && method === "DELETE") return sha !== null && deleteRef(repo.bare, ref, sha) ? { status: 204 } : fail(422, "Reference does not exist")
  if (rest[1] === "refs" && method === "PATCH") {
    const next = text(body, "sha") ?? missing("sha")
    if (sha === null) return fail(422, "Reference does not exist")
    const type = objectType(repo.bare, next) ?? fail(422, "Object does not exist")
    if (body["force"] !== true && !isAncestor(repo.bare, sha, next)) fail(422, "Update is not a fast forward")
    if (!updateRef(repo.bare, ref, next, sha)) fail(422, "Reference cannot be updated")
    return { status: 200, body: refJson(url, repo, ref, next, type) }
  }
  return undefined
}

/** `POST git/commits` (`message`, `tree`, `parents`) and `GET git/commits/{sha}`. */
const gitCommitsRoute = (url: string, repo: Repo, req: Req, rest: ReadonlyArray<string>): Reply | undefined => {
  const json = (sha: string) => {
    const [tree, ...parents] = mustGit(repo.bare, ["show", "-s", "--format=%T %P", sha]).trim().split(/\s+/)
    return { sha, url: `${url}/repos/${repo.owner}/${repo.name}/git/commits/${sha}`, tree: { sha: tree }, parents: parents.filter((p) => p !== "").map((p) => ({ sha: p })) }
  }
  if (rest.length === 2 && req.method === "POST") {
    const tree = text(req.body, "tree") ?? missing("tree")
    const parents = names(req.body, "parents") ?? []
    if (objectType(repo.bare, tree) !== "tree" || parents.some((p) => objectType(repo.bare, p) !== "commit")) fail(422, "Tree SHA does not exist")
    return { status: 201, body: json(commitTree(repo.bare, tree, parents, text(req.body, "message") ?? missing("message"))) }
  }
  if (rest.length === 3 && req.method === "GET") return objectType(repo.bare, rest[2]!) === "commit" ? { status: 200, body: json(rest[2]!) } : notFound()
  return undefined
}
