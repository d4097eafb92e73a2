/**
 * The real git layer's cost per iteration, against the git CLI doing the same steps in a shell
 * script. One iteration's git work: reuse the worker's worktree (a fresh branch from main), write
 * and commit 5 files, diff stats, a no-ff merge onto a main that moved, the compare-and-swap of
 * main (the user's checkout, on main, follows it), and clean-up (the branch deleted). Measured on
 * generated 2,000- and 20,000-file repositories; target: NodeGit ≤ 1.2x the script. Then, on the
 * 20,000-file repository, a reused worktree against a fresh one.
 *
 * Main is moved by another worker's merge before each iteration (not timed), so every merge is
 * onto a main that moved. Both variants run alternately on the same repository; medians are printed.
 *
 * Run: `node bench/src/git.bench.ts` (Node 22). Git runs without global config.
 */
import { NodeServices } from "@effect/platform-node"
import { Git, Ids } from "@oompa/core"
import { Effect, Layer, Option } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeGit from "../../packages/adapters-node/src/NodeGit.ts"

const sizes = [2_000, 20_000] as const
const iterationsBySize: Record<number, number> = { 2_000: 15, 20_000: 7 }
const targetRatio = 1.2
const filesPerDir = 100

// Both variants run git the same way: no global or system config, the same identity.
Object.assign(process.env, {
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "bench",
  GIT_AUTHOR_EMAIL: "bench@localhost",
  GIT_COMMITTER_NAME: "bench",
  GIT_COMMITTER_EMAIL: "bench@localhost"
})

const git = (cwd: string, args: ReadonlyArray<string>, input?: string): string =>
  execFileSync("git", args, { cwd, encoding: "utf8", maxBuffer: 512 * 1024 * 1024, ...(input === undefined ? {} : { input }) })

const fileName = (i: number) => `src/d${Math.floor(i / filesPerDir)}/f${i % filesPerDir}.txt`
const fileText = (i: number) => Array.from({ length: 8 }, (_, line) => `file ${i} line ${line}\n`).join("")

/** A repository of `count` files in one commit on main, checked out in its main worktree. */
const generateRepo = (dir: string, count: number): string => {
  const repo = path.join(dir, "repo")
  fs.mkdirSync(repo, { recursive: true })
  git(repo, ["init", "-q", "-b", "main"])
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`
  let stream = `commit refs/heads/main\ncommitter bench <bench@localhost> 1767225600 +0000\n${data("initial")}`
  for (let i = 0; i < count; i++) stream += `M 100644 inline ${fileName(i)}\n${data(fileText(i))}`
  stream += `M 100644 inline mover.txt\n${data("0\n")}`
  git(repo, ["fast-import", "--quiet"], stream)
  git(repo, ["reset", "-q", "--hard", "main"])
  return repo
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** The five files iteration `n` edits (spread over the tree, never mover.txt). */
const editedFiles = (count: number, n: number): Array<string> =>
  Array.from({ length: 5 }, (_, k) => fileName((((n * 7919 + k * (count / 5)) % count) + count) % count))

// ---------------------------------------------------------------------------------------------------
// The two variants of one iteration
// ---------------------------------------------------------------------------------------------------

const worker = Ids.WorkerId.make("w0")
const mover = Ids.WorkerId.make("mover")

/** One iteration through NodeGit, as the core's iteration and merge queue call it. */
const nodeIteration = (git_: Git.Git["Service"], count: number, n: number) =>
  Effect.gen(function*() {
    const workspace = yield* git_.acquireWorkspace(worker)
    const base = yield* git_.mainHead
    const branch = `oompa/bench/w0-${n}`
    yield* git_.resetWorkspace(workspace, branch, base)
    for (const file of editedFiles(count, n)) fs.appendFileSync(path.join(workspace.path, file), `node edit ${n}\n`)
    yield* git_.commitAll(workspace, `w0: iteration ${n}`)
    const head = yield* git_.workspaceHead(workspace)
    yield* git_.diffStat(base, head)
    const onto = yield* git_.mainHead
    const attempt = yield* git_.merge({ onto, base, head, strategy: "no-ff", message: `merge ${n}\n\nOompa-Run: 0000bea5\n` })
    if (attempt._tag !== "Merged") return yield* Effect.die(new Error("unexpected conflict"))
    if (!(yield* git_.compareAndSwapMain(onto, attempt.sha))) return yield* Effect.die(new Error("lost the swap"))
    yield* git_.deleteBranch(branch)
  })

/** The same steps as a shell script over the git CLI (what a hand-written script would run). */
const shellScript = (repo: string, worktree: string, count: number, n: number): string => {
  const branch = `oompa/bench/sh-${n}`
  const writes = editedFiles(count, n).map((file) => `printf 'sh edit ${n}\\n' >> '${worktree}/${file}'`).join("\n")
  return `set -e
cd '${repo}'
BASE=$(git rev-parse refs/heads/main)
git -C '${worktree}' checkout -q -f -B '${branch}' "$BASE"
git -C '${worktree}' clean -q -ffdx
${writes}
git -C '${worktree}' add -A
git -C '${worktree}' commit -q -m 'sh: iteration ${n}'
HEAD=$(git -C '${worktree}' rev-parse HEAD)
git diff --raw --numstat -z --no-renames "$BASE" "$HEAD" > /dev/null
ONTO=$(git rev-parse refs/heads/main)
TREE=$(git merge-tree --write-tree "$ONTO" "$HEAD" | head -n 1)
NEW=$(printf 'merge ${n}\\n\\nOompa-Run: 0000bea5\\n' | git commit-tree "$TREE" -p "$ONTO" -p "$HEAD")
git update-ref refs/heads/main "$NEW" "$ONTO"
git read-tree -m -u "$ONTO" "$NEW"
git -C '${worktree}' update-ref --no-deref HEAD "$HEAD"
git update-ref -d 'refs/heads/${branch}'
`
}

const runShell = (script: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", script], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("close", (code) => code === 0 ? resolve() : reject(new Error(`script failed (${code}): ${stderr}`)))
  })

/** Another worker's merge (not timed): main moves before each iteration. */
const moveMain = (git_: Git.Git["Service"], n: number) =>
  Effect.gen(function*() {
    const workspace = yield* git_.acquireWorkspace(mover)
    const onto = yield* git_.mainHead
    yield* git_.resetWorkspace(workspace, "oompa/bench/mover", onto)
    fs.writeFileSync(path.join(workspace.path, "mover.txt"), `${n}\n`)
    const head = Option.getOrThrow(yield* git_.commitAll(workspace, `mover ${n}`))
    const attempt = yield* git_.merge({ onto, base: onto, head, strategy: "no-ff", message: `mover ${n}` })
    if (attempt._tag !== "Merged" || !(yield* git_.compareAndSwapMain(onto, attempt.sha))) return yield* Effect.die(new Error("mover failed"))
  })

// ---------------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------------

const timed = async (thunk: () => Promise<unknown>): Promise<number> => {
  const started = performance.now()
  await thunk()
  return performance.now() - started
}

const benchSize = async (count: number) => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-bench-")))
  try {
    const generatedAt = performance.now()
    const repo = generateRepo(dir, count)
    const generateMs = performance.now() - generatedAt
    const worktrees = path.join(dir, "worktrees")
    const layer = NodeGit.layer({ repoRoot: repo, worktreesDir: worktrees, runId: "0000bea5" }).pipe(Layer.provide(NodeServices.layer))
    const git_ = await Effect.runPromise(Git.Git.use(Effect.succeed).pipe(Effect.provide(layer)))
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    // Both variants start from worktrees that exist (creation is measured separately below).
    const shellWorktree = path.join(dir, "shell-worktree")
    git(repo, ["worktree", "add", "-q", "--detach", shellWorktree, "main"])
    await run(Effect.flatMap(git_.acquireWorkspace(worker), () => Effect.void))
    await run(moveMain(git_, -1))
    await run(nodeIteration(git_, count, -1)) // warm-up: the first reset of a fresh worktree
    const node: Array<number> = []
    const shell: Array<number> = []
    for (let n = 0; n < iterationsBySize[count]!; n++) {
      await run(moveMain(git_, 2 * n))
      node.push(await timed(() => run(nodeIteration(git_, count, n))))
      await run(moveMain(git_, 2 * n + 1))
      shell.push(await timed(() => runShell(shellScript(repo, shellWorktree, count, n))))
    }
    if (git(repo, ["status", "--porcelain"]) !== "") throw new Error("the user's checkout did not follow main")
    return { count, generateMs, node: median(node), shell: median(shell), git_, run, dir }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

/** Fresh worktree (remove + acquire + reset) against a reused one (reset), on the same repository. */
const reuseVersusFresh = async (git_: Git.Git["Service"], run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>) => {
  const fresh: Array<number> = []
  const reused: Array<number> = []
  for (let n = 0; n < 3; n++) {
    const existing = await run(git_.acquireWorkspace(worker))
    await run(git_.removeWorkspace(existing))
    fresh.push(await timed(() => run(Effect.gen(function*() {
      const workspace = yield* git_.acquireWorkspace(worker)
      yield* git_.resetWorkspace(workspace, `oompa/bench/fresh-${n}`, yield* git_.mainHead)
    }))))
    reused.push(await timed(() => run(Effect.gen(function*() {
      const workspace = yield* git_.acquireWorkspace(worker)
      yield* git_.resetWorkspace(workspace, `oompa/bench/reuse-${n}`, yield* git_.mainHead)
    }))))
  }
  return { fresh: median(fresh), reused: median(reused) }
}

const main = async () => {
  console.log(`git ${git(os.tmpdir(), ["--version"]).trim().replace("git version ", "")}, node ${process.version}, ${os.cpus().length} cores`)
  console.log("files    NodeGit ms   git CLI script ms   ratio   (medians; target ratio <= 1.2)")
  let worst = 0
  for (const count of sizes) {
    const result = await benchSize(count)
    const ratio = result.node / result.shell
    worst = Math.max(worst, ratio)
    console.log(`${String(count).padStart(6)}   ${result.node.toFixed(1).padStart(10)}   ${result.shell.toFixed(1).padStart(17)}   ${ratio.toFixed(2).padStart(5)}x  (repository generated in ${(result.generateMs / 1000).toFixed(1)} s)`)
    if (count === 20_000) {
      const worktree = await reuseVersusFresh(result.git_, result.run)
      console.log(`20,000 files: fresh worktree (add + reset) ${worktree.fresh.toFixed(0)} ms, reused worktree (reset) ${worktree.reused.toFixed(0)} ms: ${(worktree.fresh / worktree.reused).toFixed(1)}x`)
    }
    fs.rmSync(result.dir, { recursive: true, force: true })
  }
  console.log(worst <= targetRatio ? `PASSED: worst ratio ${worst.toFixed(2)}x <= ${targetRatio}x` : `ABOVE TARGET: worst ratio ${worst.toFixed(2)}x > ${targetRatio}x`)
}

await main()
