/**
 * Task files the Node git layer reads: those an agent leaves in its workspace's outbox
 * (`.oompa-new-tasks/`, SPEC F2), taken and removed after each iteration, and those a commit holds
 * under a folder (`readFiles`, one `cat-file --batch` for all of them).
 *
 * Internal: used by `NodeGit`.
 *
 * @since 0.1.0
 */
// `Errors` is what the declarations of the effects exported here name their failures by.
import { type Errors, type Git, RepoLayout } from "@oompa/core"
import { Effect } from "effect"
import * as GitCommand from "./gitCommand.ts"
import * as GitParse from "./gitParse.ts"
import * as GitRepo from "./gitRepo.ts"
import { existsPath } from "./gitWorkspaces.ts"

/** The task outbox an agent writes into (SPEC F2), relative to its workspace; never committed. */
export const newTasksFolder = RepoLayout.newTasksFolder

// The outbox is a flat folder by contract; an agent's deeper tree is read to this many folders.
const outboxFoldersMax = 64

/** Regular files under `dir`, as paths relative to it, sorted; symlinks and other entries are skipped. */
const outboxFiles = Effect.fn("NodeGit.outboxFiles")(function*(repo: GitRepo.Repo, dir: string) {
  const files: Array<string> = []
  const folders = [""]
  for (let visited = 0; visited < outboxFoldersMax && visited < folders.length; visited++) {
    const prefix = folders[visited]!
    const entries = yield* repo.fs.readDirectoryEntries(`${dir}/${prefix}`).pipe(Effect.mapError((error) => GitRepo.gitError("takeNewTaskFiles", "failed", error.message)))
    for (const entry of entries) {
      if (entry.type === "File") files.push(`${prefix}${entry.name}`)
      if (entry.type === "Directory") folders.push(`${prefix}${entry.name}/`)
    }
  }
  return files.sort()
})

export const takeNewTaskFiles = (repo: GitRepo.Repo) =>
  Effect.fn("NodeGit.takeNewTaskFiles")(function*(workspace: Git.Workspace) {
    const dir = `${workspace.path}/${newTasksFolder}`
    if (!(yield* existsPath(repo, dir))) return []
    const names = yield* outboxFiles(repo, dir)
    const taken: Array<Git.NewTaskFile> = []
    for (const name of names) {
      const content = yield* repo.fs.readFileString(`${dir}/${name}`).pipe(Effect.mapError((error) => GitRepo.gitError("takeNewTaskFiles", "failed", error.message)))
      taken.push({ name, content })
    }
    // Everything goes, read or not (a symlink is never followed): the outbox is empty afterwards.
    yield* repo.fs.remove(dir, { recursive: true, force: true }).pipe(Effect.mapError((error) => GitRepo.gitError("takeNewTaskFiles", "failed", error.message)))
    return taken
  })

/**
 * The files of `commit` under `folder`: `ls-tree` for the blobs, then one `cat-file --batch` for their
 * contents, each cut to `bytesMax` bytes.
 */
export const readFiles = (repo: GitRepo.Repo) =>
  Effect.fn("NodeGit.readFiles")(function*(commit: string, folder: string, limits: { readonly limit: number; readonly bytesMax: number }) {
    if (yield* GitRepo.folderIsAbsent(repo, commit, folder)) return []
    const listing = yield* repo.git.ok("readFiles", { cwd: repo.commonDir, args: ["ls-tree", "-r", "-z", "--full-tree", `${commit}^{commit}`, "--", `${folder.replace(/\/+$/, "")}/`] })
    const blobs = GitParse.nulFields(GitCommand.text(listing.stdout)).flatMap((entry) => {
      const match = /^\d+ blob ([0-9a-f]+)\t(.*)$/s.exec(entry)
      return match === null ? [] : [{ sha: match[1]!, name: match[2]! }]
    }).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0).slice(0, limits.limit)
    if (blobs.length === 0) return []
    const output = yield* repo.git.ok("readFiles", { cwd: repo.commonDir, args: ["cat-file", "--batch"], stdin: blobs.map((b) => b.sha).join("\n") + "\n" })
    const bytes = output.stdout
    const decoder = new TextDecoder()
    const files: Array<Git.NewTaskFile> = []
    let at = 0
    for (const blob of blobs) {
      const headerEnd = bytes.indexOf(10, at)
      const size = Number(decoder.decode(bytes.subarray(at, headerEnd)).split(" ")[2])
      if (headerEnd < 0 || !Number.isFinite(size)) return yield* GitRepo.gitError("readFiles", "unreadable", `unexpected cat-file output for ${blob.name}`)
      const start = headerEnd + 1
      files.push({ name: blob.name, content: decoder.decode(bytes.subarray(start, start + Math.min(size, limits.bytesMax))) })
      at = start + size + 1
    }
    return files
  })
