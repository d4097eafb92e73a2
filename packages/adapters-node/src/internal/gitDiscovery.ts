/**
 * What git says about a repository when a run opens it: where its main worktree and common `.git`
 * are, the environment every git call gets, and who commits. Asked once per run and shared by the
 * layers that open the repository (see {@link Discovery}).
 *
 * Internal: used by `gitRepo.open` and, through `NodeGit.discover`, by `SwarmRun` and `DiskRecovery`.
 *
 * @since 0.1.0
 */
import { Errors } from "@oompa/core"
import { Effect } from "effect"
import * as nodeFs from "node:fs"
import * as nodePath from "node:path"
import * as ProcessOwner from "../ProcessOwner.ts"
import * as GitCommand from "./gitCommand.ts"
import * as GitObjects from "./gitObjects.ts"
import * as GitParse from "./gitParse.ts"

const gitError = (reason: Errors.GitErrorReason, message: string): Errors.GitError => new Errors.GitError({ operation: "open", reason, message })

/**
 * What git says about a repository when a run opens it: where it is, the environment every git call
 * gets, and who commits. Asked once per run ({@link discover}) and shared by the layers that open
 * the repository (recovery, the git layer, the test gate's runner): each asking anew cost four git
 * processes (issue 17).
 */
export interface Discovery {
  /** The folder it was asked for, resolved: `gitRepo.open` asks again for any other. */
  readonly asked: string
  readonly root: string
  readonly commonDir: string
  readonly git: GitCommand.Git
  readonly identity: GitObjects.CommitIdentity | undefined
}

// Real paths: git writes them into worktrees' links, and those are compared with these.
const real = (path: string) =>
  Effect.tryPromise({
    try: () => nodeFs.promises.realpath(path),
    catch: (cause) => gitError("failed", `cannot resolve ${path}: ${cause instanceof Error ? cause.message : String(cause)}`)
  })

/**
 * The repository's top level and common dir. From its main worktree (where oompa runs) one
 * `rev-parse` says both; from a linked worktree, a bare repository or no repository, git is asked
 * the long way, which also says why it cannot be used.
 */
const locate = Effect.fn("GitDiscovery.locate")(function*(git: GitCommand.Git, repoRoot: string) {
  const quick = yield* git.run("open", {
    cwd: repoRoot,
    args: ["rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir", "--is-bare-repository", "--show-toplevel"]
  })
  if (quick.exitCode === 0) {
    const [gitDir = "", commonDir = "", bare = "", top = ""] = GitCommand.text(quick.stdout).split("\n")
    // Only where `.git` is a folder of the top level: `--show-toplevel` follows `core.worktree`,
    // which an agent can write into the shared config to point it anywhere.
    if (bare === "false" && gitDir === commonDir && top !== "" && commonDir === `${top}/.git`) {
      return { root: yield* real(top), commonDir: yield* real(commonDir) }
    }
  }
  const revParse = yield* git.ok("open", { cwd: repoRoot, args: ["rev-parse", "--path-format=absolute", "--git-common-dir", "--is-bare-repository"] })
  const [commonDir = "", bare = ""] = GitCommand.text(revParse.stdout).split("\n")
  if (bare.trim() === "true") return yield* gitError("failed", `${repoRoot} is a bare repository; oompa needs a checkout`)
  const list = yield* git.ok("open", { cwd: repoRoot, args: ["worktree", "list", "--porcelain", "-z"] })
  const first = GitParse.nulFields(GitCommand.text(list.stdout))[0] ?? ""
  if (!first.startsWith("worktree ")) return yield* gitError("unreadable", `git worktree list printed no main worktree`)
  return { root: yield* real(first.slice("worktree ".length)), commonDir: yield* real(commonDir.trim()) }
})

/**
 * Asks git about the repository at `repoRoot` (see {@link Discovery}): where it is, whether its
 * config names an author (else the environment gets the fallback identity), and who commits
 * (`git var -l` under that environment): three git processes from the main worktree.
 */
export const discover = Effect.fn("GitDiscovery.discover")(function*(repoRoot: string) {
  const asked = nodePath.resolve(repoRoot)
  const probe = GitCommand.make(GitCommand.environment(process.env, { name: true, email: true }))
  const found = yield* locate(probe, asked)
  // NUL-separated: a value (or a subsection) holding a newline or `=` cannot pass for a key.
  const keys = yield* Effect.map(
    probe.ok("open", { cwd: found.root, args: ["config", "-z", "--get-regexp", "^user\\.(name|email)$"] }, [0, 1]),
    (output) => GitCommand.text(output.stdout).split("\0").map((record) => record.split("\n")[0])
  )
  const configured = { name: keys.includes("user.name"), email: keys.includes("user.email") }
  // Marked like every process a run starts (ProcessOwner): recovery finds a dead run's git commands
  // still finishing as orphans, and waits for them before it repairs what they write.
  const git = GitCommand.make(GitCommand.environment({ ...process.env, ...ProcessOwner.variables(found.root) }, configured))
  const identity = yield* GitObjects.commitIdentity(git, found.root)
  return { asked, root: found.root, commonDir: found.commonDir, git, identity } satisfies Discovery
})
