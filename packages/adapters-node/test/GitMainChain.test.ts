/**
 * Goal: main's chain (`internal/gitMainChain.ts`) answers ancestry only for commits it saw main move
 * through, in order, and starts again when a move does not continue it (main moved elsewhere).
 * Method: the pure functions, then a real repository where main lands many times and a merge onto
 * the moved main still takes the iteration's old base as its ancestor.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Git, Ids } from "@oompa/core"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as MainChain from "../src/internal/gitMainChain.ts"
import * as NodeGit from "../src/NodeGit.ts"
import { git as cli, gitdir, isolateGit } from "./fixtures/gitdir.ts"

isolateGit()

describe("main's chain", () => {
  it("orders what it saw; knows nothing else; restarts when a move does not continue it", () => {
    const chain = MainChain.empty()
    assert.isUndefined(MainChain.ordered(chain, "a", "b"))
    MainChain.recordMainMove(chain, "a", "b")
    MainChain.recordMainMove(chain, "b", "c")
    assert.isTrue(MainChain.ordered(chain, "a", "c"))
    assert.isTrue(MainChain.ordered(chain, "b", "b"))
    assert.isFalse(MainChain.ordered(chain, "c", "a"))
    assert.isUndefined(MainChain.ordered(chain, "a", "x"))
    // Main was moved elsewhere (x), then on from there: the old chain is not trusted any more.
    MainChain.recordMainMove(chain, "x", "y")
    assert.isUndefined(MainChain.ordered(chain, "a", "y"))
    assert.isTrue(MainChain.ordered(chain, "x", "y"))
  })

  it.live("a merge onto a main that moved many times takes the iteration's base as its ancestor", () =>
    Effect.gen(function*() {
      const temp = yield* gitdir({ "a.txt": "a\n" })
      const layer = NodeGit.layer({ repoRoot: temp.repo, worktreesDir: temp.worktrees, runId: "0badc0de" }).pipe(Layer.provide(NodeServices.layer))
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        const land = (worker: string, file: string, base?: string) =>
          Effect.gen(function*() {
            const workspace = yield* git.acquireWorkspace(Ids.WorkerId.make(worker))
            const from = base ?? (yield* git.mainHead)
            yield* git.resetWorkspace(workspace, `oompa/t/${worker}-${file}`, from)
            fs.writeFileSync(path.join(workspace.path, file), `${file}\n`)
            const head = yield* git.commitAll(workspace, file)
            const onto = yield* git.mainHead
            const attempt = yield* git.merge({ onto, base: from, head: head._tag === "Some" ? head.value : from, strategy: "no-ff", message: file })
            if (attempt._tag !== "Merged") return assert.fail("expected a merge")
            assert.isTrue(yield* git.compareAndSwapMain(onto, attempt.sha))
            return from
          })
        const oldBase = yield* git.mainHead
        for (let i = 0; i < 70; i++) yield* land("w1", `f${i}.txt`)
        // 70 landings later (past the in-process walk's 64 commits), from the base it started on.
        yield* land("w0", "late.txt", oldBase)
        assert.strictEqual(cli(temp.repo, ["show", "main:late.txt"]), "late.txt\n")
        assert.isTrue(yield* git.isAncestor(oldBase, yield* git.mainHead))
        assert.isFalse(yield* git.isAncestor(yield* git.mainHead, oldBase))
      }).pipe(Effect.provide(layer))
    }), 120_000)
})
