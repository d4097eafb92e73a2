/**
 * The records of live agent process groups, `<runDir>/agents/<pid>.json` (F14): written once a call's
 * process is spawned (it leads its own group), removed after the group is stopped. A record left
 * behind belongs to a run that died, and recovery kills its group.
 *
 * Internal: used by `NodeAgent`, which re-exports the record's model and names.
 *
 * @since 0.1.0
 */
import type { Agent } from "@oompa/core"
import { Effect, FileSystem, Path, Schema } from "effect"
import type * as Harnesses from "../Harnesses.ts"

type AgentRequest = Agent.AgentRequest

/**
 * The folder of a run (`<runDir>/agents/`) holding one `<pid>.json` per live agent process group.
 *
 * @category constants
 * @since 0.1.0
 */
export const groupsFolderName = "agents"

/**
 * One live agent process group, as recorded in `<runDir>/agents/<pid>.json` while its call runs
 * and removed after the group is stopped. A record left behind belongs to a run that died: recovery
 * (F14) kills the group `-pgid` once it has checked that `orchestratorPid` is no longer alive.
 *
 * @category models
 * @since 0.1.0
 */
export const GroupRecord = Schema.Struct({
  pid: Schema.Finite,
  /** Equal to `pid`: the agent leads its own group (spawned detached). */
  pgid: Schema.Finite,
  orchestratorPid: Schema.Finite,
  worker: Schema.String,
  iteration: Schema.Finite,
  call: Schema.String,
  command: Schema.String,
  args: Schema.Array(Schema.String),
  cwd: Schema.String,
  startedAt: Schema.String
})
export type GroupRecord = typeof GroupRecord.Type

/**
 * The suffix of a record being written; one left by a kill mid-write is removed by recovery.
 *
 * @category constants
 * @since 0.1.0
 */
export const partialSuffix = ".partial"

/** Writes the group's record; a crash between the spawn and this write leaves an unrecorded group. */
export const recordGroup = Effect.fnUntraced(function*(runDir: string, request: AgentRequest, line: Harnesses.CommandLine, pid: number, startedMs: number) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const folder = path.join(runDir, groupsFolderName)
  yield* fs.makeDirectory(folder, { recursive: true })
  const record: GroupRecord = {
    pid,
    pgid: pid,
    orchestratorPid: process.pid,
    worker: request.worker,
    iteration: request.iteration,
    call: request.call,
    command: line.command,
    args: line.args,
    cwd: request.cwd,
    startedAt: new Date(startedMs).toISOString()
  }
  // Whole or absent: a kill during a plain write left an empty record that recovery could not read.
  const target = path.join(folder, `${pid}.json`)
  yield* fs.writeFileString(`${target}${partialSuffix}`, `${JSON.stringify(record)}\n`)
  yield* fs.rename(`${target}${partialSuffix}`, target)
})

/** Removes the group's record once the group is stopped; a failure is logged, never raised (it runs as a finalizer). */
export const unrecordGroup = (runDir: string, pid: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* fs.remove(path.join(runDir, groupsFolderName, `${pid}.json`), { force: true })
  }).pipe(Effect.catch((error) => Effect.logWarning(`oompa: could not remove the process-group record of ${pid}: ${error.message}`)))
