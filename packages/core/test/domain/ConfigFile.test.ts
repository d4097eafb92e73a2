/**
 * Goal: oompa.json (SPEC F1) decodes in both dialects (0.1.0 and 0.7) into one normalized
 * SwarmConfig with every default applied; every mistake is reported as one line naming the file
 * and the exact field path (with a did-you-mean for misspelled keys); the canonical encoding
 * round-trips; the JSON Schema that ships for editors is never stale.
 * Method: worked examples per rule, then properties over generated valid files — round-trip,
 * expansion against a small model of the rules, and one injected defect at a random place.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import { parseModelString } from "../../src/domain/AgentSpec.ts"
import {
  ConfigError,
  decodeConfigFile,
  decodeConfigFileResult,
  encodeConfigFile,
  exampleConfig
} from "../../src/domain/ConfigFile.ts"
import * as ConfigFileModule from "../../src/domain/ConfigFile.ts"
import { configJsonSchema } from "../../src/domain/ConfigJsonSchema.ts"
import { WorkerId } from "../../src/domain/Ids.ts"
import { makeSwarmConfig, type ReviewerConfig, type SwarmConfig, type WorkerConfig } from "../../src/domain/SwarmConfig.ts"

type Json = Record<string, unknown>

const fileName = "swarm/oompa.json"

const decode = (file: unknown, name = fileName): Result.Result<SwarmConfig, ConfigError> =>
  decodeConfigFileResult(typeof file === "string" ? file : JSON.stringify(file), name)

const decodeOk = (file: unknown): SwarmConfig => {
  const result = decode(file)
  if (Result.isFailure(result)) assert.fail(`expected ${JSON.stringify(file)} to decode, got:\n${result.failure.message}`)
  return result.success
}

const decodeErr = (file: unknown): ConfigError => {
  const result = decode(file)
  if (Result.isSuccess(result)) assert.fail(`expected ${JSON.stringify(file)} to fail, got ${JSON.stringify(result.success)}`)
  return result.failure
}

const worker = (id: string, fields: Partial<WorkerConfig> & Pick<WorkerConfig, "agent">): WorkerConfig => ({
  id: WorkerId.make(id),
  role: "worker",
  iterations: 10,
  prompt: [],
  wait_between: 0,
  budget: {},
  ...fields
})

// ---------------------------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------------------------

describe("decoding: the two dialects", () => {
  it("the smallest file gets every default of SPEC F1", () => {
    const config = decodeOk({ workers: [{ model: "claude:opus" }] })
    assert.deepStrictEqual(config, {
      workers: [worker("w0", { agent: { harness: "claude", model: "opus" } })],
      reviewers: [],
      review: true,
      policy: {},
      merge: { strategy: "no-ff", on_conflict: "abort", speculation: 1 },
      worktree: { ports_per_worker: 10, setup_inputs: [], copy: [], link: [] },
      timeouts: { propose: 300, review: 600, test: 900, setup: 600, teardown: 60 },
      rate_limit: { retries: 3, backoff_seconds: 30, backoff_max_seconds: 600 },
      max_review_attempts: 3,
      max_task_attempts: 3,
      max_merge_retries: 2,
      max_wait_for_tasks: 600,
      tasks_dir: "tasks",
      harnesses: {},
      budget: {},
      pricing: {}
    })
  })

  it("0.1.0: the SPEC's example, count expanded into w0..w3 in file order", () => {
    const config = decodeOk({
      review_model: "codex:gpt-5-codex",
      workers: [
        { model: "claude:opus", iterations: 5, count: 1, prompt: "prompts/planner.md", role: "planner" },
        { model: "codex:gpt-5-codex-mini", iterations: 10, count: 3, prompt: ["a.md", "b.md"], role: "executor" }
      ]
    })
    const executor = (id: string) =>
      worker(id, { agent: { harness: "codex", model: "gpt-5-codex-mini" }, role: "executor", prompt: ["a.md", "b.md"] })
    assert.deepStrictEqual(
      config,
      makeSwarmConfig({
        workers: [
          worker("w0", { agent: { harness: "claude", model: "opus" }, role: "planner", iterations: 5, prompt: ["prompts/planner.md"] }),
          executor("w1"),
          executor("w2"),
          executor("w3")
        ],
        reviewers: [{ agent: { harness: "codex", model: "gpt-5-codex" } }]
      })
    )
  })

  it("0.7: max_cycle, harness:model:reasoning, can_plan false, planner, reviewer list, wait_between", () => {
    const config = decodeOk({
      planner: { model: "claude:opus:high", prompt: "plan.md", max_pending: 4 },
      reviewer: ["claude:sonnet", { model: "codex:gpt-5-codex", prompt: "review.md" }],
      wait_between: 30,
      workers: [
        { model: "codex:gpt-5-codex:medium", max_cycle: 7, can_plan: false, count: 2 },
        { model: "gpt-5-codex", max_cycle: 3, can_plan: true, wait_between: 5 }
      ]
    })
    assert.deepStrictEqual(config.planner, {
      agent: { harness: "claude", model: "opus", reasoning: "high" },
      prompt: ["plan.md"],
      max_pending: 4
    })
    assert.deepStrictEqual(config.reviewers, [
      { agent: { harness: "claude", model: "sonnet" } },
      { agent: { harness: "codex", model: "gpt-5-codex" }, prompt: "review.md" }
    ])
    const agent = { harness: "codex", model: "gpt-5-codex", reasoning: "medium" } as const
    assert.deepStrictEqual(config.workers, [
      worker("w0", { agent, role: "executor", iterations: 7, wait_between: 30 }),
      worker("w1", { agent, role: "executor", iterations: 7, wait_between: 30 }),
      // A bare model means harness codex; the worker's own wait_between beats the top-level one.
      worker("w2", { agent: { harness: "codex", model: "gpt-5-codex" }, role: "worker", iterations: 3, wait_between: 5 })
    ])
  })

  it("every optional key is carried over", () => {
    const config = decodeOk({
      $schema: "./node_modules/@oompa/core/oompa.schema.json",
      workers: [{ model: "gemini:gemini-2.5-pro", budget: { max_agent_calls: 20 } }],
      branch: "develop",
      policy: { allow: ["src/**"], deny: ["secrets/**"], max_lines_added: 800, max_lines_deleted: 400, max_files: 10, allow_binary: false },
      merge: { strategy: "squash" },
      test_command: "npm test",
      setup_command: "npm ci",
      teardown_command: "docker compose down",
      worktree: { ports_per_worker: 4, setup_inputs: ["package-lock.json"], copy: [".env"], link: ["certs/*.pem"] },
      timeouts: { review: 120, teardown: 30 },
      rate_limit: { retries: 5, backoff_max_seconds: 60 },
      max_review_attempts: 5,
      max_task_attempts: 2,
      max_merge_retries: 1,
      max_parallel: 4,
      max_wait_for_tasks: 60,
      tasks_dir: "work/tasks",
      worktrees_dir: "../wt",
      harnesses: { claude: { env: { IS_SANDBOX: "1" } }, command: { command: "./agent.sh", args: ["{worktree}"] } },
      budget: { max_wall_seconds: 3600, max_cost_usd: 12.5 },
      pricing: { "gemini-2.5-pro": { input: 1, output: 8, cache_read: 0.1 } }
    })
    assert.deepStrictEqual(config, {
      workers: [worker("w0", { agent: { harness: "gemini", model: "gemini-2.5-pro" }, budget: { max_agent_calls: 20 } })],
      reviewers: [],
      review: true,
      branch: "develop",
      policy: { allow: ["src/**"], deny: ["secrets/**"], max_lines_added: 800, max_lines_deleted: 400, max_files: 10, allow_binary: false },
      merge: { strategy: "squash", on_conflict: "abort", speculation: 1 },
      test_command: "npm test",
      setup_command: "npm ci",
      teardown_command: "docker compose down",
      worktree: { ports_per_worker: 4, setup_inputs: ["package-lock.json"], copy: [".env"], link: ["certs/*.pem"] },
      timeouts: { propose: 300, review: 120, test: 900, setup: 600, teardown: 30 },
      rate_limit: { retries: 5, backoff_seconds: 30, backoff_max_seconds: 60 },
      max_review_attempts: 5,
      max_task_attempts: 2,
      max_merge_retries: 1,
      max_parallel: 4,
      max_wait_for_tasks: 60,
      tasks_dir: "work/tasks",
      worktrees_dir: "../wt",
      harnesses: { claude: { env: { IS_SANDBOX: "1" } }, command: { command: "./agent.sh", args: ["{worktree}"] } },
      budget: { max_wall_seconds: 3600, max_cost_usd: 12.5 },
      pricing: { "gemini-2.5-pro": { input: 1, output: 8, cache_read: 0.1 } }
    })
  })

  it("reviewers: the same list whichever of review_model, review_models, reviewer holds it", () => {
    const list = ["claude:opus", { model: "codex:gpt-5-codex", prompt: "r.md" }]
    const expected: Array<ReviewerConfig> = [
      { agent: { harness: "claude", model: "opus" } },
      { agent: { harness: "codex", model: "gpt-5-codex" }, prompt: "r.md" }
    ]
    for (const key of ["review_model", "review_models", "reviewer"]) {
      assert.deepStrictEqual(decodeOk({ workers: [{ model: "a" }], [key]: list }).reviewers, expected, key)
    }
    assert.deepStrictEqual(decodeOk({ workers: [{ model: "a" }], reviewer: { model: "claude:opus" } }).reviewers, expected.slice(0, 1))
  })

  it("reviewers: only one of the three keys", () => {
    const error = decodeErr({ workers: [{ model: "a" }], review_model: "claude:opus", reviewer: "codex:gpt-5-codex" })
    assert.strictEqual(
      error.message,
      `${fileName}: reviewer: cannot be combined with "review_model"; give the reviewers under one key`
    )
  })

  it("target: a remote exactly when mode is push, the branch named once, merge.speculation from 1 to 32", () => {
    const pushed = decodeOk({ workers: [{ model: "a" }], target: { mode: "push", remote: "origin", branch: "trunk" }, merge: { speculation: 4 } })
    assert.deepStrictEqual([pushed.target, pushed.branch, pushed.merge.speculation], [{ remote: "origin", mode: "push" }, "trunk", 4])
    assert.isUndefined(decodeOk({ workers: [{ model: "a" }], target: { mode: "local" } }).target)
    assert.strictEqual(decodeErr({ workers: [{ model: "a" }], target: { mode: "push" } }).message, `${fileName}: target.remote: is missing: mode push lands on a git remote (origin, or a URL)`)
    assert.strictEqual(
      decodeErr({ workers: [{ model: "a" }], target: { remote: "origin" } }).message,
      `${fileName}: target.mode: is "local", but target.remote is given: set mode to "push" to land on the remote`
    )
    assert.strictEqual(
      decodeErr({ workers: [{ model: "a" }], branch: "main", target: { mode: "push", remote: "origin", branch: "trunk" } }).message,
      `${fileName}: target.branch: names "trunk" but branch names "main": give the target branch once`
    )
    assert.include(decodeErr({ workers: [{ model: "a" }], merge: { speculation: 0 } }).message, "merge.speculation")
    assert.include(decodeErr({ workers: [{ model: "a" }], merge: { speculation: 33 } }).message, "merge.speculation")
  })

  it("target mode pr: a GitHub repository, origin by default, merged by a person unless auto_merge; tasks from GitHub Issues", () => {
    const github = { owner: "acme", repo: "app" }
    const pr = decodeOk({ workers: [{ model: "a" }], target: { mode: "pr", github } })
    assert.deepStrictEqual(pr.target, { remote: "origin", mode: "pr", github, auto_merge: false, poll_seconds: 30 })
    const custom = decodeOk({ workers: [{ model: "a" }], target: { mode: "pr", remote: "upstream", github: { ...github, api_url: "https://ghe.example/api/v3" }, auto_merge: true, poll_seconds: 5 } })
    assert.deepStrictEqual(custom.target, { remote: "upstream", mode: "pr", github: { ...github, api_url: "https://ghe.example/api/v3" }, auto_merge: true, poll_seconds: 5 })
    assert.strictEqual(decodeErr({ workers: [{ model: "a" }], target: { mode: "pr" } }).message, `${fileName}: target.github: is missing: mode pr opens pull requests on a GitHub repository ({"owner": …, "repo": …})`)
    assert.strictEqual(
      decodeErr({ workers: [{ model: "a" }], target: { mode: "push", remote: "origin", auto_merge: true } }).message,
      `${fileName}: target.auto_merge: is given, but target.mode is "push": it applies to mode "pr" only`
    )
    assert.include(decodeErr({ workers: [{ model: "a" }], target: { mode: "pr", github, poll_seconds: 0 } }).message, "target.poll_seconds")
    assert.include(decodeErr({ workers: [{ model: "a" }], target: { mode: "pr", github: { owner: "acme" } } }).message, "target.github.repo")
    assert.deepStrictEqual(decodeOk({ workers: [{ model: "a" }], tasks: { github } }).tasks, { github: { ...github, label: "oompa" } })
    assert.deepStrictEqual(decodeOk({ workers: [{ model: "a" }], tasks: { github: { ...github, label: "agents" } } }).tasks, { github: { ...github, label: "agents" } })
    assert.include(decodeErr({ workers: [{ model: "a" }], tasks: { github: { ...github, labels: "x" } } }).message, "tasks.github")
  })

  it("notify: every notification by default and a 15-minute quiet spell; exactly one of command and webhook; a webhook is an http(s) URL", () => {
    const config = decodeOk({ workers: [{ model: "a" }], notify: [{ webhook: "https://hooks.example.com/x" }, { on: ["failed"], command: "notify-send oompa", stalled_after: 60 }] })
    assert.deepStrictEqual(config.notify, [
      { webhook: "https://hooks.example.com/x", on: ["merged", "failed", "finished", "stalled"], stalled_after: 900 },
      { on: ["failed"], command: "notify-send oompa", stalled_after: 60 }
    ])
    assert.include(decodeErr({ workers: [{ model: "a" }], notify: [{ command: "x", webhook: "https://a.example" }] }).message, `${fileName}: notify[0]: give exactly one of command and webhook`)
    assert.include(decodeErr({ workers: [{ model: "a" }], notify: [{ on: ["merged"] }] }).message, "give exactly one of command and webhook")
    assert.include(decodeErr({ workers: [{ model: "a" }], notify: [{ webhook: "ftp://a.example/x" }] }).message, `${fileName}: notify[0].webhook: expected an http:// or https:// URL`)
    assert.include(decodeErr({ workers: [{ model: "a" }], notify: [{ webhook: "https://a.example", on: ["landed"] }] }).message, "notify[0].on[0]")
  })

  it("review: false turns review off; absent means on", () => {
    assert.isFalse(decodeOk({ workers: [{ model: "a" }], review: false }).review)
    assert.isTrue(decodeOk({ workers: [{ model: "a" }] }).review)
  })

  it("the example config the CLI prints decodes: a planner, three executors, a reviewer", () => {
    const config = decodeOk(exampleConfig)
    assert.deepStrictEqual(config.workers.map((w) => [w.id, w.role]), [
      ["w0", "planner"],
      ["w1", "executor"],
      ["w2", "executor"],
      ["w3", "executor"]
    ])
    assert.lengthOf(config.reviewers, 1)
    assert.isDefined(config.test_command)
    assert.isDefined(config.policy.allow)
  })

  it.effect("decodeConfigFile fails with a ConfigError carrying the file and each problem", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decodeConfigFile(JSON.stringify({ workers: [{ model: "claude:opus", count: -1 }] }), "oompa.json"))
      assert.strictEqual(error._tag, "ConfigError")
      assert.strictEqual(error.file, "oompa.json")
      assert.deepStrictEqual(error.problems, [{ path: "workers[0].count", message: "expected a positive integer, got -1" }])
      assert.strictEqual(error.message, "oompa.json: workers[0].count: expected a positive integer, got -1")
    }))
})

describe("decoding: mistakes, one line each, naming file and field", () => {
  it("every problem of the file at once", () => {
    const error = decodeErr({
      workers: [
        { model: "claude:opus", count: 0 },
        { model: "codex:x", iteratons: 3 },
        { model: "foo:bar" },
        { model: "claude:a", iterations: 1, max_cycle: 2 },
        { model: "claude:b", role: "planner", can_plan: false }
      ],
      merge: { strategy: "octopus" },
      harnesses: { claud: {} }
    })
    assert.deepStrictEqual(error.message.split("\n").sort(), [
      `${fileName}: harnesses.claud: unknown harness (did you mean "claude"?)`,
      `${fileName}: merge.strategy: expected one of "no-ff", "ff", "squash", "rebase", got "octopus"`,
      `${fileName}: workers[0].count: expected a positive integer, got 0`,
      `${fileName}: workers[1].iteratons: unknown key (did you mean "iterations"?)`,
      `${fileName}: workers[2].model: "foo:bar" has unknown harness "foo"; expected one of codex, claude, gemini, opencode, command`,
      `${fileName}: workers[3].max_cycle: cannot be combined with "iterations" (max_cycle is its 0.7 name); keep one`,
      `${fileName}: workers[4].can_plan: is false, which means role "executor", but role is "planner"; drop one`
    ])
  })

  it("workers is required and may not be empty; the file must be an object", () => {
    assert.strictEqual(decodeErr({}).message, `${fileName}: workers: is required`)
    assert.strictEqual(decodeErr({ workers: [] }).message, `${fileName}: workers: expected a non-empty list of workers, got []`)
    assert.strictEqual(decodeErr([]).message, `${fileName}: expected an object with a "workers" list, got []`)
  })

  it("an unknown key far from every valid one lists the valid keys", () => {
    assert.strictEqual(
      decodeErr({ workers: [{ model: "a", budget: { tokens: 5 } }] }).message,
      `${fileName}: workers[0].budget.tokens: unknown key; expected one of max_agent_calls, max_wall_seconds, max_cost_usd`
    )
  })

  it("malformed JSON names the file, the line and the column", () => {
    const error = decodeErr("{\n  \"workers\": [\n    {\"model\": \"a\",}\n  ]\n}")
    assert.match(error.message, /^swarm\/oompa\.json: invalid JSON at line 3, column 19: /)
    assert.match(decodeErr("").message, /^swarm\/oompa\.json: invalid JSON at line 1, column 1: /)
  })
})

// ---------------------------------------------------------------------------------------------
// Generated files
// ---------------------------------------------------------------------------------------------

const harnessNames = ["codex", "claude", "gemini", "opencode", "command"] as const
const name = fc.stringMatching(/^[a-z][a-z0-9.-]{0,10}$/)
const posInt = fc.integer({ min: 1, max: 40 })
const seconds = fc.oneof(fc.integer({ min: 0, max: 3600 }), fc.double({ min: 0, max: 3600, noNaN: true }))
const positive = fc.double({ min: 0.01, max: 1e6, noNaN: true })
const path = fc.stringMatching(/^[a-z]{1,8}(\/[a-z]{1,8})?\.md$/)
const glob = fc.constantFrom("src/**", "test/**", "docs/*.md", "secrets/**", "**/*.lock")

const modelString = fc.oneof(
  name, // bare: harness codex
  fc.tuple(fc.constantFrom(...harnessNames), name).map(([h, m]) => `${h}:${m}`),
  fc.tuple(fc.constantFrom(...harnessNames), name, fc.constantFrom("low", "medium", "high")).map(([h, m, r]) => `${h}:${m}:${r}`),
  fc.constantFrom(...harnessNames).map((h) => `${h}:`),
  fc.tuple(fc.constantFrom(...harnessNames), fc.constantFrom("low", "high")).map(([h, r]) => `${h}::${r}`)
)

const prompt = fc.oneof(path, fc.array(path, { maxLength: 3 }))

const budget = fc.record({ max_agent_calls: posInt, max_wall_seconds: positive, max_cost_usd: positive }, { requiredKeys: [] })

/** Every consistent way of saying the role, in both dialects. */
const roleFields = fc.constantFrom<Json>(
  {},
  { role: "worker" },
  { role: "planner" },
  { role: "executor" },
  { can_plan: false },
  { can_plan: true },
  { role: "executor", can_plan: false },
  { role: "worker", can_plan: true },
  { role: "planner", can_plan: true }
)

const iterationFields = fc.oneof(fc.constant<Json>({}), posInt.map((n): Json => ({ iterations: n })), posInt.map((n): Json => ({ max_cycle: n })))

const workerEntry: fc.Arbitrary<Json> = fc
  .tuple(
    fc.record({
      model: modelString,
      count: fc.integer({ min: 1, max: 3 }),
      prompt,
      wait_between: seconds,
      budget
    }, { requiredKeys: ["model"] }),
    roleFields,
    iterationFields
  )
  .map(([base, role, iterations]) => ({ ...base, ...role, ...iterations }))

const reviewerOne = fc.oneof(modelString, fc.record({ model: modelString, prompt: path }, { requiredKeys: ["model"] }))
const reviewerList = fc.array(reviewerOne, { maxLength: 3 })
const reviewerFields = fc.oneof(
  fc.constant<Json>({}),
  reviewerOne.map((r): Json => ({ review_model: r })),
  reviewerList.map((l): Json => ({ review_model: l })),
  reviewerList.map((l): Json => ({ review_models: l })),
  reviewerOne.map((r): Json => ({ reviewer: r })),
  reviewerList.map((l): Json => ({ reviewer: l }))
)

const harnessOverride = fc.record({
  command: fc.stringMatching(/^[a-z.\/]{1,10}$/),
  args: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
  env: fc.dictionary(fc.stringMatching(/^[A-Z][A-Z_]{0,6}$/), fc.string({ maxLength: 6 }), { maxKeys: 2 })
}, { requiredKeys: [] })

const price = fc.integer({ min: 0, max: 400 }).map((n) => n / 4)
const modelPrice = fc.record({ input: price, output: price, cache_read: price, cache_write: price, reasoning: price }, { requiredKeys: ["input", "output"] })

const optionalTopLevel = fc.record({
  $schema: fc.constant("./oompa.schema.json"),
  review: fc.boolean(),
  planner: fc.record({ model: modelString, prompt, max_pending: posInt }, { requiredKeys: ["model"] }),
  branch: name,
  policy: fc.record({
    allow: fc.array(glob, { maxLength: 3 }),
    deny: fc.array(glob, { maxLength: 3 }),
    max_lines_added: fc.nat(2000),
    max_lines_deleted: fc.nat(2000),
    max_files: fc.nat(50),
    allow_binary: fc.boolean()
  }, { requiredKeys: [] }),
  merge: fc.record({
    strategy: fc.constantFrom("no-ff", "ff", "squash", "rebase"),
    on_conflict: fc.constantFrom("abort", "agent")
  }, { requiredKeys: [] }),
  test_command: fc.constantFrom("npm test", "make check", "pytest -q"),
  setup_command: fc.constantFrom("npm ci", "uv sync"),
  timeouts: fc.record({ propose: seconds, review: seconds, test: seconds, setup: seconds }, { requiredKeys: [] }),
  max_review_attempts: posInt,
  max_task_attempts: posInt,
  max_merge_retries: posInt,
  max_parallel: posInt,
  max_wait_for_tasks: seconds,
  wait_between: seconds,
  tasks_dir: path,
  worktrees_dir: path,
  harnesses: fc.record({
    codex: harnessOverride,
    claude: harnessOverride,
    gemini: harnessOverride,
    opencode: harnessOverride,
    command: harnessOverride
  }, { requiredKeys: [] }),
  budget,
  pricing: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9./-]{0,10}$/), modelPrice, { maxKeys: 2 }),
  notify: fc.array(fc.record({
    on: fc.subarray(["merged", "failed", "finished", "stalled"]),
    stalled_after: seconds,
    target: fc.oneof(
      fc.constantFrom("notify-send oompa", "cat >> notices.jsonl").map((command) => ({ command })),
      fc.constantFrom("https://hooks.example.com/T0/B1/x", "http://127.0.0.1:9000/hook").map((webhook) => ({ webhook }))
    )
  }, { requiredKeys: ["target"] }).map(({ target, ...rest }) => ({ ...rest, ...target })), { maxLength: 2 })
}, { requiredKeys: [] })

/** A valid oompa.json, in either dialect or a mix of both. */
const configFile: fc.Arbitrary<Json> = fc
  .tuple(fc.array(workerEntry, { minLength: 1, maxLength: 4 }), reviewerFields, optionalTopLevel)
  .map(([workers, reviewers, rest]) => ({ ...rest, ...reviewers, workers }))

/** The expansion rules of SPEC F1, written independently of the decoder. */
const expectedWorkers = (file: Json): Array<WorkerConfig> => {
  const entries = file["workers"] as Array<Json>
  const out: Array<WorkerConfig> = []
  for (const entry of entries) {
    const role = entry["role"] ?? (entry["can_plan"] === false ? "executor" : "worker")
    const promptValue = entry["prompt"]
    for (let i = 0; i < ((entry["count"] as number | undefined) ?? 1); i++) {
      out.push({
        id: WorkerId.make(`w${out.length}`),
        agent: Result.getOrThrow(parseModelString(entry["model"] as string)),
        role: role as WorkerConfig["role"],
        iterations: (entry["iterations"] ?? entry["max_cycle"] ?? 10) as number,
        prompt: promptValue === undefined ? [] : typeof promptValue === "string" ? [promptValue] : promptValue as Array<string>,
        wait_between: (entry["wait_between"] ?? file["wait_between"] ?? 0) as number,
        budget: (entry["budget"] ?? {}) as WorkerConfig["budget"]
      })
    }
  }
  return out
}

describe("properties over generated files", () => {
  it("PROPERTY: count expansion, ids w0..wN-1 in file order, role/iterations/prompt/wait_between per SPEC F1", () => {
    fc.assert(fc.property(configFile, (file) => {
      assert.deepStrictEqual(decodeOk(file).workers, expectedWorkers(file))
    }), { numRuns: 200 })
  })

  it("PROPERTY: decode → encode → decode gives the same SwarmConfig", () => {
    fc.assert(fc.property(configFile, (file) => {
      const config = decodeOk(file)
      const encoded = encodeConfigFile(config)
      assert.deepStrictEqual(decodeOk(JSON.stringify(encoded)), config)
      // One entry per worker, so nothing is silently regrouped.
      assert.lengthOf(encoded.workers, config.workers.length)
    }), { numRuns: 300 })
  })
})

// ---------------------------------------------------------------------------------------------
// Injected defects
// ---------------------------------------------------------------------------------------------

/** The keys SPEC F1 allows at each place of the file. */
const validKeys = {
  top: [
    "$schema", "workers", "review_model", "review_models", "reviewer", "review", "planner", "branch", "target", "policy", "merge",
    "test_command", "setup_command", "teardown_command", "worktree", "timeouts", "rate_limit", "max_review_attempts", "max_task_attempts", "max_merge_retries",
    "max_parallel", "max_wait_for_tasks", "wait_between", "tasks_dir", "tasks", "worktrees_dir", "harnesses", "budget", "pricing", "notify"
  ],
  worker: ["model", "iterations", "max_cycle", "count", "prompt", "role", "can_plan", "wait_between", "budget"],
  planner: ["model", "prompt", "max_pending"],
  policy: ["allow", "deny", "max_lines_added", "max_lines_deleted", "max_files", "allow_binary"],
  merge: ["strategy", "on_conflict", "speculation"],
  timeouts: ["propose", "review", "test", "setup", "teardown"],
  budget: ["max_agent_calls", "max_wall_seconds", "max_cost_usd"],
  harnesses: [...harnessNames]
} as const

type Place = keyof typeof validKeys
type Segment = string | number

interface Location {
  readonly place: Place
  readonly at: ReadonlyArray<Segment>
}

interface Injected {
  readonly file: Json
  readonly path: string
  /** How many problems the file has after the injection. */
  readonly problems: number
  readonly suggestion?: string | undefined
}

const formatPath = (at: ReadonlyArray<Segment>): string =>
  at.map((s, i) => typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`).join("")

const getAt = (value: unknown, at: ReadonlyArray<Segment>): unknown =>
  at.reduce<unknown>((v, s) => (v as Record<Segment, unknown> | undefined)?.[s], value)

/** A copy of `file` with `value` at `at`, creating missing objects on the way. */
const setAt = (file: Json, at: ReadonlyArray<Segment>, value: unknown): Json => {
  const copy = structuredClone(file)
  let node: Record<Segment, unknown> = copy
  at.slice(0, -1).forEach((segment) => {
    node[segment] ??= {}
    node = node[segment] as Record<Segment, unknown>
  })
  node[at[at.length - 1]!] = value
  return copy
}

const renameAt = (file: Json, at: ReadonlyArray<Segment>, from: string, to: string): Json => {
  const copy = structuredClone(file)
  const node = (at.length === 0 ? copy : getAt(copy, at)) as Json
  node[to] = node[from]
  delete node[from]
  return copy
}

const workerIndex = (file: Json) => fc.nat((file["workers"] as Array<unknown>).length - 1)

/** Every object of the file an unknown key can go into (created when absent). */
const locations = (file: Json): Array<Location> => [
  { place: "top", at: [] },
  ...(file["workers"] as Array<unknown>).flatMap((_, i): Array<Location> => [
    { place: "worker", at: ["workers", i] },
    { place: "budget", at: ["workers", i, "budget"] }
  ]),
  { place: "planner", at: ["planner"] },
  { place: "policy", at: ["policy"] },
  { place: "merge", at: ["merge"] },
  { place: "timeouts", at: ["timeouts"] },
  { place: "budget", at: ["budget"] }
]

const levenshtein = (a: string, b: string): number => {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
  }
  return d[a.length]![b.length]!
}

const unknownKey = (file: Json): fc.Arbitrary<Injected> =>
  fc.tuple(fc.constantFrom(...locations(file)), fc.stringMatching(/^[a-z]{2,6}$/)).map(([location, suffix]) => {
    const key = `zz${suffix}` // no valid key starts with "zz"
    const where = location.place === "planner" && file["planner"] === undefined
      ? setAt(file, ["planner"], { model: "claude:opus" }) // a planner needs its model
      : file
    return { file: setAt(where, [...location.at, key], 1), path: formatPath([...location.at, key]), problems: 1 }
  })

/** Keys present in the file, with where they sit. */
const presentKeys = (file: Json): Array<Location & { readonly key: string }> =>
  locations(file).flatMap((location) => {
    const node = location.at.length === 0 ? file : getAt(file, location.at)
    return typeof node === "object" && node !== null ? Object.keys(node).map((key) => ({ ...location, key })) : []
  })

const misspelledKey = (file: Json): fc.Arbitrary<Injected> =>
  fc.tuple(fc.constantFrom(...presentKeys(file)), fc.nat(), fc.constantFrom("delete", "insert", "replace"), fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz"))
    .map(([{ at, key, place }, position, edit, letter]) => {
      const p = position % key.length
      const typo = edit === "delete"
        ? key.slice(0, p) + key.slice(p + 1)
        : edit === "insert"
        ? key.slice(0, p) + letter + key.slice(p)
        : key.slice(0, p) + (key[p] === letter ? "z" : letter) + key.slice(p + 1)
      return { at, key, place, typo }
    })
    // An edit that lands on another valid key of the same place is no misspelling, and not always a
    // defect: review_models minus its "s" is review_model, which takes the same list, so the file
    // stays valid. It is the only such pair the edits above can make, so the filter seldom rejects.
    .filter(({ place, typo }) => !(validKeys[place] as ReadonlyArray<string>).includes(typo))
    .map(({ at, key, place, typo }) => {
      const valid: ReadonlyArray<string> = validKeys[place]
      const loose = (s: string) => s.toLowerCase().replace(/[_-]/g, "")
      // The hint is only checked when the right answer is unambiguous: no other valid key as close.
      const ambiguous = valid.some((other) => other !== key && (levenshtein(typo, other) <= 1 || loose(other) === loose(typo)))
      const required = (place === "top" && key === "workers") || ((place === "worker" || place === "planner") && key === "model")
      return {
        file: renameAt(file, at, key, typo),
        path: formatPath([...at, typo]),
        problems: required ? 2 : 1,
        suggestion: ambiguous ? undefined : key
      }
    })

const negativeCount = (file: Json): fc.Arbitrary<Injected> =>
  fc.tuple(workerIndex(file), fc.integer({ min: -5, max: 0 })).map(([i, count]) => ({
    file: setAt(file, ["workers", i, "count"], count),
    path: `workers[${i}].count`,
    problems: 1
  }))

const wrongType = (file: Json): fc.Arbitrary<Injected> =>
  fc.tuple(workerIndex(file), fc.nat(16)).map(([i, pick]) => {
    const cases: Array<readonly [ReadonlyArray<Segment>, unknown]> = [
      [["workers", i, "iterations"], "ten"],
      [["workers", i, "prompt"], 5],
      [["workers", i, "role"], "boss"],
      [["workers", i, "can_plan"], "yes"],
      [["workers", i, "budget", "max_cost_usd"], "1"],
      [["workers", i, "model"], 42],
      [["test_command"], 42],
      [["max_parallel"], "4"],
      [["review"], "no"],
      [["tasks_dir"], []],
      [["policy"], []],
      [["policy", "max_files"], 1.5],
      [["merge", "strategy"], "octopus"],
      [["timeouts", "review"], -1],
      [["budget", "max_wall_seconds"], 0],
      [["harnesses"], "codex"],
      [["wait_between"], "soon"]
    ]
    const [at, value] = cases[pick % cases.length]!
    return { file: setAt(file, at, value), path: formatPath(at), problems: 1 }
  })

const badModel = (file: Json): fc.Arbitrary<Injected> =>
  fc.tuple(workerIndex(file), fc.constantFrom("nosuch:model", "", "   ", "claude:opus:", "claude:a:b:c", "Claude:opus"))
    .map(([i, model]) => ({ file: setAt(file, ["workers", i, "model"], model), path: `workers[${i}].model`, problems: 1 }))

const badHarness = (file: Json): fc.Arbitrary<Injected> =>
  fc.constantFrom("claud", "openai", "cursor", "aider", "codexx").map((harness) => ({
    file: setAt(file, ["harnesses", harness], {}),
    path: `harnesses.${harness}`,
    problems: 1,
    suggestion: harness === "claud" ? "claude" : harness === "codexx" ? "codex" : undefined
  }))

const iterationsAndMaxCycle = (file: Json): fc.Arbitrary<Injected> =>
  fc.tuple(workerIndex(file), posInt, posInt).map(([i, a, b]) => ({
    file: setAt(setAt(file, ["workers", i, "iterations"], a), ["workers", i, "max_cycle"], b),
    path: `workers[${i}].max_cycle`,
    problems: 1
  }))

const plannerThatCannotPlan = (file: Json): fc.Arbitrary<Injected> =>
  workerIndex(file).map((i) => ({
    file: setAt(setAt(file, ["workers", i, "role"], "planner"), ["workers", i, "can_plan"], false),
    path: `workers[${i}].can_plan`,
    problems: 1
  }))

const twoReviewerKeys = (file: Json): fc.Arbitrary<Injected> => {
  const keys = ["review_model", "review_models", "reviewer"] as const
  const present = keys.filter((key) => file[key] !== undefined)
  return fc.constantFrom(...keys.filter((key) => !present.includes(key))).map((added) => {
    const base = present.length === 0 ? setAt(file, [keys.find((k) => k !== added)!], ["claude:opus"]) : file
    const given = keys.filter((key) => base[key] !== undefined || key === added)
    return { file: setAt(base, [added], ["codex:gpt-5-codex"]), path: given[1]!, problems: 1 }
  })
}

const defects = {
  unknownKey,
  misspelledKey,
  negativeCount,
  wrongType,
  badModel,
  badHarness,
  iterationsAndMaxCycle,
  plannerThatCannotPlan,
  twoReviewerKeys
}

const injected = fc
  .tuple(configFile, fc.constantFrom(...(Object.keys(defects) as Array<keyof typeof defects>)))
  .chain(([file, kind]) => defects[kind](file).map((defect) => ({ kind, ...defect })))

describe("properties: one injected defect", () => {
  it("PROPERTY: decoding fails, every line names the file, one line names the exact field path", () => {
    fc.assert(fc.property(injected, (defect) => {
      const error = decodeErr(defect.file)
      const lines = error.message.split("\n")
      const context = `${defect.kind} at ${defect.path}:\n${error.message}`
      assert.isTrue(lines.every((line) => line.startsWith(`${fileName}: `)), context)
      assert.isTrue(lines.some((line) => line.startsWith(`${fileName}: ${defect.path}: `)), context)
      assert.strictEqual(error.problems.length, defect.problems, context)
      if (defect.suggestion !== undefined) {
        assert.include(error.message, `${fileName}: ${defect.path}: unknown`, context)
        assert.include(error.message, `(did you mean "${defect.suggestion}"?)`, context)
      }
    }), { numRuns: 600 })
  })
})

// ---------------------------------------------------------------------------------------------
// The shipped JSON Schema
// ---------------------------------------------------------------------------------------------

describe("oompa.schema.json", () => {
  const schemaFile = new URL("../../oompa.schema.json", import.meta.url)

  it("the checked-in file equals configJsonSchema() (else run `npm run schema:generate`)", () => {
    const generated = `${JSON.stringify(configJsonSchema(), null, 2)}\n`
    const checkedIn = readFileSync(schemaFile, "utf8")
    assert.strictEqual(
      checkedIn,
      generated,
      "packages/core/oompa.schema.json is stale: the ConfigFile Schema changed; run `npm run schema:generate`"
    )
  })

  it("objects are closed and every top-level and worker field is described", () => {
    const schema = configJsonSchema() as {
      readonly additionalProperties: unknown
      readonly properties: Record<string, { readonly description?: string; readonly $ref?: string }>
      readonly $defs: Record<string, { readonly additionalProperties?: unknown; readonly properties?: Record<string, { readonly description?: string; readonly $ref?: string }> }>
    }
    assert.strictEqual(schema.additionalProperties, false)
    assert.deepStrictEqual(Object.keys(schema.properties).sort(), [...validKeys.top].sort())
    const workerDef = schema.$defs["Worker"]!
    assert.strictEqual(workerDef.additionalProperties, false)
    assert.deepStrictEqual(Object.keys(workerDef.properties ?? {}).sort(), [...validKeys.worker].sort())
    for (const [key, field] of [...Object.entries(schema.properties), ...Object.entries(workerDef.properties ?? {})]) {
      // A $ref field is described by its definition.
      assert.isTrue(field.$ref !== undefined || (field.description ?? "").length > 0, `${key} has no description`)
    }
  })
})

describe("the ConfigFile namespace", () => {
  it("still carries every name of 0.1.0, wherever the module that defines it now is", () => {
    const names = [
      "ConfigFile",
      "ConfigProblem",
      "ConfigError",
      "didYouMean",
      "normalize",
      "decodeConfigFileResult",
      "decodeConfigFile",
      "encodeConfigFile",
      "exampleConfig"
    ]
    for (const name of names) assert.isDefined((ConfigFileModule as Record<string, unknown>)[name], name)
    // And its types.
    const entry: ConfigFileModule.WorkerEntry = { model: "claude:opus" }
    const file: ConfigFileModule.ConfigFile = { workers: [entry] }
    const problem: ConfigFileModule.ConfigProblem = { path: "workers", message: "is required" }
    assert.strictEqual(new ConfigFileModule.ConfigError({ file: "f", problems: [problem] }).message, "f: workers: is required")
    assert.isTrue(Result.isSuccess(ConfigFileModule.normalize(file)))
  })
})
