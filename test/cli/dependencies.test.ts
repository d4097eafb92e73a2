/**
 * Task dependencies end to end (issue 18, "What must be shown"): the bundled CLI over a temporary
 * repository, the prompt-driven fake `claude` and `codex` first on PATH, task files written into
 * `tasks/pending/` by hand as a user writes them.
 * Goal: a task waits for its dependencies (`depends_on`, or `blocked_by`) — main's merges land in
 * dependency order where claim order alone would say otherwise, and `oompa tasks` shows what each
 * blocked task waits for; a cycle or an unknown dependency puts the task in `invalid/` with a reason
 * naming it; a dependency that fails fails its dependents (exit 1, each with the reason); a
 * planner's tasks may depend on each other and on queued ones.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { TaskListing } from "@oompa/core"
import { Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, git, oompa, readTask, runIds, scratchRepo, type Scratch, show, tasksIn } from "./helpers.ts"

afterAll(cleanupAll)

/** The tasks main's first-parent merges landed, oldest first (their `Oompa-Task` trailers). */
const mergeOrder = (scratch: Scratch): Array<string> =>
  [...git(scratch.repo, "log", "--first-parent", "--reverse", "--format=%B", "main").matchAll(/^Oompa-Task: (\S+)$/gm)].map((m) => m[1]!)

/** The events of the repository's runs, oldest run first. */
const events = (scratch: Scratch): Array<{ readonly _tag: string; readonly task?: string; readonly to?: string }> =>
  runIds(scratch).flatMap((run) =>
    fs.readFileSync(path.join(scratch.repo, ".oompa/runs", run, "events.jsonl"), "utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as never)
  )

describe("oompa swarm: task dependencies", () => {
  it("merges land in dependency order, whatever the claim order says; oompa tasks shows what each blocked task waits for", () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "claude:opus", role: "executor", count: 2, iterations: 4 }], review_model: "codex:gpt-5-codex" },
      // By id, a-last would be claimed first and z-first last.
      pending: [
        { id: "a-last", summary: "Write src/a-last.txt", depends_on: ["m-middle"] },
        { id: "b-free", summary: "Write src/b-free.txt" },
        { id: "m-middle", summary: "Write src/m-middle.txt", blocked_by: ["z-first"] },
        { id: "z-first", summary: "Write src/z-first.txt" }
      ]
    })
    const before = oompa(scratch, ["tasks"])
    assert.strictEqual(before.status, 0, show(before))
    assert.include(before.stdout, "pending/ (4, 2 blocked)\n  a-last  Write src/a-last.txt\n    blocked by m-middle (pending/)\n  b-free  Write src/b-free.txt\n")
    assert.include(before.stdout, "  m-middle  Write src/m-middle.txt\n    blocked by z-first (pending/)\n")
    const listing = Schema.decodeUnknownSync(TaskListing.TaskListing)(JSON.parse(oompa(scratch, ["tasks", "--json"]).stdout))
    assert.deepStrictEqual(listing.blocked, [
      { id: "a-last", waiting_for: [{ id: "m-middle", status: "pending" }] },
      { id: "m-middle", waiting_for: [{ id: "z-first", status: "pending" }] }
    ])

    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["a-last", "b-free", "m-middle", "z-first"])
    const order = mergeOrder(scratch)
    assert.strictEqual(order.length, 4, order.join(", "))
    assert.isBelow(order.indexOf("z-first"), order.indexOf("m-middle"), order.join(", "))
    assert.isBelow(order.indexOf("m-middle"), order.indexOf("a-last"), order.join(", "))
    // Neither was claimed before its dependency was complete.
    const log = events(scratch)
    const at = (tag: string, task: string, to?: string) => log.findIndex((e) => e._tag === tag && e.task === task && (to === undefined || e.to === to))
    assert.isBelow(at("TaskMoved", "z-first", "complete"), at("TaskClaimed", "m-middle"))
    assert.isBelow(at("TaskMoved", "m-middle", "complete"), at("TaskClaimed", "a-last"))
    const after = oompa(scratch, ["tasks", "--json"])
    assert.deepStrictEqual(Schema.decodeUnknownSync(TaskListing.TaskListing)(JSON.parse(after.stdout)).blocked, [])
  })

  it("a cycle or an unknown dependency puts the task in invalid/ with a reason naming it; the other tasks run", () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "claude:opus", role: "executor", iterations: 3 }], review_model: "codex:gpt-5-codex" },
      pending: [
        { id: "x", summary: "Write src/x.txt", depends_on: ["y"] },
        { id: "y", summary: "Write src/y.txt", blocked_by: ["x"] },
        { id: "u", summary: "Write src/u.txt", depends_on: ["no-such-task"] },
        { id: "w", summary: "Write src/w.txt" }
      ]
    })
    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["w"])
    assert.deepStrictEqual(tasksIn(scratch, "pending"), [])
    assert.deepStrictEqual(tasksIn(scratch, "invalid"), ["u", "x", "y"])
    assert.deepStrictEqual(mergeOrder(scratch), ["w"])
    const tasks = oompa(scratch, ["tasks"])
    assert.include(tasks.stdout, "invalid/ (3)\n")
    assert.include(tasks.stdout, "  u.json: u.json: depends on no-such-task, but no task in pending/, current/, complete/ or failed/ has that id\n")
    assert.include(tasks.stdout, "  x.json: x.json: its dependencies form a cycle: x -> y -> x\n")
    assert.include(tasks.stdout, "  y.json: y.json: its dependencies form a cycle: y -> x -> y\n")
    // The run log says so too, as the moves of this run.
    assert.include(result.stdout + result.stderr, "task x -> invalid/ (its dependencies form a cycle: x -> y -> x)")
  })

  it("a dependency that fails moves its dependents to failed/ with the reason, without running them; exit 1", () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "codex:gpt-5-codex", role: "executor", iterations: 4 }], max_task_attempts: 1 },
      pending: [
        { id: "base", summary: "Never right" },
        { id: "child", summary: "Needs base", depends_on: ["base"] },
        { id: "grandchild", summary: "Needs child", blocked_by: ["child"] },
        { id: "other", summary: "Write src/other.txt" }
      ]
    })
    const result = oompa(scratch, ["swarm"], { env: { E2E_REJECT: "base" } })
    assert.strictEqual(result.status, 1, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "failed"), ["base", "child", "grandchild"])
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["other"])
    assert.strictEqual(readTask(scratch, "failed", "child")["last_feedback"], "dependency base failed")
    assert.strictEqual(readTask(scratch, "failed", "grandchild")["last_feedback"], "dependency child failed (because base did)")
    // No agent ever worked on the dependents.
    const log = events(scratch)
    assert.isFalse(log.some((e) => e._tag === "TaskClaimed" && (e.task === "child" || e.task === "grandchild")))
    const status = JSON.parse(oompa(scratch, ["status", "--json"]).stdout) as { failedTasks: number; failed: Array<{ task: string; reason: string }> }
    assert.strictEqual(status.failedTasks, 3)
    assert.deepStrictEqual(status.failed.slice(1), [
      { task: "child", reason: "dependency base failed" },
      { task: "grandchild", reason: "dependency child failed (because base did)" }
    ])
    const tasks = oompa(scratch, ["tasks"])
    assert.include(tasks.stdout, "  child  Needs base\n    last feedback: dependency base failed\n")
  })

  it("a planner's tasks may depend on each other and on queued ones: created dependencies first, merged in that order", () => {
    const scratch = scratchRepo({
      config: {
        workers: [
          { model: "claude:opus", role: "planner", iterations: 1 },
          { model: "codex:gpt-5-codex-mini", role: "executor", iterations: 4 }
        ],
        review_model: "claude:sonnet"
      },
      pending: [{ id: "queued", summary: "Write src/queued.txt", priority: 200 }]
    })
    const planned = {
      "p-second.json": JSON.stringify({ id: "p-second", summary: "Write src/p-second.txt", depends_on: ["p-first", "queued"] }),
      "p-first.json": JSON.stringify({ id: "p-first", summary: "Write src/p-first.txt", priority: 300 })
    }
    const result = oompa(scratch, ["swarm"], { env: { E2E_PLAN_FILES: JSON.stringify(planned) } })
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["p-first", "p-second", "queued"])
    const order = mergeOrder(scratch)
    assert.strictEqual(order.at(-1), "p-second", order.join(", "))
    assert.deepStrictEqual(tasksIn(scratch, "invalid"), [])
  })
})
