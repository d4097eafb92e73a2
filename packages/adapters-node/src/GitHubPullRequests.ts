/**
 * The real `PullRequests` service (`@oompa/core`'s code host boundary, issue 20) on GitHub's REST
 * API, through `@octokit/rest` (loaded only when a layer is built; see `internal/githubClient.ts`
 * for the conditional requests, the rate limits waited out, the retries and the redaction).
 *
 * - Building it reads the repository once: a token that cannot see it fails there, with reason
 *   `auth` (GitHub answers 404 for a private repository the token lacks access to).
 * - `open` finds the open pull request of `owner:branch` into `base` before it opens one, and takes
 *   the one another process opened in between (GitHub's 422 "already exists"): a branch never gets
 *   two.
 * - `state` judges the commit it is asked about, not the pull request's head: check runs and
 *   commit statuses of that commit, and the reviews given on it (per reviewer, the latest approval
 *   or change request decides). A commit without any check or status is pending with nobody named
 *   (CI reports a while after a push); `PullRequestLanding` decides how long that may last.
 * - `merge` asks GitHub to merge only if the head is still the one given; what GitHub refuses
 *   (405, 409, 422) is a `NotMergeable` answer in its words.
 * - Everything GitHub says is hostile text bound for an agent's prompt: bodies, names and messages
 *   are made visible (`Prompt.visibleText`), and a report or a review's feedback is cut at
 *   `feedbackLimit` characters, saying so.
 * - Lists are read up to their first 100 items (`per_page=100`, no further pages): a pull request
 *   with more check runs, reviews or review comments than that is judged on the first 100.
 *
 * `resolveToken` finds the token as the GitHub CLI users expect: `GITHUB_TOKEN`, `GH_TOKEN`, then
 * `gh auth token`.
 *
 * @since 0.1.0
 */
import { execFile } from "node:child_process"
import { Errors, Prompt, PullRequests } from "@oompa/core"
import { Duration, Effect, Layer, Schema } from "effect"
import * as GitHubClient from "./internal/githubClient.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The repository's owner (a user or an organization) and name. */
  readonly owner: string
  readonly repo: string
  /** Never shown: every message has it redacted. */
  readonly token: string
  /** The REST API's base URL; default `https://api.github.com` (GitHub Enterprise: `https://<host>/api/v3`). */
  readonly apiUrl?: string | undefined
  /** How a call that failed on the network is retried; default 4 more attempts, after 0.5, 1, 2 and 4 s. */
  readonly retry?: { readonly times: number; readonly base: Duration.Input } | undefined
}

/**
 * The default REST API's URL.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultApiUrl = "https://api.github.com"

/**
 * How long a checks report or a review's feedback may be (characters); longer is cut, saying so.
 *
 * @category constants
 * @since 0.1.0
 */
export const feedbackLimit = 16_000

/** How long one failed check's title or summary may be in a report. */
const checkTextLimit = 4_000

// What is read of GitHub's answers (other fields are ignored; a missing one is a "failed" error).
const Text = Schema.optional(Schema.NullOr(Schema.String))
const Count = Schema.optional(Schema.NullOr(Schema.Number))

const Pull = Schema.Struct({
  number: Schema.Number,
  html_url: Schema.String,
  state: Schema.String,
  title: Schema.String,
  body: Text,
  /** Only in the answer for one pull request (not in lists). */
  merged: Schema.optional(Schema.Boolean),
  merge_commit_sha: Text,
  /** In lists too: whether (and when) it was merged. */
  merged_at: Text,
  head: Schema.Struct({ sha: Schema.String })
})
type Pull = typeof Pull.Type

const CheckRuns = Schema.Struct({
  check_runs: Schema.Array(Schema.Struct({
    name: Schema.String,
    status: Schema.String,
    conclusion: Text,
    details_url: Text,
    output: Schema.optional(Schema.NullOr(Schema.Struct({ title: Text, summary: Text })))
  }))
})

const CombinedStatus = Schema.Struct({
  statuses: Schema.Array(Schema.Struct({
    context: Schema.String,
    state: Schema.String,
    description: Text,
    target_url: Text
  }))
})

const Reviews = Schema.Array(Schema.Struct({
  id: Schema.Number,
  user: Schema.optional(Schema.NullOr(Schema.Struct({ login: Schema.String }))),
  state: Schema.String,
  body: Text,
  commit_id: Text,
  author_association: Text
}))

/**
 * Whose reviews count: people with a say in the repository. On a public repository anyone may
 * request changes; a stranger's review would be instructions to the agent and spend its attempts.
 */
const reviewerAssociations: ReadonlySet<string> = new Set(["OWNER", "MEMBER", "COLLABORATOR"])

const ReviewComments = Schema.Array(Schema.Struct({
  pull_request_review_id: Count,
  path: Schema.String,
  line: Count,
  original_line: Count,
  body: Schema.String
}))

const Merged = Schema.Struct({ sha: Schema.String, merged: Schema.optional(Schema.Boolean), message: Text })

/** Conclusions of a completed check run that fail it; any other (success, neutral, skipped) passes. */
const failedConclusions: ReadonlySet<string> = new Set(["failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale"])

/** `text` cut to at most `limit` characters, the note saying so included (never inside a surrogate pair). */
const cut = (text: string, limit: number, where: string): string => {
  if (text.length <= limit) return text
  const note = (end: number) => `\n[… cut at ${limit} characters: ${text.length - end} more; ${where}]`
  let end = limit - note(0).length
  if (/[\ud800-\udbff]/.test(text.charAt(end - 1))) end--
  return `${text.slice(0, end)}${note(end)}`
}

/**
 * Builds the service: loads the client and reads `owner/repo` once, which fails with reason `auth`
 * if the token cannot see it (401, 403, or a 404: how GitHub answers for a private repository the
 * token lacks access to), `unreachable` if GitHub does not answer.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("GitHubPullRequests.make")(function*(options: Options) {
  const { owner, repo } = options
  const client = yield* GitHubClient.make({
    apiUrl: options.apiUrl ?? defaultApiUrl,
    token: options.token,
    retry: options.retry ?? GitHubClient.defaultRetry
  })
  const slug = `${owner}/${repo}`
  const shownSlug = Prompt.visibleLine(client.redact(slug))

  /** A request whose 4xx answers are all errors (reason `refused`). */
  const call = (operation: string, route: string, params: GitHubClient.Params = {}) =>
    Effect.catchTag(client.request(operation, route, { owner, repo, ...params }), "Refused", (e) => Effect.fail(GitHubClient.refusedError(e)))

  /** GitHub's answer read as `schema`: another shape is reason `failed`. */
  const read = <A>(operation: string, route: string, schema: Schema.ConstraintDecoder<A>) => (data: unknown): Effect.Effect<A, Errors.PullRequestError> =>
    Schema.decodeUnknownEffect(schema)(data).pipe(
      Effect.mapError((e) =>
        new Errors.PullRequestError({
          operation,
          reason: "failed",
          message: `GitHub's answer to ${route} is not what oompa reads: ${Prompt.visibleText(client.redact(e.message))}`
        })
      )
    )

  const get = <A>(operation: string, route: string, schema: Schema.ConstraintDecoder<A>, params: GitHubClient.Params = {}) =>
    Effect.flatMap(call(operation, route, params), (answer) => read(operation, route, schema)(answer.data))

  yield* client.request("connect", "GET /repos/{owner}/{repo}", { owner, repo }).pipe(
    Effect.catchTag("Refused", (e) =>
      Effect.fail(
        e.status === 403 || e.status === 404
          ? new Errors.PullRequestError({
            operation: "connect",
            reason: "auth",
            message: `the GitHub token cannot see ${shownSlug} (GitHub answered ${e.status}: ${e.message}; a private repository the token has no access to answers 404): check the repository's name, or give the token access to it (GITHUB_TOKEN, or gh auth login)`
          })
          : GitHubClient.refusedError(e)
      )),
    Effect.catchTag("PullRequestError", (e) =>
      Effect.fail(e.reason === "auth" ? new Errors.PullRequestError({ ...e, message: `${e.message} (it was to read ${shownSlug})` }) : e))
  )

  const asPullRequest = (pull: Pull): PullRequests.PullRequest => ({ number: pull.number, url: pull.html_url })

  /** The open pull request of `branch` into `base`, if any. */
  const findOpen = (branch: string, base: string) =>
    Effect.map(
      get("open", "GET /repos/{owner}/{repo}/pulls", Schema.Array(Pull), { state: "open", head: `${owner}:${branch}`, base, per_page: 100 }),
      (pulls) => pulls[0]
    )

  const open = Effect.fn("GitHubPullRequests.open")(function*(draft: PullRequests.PullRequestDraft) {
    const existing = yield* findOpen(draft.branch, draft.base)
    if (existing !== undefined) {
      if (existing.title !== draft.title || (existing.body ?? "") !== draft.body) {
        yield* call("open", "PATCH /repos/{owner}/{repo}/pulls/{pull_number}", { pull_number: existing.number, title: draft.title, body: draft.body })
      }
      return asPullRequest(existing)
    }
    return yield* client.request("open", "POST /repos/{owner}/{repo}/pulls", { owner, repo, title: draft.title, head: draft.branch, base: draft.base, body: draft.body }).pipe(
      Effect.flatMap((answer) => read("open", "POST /repos/{owner}/{repo}/pulls", Pull)(answer.data)),
      Effect.map(asPullRequest),
      // Another process opened it since the list: take that one.
      Effect.catchTag("Refused", (e) =>
        e.status === 422 && /already exists/i.test(e.message)
          ? Effect.flatMap(findOpen(draft.branch, draft.base), (raced) =>
            raced === undefined ? Effect.fail(GitHubClient.refusedError(e)) : Effect.succeed(asPullRequest(raced)))
          : Effect.fail(GitHubClient.refusedError(e)))
    )
  })

  /** The checks of `head`: failed as soon as one failed, else pending while one runs (or none reported yet), else passed. */
  const checks = Effect.fn("GitHubPullRequests.checks")(function*(head: string) {
    const ref = { ref: head }
    // The first 100 check runs and statuses only: no further pages are read.
    // Requests go one after another, as GitHub asks of a client (secondary rate limits).
    const runs = yield* get("state", "GET /repos/{owner}/{repo}/commits/{ref}/check-runs", CheckRuns, { ...ref, per_page: 100 })
    const combined = yield* get("state", "GET /repos/{owner}/{repo}/commits/{ref}/status", CombinedStatus, { ...ref, per_page: 100 })
    const failed: Array<string> = []
    const waitingFor: Array<string> = []
    for (const run of runs.check_runs) {
      const name = Prompt.visibleLine(run.name)
      if (run.status !== "completed") {
        waitingFor.push(name)
        continue
      }
      const conclusion = run.conclusion ?? ""
      if (!failedConclusions.has(conclusion)) continue
      const title = run.output?.title ?? ""
      const summary = run.output?.summary ?? ""
      failed.push([
        `${name}: ${Prompt.visibleLine(conclusion)}${title === "" ? "" : ` — ${cut(Prompt.visibleLine(title), checkTextLimit, "the check's title")}`}`,
        ...(summary === "" ? [] : [cut(Prompt.visibleText(summary), checkTextLimit, "see the check's details")]),
        ...(run.details_url == null ? [] : [`details: ${Prompt.visibleLine(run.details_url)}`])
      ].join("\n"))
    }
    for (const status of combined.statuses) {
      const context = Prompt.visibleLine(status.context)
      if (status.state === "pending") waitingFor.push(context)
      else if (status.state === "failure" || status.state === "error") {
        failed.push(`${context}: ${status.state}${status.description == null || status.description === "" ? "" : ` — ${Prompt.visibleLine(status.description)}`}${status.target_url == null || status.target_url === "" ? "" : ` (${Prompt.visibleLine(status.target_url)})`}`)
      }
    }
    if (failed.length > 0) {
      return { _tag: "Failed", report: cut(failed.join("\n\n"), feedbackLimit, "the pull request's checks have the rest") } satisfies PullRequests.Checks
    }
    // Nothing reported at all is pending with nobody named: CI creates its checks a while after a push.
    if (waitingFor.length > 0 || (runs.check_runs.length === 0 && combined.statuses.length === 0)) {
      return { _tag: "Pending", waitingFor } satisfies PullRequests.Checks
    }
    return { _tag: "Passed" } satisfies PullRequests.Checks
  })

  /** The reviews given on `head`: whether it is approved, and what the reviewers who requested changes wrote. */
  const reviews = Effect.fn("GitHubPullRequests.reviews")(function*(pullRequest: number, head: string) {
    const number = { pull_number: pullRequest }
    // The first 100 reviews and review comments only: no further pages are read.
    const given = yield* get("state", "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", Reviews, { ...number, per_page: 100 })
    // Listed oldest first: the last decision of each reviewer on this commit stands.
    const decisions = new Map<string, (typeof given)[number]>()
    for (const review of given) {
      if (review.commit_id !== head || review.user == null || !reviewerAssociations.has(review.author_association ?? "")) continue
      if (review.state === "APPROVED" || review.state === "CHANGES_REQUESTED") decisions.set(review.user.login, review)
    }
    const requested = [...decisions.values()].filter((review) => review.state === "CHANGES_REQUESTED")
    const approved = requested.length === 0 && decisions.size > 0
    if (requested.length === 0) return { approved, changesRequested: undefined }
    const comments = yield* get("state", "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments", ReviewComments, { ...number, per_page: 100 })
    const blocks = requested.map((review) =>
      [
        `${Prompt.visibleLine(review.user?.login ?? "")} requested changes:`,
        ...(review.body == null || review.body.trim() === "" ? [] : [Prompt.visibleText(review.body)]),
        ...comments
          .filter((comment) => comment.pull_request_review_id === review.id)
          .map((comment) => `${Prompt.visibleLine(comment.path)}:${comment.line ?? comment.original_line ?? "?"}: ${Prompt.visibleText(comment.body)}`)
      ].join("\n")
    )
    return { approved, changesRequested: cut(blocks.join("\n\n"), feedbackLimit, "the pull request's reviews have the rest") }
  })

  const state = Effect.fn("GitHubPullRequests.state")(function*(pullRequest: number, head: string) {
    const pull = yield* get("state", "GET /repos/{owner}/{repo}/pulls/{pull_number}", Pull, { pull_number: pullRequest })
    if (pull.merged === true) {
      if (pull.merge_commit_sha == null) {
        return yield* new Errors.PullRequestError({ operation: "state", reason: "failed", message: `GitHub says pull request #${pullRequest} of ${shownSlug} is merged, without its merge commit` })
      }
      return { _tag: "Merged", sha: pull.merge_commit_sha } satisfies PullRequests.PullRequestState
    }
    if (pull.state === "closed") return { _tag: "Closed" } satisfies PullRequests.PullRequestState
    const judged = yield* checks(head)
    const reviewed = yield* reviews(pullRequest, head)
    return { _tag: "Open", head: pull.head.sha, checks: judged, ...reviewed } satisfies PullRequests.PullRequestState
  })

  const merge = Effect.fn("GitHubPullRequests.merge")(function*(pullRequest: number, head: string, method: PullRequests.MergeMethod) {
    const route = "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"
    return yield* client.request("merge", route, { owner, repo, pull_number: pullRequest, sha: head, merge_method: method }).pipe(
      Effect.flatMap((answer) => read("merge", route, Merged)(answer.data)),
      Effect.map((merged): PullRequests.MergeAnswer =>
        merged.merged === false
          ? { _tag: "NotMergeable", reason: Prompt.visibleText(client.redact(merged.message ?? "GitHub did not merge it")) }
          : { _tag: "Merged", sha: merged.sha }
      ),
      Effect.catchTag("Refused", (e) =>
        e.status === 405 || e.status === 409 || e.status === 422
          ? Effect.succeed<PullRequests.MergeAnswer>({ _tag: "NotMergeable", reason: e.message })
          : Effect.fail(GitHubClient.refusedError(e)))
    )
  })

  // Newest first (GitHub's order); the first 100 of the branch's pull requests are enough to find its latest.
  const find = (branch: string, base: string) =>
    Effect.map(
      get("find", "GET /repos/{owner}/{repo}/pulls", Schema.Array(Pull), { state: "all", head: `${owner}:${branch}`, base, per_page: 100 }),
      (pulls) => {
        const pull = pulls.find((p) => p.state === "open" || p.merged_at != null)
        if (pull === undefined) return undefined
        const merged = pull.merged_at == null ? undefined : pull.merge_commit_sha ?? undefined
        return { ...asPullRequest(pull), head: pull.head.sha, merged }
      }
    )

  return PullRequests.PullRequests.of({ open, find, state, merge })
})

/**
 * Provides `PullRequests` on GitHub's `owner/repo`; building it fails as `make` does.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<PullRequests.PullRequests, Errors.PullRequestError> =>
  Layer.effect(PullRequests.PullRequests, make(options))

const noToken = "no GitHub token: set GITHUB_TOKEN, or install the GitHub CLI and run gh auth login"

/**
 * The GitHub token: `GITHUB_TOKEN`, else `GH_TOKEN` (when set and not blank), else what
 * `gh auth token` prints (10 s at most). No token, no `gh` or a `gh` that is not logged in fail
 * with reason `auth`. The token is never logged nor put in a message.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolveToken = (env: Readonly<Record<string, string | undefined>> = process.env): Effect.Effect<string, Errors.PullRequestError> =>
  Effect.suspend(() => {
    for (const name of ["GITHUB_TOKEN", "GH_TOKEN"]) {
      const value = env[name]?.trim()
      if (value !== undefined && value !== "") return Effect.succeed(value)
    }
    const failure = (why: string) => new Errors.PullRequestError({ operation: "token", reason: "auth", message: `${noToken} (${why})` })
    return Effect.callback<string, Errors.PullRequestError>((resume, signal) => {
      execFile("gh", ["auth", "token"], { env: { ...env }, timeout: 10_000, signal, windowsHide: true, encoding: "utf8" }, (error, stdout, stderr) => {
        if (error === null) {
          const token = stdout.trim()
          resume(token === "" ? Effect.fail(failure("gh auth token printed nothing")) : Effect.succeed(token))
          return
        }
        const code = (error as NodeJS.ErrnoException).code
        const why = code === "ENOENT"
          ? "the GitHub CLI, gh, is not installed"
          : error.killed
          ? "gh auth token did not answer within 10 seconds"
          : `gh auth token failed: ${Prompt.visibleLine(stderr.trim().split("\n")[0] ?? "") || `exit code ${String(error.code)}`}`
        resume(Effect.fail(failure(why)))
      })
    })
  })
