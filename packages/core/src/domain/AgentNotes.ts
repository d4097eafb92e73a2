/**
 * The notes agents leave each other under `agent_notes/` (SPEC F11), as the context header lists
 * them: which folders hold notes, and each note's path, status and title.
 *
 * A note is advice, not input to validate: its status and title come from optional YAML
 * front-matter, and a note whose front-matter is missing or broken is still listed, just without
 * them. The caller reads the files from main's tree; nothing here reads files or git.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { parseDocument } from "yaml"

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
