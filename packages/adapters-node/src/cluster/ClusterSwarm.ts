/**
 * A swarm run over a cluster of runners (issue 21): `oompa swarm --cluster <postgres url>`. The
 * driver records the run (its oompa.json) and imports the folder queue's pending tasks into the
 * run's queue in PostgreSQL, then drives each worker slot as `Worker.run` does on one machine: it
 * sends iteration after iteration to the slot's `Worker` entity — whichever runner holds it runs it
 * — and stops the worker for the same reasons (iterations used up, `__DONE__`, three errors in a
 * row, nothing left to claim). It needs no runner of its own: it joins as a client.
 *
 * @since 0.1.0
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { Cause, Clock, Deferred, Effect, Fiber, type FileSystem, Layer, Option, type Path, Schedule } from "effect"
import type { Sharding } from "effect/cluster"
import type { SqlClient } from "effect/sql/SqlClient"
import { AgentSpec, type Event, type SwarmConfig, TaskQueue } from "@oompa/core"
import * as fs from "node:fs"
import * as FsTaskQueue from "../FsTaskQueue.ts"
import * as JsonlEventLog from "../JsonlEventLog.ts"
import * as Project from "../Project.ts"
import * as RunLock from "../RunLock.ts"
import * as RunPaths from "../RunPaths.ts"
import * as SwarmRun from "../SwarmRun.ts"
import * as ClusterBudget from "./ClusterBudget.ts"
import * as ClusterEventLog from "./ClusterEventLog.ts"
import * as ClusterTaskQueue from "./ClusterTaskQueue.ts"
import * as FolderResults from "./folderResults.ts"
import { database, shardingConfig } from "./ClusterRunner.ts"
import { type IterationSummary, Worker, workerEntityId } from "./Protocol.ts"
import * as RunTable from "./RunTable.ts"

/** Errors in a row that stop a worker, as on one machine. */
const errorsInRowMax = 3

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The cluster's PostgreSQL URL. */
  readonly db: string
  /** A folder of the repository whose oompa.json and tasks the run takes (default: the current folder). */
  readonly cwd?: string
  /** The run's id (default: fresh). */
  readonly runId?: string
  /** Called with a line for each iteration and each worker's end. */
  readonly onLine?: (line: string) => void
}

/**
 * What the run came to.
 *
 * @category models
 * @since 0.1.0
 */
export interface ClusterReport {
  readonly runId: string
  /** As on one machine: \`failed\` when a task failed or is left held, a worker stopped on errors or main moved. */
  readonly outcome: Event.SwarmOutcome
  /** The run's merged log, copied into the checkout the run was started from. */
  readonly eventsPath: string
  readonly iterations: ReadonlyArray<IterationSummary & { readonly worker: string; readonly iteration: number }>
  /** The run's tasks by where they ended. */
  readonly tasks: { readonly complete: number; readonly failed: number; readonly pending: number; readonly current: number }
  readonly durationMs: number
}

/** What one machine's swarm does that a cluster's does not yet: refused with the field named. */
const unsupported = (config: SwarmConfig.SwarmConfig): string | undefined =>
  config.planner !== undefined ? "planner" :
    config.target !== undefined ? "target (a cluster lands on its runners' hub)" :
      config.tasks?.github !== undefined ? "tasks.github" :
        (config.notify ?? []).length > 0 ? "notify" :
        config.workers.some((w) => w.role === "planner") ? "workers[].role \"planner\"" : undefined

/**
 * Runs the swarm of the oompa.json in `cwd` on the cluster, to its end.
 *
 * @category programs
 * @since 0.1.0
 */
export const run = (options: Options): Effect.Effect<ClusterReport, Project.SetupError, Sharding.Sharding | SqlClient | Platform> =>
  Effect.scoped(Effect.gen(function*() {
    const line = options.onLine ?? (() => {})
    const project = yield* SwarmRun.projectOf({ cwd: options.cwd ?? process.cwd() })
    const refused = unsupported(project.config)
    if (refused !== undefined) {
      return yield* new Project.SetupError({ reason: "config", message: `${project.configFile ?? "oompa.json"}: ${refused} is not supported with --cluster yet` })
    }
    const configText = project.configFile === undefined ? JSON.stringify(project.config) : fs.readFileSync(project.configFile, "utf8")
    const runId = options.runId ?? SwarmRun.newRunId()
    // The checkout's tasks are this run's until it ends: a run on one machine must not claim them meanwhile.
    const lock = yield* RunLock.acquire(project.paths.lockPath, runId).pipe(Effect.mapError((e) => new Project.SetupError({ reason: "lock", message: e.message })))
    if (lock.takeover !== undefined) line(`warning: ${lock.takeover}`)
    const startedMs = yield* Clock.currentTimeMillis
    yield* RunTable.insert(runId, configText)
    yield* ClusterEventLog.ensure
    yield* ClusterBudget.ensure
    const emit = (event: Event.Event) => ClusterEventLog.append(runId, ClusterEventLog.driver, event)
    const eventsPath = RunPaths.eventsPath(project.paths, runId as never)
    const follower = yield* followLog(runId, eventsPath)
    yield* emit({
      _tag: "SwarmStarted",
      at: startedMs,
      runId,
      // The hub's main: the driver does not read the hub, its runners do (their IterationStarted names the base).
      branch: project.config.branch ?? "main",
      base: "",
      workers: project.config.workers.map((w) => ({ id: w.id, role: w.role, agent: AgentSpec.formatModelString(w.agent), iterations: w.iterations })),
      review: project.config.review,
      dryRun: false
    })
    const pending = yield* Effect.provide(
      Effect.flatMap(TaskQueue.TaskQueue, (queue) => queue.list("pending")),
      FsTaskQueue.layer(project.paths.tasksDir)
    )
    const files = yield* FolderResults.pendingFiles(project.paths.tasksDir, pending.map((task) => task.id))
    const imported = yield* ClusterTaskQueue.importTasks(runId, pending)
    line(`run ${runId}: ${imported} task(s) imported into the cluster's queue; ${project.config.workers.length} worker(s)`)
    const watcher = yield* ClusterTaskQueue.make({ queue: runId, claimedBy: `${runId}/driver` })
    const client = yield* Worker.client
    const iterations: Array<ClusterReport["iterations"][number]> = []
    const reasons: Array<Event.WorkerStopReason> = []

    // Asked to stop (Ctrl-C): no new iteration is sent, the ones on the runners are waited for.
    const stopping = yield* Deferred.make<void>()
    const stopRequested = Deferred.isDone(stopping)
    /** Sleeps `ms`, or less when the run is asked to stop. */
    const pause = (ms: number) => Effect.raceFirst(Effect.sleep(ms), Deferred.await(stopping))

    /** Whether a task may still become ready: one is ready, or a held one may yet complete. */
    const waitForTasks = Effect.gen(function*() {
      const waitMs = project.config.max_wait_for_tasks * 1000
      const started = yield* Clock.currentTimeMillis
      for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
        if ((yield* watcher.ready).length > 0) return true
        const held = (yield* watcher.list("current")).length > 0 && (yield* watcher.list("pending")).length > 0
        if (!held || (yield* Clock.currentTimeMillis) - started >= waitMs || (yield* stopRequested)) return false
        yield* pause(delay)
      }
    })

    const driveWorker = (worker: SwarmConfig.WorkerConfig) =>
      Effect.gen(function*() {
        const slot = client(workerEntityId(runId, worker.id))
        let n = 0
        let step = 0
        let errorsInRow = 0
        let reason: Event.WorkerStopReason = "iterations"
        yield* emit({ _tag: "WorkerStarted", at: yield* Clock.currentTimeMillis, worker: worker.id, role: worker.role, iterations: worker.iterations })
        while (n < worker.iterations) {
          if (yield* stopRequested) {
            reason = "interrupted"
            break
          }
          step++
          const summary = yield* slot.RunIteration({ run: runId, worker: worker.id, iteration: n + 1, step }).pipe(
            // The cluster's own hiccups (a mailbox full, a shard moving) are waited out; the message is the same.
            Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 120 })
          )
          if (summary.outcome === "nothing-to-claim") {
            line(`${worker.id} #${n + 1} nothing-to-claim on ${summary.runner}`)
            if (!(yield* waitForTasks)) {
              reason = "no-tasks"
              break
            }
            continue
          }
          n++
          iterations.push({ ...summary, worker: worker.id, iteration: n })
          yield* RunTable.recordWorker(runId, worker.id, summary.runner, n, summary.outcome)
          line(`${worker.id} #${n} ${summary.outcome}${summary.task === undefined ? "" : ` ${summary.task}`} on ${summary.runner}${summary.detail === undefined || summary.outcome === "merged" ? "" : `: ${summary.detail.split("\n")[0]}`}`)
          if (summary.outcome === "budget" || summary.outcome === "main-moved" || summary.outcome === "unavailable") {
            reason = summary.outcome
            break
          }
          if (summary.setupFailed) {
            reason = "setup-failed"
            break
          }
          errorsInRow = summary.outcome === "error" ? errorsInRow + 1 : 0
          if (errorsInRow >= errorsInRowMax) {
            reason = "errors"
            break
          }
          if (summary.done) {
            reason = "done"
            break
          }
          if (worker.wait_between > 0 && n < worker.iterations) yield* pause(worker.wait_between * 1000)
        }
        yield* Effect.ignore(slot.EndWorker({ run: runId, worker: worker.id }))
        yield* emit({ _tag: "WorkerFinished", at: yield* Clock.currentTimeMillis, worker: worker.id, reason, iterations: n })
        reasons.push(reason)
        line(`${worker.id} finished: ${reason} after ${n} iteration(s)`)
      })

    // Ctrl-C asks the run to stop: the iterations the runners are running are waited for (a persisted
    // message runs to its end wherever it is), then the run ends as any run does: held tasks go back,
    // the folder says what became of each. A second Ctrl-C leaves at once (the CLI exits).
    /** The run's end, whether it ran out or was asked to stop. */
    const finish = (interrupted: boolean) =>
      Effect.gen(function*() {
      yield* RunTable.finish(runId)
      // The run's own limit, counted over every runner, if that is what stopped it.
      const budget = reasons.includes("budget") ? yield* ClusterBudget.runSpent(runId, project.config.budget) : Option.none()
      const count = (status: "complete" | "failed" | "pending" | "current") => Effect.map(watcher.list(status), (tasks) => tasks.length)
      const tasks = { complete: yield* count("complete"), failed: yield* count("failed"), pending: yield* count("pending"), current: yield* count("current") }
      // Every worker has ended: a task still held is an orphan (its runner died, or could not record its
      // outcome); it goes back to pending/ with why, counted above so the run says it did not finish it.
      for (const task of yield* watcher.list("current")) {
        yield* watcher.release(task.id, { feedback: `run ${runId} ended with this task held (its runner died, or could not record the outcome): check main before redoing it`, countAttempt: false, maxAttempts: project.config.max_task_attempts })
      }
      // The folder the tasks came from says what became of them, as after a run on one machine.
      const moved = yield* FolderResults.writeBack(project.paths.tasksDir, files, { complete: yield* watcher.list("complete"), failed: yield* watcher.list("failed") })
      const merged = iterations.filter((i) => i.outcome === "merged").length
      const outcome: Event.SwarmOutcome = interrupted ? "interrupted" : reasons.includes("unavailable") ? "unavailable" :
        tasks.failed > 0 || tasks.current > 0 || reasons.includes("errors") || reasons.includes("main-moved") || (iterations.length > 0 && merged === 0) ? "failed" : "ok"
      const finishedMs = yield* Clock.currentTimeMillis
      yield* emit({
        _tag: "SwarmFinished",
        at: finishedMs,
        outcome,
        durationMs: finishedMs - startedMs,
        merged,
        rejected: iterations.filter((i) => i.outcome === "rejected" || i.outcome === "exhausted").length,
        failed: tasks.failed,
        ...(Option.isSome(budget) ? { budget: budget.value } : {})
      })
      const unfinishedLog = yield* follower.finish
      if (unfinishedLog !== undefined) line(`warning: ${unfinishedLog}`)
      line(`run ${runId} finished: ${tasks.complete} complete, ${tasks.failed} failed, ${tasks.pending} pending, ${tasks.current} held (${moved} task file(s) moved out of pending/)`)
      return { runId, outcome, eventsPath, iterations, tasks, durationMs: finishedMs - startedMs } satisfies ClusterReport
      })

    return yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const driving = yield* Effect.forkChild(Effect.forEach(project.config.workers, driveWorker, { concurrency: "unbounded", discard: true }))
        const exit = yield* Effect.exit(restore(Fiber.join(driving)))
        if (exit._tag === "Success") return yield* finish(false)
        if (!Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.failCause(exit.cause)
        yield* Deferred.succeed(stopping, undefined)
        line(`run ${runId}: stopping; waiting for the iterations the runners are running (Ctrl-C again leaves them running)`)
        yield* Fiber.join(driving)
        return yield* finish(true)
      }))
  })).pipe(
    // The cluster's own failures (its database, a message that could not be delivered) end the run, named.
    Effect.mapError((e) => e._tag === "SetupError" ? e : new Project.SetupError({ reason: "remote", message: `the cluster: ${"message" in e && typeof e.message === "string" && e.message !== "" ? e.message : e._tag}` }))
  )

/**
 * Copies the run's merged log into `eventsPath` as it grows, every half second; `finish` copies the
 * rest once every writer has stopped.
 */
const followLog = (runId: string, eventsPath: string) =>
  Effect.gen(function*() {
    const local = yield* JsonlEventLog.make(eventsPath).pipe(Effect.mapError((e) => new Project.SetupError({ reason: "layers", message: e.message })))
    let cursor = ClusterEventLog.start
    const copy = (settled: boolean) =>
      Effect.gen(function*() {
        for (;;) {
          const page = yield* ClusterEventLog.readAfter(runId, cursor, { settled })
          yield* Effect.forEach(page.events, (logged) => local.emit(logged.event), { discard: true })
          cursor = page.cursor
          if (page.events.length === 0) return
        }
      })
    const stop = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkScoped(Effect.gen(function*() {
      for (;;) {
        // A read that failed (the database out of reach a moment) moved nothing: the next one reads it again.
        yield* Effect.exit(copy(true))
        if (yield* Deferred.isDone(stop)) return
        yield* Effect.raceFirst(Effect.sleep("500 millis"), Deferred.await(stop))
      }
    }))
    /**
     * The rest of the log, once every writer has finished (the runners replied, the driver's own
     * writes are committed): what the settled reads held back is read after everything they read.
     * What cannot be read even after retries is said, not thrown: the run itself is over.
     */
    const finish = Effect.gen(function*() {
      yield* Deferred.succeed(stop, undefined)
      yield* Fiber.join(fiber)
      const rest = yield* Effect.exit(Effect.andThen(copy(true), copy(false)).pipe(Effect.retry({ times: 6, schedule: Schedule.exponential("100 millis") })))
      return rest._tag === "Success" ? undefined : `${eventsPath} misses the run's last events (the cluster's database has them in oompa_events): ${Cause.squash(rest.cause)}`
    })
    return { finish }
  })

/**
 * The driver's cluster: a client of the runners (it holds no shard), over the cluster's PostgreSQL.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (db: string) =>
  NodeClusterSocket.layer({ storage: "sql", clientOnly: true, shardingConfig: shardingConfig() }).pipe(Layer.provideMerge(database(db)))

/** Needed from the platform. */
export type Platform = FileSystem.FileSystem | Path.Path
