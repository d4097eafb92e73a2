/**
 * The prompt's context header (SPEC F11): what an agent should know about the run before it
 * starts (the repository, the task queue with its pending tasks, recent notes, the policy and what
 * to work on next), as YAML in a fenced block of the prompt.
 *
 * Built from data the caller collected from its services; nothing here reads files or git. The
 * header lists at most {@link pendingListedMax} pending tasks and {@link notesListedMax} notes and
 * counts the rest, so a large backlog cannot crowd out the prompt. Its text is always the `yaml`
 * library's rendering of {@link contextHeaderData}; with a {@link PromptCache} it is composed from
 * remembered scalars instead of asking the library for a whole document (`YamlLayout.ts`).
 *
 * @since 0.1.0
 */
import { stringify } from "yaml"
import type { NoteEntry } from "./AgentNotes.ts"
import type { Policy } from "./Policy.ts"
import type { PromptCache } from "./PromptCache.ts"
import type { TaskStatus } from "./Task.ts"
import { blockYaml, yamlOptions } from "./YamlLayout.ts"

/**
 * The policy as short lines for the context header (SPEC F7): only what is configured, plus the
 * paths that are always denied.
 *
 * @category formatting
 * @since 0.1.0
 */
export const policyLines = (
  policy: Policy | undefined,
  alwaysDeniedPaths: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const lines: Array<string> = []
  if (policy?.allow !== undefined) lines.push(`allow only: ${policy.allow.join(", ")}`)
  if (policy?.deny !== undefined) lines.push(`deny: ${policy.deny.join(", ")}`)
  if (alwaysDeniedPaths.length > 0) lines.push(`always denied: ${alwaysDeniedPaths.join(", ")}`)
  if (policy?.max_lines_added !== undefined) lines.push(`max lines added: ${policy.max_lines_added}`)
  if (policy?.max_lines_deleted !== undefined) lines.push(`max lines deleted: ${policy.max_lines_deleted}`)
  if (policy?.max_files !== undefined) lines.push(`max files changed: ${policy.max_files}`)
  if (policy?.allow_binary !== undefined) {
    lines.push(policy.allow_binary ? "binary files: allowed" : "binary files: not allowed")
  }
  return lines
}

/**
 * What the context header shows; the caller fills it from its services.
 *
 * @category models
 * @since 0.1.0
 */
export interface ContextInput {
  /** `swarm`, `run`, `loop`, `prompt`, … */
  readonly mode: string
  readonly repo: { readonly branch: string; readonly head: string }
  readonly tasks: {
    /** Pending (backlog) tasks in claim order; the first {@link pendingListedMax} are listed. */
    readonly pending: ReadonlyArray<{ readonly id: string; readonly summary: string }>
    /** Tasks per folder; a missing status counts 0. */
    readonly counts: Readonly<Partial<Record<TaskStatus, number>>>
  }
  /** Recent notes, newest first; the first {@link notesListedMax} are listed. */
  readonly notes: ReadonlyArray<NoteEntry>
  /** Lines such as {@link policyLines} gives. */
  readonly policy: ReadonlyArray<string>
  /** Suggestions for what to work on next. */
  readonly nextWork: ReadonlyArray<string>
}

/**
 * The most pending tasks listed by the context header (the rest are counted), so a large backlog
 * cannot crowd out the prompt.
 *
 * @category constants
 * @since 0.1.0
 */
export const pendingListedMax = 30

/**
 * The most notes listed by the context header (the rest are counted).
 *
 * @category constants
 * @since 0.1.0
 */
export const notesListedMax = 30

const statuses: ReadonlyArray<TaskStatus> = ["pending", "current", "complete", "failed", "invalid"]

/**
 * The data the context header serialises, as plain JSON-like values (what `yaml`'s `parse` gives
 * back from the header).
 *
 * @category rendering
 * @since 0.1.0
 */
export const contextHeaderData = (input: ContextInput): Record<string, unknown> => {
  const counts: Record<string, number> = {}
  for (const status of statuses) counts[status] = input.tasks.counts[status] ?? 0
  const pending = input.tasks.pending.slice(0, pendingListedMax).map((task) => ({ id: task.id, summary: task.summary }))
  const notes = input.notes.slice(0, notesListedMax).map((n) => ({
    path: n.path,
    ...(n.status !== undefined ? { status: n.status } : {}),
    ...(n.title !== undefined ? { title: n.title } : {})
  }))
  return {
    mode: input.mode,
    repo: { branch: input.repo.branch, head: input.repo.head },
    tasks: {
      counts,
      pending,
      ...(input.tasks.pending.length > pendingListedMax
        ? { pending_not_listed: input.tasks.pending.length - pendingListedMax }
        : {})
    },
    notes,
    ...(input.notes.length > notesListedMax ? { notes_not_listed: input.notes.length - notesListedMax } : {}),
    policy: [...input.policy],
    next_work: [...input.nextWork]
  }
}

/**
 * The context header (SPEC F11): {@link contextHeaderData} as YAML in a fenced `yaml` block, so a
 * prompt shows clearly where it starts and ends. The fence is longer than any backtick run in the
 * YAML, so no task summary can close it early.
 *
 * **When to use** Pass the run's {@link PromptCache} when rendering headers over and over (a swarm
 * renders one for nearly every prompt): the text is the same, several times faster.
 *
 * @category rendering
 * @since 0.1.0
 */
export const contextHeader = (input: ContextInput, cache?: PromptCache): string => {
  const data = contextHeaderData(input)
  const body = (cache === undefined ? undefined : blockYaml(data, cache)) ?? stringify(data, yamlOptions)
  const longestRun = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length))
  const fence = "`".repeat(Math.max(3, longestRun + 1))
  const ending = body.endsWith("\n") ? "" : "\n"
  return `${fence}yaml\n# oompa context (maintained by the framework)\n${body}${ending}${fence}`
}
