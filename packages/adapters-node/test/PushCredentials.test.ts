/**
 * Goal: landing on a remote, an agent's environment gives git no way to authenticate to it — no
 * credential helper, no SSH agent or key, no prompt — so its habitual `git push` fails instead of
 * passing for a teammate's push. Method: `git credential fill` against a repository whose helper
 * answers, with and without the environment; and the ssh git would run.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { withoutGitHubTokens, withoutPushCredentials } from "../src/internal/pushCredentials.ts"

const credentialFill = (cwd: string, env: Readonly<Record<string, string | undefined>>) =>
  spawnSync("git", ["credential", "fill"], { cwd, env: env as NodeJS.ProcessEnv, input: "protocol=https\nhost=git.example.com\n\n", encoding: "utf8" })

describe("withoutPushCredentials", () => {
  it("a credential helper that would answer is not asked, and git does not prompt", () => {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-credentials-"))
    try {
      spawnSync("git", ["init", "-q"], { cwd: repo })
      spawnSync("git", ["config", "credential.helper", "!f() { echo username=me; echo password=s3cret; }; f"], { cwd: repo })
      const base = { ...process.env, GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "user.name", GIT_CONFIG_VALUE_0: "kept", SSH_AUTH_SOCK: "/tmp/agent.sock", GIT_ASKPASS: "/bin/echo" }
      assert.include(credentialFill(repo, base).stdout, "password=s3cret")
      const stripped = withoutPushCredentials(base)
      const asked = credentialFill(repo, stripped)
      assert.notInclude(asked.stdout, "s3cret")
      assert.notStrictEqual(asked.status, 0)
      // The user's own GIT_CONFIG_* pairs stay; ssh offers no key and never asks.
      assert.strictEqual(spawnSync("git", ["config", "user.name"], { cwd: repo, env: stripped as NodeJS.ProcessEnv, encoding: "utf8" }).stdout.trim(), "kept")
      assert.include(spawnSync("git", ["config", "core.sshCommand"], { cwd: repo, env: stripped as NodeJS.ProcessEnv, encoding: "utf8" }).stdout, "IdentityFile=/dev/null")
      assert.deepStrictEqual([stripped["SSH_AUTH_SOCK"], stripped["GIT_ASKPASS"], stripped["GIT_TERMINAL_PROMPT"]], [undefined, undefined, "0"])
    } finally {
      fs.rmSync(repo, { recursive: true, force: true })
    }
  })

  it("GitHub's tokens are gone and the GitHub CLI finds no login: an agent cannot merge its own pull request", () => {
    const base = { PATH: "/usr/bin:/bin", GITHUB_TOKEN: "ghp_secret", GH_TOKEN: "gho_secret", GH_ENTERPRISE_TOKEN: "x", GITHUB_ENTERPRISE_TOKEN: "y", HOME: os.homedir() }
    const stripped = withoutPushCredentials(base)
    for (const name of ["GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"]) assert.isUndefined(stripped[name], name)
    assert.isFalse(fs.existsSync(stripped["GH_CONFIG_DIR"]!), "the GitHub CLI's config folder is one that does not exist")
    assert.strictEqual(stripped["HOME"], os.homedir())
  })

  it("withoutGitHubTokens (tasks from GitHub, landing locally; test and setup commands): the tokens go, git's own ways stay", () => {
    const stripped = withoutGitHubTokens({ GITHUB_TOKEN: "ghp_secret", GH_TOKEN: "gho_secret", SSH_AUTH_SOCK: "/tmp/agent.sock", PATH: "/usr/bin" })
    assert.deepStrictEqual([stripped["GITHUB_TOKEN"], stripped["GH_TOKEN"], stripped["SSH_AUTH_SOCK"], stripped["PATH"]], [undefined, undefined, "/tmp/agent.sock", "/usr/bin"])
    assert.isFalse(fs.existsSync(stripped["GH_CONFIG_DIR"]!))
  })
})
