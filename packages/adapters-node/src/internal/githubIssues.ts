/**
 * What `GitHubIssuesTaskQueue` reads of GitHub's answers (other fields are ignored; a missing one
 * is an error), and what it reads from an issue's labels.
 *
 * Internal: used by `GitHubIssuesTaskQueue`.
 *
 * @since 0.1.0
 */
import { Ids, Prompt, type Task } from "@oompa/core"
import { Schema } from "effect"

/**
 * The label of an issue a run holds (`current`).
 *
 * @category constants
 * @since 0.1.0
 */
export const claimedLabel = "oompa:claimed"

/**
 * The label of an issue whose attempts are spent (`failed`).
 *
 * @category constants
 * @since 0.1.0
 */
export const failedLabel = "oompa:failed"

/**
 * What the label counting an issue's attempts starts with (`oompa:attempts-2`).
 *
 * @category constants
 * @since 0.1.0
 */
export const attemptsLabelPrefix = "oompa:attempts-"

/**
 * What a comment carrying feedback for the next attempt starts with.
 *
 * @category constants
 * @since 0.1.0
 */
export const feedbackMarker = "<!-- oompa:feedback -->"

// What is read of GitHub's answers (other fields are ignored; a missing one is an error).
const Text = Schema.optional(Schema.NullOr(Schema.String))
const Label = Schema.Union([Schema.String, Schema.Struct({ name: Text })])
const User = Schema.optional(Schema.NullOr(Schema.Struct({ login: Schema.String })))

const IssueNumber = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))

export const Issue = Schema.Struct({
  number: IssueNumber,
  title: Schema.String,
  body: Text,
  state: Schema.String,
  state_reason: Text,
  labels: Schema.Array(Label),
  pull_request: Schema.optional(Schema.Unknown)
})
export type Issue = typeof Issue.Type

export const Comment = Schema.Struct({ body: Text, user: User })
export const Repository = Schema.Struct({ default_branch: Schema.String })
export const GitRef = Schema.Struct({ object: Schema.Struct({ sha: Schema.String }) })
export const GitCommit = Schema.Struct({ sha: Schema.String, tree: Schema.Struct({ sha: Schema.String }) })
export const Created = Schema.Struct({ number: IssueNumber })

export const labelNames = (issue: Issue): ReadonlyArray<string> =>
  issue.labels.flatMap((label) => typeof label === "string" ? [label] : label.name == null ? [] : [label.name])

export const attemptsOf = (labels: ReadonlyArray<string>): number => {
  let attempts = 0
  for (const label of labels) {
    const match = label.startsWith(attemptsLabelPrefix) ? /^(\d+)$/.exec(label.slice(attemptsLabelPrefix.length)) : null
    if (match !== null) attempts = Math.max(attempts, Number(match[1]))
  }
  return attempts
}

/** The folder an issue is in, or undefined (a pull request, a label gone, closed as not planned). */
export const statusOf = (issue: Issue, label: string): Task.TaskStatus | undefined => {
  if (issue.pull_request !== undefined) return undefined
  const labels = labelNames(issue)
  if (!labels.includes(label)) return undefined
  if (labels.includes(failedLabel)) return "failed"
  if (issue.state === "open") return labels.includes(claimedLabel) ? "current" : "pending"
  return issue.state_reason == null || issue.state_reason === "completed" ? "complete" : undefined
}

export const idOf = (number: number): string => `issue-${number}`

/** The issue number of a task id, or undefined for an id this queue never hands out. */
export const numberOf = (id: string): number | undefined => {
  const match = /^issue-([1-9]\d{0,15})$/.exec(id)
  return match === null ? undefined : Number(match[1])
}

export const taskOf = (issue: Issue): Task.Task => {
  const title = Prompt.visibleLine(issue.title)
  const body = issue.body == null ? "" : Prompt.visibleText(issue.body)
  return {
    id: Ids.TaskId.make(idOf(issue.number)),
    summary: title.trim() === "" ? `issue #${issue.number}` : title,
    ...(body.trim() === "" ? {} : { description: body }),
    attempts: attemptsOf(labelNames(issue))
  }
}

/** What a feedback comment says, without the marker and the line break after it. */
export const feedbackOf = (body: string): string => body.slice(feedbackMarker.length).replace(/^[ \t]*\r?\n/, "")
