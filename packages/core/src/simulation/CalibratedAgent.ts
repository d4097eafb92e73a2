/**
 * Simulated agents drawn from a calibration (issue 23): each call takes a latency drawn from the
 * calibrated quantiles of its agent and kind (plus, for a proposal, oompa's own time of an
 * iteration, which the in-memory git does not take), errs or times out at the calibrated rates, and
 * reports the calibrated mean tokens and cost; a reviewer's verdict falls as the calibration says,
 * first look and after a fix apart; a proposal changes nothing, writes a denied path, or edits the
 * line every conflicting change edits, at the calibrated rates. The test gate takes a calibrated
 * time and fails at the calibrated rate.
 *
 * Like `AgentModel`, it tells the invariant checker what it approved before the orchestrator sees
 * the answer: a plan runs the real orchestration with every invariant checked.
 *
 * @since 0.1.0
 */
import { formatModelString } from "../domain/AgentSpec.ts"
import type { AgentCallKind } from "../domain/Event.ts"
import type * as MemoryGit from "../testing/MemoryGit.ts"
import type * as ScriptedAgent from "../testing/ScriptedAgent.ts"
import type * as ScriptedCommands from "../testing/ScriptedCommands.ts"
import { timeoutMarginMs } from "../programs/AgentCall.ts"
import { resolveMarkers } from "./AgentModel.ts"
import * as Calibration from "./Calibration.ts"
import type { InvariantChecker } from "./Invariants.ts"
import type * as Prng from "./Prng.ts"

/**
 * The calibrated calls for `agent`'s calls of kind `call`: its own when measured, else every
 * agent's calls of that kind (the largest sample: a model the runs never used is drawn like the
 * others); a fix, a conflict resolution or a plan never measured is drawn like a proposal.
 * `undefined` when not even that was measured.
 *
 * @category lookup
 * @since 0.1.0
 */
export const callsOf = (calibration: Calibration.Calibration, agent: string, call: AgentCallKind): Calibration.AgentCalls | undefined => {
  const own = calibration.agents.find((a) => a.agent === agent && a.call === call && a.calls > 0)
  if (own !== undefined) return own
  const same = calibration.agents.filter((a) => a.call === call && a.calls > 0)
  if (same.length > 0) return same.reduce((a, b) => (b.calls > a.calls ? b : a))
  return call === "propose" || call === "review" ? undefined : callsOf(calibration, agent, "propose")
}

/**
 * The call kinds a swarm makes that the calibration cannot draw (proposals always; reviews when
 * review is on): planning with it would invent them.
 *
 * @category lookup
 * @since 0.1.0
 */
export const missingCalls = (calibration: Calibration.Calibration, config: { readonly review: boolean }): ReadonlyArray<AgentCallKind> =>
  (["propose", ...(config.review ? ["review" as const] : [])] as const).filter((call) => callsOf(calibration, "", call) === undefined)

const reviewerOf = (calibration: Calibration.Calibration, agent: string): Calibration.Reviewer | undefined =>
  calibration.reviewers.find((r) => r.reviewer === agent) ??
    calibration.reviewers.reduce<Calibration.Reviewer | undefined>((a, b) => (a === undefined || b.first.count > a.first.count ? b : a), undefined)

/**
 * @category models
 * @since 0.1.0
 */
export interface CalibratedOptions {
  readonly calibration: Calibration.Calibration
  readonly prng: Prng.Prng
  readonly repo: MemoryGit.MemoryRepo
  readonly checker: InvariantChecker
  /** A path the policy denies, written by the calibrated share of proposals (none: never). */
  readonly deniedPath: string | undefined
}

/**
 * The agents' script.
 *
 * @category constructors
 * @since 0.1.0
 */
export const script = (options: CalibratedOptions): ScriptedAgent.Script => {
  const { calibration: c, checker, prng, repo } = options
  // Reviews of the change an iteration holds so far: the first look, then looks after a fix.
  const looks = new Map<string, number>()
  let edits = 0
  return (request, files) => {
    const agent = formatModelString(request.agent)
    const calls = callsOf(c, agent, request.call)
    // `missingCalls` is checked before a plan runs.
    if (calls === undefined) throw new Error(`CalibratedAgent: no calibrated ${request.call} calls`)
    const spent = {
      ...(calls.tokens === undefined ? {} : { tokens: calls.tokens }),
      ...(calls.costUsd === undefined ? {} : { costUsd: calls.costUsd })
    }
    if (prng.chance(calls.timeoutRate)) return { answer: "", delayMs: request.timeoutMs + timeoutMarginMs + 1000 }
    const overhead = request.call === "propose" ? Calibration.sample(c.iterations.overheadMs, prng.next()) : 0
    const latency = Calibration.sample(calls.latencyMs, prng.next())
    // oompa's own time rides on the proposal (the in-memory git takes none), never into its timeout:
    // only the calibrated share of calls times out.
    const delayMs = Math.max(1, Math.round(Math.min(latency + overhead, Math.max(latency, request.timeoutMs - 1))))
    if (prng.chance(calls.errorRate)) return { answer: "", exitCode: 1, stderr: "calibrated agent error", delayMs, ...spent }
    if (request.call === "review") {
      const key = `${request.worker}/${request.iteration}`
      const look = looks.get(key) ?? 0
      looks.set(key, look + 1)
      const reviewer = reviewerOf(c, agent)
      const shares = reviewer === undefined ? undefined : look === 0 || reviewer.afterFix.count === 0 ? reviewer.first : reviewer.afterFix
      const u = prng.next()
      if (shares !== undefined && u < shares.rejected) return { answer: "Wrong approach.\nVERDICT: REJECTED\nstart over", delayMs, ...spent }
      if (shares !== undefined && u < shares.rejected + shares.needsChanges) return { answer: "VERDICT: NEEDS_CHANGES\n- handle the empty case", delayMs, ...spent }
      const head = repo.workspaceHeadAt(request.cwd)
      if (head !== undefined) checker.approvedHeads.add(head)
      return { answer: "Good.\nVERDICT: APPROVED", delayMs, ...spent }
    }
    if (request.call === "plan") return { answer: "planned", delayMs, newTasks: [], ...spent }
    const changes = new Map<string, string | null>()
    if (request.call === "resolve-conflict") {
      for (const file of files.list()) {
        const text = files.read(file)
        if (typeof text === "string" && text.includes("<<<<<<<")) changes.set(file, resolveMarkers(text))
      }
      return { answer: "resolved", delayMs, edits: changes, ...spent }
    }
    if (request.call === "fix" && options.deniedPath !== undefined && files.read(options.deniedPath) !== undefined) changes.set(options.deniedPath, null)
    if (request.call === "fix" || !prng.chance(c.iterations.noChangeRate)) changes.set(`src/${request.task ?? request.worker}-${request.iteration}-${++edits}.txt`, `${request.call} by ${request.worker}\n`)
    if (request.call === "propose" && prng.chance(c.merges.conflictRate)) {
      // Every conflicting change edits the same line: it conflicts with whichever lands first meanwhile.
      const shared = files.read("shared.txt")
      const lines = typeof shared === "string" ? shared.split("\n") : []
      changes.set("shared.txt", [`${request.worker} ${request.iteration} ${edits}`, ...lines.slice(1)].join("\n"))
    }
    if (request.call === "propose" && options.deniedPath !== undefined && prng.chance(c.iterations.policyRate)) changes.set(options.deniedPath, "denied\n")
    return { answer: "done", delayMs, edits: changes, sessionId: `${request.worker}-${request.iteration}`, ...spent }
  }
}

/**
 * The test gate: a calibrated time, failing at the calibrated rate (a pure function of the tree, as
 * in the simulator, so a tree tested twice gets one verdict).
 *
 * @category constructors
 * @since 0.1.0
 */
export const testScript = (calibration: Calibration.Calibration, seed: number, repo: MemoryGit.MemoryRepo): NonNullable<ScriptedCommands.CommandScripts["test"]> =>
  (_tree, sha) => {
    const digest = repo.treeDigest(sha)
    const u = unit(digest ^ seed)
    const passed = u >= calibration.testGate.failureRate
    return { passed, output: passed ? "ok" : "1 failing test", delayMs: Math.max(1, Math.round(Calibration.sample(calibration.testGate.durationMs, unit(digest ^ seed ^ 0x9e3779b9)))) }
  }

/** A number in [0, 1) from a 32-bit value, well mixed. */
const unit = (value: number): number => {
  let h = Math.imul(value, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return ((h ^ (h >>> 16)) >>> 0) / 0x1_0000_0000
}
