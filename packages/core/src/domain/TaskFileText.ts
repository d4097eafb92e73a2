/**
 * What a task file's text must not have beyond what `JSON.parse` refuses (issue 15: task files are
 * hostile input, whoever wrote them — a user, a planner, an agent's `.oompa-new-tasks/`): a key
 * given twice in one object (JSON keeps the last, so the file does not say which value is meant)
 * and nesting so deep that a later recursion over the value (`JSON.stringify` when the file is
 * rewritten) overflows the stack. And how a name from disk is shown without its control characters.
 *
 * Pure; used by the folder queue of `@oompa/adapters-node` and by `NewTasks`.
 *
 * @since 0.1.0
 */

/**
 * Deepest nesting of lists and objects a file of the queue may have. Task files are flat (a list
 * of strings is 2 levels); the bound keeps every later recursion over the value (`JSON.stringify`
 * when the file is rewritten, the schema's decoder) far from the stack's limit.
 */
export const nestingDepthMax = 64

/** One open object or list while `jsonShapeProblem` walks a text. */
interface JsonFrame {
  /** The keys seen so far, for an object; `undefined` for a list. */
  readonly keys: Set<string> | undefined
  /** Where this value sits (`files[2]`, `extra.notes`); empty at the top. */
  readonly location: string
  /** In an object: the next string is a key. */
  expectsKey: boolean
  /** The last key read (object) or the index of the current item (list). */
  key: string
  index: number
}

const locationOf = (parent: JsonFrame | undefined): string => {
  if (parent === undefined) return ""
  if (parent.keys === undefined) return `${parent.location}[${parent.index}]`
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(parent.key)
    ? `${parent.location === "" ? "" : `${parent.location}.`}${parent.key}`
    : `${parent.location}[${printable(JSON.stringify(parent.key))}]`
}

/**
 * What `JSON.parse` does not refuse but a task file must not have, in text `JSON.parse` accepted:
 * a key repeated in one object (named, with where) or nesting deeper than `nestingDepthMax`.
 * One pass over the text with an explicit stack (no recursion, whatever the depth).
 */
export const jsonShapeProblem = (text: string): string | undefined => {
  const stack: Array<JsonFrame> = []
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (char === "\"") {
      let end = i + 1
      while (end < text.length && text[end] !== "\"") end += text[end] === "\\" ? 2 : 1
      const top = stack[stack.length - 1]
      if (top?.keys !== undefined && top.expectsKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string
        if (top.keys.has(key)) {
          const where = top.location === "" ? "" : ` in the object at ${top.location}`
          return `the key ${printable(JSON.stringify(key))} appears more than once${where} (JSON keeps only the last one, so the file does not say which value is meant)`
        }
        top.keys.add(key)
        top.key = key
        top.expectsKey = false
      }
      i = end
    } else if (char === "{" || char === "[") {
      if (stack.length >= nestingDepthMax) {
        return `lists and objects nested deeper than ${nestingDepthMax} levels (a task file is flat)`
      }
      stack.push({ keys: char === "{" ? new Set() : undefined, location: locationOf(stack[stack.length - 1]), expectsKey: char === "{", key: "", index: 0 })
    } else if (char === "}" || char === "]") {
      stack.pop()
    } else if (char === ",") {
      const top = stack[stack.length - 1]
      if (top?.keys !== undefined) top.expectsKey = true
      else if (top !== undefined) top.index++
    }
  }
  return undefined
}

// Control characters (C0, DEL, C1), line and paragraph separators, and the bidirectional
// overrides that make a terminal show text other than what it is.
// eslint-disable-next-line no-control-regex
const unprintable = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/
const unprintableAll = new RegExp(unprintable.source, "g")

/** `text` with every control or bidirectional-override character written as `\uXXXX`. */
export const printable = (text: string): string =>
  text.replace(unprintableAll, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * A file name as reasons quote it: as is when it is plain, else JSON-quoted with its control
 * characters escaped (a name can hold an escape sequence a terminal would obey).
 */
export const shownName = (name: string): string => unprintable.test(name) ? printable(JSON.stringify(name)) : name
