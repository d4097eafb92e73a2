/**
 * Goal: the in-memory repository behaves like git where oompa depends on it: commits skip unchanged
 * trees and the task outbox, diffs count lines and flag binaries, three-way merges are clean exactly
 * when edits do not overlap (for every strategy), main moves only by a compare-and-swap that refuses
 * to go backwards, a stale branch can absorb main with conflict markers, shas are deterministic, and
 * merge bases and ancestry stay right on a long history (where the fake walks only part of it).
 * Method: examples per operation through the `Git` service, a 2,000-commit history checked against
 * a full-history walk, then fast-check properties over random edit scripts by two workspaces
 * branched from the same main.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import * as fc from "fast-check"
import { WorkerId } from "../../src/domain/Ids.ts"
import type { MergeStrategy } from "../../src/domain/SwarmConfig.ts"
import { GitError } from "../../src/services/Errors.ts"
import { Git, type MergeAttempt, type Workspace } from "../../src/services/Git.ts"
import * as MemoryGit from "../../src/testing/MemoryGit.ts"

const w0 = WorkerId.make("w0")
const w1 = WorkerId.make("w1")
const strategies: ReadonlyArray<MergeStrategy> = ["no-ff", "ff", "squash", "rebase"]

/** `n` numbered lines, each ending in a newline; `edit` replaces chosen lines. */
const numbered = (n: number, edit: Readonly<Record<number, string>> = {}): string =>
  Array.from({ length: n }, (_, i) => `${edit[i] ?? `line ${i}`}\n`).join("")

const provide = <A, E>(repo: MemoryGit.MemoryRepo, effect: Effect.Effect<A, E, Git>): Effect.Effect<A, E> =>
  effect.pipe(Effect.provide(MemoryGit.layer(repo)))

/** Synchronous run, for fast-check properties. */
const runSync = <A, E>(repo: MemoryGit.MemoryRepo, effect: Effect.Effect<A, E, Git>): A =>
  Effect.runSync(provide(repo, effect))

/** Acquires `worker`'s workspace and starts `branch` on the current main. */
const branchFromMain = (worker: WorkerId, branch: string): Effect.Effect<Workspace, GitError, Git> =>
  Effect.gen(function*() {
    const git = yield* Git
    const workspace = yield* git.acquireWorkspace(worker)
    yield* git.resetWorkspace(workspace, branch, yield* git.mainHead)
    return workspace
  })

const commitOrFail = (workspace: Workspace, message: string): Effect.Effect<string, GitError, Git> =>
  Effect.gen(function*() {
    const git = yield* Git
    return Option.getOrThrowWith(yield* git.commitAll(workspace, message), () => new Error("expected a commit"))
  })

/** Where `head`'s first-parent line meets `onto`'s history: the base of the change `head` makes. */
const forkPoint = (onto: string, head: string): Effect.Effect<string, GitError, Git> =>
  Effect.gen(function*() {
    const git = yield* Git
    let sha = head
    while (!(yield* git.isAncestor(sha, onto))) sha = (yield* git.readCommit(sha)).parents[0] ?? assert.fail(`${head} shares no history with ${onto}`)
    return sha
  })

/** Merges `head` onto the current main and, when clean, moves main there. */
const land = (head: string, strategy: MergeStrategy): Effect.Effect<MergeAttempt, GitError, Git> =>
  Effect.gen(function*() {
    const git = yield* Git
    const onto = yield* git.mainHead
    const base = yield* forkPoint(onto, head)
    const attempt = yield* git.merge({ onto, base, head, strategy, message: `merge ${head.slice(0, 8)}\n\nOompa-Task: t` })
    if (attempt._tag === "Merged") assert.isTrue(yield* git.compareAndSwapMain(onto, attempt.sha))
    return attempt
  })

const mergedSha = (attempt: MergeAttempt): string => {
  if (attempt._tag === "Conflict") throw new Error(`unexpected conflict in ${attempt.files.join(", ")}`)
  return attempt.sha
}

const treeObject = (repo: MemoryGit.MemoryRepo, sha: string): Record<string, MemoryGit.FileContent> =>
  Object.fromEntries(repo.treeOf(sha))

describe("MemoryGit: commits and workspaces", () => {
  it.effect("commitAll gives None without changes and a commit on the branch with them", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "a.txt": "a\n" } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const root = yield* git.mainHead
      const ws = yield* branchFromMain(w0, "oompa/r/w0-1")
      assert.strictEqual(ws.path, "/memory/worktrees/w0")
      assert.isTrue(Option.isNone(yield* git.commitAll(ws, "nothing")))
      repo.writeFile(ws.path, "b.txt", "b\n")
      const sha = yield* commitOrFail(ws, "add b")
      assert.match(sha, /^[0-9a-f]{40}$/)
      assert.deepStrictEqual(yield* git.readCommit(sha), { sha, parents: [root], message: "add b" })
      assert.strictEqual(yield* git.workspaceHead(ws), sha)
      assert.strictEqual(repo.branchHead("oompa/r/w0-1"), sha)
      assert.deepStrictEqual(treeObject(repo, sha), { "a.txt": "a\n", "b.txt": "b\n" })
      assert.isTrue(Option.isNone(yield* git.commitAll(ws, "again")))
      assert.strictEqual(yield* git.mainHead, root, "committing in a workspace never moves main")
      // Undoing the change back to the head's tree is again "no change".
      repo.deleteFile(ws.path, "b.txt")
      const undo = yield* commitOrFail(ws, "remove b")
      assert.deepStrictEqual(treeObject(repo, undo), { "a.txt": "a\n" })
    }))
  })

  it.effect("the .oompa-new-tasks/ outbox is never committed and is taken exactly once", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "a.txt": "a\n" } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const ws = yield* branchFromMain(w0, "b1")
      repo.writeFile(ws.path, ".oompa-new-tasks/t2.json", "{\"id\":\"t2\"}")
      repo.writeFile(ws.path, ".oompa-new-tasks/t1.json", new TextEncoder().encode("{\"id\":\"t1\"}"))
      assert.isTrue(Option.isNone(yield* git.commitAll(ws, "only tasks")), "the outbox alone is no change")
      repo.writeFile(ws.path, "a.txt", "A\n")
      const sha = yield* commitOrFail(ws, "edit")
      assert.deepStrictEqual([...repo.treeOf(sha).keys()], ["a.txt"])
      assert.deepStrictEqual(yield* git.takeNewTaskFiles(ws), [
        { name: "t1.json", content: "{\"id\":\"t1\"}" },
        { name: "t2.json", content: "{\"id\":\"t2\"}" }
      ])
      assert.deepStrictEqual(yield* git.takeNewTaskFiles(ws), [])
      assert.deepStrictEqual(repo.listFiles(ws.path), ["a.txt"])
    }))
  })

  it.effect("workspaces are reused, listed in worker order and removed without touching branches", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "a.txt": "a\n" } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const second = yield* branchFromMain(w1, "b-w1")
      const first = yield* branchFromMain(w0, "b-w0")
      assert.deepStrictEqual(yield* git.acquireWorkspace(w0), first)
      assert.deepStrictEqual(yield* git.listWorkspaces, [first, second])
      // git refuses to check one branch out in two worktrees; so does the fake.
      const clash = yield* Effect.flip(git.resetWorkspace(first, "b-w1", yield* git.mainHead))
      assert.strictEqual(clash.operation, "resetWorkspace")
      yield* git.removeWorkspace(second)
      assert.deepStrictEqual(yield* git.listWorkspaces, [first])
      assert.deepStrictEqual((yield* git.listBranches("b-")).map((b) => b.name), ["b-w0", "b-w1"])
      yield* git.deleteBranch("b-w1")
      yield* git.deleteBranch("never-existed")
      assert.deepStrictEqual((yield* git.listBranches("")).map((b) => b.name), ["b-w0", "main"])
      assert.strictEqual((yield* Effect.flip(git.deleteBranch("main"))).operation, "deleteBranch")
    }))
  })

  it.effect("unknown commits and workspaces fail with a GitError naming the operation", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: {} })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const main = yield* git.mainHead
      const ghost: Workspace = { worker: w0, path: "/memory/worktrees/w0" }
      const errors = [
        yield* Effect.flip(git.readCommit("0".repeat(40))),
        yield* Effect.flip(git.diffStat(main, "nope")),
        yield* Effect.flip(git.merge({ onto: main, base: main, head: "nope", strategy: "no-ff", message: "m" })),
        yield* Effect.flip(git.commitAll(ghost, "m")),
        yield* Effect.flip(git.resetWorkspace(ghost, "b", main)),
        yield* Effect.flip(git.setBranch("b", "nope"))
      ]
      assert.isTrue(errors.every((e) => e instanceof GitError))
      assert.deepStrictEqual(errors.map((e) => e.operation), [
        "readCommit",
        "diffStat",
        "merge",
        "commitAll",
        "resetWorkspace",
        "setBranch"
      ])
    }))
  })
})

describe("MemoryGit: diffs", () => {
  const png = (bytes: ReadonlyArray<number>): Uint8Array => Uint8Array.from(bytes)

  it.effect("diffStat reports added, modified, deleted and binary files with line counts", () => {
    const repo = MemoryGit.MemoryRepo.make({
      files: { "a.txt": "1\n2\n3\n", "b.txt": "x\ny\n", "img.png": png([1, 2, 3]), "same.txt": "s\n" }
    })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const base = yield* git.mainHead
      const ws = yield* branchFromMain(w0, "b")
      repo.writeFile(ws.path, "a.txt", "1\ntwo\n3\n4\n")
      repo.deleteFile(ws.path, "b.txt")
      repo.writeFile(ws.path, "c.txt", "p\nq")
      repo.writeFile(ws.path, "img.png", png([1, 2, 4]))
      repo.writeFile(ws.path, "new.bin", png([0, 255]))
      const head = yield* commitOrFail(ws, "change")
      assert.deepStrictEqual(yield* git.diffStat(base, head), [
        { path: "a.txt", status: "modified", added: 2, deleted: 1, binary: false },
        { path: "b.txt", status: "deleted", added: 0, deleted: 2, binary: false },
        { path: "c.txt", status: "added", added: 2, deleted: 0, binary: false },
        { path: "img.png", status: "modified", added: 0, deleted: 0, binary: true },
        { path: "new.bin", status: "added", added: 0, deleted: 0, binary: true }
      ])
      assert.deepStrictEqual(yield* git.diffStat(head, head), [])
      const text = yield* git.diffText(base, head)
      for (
        const expected of [
          "diff --git a/a.txt b/a.txt",
          "@@ -1,3 +1,4 @@\n 1\n-2\n+two\n 3\n+4\n",
          "deleted file\n--- a/b.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n",
          "new file\n--- /dev/null\n+++ b/c.txt\n@@ -0,0 +1,2 @@\n+p\n+q\n\\ No newline at end of file",
          "Binary files a/img.png and b/img.png differ",
          "Binary files /dev/null and b/new.bin differ"
        ]
      ) assert.include(text, expected)
      assert.notInclude(text, "same.txt")
    }))
  })

  it("a missing final newline is a one-line change, as in git", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "a.txt": "a\nb" } })
    const ws = runSync(repo, branchFromMain(w0, "b"))
    repo.writeFile(ws.path, "a.txt", "a\nb\n")
    const head = runSync(repo, commitOrFail(ws, "newline"))
    const [change] = repo.diffStat(repo.mainHistory[0] ?? "", head)
    assert.deepStrictEqual(change, { path: "a.txt", status: "modified", added: 1, deleted: 1, binary: false })
  })
})

/** Two workspaces branched from the same main, each editing `f.txt` (10 lines) with `editA`/`editB`. */
const twoBranches = (
  repo: MemoryGit.MemoryRepo,
  editA: (path: string) => void,
  editB: (path: string) => void
): Effect.Effect<{ readonly a: string; readonly b: string }, GitError, Git> =>
  Effect.gen(function*() {
    const wsA = yield* branchFromMain(w0, "oompa/r/w0-1")
    const wsB = yield* branchFromMain(w1, "oompa/r/w1-1")
    editA(wsA.path)
    editB(wsB.path)
    return { a: yield* commitOrFail(wsA, "A"), b: yield* commitOrFail(wsB, "B") }
  })

describe("MemoryGit: merge", () => {
  for (const strategy of strategies) {
    it.effect(`${strategy}: non-overlapping line edits of one file merge cleanly onto a moved main`, () => {
      const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(10) } })
      return provide(repo, Effect.gen(function*() {
        const git = yield* Git
        const { a, b } = yield* twoBranches(
          repo,
          (p) => repo.writeFile(p, "f.txt", numbered(10, { 1: "A" })),
          (p) => repo.writeFile(p, "f.txt", numbered(10, { 8: "B" }))
        )
        mergedSha(yield* land(a, strategy))
        const onto = yield* git.mainHead
        const sha = mergedSha(yield* land(b, strategy))
        assert.deepStrictEqual(treeObject(repo, sha), { "f.txt": numbered(10, { 1: "A", 8: "B" }) })
        const commit = yield* git.readCommit(sha)
        assert.strictEqual(commit.parents[0], onto)
        assert.strictEqual(commit.parents.length, strategy === "no-ff" ? 2 : 1)
        assert.include(commit.message, "Oompa-Task: t")
        assert.strictEqual(repo.mainHistory.length, 3)
        assert.strictEqual(repo.mainHistory[2], sha)
        // What lands is a commit oompa wrote of the branch's tree, never the branch commit itself.
        assert.isFalse(repo.reachableFrom([sha]).has(a) || repo.reachableFrom([sha]).has(b))
        if (strategy !== "no-ff") assert.deepStrictEqual(repo.commit(repo.mainHistory[1]!).parents, [repo.mainHistory[0]!])
      }))
    })

    it.effect(`${strategy}: overlapping edits conflict and name only the conflicting files`, () => {
      const repo = MemoryGit.MemoryRepo.make({
        files: { "f.txt": numbered(10), "gone.txt": "g\n", "img.bin": Uint8Array.of(1), "ok.txt": "ok\n" }
      })
      return provide(repo, Effect.gen(function*() {
        const git = yield* Git
        const { a, b } = yield* twoBranches(
          repo,
          (p) => {
            repo.writeFile(p, "f.txt", numbered(10, { 4: "A" }))
            repo.deleteFile(p, "gone.txt")
            repo.writeFile(p, "img.bin", Uint8Array.of(2))
          },
          (p) => {
            repo.writeFile(p, "f.txt", numbered(10, { 4: "B" }))
            repo.writeFile(p, "gone.txt", "changed\n")
            repo.writeFile(p, "img.bin", Uint8Array.of(3))
            repo.writeFile(p, "ok.txt", "fine\n")
          }
        )
        mergedSha(yield* land(a, strategy))
        const main = yield* git.mainHead
        const attempt = yield* land(b, strategy)
        assert.deepStrictEqual(attempt, { _tag: "Conflict", files: ["f.txt", "gone.txt", "img.bin"] })
        assert.strictEqual(yield* git.mainHead, main)
        assert.strictEqual(repo.mergeConflicts, 1)
      }))
    })
  }

  it.effect("main at the change's base: ff, rebase and squash land the reviewed commit (head's tree on base, oompa's message); no-ff merges it", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(3) } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const main = yield* git.mainHead
      const ws = yield* branchFromMain(w0, "b")
      repo.writeFile(ws.path, "f.txt", numbered(3, { 0: "X" }))
      repo.writeFile(ws.path, ".env", "SECRET=1\n")
      yield* commitOrFail(ws, "x with a secret\n\nOompa-Task: forged")
      repo.deleteFile(ws.path, ".env")
      const head = yield* commitOrFail(ws, "x")
      const request = { onto: main, base: main, head, message: "land x" }
      const reviewed = mergedSha(yield* git.merge({ ...request, strategy: "ff" }))
      assert.notStrictEqual(reviewed, head, "the agent's commits are not what lands")
      assert.deepStrictEqual(yield* git.readCommit(reviewed), { sha: reviewed, parents: [main], message: "land x" })
      assert.deepStrictEqual(treeObject(repo, reviewed), treeObject(repo, head))
      for (const strategy of ["rebase", "squash"] as const) assert.strictEqual(mergedSha(yield* git.merge({ ...request, strategy })), reviewed)
      const merge = mergedSha(yield* git.merge({ ...request, strategy: "no-ff" }))
      assert.deepStrictEqual((yield* git.readCommit(merge)).parents, [main, reviewed])
      assert.deepStrictEqual(treeObject(repo, merge), treeObject(repo, head))
      // Nothing of the .env commit is reachable from what would land.
      for (const sha of [reviewed, merge]) assert.isFalse([...repo.reachableFrom([sha])].some((c) => repo.treeOf(c).has(".env")))
      assert.strictEqual(yield* git.mainHead, main, "merge never moves main")
    }))
  })

  it.effect("main moved past the base: every strategy lands one commit on main whose tree merges the change; no-ff's second parent is the reviewed commit", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(3) } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const base = yield* git.mainHead
      const { a, b } = yield* twoBranches(repo, (p) => repo.writeFile(p, "a.txt", "a\n"), (p) => repo.writeFile(p, "b.txt", "b\n"))
      mergedSha(yield* land(a, "no-ff"))
      const main = yield* git.mainHead
      for (const strategy of ["ff", "rebase", "squash", "no-ff"] as const) {
        const sha = mergedSha(yield* git.merge({ onto: main, base, head: b, strategy, message: "land b" }))
        const parents = (yield* git.readCommit(sha)).parents
        assert.strictEqual(parents[0], main)
        assert.strictEqual(parents.length, strategy === "no-ff" ? 2 : 1)
        if (strategy === "no-ff") assert.deepStrictEqual((yield* git.readCommit(parents[1]!)).parents, [base])
        assert.deepStrictEqual([...repo.treeOf(sha).keys()].sort(), ["a.txt", "b.txt", "f.txt"])
      }
      // A base that main does not contain is refused: the change would be taken from the wrong place.
      const refused = yield* Effect.flip(git.merge({ onto: base, base: main, head: b, strategy: "no-ff", message: "m" }))
      assert.match(refused.message, /is not part of/)
    }))
  })

  it.effect("the merge base of two branches is their fork point", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(3) } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const fork = yield* git.mainHead
      const { a, b } = yield* twoBranches(
        repo,
        (p) => repo.writeFile(p, "a", "a\n"),
        (p) => repo.writeFile(p, "b", "b\n")
      )
      assert.strictEqual(repo.mergeBase(a, b), fork)
      assert.strictEqual(repo.mergeBase(a, fork), fork)
      assert.isTrue(yield* git.isAncestor(fork, a))
      assert.isFalse(yield* git.isAncestor(a, b))
      assert.isFalse(yield* git.isAncestor(a, fork))
    }))
  })
})

describe("MemoryGit: compareAndSwapMain", () => {
  it.effect("moves main only when it is at the expected commit", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(10) } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const root = yield* git.mainHead
      const { a, b } = yield* twoBranches(
        repo,
        (p) => repo.writeFile(p, "f.txt", numbered(10, { 1: "A" })),
        (p) => repo.writeFile(p, "f.txt", numbered(10, { 8: "B" }))
      )
      assert.isTrue(yield* git.compareAndSwapMain(root, a))
      assert.strictEqual(yield* git.mainHead, a)
      // A stale expectation loses, and main stays where the winner put it.
      assert.isFalse(yield* git.compareAndSwapMain(root, b))
      assert.strictEqual(yield* git.mainHead, a)
      assert.strictEqual(repo.casFailures, 1)
      assert.strictEqual(repo.casSuccesses, 1)
      assert.deepStrictEqual(repo.mainHistory, [root, a])
    }))
  })

  it.effect("dies when the new main does not descend from the old one", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(10) } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const root = yield* git.mainHead
      const { a, b } = yield* twoBranches(
        repo,
        (p) => repo.writeFile(p, "f.txt", "a\n"),
        (p) => repo.writeFile(p, "f.txt", "b\n")
      )
      assert.isTrue(yield* git.compareAndSwapMain(root, a))
      for (const next of [b, root]) {
        const exit = yield* Effect.exit(git.compareAndSwapMain(a, next))
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), `moving main to ${next} must be a defect`)
      }
      assert.strictEqual(yield* git.mainHead, a)
      assert.deepStrictEqual(repo.mainHistory, [root, a])
    }))
  })
})

describe("MemoryGit: mergeIntoWorkspace", () => {
  it.effect("leaves conflict markers; the resolved commit descends from main and fast-forwards", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(5) } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const wsA = yield* branchFromMain(w0, "a")
      const wsB = yield* branchFromMain(w1, "b")
      repo.writeFile(wsA.path, "f.txt", numbered(5, { 2: "A" }))
      repo.writeFile(wsA.path, "fromA.txt", "new\n")
      mergedSha(yield* land(yield* commitOrFail(wsA, "A"), "no-ff"))
      repo.writeFile(wsB.path, "f.txt", numbered(5, { 2: "B" }))
      repo.writeFile(wsB.path, ".oompa-new-tasks/t.json", "{}")
      const stale = yield* commitOrFail(wsB, "B")
      const main = yield* git.mainHead

      assert.deepStrictEqual(yield* git.mergeIntoWorkspace(wsB, main), ["f.txt"])
      assert.strictEqual(
        repo.readFile(wsB.path, "f.txt"),
        "line 0\nline 1\n<<<<<<< ours\nB\n=======\nA\n>>>>>>> main\nline 3\nline 4\n"
      )
      assert.strictEqual(repo.readFile(wsB.path, "fromA.txt"), "new\n", "main's clean changes are applied")
      assert.strictEqual(repo.readFile(wsB.path, ".oompa-new-tasks/t.json"), "{}", "the outbox is untouched")

      repo.writeFile(wsB.path, "f.txt", numbered(5, { 2: "A and B" }))
      const resolved = yield* commitOrFail(wsB, "resolve")
      assert.deepStrictEqual((yield* git.readCommit(resolved)).parents, [stale, main])
      assert.isTrue(yield* git.isAncestor(main, resolved))
      assert.deepStrictEqual((yield* git.diffStat(main, resolved)).map((c) => c.path), ["f.txt"])
      // From the main it merged in, the change is the resolution alone; it lands as one commit on main.
      const landed = mergedSha(yield* git.merge({ onto: main, base: main, head: resolved, strategy: "ff", message: "m" }))
      assert.deepStrictEqual((yield* git.readCommit(landed)).parents, [main])
      assert.deepStrictEqual(treeObject(repo, landed), treeObject(repo, resolved))
      assert.isTrue(yield* git.compareAndSwapMain(main, landed))
    }))
  })

  it.effect("a clean merge with no tree change still commits, so the branch descends from main", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(5) } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const wsA = yield* branchFromMain(w0, "a")
      const wsB = yield* branchFromMain(w1, "b")
      // Both make the same edit: the merge changes nothing in B's tree.
      repo.writeFile(wsA.path, "f.txt", "same\n")
      repo.writeFile(wsB.path, "f.txt", "same\n")
      mergedSha(yield* land(yield* commitOrFail(wsA, "A"), "squash"))
      const stale = yield* commitOrFail(wsB, "B")
      const main = yield* git.mainHead
      assert.deepStrictEqual(yield* git.mergeIntoWorkspace(wsB, main), [])
      const merged = yield* commitOrFail(wsB, "merge main")
      assert.deepStrictEqual((yield* git.readCommit(merged)).parents, [stale, main])
      // Already part of the history: nothing to merge, nothing to commit.
      assert.deepStrictEqual(yield* git.mergeIntoWorkspace(wsB, main), [])
      assert.isTrue(Option.isNone(yield* git.commitAll(wsB, "again")))
    }))
  })
})

describe("MemoryGit: determinism", () => {
  const script = (repo: MemoryGit.MemoryRepo, lastMessage: string): ReadonlyArray<string> =>
    runSync(repo, Effect.gen(function*() {
      const { a, b } = yield* twoBranches(
        repo,
        (p) => repo.writeFile(p, "f.txt", numbered(10, { 1: "A" })),
        (p) => repo.writeFile(p, "f.txt", numbered(10, { 8: "B" }))
      )
      mergedSha(yield* land(a, "no-ff"))
      const git = yield* Git
      const onto = yield* git.mainHead
      const sha = mergedSha(yield* git.merge({ onto, base: yield* forkPoint(onto, b), head: b, strategy: "rebase", message: lastMessage }))
      yield* git.compareAndSwapMain(onto, sha)
      return [a, b, ...repo.mainHistory]
    }))

  it("the same operations give the same shas; a different message gives a different sha", () => {
    const make = () => MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(10), "bin": Uint8Array.of(0, 1) } })
    const first = script(make(), "last")
    assert.deepStrictEqual(script(make(), "last"), first)
    const other = script(make(), "other")
    assert.deepStrictEqual(other.slice(0, -1), first.slice(0, -1))
    assert.notStrictEqual(other[other.length - 1], first[first.length - 1])
    assert.strictEqual(new Set(first).size, first.length)
  })

  it("the root sha depends on the files and the message, not on insertion order", () => {
    const root = (files: Record<string, MemoryGit.FileContent>, message?: string) =>
      MemoryGit.MemoryRepo.make(message === undefined ? { files } : { files, message }).mainHead()
    assert.strictEqual(root({ a: "1", b: "2" }), root({ b: "2", a: "1" }))
    assert.notStrictEqual(root({ a: "1" }), root({ a: Uint8Array.of(49) }))
    assert.notStrictEqual(root({ a: "1" }), root({ a: "1" }, "other"))
    assert.notStrictEqual(root({ "a\nb": "" }), root({ a: "b" }))
  })
})

describe("MemoryGit: long histories", () => {
  /** Commits one edit per message in `workspace`, returning the shas in order. */
  const commitEach = (repo: MemoryGit.MemoryRepo, workspace: Workspace, file: string, messages: ReadonlyArray<string>) =>
    messages.map((message) => {
      repo.writeFile(workspace.path, file, `${message}\n`)
      return repo.commitAll(workspace, message) ?? assert.fail(`expected a commit for ${message}`)
    })

  /** Every ancestor of `sha` (itself included), by walking `readCommit` parents: the slow, obvious answer. */
  const ancestorsOf = (repo: MemoryGit.MemoryRepo, sha: string): Set<string> => {
    const seen = new Set([sha])
    for (const stack = [sha]; stack.length > 0;) {
      for (const parent of repo.readCommit(stack.pop()!).parents) {
        if (!seen.has(parent)) {
          seen.add(parent)
          stack.push(parent)
        }
      }
    }
    return seen
  }

  /** The reference merge base: of all common ancestors, the highest generation, then the smallest sha. */
  const referenceBase = (repo: MemoryGit.MemoryRepo, generation: ReadonlyMap<string, number>, a: string, b: string) => {
    const ofA = ancestorsOf(repo, a)
    const common = [...ancestorsOf(repo, b)].filter((sha) => ofA.has(sha))
    const rank = (sha: string) => generation.get(sha) ?? assert.fail(`no generation for ${sha}`)
    return common.sort((x, y) => rank(y) - rank(x) || (x < y ? -1 : 1))[0]
  }

  it("merge bases and ancestry over 2,000 linear commits, side branches and merges match a full-history walk", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": "0\n" } })
    const root = repo.mainHead()
    const line = repo.acquireWorkspace(w0)
    repo.resetWorkspace(line, "line", root)
    const linear = [root, ...commitEach(repo, line, "f.txt", Array.from({ length: 2000 }, (_, i) => `line ${i + 1}`))]
    const side = repo.acquireWorkspace(w1)
    const forks = [100, 700, 1300, 1999]
    const branches = new Map(forks.map((fork) => {
      repo.resetWorkspace(side, `side-${fork}`, linear[fork]!)
      return [fork, commitEach(repo, side, `side-${fork}.txt`, ["s1", "s2", "s3"].map((m) => `side ${fork} ${m}`))] as const
    }))
    const tip = (fork: number) => branches.get(fork)![2]!
    // Merge the 700 branch into the end of the line, then branch once more from that merge.
    const merged = repo.commitWithParents([linear[2000]!, tip(700)], "merge 700")
    repo.resetWorkspace(side, "after-merge", merged)
    const afterMerge = commitEach(repo, side, "after.txt", ["a1", "a2"])
    const after = afterMerge[1]!
    // A criss-cross: two branches from 1500 each merge the other, so two best common ancestors tie.
    const [x, y] = ["x", "y"].map((name) => {
      repo.resetWorkspace(side, `cross-${name}`, linear[1500]!)
      return commitEach(repo, side, `${name}.txt`, [`cross ${name}`])[0]!
    }) as [string, string]
    const crossX = repo.commitWithParents([x, y], "x takes y")
    const crossY = repo.commitWithParents([y, x], "y takes x")

    for (const fork of forks) {
      assert.strictEqual(repo.mergeBase(linear[2000]!, tip(fork)), linear[fork], `fork ${fork}`)
      assert.strictEqual(repo.mergeBase(tip(fork), linear[2000]!), linear[fork], `fork ${fork}, swapped`)
      assert.isTrue(repo.isAncestor(linear[fork]!, tip(fork)))
      assert.isFalse(repo.isAncestor(linear[fork + 1]!, tip(fork)))
      assert.isFalse(repo.isAncestor(tip(fork), linear[2000]!))
    }
    assert.strictEqual(repo.mergeBase(tip(100), tip(1999)), linear[100])
    assert.strictEqual(repo.mergeBase(after, tip(700)), tip(700), "a merged branch's tip is the base")
    assert.strictEqual(repo.mergeBase(after, tip(1300)), linear[1300])
    assert.strictEqual(repo.mergeBase(after, linear[0]!), root)
    assert.isTrue(repo.isAncestor(root, after))
    assert.isTrue(repo.isAncestor(tip(700), after))
    assert.isFalse(repo.isAncestor(tip(1300), after))
    assert.isFalse(repo.isAncestor(linear[2000]!, linear[1999]!))
    assert.strictEqual(repo.mergeBase(crossX, crossY), x < y ? x : y, "a tie goes to the smallest sha")

    // Sampled pairs against the slow walk; a fixed generator (Park–Miller) keeps the sample the same on every run.
    const all = [...linear, ...[...branches.values()].flat(), merged, ...afterMerge, x, y, crossX, crossY]
    const generation = new Map<string, number>()
    for (const sha of all) { // creation order: parents first
      const parents = repo.readCommit(sha).parents.map((parent) => generation.get(parent) ?? assert.fail("parent first"))
      generation.set(sha, parents.length === 0 ? 0 : 1 + Math.max(...parents))
    }
    let state = 7
    const next = () => (state = (state * 48271) % 2147483647) % all.length
    const pairs: Array<readonly [string, string]> = [
      [crossX, crossY],
      [crossY, crossX],
      ...Array.from({ length: 40 }, () => [all[next()]!, all[next()]!] as const)
    ]
    for (const [a, b] of pairs) {
      assert.strictEqual(repo.mergeBase(a, b), referenceBase(repo, generation, a, b), `mergeBase(${a}, ${b})`)
      assert.strictEqual(repo.isAncestor(a, b), ancestorsOf(repo, b).has(a), `isAncestor(${a}, ${b})`)
    }
  })
})

// ---------------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------------

const lineArb = fc.string({ unit: fc.constantFrom("a", "b", " ", "x"), maxLength: 3 })
const contentArb: fc.Arbitrary<MemoryGit.FileContent> = fc.oneof(
  { weight: 4, arbitrary: fc.array(lineArb, { maxLength: 6 }).map((lines) => lines.map((l) => `${l}\n`).join("")) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom("a", "\n"), maxLength: 5 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4 }) }
)
const strategyArb = fc.constantFrom(...strategies)
const fileCount = 6

/** Per base file: who edits it, and what each side would write (`null` deletes). */
const disjointScenario = fc.record({
  base: fc.array(contentArb, { minLength: fileCount, maxLength: fileCount }),
  owners: fc.array(fc.constantFrom("none", "a", "b"), { minLength: fileCount, maxLength: fileCount }),
  editsA: fc.array(fc.option(contentArb), { minLength: fileCount, maxLength: fileCount }),
  editsB: fc.array(fc.option(contentArb), { minLength: fileCount, maxLength: fileCount }),
  addedA: fc.array(contentArb, { maxLength: 2 }),
  addedB: fc.array(contentArb, { maxLength: 2 }),
  strategyA: strategyArb,
  strategyB: strategyArb
})

const applyEdit = (files: Map<string, MemoryGit.FileContent>, path: string, edit: MemoryGit.FileContent | null) => {
  if (edit === null) files.delete(path)
  else files.set(path, edit)
}

describe("MemoryGit: properties", () => {
  it("two workspaces editing disjoint files both land, in sequence, and nothing is lost", () => {
    fc.assert(
      fc.property(disjointScenario, (s) => {
        const repo = MemoryGit.MemoryRepo.make({ files: Object.fromEntries(s.base.map((c, i) => [`f${i}.txt`, c])) })
        const expected = new Map(repo.treeOf(repo.mainHead()))
        const [wsA, wsB] = runSync(repo, Effect.all([branchFromMain(w0, "a"), branchFromMain(w1, "b")]))
        const sides = [
          { ws: wsA, side: "a", edits: s.editsA, added: s.addedA, strategy: s.strategyA },
          { ws: wsB, side: "b", edits: s.editsB, added: s.addedB, strategy: s.strategyB }
        ] as const
        for (const { added, edits, side, ws } of sides) {
          const write = (path: string, edit: MemoryGit.FileContent | null) => {
            if (edit === null) repo.deleteFile(ws.path, path)
            else repo.writeFile(ws.path, path, edit)
            applyEdit(expected, path, edit)
          }
          edits.forEach((edit, i) => {
            if (s.owners[i] === side) write(`f${i}.txt`, edit)
          })
          added.forEach((content, i) => write(`${side}-new-${i}.txt`, content))
        }
        const heads = runSync(repo, Effect.all(sides.map(({ ws }) => Git.use((git) => git.commitAll(ws, "edit")))))
        sides.forEach(({ strategy }, i) => {
          const head = heads[i]
          if (head !== undefined && Option.isSome(head)) mergedSha(runSync(repo, land(head.value, strategy)))
        })
        const final = repo.mainHead()
        assert.deepStrictEqual(Object.fromEntries(repo.treeOf(final)), Object.fromEntries(expected))
        const history = repo.mainHistory
        history.slice(1).forEach((sha, i) => assert.isTrue(repo.isAncestor(history[i] ?? "", sha), "main moved back"))
        assert.strictEqual(repo.mergeConflicts, 0)
      }),
      { numRuns: 300 }
    )
  })

  const sameLineScenario = fc.record({
    lines: fc.integer({ min: 1, max: 30 }),
    at: fc.nat(),
    ours: lineArb,
    theirs: lineArb,
    otherFileB: fc.boolean(),
    strategyA: strategyArb,
    strategyB: strategyArb
  })

  it("two workspaces changing the same line differently: the second merge conflicts on that file", () => {
    fc.assert(
      fc.property(sameLineScenario, (s) => {
        const at = s.at % s.lines
        const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(s.lines), "g.txt": "g\n" } })
        const main = repo.mainHead()
        const result = runSync(repo, Effect.gen(function*() {
          const { a, b } = yield* twoBranches(
            repo,
            (p) => repo.writeFile(p, "f.txt", numbered(s.lines, { [at]: `A:${s.ours}` })),
            (p) => {
              repo.writeFile(p, "f.txt", numbered(s.lines, { [at]: `B:${s.theirs}` }))
              if (s.otherFileB) repo.writeFile(p, "g.txt", "G\n")
            }
          )
          mergedSha(yield* land(a, s.strategyA))
          return { landed: yield* Git.use((git) => git.mainHead), second: yield* land(b, s.strategyB) }
        }))
        assert.deepStrictEqual(result.second, { _tag: "Conflict", files: ["f.txt"] })
        assert.notStrictEqual(result.landed, main)
        assert.strictEqual(repo.mainHead(), result.landed, "a conflict never moves main")
      }),
      { numRuns: 200 }
    )
  })

  const separateLinesScenario = fc.record({
    lines: fc.integer({ min: 3, max: 30 }),
    first: fc.nat(),
    gap: fc.integer({ min: 2, max: 30 }),
    strategyA: strategyArb,
    strategyB: strategyArb,
    swap: fc.boolean()
  })

  it("edits to lines at least two apart in one file merge cleanly and both survive", () => {
    fc.assert(
      fc.property(separateLinesScenario, (s) => {
        const i = s.first % (s.lines - 2)
        const j = Math.min(s.lines - 1, i + s.gap)
        const [lineA, lineB] = s.swap ? [j, i] : [i, j]
        const repo = MemoryGit.MemoryRepo.make({ files: { "f.txt": numbered(s.lines) } })
        runSync(repo, Effect.gen(function*() {
          const { a, b } = yield* twoBranches(
            repo,
            (p) => repo.writeFile(p, "f.txt", numbered(s.lines, { [lineA]: "A" })),
            (p) => repo.writeFile(p, "f.txt", numbered(s.lines, { [lineB]: "B" }))
          )
          mergedSha(yield* land(a, s.strategyA))
          mergedSha(yield* land(b, s.strategyB))
        }))
        assert.strictEqual(repo.treeOf(repo.mainHead()).get("f.txt"), numbered(s.lines, { [lineA]: "A", [lineB]: "B" }))
      }),
      { numRuns: 200 }
    )
  })
})

describe("MemoryGit: setup outputs", () => {
  it.effect("what the setup wrote stays out of commits while the agent leaves it as it was, and stays in the files; one the agent changed is committed", () => {
    const repo = MemoryGit.MemoryRepo.make({ files: { "lock.json": "{}\n" } })
    return provide(repo, Effect.gen(function*() {
      const git = yield* Git
      const base = yield* git.mainHead
      const ws = yield* branchFromMain(w0, "b")
      repo.writeFile(ws.path, "lock.json", "{\"v\": 3}\n")
      repo.writeFile(ws.path, "dist/app.js", "built\n")
      yield* git.markSetupOutputs(ws)
      repo.writeFile(ws.path, "src/a.txt", "a\n")
      repo.writeFile(ws.path, "dist/app.js", "rebuilt by the agent\n")
      const head = yield* commitOrFail(ws, "work")
      assert.deepStrictEqual((yield* git.diffStat(base, head)).map((c) => c.path), ["dist/app.js", "src/a.txt"])
      assert.strictEqual(repo.readFile(ws.path, "lock.json"), "{\"v\": 3}\n")
      assert.isTrue(Option.isNone(yield* git.commitAll(ws, "again")))
    }))
  })
})
