/**
 * `worktree.copy` and `worktree.link` (issue 18): the files git ignores in the user's worktree
 * (`.env`, `.env.local`, local certificates) that every worker's worktree gets, copied or
 * symlinked, before its setup and after every reset.
 *
 * Resolved once when the run starts: each glob is matched under the repository's top (a bounded
 * walk, never into `.git`, never through a symlinked folder), and every match must be a file git
 * ignores there — a tracked file is already in every checkout, and one git does not ignore would
 * become part of the agent's change. Placing them refuses any destination whose folder is a
 * symlink or not a folder (a tracked symlink must not lead a copy out), and the commit of an
 * agent's work excludes them by name (`commitExcludes`, then `literalPaths` out of the index),
 * whatever the agent did to `.gitignore` or staged itself.
 *
 * Internal: used by `SwarmRun` (resolve) and `NodeGit` (place, exclude).
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as nodeFs from "node:fs"
import * as nodePath from "node:path"
import picomatch from "picomatch"
import * as GitCommand from "./gitCommand.ts"

/** The files each worktree gets, relative to the repository's top, each under one rule. */
export interface WorktreeFiles {
  readonly copy: ReadonlyArray<string>
  readonly link: ReadonlyArray<string>
}

export const none: WorktreeFiles = { copy: [], link: [] }

/** Why the configured files cannot be given to worktrees, naming the field and the file. */
export class WorktreeFilesError extends Schema.TaggedError<WorktreeFilesError>()("WorktreeFilesError", {
  message: Schema.String
}) {}

/** Entries a pattern's walk may visit before the pattern is refused as too broad. */
const walkMax = 10_000

/** The files under `root` that `pattern` matches (relative, `/`-separated, sorted). */
const expand = (root: string, field: string, pattern: string): Array<string> => {
  if (nodePath.isAbsolute(pattern) || pattern.split("/").includes("..")) {
    throw new WorktreeFilesError({ message: `worktree.${field}: ${JSON.stringify(pattern)} must be a path relative to the repository's top, without ".."` })
  }
  const matches = picomatch(pattern, { dot: true })
  const { base } = picomatch.scan(pattern)
  // No deeper than the pattern reaches: `.env*` looks at the top only, not into node_modules/.
  const depthMax = pattern.includes("**") ? Infinity : pattern.split("/").length
  const depthOf = (relative: string) => relative === "" ? 0 : relative.split("/").length
  const found: Array<string> = []
  let visited = 0
  const walk = (relative: string) => {
    if (depthOf(relative) > depthMax) return
    if (++visited > walkMax) {
      throw new WorktreeFilesError({ message: `worktree.${field}: ${JSON.stringify(pattern)} looks at more than ${walkMax} files; name the files more precisely` })
    }
    const absolute = relative === "" ? root : nodePath.join(root, relative)
    const stats = nodeFs.lstatSync(absolute, { throwIfNoEntry: false })
    if (stats === undefined) return
    if (stats.isDirectory()) {
      for (const name of nodeFs.readdirSync(absolute).sort()) if (name !== ".git") walk(relative === "" ? name : `${relative}/${name}`)
    } else if ((stats.isFile() || stats.isSymbolicLink()) && matches(relative)) found.push(relative)
  }
  walk(base)
  return found
}

/**
 * The files each worktree gets for these patterns; fails naming the field and the file when a
 * pattern is malformed or too broad, or matches a file git does not ignore.
 */
export const resolve = (root: string, patterns: { readonly copy: ReadonlyArray<string>; readonly link: ReadonlyArray<string> }): Effect.Effect<WorktreeFiles, WorktreeFilesError> =>
  Effect.gen(function*() {
    if (patterns.copy.length === 0 && patterns.link.length === 0) return none
    const files = yield* Effect.try({
      try: () => ({
        copy: [...new Set(patterns.copy.flatMap((pattern) => expand(root, "copy", pattern)))],
        link: [...new Set(patterns.link.flatMap((pattern) => expand(root, "link", pattern)))]
      }),
      catch: (error) => error instanceof WorktreeFilesError ? error : new WorktreeFilesError({ message: `worktree.copy/link: ${String(error)}` })
    })
    const both = files.copy.filter((file) => files.link.includes(file))
    if (both.length > 0) return yield* new WorktreeFilesError({ message: `worktree.copy and worktree.link both match ${both[0]}: choose one` })
    const all = [...files.copy, ...files.link]
    if (all.length === 0) return files
    const git = GitCommand.make(GitCommand.environment(process.env, { name: true, email: true }))
    const output = yield* git.run("worktreeFiles", { cwd: root, args: ["check-ignore", "-z", "--stdin"], stdin: all.join("\0") + "\0" }).pipe(
      Effect.mapError((error) => new WorktreeFilesError({ message: `worktree.copy/link: cannot ask git which files it ignores: ${error.message}` }))
    )
    // 0: some are ignored, 1: none is; anything else is git failing.
    if (output.exitCode !== 0 && output.exitCode !== 1) {
      return yield* new WorktreeFilesError({ message: `worktree.copy/link: git check-ignore failed: ${output.stderr.trim()}` })
    }
    const ignored = new Set(GitCommand.text(output.stdout).split("\0").filter((path) => path !== ""))
    for (const [field, list] of [["copy", files.copy], ["link", files.link]] as const) {
      const exposed = list.find((file) => !ignored.has(file))
      if (exposed !== undefined) {
        return yield* new WorktreeFilesError({
          message: `worktree.${field}: ${exposed} is not a file git ignores (it is tracked, or .gitignore does not cover it): ` +
            "given to every worktree, it would become part of the agents' changes"
        })
      }
    }
    return files
  })

/**
 * Makes the folders of `file` inside `worktree`, one by one; refuses (with the reason) a step that
 * is a symlink or not a folder, before anything is created past it: a tracked symlink must not lead
 * a copy out of the worktree.
 */
const makeFolders = (worktree: string, file: string): string | undefined => {
  const steps = file.split("/").slice(0, -1)
  let folder = worktree
  for (const step of steps) {
    folder = nodePath.join(folder, step)
    const stats = nodeFs.lstatSync(folder, { throwIfNoEntry: false })
    if (stats === undefined) nodeFs.mkdirSync(folder)
    else if (stats.isSymbolicLink()) return `its folder ${nodePath.relative(worktree, folder)} is a symlink`
    else if (!stats.isDirectory()) return `${nodePath.relative(worktree, folder)} is not a folder`
  }
  return undefined
}

/**
 * Copies or links the files into `worktree` from `root`, replacing what stands there. A file whose
 * source is gone is skipped; a destination folder that leads out of the worktree is refused.
 * Returns what it could not place, one line each.
 */
export const place = (root: string, worktree: string, files: WorktreeFiles): Array<string> => {
  const problems: Array<string> = []
  const put = (file: string, how: "copy" | "link") => {
    const source = nodePath.join(root, file)
    if (!nodeFs.existsSync(source)) return
    const destination = nodePath.join(worktree, file)
    try {
      const refused = makeFolders(worktree, file)
      if (refused !== undefined) return void problems.push(`worktree.${how}: ${file} not placed in ${worktree}: ${refused}`)
      nodeFs.rmSync(destination, { force: true, recursive: true })
      if (how === "copy") nodeFs.copyFileSync(source, destination)
      else nodeFs.symlinkSync(source, destination)
    } catch (error) {
      // One file that cannot be placed is this worktree's problem, said in a warning, not a failed iteration.
      problems.push(`worktree.${how}: ${file} not placed in ${worktree}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  for (const file of files.copy) put(file, "copy")
  for (const file of files.link) put(file, "link")
  return problems
}

/** The files as literal pathspecs from the top (for `git rm --cached`). */
export const literalPaths = (files: WorktreeFiles): Array<string> =>
  [...files.copy, ...files.link].map((file) => `:(literal,top)${file}`)

/** Pathspecs that keep the files out of `git add -A`, by exact name from the top. */
export const commitExcludes = (files: WorktreeFiles): Array<string> =>
  [...files.copy, ...files.link].map((file) => `:(exclude,literal,top)${file}`)
