/**
 * The claims this repository's runs hold in a task queue shared with other machines (`tasks.github`,
 * issue 20), written down beside the runs (`.oompa/claims/<task>`). A run killed with its claims
 * cannot return them; recovery, holding the run lock, returns exactly these — never a claim another
 * machine's live run holds, which the host shows as claimed just the same.
 *
 * The file is written right after the host granted the claim: a `kill -9` in between (one local
 * file write) leaves that one claim for a person (remove its label `oompa:claimed` and its ref).
 *
 * Internal: used by `SwarmRun` (the run's queue) and `DiskRecovery`.
 *
 * @since 0.1.0
 */
import { Errors, type TaskQueue } from "@oompa/core"
import { Effect, Option } from "effect"
import * as nodeFs from "node:fs"
import * as nodePath from "node:path"

type Queue = TaskQueue.TaskQueue["Service"]

const journalError = (operation: string, task: string, cause: unknown) =>
  new Errors.TaskQueueError({ operation, task, message: `cannot record the claim in the journal: ${cause instanceof Error ? cause.message : String(cause)}` })

const write = (dir: string, id: string) =>
  Effect.try({
    try: () => {
      nodeFs.mkdirSync(dir, { recursive: true })
      nodeFs.writeFileSync(nodePath.join(dir, id), "")
    },
    catch: (cause) => journalError("claim", id, cause)
  })

const remove = (dir: string, id: string) =>
  Effect.try({ try: () => nodeFs.rmSync(nodePath.join(dir, id), { force: true }), catch: (cause) => journalError("release", id, cause) })

/**
 * `queue`, writing down each claim it grants and crossing it out once the task is completed or
 * released. A claim that cannot be written down is given back, then fails.
 *
 * @category constructors
 * @since 0.1.0
 */
export const journaled = (queue: Queue, dir: string): Queue => ({
  ...queue,
  claim: Effect.tap(queue.claim, (claimed) =>
    Option.isNone(claimed)
      ? Effect.void
      : write(dir, claimed.value.id).pipe(
        Effect.tapError(() => queue.release(claimed.value.id, { feedback: "", countAttempt: false, maxAttempts: Number.MAX_SAFE_INTEGER }))
      )),
  complete: (id, sha) => Effect.andThen(queue.complete(id, sha), remove(dir, id)),
  release: (id, options) => Effect.tap(queue.release(id, options), () => remove(dir, id))
})

/**
 * The tasks written down in `dir`.
 *
 * @category reading
 * @since 0.1.0
 */
export const held = (dir: string): ReadonlySet<string> => {
  try {
    return new Set(nodeFs.readdirSync(dir))
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return new Set()
    throw cause
  }
}

/**
 * `queue` as recovery must see it: `current/` holds only the claims written down (`ids`); the rest
 * of `current/` belongs to other machines' runs.
 *
 * @category constructors
 * @since 0.1.0
 */
export const onlyHeld = (queue: Queue, ids: ReadonlySet<string>): Queue => ({
  ...queue,
  list: (status) => status === "current" ? Effect.map(queue.list("current"), (tasks) => tasks.filter((t) => ids.has(t.id))) : queue.list(status)
})

/**
 * A queue of which this repository holds nothing: what recovery sees of a shared queue when the
 * journal is empty (no request to the host is needed).
 *
 * @category constructors
 * @since 0.1.0
 */
export const nothingHeld: Queue = {
  list: () => Effect.succeed([]),
  claim: Effect.succeed(Option.none()),
  ready: Effect.succeed([]),
  settleBlocked: Effect.succeed([]),
  complete: (id) => Effect.die(new Error(`assertion failed: recovery completed ${id}, which this repository does not hold`)),
  release: (id) => Effect.die(new Error(`assertion failed: recovery released ${id}, which this repository does not hold`)),
  create: () => Effect.succeed(false),
  invalid: () => Effect.void
}
