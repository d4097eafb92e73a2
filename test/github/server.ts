/**
 * A scripted GitHub REST API (v3) on loopback, for tests that drive `@octokit/rest` at it through
 * `baseUrl`. Each repository is a real bare git repository on disk: a pull request reads its head
 * from `refs/heads/<branch>` whenever a request renders it (the moment a new head is noticed and
 * `onNewHead` fires), mergeability is `git merge-tree --write-tree`, a merge writes its commit and
 * moves the base branch with a compare-and-swap `update-ref`, and `git/refs` creates and deletes real
 * refs (serverGit.ts). The test scripts what GitHub's other actors do: CI (check runs, commit
 * statuses), reviewers, a human closing or merging, the rate limit running out, flaky 5xx answers.
 *
 * Modelled: token auth (`token`/`Bearer`, else 401), 404 for a repository not added, the core rate
 * limit and its headers (403 once spent, refilled at the reset), a weak ETag on every 200 GET and a
 * free 304 when `if-none-match` matches, pagination (`per_page`, `page`, a `link` header), repos,
 * pulls (list/create/get/update/merge, reviews, review comments), `commits/{ref}/check-runs` and
 * `/status`, issues (list/create/get/update, comments, labels, assignees), `git/refs` (create, get,
 * update, delete), `/rate_limit`; the `head=owner:branch` filter (a bare branch name is silently
 * ignored, as on GitHub); list items without `merged`/`mergeable` (only the single GET has them); a
 * pull request closing when its head branch is deleted; numbers shared by issues and pull requests;
 * labels of pull requests (through the issues API's label routes) and pull requests in the issues
 * list (with `pull_request`); labels created implicitly by adding them (there is no label registry).
 *
 * Not modelled: forks, drafts, webhooks, GraphQL, the secondary rate limit, branch protection
 * beyond "one approving review on the head" (no required checks, no stale-review dismissal), users
 * (every comment the API writes is by `oompa`), `documentation_url` in error bodies, permission checks on
 * assignees, a real rebase (`rebase` lands like `squash`). Requests are answered one at a time, in
 * the order their bodies arrive; nothing is persisted.
 */
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as G from "./serverGit.ts"

export interface CheckRunInput {
  readonly name: string
  readonly status: "queued" | "in_progress" | "completed"
  readonly conclusion?: "success" | "failure" | "neutral" | "cancelled" | "skipped" | "timed_out" | "action_required"
  readonly title?: string
  readonly summary?: string
  readonly detailsUrl?: string
}
export interface StatusInput { readonly context: string; readonly state: "pending" | "success" | "failure" | "error"; readonly description?: string; readonly targetUrl?: string }
export interface ReviewInput {
  readonly user: string
  readonly state: "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED"
  readonly body: string
  readonly commitId: string
  readonly comments?: ReadonlyArray<{ readonly path: string; readonly line: number; readonly body: string }>
  readonly association?: "OWNER" | "MEMBER" | "COLLABORATOR" | "CONTRIBUTOR" | "FIRST_TIME_CONTRIBUTOR" | "NONE" // GitHub's author_association; default COLLABORATOR
}
export interface PullRecord {
  readonly number: number
  title: string
  body: string
  readonly head: string /* branch name */
  readonly base: string
  state: "open" | "closed"
  merged: boolean
  mergeCommitSha: string | null
  headSha: string /* last seen sha of the head branch */
  labels: Array<string>
}
export interface IssueRecord { readonly number: number; title: string; body: string; state: "open" | "closed"; stateReason: string | null; labels: Array<string>; assignees: Array<string>; comments: Array<string> }
export interface RequestRecord { readonly method: string; readonly path: string /* with query */; readonly status: number }
export interface ScriptedGitHub {
  readonly url: string // "http://127.0.0.1:<port>"
  readonly token: string
  readonly requests: Array<RequestRecord>
  close(): Promise<void>
  addRepo(owner: string, repo: string, options: { readonly bare: string; readonly defaultBranch?: string }): void
  setCheckRun(owner: string, repo: string, sha: string, run: CheckRunInput): void // upsert by name for that sha
  setStatus(owner: string, repo: string, sha: string, status: StatusInput): void // upsert by context
  addReview(owner: string, repo: string, pull: number, review: ReviewInput): number // returns review id
  /** A snapshot of the pull request as the server last saw it (no git read). */
  pull(owner: string, repo: string, pull: number): PullRecord
  pulls(owner: string, repo: string): ReadonlyArray<PullRecord>
  closePull(owner: string, repo: string, pull: number): void // a human closes it unmerged
  /** A human merges it: the API's code, without the sha and approval checks (an admin); throws when refused; the sha. */
  mergePull(owner: string, repo: string, pull: number, method?: "merge" | "squash" | "rebase"): string
  /** Called synchronously the first time the server sees a new head sha of a pull request (index 0 = when opened), before the request that saw it is answered. */
  onNewHead(listener: (owner: string, repo: string, pull: PullRecord, sha: string, index: number) => void): void
  requireApproval(owner: string, repo: string, on: boolean): void // merge API refuses (405) without an APPROVED review on the head
  exhaustRateLimit(resetInSeconds: number): void // remaining = 0 until reset
  failNext(count: number, status?: number): void // next `count` requests answer `status` (default 502) with a JSON message
  addIssue(owner: string, repo: string, issue: { readonly title: string; readonly body: string; readonly labels?: ReadonlyArray<string> }): number
  addComment(owner: string, repo: string, number: number, comment: { readonly body: string; readonly user: string }): void // someone else comments
  /** A snapshot of the issue. */
  issue(owner: string, repo: string, number: number): IssueRecord
}

type Listener = (owner: string, repo: string, pull: PullRecord, sha: string, index: number) => void
interface MergeRequest { readonly sha: string | undefined; readonly method: string; readonly title: string | undefined; readonly message: string | undefined; readonly api: boolean }

const pullSnapshot = (pull: G.Pull): PullRecord => ({ ...pull.record })
const issueSnapshot = ({ record }: G.Issue): IssueRecord => ({ ...record, labels: [...record.labels], assignees: [...record.assignees], comments: [...record.comments] })
const newestFirst = <A extends { readonly record: { readonly number: number } }>(items: Iterable<A>) => [...items].sort((a, b) => b.record.number - a.record.number)
const ownerIs = (repo: G.Repo, owner: string) => owner.toLowerCase() === repo.owner.toLowerCase()

export const startScriptedGitHub = async (options: { readonly token?: string; readonly rateLimit?: number } = {}): Promise<ScriptedGitHub> => {
  const token = options.token ?? `ghs_${randomBytes(18).toString("hex")}`
  const limit = options.rateLimit ?? 5000
  const repos = new Map<string, G.Repo>()
  const requests: Array<RequestRecord> = []
  const listeners: Array<Listener> = []
  let nextId = 1001
  const newId = () => nextId++
  let remaining = limit
  let resetAt = Date.now() + 3_600_000
  let failing = { count: 0, status: 502 }
  let url = ""

  const repoOf = (owner: string, name: string): G.Repo => {
    const repo = repos.get(`${owner}/${name}`.toLowerCase())
    if (repo === undefined) throw new Error(`scripted GitHub: no repository ${owner}/${name} (addRepo first)`)
    return repo
  }
  const pullOf = (repo: G.Repo, number: number): G.Pull => {
    const pull = repo.pulls.get(number)
    if (pull === undefined) throw new Error(`scripted GitHub: no pull request #${number} in ${repo.owner}/${repo.name}`)
    return pull
  }

  /** Reads the head branch of an open pull request; a sha never seen before fires `onNewHead`. */
  const refresh = (repo: G.Repo, pull: G.Pull) => {
    const record = pull.record
    if (record.state !== "open") return
    const sha = G.readRef(repo.bare, `refs/heads/${record.head}`)
    if (sha === null) {
      // GitHub closes a pull request whose head branch is deleted.
      record.state = "closed"
      pull.closedAt = pull.updatedAt = G.now()
      return
    }
    record.headSha = sha
    if (pull.seen.has(sha)) return
    pull.seen.add(sha)
    for (const listener of listeners) listener(repo.owner, repo.name, pullSnapshot(pull), sha, pull.seen.size - 1)
  }

  const merge = (repo: G.Repo, pull: G.Pull, request: MergeRequest): string => {
    const record = pull.record
    if (!["merge", "squash", "rebase"].includes(request.method)) G.fail(422, `Invalid request.\n\n${JSON.stringify(request.method)} is not a valid merge_method.`)
    refresh(repo, pull)
    if (record.state !== "open") G.fail(405, "Pull Request is not mergeable")
    if (request.sha !== undefined && request.sha !== record.headSha) G.fail(409, "Head branch was modified. Review and try the merge again.")
    if (request.api && repo.approvalRequired && !G.approved(pull)) G.fail(405, "At least 1 approving review is required by reviewers with write access.")
    const baseRef = `refs/heads/${record.base}`
    const baseSha = G.readRef(repo.bare, baseRef) ?? G.fail(405, "Pull Request is not mergeable")
    const tree = G.mergeTree(repo.bare, baseSha, record.headSha) ?? G.fail(405, "Pull Request is not mergeable")
    // `rebase` is not replayed commit by commit: it lands like `squash`.
    const squash = request.method !== "merge"
    const title = request.title ?? (squash ? `${record.title} (#${record.number})` : `Merge pull request #${record.number} from ${repo.owner}/${record.head}`)
    const message = request.message ?? (squash ? record.body : record.title)
    const sha = G.commitTree(repo.bare, tree, squash ? [baseSha] : [baseSha, record.headSha], message === "" ? title : `${title}\n\n${message}`)
    if (!G.updateRef(repo.bare, baseRef, sha, baseSha)) G.fail(409, "Base branch was modified. Review and try the merge again.")
    record.state = "closed"
    record.merged = true
    record.mergeCommitSha = sha
    pull.mergedAt = pull.closedAt = pull.updatedAt = G.now()
    return sha
  }

  const list = <A>(req: G.Req, items: ReadonlyArray<A>): G.Reply => {
    const page = G.paginate(url, req, items)
    return { status: 200, body: page.items, headers: page.headers }
  }
  const newIssue = (repo: G.Repo, title: string, body: string, labels: ReadonlyArray<string>) => G.addIssue(repo, newId(), title, body, labels)
  const openPullExists = (repo: G.Repo, head: string, base: string) => [...repo.pulls.values()].some(({ record: r }) => r.state === "open" && r.head === head && r.base === base)

  const pullsRoute = (repo: G.Repo, req: G.Req, endpoint: string, n: number): G.Reply | undefined => {
    const { body, query } = req
    const pull = () => repo.pulls.get(n) ?? G.notFound()
    switch (endpoint) {
      case "GET pulls": {
        for (const p of repo.pulls.values()) refresh(repo, p)
        const state = query.get("state") ?? "open"
        const base = query.get("base")
        // `head` filters only as `owner:branch`; GitHub silently ignores a bare branch name.
        const head = query.get("head")
        const colon = head?.indexOf(":") ?? -1
        const byHead = head !== null && colon >= 0 ? { owner: head.slice(0, colon), branch: head.slice(colon + 1) } : undefined
        const matching = newestFirst(repo.pulls.values()).filter(({ record: r }) =>
          (state === "all" || r.state === state) && (byHead === undefined || (ownerIs(repo, byHead.owner) && byHead.branch === r.head)) && (base === null || base === r.base)
        )
        return list(req, matching.map((p) => G.pullJson(url, repo, p, false)))
      }
      case "POST pulls": {
        const title = G.text(body, "title") ?? G.missing("title")
        const headSpec = G.text(body, "head") ?? G.missing("head")
        const base = G.text(body, "base") ?? G.missing("base")
        const colon = headSpec.indexOf(":")
        const head = headSpec.slice(colon + 1)
        if (colon >= 0 && !ownerIs(repo, headSpec.slice(0, colon))) G.invalid("PullRequest", "", "head")
        const headSha = G.readRef(repo.bare, `refs/heads/${head}`) ?? G.invalid("PullRequest", "", "head")
        const baseSha = G.readRef(repo.bare, `refs/heads/${base}`) ?? G.invalid("PullRequest", "", "base")
        if (openPullExists(repo, head, base)) G.invalid("PullRequest", `A pull request already exists for ${repo.owner}:${head}.`)
        if (G.commitsAhead(repo.bare, baseSha, headSha) === 0) G.invalid("PullRequest", `No commits between ${base} and ${head}`)
        const number = repo.nextNumber++
        const created = G.now()
        const record: PullRecord = { number, title, body: G.text(body, "body") ?? "", head, base, state: "open", merged: false, mergeCommitSha: null, headSha, labels: [] }
        const p: G.Pull = { record, id: newId(), createdAt: created, updatedAt: created, closedAt: null, mergedAt: null, seen: new Set(), reviews: [] }
        repo.pulls.set(number, p)
        refresh(repo, p)
        return { status: 201, body: G.pullJson(url, repo, p, true) }
      }
      case "GET pulls/{n}": {
        const p = pull()
        refresh(repo, p)
        return { status: 200, body: G.pullJson(url, repo, p, true) }
      }
      case "PATCH pulls/{n}": {
        const p = pull()
        const r = p.record
        refresh(repo, p)
        const state = G.text(body, "state")
        if (state !== undefined && state !== "open" && state !== "closed") G.invalid("PullRequest", "", "state")
        const reopen = state === "open" && r.state === "closed"
        if (reopen && r.merged) G.invalid("PullRequest", "state cannot be changed. The pull request cannot be reopened.")
        if (reopen && openPullExists(repo, r.head, r.base)) G.invalid("PullRequest", `A pull request already exists for ${repo.owner}:${r.head}.`)
        r.title = G.text(body, "title") ?? r.title
        r.body = G.text(body, "body") ?? r.body
        p.updatedAt = G.now()
        if (state === "closed" && r.state === "open") (r.state = "closed"), (p.closedAt = p.updatedAt)
        if (reopen) (r.state = "open"), (p.closedAt = null), refresh(repo, p)
        return { status: 200, body: G.pullJson(url, repo, p, true) }
      }
      case "PUT pulls/{n}/merge": {
        const request = { sha: G.text(body, "sha"), method: G.text(body, "merge_method") ?? "merge", title: G.text(body, "commit_title"), message: G.text(body, "commit_message"), api: true }
        return { status: 200, body: { sha: merge(repo, pull(), request), merged: true, message: "Pull Request successfully merged" } }
      }
      case "GET pulls/{n}/merge":
        return pull().record.merged ? { status: 204 } : G.notFound()
      case "GET pulls/{n}/reviews": {
        const p = pull()
        return list(req, p.reviews.map((review) => G.reviewJson(url, repo, p, review)))
      }
      case "GET pulls/{n}/comments": {
        const p = pull()
        return list(req, p.reviews.flatMap((review) => G.reviewCommentsJson(url, repo, p, review)))
      }
    }
    return undefined
  }

  const issuesRoute = (repo: G.Repo, req: G.Req, endpoint: string, n: number, rest: ReadonlyArray<string>): G.Reply | undefined => {
    const { body, query, method } = req
    const issue = () => repo.issues.get(n) ?? G.notFound()
    const reply = (status: number, i: G.Issue, json: unknown = G.issueJson(url, repo, i)) => ((i.updatedAt = G.now()), { status, body: json })
    switch (endpoint) {
      case "GET issues": {
        const state = query.get("state") ?? "open"
        const labels = (query.get("labels") ?? "").split(",").map((l) => l.trim()).filter((l) => l !== "")
        const assignee = query.get("assignee")
        const assigned = (a: ReadonlyArray<string>) => assignee === null || (assignee === "*" ? a.length > 0 : assignee === "none" ? a.length === 0 : a.includes(assignee))
        const matching = newestFirst<G.Issue | G.Pull>([...repo.issues.values(), ...repo.pulls.values()])
          .filter(({ record: r }) => (state === "all" || r.state === state) && labels.every((l) => r.labels.includes(l)) && assigned("assignees" in r ? r.assignees : []))
        return list(req, matching.map((i) => ("seen" in i ? G.pullIssueJson(url, repo, i) : G.issueJson(url, repo, i))))
      }
      case "POST issues": {
        const title = G.text(body, "title") ?? G.missing("title")
        return { status: 201, body: G.issueJson(url, repo, newIssue(repo, title, G.text(body, "body") ?? "", G.names(body, "labels") ?? [])) }
      }
      case "GET issues/{n}":
        return { status: 200, body: G.issueJson(url, repo, issue()) }
      case "PATCH issues/{n}": {
        const i = issue()
        const r = i.record
        const state = G.text(body, "state")
        if (state !== undefined && state !== "open" && state !== "closed") G.invalid("Issue", "", "state")
        const reason = G.text(body, "state_reason")
        if (reason !== undefined && !["completed", "not_planned", "reopened"].includes(reason)) G.invalid("Issue", "", "state_reason")
        r.title = G.text(body, "title") ?? r.title
        r.body = G.text(body, "body") ?? r.body
        r.labels = G.unique(G.names(body, "labels") ?? r.labels)
        r.assignees = G.unique(G.names(body, "assignees") ?? r.assignees)
        const at = G.now()
        if (state === "closed" && r.state === "open") (r.state = "closed"), (i.closedAt = at), (r.stateReason = reason ?? "completed")
        else if (state === "open" && r.state === "closed") (r.state = "open"), (i.closedAt = null), (r.stateReason = "reopened")
        else if (reason !== undefined && r.state === "closed") r.stateReason = reason
        return reply(200, i)
      }
      case "POST issues/{n}/comments": {
        const i = issue()
        const comment = G.text(body, "body") ?? G.missing("body")
        const id = newId()
        i.record.comments.push(comment), i.commentIds.push(id), i.commentUsers.push("oompa")
        return reply(201, i, { id, body: comment, user: G.user("oompa"), html_url: `${url}/${repo.owner}/${repo.name}/issues/${n}#issuecomment-${id}`, created_at: G.now() })
      }
      case "GET issues/{n}/comments": {
        const i = issue()
        return list(req, i.record.comments.map((comment, k) => ({ id: i.commentIds[k]!, body: comment, user: G.user(i.commentUsers[k] ?? "oompa") })))
      }
      case "POST issues/{n}/labels": { // a pull request's too
        const i = repo.issues.get(n) ?? repo.pulls.get(n) ?? G.notFound()
        i.record.labels = G.unique([...i.record.labels, ...(G.names(body, "labels") ?? [])])
        return (i.updatedAt = G.now()), { status: 200, body: G.labelsJson(i.record.labels) }
      }
      case "POST issues/{n}/assignees":
      case "DELETE issues/{n}/assignees": {
        const i = issue()
        const given = G.names(body, "assignees") ?? []
        i.record.assignees = method === "POST" ? G.unique([...i.record.assignees, ...given]) : i.record.assignees.filter((x) => !given.includes(x))
        return reply(method === "POST" ? 201 : 200, i)
      }
    }
    if (rest[0] === "issues" && rest[2] === "labels" && rest.length > 3 && method === "DELETE" && endpoint.startsWith("DELETE issues/{n}/")) {
      const i = repo.issues.get(n) ?? repo.pulls.get(n) ?? G.notFound()
      const name = rest.slice(3).join("/")
      if (!i.record.labels.includes(name)) G.fail(404, "Label does not exist")
      i.record.labels = i.record.labels.filter((l) => l !== name)
      return (i.updatedAt = G.now()), { status: 200, body: G.labelsJson(i.record.labels) }
    }
    return undefined
  }

  const route = (req: G.Req): G.Reply => {
    const s = req.segments
    if (s.length === 1 && s[0] === "rate_limit" && req.method === "GET") {
      const core = { limit, remaining, used: limit - remaining, reset: Math.ceil(resetAt / 1000), resource: "core" }
      return { status: 200, body: { resources: { core }, rate: core } }
    }
    if (s[0] !== "repos" || s.length < 3) return G.notFound()
    const repo = repos.get(`${s[1]}/${s[2]}`.toLowerCase()) ?? G.notFound()
    const rest = s.slice(3)
    if (rest.length === 0) return req.method === "GET" ? { status: 200, body: G.repoJson(url, repo) } : G.notFound()
    // "PATCH issues/{n}": the path after the repository, with its number made generic.
    const numbered = (rest[0] === "pulls" || rest[0] === "issues") && /^\d+$/.test(rest[1] ?? "")
    const endpoint = `${req.method} ${rest.map((part, i) => (i === 1 && numbered ? "{n}" : part)).join("/")}`
    const n = numbered ? Number(rest[1]) : 0
    return G.commitsRoute(url, repo, req, rest) ?? G.gitRefsRoute(url, repo, req, rest) ?? pullsRoute(repo, req, endpoint, n) ?? issuesRoute(repo, req, endpoint, n, rest) ?? G.notFound()
  }

  /** Injected failures, auth, the rate limit, the body, then the route; an ETag on a 200 GET, 304 when it matches. */
  const answer = (method: string, target: string, headers: http.IncomingHttpHeaders, raw: string): G.Reply => {
    if (Date.now() >= resetAt) (remaining = limit), (resetAt = Date.now() + 3_600_000)
    if (failing.count > 0) return failing.count--, { status: failing.status, body: { message: "Server Error" } }
    const auth = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(headers.authorization ?? "")
    if (auth?.[1] !== token) return { status: 401, body: { message: "Bad credentials" } }
    if (remaining <= 0) return { status: 403, body: { message: "API rate limit exceeded for user." } }
    const parsed = new URL(target, "http://127.0.0.1")
    const free = parsed.pathname === "/rate_limit" // as on GitHub
    if (!free) remaining--
    let body: unknown
    let segments: Array<string>
    try {
      body = raw.trim() === "" ? {} : JSON.parse(raw)
    } catch {
      return { status: 400, body: { message: "Problems parsing JSON" } }
    }
    try {
      segments = parsed.pathname.split("/").filter((part) => part !== "").map(decodeURIComponent)
    } catch {
      return { status: 404, body: { message: "Not Found" } }
    }
    const object = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {}
    let reply: G.Reply
    try {
      reply = route({ method, pathname: parsed.pathname, segments, query: parsed.searchParams, body: object })
    } catch (error) {
      reply = error instanceof G.HttpError ? { status: error.status, body: error.body } : { status: 500, body: { message: `scripted GitHub: ${String(error)}` } }
    }
    if (method !== "GET" || reply.status !== 200) return reply
    const etag = `W/"${G.sha256(JSON.stringify(reply.body ?? null))}"`
    const given = (headers["if-none-match"] ?? "").split(",").map((tag) => tag.trim().replace(/^W\//, ""))
    if (!given.includes(etag.slice(2))) return { ...reply, headers: { ...reply.headers, etag } }
    if (!free) remaining++ // a 304 is free
    return { status: 304, headers: { ...reply.headers, etag } }
  }

  const server = http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const method = request.method ?? "GET"
      const target = request.url ?? "/"
      const reply = answer(method, target, request.headers, Buffer.concat(chunks).toString("utf8"))
      requests.push({ method, path: target, status: reply.status })
      const headers: Record<string, string | number> = {
        ...reply.headers,
        "x-ratelimit-limit": limit,
        "x-ratelimit-remaining": remaining,
        "x-ratelimit-used": limit - remaining,
        "x-ratelimit-reset": Math.ceil(resetAt / 1000),
        "x-ratelimit-resource": "core",
        "x-github-api-version-selected": "2022-11-28",
        "x-github-request-id": `SCRIPTED-${requests.length - 1}` // the index in `requests`
      }
      if (reply.status === 204 || reply.status === 304 || reply.body === undefined) return void response.writeHead(reply.status, headers).end()
      const json = JSON.stringify(reply.body)
      response.writeHead(reply.status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json) }).end(json)
    })
  })
  await new Promise<void>((done, failed) => {
    server.once("error", failed)
    server.listen(0, "127.0.0.1", () => done())
  })
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url,
    token,
    requests,
    close: () => new Promise<void>((done) => (server.close(() => done()), server.closeAllConnections())),
    addRepo: (owner, name, { bare, defaultBranch }) => {
      const repo = { owner, name, bare, defaultBranch: defaultBranch ?? "main", id: newId(), nextNumber: 1, approvalRequired: false }
      repos.set(`${owner}/${name}`.toLowerCase(), { ...repo, pulls: new Map(), issues: new Map(), checks: new Map(), statuses: new Map() })
    },
    setCheckRun: (owner, name, sha, input) => {
      if (input.status === "completed" && input.conclusion === undefined) throw new Error(`scripted GitHub: check run ${input.name} is completed without a conclusion`)
      const completedAt = input.status === "completed" ? G.now() : null
      const create = () => ({ id: newId(), input, startedAt: G.now(), completedAt })
      G.upsert(repoOf(owner, name).checks, sha, (run) => run.input.name === input.name, input, create, (run) => (run.completedAt = completedAt))
    },
    setStatus: (owner, name, sha, input) => {
      const create = () => ({ id: newId(), input, createdAt: G.now(), updatedAt: G.now() })
      G.upsert(repoOf(owner, name).statuses, sha, (status) => status.input.context === input.context, input, create, (status) => (status.updatedAt = G.now()))
    },
    addReview: (owner, name, number, input) => {
      const id = newId()
      pullOf(repoOf(owner, name), number).reviews.push({ id, input, submittedAt: G.now(), commentIds: (input.comments ?? []).map(newId) })
      return id
    },
    pull: (owner, name, number) => pullSnapshot(pullOf(repoOf(owner, name), number)),
    pulls: (owner, name) => [...repoOf(owner, name).pulls.values()].map(pullSnapshot),
    closePull: (owner, name, number) => {
      const pull = pullOf(repoOf(owner, name), number)
      if (pull.record.state === "open") (pull.record.state = "closed"), (pull.closedAt = pull.updatedAt = G.now())
    },
    mergePull: (owner, name, number, method = "merge") => {
      const repo = repoOf(owner, name)
      try {
        return merge(repo, pullOf(repo, number), { sha: undefined, method, title: undefined, message: undefined, api: false })
      } catch (error) {
        throw error instanceof G.HttpError ? new Error(`scripted GitHub: cannot merge #${number}: ${error.message}`) : error
      }
    },
    onNewHead: (listener) => void listeners.push(listener),
    requireApproval: (owner, name, on) => void (repoOf(owner, name).approvalRequired = on),
    exhaustRateLimit: (resetInSeconds) => void ((remaining = 0), (resetAt = Date.now() + resetInSeconds * 1000)),
    failNext: (count, status = 502) => void (failing = { count, status }),
    addIssue: (owner, name, { title, body, labels }) => newIssue(repoOf(owner, name), title, body, labels ?? []).record.number,
    addComment: (owner, name, number, { body, user }) => {
      const issue = repoOf(owner, name).issues.get(number) ?? G.fail(404, `scripted GitHub: no issue #${number} in ${owner}/${name}`)
      issue.record.comments.push(body), issue.commentIds.push(newId()), issue.commentUsers.push(user)
    },
    issue: (owner, name, number) => {
      const issue = repoOf(owner, name).issues.get(number)
      if (issue === undefined) throw new Error(`scripted GitHub: no issue #${number} in ${owner}/${name}`)
      return issueSnapshot(issue)
    }
  }
}
