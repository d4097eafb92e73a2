/**
 * `Prompts` over in-memory files: the user's prompt files as a map, built-ins otherwise.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { defaultPrompts } from "../domain/DefaultPrompts.ts"
import { PromptError } from "../services/Errors.ts"
import { Prompts } from "../services/Prompts.ts"

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (files: Readonly<Record<string, string>>): Layer.Layer<Prompts> =>
  Layer.succeed(Prompts, Prompts.of({
    template: (name, paths) =>
      paths.length === 0 ? Effect.succeed(defaultPrompts[name]) : Effect.forEach(paths, (path) => {
        const text = files[path]
        return text === undefined
          ? Effect.fail(new PromptError({ prompt: path, message: `prompt file ${path} does not exist` }))
          : Effect.succeed(text)
      }).pipe(Effect.map((texts) => texts.join("\n\n")))
  }))
