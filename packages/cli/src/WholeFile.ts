/**
 * A file written whole or not at all: a fresh temporary beside it, created exclusively under a name
 * nobody can guess (whatever an agent planted at a predictable name is never written through),
 * renamed over it. What stands at the target must be a regular file or nothing: a directory, a
 * FIFO, a device (`/dev/null`, run as root) or a socket is refused, never replaced.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option, Path } from "effect"
import { randomBytes } from "node:crypto"
import { writeFile } from "node:fs/promises"

/**
 * Writes `text` to `file`; `refuse(why)` is the failure when it cannot be.
 *
 * @category writing
 * @since 0.1.0
 */
export const write = <E>(file: string, text: string, refuse: (why: string) => E) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const info = yield* fs.stat(file).pipe(Effect.option)
    if (Option.isSome(info) && info.value.type !== "File") {
      return yield* Effect.fail(refuse(info.value.type === "Directory" ? "it is a directory" : `it is not a regular file (a ${info.value.type.toLowerCase()})`))
    }
    const dir = path.dirname(file)
    const parent = yield* fs.stat(dir).pipe(Effect.option)
    if (Option.isNone(parent) || parent.value.type !== "Directory") return yield* Effect.fail(refuse(`no folder ${dir}`))
    const temporary = path.join(dir, `.${path.basename(file)}.${randomBytes(8).toString("hex")}.tmp`)
    yield* Effect.tryPromise({ try: () => writeFile(temporary, text, { flag: "wx", mode: 0o644 }), catch: (e) => refuse((e as Error).message) }).pipe(
      Effect.flatMap(() => fs.rename(temporary, file).pipe(Effect.mapError((e) => refuse(e.message)))),
      Effect.onError(() => fs.remove(temporary).pipe(Effect.ignore))
    )
  })
