/**
 * Goal: `NodeGit.merge` (merge-tree → commit-tree, no checkout) reaches the same outcome as a plain
 * `git merge` would in a checkout: clean with the same tree, or a conflict in the same files —
 * renames included, which `MemoryGit` does not model.
 * Method: fast-check draws a base of files and two branches of edits (line edits, deletions,
 * additions, renames with and without edits); the branches are committed without a checkout,
 * merged by `NodeGit`, and merged again by `git merge` in a scratch clone. Slow (real git).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Git } from "@oompa/core"
import { Effect, Layer } from "effect"
import * as fc from "fast-check"
import * as path from "node:path"
import * as NodeGit from "../src/NodeGit.ts"
import { git as cli, gitStatus, isolateGit, makeRepo, removeRepo } from "./fixtures/gitdir.ts"

isolateGit()

const fileCount = 4
const lineCount = 12
const baseName = (i: number) => `src/f${i}.txt`
const lines = (name: string) => Array.from({ length: lineCount }, (_, i) => `${name} line ${i}`)

type Edit =
  | { readonly _tag: "modify"; readonly file: number; readonly line: number; readonly token: number }
  | { readonly _tag: "delete"; readonly file: number }
  | { readonly _tag: "rename"; readonly file: number; readonly to: number; readonly line: number | undefined }
  | { readonly _tag: "add"; readonly to: number; readonly token: number }

const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ _tag: fc.constant("modify" as const), file: fc.nat({ max: fileCount - 1 }), line: fc.nat({ max: lineCount - 1 }), token: fc.nat({ max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("delete" as const), file: fc.nat({ max: fileCount - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("rename" as const), file: fc.nat({ max: fileCount - 1 }), to: fc.nat({ max: 2 }), line: fc.option(fc.nat({ max: lineCount - 1 }), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("add" as const), to: fc.nat({ max: 2 }), token: fc.nat({ max: 2 }) }) }
)

/** Applies a branch's edits to the base tree; files are line arrays keyed by path. */
const applyEdits = (edits: ReadonlyArray<Edit>, side: string): Map<string, Array<string>> => {
  const files = new Map<string, Array<string>>()
  for (let i = 0; i < fileCount; i++) files.set(baseName(i), lines(`f${i}`))
  for (const e of edits) {
    const name = e._tag === "add" ? undefined : baseName(e.file)
    if (e._tag === "modify" && name !== undefined) {
      const content = files.get(name)
      if (content !== undefined) content[e.line] = `${side} edit ${e.token}`
    }
    if (e._tag === "delete" && name !== undefined) files.delete(name)
    if (e._tag === "rename" && name !== undefined) {
      const content = files.get(name)
      const target = `moved/r${e.to}.txt`
      if (content === undefined || files.has(target)) continue
      files.delete(name)
      if (e.line !== undefined) content[e.line] = `${side} renamed edit`
      files.set(target, content)
    }
    if (e._tag === "add") {
      const target = `new/n${e.to}.txt`
      if (!files.has(target)) files.set(target, [`${side} new ${e.token}`, ...lines(`n${e.to}`)])
    }
  }
  return files
}

/** Commits each branch's files as the whole tree of a new commit on `base`, in one `git fast-import`. */
const commitBranches = (repo: string, base: string, branches: Readonly<Record<string, ReadonlyMap<string, ReadonlyArray<string>>>>): void => {
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`
  let stream = ""
  for (const [branch, files] of Object.entries(branches)) {
    stream += `commit refs/heads/${branch}\ncommitter fixture <fixture@localhost> 1767225600 +0000\n${data(branch)}from ${base}\ndeleteall\n`
    for (const [file, content] of files) stream += `M 100644 inline ${file}\n${data(`${content.join("\n")}\n`)}`
  }
  cli(repo, ["fast-import", "--quiet"], stream)
}

/** What `git merge` of `theirs` into `ours` does in a scratch clone: the tree, or the conflicted files. */
const plainMerge = (repo: string, ours: string, theirs: string): { readonly tree: string } | { readonly conflicts: ReadonlyArray<string> } => {
  const clone = path.join(repo, "..", "clone")
  cli(path.dirname(repo), ["clone", "-q", "--no-checkout", repo, clone])
  cli(clone, ["checkout", "-q", "--detach", ours])
  const merged = gitStatus(clone, ["merge", "-q", "--no-edit", "--no-ff", theirs])
  if (merged.code === 0) return { tree: cli(clone, ["rev-parse", "HEAD^{tree}"]).trim() }
  const conflicts = cli(clone, ["diff", "--name-only", "--diff-filter=U", "-z"]).split("\0").filter((f) => f.length > 0)
  assert.isAbove(conflicts.length, 0, `git merge failed without conflicts: ${merged.stderr}`)
  return { conflicts: [...new Set(conflicts)].sort() }
}

/** Clean and conflicting cases seen, printed with OOMPA_MODEL_STATS=1. */
const outcomes = new Map<string, number>()

describe("NodeGit.merge against git merge", () => {
  it.live("clean with the same tree, or conflicting in the same files, renames included", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), fc.array(edit, { minLength: 1, maxLength: 4 }), async (editsA, editsB) => {
          const base: Record<string, string> = {}
          for (let i = 0; i < fileCount; i++) base[baseName(i)] = `${lines(`f${i}`).join("\n")}\n`
          const temp = makeRepo(base)
          try {
            const root = cli(temp.repo, ["rev-parse", "main"]).trim()
            commitBranches(temp.repo, root, { ours: applyEdits(editsA, "ours"), theirs: applyEdits(editsB, "theirs") })
            const ours = cli(temp.repo, ["rev-parse", "ours"]).trim()
            const theirs = cli(temp.repo, ["rev-parse", "theirs"]).trim()
            const attempt = await Effect.runPromise(
              Git.Git.use((git) => git.merge({ onto: ours, base: root, head: theirs, strategy: "no-ff", message: "merge" })).pipe(
                Effect.provide(NodeGit.layer({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de" }).pipe(Layer.provide(NodeServices.layer)))
              )
            )
            const expected = plainMerge(temp.repo, ours, theirs)
            outcomes.set("tree" in expected ? "clean" : "conflict", (outcomes.get("tree" in expected ? "clean" : "conflict") ?? 0) + 1)
            if ("tree" in expected) {
              assert.strictEqual(attempt._tag, "Merged", `git merge was clean; NodeGit: ${JSON.stringify(attempt)}`)
              if (attempt._tag === "Merged") assert.strictEqual(cli(temp.repo, ["rev-parse", `${attempt.sha}^{tree}`]).trim(), expected.tree)
            } else {
              assert.deepStrictEqual(attempt, { _tag: "Conflict", files: expected.conflicts })
            }
          } finally {
            removeRepo(temp)
          }
        }),
        { numRuns: 40 }
      )).pipe(Effect.ensuring(Effect.sync(() => {
        if (process.env["OOMPA_MODEL_STATS"] === "1") console.log(JSON.stringify([...outcomes]))
      }))), 120_000)
})
