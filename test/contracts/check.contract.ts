/**
 * `oompa check` (HarnessCheck, SPEC F3/F12) probing the four real CLIs: each found, its version the
 * pinned one, codex's `login status` asked (logged out here: the note says so, since codex offline
 * and logged out would wait on the network), claude's root refusal named when `IS_SANDBOX` is unset.
 */
import { NodeServices } from "@effect/platform-node"
import { HarnessCheck } from "@oompa/adapters-node"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import * as H from "./harnesses.ts"
import { userEnvironment } from "./sandbox.ts"
import { requireCli } from "./suite.ts"

const pinned: Readonly<Record<H.HarnessName, RegExp>> = {
  codex: /^codex-cli 0\.169\.0$/,
  claude: /^2\.1\.\d+ \(Claude Code\)$/,
  gemini: /^0\.61\.0$/,
  opencode: /^1\.18\.33$/
}

describe("oompa check over the real CLIs", () => {
  H.all.forEach(requireCli)
  const home = mkdtempSync(join(tmpdir(), "oompa-contract-check-"))
  mkdirSync(join(home, "tmp"))
  afterAll(() => rmSync(home, { recursive: true, force: true }))
  const check = (env: Record<string, string | undefined>) =>
    Effect.runPromise(HarnessCheck.check({
      harnesses: Object.fromEntries(H.all.map((harness) => [harness.name, { command: H.binary(harness.name) }])),
      env,
      // Four large CLIs start at once on two cores.
      probeTimeoutMs: 30_000
    }).pipe(Effect.provide(NodeServices.layer)))

  it("finds every CLI at its pinned version; codex's login status is asked", async () => {
    const statuses = await check(userEnvironment(home))
    for (const harness of H.all) {
      const status = statuses.find((s) => s.harness === harness.name)
      assert.isDefined(status, harness.name)
      assert.isTrue(status!.available, `${harness.name}: ${status!.notes.join("; ")}`)
      assert.match(status!.version ?? "", pinned[harness.name])
    }
    const codex = statuses.find((s) => s.harness === "codex")!
    assert.strictEqual(codex.notes.length, 1)
    assert.match(codex.notes[0]!, /^not logged in \(Not logged in\): run `.*codex login`; logged out and offline, codex waits on the network until the call's timeout$/)
    assert.deepStrictEqual(statuses.find((s) => s.harness === "claude")!.notes, [], "IS_SANDBOX=1 is set, as the user would")
  })

  it.runIf(process.getuid?.() === 0)("as root without IS_SANDBOX=1, claude's refusal is reported in one line", async () => {
    const statuses = await check({ ...userEnvironment(home), IS_SANDBOX: undefined })
    const claude = statuses.find((s) => s.harness === "claude")!
    assert.isTrue(claude.available)
    assert.deepStrictEqual(claude.notes, [
      "claude refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1; oompa never sets it: if this machine is a sandbox, set IS_SANDBOX=1 in the environment or in harnesses.claude.env, or run oompa as a non-root user"
    ])
  })
})
