/**
 * What the end-to-end tests against the scripted GitHub share (`pullRequests.test.ts`,
 * `issues.test.ts`): one server and one folder of bare repositories per test file, and the built
 * CLI run in the background (the server answers from this process, so a blocking spawn would hang).
 */
import { afterAll, beforeAll } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cleanupAll, git, oompaAsync, type Scratch } from "../cli/helpers.ts"
import { type ScriptedGitHub, startScriptedGitHub } from "../github/server.ts"

/** Starts the scripted GitHub before the file's tests and stops it (and removes the scratch repositories) after. */
export const scriptedGitHubForFile = (token: string) => {
  const state: { server: ScriptedGitHub | undefined; base: string } = { server: undefined, base: "" }
  beforeAll(async () => {
    state.server = await startScriptedGitHub({ token })
    state.base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-e2e-github-")))
  })
  afterAll(async () => {
    await state.server?.close()
    cleanupAll()
    if (state.base !== "") fs.rmSync(state.base, { recursive: true, force: true })
  })
  return {
    server: (): ScriptedGitHub => state.server ?? assertStarted(),
    /** A bare copy of `scratch`'s repository that the server serves as `owner/name`; its path. */
    serve: (scratch: Scratch, owner: string, name: string): string => {
      const bare = path.join(state.base, `${name}.git`)
      git(state.base, "clone", "-q", "--bare", scratch.repo, bare)
      ;(state.server ?? assertStarted()).addRepo(owner, name, { bare })
      return bare
    }
  }
}

const assertStarted = (): never => {
  throw new Error("the scripted GitHub is started before the tests")
}

/** `oompa <args>` in the background until it exits (killed after 90 s). */
export const runOompa = async (scratch: Scratch, args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>) => {
  const started = oompaAsync(scratch, args, { env })
  const timer = setTimeout(() => started.child.kill("SIGKILL"), 90_000)
  const result = await started.exited
  clearTimeout(timer)
  return result
}
