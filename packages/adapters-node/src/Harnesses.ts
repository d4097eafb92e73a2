/**
 * What oompa knows about each agent CLI, as pure data: the exact command line of SPEC F3 for a call,
 * the environment the agent gets, and how to read its answer, session, tokens and cost out of what
 * it printed. No I/O happens here; `NodeAgent` runs the command this module describes and
 * `HarnessCheck` probes the binaries it names.
 *
 * Every parser is total: malformed or truncated output never throws, it falls back to the raw text
 * as the answer (with `structured: false`), because an agent that printed garbage is a result the
 * iteration judges, not a crash of the orchestrator. The per-harness parsers live in
 * `internal/harnessOutput.ts`; `parseOutput` picks one.
 *
 * @since 0.1.0
 */
import type { AgentSpec, SwarmConfig } from "@oompa/core"
import * as HarnessOutput from "./internal/harnessOutput.ts"

type Harness = AgentSpec.Harness
type HarnessOverride = SwarmConfig.HarnessOverride

/**
 * A command to spawn: binary, argv and the complete environment.
 *
 * @category models
 * @since 0.1.0
 */
export interface CommandLine {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
}

/**
 * What a call's command line depends on besides the agent spec.
 *
 * @category models
 * @since 0.1.0
 */
export interface CommandRequest {
  /** The worktree: the agent's cwd, and codex's `-C`. */
  readonly cwd: string
  /** Resume this session (SPEC F3 session resume). */
  readonly sessionId?: string | undefined
  /** Where the prompt was written, for `{prompt_file}` in a configured argv. */
  readonly promptFile?: string | undefined
}

/**
 * The answer and bookkeeping read from a call's stdout.
 *
 * @category models
 * @since 0.1.0
 */
export type ParsedOutput = HarnessOutput.ParsedOutput

/**
 * The tokens of one model in a call, in the detail a cost is computed from (issue 18).
 *
 * @category models
 * @since 0.1.0
 */
export type ModelUsage = HarnessOutput.ModelUsage

/**
 * Variables removed from every agent's environment (SPEC F3): an inherited `GIT_DIR` would point the
 * agent's git at the user's repository instead of its worktree.
 *
 * @category constants
 * @since 0.1.0
 */
export const removedVariables: ReadonlyArray<string> = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"]

/**
 * The binary each harness runs unless `harnesses.<name>.command` says otherwise. The `command`
 * harness has none: its argv is entirely configured.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultBinaries: Readonly<Record<Exclude<Harness, "command">, string>> = {
  codex: "codex",
  claude: "claude",
  gemini: "gemini",
  opencode: "opencode"
}

/**
 * The binary a harness runs, or `undefined` for a `command` harness with no configured command.
 *
 * @category constructors
 * @since 0.1.0
 */
export const binaryOf = (harness: Harness, override?: HarnessOverride): string | undefined =>
  override?.command ?? (harness === "command" ? undefined : defaultBinaries[harness])

/**
 * The agent's environment: `base` (the orchestrator's) without undefined values and without
 * {@link removedVariables}, plus `harnesses.<name>.env`. `IS_SANDBOX` is never added here: only the
 * user may set it (SPEC F3).
 *
 * @category constructors
 * @since 0.1.0
 */
export const agentEnvironment = (
  base: Readonly<Record<string, string | undefined>>,
  override?: HarnessOverride
): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(base)) if (value !== undefined) env[name] = value
  for (const [name, value] of Object.entries(override?.env ?? {})) env[name] = value
  for (const name of removedVariables) delete env[name]
  return env
}

/**
 * Substitutes `{worktree}`, `{model}` and `{prompt_file}` in one configured argument. Other braces
 * stay as written (a configured shell snippet may use them).
 *
 * @category constructors
 * @since 0.1.0
 */
export const substitute = (text: string, values: { readonly worktree: string; readonly model: string; readonly promptFile: string }): string =>
  text.replace(/\{(worktree|model|prompt_file)\}/g, (_, name: string) =>
    name === "worktree" ? values.worktree : name === "model" ? values.model : values.promptFile)

/**
 * Whether a configured argv reads `{prompt_file}` (then the prompt is also written to a file).
 *
 * @category predicates
 * @since 0.1.0
 */
export const usesPromptFile = (override?: HarnessOverride): boolean =>
  [override?.command ?? "", ...(override?.args ?? [])].some((part) => part.includes("{prompt_file}"))

const optional = (flag: string, value: string | undefined): ReadonlyArray<string> => value === undefined ? [] : [flag, value]

/**
 * The harness's own arguments (SPEC F3), with `extra` (the configured `harnesses.<name>.args`)
 * placed where that CLI still reads options: before codex's trailing `-` / `resume <id> -`, at
 * the end for the others.
 */
const harnessArgs = (harness: Exclude<Harness, "command">, spec: AgentSpec.AgentSpec, request: CommandRequest, extra: ReadonlyArray<string>): ReadonlyArray<string> => {
  const { model, reasoning } = spec
  const session = request.sessionId
  switch (harness) {
    case "codex":
      return [
        "exec", "--json", "--skip-git-repo-check", "-C", request.cwd, "--sandbox", "workspace-write",
        ...optional("-m", model),
        ...optional("-c", reasoning === undefined ? undefined : `model_reasoning_effort=${reasoning}`),
        ...extra,
        // `-C` and `--sandbox` must come before `resume`: after it they belong to the subcommand.
        ...(session === undefined ? ["-"] : ["resume", session, "-"])
      ]
    case "claude":
      return [
        "-p", "--output-format", "json", "--dangerously-skip-permissions",
        ...optional("--model", model), ...optional("--effort", reasoning), ...optional("--resume", session), ...extra
      ]
    case "gemini":
      // Reasoning effort has no gemini flag: it lives in the user's settings.
      return ["--yolo", "--skip-trust", ...optional("-m", model), "-o", "json", ...optional("--resume", session), ...extra]
    case "opencode":
      return [
        "run", "--format", "json", "--auto",
        ...optional("-m", model), ...optional("--variant", reasoning), ...optional("-s", session), ...extra
      ]
  }
}

/**
 * The command line of one call (SPEC F3), or a reason when it cannot be built (a `command`
 * harness without `harnesses.command.command`). The prompt itself never appears in it: it goes on
 * stdin. The environment's `PWD` is the worktree (the call's cwd).
 *
 * @category constructors
 * @since 0.1.0
 */
export const commandLine = (
  spec: AgentSpec.AgentSpec,
  request: CommandRequest,
  override: HarnessOverride | undefined,
  baseEnv: Readonly<Record<string, string | undefined>>
): CommandLine | string => {
  const values = { worktree: request.cwd, model: spec.model ?? "", promptFile: request.promptFile ?? "" }
  const extra = (override?.args ?? []).map((arg) => substitute(arg, values))
  // `PWD` is the worktree, as a shell would set it: opencode 1.18 takes its project folder from an
  // inherited `PWD` rather than its cwd, and would otherwise edit the orchestrator's folder.
  const env = { ...agentEnvironment(baseEnv, override), PWD: request.cwd }
  if (spec.harness === "command") {
    if (override?.command === undefined) {
      return "harness \"command\" needs harnesses.command.command in oompa.json (the argv to run, prompt on stdin)"
    }
    return { command: substitute(override.command, values), args: extra, env }
  }
  const command = override?.command ?? defaultBinaries[spec.harness]
  return { command, args: harnessArgs(spec.harness, spec, request, extra), env }
}

// ---------------------------------------------------------------------------------------------
// Output parsing
// ---------------------------------------------------------------------------------------------

/**
 * Reads a call's stdout the way its harness prints it (SPEC F3). Never throws; output that is not
 * in the harness's format comes back as the raw text. The `command` harness's stdout is its answer.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseOutput = (harness: Harness, stdout: string): ParsedOutput => {
  switch (harness) {
    case "codex":
      return HarnessOutput.parseCodex(stdout)
    case "claude":
      return HarnessOutput.parseClaude(stdout)
    case "gemini":
      return HarnessOutput.parseGemini(stdout)
    case "opencode":
      return HarnessOutput.parseOpencode(stdout)
    case "command":
      return HarnessOutput.raw(stdout)
  }
}

// ---------------------------------------------------------------------------------------------
// Failure kinds the layer treats specially
// ---------------------------------------------------------------------------------------------

/** How much of the end of stdout/stderr a failure is recognised from. */
const failureTextCharsMax = 8192

const rateLimitPattern =
  /rate[ _-]?limit|usage[ _-]limit|hit your (usage )?limit|too many requests|\b429\b|quota exceeded|exceeded your current quota|resource[ _]exhausted|exhausted your capacity/i

/**
 * Whether a failed call's output is a usage-limit or rate-limit answer (SPEC F3: back off and retry,
 * not an error). Only the harness's error message, or the end of the output when it has none, and
 * the end of stderr are read: an agent's successful answer may well talk about rate limits.
 * Callers ask this only of a call that failed.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isRateLimited = (harness: Harness, stdout: string, stderr: string): boolean => {
  const parsed = parseOutput(harness, stdout)
  const said = parsed.structured ? parsed.errorMessage ?? "" : stdout.slice(-failureTextCharsMax)
  return rateLimitPattern.test(said) || rateLimitPattern.test(stderr.slice(-failureTextCharsMax))
}

const retryAfterPatterns: ReadonlyArray<RegExp> = [
  /retry[ -]after:?\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)?\b/i,
  /(?:try again|retry|retrying|resets?) in\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b/i
]

const unitMs = (unit: string | undefined): number => {
  const u = (unit ?? "s").toLowerCase()
  return u === "ms" || u.startsWith("milli") ? 1 : u.startsWith("h") ? 3_600_000 : u.startsWith("m") ? 60_000 : 1000
}

/**
 * The wait a rate-limited call's harness names (`retry-after: 30`, "try again in 20s", "resets in
 * 5 minutes"), in milliseconds, from its error message or the end of stderr; `undefined` when it
 * names none.
 *
 * @category parsing
 * @since 0.1.0
 */
export const retryAfterMs = (harness: Harness, stdout: string, stderr: string): number | undefined => {
  const parsed = parseOutput(harness, stdout)
  const said = `${parsed.structured ? parsed.errorMessage ?? "" : stdout.slice(-failureTextCharsMax)}\n${stderr.slice(-failureTextCharsMax)}`
  for (const pattern of retryAfterPatterns) {
    const match = pattern.exec(said)
    if (match !== null) return Math.round(Number(match[1]) * unitMs(match[2]))
  }
  return undefined
}

const rootRefusalPattern = /--dangerously-skip-permissions cannot be used with root/i

/**
 * Whether claude refused `--dangerously-skip-permissions` because it runs as root without
 * `IS_SANDBOX=1`.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isRootRefusal = (harness: Harness, stdout: string, stderr: string): boolean =>
  harness === "claude" && (rootRefusalPattern.test(stderr.slice(-failureTextCharsMax)) || rootRefusalPattern.test(stdout.slice(0, failureTextCharsMax)))

/**
 * The one line that explains claude's refusal as root (SPEC F3: oompa never sets `IS_SANDBOX`).
 *
 * @category constants
 * @since 0.1.0
 */
export const rootRefusalMessage =
  "claude refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1; oompa never sets it: if this machine is a sandbox, set IS_SANDBOX=1 in the environment or in harnesses.claude.env, or run oompa as a non-root user"

/**
 * gemini's exit code when it is not authenticated.
 *
 * @category constants
 * @since 0.1.0
 */
export const geminiNotAuthenticatedExitCode = 41

// What the CLIs say when their credentials are missing, wrong or expired: claude ("Invalid API key ·
// Please run /login", "API Error: 401 … authentication_error", "OAuth token has expired"), codex
// ("401 Unauthorized", "Not logged in"), opencode ("ProviderAuthError"), and HTTP 401/403 in general.
const notAuthenticatedPattern =
  /\b401\b|unauthori[sz]ed|authentication[_ ](error|failed|required)|invalid (x-)?api[ _-]?key|not logged in|please (run \/login|log ?in)|oauth token has expired|\b403\b[^\n]*forbidden|ProviderAuthError/i

/**
 * Whether the call failed because the harness is not logged in (or its key is wrong or expired):
 * gemini's own exit code, or an authentication answer in the harness's error message or the end of
 * stderr (never in a successful answer, which may well talk about 401s).
 *
 * @category predicates
 * @since 0.1.0
 */
export const isNotAuthenticated = (harness: Harness, exitCode: number, stdout = "", stderr = ""): boolean =>
  (harness === "gemini" && exitCode === geminiNotAuthenticatedExitCode) ||
  (exitCode !== 0 && authenticationLine(harness, stdout, stderr) !== undefined)

/**
 * The harness's own line about its credentials, from its error message or stderr; `undefined` when
 * it said nothing about them.
 *
 * @category parsing
 * @since 0.1.0
 */
export const authenticationLine = (harness: Harness, stdout: string, stderr: string): string | undefined => {
  const parsed = parseOutput(harness, stdout)
  // The CLI's own last word only: its error message, else the last line it printed. A 401 an MCP
  // server or a tool reported earlier in the call is not the CLI being logged out, and stopping the
  // whole run on it would let any agent stop runs at will.
  const last = (text: string) => text.split("\n").map((line) => line.trim()).filter((line) => line !== "").at(-1) ?? ""
  const lines = [parsed.structured ? parsed.errorMessage ?? "" : last(stdout.slice(-failureTextCharsMax)), last(stderr.slice(-failureTextCharsMax))]
  return lines.find((line) => notAuthenticatedPattern.test(line))?.trim().slice(0, 300)
}

/**
 * The one line for a harness that is not logged in.
 *
 * @category formatting
 * @since 0.1.0
 */
export const notAuthenticatedMessage = (binary: string): string =>
  `${binary} is not authenticated (exit ${geminiNotAuthenticatedExitCode}): run \`${binary}\` once to log in, or set GEMINI_API_KEY`

/**
 * The one line for a binary that is not on PATH.
 *
 * @category formatting
 * @since 0.1.0
 */
export const missingBinaryMessage = (harness: Harness, binary: string): string =>
  `${binary}: command not found on PATH (install it, or set harnesses.${harness}.command in oompa.json)`
