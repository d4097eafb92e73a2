/**
 * `oompa sim plan` validated against real runs (issue 23). A real swarm of fake agents whose
 * distributions are known — proposals 1.8–3.0 s (fixed per task, spread evenly), reviews 0.6 s,
 * two tasks of twelve always rejected, one sent back for a fix once — is calibrated from its log.
 * The plan of that same swarm predicts the merges per hour and the claim-to-merge median the run
 * measured within 15%; the plan at three workers predicts a second real run's within 20%.
 * The command itself prints a table with a best point, and refuses bad flags and a damaged
 * calibration with exit 2, naming them.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { ConfigFile, Event } from "@oompa/core"
import { Calibration, Plan, Simulation } from "@oompa/core/simulation"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, oompa, oompaAsync, runIds, scratchRepo, show } from "./helpers.ts"

afterAll(cleanupAll)

const tasksPerWorker = 6
// Agent time well above oompa's own (~0.15 s an iteration), so that a neighbour test's load on the
// two cores moves a run's figures by less than the tolerance.
const fakes = { E2E_DELAY_MS: "1800", E2E_DELAY_JITTER_MS: "1200", E2E_REVIEW_DELAY_MS: "600", E2E_REJECT: "t03,t08,t15", E2E_FIX_ONCE: "t05,t17" }

const swarmConfig = (workers: number) => ({
  workers: [{ model: "claude:opus", role: "executor", count: workers, iterations: 3 * tasksPerWorker }],
  review_model: "codex:gpt-5-codex",
  max_task_attempts: 1
})

/** A real run of `workers` workers on `tasksPerWorker` tasks each: what it measured, and its log's folder. */
const realRun = (workers: number) => {
  const scratch = scratchRepo({
    config: swarmConfig(workers),
    pending: Array.from({ length: workers * tasksPerWorker }, (_, i) => ({ id: `t${String(i + 1).padStart(2, "0")}`, summary: `Write src/t${i + 1}.txt` }))
  })
  const run = oompa(scratch, ["swarm"], { env: fakes, timeoutMs: 240_000 })
  assert.include([0, 1], run.status, show(run))
  const [runId] = runIds(scratch)
  const events = fs.readFileSync(path.join(scratch.repo, ".oompa", "runs", runId!, "events.jsonl"), "utf8").trim().split("\n")
    .map((line) => Schema.decodeUnknownSync(Schema.fromJsonString(Event.Event))(line))
  const fitted = Calibration.fit([{ runId: runId!, events }])
  const measured = fitted.runs[0]!
  return {
    scratch,
    mergesPerHour: measured.merged * 3600_000 / measured.durationMs,
    claimToMergeP50: Calibration.median(measured.claimToMergeMs)!
  }
}

const within = (what: string, predicted: number, measured: number, tolerance: number) =>
  assert.isAtMost(Math.abs(predicted - measured) / measured, tolerance, `${what}: predicted ${predicted.toFixed(1)}, measured ${measured.toFixed(1)}`)

describe("oompa sim plan", () => {
  it("predicts a real run from its own calibration within 15%, and a run with more workers within 20%", async () => {
    const first = realRun(2)
    const calibrate = oompa(first.scratch, ["sim", "calibrate", "--runs", "1"])
    assert.strictEqual(calibrate.status, 0, show(calibrate))
    const calibration = Schema.decodeUnknownSync(Schema.fromJsonString(Calibration.Calibration))(
      fs.readFileSync(path.join(first.scratch.repo, ".oompa", "calibration.json"), "utf8")
    )
    // The swarm the run ran, as oompa read it from its oompa.json.
    const configFile = path.join(first.scratch.repo, "oompa.json")
    const config = Simulation.withBuiltInPrompts(await Effect.runPromise(ConfigFile.decodeConfigFile(fs.readFileSync(configFile, "utf8"), configFile)))
    const result = await Effect.runPromise(Plan.plan({ config, calibration, workers: [2, 3], speculation: [1], hours: 1, seeds: 12, tasksPerWorker }))
    const [two, three] = result.points
    within("merges per hour at 2 workers", two!.mergesPerHour.mean, first.mergesPerHour, 0.15)
    within("claim to merge p50 at 2 workers", two!.claimToMergeP50Ms.mean, first.claimToMergeP50, 0.15)

    const second = realRun(3)
    within("merges per hour at 3 workers", three!.mergesPerHour.mean, second.mergesPerHour, 0.2)
    within("claim to merge p50 at 3 workers", three!.claimToMergeP50Ms.mean, second.claimToMergeP50, 0.2)

    // The command: a table over the grid, one best point, in the repository of the first run.
    const printed = oompa(first.scratch, ["sim", "plan", "--workers", "1,2", "--hours", "0.5", "--seeds", "3"])
    assert.strictEqual(printed.status, 0, show(printed))
    assert.match(printed.stdout, /^\s+workers\s+queue\s+merges\/hour/m)
    assert.strictEqual(printed.stdout.split("\n").filter((line) => line.startsWith("best")).length, 1, printed.stdout)
    const json = oompa(first.scratch, ["sim", "plan", "--workers", "2", "--seeds", "2", "--json"])
    assert.strictEqual(json.status, 0, show(json))
    const decoded = Schema.decodeUnknownSync(Schema.fromJsonString(Plan.PlanResult))(json.stdout)
    assert.deepStrictEqual(decoded.points.map((p) => [p.workers, p.speculation, p.seeds, p.best]), [[2, 1, 2, true]])

    for (const [args, names] of [
      [["--workers", "0,4"], "--workers"],
      [["--speculation", "1,x"], "--speculation"],
      [["--hours", "25"], "--hours"],
      [["--calibration", "nowhere.json"], "nowhere.json"]
    ] as const) {
      const refused = oompa(first.scratch, ["sim", "plan", ...args])
      assert.strictEqual(refused.status, 2, show(refused))
      assert.include(refused.stderr, names)
    }
    // Ctrl-C stops a long plan within a run: exit 130.
    const long = oompaAsync(first.scratch, ["sim", "plan", "--workers", "16", "--seeds", "500"])
    await new Promise((done) => setTimeout(done, 2_000))
    const signalled = Date.now()
    long.child.kill("SIGINT")
    const stopped = await long.exited
    assert.strictEqual(stopped.status, 130, stopped.stdout + stopped.stderr)
    assert.isBelow(Date.now() - signalled, 10_000)

    fs.writeFileSync(path.join(first.scratch.repo, "bad.json"), JSON.stringify({ ...calibration, merges: { attempts: 1, conflictRate: 3 } }))
    const damaged = oompa(first.scratch, ["sim", "plan", "--calibration", "bad.json"])
    assert.strictEqual(damaged.status, 2, show(damaged))
    assert.match(damaged.stderr, /bad\.json: not a calibration.*conflictRate/)
  }, 400_000)
})
