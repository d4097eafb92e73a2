/**
 * `oompa demo` end to end (SPEC F12), through the bundled CLI exactly as `npm run demo` runs it, on
 * a PATH without any agent CLI: a planner creates three tasks, two executors implement them, the
 * reviewer sends one back and approves the fix, the policy gate catches a `.env` file, the test
 * gate runs, three merges land. The scratch repository it leaves must show exactly that: the three
 * tasks' files on main (and no `.env`), three tasks in `complete/`, the run log, and no worker
 * worktree or `oompa/` branch left behind.
 */
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const bundle = path.join(root, "packages/cli/dist/oompa.mjs")

/** The newest modification time under `dir` (sources only: no node_modules, no build output). */
const newestMtime = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    if (entry.name === "node_modules" || entry.name === "dist") return newest
    const full = path.join(dir, entry.name)
    return Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs)
  }, 0)

const sourcesNewerThanBundle = (): boolean => {
  if (!fs.existsSync(bundle)) return true
  const sources = ["core", "adapters-node", "cli"].map((p) => newestMtime(path.join(root, "packages", p, "src")))
  return Math.max(...sources) > fs.statSync(bundle).mtimeMs
}

/** A PATH with node and git but no agent CLI: what a fresh machine has. */
const bareEnv = (tmp: string): NodeJS.ProcessEnv => {
  const gitBin = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim()
  const dirs = [...new Set([path.dirname(process.execPath), path.dirname(gitBin), "/usr/bin", "/bin"])]
  const { GIT_DIR: _d, GIT_WORK_TREE: _w, GIT_INDEX_FILE: _i, ...env } = process.env
  return { ...env, PATH: dirs.join(":"), TMPDIR: tmp, NO_COLOR: "1" }
}

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

const runCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<Run> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, [bundle, ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }))
  })

const git = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim()

const tmpRoot = () => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-demo-test-")))

describe("oompa demo", () => {
  beforeAll(() => {
    if (sourcesNewerThanBundle()) execFileSync(process.execPath, ["scripts/build-cli.mjs"], { cwd: root, stdio: "ignore" })
  }, 60_000)

  it("runs the whole story on a scratch repository without any agent CLI, and keeps it", async () => {
    const tmp = tmpRoot()
    try {
      const run = await runCli(["demo"], bareEnv(tmp))
      const out = run.stdout
      const progress = run.stderr
      assert.strictEqual(run.code, 0, `exit ${run.code}\n${out}\n${run.stderr}`)
      assert.isBelow(run.ms, 45_000)

      // The live progress (on stderr: it is not the command's result): the policy gate caught the
      // .env file; one review asked for changes, and the same worker's next review approved the fix.
      assert.match(progress, /policy: \.env: path is denied by policy/)
      const sentBack = /\[\d+:\d\d\] (w\d) review 1: needs-changes/.exec(progress)
      assert.isNotNull(sentBack, progress)
      assert.match(progress, new RegExp(`\\] ${sentBack![1]} review 2: approved`))
      assert.lengthOf(progress.match(/merge: merged [0-9a-f]{10}/g) ?? [], 3, progress)
      assert.match(progress, /tests passed on [0-9a-f]{10}/)
      assert.notMatch(out, /merge: merged/)

      // The summary, the story told from the log, main's graph, the run log's path.
      assert.match(out, /run [0-9a-f]{8}: ok in [\d.]+ s — 3 merged, 0 rejected, 0 failed/)
      assert.match(out, /add-greeting: review 1 asked for changes/)
      assert.match(out, /add-port: policy gate caught \.env/)
      assert.include(out, "git log --graph --oneline main")
      assert.match(out, /^\*   [0-9a-f]{7} oompa: /m)
      assert.match(out, /^\|\\ {2}/m)
      const log = /run log: (\S+\/\.oompa\/runs\/[0-9a-f]{8}\/events\.jsonl)/.exec(out)?.[1]
      assert.isDefined(log, out)
      const events = fs.readFileSync(log!, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { readonly _tag: string })
      assert.strictEqual(events[0]!._tag, "SwarmStarted")
      assert.strictEqual(events[events.length - 1]!._tag, "SwarmFinished")

      // The scratch repository is kept, under TMPDIR, and tells the story on disk.
      const repo = log!.slice(0, log!.indexOf("/.oompa/"))
      assert.isTrue(repo.startsWith(tmp), repo)
      assert.include(out, `rm -rf ${path.dirname(repo)}`)
      assert.include(git(repo, "show", "main:src/greeting.mjs"), "\"world\"")
      assert.include(git(repo, "show", "main:src/farewell.mjs"), "farewell")
      assert.include(git(repo, "show", "main:src/config.mjs"), "3000")
      assert.notInclude(git(repo, "ls-tree", "-r", "--name-only", "main").split("\n"), ".env")
      assert.strictEqual(git(repo, "rev-list", "--count", "--merges", "main"), "3")
      assert.deepStrictEqual(fs.readdirSync(path.join(repo, "tasks/complete")).sort(), ["add-farewell.json", "add-greeting.json", "add-port.json"])
      for (const folder of ["pending", "current", "failed", "invalid"]) assert.deepStrictEqual(fs.readdirSync(path.join(repo, "tasks", folder)), [], folder)
      // The user's checkout followed main, and main's tests pass there.
      assert.include(execFileSync("sh", ["test/run.sh"], { cwd: repo, encoding: "utf8" }), "ok test/greeting.test.mjs")

      // Nothing of the workers or the test gates is left: no oompa/ branch, no worktree but the main one.
      assert.strictEqual(git(repo, "branch", "--list", "oompa/*"), "")
      const worktrees = git(repo, "worktree", "list", "--porcelain").split("\n").filter((l) => l.startsWith("worktree ")).map((l) => l.slice(9))
      assert.deepStrictEqual(worktrees.filter((w) => w !== repo), [])
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  }, 60_000)

  it("--no-keep removes the scratch repository after printing everything", async () => {
    const tmp = tmpRoot()
    try {
      const run = await runCli(["demo", "--no-keep"], bareEnv(tmp))
      assert.strictEqual(run.code, 0, `${run.stdout}\n${run.stderr}`)
      assert.match(run.stdout, /3 merged, 0 rejected, 0 failed/)
      assert.include(run.stdout, "git log --graph --oneline main")
      assert.match(run.stdout, /Removed the scratch repository/)
      assert.deepStrictEqual(fs.readdirSync(tmp), [])
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  }, 60_000)
})
