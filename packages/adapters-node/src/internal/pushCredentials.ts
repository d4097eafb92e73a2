/**
 * The environment an agent gets when the run lands on a remote (`target.mode: "push"` or `"pr"`,
 * issue 20): git's usual ways to authenticate to the remote are taken away — the SSH agent, askpass
 * programs, credential helpers (`credential.helper` reset through `GIT_CONFIG_*`), the keys in
 * `~/.ssh` (an ssh that offers none), any prompt, and GitHub's tokens and the GitHub CLI's login —
 * so that an agent's habitual `git push` (or `gh pr merge`) fails instead of landing unreviewed work
 * on the shared branch, which oompa would take for a teammate's push.
 *
 * Not a boundary: an agent runs as the user and can still read the user's keys and tokens itself.
 * The host's branch protection is what keeps unreviewed pushes out.
 *
 * Internal: used by `NodeServices` for agent processes.
 *
 * @since 0.1.0
 */

/**
 * Variables that hand git (or ssh) a way to authenticate without asking, and the GitHub tokens with
 * which an agent could push, approve or merge its own pull request through the API (`target.mode:
 * "pr"`).
 */
const authenticationVariables = ["SSH_AUTH_SOCK", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_SSH", "GIT_SSH_COMMAND"] as const

/** GitHub's tokens, with which code could act on the repository's pull requests and issues. */
const gitHubTokens = ["GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"] as const

/**
 * `env` without GitHub's tokens and the GitHub CLI's login: what agents, test and setup commands
 * get when the run uses GitHub (`target.mode: "pr"`, `tasks.github`). With them, code an agent
 * wrote could approve or merge its own pull request, or write an issue's feedback as oompa.
 *
 * @category constructors
 * @since 0.1.0
 */
export const withoutGitHubTokens = (env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = { ...env }
  for (const name of gitHubTokens) delete out[name]
  out["GH_CONFIG_DIR"] = noGitHubCliConfig
  return out
}

/** Where the GitHub CLI of an agent looks for its login: nowhere (`gh auth token` finds none). */
const noGitHubCliConfig = "/nonexistent/oompa-agent-gh-config"

/** An ssh that offers no key and never asks. */
const keylessSsh = "ssh -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityFile=/dev/null -o IdentityAgent=none"

/**
 * `env` without git's ways to authenticate to a remote.
 *
 * @category constructors
 * @since 0.1.0
 */
export const withoutPushCredentials = (env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> => {
  const out = withoutGitHubTokens(env)
  for (const name of authenticationVariables) delete out[name]
  out["GIT_TERMINAL_PROMPT"] = "0"
  // Appended to whatever `GIT_CONFIG_*` pairs the user set: later pairs win, an empty helper resets the list.
  const count = Number(out["GIT_CONFIG_COUNT"] ?? 0)
  const first = Number.isSafeInteger(count) && count >= 0 ? count : 0
  const pairs: ReadonlyArray<readonly [string, string]> = [["credential.helper", ""], ["core.sshCommand", keylessSsh]]
  pairs.forEach(([key, value], i) => {
    out[`GIT_CONFIG_KEY_${first + i}`] = key
    out[`GIT_CONFIG_VALUE_${first + i}`] = value
  })
  out["GIT_CONFIG_COUNT"] = String(first + pairs.length)
  return out
}
