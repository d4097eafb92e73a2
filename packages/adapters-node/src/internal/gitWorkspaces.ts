/**
 * oompa's workspaces as real `git worktree`s under `worktreesDir`, one per worker, named after it:
 * created detached at main, reused across iterations (a reset is `checkout -f -B` + `clean -ffdx`,
 * which touches only the files that differ), listed and removed. A worktree's `.git` link an agent
 * deleted or replaced is put back first (`repairLinks`).
 *
 * Internal: used by `NodeGit` and its internal modules.
 *
 * @since 0.1.0
 */
// `Errors` is what the declarations of the effects exported here name their failures by.
import type { Errors, Git } from "@oompa/core"
import { Ids } from "@oompa/core"
import { Effect, Schema } from "effect"
import * as nodeFs from "node:fs"
import { mainHead, plainBranch, type Records } from "./gitHeads.ts"
import * as GitParse from "./gitParse.ts"
import * as GitRepo from "./gitRepo.ts"
import * as WorktreeFiles from "./worktreeFiles.ts"

const isWorkerId = Schema.is(Ids.WorkerId)

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
    catch: (cause) => GitRepo.gitError("repairWorktreeLink", "failed", `cannot repair the .git link of a worktree under ${repo.worktreesDir}: ${String(cause)}`)
  })

/** The admin dir of oompa's worktree at `path`, its `.git` link repaired first if an agent broke it. */
export const ownAdminDir = (repo: GitRepo.Repo, path: string) =>
  Effect.gen(function*() {
    const adminDir = yield* GitRepo.adminDirOf(repo, path).pipe(Effect.orElseSucceed(() => undefined))
    if (adminDir !== undefined) return adminDir
    yield* repairLinks(repo, path)
    return yield* GitRepo.adminDirOf(repo, path)
  })

/** Creates the worker's worktree detached at the current main, or returns the one it has. */
export const acquireWorkspace = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.acquireWorkspace")(function*(worker: Ids.WorkerId) {
    if (!isWorkerId(worker) || worker.startsWith(".")) return yield* GitRepo.gitError("acquireWorkspace", "failed", `invalid worker id ${JSON.stringify(worker)}`)
    const path = workspacePathOf(repo, worker)
    // Before anything prunes the registry (a broken link makes `worktree prune` forget the worktree).
    yield* GitRepo.withWorktreeRegistry(repo, repairLinks(repo))
    if ((yield* GitRepo.reusableAdminDir(repo, "acquireWorkspace", path)) !== undefined) return { worker, path } satisfies Git.Workspace
    if (yield* existsPath(repo, path)) {
      return yield* GitRepo.gitError("acquireWorkspace", "not-a-repository", `${path} exists but is not a worktree of ${repo.root}; remove it`)
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

export const existsPath = (repo: GitRepo.Repo, path: string) =>
  repo.fs.exists(path).pipe(Effect.mapError((error) => GitRepo.gitError("exists", "failed", error.message)))

/** Discards everything in the workspace and checks out `branch` at `base` there. */
export const resetWorkspace = (repo: GitRepo.Repo, records: Records, files: WorktreeFiles.WorktreeFiles, warn: (line: string) => Effect.Effect<void>) =>
  Effect.fn("NodeGit.resetWorkspace")(function*(workspace: Git.Workspace, branch: string, base: string) {
    if (branch.length === 0) return yield* GitRepo.gitError("resetWorkspace", "failed", "empty branch name")
    // The target branch only moves by compare-and-swap; it is never checked out in a workspace.
    if (branch === repo.targetBranch) return yield* GitRepo.gitError("resetWorkspace", "failed", `cannot check out the target branch ${branch}`)
    const adminDir = yield* ownAdminDir(repo, workspace.path)
    if (adminDir === undefined) return yield* GitRepo.gitError("resetWorkspace", "missing-object", `no workspace at ${workspace.path}`)
    // git 2.39's `checkout -B` would take a branch another worktree has checked out; refuse it first.
    const onBranch = (head: GitParse.HeadFile) => head._tag === "Branch" && head.ref === `refs/heads/${branch}`
    const holder = (yield* GitRepo.withWorktreeRegistry(repo, GitRepo.listWorktrees(repo, onBranch))).find((worktree) => worktree.path !== workspace.path)
    if (holder !== undefined) return yield* GitRepo.gitError("resetWorkspace", "failed", `branch ${branch} is already checked out at ${holder.path}`)
    // Nothing runs in a workspace while it is reset: a lock left by a killed agent's git is stale.
    yield* repo.fs.remove(`${adminDir}/index.lock`, { force: true }).pipe(Effect.mapError((error) => GitRepo.gitError("resetWorkspace", "failed", error.message)))
    yield* plainBranch(repo, branch)
    // -f drops local changes and any merge in progress; -B creates or moves the branch.
    yield* repo.git.ok("resetWorkspace", { cwd: workspace.path, args: ["checkout", "-q", "-f", "-B", branch, `${base}^{commit}`] })
    // -ff also removes nested repositories an agent created; -x the ignored files and the task outbox;
    // not what the setup created (node_modules/), so that it need not run again (issue 18).
    const previous = records.get(workspace.path)
    // A kept path an agent replaced by a symlink is not kept: the next setup would write through it.
    const kept = (previous?.kept ?? []).filter((path) => nodeFs.lstatSync(`${workspace.path}/${path}`, { throwIfNoEntry: false })?.isSymbolicLink() !== true)
    yield* repo.git.ok("resetWorkspace", { cwd: workspace.path, args: ["clean", "-q", "-ffdx", ...kept.flatMap((path) => ["-e", keptPattern(path)])] })
    // The ignored files of the user's worktree it gets (`worktree.copy`/`link`), fresh each time.
    if (files.copy.length + files.link.length > 0) {
      const problems = yield* Effect.try({
        try: () => WorktreeFiles.place(repo.root, workspace.path, files),
        catch: (cause) => GitRepo.gitError("resetWorkspace", "failed", `cannot copy worktree.copy/link files into ${workspace.path}: ${String(cause)}`)
      })
      yield* Effect.forEach(problems, (line) => warn(`warning: ${line}`))
    }
    records.set(workspace.path, {
      branch,
      head: yield* GitRepo.worktreeHead(repo, workspace.path),
      mergeParent: undefined,
      ...(previous?.setup === undefined ? {} : { setup: previous.setup }),
      ...(kept.length === 0 ? {} : { kept })
    })
  })

/**
 * An exclude pattern (`.gitignore` syntax) that matches exactly `path` from the worktree's top: a
 * leading `/` anchors it; glob characters, a backslash and trailing spaces are escaped. A folder's
 * trailing `/` (as `git status` prints it) stays, matching the folder only.
 */
export const keptPattern = (path: string): string =>
  `/${path.replace(/[\\*?[\]]/g, (c) => `\\${c}`).replace(/ (?= *\/?$)/g, "\\ ")}`

/** Removes the worktree (dirty or not); its branch stays. */
export const removeWorkspace = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.removeWorkspace")(function*(workspace: Git.Workspace) {
    const adminDir = yield* ownAdminDir(repo, workspace.path)
    if (adminDir === undefined) return yield* GitRepo.gitError("removeWorkspace", "missing-object", `no workspace at ${workspace.path}`)
    yield* GitRepo.withWorktreeRegistry(repo, GitRepo.removeWorktree(repo, "removeWorkspace", workspace.path))
    records.delete(workspace.path)
  })

/** oompa's worktrees: those directly under `worktreesDir` named by a worker id. */
export const listWorkspaces = (repo: GitRepo.Repo) =>
  Effect.map(GitRepo.withWorktreeRegistry(repo, Effect.andThen(repairLinks(repo), GitRepo.listWorktrees(repo))), (worktrees) =>
    worktrees
      .filter((worktree) => !worktree.main && worktree.path.startsWith(`${repo.worktreesDir}/`))
      .map((worktree) => ({ worker: worktree.path.slice(repo.worktreesDir.length + 1), path: worktree.path }))
      .filter((workspace): workspace is Git.Workspace => isWorkerId(workspace.worker) && !workspace.worker.startsWith("."))
      .sort((a, b) => a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0))
