/**
 * The simulated agents: one `ScriptedAgent` script that answers every call — proposals, fixes,
 * conflict resolutions, plans and reviews — from the run's own agent stream, with the faults the
 * seed drew: a crash, a hang past the timeout, a garbage answer, an edit of the line every other
 * agent edits too (a conflict), a write to a denied path, a premature "done", no change at all, a
 * rejection or a request for changes, and — hostile — a move of main itself, outside the merge queue.
 *
 * The model is also a witness: what it approved and where it moved main is recorded in the invariant
 * checker as the model's intent, before the orchestrator sees the answer, so a broken orchestrator
 * cannot talk the checker into accepting what no reviewer approved.
 *
 * @since 0.1.0
 */
import { timeoutMarginMs } from "../programs/AgentCall.ts"
import type * as MemoryGit from "../testing/MemoryGit.ts"
import type * as ScriptedAgent from "../testing/ScriptedAgent.ts"
import type { InvariantChecker } from "./Invariants.ts"
import type { Parameters } from "./Parameters.ts"
import type * as Prng from "./Prng.ts"

/**
 * The mutable switch of a simulated world: faults on (the safety phase) or off (the liveness phase).
 *
 * @category models
 * @since 0.1.0
 */
export interface Switches {
  faults: boolean
}

/**
 * What the model answers from, and what it reports to.
 *
 * @category models
 * @since 0.1.0
 */
export interface AgentModelOptions {
  readonly parameters: Parameters
  /** The agents' own stream: every answer is drawn from it, in call order. */
  readonly prng: Prng.Prng
  readonly switches: Switches
  readonly repo: MemoryGit.MemoryRepo
  readonly checker: InvariantChecker
  /** A proposal's timeout: a hang lasts past it. */
  readonly timeoutMs: number
}

/**
 * Rewrites a file with conflict markers into one holding both sides, as an agent resolving it would.
 *
 * @category models
 * @since 0.1.0
 */
export const resolveMarkers = (text: string): string =>
  text.split("\n").filter((line) => !/^(<<<<<<<|=======|>>>>>>>)/.test(line)).join("\n")

/**
 * What a planned task depends on, when the run's tasks have dependencies: maybe the task planned
 * just before it in the same answer, maybe one of the run's first tasks (`t00`, …: any folder, or
 * none when the run was given tasks of its own, which then sends it to `invalid/`). No draw when the
 * run has none, so such a run's answers are what they were before dependencies existed.
 */
const plannedDependencies = (options: AgentModelOptions, before: ReadonlyArray<string>): { readonly depends_on?: ReadonlyArray<string> } => {
  const { parameters: p, prng } = options
  if (p.dependencies.rate === 0) return {}
  const dependencies = [
    ...(before.length > 0 && prng.chance(0.5) ? [before[before.length - 1]!] : []),
    ...(p.tasks > 0 && prng.chance(p.dependencies.rate) ? [`t${String(prng.int(0, p.tasks - 1)).padStart(2, "0")}`] : [])
  ]
  return dependencies.length === 0 ? {} : { depends_on: dependencies }
}

/**
 * The agent model: each call's answer drawn from the run's agent stream. Approvals are recorded in
 * the checker as the model's intent, before the orchestrator sees the answer.
 *
 * @category constructors
 * @since 0.1.0
 */
export const script = (options: AgentModelOptions): ScriptedAgent.Script => {
  const { checker, parameters: p, prng, repo, switches, timeoutMs } = options
  const teammate = { pushes: 0 }
  return (request, files) => {
    const f = p.faults
    const faulty = (probability: number) => switches.faults && prng.chance(probability)
    const delayMs = prng.int(1, 30) * 1000
    if (faulty(f.agentCrash)) return { answer: "", exitCode: 1, stderr: "simulated agent crash", delayMs }
    if (faulty(f.agentHang)) return { answer: "", delayMs: timeoutMs + timeoutMarginMs + 30_000 }
    if (faulty(f.moveMain)) {
      // Hostile (any agent, a reviewer too): main moved to a commit of the workspace's unreviewed files, outside the merge queue.
      const sha = repo.commitWithParents([repo.mainHead()], `${request.worker} ${request.iteration}: moved main itself`, repo.workspaceHeadAt(request.cwd))
      checker.foreignMove(sha)
      repo.setBranch(repo.targetBranch, sha)
    }
    // A teammate pushes to a remote target (not a fault of oompa's: the queue must build on it, never overwrite it).
    // Drawn only for a remote target, so the draws of every other seed stay what they were.
    if (repo.remote !== undefined && faulty(p.teammatePush)) {
      const n = ++teammate.pushes
      const file = prng.chance(0.3) ? "shared.txt" : `teammate/${n}.txt`
      checker.teammatePushed(repo.pushAsTeammate({ [file]: `teammate push ${n}\n` }, `teammate: push ${n}`))
    }
    if (request.call === "review") {
      if (faulty(f.garbage)) return { answer: "¯\\_(ツ)_/¯ interesting change, not sure", delayMs }
      if (faulty(f.reject)) return { answer: "Wrong approach.\nVERDICT: REJECTED\nstart over", delayMs }
      if (faulty(f.needsChanges)) return { answer: "VERDICT: NEEDS_CHANGES\n- handle the empty case", delayMs }
      const head = repo.workspaceHeadAt(request.cwd)
      if (head !== undefined) checker.approvedHeads.add(head)
      return { answer: "Good.\nVERDICT: APPROVED", delayMs }
    }
    if (request.call === "plan") {
      const count = prng.int(0, 3)
      const ids = Array.from({ length: count }, (_, i) => `p${request.iteration}-${i}-${prng.int(0, 9999)}`)
      return { answer: "planned", delayMs, newTasks: ids.map((id, i) => ({ id, summary: "planned task", ...plannedDependencies(options, ids.slice(0, i)) })) }
    }
    // A Map, not an object: the paths are new on every call, and each new key would be a new shape.
    const edits = new Map<string, string | null>()
    if (request.call === "resolve-conflict") {
      for (const file of files.list()) {
        const text = files.read(file)
        if (typeof text === "string" && text.includes("<<<<<<<")) edits.set(file, resolveMarkers(text))
      }
      return { answer: "resolved", delayMs, edits }
    }
    if (request.call === "fix" && files.read(".env") !== undefined) edits.set(".env", null)
    if (!faulty(f.noChange)) edits.set(`src/${request.task ?? request.worker}-${request.iteration}-${prng.int(0, 999)}.txt`, `${request.call} by ${request.worker}\n`)
    if (faulty(f.conflict)) {
      const shared = files.read("shared.txt")
      const lines = typeof shared === "string" ? shared.split("\n") : []
      edits.set("shared.txt", [`${request.worker} ${request.iteration} ${prng.int(0, 1e6)}`, ...lines.slice(1)].join("\n"))
    }
    if (faulty(f.policy)) edits.set(".env", "SECRET=1\n")
    return { answer: faulty(f.done) ? "all done\n__DONE__\n" : "done", delayMs, edits, sessionId: `${request.worker}-${request.iteration}` }
  }
}
