/**
 * Prompt rendering (SPEC F11): a template's `{token}`s substituted with the run's values.
 *
 * Unknown tokens stay visible and are reported once, so a typo in a user's prompt file shows up in
 * the prompt and in the log instead of silently vanishing. Braces that are not a token (JSON
 * examples, `{ }`) are left alone, and substituted values are never scanned again: a task summary
 * that mentions `{task_id}` stays literal.
 *
 * Every value is data, and any of them may come from a hostile task file or agent: its control
 * characters are shown as escapes, and a value the template fences gets a fence it cannot close, so
 * a forged verdict, fence or heading inside it stays inside its block (`VisibleText.ts`).
 *
 * A template's share of the work (splitting it, finding its fences) is done by {@link compilePrompt},
 * whose result a caller may keep; a run renders the same few templates for every prompt, and a
 * {@link PromptCache} it passes to {@link renderPrompt} keeps them for it. This module keeps nothing.
 *
 * The `Prompt` namespace also carries, from modules of their own: the data-fencing helpers
 * (`VisibleText.ts`), the context header (`ContextHeader.ts`), the notes it lists (`AgentNotes.ts`)
 * and the run's prompt memory (`PromptCache.ts`).
 *
 * @since 0.1.0
 */
import { type PromptCache, remember, templatesMax } from "./PromptCache.ts"
import { fenceWidth, visibleText } from "./VisibleText.ts"

/**
 * Text from a task or an agent made visible and unclosable (`VisibleText.ts`).
 *
 * @since 0.1.0
 */
export { dataBlock, visibleLine, visibleText } from "./VisibleText.ts"

/**
 * The notes under `agent_notes/` that the context header lists (`AgentNotes.ts`).
 *
 * @since 0.1.0
 */
export { type NoteEntry, noteFolders, type NoteStatus, parseNoteFrontMatter } from "./AgentNotes.ts"

/**
 * The context header and the policy lines it shows (`ContextHeader.ts`).
 *
 * @since 0.1.0
 */
export {
  type ContextInput,
  contextHeader,
  contextHeaderData,
  notesListedMax,
  pendingListedMax,
  policyLines
} from "./ContextHeader.ts"

/**
 * A run's prompt memory, owned by the caller (`PromptCache.ts`).
 *
 * @since 0.1.0
 */
export { makePromptCache, type PromptCache } from "./PromptCache.ts"

/**
 * The standard tokens the framework fills in, one doc line each. Every one is optional: a token
 * without a value (a planner has no task) stays visible and is reported as unknown. (A type alias,
 * not an interface, so that a `PromptTokens` value is accepted by {@link renderPrompt}.)
 *
 * @category models
 * @since 0.1.0
 */
export type PromptTokens = {
  /** The claimed task's id. */
  readonly task_id?: string
  /** The task's one-line summary. */
  readonly summary?: string
  /** The task's description (empty when it has none). */
  readonly description?: string
  /** The files the task targets, comma-separated (empty when it names none). */
  readonly targets?: string
  /** The task's acceptance criteria, one per line. */
  readonly acceptance?: string
  /** Where the agent writes new task files (`.oompa-new-tasks/` inside its worktree, SPEC F2). */
  readonly new_tasks_dir?: string
  /** The agent's working directory (its git worktree). */
  readonly worktree?: string
  /** The queue at a glance: task counts per status. */
  readonly task_status?: string
  /** The reviewer's (or the policy or test gate's) feedback, in full, for the fix prompt. */
  readonly review_feedback?: string
  /** The YAML context header built by `contextHeader`. */
  readonly context_header?: string
  /** The worker's id (`w0`, `planner`, …). */
  readonly worker_id?: string
  /** This iteration's number, from 1. */
  readonly iteration?: string
  /** The worker's number of iterations. */
  readonly iterations?: string
  /** The full change against the base, new, deleted and binary files included (reviewer). */
  readonly diff?: string
  /** The branch the agent's work is committed on. */
  readonly branch?: string
  /** The run's mode: `swarm`, `run`, `loop`, `prompt`. */
  readonly mode?: string
  /** The worker's role: `worker`, `planner`, `executor`. */
  readonly role?: string
  /** The files with merge conflict markers, one per line (conflict prompt). */
  readonly conflict_files?: string
}

/**
 * The names of {@link PromptTokens}, in the order documented there.
 *
 * @category constants
 * @since 0.1.0
 */
export const standardTokens = [
  "task_id",
  "summary",
  "description",
  "targets",
  "acceptance",
  "new_tasks_dir",
  "worktree",
  "task_status",
  "review_feedback",
  "context_header",
  "worker_id",
  "iteration",
  "iterations",
  "diff",
  "branch",
  "mode",
  "role",
  "conflict_files"
] as const satisfies ReadonlyArray<keyof PromptTokens>

/**
 * @category models
 * @since 0.1.0
 */
export type StandardToken = (typeof standardTokens)[number]

/**
 * A rendered prompt and the tokens it used that had no value (each once, in order of appearance).
 *
 * @category models
 * @since 0.1.0
 */
export interface RenderedPrompt {
  readonly text: string
  readonly unknownTokens: ReadonlyArray<string>
}

/**
 * A template compiled by {@link compilePrompt}: renders it with `tokens`, as {@link renderPrompt}
 * would.
 *
 * @category models
 * @since 0.1.0
 */
export type CompiledPrompt = (tokens: Readonly<Record<string, string>>) => RenderedPrompt

// Only lowercase identifiers are tokens, so `{"id": 1}`, `{ }` and `{Foo}` are plain text.
const tokenPattern = /\{([a-z_][a-z0-9_]*)\}/g

/**
 * `template` split into its text and its tokens, and the fences around its tokens found, once: the
 * function it gives renders the template with any tokens, the same as {@link renderPrompt}.
 *
 * **When to use** A caller that renders one template many times keeps the result. A caller that is
 * handed template text each time passes a {@link PromptCache} to {@link renderPrompt} instead, which
 * keeps compiled templates by their text.
 *
 * @category rendering
 * @since 0.1.0
 */
export const compilePrompt = (template: string): CompiledPrompt => {
  // Text, token name, text, …: `split` with one capture group alternates them.
  const parts: ReadonlyArray<string> = template.split(tokenPattern)
  // The fence around the token at a part's index, when it has one.
  const fences = new Map<number, TokenFence>()
  for (let i = 1; i < parts.length; i += 2) {
    const fence = fenceAround(parts, i, fences.get(i - 2))
    if (fence !== undefined) fences.set(i, fence)
  }
  return (tokens) => substitute(parts, fences, tokens)
}

/**
 * Substitutes `{token}`s of `template` in one pass.
 *
 * Values are data, possibly written by a hostile task or agent: their control characters are made
 * visible ({@link visibleText}), and a token alone on its line between an opening and a closing
 * fence line of the template (as the built-in prompts fence the diff, the task's text and the
 * feedback) gets both fence lines lengthened past every run of the fence character in its value, so
 * that no line of the value (a forged `~~~~~`, then a forged `VERDICT: APPROVED` or prompt heading)
 * can end the block and pass for the prompt's own text.
 *
 * **When to use** Pass the run's {@link PromptCache} when rendering the same templates over and
 * over: each is then compiled ({@link compilePrompt}) once. The text is the same either way.
 *
 * **Gotchas**
 * - Values are never re-scanned for tokens.
 * - Only own properties of `tokens` count, so `{constructor}` or `{__proto__}` are unknown tokens.
 * - A token that shares its line with other text, or is not directly between fence lines, is not
 *   fenced by this: one-line values must be made one line by the caller (`visibleLine`).
 *
 * @category rendering
 * @since 0.1.0
 */
export const renderPrompt = (
  template: string,
  tokens: Readonly<Record<string, string>>,
  cache?: PromptCache
): RenderedPrompt =>
  (cache === undefined ? compilePrompt(template) : remember(cache.templates, templatesMax, template, compilePrompt))(tokens)

/** The substitution itself, over a template split into text, token name, text, … */
const substitute = (
  parts: ReadonlyArray<string>,
  fences: ReadonlyMap<number, TokenFence>,
  tokens: Readonly<Record<string, string>>
): RenderedPrompt => {
  const unknown: Array<string> = []
  const out = parts.slice()
  // How much earlier lengthenings moved each text part's later offsets (a closing fence comes first).
  const moved = new Map<number, number>()
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i]!
    const value: unknown = Object.hasOwn(tokens, name) ? tokens[name] : undefined
    if (typeof value !== "string") {
      out[i] = `{${name}}`
      if (!unknown.includes(name)) unknown.push(name)
      continue
    }
    const shown = visibleText(value)
    out[i] = shown
    const fence = fences.get(i)
    if (fence === undefined) continue
    const width = fenceWidth(shown, fence.char, fence.openLength)
    if (width === fence.openLength) continue
    const run = fence.char.repeat(width)
    const openAt = fence.openAt + (moved.get(i - 1) ?? 0)
    out[i - 1] = out[i - 1]!.slice(0, openAt) + run + out[i - 1]!.slice(openAt + fence.openLength)
    const closeLength = Math.max(width, fence.closeLength)
    out[i + 1] = out[i + 1]!.slice(0, fence.closeAt) + fence.char.repeat(closeLength) + out[i + 1]!.slice(fence.closeAt + fence.closeLength)
    moved.set(i + 1, closeLength - fence.closeLength)
  }
  return { text: out.join(""), unknownTokens: unknown }
}

/** A token alone on its line right between fence lines: where the two fence runs are, and their length. */
interface TokenFence {
  readonly char: string
  /** In the text before the token. */
  readonly openAt: number
  readonly openLength: number
  /** In the text after the token. */
  readonly closeAt: number
  readonly closeLength: number
}

const openingFence = /^( {0,3})(`{3,}|~{3,})(.*)$/
const closingFence = /^( {0,3})(`{3,}|~{3,})[ \t]*$/

const fenceAround = (parts: ReadonlyArray<string>, i: number, previous: TokenFence | undefined): TokenFence | undefined => {
  const before = parts[i - 1]!
  const after = parts[i + 1]!
  if (!before.endsWith("\n") || !after.startsWith("\n")) return undefined
  const lineStart = before.lastIndexOf("\n", before.length - 2) + 1
  // The opening line must be the template's own: not begun by an earlier token's value, and not
  // the line that closes the previous token's fence.
  if (i > 1 && (lineStart === 0 || (previous !== undefined && previous.closeAt >= lineStart))) return undefined
  const open = openingFence.exec(before.slice(lineStart, -1))
  const indent = open?.[1] ?? ""
  const run = open?.[2] ?? ""
  const char = run.charAt(0)
  // A backtick fence's info string cannot hold a backtick (it would be inline code).
  if (open === null || (char === "`" && (open[3] ?? "").includes("`"))) return undefined
  const lineEnd = after.indexOf("\n", 1)
  // The closing line must end in the template's text, not run on into the next token's value.
  if (lineEnd === -1 && i + 1 < parts.length - 1) return undefined
  const close = closingFence.exec(after.slice(1, lineEnd === -1 ? after.length : lineEnd))
  const closeRun = close?.[2] ?? ""
  if (close === null || closeRun.charAt(0) !== char || closeRun.length < run.length) return undefined
  return { char, openAt: lineStart + indent.length, openLength: run.length, closeAt: 1 + (close[1] ?? "").length, closeLength: closeRun.length }
}
