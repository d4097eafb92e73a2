/**
 * The quarantine of the filesystem task queue, `invalid/`: a file that cannot be read as a task is
 * moved there as one JSON record with its original text, and an entry that is not a regular file (a
 * folder, a link, a FIFO, a device) or is too large is moved there unread, next to a record saying
 * what it was. Records are placed by `link`, which never replaces a file, and the original is
 * removed only while it still holds what was recorded: nothing is lost, replaced or followed.
 *
 * Internal: used by `FsTaskQueue` and its internal modules.
 *
 * @since 0.1.0
 */
import { Errors, type Task as TaskModule } from "@oompa/core"
import { Effect, type PlatformError } from "effect"
import * as Atomic from "./fsAtomic.ts"
import { type Aside, type Broken, type Env, filePath, taskFileBytesMax } from "./fsQueueLayout.ts"
import * as Files from "./fsTaskFiles.ts"

type TaskStatus = TaskModule.TaskStatus

/** Suffixes tried (`x.json`, `x-1.json`, …) for an `invalid/` entry whose name is taken. */
const invalidSuffixMax = 1000

/** What an entry that is not read is, in words, and its extension once kept in `invalid/`. */
export const asideOf = Effect.fnUntraced(function*(env: Env, path: string, name: string, read: Atomic.RegularFile) {
  if (read._tag === "TooLarge") {
    return { name, what: `a file of ${read.bytes} bytes (a task file may have ${taskFileBytesMax})`, suffix: "large" } satisfies Aside
  }
  if (read._tag === "Text") return yield* Effect.die(`${path} was read; it is not set aside`)
  switch (read.kind) {
    case "symbolic link": {
      const target = yield* env.fs.readLink(path).pipe(Effect.orElseSucceed(() => undefined))
      const to = target === undefined ? "" : ` (to ${Files.printable(JSON.stringify(target))})`
      return { name, what: `a symbolic link${to}`, suffix: "link" } satisfies Aside
    }
    case "folder":
      return { name, what: "a folder", suffix: "folder" } satisfies Aside
    case "FIFO":
      return { name, what: "a FIFO (named pipe)", suffix: "fifo" } satisfies Aside
    case "socket":
      return { name, what: "a socket", suffix: "socket" } satisfies Aside
    case "device":
      return { name, what: "a device", suffix: "device" } satisfies Aside
    case "special file":
      return { name, what: "a special file", suffix: "special" } satisfies Aside
  }
})

/**
 * Stores an `invalid/` record under the first free stem (`x`, `x-1`, …): `recordFor(stem)` gives
 * the record to store under that stem, or `undefined` when the stem cannot be used. Returns the
 * record's path and stem. `link` never replaces a file, so concurrent writers never share a name.
 */
const placeInvalid = Effect.fnUntraced(function*(
  env: Env,
  stem: string,
  recordFor: (stem: string) => Effect.Effect<Files.InvalidRecord | undefined, PlatformError.PlatformError>
) {
  let temp: { readonly text: string; readonly path: string } | undefined
  const placed = yield* Effect.gen(function*() {
    for (let n = 0; n < invalidSuffixMax; n++) {
      const entryStem = n === 0 ? stem : `${stem}-${n}`
      const record = yield* recordFor(entryStem)
      if (record === undefined) continue
      const text = Files.encodeInvalid(record)
      if (temp?.text !== text) {
        if (temp !== undefined) yield* Atomic.discardTemp(env.fs, temp.path)
        temp = { text, path: yield* Atomic.writeTemp(env.fs, env.path, env.layout.temp, "invalid", text) }
      }
      const target = filePath(env, "invalid", `${entryStem}.json`)
      if (yield* Atomic.linkNew(env.fs, temp.path, target)) return { target, stem: entryStem }
    }
    return undefined
  }).pipe(Effect.ensuring(Effect.suspend(() => temp === undefined ? Effect.void : Atomic.discardTemp(env.fs, temp.path))))
  if (placed === undefined) {
    return yield* new Errors.TaskQueueError({ operation: "invalid", message: `invalid/ already holds ${invalidSuffixMax} entries named ${stem}` })
  }
  return placed
})

/** Stores an `invalid/` entry under the first free name; returns its path. */
export const addInvalid = (env: Env, record: Files.InvalidRecord) =>
  placeInvalid(env, Files.invalidStem(record.name), () => Effect.succeed(record)).pipe(Effect.map((placed) => placed.target))

/**
 * Moves a broken file of a working folder to `invalid/`. The entry is written first, then the
 * original removed — only while it still holds the text recorded: when it is gone, another
 * process moved it first and its entry stands; when it changed, someone rewrote it since it was
 * read (a person fixing it, a task moving on) and their file stays. Either way this entry is
 * withdrawn: one entry per file, and no file is ever lost or replaced.
 */
export const moveToInvalid = Effect.fnUntraced(function*(env: Env, status: TaskStatus, file: Broken) {
  const entry = yield* addInvalid(env, { invalid_reason: file.reason, name: file.name, from: file.from ?? status, content: file.content })
  const removed = yield* Atomic.removeIfUnchanged(env.fs, filePath(env, status, file.name), file.content)
  if (!removed) yield* Atomic.removeIfPresent(env.fs, entry)
})

/**
 * Moves an entry that is not a task file — a folder (task files nested in it included), a symbolic
 * link, a FIFO, a socket, a device, an oversized file — unread and as it is, from a working folder
 * to `invalid/<stem>.<suffix>`, next to a record `invalid/<stem>.json` that says what it was and
 * where it went. Nothing is followed, opened or lost, and the folder keeps only task files. When
 * the entry cannot be moved (it vanished, or the rename fails, e.g. a mount point), the record is
 * withdrawn; a failure is logged as a warning and the entry is left where it is, unread.
 */
export const setAside = Effect.fnUntraced(function*(env: Env, status: TaskStatus, aside: Aside) {
  const shown = Files.shownName(aside.name)
  const advice = aside.suffix === "folder" ? "; task files inside a folder are not tasks: put them in pending/ itself" : ""
  const placed = yield* placeInvalid(env, Files.invalidStem(aside.name), (stem) =>
    env.fs.exists(filePath(env, "invalid", `${stem}.${aside.suffix}`)).pipe(Effect.map((taken) =>
      taken ? undefined : {
        invalid_reason: `${shown}: ${aside.what}, not a task file. oompa reads only regular files in ${status}/ (it follows no link and opens no FIFO or device there), so this was moved, unread and as it is, to invalid/${stem}.${aside.suffix}${advice}`,
        name: aside.name,
        from: status,
        content: ""
      }
    )))
  const moved = yield* env.fs.rename(filePath(env, status, aside.name), filePath(env, "invalid", `${placed.stem}.${aside.suffix}`)).pipe(
    Effect.as(true),
    Effect.catchReason("PlatformError", "NotFound", () => Effect.succeed(false)),
    Effect.catch((error) =>
      Effect.logWarning(`oompa: ${status}/${shown} is ${aside.what}, not a task file; it was left where it is, unread, because moving it to invalid/ failed: ${error.message}`).pipe(
        Effect.as(false)
      )
    )
  )
  if (!moved) yield* Atomic.removeIfPresent(env.fs, placed.target)
})
