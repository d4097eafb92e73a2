/**
 * The policy gate's rules (SPEC F7): path globs, size limits, binary files.
 *
 * The always-denied paths hold whatever the config says, because they are the framework's own state:
 * an agent that edits them could forge claims, run logs or secrets.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { newTasksFolder, stateFolder } from "./RepoLayout.ts"

const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/**
 * @category models
 * @since 0.1.0
 */
export const Policy = Schema.Struct({
  allow: Schema.optionalKey(Schema.Array(Schema.NonEmptyString)),
  deny: Schema.optionalKey(Schema.Array(Schema.NonEmptyString)),
  max_lines_added: Schema.optionalKey(Count),
  max_lines_deleted: Schema.optionalKey(Count),
  max_files: Schema.optionalKey(Count),
  allow_binary: Schema.optionalKey(Schema.Boolean)
})
export type Policy = typeof Policy.Type

/**
 * A policy glob read the way `.gitignore` users write it (issue 15: `secrets`, `secrets/` and
 * `/secrets/**` each matched nothing, silently): a leading `/` anchors to the repository's top
 * (paths are relative to it), a trailing `/` means a folder and everything in it, a name without a
 * `/` matches at any depth, and a name that is a folder covers what is in it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const normalizeGlob = (glob: string): ReadonlyArray<string> => {
  const anchored = glob.startsWith("/")
  const folderOnly = glob.endsWith("/")
  const body = glob.replace(/^\/+/, "").replace(/\/+$/, "")
  if (body === "") return []
  const atAnyDepth = !anchored && !body.includes("/") && !body.startsWith("**")
  const base = atAnyDepth ? `**/${body}` : body
  return folderOnly || base.endsWith("/**") ? [base.endsWith("/**") ? base : `${base}/**`] : [base, `${base}/**`]
}

/**
 * Paths no change may touch, whatever the config (SPEC F7). `<tasks_dir>` is filled in per run.
 *
 * @category constants
 * @since 0.1.0
 */
export const alwaysDenied = (tasksDir: string): ReadonlyArray<string> => [
  `${stateFolder}/**`,
  `${tasksDir.replace(/\/+$/, "")}/**`,
  `${newTasksFolder}/**`,
  "**/.env*",
  "**/*.pem"
]
