/**
 * Which agent CLI runs, with which model and reasoning level (SPEC F1, F3).
 *
 * `model` strings in oompa.json are `harness:model`, `harness:model:reasoning` (0.7), or a bare model,
 * which means harness `codex`.
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"

/**
 * The agent CLIs oompa knows how to drive.
 *
 * @category models
 * @since 0.1.0
 */
export const Harness = Schema.Literals(["codex", "claude", "gemini", "opencode", "command"])
export type Harness = typeof Harness.Type

/**
 * @category constants
 * @since 0.1.0
 */
export const harnesses: ReadonlyArray<Harness> = Harness.literals

/**
 * One agent: a harness, an optional model, an optional reasoning level.
 *
 * @category models
 * @since 0.1.0
 */
export const AgentSpec = Schema.Struct({
  harness: Harness,
  model: Schema.optionalKey(Schema.NonEmptyString),
  reasoning: Schema.optionalKey(Schema.NonEmptyString)
})
export type AgentSpec = typeof AgentSpec.Type

/**
 * Why a text is not a model string; `message` reads after the quoted text ("... is empty; ...").
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidModelString extends Schema.TaggedError<InvalidModelString>()("InvalidModelString", {
  text: Schema.String,
  message: Schema.String
}) {}

/**
 * Parses `harness:model[:reasoning]`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseModelString = (text: string): Result.Result<AgentSpec, InvalidModelString> => {
  const invalid = (message: string) => Result.fail(new InvalidModelString({ text, message }))
  const trimmed = text.trim()
  if (trimmed.length === 0) return invalid("is empty; expected \"harness:model\" such as \"claude:opus\"")
  const parts = trimmed.split(":").map((part) => part.trim())
  const first = parts[0]!
  // A bare harness name means that harness with its default model; any other bare value is a codex model.
  if (parts.length === 1) return Result.succeed((harnesses as ReadonlyArray<string>).includes(first) ? { harness: first as Harness } : { harness: "codex", model: first })
  if (!(harnesses as ReadonlyArray<string>).includes(first)) {
    return invalid(`has unknown harness ${JSON.stringify(first)}; expected one of ${harnesses.join(", ")}`)
  }
  if (parts.length > 3) return invalid("has too many ':' parts; expected \"harness:model\" or \"harness:model:reasoning\"")
  const harness = first as Harness
  const model = parts[1] ?? ""
  const reasoning = parts[2] ?? ""
  if (parts.length === 3 && reasoning === "") return invalid("ends with ':'; give a reasoning level or drop the colon")
  return Result.succeed({
    harness,
    ...(model === "" ? {} : { model }),
    ...(reasoning === "" ? {} : { reasoning })
  })
}

/**
 * The canonical `harness:model[:reasoning]` text of a spec (inverse of {@link parseModelString}).
 *
 * @category formatting
 * @since 0.1.0
 */
export const formatModelString = (spec: AgentSpec): string =>
  spec.reasoning !== undefined
    ? `${spec.harness}:${spec.model ?? ""}:${spec.reasoning}`
    : spec.model !== undefined
    ? `${spec.harness}:${spec.model}`
    : spec.harness
