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
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Git, Ids } from "@oompa/core"
import { Effect, Layer, Option } from "effect"
import * as fc from "fast-check"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as CheckoutSync from "../src/CheckoutSync.ts"
import * as GitRepo from "../src/internal/gitRepo.ts"
import * as NodeGit from "../src/NodeGit.ts"
import { commitOnBranch, git as cli, isolateGit, makeRepo, readTree, removeRepo, type TempRepo } from "./fixtures/gitdir.ts"

isolateGit()

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
