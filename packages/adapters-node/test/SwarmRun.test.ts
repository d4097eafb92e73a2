/**
 * Goal: the library entry does what `oompa swarm` does, for an embedder: a wrong setup fails with a
 * `SetupError` whose reason says what (config, preflight, lock) before anything is created; what a
 * dead run left is repaired first and said; an `AbortSignal` stops the run the way Ctrl-C does
 * (the agent's own signal aborts, the claim goes back, no worktree or branch is left); the host's
 * `onEvent` sees the run log's events.
 * Method: `runSwarm` (the Promise form, on Node's platform layer) on scratch git repositories, with
 * agents written as functions.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Project from "../src/Project.ts"
import * as RunPaths from "../src/RunPaths.ts"
import * as SwarmRun from "../src/SwarmRun.ts"
import { git, makeRepo, removeRepo, writeTree } from "./fixtures/gitdir.ts"

const show = (repo: string, file: string) => git(repo, ["show", `main:${file}`]).trim()

/** A repository with `tasks` pending (not committed: the framework owns the queue), worktrees beside it. */
const scratch = (tasks: ReadonlyArray<string> = ["t1"]) => {
  const temp = makeRepo({ "README.md": "# scratch\n" })
  writeTree(temp.repo, Object.fromEntries(tasks.map((id) => [`tasks/pending/${id}.json`, JSON.stringify({ id, summary: `Do ${id}` })])))
  const configJson = (extra: Record<string, unknown> = {}) => ({
    worktrees_dir: temp.worktrees,
    workers: [{ model: "codex", iterations: 2, role: "executor" }],
    ...extra
  })
  return { repo: temp.repo, configJson, cleanup: () => removeRepo(temp) }
}

/** Runs `body` on a fresh scratch repository, removed afterwards whatever happens. */
const inScratch = async (body: (s: ReturnType<typeof scratch>) => Promise<void>, tasks?: ReadonlyArray<string>): Promise<void> => {
  const s = scratch(tasks)
  try {
    await body(s)
  } finally {
    s.cleanup()
  }
}

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  return assert.fail("expected the run to be refused")
}

const approveAndWrite = (request: { readonly call: string; readonly cwd: string; readonly task?: string }) => {
  if (request.call === "review") return "VERDICT: APPROVED"
  fs.writeFileSync(path.join(request.cwd, `${request.task}.txt`), `${request.task}\n`)
  return "done"
}

describe("SwarmRun (runSwarm)", () => {
  it("an oompa.json value with a wrong field: SetupError naming the field, nothing created", async () => {
    await inScratch(async (s) => {
      const error = await rejection(SwarmRun.runPromise({ cwd: s.repo, configJson: s.configJson({ workerz: [] }), agent: approveAndWrite }))
      assert.instanceOf(error, Project.SetupError)
      assert.strictEqual((error as Project.SetupError).reason, "config")
      assert.match((error as Project.SetupError).message, /workerz/)
      assert.isFalse(fs.existsSync(path.join(s.repo, ".oompa")))
    })
  })

  it("an agent CLI that is not installed: SetupError (preflight) naming it, the task still pending", async () => {
    await inScratch(async (s) => {
      const error = await rejection(SwarmRun.runPromise({
        cwd: s.repo,
        configJson: s.configJson({ harnesses: { codex: { command: "oompa-no-such-codex" } } })
      }))
      assert.instanceOf(error, Project.SetupError)
      assert.strictEqual((error as Project.SetupError).reason, "preflight")
      assert.include((error as Project.SetupError).message, "oompa-no-such-codex")
      assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/pending")), ["t1.json"])
      assert.isFalse(fs.existsSync(path.join(s.repo, ".oompa/runs")))
    })
  })

  it("a prompt file the configuration names that is not there: SetupError naming it and who uses it, nothing started", async () => {
    await inScratch(async (s) => {
      writeTree(s.repo, { "prompts/reviewer.md": "Review it.\n" })
      const error = await rejection(SwarmRun.runPromise({
        cwd: s.repo,
        configJson: s.configJson({
          workers: [{ model: "codex", iterations: 1, role: "executor", prompt: ["prompts/planer.md"] }],
          reviewer: { model: "codex", prompt: "prompts/reviewer.md" }
        }),
        agent: approveAndWrite
      }))
      assert.instanceOf(error, Project.SetupError)
      assert.strictEqual((error as Project.SetupError).reason, "config")
      assert.include((error as Project.SetupError).message, `prompt file prompts/planer.md (used by w0) is not a readable file: looked for ${path.join(s.repo, "prompts/planer.md")}`)
      assert.notInclude((error as Project.SetupError).message, "reviewer.md")
      assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/pending")), ["t1.json"])
      assert.isFalse(fs.existsSync(path.join(s.repo, ".oompa/runs")))
    })
  })

  it("another live run holds the repository: SetupError (lock) naming its pid", async () => {
    await inScratch(async (s) => {
      const lockPath = RunPaths.make(s.repo, { tasksDir: "tasks" }).lockPath
      fs.mkdirSync(path.dirname(lockPath), { recursive: true })
      // The parent of this test process: alive, on this host, not us.
      const holder = { pid: process.ppid, startedAt: new Date().toISOString(), runId: "0badc0de", hostname: os.hostname() }
      fs.writeFileSync(lockPath, `${JSON.stringify(holder)}\n`)
      const error = await rejection(SwarmRun.runPromise({ cwd: s.repo, configJson: s.configJson(), agent: approveAndWrite }))
      assert.instanceOf(error, Project.SetupError)
      assert.strictEqual((error as Project.SetupError).reason, "lock")
      assert.include((error as Project.SetupError).message, String(process.ppid))
      assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/pending")), ["t1.json"])
    })
  })

  it("repairs what a dead run left first, says so, then runs: the orphaned claim is merged", async () => {
    await inScratch(async (s) => {
      writeTree(s.repo, { "tasks/current/orphan.json": JSON.stringify({ id: "orphan", summary: "Left by a dead run" }) })
      const notices: Array<string> = []
      const tags: Array<string> = []
      const result = await SwarmRun.runPromise({
        cwd: s.repo,
        configJson: s.configJson(),
        agent: approveAndWrite,
        onNotice: (line) => notices.push(line),
        onEvent: (event) => tags.push(event._tag)
      })
      assert.deepStrictEqual(notices, ["recovered: task orphan: current/ -> pending/ (its run died)"])
      assert.deepStrictEqual(result.notices, notices)
      assert.strictEqual(result.report.outcome, "ok")
      assert.strictEqual(result.report.merged, 1)
      assert.strictEqual(show(s.repo, "orphan.txt"), "orphan")
      const logged = fs.readFileSync(result.eventsPath, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { _tag: string })._tag)
      assert.deepStrictEqual(tags, logged)
    }, [])
  })

  it("an AbortSignal stops the run as Ctrl-C does: the agent's signal aborts, the claim goes back, nothing is left", async () => {
    await inScratch(async (s) => {
      const controller = new AbortController()
      let agentAborted = false
      const promise = SwarmRun.runPromise({
        cwd: s.repo,
        configJson: s.configJson(),
        // The proposer works until it is told to stop; the host aborts once it has started.
        agent: (_request, signal) =>
          new Promise<string>((_resolve, reject) => {
            signal.addEventListener("abort", () => {
              agentAborted = true
              reject(new Error("aborted"))
            })
            controller.abort()
          }),
        signal: controller.signal
      })
      const error = await rejection(promise)
      assert.instanceOf(error, SwarmRun.RunInterrupted)
      const interrupted = error as SwarmRun.RunInterrupted
      assert.match(interrupted.runId, /^[0-9a-f]{8}$/)
      assert.isTrue(agentAborted)
      assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/pending")), ["t1.json"])
      assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/current")), [])
      assert.strictEqual(git(s.repo, ["branch", "--list", "oompa/*"]), "")
      const last = fs.readFileSync(interrupted.eventsPath, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { _tag: string; outcome?: string }).at(-1)
      assert.strictEqual(last?._tag, "SwarmFinished")
      assert.strictEqual(last?.outcome, "interrupted")
      // The lock is released: a new run starts and merges the task.
      const next = await SwarmRun.runPromise({ cwd: s.repo, configJson: s.configJson(), agent: approveAndWrite })
      assert.strictEqual(next.report.merged, 1)
    })
  })

  it("a stop right after a merge landed leaves the task complete, not pending: the next run does not merge it again", async () => {
    await inScratch(async (s) => {
      const controller = new AbortController()
      const error = await rejection(SwarmRun.runPromise({
        cwd: s.repo,
        configJson: s.configJson(),
        agent: approveAndWrite,
        // The merge queue has landed the work; the iteration has not heard of it yet.
        onEvent: (event) => {
          if (event._tag === "MergeResult" && event.outcome === "merged") controller.abort()
        },
        signal: controller.signal
      }))
      assert.instanceOf(error, SwarmRun.RunInterrupted)
      assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/complete")), ["t1.json"])
      assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/pending")), [])
      const next = await SwarmRun.runPromise({ cwd: s.repo, configJson: s.configJson(), agent: approveAndWrite })
      assert.strictEqual(next.report.merged, 0)
      assert.strictEqual(git(s.repo, ["rev-list", "--count", "--merges", "main"]).trim(), "1")
    })
  })

  it("an onEvent that throws stops the run as an abort does and fails with a RunError naming the event", async () => {
    await inScratch(async (s) => {
      let calls = 0
      const error = await rejection(SwarmRun.runPromise({
        cwd: s.repo,
        configJson: s.configJson(),
        agent: approveAndWrite,
        onEvent: (event) => {
          calls++
          if (event._tag === "TaskClaimed") throw new Error("host UI crashed")
        }
      }))
      assert.instanceOf(error, SwarmRun.RunError)
      assert.include((error as SwarmRun.RunError).message, "the host's onEvent threw on TaskClaimed: host UI crashed")
      // The claim went back, the lock is free, and the callback was not called after it threw.
      assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/pending")), ["t1.json"])
      assert.deepStrictEqual(fs.readdirSync(path.join(s.repo, "tasks/current")), [])
      const claimedAt = calls
      const next = await SwarmRun.runPromise({ cwd: s.repo, configJson: s.configJson(), agent: approveAndWrite })
      assert.strictEqual(next.report.merged, 1)
      assert.strictEqual(calls, claimedAt)
    })
  })

  it("a lock naming this process that this process does not hold is stale (a restarted container), and an embedded run's lock says oompa stop must not signal it", async () => {
    await inScratch(async (s) => {
      const lockPath = RunPaths.make(s.repo, { tasksDir: "tasks" }).lockPath
      fs.mkdirSync(path.dirname(lockPath), { recursive: true })
      fs.writeFileSync(lockPath, `${JSON.stringify({ pid: process.pid, startedAt: "2026-01-01T00:00:00.000Z", runId: "0000dead", hostname: os.hostname() })}\n`)
      let holder: unknown
      const result = await SwarmRun.runPromise({
        cwd: s.repo,
        configJson: s.configJson(),
        agent: approveAndWrite,
        onEvent: (event) => {
          if (event._tag === "SwarmStarted") holder = JSON.parse(fs.readFileSync(lockPath, "utf8"))
        }
      })
      assert.strictEqual(result.report.merged, 1)
      assert.match(result.notices[0] ?? "", /^warning: took over the lock of run 0000dead/)
      assert.deepStrictEqual(holder, { ...(holder as object), pid: process.pid, runId: result.runId, stopsOnSigint: false })
      assert.isFalse(fs.existsSync(lockPath))
    })
  })

  it("a run id that is not one is refused before anything starts", async () => {
    await inScratch(async (s) => {
      const error = await rejection(SwarmRun.runPromise({ cwd: s.repo, configJson: s.configJson(), agent: approveAndWrite, runId: "../../escaped" as never }))
      assert.instanceOf(error, Project.SetupError)
      assert.include((error as Project.SetupError).message, "runId")
      assert.isFalse(fs.existsSync(path.join(s.repo, ".oompa")))
    })
  })
})
