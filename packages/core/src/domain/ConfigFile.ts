/**
 * oompa.json (SPEC F1): its text decoded into the normalized {@link SwarmConfig} that programs
 * use, in three steps. The text is parsed as JSON; the value is decoded by the Schema of the file
 * as users write it, in either dialect (0.1.0 or 0.7), with unknown keys rejected
 * (`ConfigFileSchema.ts`); the file is normalized: dialects unified, `count` expanded, every
 * default filled in (`ConfigNormalization.ts`).
 *
 * A failure at any step is a {@link ConfigError} for the person editing the file by hand: each
 * problem is one line naming the file and the field path, all problems at once
 * (`ConfigProblems.ts`).
 *
 * The `ConfigFile` namespace also carries the names of those modules that callers use: the Schema,
 * the problems and error, normalizing and encoding.
 *
 * @since 0.1.0
 */
import { Effect, Result, Schema } from "effect"
import { ConfigFile } from "./ConfigFileSchema.ts"
import { normalize } from "./ConfigNormalization.ts"
import { ConfigError, type ConfigProblem, jsonSyntaxProblem, problemsOf } from "./ConfigProblems.ts"
import type { SwarmConfig } from "./SwarmConfig.ts"

/**
 * oompa.json as written, both dialects (`ConfigFileSchema.ts`).
 *
 * @since 0.1.0
 */
export { ConfigFile, type WorkerEntry } from "./ConfigFileSchema.ts"

/**
 * A file's problems, one line each (`ConfigProblems.ts`).
 *
 * @since 0.1.0
 */
export { ConfigError, ConfigProblem, didYouMean } from "./ConfigProblems.ts"

/**
 * The file and the normalized config, both ways (`ConfigNormalization.ts`).
 *
 * @since 0.1.0
 */
export { encodeConfigFile, normalize } from "./ConfigNormalization.ts"

/** JSON.parse, with a syntax error as a problem of the whole file. */
const parseJson = (text: string): Result.Result<unknown, ConfigProblem> =>
  Result.try({ try: (): unknown => JSON.parse(text), catch: (cause) => jsonSyntaxProblem(text, cause) })

const decodeFile = Schema.decodeUnknownResult(ConfigFile, { errors: "all", onExcessProperty: "error" })

/**
 * Parses and decodes the text of an oompa.json named `file` (the name only goes into messages).
 * Pure and synchronous; {@link decodeConfigFile} is the same as an Effect.
 *
 * @category decoding
 * @since 0.1.0
 */
export const decodeConfigFileResult = (text: string, file: string): Result.Result<SwarmConfig, ConfigError> => {
  const fail = (problems: ReadonlyArray<ConfigProblem>) => Result.fail(new ConfigError({ file, problems }))
  const json = parseJson(text)
  if (Result.isFailure(json)) return fail([json.failure])
  const decoded = decodeFile(json.success)
  if (Result.isFailure(decoded)) return fail(problemsOf(decoded.failure.issue, json.success))
  const config = normalize(decoded.success)
  return Result.isFailure(config) ? fail([config.failure]) : Result.succeed(config.success)
}

/**
 * Parses and decodes the text of an oompa.json named `file`: both dialects, unknown keys rejected
 * with a did-you-mean hint, every problem reported with its field path, then normalized.
 *
 * @category decoding
 * @since 0.1.0
 */
export const decodeConfigFile = (text: string, file: string): Effect.Effect<SwarmConfig, ConfigError> =>
  Effect.suspend(() => Effect.fromResult(decodeConfigFileResult(text, file)))

/**
 * The example oompa.json the CLI prints when the file is missing: a planner, three executors, a
 * reviewer, a policy and a test gate.
 *
 * @category constants
 * @since 0.1.0
 */
export const exampleConfig: string = `{
  "workers": [
    { "model": "claude:opus", "role": "planner", "iterations": 5 },
    { "model": "codex:gpt-5-codex-mini", "role": "executor", "count": 3, "iterations": 10 }
  ],
  "review_model": "codex:gpt-5-codex:high",
  "policy": {
    "allow": ["src/**", "test/**"],
    "deny": ["secrets/**"],
    "max_lines_added": 800,
    "max_files": 10
  },
  "test_command": "npm test",
  "max_review_attempts": 3
}
`
