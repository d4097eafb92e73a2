/**
 * The real git layer against the git CLI in a shell script, on the path a real swarm takes. Goal
 * (issue 17, P1): NodeGit ≤ 1.1x the script on generated 2,000- and 20,000-file repositories.
 *
 * One run = one worker's workspace for N iterations: acquire it (`git worktree add`), N iterations
 * on the reused worktree, release it (`git worktree remove`). Each iteration makes exactly the
 * `Git` calls of a swarm iteration — an executor with a task, a proposer that edits 5 files, one
 * reviewer that approves, the default no-ff merge — in the core's order: main's head (checkMain),
 * the reset to a fresh branch from main, the prompt's notes from main, the outbox, main's head
 * again, the commit, the workspace head and diff stats (Committed event), again for the policy, the
 * reviewer's diff, main's head twice, the merge queue's check, the merge onto a main that another
 * worker moved meanwhile, the policy on the merge, the compare-and-swap of main with the task's
 * merged marker (the user's checkout, on main, follows), the branch deleted. The benchmark checks
 * that this list is the one the core's own programs make (a one-worker swarm over the in-memory
 * layers, `gitCalls.ts`) and stops if it is not.
 *
 * The shell variant runs the same steps with the git CLI, the minimum a careful hand-written script
 * needs for the same result (`shellScript` below), with the same git settings that matter for speed
 * (no auto gc or maintenance). What is not git work is not timed, in either variant: the agents'
 * file writes, and the other worker's landing that moves main while the proposer runs (through
 * NodeGit, for both variants alike). The script's time is measured inside it (`$EPOCHREALTIME`),
 * so bash's own start-up is not counted against it, as one script looping would pay it once.
 *
 * Measurements are paired and interleaved: a pair is one NodeGit run and one script run on the
 * same repository, interleaved piece by piece (both acquire; per iteration both start, the agents
 * edit, the other worker lands, both finish; both release), which variant goes first alternating,
 * so both see the same load. The ratio is taken per pair; the median of the ratios is reported with
 * its range and a distribution-free interval. Then, per step, NodeGit's time (each `Git` call
 * timed) next to the script's, and the git processes each spawns, counted in a separate, untimed
 * pass through a `git` first on PATH that logs its arguments (NodeGit runs "git" from PATH).
 *
 * Run: `node --conditions=@oompa/source bench/src/git.bench.ts` (Node 22). Git runs without global
 * or system config. ~3 minutes on 2 cores.
 */
import { NodeServices } from "@effect/platform-node"
import { Git, Ids } from "@oompa/core"
import { Effect, Layer, Option } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeGit from "../../packages/adapters-node/src/NodeGit.ts"
import { at, coreWorkerCalls, instrument, makeRecorder, type Recorder, timeSpawns } from "./gitCalls.ts"

const goalRatio = 1.1
const sizes = (process.env["GIT_BENCH_SIZES"]?.split(",").map(Number) ?? [2_000, 20_000])
/**
 * Pairs of runs, and iterations per run, by repository size (`GIT_BENCH_SIZES=2000,20000` and
 * `GIT_BENCH_PAIRS=n` override them). The warm-up pair and the counting pass run `shortRun` iterations.
 */
const plan: Record<number, { readonly pairs: number; readonly iterations: number }> = {
  2_000: { pairs: 10, iterations: 5 },
  20_000: { pairs: 6, iterations: 4 }
}
const shortRun = 2
const filesPerDir = 100

/**
 * Where the repositories go: `GIT_BENCH_TMPDIR`, else /dev/shm (tmpfs) when there is one, else the
 * temporary folder. On tmpfs git's own work is the cheapest it gets, so NodeGit's fixed costs
 * weigh the most (the stricter comparison), and a busy disk adds no noise.
 */
const benchTmpDir = ((): string => {
  const wanted = process.env["GIT_BENCH_TMPDIR"]
  if (wanted !== undefined && wanted !== "") return wanted
  try {
    fs.accessSync("/dev/shm", fs.constants.W_OK)
    return "/dev/shm"
  } catch {
    return os.tmpdir()
  }
})()
const runId = "0000bea5"

// Both variants run git the same way: no global or system config, the same identity, C locale.
Object.assign(process.env, {
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "bench",
  GIT_AUTHOR_EMAIL: "bench@localhost",
  GIT_COMMITTER_NAME: "bench",
  GIT_COMMITTER_EMAIL: "bench@localhost",
  LC_ALL: "C"
})

/** The script's environment: NodeGit's `-c gc.auto=0 -c maintenance.auto=false` (the settings that change git's speed). */
const shellEnv: Record<string, string | undefined> = {
  ...process.env,
  GIT_CONFIG_COUNT: "2",
  GIT_CONFIG_KEY_0: "gc.auto",
  GIT_CONFIG_VALUE_0: "0",
  GIT_CONFIG_KEY_1: "maintenance.auto",
  GIT_CONFIG_VALUE_1: "false"
}

const git = (cwd: string, args: ReadonlyArray<string>, input?: string): string =>
  execFileSync("git", args, { cwd, encoding: "utf8", maxBuffer: 512 * 1024 * 1024, ...(input === undefined ? {} : { input }) })

const fileName = (i: number) => `src/d${Math.floor(i / filesPerDir)}/f${i % filesPerDir}.txt`
const fileText = (i: number) => Array.from({ length: 8 }, (_, line) => `file ${i} line ${line}\n`).join("")

/** A repository of `count` files (and three agent notes) in one commit on main, checked out in its main worktree. */
const generateRepo = (dir: string, count: number): string => {
  const repo = path.join(dir, "repo")
  fs.mkdirSync(repo, { recursive: true })
  git(repo, ["init", "-q", "-b", "main"])
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`
  let stream = `commit refs/heads/main\ncommitter bench <bench@localhost> 1767225600 +0000\n${data("initial")}`
  for (let i = 0; i < count; i++) stream += `M 100644 inline ${fileName(i)}\n${data(fileText(i))}`
  for (let i = 1; i <= 3; i++) stream += `M 100644 inline agent_notes/scratch/2026-01-0${i}-note.md\n${data(`---\nstatus: open\ntitle: note ${i}\n---\nnote ${i}\n`)}`
  stream += `M 100644 inline mover.txt\n${data("0\n")}`
  git(repo, ["fast-import", "--quiet"], stream)
  git(repo, ["reset", "-q", "--hard", "main"])
  return repo
}

/** Iterations get numbers across runs and variants: fresh branch names, tasks and edited files. */
let iterationCounter = 0

/** The five files iteration `k` edits (spread over the tree). */
const editedFiles = (count: number, k: number): Array<string> =>
  Array.from({ length: 5 }, (_, j) => fileName((k * 7919 + j * (count / 5)) % count))

/** What the proposer does (not timed): appends a line to five files. */
const agentEdits = (workspace: string, count: number, k: number) => {
  for (const file of editedFiles(count, k)) fs.appendFileSync(path.join(workspace, file), `edit ${k}\n`)
}

const mergeMessage = (k: number) =>
  `oompa: task ${k} (bench-${k})\n\nOompa-Run: ${runId}\nOompa-Task: bench-${k}\nOompa-Worker: w0\nOompa-Verdict: approved`

// ---------------------------------------------------------------------------------------------------
// The other worker (not timed): it lands a change while the proposer runs, so every merge is onto a
// main that moved
// ---------------------------------------------------------------------------------------------------

const mover = Ids.WorkerId.make("mover")

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
// The steps of a run, as both variants name them
// ---------------------------------------------------------------------------------------------------

const steps = [
  ["acquire", "acquire the workspace (worktree add), once a run"],
  ["checkMain", "main's head at the start (checkMain)"],
  ["reset", "reset the worktree to a fresh branch at main"],
  ["prompt", "proposer's prompt: main's head + notes from main"],
  ["outbox", "collect the task outbox"],
  ["moved", "main moved during the proposer/reviewer? (x2)"],
  ["commit", "commit the agent's files"],
  ["head", "the workspace's head (x3)"],
  ["changeStats", "diff stats of the change (Committed event)"],
  ["policyStats", "diff stats of the change (policy check)"],
  ["reviewDiff", "the diff the reviewer reads"],
  ["reviewPrompt", "reviewer's prompt: main's head"],
  ["queueCheck", "the merge queue's check of main"],
  ["merge", "merge onto the moved main"],
  ["mergePolicy", "diff stats of the merge (policy on it)"],
  ["swap", "CAS of main + marker; the user's checkout follows"],
  ["deleteBranch", "delete the branch"],
  ["release", "release the workspace (worktree remove), once a run"]
] as const
type Step = typeof steps[number][0]
const perRunSteps: ReadonlySet<string> = new Set<Step>(["acquire", "release"])

/** What one variant spent in one run. */
interface RunResult {
  /** The whole run: acquire, N iterations, release. */
  readonly totalMs: number
  /** The iterations only. */
  readonly iterationsMs: number
  /** By step, over the whole run. */
  readonly stepMs: ReadonlyMap<string, number>
  /** NodeGit: of `stepMs`, the time from spawning each git process to having its exit and output. */
  readonly spawnMs: ReadonlyMap<string, number>
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

interface Bench {
  readonly count: number
  readonly repo: string
  readonly dir: string
  /** NodeGit as the swarm gets it, for the other worker. */
  readonly plain: Git.Git["Service"]
}

/**
 * One worker's run, cut where the pair driver interleaves the two variants and the untimed work
 * happens: `start` (up to the proposer), `edit` (the proposer, not timed), `finish` (from the
 * outbox to the branch's deletion). Each timed piece adds to the run's result, which `take` returns
 * and clears.
 */
interface Variant {
  readonly acquire: () => Promise<void>
  readonly start: (k: number) => Promise<void>
  readonly edit: () => void
  readonly finish: () => Promise<void>
  readonly release: () => Promise<void>
  readonly take: () => RunResult
}

/** The accumulators of a variant's run. */
const makeTotals = () => {
  let totalMs = 0
  let iterationsMs = 0
  return {
    add: (ms: number, iteration: boolean) => {
      totalMs += ms
      if (iteration) iterationsMs += ms
    },
    take: (stepMs: Map<string, number>, spawnMs: Map<string, number> = new Map()): RunResult => {
      const result = { totalMs, iterationsMs, stepMs: new Map(stepMs), spawnMs: new Map(spawnMs) }
      totalMs = 0
      iterationsMs = 0
      stepMs.clear()
      spawnMs.clear()
      return result
    }
  }
}

/** NodeGit, called through `git_` (instrumented by `recorder`) as the core calls it. */
const nodeVariant = (bench: Bench, git_: Git.Git["Service"], recorder: Recorder): Variant => {
  const worker = Ids.WorkerId.make("w0")
  const totals = makeTotals()
  let workspace: Git.Workspace | undefined
  let current: { readonly k: number; readonly branch: string; readonly base: string } | undefined
  const timed = async <A>(effect: Effect.Effect<A, unknown>, iteration: boolean): Promise<A> => {
    const started = performance.now()
    const result = await run(effect)
    totals.add(performance.now() - started, iteration)
    return result
  }
  return {
    acquire: async () => {
      workspace = await timed(at(recorder, "acquire", git_.acquireWorkspace(worker)), false)
    },
    start: async (k) => {
      const ws = workspace!
      const branch = Ids.iterationBranch(runId, worker, k)
      const base = await timed(Effect.gen(function*() {
        const base = yield* at(recorder, "checkMain", git_.mainHead)
        yield* at(recorder, "reset", git_.resetWorkspace(ws, branch, base))
        const head = yield* at(recorder, "prompt", git_.mainHead)
        yield* git_.readFiles(head, "agent_notes", { limit: 500, bytesMax: 4096 })
        return base
      }), true)
      current = { k, branch, base }
    },
    edit: () => agentEdits(workspace!.path, bench.count, current!.k),
    finish: async () => {
      const ws = workspace!
      const { base, branch, k } = current!
      await timed(Effect.gen(function*() {
        yield* at(recorder, "outbox", git_.takeNewTaskFiles(ws))
        yield* at(recorder, "moved", git_.mainHead)
        const commit = yield* at(recorder, "commit", git_.commitAll(ws, `w0: task ${k} (propose)`))
        if (Option.isNone(commit)) return yield* Effect.die(new Error("nothing committed"))
        const head = yield* at(recorder, "head", git_.workspaceHead(ws))
        const changes = yield* at(recorder, "changeStats", git_.diffStat(base, head))
        if (changes.length !== 5) return yield* Effect.die(new Error(`expected 5 changed files, got ${changes.length}`))
        yield* at(recorder, "head", git_.workspaceHead(ws))
        yield* at(recorder, "policyStats", git_.diffStat(base, head))
        const reviewed = yield* at(recorder, "head", git_.workspaceHead(ws))
        yield* at(recorder, "reviewDiff", git_.diffText(base, reviewed))
        yield* at(recorder, "reviewPrompt", git_.mainHead)
        yield* at(recorder, "moved", git_.mainHead)
        const onto = yield* at(recorder, "queueCheck", git_.mainHead)
        if (onto === base) return yield* Effect.die(new Error("main did not move during the iteration"))
        const attempt = yield* at(recorder, "merge", git_.merge({ onto, base, head: reviewed, strategy: "no-ff", message: mergeMessage(k) }))
        if (attempt._tag !== "Merged") return yield* Effect.die(new Error("unexpected conflict"))
        yield* at(recorder, "mergePolicy", git_.diffStat(onto, attempt.sha))
        if (!(yield* at(recorder, "swap", git_.compareAndSwapMain(onto, attempt.sha, [`bench-${k}`])))) return yield* Effect.die(new Error("lost the swap"))
        yield* at(recorder, "deleteBranch", git_.deleteBranch(branch))
      }), true)
    },
    release: async () => {
      await timed(at(recorder, "release", git_.removeWorkspace(workspace!)), false)
      workspace = undefined
    },
    take: () => totals.take(recorder.ms, recorder.spawnMs)
  }
}

// ---------------------------------------------------------------------------------------------------
// The shell script
// ---------------------------------------------------------------------------------------------------

const q = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

/**
 * `step NAME` starts a step: its time is read from `$EPOCHREALTIME` (no process), and in the
 * counting pass a marker goes into the git log, so the processes that follow are the step's.
 */
const prelude = (repo: string) => `set -e
T=""
step() { T="$T $1=$EPOCHREALTIME"; if [ -n "$OOMPA_BENCH_GIT_LOG" ]; then printf '\\036#sh\\t%s\\036' "$1" >> "$OOMPA_BENCH_GIT_LOG"; fi; }
cd ${q(repo)}
`

/**
 * The same steps with the git CLI: what a careful hand-written script runs for the same result.
 * It keeps shas in variables where NodeGit reads refs in-process, reads HEAD after its `git commit`,
 * computes each diff once, reads the notes through a pipe, and lands the worker's commit itself
 * (NodeGit lands a commit of its tree that it writes on the base).
 */
const shellScript = {
  acquire: (repo: string, worktree: string) => `${prelude(repo)}
step acquire; git worktree add -q --detach ${q(worktree)} refs/heads/main
step end; echo "T=$T"
`,
  start: (repo: string, worktree: string, branch: string) => `${prelude(repo)}
step checkMain; BASE=$(git rev-parse --verify -q refs/heads/main)
step reset; git -C ${q(worktree)} checkout -q -f -B ${q(branch)} "$BASE"; git -C ${q(worktree)} clean -q -ffdx
step prompt; NOTES=$(git ls-tree -r --full-tree --format='%(objectname)' "$BASE" -- agent_notes/ | git cat-file --batch)
step end; echo "T=$T"; echo "BASE=$BASE"
`,
  finish: (repo: string, worktree: string, branch: string, base: string, k: number) => `${prelude(repo)}
BASE=${base}
step commit; git -C ${q(worktree)} add -A; git -C ${q(worktree)} commit -q -m ${q(`w0: task ${k} (propose)`)}
step head; HEAD=$(git -C ${q(worktree)} rev-parse --verify -q HEAD)
step changeStats; STATS=$(git diff --numstat --no-renames "$BASE" "$HEAD")
step reviewDiff; DIFF=$(git diff --no-renames "$BASE" "$HEAD")
step queueCheck; ONTO=$(git rev-parse --verify -q refs/heads/main)
step merge; TREE=$(git merge-tree --write-tree "$ONTO" "$HEAD"); NEW=$(git commit-tree "$TREE" -p "$ONTO" -p "$HEAD" -m ${q(mergeMessage(k))})
step mergePolicy; MERGED=$(git diff --numstat --no-renames "$ONTO" "$NEW")
step swap; git update-ref -m merge --stdin >/dev/null <<EOF
start
update refs/heads/main $NEW $ONTO
update refs/oompa/merged/bench-${k} $NEW
prepare
commit
EOF
git read-tree -m -u "$ONTO" "$NEW"
step deleteBranch; git -C ${q(worktree)} update-ref --no-deref HEAD "$HEAD"; git update-ref -d ${q(`refs/heads/${branch}`)} "$HEAD"
step end; echo "T=$T"
`,
  release: (repo: string, worktree: string) => `${prelude(repo)}
step release; git worktree remove --force ${q(worktree)}
step end; echo "T=$T"
`
}

/** Runs a script; its output, and its time by step (from its `step` marks). */
const runScript = (script: string, env: Record<string, string | undefined>): Promise<{ readonly out: Map<string, string>; readonly stepMs: Map<string, number>; readonly ms: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn("bash", ["--norc", "--noprofile", "-c", script], { stdio: ["ignore", "pipe", "pipe"], env })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`script failed (${code}): ${stderr}\n${script}`))
      const lines = stdout.split("\n")
      const marks = lines.find((line) => line.startsWith("T= ")) ?? ""
      const times = marks.slice("T= ".length).split(" ").map((mark) => {
        const [name = "", value = ""] = mark.split("=")
        return { name, at: Number(value) * 1000 }
      })
      const stepMs = new Map<string, number>()
      for (let i = 0; i + 1 < times.length; i++) stepMs.set(times[i]!.name, (stepMs.get(times[i]!.name) ?? 0) + times[i + 1]!.at - times[i]!.at)
      const out = new Map(lines.filter((line) => line.includes("=")).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const))
      resolve({ out, stepMs, ms: times.length > 0 ? times[times.length - 1]!.at - times[0]!.at : 0 })
    })
  })

/** The script, one part per timed piece of the run. */
const shellVariant = (bench: Bench, env: Record<string, string | undefined> = shellEnv): Variant => {
  const worktree = path.join(bench.dir, "sh-worktrees", "sh-w0")
  const stepMs = new Map<string, number>()
  const totals = makeTotals()
  let current: { readonly k: number; readonly branch: string; base: string } | undefined
  const script = async (text: string, iteration: boolean) => {
    const result = await runScript(text, env)
    for (const [step, ms] of result.stepMs) stepMs.set(step, (stepMs.get(step) ?? 0) + ms)
    totals.add(result.ms, iteration)
    return result.out
  }
  return {
    acquire: async () => {
      await script(shellScript.acquire(bench.repo, worktree), false)
    },
    start: async (k) => {
      const branch = Ids.iterationBranch(runId, "sh-w0", k)
      const out = await script(shellScript.start(bench.repo, worktree, branch), true)
      current = { k, branch, base: out.get("BASE")! }
    },
    edit: () => agentEdits(worktree, bench.count, current!.k),
    finish: async () => {
      const { base, branch, k } = current!
      await script(shellScript.finish(bench.repo, worktree, branch, base, k), true)
    },
    release: async () => {
      await script(shellScript.release(bench.repo, worktree), false)
    },
    take: () => totals.take(stepMs)
  }
}

/**
 * One run of each variant, interleaved piece by piece: both acquire, then each iteration starts in
 * both, both agents edit, the other worker lands (main moves under both), both finish; then both
 * release. Which variant goes first alternates from piece to piece and from pair to pair.
 */
const runPair = async (bench: Bench, node: Variant, shell: Variant, iterations: number, pair: number) => {
  const order = (i: number): ReadonlyArray<Variant> => (pair + i) % 2 === 0 ? [node, shell] : [shell, node]
  for (const variant of order(0)) await variant.acquire()
  for (let i = 0; i < iterations; i++) {
    for (const variant of order(i)) await variant.start(++iterationCounter)
    for (const variant of order(i)) variant.edit()
    await run(moveMain(bench.plain, iterationCounter))
    for (const variant of order(i)) await variant.finish()
  }
  for (const variant of order(iterations)) await variant.release()
  return { node: node.take(), shell: shell.take() }
}

// ---------------------------------------------------------------------------------------------------
// Counting git processes: a `git` first on PATH that logs its arguments, then runs the real one
// ---------------------------------------------------------------------------------------------------

interface Spawned {
  readonly variant: "node" | "sh"
  /** The step of the run the process ran in. */
  readonly step: string
  /** NodeGit's `Git` method it ran in. */
  readonly method: string
  /** The subcommand and its options (values such as shas and paths left out). */
  readonly command: string
}

/** A `git` that appends its arguments to `$OOMPA_BENCH_GIT_LOG`, then runs the real one. */
const makeShim = (dir: string): { readonly bin: string; readonly log: string } => {
  const bin = path.join(dir, "shim")
  const log = path.join(dir, "git-calls.log")
  const real = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim()
  fs.mkdirSync(bin, { recursive: true })
  fs.writeFileSync(path.join(bin, "git"), `#!/bin/sh\nrec=$(printf '%s\\037' "$@")\nprintf '%s\\036' "$rec" >> "$OOMPA_BENCH_GIT_LOG"\nexec ${q(real)} "$@"\n`, { mode: 0o755 })
  return { bin, log }
}

/** The log's processes, each under the last marker before it (`#node<TAB>step<TAB>method` or `#sh<TAB>step`); the log is emptied. */
const readLog = (log: string): Array<Spawned> => {
  const spawned: Array<Spawned> = []
  let marker: ReadonlyArray<string> = ["?", "?", "?"]
  for (const record of fs.readFileSync(log, "utf8").split("\x1e")) {
    if (record === "") continue
    if (record.startsWith("#")) {
      marker = record.slice(1).split("\t")
      continue
    }
    const args = record.split("\x1f").filter((arg, i, all) => !(i === all.length - 1 && arg === ""))
    let i = 0
    while (i < args.length && args[i]!.startsWith("-")) i += args[i] === "-c" || args[i] === "-C" ? 2 : 1
    const options = args.slice(i + 1).filter((arg) => arg.startsWith("-") && arg !== "--").map((arg) => arg.replace(/=.*/, "=…"))
    spawned.push({ variant: marker[0] === "sh" ? "sh" : "node", step: marker[1] ?? "?", method: marker[2] ?? "", command: [args[i] ?? "?", ...options].join(" ") })
  }
  fs.writeFileSync(log, "")
  return spawned
}

/**
 * One pair of runs with every git process logged through the `git` shim (not timed), and the
 * NodeGit methods called, in order.
 */
const countProcesses = async (bench: Bench, iterations: number) => {
  const shim = makeShim(bench.dir)
  fs.writeFileSync(shim.log, "")
  const saved = { PATH: process.env["PATH"], LOG: process.env["OOMPA_BENCH_GIT_LOG"] }
  // NodeGit runs "git" from PATH and takes its environment when the repository is opened.
  process.env["PATH"] = `${shim.bin}:${saved.PATH}`
  process.env["OOMPA_BENCH_GIT_LOG"] = shim.log
  const counted = await openGit(bench.repo, path.join(bench.dir, "worktrees")).finally(() => {
    process.env["PATH"] = saved.PATH
    if (saved.LOG === undefined) delete process.env["OOMPA_BENCH_GIT_LOG"]
    else process.env["OOMPA_BENCH_GIT_LOG"] = saved.LOG
  })
  readLog(shim.log) // the opening's own calls
  const recorder = makeRecorder()
  recorder.onCall = (method, step) => fs.appendFileSync(shim.log, `#node\t${step}\t${method}\x1e`)
  const shell = shellVariant(bench, { ...shellEnv, PATH: `${shim.bin}:${saved.PATH}`, OOMPA_BENCH_GIT_LOG: shim.log })
  await runPair(bench, nodeVariant(bench, instrument(counted, recorder), recorder), shell, iterations, 0)
  const spawned = readLog(shim.log)
  const node = spawned.filter((s) => s.variant === "node")
  const sh = spawned.filter((s) => s.variant === "sh")
  if (node.length === 0 || sh.length === 0) throw new Error("the counting git on PATH saw no calls: is git found elsewhere?")
  return { node, shell: sh, methods: recorder.methods }
}

// ---------------------------------------------------------------------------------------------------
// Statistics and printing
// ---------------------------------------------------------------------------------------------------

const sorted = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)

const median = (values: ReadonlyArray<number>): number => {
  const s = sorted(values)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

const binomialCdf = (n: number, k: number): number => {
  let sum = 0
  let term = 0.5 ** n
  for (let i = 0; i <= k; i++) {
    sum += term
    term = term * (n - i) / (i + 1)
  }
  return sum
}

/** The distribution-free interval for the median: the widest-ranked order statistics with ≥ 90% coverage. */
const medianInterval = (values: ReadonlyArray<number>): { readonly low: number; readonly high: number; readonly coverage: number } => {
  const s = sorted(values)
  const n = s.length
  let j = 1
  while (j + 1 <= n / 2 && 1 - 2 * binomialCdf(n, j) >= 0.9) j++
  return { low: s[j - 1]!, high: s[n - j]!, coverage: 1 - 2 * binomialCdf(n, j - 1) }
}

const ms = (value: number) => value.toFixed(1)

const openGit = (repo: string, worktrees: string) =>
  run(Git.Git.use(Effect.succeed).pipe(
    Effect.provide(NodeGit.layer({ repoRoot: repo, worktreesDir: worktrees, runId }).pipe(Layer.provide(NodeServices.layer)))
  ))

interface SizeResult {
  readonly count: number
  readonly ratios: ReadonlyArray<number>
}

const benchSize = async (count: number): Promise<SizeResult> => {
  const pairs = Number(process.env["GIT_BENCH_PAIRS"] ?? plan[count]?.pairs ?? 4)
  const iterations = plan[count]?.iterations ?? 5
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(benchTmpDir, "oompa-bench-")))
  try {
    const generatedAt = performance.now()
    const repo = generateRepo(dir, count)
    const generateMs = performance.now() - generatedAt
    fs.mkdirSync(path.join(dir, "sh-worktrees"))
    const plain = await openGit(repo, path.join(dir, "worktrees"))
    const bench: Bench = { count, repo, dir, plain }
    const recorder = makeRecorder()
    timeSpawns(recorder)
    const node = nodeVariant(bench, instrument(plain, recorder), recorder)
    const shell = shellVariant(bench)

    // A warm-up pair (JIT, caches, main's tip a loose commit as in a run), then the counting pass,
    // and the check that the calls are the core's.
    await runPair(bench, node, shell, shortRun, 0)
    const counted = await countProcesses(bench, shortRun)
    const core = await coreWorkerCalls(shortRun)
    if (counted.methods.join(",") !== core.join(",")) {
      throw new Error(`the benchmark's Git calls are not the core's:\n  bench: ${counted.methods.join(", ")}\n  core:  ${core.join(", ")}`)
    }

    const nodeRuns: Array<RunResult> = []
    const shellRuns: Array<RunResult> = []
    for (let p = 0; p < pairs; p++) {
      const pair = await runPair(bench, node, shell, iterations, p)
      nodeRuns.push(pair.node)
      shellRuns.push(pair.shell)
    }
    if (git(repo, ["status", "--porcelain"]) !== "") throw new Error("the user's checkout did not follow main")
    if (git(repo, ["worktree", "list", "--porcelain"]).split("\n").filter((line) => line.startsWith("worktree ")).length !== 2) {
      throw new Error("a workspace was left behind")
    }
    const ratios = nodeRuns.map((r, i) => r.totalMs / shellRuns[i]!.totalMs)
    const iterationRatios = nodeRuns.map((r, i) => r.iterationsMs / shellRuns[i]!.iterationsMs)

    const interval = medianInterval(ratios)
    const range = (values: ReadonlyArray<number>) => `min ${Math.min(...values).toFixed(2)}, max ${Math.max(...values).toFixed(2)}`
    console.log(
      `${count.toLocaleString("en-US")} files: a run (worktree add, ${iterations} iterations, worktree remove): NodeGit ${ms(median(nodeRuns.map((r) => r.totalMs)))} ms, ` +
        `script ${ms(median(shellRuns.map((r) => r.totalMs)))} ms; ratio per pair: median ${median(ratios).toFixed(2)}x ` +
        `(${range(ratios)}; ${Math.round(interval.coverage * 100)}% interval for the median ${interval.low.toFixed(2)}-${interval.high.toFixed(2)}; ${pairs} pairs)`
    )
    console.log(
      `  iterations only: NodeGit ${ms(median(nodeRuns.map((r) => r.iterationsMs)) / iterations)} ms, script ` +
        `${ms(median(shellRuns.map((r) => r.iterationsMs)) / iterations)} ms an iteration; ratio per pair: median ${median(iterationRatios).toFixed(2)}x ` +
        `(${range(iterationRatios)})  [repository generated in ${(generateMs / 1000).toFixed(1)} s]`
    )
    printSteps(nodeRuns, shellRuns, counted, iterations, shortRun)
    return { count, ratios }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Per step: NodeGit's and the script's time, and the git processes each spawns; then the processes themselves. */
const printSteps = (
  nodeRuns: ReadonlyArray<RunResult>,
  shellRuns: ReadonlyArray<RunResult>,
  counted: { readonly node: ReadonlyArray<Spawned>; readonly shell: ReadonlyArray<Spawned> },
  timedIterations: number,
  countedIterations: number
) => {
  const perTimed = (step: string) => perRunSteps.has(step) ? 1 : timedIterations
  const per = (step: string) => perRunSteps.has(step) ? 1 : countedIterations
  const iterations = countedIterations
  const stepMedian = (runs: ReadonlyArray<RunResult>, step: string) => median(runs.map((r) => (r.stepMs.get(step) ?? 0) / perTimed(step)))
  const number = (n: number) => Number.isInteger(n) ? String(n) : n.toFixed(1)
  const countOf = (spawned: ReadonlyArray<Spawned>, step: string) => number(spawned.filter((s) => s.step === step).length / per(step))
  const inIterations = (spawned: ReadonlyArray<Spawned>) => spawned.filter((s) => !perRunSteps.has(s.step))
  const byCommand = (spawned: ReadonlyArray<Spawned>) => {
    const counts = new Map<string, number>()
    for (const s of spawned) counts.set(s.command, (counts.get(s.command) ?? 0) + 1)
    return counts
  }
  console.log(
    `  per step: ms an iteration (a run for acquire/release), median over ${nodeRuns.length} runs; NodeGit's split into its git ` +
      `processes (spawn to output read) and the rest; git processes spawned`
  )
  const spawnMedian = (step: string) => median(nodeRuns.map((r) => (r.spawnMs.get(step) ?? 0) / perTimed(step)))
  console.log(`    ${"step".padEnd(51)} ${"NodeGit".padStart(7)} ${"(procs".padStart(7)} ${"other)".padStart(7)} ${"script".padStart(7)}  processes NodeGit / script`)
  let nodeSum = 0
  let spawnSum = 0
  let shellSum = 0
  for (const [step, description] of steps) {
    const node = stepMedian(nodeRuns, step)
    const spawn = spawnMedian(step)
    const shell = stepMedian(shellRuns, step)
    if (!perRunSteps.has(step)) {
      nodeSum += node
      spawnSum += spawn
      shellSum += shell
    }
    console.log(
      `    ${description.padEnd(51)} ${ms(node).padStart(7)} ${ms(spawn).padStart(7)} ${ms(Math.max(0, node - spawn)).padStart(7)} ${ms(shell).padStart(7)}  ` +
        `${countOf(counted.node, step).padStart(5)} / ${countOf(counted.shell, step)}`
    )
  }
  console.log(
    `    ${"an iteration (sum of the steps' medians)".padEnd(51)} ${ms(nodeSum).padStart(7)} ${ms(spawnSum).padStart(7)} ${ms(nodeSum - spawnSum).padStart(7)} ${ms(shellSum).padStart(7)}  ` +
      `${number(inIterations(counted.node).length / iterations).padStart(5)} / ${number(inIterations(counted.shell).length / iterations)}`
  )
  const list = (title: string, spawned: ReadonlyArray<Spawned>) => {
    console.log(`  git processes ${title}, per iteration:`)
    for (const [command, n] of byCommand(inIterations(spawned))) console.log(`    ${number(n / iterations).padStart(3)}  git ${command}`)
    const perRun = spawned.filter((s) => perRunSteps.has(s.step))
    console.log(`    and once a run: ${[...byCommand(perRun)].map(([command, n]) => `${n} git ${command}`).join(", ")}`)
  }
  list("NodeGit runs", counted.node)
  list("the script runs", counted.shell)
  const byMethod = new Map<string, Array<Spawned>>()
  for (const s of counted.node) byMethod.set(s.method, [...(byMethod.get(s.method) ?? []), s])
  console.log(`  NodeGit's processes by Git call (per iteration; acquire/release per run):`)
  for (const [method, spawned] of byMethod) {
    const n = method === "acquireWorkspace" || method === "removeWorkspace" ? 1 : iterations
    console.log(`    ${method}: ${[...byCommand(spawned)].map(([command, c]) => `${c / n === 1 ? "" : `${number(c / n)} x `}${command.split(" ")[0]}`).join(", ")}`)
  }
}

const main = async () => {
  console.log(
    `git ${git(os.tmpdir(), ["--version"]).trim().replace("git version ", "")}, node ${process.version}, ${os.cpus().length} cores, ` +
      `repositories in ${benchTmpDir}; goal: NodeGit <= ${goalRatio}x the git CLI script (median of the paired runs' ratios)`
  )
  const results: Array<SizeResult> = []
  for (const count of sizes) results.push(await benchSize(count))
  for (const result of results) {
    const ratio = median(result.ratios)
    const interval = medianInterval(result.ratios)
    const undecided = interval.low <= goalRatio && goalRatio < interval.high
      ? ` (its ${Math.round(interval.coverage * 100)}% interval ${interval.low.toFixed(2)}-${interval.high.toFixed(2)} straddles the goal: too noisy to be sure)`
      : ""
    console.log(`${result.count.toLocaleString("en-US")} files: ${ratio.toFixed(2)}x the script, goal <= ${goalRatio}x: ${ratio <= goalRatio ? "met" : "NOT met"}${undecided}`)
  }
}

await main()
