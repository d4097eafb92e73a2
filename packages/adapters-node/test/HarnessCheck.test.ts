/**
 * `oompa check`'s harness probes (SPEC F3) against the fake CLIs: availability and version of each
 * binary, `codex login status`, claude as root without IS_SANDBOX=1, a missing binary, and a probe
 * that hangs (stopped at `probeTimeoutMs`, never waited for).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import * as HarnessCheck from "../src/HarnessCheck.ts"
import * as Harnesses from "../src/Harnesses.ts"
import { SwarmConfig } from "@oompa/core"

const fakeBin = fileURLToPath(new URL("./fixtures/fake-agents/bin", import.meta.url))
// The fakes are `#!/usr/bin/env node` scripts: the folder of the node running the tests goes on PATH too.
const nodeDir = dirname(process.execPath)
const roots: Array<string> = []
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })))
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "oompa-check-"))
  roots.push(dir)
  return dir
}

const check = (options: HarnessCheck.Options) => HarnessCheck.check(options).pipe(Effect.provide(NodeServices.layer))
const byName = (statuses: ReadonlyArray<HarnessCheck.HarnessStatus>, harness: string) => statuses.find((s) => s.harness === harness)!

describe("HarnessCheck", () => {
  it.live("every fake CLI is available with its --version; codex's login status is reported", () =>
    Effect.gen(function*() {
      const statuses = yield* check({ env: { PATH: `${fakeBin}${delimiter}${nodeDir}` }, uid: 1000 })
      assert.deepStrictEqual(statuses.map((s) => [s.harness, s.available, s.version]), [
        ["codex", true, "codex-cli 0.169.0"],
        ["claude", true, "2.1.0 (Claude Code)"],
        ["gemini", true, "0.61.0"],
        ["opencode", true, "1.18.0"]
      ])
      assert.deepStrictEqual(byName(statuses, "codex").notes, ["login: Logged in using ChatGPT"])
      assert.deepStrictEqual(byName(statuses, "claude").notes, [], "not root: nothing to say")
    }))

  it.live("codex logged out, and claude as root without IS_SANDBOX=1, each get one explaining line", () =>
    Effect.gen(function*() {
      const statuses = yield* check({ env: { PATH: `${fakeBin}${delimiter}${nodeDir}`, FAKE_CODEX_LOGGED_OUT: "1" }, uid: 0 })
      const [login] = byName(statuses, "codex").notes
      assert.match(login!, /^not logged in \(Not logged in\): run `codex login`/)
      assert.deepStrictEqual(byName(statuses, "claude").notes, [Harnesses.rootRefusalMessage])
      const sandboxed = yield* check({ env: { PATH: `${fakeBin}${delimiter}${nodeDir}` }, uid: 0, harnesses: { claude: { env: { IS_SANDBOX: "1" } } } })
      assert.deepStrictEqual(byName(sandboxed, "claude").notes, [], "the user's IS_SANDBOX=1 in harnesses.claude.env is honoured")
      // Found, but every call would fail: available, not usable, and `check` says so.
      assert.deepStrictEqual(["codex", "claude"].map((h) => [byName(statuses, h).available, byName(statuses, h).usable]), [[true, false], [true, false]])
      assert.isTrue(byName(sandboxed, "claude").usable)
      assert.match(HarnessCheck.format(statuses).join("\n"), /^blocked codex /m)
    }))

  it.live("missing binaries are reported as such, naming the binary", () =>
    Effect.gen(function*() {
      const statuses = yield* check({ env: { PATH: tempDir() }, harnesses: { command: { command: "my-agent" } } })
      assert.deepStrictEqual(statuses.map((s) => [s.harness, s.available]), [
        ["codex", false], ["claude", false], ["gemini", false], ["opencode", false], ["command", false]
      ])
      assert.match(byName(statuses, "gemini").notes[0]!, /^gemini: command not found on PATH/)
      const lines = HarnessCheck.format(statuses)
      assert.match(lines[0]!, /^missing codex/)
    }))

  it.live("a probe that hangs is stopped at probeTimeoutMs and reported, not waited for", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const hanging = join(dir, "slow-gemini")
      writeFileSync(hanging, "#!/bin/sh\nsleep 30\n")
      chmodSync(hanging, 0o755)
      const agent = join(dir, "my-agent")
      writeFileSync(agent, "#!/bin/sh\n")
      chmodSync(agent, 0o755)
      const started = performance.now()
      const statuses = yield* check({
        env: { PATH: `${fakeBin}${delimiter}${nodeDir}${delimiter}/bin${delimiter}/usr/bin${delimiter}${dir}` },
        harnesses: { gemini: { command: hanging }, command: { command: "my-agent" } },
        probeTimeoutMs: 400,
        uid: 1000
      })
      assert.isBelow(performance.now() - started, 5_000)
      const gemini = byName(statuses, "gemini")
      assert.isTrue(gemini.available)
      assert.isUndefined(gemini.version)
      assert.deepStrictEqual(gemini.notes, [`\`${hanging} --version\` did not answer within 0.4 s`])
      assert.isTrue(byName(statuses, "command").available)
      assert.match(HarnessCheck.format(statuses).join("\n"), /^ok {6}codex {4}codex \(codex-cli 0\.169\.0\)$/m)
    }))

  it.effect("runBlockers names each binary that is not there, its oompa.json field and who uses it, and claude as root without IS_SANDBOX=1; runs nothing", () =>
    Effect.gen(function*() {
      const worker = (id: string, harness: "claude" | "codex") => ({
        id: id as SwarmConfig.WorkerConfig["id"], agent: { harness }, role: "executor" as const, iterations: 1, prompt: [], wait_between: 0, budget: {}
      })
      const config = SwarmConfig.makeSwarmConfig({
        workers: [worker("w0", "claude"), worker("w1", "codex"), worker("w2", "codex")],
        reviewers: [{ agent: { harness: "claude" } }, { agent: { harness: "gemini" } }],
        planner: { agent: { harness: "gemini" }, prompt: [], max_pending: 5 },
        // codex is looked up on the PATH its harness env gives (none there); gemini by its override.
        harnesses: { codex: { env: { PATH: tempDir() } }, gemini: { command: "gemini-typo" } }
      })
      const missing = yield* HarnessCheck.runBlockers(config, { env: { PATH: fakeBin }, uid: 1000 }).pipe(Effect.provide(NodeServices.layer))
      assert.deepStrictEqual(missing, [
        `${Harnesses.missingBinaryMessage("gemini", "gemini-typo")}; used by the planner, reviewer 2`,
        `${Harnesses.missingBinaryMessage("codex", "codex")}; used by w1, w2`
      ])
      // Fixed: the override names a path, and codex's env PATH holds it.
      const fixed = { ...config, harnesses: { codex: { env: { PATH: fakeBin } }, gemini: { command: join(fakeBin, "gemini") } } }
      assert.deepStrictEqual(yield* HarnessCheck.runBlockers(fixed, { env: { PATH: tempDir() }, uid: 1000 }).pipe(Effect.provide(NodeServices.layer)), [
        `${Harnesses.missingBinaryMessage("claude", "claude")}; used by w0, reviewer 1`
      ])
      // As root, claude refuses unless IS_SANDBOX=1 is in its environment (oompa's or harnesses.claude.env).
      const asRoot = (env: Record<string, string>, claudeEnv?: Record<string, string>) =>
        HarnessCheck.runBlockers({ ...fixed, harnesses: { ...fixed.harnesses, ...(claudeEnv === undefined ? {} : { claude: { env: claudeEnv } }) } }, { env, uid: 0 })
          .pipe(Effect.provide(NodeServices.layer))
      assert.deepStrictEqual(yield* asRoot({ PATH: fakeBin }), [`${Harnesses.rootRefusalMessage} (claude is used by w0, reviewer 1)`])
      assert.deepStrictEqual(yield* asRoot({ PATH: fakeBin, IS_SANDBOX: "1" }), [])
      assert.deepStrictEqual(yield* asRoot({ PATH: fakeBin }, { IS_SANDBOX: "1" }), [])
    }))
})
