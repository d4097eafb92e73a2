/**
 * Pure parsers for what the git CLI prints with `-z` and for raw commit objects. No I/O: each takes
 * bytes or text and returns data, so every format oompa depends on is tested without a repository.
 *
 * Internal: used by `NodeGit` and `CheckoutSync`.
 *
 * @since 0.1.0
 */
import type { Git } from "@oompa/core"

/** Splits NUL-terminated output into its fields (the empty field after the last NUL is dropped). */
export const nulFields = (output: string): Array<string> => {
  const fields = output.split("\0")
  if (fields[fields.length - 1] === "") fields.pop()
  return fields
}

/** One entry of `git diff --raw -z --no-abbrev`. */
export interface RawEntry {
  readonly path: string
  /** `A`, `D`, `M` or `T` (renames and copies are off). */
  readonly status: string
  readonly oldMode: string
  readonly newMode: string
  /** `undefined` when the file is absent on that side. */
  readonly oldBlob: string | undefined
  readonly newBlob: string | undefined
}

const zeroSha = /^0+$/

// `:100644 100644 <old> <new> M` then the path as the next field.
const rawEntry = (header: string, path: string): RawEntry => {
  const [oldMode = "", newMode = "", oldBlob = "", newBlob = "", status = ""] = header.slice(1).split(" ")
  return {
    path,
    status: status.charAt(0),
    oldMode,
    newMode,
    oldBlob: zeroSha.test(oldBlob) ? undefined : oldBlob,
    newBlob: zeroSha.test(newBlob) ? undefined : newBlob
  }
}

/**
 * Parses `git diff --raw -z --no-abbrev --no-renames` output: its `:`-records, and no more (the
 * `--numstat` records that `--raw --numstat` prints after them are left to `diffStat`).
 */
export const diffRaw = (output: string): Array<RawEntry> => {
  const fields = nulFields(output)
  const entries: Array<RawEntry> = []
  let i = 0
  for (; i + 1 < fields.length && fields[i]!.startsWith(":"); i += 2) entries.push(rawEntry(fields[i]!, fields[i + 1]!))
  // Anything after the records must be numstat lines (`added\tdeleted\tpath`), never a stray field.
  for (; i < fields.length; i++) numstatEntry(fields[i]!)
  return entries
}

interface LineCounts {
  readonly added: number
  readonly deleted: number
  readonly binary: boolean
}

// `added\tdeleted\tpath`, `-\t-\tpath` for a binary file; the path may itself hold tabs.
const numstatEntry = (field: string): readonly [string, LineCounts] => {
  const first = field.indexOf("\t")
  const second = field.indexOf("\t", first + 1)
  if (first < 0 || second < 0) throw new Error(`unexpected diff --numstat field ${JSON.stringify(field)}`)
  const added = field.slice(0, first)
  const deleted = field.slice(first + 1, second)
  const binary = added === "-" && deleted === "-"
  return [field.slice(second + 1), { added: binary ? 0 : Number(added), deleted: binary ? 0 : Number(deleted), binary }]
}

const fileStatus = (status: string): Git.FileChange["status"] =>
  status === "A" ? "added" : status === "D" ? "deleted" : "modified"

/**
 * Parses `git diff --raw --numstat -z --no-abbrev --no-renames`: git prints every raw entry first,
 * then every numstat entry, for the same files. Sorted by path as `MemoryGit` sorts them.
 */
export const diffStat = (output: string): Array<Git.FileChange> => {
  const fields = nulFields(output)
  const raw = new Map<string, string>()
  const counts = new Map<string, LineCounts>()
  let i = 0
  while (i + 1 < fields.length && fields[i]!.startsWith(":")) {
    raw.set(fields[i + 1]!, rawEntry(fields[i]!, fields[i + 1]!).status)
    i += 2
  }
  for (; i < fields.length; i++) {
    const [path, lineCounts] = numstatEntry(fields[i]!)
    counts.set(path, lineCounts)
  }
  if (raw.size !== counts.size) throw new Error(`diff --raw listed ${raw.size} files and --numstat ${counts.size}`)
  return [...raw.keys()].sort().map((path): Git.FileChange => {
    const lineCounts = counts.get(path)
    if (lineCounts === undefined) throw new Error(`diff --numstat is missing ${JSON.stringify(path)}`)
    return { path, status: fileStatus(raw.get(path) ?? "M"), ...lineCounts }
  })
}

/** What `git merge-tree --write-tree --name-only -z --no-messages` printed. */
export interface MergeTreeOutput {
  readonly tree: string
  /** Conflicted paths, sorted and without repeats; empty for a clean merge. */
  readonly conflicts: ReadonlyArray<string>
}

/** Parses `git merge-tree --write-tree --name-only -z --no-messages` output. */
export const mergeTree = (output: string): MergeTreeOutput => {
  const [tree = "", ...paths] = nulFields(output)
  if (!/^[0-9a-f]{40,64}$/.test(tree)) throw new Error(`merge-tree printed no tree id: ${JSON.stringify(output.slice(0, 80))}`)
  return { tree, conflicts: [...new Set(paths.filter((path) => path.length > 0))].sort() }
}

/** A commit object's tree, parents and message (verbatim, as git stored it). */
export interface CommitObject {
  readonly tree: string
  readonly parents: ReadonlyArray<string>
  readonly message: string
}

/**
 * Parses a raw commit object (`git cat-file commit`). The message is kept byte for byte: oompa reads
 * trailers from it, and isomorphic-git's own parser normalises trailing newlines away.
 */
export const commitObject = (raw: string): CommitObject => {
  const split = raw.indexOf("\n\n")
  const headers = (split < 0 ? raw : raw.slice(0, split)).split("\n")
  const message = split < 0 ? "" : raw.slice(split + 2)
  // Git reads `tree` first and then the run of `parent` lines that follows it, and nothing else.
  const [first = "", ...rest] = headers
  if (!first.startsWith("tree ")) throw new Error(`not a commit object: ${JSON.stringify(first)}`)
  const parents: Array<string> = []
  for (const header of rest) {
    if (!header.startsWith("parent ")) break
    parents.push(header.slice("parent ".length))
  }
  return { tree: first.slice("tree ".length), parents, message }
}

/** What a worktree's `HEAD` file says: a branch (full ref name) or a detached commit. */
export type HeadFile =
  | { readonly _tag: "Branch"; readonly ref: string }
  | { readonly _tag: "Detached"; readonly sha: string }

/** Parses the content of a `HEAD` file. */
export const headFile = (content: string): HeadFile => {
  const line = content.trim()
  if (line.startsWith("ref:")) return { _tag: "Branch", ref: line.slice("ref:".length).trim() }
  if (/^[0-9a-f]{40,64}$/.test(line)) return { _tag: "Detached", sha: line }
  throw new Error(`unreadable HEAD: ${JSON.stringify(line.slice(0, 80))}`)
}

/** Parses the `gitdir: <path>` line of a linked worktree's `.git` file. */
export const gitFile = (content: string): string | undefined => {
  const line = content.trim()
  return line.startsWith("gitdir:") ? line.slice("gitdir:".length).trim() : undefined
}

/** One path's index entry: its mode and blob, or no blob for a path with conflict stages. */
export interface StagedEntry {
  readonly mode: string
  readonly blob: string | undefined
}

/** Parses `git ls-files -s -z`. */
export const stagedBlobs = (output: string): Map<string, StagedEntry> => {
  const entries = new Map<string, StagedEntry>()
  for (const field of nulFields(output)) {
    const tab = field.indexOf("\t")
    const [mode = "", blob = "", stage = ""] = field.slice(0, tab).split(" ")
    entries.set(field.slice(tab + 1), { mode, blob: stage === "0" ? blob : undefined })
  }
  return entries
}

/** Quotes a word for `sh` (for the commands printed in warnings). */
export const shellQuote = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`
