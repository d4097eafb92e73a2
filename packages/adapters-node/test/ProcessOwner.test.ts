/**
 * Goal: recovery finds the processes a dead oompa process started for a repository (SPEC F14),
 * whether or not a record names them, and nothing else: not those of a live oompa process, not
 * those of another repository, not this process's own.
 * Method: real `sleep` processes started with the marker variables of `ProcessOwner.variables`, a
 * dead pid from a child process that has exited, temp folders as repositories. Linux only (/proc).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as ProcessOwner from "../src/ProcessOwner.ts"
import * as RunLock from "../src/RunLock.ts"

/** A pid that existed a moment ago and no longer does. */
const deadPid = (): number => spawnSync(process.execPath, ["-e", "0"]).pid!

const started: Array<ChildProcess> = []
afterAll(() => started.forEach((child) => child.kill("SIGKILL")))

const sleeper = (env: Record<string, string>, detached = true): ChildProcess => {
  const child = spawn("sleep", ["30"], { env: { ...process.env, ...env }, stdio: "ignore", detached })
  started.push(child)
  return child
}

/** Waits until `/proc/<pid>/environ` shows the exec'd process (spawn returns before the exec). */
const whenExeced = async (pid: number) => {
  for (let i = 0; i < 200; i++) {
    try {
      if (NodeFs.readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep")) return
    } catch {
      // not there yet
    }
    await new Promise((done) => setTimeout(done, 5))
  }
}

describe.runIf(NodeFs.existsSync("/proc/self/environ"))("ProcessOwner", () => {
  it("finds the marked processes of a dead orchestrator for this repository, with their group, and nothing else", async () => {
    const repo = NodeFs.realpathSync(NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "oompa-owner-")))
    const other = NodeFs.realpathSync(NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "oompa-owner-other-")))
    const dead = String(deadPid())
    const orphan = sleeper({ [ProcessOwner.orchestratorPidVariable]: dead, [ProcessOwner.repoVariable]: repo })
    const ofLiveRun = sleeper({ [ProcessOwner.orchestratorPidVariable]: String(process.pid), [ProcessOwner.repoVariable]: repo })
    const ofOtherRepo = sleeper({ [ProcessOwner.orchestratorPidVariable]: dead, [ProcessOwner.repoVariable]: other })
    const unmarked = sleeper({})
    for (const child of [orphan, ofLiveRun, ofOtherRepo, unmarked]) await whenExeced(child.pid!)

    const found = ProcessOwner.findOrphans(repo, RunLock.isProcessAlive)
    assert.deepStrictEqual(found.map((o) => o.pid), [orphan.pid])
    assert.strictEqual(found[0]!.pgid, orphan.pid, "spawned detached: it leads its own group")
    assert.strictEqual(found[0]!.orchestratorPid, Number(dead))
    assert.strictEqual(found[0]!.command, "sleep 30")
    // The repository is compared by real path.
    const link = `${repo}-link`
    NodeFs.symlinkSync(repo, link)
    assert.deepStrictEqual(ProcessOwner.findOrphans(link, RunLock.isProcessAlive).map((o) => o.pid), [orphan.pid])
    NodeFs.rmSync(link)
    // Killed, it is no longer found (a zombie is dead).
    orphan.kill("SIGKILL")
    await new Promise((done) => orphan.on("exit", done))
    assert.deepStrictEqual(ProcessOwner.findOrphans(repo, RunLock.isProcessAlive), [])
  })

  it("variables name this process and the repository", () => {
    assert.deepStrictEqual(ProcessOwner.variables("/repo"), { OOMPA_ORCHESTRATOR_PID: String(process.pid), OOMPA_REPO: "/repo" })
  })
})
