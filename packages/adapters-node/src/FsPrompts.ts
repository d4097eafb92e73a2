/**
 * The user's prompt files (SPEC F1 `prompt`, F11): the `Prompts` service reading them from disk.
 *
 * Provided by the CLI with the folder of the `oompa.json` in use; called by the core when it builds
 * an agent's prompt. A worker's `prompt` is one path or a list, relative to the config file's
 * folder (absolute paths are used as they are); a list is concatenated with one blank line between
 * files (trailing blank lines of each file are dropped so the gap is exactly one line). With no
 * files, the built-in template of that role is used. A file that cannot be read is a
 * `PromptError` naming the path as written in the config and the path it resolved to.
 *
 * Files are read on every call, so editing a prompt between iterations takes effect on the next.
 *
 * @since 0.1.0
 */
import { DefaultPrompts, Errors, Prompts as PromptsModule, type SwarmConfig } from "@oompa/core"
import { Effect, FileSystem, Layer, Path } from "effect"

type Prompts = PromptsModule.Prompts

/** Drops trailing whitespace so `a.md` + `b.md` join with exactly one blank line. */
const trimEnd = (text: string): string => text.replace(/\s+$/, "")

/**
 * The `Prompts` service reading files relative to `configDir`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("FsPrompts.make")(function*(configDir: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const readOne = Effect.fn("FsPrompts.read")(function*(file: string) {
    const resolved = path.resolve(configDir, file)
    return yield* fs.readFileString(resolved).pipe(
      Effect.mapError((error) =>
        new Errors.PromptError({
          prompt: file,
          message: error.reason._tag === "NotFound"
            ? `prompt file ${file} does not exist (looked for ${resolved})`
            : `prompt file ${file} cannot be read (${resolved}): ${error.message}`
        })
      )
    )
  })
  return PromptsModule.Prompts.of({
    template: Effect.fn("FsPrompts.template")(function*(name: DefaultPrompts.PromptName, files: ReadonlyArray<string>) {
      if (files.length === 0) return DefaultPrompts.defaultPrompts[name]
      const texts = yield* Effect.forEach(files, readOne)
      return texts.map(trimEnd).join("\n\n")
    })
  })
})

/**
 * Prompts from files relative to `configDir` (the folder holding `oompa.json`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (configDir: string): Layer.Layer<Prompts, never, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(PromptsModule.Prompts, make(configDir))

/**
 * The prompt files a configuration names that cannot be read, one line each naming the file, who
 * uses it and where it was looked for: checked before a run starts, so a typo is exit 2 and not a
 * run whose every iteration fails on it.
 *
 * @category checks
 * @since 0.1.0
 */
export const missingFiles = Effect.fnUntraced(function*(
  configDir: string,
  config: SwarmConfig.SwarmConfig
): Effect.fn.Return<ReadonlyArray<string>, never, FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const uses = new Map<string, Array<string>>()
  const use = (file: string, who: string) => uses.set(file, [...(uses.get(file) ?? []), who])
  for (const file of config.planner?.prompt ?? []) use(file, "the planner")
  for (const worker of config.workers) for (const file of worker.prompt) use(file, worker.id)
  config.reviewers.forEach((reviewer, i) => {
    if (reviewer.prompt !== undefined) use(reviewer.prompt, config.reviewers.length === 1 ? "the reviewer" : `reviewer ${i + 1}`)
  })
  const lines: Array<string> = []
  for (const [file, who] of uses) {
    const resolved = path.resolve(configDir, file)
    const readable = yield* fs.stat(resolved).pipe(Effect.map((info) => info.type === "File"), Effect.orElseSucceed(() => false))
    if (!readable) lines.push(`prompt file ${file} (used by ${who.join(", ")}) is not a readable file: looked for ${resolved}`)
  }
  return lines
})
