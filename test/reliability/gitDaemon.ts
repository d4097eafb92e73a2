/**
 * A real git server on loopback for the end-to-end tests of remotes (issues 20, 21): `git daemon`
 * serving the bare repositories of a temporary folder over `git://127.0.0.1:<port>/<name>.git`,
 * receive-pack enabled.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { sleep } from "./support.ts"

const gitDaemon = "/usr/lib/git-core/git-daemon"

/** A port nothing listens on (bound, then closed). */
export const freePort = () =>
  new Promise<number>((done, fail) => {
    const server = net.createServer()
    server.once("error", fail)
    server.listen(0, "127.0.0.1", () => {
      const { port: free } = server.address() as net.AddressInfo
      server.close(() => done(free))
    })
  })

/** Whether something accepts connections on the port of 127.0.0.1. */
export const accepts = (at: number) =>
  new Promise<boolean>((done) => {
    const socket = net.connect(at, "127.0.0.1")
    socket.once("connect", () => (socket.destroy(), done(true)))
    socket.once("error", () => done(false))
  })

export interface GitDaemon {
  /** The served folder: `<base>/<name>.git` is served as `url(name)`. */
  readonly base: string
  readonly port: number
  readonly url: (name: string) => string
  readonly stop: () => void
}

/** Starts the daemon on a free port and waits until it accepts connections. */
export const startGitDaemon = async (): Promise<GitDaemon> => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "oompa-e2e-daemon-")))
  const port = await freePort()
  let log = ""
  // HOME in the served folder: neither the daemon nor the hooks it runs read the user's git config.
  const child: ChildProcess = spawn(gitDaemon, ["--reuseaddr", "--listen=127.0.0.1", `--port=${port}`, `--base-path=${base}`, "--export-all", "--enable=receive-pack", "--informative-errors", base], {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: base, GIT_CONFIG_NOSYSTEM: "1", LANG: "C" },
    stdio: ["ignore", "ignore", "pipe"]
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (log += chunk))
  const deadline = Date.now() + 10_000
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`git daemon did not start on port ${port}:\n${log}`)
    await sleep(25)
  }
  return {
    base,
    port,
    url: (name) => `git://127.0.0.1:${port}/${name}.git`,
    stop: () => {
      child.kill("SIGKILL")
      fs.rmSync(base, { recursive: true, force: true })
    }
  }
}
