/**
 * The guard on the repository's config during a run (issue 15). Every worktree shares the common
 * `.git/config`, so an agent can add a filter, a merge or diff driver, an include, a credential
 * helper — a program git then runs inside oompa's own `add`, merges and the sync of the user's
 * checkout. `guardConfig` compares the config (and the attributes files oompa's calls read) with
 * what the run found before each such call, and puts them back.
 *
 * Internal: used by `NodeGit`.
 *
 * @since 0.1.0
 */
// `Errors` is what the declarations of the effects exported here name their failures by.
import type { Errors } from "@oompa/core"
import { Effect } from "effect"
import * as nodeFs from "node:fs"
import * as GitRepo from "./gitRepo.ts"

/**
 * The repository's config as the run found it. Every worktree shares it, so an agent can add a
 * filter, a merge or diff driver, an include, a credential helper — a program git then runs inside
 * oompa's own `add`, merges and the sync of the user's checkout. `guardConfig` puts it back.
 */
export interface ConfigGuard {
  text: string
  /**
   * `info/attributes` (every worktree) and a `.gitattributes` in the common dir (where oompa runs its
   * review diffs and merges): any change to them is put back.
   */
  readonly attributes: Map<string, string>
}

const attributesFiles = (repo: GitRepo.Repo): ReadonlyArray<string> => [`${repo.commonDir}/info/attributes`, `${repo.commonDir}/.gitattributes`]

// Added lines that name a program git may run, pull in other config (issue 15 item 3), point a
// remote elsewhere (`url`: a remote target's fetches and pushes must reach the remote the user named,
// issue 20), or move the main worktree (`core.worktree`: the checkout sync would write there;
// `core.bare`: git would refuse the checkout).
const programKeyPattern =
  /^\s*\[\s*(filter|merge|diff|include|includeif|credential|gpg|core)\b|^\s*(clean|smudge|process|driver|command|textconv|fsmonitor|hookspath|sshcommand|editor|pager|askpass|helper|program|path|external|worktreeconfig|attributesfile|gitproxy|uploadpack|receivepack|url|pushurl|insteadof|pushinsteadof|allow|worktree|bare)\s*=|^\s*\[\s*(url|protocol)\b/i

const readText = (file: string): string => {
  try {
    return nodeFs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}

/** The config and attributes files of `repo` as they are now: the reference of a new guard. */
export const makeGuard = (repo: GitRepo.Repo): ConfigGuard => ({
  text: readText(`${repo.commonDir}/config`),
  attributes: new Map(attributesFiles(repo).map((file) => [file, readText(file)]))
})

/** Writes `text` back to `file` (removes it when the run found none) by rename, so it is never half-written. */
const restore = (file: string, text: string) =>
  Effect.try({
    try: () => {
      if (text === "") return nodeFs.rmSync(file, { force: true })
      nodeFs.writeFileSync(`${file}.oompa-restore`, text)
      nodeFs.renameSync(`${file}.oompa-restore`, file)
    },
    catch: (cause) => GitRepo.gitError("guardConfig", "failed", `cannot put back ${file}: ${String(cause)}`)
  })

/**
 * Compares the repository's config with the one the run found. An added line that can make git run
 * a program (`programKeyPattern`) means the whole file is put back, with a `warning:` naming the
 * lines; any other change (a user's `git config user.email`) becomes the new reference.
 */
export const guardConfig = (repo: GitRepo.Repo, guard: ConfigGuard, warn: (line: string) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const file = `${repo.commonDir}/config`
    const now = readText(file)
    for (const [attributesFile, found] of guard.attributes) {
      const attributes = readText(attributesFile)
      if (attributes === found) continue
      yield* restore(attributesFile, found)
      yield* warn(`warning: ${attributesFile} changed during the run (${attributes.split("\n").filter((line) => line.trim() !== "").slice(0, 3).join("; ")}); oompa put it back as the run found it: it applies to oompa's own git calls`)
    }
    if (now === guard.text) return
    const before = new Set(guard.text.split("\n"))
    const risky = now.split("\n").filter((line) => !before.has(line) && programKeyPattern.test(line))
    if (risky.length === 0) {
      guard.text = now
      return
    }
    yield* restore(file, guard.text)
    yield* warn(`warning: the repository's config (${file}) gained lines that make git run programs (${risky.map((line) => line.trim()).join("; ")}); oompa put the file back as the run found it, since any agent of the run could have written them`)
  })
