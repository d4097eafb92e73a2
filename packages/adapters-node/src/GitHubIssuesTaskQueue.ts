/**
 * The task queue on a GitHub repository's issues: `@oompa/core`'s `TaskQueue` for several runs on
 * several machines sharing one queue, through the client of `GitHubPullRequests`
 * (`internal/githubClient.ts`: `@octokit/rest` loaded lazily, conditional requests, rate limits
 * waited out, network faults retried, the token redacted from every message).
 *
 * **Tasks.** A task is an issue carrying the label `label` (default `oompa`); pull requests (which
 * GitHub lists among the issues, with a `pull_request` field) are not tasks. Its id is
 * `issue-<number>`; its summary is the title (made one visible line, `Prompt.visibleLine`; an empty
 * title reads `issue #<number>`), its description the body (made visible, `Prompt.visibleText`; an
 * empty body is no description). Its attempts are the `N` of a label `oompa:attempts-N` (the
 * largest, if there are several; 0 without one). Nothing else of an issue is read: no priority, no
 * files, no acceptance, and no `depends_on`/`blocked_by` (see `ready`).
 *
 * **Folders** come from the labels and the state; the order is the issue number, ascending.
 * - `pending`: open, without `oompa:claimed` and without `oompa:failed`;
 * - `current`: open, with `oompa:claimed` (and without `oompa:failed`);
 * - `complete`: closed as completed (`state_reason` `completed` or none), without `oompa:failed`;
 * - `failed`: with `oompa:failed`, open or closed;
 * - `invalid`: always empty, since every issue reads as a task.
 * An issue closed as not planned without `oompa:failed` is in no folder: a person withdrew it. An
 * issue being claimed is still `pending` in a list read before its label is added (the claim ref,
 * not the label, is what keeps a second claimer off).
 *
 * **Reads.** `list` and `claim` each read the issue list once:
 * `GET /repos/{o}/{r}/issues?labels=<label>&state=all&per_page=100`, conditional (an unchanged list
 * is a 304, free of the rate limit). Up to 10 pages are read (1,000 issues, pull requests with the
 * label included): a queue with more sees the first 1,000 (by GitHub's order, newest first) only.
 * A list of exactly 100, 200, … issues costs one more (empty) page. The tasks of `list` carry no
 * `last_feedback` (that would cost a request per issue); `claim`'s task does.
 *
 * **Claims are atomic on the host**, across processes and machines: a claim creates the ref
 * `refs/oompa/claims/issue-<n>` (`POST /repos/{o}/{r}/git/refs`, which GitHub refuses with 422
 * "Reference already exists" when it exists) pointing at a commit this attempt made for it (the
 * default branch's tree on its head, read once when the queue is made; a repository without a
 * commit cannot be a queue). Of several claimers only one creates it; the others try the next
 * pending issue, and answer `None` when none is left. A 422 on a ref that points at our own commit
 * is ours: the client sent the request again after GitHub created the ref and its answer was lost.
 * The winner then reads the issue again: one that is no longer pending (another run completed or
 * failed it after this claim's list was read, and deleted its ref) has the new ref deleted and is
 * skipped. The winner labels the issue `oompa:claimed` and comments
 * `oompa run <runId> claimed this issue.`; if that fails (or the claim is interrupted) the label
 * and the ref are taken back, as far as GitHub lets. The claimed task has its attempts and, as
 * `last_feedback`, the latest comment starting with `<!-- oompa:feedback -->` (the marker and the
 * line break after it removed, made visible) **written by the same GitHub user as this queue's
 * claim comment** (the token's): anyone may comment on a public repository's issue, and the
 * feedback goes into an agent's prompt. Runs that share a queue therefore share a user (a bot's
 * token) to see each other's feedback. Up to 1,000 comments of an issue are read.
 *
 * **Moves.** Each ends by deleting the claim ref, so the issue is never claimable while its
 * bookkeeping is half done; a label or a ref already gone counts as removed (moves can be redone).
 * - `complete(id, sha)`: comments `Merged by oompa run <runId>: <sha>`, closes the issue as
 *   completed, removes `oompa:claimed`, deletes the ref.
 * - `release(id, …)`: attempts' = attempts (+1 with `countAttempt`); the attempts label is replaced
 *   when it changed (the new one added before the old one is removed). With `countAttempt` and
 *   attempts' >= `maxAttempts`: adds `oompa:failed`, comments the marker + `Failed after N
 *   attempts:` + the feedback, and answers `failed`; otherwise comments the marker + the feedback
 *   (unless it is empty, or is the feedback this queue's claim handed out: a run giving an issue
 *   back unchanged repeats nothing) and answers `pending`. Then removes `oompa:claimed` and deletes
 *   the ref.
 * - `ready` is `list("pending")`: this queue has no dependencies (an issue's `depends_on` is not
 *   read), so `settleBlocked` moves nothing and costs nothing.
 * - `create(task)` opens an issue titled with the summary, its body the description (and the
 *   acceptance criteria, if any, under `Acceptance:`), labelled `label`, and answers `true`: GitHub
 *   numbers issues, so the new task's id is `issue-<n>`, **not** `task.id` (a task created with
 *   dependencies on its siblings' ids cannot be found by them). Its other fields are not recorded.
 * - `invalid(name, content, reason)` records nothing on the host and succeeds. Its only caller,
 *   `NewTasks.collect` (an agent's new-task file that is not a task, a cycle, an id already used, or
 *   a file past `planner.max_pending`), emits a `TaskMoved` event to `invalid` with the reason right
 *   after it, so the run log has the reason; the file's text is not kept anywhere.
 *
 * Labels that do not exist on the repository are created by GitHub when first added to an issue.
 * Errors are `TaskQueueError`s naming the operation and the task, with GitHub's (visible, redacted)
 * message; making the queue fails (operation `connect`) when the token cannot see the repository.
 *
 * @since 0.1.0
 */
import { Errors, Ids, Prompt, Task as TaskModule, TaskQueue as TaskQueueModule } from "@oompa/core"
import { type Duration, Effect, Layer, Option, Schema } from "effect"
import { randomBytes } from "node:crypto"
import * as GitHubClient from "./internal/githubClient.ts"
import { attemptsLabelPrefix, attemptsOf, claimedLabel, Comment, Created, failedLabel, feedbackMarker, feedbackOf, GitCommit, GitRef, type Issue, Issue as IssueSchema, idOf, labelNames, numberOf, Repository, statusOf, taskOf } from "./internal/githubIssues.ts"

export { attemptsLabelPrefix, claimedLabel, failedLabel, feedbackMarker } from "./internal/githubIssues.ts"

type Task = TaskModule.Task
type TaskStatus = TaskModule.TaskStatus
type TaskQueue = TaskQueueModule.TaskQueue

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
  /** The label that makes an issue a task; default `oompa`. */
  readonly label?: string | undefined
  /** The run this queue works for: named in the comments it writes. */
  readonly runId: string
  /** How a call that failed on the network is retried; default 4 more attempts, after 0.5, 1, 2 and 4 s. */
  readonly retry?: { readonly times: number; readonly base: Duration.Input } | undefined
}

/**
 * @category constants
 * @since 0.1.0
 */
export const defaultLabel = "oompa"





/**
 * The ref a claim of `id` creates (`refs/oompa/claims/issue-<n>`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const claimRef = (id: string): string => `refs/oompa/claims/${id}`

/**
 * How many pages of 100 a list reads at most.
 *
 * @category constants
 * @since 0.1.0
 */
export const pagesMax = 10

const perPage = 100

/**
 * Makes the queue: loads the client, reads the repository's default branch and its head (the commit
 * claim refs point at). Fails (operation `connect`) when the token cannot see the repository, the
 * repository has no commit, or `label` is not a usable label.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("GitHubIssuesTaskQueue.make")(function*(options: Options) {
  const { owner, repo } = options
  const label = options.label ?? defaultLabel
  const runId = Prompt.visibleLine(options.runId)
  const slug = `${owner}/${repo}`

  const failure = (operation: string, task: string | undefined, message: string) =>
    new Errors.TaskQueueError({ operation, ...(task === undefined ? {} : { task }), message })
  const toQueueError = (operation: string, task?: string) => (e: Errors.PullRequestError | GitHubClient.Refused) =>
    failure(operation, task, e._tag === "Refused" ? `GitHub refused it (HTTP ${e.status}): ${e.message}` : e.message)

  if (label.trim() === "" || label.includes(",") || label.startsWith("oompa:")) {
    return yield* failure("connect", undefined, `${JSON.stringify(Prompt.visibleLine(label))} cannot be the task label: it must be non-empty, without a comma, and not start with "oompa:"`)
  }

  const client = yield* GitHubClient.make({
    apiUrl: options.apiUrl ?? "https://api.github.com",
    token: options.token,
    retry: options.retry ?? GitHubClient.defaultRetry
  }).pipe(Effect.mapError(toQueueError("connect")))
  const shownSlug = Prompt.visibleLine(client.redact(slug))

  /** A request of this repository: the client's answer or its refusal. */
  const request = (operation: string, route: string, params: GitHubClient.Params = {}) =>
    client.request(operation, route, { owner, repo, ...params })

  /** GitHub's answer read as `schema`: another shape is an error. */
  const read = <A>(operation: string, task: string | undefined, route: string, schema: Schema.ConstraintDecoder<A>) => (data: unknown) =>
    Schema.decodeUnknownEffect(schema)(data).pipe(
      Effect.mapError((e) => failure(operation, task, `GitHub's answer to ${route} is not what oompa reads: ${Prompt.visibleText(client.redact(e.message))}`))
    )

  /** A request whose every refusal is an error, its answer read as `schema`. */
  const get = <A>(operation: string, task: string | undefined, route: string, schema: Schema.ConstraintDecoder<A>, params: GitHubClient.Params = {}) =>
    request(operation, route, params).pipe(
      Effect.mapError(toQueueError(operation, task)),
      Effect.flatMap((answer) => read(operation, task, route, schema)(answer.data))
    )

  /** A request whose answer is not read; refusals with `status` and a message matching `tolerated` are fine. */
  const send = (operation: string, task: string | undefined, route: string, params: GitHubClient.Params, tolerated?: { readonly status: number; readonly message: RegExp }) =>
    request(operation, route, params).pipe(
      Effect.asVoid,
      Effect.catchTag("Refused", (e) =>
        tolerated !== undefined && e.status === tolerated.status && tolerated.message.test(e.message) ? Effect.void : Effect.fail(e)),
      Effect.mapError(toQueueError(operation, task))
    )

  // The repository and the head of its default branch: what claim refs point at.
  const connectMessage = (e: Errors.PullRequestError | GitHubClient.Refused) =>
    e._tag === "Refused" && (e.status === 403 || e.status === 404)
      ? `the GitHub token cannot see ${shownSlug} (GitHub answered ${e.status}: ${e.message}; a private repository the token has no access to answers 404): check the repository's name, or give the token access to it`
      : `${e.message} (it was to read ${shownSlug})`
  const repository = yield* request("connect", "GET /repos/{owner}/{repo}").pipe(
    Effect.mapError((e) => failure("connect", undefined, connectMessage(e))),
    Effect.flatMap((answer) => read("connect", undefined, "GET /repos/{owner}/{repo}", Repository)(answer.data))
  )
  const branch = repository.default_branch
  const head = yield* request("connect", "GET /repos/{owner}/{repo}/git/ref/{ref}", { ref: `heads/${branch}` }).pipe(
    Effect.mapError((e) =>
      failure(
        "connect",
        undefined,
        e._tag === "Refused" && (e.status === 404 || e.status === 409)
          ? `${shownSlug} has no commit on its default branch ${Prompt.visibleLine(branch)}: claims need one to point refs at`
          : `${e.message} (it was to read the default branch of ${shownSlug})`
      )
    ),
    Effect.flatMap((answer) => read("connect", undefined, "GET /repos/{owner}/{repo}/git/ref/{ref}", GitRef)(answer.data)),
    Effect.map((ref) => ref.object.sha)
  )
  // Each claim points its ref at a commit of its own (this tree, on `head`): a claimer knows its ref when it sees it.
  const tree = yield* get("connect", undefined, "GET /repos/{owner}/{repo}/git/commits/{commit_sha}", GitCommit, { commit_sha: head }).pipe(Effect.map((c) => c.tree.sha))

  /** Every issue with the label, pull requests included (up to `pagesMax` pages), by number. */
  const issues = (operation: string) =>
    Effect.gen(function*() {
      const route = "GET /repos/{owner}/{repo}/issues"
      const byNumber = new Map<number, Issue>()
      for (let page = 1; page <= pagesMax; page++) {
        const items = yield* get(operation, undefined, route, Schema.Array(IssueSchema), {
          labels: label,
          state: "all",
          per_page: perPage,
          ...(page === 1 ? {} : { page })
        })
        for (const issue of items) byNumber.set(issue.number, issue)
        if (items.length < perPage) break
      }
      return [...byNumber.values()].sort((a, b) => a.number - b.number)
    })

  const inFolder = (all: ReadonlyArray<Issue>, status: TaskStatus): ReadonlyArray<Issue> =>
    all.filter((issue) => statusOf(issue, label) === status)

  const list = Effect.fn("GitHubIssuesTaskQueue.list")(function*(status: TaskStatus) {
    if (status === "invalid") return []
    return inFolder(yield* issues("list"), status).map(taskOf)
  })

  const issueRoute = "GET /repos/{owner}/{repo}/issues/{issue_number}"
  const labelRoute = "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"
  const commentRoute = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"

  const addLabel = (operation: string, id: string, number: number, name: string) =>
    send(operation, id, "POST /repos/{owner}/{repo}/issues/{issue_number}/labels", { issue_number: number, labels: [name] })
  const removeLabel = (operation: string, id: string, number: number, name: string) =>
    send(operation, id, labelRoute, { issue_number: number, name }, { status: 404, message: /label does not exist|not found/i })
  const comment = (operation: string, id: string, number: number, body: string) =>
    get(operation, id, commentRoute, Comment, { issue_number: number, body })
  const deleteRef = (operation: string, id: string) =>
    send(operation, id, "DELETE /repos/{owner}/{repo}/git/refs/{ref}", { ref: claimRef(id).slice("refs/".length) }, { status: 422, message: /reference does not exist/i })

  /** The feedback each claim of this queue handed out, by task: a release that repeats it comments nothing. */
  const handedOut = new Map<string, string>()

  /**
   * Creates the claim ref of `id`, pointing at a commit only this attempt made: whether this process
   * won it. A ref that exists already is ours when it points at our commit — our own request whose
   * answer was lost and that the client sent again — and someone else's otherwise.
   */
  const createRef = (id: string) =>
    Effect.gen(function*() {
      const message = `oompa: claim of ${id} by run ${options.runId} (${randomBytes(8).toString("hex")})`
      const ours = (yield* get("claim", id, "POST /repos/{owner}/{repo}/git/commits", GitCommit, { message, tree, parents: [head] })).sha
      const created = yield* request("claim", "POST /repos/{owner}/{repo}/git/refs", { ref: claimRef(id), sha: ours }).pipe(
        Effect.as(true),
        Effect.catchTag("Refused", (e) => e.status === 422 && /already exists/i.test(e.message) ? Effect.succeed(false) : Effect.fail(e)),
        Effect.mapError(toQueueError("claim", id))
      )
      if (created) return true
      // Gone again already (its holder let it go): not ours either way.
      const route = "GET /repos/{owner}/{repo}/git/ref/{ref}"
      const holder = yield* request("claim", route, { ref: claimRef(id).slice("refs/".length) }).pipe(
        Effect.flatMap((answer) => Effect.map(read("claim", id, route, GitRef)(answer.data), (ref) => ref.object.sha)),
        Effect.catchTag("Refused", (e) => e.status === 404 ? Effect.succeed(undefined) : Effect.fail(e)),
        Effect.mapError((e) => e._tag === "TaskQueueError" ? e : toQueueError("claim", id)(e))
      )
      return holder === ours
    })

  /** The latest feedback comment on issue `number` written by `login`, if any. */
  const latestFeedback = (id: string, number: number, login: string | undefined) =>
    Effect.gen(function*() {
      const route = "GET /repos/{owner}/{repo}/issues/{issue_number}/comments"
      let latest: string | undefined
      for (let page = 1; page <= pagesMax; page++) {
        const comments = yield* get("claim", id, route, Schema.Array(Comment), { issue_number: number, per_page: perPage, ...(page === 1 ? {} : { page }) })
        for (const c of comments) {
          if (c.body == null || !c.body.startsWith(feedbackMarker)) continue
          if (login === undefined || c.user?.login !== login) continue
          latest = feedbackOf(c.body)
        }
        if (comments.length < perPage) break
      }
      return latest === undefined ? undefined : Prompt.visibleText(latest)
    })

  /** Labels and comments the issue this process won the ref of; the task, or None if it was not pending after all. */
  const take = (id: string, number: number) =>
    Effect.gen(function*() {
      const fresh = yield* get("claim", id, issueRoute, IssueSchema, { issue_number: number })
      if (statusOf(fresh, label) !== "pending") {
        // Another run moved it on since this claim's list was read, and gave its ref up.
        yield* deleteRef("claim", id)
        return Option.none<Task>()
      }
      yield* addLabel("claim", id, number, claimedLabel)
      const posted = yield* comment("claim", id, number, `oompa run ${runId} claimed this issue.`)
      const feedback = yield* latestFeedback(id, number, posted.user?.login)
      const task = taskOf(fresh)
      if (feedback === undefined) handedOut.delete(id)
      else handedOut.set(id, feedback)
      return Option.some<Task>(feedback === undefined ? task : { ...task, last_feedback: feedback })
    }).pipe(
      // Won but not taken (a failure, an interruption): give the issue back, as far as GitHub lets.
      Effect.onError(() => removeLabel("claim", id, number, claimedLabel).pipe(Effect.andThen(deleteRef("claim", id)), Effect.ignore))
    )

  const claim: Effect.Effect<Option.Option<Task>, Errors.TaskQueueError> = Effect.gen(function*() {
    for (const issue of inFolder(yield* issues("claim"), "pending")) {
      const id = idOf(issue.number)
      if (!(yield* createRef(id))) continue
      const taken = yield* take(id, issue.number)
      if (Option.isSome(taken)) return taken
    }
    return Option.none<Task>()
  }).pipe(Effect.withSpan("GitHubIssuesTaskQueue.claim"))

  /** The issue number of a task this queue handed out, or an error. */
  const held = (operation: string, id: string) => {
    const number = numberOf(id)
    return number === undefined
      ? Effect.fail(failure(operation, id, `${JSON.stringify(Prompt.visibleLine(id))} is not a task of the issues of ${shownSlug} (ids are issue-<number>)`))
      : Effect.succeed(number)
  }

  const complete = Effect.fn("GitHubIssuesTaskQueue.complete")(function*(id: string, mergedSha: string) {
    const number = yield* held("complete", id)
    yield* comment("complete", id, number, `Merged by oompa run ${runId}: ${Prompt.visibleLine(mergedSha)}`)
    yield* send("complete", id, "PATCH /repos/{owner}/{repo}/issues/{issue_number}", { issue_number: number, state: "closed", state_reason: "completed" })
    yield* removeLabel("complete", id, number, claimedLabel)
    yield* deleteRef("complete", id)
  })

  const release = Effect.fn("GitHubIssuesTaskQueue.release")(function*(id: string, options: {
    readonly feedback: string
    readonly countAttempt: boolean
    readonly maxAttempts: number
  }) {
    const number = yield* held("release", id)
    const issue = yield* get("release", id, issueRoute, IssueSchema, { issue_number: number })
    const labels = labelNames(issue)
    const before = attemptsOf(labels)
    const attempts = before + (options.countAttempt ? 1 : 0)
    if (attempts !== before) {
      const next = `${attemptsLabelPrefix}${attempts}`
      yield* addLabel("release", id, number, next)
      for (const old of labels) {
        if (old !== next && old.startsWith(attemptsLabelPrefix)) yield* removeLabel("release", id, number, old)
      }
    }
    const failed = options.countAttempt && attempts >= options.maxAttempts
    if (failed) {
      yield* addLabel("release", id, number, failedLabel)
      const failedAfter = `Failed after ${attempts} attempt${attempts === 1 ? "" : "s"}:`
      yield* comment("release", id, number, `${feedbackMarker}\n${options.feedback === "" ? failedAfter : `${failedAfter}\n${options.feedback}`}`)
    } else if (options.feedback !== "" && options.feedback !== handedOut.get(id)) {
      yield* comment("release", id, number, `${feedbackMarker}\n${options.feedback}`)
    }
    handedOut.delete(id)
    yield* removeLabel("release", id, number, claimedLabel)
    yield* deleteRef("release", id)
    return failed ? "failed" as const : "pending" as const
  })

  const create = Effect.fn("GitHubIssuesTaskQueue.create")(function*(task: Task) {
    const acceptance = TaskModule.acceptanceText(task)
    const body = [task.description ?? "", acceptance === "" ? "" : `Acceptance:\n${acceptance}`].filter((part) => part !== "").join("\n\n")
    yield* get("create", task.id, "POST /repos/{owner}/{repo}/issues", Created, { title: task.summary, body, labels: [label] })
    return true
  })

  return TaskQueueModule.TaskQueue.of({
    list,
    claim,
    ready: Effect.suspend(() => list("pending")).pipe(Effect.withSpan("GitHubIssuesTaskQueue.ready")),
    settleBlocked: Effect.succeed([]),
    complete,
    release,
    create,
    // Nothing to record on the host: the caller logs the reason (see the module's doc).
    invalid: () => Effect.void
  })
})

/**
 * Provides `TaskQueue` on the issues of GitHub's `owner/repo`; building it fails as `make` does.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<TaskQueue, Errors.TaskQueueError> =>
  Layer.effect(TaskQueueModule.TaskQueue, make(options))
