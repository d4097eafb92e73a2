/**
 * `oompa view <run> --html[=file]`: the report page written whole or not at all (a temporary file
 * beside the target, renamed over it), so a reader never opens half a page.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import type { RunReport, RunSummary } from "@oompa/core"
import { randomBytes } from "node:crypto"
import { writeFile } from "node:fs/promises"
import { UsageError } from "../Errors.ts"
import * as ReportHtml from "./ReportHtml.ts"

/** Writes the page to `target` and answers its absolute path. */
export const writeReport = (target: string, report: RunReport.RunReport, summary: RunSummary.RunSummary) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.resolve(target)
    const refuse = (why: string) => new UsageError({ message: `view --html: cannot write ${file}: ${why}` })
    const info = yield* fs.stat(file).pipe(Effect.option)
    if (info._tag === "Some" && info.value.type === "Directory") return yield* refuse("it is a directory (give a file name: --html=FILE)")
    const dir = path.dirname(file)
    const parent = yield* fs.stat(dir).pipe(Effect.option)
    if (parent._tag === "None" || parent.value.type !== "Directory") return yield* refuse(`no folder ${dir}`)
    // A name nobody can guess, created by this call alone (O_EXCL): whatever an agent planted in
    // the runs folder (a symlink to ~/.bashrc at a predictable name) is never written through.
    const temporary = path.join(dir, `.${path.basename(file)}.${randomBytes(8).toString("hex")}.tmp`)
    const html = ReportHtml.page({ ...report, summary })
    yield* Effect.tryPromise({
      try: () => writeFile(temporary, html, { flag: "wx", mode: 0o644 }),
      catch: (e) => refuse((e as Error).message)
    }).pipe(
      Effect.flatMap(() => fs.rename(temporary, file).pipe(Effect.mapError((e) => refuse(e.message)))),
      Effect.onError(() => fs.remove(temporary).pipe(Effect.ignore))
    )
    return file
  })
