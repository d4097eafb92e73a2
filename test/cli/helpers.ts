/**
 * Helpers of the CLI's end-to-end tests: the bundled `oompa` (built once when its sources are newer),
 * scratch git repositories in temp folders, and runs of the bundle with the prompt-driven fake
 * `codex` and `claude` (fixtures/bin) first on PATH, HOME in the scratch folder (so nothing lands in
 * the user's ~/.cache or reads their git config), and `IS_SANDBOX=1` as a root user would set it.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const workspaceRoot = path.resolve(import.meta.dirname, "../..")
export const bundle = path.join(workspaceRoot, "packages/cli/dist/oompa.mjs")
export const fakeBin = path.join(import.meta.dirname, "fixtures/bin")

// ---------------------------------------------------------------------------------------------
// The bundle
// ---------------------------------------------------------------------------------------------

const sourceDirs = ["packages/core/src", "packages/adapters-node/src", "packages/cli/src"].map((d) => path.join(workspaceRoot, d))

const newestSource = (): number => {
  let newest = fs.statSync(path.join(workspaceRoot, "scripts/build-cli.mjs")).mtimeMs
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else newest = Math.max(newest, fs.statSync(full).mtimeMs)
    }
  }
  sourceDirs.forEach(walk)
  return newest
}

/** What the build writes beside the entry, which the entry loads: the full CLI and the fast path's texts. */
const companions = ["cli.mjs", "help.json"].map((file) => path.join(path.dirname(bundle), file))

const isStale = () => !fs.existsSync(bundle) || !companions.every((file) => fs.existsSync(file)) || fs.statSync(bundle).mtimeMs < newestSource()

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * The bundle the tests run: `packages/cli/dist/oompa.mjs`, built with `scripts/build-cli.mjs` when it
 * is missing or older than a source file, then copied with the rest of what the build wrote beside
 * it (the full CLI it loads, its chunks, the fast path's help.json) to a private temp folder, so
 * that a rebuild during the test file (by another test file, or by someone running `npm run
 * build`) cannot change or truncate it under a running test. Test files run in parallel processes,
 * so the build and the copy happen under a lock folder. `OOMPA_E2E_BUNDLE=<file>` runs the tests against that bundle
 * instead (nothing is built).
 */
export const ensureBundle = (): string => {
  const given = process.env["OOMPA_E2E_BUNDLE"]
  if (given !== undefined && given !== "") return path.resolve(given)
  privateCopy ??= buildAndCopy()
  return privateCopy
}

let privateCopy: string | undefined

const buildAndCopy = (): string => {
  const lock = path.join(os.tmpdir(), `oompa-e2e-build-${Buffer.from(workspaceRoot).toString("hex").slice(-24)}.lock`)
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      fs.mkdirSync(lock)
      break
    } catch {
      // Another test file is building; a lock older than two minutes is a dead build's.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now())
      if (age > 120_000) fs.rmSync(lock, { recursive: true, force: true })
      if (Date.now() > deadline) throw new Error(`timed out waiting for the bundle build lock ${lock}`)
      sleep(200)
    }
  }
  try {
    if (isStale()) {
      const built = spawnSync(process.execPath, ["scripts/build-cli.mjs"], { cwd: workspaceRoot, encoding: "utf8" })
      if (built.status !== 0) throw new Error(`the CLI's build (scripts/build-cli.mjs) failed:\n${built.stdout}\n${built.stderr}`)
    }
    // All of dist/ but tsc's output (dist/tsc), the build's metafile and a build's staging folder (dist/.build-*).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-e2e-bundle-"))
    const dist = path.dirname(bundle)
    fs.cpSync(dist, dir, {
      recursive: true,
      filter: (source) => {
        const top = path.relative(dist, source).split(path.sep)[0]!
        return source === dist || !(top === "tsc" || top.startsWith(".build-") || source.endsWith(".meta.json"))
      }
    })
    return path.join(dir, "oompa.mjs")
  } finally {
    fs.rmSync(lock, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Scratch repositories
// ---------------------------------------------------------------------------------------------

// Without the variables a git hook may have set, which would point every git call at another repository.
const gitEnv = Object.fromEntries(Object.entries({ ...process.env, GIT_CONFIG_NOSYSTEM: "1" }).filter(([name]) => !["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"].includes(name)))

export const git = (cwd: string, ...args: Array<string>): string =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: gitEnv }).trim()

export interface TaskSpec {
  readonly id: string
  readonly summary: string
  readonly [key: string]: unknown
}

export interface Scratch {
  /** The temp folder holding everything below. */
  readonly root: string
  /** The user's repository (main checked out, clean). */
  readonly repo: string
  /** The fakes' state folder (E2E_STATE_DIR): calls.jsonl. */
  readonly state: string
  /** HOME of every oompa run. */
  readonly home: string
  /** The `worktrees_dir` a config should name. */
  readonly worktrees: string
  readonly cleanup: () => void
}

export interface ScratchOptions {
  /** oompa.json, committed with the initial commit (`worktrees_dir` is added when absent). */
  readonly config?: Record<string, unknown>
  /** Tasks written to `tasks/pending/` (not committed: the framework owns the queue). */
  readonly pending?: ReadonlyArray<TaskSpec>
  /** Extra files committed with the initial commit, by path. */
  readonly files?: Readonly<Record<string, string>>
  /** false: a plain folder, not a git repository. */
  readonly git?: boolean
}

const scratches = new Set<Scratch>()

/** A temp folder with a git repository on `main` (identity configured, one commit). */
export const scratchRepo = (options: ScratchOptions = {}): Scratch => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-e2e-")))
  const repo = path.join(root, "repo")
  const state = path.join(root, "state")
  const home = path.join(root, "home")
  const worktrees = path.join(root, "worktrees")
  for (const dir of [repo, state, home]) fs.mkdirSync(dir)
  const write = (file: string, content: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true })
    fs.writeFileSync(path.join(repo, file), content)
  }
  write("README.md", "# scratch\n")
  for (const [file, content] of Object.entries(options.files ?? {})) write(file, content)
  if (options.config !== undefined) write("oompa.json", `${JSON.stringify({ worktrees_dir: worktrees, ...options.config }, null, 2)}\n`)
  if (options.git !== false) {
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
  }
  for (const task of options.pending ?? []) write(`tasks/pending/${task.id}.json`, JSON.stringify(task))
  const scratch: Scratch = {
    root,
    repo,
    state,
    home,
    worktrees,
    cleanup: () => {
      scratches.delete(scratch)
      fs.rmSync(root, { recursive: true, force: true })
    }
  }
  scratches.add(scratch)
  return scratch
}

/** Removes every scratch folder still there and this file's copy of the bundle (for `afterAll`). */
export const cleanupAll = () => {
  ;[...scratches].forEach((s) => s.cleanup())
  if (privateCopy !== undefined) fs.rmSync(path.dirname(privateCopy), { recursive: true, force: true })
  privateCopy = undefined
}

/** The ids (file names without extension) in `tasks/<folder>/`. */
export const tasksIn = (scratch: Scratch, folder: string): Array<string> => {
  const dir = path.join(scratch.repo, "tasks", folder)
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => f.replace(/\.(json|edn)$/, "")).sort() : []
}

export const readTask = (scratch: Scratch, folder: string, id: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(scratch.repo, "tasks", folder, `${id}.json`), "utf8")) as Record<string, unknown>

/** One line per call the fakes saw: harness, kind (propose/review/fix/planner), task, argv, session. */
export interface FakeCall {
  readonly harness: "codex" | "claude"
  readonly kind: string
  readonly task: string
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly session: string
  readonly resumed: string | null
  readonly pid: number
}

export const fakeCalls = (scratch: Scratch): Array<FakeCall> => {
  const file = path.join(scratch.state, "calls.jsonl")
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as FakeCall) : []
}

/** What a finished run left in the repository: worktrees, oompa branches, .oompa/. */
export const leftovers = (scratch: Scratch) => ({
  worktrees: git(scratch.repo, "worktree", "list").split("\n").length,
  branches: git(scratch.repo, "branch", "--list", "oompa/*"),
  oompaDir: fs.existsSync(path.join(scratch.repo, ".oompa")),
  worktreesDir: fs.existsSync(scratch.worktrees) ? fs.readdirSync(scratch.worktrees) : []
})

/** The run ids under `.oompa/runs/`. */
export const runIds = (scratch: Scratch): Array<string> => {
  const dir = path.join(scratch.repo, ".oompa/runs")
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => /^[0-9a-f]{8}$/.test(d)).sort() : []
}

// ---------------------------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------------------------

export interface RunResult {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

export interface RunOptions {
  /** Default: the scratch repository. */
  readonly cwd?: string
  /** Added to (or, with undefined, removed from) the environment. */
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly timeoutMs?: number
}

/** The environment of an oompa run: fakes first on PATH, then this Node, then the system's. */
export const environment = (scratch: Scratch, extra: Readonly<Record<string, string | undefined>> = {}): Record<string, string> => {
  const env: Record<string, string | undefined> = {
    PATH: [fakeBin, path.dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    HOME: scratch.home,
    TMPDIR: os.tmpdir(),
    LANG: "C.UTF-8",
    NO_COLOR: "1",
    GIT_CONFIG_NOSYSTEM: "1",
    E2E_STATE_DIR: scratch.state,
    // As root, claude refuses --dangerously-skip-permissions without it; a root user sets it.
    IS_SANDBOX: "1",
    ...extra
  }
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
}

/** Runs `oompa args…` (the bundle, with this Node) and waits for it. */
export const oompa = (scratch: Scratch, args: ReadonlyArray<string>, options: RunOptions = {}): RunResult => {
  const started = Date.now()
  const result = spawnSync(process.execPath, [ensureBundle(), ...args], {
    cwd: options.cwd ?? scratch.repo,
    env: environment(scratch, options.env),
    encoding: "utf8",
    timeout: options.timeoutMs ?? 60_000,
    killSignal: "SIGKILL"
  })
  if (result.error !== undefined) throw result.error
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr, ms: Date.now() - started }
}

/** Starts `oompa args…` in the background. */
export const oompaAsync = (scratch: Scratch, args: ReadonlyArray<string>, options: RunOptions = {}) => {
  const child: ChildProcess = spawn(process.execPath, [ensureBundle(), ...args], {
    cwd: options.cwd ?? scratch.repo,
    env: environment(scratch, options.env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((done) =>
    child.on("close", (status, signal) => done({ status, signal, stdout, stderr })))
  return { child, exited }
}

/** Waits until `check()` holds, polling every 50 ms, for at most `timeoutMs`. */
export const waitFor = async (what: string, check: () => boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((done) => setTimeout(done, 50))
  }
}

/** The output of a run, for assertion messages. */
export const show = (result: Pick<RunResult, "status" | "stdout" | "stderr">) =>
  `exit ${result.status}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`
