/**
 * Git's own small files read directly, synchronously: a few bytes each, where an asynchronous read
 * is three round trips through libuv's thread pool, and they are read several times per iteration
 * (issue 17).
 * - Refs, as git stores them with the files backend: a loose ref is a file holding a sha, the rest
 *   are in `packed-refs` (parsed once and reused while the file is the same). Anything else (a
 *   symbolic ref, a file this does not expect, the reftable backend) is left to isomorphic-git by
 *   answering `null`.
 * - `HEAD`, `gitdir` and a worktree's `.git` file (`readSmallFile`).
 *
 * Internal: used by `gitRepo`.
 *
 * @since 0.1.0
 */
import * as nodeFs from "node:fs"

const fullSha = /^[0-9a-f]{40}$/

/** `packed-refs` as last parsed, by file: reused while its size and modification time are unchanged. */
interface PackedRefs {
  readonly ino: number
  readonly size: number
  readonly mtimeMs: number
  readonly refs: ReadonlyMap<string, string>
}
const packedRefsParsed = new Map<string, PackedRefs>()

/** The ref's value from `packed-refs`; `undefined` when it has none, `null` when the file cannot be read as expected. */
const packedRef = (commonDir: string, ref: string): string | undefined | null => {
  const file = `${commonDir}/packed-refs`
  let stats: nodeFs.Stats
  try {
    stats = nodeFs.statSync(file)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? undefined : null
  }
  let parsed = packedRefsParsed.get(file)
  if (parsed === undefined || parsed.ino !== stats.ino || parsed.size !== stats.size || parsed.mtimeMs !== stats.mtimeMs) {
    const refs = new Map<string, string>()
    for (const line of nodeFs.readFileSync(file, "utf8").split("\n")) {
      if (line.startsWith("#") || line.startsWith("^") || line.length === 0) continue
      const space = line.indexOf(" ")
      if (space !== 40) return null
      refs.set(line.slice(41), line.slice(0, 40))
    }
    parsed = { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, refs }
    packedRefsParsed.set(file, parsed)
  }
  return parsed.refs.get(ref)
}

/**
 * A ref read straight from its loose file, else from `packed-refs`: `undefined` when it does not
 * exist, `null` when only isomorphic-git can say (a symbolic ref, an unexpected file). It is read
 * for every look at main (several per iteration), where isomorphic-git parsed `packed-refs` again
 * each time: 0.56 ms against 0.007 ms (issue 17).
 */
export const readRefDirectly = (commonDir: string, ref: string): string | undefined | null => {
  if (!/^refs\/[^\0]+$/.test(ref) || ref.split("/").some((part) => part === ".." || part === ".")) return null
  let content: string
  try {
    content = nodeFs.readFileSync(`${commonDir}/${ref}`, "utf8")
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === "ENOENT" || code === "ENOTDIR" ? packedRef(commonDir, ref) : null
  }
  const sha = content.trim()
  return fullSha.test(sha) ? sha : null
}

/** The most a `HEAD`, `gitdir` or `.git` file is read to: git writes a line. */
const smallFileBytesMax = 64 * 1024

/**
 * A small file's text, or `undefined` when it is absent. An agent can put anything in its place:
 * it is opened without blocking and read only when it is a regular file (a FIFO, a device or a
 * folder reads as absent), and at most `smallFileBytesMax` of it. Other failures throw.
 */
export const readSmallFile = (file: string): string | undefined => {
  let fd: number
  try {
    fd = nodeFs.openSync(file, nodeFs.constants.O_RDONLY | nodeFs.constants.O_NONBLOCK)
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (code === "ENOENT" || code === "ENOTDIR") return undefined
    throw cause
  }
  try {
    const stat = nodeFs.fstatSync(fd)
    if (!stat.isFile()) return undefined
    // Sized by the file (one byte more shows growth since the stat): a 64 KB buffer zeroed for every
    // 41-byte HEAD was 4% of the orchestrator's CPU at 16 workers (issue 17).
    const size = Math.min(stat.size + 1, smallFileBytesMax)
    const buffer = Buffer.allocUnsafe(size)
    let read = 0
    for (let got = -1; got !== 0 && read < size;) read += got = nodeFs.readSync(fd, buffer, read, size - read, read)
    return buffer.toString("utf8", 0, read)
  } finally {
    nodeFs.closeSync(fd)
  }
}

/**
 * A `HEAD` file's text, as git reads it: a symbolic link naming a ref (git's legacy form of a
 * symbolic ref, `HEAD -> refs/heads/x`) reads as `ref: <its target>`, so that a worktree whose HEAD
 * an agent turned into one still counts as on that branch; anything else as `readSmallFile` reads it.
 */
export const readHeadFile = (file: string): string | undefined => {
  let target: string | undefined
  try {
    target = nodeFs.readlinkSync(file)
  } catch {
    // Not a link, or absent: read as a file below (which says which).
  }
  if (target !== undefined && /^refs\/[^\0\s]+$/.test(target)) return `ref: ${target}\n`
  return readSmallFile(file)
}
