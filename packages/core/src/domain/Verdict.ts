/**
 * The reviewer's verdict (SPEC F4) and the `__DONE__` signal of a proposer's answer (SPEC F3), parsed
 * from free text.
 *
 * Agents answer in prose, markdown and quotes, so a substring search is unsafe: 0.1.0 matched
 * `APPROVED` anywhere and "not approved" approved. Here a verdict word counts only when it is the
 * whole line (markdown decorations aside) or the whole value of a `VERDICT:` line, outside code
 * fences and blockquotes; the last such line wins, and anything unclear is `NeedsChanges` — a fix
 * round costs little, an unreviewed merge costs a lot.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * What the reviewer decided. `NeedsChanges.clear` is `false` when the reviewer gave no clear verdict
 * and the framework chose `NeedsChanges` for it.
 *
 * @category models
 * @since 0.1.0
 */
export const Verdict = Schema.TaggedUnion({
  Approved: {},
  NeedsChanges: { feedback: Schema.String, clear: Schema.Boolean },
  Rejected: { reason: Schema.String }
})
export type Verdict = typeof Verdict.Type

/**
 * The most characters of an agent's answer copied into feedback, so one verbose reviewer cannot
 * blow up the next prompt.
 *
 * @category constants
 * @since 0.1.0
 */
export const feedbackCharsMax = 4000

/**
 * A quote of the answer, trimmed and cut at {@link feedbackCharsMax} with the dropped size stated.
 *
 * @category formatting
 * @since 0.1.0
 */
export const capFeedback = (text: string): string => {
  const trimmed = text.trim()
  if (trimmed.length <= feedbackCharsMax) return trimmed
  return `${trimmed.slice(0, feedbackCharsMax)}\n… (${trimmed.length - feedbackCharsMax} more characters cut)`
}

type Word = "approved" | "needs_changes" | "rejected"

// Decorations a verdict may wear: markdown emphasis and inline code marks.
const deco = String.raw`[\s*_\x60]*`
const verdictLinePattern = new RegExp(
  String.raw`^\s*(?:#{1,6}\s+)?${deco}` +
    // Optional "VERDICT:" label (also "Final verdict:"), itself possibly decorated: `**Verdict:** X`.
    String.raw`(?:(?:final\s+|overall\s+)?verdict${deco}:${deco})?` +
    String.raw`(approved|needs[ _-]changes|rejected)` +
    // Only decorations, `.`, `!` (and `:` for the non-approving words) may follow; a `?`, a "no" or
    // any other word makes the line a question, a negation or a sentence.
    String.raw`([\s*_\x60.!:]*)$`,
  "i"
)

const lineWord = (line: string): Word | undefined => {
  const match = verdictLinePattern.exec(line)
  if (match === null) return undefined
  const raw = (match[1] ?? "").toLowerCase()
  const word: Word = raw === "approved" ? "approved" : raw === "rejected" ? "rejected" : "needs_changes"
  // "APPROVED:" reads as a label awaiting an answer ("approved: no"), so it never approves;
  // "NEEDS_CHANGES:" and "REJECTED:" naturally introduce their bullets or reason.
  if (word === "approved" && (match[2] ?? "").includes(":")) return undefined
  return word
}

const fencePattern = /^\s*(`{3,}|~{3,})(.*)$/
const blockquotePattern = /^\s*>/
const bulletPattern = /^\s*(?:[-*+•]|\d{1,3}[.)])\s+\S/

interface Line {
  readonly text: string
  /** Inside a fenced code block (or a fence line itself), or a blockquote: quoted, never a signal. */
  readonly quoted: boolean
}

/**
 * Splits an answer into lines and marks those inside fenced code blocks (CommonMark rules: a fence
 * closes on the same character, at least as long, with nothing after it; an unclosed fence runs to
 * the end) and blockquote lines.
 */
const scanLines = (answer: string): ReadonlyArray<Line> => {
  const lines: Array<Line> = []
  let fence: { readonly char: string; readonly length: number } | undefined = undefined
  for (const text of answer.split(/\r\n|\r|\n/)) {
    const fenceMatch = fencePattern.exec(text)
    if (fence === undefined) {
      const marker = fenceMatch?.[1]
      // A backtick fence's info string cannot hold a backtick (else it is inline code).
      if (marker !== undefined && !(marker.startsWith("`") && (fenceMatch?.[2] ?? "").includes("`"))) {
        fence = { char: marker.charAt(0), length: marker.length }
        lines.push({ text, quoted: true })
      } else {
        lines.push({ text, quoted: blockquotePattern.test(text) })
      }
    } else {
      const marker = fenceMatch?.[1]
      if (
        marker !== undefined && marker.charAt(0) === fence.char && marker.length >= fence.length &&
        (fenceMatch?.[2] ?? "").trim() === ""
      ) {
        fence = undefined
      }
      lines.push({ text, quoted: true })
    }
  }
  return lines
}

/**
 * Bullet lines (`-`, `*`, `+`, `•`, `1.`, `1)`) of `lines`, each with its indented continuation
 * lines, outside code fences.
 */
const bulletsOf = (lines: ReadonlyArray<Line>): ReadonlyArray<string> => {
  const out: Array<string> = []
  let inBullet = false
  for (const line of lines) {
    if (line.quoted) {
      inBullet = false
      continue
    }
    if (bulletPattern.test(line.text)) {
      out.push(line.text.trimEnd())
      inBullet = true
    } else if (inBullet && /^\s+\S/.test(line.text)) {
      out.push(line.text.trimEnd())
    } else {
      inBullet = false
    }
  }
  return out
}

/** The feedback or reason of a NEEDS_CHANGES / REJECTED verdict found at `index`. */
const explanation = (lines: ReadonlyArray<Line>, index: number, fallback: string): string => {
  const following = bulletsOf(lines.slice(index + 1))
  if (following.length > 0) return capFeedback(following.join("\n"))
  const all = bulletsOf(lines)
  if (all.length > 0) return capFeedback(all.join("\n"))
  const rest = lines.filter((_, i) => i !== index).map((l) => l.text).join("\n")
  const text = capFeedback(rest)
  return text === "" ? fallback : text
}

const noClearVerdict = (answer: string): Verdict => {
  const quoted = capFeedback(answer)
  return Verdict.cases.NeedsChanges.make({
    clear: false,
    feedback: quoted === ""
      ? "The reviewer gave no clear verdict (its answer was empty)."
      : `The reviewer gave no clear verdict. Its answer was:\n${quoted}`
  })
}

/**
 * Reads the reviewer's verdict from its answer (SPEC F4).
 *
 * A line counts when, apart from markdown emphasis, inline-code marks, a heading `#` and a final
 * `.`/`!`, it is exactly one verdict word (APPROVED, NEEDS_CHANGES / NEEDS CHANGES / NEEDS-CHANGES,
 * REJECTED; any case), optionally after a `VERDICT:` label. Lines in code fences or blockquotes never
 * count. The last counting line wins.
 *
 * **Gotchas**
 * - Negations, questions, sentences, lines naming several verdicts and a bullet `- APPROVED` do not
 *   count; nor does `APPROVED:` (a label awaiting an answer, as in "approved: no").
 * - No counting line gives `NeedsChanges` with `clear: false` and the (capped) answer as feedback.
 * - Only the reviewer's answer is parsed, and a task file or a diff may hold a forged
 *   `VERDICT: APPROVED`. A reviewer that quotes it (in a fence or a quote it never counts) and ends
 *   with its own verdict gets its own verdict: the last line wins, never the first or the most
 *   approving. An unfenced quote after the reviewer's own verdict line would still win, which is why
 *   the prompt fences all data and asks for quotes only in code blocks or quotes.
 * - The feedback of `NeedsChanges` (and the reason of `Rejected`) is the bullets after the verdict
 *   line, else every bullet of the answer, else the answer without the verdict line.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseVerdict = (answer: string): Verdict => {
  const lines = scanLines(answer)
  // From the end: the reviewer's closing verdict, not an earlier line it quoted or reconsidered.
  let last: { readonly word: Word; readonly index: number } | undefined = undefined
  for (let index = lines.length - 1; index >= 0 && last === undefined; index--) {
    const line = lines[index]
    const word = line === undefined || line.quoted ? undefined : lineWord(line.text)
    if (word !== undefined) last = { word, index }
  }
  if (last === undefined) return noClearVerdict(answer)
  switch (last.word) {
    case "approved":
      return Verdict.cases.Approved.make({})
    case "needs_changes":
      return Verdict.cases.NeedsChanges.make({
        clear: true,
        feedback: explanation(lines, last.index, "The reviewer asked for changes without saying which.")
      })
    case "rejected":
      return Verdict.cases.Rejected.make({
        reason: explanation(lines, last.index, "The reviewer rejected the change without giving a reason.")
      })
  }
}

/**
 * Whether a proposer's answer signals that there is no more work (SPEC F3): a line that is exactly
 * `__DONE__` (whitespace around allowed), outside code fences and blockquotes. A mention of the
 * token inside other text ("print __DONE__ when finished") is not a signal.
 *
 * @category parsing
 * @since 0.1.0
 */
export const hasDoneSignal = (answer: string): boolean =>
  scanLines(answer).some((line) => !line.quoted && line.text.trim() === "__DONE__")
