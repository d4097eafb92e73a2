/**
 * Text that a task file, a file name or an agent wrote, made safe to show in a prompt or a
 * transcript: its control characters written as visible escapes, and, in a fenced block, a fence
 * that no line of it can close.
 *
 * Any of that text may be hostile. A terminal escape can hide a line from the person reading the
 * transcript, a right-to-left override can reorder one, and a forged closing fence followed by a
 * forged verdict or prompt heading would pass for the prompt's own text. `Prompt.renderPrompt` uses
 * {@link fenceWidth} to lengthen the template's own fences around such a value; {@link dataBlock}
 * fences a value that does not stand alone in a fence of the template.
 *
 * @since 0.1.0
 */

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
 *
 * @category rendering
 * @since 0.1.0
 */
export const fenceWidth = (text: string, char: string, min: number): number =>
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
