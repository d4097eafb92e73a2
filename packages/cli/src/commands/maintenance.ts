/**
 * `oompa worktrees` and `oompa cleanup` (SPEC F10, F14): what runs left on disk, and its repair
 * (`@oompa/adapters-node`'s `DiskRecovery`, which every run's start also does). Cleanup never
 * touches what a live run holds: it takes the run lock first (a live holder makes it refuse).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Command } from "effect/cli"
import { Git, type Ids } from "@oompa/core"
import { DiskRecovery, NodeGit, RunLock } from "@oompa/adapters-node"
import { UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import type * as Session from "../Session.ts"
import { currentSession } from "./inspect.ts"

const gitLayer = (session: Session.Session) => DiskRecovery.gitLayer(session)

export const worktrees = Command.make("worktrees", {
  json: Output.jsonFlag("the worktrees (NodeGit.WorktreeList)")
}, ({ json }) =>
  Effect.gen(function*() {
    const session = yield* currentSession
    const found = yield* Git.Git.use((git) => git.listWorkspaces).pipe(
      Effect.provide(gitLayer(session)),
      Effect.mapError((e) => new UsageError({ message: e.message }))
    )
    if (json) return yield* Output.json(NodeGit.WorktreeList, found)
    yield* Output.lines(found.length === 0 ? ["no oompa worktrees"] : found.map((w) => `${w.worker.padEnd(10)} ${w.path}`))
  })).pipe(
  Command.withDescription("List the worktrees oompa's workers use"),
  Command.withExamples([
    { command: "oompa worktrees", description: "Worker, path" },
    { command: "oompa worktrees --json", description: "The same as JSON (NodeGit.WorktreeList of @oompa/adapters-node)" }
  ])
)

export const cleanup = Command.make("cleanup", {}, () =>
  Effect.scoped(Effect.gen(function*() {
    const session = yield* currentSession
    const lock = yield* RunLock.acquire(session.paths.lockPath, "00c1ea00" as Ids.RunId).pipe(
      Effect.catchTag("RunLockHeld", (held) => Effect.fail(new UsageError({ message: `${held.message}\ncleanup never touches what a live run holds; stop it first (oompa stop)` }))),
      Effect.catchTag("RunLockError", (e) => Effect.fail(new UsageError({ message: e.message })))
    )
    const report = [...(lock.takeover === undefined ? [] : [lock.takeover]), ...(yield* DiskRecovery.repair(session).pipe(Effect.mapError((e) => new UsageError({ message: e.message }))))]
    yield* Output.lines(report.length === 0 ? ["nothing to clean up"] : report)
  }))).pipe(
  Command.withDescription("Repair what dead runs left: agents, claims, worktrees, branches, an interrupted checkout sync"),
  Command.withExamples([{ command: "oompa cleanup", description: "After a crash or kill -9" }])
)
