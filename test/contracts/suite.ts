/**
 * What every harness must show (issue 6, SPEC F3), through oompa's real `Agent` layer and the real
 * CLI against the scripted model server:
 *
 * - the argv oompa builds (exactly `Harnesses.commandLine`'s) is accepted by the CLI's parser, and
 *   the prompt oompa writes on stdin reaches the model;
 * - APPROVED and NEEDS_CHANGES parse from the CLI's real output (core's `parseVerdict`);
 * - a proposer's scripted tool call changes a file in oompa's worktree (never in the folder the user
 *   ran oompa from) and oompa's `NodeGit` commits it;
 * - the fix step resumes the session: the model sees the same conversation continue;
 * - tokens reach the `AgentResult`, per call across resumes, and become dollars (issue 18): what
 *   the CLI reports (claude, opencode), else the tokens — their cached and reasoning shares included
 *   — at the model's price in the pinned table (codex, gemini), marked as estimated with it;
 * - a model server that is down ends in the call's timeout, never a hang, its process group gone.
 *
 * Each harness file calls {@link describeHarness} and adds what only that CLI does.
 */
import { Harnesses, type Transcripts } from "@oompa/adapters-node"
import { Verdict } from "@oompa/core"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { Harness } from "./harnesses.ts"
import { missingMessage, priceTable } from "./harnesses.ts"
import * as ModelServer from "./model-server/index.ts"
import { makeSandbox, type Sandbox, type SandboxOptions } from "./sandbox.ts"

/** Every call's transcript in the run folder, by file name. */
export const transcripts = (box: Sandbox): Record<string, Transcripts.Transcript> => {
  const folder = join(box.runDir, "transcripts")
  if (!existsSync(folder)) return {}
  return Object.fromEntries(readdirSync(folder).sort().map((name) => [name, JSON.parse(readFileSync(join(folder, name), "utf8")) as Transcripts.Transcript]))
}

/** Fails the file at once, with the one thing to do, when the CLIs are not installed. */
export const requireCli = (harness: Harness): void => {
  beforeAll(() => {
    const missing = missingMessage(harness.name)
    if (missing !== undefined) throw new Error(missing)
  })
}

/**
 * The call's dollars are what `harness` gives for `usage` (all its model requests' tokens): the
 * figure the CLI reported, or the table's price of the tokens, marked as estimated with the table.
 */
export const assertDollars = (harness: Harness, result: { readonly costUsd?: number; readonly costEstimatedWith?: string }, usage: ModelServer.Usage): void => {
  const { dollars } = harness
  assert.isDefined(result.costUsd, `${harness.name}'s call has a cost`)
  if (dollars.price !== undefined) assert.closeTo(result.costUsd!, dollars.price(usage), 1e-12, `${harness.name}: the dollars of ${JSON.stringify(usage)}`)
  else assert.isAbove(result.costUsd!, 0)
  assert.strictEqual(result.costEstimatedWith, dollars.reported ? undefined : priceTable)
}

/** Whether a process group still has a live member. */
const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * For a `describe` block: fails it when the CLI is not installed, and gives a function that makes a
 * sandbox for `harness`, each disposed after the block.
 */
export const useSandboxes = (harness: Harness): ((options?: SandboxOptions) => Promise<Sandbox>) => {
  requireCli(harness)
  const boxes: Array<Sandbox> = []
  afterAll(async () => {
    await Promise.all(boxes.map((box) => box.dispose()))
  })
  return async (options) => {
    const box = await makeSandbox(harness, options)
    boxes.push(box)
    return box
  }
}

export interface SuiteOptions {
  /** How long a call against a server that is down may take before oompa's timeout ends it. */
  readonly downTimeoutMs?: number
}

export const describeHarness = (harness: Harness, options: SuiteOptions = {}): void => {
  describe(`${harness.name}: the real CLI through oompa's Agent layer`, () => {
    const sandbox = useSandboxes(harness)

    it("accepts the argv oompa builds; the prompt reaches the model on stdin; APPROVED parses from its output", async () => {
      const box = await sandbox()
      // 500 of the input read from the model's cache, 4 of the output spent reasoning.
      const usage = { input: 1500, output: 12, cached: 500, reasoning: 4 }
      box.server.script({ text: "The change does what the task asks.\n\nAPPROVED", usage })
      const result = await box.run({ call: "review", prompt: "REVIEW-PROMPT-7f3a: review the change below.\n(diff)" })

      assert.strictEqual(result.exitCode, 0, `${harness.name} failed: ${result.stderr}`)
      assert.isFalse(result.timedOut)
      assert.deepStrictEqual(Verdict.parseVerdict(result.answer), Verdict.Verdict.cases.Approved.make({}))
      assert.isString(result.sessionId)
      assert.deepStrictEqual(result.tokens, { input: 1500, output: 12 })
      assertDollars(harness, result, usage)

      const turns = box.server.turns()
      assert.strictEqual(turns.length, 1, "one model request for one plain answer")
      assert.include(turns[0]!.raw, "REVIEW-PROMPT-7f3a", "the prompt oompa wrote on stdin reached the model")

      // The transcript holds exactly SPEC F3's argv (with the configured endpoint args) and the exit.
      const saved = transcripts(box)["w0-1-review-1.json"]
      assert.isDefined(saved)
      const expected = Harnesses.commandLine({ harness: harness.name, model: harness.model }, { cwd: box.worktree }, harness.override(box.server.url), {})
      if (typeof expected === "string") throw new Error(expected)
      assert.deepStrictEqual(saved!.args, expected.args)
      assert.strictEqual(saved!.exitCode, 0)
    })

    it("NEEDS_CHANGES and its bullets parse from its output", async () => {
      const box = await sandbox()
      box.server.script({ text: "Close, but not yet.\n\nNEEDS_CHANGES\n- hello.txt must end with a newline\n- add a test for the greeting\n" })
      const result = await box.run({ call: "review", prompt: "Review the change." })

      assert.strictEqual(result.exitCode, 0, result.stderr)
      const verdict = Verdict.parseVerdict(result.answer)
      assert.strictEqual(verdict._tag, "NeedsChanges")
      if (verdict._tag !== "NeedsChanges") return
      assert.isTrue(verdict.clear)
      assert.include(verdict.feedback, "hello.txt must end with a newline")
      assert.include(verdict.feedback, "add a test for the greeting")
    })

    it("a proposer's tool call changes a file in oompa's worktree and oompa commits it; the fix step resumes the session", async () => {
      // The user runs oompa from their repository (PWD): the agent must still work in the worktree.
      const box = await sandbox()
      const userPwd = box.repo
      box.server.script(
        harness.writeFile("hello.txt", "hello from the proposer\n"),
        { text: "Wrote hello.txt. PROPOSER-ANSWER-51c2", usage: { input: 1200, output: 30 } }
      )
      const proposed = await box.run({ call: "propose", prompt: "TASK-PROMPT-8d1e: create hello.txt with a greeting." })

      assert.strictEqual(proposed.exitCode, 0, proposed.stderr)
      assert.include(proposed.answer, "PROPOSER-ANSWER-51c2")
      assert.strictEqual(readFileSync(join(box.worktree, "hello.txt"), "utf8"), "hello from the proposer\n")
      assert.isFalse(existsSync(join(userPwd, "hello.txt")), "nothing written where the user ran oompa")
      // Two model requests (the tool call, then the answer after its result): 1000 + 1200 in, 50 + 30 out.
      assert.deepStrictEqual(proposed.tokens, { input: ModelServer.defaultUsage.input + 1200, output: ModelServer.defaultUsage.output + 30 })
      const sessionId = proposed.sessionId
      assert.isString(sessionId)
      const first = await box.commitAll("oompa: proposal")
      assert.isString(first, "oompa committed the agent's change")
      assert.deepStrictEqual(await box.changedFiles(first!), ["added hello.txt"])

      const before = box.server.turns().length
      box.server.script(
        harness.writeFile("fix.txt", "fixed as asked\n"),
        { text: "Fixed. FIX-ANSWER-90ab", usage: { input: 2000, output: 40 } }
      )
      const fixed = await box.run({
        call: "fix",
        sessionId: sessionId!,
        prompt: "FIX-PROMPT-3c77: the reviewer asked for changes:\n- add fix.txt"
      })

      assert.strictEqual(fixed.exitCode, 0, fixed.stderr)
      assert.include(fixed.answer, "FIX-ANSWER-90ab")
      assert.strictEqual(fixed.sessionId, sessionId, "the resumed session keeps its id")
      assert.strictEqual(readFileSync(join(box.worktree, "fix.txt"), "utf8"), "fixed as asked\n")
      // The model sees the same conversation continue: the first prompt and answer, then the fix prompt.
      const resumed = box.server.turns()[before]!
      assert.include(resumed.raw, "TASK-PROMPT-8d1e")
      assert.include(resumed.raw, "PROPOSER-ANSWER-51c2")
      assert.include(resumed.raw, "FIX-PROMPT-3c77")
      // Tokens and dollars of this call only, whatever the CLI reports across the resume.
      assert.deepStrictEqual(fixed.tokens, { input: ModelServer.defaultUsage.input + 2000, output: ModelServer.defaultUsage.output + 40 })
      assertDollars(harness, proposed, { input: ModelServer.defaultUsage.input + 1200, output: ModelServer.defaultUsage.output + 30 })
      assertDollars(harness, fixed, { input: ModelServer.defaultUsage.input + 2000, output: ModelServer.defaultUsage.output + 40 })
      assert.isAbove(fixed.costUsd!, proposed.costUsd!, "the fix sent more tokens than the proposal, so it cost more")
      const second = await box.commitAll("oompa: fix")
      assert.isString(second)
      assert.deepStrictEqual(await box.changedFiles(second!), ["added fix.txt", "added hello.txt"])
      assert.deepStrictEqual(Object.keys(transcripts(box)), ["w0-1-fix-1.json", "w0-1-propose-1.json"])
    })

    it("a model server that is down: the call ends at oompa's timeout, its process group stopped, never a hang", async () => {
      const timeoutMs = options.downTimeoutMs ?? 8_000
      const box = await sandbox({ serverUrl: `http://127.0.0.1:${await ModelServer.deadPort()}` })
      const started = Date.now()
      const result = await box.run({ call: "propose", prompt: "Create hello.txt.", timeoutMs })
      const elapsed = Date.now() - started

      assert.isBelow(elapsed, timeoutMs + 1_000 + 5_000, "the timeout, the grace period and a little slack")
      const saved = Object.values(transcripts(box))
      assert.strictEqual(saved.length, 1)
      if (result.timedOut) {
        assert.strictEqual(result.exitCode, -1)
        assert.isTrue(saved[0]!.timedOut)
      } else {
        // A CLI that gives up by itself must say so with a failure, not an answer.
        assert.notStrictEqual(result.exitCode, 0, `${harness.name} answered with no model: ${result.answer}`)
        assert.isAbove(result.stderr.trim().length, 0)
      }
      const pid = saved[0]!.pid
      assert.isNumber(pid)
      assert.isFalse(groupAlive(pid!), "the agent's whole process group is gone")
      assert.deepStrictEqual(existsSync(join(box.runDir, "agents")) ? readdirSync(join(box.runDir, "agents")) : [], [], "its group record removed")
    })
  })
}
