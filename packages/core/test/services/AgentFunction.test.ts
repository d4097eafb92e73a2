/**
 * Goal: an agent written as a function (`Agent.fromFunction`) behaves like an agent CLI to the
 * orchestration: its text is the answer; a throw, a rejection or a reply of the wrong shape is a
 * failed call (exit 1) saying why, never a crash of the run; at `request.timeoutMs` the call times
 * out and the function's signal aborts.
 * Method: calls through the service under `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Agent, type Ids } from "@oompa/core"

const request = (timeoutMs = 60_000): Agent.AgentRequest => ({
  agent: { harness: "command" },
  call: "propose",
  worker: "w0" as Ids.WorkerId,
  iteration: 1,
  task: "t1",
  prompt: "do t1",
  cwd: "/nowhere",
  timeoutMs
})

const call = (fn: Agent.AgentFunction, timeoutMs?: number) => Agent.fromFunction(fn).run(request(timeoutMs))

describe("Agent.fromFunction", () => {
  it.effect("a string is the answer; a reply object carries what a CLI would report", () =>
    Effect.gen(function*() {
      const text = yield* call(() => "done")
      assert.deepStrictEqual([text.exitCode, text.answer, text.timedOut], [0, "done", false])
      const full = yield* call(async () => ({ answer: "VERDICT: APPROVED", exitCode: 0, tokens: { input: 10, output: 2 }, costUsd: 0.01, sessionId: "s1" }))
      assert.deepStrictEqual([full.answer, full.tokens, full.costUsd, full.sessionId], ["VERDICT: APPROVED", { input: 10, output: 2 }, 0.01, "s1"])
    }))

  it.effect("a throw or a rejection is a failed call with the error's message", () =>
    Effect.gen(function*() {
      const thrown = yield* call(() => {
        throw new Error("disk full")
      })
      assert.deepStrictEqual([thrown.exitCode, thrown.stderr], [1, "disk full"])
      const rejected = yield* call(() => Promise.reject(new Error("no network")))
      assert.deepStrictEqual([rejected.exitCode, rejected.stderr], [1, "no network"])
    }))

  it.effect("a reply of the wrong shape is a failed call naming what is wrong, not a crash", () =>
    Effect.gen(function*() {
      for (const bad of [undefined, null, 42, { answer: 42 }, { answer: "x", exitCode: "0" }, { text: "hi" }]) {
        const result = yield* call(() => bad as never)
        assert.strictEqual(result.exitCode, 1, JSON.stringify(bad))
        assert.include(result.stderr, "the agent function's reply is not", JSON.stringify(bad))
      }
      const result = yield* call(() => ({ answer: "x", exitCode: "0" }) as never)
      assert.include(result.stderr, "exitCode")
    }))

  it.effect("at request.timeoutMs the call times out and the function's signal aborts", () =>
    Effect.gen(function*() {
      let aborted = false
      const fiber = yield* call((_request, signal) =>
        new Promise<string>(() => {
          signal.addEventListener("abort", () => {
            aborted = true
          })
        }), 5_000).pipe(Effect.forkChild)
      yield* TestClock.adjust(4_999)
      assert.isFalse(aborted)
      yield* TestClock.adjust(1)
      const result = yield* Fiber.join(fiber)
      assert.isTrue(result.timedOut)
      assert.strictEqual(result.durationMs, 5_000)
      assert.isTrue(aborted)
    }))
})
