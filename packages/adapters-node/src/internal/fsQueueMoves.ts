/**
 * How tasks move between the folders of the filesystem task queue: a claim is a checked `rename` from
 * `pending/` to `current/` (of several claimers only one wins), and every other move rewrites the held
 * file in place, then links it into the next folder and removes it from the old one, comparing before
 * it replaces anything. A move that finds the file changed under it reads it again; one that finds
 * a file of the same id in the next folder keeps that file and records the held copy in `invalid/`.
 *
 * Internal: used by `FsTaskQueue`.
 *
 * @since 0.1.0
 */
import { Errors, Ids, type Task as TaskModule } from "@oompa/core"
import { Effect, Option, Schedule } from "effect"
import * as Atomic from "./fsAtomic.ts"
import { moveToInvalid } from "./fsQueueInvalid.ts"
import { type Env, filePath, type Held, rereadsMax, taskFileBytesMax } from "./fsQueueLayout.ts"
import * as Index from "./fsQueueIndex.ts"
import { readTask, recordedReason, recordOf, unmetDependencies } from "./fsQueueListing.ts"
import * as Files from "./fsTaskFiles.ts"

type Task = TaskModule.Task
type TaskStatus = TaskModule.TaskStatus

/** Claim passes over `pending/` in which every candidate was taken by others before giving up. */
const claimRoundsMax = 100

/** A claim pass that lost a race is made again at once, up to `claimRoundsMax` passes in all. */
const claimRounds: Schedule.Schedule<number> = Schedule.recurs(claimRoundsMax - 1)

/** A move that found its file changed reads it again at once, up to `rereadsMax` tries in all. */
export const rereads: Schedule.Schedule<number> = Schedule.recurs(rereadsMax - 1)

/**
 * How a move ended: done; not done because the held file changed since it was read (read it again);
 * or not done because the target folder already has a file of this id (`by`), which was kept as it
 * is — `content` is the task's new text, still in the held folder.
 */
export type MoveOutcome =
  | { readonly _tag: "Moved" }
  | { readonly _tag: "Changed" }
  | { readonly _tag: "Taken"; readonly by: string; readonly content: string }

/**
 * Rewrites a held task in place as `<id>.json` with `task`'s fields (converting an `.edn` file),
 * then gives it its name in `to`. Each step is atomic and compares before it replaces anything:
 * - The rewrite happens only while the file still holds the text the task was read from. A person
 *   may edit a task file in `current/` after a crash, before recovery returns it to `pending/`:
 *   their edit is what was read, or the move starts over (`Changed`) and reads it; never a silent
 *   overwrite with an older copy. (A rewrite in the instant between the compare and the rename is
 *   not seen: the compare narrows the window to that instant, it cannot close it.)
 * - The file reaches `to` by `link`, which never replaces a file there, then leaves the held folder
 *   (only while it holds what was written). A file of the same id already in `to` — a person's new
 *   or edited `pending/<id>.json`, or a record in `complete/` or `failed/` — is kept byte for byte,
 *   and the caller decides (`Taken`); the same text there is the leftover of a move a crash
 *   interrupted between the two steps, and the move completes.
 */
export const moveTask = Effect.fnUntraced(function*(env: Env, held: Held, task: Task, to: TaskStatus) {
  const json = Files.fileNameOf(task.id)
  const content = Files.encodeTaskFile(task, held.raw)
  const source = filePath(env, held.status, json)
  const now = yield* Atomic.readRegularFile(filePath(env, held.status, held.name), taskFileBytesMax)
  if (now?._tag !== "Text" || now.content !== held.content) return { _tag: "Changed" } satisfies MoveOutcome
  if (held.name === json) {
    if (content !== held.content) yield* Atomic.writeAtomic(env.fs, env.path, env.layout.temp, source, content)
  } else {
    // An .edn file becomes <id>.json beside it; a .json that appeared in the meantime is not replaced.
    if (!(yield* Atomic.createExclusive(env.fs, env.path, env.layout.temp, source, content))) return { _tag: "Changed" } satisfies MoveOutcome
    yield* Atomic.removeIfUnchanged(env.fs, filePath(env, held.status, held.name), held.content)
  }
  if (to === held.status) return { _tag: "Moved" } satisfies MoveOutcome
  const edn = Files.fileNameOf(task.id, "edn")
  if (yield* env.fs.exists(filePath(env, to, edn))) return { _tag: "Taken", by: `${to}/${edn}`, content } satisfies MoveOutcome
  const target = filePath(env, to, json)
  if (!(yield* Atomic.linkNew(env.fs, source, target))) {
    const there = yield* Atomic.readRegularFile(target, taskFileBytesMax)
    if (there?._tag !== "Text" || there.content !== content) return { _tag: "Taken", by: `${to}/${json}`, content } satisfies MoveOutcome
  }
  yield* Atomic.removeIfUnchanged(env.fs, source, content)
  return { _tag: "Moved" } satisfies MoveOutcome
})

/** A task of `current/`, or a typed error naming where it is not. */
const readHeld = Effect.fnUntraced(function*(env: Env, operation: string, id: string) {
  const problem = Ids.idProblem(id)
  if (problem !== undefined) return yield* new Errors.TaskQueueError({ operation, task: id, message: `task id ${JSON.stringify(id)} ${problem}` })
  const held = yield* readTask(env, "current", id)
  if (held === undefined) return yield* new Errors.TaskQueueError({ operation, task: id, message: `task ${id} is not in current/` })
  return held
})

/**
 * Moves held task `id` out of `current/` as `plan` says, reading it again when it changed under the
 * move (at most `rereadsMax` times). When the target already has a file of this id, that file is
 * kept and the held copy, with everything the framework recorded in it, goes to `invalid/` with
 * the reason `takenReason` gives: both are kept, neither is silently overwritten.
 */
export const moveHeld = Effect.fnUntraced(function*<To extends TaskStatus>(env: Env, operation: string, id: string, plan: {
  readonly next: (held: Held) => { readonly task: Task; readonly to: To }
  readonly takenReason: (held: Held, by: string) => string
}) {
  const tryMove = Effect.gen(function*() {
    const held = yield* readHeld(env, operation, id)
    const { task, to } = plan.next(held)
    return { held, to, outcome: yield* moveTask(env, held, task, to) }
  })
  const { held, outcome, to } = yield* tryMove.pipe(Effect.repeat({ schedule: rereads, while: ({ outcome }) => outcome._tag === "Changed" }))
  if (outcome._tag === "Changed") {
    return yield* new Errors.TaskQueueError({ operation, task: id, message: `current/${id}.json kept changing while oompa moved it (${rereadsMax} tries)` })
  }
  if (outcome._tag === "Taken") {
    const name = Files.fileNameOf(id)
    yield* moveToInvalid(env, "current", { name, content: outcome.content, reason: `${name}: ${plan.takenReason(held, outcome.by)}` })
  }
  return to
})

/**
 * After winning the rename of `name` into `current/`: reads the file now held (it is the truth,
 * whatever the index said), refuses it when its id has a record in `complete/` or `failed/` (checked
 * again here, where the file is this claimer's alone), and converts an `.edn` file to `.json`.
 */
const settleClaim = Effect.fnUntraced(function*(env: Env, name: string) {
  const settled = (task: Task | undefined) => ({ changed: false, task }) as const
  const trySettle = Effect.gen(function*() {
    const held = yield* readTask(env, "current", Files.stemOf(name), "pending")
    if (held === undefined) return settled(undefined)
    const record = yield* recordOf(env, held.task.id)
    if (record !== undefined) {
      yield* moveToInvalid(env, "current", { ...held, from: "pending", reason: recordedReason(held.name, held.task.id, record) })
      return settled(undefined)
    }
    if (held.name === Files.fileNameOf(held.task.id)) return settled(held.task)
    const outcome = yield* moveTask(env, held, held.task, "current")
    return outcome._tag === "Moved" ? settled(held.task) : { changed: true, task: undefined } as const
  })
  const last = yield* trySettle.pipe(Effect.repeat({ schedule: rereads, while: ({ changed }) => changed }))
  if (!last.changed) return last.task
  // Still an .edn file someone keeps rewriting: it is held all the same, and read again when it moves.
  return (yield* readTask(env, "current", Files.stemOf(name), "pending"))?.task
})

/** Whether `current/` has a file for `id` (held by a worker, or put there by hand). */
const isHeld = Effect.fnUntraced(function*(env: Env, id: string) {
  for (const format of ["json", "edn"] as const) {
    if (yield* env.fs.exists(filePath(env, "current", Files.fileNameOf(id, format)))) return true
  }
  return false
})

/**
 * Gives a task just claimed back to `pending/`: the index took it for ready, but the file now held
 * names a dependency not in `complete/` (rewritten in place, which the folder's stat does not show).
 * A file of its id created in `pending/` meanwhile is kept, and this copy recorded in `invalid/`.
 */
const giveBackUnready = (env: Env, id: string, unmet: ReadonlyArray<string>) =>
  moveHeld(env, "claim", id, {
    next: (held) => ({ task: held.task, to: "pending" as const }),
    takenReason: (_held, by) =>
      `claimed, but it waits for ${unmet.join(", ")} (not in complete/), and ${by} was created meanwhile; that file was kept as it is, and this copy is recorded here`
  })

/**
 * Claims the first ready pending task (each dependency in `complete/`) in claim order, as the index
 * has it (`fsQueueIndex`: `complete/` and `pending/` brought up to date first, without reading files
 * that did not change; its `ReadyTasks` holds the ready tasks apart, so the tasks waiting for a
 * dependency are never looked at). A pending file whose id is held in `current/` is skipped, not
 * claimed: `rename` would replace the held copy. It is a second file for one id (made by hand;
 * `create` refuses such ids) or a task another claimer took a moment ago, and it is dealt with when
 * the held task moves on (a record in `complete/` or `failed/` refuses it; a release to `pending/`
 * keeps it and records the held copy in `invalid/`). A candidate that is gone was taken by another
 * claimer: the next one is tried, and the folder is listed anew for the next pass. The task won is
 * read after the rename and its dependencies checked in `complete/` itself; one that waits after all
 * goes back. Returns `None` only after a pass that listed `pending/` in full, lost no race and
 * claimed nothing.
 */
export const claimFrom = Effect.fnUntraced(function*(env: Env) {
  const pending = yield* Index.folderOf(env, "pending")
  const { readiness } = yield* Index.indexOf(env)
  const claimRound = Effect.gen(function*() {
    // complete/ first: a task completed since the last claim makes the tasks waiting for it ready.
    yield* Index.sync(env, "complete")
    const listed = yield* Index.sync(env, "pending")
    let contested = false
    let at = 0
    // Each step either passes a candidate or removes it from the index: bounded by the ready tasks.
    while (at < readiness.live.length) {
      const candidate = readiness.live[at]!
      const id = candidate.task.id
      if (yield* isHeld(env, id)) {
        at++
        continue
      }
      const names = [candidate.name, Files.fileNameOf(id), Files.fileNameOf(id, "edn")]
      const claimed = yield* Index.changing(
        env,
        ["pending", "current"],
        names,
        Effect.gen(function*() {
          const won = yield* Atomic.renameIfPresent(env.fs, filePath(env, "pending", candidate.name), filePath(env, "current", candidate.name))
          if (!won) return undefined
          const task = yield* settleClaim(env, candidate.name)
          const unmet = task === undefined ? [] : yield* unmetDependencies(env, task)
          if (unmet.length === 0) return { task }
          yield* giveBackUnready(env, id, unmet)
          return { task: undefined }
        })
      )
      // Claimed here, or taken by another claimer between the listing and the rename: gone either way.
      Index.forgetEntry(env, pending, candidate.name)
      if (claimed === undefined) {
        // Someone else changed pending/: the next use lists it anew.
        contested = true
        Index.forgetStamp(env, "pending")
      }
      if (claimed?.task !== undefined) return { contested: false, listed, claimed: Option.some(claimed.task) }
    }
    // Nothing to claim in the index, which may miss what the folder's stat did not show: the next
    // pass lists the folder, and only a pass that did answers None.
    if (!listed) Index.forgetStamp(env, "pending")
    return { contested, listed, claimed: Option.none<Task>() }
  })
  const last = yield* claimRound.pipe(Effect.repeat({
    schedule: claimRounds,
    while: ({ claimed, contested, listed }) => Option.isNone(claimed) && (contested || !listed)
  }))
  if (Option.isSome(last.claimed) || (!last.contested && last.listed)) return last.claimed
  return yield* new Errors.TaskQueueError({ operation: "claim", message: `lost the race for every pending task ${claimRoundsMax} times in a row` })
})
