/**
 * Hostile input end to end (SPEC F2, F3, F4, F6, F7; issue 8 "Hostile input"): the bundled CLI with
 * the fake agents misbehaving on purpose. Each case is handled with a clear message and nothing is
 * lost: bad task files end in `invalid/` with their reason and text while the run goes on; hostile
 * ids are refused before they touch a path or a shell; an agent that floods its output is capped and
 * oompa's memory stays bounded; one that never exits is killed with its child at `timeouts.propose`;
 * one that changes nothing is not reviewed; one that deletes files gets caught by the diff, the
 * policy or the repair of its worktree, never touching the user's checkout; binary files and
 * non-UTF-8 names merge and are shown to the reviewer; a silent reviewer never approves. Then the
 * repository shapes of SPEC F6/F1 test/cli does not cover: `master`, a detached HEAD, no commits, a
 * dirty checkout.
 *
 * Covered elsewhere, not repeated here: two swarms on one repository (test/cli/swarm.test.ts "a
 * second swarm while the first holds the lock exits 2 naming its pid…"), `requeue ../escape` and bad
 * config files (test/cli/errors.test.ts).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, fakeCalls, git, leftovers, oompa, oompaAsync, readTask, runIds, type Scratch, scratchRepo, show, tasksIn } from "../cli/helpers.ts"
import { checkoutState, oompaMeasured, waitDead } from "./support.ts"

afterAll(cleanupAll)

const executor = (model = "codex:gpt-5-codex", fields: Record<string, unknown> = {}) => ({ model, role: "executor", iterations: 5, ...fields })

/** The run's events, parsed. */
const events = (scratch: Scratch): Array<Record<string, unknown> & { _tag: string }> => {
  const ids = runIds(scratch)
  return ids.flatMap((id) =>
    fs.readFileSync(path.join(scratch.repo, ".oompa/runs", id, "events.jsonl"), "utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown> & { _tag: string }))
}

/** Every file under `dir` (recursively), as paths relative to it. */
const filesUnder = (dir: string): Array<string> =>
  fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as Array<string>).filter((f) => fs.statSync(path.join(dir, f)).isFile()) : []

/** Files named `pwned` anywhere under the scratch folder: what a hostile id run by a shell would create. */
const pwned = (scratch: Scratch): Array<string> => filesUnder(scratch.root).filter((f) => path.basename(f) === "pwned")

/** The invalid/ entries: original name → the whole record. */
const invalidEntries = (scratch: Scratch) => {
  const dir = path.join(scratch.repo, "tasks/invalid")
  const entries = new Map<string, { invalid_reason: string; name: string; from?: string; content: string }>()
  for (const file of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const record = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { invalid_reason: string; name: string; from?: string; content: string }
    entries.set(record.name, record)
  }
  return entries
}

const assertNothingLeft = (scratch: Scratch) => {
  const left = leftovers(scratch)
  assert.strictEqual(left.worktrees, 1, git(scratch.repo, "worktree", "list"))
  assert.strictEqual(left.branches, "")
  assert.deepStrictEqual(left.worktreesDir, [])
  assert.deepStrictEqual(tasksIn(scratch, "current"), [])
}

describe("hostile task files and ids", () => {
  it("malformed task files go to invalid/ with the reason and their text; the run goes on and finishes the good task", () => {
    const scratch = scratchRepo({ config: { workers: [executor()] }, pending: [{ id: "good", summary: "The one valid task" }] })
    const pending = path.join(scratch.repo, "tasks/pending")
    const bad: Record<string, string> = {
      "broken.json": "{\"id\": \"broken\", \"summary\": ",
      "no-summary.json": JSON.stringify({ id: "no-summary" }),
      "mismatch.json": JSON.stringify({ id: "other-id", summary: "Name and id differ" }),
      "dotdot.json": JSON.stringify({ id: "../../escape", summary: "Escapes the queue" }),
      "shell.json": JSON.stringify({ id: "x$(touch pwned)", summary: "Shell in the id" }),
      "x;touch pwned.json": JSON.stringify({ id: "x;touch pwned", summary: "Shell in the file name" }),
      "array.json": "[1, 2, 3]",
      "empty.json": "",
      "notes.txt": "not a task file at all",
      "bad.edn": "{:id \"bad\" :summary"
    }
    for (const [name, text] of Object.entries(bad)) fs.writeFileSync(path.join(pending, name), text)
    // A planner's outbox gets hostile files too: they are validated the same way.
    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["good"])
    assert.deepStrictEqual(fs.readdirSync(pending), [])
    const invalid = invalidEntries(scratch)
    assert.deepStrictEqual([...invalid.keys()].sort(), Object.keys(bad).sort())
    const reasons: Record<string, RegExp> = {
      "broken.json": /not valid JSON/,
      "no-summary.json": /summary/,
      "mismatch.json": /"other-id" is not its file name/,
      "dotdot.json": /path separator|'\.\.'/,
      "shell.json": /may only contain letters, digits/,
      "x;touch pwned.json": /not a valid task id/,
      "array.json": /expected an object/,
      "empty.json": /JSON/,
      "notes.txt": /must end in \.json/,
      "bad.edn": /bad\.edn/
    }
    for (const [name, reason] of Object.entries(reasons)) {
      const entry = invalid.get(name)!
      assert.match(entry.invalid_reason, reason, `${name}: ${entry.invalid_reason}`)
      assert.strictEqual(entry.content, bad[name], `${name}: the original text is kept byte for byte`)
      assert.strictEqual(entry.from, "pending")
    }
    // `oompa tasks` lists each with its reason.
    const tasks = oompa(scratch, ["tasks"])
    assert.strictEqual(tasks.status, 0, show(tasks))
    assert.include(tasks.stdout, `invalid/ (${Object.keys(bad).length})`)
    assert.include(tasks.stdout, "is not its file name")
    // Nothing was executed by a shell, anywhere.
    assert.deepStrictEqual(pwned(scratch), [])
    assertNothingLeft(scratch)
  })

  it("task files a planner writes with hostile names and ids go to invalid/ with the reason; its good task runs", () => {
    const scratch = scratchRepo({
      config: { workers: [{ model: "claude:opus", role: "planner", iterations: 2 }, executor()] }
    })
    const planned = {
      "evil.json": JSON.stringify({ id: "../../../evil", summary: "Climb out of the queue" }),
      "$(touch pwned).json": JSON.stringify({ id: "$(touch pwned)", summary: "Command substitution" }),
      "`touch pwned`.json": JSON.stringify({ id: "`touch pwned`", summary: "Backticks" }),
      "ctrl.json": JSON.stringify({ id: "line\nbreak", summary: "A control character" }),
      "long.json": JSON.stringify({ id: "a".repeat(200), summary: "Too long" }),
      "garbage.json": "\u0000\u0001 not json"
    }
    const result = oompa(scratch, ["swarm"], { env: { E2E_PLAN: "planned-ok", E2E_PLAN_FILES: JSON.stringify(planned) } })
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["planned-ok"])
    const invalid = invalidEntries(scratch)
    assert.deepStrictEqual([...invalid.keys()].sort(), Object.keys(planned).sort())
    for (const [name, text] of Object.entries(planned)) {
      assert.strictEqual(invalid.get(name)!.content, text, name)
      assert.isAbove(invalid.get(name)!.invalid_reason.length, 10, name)
    }
    assert.deepStrictEqual(pwned(scratch), [])
    assert.isFalse(fs.existsSync(path.join(scratch.root, "evil.json")))
    assertNothingLeft(scratch)
  })

  const hostileIds = ["..", ".", ".hidden", "$(touch pwned)", "`touch pwned`", "a;touch pwned", "a b", "x\ny", "", "-rf", "a".repeat(300), "../../etc/passwd", "%2e%2e"]
  it("requeue, view and status --run refuse hostile ids in one line, exit 2, and touch nothing", async () => {
    const scratch = scratchRepo({ config: { workers: [executor()] } })
    fs.mkdirSync(path.join(scratch.repo, "tasks/failed"), { recursive: true })
    fs.writeFileSync(path.join(scratch.repo, "tasks/failed/kept.json"), JSON.stringify({ id: "kept", summary: "Stays failed" }))
    const before = git(scratch.repo, "status", "--porcelain", "--untracked-files=all")
    const commands = hostileIds.flatMap((id) => [["requeue", id], ["view", id], ["status", "--run", id]])
    // Two at a time (each is a CLI's start, 39 of them): none may touch anything, so none can disturb another.
    const results: Array<Awaited<ReturnType<typeof oompaAsync>["exited"]>> = []
    let next = 0
    const runner = async () => {
      while (next < commands.length) {
        const i = next++
        const started = oompaAsync(scratch, commands[i]!)
        const timer = setTimeout(() => started.child.kill("SIGKILL"), 60_000)
        results[i] = await started.exited.finally(() => clearTimeout(timer))
      }
    }
    await Promise.all([runner(), runner()])
    for (const [i, args] of commands.entries()) {
      const result = results[i]!
      const label = `oompa ${args.map((a) => JSON.stringify(a)).join(" ")}`
      assert.strictEqual(result.status, 2, `${label}\n${show(result)}`)
      assert.match(result.stderr, /^oompa[ :]/, `${label}\n${show(result)}`)
      assert.isAtMost(result.stderr.trimEnd().split("\n").length, 2, `${label}\n${show(result)}`)
      assert.notMatch(result.stderr, /^\s+at |internal error/m, `${label}\n${show(result)}`)
    }
    assert.strictEqual(git(scratch.repo, "status", "--porcelain", "--untracked-files=all"), before)
    assert.deepStrictEqual(tasksIn(scratch, "failed"), ["kept"])
    assert.deepStrictEqual(pwned(scratch), [])
  })

  it("cleanup deletes run branches with shell characters in their names without running them", () => {
    const scratch = scratchRepo({ config: { workers: [executor()] } })
    const names = ["oompa/0badc0de/w0;touch${IFS}pwned-1", "oompa/0badc0de/$(touch${IFS}pwned)-2", "oompa/0badc0de/`touch${IFS}pwned`-3"]
    for (const name of names) git(scratch.repo, "branch", name, "main")
    const result = oompa(scratch, ["cleanup"])
    assert.strictEqual(result.status, 0, show(result))
    for (const name of names) assert.include(result.stdout, `deleted branch ${name}`)
    assert.strictEqual(leftovers(scratch).branches, "")
    assert.deepStrictEqual(pwned(scratch), [])
  })
})

describe("hostile agents", () => {
  it("agents printing 100 MB and 300 MB: output capped (head and tail, the dropped size stated), the work lands, oompa's memory stays bounded", async () => {
    const config = { workers: [executor("codex:gpt-5-codex"), executor("claude:opus")], review_model: "codex:gpt-5-codex" }
    const tasks = [{ id: "loud-a", summary: "Flood" }, { id: "loud-b", summary: "Flood" }]
    // The same swarm without the flood: what oompa needs anyway.
    const quiet = scratchRepo({ config, pending: tasks })
    const baseline = await oompaMeasured(quiet, ["swarm"])
    assert.strictEqual(baseline.status, 0, show(baseline))

    const scratch = scratchRepo({ config, pending: tasks })
    const flooded = await oompaMeasured(scratch, ["swarm"], { E2E_FLOOD: "loud-a:100,loud-b:300" })
    assert.strictEqual(flooded.status, 0, show(flooded))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["loud-a", "loud-b"])
    // The answers at the end of the output were still read (codex JSONL, claude's JSON object).
    assert.strictEqual(git(scratch.repo, "show", "main:src/loud-a.txt"), "loud-a: written by codex")
    assert.strictEqual(git(scratch.repo, "show", "main:src/loud-b.txt"), "loud-b: written by claude")
    // Each flooding call's transcript: everything counted, all but the cap dropped, and it says so.
    const runDir = path.join(scratch.repo, ".oompa/runs", runIds(scratch)[0]!)
    const proposals = fs.readdirSync(path.join(runDir, "transcripts")).filter((f) => f.includes("propose")).sort()
    assert.strictEqual(proposals.length, 2)
    const mib = 1024 * 1024
    const printed = new Map([["loud-a", 100 * mib], ["loud-b", 300 * mib]])
    for (const file of proposals) {
      const size = fs.statSync(path.join(runDir, "transcripts", file)).size
      assert.isBelow(size, 12 * mib, `${file}: ${size} bytes`)
      const transcript = JSON.parse(fs.readFileSync(path.join(runDir, "transcripts", file), "utf8")) as { task: string; stdoutBytes: number; stdoutDroppedBytes: number; stdout: string }
      const bytes = printed.get(transcript.task)!
      assert.isAtLeast(transcript.stdoutBytes, bytes, file)
      assert.isAtLeast(transcript.stdoutDroppedBytes, bytes - 5 * mib, file)
      assert.match(transcript.stdout, /\[oompa: \d+ bytes of output dropped here; the first and last bytes are kept\]/)
    }
    // 400 MB went through oompa's helper; only the kept head and tail (4 MiB a stream) reached
    // oompa itself. Its peak memory grew by less than a third of what the louder agent alone
    // printed (observed: about +50 MB, the two captures, their decoded text and transcripts, and the
    // heap's slack; +110 MB when every chunk crossed to oompa, session 16).
    const growth = flooded.maxRssBytes - baseline.maxRssBytes
    const mb = (bytes: number) => `${Math.round(bytes / mib)} MB`
    console.log(`max RSS of oompa: ${mb(baseline.maxRssBytes)} without the flood, ${mb(flooded.maxRssBytes)} with 100 MB + 300 MB of agent output; ` +
      `its spawning helper: ${mb(baseline.helperMaxRssBytes)} and ${mb(flooded.helperMaxRssBytes)}`)
    assert.isAbove(baseline.maxRssBytes, 0)
    assert.isBelow(growth, 100 * mib, `max RSS ${mb(baseline.maxRssBytes)} → ${mb(flooded.maxRssBytes)}`)
    // The helper passes the head on as it comes, pausing the agent while oompa lags (at 1 MB not
    // yet written to oompa), then holds only the tail: none of the rest (observed: about +50 MB of
    // garbage not yet collected).
    assert.isAbove(baseline.helperMaxRssBytes, 0)
    assert.isBelow(flooded.helperMaxRssBytes - baseline.helperMaxRssBytes, 100 * mib, `helper's max RSS ${mb(baseline.helperMaxRssBytes)} → ${mb(flooded.helperMaxRssBytes)}`)
    assertNothingLeft(scratch)
  }, 120_000)

  it("an agent that never exits (and ignores TERM, as does its child) is killed with its child at timeouts.propose; the iteration errors and the task goes back", async () => {
    const scratch = scratchRepo({
      config: { workers: [executor("codex:gpt-5-codex", { iterations: 1 })], timeouts: { propose: 2 } },
      pending: [{ id: "stuck", summary: "Hangs forever" }]
    })
    const started = Date.now()
    const result = oompa(scratch, ["swarm"], { env: { E2E_HANG: "stuck" }, timeoutMs: 60_000 })
    const elapsedMs = Date.now() - started
    // Exit 1: no task failed (it is pending again), but no iteration succeeded either (issue 15).
    assert.strictEqual(result.status, 1, show(result))
    assert.include(result.stdout, "no iteration succeeded (1 error): nothing was merged", show(result))
    // The live progress, on stderr.
    assert.include(result.stderr, "timed out after 2 s", show(result))
    assert.include(result.stderr, "task stuck -> pending/", show(result))
    // Bounded: the timeout, then TERM, then KILL after the grace period (5 s), not the 15 s core backstop.
    assert.isBelow(elapsedMs, 15_000, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "pending"), ["stuck"])
    const task = readTask(scratch, "pending", "stuck")
    assert.strictEqual(task["attempts"], 1)
    assert.include(String(task["last_feedback"]), "timed out")
    // The agent and the child it started are both gone.
    const hung = fs.readFileSync(path.join(scratch.state, "hang-pids.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { pid: number; child: number })
    assert.strictEqual(hung.length, 1)
    assert.deepStrictEqual(await waitDead([hung[0]!.pid, hung[0]!.child], 2_000), [])
    const transcript = fs.readdirSync(path.join(scratch.repo, ".oompa/runs", runIds(scratch)[0]!, "transcripts"))
    assert.strictEqual(transcript.length, 1)
    const t = JSON.parse(fs.readFileSync(path.join(scratch.repo, ".oompa/runs", runIds(scratch)[0]!, "transcripts", transcript[0]!), "utf8")) as { timedOut: boolean }
    assert.isTrue(t.timedOut)
    assertNothingLeft(scratch)
  }, 60_000)

  for (const model of ["codex:gpt-5-codex", "claude:opus"]) {
    it(`an agent CLI whose credentials were revoked mid-run (${model.split(":")[0]}: 401 / invalid API key): the run stops with exit 2 and the CLI's own line; no task attempt spent; nothing left`, () => {
      const scratch = scratchRepo({ config: { workers: [executor(model, { count: 2 })] }, pending: ["a-first", "b-locked", "c-later"].map((id) => ({ id, summary: `Write src/${id}.txt` })) })
      const result = oompa(scratch, ["swarm"], { env: { E2E_UNAUTHORIZED: "b-locked", E2E_DELAY_MS: "300" } })
      assert.strictEqual(result.status, 2, show(result))
      assert.match(result.stderr, model.startsWith("codex") ? /codex is not authenticated: ERROR: unexpected status 401 Unauthorized/ : /claude is not authenticated: Invalid API key · Please run \/login/)
      assert.include(result.stdout, "no task attempt was counted")
      // b-locked is back in pending/ with no attempt counted; c-later never started.
      assert.include(tasksIn(scratch, "pending"), "b-locked")
      assert.strictEqual(readTask(scratch, "pending", "b-locked")["attempts"] ?? 0, 0)
      assert.notInclude(fakeCalls(scratch).map((c) => c.task), "c-later")
      assertNothingLeft(scratch)
    })
  }

  it("setup_command outputs (a file it writes, not ignored) are not committed as the agent's change: only the agent's file lands", () => {
    const scratch = scratchRepo({
      config: { workers: [executor()], setup_command: "echo generated > setup-made.txt && mkdir -p dist && echo built > dist/app.js" },
      pending: [{ id: "real", summary: "Write src/real.txt" }]
    })
    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 0, show(result))
    const landed = git(scratch.repo, "diff", "--name-only", "HEAD~1", "main")
    assert.strictEqual(landed, "src/real.txt", show(result))
    assertNothingLeft(scratch)
  })

  it("an agent that exits 0 having changed nothing: no review, no merge, the task goes back with the reason", () => {
    const scratch = scratchRepo({
      config: { workers: [executor()], max_task_attempts: 1 },
      pending: [{ id: "idle", summary: "Needs no change" }, { id: "busy", summary: "Real work" }]
    })
    const main = git(scratch.repo, "rev-parse", "main")
    const result = oompa(scratch, ["swarm"], { env: { E2E_NOCHANGE: "idle" } })
    assert.strictEqual(result.status, 1, show(result))
    assert.include(result.stderr, "task idle -> failed/ (no-changes: the agent made no changes)")
    assert.deepStrictEqual(fakeCalls(scratch).filter((c) => c.task === "idle").map((c) => c.kind), ["propose"])
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["busy"])
    assert.strictEqual(readTask(scratch, "failed", "idle")["last_feedback"], "the agent made no changes")
    // oompa status says which task failed and why (issue 15).
    const status = oompa(scratch, ["status"])
    assert.include(status.stdout, "failed: task idle: no-changes: the agent made no changes", show(status))
    // Only busy's merge moved main.
    assert.strictEqual(git(scratch.repo, "rev-list", "--count", "--first-parent", `${main}..main`), "1")
    assertNothingLeft(scratch)
  })

  it("an agent deleting tracked files in its worktree: the reviewer sees the deletion; with a policy the deletion never reaches main", () => {
    // No policy: the deletion is part of the change the reviewer is shown, in full.
    const open = scratchRepo({ config: { workers: [executor()] }, pending: [{ id: "wreck", summary: "Deletes README.md" }] })
    const merged = oompa(open, ["swarm"], { env: { E2E_DELETE: "wreck", E2E_SAVE_PROMPTS: "1" } })
    assert.strictEqual(merged.status, 0, show(merged))
    const review = fs.readdirSync(path.join(open.state, "prompts")).find((f) => f.endsWith("-review.md"))!
    const reviewPrompt = fs.readFileSync(path.join(open.state, "prompts", review), "utf8")
    assert.include(reviewPrompt, "diff --git a/README.md b/README.md\ndeleted file mode 100644")
    assert.include(reviewPrompt, "-# scratch")

    // With a policy (only src/** may change), the deletion is a violation sent back as fix feedback
    // until the attempts run out: main and the user's checkout keep README.md.
    const scratch = scratchRepo({
      config: { workers: [executor()], policy: { allow: ["src/**"] }, max_review_attempts: 2, max_task_attempts: 1 },
      pending: [{ id: "wreck", summary: "Deletes README.md" }]
    })
    const main = git(scratch.repo, "rev-parse", "main")
    const result = oompa(scratch, ["swarm"], { env: { E2E_DELETE: "wreck", E2E_FIX_ANY: "wreck" } })
    assert.strictEqual(result.status, 1, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "failed"), ["wreck"])
    assert.include(String(readTask(scratch, "failed", "wreck")["last_feedback"]), "README.md")
    const violations = events(scratch).filter((e) => e._tag === "PolicyViolated")
    assert.isAbove(violations.length, 0)
    assert.include(JSON.stringify(violations[0]), "README.md")
    assert.strictEqual(git(scratch.repo, "rev-parse", "main"), main)
    assert.strictEqual(fs.readFileSync(path.join(scratch.repo, "README.md"), "utf8"), "# scratch\n")
    assert.deepStrictEqual(checkoutState(scratch.repo), { head: "refs/heads/main", atTip: true, status: "" })
    // The reviewer never saw it: policy runs first.
    assert.deepStrictEqual(fakeCalls(scratch).filter((c) => c.kind === "review"), [])
    assertNothingLeft(scratch)
  })

  it("an agent deleting its worktree's .git link: nothing outside its worktree changes, the worktree is repaired, and the worker goes on", () => {
    const scratch = scratchRepo({
      config: { workers: [executor("codex:gpt-5-codex", { iterations: 4 })] },
      pending: [{ id: "a-vandal", summary: "Unlinks .git" }, { id: "b-next", summary: "Comes after" }]
    })
    fs.writeFileSync(path.join(scratch.repo, "notes.txt"), "the user's untracked notes\n")
    const result = oompa(scratch, ["swarm"], { env: { E2E_UNLINK_GIT: "a-vandal" } })
    assert.strictEqual(result.status, 0, show(result))
    // The vandal's own work still went through review and landed, and so did the next task.
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["a-vandal", "b-next"])
    assert.strictEqual(git(scratch.repo, "show", "main:src/b-next.txt"), "b-next: written by codex")
    // The user's checkout: untouched apart from following main.
    assert.strictEqual(fs.readFileSync(path.join(scratch.repo, "notes.txt"), "utf8"), "the user's untracked notes\n")
    assert.deepStrictEqual(checkoutState(scratch.repo), { head: "refs/heads/main", atTip: true, status: "?? notes.txt" })
    assert.isTrue(fs.existsSync(path.join(scratch.repo, ".git/HEAD")))
    assertNothingLeft(scratch)
    // And a second run finds a sound repository.
    const again = oompa(scratch, ["swarm"])
    assert.strictEqual(again.status, 0, show(again))
  })

  it("binary files and a non-UTF-8 file name: counted by diffStat, shown to the reviewer, merged byte for byte, synced into the checkout", () => {
    const scratch = scratchRepo({ config: { workers: [executor()] }, pending: [{ id: "blob", summary: "Binary and odd names" }] })
    const result = oompa(scratch, ["swarm"], { env: { E2E_BINARY: "blob", E2E_SAVE_PROMPTS: "1" } })
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["blob"])
    // diffStat counted all three files, the binary one with no lines.
    const committed = events(scratch).find((e) => e._tag === "Committed")!
    assert.strictEqual(committed["files"], 3)
    // The reviewer saw the binary file and the quoted non-UTF-8 name.
    const review = fs.readdirSync(path.join(scratch.state, "prompts")).find((f) => f.endsWith("-review.md"))!
    const prompt = fs.readFileSync(path.join(scratch.state, "prompts", review), "utf8")
    assert.include(prompt, "Binary files /dev/null and b/src/blob.bin differ")
    assert.include(prompt, "\"b/src/blob-\\377.txt\"")
    // On main, byte for byte, under the exact name.
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])
    assert.isTrue(execFileSync("git", ["show", "main:src/blob.bin"], { cwd: scratch.repo }).equals(binary))
    const names = execFileSync("git", ["ls-tree", "-z", "--name-only", "main", "src/"], { cwd: scratch.repo }).toString("latin1").split("\0").filter((n) => n !== "")
    assert.include(names, "src/blob-\xff.txt")
    // The user's clean checkout followed: same bytes, same raw name, nothing modified.
    assert.isTrue(fs.readFileSync(path.join(scratch.repo, "src/blob.bin")).equals(binary))
    const raw = fs.readdirSync(Buffer.from(path.join(scratch.repo, "src")), { encoding: "buffer" }).map((b) => b.toString("latin1"))
    assert.include(raw, "blob-\xff.txt")
    assert.deepStrictEqual(checkoutState(scratch.repo), { head: "refs/heads/main", atTip: true, status: "" })

    // With allow_binary false, the binary file is a policy violation that never reaches main.
    const strict = scratchRepo({ config: { workers: [executor()], policy: { allow_binary: false }, max_review_attempts: 1, max_task_attempts: 1 }, pending: [{ id: "blob", summary: "Binary" }] })
    const refused = oompa(strict, ["swarm"], { env: { E2E_BINARY: "blob" } })
    assert.strictEqual(refused.status, 1, show(refused))
    assert.include(JSON.stringify(events(strict).filter((e) => e._tag === "PolicyViolated")), "src/blob.bin")
    assert.strictEqual(git(strict.repo, "ls-tree", "--name-only", "main", "src/"), "")
  })

  it("a reviewer that answers nothing never approves: NEEDS_CHANGES each time, bounded by max_review_attempts, and the task fails with why", () => {
    const scratch = scratchRepo({
      config: { workers: [executor()], max_review_attempts: 2, max_task_attempts: 1 },
      pending: [{ id: "mute", summary: "Reviewed in silence" }]
    })
    const main = git(scratch.repo, "rev-parse", "main")
    const result = oompa(scratch, ["swarm"], { env: { E2E_SILENT_REVIEW: "mute", E2E_FIX_ANY: "mute" } })
    assert.strictEqual(result.status, 1, show(result))
    assert.deepStrictEqual(fakeCalls(scratch).map((c) => c.kind), ["propose", "review", "fix", "review"])
    const verdicts = events(scratch).filter((e) => e._tag === "VerdictGiven")
    assert.deepStrictEqual(verdicts.map((v) => [v["verdict"], v["clear"]]), [["needs-changes", false], ["needs-changes", false]])
    assert.deepStrictEqual(tasksIn(scratch, "failed"), ["mute"])
    assert.include(String(readTask(scratch, "failed", "mute")["last_feedback"]), "no clear verdict")
    assert.strictEqual(git(scratch.repo, "rev-parse", "main"), main)
    assertNothingLeft(scratch)
  })
})

/** Every path and blob reachable from `rev` (`git rev-list --objects`), and every commit message on it. */
const reachable = (scratch: Scratch, rev = "main") => {
  const objects = git(scratch.repo, "rev-list", "--objects", rev).split("\n")
  const paths = objects.map((line) => line.slice(41)).filter((p) => p !== "")
  const blobs = objects.map((line) => line.slice(0, 40)).filter((sha) => git(scratch.repo, "cat-file", "-t", sha) === "blob")
  const contents = blobs.map((sha) => git(scratch.repo, "cat-file", "blob", sha)).join("\n")
  const messages = git(scratch.repo, "log", "--format=%B%x00", rev)
  return { paths, contents, messages }
}

describe("hostile agents reaching for main (issue 15: what lands is exactly what was reviewed)", () => {
  it("an agent that points its worktree's HEAD at main: oompa's commit goes to the iteration's branch; the rejected work never reaches main; the checkout is untouched", () => {
    const scratch = scratchRepo({ config: { workers: [executor()], max_task_attempts: 1 }, pending: [{ id: "sneak", summary: "Write src/sneak.txt" }] })
    const main = git(scratch.repo, "rev-parse", "main")
    const before = checkoutState(scratch.repo)
    const result = oompa(scratch, ["swarm"], { env: { E2E_HEAD_MAIN: "sneak", E2E_REJECT: "sneak" } })
    assert.strictEqual(result.status, 1, show(result))
    assert.strictEqual(git(scratch.repo, "rev-parse", "main"), main, "main never moved")
    assert.notInclude(reachable(scratch).paths, "src/sneak.txt")
    assert.include(result.stderr, "pointed its HEAD at \"ref: refs/heads/main\"")
    assert.deepStrictEqual(tasksIn(scratch, "failed"), ["sneak"])
    assert.deepStrictEqual(checkoutState(scratch.repo), before)
    assertNothingLeft(scratch)
  })

  it("an agent that moves main itself (git update-ref): noticed after its call, named, nothing lands on top, the run exits 1 and says why", () => {
    const scratch = scratchRepo({ config: { workers: [executor()] }, pending: [{ id: "a-usurp", summary: "Write src/a-usurp.txt" }, { id: "b-later", summary: "Write src/b-later.txt" }] })
    const main = git(scratch.repo, "rev-parse", "main")
    const result = oompa(scratch, ["swarm"], { env: { E2E_MOVE_MAIN: "a-usurp" } })
    assert.strictEqual(result.status, 1, show(result))
    const moved = git(scratch.repo, "rev-parse", "main")
    assert.notStrictEqual(moved, main)
    assert.strictEqual(git(scratch.repo, "log", "-1", "--format=%s", "main"), "a-usurp: straight to main", "oompa landed nothing on top of it")
    assert.match(result.stdout + result.stderr, /main was moved outside oompa's merge queue, from [0-9a-f]{12} to [0-9a-f]{12} \(noticed after w0 iteration 1's agent call\)/)
    const moves = events(scratch).filter((e) => e._tag === "MainMovedOutside")
    assert.deepStrictEqual(moves.map((e) => [e["from"], e["to"], e["worker"], e["iteration"]]), [[main, moved, "w0", 1]])
    // The later task was never started, and the usurper's task went back without an attempt spent.
    assert.deepStrictEqual(fakeCalls(scratch).map((c) => c.task), ["a-usurp"])
    assert.deepStrictEqual(tasksIn(scratch, "pending"), ["a-usurp", "b-later"])
    assert.strictEqual(readTask(scratch, "pending", "a-usurp")["attempts"] ?? 0, 0)
    const status = oompa(scratch, ["status"])
    assert.include(status.stdout, "main was moved outside oompa's merge queue", show(status))
    assertNothingLeft(scratch)
  })

  for (const strategy of ["no-ff", "ff", "rebase", "squash"] as const) {
    it(`(${strategy}) a secret committed by the agent and deleted in its fix, with forged trailers: the task lands, and no commit reachable from main holds .env, the secret or the agent's messages`, () => {
      const scratch = scratchRepo({ config: { workers: [executor()], merge: { strategy } }, pending: [{ id: "leak", summary: "Write src/leak.txt" }] })
      const before = checkoutState(scratch.repo)
      const result = oompa(scratch, ["swarm"], { env: { E2E_SECRET: "leak" } })
      assert.strictEqual(result.status, 0, show(result))
      assert.deepStrictEqual(tasksIn(scratch, "complete"), ["leak"])
      const main = reachable(scratch)
      assert.include(main.paths, "src/leak.txt")
      assert.notInclude(main.paths, ".env")
      assert.notInclude(main.contents, "hunter2")
      assert.notInclude(main.messages, "Oompa-Task: forged")
      assert.notInclude(main.messages, "with its settings")
      assert.strictEqual(git(scratch.repo, "rev-parse", "refs/oompa/merged/leak"), git(scratch.repo, "rev-parse", "main"))
      assert.isTrue(events(scratch).some((e) => e._tag === "PolicyViolated"), "the policy saw the .env on the way")
      assert.deepStrictEqual(checkoutState(scratch.repo), before)
      assertNothingLeft(scratch)
    })
  }
})

describe("repository shapes (SPEC F1 branch, F6 the user's checkout)", () => {
  it("a repository whose main branch is master: work merges onto master and the checkout follows", () => {
    const scratch = scratchRepo({ config: { workers: [executor()] }, pending: [{ id: "on-master", summary: "Lands on master" }] })
    git(scratch.repo, "branch", "-m", "main", "master")
    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 0, show(result))
    assert.include(result.stderr, "on master")
    assert.strictEqual(git(scratch.repo, "show", "master:src/on-master.txt"), "on-master: written by codex")
    assert.strictEqual(git(scratch.repo, "branch", "--list", "main"), "")
    assert.deepStrictEqual(checkoutState(scratch.repo, "master"), { head: "refs/heads/master", atTip: true, status: "" })
    assertNothingLeft(scratch)
  })

  it("a detached HEAD in the user's checkout: main moves, the checkout stays exactly where and as it was", () => {
    const scratch = scratchRepo({ config: { workers: [executor()] }, pending: [{ id: "while-detached", summary: "x" }] })
    git(scratch.repo, "checkout", "-q", "--detach", "main")
    fs.writeFileSync(path.join(scratch.repo, "README.md"), "# scratch\nan edit on the detached HEAD\n")
    const head = git(scratch.repo, "rev-parse", "HEAD")
    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 0, show(result))
    assert.strictEqual(git(scratch.repo, "show", "main:src/while-detached.txt"), "while-detached: written by codex")
    assert.notStrictEqual(git(scratch.repo, "rev-parse", "main"), head)
    assert.strictEqual(git(scratch.repo, "rev-parse", "HEAD"), head)
    assert.throws(() => git(scratch.repo, "symbolic-ref", "-q", "HEAD"))
    assert.strictEqual(fs.readFileSync(path.join(scratch.repo, "README.md"), "utf8"), "# scratch\nan edit on the detached HEAD\n")
    assert.isFalse(fs.existsSync(path.join(scratch.repo, "src/while-detached.txt")))
    assert.strictEqual(git(scratch.repo, "status", "--porcelain", "--", ".", ":!tasks"), "M README.md")
    assertNothingLeft(scratch)
  })

  it("a repository with no commits: a clear refusal, exit 2, no worktree, no agent started", () => {
    const scratch = scratchRepo({ git: false, config: { workers: [executor()] }, pending: [{ id: "nothing-yet", summary: "x" }] })
    git(scratch.repo, "init", "-q", "-b", "main")
    for (const args of [["swarm"], ["run", "--workers", "codex:1"], ["loop", "1", "--workers", "codex:1"], ["cleanup"]]) {
      if (args[0] === "run") fs.mkdirSync(path.join(scratch.repo, "config"), { recursive: true })
      if (args[0] === "run") fs.writeFileSync(path.join(scratch.repo, "config/tasks.json"), JSON.stringify([{ id: "r1", summary: "x" }]))
      const result = oompa(scratch, args)
      assert.strictEqual(result.status, 2, `${args.join(" ")}\n${show(result)}`)
      assert.include(result.stderr, "no commits", `${args.join(" ")}\n${show(result)}`)
      assert.isAtMost(result.stderr.trimEnd().split("\n").length, 2, show(result))
    }
    assert.deepStrictEqual(fakeCalls(scratch), [])
    assert.isFalse(fs.existsSync(scratch.worktrees))
    assert.strictEqual(git(scratch.repo, "worktree", "list").split("\n").length, 1)
    assert.deepStrictEqual(tasksIn(scratch, "pending"), ["nothing-yet"])
  })

  it("a dirty checkout: the user's modified, staged and untracked files survive byte for byte; clean files follow main; a clash is named in a warning", () => {
    const scratch = scratchRepo({
      config: { workers: [executor()] },
      files: { "src/clash.txt": "original\n", "src/staged.txt": "original\n", "src/follows.txt": "original\n" },
      pending: [{ id: "clash", summary: "Rewrites src/clash.txt" }, { id: "follows", summary: "Rewrites src/follows.txt" }]
    })
    const edits: Record<string, Buffer> = {
      "src/clash.txt": Buffer.from("the user's edit, not committed\r\nwith CRLF and no final newline"),
      "src/staged.txt": Buffer.from("the user's staged edit\n"),
      "scratchpad.bin": Buffer.from([0, 0xff, 0x10, 0x80])
    }
    for (const [file, bytes] of Object.entries(edits)) fs.writeFileSync(path.join(scratch.repo, file), bytes)
    git(scratch.repo, "add", "src/staged.txt")
    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 0, show(result))
    // Both tasks merged onto main (the fake rewrites src/<id>.txt).
    assert.strictEqual(git(scratch.repo, "show", "main:src/clash.txt"), "clash: written by codex")
    assert.strictEqual(git(scratch.repo, "show", "main:src/follows.txt"), "follows: written by codex")
    // The user's edits, byte for byte; the file they did not touch follows main.
    for (const [file, bytes] of Object.entries(edits)) assert.isTrue(fs.readFileSync(path.join(scratch.repo, file)).equals(bytes), file)
    assert.strictEqual(fs.readFileSync(path.join(scratch.repo, "src/follows.txt"), "utf8"), "follows: written by codex\n")
    assert.strictEqual(git(scratch.repo, "rev-parse", "HEAD"), git(scratch.repo, "rev-parse", "main"))
    // Nothing is left staged by oompa; the clash is named in a warning with how to bring it up to date.
    assert.notInclude(git(scratch.repo, "diff", "--cached", "--name-only"), "src/clash.txt")
    const warning = [...result.stdout.split("\n"), ...result.stderr.split("\n")].find((l) => l.includes("src/clash.txt"))
    assert.isDefined(warning, show(result))
  })
})
