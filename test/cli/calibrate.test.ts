/**
 * `oompa sim calibrate` end to end (issue 23): after a real swarm of fake agents (a proposer that
 * takes 400 ms, a reviewer that rejects one task), the calibration names each agent and call kind
 * with its calls, latency, tokens and cost, the reviewer's verdict shares, and the run's landings;
 * the file it writes decodes and is what `--json` prints; nothing to calibrate from, `--runs 0` and an `--out` in a missing folder are refused with exit 2,
 * naming what is wrong, and write nothing.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Calibration } from "@oompa/core/simulation"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, oompa, runIds, scratchRepo, show } from "./helpers.ts"

afterAll(cleanupAll)

const decode = Schema.decodeUnknownSync(Schema.fromJsonString(Calibration.Calibration))

describe("oompa sim calibrate", () => {
  it("fits the agents, the reviewer and the run from the last runs, writes the file and prints the table", () => {
    const scratch = scratchRepo({
      config: {
        workers: [{ model: "claude:opus", role: "executor", count: 2, iterations: 4 }],
        review_model: "codex:gpt-5-codex",
        max_task_attempts: 1
      },
      pending: ["alpha", "bravo", "charlie", "doomed"].map((id) => ({ id, summary: `Write src/${id}.txt` }))
    })
    const empty = oompa(scratch, ["sim", "calibrate"])
    assert.strictEqual(empty.status, 2, show(empty))
    assert.include(empty.stderr, "no agent calls")

    const swarm = oompa(scratch, ["swarm"], { env: { E2E_REJECT: "doomed", E2E_DELAY_MS: "400" }, timeoutMs: 120_000 })
    assert.strictEqual(swarm.status, 1, show(swarm))
    const [runId] = runIds(scratch)

    const run = oompa(scratch, ["sim", "calibrate", "--runs", "3"])
    assert.strictEqual(run.status, 0, show(run))
    const file = path.join(scratch.repo, ".oompa", "calibration.json")
    const calibration = decode(fs.readFileSync(file, "utf8"))
    assert.deepStrictEqual(calibration.runs.map((r) => [r.runId, r.workers, r.merged]), [[runId, 2, 3]])
    const propose = calibration.agents.find((a) => a.agent === "claude:opus" && a.call === "propose")!
    assert.isAtLeast(propose.calls, 4)
    assert.isAtLeast(propose.latencyMs[0]!, 400, "every proposal took at least the fake's 400 ms")
    assert.isDefined(propose.tokens)
    assert.isDefined(propose.costUsd)
    const review = calibration.agents.find((a) => a.agent === "codex:gpt-5-codex" && a.call === "review")!
    assert.isAtLeast(review.calls, 4)
    const [reviewer] = calibration.reviewers
    assert.strictEqual(reviewer!.reviewer, "codex:gpt-5-codex")
    assert.strictEqual(reviewer!.first.rejected * reviewer!.first.count, 1, "one first look rejected (doomed)")
    assert.strictEqual(calibration.merges.conflictRate, 0)

    assert.match(run.stdout, /^calibrated from 1 run \(/m)
    assert.match(run.stdout, /^claude:opus\s+propose\s+\d+ /m)
    assert.match(run.stdout, /^codex:gpt-5-codex\s+review\s+\d+ /m)
    assert.include(run.stdout, "reviewer codex:gpt-5-codex: first look")
    assert.include(run.stdout, `run ${runId}: 2 workers, 3 merged`)
    assert.include(run.stdout, "wrote .oompa/calibration.json")

    const json = oompa(scratch, ["sim", "calibrate", "--json", "--out", "team.json"])
    assert.strictEqual(json.status, 0, show(json))
    assert.deepStrictEqual(decode(json.stdout), calibration)
    assert.deepStrictEqual(decode(fs.readFileSync(path.join(scratch.repo, "team.json"), "utf8")), calibration)

    for (const [args, flag] of [[["--runs", "0"], "--runs"], [["--out", "missing/calibration.json"], "--out"]] as const) {
      const before = fs.readFileSync(file, "utf8")
      const refused = oompa(scratch, ["sim", "calibrate", ...args])
      assert.strictEqual(refused.status, 2, show(refused))
      assert.include(refused.stderr, flag)
      assert.strictEqual(fs.readFileSync(file, "utf8"), before)
    }
    assert.isFalse(fs.existsSync(path.join(scratch.repo, "missing")))
    // A FIFO (or a device) at --out is refused, never replaced by a file.
    execFileSync("mkfifo", [path.join(scratch.repo, "pipe")])
    const fifo = oompa(scratch, ["sim", "calibrate", "--out", "pipe"])
    assert.strictEqual(fifo.status, 2, show(fifo))
    assert.include(fifo.stderr, "not a regular file")
    assert.isTrue(fs.statSync(path.join(scratch.repo, "pipe")).isFIFO())
  }, 180_000)
})
