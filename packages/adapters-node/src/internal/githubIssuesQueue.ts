/**
 * The task queue of a project whose tasks are GitHub issues (`tasks.github`): opened with the token
 * `GITHUB_TOKEN`, `GH_TOKEN` or `gh auth token` gives, and journaled (`claimJournal.ts`) so that
 * recovery returns this repository's claims only. A token that is missing or cannot see the
 * repository is a setup error (reason `remote`, exit 2) naming `tasks.github`.
 *
 * Internal: used by `SwarmRun` and `DiskRecovery`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { TaskQueue } from "@oompa/core"
import * as GitHubIssuesTaskQueue from "../GitHubIssuesTaskQueue.ts"
import * as GitHubPullRequests from "../GitHubPullRequests.ts"
import * as Project from "../Project.ts"
import * as RunPaths from "../RunPaths.ts"
import * as ClaimJournal from "./claimJournal.ts"

/**
 * The project's GitHub issues queue, journaled; `undefined` when its tasks are a folder. Lives as
 * long as the caller's scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const open = (
  project: Project.Project,
  runId: string,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<TaskQueue.TaskQueue["Service"] | undefined, Project.SetupError, Scope.Scope> => {
  const github = project.config.tasks?.github
  if (github === undefined) return Effect.succeed(undefined)
  const setupError = (message: string) => new Project.SetupError({ reason: "remote", message: `tasks.github (${github.owner}/${github.repo}): ${message}\nnothing was claimed` })
  return GitHubPullRequests.resolveToken(env).pipe(
    Effect.mapError((e) => setupError(e.message)),
    Effect.flatMap((token) =>
      Effect.mapError(
        Layer.build(GitHubIssuesTaskQueue.layer({ owner: github.owner, repo: github.repo, token, apiUrl: github.api_url, label: github.label, runId })),
        (e) => setupError(e.message)
      )),
    Effect.map((context) => ClaimJournal.journaled(Context.get(context, TaskQueue.TaskQueue), RunPaths.claimsDir(project.paths)))
  )
}

/**
 * What recovery sees of the project's GitHub issues queue (`DiskRecovery`): only the claims this
 * repository's runs wrote down; the host is asked only when there are some.
 *
 * @category constructors
 * @since 0.1.0
 */
export const forRecovery = (
  project: Project.Project,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<TaskQueue.TaskQueue["Service"], Project.SetupError, Scope.Scope> =>
  Effect.gen(function*() {
    const held = ClaimJournal.held(RunPaths.claimsDir(project.paths))
    if (held.size === 0) return ClaimJournal.nothingHeld
    const queue = yield* open(project, "cleanup", env)
    return queue === undefined ? ClaimJournal.nothingHeld : ClaimJournal.onlyHeld(queue, held)
  })
