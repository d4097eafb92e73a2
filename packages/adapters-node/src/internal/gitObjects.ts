/**
 * Commit objects written in-process. A commit is a few hundred bytes of text that git stores as a
 * zlib-deflated loose object named by its SHA-1; writing it here spares a `git commit-tree` process
 * (three per iteration: the worker's commit, the reviewed commit and the merge commit; issue 17).
 *
 * It is exactly what `git commit-tree` writes: the identity is git's own (`git var
 * GIT_AUTHOR_IDENT`/`GIT_COMMITTER_IDENT`, read once when the repository is opened, so the
 * repository's config, the global config snapshot and the environment decide it as they do for
 * git), the date is now in the local time zone, the message is the bytes given. The object is
 * written the way git writes one — to a temporary file in its fan-out folder, then linked into
 * place — so a kill at any moment leaves either no object or a whole one.
 *
 * `git commit-tree` is still used when writing here could differ from it: a repository whose
 * objects are not SHA-1, a configured commit encoding, or dates fixed by `GIT_AUTHOR_DATE`/
 * `GIT_COMMITTER_DATE`.
 *
 * Internal: used by `gitCommits` and `gitLanding`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as nodeFs from "node:fs"
import { deflateSync } from "node:zlib"
import { Errors } from "@oompa/core"
import * as GitCommand from "./gitCommand.ts"
import type { Repo } from "./gitRepo.ts"

/** Who git says writes commits here: `Name <email>` for the author and the committer. */
export interface CommitIdentity {
  readonly author: string
  readonly committer: string
}

/** `Name <email>` of an ident line `Name <email> 1700000000 +0000` (git var). */
const identName = (line: string): string | undefined => {
  const match = /^(.*>) -?\d+ [+-]\d{4}$/.exec(line.trim())
  return match === null ? undefined : match[1]
}

/**
 * The identity for in-process commits, or `undefined` when commits must go through `git
 * commit-tree` (see the header). One `git var -l` with the environment every git call gets.
 */
export const commitIdentity = (git: GitCommand.Git, root: string): Effect.Effect<CommitIdentity | undefined, Errors.GitError> =>
  Effect.gen(function*() {
    if (git.env["GIT_AUTHOR_DATE"] !== undefined || git.env["GIT_COMMITTER_DATE"] !== undefined) return undefined
    const output = yield* git.run("open", { cwd: root, args: ["var", "-l"] })
    if (output.exitCode !== 0) return undefined
    const values = new Map<string, string>()
    for (const line of GitCommand.text(output.stdout).split("\n")) {
      const equals = line.indexOf("=")
      if (equals > 0) values.set(line.slice(0, equals).toLowerCase(), line.slice(equals + 1))
    }
    const format = values.get("extensions.objectformat")
    if ((format !== undefined && format.toLowerCase() !== "sha1") || values.has("i18n.commitencoding")) return undefined
    const author = identName(values.get("git_author_ident") ?? "")
    const committer = identName(values.get("git_committer_ident") ?? "")
    return author === undefined || committer === undefined ? undefined : { author, committer }
  })

/** `+HHMM`/`-HHMM` of the local time zone at `date`, as git prints it. */
const zoneOf = (date: Date): string => {
  const minutes = -date.getTimezoneOffset()
  const abs = Math.abs(minutes)
  return `${minutes < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}${String(abs % 60).padStart(2, "0")}`
}

/** The text of a commit object, as `git commit-tree` writes it. */
export const commitText = (input: {
  readonly tree: string
  readonly parents: ReadonlyArray<string>
  readonly identity: CommitIdentity
  readonly message: string
  readonly now: Date
}): string => {
  const when = `${Math.floor(input.now.getTime() / 1000)} ${zoneOf(input.now)}`
  return `tree ${input.tree}\n` +
    input.parents.map((parent) => `parent ${parent}\n`).join("") +
    `author ${input.identity.author} ${when}\n` +
    `committer ${input.identity.committer} ${when}\n` +
    `\n${input.message}`
}

/**
 * Writes `body` as a loose object of `type` into `objectsDir` and returns its SHA-1. An object that
 * is there already is left alone (same name, same content). Written to a temporary file first and
 * linked into place, as git does: a reader never sees half an object.
 */
export const writeLooseObject = (objectsDir: string, type: "commit", body: Uint8Array): string => {
  const object = Buffer.concat([Buffer.from(`${type} ${body.length}\0`), body])
  const sha = createHash("sha1").update(object).digest("hex")
  const dir = `${objectsDir}/${sha.slice(0, 2)}`
  const file = `${dir}/${sha.slice(2)}`
  if (nodeFs.existsSync(file)) return sha
  nodeFs.mkdirSync(dir, { recursive: true })
  // git's own prefix: `git gc` removes a stale one a kill left behind.
  const temp = `${dir}/tmp_obj_${randomBytes(6).toString("hex")}`
  nodeFs.writeFileSync(temp, deflateSync(object, { level: 1 }), { mode: 0o444, flag: "wx" })
  try {
    nodeFs.linkSync(temp, file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // Where hard links are refused, git renames instead.
    if (code !== "EEXIST") nodeFs.renameSync(temp, file)
  } finally {
    nodeFs.rmSync(temp, { force: true })
  }
  return sha
}

/** How many commits' trees a repository remembers: the recent ones are the ones diffs are asked of. */
const treesKeptMax = 256

/** Records that `commit` has `tree` (commits never change) and returns the commit. */
const remember = (repo: Pick<Repo, "trees">, commit: string, tree: string): string => {
  if (repo.trees.size >= treesKeptMax) repo.trees.delete(repo.trees.keys().next().value!)
  repo.trees.set(commit, tree)
  return commit
}

/**
 * Writes a commit of `tree` on `parents` with `message` (verbatim) and returns its sha: in-process
 * when the repository allows (`gitObjects`), else with `git commit-tree`.
 */
export const commitTree = (
  repo: Pick<Repo, "commonDir" | "git" | "root" | "identity" | "trees">,
  operation: string,
  tree: string,
  parents: ReadonlyArray<string>,
  message: string
): Effect.Effect<string, Errors.GitError> => {
  const identity = repo.identity
  if (identity === undefined) {
    return Effect.map(
      repo.git.ok(operation, { cwd: repo.root, args: ["commit-tree", tree, ...parents.flatMap((parent) => ["-p", parent])], stdin: message }),
      (output) => remember(repo, GitCommand.text(output.stdout).trim(), tree)
    )
  }
  return Effect.try({
    try: () => remember(repo, writeLooseObject(`${repo.commonDir}/objects`, "commit", Buffer.from(commitText({ tree, parents, identity, message, now: new Date() }))), tree),
    catch: (cause) => new Errors.GitError({ operation, reason: "failed", message: `cannot write the commit of tree ${tree}: ${cause instanceof Error ? cause.message : String(cause)}` })
  })
}
