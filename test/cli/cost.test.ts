/**
 * Cost for every harness (issue 18), end to end: the bundled CLI with the fake `codex` (which, like
 * the real one, reports tokens and no dollars) first on PATH.
 * Goal: each codex call's dollars are its tokens — its cached share at the cache's rate — at the
 * price the pinned table lists for the model; `budget.max_cost_usd` stops a codex swarm on them; the
 * summary, the run log and `status --json` say the cost is estimated, and with which table. A model
 * the table does not know, under a cost budget, makes the run refuse to start (exit 2, nothing
 * claimed) until oompa.json's `pricing` names it; then its calls are priced at that price.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, fakeCalls, oompa, runIds, type Scratch, scratchRepo, show, tasksIn } from "./helpers.ts"

afterAll(cleanupAll)

const table = "@pydantic/genai-prices 0.1.8"

interface AgentFinished {
  readonly _tag: "AgentFinished"
  readonly agent: string
  readonly tokens: { readonly input: number; readonly output: number }
  readonly costUsd?: number
  readonly costEstimatedWith?: string
}

const agentCalls = (scratch: Scratch): ReadonlyArray<AgentFinished> => {
  const [runId] = runIds(scratch)
  const log = path.join(scratch.repo, ".oompa/runs", runId!, "events.jsonl")
  return fs.readFileSync(log, "utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as { _tag: string }).filter((e): e is AgentFinished => e._tag === "AgentFinished")
}

const tasks = ["a", "b", "c", "d"].map((id) => ({ id: `task-${id}`, summary: `Write src/task-${id}.txt` }))

describe("cost for every harness", () => {
  it("codex's tokens become dollars at the table's price (cached input at its rate); max_cost_usd stops the swarm on them; the summary says they are estimated, and from what", () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "codex:gpt-5.5", role: "executor", iterations: 4 }], review_model: "codex:gpt-5.5", budget: { max_cost_usd: 0.05 } },
      pending: tasks
    })
    const result = oompa(scratch, ["swarm"], { env: { E2E_CACHED: "800" } })
    assert.strictEqual(result.status, 0, show(result))
    assert.include(result.stdout, "budget max_cost_usd ended the run")

    // Each call: its tokens at gpt-5.5's listed price, $5 per million input tokens, $0.50 cached, $30 output.
    const calls = agentCalls(scratch)
    assert.isAtLeast(calls.length, 2)
    for (const call of calls) {
      assert.strictEqual(call.costEstimatedWith, table, call.agent)
      assert.closeTo(call.costUsd!, ((call.tokens.input - 800) * 5 + 800 * 0.5 + call.tokens.output * 30) / 1e6, 1e-12)
    }
    const spent = calls.reduce((sum, call) => sum + call.costUsd!, 0)
    // The budget was checked before every call: the last one started under it, and none after.
    assert.isAtLeast(spent, 0.05)
    assert.isBelow(spent - calls[calls.length - 1]!.costUsd!, 0.05)
    assert.isAbove(tasksIn(scratch, "pending").length, 0, "work was left when the budget ran out")

    assert.include(result.stdout, `, $${spent.toFixed(2)} (estimated from tokens with ${table})`)
    const status = oompa(scratch, ["status", "--json"])
    assert.strictEqual(status.status, 0, show(status))
    const summary = JSON.parse(status.stdout) as { costUsd: number; estimatedCostUsd: number; priceTables: Array<string>; budget: string }
    assert.closeTo(summary.costUsd, spent, 1e-12)
    assert.closeTo(summary.estimatedCostUsd, spent, 1e-12)
    assert.deepStrictEqual(summary.priceTables, [table])
    assert.strictEqual(summary.budget, "max_cost_usd")
    assert.include(oompa(scratch, ["status"]).stdout, `(estimated from tokens with ${table})`)
  })

  it("a model the table does not price, under a cost budget: the run refuses to start (exit 2), naming the model and `pricing`; nothing is claimed", () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "codex:gpt-6.1-sol", role: "executor", iterations: 2 }], budget: { max_cost_usd: 1 } },
      pending: tasks.slice(0, 1)
    })
    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 2, show(result))
    assert.include(result.stderr, "oompa.json: budget.max_cost_usd: cannot be enforced: calls of codex:gpt-6.1-sol would have no cost")
    assert.include(result.stderr, `${table} has no price for "gpt-6.1-sol"; give it one in "pricing"`)
    assert.deepStrictEqual(fakeCalls(scratch), [])
    assert.deepStrictEqual(tasksIn(scratch, "pending"), ["task-a"])
    assert.deepStrictEqual(runIds(scratch), [])
  })

  it("pricing names the model: the run starts, and its calls cost their tokens at that price", () => {
    const scratch = scratchRepo({
      config: {
        workers: [{ model: "codex:gpt-6.1-sol", role: "executor", iterations: 2 }],
        budget: { max_cost_usd: 1 },
        pricing: { "gpt-6.1-sol": { input: 2, output: 8, cache_read: 0.25 } }
      },
      pending: tasks.slice(0, 1)
    })
    const result = oompa(scratch, ["swarm"], { env: { E2E_CACHED: "500" } })
    assert.strictEqual(result.status, 0, show(result))
    const calls = agentCalls(scratch)
    assert.strictEqual(calls.length, 2, "the proposal and its review")
    for (const call of calls) {
      assert.strictEqual(call.costEstimatedWith, "oompa.json pricing")
      assert.closeTo(call.costUsd!, ((call.tokens.input - 500) * 2 + 500 * 0.25 + call.tokens.output * 8) / 1e6, 1e-12)
    }
    assert.include(result.stdout, "(estimated from tokens with oompa.json pricing)")
  })
})
