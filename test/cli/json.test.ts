/**
 * `--json` of every read command, and the JSON Schema of run-log events, end to end (issue 14, "What
 * must be shown"): on a scratch repository after a real swarm (the fake claude and codex, worktrees
 * kept, one undecodable task file), each command prints one JSON document on stdout that decodes with
 * the Schema a library package exports for it, and says what the run did; every line of the run's
 * log validates against `@oompa/core/oompa-events.schema.json` with a JSON Schema validator that is
 * not oompa's own (ajv, draft 2020-12).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { HarnessCheck, NodeGit } from "@oompa/adapters-node"
import { RunSummary, TaskListing } from "@oompa/core"
import Ajv2020 from "ajv/dist/2020.js"
import { Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, oompa, type RunResult, runIds, type Scratch, scratchRepo, show, workspaceRoot } from "./helpers.ts"

afterAll(cleanupAll)

/** One swarm, shared by the read-only tests below. */
let swarmed: { readonly scratch: Scratch; readonly runId: string } | undefined
const swarmRepo = () => {
  if (swarmed !== undefined) return swarmed
  const scratch = scratchRepo({
    config: {
      workers: [{ model: "claude:opus", role: "executor", count: 2, iterations: 5 }],
      review_model: "codex:gpt-5-codex"
    },
    pending: [
      { id: "task-a", summary: "Write src/task-a.txt" },
      { id: "task-b", summary: "Write src/task-b.txt" }
    ]
  })
  // Not a task: the queue sets it aside in invalid/, which `tasks --json` must report.
  fs.writeFileSync(path.join(scratch.repo, "tasks/pending/broken.json"), "{\"summary\": ")
  const run = oompa(scratch, ["swarm", "--keep-worktrees"])
  assert.strictEqual(run.status, 0, show(run))
  const [runId] = runIds(scratch)
  assert.isDefined(runId)
  swarmed = { scratch, runId: runId! }
  return swarmed
}

/** Runs a `--json` command: exit 0, nothing but the document on stdout, decoded with `schema`. */
const readJson = <A, I>(scratch: Scratch, args: ReadonlyArray<string>, schema: Schema.Codec<A, I>): A => {
  const result: RunResult = oompa(scratch, args)
  assert.strictEqual(result.status, 0, show(result))
  return Schema.decodeUnknownSync(schema)(JSON.parse(result.stdout))
}

describe("--json on every read command decodes with the exported Schema", () => {
  it("status --json: RunSummary of @oompa/core", () => {
    const { runId, scratch } = swarmRepo()
    const summary = readJson(scratch, ["status", "--json"], RunSummary.RunSummary)
    assert.strictEqual(summary.runId, runId)
    assert.strictEqual(summary.outcome, "ok")
    assert.strictEqual(summary.merged, 2)
    assert.deepStrictEqual(summary.workers.map((w) => [w.id, w.agent, w.stopped]), [["w0", "claude:opus", "no-tasks"], ["w1", "claude:opus", "no-tasks"]])
  })

  it("list --json: RunSummary.RunList of @oompa/core", () => {
    const { runId, scratch } = swarmRepo()
    const runs = readJson(scratch, ["list", "--json"], RunSummary.RunList)
    assert.deepStrictEqual(runs.map((r) => [r.runId, r.outcome, r.merged]), [[runId, "ok", 2]])
  })

  it("view RUN --json: RunSummary.RunView of @oompa/core, the summary and every event of the log", () => {
    const { runId, scratch } = swarmRepo()
    const view = readJson(scratch, ["view", runId, "--json"], RunSummary.RunView)
    const logLines = fs.readFileSync(path.join(scratch.repo, ".oompa/runs", runId, "events.jsonl"), "utf8").trimEnd().split("\n")
    assert.strictEqual(view.events.length, logLines.length)
    assert.strictEqual(view.events[0]!._tag, "SwarmStarted")
    assert.strictEqual(view.events.filter((e) => e._tag === "MergeResult" && e.outcome === "merged").length, view.summary.merged)
    assert.strictEqual(view.summary.merged, 2)
  })

  it("tasks --json: TaskListing of @oompa/core, with the merged tasks and the invalid file", () => {
    const { scratch } = swarmRepo()
    const listing = readJson(scratch, ["tasks", "--json"], TaskListing.TaskListing)
    assert.deepStrictEqual(listing.complete.map((t) => t.id), ["task-a", "task-b"])
    assert.isTrue(listing.complete.every((t) => typeof t.merged_sha === "string" && t.merged_sha.length === 40))
    assert.deepStrictEqual([listing.pending.length, listing.current.length, listing.failed.length], [0, 0, 0])
    assert.deepStrictEqual(listing.invalid.map((i) => [i.name, i.content]), [["broken.json", "{\"summary\": "]])
    assert.isNotEmpty(listing.invalid[0]!.invalid_reason)
  })

  it("worktrees --json: NodeGit.WorktreeList of @oompa/adapters-node, the kept worktrees", () => {
    const { scratch } = swarmRepo()
    const worktrees = readJson(scratch, ["worktrees", "--json"], NodeGit.WorktreeList)
    assert.deepStrictEqual(worktrees.map((w) => w.worker), ["w0", "w1"])
    for (const w of worktrees) {
      assert.strictEqual(path.dirname(w.path), scratch.worktrees)
      assert.isTrue(fs.existsSync(path.join(w.path, "README.md")), w.path)
    }
  })

  it("check --json: HarnessCheck.CheckReport of @oompa/adapters-node; exit 1 when a harness oompa.json uses is not usable", () => {
    const { scratch } = swarmRepo()
    const report = readJson(scratch, ["check", "--json"], HarnessCheck.CheckReport)
    assert.deepStrictEqual(report.required, ["claude", "codex"])
    assert.isTrue(report.usable)
    assert.deepStrictEqual(report.harnesses.filter((h) => h.usable).map((h) => h.harness), ["codex", "claude"])
    assert.strictEqual(report.harnesses.find((h) => h.harness === "gemini")!.available, false)

    // Only gemini is used, and it is not installed: codex and claude being there does not help.
    const geminiOnly = scratchRepo({ config: { workers: [{ model: "gemini:gemini-2.5-pro" }] } })
    const failed = oompa(geminiOnly, ["check", "--json"])
    assert.strictEqual(failed.status, 1, show(failed))
    const failedReport = Schema.decodeUnknownSync(HarnessCheck.CheckReport)(JSON.parse(failed.stdout))
    assert.deepStrictEqual([failedReport.required, failedReport.usable], [["gemini"], false])
    assert.deepStrictEqual(failed.stderr.trimEnd().split("\n"), ["oompa: check: oompa.json uses gemini, which is not usable: oompa swarm would refuse to start"])
    const plain = oompa(geminiOnly, ["check"])
    assert.strictEqual(plain.status, 1, show(plain))
    assert.match(plain.stdout, /^missing gemini\s/m)

    // Workers on claude (usable) reviewed by gemini (missing): check fails as the run's preflight would.
    const mixed = scratchRepo({ config: { workers: [{ model: "claude:opus" }], review_model: "gemini:gemini-2.5-pro" } })
    const mixedCheck = oompa(mixed, ["check"])
    assert.strictEqual(mixedCheck.status, 1, show(mixedCheck))
    assert.include(mixedCheck.stderr, "oompa.json uses gemini, which is not usable")
    const refused = oompa(mixed, ["swarm"])
    assert.strictEqual(refused.status, 2, show(refused))
  })
})

describe("oompa-events.schema.json", () => {
  const schema = JSON.parse(fs.readFileSync(path.join(workspaceRoot, "packages/core/oompa-events.schema.json"), "utf8")) as object
  const validate = new Ajv2020.default({ strict: true, allErrors: true }).compile(schema)

  it("every line of a real run log validates against it", () => {
    const { runId, scratch } = swarmRepo()
    const lines = fs.readFileSync(path.join(scratch.repo, ".oompa/runs", runId, "events.jsonl"), "utf8").trimEnd().split("\n")
    const tags = new Set<string>()
    for (const [index, line] of lines.entries()) {
      const event = JSON.parse(line) as { readonly _tag: string }
      assert.isTrue(validate(event), `line ${index + 1} (${event._tag}): ${JSON.stringify(validate.errors)}`)
      tags.add(event._tag)
    }
    // The log exercised the schema's shapes, not only a trivial event or two.
    for (const tag of ["SwarmStarted", "TaskClaimed", "AgentFinished", "VerdictGiven", "MergeResult", "TaskMoved", "IterationFinished", "SwarmFinished"]) {
      assert.isTrue(tags.has(tag), tag)
    }
  })

  it("rejects what is not an event: an unknown tag, a wrong outcome, a missing field", () => {
    const { runId, scratch } = swarmRepo()
    const lines = fs.readFileSync(path.join(scratch.repo, ".oompa/runs", runId, "events.jsonl"), "utf8").trimEnd().split("\n")
    const merge = JSON.parse(lines.find((line) => line.includes("\"_tag\":\"MergeResult\""))!) as Record<string, unknown>
    assert.isTrue(validate(merge))
    assert.isFalse(validate({ ...merge, _tag: "MergeDone" }))
    assert.isFalse(validate({ ...merge, outcome: "landed" }))
    const { branch: _branch, ...withoutBranch } = merge
    assert.isFalse(validate(withoutBranch))
  })
})
