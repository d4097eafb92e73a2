/**
 * Repairs what dead runs left in a repository (SPEC F14), on disk: the part of `oompa cleanup` and
 * of every run's start that an embedder gets too.
 *
 * It never touches what a live run holds: the caller holds the run lock. It kills the agent process
 * groups of dead runs and every other process they started for this repository (`ProcessOwner`:
 * test and setup commands, an agent killed with its oompa before its record was written), waits for
 * their git commands to finish, finishes an interrupted checkout sync (opening the git layer does
 * that), then runs core's `Recovery` program — the one the simulator runs after each crash it
 * injects — over the disk: claims in `current/` go back to `pending/` (or to `complete/` when main
 * already has their merge), worktrees are removed, and run branches are deleted, except those whose
 * run log (`events.jsonl`) shows approved work that never landed, which are kept and listed with the
 * command that merges them. The test gates' worktrees (`<worktreesDir>/.test-gate*`, which a run
 * removes when it ends but a `kill -9` leaves) are removed too.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Layer, Path, Result, Schedule, Schema } from "effect"
import { Errors, EventSink, Git, Recovery, TaskQueue } from "@oompa/core"
import type { ChildProcessSpawner } from "effect/process"
import * as nodeFs from "node:fs"
import * as FsTaskQueue from "./FsTaskQueue.ts"
import * as GitHubIssuesQueue from "./internal/githubIssuesQueue.ts"
import * as JsonlEventLog from "./JsonlEventLog.ts"
import * as NodeAgent from "./NodeAgent.ts"
import * as NodeCommandRunner from "./NodeCommandRunner.ts"
import * as NodeGit from "./NodeGit.ts"
import * as ProcessOwner from "./ProcessOwner.ts"
import type * as Project from "./Project.ts"
import * as RunLock from "./RunLock.ts"
import * as RunPaths from "./RunPaths.ts"

/**
 * The git layer recovery and the read commands use: the repository's, under no run. With `remote`
 * (what `repair` asks for) a remote target (`target.mode: "push"`) is fetched first, its branch and
 * merged markers, so what a dead run pushed but never recorded locally counts as landed; an
 * unreachable remote then fails it. Without, main is the local branch (no network).
 *
 * @category layers
 * @since 0.1.0
 */
export const gitLayer = (
  project: Project.Project,
  options: { readonly remote?: boolean; readonly discovered?: NodeGit.Discovery | undefined } = {}
): Layer.Layer<Git.Git, Errors.GitError, ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path> =>
  NodeGit.layer({
    repoRoot: project.repoRoot,
    worktreesDir: project.config.worktrees_dir,
    branch: project.config.branch,
    runId: "cleanup",
    remote: options.remote === true ? project.config.target?.remote : undefined,
    discovered: options.discovered
  })

/**
 * The queue recovery returns claims to: the task folders, or — for tasks from GitHub Issues, a queue
 * other machines share — only the claims this repository's runs wrote down (`claimJournal.ts`).
 */
const taskQueueLayer = (project: Project.Project, env: Readonly<Record<string, string | undefined>>): Layer.Layer<TaskQueue.TaskQueue, Errors.TaskQueueError, FileSystem.FileSystem | Path.Path> =>
  project.config.tasks?.github === undefined
    ? FsTaskQueue.layer(project.paths.tasksDir)
    : Layer.effect(TaskQueue.TaskQueue, GitHubIssuesQueue.forRecovery(project, env).pipe(
      Effect.mapError((e) => new Errors.TaskQueueError({ operation: "recover", message: e.message }))
    ))

/**
 * Kills the process groups of agents whose oompa process is gone (their records), then every other
 * process such an oompa process started for this repository (`ProcessOwner`) except its own git
 * commands, which it lets finish; returns what it killed.
 */
const killOrphanAgents = (runsDir: string, repoRoot: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const killed: Array<string> = []
    const killedGroups = new Set<number>()
    for (const run of yield* fs.readDirectory(runsDir).pipe(Effect.orElseSucceed(() => []))) {
      const dir = path.join(runsDir, run, NodeAgent.groupsFolderName)
      for (const file of yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed(() => []))) {
        const decoded = decodeRecord(yield* fs.readFileString(path.join(dir, file)).pipe(Effect.orElseSucceed(() => "")))
        if (file.endsWith(NodeAgent.partialSuffix) || Result.isFailure(decoded)) {
          // A record a kill cut short (a `.partial` one, or an empty one written before records were
          // renamed into place; issue 8's crash trials): its agent, if it started, is found below by
          // its marker. The caller holds the run lock, so no live run is writing it.
          yield* fs.remove(path.join(dir, file)).pipe(Effect.orDie)
          continue
        }
        const record = decoded.success
        if (RunLock.isProcessAlive(record.orchestratorPid)) continue
        yield* Effect.sync(() => {
          try {
            process.kill(-record.pgid, "SIGKILL")
            killedGroups.add(record.pgid)
            killed.push(`agent ${record.command} of ${record.worker} (pid ${record.pid})`)
          } catch {
            // ESRCH: the group is already gone; the record is all that is left.
          }
        })
        yield* fs.remove(path.join(dir, file)).pipe(Effect.orDie)
      }
    }
    // The records miss an agent oompa was killed with between its spawn and its record, every test
    // and setup command, and descendants that left their group: the processes marked for this
    // repository by an oompa process that is gone (issue 8: found by kill -9 at the instant an agent
    // had started, which left it running after cleanup).
    const orphans = yield* Effect.sync(() => ProcessOwner.findOrphans(repoRoot, RunLock.isProcessAlive))
    yield* Effect.sync(() => {
      const ownGroup = ownProcessGroup()
      for (const orphan of orphans) {
        if (killedGroups.has(orphan.pgid) || isGit(orphan)) continue
        const target = orphan.pgid > 1 && orphan.pgid !== ownGroup ? -orphan.pgid : orphan.pid
        try {
          process.kill(target, "SIGKILL")
          if (target < 0) killedGroups.add(orphan.pgid)
          killed.push(`${orphan.command} (pid ${orphan.pid}) left by the dead oompa process ${orphan.orchestratorPid}`)
        } catch {
          // ESRCH: it ended while we looked.
        }
      }
    })
    killed.push(...yield* awaitOrphanGit(repoRoot, orphans.filter(isGit)))
    return killed
  })

const isGit = (orphan: ProcessOwner.Orphan): boolean => /(^|\/)git$/.test(orphan.command.split(" ")[0] ?? "")

/** How long a dead run's own git command may take to finish before it is stopped. */
const orphanGitGraceMs = 10_000

/**
 * Waits for the git commands a dead oompa process left running (its `worktree add`, `checkout`,
 * `update-ref`, ...): they finish in milliseconds on their own, and what they write is what the
 * repair then reads — repairing beside one was seen to catch a worktree mid-creation (issue 8's
 * crash trials: `git fsck` failed on its null HEAD). Killed with SIGKILL, git would leave its lock
 * files behind; one still running after `orphanGitGraceMs` gets SIGTERM, on which git removes them
 * (and a half-made worktree). Returns what it had to stop.
 */
const awaitOrphanGit = (repoRoot: string, found: ReadonlyArray<ProcessOwner.Orphan>) =>
  Effect.gen(function*() {
    const stillRunning = Effect.sync(() => ProcessOwner.findOrphans(repoRoot, RunLock.isProcessAlive).filter(isGit))
    // A look every 20 ms while any is running, for at most `orphanGitGraceMs`.
    const running = found.length === 0 ? found : yield* stillRunning.pipe(
      Effect.delay(orphanGitPollMs),
      Effect.repeat({ schedule: Schedule.spaced(orphanGitPollMs).pipe(Schedule.upTo({ duration: orphanGitGraceMs })), while: (left) => left.length > 0 })
    )
    return running.flatMap((orphan) => {
      try {
        process.kill(orphan.pid, "SIGTERM")
        return [`${orphan.command} (pid ${orphan.pid}) left by the dead oompa process ${orphan.orchestratorPid}, still running after ${orphanGitGraceMs / 1000} s`]
      } catch {
        return [] // ESRCH: it ended while we looked.
      }
    })
  })

/** How often the wait for a dead run's git commands looks again. */
const orphanGitPollMs = 20

const decodeRecord = Schema.decodeUnknownResult(Schema.fromJsonString(NodeAgent.GroupRecord))

/** This process's group, from /proc (undefined elsewhere): never a target of the orphan kill. */
const ownProcessGroup = (): number | undefined => {
  try {
    return Number(nodeFs.readFileSync("/proc/self/stat", "utf8").replace(/^.*\) /s, "").split(" ")[2])
  } catch {
    return undefined
  }
}

/**
 * Repairs what dead runs left (SPEC F14), with core's `Recovery` program over the Node layers. The
 * caller holds the run lock, so nothing here belongs to a live run. Returns what it did, as lines.
 * `env` gives the GitHub token when claims of a GitHub issues queue are to be returned (as the
 * run's own `env` does). `discovery` is how git is asked about the repository (default
 * `NodeGit.discover`), after the orphans are killed: a run passes a cached one, so that its own
 * layers do not ask again.
 *
 * @category programs
 * @since 0.1.0
 */
export const repair = (
  project: Project.Project,
  env: Readonly<Record<string, string | undefined>> = process.env,
  discovery: Effect.Effect<NodeGit.Discovery, Errors.GitError> = NodeGit.discover(project.repoRoot)
): Effect.Effect<
  ReadonlyArray<string>,
  Errors.GitError | Errors.TaskQueueError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const lines = (yield* killOrphanAgents(project.paths.runsDir, project.repoRoot)).map((k) => `killed ${k}`)
    // After the kill: a repository git cannot open leaves no dead run's agent running. The gate
    // sweep and the git layer both open it: git is asked about it once.
    const repository = yield* discovery
    // After the kill: no test command of a dead run runs in a gate any more.
    lines.push(...yield* NodeCommandRunner.removeLeftoverGates({ repoRoot: project.repoRoot, worktreesDir: project.config.worktrees_dir, branch: project.config.branch, discovered: repository }))
    const repaired = yield* Effect.gen(function*() {
      const git = yield* Git.Git
      const files = yield* Effect.context<FileSystem.FileSystem>()
      const report = yield* Recovery.run({
        maxTaskAttempts: project.config.max_task_attempts,
        // A log that is gone or unreadable keeps nothing: its branches hold no work known to be approved.
        runLog: (runId) =>
          JsonlEventLog.readEvents(RunPaths.eventsPath(project.paths, runId)).pipe(Effect.orElseSucceed(() => []), Effect.provide(files))
      })
      return [
        ...report.returned.map((task) => `task ${task}: current/ -> pending/ (its run died)`),
        ...report.completed.map((c) => `task ${c.task}: current/ -> complete/ (merged in ${c.sha.slice(0, 10)})`),
        ...report.workspacesRemoved.map((path) => `removed worktree ${path}`),
        ...report.branchesDeleted.map((b) => `deleted branch ${b}`),
        ...report.branchesKept.map(({ branch: b, landedSince, task }) => {
          const kept = `kept ${b}: approved work that was never merged`
          // Recovery returned the dead iteration's task to pending/ and a later run redid it: merging
          // this branch now would apply the task a second time (issue 8's crash trials).
          if (task !== undefined && landedSince !== undefined) {
            return `${kept}; its task ${task} has since landed on ${git.targetBranch} in ${landedSince.slice(0, 10)}, so this is most likely superseded: compare with git diff ${git.targetBranch}...${b}, delete it with git branch -D ${b}`
          }
          return `${kept}; to merge it: git switch ${git.targetBranch} && git merge ${b}`
        })
      ]
    }).pipe(
      // With the remote target fetched: a push a dead run made before its bookkeeping counts as landed.
      Effect.provide([gitLayer(project, { remote: true, discovered: repository }), taskQueueLayer(project, env), EventSink.EventSink.layerNoop])
    )
    return [...lines, ...repaired]
  })
