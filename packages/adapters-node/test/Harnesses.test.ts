/**
 * The pure half of the agent layer (SPEC F3): every harness's exact argv with and without model,
 * reasoning and resume; the environment; and the parsers on realistic outputs of each CLI,
 * truncated and malformed ones included (they never throw, they fall back to the raw text).
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { AgentSpec } from "@oompa/core"
import * as Harnesses from "../src/Harnesses.ts"
import * as OutputCapture from "../src/internal/outputCapture.ts"

const spec = (harness: AgentSpec.Harness, model?: string, reasoning?: string): AgentSpec.AgentSpec => ({
  harness,
  ...(model === undefined ? {} : { model }),
  ...(reasoning === undefined ? {} : { reasoning })
})
const wt = "/cache/oompa/worktrees/repo-1a2b/w0"
const argv = (agent: AgentSpec.AgentSpec, sessionId?: string, override?: Parameters<typeof Harnesses.commandLine>[2]) => {
  const line = Harnesses.commandLine(agent, { cwd: wt, sessionId }, override, {})
  if (typeof line === "string") throw new Error(line)
  return [line.command, ...line.args]
}

describe("Harnesses.commandLine", () => {
  it("codex: exec --json, -C worktree, workspace-write sandbox, prompt from stdin", () => {
    assert.deepStrictEqual(argv(spec("codex")), ["codex", "exec", "--json", "--skip-git-repo-check", "-C", wt, "--sandbox", "workspace-write", "-"])
    assert.deepStrictEqual(argv(spec("codex", "gpt-5-codex", "high")), [
      "codex", "exec", "--json", "--skip-git-repo-check", "-C", wt, "--sandbox", "workspace-write",
      "-m", "gpt-5-codex", "-c", "model_reasoning_effort=high", "-"
    ])
  })

  it("codex: resume keeps -C and --sandbox before `resume <thread_id> -`", () => {
    assert.deepStrictEqual(argv(spec("codex", "gpt-5-codex"), "0199a213-81c0"), [
      "codex", "exec", "--json", "--skip-git-repo-check", "-C", wt, "--sandbox", "workspace-write",
      "-m", "gpt-5-codex", "resume", "0199a213-81c0", "-"
    ])
  })

  it("codex: configured extra args go before the trailing positionals, binary overridden", () => {
    const line = argv(spec("codex", "m"), "t1", { command: "/opt/codex", args: ["-c", "profile={model}"] })
    assert.deepStrictEqual(line, [
      "/opt/codex", "exec", "--json", "--skip-git-repo-check", "-C", wt, "--sandbox", "workspace-write",
      "-m", "m", "-c", "profile=m", "resume", "t1", "-"
    ])
  })

  it("claude: -p JSON, permissions skipped, model, effort, resume", () => {
    assert.deepStrictEqual(argv(spec("claude")), ["claude", "-p", "--output-format", "json", "--dangerously-skip-permissions"])
    assert.deepStrictEqual(argv(spec("claude", "opus", "high"), "sess-1"), [
      "claude", "-p", "--output-format", "json", "--dangerously-skip-permissions", "--model", "opus", "--effort", "high", "--resume", "sess-1"
    ])
  })

  it("gemini: --yolo --skip-trust, -o json, resume; reasoning has no flag", () => {
    assert.deepStrictEqual(argv(spec("gemini")), ["gemini", "--yolo", "--skip-trust", "-o", "json"])
    assert.deepStrictEqual(argv(spec("gemini", "gemini-2.5-pro", "high"), "s-9"), [
      "gemini", "--yolo", "--skip-trust", "-m", "gemini-2.5-pro", "-o", "json", "--resume", "s-9"
    ])
  })

  it("opencode: run --format json --auto, provider/model, variant, session", () => {
    assert.deepStrictEqual(argv(spec("opencode")), ["opencode", "run", "--format", "json", "--auto"])
    assert.deepStrictEqual(argv(spec("opencode", "anthropic/claude-sonnet-4", "high"), "ses_1"), [
      "opencode", "run", "--format", "json", "--auto", "-m", "anthropic/claude-sonnet-4", "--variant", "high", "-s", "ses_1"
    ])
  })

  it("command: the configured argv with {worktree}, {model} and {prompt_file} substituted", () => {
    const line = Harnesses.commandLine(
      spec("command", "big"),
      { cwd: wt, promptFile: "/run/prompts/w0-1-propose-1.md" },
      { command: "{worktree}/agent.sh", args: ["--model={model}", "--prompt", "{prompt_file}", "{keep}"] },
      {}
    )
    assert.deepStrictEqual(line, {
      command: `${wt}/agent.sh`,
      args: ["--model=big", "--prompt", "/run/prompts/w0-1-propose-1.md", "{keep}"],
      env: { PWD: wt }
    })
    assert.isTrue(Harnesses.usesPromptFile({ command: "x", args: ["{prompt_file}"] }))
    assert.isFalse(Harnesses.usesPromptFile({ command: "x", args: ["{model}"] }))
  })

  it("command without harnesses.command.command is a reason, not a command line", () => {
    const line = Harnesses.commandLine(spec("command"), { cwd: wt }, undefined, {})
    assert.isString(line)
    assert.include(line as string, "harnesses.command.command")
  })

  it("environment: GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE removed, override env added, IS_SANDBOX never invented", () => {
    const base = { PATH: "/bin", GIT_DIR: "/repo/.git", GIT_WORK_TREE: "/repo", GIT_INDEX_FILE: "/repo/.git/index", GIT_AUTHOR_NAME: "a", UNSET: undefined }
    const env = Harnesses.agentEnvironment(base, { env: { GIT_DIR: "/elsewhere", EXTRA: "1" } })
    assert.deepStrictEqual(env, { PATH: "/bin", GIT_AUTHOR_NAME: "a", EXTRA: "1" })
    assert.notProperty(env, "IS_SANDBOX")
    assert.strictEqual(Harnesses.agentEnvironment({ IS_SANDBOX: "1" })["IS_SANDBOX"], "1", "the user's own IS_SANDBOX passes through")
  })

  it("environment: PWD is the worktree, never the orchestrator's (opencode 1.18 works in $PWD, not its cwd)", () => {
    for (const harness of ["codex", "claude", "gemini", "opencode", "command"] as const) {
      const line = Harnesses.commandLine(spec(harness), { cwd: wt }, { command: harness, env: { PWD: "/configured" } }, { PWD: "/home/user/repo", PATH: "/bin" })
      if (typeof line === "string") throw new Error(line)
      assert.strictEqual(line.env["PWD"], wt, harness)
      assert.strictEqual(line.env["PATH"], "/bin", harness)
    }
  })
})

// Realistic outputs, shaped like the real CLIs' (SPEC F3).
const codexOutput = [
  `{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}`,
  `{"type":"turn.started"}`,
  `{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Reading the task**"}}`,
  `{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"","exit_code":null,"status":"in_progress"}}`,
  `{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"src\\n","exit_code":0,"status":"completed"}}`,
  `{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"First look done."}}`,
  `{"type":"item.completed","item":{"id":"item_3","type":"file_change","changes":[{"path":"src/a.ts","kind":"add"}],"status":"completed"}}`,
  `{"type":"item.completed","item":{"id":"item_4","type":"agent_message","text":"Implemented src/a.ts.\\n__DONE__"}}`,
  `{"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":122}}`
].join("\n")

const claudeOutput = JSON.stringify({
  type: "result", subtype: "success", is_error: false, duration_ms: 2562, duration_api_ms: 4020, num_turns: 1,
  result: "VERDICT: APPROVED", session_id: "4b0b9e0c-2c5d-4d0e-9d61-0f4f3e4b7a10", total_cost_usd: 0.0621,
  usage: { input_tokens: 4, cache_creation_input_tokens: 5270, cache_read_input_tokens: 14098, output_tokens: 12, server_tool_use: { web_search_requests: 0 }, service_tier: "standard" },
  permission_denials: [], uuid: "d1d5…"
})

const geminiOutput = JSON.stringify({
  session_id: "6f1b2c3d-aaaa-bbbb-cccc-123456789abc",
  response: "Done: added the test.",
  stats: {
    models: {
      "gemini-2.5-pro": { api: { totalRequests: 2, totalErrors: 0, totalLatencyMs: 5000 }, tokens: { prompt: 8000, candidates: 300, total: 8500, cached: 0, thoughts: 200, tool: 0 } },
      "gemini-2.5-flash": { api: { totalRequests: 1, totalErrors: 0, totalLatencyMs: 800 }, tokens: { prompt: 1000, candidates: 50, total: 1050, cached: 0, thoughts: 0, tool: 0 } }
    },
    tools: { totalCalls: 1, totalSuccess: 1, totalFail: 0, totalDurationMs: 30, totalDecisions: { accept: 0, reject: 0, modify: 0, auto_accept: 1 }, byName: {} },
    files: { totalLinesAdded: 10, totalLinesRemoved: 0 }
  }
}, null, 2)

const opencodeOutput = [
  `{"type":"step_start","timestamp":1767036059338,"sessionID":"ses_494719016ffe85dkDMj0FPRbHK","part":{"id":"prt_1","sessionID":"ses_494719016ffe85dkDMj0FPRbHK","messageID":"msg_1","type":"step-start","snapshot":"abc"}}`,
  `{"type":"tool_use","timestamp":1767036059400,"sessionID":"ses_494719016ffe85dkDMj0FPRbHK","part":{"id":"prt_2","type":"tool","tool":"bash","callID":"c1","state":{"status":"completed","input":{"command":"ls"},"output":"src"}}}`,
  `{"type":"step_finish","timestamp":1767036059500,"sessionID":"ses_494719016ffe85dkDMj0FPRbHK","part":{"id":"prt_3","type":"step-finish","reason":"tool-calls","cost":0.002,"tokens":{"input":1200,"output":40,"reasoning":10,"cache":{"read":300,"write":0}}}}`,
  `{"type":"text","timestamp":1767036060000,"sessionID":"ses_494719016ffe85dkDMj0FPRbHK","part":{"id":"prt_4","type":"text","text":"All done.","time":{"start":1,"end":2}}}`,
  `{"type":"step_finish","timestamp":1767036060100,"sessionID":"ses_494719016ffe85dkDMj0FPRbHK","part":{"id":"prt_5","type":"step-finish","reason":"stop","cost":0.003,"tokens":{"input":1500,"output":20,"reasoning":0,"cache":{"read":0,"write":0}}}}`
].join("\n")

describe("Harnesses.parseOutput", () => {
  it("codex: thread id, the last agent_message, turn.completed usage", () => {
    const parsed = Harnesses.parseOutput("codex", codexOutput)
    assert.strictEqual(parsed.answer, "Implemented src/a.ts.\n__DONE__")
    assert.strictEqual(parsed.sessionId, "0199a213-81c0-7800-8aa1-bbab2a035a53")
    assert.deepStrictEqual(parsed.tokens, { input: 24763, output: 122 })
    assert.isUndefined(parsed.costUsd)
    assert.isFalse(parsed.isError)
    assert.isTrue(parsed.structured)
  })

  it("codex: turn.failed is an error with its message; a passing error event before completion is not", () => {
    const failed = Harnesses.parseOutput("codex", `{"type":"thread.started","thread_id":"t"}\n{"type":"error","message":"stream disconnected"}\n{"type":"turn.failed","error":{"message":"You've hit your usage limit."}}`)
    assert.isTrue(failed.isError)
    assert.strictEqual(failed.errorMessage, "You've hit your usage limit.")
    const recovered = Harnesses.parseOutput("codex", `{"type":"error","message":"Reconnecting... 1/5"}\n${codexOutput}`)
    assert.isFalse(recovered.isError)
  })

  it("claude: result, session_id, usage with cache tokens, total_cost_usd; is_error decides failure", () => {
    const parsed = Harnesses.parseOutput("claude", claudeOutput)
    assert.strictEqual(parsed.answer, "VERDICT: APPROVED")
    assert.strictEqual(parsed.sessionId, "4b0b9e0c-2c5d-4d0e-9d61-0f4f3e4b7a10")
    assert.deepStrictEqual(parsed.tokens, { input: 4 + 5270 + 14098, output: 12 })
    assert.strictEqual(parsed.costUsd, 0.0621)
    assert.isFalse(parsed.isError)
    const error = Harnesses.parseOutput("claude", JSON.stringify({ type: "result", subtype: "success", is_error: true, result: "Claude AI usage limit reached|1767225600", session_id: "s" }))
    assert.isTrue(error.isError, "is_error wins over subtype")
    assert.strictEqual(error.errorMessage, "Claude AI usage limit reached|1767225600")
  })

  it("claude: a warning line before the JSON does not hide it", () => {
    const parsed = Harnesses.parseOutput("claude", `Warning: something\n${claudeOutput}\n`)
    assert.strictEqual(parsed.answer, "VERDICT: APPROVED")
  })

  it("gemini: response, session_id, tokens summed over stats.models (thoughts as output), no cost", () => {
    const parsed = Harnesses.parseOutput("gemini", geminiOutput)
    assert.strictEqual(parsed.answer, "Done: added the test.")
    assert.strictEqual(parsed.sessionId, "6f1b2c3d-aaaa-bbbb-cccc-123456789abc")
    assert.deepStrictEqual(parsed.tokens, { input: 9000, output: 550 })
    assert.isUndefined(parsed.costUsd)
    const error = Harnesses.parseOutput("gemini", JSON.stringify({ error: { type: "Error", message: "quota", code: 1 } }))
    assert.isTrue(error.isError)
    assert.strictEqual(error.errorMessage, "quota")
  })

  it("opencode: text parts, sessionID, tokens and cost summed over step_finish", () => {
    const parsed = Harnesses.parseOutput("opencode", opencodeOutput)
    assert.strictEqual(parsed.answer, "All done.")
    assert.strictEqual(parsed.sessionId, "ses_494719016ffe85dkDMj0FPRbHK")
    assert.deepStrictEqual(parsed.tokens, { input: 1200 + 300 + 1500, output: 40 + 10 + 20 })
    assert.closeTo(parsed.costUsd!, 0.005, 1e-12)
    const error = Harnesses.parseOutput("opencode", `{"type":"error","sessionID":"ses_x","error":{"name":"APIError","data":{"message":"Rate limit exceeded"}}}`)
    assert.isTrue(error.isError)
    assert.strictEqual(error.errorMessage, "Rate limit exceeded")
  })

  it("command: stdout is the answer", () => {
    assert.deepStrictEqual(Harnesses.parseOutput("command", "hello\n"), { answer: "hello\n", isError: false, structured: false })
  })

  it("malformed output never throws: every harness falls back to the raw text", () => {
    const garbage = ["", "not json at all", "{\"type\":", "[1,2,3]", "null", "{\"unrelated\":true}", "\u0000\uffff{{{", "{\"type\":\"thread.started\",\"thread_id\":42}"]
    for (const harness of ["codex", "claude", "gemini", "opencode", "command"] as const) {
      for (const text of garbage) {
        const parsed = Harnesses.parseOutput(harness, text)
        assert.isString(parsed.answer)
        if (!parsed.structured) assert.strictEqual(parsed.answer, text)
      }
    }
    assert.isFalse(Harnesses.parseOutput("claude", "{\"type\":").structured)
    assert.isFalse(Harnesses.parseOutput("codex", "oops\n").structured)
  })

  it("codex JSONL cut in the middle by the output cap still yields the session and the final answer", () => {
    const capture = OutputCapture.make(1200)
    const filler = Array.from({ length: 200 }, (_, i) => `{"type":"item.completed","item":{"id":"c${i}","type":"command_execution","aggregated_output":"${"y".repeat(40)}"}}`)
    const lines = codexOutput.split("\n")
    const text = [lines[0], ...filler, ...lines.slice(-2)].join("\n") + "\n"
    capture.push(new TextEncoder().encode(text))
    assert.isAbove(capture.droppedBytes(), 0)
    const parsed = Harnesses.parseOutput("codex", capture.render())
    assert.strictEqual(parsed.sessionId, "0199a213-81c0-7800-8aa1-bbab2a035a53")
    assert.strictEqual(parsed.answer, "Implemented src/a.ts.\n__DONE__")
    assert.deepStrictEqual(parsed.tokens, { input: 24763, output: 122 })
  })
})

describe("Harnesses.parseOutput: the tokens a cost is computed from (issue 18)", () => {
  it("codex: cached_input_tokens is part of input_tokens, reasoning_output_tokens part of output_tokens", () => {
    const parsed = Harnesses.parseOutput("codex", codexOutput.replace(`"output_tokens":122}`, `"output_tokens":122,"reasoning_output_tokens":64}`))
    assert.deepStrictEqual(parsed.usage, [{ input: 24763, output: 122, cacheRead: 24448, cacheWrite: 0, reasoning: 64 }])
    assert.deepStrictEqual(parsed.tokens, { input: 24763, output: 122 }, "the totals are unchanged")
  })

  it("claude: input_tokens leaves out the cache's reads and writes, which are added to it", () => {
    const parsed = Harnesses.parseOutput("claude", claudeOutput)
    assert.deepStrictEqual(parsed.usage, [{ input: 4 + 5270 + 14098, output: 12, cacheRead: 14098, cacheWrite: 5270, reasoning: 0 }])
  })

  it("gemini: one usage per model it used, cached a share of the prompt, thoughts of the output", () => {
    const json = JSON.parse(geminiOutput) as { stats: { models: Record<string, { tokens: { cached: number } }> } }
    json.stats.models["gemini-2.5-pro"]!.tokens.cached = 6000
    const parsed = Harnesses.parseOutput("gemini", JSON.stringify(json))
    assert.deepStrictEqual(parsed.usage, [
      { model: "gemini-2.5-pro", input: 8000, output: 500, cacheRead: 6000, cacheWrite: 0, reasoning: 200 },
      { model: "gemini-2.5-flash", input: 1000, output: 50, cacheRead: 0, cacheWrite: 0, reasoning: 0 }
    ])
    assert.deepStrictEqual(parsed.tokens, { input: 9000, output: 550 })
  })

  it("opencode: its input leaves out the cache and its output the reasoning; each is added back, summed over the steps", () => {
    const parsed = Harnesses.parseOutput("opencode", opencodeOutput.replace(`"cache":{"read":0,"write":0}`, `"cache":{"read":0,"write":700}`))
    assert.deepStrictEqual(parsed.usage, [{ input: 1200 + 300 + 1500 + 700, output: 40 + 10 + 20, cacheRead: 300, cacheWrite: 700, reasoning: 10 }])
    assert.deepStrictEqual(parsed.tokens, { input: 3700, output: 70 })
  })

  it("a share reported larger than its total is cut to the total", () => {
    const parsed = Harnesses.parseOutput("codex", `{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":500,"output_tokens":10,"reasoning_output_tokens":50}}`)
    assert.deepStrictEqual(parsed.usage, [{ input: 100, output: 10, cacheRead: 100, cacheWrite: 0, reasoning: 10 }])
  })
})

describe("Harnesses: failures the layer treats specially", () => {
  it("rate limits are recognised in each harness's error form, and only there", () => {
    assert.isTrue(Harnesses.isRateLimited("claude", JSON.stringify({ is_error: true, result: "Claude AI usage limit reached|1767225600", session_id: "s" }), ""))
    assert.isTrue(Harnesses.isRateLimited("codex", `{"type":"turn.failed","error":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}}`, ""))
    assert.isTrue(Harnesses.isRateLimited("gemini", "", `{"error":{"type":"Error","message":"[API Error: Quota exceeded for quota metric (429 RESOURCE_EXHAUSTED)]","code":1}}`))
    assert.isTrue(Harnesses.isRateLimited("opencode", `{"type":"error","sessionID":"s","error":{"name":"APIError","data":{"message":"Rate limit exceeded"}}}`, ""))
    assert.isTrue(Harnesses.isRateLimited("command", "HTTP 429 Too Many Requests", ""))
    // An answer that merely talks about rate limiting is not a rate limit.
    assert.isFalse(Harnesses.isRateLimited("claude", JSON.stringify({ is_error: false, result: "I added a rate limiter (429 on overflow).", session_id: "s" }), ""))
    assert.isFalse(Harnesses.isRateLimited("codex", codexOutput.replace("Implemented src/a.ts.", "Added rate limit handling"), ""))
  })

  it("the wait a rate-limited CLI names is read from its error message or stderr, in any unit; none when it names none", () => {
    assert.strictEqual(Harnesses.retryAfterMs("command", "", "HTTP 429; Retry-After: 30\n"), 30_000)
    assert.strictEqual(Harnesses.retryAfterMs("codex", `{"type":"turn.failed","error":{"message":"Rate limit reached. Please try again in 1.5s."}}`, ""), 1_500)
    assert.strictEqual(Harnesses.retryAfterMs("claude", JSON.stringify({ is_error: true, result: "Usage limit reached; resets in 2 hours", session_id: "s" }), ""), 7_200_000)
    assert.strictEqual(Harnesses.retryAfterMs("command", "", "retry after 250ms"), 250)
    assert.isUndefined(Harnesses.retryAfterMs("claude", JSON.stringify({ is_error: true, result: "Claude AI usage limit reached|1767225600", session_id: "s" }), ""))
  })

  it("credentials revoked, expired or missing are recognised from the error message or stderr of a failed call, never from a successful answer", () => {
    assert.isTrue(Harnesses.isNotAuthenticated("codex", 1, "", "ERROR: unexpected status 401 Unauthorized: Missing bearer\n"))
    assert.isTrue(Harnesses.isNotAuthenticated("claude", 1, JSON.stringify({ is_error: true, result: "Invalid API key · Please run /login", session_id: "s" }), ""))
    assert.isTrue(Harnesses.isNotAuthenticated("claude", 1, JSON.stringify({ is_error: true, result: "OAuth token has expired. Please obtain a new token", session_id: "s" }), ""))
    assert.isTrue(Harnesses.isNotAuthenticated("gemini", 41, "", ""))
    assert.isFalse(Harnesses.isNotAuthenticated("claude", 0, JSON.stringify({ is_error: false, result: "Handled the 401 Unauthorized case.", session_id: "s" }), ""))
    assert.isFalse(Harnesses.isNotAuthenticated("codex", 1, "", "error: tests failed\n"))
    assert.strictEqual(Harnesses.authenticationLine("codex", "", "warn: x\nERROR: unexpected status 401 Unauthorized\n"), "ERROR: unexpected status 401 Unauthorized")
    // Only the CLI's last word: an MCP server's 401 earlier in the call is not the CLI logged out.
    assert.isFalse(Harnesses.isNotAuthenticated("codex", 1, "", "WARN MCP server \"docs\" failed to start: HTTP 401 Unauthorized\nERROR: stream disconnected before completion\n"))
  })

  it("claude's refusal as root is recognised and explained in one line naming IS_SANDBOX=1", () => {
    const stderr = "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n"
    assert.isTrue(Harnesses.isRootRefusal("claude", "", stderr))
    assert.isFalse(Harnesses.isRootRefusal("codex", "", stderr))
    assert.notInclude(Harnesses.rootRefusalMessage, "\n")
    assert.include(Harnesses.rootRefusalMessage, "IS_SANDBOX=1")
    assert.include(Harnesses.rootRefusalMessage, "never sets it")
  })

  it("a missing binary's message is one line naming the binary and the config key", () => {
    const message = Harnesses.missingBinaryMessage("codex", "codex")
    assert.notInclude(message, "\n")
    assert.match(message, /^codex: command not found on PATH/)
    assert.include(message, "harnesses.codex.command")
  })
})

describe("OutputCapture", () => {
  it("keeps everything under the cap, head and tail with the dropped size over it", () => {
    const small = OutputCapture.make(100)
    small.push(new TextEncoder().encode("hello "))
    small.push(new TextEncoder().encode("world"))
    assert.strictEqual(small.render(), "hello world")
    assert.strictEqual(small.droppedBytes(), 0)

    const capped = OutputCapture.make(10)
    for (const piece of ["abc", "defgh", "ijklmnop", "qrstuvwxyz"]) capped.push(new TextEncoder().encode(piece))
    assert.strictEqual(capped.totalBytes(), 26)
    assert.strictEqual(capped.droppedBytes(), 16)
    assert.strictEqual(capped.render(), `abcde${OutputCapture.droppedMarker(16)}vwxyz`)
  })

  it("any bytes in any pieces: the render is the first and last bytes, each decoded apart (a cut character is U+FFFD), around the marker", () => {
    // Multi-byte characters, so that the cuts fall inside them.
    // U+FEFF: taken for a byte-order mark at the very start only, not at the start of the tail.
    const text = fc.array(fc.constantFrom("a", "\n", "é", "€", "𝄞", "\u0000", "\uFEFF"), { maxLength: 120 }).map((chars) => chars.join(""))
    fc.assert(fc.property(text, fc.array(fc.nat(40), { maxLength: 8 }), fc.integer({ min: 2, max: 60 }), (written, cuts, outputBytesMax) => {
      const bytes = new TextEncoder().encode(written)
      const capture = OutputCapture.make(outputBytesMax)
      let at = 0
      for (const cut of [...cuts, bytes.length]) {
        capture.push(bytes.subarray(at, Math.min(bytes.length, at + cut)))
        at = Math.min(bytes.length, at + cut)
      }
      capture.push(bytes.subarray(at))
      const { head, tail } = OutputCapture.split(outputBytesMax)
      const decode = (part: Uint8Array, ignoreBOM = false) => new TextDecoder("utf-8", { ignoreBOM }).decode(part)
      const expected = bytes.length <= outputBytesMax
        ? decode(bytes)
        : decode(bytes.subarray(0, head)) + OutputCapture.droppedMarker(bytes.length - outputBytesMax) + decode(bytes.subarray(bytes.length - tail), true)
      assert.strictEqual(capture.render(), expected)
      assert.strictEqual(capture.totalBytes(), bytes.length)
    }), { numRuns: 500 })
  })

  it("skip (the helper held back the middle): the head ends there, and what the tail held before it is dropped too", () => {
    const encode = (text: string) => new TextEncoder().encode(text)
    // As the helper hands a flood over: the head, the count, the tail.
    const flooded = OutputCapture.make(10)
    flooded.push(encode("abcde"))
    flooded.skip(1_000)
    flooded.push(encode("vwxyz"))
    assert.strictEqual(flooded.totalBytes(), 1_010)
    assert.strictEqual(flooded.droppedBytes(), 1_000)
    assert.strictEqual(flooded.render(), `abcde${OutputCapture.droppedMarker(1_000)}vwxyz`)
    // A gap before the head is full: nothing after it joins the head; a tail before it is gone.
    const early = OutputCapture.make(10)
    early.push(encode("ab"))
    early.skip(3)
    early.push(encode("cd"))
    assert.strictEqual(early.render(), `ab${OutputCapture.droppedMarker(3)}cd`)
    early.skip(2)
    early.push(encode("e"))
    assert.strictEqual(early.droppedBytes(), 7)
    assert.strictEqual(early.render(), `ab${OutputCapture.droppedMarker(7)}e`)
  })

  it("many tiny writes stay linear and bounded", () => {
    const capture = OutputCapture.make(64)
    const byte = new Uint8Array([0x61])
    for (let i = 0; i < 200_000; i++) capture.push(byte)
    assert.strictEqual(capture.totalBytes(), 200_000)
    assert.strictEqual(capture.droppedBytes(), 200_000 - 64)
  })
})
