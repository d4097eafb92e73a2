/**
 * What `GitHubIssuesTaskQueue` reads of GitHub's answers (other fields are ignored; a missing one
 * is an error), and what it reads from an issue's labels.
 *
 * Internal: used by `GitHubIssuesTaskQueue`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

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
export const Created = Schema.Struct({ number: IssueNumber })

export const labelNames = (issue: Issue): ReadonlyArray<string> =>
  issue.labels.flatMap((label) => typeof label === "string" ? [label] : label.name == null ? [] : [label.name])

export const attemptsOf = (labels: ReadonlyArray<string>): number => {
  let attempts = 0
  for (const label of labels) {
    const match = /^oompa:attempts-(\d+)$/.exec(label)
    if (match !== null) attempts = Math.max(attempts, Number(match[1]))
  }
  return attempts
}

