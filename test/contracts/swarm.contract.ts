/**
 * Whole runs of the bundled CLI (packages/cli/dist/oompa.mjs) with real agent CLIs:
 * - `oompa swarm`: two claude executors implement two tasks, a real codex reviews, one task is sent
 *   back once and fixed in the resumed claude session, both land on main;
 * - `oompa loop 1` with mixed harnesses: a claude, a gemini and an opencode worker each land one
 *   change, reviewed by codex.
 * The scripted model server answers from what each request says (the prompt oompa rendered, whether
 * a tool result came back), since the workers' calls arrive in any order. Every call's transcript
 * is in the run folder.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { cleanupAll, git, oompaAsync, runIds, type Scratch, scratchRepo, show, tasksIn } from "../cli/helpers.ts"
import { claude, codex, gemini, type Harness, missingMessage, opencode, opencodePrice, priceTable } from "./harnesses.ts"
import * as ModelServer from "./model-server/index.ts"

const fixLine = "fixed after review"

/** The model behind both CLIs: claude proposes and fixes with its Write tool, codex reviews. */
const responder: ModelServer.Responder = (request) => {
  const { afterTool, userText } = ModelServer.lastTurn(request)
  if (request.api === "responses") {
    const id = /^# oompa review of task (.*?) \(branch /m.exec(userText)?.[1]
    if (id === undefined) return undefined
    // The diff adds the fix line (the acceptance criteria quote it too, without the `+`).
    if (id === "task-b" && !userText.includes(`\n+${fixLine}`)) {
      return { text: `The file is there, but the fix is missing.\n\nVERDICT: NEEDS_CHANGES\n- add src/task-b.fix.txt holding the line "${fixLine}"` }
    }
    return { text: `The change does what ${id} asks.\n\nVERDICT: APPROVED`, usage: { input: 4000, output: 20 } }
  }
  if (request.api === "anthropic") {
    const fix = /^# oompa fix for task (.*?) \(/m.exec(userText)?.[1]
    const task = /^## Your task\n- id: (.*)$/m.exec(userText)?.[1]?.trim()
    if (afterTool) return { text: fix !== undefined ? `Added src/${fix}.fix.txt.` : `Wrote src/${task}.txt.` }
    if (fix !== undefined) return claude.writeFile(`src/${fix}.fix.txt`, `${fixLine}\n`)
    if (task !== undefined) return claude.writeFile(`src/${task}.txt`, `${task}: written by claude\n`)
  }
  return undefined
}

interface Transcript {
  readonly call: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly exitCode: number | null
  readonly task?: string
  readonly sessionId?: string
  readonly prompt: string
}

describe("oompa swarm with real claude proposers and a real codex reviewer", () => {
  let server: ModelServer.ModelServer
  let scratch: Scratch
  beforeAll(async () => {
    for (const harness of [claude, codex]) {
      const missing = missingMessage(harness.name)
      if (missing !== undefined) throw new Error(missing)
    }
    server = await ModelServer.start()
    server.respond(responder)
    scratch = scratchRepo({
      config: {
        workers: [{ model: "claude:sonnet", role: "executor", count: 2, iterations: 3 }],
        review_model: `codex:${codex.model}`,
        harnesses: { claude: claude.override(server.url), codex: codex.override(server.url) },
        timeouts: { propose: 120, review: 120 }
      },
      pending: [
        { id: "task-a", summary: "Write src/task-a.txt" },
        { id: "task-b", summary: "Write src/task-b.txt", acceptance: [`src/task-b.fix.txt holds "${fixLine}"`] }
      ]
    })
  })
  afterAll(async () => {
    await server?.close()
    cleanupAll()
  })

  it("lands both tasks on main, the fix in the resumed claude session, every call's transcript in the run folder", async () => {
    // Asynchronous: the model server answers from this process while oompa runs.
    const { exited } = oompaAsync(scratch, ["swarm"])
    const result = await exited
    assert.strictEqual(result.status, 0, show(result))
    assert.include(result.stdout, "2 merged, 0 rejected, 0 failed")

    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["task-a", "task-b"])
    for (const folder of ["pending", "current", "failed", "invalid"]) assert.deepStrictEqual(tasksIn(scratch, folder), [], folder)
    const onMain = git(scratch.repo, "ls-tree", "-r", "--name-only", "main", "src/").split("\n")
    assert.deepStrictEqual(onMain, ["src/task-a.txt", "src/task-b.fix.txt", "src/task-b.txt"])
    assert.strictEqual(git(scratch.repo, "show", "main:src/task-a.txt"), "task-a: written by claude")
    assert.strictEqual(git(scratch.repo, "show", "main:src/task-b.fix.txt"), fixLine)

    const [runId] = runIds(scratch)
    const runDir = path.join(scratch.repo, ".oompa/runs", runId!)
    const folder = path.join(runDir, "transcripts")
    const transcripts = fs.readdirSync(folder).map((name) => JSON.parse(fs.readFileSync(path.join(folder, name), "utf8")) as Transcript)
    const calls = transcripts.map((t) => `${t.call} ${t.task} ${path.basename(t.command)}`).sort()
    assert.deepStrictEqual(calls, [
      "fix task-b claude",
      "propose task-a claude",
      "propose task-b claude",
      "review task-a codex",
      "review task-b codex",
      "review task-b codex"
    ])
    for (const t of transcripts) {
      assert.strictEqual(t.exitCode, 0, `${t.call} ${t.task}`)
      assert.isTrue(path.isAbsolute(t.command) && fs.existsSync(t.command), "the real, cached binary ran")
    }

    // The fix resumed the proposer's claude session, and the model saw that conversation continue.
    const proposal = transcripts.find((t) => t.call === "propose" && t.task === "task-b")!
    const fix = transcripts.find((t) => t.call === "fix")!
    assert.isString(proposal.sessionId)
    assert.includeMembers([...fix.args], ["--resume", proposal.sessionId!])
    assert.strictEqual(fix.sessionId, proposal.sessionId)
    const fixRequest = server.turns().find((r) => r.api === "anthropic" && /^# oompa fix for task task-b/m.test(ModelServer.lastTurn({ ...r, api: "anthropic" }).userText))
    assert.isDefined(fixRequest)
    assert.include(fixRequest!.raw, "Wrote src/task-b.txt.", "the proposer's own answer is in the resumed conversation")

    // Tokens of every call reach the events, and dollars: claude's own, codex's tokens at the table's price.
    const events = fs.readFileSync(path.join(runDir, "events.jsonl"), "utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
    const finished = events.filter((event) => event["_tag"] === "AgentFinished")
    assert.strictEqual(finished.length, 6)
    for (const event of finished) {
      const tokens = event["tokens"] as { input: number; output: number } | undefined
      assert.isAbove(tokens?.input ?? 0, 0, JSON.stringify(event))
      if (String(event["agent"]).startsWith("claude")) {
        assert.isAbove(event["costUsd"] as number, 0)
        assert.isUndefined(event["costEstimatedWith"])
      } else {
        assert.strictEqual(event["costEstimatedWith"], priceTable)
        if (codex.dollars.price !== undefined) assert.closeTo(event["costUsd"] as number, codex.dollars.price(tokens!), 1e-12)
      }
    }
    assert.match(result.stdout, new RegExp(`\\$\\d+\\.\\d\\d \\(of which \\$\\d+\\.\\d\\d estimated from tokens with ${priceTable.replace(/[.]/g, "\\.")}\\)`))
  })
})

/** The loop's model: each worker (any of three CLIs) writes `src/<worker>-<iteration>.txt`; codex approves. */
const loopResponder: ModelServer.Responder = (request) => {
  const { afterTool, userText } = ModelServer.lastTurn(request)
  if (request.api === "responses") {
    return /^# oompa review of task /m.test(userText) ? { text: "Fine.\n\nVERDICT: APPROVED" } : undefined
  }
  const harness: Harness = request.api === "anthropic" ? claude : request.api === "gemini" ? gemini : opencode
  const header = /^# oompa worker (\S+) \(role \S+, iteration (\d+) of/m.exec(userText)
  if (header === null) return undefined
  const file = `src/${header[1]}-${header[2]}.txt`
  return afterTool ? { text: `Wrote ${file}.` } : harness.writeFile(file, `${file}: written by ${harness.name}\n`)
}

describe("oompa loop with mixed harnesses under a cost budget: claude, gemini and opencode workers, a codex reviewer", () => {
  let server: ModelServer.ModelServer
  let scratch: Scratch
  beforeAll(async () => {
    for (const harness of [claude, codex, gemini, opencode]) {
      const missing = missingMessage(harness.name)
      if (missing !== undefined) throw new Error(missing)
    }
    server = await ModelServer.start()
    server.respond(loopResponder)
    const harnesses = [claude, codex, gemini, opencode]
    scratch = scratchRepo({
      config: {
        workers: [claude, gemini, opencode].map((harness) => ({ model: `${harness.name}:${harness.model}` })),
        review_model: `codex:${codex.model}`,
        harnesses: Object.fromEntries(harnesses.map((harness) => [harness.name, harness.override(server.url)])),
        timeouts: { propose: 120, review: 120 },
        // A cost budget can be enforced for every harness: opencode's scripted provider is named in
        // `pricing` (at its price in opencode.json), the others' models are in the table or report dollars.
        budget: { max_cost_usd: 50 },
        pricing: { [opencode.model]: opencodePrice }
      }
    })
    for (const harness of harnesses) harness.prepareHome(scratch.home, server.url)
  })
  afterAll(async () => {
    await server?.close()
    cleanupAll()
  })

  it("every worker lands its change on main through codex's review, and every call has its dollars", async () => {
    const result = await oompaAsync(scratch, ["loop", "1"]).exited
    assert.strictEqual(result.status, 0, show(result))
    assert.include(result.stdout, "3 merged, 0 rejected, 0 failed")
    assert.include(result.stdout, `estimated from tokens with ${priceTable}, oompa.json pricing)`)
    assert.notInclude(result.stdout, "no cost known")
    const onMain = git(scratch.repo, "ls-tree", "-r", "--name-only", "main", "src/").split("\n")
    assert.deepStrictEqual(onMain, ["src/w0-1.txt", "src/w1-1.txt", "src/w2-1.txt"])
    assert.strictEqual(git(scratch.repo, "show", "main:src/w0-1.txt"), "src/w0-1.txt: written by claude")
    assert.strictEqual(git(scratch.repo, "show", "main:src/w1-1.txt"), "src/w1-1.txt: written by gemini")
    assert.strictEqual(git(scratch.repo, "show", "main:src/w2-1.txt"), "src/w2-1.txt: written by opencode")

    const [runId] = runIds(scratch)
    const folder = path.join(scratch.repo, ".oompa/runs", runId!, "transcripts")
    const transcripts = fs.readdirSync(folder).map((name) => JSON.parse(fs.readFileSync(path.join(folder, name), "utf8")) as Transcript)
    assert.deepStrictEqual(transcripts.map((t) => `${t.call} ${path.basename(t.command)} ${t.exitCode}`).sort(), [
      "propose claude 0",
      "propose gemini 0",
      "propose opencode 0",
      "review codex 0",
      "review codex 0",
      "review codex 0"
    ])
    const events = fs.readFileSync(path.join(scratch.repo, ".oompa/runs", runId!, "events.jsonl"), "utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
    const costs = events.filter((event) => event["_tag"] === "AgentFinished").map((event) => `${String(event["agent"]).split(":")[0]} ${event["costEstimatedWith"] ?? "reported"}`).sort()
    assert.deepStrictEqual(costs, [
      "claude reported",
      `codex ${priceTable}`,
      `codex ${priceTable}`,
      `codex ${priceTable}`,
      `gemini ${priceTable}`,
      "opencode oompa.json pricing"
    ])
  })
})

/** Live processes whose command line has `marker` (the test's own unique sleep). */
const processesWith = (marker: string): Array<number> =>
  fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((entry) => {
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ")
      const state = fs.readFileSync(`/proc/${entry}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[0]
      return cmdline.includes(marker) && state !== "Z" ? [Number(entry)] : []
    } catch {
      return []
    }
  })

describe("oompa swarm with real agents against a model server that fails, or a tool that escapes its process group", () => {
  let server: ModelServer.ModelServer
  beforeAll(async () => {
    const missing = missingMessage(codex.name)
    if (missing !== undefined) throw new Error(missing)
    server = await ModelServer.start()
  })
  afterAll(async () => {
    await server?.close()
    cleanupAll()
  })

  const codexSwarm = () =>
    scratchRepo({
      config: {
        workers: [{ model: `codex:${codex.model}`, role: "executor", iterations: 1 }],
        review_model: `codex:${codex.model}`,
        harnesses: { codex: codex.override(server.url) },
        timeouts: { propose: 120, review: 120 }
      },
      pending: [{ id: "task-a", summary: "Write src/task-a.txt" }]
    })

  it("401 (a revoked key): the run stops with exit 2 and codex's own line; no task attempt spent, nothing left", async () => {
    server.failAll({ status: 401, message: "invalid api key" })
    const scratch = codexSwarm()
    const result = await oompaAsync(scratch, ["swarm"]).exited
    server.failAll(undefined)
    assert.strictEqual(result.status, 2, show(result))
    assert.match(result.stderr, /codex is not authenticated: unexpected status 401 Unauthorized: invalid api key/)
    assert.deepStrictEqual(tasksIn(scratch, "pending"), ["task-a"])
    const task = JSON.parse(fs.readFileSync(path.join(scratch.repo, "tasks/pending/task-a.json"), "utf8")) as { attempts?: number }
    assert.strictEqual(task.attempts ?? 0, 0)
    assert.strictEqual(git(scratch.repo, "worktree", "list").split("\n").length, 1)
  })

  it("a model server that only errors (500): the run exits 1 and says no iteration succeeded", async () => {
    server.failAll({ status: 500, message: "scripted outage" })
    const scratch = codexSwarm()
    const result = await oompaAsync(scratch, ["swarm"]).exited
    server.failAll(undefined)
    assert.strictEqual(result.status, 1, show(result))
    assert.include(result.stdout, "no iteration succeeded", show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), [])
  })

  it("a tool process claude's Bash tool started in a session of its own (setsid) is dead after the run", async () => {
    const missing = missingMessage(claude.name)
    if (missing !== undefined) throw new Error(missing)
    const marker = `${600 + Math.floor(Math.random() * 1000)}.${process.pid}`
    server.respond((request) => {
      const { afterTool, userText } = ModelServer.lastTurn(request)
      if (request.api === "responses") return /^# oompa review of task /m.test(userText) ? { text: "Fine.\n\nVERDICT: APPROVED" } : undefined
      if (afterTool) return { text: "Wrote src/task-a.txt and left a helper running." }
      return { tool: "Bash", args: { command: `setsid sleep ${marker} > /dev/null 2>&1 < /dev/null & echo "pid $!" > task-a.txt`, description: "start a helper" } }
    })
    const scratch = scratchRepo({
      config: {
        workers: [{ model: "claude:sonnet", role: "executor", iterations: 1 }],
        review_model: `codex:${codex.model}`,
        harnesses: { claude: claude.override(server.url), codex: codex.override(server.url) },
        timeouts: { propose: 120, review: 120 }
      },
      pending: [{ id: "task-a", summary: "Write task-a.txt" }]
    })
    const result = await oompaAsync(scratch, ["swarm"]).exited
    assert.strictEqual(result.status, 0, show(result))
    const started = /pid (\d+)/.exec(git(scratch.repo, "show", "main:task-a.txt"))
    assert.isNotNull(started, "the helper was started")
    assert.deepStrictEqual(processesWith(`sleep ${marker}`), [], "the escaped tool process outlived the run")
  })
})
