/**
 * Goal: a worker's `prompt` files (SPEC F1, F11) are read relative to the oompa.json's folder and
 * concatenated with one blank line, the built-in template is used when none is given, and a
 * missing file is a `PromptError` naming the path — as `MemoryPrompts` behaves.
 * Method: real files in a temp folder read through the `Prompts` layer, compared with
 * `MemoryPrompts` over the same contents.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DefaultPrompts, Errors, Prompts } from "@oompa/core"
import { MemoryPrompts } from "@oompa/core/testing"
import { Effect, Exit, FileSystem, Layer } from "effect"
import * as FsPrompts from "../src/FsPrompts.ts"

const template = (name: DefaultPrompts.PromptName, files: ReadonlyArray<string>) =>
  Prompts.Prompts.use((prompts) => prompts.template(name, files))

/** A config folder with `prompts/a.md`, `prompts/b.md` and `/abs.md`-style absolute files. */
const inConfigDir = <A, E>(body: (dir: string) => Effect.Effect<A, E, Prompts.Prompts>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "oompa-prompts-" })
    NodeFs.mkdirSync(NodePath.join(dir, "prompts"))
    NodeFs.writeFileSync(NodePath.join(dir, "prompts", "a.md"), "# Planner\nPlan {task_id}.\n")
    NodeFs.writeFileSync(NodePath.join(dir, "prompts", "b.md"), "Be brief.")
    return yield* body(dir).pipe(Effect.provide(FsPrompts.layer(dir).pipe(Layer.provide(NodeServices.layer))))
  }).pipe(Effect.provide(NodeServices.layer))

describe("FsPrompts", () => {
  it.live("no files: the built-in template of the role", () =>
    inConfigDir(() =>
      Effect.gen(function*() {
        for (const name of DefaultPrompts.PromptName.literals) {
          assert.strictEqual(yield* template(name, []), DefaultPrompts.defaultPrompts[name])
        }
      })))

  it.live("files relative to the config folder, concatenated with one blank line (as MemoryPrompts)", () =>
    inConfigDir((dir) =>
      Effect.gen(function*() {
        const combined = yield* template("planner", ["prompts/a.md", "prompts/b.md"])
        assert.strictEqual(combined, "# Planner\nPlan {task_id}.\n\nBe brief.")
        const memory = yield* template("planner", ["a", "b"]).pipe(
          Effect.provide(MemoryPrompts.layer({ a: "# Planner\nPlan {task_id}.", b: "Be brief." }))
        )
        assert.strictEqual(combined, memory)
        assert.strictEqual(yield* template("worker", [NodePath.join(dir, "prompts", "b.md")]), "Be brief.", "absolute paths as they are")
      })))

  it.live("a missing file is a PromptError naming the path", () =>
    inConfigDir((dir) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(template("worker", ["prompts/a.md", "prompts/missing.md"]))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const text = String(exit.cause)
          assert.match(text, /PromptError/)
          assert.include(text, "prompts/missing.md")
          assert.include(text, NodePath.join(dir, "prompts", "missing.md"))
        }
        const error = yield* Effect.flip(template("worker", ["nope.md"]))
        assert.instanceOf(error, Errors.PromptError)
        assert.strictEqual(error.prompt, "nope.md")
      })))
})
