/**
 * Embedding oompa in a plain TypeScript program, with the real layers and your own agent.
 *
 * `runSwarm` does what `oompa swarm` does — checks the agents can run, takes the repository's run
 * lock, repairs what dead runs left, writes the run log, runs the swarm — and resolves with a typed
 * report. The agent here is a function, not a CLI: each call gets the worker's own git worktree as
 * `request.cwd` and answers with text. Everything else is real: worktrees, commits, the review loop,
 * the policy gate, the merge queue and the merge onto `main`.
 *
 * Run it with `NODE_OPTIONS=--conditions=@oompa/source npx node examples/embed/embed.ts [repository]`
 * (examples/README.md says why). Without a repository it makes a scratch
 * one in the temp folder with two pending tasks, and prints where it is.
 */
import { runSwarm, SwarmRun } from "@oompa/adapters-node"
import { type Agent, Swarm } from "@oompa/core"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const git = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim()

/** A scratch repository on `main` with two tasks waiting in `tasks/pending/`. */
const scratchRepository = (): string => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-embed-"))
  git(repo, "init", "-q", "-b", "main")
  git(repo, "config", "user.email", "embed@example.com")
  git(repo, "config", "user.name", "Embedding example")
  fs.writeFileSync(path.join(repo, "README.md"), "# notes\n")
  git(repo, "add", "-A")
  git(repo, "commit", "-qm", "initial")
  fs.mkdirSync(path.join(repo, "tasks/pending"), { recursive: true })
  for (const [id, summary] of [["note-effect", "Write a note on what Effect is"], ["note-git", "Write a note on git worktrees"]]) {
    fs.writeFileSync(path.join(repo, "tasks/pending", `${id}.json`), JSON.stringify({ id, summary }))
  }
  return repo
}

/**
 * Our agent: a proposer that writes `notes/<task>.md`, and a reviewer that approves a note with a
 * title and sends back one without. The first draft has no title, so every task goes through one
 * round of review feedback and a fix — the same loop a real agent CLI goes through.
 */
const agent: Agent.AgentFunction = async (request) => {
  const note = path.join(request.cwd, "notes", `${request.task ?? "untitled"}.md`)
  switch (request.call) {
    case "propose":
      fs.mkdirSync(path.dirname(note), { recursive: true })
      fs.writeFileSync(note, `A first draft for ${request.task}.\n`)
      return "Wrote a first draft."
    case "fix":
      fs.writeFileSync(note, `# ${request.task}\n\n${fs.readFileSync(note, "utf8")}`)
      return "Added a title."
    case "review": {
      const text = fs.existsSync(note) ? fs.readFileSync(note, "utf8") : ""
      return text.startsWith("# ")
        ? "The note has a title and a body.\n\nVERDICT: APPROVED"
        : "VERDICT: NEEDS_CHANGES\n- give the note a title (a first line starting with `# `)"
    }
    default:
      return "Nothing to do."
  }
}

const repo = process.argv[2] ?? scratchRepository()
// Ctrl-C stops the run the way it stops `oompa swarm`: claims go back, worktrees are released.
const controller = new AbortController()
process.once("SIGINT", () => controller.abort())

try {
  const result = await runSwarm({
    cwd: repo,
    // An oompa.json as a value; a wrong field is an error naming it. `configFile` reads a file instead.
    configJson: { workers: [{ model: "codex", iterations: 3, role: "executor", count: 2 }] },
    agent,
    onNotice: (line) => console.error(line),
    onEvent: (event) => {
      if (event._tag === "VerdictGiven") console.log(`${event.worker} review ${event.attempt}: ${event.verdict}`)
      if (event._tag === "MergeResult") console.log(`${event.worker} merge: ${event.outcome}`)
    },
    signal: controller.signal
  })
  const { report } = result
  console.log(`summary: ${report.outcome}; ${report.merged} merged, ${report.rejected} rejected, ${report.failed} failed in ${report.agentCalls} agent calls`)
  console.log(`main: ${git(repo, "log", "--oneline", "-1", "main")}`)
  console.log(`repository: ${repo}`)
  console.log(`run log: ${result.eventsPath}`)
  process.exitCode = Swarm.exitCodeOf(report.outcome)
} catch (error) {
  // A SetupError (nothing started: config, preflight, lock), a RunError or a RunInterrupted.
  if (error instanceof SwarmRun.RunInterrupted) console.error(`stopped: ${error.message}`)
  else console.error(`oompa: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = error instanceof SwarmRun.RunInterrupted ? 130 : 2
}
