/**
 * The four real agent CLIs of the contract tests (SPEC F3), as installed by
 * `scripts/install-contract-clis.mjs`, and how each is pointed at the scripted model server.
 *
 * Pointing a CLI at the server is test configuration, exactly what a user puts in oompa.json's
 * `harnesses.<name>` (`command`, `args`, `env`) or in the CLI's own settings under HOME: oompa's own
 * argv for each harness stays SPEC F3's.
 *
 * - claude: `ANTHROPIC_BASE_URL` + `ANTHROPIC_API_KEY`.
 * - codex: a `mock` model provider given with `-c` (`base_url`, `wire_api = "responses"`,
 *   `env_key`) and `-c model_provider=mock`, through `harnesses.codex.args`.
 * - gemini: `GOOGLE_GEMINI_BASE_URL` + `GEMINI_API_KEY`, and `security.auth.selectedType =
 *   "gemini-api-key"` in `$HOME/.gemini/settings.json`.
 * - opencode: a `mock` provider (`@ai-sdk/openai-compatible`, `baseURL`) in
 *   `$HOME/.config/opencode/opencode.json`, model `mock/scripted`.
 */
import type { SwarmConfig } from "@oompa/core"
import { calcPrice } from "@pydantic/genai-prices"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import type { Turn, Usage } from "./model-server/index.ts"

export type HarnessName = "claude" | "codex" | "gemini" | "opencode"

export const workspaceRoot = resolve(import.meta.dirname, "../..")

/** Where `scripts/install-contract-clis.mjs` installed the CLIs (same variable, same default). */
export const cacheDir = resolve(process.env["OOMPA_CONTRACT_CLIS"] ?? join(workspaceRoot, ".cache", "contract-clis"))

export const binary = (harness: HarnessName): string => join(cacheDir, "node_modules", ".bin", harness)

/** A line to fail with when the CLIs are not installed. */
export const missingMessage = (harness: HarnessName): string | undefined =>
  existsSync(binary(harness)) ? undefined : `${binary(harness)} is missing: run \`npm run test:contracts\` (it installs the pinned CLIs first)`

/** The opencode provider's price per million tokens, so that its cost is predictable. */
export const opencodePrice = { input: 3, output: 15, cache_read: 0.3 } as const

/** The price table oompa estimates codex's and gemini's dollars with, as the summary names it. */
export const priceTable = "@pydantic/genai-prices 0.1.8"

/**
 * The dollars oompa gives a call whose model requests reported `usage` in all (issue 18): the
 * package's own figure for the model's tokens, its cached and reasoning shares included.
 */
const tablePrice = (providerId: string, model: string) => (usage: Usage): number =>
  calcPrice({
    input_tokens: usage.input,
    cache_read_tokens: usage.cached ?? 0,
    output_tokens: usage.output,
    output_reasoning_tokens: usage.reasoning ?? 0
  }, model, { providerId })!.total_price

/** How a harness's calls get their dollars (issue 18). */
export type Dollars =
  /** The CLI reports them (claude: at its own price list, so only their presence is known here). */
  | { readonly reported: true; readonly price?: (usage: Usage) => number }
  /** oompa estimates them from the tokens with the price table. */
  | { readonly reported: false; readonly price: (usage: Usage) => number }

/** What a test needs to run one harness against a model server. */
export interface Harness {
  readonly name: HarnessName
  /** The model oompa is given (`harness:model`), one the CLI resolves offline. */
  readonly model: string
  /** `harnesses.<name>` of oompa.json: the cached binary, the endpoint. */
  readonly override: (serverUrl: string) => SwarmConfig.HarnessOverride
  /** Writes what the CLI reads from HOME (its settings), if anything. */
  readonly prepareHome: (home: string, serverUrl: string) => void
  /** The scripted tool call that makes this CLI create or overwrite `file` in its cwd. */
  readonly writeFile: (file: string, content: string) => Turn
  /** Where a call's dollars come from, and what they are for a usage. */
  readonly dollars: Dollars
}

const writeJson = (file: string, value: unknown): void => {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)
}

export const claude: Harness = {
  name: "claude",
  model: "sonnet",
  override: (url) => ({
    command: binary("claude"),
    env: {
      ANTHROPIC_BASE_URL: url,
      ANTHROPIC_API_KEY: "sk-ant-contract-test",
      // No telemetry, update check or other traffic beyond the model server.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1"
    }
  }),
  prepareHome: () => undefined,
  writeFile: (file, content) => ({ tool: "Write", args: { file_path: file, content } }),
  dollars: { reported: true }
}

export const codex: Harness = {
  name: "codex",
  model: "gpt-5.5",
  override: (url) => ({
    command: binary("codex"),
    args: [
      "-c", "model_providers.mock.name=\"scripted\"",
      "-c", `model_providers.mock.base_url="${url}/v1"`,
      "-c", "model_providers.mock.wire_api=\"responses\"",
      "-c", "model_providers.mock.env_key=\"OOMPA_CONTRACT_API_KEY\"",
      "-c", "model_provider=mock"
    ],
    env: { OOMPA_CONTRACT_API_KEY: "contract-test" }
  }),
  prepareHome: () => undefined,
  // codex 0.169 has no file-writing tool for a provider it does not know: its shell tool does it.
  writeFile: (file, content) => ({ tool: "exec_command", args: { cmd: `printf '%s' '${content.replaceAll("'", "'\\''")}' > '${file}'` } }),
  dollars: { reported: false, price: tablePrice("openai", "gpt-5.5") }
}

export const gemini: Harness = {
  name: "gemini",
  model: "gemini-2.5-flash",
  override: (url) => ({
    command: binary("gemini"),
    env: { GOOGLE_GEMINI_BASE_URL: url, GEMINI_API_KEY: "contract-test" }
  }),
  prepareHome: (home) =>
    writeJson(join(home, ".gemini", "settings.json"), {
      security: { auth: { selectedType: "gemini-api-key" } },
      privacy: { usageStatisticsEnabled: false },
      telemetry: { enabled: false }
    }),
  writeFile: (file, content) => ({ tool: "write_file", args: { file_path: file, content } }),
  dollars: { reported: false, price: tablePrice("google", "gemini-2.5-flash") }
}

export const opencode: Harness = {
  name: "opencode",
  model: "mock/scripted",
  override: () => ({
    command: binary("opencode"),
    env: { OPENCODE_DISABLE_AUTOUPDATE: "1", OPENCODE_DISABLE_MODELS_FETCH: "1" }
  }),
  prepareHome: (home, url) =>
    writeJson(join(home, ".config", "opencode", "opencode.json"), {
      $schema: "https://opencode.ai/config.json",
      autoupdate: false,
      share: "disabled",
      provider: {
        mock: {
          npm: "@ai-sdk/openai-compatible",
          name: "Scripted model server",
          options: { baseURL: `${url}/v1`, apiKey: "contract-test" },
          models: { scripted: { name: "Scripted", cost: opencodePrice, limit: { context: 200_000, output: 32_000 } } }
        }
      }
    }),
  writeFile: (file, content) => ({ tool: "write", args: { filePath: file, content } }),
  // At the provider's price in opencode.json: what opencode itself reports.
  dollars: {
    reported: true,
    price: (usage) => ((usage.input - (usage.cached ?? 0)) * opencodePrice.input + (usage.cached ?? 0) * opencodePrice.cache_read + usage.output * opencodePrice.output) / 1e6
  }
}

export const all: ReadonlyArray<Harness> = [claude, codex, gemini, opencode]
