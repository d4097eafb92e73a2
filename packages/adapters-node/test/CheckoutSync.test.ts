/**
 * Goal: SPEC F6's rule for the user's own checkout when main moves under it by compare-and-swap —
 * every uncommitted edit survives byte for byte, `git status` shows only the user's own edits, the
 * files they did not edit follow main, a `warning:` names each touched file they edited and its
 * command really brings the file up to date; a clean checkout follows main; a checkout on another
 * branch is not touched; a sync interrupted by a crash is finished by the next start.
 * Method: real repositories (the `gitdir` fixture). A property draws which files the merge touches
 * (modify, delete, add) and which the user edits (modify, delete, create untracked, stage), lands
 * the merge through `NodeGit`, and checks the checkout file by file; examples cover each warning's
 * command, the clean and other-branch checkouts, and recovery. Slow (real git).
 *
 * A checkout the user is in the middle of something in (a merge, a rebase of either backend, a
 * cherry-pick, a revert, a sequence of either, an `am` session, a bisect, unmerged entries, a held
 * index.lock) is left exactly as it is — HEAD, the index's bytes, the files and git's state files —
 * while main moves, with a warning; each state is set up with real git and compared byte for byte.
 * The warnings' commands are run as written (a merge after two moves, a rebase of each backend), and
 * a put-off sync is finished once the state is over, also after a crash.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Git, Ids } from "@oompa/core"
import { Effect, Layer, Option } from "effect"
import * as fc from "fast-check"
import { execFileSync, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as CheckoutSync from "../src/CheckoutSync.ts"
import * as GitRepo from "../src/internal/gitRepo.ts"
import * as NodeGit from "../src/NodeGit.ts"
import { commitOnBranch, git as cli, gitStatus, isolateGit, makeRepo, readTree, removeRepo, type TempRepo } from "./fixtures/gitdir.ts"

// A rebase or a merge the tests finish takes its message as it is.
isolateGit({ GIT_EDITOR: "true" })

const w0 = Ids.WorkerId.make("w0")

const numbered = (n: number, edit: Readonly<Record<number, string>> = {}): string =>
  Array.from({ length: n }, (_, i) => `${edit[i] ?? `line ${i}`}\n`).join("")

const services = (temp: TempRepo, warnings: Array<string>) =>
  NodeGit.layer({
    repoRoot: temp.repo,
    worktreesDir: temp.worktrees,
    runId: "0badc0de",
    onWarning: (line) => Effect.sync(() => void warnings.push(line))
  }).pipe(Layer.provide(NodeServices.layer))

/** The commit a worker makes: `files` written (or deleted, as null) on a branch from main. */
const branchWork = (files: Readonly<Record<string, string | null>>) =>
  Effect.gen(function*() {
    const git = yield* Git.Git
    const workspace = yield* git.acquireWorkspace(w0)
    yield* git.resetWorkspace(workspace, `oompa/t/w0-${Date.now()}`, yield* git.mainHead)
    for (const [file, content] of Object.entries(files)) {
      if (content === null) fs.rmSync(path.join(workspace.path, file))
      else fs.writeFileSync(path.join(workspace.path, file), content)
    }
    return Option.getOrThrow(yield* git.commitAll(workspace, "worker"))
  })

/** Merges `head` onto main and moves main there, as the merge queue does. */
const land = (head: string) =>
  Effect.gen(function*() {
    const git = yield* Git.Git
    const onto = yield* git.mainHead
    // Each change here is made from the main of its time, the one commit before `head`.
    const base = (yield* git.readCommit(head)).parents[0]!
    const attempt = yield* git.merge({ onto, base, head, strategy: "no-ff", message: "merge" })
    if (attempt._tag === "Conflict") return yield* Effect.die(new Error(`conflict in ${attempt.files}`))
    assert.isTrue(yield* git.compareAndSwapMain(onto, attempt.sha))
    return { old: onto, next: attempt.sha }
  })

/** `git status --porcelain` entries as "XY path" strings, sorted. */
const status = (cwd: string): Array<string> =>
  cli(cwd, ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"]).split("\0").filter((e) => e.length > 0).sort()

const treeAt = (repo: string, rev: string): Record<string, string> => {
  const files: Record<string, string> = {}
  for (const file of cli(repo, ["ls-tree", "-r", "-z", "--name-only", rev]).split("\0").filter((f) => f.length > 0)) {
    files[file] = cli(repo, ["show", `${rev}:${file}`])
  }
  return files
}

const fileCount = 8

/** What the merge does to file i, and what the user does to it in their checkout. */
const MergeChange = fc.constantFrom("none", "modify", "delete", "add") // "add": a new file n<i>.txt
// "untracked" creates n<i>.txt; "same" makes main's own change (when main modifies the file);
// "stage-edit" stages one edit and then makes another; "rm" stages a deletion.
const UserChange = fc.constantFrom("none", "modify", "delete", "stage", "untracked", "same", "stage-edit", "rm", "chmod")

describe("CheckoutSync", () => {
  it.live("property: the user's edits survive byte for byte, status shows only them, the rest follows main, warnings name exactly the clashes", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(MergeChange, UserChange), { minLength: fileCount, maxLength: fileCount }), async (plan) => {
          const files: Record<string, string> = {}
          for (let i = 0; i < fileCount; i++) files[`f${i}.txt`] = numbered(12, { 0: `file ${i}` })
          const temp = makeRepo(files)
          try {
            await Effect.runPromise(Effect.scoped(checkSync(temp, plan)))
          } finally {
            removeRepo(temp)
          }
        }),
        { numRuns: Number(process.env["OOMPA_SYNC_RUNS"] ?? 15) }
      )))

  it.live("each warning's command brings the file up to date (both edited, main deleted, main added, user deleted)", () =>
    Effect.scoped(Effect.gen(function*() {
      const temp = yield* Effect.acquireRelease(Effect.sync(() => makeRepo({ "both.txt": numbered(12), "gone.txt": numbered(12), "mine.txt": numbered(12), "x.txt": "x\n" })), (t) => Effect.sync(() => removeRepo(t)))
      const warnings: Array<string> = []
      yield* Effect.gen(function*() {
        const head = yield* branchWork({ "both.txt": numbered(12, { 10: "main" }), "gone.txt": null, "mine.txt": numbered(12, { 10: "main" }), "added.txt": "main's\n" })
        fs.writeFileSync(path.join(temp.repo, "both.txt"), numbered(12, { 1: "user" }))
        fs.writeFileSync(path.join(temp.repo, "gone.txt"), numbered(12, { 1: "user" }))
        fs.rmSync(path.join(temp.repo, "mine.txt"))
        fs.writeFileSync(path.join(temp.repo, "added.txt"), "user's\n")
        yield* land(head)
      }).pipe(Effect.provide(services(temp, warnings)))
      const byFile = (file: string) => warnings.find((line) => line.startsWith(`warning: ${file}:`)) ?? ""
      assert.lengthOf(warnings, 4)
      for (const line of warnings) assert.include(line, "git commit -a")
      assert.include(byFile("both.txt"), "now would revert the merged change")
      assert.include(byFile("gone.txt"), "main deleted it")
      assert.include(byFile("added.txt"), "main added its own")
      assert.include(byFile("mine.txt"), "you deleted it")
      // Each command does what it says.
      const run = (line: string) => execFileSync("sh", ["-c", line.slice(line.lastIndexOf(": ") + 2)], { cwd: temp.repo, env: process.env, stdio: "pipe" })
      run(byFile("both.txt").replace(/ \(your staged.*$/, ""))
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "both.txt"), "utf8"), numbered(12, { 1: "user", 10: "main" }))
      run(byFile("gone.txt"))
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "gone.txt.orig"), "utf8"), numbered(12, { 1: "user" }))
      run(byFile("added.txt"))
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "added.txt"), "utf8"), "main's\n")
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "added.txt.orig"), "utf8"), "user's\n")
      run(byFile("mine.txt"))
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "mine.txt"), "utf8"), numbered(12, { 10: "main" }))
      assert.deepStrictEqual(status(temp.repo), [" M both.txt", "?? added.txt.orig", "?? gone.txt.orig"])
    })))

  it.live("an ignored file of the user's where main adds one is kept, not overwritten (git would overwrite it)", () =>
    Effect.scoped(Effect.gen(function*() {
      const temp = yield* Effect.acquireRelease(Effect.sync(() => makeRepo({ ".gitignore": "*.log\n", "a.txt": "a\n" })), (t) => Effect.sync(() => removeRepo(t)))
      const warnings: Array<string> = []
      fs.writeFileSync(path.join(temp.repo, "build.log"), "the user's log\n")
      cli(temp.repo, ["branch", "side", "main"])
      const head = commitOnBranch(temp.repo, "side", { "build.log": "main's log\n", "a.txt": "a2\n" })
      yield* land(head).pipe(Effect.provide(services(temp, warnings)))
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "build.log"), "utf8"), "the user's log\n")
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "a.txt"), "utf8"), "a2\n")
      assert.lengthOf(warnings, 1)
      assert.include(warnings[0], "warning: build.log: main changed this file")
      assert.deepStrictEqual(status(temp.repo), [" M build.log"])
    })))

  it.live("a clean checkout follows main; a checkout on another branch is not touched", () =>
    Effect.scoped(Effect.gen(function*() {
      const temp = yield* Effect.acquireRelease(Effect.sync(() => makeRepo({ "a.txt": numbered(12), "b.txt": "b\n", "sub/c.txt": "c\n" })), (t) => Effect.sync(() => removeRepo(t)))
      const warnings: Array<string> = []
      const { next } = yield* Effect.gen(function*() {
        return yield* land(yield* branchWork({ "a.txt": numbered(12, { 5: "main" }), "sub/c.txt": null, "new.txt": "new\n" }))
      }).pipe(Effect.provide(services(temp, warnings)))
      assert.deepStrictEqual(warnings, [])
      assert.deepStrictEqual(status(temp.repo), [])
      assert.strictEqual(cli(temp.repo, ["symbolic-ref", "HEAD"]).trim(), "refs/heads/main")
      assert.strictEqual(cli(temp.repo, ["rev-parse", "HEAD"]).trim(), next)
      assert.deepStrictEqual(readTree(temp.repo), treeAt(temp.repo, next))
      assert.isFalse(fs.existsSync(path.join(temp.repo, "sub")), "an emptied folder goes, as git removes it")
      // Now the user works on another branch, dirty: main moves again, and nothing there changes.
      cli(temp.repo, ["checkout", "-q", "-b", "feature"])
      fs.writeFileSync(path.join(temp.repo, "a.txt"), "user\n")
      const before = { files: readTree(temp.repo), status: status(temp.repo), head: cli(temp.repo, ["rev-parse", "HEAD"]) }
      yield* Effect.gen(function*() {
        yield* land(yield* branchWork({ "a.txt": numbered(12, { 9: "again" }), "b.txt": "b2\n" }))
      }).pipe(Effect.provide(services(temp, warnings)))
      assert.deepStrictEqual({ files: readTree(temp.repo), status: status(temp.repo), head: cli(temp.repo, ["rev-parse", "HEAD"]) }, before)
      assert.deepStrictEqual(warnings, [])
    })))

  it.live("recovery: a sync recorded before a crash is finished at the next start; one whose swap never happened is dropped", () =>
    Effect.scoped(Effect.gen(function*() {
      const temp = yield* Effect.acquireRelease(Effect.sync(() => makeRepo({ "a.txt": numbered(12), "b.txt": numbered(12) })), (t) => Effect.sync(() => removeRepo(t)))
      const warnings: Array<string> = []
      const head = yield* branchWork({ "a.txt": numbered(12, { 10: "main" }), "b.txt": numbered(12, { 10: "main" }) }).pipe(Effect.provide(services(temp, warnings)))
      fs.writeFileSync(path.join(temp.repo, "a.txt"), numbered(12, { 1: "user" }))
      const repo = yield* GitRepo.open({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de" }).pipe(Effect.provide(NodeServices.layer))
      const old = cli(temp.repo, ["rev-parse", "main"]).trim()
      const merged = cli(temp.repo, ["commit-tree", `${head}^{tree}`, "-p", old, "-p", head, "-m", "merge"]).trim()
      // The first run got as far as recording the sync and moving main, then died.
      const record = yield* CheckoutSync.prepare(repo, { old, next: merged })
      assert.isDefined(record)
      assert.deepStrictEqual(record?.checkouts, [{ path: temp.repo }])
      assert.isTrue(fs.existsSync(path.join(temp.repo, CheckoutSync.recordFile)))
      cli(temp.repo, ["update-ref", "refs/heads/main", merged, old])
      // The next start finishes it.
      yield* Git.Git.use(() => Effect.void).pipe(Effect.provide(services(temp, warnings)))
      assert.isFalse(fs.existsSync(path.join(temp.repo, CheckoutSync.recordFile)))
      assert.deepStrictEqual(status(temp.repo), [" M a.txt"])
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "b.txt"), "utf8"), numbered(12, { 10: "main" }))
      assert.strictEqual(fs.readFileSync(path.join(temp.repo, "a.txt"), "utf8"), numbered(12, { 1: "user" }))
      assert.lengthOf(warnings, 1)
      // Finishing the same record again changes nothing (applying is idempotent).
      const filesOnce = readTree(temp.repo)
      yield* CheckoutSync.finish(repo, record!)
      assert.deepStrictEqual(readTree(temp.repo), filesOnce)
      assert.deepStrictEqual(status(temp.repo), [" M a.txt"])
      // A record whose swap never happened (main still at old) is dropped without touching anything.
      const second = yield* branchWork({ "b.txt": numbered(12, { 11: "again" }) }).pipe(Effect.provide(services(temp, warnings)))
      const stillOld = cli(temp.repo, ["rev-parse", "main"]).trim()
      const files = readTree(temp.repo)
      yield* CheckoutSync.prepare(repo, { old: stillOld, next: cli(temp.repo, ["commit-tree", `${second}^{tree}`, "-p", stillOld, "-m", "m"]).trim() })
      assert.deepStrictEqual(yield* CheckoutSync.recover(repo), [])
      assert.isFalse(fs.existsSync(path.join(temp.repo, CheckoutSync.recordFile)))
      assert.deepStrictEqual(readTree(temp.repo), files)
    })))
})

/** What "same" writes: main's own new content when main modifies the file, else a plain edit. */
const sameContent = (mergeChange: string | undefined, i: number): string =>
  mergeChange === "modify" ? numbered(12, { 0: `file ${i}`, 10: "main" }) : numbered(12, { 0: `file ${i}`, 2: "user" })

/** One property case: the merge's and the user's changes per file, landed, then checked. */
const checkSync = (temp: TempRepo, plan: ReadonlyArray<readonly [string, string]>) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const mergeFiles: Record<string, string | null> = {}
    plan.forEach(([change], i) => {
      if (change === "modify") mergeFiles[`f${i}.txt`] = numbered(12, { 0: `file ${i}`, 10: "main" })
      if (change === "delete") mergeFiles[`f${i}.txt`] = null
      if (change === "add") mergeFiles[`n${i}.txt`] = `main's n${i}\n`
    })
    const applyUser = () =>
      plan.forEach(([, change], i) => {
        const file = path.join(temp.repo, `f${i}.txt`)
        if (change === "modify") fs.writeFileSync(file, numbered(12, { 0: `file ${i}`, 2: "user" }))
        if (change === "delete") fs.rmSync(file)
        if (change === "stage") {
          fs.writeFileSync(file, numbered(12, { 0: `file ${i}`, 3: "staged" }))
          cli(temp.repo, ["add", `f${i}.txt`])
        }
        if (change === "untracked") fs.writeFileSync(path.join(temp.repo, `n${i}.txt`), `user's n${i}\n`)
        if (change === "same") fs.writeFileSync(file, sameContent(plan[i]?.[0], i))
        if (change === "stage-edit") {
          fs.writeFileSync(file, numbered(12, { 0: `file ${i}`, 3: "staged" }))
          cli(temp.repo, ["add", `f${i}.txt`])
          fs.writeFileSync(file, numbered(12, { 0: `file ${i}`, 3: "staged", 5: "then edited" }))
        }
        if (change === "rm") cli(temp.repo, ["rm", "-q", `f${i}.txt`])
        if (change === "chmod") fs.chmodSync(file, 0o755)
      })
    const { next } = yield* Effect.gen(function*() {
      const head = yield* branchWork(mergeFiles)
      applyUser()
      return yield* land(head)
    }).pipe(Effect.provide(services(temp, warnings)))
    const userFiles = readTree(temp.repo)
    const mainFiles = treeAt(temp.repo, next)
    // Edits survive byte for byte (compared with what the user wrote, recomputed independently).
    const expectedUser: Record<string, string | undefined> = {}
    plan.forEach(([, change], i) => {
      if (change === "modify") expectedUser[`f${i}.txt`] = numbered(12, { 0: `file ${i}`, 2: "user" })
      if (change === "delete") expectedUser[`f${i}.txt`] = undefined
      if (change === "stage") expectedUser[`f${i}.txt`] = numbered(12, { 0: `file ${i}`, 3: "staged" })
      if (change === "untracked") expectedUser[`n${i}.txt`] = `user's n${i}\n`
      if (change === "same") expectedUser[`f${i}.txt`] = sameContent(plan[i]?.[0], i)
      if (change === "stage-edit") expectedUser[`f${i}.txt`] = numbered(12, { 0: `file ${i}`, 3: "staged", 5: "then edited" })
      if (change === "rm") expectedUser[`f${i}.txt`] = undefined
      if (change === "chmod") expectedUser[`f${i}.txt`] = numbered(12, { 0: `file ${i}` })
    })
    const chmodded = plan.flatMap(([merge, change], i) => change === "chmod" && merge !== "delete" ? [`f${i}.txt`] : [])
    for (const file of chmodded) assert.isTrue((fs.statSync(path.join(temp.repo, file)).mode & 0o100) !== 0, `${file} stays executable`)
    for (const [file, content] of Object.entries(expectedUser)) assert.strictEqual(userFiles[file], content, `${file} kept`)
    // Everything else is main's.
    for (const file of new Set([...Object.keys(userFiles), ...Object.keys(mainFiles)])) {
      if (!(file in expectedUser)) assert.strictEqual(userFiles[file], mainFiles[file], `${file} follows main`)
    }
    // Status lists exactly the files whose content differs from main: the user's own edits.
    const differing = Object.keys(expectedUser).filter((file) => expectedUser[file] !== mainFiles[file] || chmodded.includes(file)).sort()
    assert.deepStrictEqual(status(temp.repo).map((entry) => entry.slice(3)).sort(), differing)
    // Staged edits in files the merge did not touch are still staged; nothing else is.
    for (const entry of status(temp.repo)) {
      const file = entry.slice(3)
      const i = Number(file.slice(1, -4))
      const staged = entry[0] !== " " && entry[0] !== "?"
      const touchedByMerge = plan[i]?.[0] === "modify" || plan[i]?.[0] === "delete"
      const stagedByUser = ["stage", "stage-edit", "rm"].includes(plan[i]?.[1] ?? "")
      assert.strictEqual(staged, file.startsWith("f") && stagedByUser && !touchedByMerge, `${entry}`)
    }
    // A warning exactly for each file both touched, where the user's version is not main's.
    const touched = new Set(Object.keys(mergeFiles))
    const clashes = differing.filter((file) => touched.has(file))
    assert.deepStrictEqual(warnings.map((line) => line.slice("warning: ".length, line.indexOf(": main changed"))).sort(), clashes)
    assert.isFalse(fs.existsSync(path.join(temp.repo, CheckoutSync.recordFile)))
  })

// ---------------------------------------------------------------------------------------------------
// A checkout the user is in the middle of something in
// ---------------------------------------------------------------------------------------------------

/** Runs git where it may stop on a conflict (exit 1): the state it leaves is the point. */
const stopping = (repo: string, args: ReadonlyArray<string>, input = ""): void =>
  void spawnSync("git", args, { cwd: repo, env: process.env, input, stdio: "pipe" })

/** The user's own commit on the checked-out branch. */
const commitHere = (repo: string, files: Readonly<Record<string, string>>, message: string): string => {
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(repo, file), content)
  cli(repo, ["add", "--", ...Object.keys(files)])
  cli(repo, ["commit", "-q", "-m", message])
  return cli(repo, ["rev-parse", "HEAD"]).trim()
}

const sha1 = (bytes: Uint8Array): string => createHash("sha1").update(bytes).digest("hex")

/**
 * Everything of the checkout a sync could touch: HEAD, the index (its bytes and its stages), the
 * files, and git's state files (merge, rebase, sequencer, bisect, locks); not oompa's own refs,
 * objects, logs, worktrees and exclude lines.
 */
const snapshot = (repo: string) => {
  const gitDir = path.join(repo, ".git")
  const state = readTree(gitDir, ["objects", "logs", "refs/heads", "refs/oompa", "hooks", "info", "worktrees", "index", "config", "description"])
  return {
    head: fs.readFileSync(path.join(gitDir, "HEAD"), "utf8"),
    index: sha1(fs.readFileSync(path.join(gitDir, "index"))),
    stages: cli(repo, ["ls-files", "-s"]),
    files: readTree(repo, [".git", ".oompa"]),
    state
  }
}

/** The files every busy case starts from; the user's own commit changes a.txt, `side` changes it too. */
const busyFiles = { "a.txt": numbered(12), "b.txt": numbered(12), "c.txt": "c\n" }
const userLine = (text: string) => numbered(12, { 1: text })

/** One in-progress state: how the user gets into it (after their commit O on main), and what the warning says. */
interface BusyCase {
  readonly kind: CheckoutSync.BusyKind
  readonly title: string
  readonly enter: (repo: string) => void
  readonly says: (o: string) => ReadonlyArray<string>
}

/** `side`: one commit changing a.txt's line 1 (in conflict with the user's commit on main). */
const sideConflict = (repo: string) => commitOnBranch(repo, "side", { "a.txt": userLine("side") }, "side")

const finishing = (o: string, finish: string, abort: string) => [
  `HEAD (main) now names`,
  `but your index and files are still at ${o.slice(0, 12)}`,
  `To finish it where it started: git update-ref --no-deref HEAD ${o} (HEAD detached there; nothing else changes), then ${finish} as usual, then git switch main && git merge -.`,
  `To abandon it instead: the same update-ref, then ${abort} && git switch main`
]

const busyCases: ReadonlyArray<BusyCase> = [
  {
    kind: "merge",
    title: "a conflicted merge (MERGE_HEAD, unmerged entries)",
    enter: (repo) => stopping(repo, ["merge", "side"]),
    says: (o) => ["is in the middle of a merge (.git/MERGE_HEAD)", ...finishing(o, "resolve and `git commit`", "git merge --abort")]
  },
  {
    kind: "merge",
    title: "a merge stopped before its commit, no conflict (merge --no-commit)",
    enter: (repo) => {
      cli(repo, ["branch", "quiet-side"])
      commitOnBranch(repo, "quiet-side", { "c.txt": "c from side\n" }, "side c")
      cli(repo, ["merge", "-q", "--no-ff", "--no-commit", "quiet-side"])
    },
    says: (o) => ["is in the middle of a merge (.git/MERGE_HEAD)", ...finishing(o, "resolve and `git commit`", "git merge --abort")]
  },
  {
    kind: "rebase",
    title: "a rebase of main (rebase-merge/, HEAD detached)",
    enter: (repo) => stopping(repo, ["rebase", "side"]),
    says: (o) => [
      "is in the middle of a rebase of main (.git/rebase-merge)",
      `Do not \`git rebase --abort\`: it would set main back to ${o.slice(0, 12)}`,
      `git rebase --quit && git rebase --rebase-merges --onto HEAD ${o} main.`,
      "To abandon the rebase instead: git rebase --quit && git switch --discard-changes main"
    ]
  },
  {
    kind: "rebase-apply",
    title: "a rebase --apply of main (rebase-apply/, HEAD detached)",
    enter: (repo) => stopping(repo, ["rebase", "--apply", "side"]),
    says: (o) => [
      "is in the middle of a rebase of main (.git/rebase-apply)",
      `Do not \`git rebase --abort\``,
      "this kind of rebase does not check that main moved",
      `git rebase --rebase-merges --onto main ${o} `
    ]
  },
  {
    kind: "am",
    title: "an am session (rebase-apply/applying)",
    enter: (repo) => stopping(repo, ["am", "-3"], cli(repo, ["format-patch", "-1", "--stdout", "side"])),
    says: (o) => ["is in the middle of a `git am` session (.git/rebase-apply)", ...finishing(o, "`git am --continue`", "git am --abort"), "(what it already committed stays on main)"]
  },
  {
    kind: "cherry-pick",
    title: "a cherry-pick (CHERRY_PICK_HEAD)",
    enter: (repo) => stopping(repo, ["cherry-pick", "side"]),
    says: (o) => ["is in the middle of a cherry-pick (.git/CHERRY_PICK_HEAD)", ...finishing(o, "`git cherry-pick --continue`", "git cherry-pick --abort")]
  },
  {
    kind: "revert",
    title: "a revert (REVERT_HEAD)",
    enter: (repo) => {
      const mine = cli(repo, ["rev-parse", "HEAD"]).trim()
      commitHere(repo, { "a.txt": userLine("mine, again") }, "again")
      stopping(repo, ["revert", "--no-edit", mine])
    },
    says: (o) => ["is in the middle of a revert (.git/REVERT_HEAD)", ...finishing(o, "`git revert --continue`", "git revert --abort")]
  },
  {
    kind: "cherry-pick-sequence",
    title: "a cherry-pick of several commits, the first one committed (sequencer/)",
    enter: (repo) => {
      const clean = commitOnBranch(repo, "side", { "c.txt": "c from side\n" }, "side c")
      const clash = commitOnBranch(repo, "side", { "a.txt": userLine("side again") }, "side a")
      stopping(repo, ["cherry-pick", clean, clash])
    },
    says: (o) => ["is in the middle of a cherry-pick of several commits (.git/sequencer)", ...finishing(o, "`git cherry-pick --continue`", "git cherry-pick --abort")]
  },
  {
    kind: "bisect",
    title: "a bisect begun on main (BISECT_LOG, HEAD still on main)",
    enter: (repo) => {
      cli(repo, ["bisect", "start"])
      cli(repo, ["bisect", "bad"])
    },
    says: (o) => ["is in the middle of a bisect (.git/BISECT_LOG)", `To go on bisecting: git update-ref --no-deref HEAD ${o} first`, "`git bisect reset` then takes you to main as it is now"]
  },
  {
    kind: "unmerged",
    title: "unmerged entries no state file accounts for (a stash pop's conflict)",
    enter: (repo) => {
      fs.writeFileSync(path.join(repo, "a.txt"), userLine("stashed"))
      cli(repo, ["stash", "-q"])
      commitHere(repo, { "a.txt": userLine("mine, after the stash") }, "after the stash")
      stopping(repo, ["stash", "pop"])
    },
    says: () => ["has unmerged entries in its index", "do not commit there before it is brought along", "the next merge, the next run or `oompa cleanup` brings it along"]
  },
  {
    kind: "index-lock",
    title: "an index.lock some git command holds",
    enter: (repo) => fs.writeFileSync(path.join(repo, ".git/index.lock"), ""),
    says: () => ["has a held .git/index.lock", "do not commit there before it is brought along", "Once the lock is gone (delete it if no git command is running), the next merge, the next run or `oompa cleanup` brings it along"]
  }
]

/** A repository whose user has committed O on main (a.txt changed) and has `side` in conflict with it. */
const busyRepo = () => {
  const temp = makeRepo(busyFiles)
  // The user's identity, for the commands the warnings give (run as the user would).
  cli(temp.repo, ["config", "user.name", "user"])
  cli(temp.repo, ["config", "user.email", "user@localhost"])
  cli(temp.repo, ["branch", "side"])
  sideConflict(temp.repo)
  const o = commitHere(temp.repo, { "a.txt": userLine("mine") }, "mine")
  return { temp, o }
}

const busyRepoScoped = Effect.acquireRelease(Effect.sync(busyRepo), ({ temp }) => Effect.sync(() => removeRepo(temp)))

/** oompa's change: b.txt edited, new.txt added. */
const oompaChange = { "b.txt": numbered(12, { 10: "main" }), "new.txt": "new\n" }

const readRecordFile = (repo: string): CheckoutSync.SyncRecord | undefined => {
  const file = path.join(repo, CheckoutSync.recordFile)
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) as CheckoutSync.SyncRecord : undefined
}

/** Runs the shell command the warning gives between `after` and `before`, in the checkout. */
const runFrom = (repo: string, line: string, after: string, before: string) => {
  const start = line.indexOf(after)
  assert.isAtLeast(start, 0, `"${after}" in ${line}`)
  const end = line.indexOf(before, start + after.length)
  assert.isAtLeast(end, 0, `"${before}" in ${line}`)
  const command = line.slice(start + after.length, end)
  return execFileSync("sh", ["-c", command], { cwd: repo, env: process.env, stdio: "pipe", encoding: "utf8" })
}

describe("CheckoutSync: a checkout the user is in the middle of something in (SPEC F6, issue 15)", () => {
  for (const busyCase of busyCases) {
    it.live(`${busyCase.title}: main moves; HEAD, the index's bytes, the files and the state files stay exactly as they were; a warning says why and what to run`, () =>
      Effect.scoped(Effect.gen(function*() {
        const { temp } = yield* busyRepoScoped
        const warnings: Array<string> = []
        busyCase.enter(temp.repo)
        const before = snapshot(temp.repo)
        const base = cli(temp.repo, ["rev-parse", "main"]).trim()
        const { next } = yield* Effect.gen(function*() {
          return yield* land(yield* branchWork(oompaChange))
        }).pipe(Effect.provide(services(temp, warnings)))
        assert.strictEqual(cli(temp.repo, ["rev-parse", "main"]).trim(), next, "main moved")
        assert.notStrictEqual(next, base)
        assert.deepStrictEqual(snapshot(temp.repo), before)
        assert.lengthOf(warnings, 1, warnings.join("\n"))
        const line = warnings[0]!
        assert.isTrue(line.startsWith(`warning: your checkout ${temp.repo} `), line)
        // Named by the commit its index and files are at: main before the move (the user's O, or what a
        // sequence committed on top of it before it stopped; for a rebase, where it began).
        for (const fragment of busyCase.says(base)) assert.include(line, fragment)
        // Put off, not dropped: the record keeps the checkout at the commit it is still at.
        assert.deepStrictEqual(readRecordFile(temp.repo)?.checkouts, [{ path: temp.repo, from: base, busy: busyCase.kind }])
      })))
  }

  it.live("a merge finished the way the warning says after main moved twice under it: each warning names the commit it started from, and main ends with all three", () =>
    Effect.scoped(Effect.gen(function*() {
      const { temp, o } = yield* busyRepoScoped
      const warnings: Array<string> = []
      stopping(temp.repo, ["merge", "side"])
      const before = snapshot(temp.repo)
      yield* Effect.gen(function*() {
        yield* land(yield* branchWork({ "b.txt": numbered(12, { 10: "main" }) }))
        yield* land(yield* branchWork({ "new.txt": "new\n" }))
      }).pipe(Effect.provide(services(temp, warnings)))
      assert.deepStrictEqual(snapshot(temp.repo), before)
      assert.lengthOf(warnings, 2, warnings.join("\n"))
      for (const line of warnings) assert.include(line, `git update-ref --no-deref HEAD ${o} `)
      // The warning's commands, as written: back to where it started, resolve, commit, then merge it.
      runFrom(temp.repo, warnings[1]!, "To finish it where it started: ", " (HEAD detached there")
      assert.deepStrictEqual(status(temp.repo), ["UU a.txt"], "HEAD at O: git status shows only the merge's own conflict")
      fs.writeFileSync(path.join(temp.repo, "a.txt"), userLine("mine and side"))
      cli(temp.repo, ["add", "a.txt"])
      cli(temp.repo, ["commit", "-q", "--no-edit"])
      runFrom(temp.repo, warnings[1]!, "as usual, then ", ". To abandon it")
      assert.strictEqual(cli(temp.repo, ["symbolic-ref", "HEAD"]).trim(), "refs/heads/main")
      assert.deepStrictEqual(status(temp.repo), [])
      assert.deepStrictEqual(treeAt(temp.repo, "main"), { ...busyFiles, "a.txt": userLine("mine and side"), "b.txt": numbered(12, { 10: "main" }), "new.txt": "new\n" })
      // The put-off sync is dropped without a word: the user moved main themselves.
      const repo = yield* GitRepo.open({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de" }).pipe(Effect.provide(NodeServices.layer))
      assert.deepStrictEqual(yield* CheckoutSync.recover(repo), [])
      assert.isUndefined(readRecordFile(temp.repo))
      assert.deepStrictEqual(status(temp.repo), [])
    })))

  for (const backend of ["merge", "apply"] as const) {
    it.live(`a rebase (${backend} backend) finished the way the warning says: main ends with the rebased commits and what oompa merged on top, nothing lost`, () =>
      Effect.scoped(Effect.gen(function*() {
        const { temp, o } = yield* busyRepoScoped
        const warnings: Array<string> = []
        stopping(temp.repo, backend === "merge" ? ["rebase", "side"] : ["rebase", "--apply", "side"])
        const { next } = yield* Effect.gen(function*() {
          return yield* land(yield* branchWork(oompaChange))
        }).pipe(Effect.provide(services(temp, warnings)))
        assert.lengthOf(warnings, 1, warnings.join("\n"))
        fs.writeFileSync(path.join(temp.repo, "a.txt"), userLine("mine on side"))
        cli(temp.repo, ["add", "a.txt"])
        const finished = gitStatus(temp.repo, ["rebase", "--continue"])
        if (backend === "merge") {
          // git refuses to update main, which moved under the rebase: as the warning says.
          assert.notStrictEqual(finished.code, 0)
          assert.include(finished.stderr, "cannot lock ref 'refs/heads/main'")
          assert.strictEqual(cli(temp.repo, ["rev-parse", "main"]).trim(), next)
          runFrom(temp.repo, warnings[0]!, "then put what main gained on top of your rebased commits: ", ". To abandon")
        } else {
          // This backend sets main to the rebased commits, dropping oompa's merge: as the warning says.
          assert.strictEqual(finished.code, 0, finished.stderr)
          assert.isFalse(gitStatus(temp.repo, ["merge-base", "--is-ancestor", next, "main"]).code === 0)
          runFrom(temp.repo, warnings[0]!, "once it has finished, put that back on top: ", ". To abandon")
        }
        assert.strictEqual(cli(temp.repo, ["symbolic-ref", "HEAD"]).trim(), "refs/heads/main")
        assert.deepStrictEqual(status(temp.repo), [])
        assert.deepStrictEqual(treeAt(temp.repo, "main"), { ...busyFiles, "a.txt": userLine("mine on side"), ...oompaChange })
        // Linear on side, oompa's merge commit recreated on top with its message.
        assert.strictEqual(cli(temp.repo, ["merge-base", "--is-ancestor", "side", "main"]), "")
        assert.strictEqual(cli(temp.repo, ["log", "-1", "--format=%s", "main"]).trim(), "merge")
        assert.notStrictEqual(cli(temp.repo, ["rev-parse", "main"]).trim(), o)
      })))
  }

  it.live("a held index.lock released within lockWaitMs is waited for: the checkout follows main", () =>
    Effect.scoped(Effect.gen(function*() {
      const { temp } = yield* busyRepoScoped
      const warnings: Array<string> = []
      const lock = path.join(temp.repo, ".git/index.lock")
      const next = yield* Effect.gen(function*() {
        const head = yield* branchWork(oompaChange)
        fs.writeFileSync(lock, "")
        const release = setTimeout(() => fs.rmSync(lock), CheckoutSync.lockWaitMs / 3)
        const moved = yield* land(head).pipe(Effect.ensuring(Effect.sync(() => clearTimeout(release))))
        return moved.next
      }).pipe(Effect.provide(services(temp, warnings)))
      assert.deepStrictEqual(warnings, [])
      assert.deepStrictEqual(status(temp.repo), [])
      assert.deepStrictEqual(readTree(temp.repo, [".git", ".oompa"]), treeAt(temp.repo, next))
    })))

  it.live("a held index.lock: once it is gone, the next start brings the put-off checkout along", () =>
    Effect.scoped(Effect.gen(function*() {
      const { temp } = yield* busyRepoScoped
      const warnings: Array<string> = []
      const lock = path.join(temp.repo, ".git/index.lock")
      fs.writeFileSync(lock, "")
      const { next } = yield* Effect.gen(function*() {
        return yield* land(yield* branchWork(oompaChange))
      }).pipe(Effect.provide(services(temp, warnings)))
      assert.lengthOf(warnings, 1)
      assert.isTrue(fs.existsSync(lock), "the lock is never removed by oompa")
      // Still held at the next start: put off again, and said again (the user may be waiting on it).
      yield* Git.Git.use(() => Effect.void).pipe(Effect.provide(services(temp, warnings)))
      assert.lengthOf(warnings, 2)
      assert.include(warnings[1], "has a held .git/index.lock")
      fs.rmSync(lock)
      yield* Git.Git.use(() => Effect.void).pipe(Effect.provide(services(temp, warnings)))
      assert.lengthOf(warnings, 2)
      assert.isUndefined(readRecordFile(temp.repo))
      assert.deepStrictEqual(status(temp.repo), [])
      assert.deepStrictEqual(readTree(temp.repo, [".git", ".oompa"]), treeAt(temp.repo, next))
    })))

  it.live("recovery: a recorded sync is not finished in a checkout the user started a merge in before the crash; it is, once the merge is aborted", () =>
    Effect.scoped(Effect.gen(function*() {
      const { temp, o } = yield* busyRepoScoped
      const warnings: Array<string> = []
      const head = yield* branchWork(oompaChange).pipe(Effect.provide(services(temp, warnings)))
      const repo = yield* GitRepo.open({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de" }).pipe(Effect.provide(NodeServices.layer))
      const merged = cli(temp.repo, ["commit-tree", `${head}^{tree}`, "-p", o, "-p", head, "-m", "merge"]).trim()
      // The run records the sync, the user starts a merge, main moves, and the run dies.
      yield* CheckoutSync.prepare(repo, { old: o, next: merged })
      stopping(temp.repo, ["merge", "side"])
      cli(temp.repo, ["update-ref", "refs/heads/main", merged, o])
      const before = snapshot(temp.repo)
      // The next start: the checkout is left as it is, and the warning says so.
      yield* Git.Git.use(() => Effect.void).pipe(Effect.provide(services(temp, warnings)))
      assert.deepStrictEqual(snapshot(temp.repo), before)
      assert.lengthOf(warnings, 1)
      assert.include(warnings[0], "is in the middle of a merge (.git/MERGE_HEAD)")
      assert.include(warnings[0], `git update-ref --no-deref HEAD ${o} `)
      // Again: still left as it is, and not said twice.
      yield* Git.Git.use(() => Effect.void).pipe(Effect.provide(services(temp, warnings)))
      assert.deepStrictEqual(snapshot(temp.repo), before)
      assert.lengthOf(warnings, 1)
      assert.deepStrictEqual(readRecordFile(temp.repo)?.checkouts, [{ path: temp.repo, from: o, busy: "merge" }])
      // The user abandons the merge (git resets the checkout to HEAD, the new main); the next start finishes the sync.
      cli(temp.repo, ["merge", "--abort"])
      yield* Git.Git.use(() => Effect.void).pipe(Effect.provide(services(temp, warnings)))
      assert.lengthOf(warnings, 1)
      assert.isUndefined(readRecordFile(temp.repo))
      assert.deepStrictEqual(status(temp.repo), [])
      assert.deepStrictEqual(readTree(temp.repo, [".git", ".oompa"]), treeAt(temp.repo, merged))
    })))
})
