/**
 * What the Node git layer records of each workspace, and the refs and `HEAD` files it writes: the
 * record (branch, head, pending merge parent, setup outputs) is oompa's own and never read back from
 * a worktree an agent controls; branch writes go by full ref name, a symbolic ref planted under one
 * of oompa's names is removed first (`plainBranch`), and a worktree's `HEAD` is written under git's
 * lock protocol.
 *
 * Internal: used by `NodeGit` and its internal modules.
 *
 * @since 0.1.0
 */
// `Errors` is what the declarations of the effects exported here name their failures by.
import type { Errors } from "@oompa/core"
import { Effect } from "effect"
import * as nodeFs from "node:fs"
import * as GitRepo from "./gitRepo.ts"

/**
 * What oompa knows of a workspace, kept in the service, never read back from the worktree: an agent
 * can point its worktree's `HEAD` anywhere (`git checkout main`, `git symbolic-ref HEAD
 * refs/heads/main`) and move any ref. Commits go to `branch` from `head`; `mergeParent` is the main
 * `mergeIntoWorkspace` merged in, the next commit's second parent.
 */
export interface Recorded {
  readonly branch: string | undefined
  readonly head: string
  readonly mergeParent: string | undefined
  /** What `setup_command` left that differs from `head`: path → blob (`undefined`: it deleted the path). */
  readonly setup?: ReadonlyMap<string, string | undefined>
  /**
   * The files and folders `setup_command` created, ignored ones included (`node_modules/`): a reset
   * of the workspace keeps them (`git clean -e`), so the setup need not run for every iteration.
   */
  readonly kept?: ReadonlyArray<string>
}

/** The records of one `Git` service, by workspace path. */
export type Records = Map<string, Recorded>

/** The workspace's record; a workspace this service never reset is read from the worktree once. */
export const recordOf = (repo: GitRepo.Repo, records: Records, path: string) =>
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

/** The commit the target branch points to, read in-process; a missing branch is a missing object. */
export const mainHead = (repo: GitRepo.Repo) =>
  Effect.flatMap(GitRepo.resolveRef(repo.commonDir, `refs/heads/${repo.targetBranch}`), (sha) =>
    sha === undefined ? Effect.fail(GitRepo.gitError("mainHead", "missing-object", `target branch ${repo.targetBranch} is missing`)) : Effect.succeed(sha))

/**
 * Removes `refs/heads/<name>` when it is a symbolic ref (`ref: refs/heads/main`): an agent can plant
 * one under a branch name oompa uses (they are predictable), and every write through it — a commit,
 * a reset, a delete — would land on main instead. Returns whether it removed one. Symbolic refs are
 * always loose files; oompa's branch names are its own, so the link is removed, never followed.
 */
export const plainBranch = (repo: GitRepo.Repo, name: string) =>
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
    catch: (cause) => GitRepo.gitError("plainBranch", "failed", `cannot remove the symbolic ref refs/heads/${name}: ${String(cause)}`)
  })

/**
 * Writes the `HEAD` of one of oompa's worktrees (`<sha>\n` detached, or `ref: refs/heads/<b>\n`)
 * under git's lock protocol (`HEAD.lock` created exclusively, then renamed over `HEAD`): the
 * worktree is oompa's and nothing else of oompa's writes its HEAD, and it spares a spawn per
 * iteration. A held lock falls back to git itself.
 */
export const writeHeadFile = (repo: GitRepo.Repo, adminDir: string, path: string, content: string) =>
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
        : Effect.fail(GitRepo.gitError("writeHead", "failed", `cannot write the HEAD of ${path}: ${String(cause)}`))))
    if (locked) return
    const symbolic = /^ref: (refs\/heads\/.+)\n$/.exec(content)?.[1]
    yield* repo.git.ok("writeHead", {
      cwd: path,
      args: symbolic === undefined
        ? ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: detach`, "HEAD", content.trim()]
        : ["symbolic-ref", "-m", `oompa ${repo.runId}: restore`, "HEAD", symbolic]
    })
  })

export const setBranch = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.setBranch")(function*(name: string, sha: string) {
    if (name.length === 0) return yield* GitRepo.gitError("setBranch", "failed", "empty branch name")
    yield* repo.git.ok("setBranch", {
      cwd: repo.root,
      args: ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: set branch`, `refs/heads/${name}`, `${sha}^{commit}`]
    })
    // A workspace on the branch follows oompa's own move, as a symbolic HEAD would.
    const commit = yield* GitRepo.resolveRef(repo.commonDir, `refs/heads/${name}`)
    if (commit !== undefined) for (const [path, recorded] of records) if (recorded.branch === name) records.set(path, { ...recorded, head: commit })
  })

/** A branch about to be deleted: its ref, the commit it is at, and oompa's worktrees that have it checked out. */
export interface Retiring {
  readonly ref: string
  readonly sha: string
  readonly holders: ReadonlyArray<GitRepo.Worktree>
}

/**
 * What deleting branch `name` involves, or `undefined` when there is nothing to delete (no such
 * branch, or a symbolic ref, which is removed here). Fails when a worktree that is not oompa's has
 * it checked out: the user's HEAD is never left on a deleted branch.
 */
export const retiring = Effect.fnUntraced(function*(repo: GitRepo.Repo, name: string) {
  if (name === repo.targetBranch) return yield* GitRepo.gitError("deleteBranch", "failed", `cannot delete the target branch ${name}`)
  const ref = `refs/heads/${name}`
  // A symbolic ref planted under oompa's name goes by itself; `update-ref -d` would delete its target (main).
  if (yield* plainBranch(repo, name)) return undefined
  const sha = yield* GitRepo.resolveRef(repo.commonDir, ref)
  if (sha === undefined) return undefined
  const holders = yield* GitRepo.withWorktreeRegistry(repo, GitRepo.listWorktrees(repo, (head) => head._tag === "Branch" && head.ref === ref))
  const foreign = holders.find((worktree) => !worktree.path.startsWith(`${repo.worktreesDir}/`))
  if (foreign !== undefined) return yield* GitRepo.gitError("deleteBranch", "failed", `${name} is checked out at ${foreign.path}, which is not oompa's; it stays`)
  return { ref, sha, holders } satisfies Retiring
})

/** After `retiring.ref` is gone: oompa's worktrees that had it checked out are detached at its commit, and their records follow. */
export const retired = (repo: GitRepo.Repo, records: Records, name: string, retiring: Retiring) =>
  Effect.gen(function*() {
    for (const holder of retiring.holders) yield* writeHeadFile(repo, holder.adminDir, holder.path, `${retiring.sha}\n`)
    for (const [path, recorded] of records) if (recorded.branch === name) records.set(path, { ...recorded, branch: undefined })
  })

/** Deletes a branch; oompa's worktrees that have it checked out are detached at its commit first. */
export const deleteBranch = (repo: GitRepo.Repo, records: Records) =>
  Effect.fn("NodeGit.deleteBranch")(function*(name: string) {
    const branch = yield* retiring(repo, name)
    if (branch === undefined) return
    // Detached first: no worktree of oompa's is ever on a branch that is gone.
    for (const holder of branch.holders) yield* writeHeadFile(repo, holder.adminDir, holder.path, `${branch.sha}\n`)
    yield* repo.git.ok("deleteBranch", { cwd: repo.root, args: ["update-ref", "--no-deref", "-m", `oompa ${repo.runId}: delete`, "-d", branch.ref, branch.sha] })
    yield* retired(repo, records, name, branch)
  })
