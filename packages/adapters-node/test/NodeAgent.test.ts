/**
 * NodeAgent through the real layer and real processes (SPEC F3): fake `codex`, `claude`, `gemini`
 * and `opencode` executables (test/fixtures/fake-agents) first on the agents' PATH accept exactly
 * F3's arguments and print each CLI's real output format. Each test builds its own layer over a
 * fresh temporary folder (a worktree and a run folder), so nothing carries over between tests.
 *
 * Timeouts, killing process groups and the output cap are in NodeAgentProcesses.test.ts.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Agent, type AgentSpec, type Ids } from "@oompa/core"
import { Clock, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import * as Harnesses from "../src/Harnesses.ts"
import type * as AgentAttempt from "../src/internal/agentAttempt.ts"
import * as RateLimits from "../src/internal/agentRateLimit.ts"
import * as OutputCapture from "../src/internal/outputCapture.ts"
import * as NodeAgent from "../src/NodeAgent.ts"
import * as PriceTable from "../src/internal/priceTable.ts"
import * as Transcripts from "../src/Transcripts.ts"

const fakeBin = fileURLToPath(new URL("./fixtures/fake-agents/bin", import.meta.url))
const roots: Array<string> = []
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })))

interface Sandbox {
  readonly worktree: string
  readonly runDir: string
  readonly script: string
  readonly log: string
}

const sandbox = (): Sandbox => {
  const root = mkdtempSync(join(tmpdir(), "oompa-agent-"))
  roots.push(root)
  const box = { worktree: join(root, "worktree"), runDir: join(root, "run"), script: join(root, "script.json"), log: join(root, "calls.jsonl") }
  mkdirSync(box.worktree)
  return box
}

/** A fake step (see fake-agent.mjs), or several taken by successive processes. */
const script = (box: Sandbox, steps: unknown): void => writeFileSync(box.script, JSON.stringify(steps))

const environment = (box: Sandbox, extra: Record<string, string | undefined> = {}) => ({
  ...process.env,
  PATH: `${fakeBin}${delimiter}${process.env["PATH"] ?? ""}`,
  // The user's own declaration that this machine is a sandbox (the tests may run as root).
  IS_SANDBOX: "1",
  FAKE_AGENT_SCRIPT: box.script,
  FAKE_AGENT_LOG: box.log,
  // Must never reach an agent (SPEC F3).
  GIT_DIR: "/must/not/leak/.git",
  GIT_WORK_TREE: "/must/not/leak",
  ...extra
})

const agentLayer = (box: Sandbox, options: Partial<NodeAgent.Options> = {}) =>
  NodeAgent.layer({ runDir: box.runDir, harnesses: {}, env: environment(box), graceMs: 300, ...options }).pipe(Layer.provide(NodeServices.layer))

const request = (box: Sandbox, fields: Partial<Agent.AgentRequest> = {}): Agent.AgentRequest => ({
  agent: { harness: "codex" },
  call: "propose",
  worker: "w0" as Ids.WorkerId,
  iteration: 1,
  prompt: "Implement the task.\nIt has two lines.",
  cwd: box.worktree,
  timeoutMs: 20_000,
  ...fields
})

/** Runs calls one after the other through one layer instance (so sessions are shared). */
const runAll = (box: Sandbox, requests: ReadonlyArray<Agent.AgentRequest>, options: Partial<NodeAgent.Options> = {}) =>
  Effect.gen(function*() {
    const agent = yield* Agent.Agent
    return yield* Effect.forEach(requests, (r) => agent.run(r))
  }).pipe(Effect.provide(agentLayer(box, options)))

const run = (box: Sandbox, fields: Partial<Agent.AgentRequest> = {}, options: Partial<NodeAgent.Options> = {}) =>
  Effect.map(runAll(box, [request(box, fields)], options), (results) => results[0]!)

interface Invocation {
  readonly harness: string
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly stdin: string
  readonly env: Record<string, string>
}
const invocations = (box: Sandbox): ReadonlyArray<Invocation> =>
  existsSync(box.log) ? readFileSync(box.log, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Invocation) : []

const transcripts = (box: Sandbox) => {
  const folder = join(box.runDir, "transcripts")
  return existsSync(folder) ? readdirSync(folder).sort() : []
}
const transcript = (box: Sandbox, name: string) => Transcripts.read(join(box.runDir, "transcripts", name)).pipe(Effect.provide(NodeServices.layer))

describe("NodeAgent: each harness through its real command line", () => {
  // What claude and opencode report stands; codex's and gemini's tokens are priced by the table, which
  // lists gpt-5-codex (at gpt-5's price) and gemini-2.5-pro at $1.25 per million input tokens and $10
  // per million output tokens: 1000 in and 50 out cost $0.00175.
  const cases: ReadonlyArray<{ readonly agent: AgentSpec.AgentSpec; readonly reported?: number; readonly costUsd: number; readonly estimated: boolean }> = [
    { agent: { harness: "codex", model: "gpt-5-codex", reasoning: "high" }, costUsd: 0.00175, estimated: true },
    { agent: { harness: "claude", model: "opus", reasoning: "high" }, reported: 0.25, costUsd: 0.25, estimated: false },
    { agent: { harness: "gemini", model: "gemini-2.5-pro" }, costUsd: 0.00175, estimated: true },
    { agent: { harness: "opencode", model: "anthropic/claude-sonnet-4", reasoning: "high" }, reported: 0.125, costUsd: 0.125, estimated: false }
  ]
  for (const { agent, costUsd, estimated, reported } of cases) {
    it.live(`${agent.harness}: argv accepted, prompt on stdin, cwd the worktree, GIT_* removed; answer, session, tokens, cost parsed; transcript written`, () =>
      Effect.gen(function*() {
        const box = sandbox()
        script(box, { answer: `answer from ${agent.harness}`, sessionId: `session-${agent.harness}`, tokens: { input: 1000, output: 50 }, costUsd: reported, edits: { "src/new.txt": "made by the agent\n" } })
        const result = yield* run(box, { agent })
        assert.strictEqual(result.exitCode, 0, result.stderr)
        assert.strictEqual(result.answer, `answer from ${agent.harness}`)
        assert.strictEqual(result.sessionId, `session-${agent.harness}`)
        assert.deepStrictEqual(result.tokens, { input: 1000, output: 50 })
        assert.closeTo(result.costUsd!, costUsd, 1e-12, "reported by claude and opencode, estimated from codex's and gemini's tokens")
        assert.strictEqual(result.costEstimatedWith, estimated ? PriceTable.tableId : undefined)
        assert.isFalse(result.timedOut)

        const [call, ...more] = invocations(box)
        assert.strictEqual(more.length, 0)
        const expected = Harnesses.commandLine(agent, { cwd: box.worktree }, undefined, {})
        assert.deepStrictEqual(call!.argv, typeof expected === "string" ? [] : expected.args)
        assert.strictEqual(call!.stdin, request(box).prompt)
        assert.strictEqual(call!.cwd, box.worktree)
        assert.notProperty(call!.env, "GIT_DIR")
        assert.notProperty(call!.env, "GIT_WORK_TREE")
        assert.strictEqual(readFileSync(join(box.worktree, "src/new.txt"), "utf8"), "made by the agent\n")

        assert.deepStrictEqual(transcripts(box), ["w0-1-propose-1.json"])
        const saved = yield* transcript(box, "w0-1-propose-1.json")
        assert.strictEqual(saved.prompt, request(box).prompt)
        assert.strictEqual(saved.command, agent.harness)
        assert.deepStrictEqual(saved.args, call!.argv)
        assert.strictEqual(saved.exitCode, 0)
        assert.include(saved.stdout, `answer from ${agent.harness}`)
        assert.isFalse(saved.timedOut)
        assert.isAtLeast(saved.durationMs, 0)
        assert.strictEqual(saved.sessionId, `session-${agent.harness}`)
        assert.deepStrictEqual(readdirSync(join(box.runDir, "agents")), [], "the process-group record is removed when the call ends")
      }))
  }

  it.live("resume: the fix step passes the proposer's session; claude's cumulative cost and codex's cumulative tokens count per call", () =>
    Effect.gen(function*() {
      const box = sandbox()
      // The fakes print what they are told: cumulative totals, as the real CLIs do over a resumed session.
      script(box, [
        { sessionId: "c-1", costUsd: 0.5 },
        { sessionId: "c-1", costUsd: 0.75 },
        { sessionId: "t-1", tokens: { input: 1000, output: 100 } },
        { sessionId: "t-1", tokens: { input: 2500, output: 160 } }
      ])
      const claude: AgentSpec.AgentSpec = { harness: "claude", model: "opus" }
      const codex: AgentSpec.AgentSpec = { harness: "codex" }
      const [p1, f1, p2, f2] = yield* runAll(box, [
        request(box, { agent: claude }),
        request(box, { agent: claude, call: "fix", sessionId: "c-1" }),
        request(box, { agent: codex, iteration: 2 }),
        request(box, { agent: codex, iteration: 2, call: "fix", sessionId: "t-1" })
      ])
      assert.strictEqual(p1!.costUsd, 0.5)
      assert.strictEqual(f1!.costUsd, 0.25)
      assert.deepStrictEqual(p2!.tokens, { input: 1000, output: 100 })
      assert.deepStrictEqual(f2!.tokens, { input: 1500, output: 60 })
      const argv = invocations(box).map((call) => call.argv)
      assert.deepStrictEqual(argv[1]!.slice(-2), ["--resume", "c-1"])
      assert.deepStrictEqual(argv[3]!.slice(-3), ["resume", "t-1", "-"])
      assert.deepStrictEqual(transcripts(box), ["w0-1-fix-1.json", "w0-1-propose-1.json", "w0-2-fix-1.json", "w0-2-propose-1.json"])
    }))

  it.live("cost from tokens: codex's cached and reasoning tokens priced per call across a resumed thread; pricing prices a model the table does not know; no price, no cost", () =>
    Effect.gen(function*() {
      const box = sandbox()
      // codex reports a thread's running totals; cached input is part of the input, reasoning of the output.
      script(box, [
        { sessionId: "t-1", tokens: { input: 10_000, cached: 8_000, output: 500, reasoning: 300 } },
        { sessionId: "t-1", tokens: { input: 25_000, cached: 20_000, output: 800, reasoning: 400 } },
        { sessionId: "p-1", tokens: { input: 2_000, output: 100 } },
        { sessionId: "u-1", tokens: { input: 2_000, output: 100 } }
      ])
      const codex: AgentSpec.AgentSpec = { harness: "codex", model: "gpt-5.5" }
      const [first, fix, inHouse, unknown] = yield* runAll(box, [
        request(box, { agent: codex }),
        request(box, { agent: codex, call: "fix", sessionId: "t-1" }),
        request(box, { agent: { harness: "codex", model: "in-house-7b" }, iteration: 2 }),
        request(box, { agent: { harness: "codex", model: "gpt-6.1-sol" }, iteration: 3 })
      ], { pricing: { "in-house-7b": { input: 0.5, output: 1.5 } } })
      // The table lists gpt-5.5 at $5 per million input tokens, $0.50 cached, $30 output (reasoning is output).
      assert.closeTo(first!.costUsd!, (2_000 * 5 + 8_000 * 0.5 + 500 * 30) / 1e6, 1e-12)
      assert.strictEqual(first!.costEstimatedWith, PriceTable.tableId)
      // The fix added 15,000 input tokens, 12,000 of them cached, and 300 output tokens.
      assert.deepStrictEqual(fix!.tokens, { input: 15_000, output: 300 })
      assert.closeTo(fix!.costUsd!, (3_000 * 5 + 12_000 * 0.5 + 300 * 30) / 1e6, 1e-12)
      assert.closeTo(inHouse!.costUsd!, (2_000 * 0.5 + 100 * 1.5) / 1e6, 1e-12)
      assert.strictEqual(inHouse!.costEstimatedWith, "oompa.json pricing")
      assert.deepStrictEqual(unknown!.tokens, { input: 2_000, output: 100 })
      assert.isUndefined(unknown!.costUsd, "the table has no price for gpt-6.1-sol, and neither has pricing")
      assert.isUndefined(unknown!.costEstimatedWith)
    }))

  it.live("harnesses override: another binary, extra args and env reach the agent", () =>
    Effect.gen(function*() {
      const box = sandbox()
      script(box, { answer: "ok" })
      const result = yield* run(box, { agent: { harness: "gemini" } }, {
        harnesses: { gemini: { command: join(fakeBin, "gemini"), args: ["--resume", "latest"], env: { OOMPA_TEST_FLAVOUR: "mint", GIT_INDEX_FILE: "/nope" } } }
      })
      assert.strictEqual(result.exitCode, 0, result.stderr)
      const [call] = invocations(box)
      assert.deepStrictEqual(call!.argv, ["--yolo", "--skip-trust", "-o", "json", "--resume", "latest"])
      assert.strictEqual(call!.env["OOMPA_TEST_FLAVOUR"], "mint")
      assert.notProperty(call!.env, "GIT_INDEX_FILE")
    }))

  it.live("command harness: configured argv with {worktree}, {model}, {prompt_file}; stdout is the answer", () =>
    Effect.gen(function*() {
      const box = sandbox()
      const program = "const fs = require('fs'); let s = ''; process.stdin.on('data', d => s += d).on('end', () => " +
        "console.log(JSON.stringify({ argv: process.argv.slice(1), file: fs.readFileSync(process.argv[2], 'utf8'), stdin: s, cwd: process.cwd() })))"
      const result = yield* run(box, { agent: { harness: "command", model: "m1" } }, {
        harnesses: { command: { command: process.execPath, args: ["-e", program, "{worktree}", "{prompt_file}", "{model}"] } }
      })
      assert.strictEqual(result.exitCode, 0, result.stderr)
      const said = JSON.parse(result.answer) as { argv: Array<string>; file: string; stdin: string; cwd: string }
      assert.strictEqual(said.argv[0], box.worktree)
      assert.match(said.argv[1]!, /prompts\/w0-1-propose-1\.md$/)
      assert.strictEqual(said.argv[2], "m1")
      assert.strictEqual(said.file, request(box).prompt, "{prompt_file} holds the prompt")
      assert.strictEqual(said.stdin, request(box).prompt, "the prompt is on stdin too")
      assert.strictEqual(said.cwd, box.worktree)
    }))

  it.live("a non-zero exit and an is_error answer are results, not errors", () =>
    Effect.gen(function*() {
      const box = sandbox()
      script(box, [{ exitCode: 3, stderr: "boom\n" }, { isError: true, exitCode: 0, errorMessage: "the model refused" }])
      const [crashed, refused] = yield* runAll(box, [request(box), request(box, { agent: { harness: "claude" }, call: "review" })])
      assert.strictEqual(crashed!.exitCode, 3)
      assert.include(crashed!.stderr, "boom")
      assert.strictEqual(refused!.exitCode, 1, "claude's is_error with exit 0 still counts as failed")
      assert.include(refused!.stderr, "the model refused")
    }))

  it.live("an unknown flag is rejected with the real CLI's exit code (the fakes are strict)", () =>
    Effect.gen(function*() {
      const box = sandbox()
      script(box, {})
      const result = yield* run(box, {}, { harnesses: { codex: { args: ["--full-auto"] } } })
      assert.strictEqual(result.exitCode, 2)
      assert.include(result.stderr, "unexpected argument '--full-auto'")
    }))
})

describe("NodeAgent: calls that cannot run", () => {
  it.live("a missing binary is AgentUnavailable with one line naming the binary", () =>
    Effect.gen(function*() {
      const box = sandbox()
      const error = yield* Effect.flip(run(box, { agent: { harness: "codex", model: "m" } }, { harnesses: { codex: { command: "oompa-no-such-codex" } } }))
      assert.strictEqual(error._tag, "AgentUnavailable")
      assert.strictEqual(error.agent, "codex:m")
      assert.match(error.message, /^oompa-no-such-codex: command not found on PATH/)
      assert.notInclude(error.message, "\n")
      const saved = yield* transcript(box, "w0-1-propose-1.json")
      assert.isNull(saved.exitCode)
    }))

  it.live("claude as root without IS_SANDBOX=1: AgentUnavailable explaining IS_SANDBOX=1, which oompa never sets", () =>
    Effect.gen(function*() {
      const box = sandbox()
      script(box, {})
      const env = environment(box, { FAKE_AGENT_AS_ROOT: "1", IS_SANDBOX: undefined })
      const error = yield* Effect.flip(run(box, { agent: { harness: "claude" } }, { env }))
      assert.strictEqual(error._tag, "AgentUnavailable")
      assert.strictEqual(error.message, Harnesses.rootRefusalMessage)
      assert.strictEqual(invocations(box).length, 0, "the fake refused before reading its prompt")
    }))

  it.live("gemini not authenticated (exit 41) is AgentUnavailable", () =>
    Effect.gen(function*() {
      const box = sandbox()
      script(box, { notAuthenticated: true })
      const error = yield* Effect.flip(run(box, { agent: { harness: "gemini" } }))
      assert.include(error.message, "not authenticated")
    }))

  it.live("a command harness without a configured command is AgentUnavailable", () =>
    Effect.gen(function*() {
      const box = sandbox()
      const error = yield* Effect.flip(run(box, { agent: { harness: "command" } }))
      assert.include(error.message, "harnesses.command.command")
    }))
})

describe("NodeAgent: rate limits", () => {
  it.effect("a rate-limit answer backs off through Clock (TestClock here) and is retried until it succeeds", () =>
    Effect.gen(function*() {
      const box = sandbox()
      script(box, [{ rateLimited: true }, { rateLimited: true }, { answer: "finally", sessionId: "s-ok" }])
      const fiber = yield* Effect.forkChild(run(box, { agent: { harness: "claude" }, timeoutMs: 3_600_000 }, { rateLimitBackoffMs: 60_000 }))
      // Real processes run on real time; the back-offs (60 s, then 120 s) only pass when the
      // TestClock moves, so the loop alternates a real pause with a minute of virtual time.
      for (let step = 0; step < 200 && fiber.pollUnsafe() === undefined; step++) {
        yield* Effect.promise(() => new Promise((done) => setTimeout(done, 25)))
        yield* TestClock.adjust("1 minute")
      }
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.exitCode, 0, result.stderr)
      assert.strictEqual(result.answer, "finally")
      assert.strictEqual(invocations(box).length, 3)
      const names = transcripts(box)
      assert.deepStrictEqual(names, ["w0-1-propose-1.json", "w0-1-propose-2.json", "w0-1-propose-3.json"])
      const first = yield* transcript(box, names[0]!)
      assert.isTrue(first.rateLimited)
      assert.strictEqual(first.attempt, 1)
      const last = yield* transcript(box, names[2]!)
      assert.isFalse(last.rateLimited)
      assert.strictEqual(last.attempt, 3)
    }))

  it.live("retries are bounded: after rateLimitRetriesMax the rate-limited answer is returned as a failure", () =>
    Effect.gen(function*() {
      const box = sandbox()
      script(box, { rateLimited: true })
      const result = yield* run(box, { agent: { harness: "opencode" } }, { rateLimitRetriesMax: 2, rateLimitBackoffMs: 10 })
      assert.strictEqual(result.exitCode, 1)
      assert.include(result.stderr, "Rate limit exceeded")
      assert.strictEqual(invocations(box).length, 3)
    }))

  it.live("a wait the CLI names (retry-after) is taken instead of the back-off, bounded by its maximum, and each wait is told to onRateLimit before it starts", () =>
    Effect.gen(function*() {
      const box = sandbox()
      script(box, [{ rateLimited: true, stderr: "429 Too Many Requests; retry-after: 1\n" }, { rateLimited: true, stderr: "try again in 30 minutes\n" }, { answer: "ok" }])
      const waits: Array<NodeAgent.RateLimitWait> = []
      const started = Date.now()
      const result = yield* run(box, { agent: { harness: "codex" }, timeoutMs: 60_000 }, {
        rateLimitBackoffMs: 50_000,
        rateLimitBackoffMsMax: 200,
        onRateLimit: (wait) => Effect.sync(() => void waits.push(wait))
      })
      assert.strictEqual(result.answer, "ok")
      assert.deepStrictEqual(waits.map((w) => [w.retry, w.waitMs, w.source]), [[1, 200, "retry-after"], [2, 200, "retry-after"]])
      assert.isBelow(Date.now() - started, 20_000, "the 50 s back-off was not used")
    }))

  it("back-off doubles and is capped", () => {
    const settings = { rateLimitBackoffMs: 1000, rateLimitBackoffMsMax: 5000 }
    assert.deepStrictEqual([1, 2, 3, 4].map((retry) => NodeAgent.backoffMs(settings, retry)), [1000, 2000, 4000, 5000])
  })

  it.effect("the retry schedule: waits of backoffMs (TestClock), each told first, at most rateLimitRetriesMax, none past the deadline", () =>
    Effect.gen(function*() {
      const settings = { rateLimitBackoffMs: 1000, rateLimitBackoffMsMax: 5000 }
      const limited = (): AgentAttempt.Attempt => {
        const stderr = OutputCapture.make(1024)
        stderr.push(new TextEncoder().encode("Error: 429 Too Many Requests\n"))
        return { attempt: 1, n: 1, startedMs: 0, stdout: OutputCapture.make(1024), stderr, notes: [], line: undefined, pid: undefined, exitCode: 1, timedOut: false, endedMs: 0 }
      }
      const told: Array<readonly [number, number, number]> = []
      const startedMs: Array<number> = []
      const call = (retriesMax: number, deadlineMs: number) =>
        Effect.gen(function*() {
          startedMs.push(yield* Clock.currentTimeMillis)
          return limited()
        }).pipe(Effect.repeat({
          schedule: RateLimits.retries({
            ...settings,
            rateLimitRetriesMax: retriesMax,
            onRateLimit: (wait) => Effect.map(Clock.currentTimeMillis, (now) => void told.push([now, wait.retry, wait.waitMs]))
          }, request(sandbox(), { agent: { harness: "opencode" } }), deadlineMs)
        }))
      const fiber = yield* Effect.forkChild(call(4, 60_000))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(startedMs, [0, 1000, 3000, 7000, 12000])
      assert.deepStrictEqual(told, [[0, 1, 1000], [1000, 2, 2000], [3000, 3, 4000], [7000, 4, 5000]])
      // A retry that could not finish before the deadline is not made: 1 s + 2 s fit in 4 s, 4 s more does not.
      startedMs.length = 0
      const early = yield* Effect.forkChild(call(4, (yield* Clock.currentTimeMillis) + 4_000))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(early)
      assert.deepStrictEqual(startedMs.map((ms) => ms - startedMs[0]!), [0, 1000, 3000])
    }))
})
