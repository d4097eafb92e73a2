/**
 * One repository as the Node git layer sees it: where its common `.git` and main worktree are, which
 * branch merges land on, where oompa's worktrees live, and the in-process reads (refs, commits,
 * ancestry, worktree heads) that spare a spawn.
 *
 * Reads go through isomorphic-git against the common `.git`, with two rules that keep them correct
 * next to the git CLI's writes:
 * - nothing is cached: a ref is read from its file (or `packed-refs`) on every call, so a read sees a
 *   write the CLI just made;
 * - objects are read in-process only while they are loose. isomorphic-git loads (and checksums) a
 *   whole packfile to read one object from it, which on a large repository costs more than a spawn
 *   and keeps the pack in memory; a packed commit is read with `git cat-file` instead. oompa's own
 *   commits stay loose during a run (`gc.auto=0`), so the reads a run repeats stay in-process.
 *
 * Internal: used by `NodeGit`, `CheckoutSync` and `NodeCommandRunner`.
 *
 * @since 0.1.0
 */
import { Errors, RepoLayout } from "@oompa/core"
import { Effect, FileSystem, Path, Semaphore } from "effect"
import { createHash } from "node:crypto"
import * as nodeFs from "node:fs"
import * as os from "node:os"
import * as GitCommand from "./gitCommand.ts"
import * as GitDiscovery from "./gitDiscovery.ts"
import * as GitObjects from "./gitObjects.ts"
import * as GitFiles from "./gitFiles.ts"
import * as MainChain from "./gitMainChain.ts"
import * as GitParse from "./gitParse.ts"

/** Everything the git layer needs to know about one repository. */
export interface Repo {
  readonly git: GitCommand.Git
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  /** Top level of the main worktree: the user's checkout, where `.oompa/` lives. */
  readonly root: string
  /** The common git directory (`.git` of the main worktree). */
  readonly commonDir: string
  /** Where oompa's worktrees live (real path, created). */
  readonly worktreesDir: string
  /** The branch merges land on (SPEC F1). */
  readonly targetBranch: string
  readonly runId: string
  /** `diff --raw --numstat` output between two commits, by commit pair (see `rawDiff`). */
  readonly diffs: Map<string, string>
  /** The tree of each commit this process wrote, by commit (see `gitObjects.commitTree`): diffs are kept by tree pair. */
  readonly trees: Map<string, string>
  /** The commits main moved through by this process's compare-and-swaps, in order (see `gitMainChain`). */
  readonly mainChain: MainChain.Chain
  /** The patch of a commit pair fetched with its stats for the review that follows (see `gitCommits.rawDiff`). */
  readonly patches: Map<string, string>
  /** Who commits, for commits written in-process; `undefined`: through `git commit-tree` (see `gitObjects`). */
  readonly identity: GitObjects.CommitIdentity | undefined
}

/** How a repository is opened. */
export interface OpenOptions {
  readonly repoRoot: string
  readonly worktreesDir?: string | undefined
  readonly branch?: string | undefined
  readonly runId: string
  /** Add oompa's lines to `.git/info/exclude` (default true; the test gate's runner needs none). */
  readonly exclude?: boolean | undefined
  /** What git said about the repository earlier in the run (see `gitDiscovery.ts`); asked anew when absent. */
  readonly discovered?: GitDiscovery.Discovery | undefined
}

/** A `GitError` of `operation`, for `reason` (see `Errors.GitErrorReason`). */
export const gitError = (operation: string, reason: Errors.GitErrorReason, message: string): Errors.GitError =>
  new Errors.GitError({ operation, reason, message })

/**
 * Why an isomorphic-git or node:fs call failed: isomorphic-git's `NotFoundError` is a missing object
 * or ref; its other errors (all coded `…Error`: `ObjectTypeError`, `InternalError` for a corrupt
 * object, `ParseError`, …) are a repository it cannot read; an errno (`EACCES`, `EIO`) is a failure.
 */
export const reasonOfCause = (cause: unknown): Errors.GitErrorReason => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
  if (code === "NotFoundError") return "missing-object"
  return typeof code === "string" && code.endsWith("Error") ? "unreadable" : "failed"
}

const causeText = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/**
 * isomorphic-git, loaded on its first read: loading it costs ~30 ms, which every `oompa` command
 * paid at start, even `--help` (bench/src/startup.bench.ts). In the CLI's bundle the import stays in
 * the one file, evaluated when first called.
 */
let isogitLoaded: Promise<typeof import("isomorphic-git")> | undefined
const isogit = (): Promise<typeof import("isomorphic-git")> => (isogitLoaded ??= import("isomorphic-git"))

/** Wraps a promise from isomorphic-git or node:fs as a `GitError` naming the operation. */
export const attempt = <A>(operation: string, thunk: () => Promise<A>): Effect.Effect<A, Errors.GitError> =>
  Effect.tryPromise({ try: thunk, catch: (cause) => gitError(operation, reasonOfCause(cause), causeText(cause)) })

/** Runs a pure parser; a format it does not understand is a `GitError` of the operation. */
export const parse = <A>(operation: string, thunk: () => A): Effect.Effect<A, Errors.GitError> =>
  Effect.try({ try: thunk, catch: (cause) => gitError(operation, "unreadable", `unexpected git output: ${causeText(cause)}`) })

const isNotFound = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && "code" in cause && (cause.code === "NotFoundError" || cause.code === "ENOENT")

/**
 * The default `worktrees_dir`: `${XDG_CACHE_HOME:-~/.cache}/oompa/worktrees/<repo-name>-<hash>`,
 * outside the user's source tree so that tools crawling it never see the worktrees. The hash of the
 * repository's path keeps two clones with the same name apart.
 */
export const defaultWorktreesDir = (root: string, env: Readonly<Record<string, string | undefined>> = process.env): string => {
  const cache = env["XDG_CACHE_HOME"] !== undefined && env["XDG_CACHE_HOME"] !== "" ? env["XDG_CACHE_HOME"] : `${os.homedir()}/.cache`
  const name = root.split("/").filter((part) => part.length > 0).pop() ?? "repo"
  const hash = createHash("sha256").update(root).digest("hex").slice(0, 10)
  return `${cache}/oompa/worktrees/${name}-${hash}`
}

/** The lines oompa keeps in `.git/info/exclude` (shared by every worktree; the user's .gitignore is never edited). */
export const excludeLines: ReadonlyArray<string> = [`/${RepoLayout.stateFolder}/`, `/${RepoLayout.newTasksFolder}/`]

// ---------------------------------------------------------------------------------------------------
// Opening a repository
// ---------------------------------------------------------------------------------------------------

/** The target branch (SPEC F1): the configured one, else `main`, else `master`; never taken from HEAD. */
const chooseBranch = Effect.fn("GitRepo.chooseBranch")(function*(commonDir: string, configured: string | undefined) {
  const exists = (name: string) => Effect.map(resolveRef(commonDir, `refs/heads/${name}`), (sha) => sha !== undefined)
  // A fresh `git init` has no branch at all: "set branch in oompa.json" would send the user looking
  // for a branch that cannot exist yet (issue 8: a repository with no commits gets a clear refusal).
  const noBranch = (message: string) =>
    Effect.gen(function*() {
      const branches = yield* attempt("open", () => isogit().then((git) => git.listBranches({ fs: nodeFs, gitdir: commonDir })))
      if (branches.length === 0 && (yield* resolveRef(commonDir, "HEAD")) === undefined) {
        return yield* gitError("open", "missing-object", "the repository has no commits yet; oompa merges onto an existing branch: make a first commit (for example: git commit --allow-empty -m \"Initial commit\")")
      }
      return yield* gitError("open", "missing-object", message)
    })
  if (configured !== undefined) {
    if (yield* exists(configured)) return configured
    return yield* noBranch(`the configured branch ${configured} does not exist`)
  }
  if (yield* exists("main")) return "main"
  if (yield* exists("master")) return "master"
  return yield* noBranch("no target branch: the repository has neither main nor master; set \"branch\" in oompa.json")
})

/** Adds oompa's lines to `.git/info/exclude` once. */
const ensureExcluded = Effect.fn("GitRepo.ensureExcluded")(function*(fs: FileSystem.FileSystem, commonDir: string) {
  const file = `${commonDir}/info/exclude`
  const current = (yield* fs.exists(file)) ? yield* fs.readFileString(file) : ""
  const present = new Set(current.split("\n").map((line) => line.trim()))
  const missing = excludeLines.filter((line) => !present.has(line))
  if (missing.length === 0) return
  yield* fs.makeDirectory(`${commonDir}/info`, { recursive: true })
  const separator = current.length > 0 && !current.endsWith("\n") ? "\n" : ""
  yield* fs.writeFileString(file, `${current}${separator}# oompa's run state and task outbox\n${missing.join("\n")}\n`)
})

/**
 * Opens the repository at `repoRoot`: discovers it, picks the target branch, prepares the worktrees
 * folder and the exclude lines.
 */
export const open = Effect.fn("GitRepo.open")(function*(options: OpenOptions) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const given = options.discovered
  const found = given !== undefined && given.asked === path.resolve(options.repoRoot) ? given : yield* GitDiscovery.discover(options.repoRoot)
  const targetBranch = yield* chooseBranch(found.commonDir, options.branch)
  const wanted = options.worktreesDir === undefined ? defaultWorktreesDir(found.root) : path.resolve(found.root, options.worktreesDir)
  const worktreesDir = yield* Effect.flatMap(fs.makeDirectory(wanted, { recursive: true }), () => fs.realPath(wanted)).pipe(
    Effect.mapError((error) => gitError("open", "failed", `cannot create the worktrees folder ${wanted}: ${error.message}`))
  )
  if (options.exclude !== false) {
    yield* ensureExcluded(fs, found.commonDir).pipe(
      Effect.mapError((error) => gitError("open", "failed", `cannot update ${found.commonDir}/info/exclude: ${error.message}`))
    )
  }
  return {
    git: found.git,
    fs,
    path,
    root: found.root,
    commonDir: found.commonDir,
    worktreesDir,
    targetBranch,
    runId: options.runId,
    diffs: new Map(),
    patches: new Map(),
    trees: new Map(),
    mainChain: MainChain.empty(),
    identity: found.identity
  } satisfies Repo
})

// ---------------------------------------------------------------------------------------------------
// In-process reads
// ---------------------------------------------------------------------------------------------------

/** The commit a full ref name points to, or `undefined` when the ref does not exist. Never cached. */
export const resolveRef = (commonDir: string, ref: string): Effect.Effect<string | undefined, Errors.GitError> =>
  Effect.suspend(() => {
    const direct = GitFiles.readRefDirectly(commonDir, ref)
    if (direct !== null) return Effect.succeed(direct)
    return Effect.tryPromise({
      try: () => isogit().then((git) => git.resolveRef({ fs: nodeFs, gitdir: commonDir, ref })).then((sha): string | undefined => sha, (cause: unknown) => {
        if (isNotFound(cause)) return undefined
        throw cause
      }),
      catch: (cause) => gitError("resolveRef", reasonOfCause(cause), `cannot read ${ref}: ${causeText(cause)}`)
    })
  })

const fullSha = /^[0-9a-f]{40}$/

const looseObjectPath = (commonDir: string, sha: string): string => `${commonDir}/objects/${sha.slice(0, 2)}/${sha.slice(2)}`

/** Whether the object is stored loose (readable in-process without loading a pack). */
const isLoose = (commonDir: string, sha: string): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    nodeFs.access(looseObjectPath(commonDir, sha), (error) => resume(Effect.succeed(error === null)))
  })

/** Reads a commit: in-process while it is loose, else with `git cat-file`. */
export const readCommit = Effect.fn("GitRepo.readCommit")(function*(repo: Pick<Repo, "commonDir" | "git" | "root">, sha: string) {
  if (fullSha.test(sha) && (yield* isLoose(repo.commonDir, sha))) {
    const object = yield* attempt("readCommit", () => isogit().then((git) => git.readObject({ fs: nodeFs, gitdir: repo.commonDir, oid: sha, format: "content" })))
    if (object.type !== "commit" || !(object.object instanceof Uint8Array)) {
      return yield* gitError("readCommit", "missing-object", `${sha} is a ${object.type}, not a commit`)
    }
    return yield* parse("readCommit", () => GitParse.commitObject(GitCommand.text(object.object as Uint8Array)))
  }
  const output = yield* repo.git.ok("readCommit", { cwd: repo.root, args: ["cat-file", "commit", `${sha}^{commit}`] })
  return yield* parse("readCommit", () => GitParse.commitObject(GitCommand.text(output.stdout)))
})

/** How many commits an in-process ancestry walk may read before it asks git (which has commit-graphs). */
const ancestryWalkMax = 64

/**
 * Whether `ancestor` is `descendant` or one of its ancestors. A short breadth-first walk over loose
 * commits answers the common case (main's new commit has the old main as its parent) in-process;
 * anything longer, packed, or negative is asked of `git merge-base --is-ancestor`, which also
 * rejects unknown commits.
 */
export const isAncestor = Effect.fn("GitRepo.isAncestor")(function*(repo: Pick<Repo, "commonDir" | "git" | "root" | "mainChain">, ancestor: string, descendant: string) {
  // Both on main's chain: the order says it, with no commit read (a merge onto a main that moved
  // a few dozen times walked that many commits, under the merge queue's lock; issue 17).
  const known = MainChain.ordered(repo.mainChain, ancestor, descendant)
  if (known !== undefined) return known
  if (fullSha.test(ancestor) && fullSha.test(descendant)) {
    if (ancestor === descendant && (yield* isLoose(repo.commonDir, ancestor))) return true
    const queue = [descendant]
    const seen = new Set(queue)
    for (let read = 0; read < ancestryWalkMax && read < queue.length; read++) {
      const sha = queue[read]!
      if (!(yield* isLoose(repo.commonDir, sha))) break
      const commit = yield* readCommit(repo, sha)
      if (commit.parents.includes(ancestor)) return true
      for (const parent of commit.parents) {
        if (!seen.has(parent)) {
          seen.add(parent)
          queue.push(parent)
        }
      }
    }
  }
  const output = yield* repo.git.ok("isAncestor", { cwd: repo.root, args: ["merge-base", "--is-ancestor", ancestor, descendant] }, [0, 1])
  return output.exitCode === 0
})

/**
 * Whether `folder` (slash-separated, relative to the top) is absent from `commit`'s tree, answered
 * in-process from loose objects; `false` when it is there or when answering would need a packed
 * object (the caller then asks git). The prompt's notes folder is read for every prompt and is
 * usually absent: this spares the `ls-tree` that said so.
 */
export const folderIsAbsent = Effect.fnUntraced(function*(repo: Pick<Repo, "commonDir" | "git" | "root">, commit: string, folder: string) {
  if (!fullSha.test(commit) || !(yield* isLoose(repo.commonDir, commit))) return false
  let tree = (yield* readCommit(repo, commit)).tree
  for (const name of folder.split("/").filter((part) => part.length > 0)) {
    if (!(yield* isLoose(repo.commonDir, tree))) return false
    const treeSha = tree
    const entries = (yield* attempt("readTree", () => isogit().then((git) => git.readTree({ fs: nodeFs, gitdir: repo.commonDir, oid: treeSha })))).tree
    const entry = entries.find((e) => e.path === name)
    if (entry === undefined) return true
    if (entry.type !== "tree") return false
    tree = entry.oid
  }
  return false
})

/** Every local branch whose name starts with `prefix`, sorted by name. */
export const listBranches = Effect.fn("GitRepo.listBranches")(function*(repo: Pick<Repo, "commonDir">, prefix: string) {
  const names = yield* attempt("listBranches", () => isogit().then((git) => git.listBranches({ fs: nodeFs, gitdir: repo.commonDir })))
  const branches: Array<{ name: string; sha: string }> = []
  for (const name of names.filter((name) => name.startsWith(prefix)).sort()) {
    const sha = yield* resolveRef(repo.commonDir, `refs/heads/${name}`)
    if (sha !== undefined) branches.push({ name, sha })
  }
  return branches
})

// ---------------------------------------------------------------------------------------------------
// Worktrees, read from the common dir
// ---------------------------------------------------------------------------------------------------

/** A worktree of the repository and what its HEAD says. */
export interface Worktree {
  readonly path: string
  /** The worktree's own admin dir (the common dir for the main worktree). */
  readonly adminDir: string
  readonly head: GitParse.HeadFile
  readonly main: boolean
}

/** A small file of git's, read directly (see `GitFiles.readSmallFile`); `undefined` when absent. */
const readText = (file: string, read: (file: string) => string | undefined = GitFiles.readSmallFile): Effect.Effect<string | undefined, Errors.GitError> =>
  Effect.try({
    try: () => read(file),
    catch: (cause) => gitError("readFile", reasonOfCause(cause), `cannot read ${file}: ${causeText(cause)}`)
  })

const readHead = (operation: string, adminDir: string) =>
  Effect.flatMap(readText(`${adminDir}/HEAD`, GitFiles.readHeadFile), (content) =>
    content === undefined ? Effect.succeed(undefined) : parse(operation, () => GitParse.headFile(content)))

/**
 * Every worktree with the HEAD it has now, read from `<common>/HEAD` and `<common>/worktrees/*`
 * (what `git worktree list` reads, without the spawn). Registrations whose folder is gone are left out.
 *
 * `wanted` picks by HEAD before anything else of a linked worktree is read: a caller looking for
 * the worktrees on one branch reads one file of each of the others, not three (every worker has a
 * worktree, and the listing runs for every reset and every landing; issue 17).
 */
export const listWorktrees = Effect.fn("GitRepo.listWorktrees")(function*(repo: Pick<Repo, "commonDir" | "root">, wanted: (head: GitParse.HeadFile) => boolean = () => true) {
  const worktrees: Array<Worktree> = []
  const mainHead = yield* readHead("listWorktrees", repo.commonDir)
  if (mainHead !== undefined && wanted(mainHead)) worktrees.push({ path: repo.root, adminDir: repo.commonDir, head: mainHead, main: true })
  const adminRoot = `${repo.commonDir}/worktrees`
  const names = yield* Effect.try({
    try: () => {
      try {
        return nodeFs.readdirSync(adminRoot)
      } catch (cause) {
        if (isNotFound(cause)) return []
        throw cause
      }
    },
    catch: (cause) => gitError("listWorktrees", reasonOfCause(cause), `cannot list ${adminRoot}: ${String(cause)}`)
  })
  for (const name of names.sort()) {
    const adminDir = `${adminRoot}/${name}`
    const head = yield* readHead("listWorktrees", adminDir)
    if (head === undefined || !wanted(head)) continue
    const gitdir = yield* readText(`${adminDir}/gitdir`)
    if (gitdir === undefined) continue
    const dotGit = gitdir.trim()
    if (!(yield* Effect.sync(() => nodeFs.existsSync(dotGit)))) continue
    worktrees.push({ path: dotGit.replace(/\/\.git$/, ""), adminDir, head, main: false })
  }
  return worktrees
})

/**
 * Whether the worktree is one a `git worktree add` never finished: git locks a worktree while it
 * creates it (reason "initializing") and unlocks it last, and oompa never locks its own. A git killed
 * in between (`kill -9` of a process group) leaves it: HEAD the null id, no index, no files; `git
 * fsck` fails on it, and `git worktree prune` keeps it, being locked.
 */
const isHalfMade = (repo: Pick<Repo, "fs">, operation: string, adminDir: string): Effect.Effect<boolean, Errors.GitError> =>
  Effect.mapError(repo.fs.exists(`${adminDir}/locked`), (error) => gitError(operation, "failed", error.message))

/**
 * The admin dir of oompa's worktree at `path`, or `undefined` when there is none to reuse: a
 * half-made one (see `isHalfMade`) is removed first, so the caller adds the worktree afresh.
 */
export const reusableAdminDir = Effect.fnUntraced(function*(repo: Repo, operation: string, path: string) {
  const adminDir = yield* adminDirOf(repo, path)
  if (adminDir === undefined || !(yield* isHalfMade(repo, operation, adminDir))) return adminDir
  yield* withWorktreeRegistry(repo, removeWorktree(repo, operation, path))
  return undefined
})

/** Removes oompa's worktree at `path`, dirty or locked (a half-made one is locked). Hold the registry lock. */
export const removeWorktree = (repo: Pick<Repo, "git" | "root">, operation: string, path: string) =>
  repo.git.ok(operation, { cwd: repo.root, args: ["worktree", "remove", "--force", "--force", path] })

/**
 * Adds a worktree detached at `commit` at `path`, which must not exist. `--force` twice replaces a
 * registration for `path` whose folder is gone even when a killed `git worktree add` left it locked
 * (`worktree prune` keeps locked ones). Hold the registry lock.
 */
export const addWorktree = (repo: Pick<Repo, "git" | "root">, operation: string, path: string, commit: string) =>
  repo.git.ok(operation, { cwd: repo.root, args: ["worktree", "add", "-q", "--force", "--force", "--detach", path, commit] })

/** The admin dir of the linked worktree at `path`, from its `.git` file; `undefined` when it is not one of ours. */
export const adminDirOf = Effect.fn("GitRepo.adminDirOf")(function*(repo: Pick<Repo, "commonDir">, path: string) {
  const content = yield* readText(`${path}/.git`)
  const adminDir = content === undefined ? undefined : GitParse.gitFile(content)
  if (adminDir === undefined || !adminDir.startsWith(`${repo.commonDir}/worktrees/`)) return undefined
  const back = yield* readText(`${adminDir}/gitdir`)
  return back !== undefined && back.trim() === `${path}/.git` ? adminDir : undefined
})

/** The commit a worktree's HEAD points to (following its branch), read in-process. */
export const worktreeHead = Effect.fn("GitRepo.worktreeHead")(function*(repo: Pick<Repo, "commonDir">, path: string) {
  const adminDir = yield* adminDirOf(repo, path)
  if (adminDir === undefined) return yield* gitError("workspaceHead", "missing-object", `${path} is not a worktree of ${repo.commonDir}`)
  const head = yield* readHead("workspaceHead", adminDir)
  if (head === undefined) return yield* gitError("workspaceHead", "missing-object", `${path} has no HEAD`)
  if (head._tag === "Detached") return head.sha
  const sha = yield* resolveRef(repo.commonDir, head.ref)
  if (sha === undefined) return yield* gitError("workspaceHead", "missing-object", `${path} is on ${head.ref}, which does not exist`)
  return sha
})

/**
 * One lock per repository for this process, around every change to git's worktree registry
 * (`worktree add`, `prune`, `remove`) and every read of it: git does not make those safe against
 * each other — two workers adding their worktrees at once, or a `prune` during an `add`, fail with
 * "failed to read .git/worktrees/<name>/commondir" (seen in about 1 run in 10 of a two-worker swarm).
 */
const worktreeRegistryLocks = new Map<string, Semaphore.Semaphore>()

/**
 * Runs `effect` holding the repository's worktree-registry lock.
 *
 * @category concurrency
 * @since 0.1.0
 */
export const withWorktreeRegistry = <A, E, R>(repo: Pick<Repo, "commonDir">, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  let lock = worktreeRegistryLocks.get(repo.commonDir)
  if (lock === undefined) {
    lock = Semaphore.makeUnsafe(1)
    worktreeRegistryLocks.set(repo.commonDir, lock)
  }
  return lock.withPermits(1)(effect)
}
