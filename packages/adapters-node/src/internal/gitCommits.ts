/**
 * Commits and diffs of the Node git layer. A commit is plumbing on the head oompa recorded — `add -A`,
 * `write-tree`, `commit-tree`, `update-ref` by full name — never through the worktree's `HEAD`, which
 * the agent controls; what `setup_command` left is kept out of it. Diffs between two commits run in
 * the common `.git`, where no `.gitattributes` applies and no textconv or diff program runs.
 *
 * Internal: used by `NodeGit` and its internal modules.
 *
 * @since 0.1.0
 */
// `Errors` is what the declarations of the effects exported here name their failures by.
import { createHash } from "node:crypto"
import type { Errors, Git } from "@oompa/core"
import { Effect, Option } from "effect"
import * as nodeFs from "node:fs"
import { type ConfigGuard, guardConfig } from "./gitConfigGuard.ts"
import * as GitCommand from "./gitCommand.ts"
import * as GitObjects from "./gitObjects.ts"
import { plainBranch, type Recorded, type Records, recordOf, writeHeadFile } from "./gitHeads.ts"
import * as GitParse from "./gitParse.ts"
import * as GitRepo from "./gitRepo.ts"
import * as WorktreeFiles from "./worktreeFiles.ts"
import { ownAdminDir } from "./gitWorkspaces.ts"

const zeroSha = "0".repeat(40)

/** The staged entries that differ from `head` (`diff --cached --raw`): path → blob, `undefined` when deleted. */
const stagedChanges = Effect.fnUntraced(function*(repo: GitRepo.Repo, workspace: Git.Workspace, head: string) {
  const output = yield* repo.git.ok("markSetupOutputs", { cwd: workspace.path, args: ["diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", head, "--"] })
  const fields = GitParse.nulFields(GitCommand.text(output.stdout))
  const changes = new Map<string, string | undefined>()
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const blob = fields[i]!.split(" ")[3] ?? zeroSha
    changes.set(fields[i + 1]!, blob === zeroSha ? undefined : blob)
  }
  return changes
})

/**
 * Records what the setup left (staged, so `git add` has hashed it) as the setup's, and the files and
 * folders it created (from `git status` before that, ignored ones included) as kept by later resets.
 * Reusable when it only created files: a reset undoes changes to tracked ones.
 */
export const markSetupOutputs = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.markSetupOutputs")(function*(workspace: Git.Workspace) {
    const recorded = yield* recordOf(repo, records, workspace.path)
    const status = yield* repo.git.ok("markSetupOutputs", {
      cwd: workspace.path,
      args: ["status", "--porcelain=v1", "-z", "--ignored=traditional", "--untracked-files=normal", "--no-renames"]
    })
    const entries = GitParse.nulFields(GitCommand.text(status.stdout))
    // Only what git ignores is kept across resets: a file it does not ignore could carry an agent's
    // rejected work into a later commit, so a setup that leaves one runs again for every iteration.
    const ignored = entries.filter((entry) => entry.startsWith("!! ")).map((entry) => entry.slice(3))
    const untracked = entries.some((entry) => entry.startsWith("?? "))
    yield* repo.git.ok("markSetupOutputs", { cwd: workspace.path, args: ["add", "-A"] })
    const setup = yield* stagedChanges(repo, workspace, recorded.head)
    records.set(workspace.path, { ...recorded, setup, kept: ignored })
    // Reusable: it created only ignored files (a change to a tracked file is undone by the reset).
    return { reusable: !untracked && setup.size === 0 }
  })

/**
 * A fingerprint of the tracked files matching `patterns` as the workspace's index holds them (their
 * paths, modes and blobs), for `worktree.setup_inputs`.
 */
export const setupInputs = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.setupInputs")(function*(workspace: Git.Workspace, patterns: ReadonlyArray<string>) {
    const hash = createHash("sha256")
    if (patterns.length > 0) {
      const listing = yield* repo.git.ok("setupInputs", {
        cwd: workspace.path,
        args: ["ls-files", "-s", "-z", "--", ...patterns.map((pattern) => `:(glob)${pattern}`)]
      })
      hash.update(listing.stdout)
    }
    // What the setup left must still be there as it left it: a folder an agent deleted, or replaced
    // by a symlink (the next setup would write through it), changes the fingerprint: it runs again.
    for (const path of records.get(workspace.path)?.kept ?? []) {
      const stats = nodeFs.lstatSync(`${workspace.path}/${path}`, { throwIfNoEntry: false })
      hash.update(`\0${path}:${stats === undefined ? "gone" : stats.isSymbolicLink() ? "link" : stats.isDirectory() ? "dir" : "file"}`)
    }
    return hash.digest("hex")
  })

/**
 * Puts back, in the index, each path that still holds what the setup left: its entry becomes the
 * head's again (or goes, when the setup created it), so the commit does not carry it. The working
 * file is left alone: the agent's next command still finds the setup's output.
 */
const unstageSetupOutputs = Effect.fnUntraced(function*(repo: GitRepo.Repo, workspace: Git.Workspace, recorded: Recorded) {
  if (recorded.setup === undefined || recorded.setup.size === 0) return
  const staged = yield* stagedChanges(repo, workspace, recorded.head)
  const untouched = [...recorded.setup].filter(([path, blob]) => staged.has(path) && staged.get(path) === blob).map(([path]) => path)
  if (untouched.length === 0) return
  // The whole tree, filtered here: thousands of setup outputs as arguments would not fit a command line.
  const wanted = new Set(untouched)
  const listing = yield* repo.git.ok("commitAll", { cwd: workspace.path, args: ["ls-tree", "-r", "-z", "--full-tree", recorded.head] })
  const inHead = new Map<string, string>()
  for (const entry of GitParse.nulFields(GitCommand.text(listing.stdout))) {
    const tab = entry.indexOf("\t")
    const path = entry.slice(tab + 1)
    if (!wanted.has(path)) continue
    const [mode, , sha] = entry.slice(0, tab).split(" ")
    inHead.set(path, `${mode} ${sha}`)
  }
  const lines = untouched.map((path) => `${inHead.get(path) ?? `0 ${zeroSha}`}\t${path}`).join("\0") + "\0"
  yield* repo.git.ok("commitAll", { cwd: workspace.path, args: ["update-index", "-z", "--index-info"], stdin: lines })
})

/**
 * Before a merge into the workspace: the setup's outputs the agent left as they were go back to the
 * head's files (git refuses to merge over changed files it would touch), and stop being the setup's.
 */
export const dropSetupOutputs = Effect.fnUntraced(function*(repo: GitRepo.Repo, workspace: Git.Workspace, recorded: Recorded) {
  if (recorded.setup === undefined || recorded.setup.size === 0) return
  yield* repo.git.ok("mergeIntoWorkspace", { cwd: workspace.path, args: ["add", "-A"] })
  const staged = yield* stagedChanges(repo, workspace, recorded.head)
  const untouched = [...recorded.setup].filter(([path, blob]) => staged.has(path) && staged.get(path) === blob).map(([path]) => path)
  if (untouched.length === 0) return
  // Back to the head's version, or gone when the head has none (pathspecs on stdin: there may be thousands).
  yield* repo.git.ok("mergeIntoWorkspace", {
    cwd: workspace.path,
    args: ["checkout", "--no-overlay", recorded.head, "--pathspec-from-file=-", "--pathspec-file-nul"],
    stdin: untouched.join("\0") + "\0",
    env: { GIT_LITERAL_PATHSPECS: "1" }
  })
})

/** What `git merge` leaves in a worktree's admin dir; cleared once oompa commits the merge itself. */
const mergeStateFiles = ["MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "AUTO_MERGE"] as const

/**
 * `git add -A` (the outbox is excluded through `.git/info/exclude`), then a commit of the staged tree
 * on the recorded head (and the merged main after `mergeIntoWorkspace`): `None` when the tree is the
 * head's and no merge is pending. The commit is plumbing — `write-tree`, `commit-tree`, then
 * `update-ref refs/heads/<branch>` by its full name, never through the worktree's `HEAD`, which the
 * agent controls: `HEAD` symbolic to `refs/heads/main` would otherwise land the commit on main. The
 * worktree's `HEAD` is then pointed back at the branch (a changed one is reported), so the agent's
 * next `git status`/`git diff` read against what oompa committed. Commits the agent made itself are
 * not kept as commits; what they changed is in the worktree's files, and so in this commit.
 */
export const commitAll = (repo: GitRepo.Repo, records: Records, warn: (line: string) => Effect.Effect<void>, guard: ConfigGuard, files: WorktreeFiles.WorktreeFiles = WorktreeFiles.none) =>
  Effect.fn("NodeGit.commitAll")(function*(workspace: Git.Workspace, message: string) {
    // Before `add`, which runs clean filters: the agent that just ran may have installed one.
    yield* guardConfig(repo, guard, warn)
    // The agent that just ran may have deleted the link: its tracked changes still count.
    const adminDir = yield* ownAdminDir(repo, workspace.path)
    if (adminDir === undefined) return yield* GitRepo.gitError("commitAll", "missing-object", `no workspace at ${workspace.path}`)
    const recorded = yield* recordOf(repo, records, workspace.path)
    // The files given to every worktree stay out by name, whatever the agent did to `.gitignore` or
    // staged itself (`git add -f`): not added, and taken out of the index if they are in it.
    const excludes = WorktreeFiles.commitExcludes(files)
    yield* repo.git.ok("commitAll", { cwd: workspace.path, args: ["add", "-A", ...(excludes.length === 0 ? [] : ["--", ".", ...excludes])] })
    if (excludes.length > 0) {
      yield* repo.git.ok("commitAll", {
        cwd: workspace.path,
        args: ["rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", ...WorktreeFiles.literalPaths(files)]
      })
    }
    yield* unstageSetupOutputs(repo, workspace, recorded)
    const tree = GitCommand.text((yield* repo.git.ok("commitAll", { cwd: workspace.path, args: ["write-tree"] })).stdout).trim()
    if (recorded.mergeParent === undefined && (yield* GitRepo.readCommit(repo, recorded.head)).tree === tree) {
      yield* restoreHead(repo, adminDir, workspace, recorded, warn)
      return Option.none<string>()
    }
    const parents = recorded.mergeParent === undefined ? [recorded.head] : [recorded.head, recorded.mergeParent]
    const sha = yield* GitObjects.commitTree(repo, "commitAll", tree, parents, message)
    const next: Recorded = { ...recorded, head: sha, mergeParent: undefined }
    if (recorded.branch !== undefined) {
      yield* plainBranch(repo, recorded.branch)
      // No old value: the agent may have moved its branch; oompa's record, not the ref, is the truth.
      yield* repo.git.ok("commitAll", {
        cwd: repo.root,
        args: ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: ${message.split("\n")[0] ?? ""}`, `refs/heads/${recorded.branch}`, sha]
      })
    }
    records.set(workspace.path, next)
    yield* restoreHead(repo, adminDir, workspace, next, warn)
    return Option.some(sha)
  })

/**
 * Points the worktree's `HEAD` at its recorded branch (or detaches it at the recorded head) and
 * clears a merge oompa started, writing the files under git's lock protocol as `detachHead` does.
 * A `HEAD` the agent changed is reported: it is the first sign of an agent reaching for main.
 */
const restoreHead = (repo: GitRepo.Repo, adminDir: string, workspace: Git.Workspace, recorded: Recorded, warn: (line: string) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const wanted = recorded.branch === undefined ? `${recorded.head}\n` : `ref: refs/heads/${recorded.branch}\n`
    const current = yield* Effect.sync(() => {
      try {
        return nodeFs.readFileSync(`${adminDir}/HEAD`, "utf8")
      } catch {
        return ""
      }
    })
    if (current !== wanted) {
      yield* warn(`warning: the agent in ${workspace.path} pointed its HEAD at ${JSON.stringify(current.trim())}; oompa committed to ${recorded.branch === undefined ? recorded.head : recorded.branch} and put HEAD back`)
      yield* writeHeadFile(repo, adminDir, workspace.path, wanted)
    }
    yield* Effect.sync(() => {
      for (const file of mergeStateFiles) nodeFs.rmSync(`${adminDir}/${file}`, { force: true })
    })
  })

/**
 * Diffs between two commits run inside the common `.git`, where git has no work tree: it reads no
 * `.gitattributes` there, so a file an agent (or the checkout) marks `-diff` or `binary` is still
 * shown to the reviewer and counted by the policy as the text it is. Real binary content (NUL
 * bytes) is still detected. No textconv or external diff program runs.
 */
const isFullSha = (sha: string): boolean => /^[0-9a-f]{40}$/.test(sha)

/**
 * How many commit pairs' diffs a repository keeps (an iteration asks for a few, a run for
 * thousands), each at most `diffBytesKeptMax`: what an agent's change makes oompa hold stays under
 * 16 MB whatever it changes (a bigger diff is asked of git again when it is needed again).
 */
const diffsKeptMax = 64
const diffBytesKeptMax = 256 * 1024

/** Patches kept for a review that has not asked yet (one per worker about to be reviewed): at most 16 MB in all. */
const patchesKeptMax = 32
const patchBytesKeptMax = 512 * 1024

const diffFlags = ["--no-renames", "--no-ext-diff", "--no-textconv"] as const
const patchFlags = ["--no-color", "--src-prefix=a/", "--dst-prefix=b/"] as const

const keep = (kept: Map<string, string>, keptMax: number, bytesMax: number, key: string, value: string) => {
  if (value.length > bytesMax) return
  if (kept.size >= keptMax) kept.delete(kept.keys().next().value!)
  kept.set(key, value)
}

/**
 * `git diff --raw --numstat -z --no-abbrev --no-renames` from `base` to `head` (run in the common
 * `.git`: no `.gitattributes`, textconv or diff program applies). Commits never change, so the
 * output for a pair of full shas is kept: an iteration asks for the same pair after its commit,
 * for its policy check and for its review, and the merge queue for the landed pair and the checkout
 * sync. With `withPatch` the same process also prints the patch (`-p`, after the records and an
 * empty field), kept for `diffText`: the review's diff costs no process of its own (issue 17: five
 * `git diff`s per iteration became two, one when main has not moved).
 */
export const rawDiff = (
  repo: Pick<GitRepo.Repo, "commonDir" | "git" | "diffs" | "patches" | "trees">,
  operation: string,
  base: string,
  head: string,
  withPatch = false
): Effect.Effect<string, Errors.GitError> => {
  const keepable = isFullSha(base) && isFullSha(head)
  // By tree pair where the trees are known: a merge onto the base it was reviewed on has the
  // reviewed tree, so its diff is the review's.
  const key = `${repo.trees.get(base) ?? base}..${repo.trees.get(head) ?? head}`
  const kept = keepable ? repo.diffs.get(key) : undefined
  if (kept !== undefined) return Effect.succeed(kept)
  const patch = withPatch && keepable
  return Effect.map(
    repo.git.ok(operation, {
      cwd: repo.commonDir,
      args: ["diff", "--raw", "--numstat", ...(patch ? ["-p", ...patchFlags] : []), "-z", "--no-abbrev", ...diffFlags, base, head, "--"]
    }),
    (output) => {
      let text = GitCommand.text(output.stdout)
      if (patch) {
        // The records end with a NUL each; an empty field, then the patch. No change: no output at all.
        const end = text.indexOf("\0\0")
        const patchText = end < 0 ? "" : text.slice(end + 2)
        text = end < 0 ? text : text.slice(0, end + 1)
        keep(repo.patches, patchesKeptMax, patchBytesKeptMax, `${base}..${head}`, patchText)
      }
      if (keepable) keep(repo.diffs, diffsKeptMax, diffBytesKeptMax, key, text)
      return text
    }
  )
}

/**
 * The change from `base` to `head`. When `head` is a workspace's head (the commit an iteration just
 * made, which its review will read next) the patch is fetched in the same process.
 */
export const diffStat = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.diffStat")(function*(base: string, head: string) {
    let isWorkspaceHead = false
    for (const recorded of records.values()) if (recorded.head === head) isWorkspaceHead = true
    const output = yield* rawDiff(repo, "diffStat", base, head, isWorkspaceHead)
    return yield* GitRepo.parse("diffStat", () => GitParse.diffStat(output))
  })

export const diffText = (repo: GitRepo.Repo) =>
  Effect.fn("NodeGit.diffText")(function*(base: string, head: string) {
    const key = `${base}..${head}`
    const kept = repo.patches.get(key)
    if (kept !== undefined) {
      repo.patches.delete(key)
      return kept
    }
    const output = yield* repo.git.ok("diffText", { cwd: repo.commonDir, args: ["diff", ...diffFlags, ...patchFlags, base, head, "--"] })
    return GitCommand.text(output.stdout)
  })
