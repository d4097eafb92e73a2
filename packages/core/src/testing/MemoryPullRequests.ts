/**
 * A scripted code host over a `MemoryRepo` with a remote (`useRemote`): pull requests of the
 * remote's branches, checks and reviews that a test or the simulation sets per commit, and a merge
 * that lands on the remote's main as a host would. Implements `PullRequests`.
 *
 * What it models: one open pull request per branch; a head that is whatever the remote's branch
 * points to when asked; checks and reviews that belong to a commit; a merge refused when the head
 * is not the one named, when it conflicts with main, or without an approval when one is required.
 * What it does not: rate limits and conditional requests (the GitHub adapter's), draft pull
 * requests, review dismissal.
 *
 * @since 0.1.0
 */
import type { Context } from "effect"
import { Effect, Layer } from "effect"
import { PullRequestError } from "../services/Errors.ts"
import { type Checks, type MergeAnswer, PullRequests } from "../services/PullRequests.ts"
import type { MemoryRepo } from "./memoryGit/repo.ts"

/**
 * A pull request as the host holds it.
 *
 * @category models
 * @since 0.1.0
 */
export interface PullRecord {
  readonly number: number
  readonly branch: string
  readonly base: string
  title: string
  body: string
  state: "open" | "merged" | "closed"
  mergedSha: string | undefined
  /** Every head it has been seen at, in order. */
  readonly heads: Array<string>
}

/**
 * A review given on one commit.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReviewRecord {
  readonly user: string
  readonly state: "APPROVED" | "CHANGES_REQUESTED"
  readonly commit: string
  readonly body: string
}

/**
 * The host's state, driven by the test.
 *
 * @category models
 * @since 0.1.0
 */
export class MemoryHost {
  readonly pulls: Array<PullRecord> = []
  readonly checks = new Map<string, Checks>()
  readonly reviews = new Map<number, Array<ReviewRecord>>()
  requireApproval = false
  /** Called the first time a pull request is seen at a new head (index 0: when opened). */
  onNewHead: (pull: PullRecord, sha: string, index: number) => void = () => {}
  /** Called each time the state of an open pull request is asked for, with how often it was for this head. */
  onLook: (pull: PullRecord, head: string, looks: number) => void = () => {}
  private readonly looks = new Map<string, number>()

  /** Counts a look at `pull` for `head` and tells `onLook`. */
  look(pull: PullRecord, head: string): void {
    const key = `${pull.number}:${head}`
    const looks = (this.looks.get(key) ?? 0) + 1
    this.looks.set(key, looks)
    this.onLook(pull, head, looks)
  }

  readonly repo: MemoryRepo

  constructor(repo: MemoryRepo) {
    this.repo = repo
  }

  private remote() {
    const remote = this.repo.remote
    if (remote === undefined) throw new Error("MemoryHost: the repository has no remote (useRemote)")
    return remote
  }

  /** The pull request `number`. */
  pull(number: number): PullRecord {
    const pull = this.pulls.find((p) => p.number === number)
    if (pull === undefined) throw new Error(`MemoryHost: no pull request #${number}`)
    return pull
  }

  /** The head of an open pull request, as its branch says now; records (and announces) a new one. */
  headOf(pull: PullRecord): string {
    if (pull.state !== "open") return pull.heads[pull.heads.length - 1]!
    const head = this.remote().branches.get(pull.branch)
    if (head === undefined) throw new Error(`MemoryHost: the branch ${pull.branch} of #${pull.number} is gone`)
    if (pull.heads[pull.heads.length - 1] !== head) {
      pull.heads.push(head)
      this.onNewHead(pull, head, pull.heads.length - 1)
    }
    return head
  }

  review(number: number, review: ReviewRecord): void {
    const list = this.reviews.get(number) ?? []
    list.push(review)
    this.reviews.set(number, list)
  }

  /** Merges as the host does: the head onto main's tip, a merge commit; `undefined` on a conflict. */
  mergeNow(pull: PullRecord): string | undefined {
    const remote = this.remote()
    const head = this.headOf(pull)
    const { parents } = this.repo.readCommit(head)
    const attempt = this.repo.merge({ onto: remote.head, base: parents[0] ?? head, head, strategy: "no-ff", message: `Merge pull request #${pull.number} from ${pull.branch}` })
    if (attempt._tag === "Conflict") return undefined
    remote.head = attempt.sha
    pull.state = "merged"
    pull.mergedSha = attempt.sha
    return attempt.sha
  }

  close(number: number): void {
    this.pull(number).state = "closed"
  }
}

const refused = (operation: string, message: string) => new PullRequestError({ operation, reason: "refused", message })

/**
 * The `PullRequests` service over `host`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (host: MemoryHost): Context.Service.Shape<typeof PullRequests> =>
  PullRequests.of({
    open: (draft) =>
      Effect.suspend(() => {
        if (host.repo.remote?.branches.has(draft.branch) !== true) return Effect.fail(refused("open", `no branch ${draft.branch} on the remote`))
        const existing = host.pulls.find((p) => p.branch === draft.branch && p.state === "open")
        const pull = existing ?? { number: host.pulls.length + 1, branch: draft.branch, base: draft.base, title: draft.title, body: draft.body, state: "open", mergedSha: undefined, heads: [] }
        if (existing === undefined) host.pulls.push(pull)
        pull.title = draft.title
        pull.body = draft.body
        host.headOf(pull)
        return Effect.succeed({ number: pull.number, url: `https://host.test/pull/${pull.number}` })
      }),
    find: (branch, base) =>
      Effect.sync(() => {
        const pull = [...host.pulls].reverse().find((p) => p.branch === branch && p.base === base && p.state !== "closed")
        return pull === undefined ? undefined : { number: pull.number, url: `https://host.test/pull/${pull.number}`, head: host.headOf(pull), merged: pull.mergedSha }
      }),
    state: (number, head) =>
      Effect.sync(() => {
        const pull = host.pull(number)
        if (pull.state === "open") host.look(pull, head)
        if (pull.state === "merged") return { _tag: "Merged", sha: pull.mergedSha! } as const
        if (pull.state === "closed") return { _tag: "Closed" } as const
        const now = host.headOf(pull)
        const latest = new Map<string, ReviewRecord>()
        for (const review of host.reviews.get(number) ?? []) if (review.commit === head) latest.set(review.user, review)
        const decisions = [...latest.values()]
        const asked = decisions.filter((r) => r.state === "CHANGES_REQUESTED")
        return {
          _tag: "Open",
          head: now,
          checks: host.checks.get(head) ?? { _tag: "Pending", waitingFor: [] },
          changesRequested: asked.length === 0 ? undefined : asked.map((r) => `${r.user} requested changes:\n${r.body}`).join("\n\n"),
          approved: asked.length === 0 && decisions.some((r) => r.state === "APPROVED")
        } as const
      }),
    merge: (number, head) =>
      Effect.sync((): MergeAnswer => {
        const pull = host.pull(number)
        if (pull.state !== "open") return { _tag: "NotMergeable", reason: "Pull Request is not mergeable" }
        if (host.headOf(pull) !== head) return { _tag: "NotMergeable", reason: "Head branch was modified. Review and try the merge again." }
        const approved = (host.reviews.get(number) ?? []).some((r) => r.commit === head && r.state === "APPROVED")
        if (host.requireApproval && !approved) return { _tag: "NotMergeable", reason: "At least 1 approving review is required by reviewers with write access." }
        const sha = host.mergeNow(pull)
        return sha === undefined ? { _tag: "NotMergeable", reason: "Pull Request is not mergeable" } : { _tag: "Merged", sha }
      })
  })

/**
 * Provides `PullRequests` backed by `host`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (host: MemoryHost): Layer.Layer<PullRequests> => Layer.succeed(PullRequests, make(host))
