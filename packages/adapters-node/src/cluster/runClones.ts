/**
 * A runner's clone per run (issue 21). Runs that share a clone share its refs: one run's landing
 * moves the ref the other's merge queue checks main against, which that queue must take for an
 * agent's doing and halt on. So each run a runner takes part in gets a clone of its own, made from
 * the runner's clone of the hub (`git clone --local`: hard links, no network; the run fetches the
 * hub when it opens), with its own worktrees and its own run log
 * (`<runner dir>/.oompa/cluster-runs/<run>/.oompa/runs/<run>/events.jsonl`).
 *
 * A clone stays after its run (the runner's log of it is there); the runner's next start removes
 * the clones of finished runs, with the folder of worktrees a killed runner left.
 *
 * Internal: used by `RunnerRuns` and `ClusterRunner`.
 *
 * @since 0.1.0
 */
import { RepoLayout } from "@oompa/core"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import * as GitRepo from "../internal/gitRepo.ts"
import * as Project from "../Project.ts"

const run = promisify(execFile)

/** The folder of the runner's run clones. */
export const folder = (runnerDir: string): string => path.join(runnerDir, RepoLayout.stateFolder, "cluster-runs")

/** The clone of run `runId` on the runner whose clone of the hub is `runnerDir`. */
export const cloneOf = (runnerDir: string, runId: string): string => path.join(folder(runnerDir), runId)

/** Makes run `runId`'s clone unless it is there. */
export const ensure = (runnerDir: string, runId: string): Effect.Effect<string, Project.SetupError> =>
  Effect.tryPromise({
    try: async () => {
      const clone = cloneOf(runnerDir, runId)
      if (fs.existsSync(path.join(clone, ".git"))) return clone
      // A clone cut short (the runner killed while cloning) is made again.
      fs.rmSync(clone, { recursive: true, force: true })
      fs.mkdirSync(folder(runnerDir), { recursive: true })
      await run("git", ["clone", "--quiet", "--local", "--no-tags", "--", runnerDir, clone], { env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } })
      return clone
    },
    catch: (cause) => new Project.SetupError({ reason: "layers", message: `cannot make run ${runId}'s clone in ${runnerDir}: ${String((cause as { stderr?: string }).stderr ?? cause).trim()}` })
  })

/**
 * Removes the clones of runs `finished` says are over, and the folder of worktrees each has (a
 * runner killed mid-run leaves worktrees there). Only the two folders oompa made are removed: never
 * a path the clone's git names, which an agent sharing its `.git` could point anywhere.
 */
export const removeFinished = (runnerDir: string, finished: (runId: string) => Effect.Effect<boolean>, env: Readonly<Record<string, string | undefined>> = process.env) =>
  Effect.gen(function*() {
    const names = fs.existsSync(folder(runnerDir)) ? fs.readdirSync(folder(runnerDir)) : []
    for (const runId of names) {
      if (!(yield* finished(runId))) continue
      const clone = cloneOf(runnerDir, runId)
      yield* Effect.sync(() => {
        // Where the run's worktrees are: the default folder of its clone (a cluster run has no `worktrees_dir`).
        fs.rmSync(GitRepo.defaultWorktreesDir(fs.realpathSync(clone), env), { recursive: true, force: true })
        fs.rmSync(clone, { recursive: true, force: true })
      })
    }
  })
