/**
 * The swarm, in memory: a planner creates tasks, two executors implement them, the reviewer sends
 * one back and approves the fix, the policy gate catches a change to `.env`, and every merge lands
 * on main one at a time. No agent CLI, git or disk involved — the same programs the CLI runs, over
 * the in-memory layers of `@oompa/core/testing`.
 *
 * Run it with `NODE_OPTIONS=--conditions=@oompa/source npx node examples/src/in-memory-demo.ts`; `npm run demo` (the CLI's `oompa demo`) tells the same
 * story on a real scratch repository.
 */
import { Effect } from "effect"
import { Event, Swarm, SwarmConfig } from "@oompa/core"
import { ScriptedAgent, SimulatedTime, TestSwarm } from "@oompa/core/testing"
import { TestClock } from "effect/testing"

const worker = (id: string, role: SwarmConfig.Role): SwarmConfig.WorkerConfig => ({
  id: id as SwarmConfig.WorkerConfig["id"],
  agent: { harness: "claude", model: "opus" },
  role,
  iterations: role === "planner" ? 1 : 5,
  prompt: [],
  wait_between: 0,
  budget: {}
})

const tasks = [
  { id: "add-greeting", summary: "Add a greeting function", files: ["src/greeting.ts"] },
  { id: "add-farewell", summary: "Add a farewell function", files: ["src/farewell.ts"] },
  { id: "add-config", summary: "Read the port from the environment", files: ["src/config.ts"] }
]

let reviewsOfGreeting = 0
const script = ScriptedAgent.byCall({
  plan: () => ({ answer: "I planned three tasks.", delayMs: 2_000, newTasks: tasks }),
  propose: (request) => {
    const edits: Record<string, string> = {
      "add-greeting": { "src/greeting.ts": "export const greet = (name) => `hello ${name}`\n" },
      "add-farewell": { "src/farewell.ts": "export const bye = (name: string) => `bye ${name}`\n" },
      // This one also writes a secret: the policy gate sends it back before any reviewer sees it.
      "add-config": { "src/config.ts": "export const port = Number(process.env.PORT ?? 3000)\n", ".env": "PORT=3000\n" }
    }[request.task ?? ""] ?? {}
    return { answer: "Implemented.", delayMs: 8_000, edits }
  },
  fix: (request) =>
    request.task === "add-config"
      ? { answer: "Removed the .env file.", delayMs: 3_000, edits: { ".env": null } }
      : { answer: "Added the type.", delayMs: 3_000, edits: { "src/greeting.ts": "export const greet = (name: string) => `hello ${name}`\n" } },
  review: (request) => {
    if (request.task === "add-greeting" && ++reviewsOfGreeting === 1) {
      return { answer: "The parameter has no type.\nVERDICT: NEEDS_CHANGES\n- give `name` the type string", delayMs: 4_000 }
    }
    return { answer: "Clean and small.\nVERDICT: APPROVED", delayMs: 4_000 }
  }
})

const describe = (event: Event.Event): string | undefined => {
  const t = `${String(Math.round(event.at / 1000)).padStart(4)}s`
  switch (event._tag) {
    case "TaskMoved":
      return `${t}  task ${event.task} -> ${event.to}/${event.worker ? ` (${event.worker})` : ""}`
    case "PolicyViolated":
      return `${t}  ${event.worker}: policy gate: ${event.violations.join("; ")}`
    case "VerdictGiven":
      return `${t}  ${event.worker}: review #${event.attempt}: ${event.verdict}${event.feedback ? ` — ${event.feedback.split("\n")[0]}` : ""}`
    case "MergeResult":
      return `${t}  ${event.worker}: merge ${event.outcome}${event.sha ? ` ${event.sha.slice(0, 10)}` : ""}`
    case "WorkerFinished":
      return `${t}  ${event.worker} finished: ${event.reason}`
    default:
      return undefined
  }
}

const world = TestSwarm.makeWorld({
  files: { "README.md": "# demo\n" },
  script,
  observe: (event) => {
    const line = describe(event)
    if (line !== undefined) console.log(line)
  }
})
const config = SwarmConfig.makeSwarmConfig({ workers: [worker("planner-0", "planner"), worker("w1", "executor"), worker("w2", "executor")] })

console.log("oompa demo (in memory): a planner, two executors, a reviewer, the policy gate and the merge queue\n")
const report = await Effect.runPromise(
  SimulatedTime.run(Swarm.run(config, { runId: "00de0000" }).pipe(Effect.provide(TestSwarm.layer(world)))).pipe(
    Effect.provide(TestClock.layer())
  )
)
console.log(`\nsummary: ${report.outcome}; ${report.merged} merged, ${report.rejected} rejected, ${report.failed} failed; ` +
  `${report.agentCalls} agent calls in ${Math.round(report.durationMs / 1000)} s of simulated time`)
console.log("\nmain, newest first:")
for (const sha of [...world.repo.mainHistory].reverse()) {
  console.log(`  ${sha.slice(0, 10)}  ${world.repo.commit(sha).message.split("\n")[0]}`)
}
console.log("\n`npm run demo` (the CLI's `oompa demo`) runs this story on a real scratch git repository, with its run log on disk.")
if (report.outcome !== "ok") process.exitCode = 1
