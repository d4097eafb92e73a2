/**
 * `oompa view <run> --html[=file]`: the report page written whole or not at all (a temporary file
 * beside the target, renamed over it), so a reader never opens half a page.
 *
 * @since 0.1.0
 */
import { Effect, Path } from "effect"
import type { RunReport, RunSummary } from "@oompa/core"
import { UsageError } from "../Errors.ts"
import * as WholeFile from "../WholeFile.ts"
import * as ReportHtml from "./ReportHtml.ts"

/** Writes the page to `target` and answers its absolute path. */
export const writeReport = (target: string, report: RunReport.RunReport, summary: RunSummary.RunSummary) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const file = path.resolve(target)
    const refuse = (why: string) => new UsageError({ message: `view --html: cannot write ${file}: ${why}` })
    yield* WholeFile.write(file, ReportHtml.page({ ...report, summary }), (why) =>
      refuse(why === "it is a directory" ? "it is a directory (give a file name: --html=FILE)" : why))
    return file
  })
