/**
 * Builds a prompt from the services' state: the template (built-in or the user's files), the
 * standard tokens, the YAML context header (SPEC F11). Unknown tokens stay visible and are reported
 * once per run as a warning.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Ref } from "effect"
import type { PromptName } from "../domain/DefaultPrompts.ts"
import { contextHeader, dataBlock, type NoteEntry, noteFolders, parseNoteFrontMatter, renderPrompt, visibleLine } from "../domain/Prompt.ts"
import { acceptanceText, type Task } from "../domain/Task.ts"
import { parseVerdict, type Verdict } from "../domain/Verdict.ts"
import { EventSink } from "../services/EventSink.ts"
import { Git } from "../services/Git.ts"
import { Prompts } from "../services/Prompts.ts"
import { TaskQueue } from "../services/TaskQueue.ts"
import { CurrentRun, CurrentWorker, type PromptMemo, RunState } from "./RunServices.ts"
import { newTasksFolder } from "../domain/RepoLayout.ts"


/**
 * The tokens describing a task (empty strings without one).
 *
 * A task file is as hostile as any agent (issue 15): the summary and the file names sit inside
 * lines of the prompt, so they come as one line each with newlines and control characters escaped;
 * the description, the acceptance criteria and the feedback stand alone in the template's fences
 * (`renderPrompt` makes those unclosable), and the last feedback inside `task_status` brings a
 * fence of its own.
 *
 * @category rendering
 * @since 0.1.0
 */
export const taskTokens = (task: Task | undefined): Record<string, string> => ({
  task_id: task?.id ?? "",
  summary: visibleLine(task?.summary ?? ""),
  description: task?.description ?? "",
  targets: (task?.files ?? []).map(visibleLine).join(", "),
  acceptance: task === undefined ? "" : acceptanceText(task),
  task_status: task === undefined
    ? "no task claimed: work from your instructions, and create tasks for work you find"
    : `claimed task ${task.id} (attempt ${(task.attempts ?? 0) + 1})${task.last_feedback ? `; last feedback:\n${dataBlock(task.last_feedback)}` : ""}`,
  review_feedback: task?.last_feedback ?? ""
})

/**
 * How much of a change's diff a review prompt carries. A 60 MB diff made a 67 MB prompt and 547 MB
 * of memory (issue 15); past this the reviewer gets the first whole files that fit and the names of
 * the rest, and can read the worktree for them.
 *
 * @category constants
 * @since 0.1.0
 */
export const reviewDiffBytesMax = 256 * 1024

/**
 * A diff cut to `maxBytes` at a file boundary (or inside the first file when even that is larger),
 * with the omission stated at the top: how large it was and which files are not shown.
 *
 * @category rendering
 * @since 0.1.0
 */
export const capDiff = (diff: string, maxBytes: number = reviewDiffBytesMax): {
  readonly text: string
  /** The files not shown, whole or in part; empty when nothing was cut. */
  readonly omitted: ReadonlyArray<string>
  readonly bytes: number
} => {
  const bytes = new TextEncoder().encode(diff).length
  if (bytes <= maxBytes) return { text: diff, omitted: [], bytes }
  const starts = [...diff.matchAll(/^diff --git a\/.+? b\/(.+)$/gm)].map((m) => ({ at: m.index, path: m[1]! }))
  // Character offsets stand in for bytes here: a cut a little over or under the cap is fine.
  let end = 0
  for (const start of starts) {
    if (start.at > maxBytes) break
    end = start.at
  }
  const cut = end === 0 ? maxBytes : end
  const omitted = starts.filter((s) => s.at >= cut || (end === 0 && s.at === 0)).map((s) => s.path)
  const shownFiles = starts.length - omitted.length
  const listed = omitted.slice(0, 50).join(", ") + (omitted.length > 50 ? `, and ${omitted.length - 50} more` : "")
  const note = `[oompa: this diff is ${bytes} bytes, more than the ${maxBytes} a review prompt carries; ` +
    `${shownFiles === 0 ? "the start of the first file is" : `the first ${shownFiles} file${shownFiles === 1 ? " is" : "s are"}`} shown below. ` +
    `Not shown${end === 0 ? " (or cut short)" : ""}: ${listed}. Read them in the worktree before you approve.]\n\n`
  return { text: note + diff.slice(0, cut), omitted, bytes }
}

/** Paths that change how git itself treats the repository: attributes, submodules, hooks. */
const gitControlPath = /(^|\/)(\.gitattributes|\.gitmodules)$|(^|\/)(\.githooks|\.husky)\//

/**
 * A note for the reviewer, put above the diff, when a change touches a file that changes how git
 * treats the repository (`.gitattributes`: how files diff, merge and filter; `.gitmodules`: what is
 * fetched; hook folders: what runs): a few harmless-looking lines there can hide or run things.
 * Empty when the diff touches none.
 *
 * @category rendering
 * @since 0.1.0
 */
export const gitControlNote = (diff: string): string => {
  const paths = new Set<string>()
  for (const match of diff.matchAll(/^diff --git a\/(.+?) b\/(.+)$/gm)) {
    for (const path of [match[1]!, match[2]!]) if (gitControlPath.test(path)) paths.add(path)
  }
  if (paths.size === 0) return ""
  return `NOTE FROM OOMPA: this change touches ${[...paths].sort().join(", ")}, which change how git treats the repository ` +
    "(how files diff, merge and filter, what submodules fetch, which hooks run). Review those lines as code: they can hide changes or run programs.\n\n"
}

/**
 * Renders prompt `name` for the current worker with `tokens` on top of the standard ones.
 *
 * @category rendering
 * @since 0.1.0
 */
export const render = Effect.fnUntraced(function*(name: PromptName, files: ReadonlyArray<string>, tokens: Record<string, string>) {
  const { mode } = yield* CurrentRun
  const { worker, workspace } = yield* CurrentWorker
  const template = yield* Prompts.use((p) => p.template(name, files))
  const header = yield* contextHeaderOf
  const { prompts } = yield* RunState
  const rendered = renderPrompt(template, {
    worker_id: worker.id,
    role: worker.role,
    mode,
    worktree: workspace.path,
    new_tasks_dir: `${workspace.path}/${newTasksFolder}`,
    context_header: header,
    ...tokens
  }, prompts.cache)
  if (rendered.unknownTokens.length > 0) yield* reportUnknown(worker.id, name, rendered.unknownTokens)
  return rendered.text
})

const reportUnknown = Effect.fnUntraced(function*(worker: string, name: string, tokens: ReadonlyArray<string>) {
  const { reportedTokens } = yield* RunState
  const reported = yield* Ref.get(reportedTokens)
  const fresh = tokens.filter((t) => !reported.has(t))
  if (fresh.length === 0) return
  yield* Ref.set(reportedTokens, new Set([...reported, ...fresh]))
  const at = yield* Clock.currentTimeMillis
  yield* EventSink.use((sink) =>
    sink.emit({ _tag: "Warning", at, worker, message: `prompt ${name}: unknown tokens left as written: ${fresh.map((t) => `{${t}}`).join(", ")}` }))
})

type Counts = { readonly pending: number; readonly current: number; readonly complete: number; readonly failed: number }

const sameCounts = (a: Counts, b: Counts): boolean =>
  a.pending === b.pending && a.current === b.current && a.complete === b.complete && a.failed === b.failed

const samePending = (a: ReadonlyArray<Task>, b: ReadonlyArray<Task>): boolean => {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.id !== b[i]!.id || a[i]!.summary !== b[i]!.summary) return false
  }
  return true
}

/** The most note files read from main (the header lists `notesListedMax` of them, and counts the rest). */
const notesReadMax = 500

/**
 * The notes on main under `agent_notes/<folder>/` for SPEC F11's folders, with their front-matter
 * status and title; newest first by file name (notes are named by date, `2026-12-03-cache.md`), since
 * main's tree has no times. Only the front of each file is read: the front-matter is at its top.
 */
const notesOf = Effect.fnUntraced(function*(head: string, memo: PromptMemo) {
  // Notes live in main's tree: the same head, the same notes (claims change the header far more often).
  if (memo.notes?.head === head) return memo.notes.notes
  const git = yield* Git
  const files = yield* git.readFiles(head, "agent_notes", { limit: notesReadMax, bytesMax: 4096 })
  const folders: ReadonlyArray<string> = noteFolders
  const entries = files
    .filter((file) => folders.includes(file.name.split("/")[1] ?? ""))
    .map((file) => ({ file, key: `${file.name.slice(file.name.lastIndexOf("/") + 1)}\0${file.name}` }))
    .sort((a, b) => a.key < b.key ? 1 : a.key > b.key ? -1 : 0)
    .map(({ file }) => file)
    .map((file): NoteEntry => ({ path: file.name, ...parseNoteFrontMatter(file.content) }))
  memo.notes = { head, notes: entries }
  return entries
})

/**
 * The YAML context header (SPEC F11) for the run's state now. The run's `PromptMemo` keeps the last
 * one: prompts of one iteration, and of every worker between two changes of main or the queue, see
 * the same state. Compared by value, so any queue implementation hits; a queue that returns the same
 * list while a folder is unchanged is compared in O(1). Mode, branch and policy are the run's own.
 */
const contextHeaderOf = Effect.gen(function*() {
  const git = yield* Git
  const queue = yield* TaskQueue
  const { mode, policy } = yield* CurrentRun
  const memo = (yield* RunState).prompts
  const head = yield* git.mainHead
  const pending = yield* queue.list("pending")
  const current = yield* queue.list("current")
  const complete = yield* queue.list("complete")
  const failed = yield* queue.list("failed")
  const counts: Counts = { pending: pending.length, current: current.length, complete: complete.length, failed: failed.length }
  const last = memo.header
  if (last !== undefined && last.head === head && sameCounts(last.counts, counts) && samePending(last.pending, pending)) return last.text
  const text = contextHeader({
    mode,
    repo: { branch: git.targetBranch, head },
    tasks: { pending, counts },
    notes: yield* notesOf(head, memo),
    policy: policy.lines,
    nextWork: pending.length > 0 ? [`claim and finish pending tasks (${pending.length} waiting)`] : ["no pending tasks: look for the most valuable next change"]
  }, memo.cache)
  memo.header = { head, counts, pending, text }
  return text
})

/**
 * The reviewer's answer as a verdict (SPEC F4): only the answer, never the prompt, is read, and a
 * verdict the reviewer quotes from the task or the diff does not outvote its own last verdict line
 * (see `parseVerdict`).
 *
 * @category parsing
 * @since 0.1.0
 */
export const verdictOf = (answer: string): Verdict => parseVerdict(answer)
