/**
 * `oompa view <run> --html[=file]`: the report page written whole or not at all (a temporary file
 * beside the target, renamed over it), so a reader never opens half a page.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import type { RunReport, RunSummary } from "@oompa/core"
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
    const temporary = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`)
    const html = ReportHtml.page({ ...report, summary })
    yield* fs.writeFileString(temporary, html).pipe(
      Effect.flatMap(() => fs.rename(temporary, file)),
      Effect.onError(() => fs.remove(temporary).pipe(Effect.ignore)),
      Effect.mapError((e) => refuse(e.message))
    )
    return file
  })
