/**
 * The typed failures the service boundaries raise. Expected failures live in the error channel;
 * anything else is a defect (a bug in oompa or in an adapter).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Why a git operation failed, for callers to match on (the message is for people):
 *
 * - `not-a-repository`: the folder is not (or no longer) a git repository;
 * - `missing-object`: a commit, tree or ref it needs does not exist;
 * - `ref-moved`: a ref was not where the operation expected it (a lost compare-and-swap);
 * - `locked`: another process holds a lock file (`index.lock`, `refs/heads/main.lock`);
 * - `unreadable`: git's output, or a file of the repository, is not in a form we understand;
 * - `spawn-failed`: git could not be started;
 * - `failed`: any other non-zero exit, with git's own words in the message.
 *
 * @category models
 * @since 0.1.0
 */
export const GitErrorReason = Schema.Literals([
  "not-a-repository",
  "missing-object",
  "ref-moved",
  "locked",
  "unreadable",
  "spawn-failed",
  "failed"
])

/**
 * @category models
 * @since 0.1.0
 */
export type GitErrorReason = typeof GitErrorReason.Type

/**
 * Raised by the `Git` boundary when a git operation fails for a reason other than a merge conflict
 * (conflicts are a normal result, not an error).
 *
 * @category errors
 * @since 0.1.0
 */
export class GitError extends Schema.TaggedError<GitError>()("GitError", {
  operation: Schema.String,
  reason: GitErrorReason,
  message: Schema.String
}) {}

/**
 * Raised by the `Agent` boundary when an agent could not be run at all (binary missing, not
 * authenticated, spawn failure). A non-zero exit or a timeout is a result, not this error.
 *
 * @category errors
 * @since 0.1.0
 */
export class AgentUnavailable extends Schema.TaggedError<AgentUnavailable>()("AgentUnavailable", {
  agent: Schema.String,
  message: Schema.String,
  /**
   * The agent cannot run anywhere in this run (binary missing, not logged in, refusing to run as
   * root): the run stops, as it would have at its start, and no task attempt is spent on it.
   */
  stopsRun: Schema.optionalKey(Schema.Boolean)
}) {}

/**
 * Raised by the `TaskQueue` boundary when the queue's storage fails (not for a lost claim race,
 * which is a normal `None`).
 *
 * @category errors
 * @since 0.1.0
 */
export class TaskQueueError extends Schema.TaggedError<TaskQueueError>()("TaskQueueError", {
  operation: Schema.String,
  task: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

/**
 * Raised by the `Prompts` boundary when a prompt file cannot be read.
 *
 * @category errors
 * @since 0.1.0
 */
export class PromptError extends Schema.TaggedError<PromptError>()("PromptError", {
  prompt: Schema.String,
  message: Schema.String
}) {}

/**
 * Raised by the `CommandRunner` boundary when a test or setup command could not be started at all
 * (a failing command is a result, not this error).
 *
 * @category errors
 * @since 0.1.0
 */
export class CommandError extends Schema.TaggedError<CommandError>()("CommandError", {
  command: Schema.String,
  message: Schema.String
}) {}

/**
 * Why a call to the code host (GitHub) failed, for callers to match on:
 *
 * - `auth`: the token is missing, wrong or lacks access (401, or 403/404 on the repository itself);
 * - `unreachable`: the host did not answer, after the retries;
 * - `refused`: the host understood and said no (422 and the like), with its message;
 * - `failed`: any other answer we cannot use.
 *
 * @category models
 * @since 0.1.0
 */
export const PullRequestErrorReason = Schema.Literals(["auth", "unreachable", "refused", "failed"])

/**
 * @category models
 * @since 0.1.0
 */
export type PullRequestErrorReason = typeof PullRequestErrorReason.Type

/**
 * Raised by the `PullRequests` boundary when the code host cannot do what was asked. Rate limits and
 * network faults are waited out and retried inside the boundary; this is what remains.
 *
 * @category errors
 * @since 0.1.0
 */
export class PullRequestError extends Schema.TaggedError<PullRequestError>()("PullRequestError", {
  operation: Schema.String,
  reason: PullRequestErrorReason,
  message: Schema.String
}) {}
