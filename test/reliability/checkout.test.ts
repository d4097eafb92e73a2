/**
 * The user's checkout in the middle of something while a real `oompa swarm` lands work on main (SPEC
 * F6, issue 15 item 5): a conflicted `git merge` of another branch, and a `git rebase` of main
 * stopped on a conflict. Main moves (it is a ref); the checkout is left exactly as it is — HEAD, the
 * index (its stages and its bytes), the working files, git's merge or rebase state — and a `warning:`
 * line says why and gives the commands; run as written, they end with main holding both the user's
 * work and what oompa merged, and the put-off sync is dropped without a word.
 *
 * Method: the bundled CLI with the fake codex (test/cli/helpers.ts), real git 2.39; the checkout is
 * compared byte for byte before and after the run. Each state, the lock and the recovery path are
 * covered in packages/adapters-node/test/CheckoutSync.test.ts.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, git, oompa, type Scratch, scratchRepo, show, tasksIn } from "../cli/helpers.ts"

afterAll(cleanupAll)

const executor = { model: "codex:gpt-5-codex", role: "executor", iterations: 5 }

/** Runs git where it stops on a conflict (exit 1): the state it leaves is the point. */
const stopping = (repo: string, ...args: Array<string>) => {
  const result = execFileSync("sh", ["-c", "\"$@\" || true", "sh", "git", ...args], { cwd: repo, env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" }, stdio: "pipe" })
  return result.toString()
}

/** Every file under `dir`, by relative path, with its bytes' hash; `skip` names top-level entries left out. */
const files = (dir: string, skip: ReadonlyArray<string>): Record<string, string> => {
  const found: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { recursive: true }) as Array<string>) {
    if (skip.includes(entry.split("/")[0]!)) continue
    const full = path.join(dir, entry)
    if (fs.lstatSync(full).isFile()) found[entry] = createHash("sha1").update(fs.readFileSync(full)).digest("hex")
  }
  return found
}

/**
 * What of the user's checkout a sync could touch: HEAD, the index (stages and bytes), the working
 * files (not the task queue oompa keeps there), and git's state files (MERGE_HEAD, rebase-merge/…),
 * not oompa's objects, refs, logs, worktrees and exclude lines.
 */
const checkout = (scratch: Scratch) => {
  const gitDir = path.join(scratch.repo, ".git")
  return {
    head: fs.readFileSync(path.join(gitDir, "HEAD"), "utf8"),
    stages: git(scratch.repo, "ls-files", "-s"),
    index: createHash("sha1").update(fs.readFileSync(path.join(gitDir, "index"))).digest("hex"),
    files: files(scratch.repo, [".git", ".oompa", "tasks"]),
    state: files(gitDir, ["objects", "refs", "logs", "hooks", "info", "worktrees", "index", "config", "description"])
  }
}

/** The one `warning:` line of the run about the user's checkout. */
const checkoutWarning = (result: { readonly stdout: string; readonly stderr: string }): string => {
  const lines = `${result.stdout}\n${result.stderr}`.split("\n").filter((line) => line.startsWith("warning: your checkout "))
  assert.lengthOf(lines, 1, show({ status: 0, ...result }))
  return lines[0]!
}

/** Runs the command the warning gives between `after` and `before`, in the checkout, as the user would. */
const runFrom = (repo: string, line: string, after: string, before: string) => {
  const start = line.indexOf(after)
  assert.isAtLeast(start, 0, `"${after}" in ${line}`)
  const end = line.indexOf(before, start + after.length)
  assert.isAtLeast(end, 0, `"${before}" in ${line}`)
  execFileSync("sh", ["-c", line.slice(start + after.length, end)], { cwd: repo, env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_EDITOR: "true" }, stdio: "pipe" })
}

/** A repository where the user's commit O on main and branch `side` both change notes.txt. */
const conflicting = (id: string) => {
  const scratch = scratchRepo({ config: { workers: [executor] }, files: { "notes.txt": "base\n" }, pending: [{ id, summary: `Write src/${id}.txt` }] })
  git(scratch.repo, "checkout", "-q", "-b", "side")
  fs.writeFileSync(path.join(scratch.repo, "notes.txt"), "side's notes\n")
  git(scratch.repo, "commit", "-qam", "side")
  git(scratch.repo, "checkout", "-q", "main")
  fs.writeFileSync(path.join(scratch.repo, "notes.txt"), "my notes\n")
  git(scratch.repo, "commit", "-qam", "mine")
  return { scratch, o: git(scratch.repo, "rev-parse", "main") }
}

describe("the user's checkout in the middle of something while oompa merges (SPEC F6, issue 15)", () => {
  it("a conflicted git merge in the checkout: main moves, the index (bytes and stages), MERGE_HEAD and the files stay exactly as they were, a warning says what to run; run as written, main ends with both", () => {
    const { scratch, o } = conflicting("lands")
    stopping(scratch.repo, "merge", "side")
    assert.strictEqual(git(scratch.repo, "ls-files", "-u").split("\n").length, 3, "notes.txt's three stages: the merge stopped on its conflict")
    const before = checkout(scratch)
    assert.property(before.state, "MERGE_HEAD")

    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["lands"])
    // Main moved: it holds the task's work on top of the user's commit.
    assert.strictEqual(git(scratch.repo, "show", "main:src/lands.txt"), "lands: written by codex")
    assert.strictEqual(git(scratch.repo, "rev-parse", "main^"), o)
    // The checkout: exactly as it was, the merged file not written into it.
    assert.deepStrictEqual(checkout(scratch), before)
    assert.isFalse(fs.existsSync(path.join(scratch.repo, "src/lands.txt")))
    const warning = checkoutWarning(result)
    assert.include(warning, `warning: your checkout ${scratch.repo} is in the middle of a merge (.git/MERGE_HEAD)`)
    assert.include(warning, "finishing it as things stand would revert what main gained")
    assert.include(warning, `To finish it where it started: git update-ref --no-deref HEAD ${o} (HEAD detached there; nothing else changes), then resolve and \`git commit\` as usual, then git switch main && git merge -.`)

    // As the warning says: back to where the merge started, resolve, commit, merge it into main.
    runFrom(scratch.repo, warning, "To finish it where it started: ", " (HEAD detached there")
    assert.strictEqual(git(scratch.repo, "status", "--porcelain", "--", ".", ":!tasks"), "UU notes.txt", "only the merge's own conflict, nothing reverted")
    fs.writeFileSync(path.join(scratch.repo, "notes.txt"), "my notes and side's\n")
    git(scratch.repo, "add", "notes.txt")
    git(scratch.repo, "commit", "-q", "--no-edit")
    runFrom(scratch.repo, warning, "as usual, then ", ". To abandon it")
    assert.strictEqual(git(scratch.repo, "symbolic-ref", "HEAD"), "refs/heads/main")
    assert.strictEqual(git(scratch.repo, "status", "--porcelain", "--", ".", ":!tasks"), "")
    assert.strictEqual(git(scratch.repo, "show", "main:notes.txt"), "my notes and side's")
    assert.strictEqual(git(scratch.repo, "show", "main:src/lands.txt"), "lands: written by codex")
    // The put-off sync is dropped without a word: the user moved main themselves.
    const cleanup = oompa(scratch, ["cleanup"])
    assert.strictEqual(cleanup.status, 0, show(cleanup))
    assert.notInclude(`${cleanup.stdout}${cleanup.stderr}`, "warning:", show(cleanup))
    assert.isFalse(fs.existsSync(path.join(scratch.repo, ".oompa/checkout-sync.json")))
  })

  it("a git rebase of main stopped on a conflict: main moves, HEAD (detached), the index (bytes and stages), rebase-merge/ and the files stay exactly as they were, a warning says not to abort and what to run; run as written, nothing is lost", () => {
    const { scratch, o } = conflicting("during-rebase")
    stopping(scratch.repo, "rebase", "side")
    assert.throws(() => git(scratch.repo, "symbolic-ref", "-q", "HEAD"), undefined, undefined, "HEAD is detached while rebasing")
    const before = checkout(scratch)
    assert.property(before.state, "rebase-merge/head-name")

    const result = oompa(scratch, ["swarm"])
    assert.strictEqual(result.status, 0, show(result))
    assert.deepStrictEqual(tasksIn(scratch, "complete"), ["during-rebase"])
    assert.strictEqual(git(scratch.repo, "show", "main:src/during-rebase.txt"), "during-rebase: written by codex")
    assert.strictEqual(git(scratch.repo, "rev-parse", "main^"), o)
    assert.deepStrictEqual(checkout(scratch), before)
    assert.isFalse(fs.existsSync(path.join(scratch.repo, "src/during-rebase.txt")))
    const warning = checkoutWarning(result)
    assert.include(warning, `warning: your checkout ${scratch.repo} is in the middle of a rebase of main (.git/rebase-merge)`)
    assert.include(warning, `Do not \`git rebase --abort\`: it would set main back to ${o.slice(0, 12)}, dropping what was merged since.`)

    // As the warning says: finish the rebase (git refuses to update main, which moved), then put
    // what main gained on top of the rebased commits.
    fs.writeFileSync(path.join(scratch.repo, "notes.txt"), "my notes on side's\n")
    git(scratch.repo, "add", "notes.txt")
    const refused = execFileSync("sh", ["-c", "git rebase --continue 2>&1; echo \"exit $?\""], { cwd: scratch.repo, env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_EDITOR: "true" } }).toString()
    assert.include(refused, "cannot lock ref 'refs/heads/main'")
    runFrom(scratch.repo, warning, "then put what main gained on top of your rebased commits: ", ". To abandon")
    assert.strictEqual(git(scratch.repo, "symbolic-ref", "HEAD"), "refs/heads/main")
    assert.strictEqual(git(scratch.repo, "status", "--porcelain", "--", ".", ":!tasks"), "")
    assert.strictEqual(git(scratch.repo, "show", "main:notes.txt"), "my notes on side's")
    assert.strictEqual(git(scratch.repo, "show", "main:src/during-rebase.txt"), "during-rebase: written by codex")
    assert.strictEqual(git(scratch.repo, "merge-base", "--is-ancestor", "side", "main"), "")
    // oompa's merge commit, with its trailers, recreated on top.
    assert.include(git(scratch.repo, "log", "-1", "--format=%B", "main"), "Oompa-Task: during-rebase")
    const cleanup = oompa(scratch, ["cleanup"])
    assert.strictEqual(cleanup.status, 0, show(cleanup))
    assert.notInclude(`${cleanup.stdout}${cleanup.stderr}`, "warning:", show(cleanup))
    assert.isFalse(fs.existsSync(path.join(scratch.repo, ".oompa/checkout-sync.json")))
  })
})
