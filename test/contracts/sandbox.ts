/**
 * One contract test's world: a temp folder with a git repository on `main`, an oompa worktree of
 * it (made by the real `NodeGit`), HOME for the CLI, a run folder, a scripted model server, and
 * oompa's real `Agent` layer (`NodeAgent.layer`) whose `harnesses` point at the cached CLI.
 */
import { NodeServices } from "@effect/platform-node"
import { NodeAgent, NodeGit } from "@oompa/adapters-node"
import { type Agent as AgentModule, Agent, Git, type Ids, type SwarmConfig } from "@oompa/core"
import { Effect, Layer, ManagedRuntime, Option } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, dirname, join } from "node:path"
import type { Harness } from "./harnesses.ts"
import * as ModelServer from "./model-server/index.ts"

/** Variables of the test process that must not reach a CLI: real credentials, real config. */
const foreign = /^(ANTHROPIC_|CLAUDE|OPENAI_|CODEX_|GEMINI_|GOOGLE_|OPENCODE|XDG_|GIT_|NODE_OPTIONS$|VITEST|npm_)/

/** The environment a user would run oompa with: HOME in the sandbox, `IS_SANDBOX=1` (tests run as root). */
export const userEnvironment = (home: string): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !foreign.test(name)) env[name] = value
  return {
    ...env,
    HOME: home,
    // gemini and codex are Node scripts (`#!/usr/bin/env node`): the Node running the tests first.
    PATH: `${dirname(process.execPath)}${delimiter}${env["PATH"] ?? ""}`,
    TMPDIR: join(home, "tmp"),
    // The user's own declaration that this machine is a sandbox (SPEC F3): oompa never sets it.
    IS_SANDBOX: "1",
    GIT_CONFIG_NOSYSTEM: "1",
    TERM: "dumb",
    NO_COLOR: "1"
  }
}

/** git in the sandbox's repository, without the test process's GIT_* variables or system config. */
export const git = (cwd: string, ...args: Array<string>): string =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: userEnvironment(cwd) }).trim()

export interface Sandbox {
  readonly root: string
  readonly repo: string
  readonly home: string
  readonly runDir: string
  readonly server: ModelServer.ModelServer
  /** oompa's worktree for worker w0, on a fresh branch from main. */
  readonly worktree: string
  /** main's commit when the sandbox was made. */
  readonly base: string
  /** One call through oompa's real Agent layer (one layer instance per sandbox, so sessions carry over). */
  readonly run: (request: Partial<AgentModule.AgentRequest> & { readonly prompt: string }) => Promise<AgentModule.AgentResult>
  /** The same, with the layer's error (`AgentUnavailable`) as a value. */
  readonly runEither: (request: Partial<AgentModule.AgentRequest> & { readonly prompt: string }) => Promise<AgentModule.AgentResult | { readonly unavailable: string }>
  /** `git add -A && git commit` in the worktree through oompa's NodeGit; the commit, if anything changed. */
  readonly commitAll: (message: string) => Promise<string | undefined>
  /** Files changed from the base to `head`, as NodeGit reports them. */
  readonly changedFiles: (head: string) => Promise<ReadonlyArray<string>>
  readonly dispose: () => Promise<void>
}

export interface SandboxOptions {
  /** Point the CLI here instead of the sandbox's model server (a server that is down). */
  readonly serverUrl?: string
  /** Extra variables of the user's environment, or `undefined` to remove one. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** NodeAgent's grace between TERM and KILL. */
  readonly graceMs?: number
  /** Changes `harnesses.<name>` before the layer is built (to take a credential away). */
  readonly override?: (override: SwarmConfig.HarnessOverride) => SwarmConfig.HarnessOverride
  /** false: leave HOME empty (no CLI settings, so no credentials there). */
  readonly prepareHome?: boolean
}

export const makeSandbox = async (harness: Harness, options: SandboxOptions = {}): Promise<Sandbox> => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), `oompa-contract-${harness.name}-`)))
  const repo = join(root, "repo")
  const home = join(root, "home")
  const runDir = join(repo, ".oompa", "runs", "contract")
  for (const dir of [repo, home, join(home, "tmp")]) mkdirSync(dir, { recursive: true })
  writeFileSync(join(repo, "README.md"), "# contract test\n")
  git(repo, "init", "-q", "-b", "main")
  git(repo, "config", "user.email", "dev@example.com")
  git(repo, "config", "user.name", "Dev")
  git(repo, "add", "-A")
  git(repo, "commit", "-qm", "initial")
  const base = git(repo, "rev-parse", "HEAD")

  const server = await ModelServer.start()
  const url = options.serverUrl ?? server.url
  if (options.prepareHome !== false) harness.prepareHome(home, url)
  // The user runs oompa from their repository, so that is the PWD agents inherit.
  const env: Record<string, string | undefined> = { ...userEnvironment(home), PWD: repo, ...options.env }

  const gitLayer = NodeGit.layer({ repoRoot: repo, worktreesDir: join(root, "worktrees"), runId: "contract", onWarning: () => Effect.void })
  const agentLayer = NodeAgent.layer({
    runDir,
    harnesses: { [harness.name]: (options.override ?? ((same) => same))(harness.override(url)) },
    env,
    graceMs: options.graceMs ?? 1_000,
    rateLimitRetriesMax: 0
  })
  const runtime = ManagedRuntime.make(Layer.mergeAll(agentLayer, gitLayer).pipe(Layer.provide(NodeServices.layer)))
  const workspace = await runtime.runPromise(Effect.gen(function*() {
    const git = yield* Git.Git
    const workspace = yield* git.acquireWorkspace("w0" as Ids.WorkerId)
    yield* git.resetWorkspace(workspace, "oompa/contract/w0-1", base)
    return workspace
  }))

  const request = (fields: Partial<AgentModule.AgentRequest> & { readonly prompt: string }): AgentModule.AgentRequest => ({
    agent: { harness: harness.name, model: harness.model },
    call: "propose",
    worker: "w0" as Ids.WorkerId,
    iteration: 1,
    cwd: workspace.path,
    timeoutMs: 90_000,
    ...fields
  })
  return {
    root,
    repo,
    home,
    runDir,
    server,
    worktree: workspace.path,
    base,
    run: (fields) => runtime.runPromise(Agent.Agent.use((agent) => agent.run(request(fields)))),
    runEither: (fields) =>
      runtime.runPromise(Agent.Agent.use((agent) => agent.run(request(fields))).pipe(
        Effect.catchTag("AgentUnavailable", (error) => Effect.succeed({ unavailable: error.message }))
      )),
    commitAll: (message) =>
      runtime.runPromise(Git.Git.use((git) => git.commitAll(workspace, message)).pipe(Effect.map(Option.getOrUndefined))),
    changedFiles: (head) =>
      runtime.runPromise(Git.Git.use((git) => git.diffStat(base, head)).pipe(Effect.map((files) => files.map((file) => `${file.status} ${file.path}`)))),
    dispose: async () => {
      await runtime.dispose()
      await server.close()
      rmSync(root, { recursive: true, force: true })
    }
  }
}
