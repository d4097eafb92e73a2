/**
 * Prompt rendering and the prompt's context header (SPEC F11).
 *
 * Templates use `{token}` substitution. Unknown tokens stay visible and are reported once, so a typo
 * in a user's prompt file shows up in the prompt and in the log instead of silently vanishing. Braces
 * that are not a token (JSON examples, `{ }`) are left alone, and substituted values are never
 * scanned again: a task summary that mentions `{task_id}` stays literal.
 *
 * Every value is data, and any of them may come from a hostile task file or agent: its control
 * characters are shown as escapes, and a value the template fences gets a fence it cannot close, so
 * a forged verdict, fence or heading inside it stays inside its block.
 *
 * The context header is YAML (repo, tasks, recent notes, policy, next work, mode), built from data the
 * caller collected from its services; nothing here reads files or git.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { parseDocument, stringify } from "yaml"
import type { Policy } from "./Policy.ts"
import type { TaskStatus } from "./Task.ts"

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
  /** The YAML context header built by {@link contextHeader}. */
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

// Only lowercase identifiers are tokens, so `{"id": 1}`, `{ }` and `{Foo}` are plain text.
const tokenPattern = /\{([a-z_][a-z0-9_]*)\}/g

/**
 * Characters that change what a person sees without being seen: C0 and C1 controls other than
 * newline and tab (terminal escapes, NUL, carriage return, backspace), the Unicode line and
 * paragraph separators, and the bidirectional overrides and isolates that reorder a line.
 */
const hiddenCharacter = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/
const hiddenCharacters = new RegExp(hiddenCharacter.source, "g")

const escapeHidden = (char: string): string => {
  const code = char.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
}

/**
 * `text` with every control character other than newline and tab written as a visible escape
 * (ESC as `\x1b`, NUL as `\x00`, CR as `\x0d`, a right-to-left override as `\u202e`), so that text
 * from a task, a file name or an agent cannot hide or reorder what a person reading the prompt or
 * the transcript sees.
 *
 * @category rendering
 * @since 0.1.0
 */
export const visibleText = (text: string): string =>
  hiddenCharacter.test(text) ? text.replace(hiddenCharacters, escapeHidden) : text

/**
 * {@link visibleText} on one line: newlines are written as `\n` too, for values that sit inside a
 * line of the prompt (a summary, a file name) and must not start lines of their own.
 *
 * @category rendering
 * @since 0.1.0
 */
export const visibleLine = (text: string): string => visibleText(text).replaceAll("\n", "\\n")

/** The length of the longest run of `char` in `text`. */
const longestRun = (text: string, char: string): number => {
  let longest = 0
  let run = 0
  for (let i = 0; i < text.length; i++) {
    run = text[i] === char ? run + 1 : 0
    if (run > longest) longest = run
  }
  return longest
}

/**
 * How long a fence of `char` around `text` must be: at least `min`, and longer than any run of
 * `char` in it, so that no line of `text` can close it (CommonMark: a closing fence is at least as
 * long as the opening one).
 */
const fenceWidth = (text: string, char: string, min: number): number =>
  text.includes(char.repeat(min)) ? longestRun(text, char) + 1 : min

/**
 * `text` as a fenced block of `~` that nothing in it can close, its control characters made
 * visible: data (a task's text, an agent's answer) inside a value that is not alone in a fence of
 * the template.
 *
 * @category rendering
 * @since 0.1.0
 */
export const dataBlock = (text: string, info: string = "text"): string => {
  const shown = visibleText(text)
  const fence = "~".repeat(fenceWidth(shown, "~", 5))
  return `${fence}${info}\n${shown}\n${fence}`
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
 * **Gotchas**
 * - Values are never re-scanned for tokens.
 * - Only own properties of `tokens` count, so `{constructor}` or `{__proto__}` are unknown tokens.
 * - A token that shares its line with other text, or is not directly between fence lines, is not
 *   fenced by this: one-line values must be made one line by the caller ({@link visibleLine}).
 *
 * @category rendering
 * @since 0.1.0
 */
export const renderPrompt = (template: string, tokens: Readonly<Record<string, string>>): RenderedPrompt => {
  const unknown: Array<string> = []
  const { parts, fences } = compiledOf(template)
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

interface CompiledTemplate {
  /** Text, token name, text, …: `split` with one capture group alternates them. */
  readonly parts: ReadonlyArray<string>
  /** The fence around the token at a part's index, when it has one. */
  readonly fences: ReadonlyMap<number, TokenFence>
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

/** Templates split and their fences found, remembered: a run renders the same few templates for every prompt. */
const compiledTemplates = new Map<string, CompiledTemplate>()
const compiledTemplatesMax = 256

const compiledOf = (template: string): CompiledTemplate => {
  let compiled = compiledTemplates.get(template)
  if (compiled === undefined) {
    if (compiledTemplates.size >= compiledTemplatesMax) compiledTemplates.clear()
    const parts = template.split(tokenPattern)
    const fences = new Map<number, TokenFence>()
    for (let i = 1; i < parts.length; i += 2) {
      const fence = fenceAround(parts, i, fences.get(i - 2))
      if (fence !== undefined) fences.set(i, fence)
    }
    compiled = { parts, fences }
    compiledTemplates.set(template, compiled)
  }
  return compiled
}

/**
 * A note's front-matter status: green (fine) or red (something is wrong).
 *
 * @category models
 * @since 0.1.0
 */
export type NoteStatus = "green" | "red"

/**
 * The folders under `agent_notes/` the context header lists (SPEC F11).
 *
 * @category constants
 * @since 0.1.0
 */
export const noteFolders = ["scratch", "ready_for_review", "notes_FROM_CTO", "proposed_tasks"] as const

/**
 * One recent note, as listed in the context header.
 *
 * @category models
 * @since 0.1.0
 */
export interface NoteEntry {
  /** Relative to the repository, e.g. `agent_notes/scratch/cache.md`. */
  readonly path: string
  readonly status?: NoteStatus
  readonly title?: string
}

/**
 * Reads `status` (green/red, any case) and `title` from a note's YAML front-matter (a leading
 * `---` … `---` block); the title falls back to the note's first markdown heading. Missing or invalid
 * front-matter gives no status rather than an error: a note is advice, not input to validate.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseNoteFrontMatter = (text: string): { readonly status?: NoteStatus; readonly title?: string } => {
  const source = text.replace(/^\uFEFF/, "")
  const block = /^---[ \t]*\r?\n((?:[\s\S]*?\r?\n)?)(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/.exec(source)
  const data = block === null ? undefined : frontMatterData(block[1] ?? "")
  const body = block === null ? source : source.slice(block[0].length)
  const status = typeof data?.["status"] === "string" ? data["status"].trim().toLowerCase() : undefined
  const rawTitle = data?.["title"]
  const fmTitle = typeof rawTitle === "string" || typeof rawTitle === "number" ? String(rawTitle).trim() : ""
  const title = fmTitle !== "" ? fmTitle : /^#{1,6}[ \t]+(.+?)[ \t#]*$/m.exec(body)?.[1]?.trim()
  return {
    ...(status === "green" || status === "red" ? { status } : {}),
    ...(title !== undefined && title !== "" ? { title } : {})
  }
}

const frontMatterData = (yamlText: string): Readonly<Record<string, unknown>> | undefined => {
  const doc = parseDocument(yamlText)
  if (doc.errors.length > 0) return undefined
  // toJS can still throw (e.g. alias bombs): such a note simply has no front-matter.
  const value: unknown = Result.getOrUndefined(Result.try(() => doc.toJS() as unknown))
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : undefined
}

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
  const pending = input.tasks.pending.slice(0, pendingListedMax).map(pendingEntry)
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
 * Each pending task's entry, the same object for the same task, so its YAML is rendered once:
 * a swarm renders a header for nearly every prompt, and the backlog changes a task at a time.
 */
const pendingEntries = new WeakMap<object, { readonly id: string; readonly summary: string }>()

const pendingEntry = (task: { readonly id: string; readonly summary: string }): { readonly id: string; readonly summary: string } => {
  const known = pendingEntries.get(task)
  if (known !== undefined && known.id === task.id && known.summary === task.summary) return known
  const entry = { id: task.id, summary: task.summary }
  pendingEntries.set(task, entry)
  renderedItems.set(entry, { indent: undefined, lines: [] })
  return entry
}

/** Sequence items whose lines {@link blockYaml} keeps, with the indent they were rendered at. */
const renderedItems = new WeakMap<object, { indent: string | undefined; lines: ReadonlyArray<string> }>()

/**
 * The context header (SPEC F11): {@link contextHeaderData} as YAML in a fenced `yaml` block, so a
 * prompt shows clearly where it starts and ends. The fence is longer than any backtick run in the
 * YAML, so no task summary can close it early.
 *
 * @category rendering
 * @since 0.1.0
 */
export const contextHeader = (input: ContextInput): string => {
  const data = contextHeaderData(input)
  const body = blockYaml(data) ?? stringify(data, yamlOptions)
  const longestRun = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length))
  const fence = "`".repeat(Math.max(3, longestRun + 1))
  const ending = body.endsWith("\n") ? "" : "\n"
  return `${fence}yaml\n# oompa context (maintained by the framework)\n${body}${ending}${fence}`
}

// lineWidth 0: no folding of long summaries, one value per line is easier for agents to read.
const yamlOptions = { lineWidth: 0 } as const

/**
 * `yaml`'s own rendering of each scalar, as a map value and as a sequence item, remembered: a swarm
 * renders a header for every prompt, and the same task summaries recur between merges. `undefined`
 * marks a scalar that needs more than one line (a block scalar), which only the library lays out.
 */
const scalarCache = new Map<string | number, { asValue?: string | undefined; asItem?: string | undefined }>()
const scalarCacheMax = 20_000

const oneLine = (rendered: string, prefix: string): string | undefined => {
  const text = rendered.endsWith("\n") ? rendered.slice(0, -1) : rendered
  return text.startsWith(prefix) && !text.includes("\n") ? text.slice(prefix.length) : undefined
}

/**
 * Hex digits with a letter other than `e` (a commit sha, nearly always): no YAML 1.2 null, bool,
 * int or float looks like that and no indicator character is in it, so it is plain as it stands
 * (the equality property holds this to the library). Each merge makes a new head, which would
 * otherwise cost the library a document per prompt.
 */
const plainHex = /^[0-9a-f]*[a-df][0-9a-f]*$/

const scalarOf = (value: string | number, as: "asValue" | "asItem"): string | undefined => {
  if (typeof value === "string" && plainHex.test(value)) return value
  let cached = scalarCache.get(value)
  if (cached === undefined) {
    if (scalarCache.size >= scalarCacheMax) scalarCache.clear()
    cached = {}
    scalarCache.set(value, cached)
  }
  if (!(as in cached)) {
    cached[as] = as === "asValue" ? oneLine(stringify({ k: value }, yamlOptions), "k: ") : oneLine(stringify([value], yamlOptions), "- ")
  }
  return cached[as]
}

/**
 * The same text as `yaml`'s `stringify(data, { lineWidth: 0 })` for nested maps and sequences of
 * one-line scalars, composed from the library's rendering of each scalar (a property test holds the
 * two equal); `undefined` when some scalar needs the library's layout.
 */
const blockYaml = (data: Record<string, unknown>): string | undefined => {
  const out: Array<string> = []
  const map = (value: Record<string, unknown>, indent: string, first: string): boolean => {
    let lead = first
    for (const [key, item] of Object.entries(value)) {
      if (!/^[a-z_]+$/.test(key) || !entry(item, `${lead}${key}:`, indent)) return false
      lead = indent
    }
    return true
  }
  const entry = (item: unknown, label: string, indent: string): boolean => {
    if (typeof item === "string" || typeof item === "number") {
      const rendered = scalarOf(item, "asValue")
      if (rendered === undefined) return false
      out.push(`${label} ${rendered}`)
      return true
    }
    if (Array.isArray(item)) {
      if (item.length === 0) return void out.push(`${label} []`), true
      out.push(label)
      const inner = `${indent}  `
      for (const element of item) {
        if (typeof element === "string" || typeof element === "number") {
          const rendered = scalarOf(element, "asItem")
          if (rendered === undefined) return false
          out.push(`${inner}- ${rendered}`)
        } else if (isPlainMap(element) && Object.keys(element).length > 0) {
          const kept = renderedItems.get(element)
          if (kept !== undefined && kept.indent === inner) {
            for (const line of kept.lines) out.push(line)
            continue
          }
          const start = out.length
          if (!map(element, `${inner}  `, `${inner}- `)) return false
          if (kept !== undefined) {
            kept.indent = inner
            kept.lines = out.slice(start)
          }
        } else {
          return false
        }
      }
      return true
    }
    if (isPlainMap(item)) {
      if (Object.keys(item).length === 0) return void out.push(`${label} {}`), true
      out.push(label)
      return map(item, `${indent}  `, `${indent}  `)
    }
    return false
  }
  return map(data, "", "") ? `${out.join("\n")}\n` : undefined
}

const isPlainMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
