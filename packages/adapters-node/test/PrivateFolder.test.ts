/**
 * Goal: the folder where oompa's git calls keep their input and output (`internal/privateFolder.ts`)
 * is never one an agent may write: not under a temporary folder (which Codex's sandbox opens to
 * agents), this user's, closed to others; and a kill -9's leftovers are removed only when their
 * process is gone and they have not changed for an hour.
 * Method: each case in a fresh Node process (the folder is found once per process) with its own
 * HOME and XDG_RUNTIME_DIR, in folders under the real home (the temporary folder is refused).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const module = path.resolve(import.meta.dirname, "../src/internal/privateFolder.ts")
const scratch = fs.mkdtempSync(path.join(os.homedir(), ".oompa-private-folder-test-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

/** What `processFolder()` gives in a process with `env` (`undefined` printed as ""), and whether it exists then. */
const folderWith = (env: Record<string, string>): string =>
  execFileSync(process.execPath, ["--input-type=module", "-e", `
    const { processFolder } = await import(${JSON.stringify(module)})
    process.stdout.write(processFolder() ?? "")
    process.exit(0)
  `], { env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env }, encoding: "utf8" })

const made = (name: string, mode = 0o700) => {
  const dir = path.join(scratch, name)
  fs.mkdirSync(dir, { recursive: true })
  fs.chmodSync(dir, mode)
  return fs.realpathSync(dir)
}

describe("the private folder of oompa's git calls", () => {
  it("is under $XDG_RUNTIME_DIR/oompa when that qualifies, else ~/.cache/oompa; a folder of its own (0700) per process", () => {
    const runtime = made("runtime")
    const home = made("home")
    const inRuntime = folderWith({ XDG_RUNTIME_DIR: runtime, HOME: home })
    assert.match(inRuntime, new RegExp(`^${runtime}/oompa/sh-\\d+-`))
    assert.strictEqual(fs.statSync(path.join(runtime, "oompa")).mode & 0o777, 0o700)
    assert.match(folderWith({ HOME: home }), new RegExp(`^${home}/\\.cache/oompa/sh-\\d+-`))
  })

  it("refuses a place under a temporary folder (also through a link); then there is none, and the caller uses pipes", () => {
    const home = made("home-2")
    const tmpRuntime = fs.mkdtempSync(path.join(os.tmpdir(), "oompa-runtime-"))
    try {
      // XDG_RUNTIME_DIR under /tmp: the home's cache instead.
      assert.match(folderWith({ XDG_RUNTIME_DIR: tmpRuntime, HOME: home }), new RegExp(`^${home}/\\.cache/oompa/`))
      // ~/.cache a link into /tmp: refused, and nothing else qualifies.
      const linkedHome = made("linked-home")
      fs.symlinkSync(tmpRuntime, path.join(linkedHome, ".cache"))
      assert.strictEqual(folderWith({ HOME: linkedHome }), "")
      assert.strictEqual(folderWith({ HOME: tmpRuntime }), "")
      assert.strictEqual(folderWith({}), "")
    } finally {
      fs.rmSync(tmpRuntime, { recursive: true, force: true })
    }
  })

  it("closes this user's folder that others could open (an older one, or one made by hand)", () => {
    const home = made("home-3")
    const open = path.join(home, ".cache", "oompa")
    fs.mkdirSync(open, { recursive: true })
    fs.chmodSync(open, 0o755)
    assert.match(folderWith({ HOME: home }), new RegExp(`^${open}/`))
    assert.strictEqual(fs.statSync(open).mode & 0o777, 0o700)
  })

  it("removes a leftover of a process that is gone once it has not changed for an hour; keeps a recent one and a live process's", () => {
    const home = made("home-4")
    const parent = path.join(home, ".cache", "oompa")
    fs.mkdirSync(parent, { recursive: true, mode: 0o700 })
    const gonePid = 2 ** 22 + 12_345
    const old = path.join(parent, `sh-${gonePid}-old`)
    const recent = path.join(parent, `sh-${gonePid}-new`)
    const live = path.join(parent, `sh-${process.pid}-live`)
    for (const dir of [old, recent, live]) fs.mkdirSync(path.join(dir, "inner"), { recursive: true })
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000)
    fs.utimesSync(old, twoHoursAgo, twoHoursAgo)
    fs.utimesSync(live, twoHoursAgo, twoHoursAgo)
    folderWith({ HOME: home })
    assert.isFalse(fs.existsSync(old))
    assert.isTrue(fs.existsSync(recent))
    assert.isTrue(fs.existsSync(live))
  })
})
