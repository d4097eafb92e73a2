/**
 * The real `Git` service (`@oompa/core`'s repository boundary) on a git repository on disk.
 *
 * Writes go through the git CLI, as ARCHITECTURE.md decides from measurement: workspaces are real
 * `git worktree`s (an agent's own `git status/diff/log` work in them), commits are `add -A` +
 * `write-tree` + `commit-tree` onto the head oompa recorded, diffs `diff --raw --numstat -z`, and a
 * merge is `commit-tree` of the approved tree, then `merge-tree --write-tree` → `commit-tree`, a
 * commit nobody points to, until `compareAndSwapMain` moves the target branch with one
 * `update-ref --stdin` transaction (main NEW OLD, and the merged markers) — git's compare-and-swap. No operation here checks
 * out, merges into or resets the user's own checkout; when it has the target branch checked out,
 * `CheckoutSync` brings it along after the branch moved (SPEC F6).
 *
 * Reads that a run repeats (the target branch, workspace heads, commits, ancestry, branches) are
 * in-process through isomorphic-git against the common `.git`, uncached, so they always see the
 * CLI's latest writes (see `internal/gitRepo.ts`).
 *
 * Workspaces live under `worktreesDir` (by default outside the source tree, see
 * `defaultWorktreesDir`), one per worker, named after it, and are reused across iterations: a reset
 * is `checkout -f -B <branch> <base>` + `clean -ffdx`, which touches only the files that differ.
 *
 * Semantics follow `@oompa/core/testing`'s `MemoryGit`, with these documented differences:
 * - What lands is a commit oompa writes of the approved tree (see `merge`), for every strategy: the
 *   agent's own commits never reach main (docs/decisions.md).
 * - Merges are git's (`ort`, with rename detection and recursive merge bases), so they are cleaner
 *   than `MemoryGit`'s line merge where files were renamed.
 * - `mergeIntoWorkspace` needs a workspace without uncommitted changes in the files the merge
 *   touches (git refuses to overwrite them); the iteration always commits before it.
 * - `deleteBranch` of a branch checked out in one of oompa's worktrees detaches that worktree at the
 *   branch's commit first (as `MemoryGit`); one checked out in any other worktree — the user's — is
 *   refused, so the user's HEAD is never moved.
 *
 * Called by the core's programs through the `Git` service; built by `layer`.
 *
 * @since 0.1.0
 */
import { Errors, Git, Ids } from "@oompa/core"
import { Console, Effect, Layer, Option, Schema, Semaphore } from "effect"
import * as nodeFs from "node:fs"
import * as CheckoutSync from "./CheckoutSync.ts"
import * as GitCommand from "./internal/gitCommand.ts"
import * as GitParse from "./internal/gitParse.ts"
import * as GitRepo from "./internal/gitRepo.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The repository (any folder inside its main worktree). */
  readonly repoRoot: string
  /** Where worktrees live; relative to the repository's top level. Default: `defaultWorktreesDir`. */
  readonly worktreesDir?: string | undefined
  /** The target branch (SPEC F1); default `main` if it exists, else `master`. */
  readonly branch?: string | undefined
  /** The run's id, recorded in reflog messages. */
  readonly runId: string
  /**
   * Receives each `warning:` line of a checkout sync (SPEC F6); default: printed to stderr. The
   * `Git` service has no channel for warnings yet.
   */
  readonly onWarning?: ((line: string) => Effect.Effect<void>) | undefined
}

/**
 * One worker's worktree as `listWorkspaces` finds it under `worktreesDir` (`oompa worktrees --json`
 * prints a list of them). A worktree a dead run left is listed too; `oompa cleanup` removes it.
 *
 * @category models
 * @since 0.1.0
 */
export const Worktree = Schema.Struct({
  /** The worker id (`w0`, `planner`, …) the worktree belongs to. */
  worker: Schema.String,
  /** Its absolute path, where the worker's agent runs. */
  path: Schema.String
})
export type Worktree = typeof Worktree.Type

/**
 * The repository's oompa worktrees, by worker id (`oompa worktrees --json`).
 *
 * @category models
 * @since 0.1.0
 */
export const WorktreeList = Schema.Array(Worktree)
export type WorktreeList = typeof WorktreeList.Type

/**
 * The default worktrees folder: `${XDG_CACHE_HOME:-~/.cache}/oompa/worktrees/<repo-name>-<hash>`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const defaultWorktreesDir: (repoTopLevel: string) => string = GitRepo.defaultWorktreesDir

/**
 * The task outbox an agent writes into (SPEC F2), relative to its workspace; never committed.
 *
 * @category constants
 * @since 0.1.0
 */
export const newTasksFolder = ".oompa-new-tasks"

const gitError = (operation: string, message: string) => new Errors.GitError({ operation, message })

const isWorkerId = Schema.is(Ids.WorkerId)

/**
 * What oompa knows of a workspace, kept in the service, never read back from the worktree: an agent
 * can point its worktree's `HEAD` anywhere (`git checkout main`, `git symbolic-ref HEAD
 * refs/heads/main`) and move any ref. Commits go to `branch` from `head`; `mergeParent` is the main
 * `mergeIntoWorkspace` merged in, the next commit's second parent.
 */
interface Recorded {
  readonly branch: string | undefined
  readonly head: string
  readonly mergeParent: string | undefined
  /** What `setup_command` left that differs from `head`: path → blob (`undefined`: it deleted the path). */
  readonly setup?: ReadonlyMap<string, string | undefined>
}

/** The records of one `Git` service, by workspace path. */
type Records = Map<string, Recorded>

/**
 * The repository's config as the run found it. Every worktree shares it, so an agent can add a
 * filter, a merge or diff driver, an include, a credential helper — a program git then runs inside
 * oompa's own `add`, merges and the sync of the user's checkout. `guardConfig` puts it back.
 */
interface ConfigGuard {
  text: string
  /**
   * `info/attributes` (every worktree) and a `.gitattributes` in the common dir (where oompa runs its
   * review diffs and merges): any change to them is put back.
   */
  readonly attributes: Map<string, string>
}

const attributesFiles = (repo: GitRepo.Repo): ReadonlyArray<string> => [`${repo.commonDir}/info/attributes`, `${repo.commonDir}/.gitattributes`]

// Added lines that name a program git may run, or pull in other config (issue 15 item 3).
const programKeyPattern =
  /^\s*\[\s*(filter|merge|diff|include|includeif|credential|gpg|core)\b|^\s*(clean|smudge|process|driver|command|textconv|fsmonitor|hookspath|sshcommand|editor|pager|askpass|helper|program|path|external|worktreeconfig|attributesfile|gitproxy|uploadpack|receivepack|pushurl|insteadof|pushinsteadof|allow)\s*=|^\s*\[\s*(url|protocol)\b/i

const readText = (file: string): string => {
  try {
    return nodeFs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}

/** Writes `text` back to `file` (removes it when the run found none) by rename, so it is never half-written. */
const restore = (file: string, text: string) =>
  Effect.try({
    try: () => {
      if (text === "") return nodeFs.rmSync(file, { force: true })
      nodeFs.writeFileSync(`${file}.oompa-restore`, text)
      nodeFs.renameSync(`${file}.oompa-restore`, file)
    },
    catch: (cause) => gitError("guardConfig", `cannot put back ${file}: ${String(cause)}`)
  })

/**
 * Compares the repository's config with the one the run found. An added line that can make git run
 * a program (`programKeyPattern`) means the whole file is put back, with a `warning:` naming the
 * lines; any other change (a user's `git config user.email`) becomes the new reference.
 */
const guardConfig = (repo: GitRepo.Repo, guard: ConfigGuard, warn: (line: string) => Effect.Effect<void>) =>
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

/** The workspace's record; a workspace this service never reset is read from the worktree once. */
const recordOf = (repo: GitRepo.Repo, records: Records, path: string) =>
  Effect.gen(function*() {
    const known = records.get(path)
    if (known !== undefined) return known
    const head = yield* GitRepo.worktreeHead(repo, path)
    const worktree = (yield* GitRepo.withWorktreeRegistry(repo, GitRepo.listWorktrees(repo))).find((w) => w.path === path)
    const branch = worktree?.head._tag === "Branch" && worktree.head.ref.startsWith("refs/heads/") ? worktree.head.ref.slice("refs/heads/".length) : undefined
    const recorded: Recorded = { branch: branch === repo.targetBranch ? undefined : branch, head, mergeParent: undefined }
    records.set(path, recorded)
    return recorded
  })

// ---------------------------------------------------------------------------------------------------
// Workspaces
// ---------------------------------------------------------------------------------------------------

const workspacePathOf = (repo: GitRepo.Repo, worker: string): string => `${repo.worktreesDir}/${worker}`

/**
 * Puts back the `.git` link of oompa's worktrees that an agent deleted or replaced (issue 8: "an
 * agent that deletes files outside its worktree's tracked tree"). The link is untracked, so no
 * reset restores it, and without it every later git call of that worker failed ("no workspace"),
 * the worker stopped after three errors, its folder was never removed, and the next run refused
 * to start ("exists but is not a worktree"). A folder is repaired only when git's own registry
 * (`<common>/worktrees/<name>/gitdir`) still names `<folder>/.git` and the folder lies under
 * `worktreesDir`: it is provably this repository's worktree. Whatever stands at `.git` (nothing, a
 * foreign link, a repository the agent created) is replaced by the link. Returns the repaired
 * folders' admin dirs by folder.
 */
const repairLinks = (repo: GitRepo.Repo, only?: string) =>
  Effect.tryPromise({
    try: async () => {
      const adminRoot = `${repo.commonDir}/worktrees`
      const repaired = new Map<string, string>()
      const names = await nodeFs.promises.readdir(adminRoot).catch(() => [] as Array<string>)
      for (const name of names) {
        const adminDir = `${adminRoot}/${name}`
        const dotGit = (await nodeFs.promises.readFile(`${adminDir}/gitdir`, "utf8").catch(() => "")).trim()
        const folder = dotGit.replace(/\/\.git$/, "")
        if (!dotGit.endsWith("/.git") || !folder.startsWith(`${repo.worktreesDir}/`) || (only !== undefined && folder !== only)) continue
        if (!nodeFs.existsSync(folder)) continue
        const link = await nodeFs.promises.readFile(dotGit, "utf8").catch(() => undefined)
        if (link !== undefined && GitParse.gitFile(link) === adminDir) continue
        await nodeFs.promises.rm(dotGit, { recursive: true, force: true })
        await nodeFs.promises.writeFile(dotGit, `gitdir: ${adminDir}\n`)
        repaired.set(folder, adminDir)
      }
      return repaired
    },
    catch: (cause) => gitError("repairWorktreeLink", `cannot repair the .git link of a worktree under ${repo.worktreesDir}: ${String(cause)}`)
  })

/** The admin dir of oompa's worktree at `path`, its `.git` link repaired first if an agent broke it. */
const ownAdminDir = (repo: GitRepo.Repo, path: string) =>
  Effect.gen(function*() {
    const adminDir = yield* GitRepo.adminDirOf(repo, path).pipe(Effect.orElseSucceed(() => undefined))
    if (adminDir !== undefined) return adminDir
    yield* repairLinks(repo, path)
    return yield* GitRepo.adminDirOf(repo, path)
  })

/** Creates the worker's worktree detached at the current main, or returns the one it has. */
const acquireWorkspace = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.acquireWorkspace")(function*(worker: Ids.WorkerId) {
    if (!isWorkerId(worker) || worker.startsWith(".")) return yield* gitError("acquireWorkspace", `invalid worker id ${JSON.stringify(worker)}`)
    const path = workspacePathOf(repo, worker)
    // Before anything prunes the registry (a broken link makes `worktree prune` forget the worktree).
    yield* GitRepo.withWorktreeRegistry(repo, repairLinks(repo))
    if ((yield* GitRepo.reusableAdminDir(repo, "acquireWorkspace", path)) !== undefined) return { worker, path } satisfies Git.Workspace
    if (yield* existsPath(repo, path)) {
      return yield* gitError("acquireWorkspace", `${path} exists but is not a worktree of ${repo.root}; remove it`)
    }
    const main = yield* mainHead(repo)
    yield* GitRepo.withWorktreeRegistry(repo, Effect.gen(function*() {
      // A registration whose folder is gone would make `worktree add` refuse the path.
      yield* repo.git.ok("acquireWorkspace", { cwd: repo.root, args: ["worktree", "prune"] })
      yield* GitRepo.addWorktree(repo, "acquireWorkspace", path, main)
    }))
    records.set(path, { branch: undefined, head: main, mergeParent: undefined })
    return { worker, path } satisfies Git.Workspace
  })

const existsPath = (repo: GitRepo.Repo, path: string) =>
  repo.fs.exists(path).pipe(Effect.mapError((error) => gitError("exists", error.message)))

/** Discards everything in the workspace and checks out `branch` at `base` there. */
const resetWorkspace = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.resetWorkspace")(function*(workspace: Git.Workspace, branch: string, base: string) {
    if (branch.length === 0) return yield* gitError("resetWorkspace", "empty branch name")
    // The target branch only moves by compare-and-swap; it is never checked out in a workspace.
    if (branch === repo.targetBranch) return yield* gitError("resetWorkspace", `cannot check out the target branch ${branch}`)
    const adminDir = yield* ownAdminDir(repo, workspace.path)
    if (adminDir === undefined) return yield* gitError("resetWorkspace", `no workspace at ${workspace.path}`)
    // git 2.39's `checkout -B` would take a branch another worktree has checked out; refuse it first.
    const holder = (yield* GitRepo.withWorktreeRegistry(repo, GitRepo.listWorktrees(repo))).find((worktree) =>
      worktree.path !== workspace.path && worktree.head._tag === "Branch" && worktree.head.ref === `refs/heads/${branch}`)
    if (holder !== undefined) return yield* gitError("resetWorkspace", `branch ${branch} is already checked out at ${holder.path}`)
    // Nothing runs in a workspace while it is reset: a lock left by a killed agent's git is stale.
    yield* repo.fs.remove(`${adminDir}/index.lock`, { force: true }).pipe(Effect.mapError((error) => gitError("resetWorkspace", error.message)))
    yield* plainBranch(repo, branch)
    // -f drops local changes and any merge in progress; -B creates or moves the branch.
    yield* repo.git.ok("resetWorkspace", { cwd: workspace.path, args: ["checkout", "-q", "-f", "-B", branch, `${base}^{commit}`] })
    // -ff also removes nested repositories an agent created; -x the ignored files and the task outbox.
    yield* repo.git.ok("resetWorkspace", { cwd: workspace.path, args: ["clean", "-q", "-ffdx"] })
    records.set(workspace.path, { branch, head: yield* GitRepo.worktreeHead(repo, workspace.path), mergeParent: undefined })
  })

/** Removes the worktree (dirty or not); its branch stays. */
const removeWorkspace = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.removeWorkspace")(function*(workspace: Git.Workspace) {
    const adminDir = yield* ownAdminDir(repo, workspace.path)
    if (adminDir === undefined) return yield* gitError("removeWorkspace", `no workspace at ${workspace.path}`)
    yield* GitRepo.withWorktreeRegistry(repo, GitRepo.removeWorktree(repo, "removeWorkspace", workspace.path))
    records.delete(workspace.path)
  })

/** oompa's worktrees: those directly under `worktreesDir` named by a worker id. */
const listWorkspaces = (repo: GitRepo.Repo) =>
  Effect.map(GitRepo.withWorktreeRegistry(repo, Effect.andThen(repairLinks(repo), GitRepo.listWorktrees(repo))), (worktrees) =>
    worktrees
      .filter((worktree) => !worktree.main && worktree.path.startsWith(`${repo.worktreesDir}/`))
      .map((worktree) => ({ worker: worktree.path.slice(repo.worktreesDir.length + 1), path: worktree.path }))
      .filter((workspace): workspace is Git.Workspace => isWorkerId(workspace.worker) && !workspace.worker.startsWith("."))
      .sort((a, b) => a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0))

// ---------------------------------------------------------------------------------------------------
// Commits and diffs
// ---------------------------------------------------------------------------------------------------

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

/** Records what the setup left (staged, so `git add` has hashed it) as the setup's. */
const markSetupOutputs = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.markSetupOutputs")(function*(workspace: Git.Workspace) {
    const recorded = yield* recordOf(repo, records, workspace.path)
    yield* repo.git.ok("markSetupOutputs", { cwd: workspace.path, args: ["add", "-A"] })
    records.set(workspace.path, { ...recorded, setup: yield* stagedChanges(repo, workspace, recorded.head) })
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
 * Removes `refs/heads/<name>` when it is a symbolic ref (`ref: refs/heads/main`): an agent can plant
 * one under a branch name oompa uses (they are predictable), and every write through it — a commit,
 * a reset, a delete — would land on main instead. Returns whether it removed one. Symbolic refs are
 * always loose files; oompa's branch names are its own, so the link is removed, never followed.
 */
const plainBranch = (repo: GitRepo.Repo, name: string) =>
  Effect.try({
    try: () => {
      const file = `${repo.commonDir}/refs/heads/${name}`
      let content: string
      try {
        content = nodeFs.readFileSync(file, "utf8")
      } catch {
        return false
      }
      if (!content.startsWith("ref:")) return false
      nodeFs.rmSync(file, { force: true })
      return true
    },
    catch: (cause) => gitError("plainBranch", `cannot remove the symbolic ref refs/heads/${name}: ${String(cause)}`)
  })

/**
 * Before a merge into the workspace: the setup's outputs the agent left as they were go back to the
 * head's files (git refuses to merge over changed files it would touch), and stop being the setup's.
 */
const dropSetupOutputs = Effect.fnUntraced(function*(repo: GitRepo.Repo, workspace: Git.Workspace, recorded: Recorded) {
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
const commitAll = (repo: GitRepo.Repo, records: Records, warn: (line: string) => Effect.Effect<void>, guard: ConfigGuard) =>
  Effect.fn("NodeGit.commitAll")(function*(workspace: Git.Workspace, message: string) {
    // Before `add`, which runs clean filters: the agent that just ran may have installed one.
    yield* guardConfig(repo, guard, warn)
    // The agent that just ran may have deleted the link: its tracked changes still count.
    const adminDir = yield* ownAdminDir(repo, workspace.path)
    if (adminDir === undefined) return yield* gitError("commitAll", `no workspace at ${workspace.path}`)
    const recorded = yield* recordOf(repo, records, workspace.path)
    yield* repo.git.ok("commitAll", { cwd: workspace.path, args: ["add", "-A"] })
    yield* unstageSetupOutputs(repo, workspace, recorded)
    const tree = GitCommand.text((yield* repo.git.ok("commitAll", { cwd: workspace.path, args: ["write-tree"] })).stdout).trim()
    if (recorded.mergeParent === undefined && (yield* GitRepo.readCommit(repo, recorded.head)).tree === tree) {
      yield* restoreHead(repo, adminDir, workspace, recorded, warn)
      return Option.none<string>()
    }
    const parents = recorded.mergeParent === undefined ? [recorded.head] : [recorded.head, recorded.mergeParent]
    const commit = yield* repo.git.ok("commitAll", {
      cwd: repo.root,
      args: ["commit-tree", tree, ...parents.flatMap((parent) => ["-p", parent])],
      stdin: message
    })
    const sha = GitCommand.text(commit.stdout).trim()
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
const diffStat = (repo: GitRepo.Repo) =>
  Effect.fn("NodeGit.diffStat")(function*(base: string, head: string) {
    const output = yield* repo.git.ok("diffStat", {
      cwd: repo.commonDir,
      args: ["diff", "--raw", "--numstat", "-z", "--no-abbrev", "--no-renames", "--no-ext-diff", "--no-textconv", base, head, "--"]
    })
    return yield* GitRepo.parse("diffStat", () => GitParse.diffStat(GitCommand.text(output.stdout)))
  })

const diffText = (repo: GitRepo.Repo) =>
  Effect.fn("NodeGit.diffText")(function*(base: string, head: string) {
    const output = yield* repo.git.ok("diffText", {
      cwd: repo.commonDir,
      args: ["diff", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color", "--src-prefix=a/", "--dst-prefix=b/", base, head, "--"]
    })
    return GitCommand.text(output.stdout)
  })

// ---------------------------------------------------------------------------------------------------
// Merges and main
// ---------------------------------------------------------------------------------------------------

const mainHead = (repo: GitRepo.Repo) =>
  Effect.flatMap(GitRepo.resolveRef(repo.commonDir, `refs/heads/${repo.targetBranch}`), (sha) =>
    sha === undefined ? Effect.fail(gitError("mainHead", `target branch ${repo.targetBranch} is missing`)) : Effect.succeed(sha))

/**
 * Lands the approved tree of `head` onto `onto` as unreferenced commits (or the conflicting files).
 * The reviewed commit is written first: `head`'s tree on `base` with the merge message, so nothing
 * of the agent's history, messages or trailers is used. When main moved past `base` it is merged
 * onto `onto` with `merge-tree --write-tree`, whose merge base is then `base` (the reviewed
 * commit's only parent, an ancestor of `onto`) — not whatever history an agent gave `head`.
 */
const merge = (repo: GitRepo.Repo) =>
  Effect.fn("NodeGit.merge")(function*(request: Git.MergeRequest) {
    const { base, head, message, onto, strategy } = request
    if (!(yield* GitRepo.isAncestor(repo, base, onto))) {
      return yield* gitError("merge", `the reviewed change's base ${base} is not part of ${onto}`)
    }
    const commitTree = (tree: string, parents: ReadonlyArray<string>) =>
      Effect.map(
        repo.git.ok("merge", { cwd: repo.root, args: ["commit-tree", tree, ...parents.flatMap((parent) => ["-p", parent])], stdin: message }),
        (output) => GitCommand.text(output.stdout).trim()
      )
    const headTree = (yield* GitRepo.readCommit(repo, head)).tree
    const reviewed = yield* commitTree(headTree, [base])
    if (onto === base) {
      return { _tag: "Merged", sha: strategy === "no-ff" ? yield* commitTree(headTree, [onto, reviewed]) : reviewed } satisfies Git.MergeAttempt
    }
    // Inside the common `.git`, where git has no work tree: a `.gitattributes` (the user's checkout
    // has main's) cannot select a merge driver such as `union`, which would settle a conflict
    // silently instead of sending it back to the agent and its reviewer.
    const output = yield* repo.git.ok("merge", {
      cwd: repo.commonDir,
      args: ["merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", onto, reviewed]
    }, [0, 1])
    const result = yield* GitRepo.parse("merge", () => GitParse.mergeTree(GitCommand.text(output.stdout)))
    if (output.exitCode === 1) {
      if (result.conflicts.length === 0) return yield* GitCommand.failure("merge", { cwd: repo.root, args: ["merge-tree", onto, reviewed] }, output)
      return { _tag: "Conflict", files: result.conflicts } satisfies Git.MergeAttempt
    }
    // no-ff records both parents; squash, rebase and ff keep main linear.
    return { _tag: "Merged", sha: yield* commitTree(result.tree, strategy === "no-ff" ? [onto, reviewed] : [onto]) } satisfies Git.MergeAttempt
  })

/**
 * The files of `commit` under `folder`: `ls-tree` for the blobs, then one `cat-file --batch` for their
 * contents, each cut to `bytesMax` bytes.
 */
const readFiles = (repo: GitRepo.Repo) =>
  Effect.fn("NodeGit.readFiles")(function*(commit: string, folder: string, limits: { readonly limit: number; readonly bytesMax: number }) {
    const listing = yield* repo.git.ok("readFiles", { cwd: repo.commonDir, args: ["ls-tree", "-r", "-z", "--full-tree", `${commit}^{commit}`, "--", `${folder.replace(/\/+$/, "")}/`] })
    const blobs = GitParse.nulFields(GitCommand.text(listing.stdout)).flatMap((entry) => {
      const match = /^\d+ blob ([0-9a-f]+)\t(.*)$/s.exec(entry)
      return match === null ? [] : [{ sha: match[1]!, name: match[2]! }]
    }).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0).slice(0, limits.limit)
    if (blobs.length === 0) return []
    const output = yield* repo.git.ok("readFiles", { cwd: repo.commonDir, args: ["cat-file", "--batch"], stdin: blobs.map((b) => b.sha).join("\n") + "\n" })
    const bytes = output.stdout
    const decoder = new TextDecoder()
    const files: Array<Git.NewTaskFile> = []
    let at = 0
    for (const blob of blobs) {
      const headerEnd = bytes.indexOf(10, at)
      const size = Number(decoder.decode(bytes.subarray(at, headerEnd)).split(" ")[2])
      if (headerEnd < 0 || !Number.isFinite(size)) return yield* gitError("readFiles", `unexpected cat-file output for ${blob.name}`)
      const start = headerEnd + 1
      files.push({ name: blob.name, content: decoder.decode(bytes.subarray(start, start + Math.min(size, limits.bytesMax))) })
      at = start + size + 1
    }
    return files
  })

/** The ref that records which commit landed `task`. */
export const mergedMarkerRef = (task: string): string => `refs/oompa/merged/${task}`

const mergedMarkersPrefix = "refs/oompa/merged/"

/** Every merged marker, task → commit (`for-each-ref`; read by recovery only). */
const mergedMarkers = (repo: GitRepo.Repo) =>
  Effect.map(
    repo.git.ok("mergedMarkers", { cwd: repo.root, args: ["for-each-ref", "--format=%(refname)%00%(objectname)", mergedMarkersPrefix] }),
    (output) => {
      const markers = new Map<string, string>()
      for (const line of GitCommand.text(output.stdout).split("\n")) {
        const [ref, sha] = line.split("\0")
        if (ref !== undefined && sha !== undefined && ref.startsWith(mergedMarkersPrefix)) markers.set(ref.slice(mergedMarkersPrefix.length), sha)
      }
      return markers as ReadonlyMap<string, string>
    }
  )

/**
 * Moves the target branch from `expected` to `next` with `git update-ref NEW OLD`. Dies when `next`
 * does not descend from `expected` (the adapter half of STYLE 9's paired assertion). A checkout that
 * has the branch checked out is synced after the move; the sync is recorded before it. Swaps in one
 * process take turns (`swaps`), so two syncs never share the record; between processes the ref's own
 * lock decides, and the run lock keeps a second run away.
 */
const compareAndSwapMain = (repo: GitRepo.Repo, warn: (line: string) => Effect.Effect<void>, swaps: Semaphore.Semaphore) =>
  Effect.fn("NodeGit.compareAndSwapMain")(function*(expected: string, next: string, landed: ReadonlyArray<string> = []) {
    for (const task of landed) {
      if (!Schema.is(Ids.TaskId)(task)) return yield* gitError("compareAndSwapMain", `invalid task id ${JSON.stringify(task)} for a merged marker`)
    }
    if (!(yield* GitRepo.isAncestor(repo, expected, next))) {
      return yield* Effect.die(new Error(`NodeGit.compareAndSwapMain: ${next} does not descend from ${expected}; main only moves forward`))
    }
    // A sync a crash left behind is finished before a new one is recorded.
    yield* Effect.forEach(yield* CheckoutSync.recover(repo), warn)
    const record = yield* CheckoutSync.prepare(repo, { old: expected, next })
    const ref = `refs/heads/${repo.targetBranch}`
    // What the sync will need is read while the ref moves (it does not depend on the move).
    const [update, touched] = yield* Effect.all([
      // One transaction: main and the markers of what it lands move together or not at all.
      repo.git.run("compareAndSwapMain", {
        cwd: repo.root,
        args: ["update-ref", "-m", `oompa ${repo.runId}: merge`, "--stdin"],
        stdin: ["start", `update ${ref} ${next} ${expected}`, ...landed.map((task) => `update ${mergedMarkerRef(task)} ${next}`), "prepare", "commit", ""].join("\n")
      }),
      record === undefined
        ? Effect.succeed(undefined)
        // Once main has moved the swap must report success: `finish` reads the files again and reports a failure.
        : CheckoutSync.touchedFiles(repo, expected, next).pipe(Effect.catchTag("GitError", () => Effect.succeed(undefined)))
    ], { concurrency: "unbounded" })
    if (update.exitCode !== 0) {
      const now = yield* GitRepo.resolveRef(repo.commonDir, ref)
      if (record !== undefined) yield* CheckoutSync.discard(repo)
      // Main is elsewhere: a lost race, which the caller retries on the new main.
      if (now !== expected) return false
      return yield* GitCommand.failure("compareAndSwapMain", { cwd: repo.root, args: ["update-ref", ref, next, expected] }, update)
    }
    if (record !== undefined) yield* Effect.forEach(yield* CheckoutSync.finishOrReport(repo, record, touched), warn)
    return true
  }, (effect) => swaps.withPermit(effect))

/** Merges `onto` into the workspace's branch with `--no-commit`; the next `commitAll` makes the merge commit. */
const mergeIntoWorkspace = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.mergeIntoWorkspace")(function*(workspace: Git.Workspace, onto: string) {
    const recorded = yield* recordOf(repo, records, workspace.path)
    if (yield* GitRepo.isAncestor(repo, onto, recorded.head)) return []
    // `git merge` reads HEAD: it must be the recorded head, whatever an agent made of it.
    const adminDir = yield* ownAdminDir(repo, workspace.path)
    if (adminDir === undefined) return yield* gitError("mergeIntoWorkspace", `no workspace at ${workspace.path}`)
    if (recorded.branch !== undefined) {
      yield* plainBranch(repo, recorded.branch)
      yield* repo.git.ok("mergeIntoWorkspace", { cwd: repo.root, args: ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: restore`, `refs/heads/${recorded.branch}`, recorded.head] })
    }
    yield* writeHeadFile(repo, adminDir, workspace.path, recorded.branch === undefined ? `${recorded.head}\n` : `ref: refs/heads/${recorded.branch}\n`)
    yield* dropSetupOutputs(repo, workspace, recorded)
    records.set(workspace.path, { ...recorded, setup: new Map(), mergeParent: onto })
    const output = yield* repo.git.ok("mergeIntoWorkspace", {
      cwd: workspace.path,
      args: ["merge", "-q", "--no-commit", "--no-ff", "--no-edit", onto]
    }, [0, 1])
    const unmerged = yield* repo.git.ok("mergeIntoWorkspace", {
      cwd: workspace.path,
      args: ["diff", "--name-only", "--diff-filter=U", "-z"]
    })
    const files = [...new Set(GitParse.nulFields(GitCommand.text(unmerged.stdout)))].sort()
    // Exit 1 without conflicts is a refusal (local changes in the way), not a merge.
    if (output.exitCode === 1 && files.length === 0) {
      return yield* GitCommand.failure("mergeIntoWorkspace", { cwd: workspace.path, args: ["merge", onto] }, output)
    }
    return files
  })

// ---------------------------------------------------------------------------------------------------
// The task outbox
// ---------------------------------------------------------------------------------------------------

// The outbox is a flat folder by contract; an agent's deeper tree is read to this many folders.
const outboxFoldersMax = 64

/** Regular files under `dir`, as paths relative to it, sorted; symlinks and other entries are skipped. */
const outboxFiles = Effect.fn("NodeGit.outboxFiles")(function*(repo: GitRepo.Repo, dir: string) {
  const files: Array<string> = []
  const folders = [""]
  for (let visited = 0; visited < outboxFoldersMax && visited < folders.length; visited++) {
    const prefix = folders[visited]!
    const entries = yield* repo.fs.readDirectoryEntries(`${dir}/${prefix}`).pipe(Effect.mapError((error) => gitError("takeNewTaskFiles", error.message)))
    for (const entry of entries) {
      if (entry.type === "File") files.push(`${prefix}${entry.name}`)
      if (entry.type === "Directory") folders.push(`${prefix}${entry.name}/`)
    }
  }
  return files.sort()
})

const takeNewTaskFiles = (repo: GitRepo.Repo) =>
  Effect.fn("NodeGit.takeNewTaskFiles")(function*(workspace: Git.Workspace) {
    const dir = `${workspace.path}/${newTasksFolder}`
    if (!(yield* existsPath(repo, dir))) return []
    const names = yield* outboxFiles(repo, dir)
    const taken: Array<Git.NewTaskFile> = []
    for (const name of names) {
      const content = yield* repo.fs.readFileString(`${dir}/${name}`).pipe(Effect.mapError((error) => gitError("takeNewTaskFiles", error.message)))
      taken.push({ name, content })
    }
    // Everything goes, read or not (a symlink is never followed): the outbox is empty afterwards.
    yield* repo.fs.remove(dir, { recursive: true, force: true }).pipe(Effect.mapError((error) => gitError("takeNewTaskFiles", error.message)))
    return taken
  })

// ---------------------------------------------------------------------------------------------------
// Branches
// ---------------------------------------------------------------------------------------------------

const setBranch = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.setBranch")(function*(name: string, sha: string) {
    if (name.length === 0) return yield* gitError("setBranch", "empty branch name")
    yield* repo.git.ok("setBranch", {
      cwd: repo.root,
      args: ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: set branch`, `refs/heads/${name}`, `${sha}^{commit}`]
    })
    // A workspace on the branch follows oompa's own move, as a symbolic HEAD would.
    const commit = yield* GitRepo.resolveRef(repo.commonDir, `refs/heads/${name}`)
    if (commit !== undefined) for (const [path, recorded] of records) if (recorded.branch === name) records.set(path, { ...recorded, head: commit })
  })

/**
 * Writes the `HEAD` of one of oompa's worktrees (`<sha>\n` detached, or `ref: refs/heads/<b>\n`)
 * under git's lock protocol (`HEAD.lock` created exclusively, then renamed over `HEAD`): the
 * worktree is oompa's and nothing else of oompa's writes its HEAD, and it spares a spawn per
 * iteration. A held lock falls back to git itself.
 */
const writeHeadFile = (repo: GitRepo.Repo, adminDir: string, path: string, content: string) =>
  Effect.gen(function*() {
    const lock = `${adminDir}/HEAD.lock`
    const locked = yield* Effect.try({
      try: () => {
        nodeFs.writeFileSync(lock, content, { flag: "wx" })
        nodeFs.renameSync(lock, `${adminDir}/HEAD`)
        return true
      },
      catch: (cause) => cause
    }).pipe(Effect.catch((cause) =>
      typeof cause === "object" && cause !== null && "code" in cause && cause.code === "EEXIST"
        ? Effect.succeed(false)
        : Effect.fail(gitError("writeHead", `cannot write the HEAD of ${path}: ${String(cause)}`))))
    if (locked) return
    const symbolic = /^ref: (refs\/heads\/.+)\n$/.exec(content)?.[1]
    yield* repo.git.ok("writeHead", {
      cwd: path,
      args: symbolic === undefined
        ? ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: detach`, "HEAD", content.trim()]
        : ["symbolic-ref", "-m", `oompa ${repo.runId}: restore`, "HEAD", symbolic]
    })
  })

/** Deletes a branch; oompa's worktrees that have it checked out are detached at its commit first. */
const deleteBranch = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.deleteBranch")(function*(name: string) {
    if (name === repo.targetBranch) return yield* gitError("deleteBranch", `cannot delete the target branch ${name}`)
    const ref = `refs/heads/${name}`
    // A symbolic ref planted under oompa's name goes by itself; `update-ref -d` would delete its target (main).
    if (yield* plainBranch(repo, name)) return
    const sha = yield* GitRepo.resolveRef(repo.commonDir, ref)
    if (sha === undefined) return
    const holders = (yield* GitRepo.withWorktreeRegistry(repo, GitRepo.listWorktrees(repo))).filter((worktree) => worktree.head._tag === "Branch" && worktree.head.ref === ref)
    const foreign = holders.find((worktree) => !worktree.path.startsWith(`${repo.worktreesDir}/`))
    if (foreign !== undefined) return yield* gitError("deleteBranch", `${name} is checked out at ${foreign.path}, which is not oompa's; it stays`)
    for (const holder of holders) yield* writeHeadFile(repo, holder.adminDir, holder.path, `${sha}\n`)
    yield* repo.git.ok("deleteBranch", { cwd: repo.root, args: ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: delete`, "-d", ref, sha] })
    for (const [path, recorded] of records) if (recorded.branch === name) records.set(path, { ...recorded, branch: undefined })
  })

// ---------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------

/**
 * The `Git` service over an opened repository.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (repo: GitRepo.Repo, warn: (line: string) => Effect.Effect<void>, swaps: Semaphore.Semaphore): Git.Git["Service"] => {
  const records: Records = new Map()
  const guard: ConfigGuard = { text: readText(`${repo.commonDir}/config`), attributes: new Map(attributesFiles(repo).map((file) => [file, readText(file)])) }
  const guarded = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | Errors.GitError> => Effect.andThen(guardConfig(repo, guard, warn), effect)
  return Git.Git.of({
    targetBranch: repo.targetBranch,
    mainHead: mainHead(repo),
    acquireWorkspace: acquireWorkspace(repo, records),
    resetWorkspace: (workspace, branch, base) => guarded(resetWorkspace(repo, records)(workspace, branch, base)),
    removeWorkspace: removeWorkspace(repo, records),
    listWorkspaces: listWorkspaces(repo),
    commitAll: commitAll(repo, records, warn, guard),
    markSetupOutputs: markSetupOutputs(repo, records),
    workspaceHead: (workspace) => Effect.map(recordOf(repo, records, workspace.path), (recorded) => recorded.head),
    diffStat: diffStat(repo),
    diffText: diffText(repo),
    // Merges may run merge drivers; the swap syncs the user's checkout (smudge filters).
    merge: (request) => guarded(merge(repo)(request)),
    compareAndSwapMain: (expected, next, landed) => guarded(compareAndSwapMain(repo, warn, swaps)(expected, next, landed)),
    mergedMarkers: mergedMarkers(repo),
    mergeIntoWorkspace: (workspace, onto) => guarded(mergeIntoWorkspace(repo, records)(workspace, onto)),
    takeNewTaskFiles: takeNewTaskFiles(repo),
    setBranch: setBranch(repo, records),
    deleteBranch: deleteBranch(repo, records),
    listBranches: (prefix) => GitRepo.listBranches(repo, prefix),
    readFiles: readFiles(repo),
    isAncestor: (ancestor, descendant) => GitRepo.isAncestor(repo, ancestor, descendant),
    readCommit: (sha) => Effect.map(GitRepo.readCommit(repo, sha), ({ message, parents }) => ({ sha, parents, message }))
  })
}

/**
 * Provides `Git` on the repository at `options.repoRoot`. Opening it picks the target branch (SPEC
 * F1), creates the worktrees folder, adds `.oompa/` and `.oompa-new-tasks/` to `.git/info/exclude`,
 * and finishes a checkout sync a crashed run left behind (SPEC F14). Needs `ChildProcessSpawner`,
 * `FileSystem` and `Path` (all in `@effect/platform-node`'s `NodeServices.layer`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options) =>
  Layer.effect(Git.Git, Effect.gen(function*() {
    const repo = yield* GitRepo.open(options)
    const warn = options.onWarning ?? ((line: string) => Console.error(line))
    yield* Effect.forEach(yield* CheckoutSync.recover(repo), warn)
    return make(repo, warn, yield* Semaphore.make(1))
  }))
