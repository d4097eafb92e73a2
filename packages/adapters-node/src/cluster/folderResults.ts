/**
 * What a cluster run did to the tasks it imported, written back to the folder queue they came from
 * (issue 21): each task the run completed or failed leaves `pending/` for `complete/` or `failed/`,
 * as the run on one machine would have moved it, with what the queue in PostgreSQL recorded (the
 * merge sha, the attempts, the feedback). A task still pending stays; a pending file that is gone
 * or was changed since the import (a person edited it) is left as it is.
 *
 * Internal: used by `ClusterSwarm`.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import type { Task } from "@oompa/core"
import * as Atomic from "../internal/fsAtomic.ts"
import * as Layout from "../internal/fsQueueLayout.ts"
import * as Files from "../internal/fsTaskFiles.ts"

/**
 * Moves the folder's pending file of each task in `complete`/`failed` there; how many moved.
 * `imported` is each pending file's text as the run imported it, by task id.
 */
export const writeBack = Effect.fnUntraced(function*(
  tasksDir: string,
  imported: ReadonlyMap<string, { readonly name: string; readonly content: string }>,
  settled: { readonly complete: ReadonlyArray<Task.Task>; readonly failed: ReadonlyArray<Task.Task> }
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const layout = Layout.layout(path, tasksDir)
  yield* fs.makeDirectory(layout.temp, { recursive: true })
  let moved = 0
  for (const status of ["complete", "failed"] as const) {
    yield* fs.makeDirectory(layout.folders[status], { recursive: true })
    for (const task of settled[status]) {
      const file = imported.get(task.id)
      if (file === undefined) continue
      const pending = path.join(layout.folders.pending, file.name)
      // Only the file the run took: a pending file edited since is a person's, left for them.
      if ((yield* Atomic.readIfPresent(fs, pending)) !== file.content) continue
      const target = path.join(layout.folders[status], Files.fileNameOf(task.id))
      yield* Atomic.writeAtomic(fs, path, layout.temp, target, Files.encodeTaskFile(task))
      yield* Atomic.removeIfUnchanged(fs, pending, file.content)
      moved++
    }
  }
  return moved
})

/** The pending files of `tasksDir` by task id, as they are now: what an import takes. */
export const pendingFiles = Effect.fnUntraced(function*(tasksDir: string, ids: ReadonlyArray<string>) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const folder = Layout.layout(path, tasksDir).folders.pending
  const files = new Map<string, { readonly name: string; readonly content: string }>()
  for (const id of ids) {
    for (const format of ["json", "edn"] as const) {
      const name = Files.fileNameOf(id, format)
      const content = yield* Atomic.readIfPresent(fs, path.join(folder, name))
      if (content !== undefined) {
        files.set(id, { name, content })
        break
      }
    }
  }
  return files
})
