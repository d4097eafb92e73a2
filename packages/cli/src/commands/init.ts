/**
 * `oompa init` (clig.dev: make the first step easy): writes what a repository needs before its first
 * swarm — a starter `oompa.json` whose `$schema` lets editors complete and check it, the task
 * queue's folders, and the `.gitignore` lines for what oompa writes into the repository. It never
 * overwrites: an existing `oompa.json` stops it before anything is written (exit 2), existing
 * folders are kept, and only the `.gitignore` lines that are missing are appended.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import { Command } from "effect/cli"
import { ConfigFile, RepoLayout, Task } from "@oompa/core"
import { UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import * as Session from "../Session.ts"

/** The queue's folder, relative to the repository's top level (oompa.json's `tasks_dir`). */
const tasksDir = RepoLayout.defaultTasksDir

/**
 * Where the JSON Schema of oompa.json is, relative to the repository, for its `$schema`: `@oompa/core`
 * ships it, and so does `@oompa/cli` (which has no dependencies), so an install of either has it.
 */
const schemaPaths = ["node_modules/@oompa/core/oompa.schema.json", "node_modules/@oompa/cli/oompa.schema.json"] as const

/**
 * The starter oompa.json: two executors and a reviewer on codex, a size limit on each change. The
 * test gate (`test_command`) is left for the user to add: no command fits every repository.
 *
 * @category constants
 * @since 0.1.0
 */
export const starterConfig = (schemaPath: string = schemaPaths[1]): string => `${JSON.stringify({
  $schema: `./${schemaPath}`,
  workers: [{ model: "codex:gpt-5-codex", role: "executor", count: 2, iterations: 5 }],
  review_model: "codex:gpt-5-codex",
  policy: { max_lines_added: 800 },
  tasks_dir: tasksDir
}, null, 2)}\n`

/**
 * What oompa writes into a repository and must never be committed: the run logs and lock
 * (`.oompa/`), the agents' task outboxes in their worktrees (`.oompa-new-tasks/`, also excluded in
 * `.git/info/exclude`, which only this clone sees), and the task queue, whose files move between
 * folders on every claim and merge — tracked, they would leave the checkout dirty after each run.
 *
 * @category constants
 * @since 0.1.0
 */
export const ignoreLines: ReadonlyArray<string> = [`/${RepoLayout.stateFolder}/`, `/${RepoLayout.newTasksFolder}/`, `/${tasksDir}/`]

/** `.oompa`, `/.oompa`, `.oompa/` and `/.oompa/` ignore the same folder at the top level. */
const sameEntry = (a: string, b: string) => a.trim().replace(/^\/|\/$/g, "") === b.trim().replace(/^\/|\/$/g, "")

/**
 * What is at `file` itself, a symbolic link not followed (`undefined`: nothing). init writes only
 * to plain files and folders of the repository: a `.gitignore` or `tasks` that links elsewhere (a
 * cloned repository can carry one) would have it write outside.
 */
const kindOf = (fs: FileSystem.FileSystem, file: string) =>
  fs.lstat(file).pipe(Effect.map((info) => info.type), Effect.orElseSucceed(() => undefined))

export const init = Command.make("init", {}, () =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = yield* Session.repoRoot(process.cwd())
    const exists = (file: string) => fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    const failed = (what: string) => (e: { readonly message: string }) => new UsageError({ message: `init: cannot ${what}: ${e.message}` })

    const configFile = path.join(root, "oompa.json")
    if (yield* exists(configFile)) {
      return yield* new UsageError({ message: `init: ${configFile} already exists; oompa init never overwrites it (remove it to start over)` })
    }
    // Everything is checked before anything is written, and oompa.json is written last: a failure
    // leaves no oompa.json, so running init again finishes the job.
    const gitignore = path.join(root, ".gitignore")
    const gitignoreKind = yield* kindOf(fs, gitignore)
    if (gitignoreKind === "Directory") return yield* new UsageError({ message: `init: ${gitignore} is a folder, not a file; nothing was written` })
    if (gitignoreKind === "SymbolicLink") return yield* new UsageError({ message: `init: ${gitignore} is a symbolic link; init appends only to a plain file; nothing was written` })
    const folders = Task.TaskStatus.literals.map((folder) => path.join(root, tasksDir, folder))
    for (const dir of [path.join(root, tasksDir), ...folders]) {
      const kind = yield* kindOf(fs, dir)
      if (kind !== undefined && kind !== "Directory") {
        return yield* new UsageError({ message: `init: ${dir} exists and is not a folder${kind === "SymbolicLink" ? " (a symbolic link)" : ""}; nothing was written` })
      }
    }
    const before = (yield* exists(gitignore)) ? yield* fs.readFileString(gitignore).pipe(Effect.mapError(failed(`read ${gitignore}`))) : ""
    const schemaPath = (yield* Effect.filter(schemaPaths, (p) => exists(path.join(root, p))))[0] ?? schemaPaths[1]
    const starter = starterConfig(schemaPath)
    // The starter must be what oompa accepts; a failure here is a bug, not the user's input.
    yield* ConfigFile.decodeConfigFile(starter, "the starter oompa.json").pipe(Effect.orDie)
    const done: Array<string> = []

    const created: Array<string> = []
    for (const dir of folders) {
      if (yield* exists(dir)) continue
      yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(failed(`create ${dir}`)))
      created.push(`${tasksDir}/${path.basename(dir)}/`)
    }
    if (created.length > 0) done.push(`created ${created.join(", ")}`)

    const present = before.split("\n")
    const missing = ignoreLines.filter((line) => !present.some((existing) => sameEntry(existing, line)))
    if (missing.length > 0) {
      const separator = before === "" || before.endsWith("\n") ? "" : "\n"
      yield* fs.writeFileString(gitignore, `${separator}# oompa: run logs, agents' task outboxes, the task queue\n${missing.join("\n")}\n`, { flag: "a" }).pipe(
        Effect.mapError(failed(`append to ${gitignore}`))
      )
      done.push(`added to .gitignore: ${missing.join(" ")}`)
    }

    yield* fs.writeFileString(configFile, starter, { flag: "wx" }).pipe(Effect.mapError(failed(`write ${configFile}`)))
    done.unshift("wrote oompa.json")

    yield* Output.lines([
      ...done,
      "",
      "next: edit oompa.json (add \"test_command\" to gate merges on your tests), run `oompa check`,",
      `put tasks in ${tasksDir}/pending/ as {"id": "…", "summary": "…"} JSON files, then \`oompa swarm\`.`
    ])
  })).pipe(
  Command.withDescription("Write a starter oompa.json, the tasks/ folders and the .gitignore lines; never overwrites"),
  Command.withExamples([{ command: "oompa init", description: "Prepare this repository for its first swarm" }])
)
