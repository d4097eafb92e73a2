/**
 * Where prompt templates come from (SPEC F11): the built-in ones, or the user's files.
 *
 * Implemented by `@oompa/adapters-node`'s `FsPrompts` (files relative to oompa.json) and by
 * `layerBuiltIn` here, which serves only the defaults. Rendering is pure (`domain/Prompt.ts`).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { defaultPrompts, type PromptName } from "../domain/DefaultPrompts.ts"
import { PromptError } from "./Errors.ts"

/**
 * @category services
 * @since 0.1.0
 */
export class Prompts extends Context.Service<Prompts, {
  /** The template for a role: the user's files concatenated when given, else the built-in one. */
  readonly template: (name: PromptName, files: ReadonlyArray<string>) => Effect.Effect<string, PromptError>
}>()("@oompa/core/services/Prompts") {
  /** Built-in templates only; asking for a file is an error. */
  static readonly layerBuiltIn = Layer.succeed(Prompts, Prompts.of({
    template: (name, files) =>
      files.length === 0
        ? Effect.succeed(defaultPrompts[name])
        : Effect.fail(new PromptError({ prompt: files.join(", "), message: "prompt files cannot be read here (built-in prompts only)" }))
  }))
}
