/**
 * A folder of this process for files that oompa's own git calls read and write (their input and
 * output, the snapshot of the global git config), where an agent cannot reach them.
 *
 * Not the temporary folder: Codex's `workspace-write` sandbox lets an agent write /tmp and $TMPDIR,
 * and from there it could plant a link where git's output goes, rewrite that output before oompa
 * reads it, or add a filter to the config snapshot that git would run outside the sandbox. So the
 * folder is `$XDG_RUNTIME_DIR/oompa` or `~/.cache/oompa` (the first that qualifies), each accepted
 * only when its real path is a directory of this user with no access for others (mode 0700, as the
 * XDG specification asks of the runtime folder) and lies outside /tmp, /var/tmp, /dev/shm and the
 * temporary folder. This process's own folder is a `sh-<pid>-XXXXXX` inside it, made on first use
 * (and again if it went), removed at exit. A kill -9 leaves it: the next process removes the
 * folders of processes that are gone and that have not changed for an hour (a process in another
 * PID namespace looks gone, but its folder keeps changing while it works).
 *
 * Internal: used by `shellSpawner` and `gitCommand`.
 *
 * @since 0.1.0
 */
import * as nodeFs from "node:fs"
import * as nodeOs from "node:os"
import * as nodePath from "node:path"
import * as RunLock from "../RunLock.ts"

/** A leftover folder is removed when its process is gone and it has not changed for this long. */
const leftoverAgeMs = 60 * 60 * 1000

let folder: string | undefined
/** The parent found on first use; `null` when none qualifies (then never looked for again). */
let parent: string | null | undefined

const realPath = (file: string): string | undefined => {
  try {
    return nodeFs.realpathSync(file)
  } catch {
    return undefined
  }
}

/** The temporary folders, by real path: an agent may write under any of them. */
const temporaryRoots = (): ReadonlyArray<string> =>
  ["/tmp", "/var/tmp", "/dev/shm", nodeOs.tmpdir()].map((root) => realPath(root) ?? root)

const inside = (file: string, root: string): boolean => file === root || file.startsWith(root.endsWith("/") ? root : `${root}/`)

/** `candidate` (made 0700 if missing) when its real path qualifies (see the header). */
const qualifies = (candidate: string): string | undefined => {
  try {
    nodeFs.mkdirSync(candidate, { recursive: true, mode: 0o700 })
  } catch {
    return undefined
  }
  const real = realPath(candidate)
  if (real === undefined || temporaryRoots().some((root) => inside(real, root))) return undefined
  const stat = nodeFs.statSync(real)
  const own = process.getuid === undefined || stat.uid === process.getuid()
  if (!stat.isDirectory() || !own) return undefined
  // This user's folder with access for others (made by an older oompa, or by hand): closed first.
  if ((stat.mode & 0o077) !== 0) nodeFs.chmodSync(real, 0o700)
  return (nodeFs.statSync(real).mode & 0o077) === 0 ? real : undefined
}

const findParent = (): string | null => {
  const runtime = process.env["XDG_RUNTIME_DIR"]
  const home = process.env["HOME"]
  const candidates = [
    ...(runtime !== undefined && runtime.startsWith("/") ? [nodePath.join(runtime, "oompa")] : []),
    ...(home !== undefined && home.startsWith("/") ? [nodePath.join(home, ".cache", "oompa")] : [])
  ]
  for (const candidate of candidates) {
    const found = qualifies(candidate)
    if (found !== undefined) return found
  }
  return null
}

/**
 * Removes the folders of processes that are gone and that have not changed for an hour. Best
 * effort: a folder that goes meanwhile or cannot be removed is not this process's business.
 */
const sweepLeftovers = (under: string): void => {
  for (const name of nodeFs.readdirSync(under)) {
    const pid = /^sh-(\d+)-/.exec(name)?.[1]
    if (pid === undefined || RunLock.isProcessAlive(Number(pid))) continue
    try {
      const leftover = nodePath.join(under, name)
      if (Date.now() - nodeFs.lstatSync(leftover).mtimeMs > leftoverAgeMs) nodeFs.rmSync(leftover, { recursive: true, force: true })
    } catch {
      // see above
    }
  }
}

/** This process's private folder (see the header); `undefined` when no place qualifies or it cannot be made. */
export const processFolder = (): string | undefined => {
  if (folder !== undefined && nodeFs.existsSync(folder)) return folder
  if (parent === undefined) {
    parent = findParent()
    if (parent !== null) sweepLeftovers(parent)
  }
  if (parent === null) return undefined
  try {
    const made = nodeFs.mkdtempSync(nodePath.join(parent, `sh-${process.pid}-`))
    if (folder === undefined) process.once("exit", () => nodeFs.rmSync(folder!, { recursive: true, force: true }))
    return folder = made
  } catch {
    return undefined
  }
}
