/**
 * A strict reading of EDN text (0.1.0's task files) into plain JSON-like values, over `edn-data`.
 *
 * `edn-data` is lenient where a task queue must not be: `parseEDNString` returns `null` for a
 * truncated file and silently ignores everything after the first form. So the text is fed to its
 * `EDNListParser` wrapped in a list with a sentinel form at the end; a missing sentinel means the
 * text closed a list early, a parser that is not done means a bracket or string was left open, and
 * more than one form before the sentinel is reported as such. (A stray `}` is still dropped by
 * `edn-data` itself; it cannot be detected from outside.)
 *
 * Values become JSON: keywords become strings (`:id` → `"id"`), map keys drop a namespace and turn
 * kebab-case into the snake_case of the task format (`:last-feedback` → `"last_feedback"`), keys
 * whose value is `nil` are left out (in Clojure an absent key and `nil` mean the same), sets and
 * lists become arrays, `#inst` becomes an ISO string and big integers a number when exact, else a
 * string.
 *
 * @since 0.1.0
 */
import { EDNListParser } from "edn-data/dist/parse.js"

const sentinel = "oompa.edn/end-of-input"

/** A parse result: the value, or why the text is not one EDN value. */
export type EdnParse = { readonly _tag: "Value"; readonly value: unknown } | { readonly _tag: "Problem"; readonly problem: string }

const problem = (text: string): EdnParse => ({ _tag: "Problem", problem: text })

/** Parses exactly one EDN form from `text`. */
export const parseEdn = (text: string): EdnParse => {
  const parser = new EDNListParser({ mapAs: "object", setAs: "array", listAs: "array", keywordAs: "string", symbolAs: "string", charAs: "string" })
  let forms: Array<unknown>
  try {
    forms = parser.next(`(${text}\n :${sentinel})`)
  } catch (error) {
    // edn-data throws on bad escapes, bad #inst values and unbalanced `]`.
    return problem(`not valid EDN (${error instanceof Error ? error.message : String(error)})`)
  }
  if (!parser.isDone()) return problem("not valid EDN: an opening bracket or a string is never closed")
  if (forms[forms.length - 1] !== sentinel) return problem("not valid EDN: a closing ')' has no opening one")
  const values = forms.slice(0, -1)
  if (values.length === 0) return problem("empty EDN file")
  if (values.length > 1) return problem(`expected one EDN value, found ${values.length}`)
  return { _tag: "Value", value: toJson(values[0]) }
}

/** `:ns/last-feedback` → `last_feedback`. */
export const normalizeKey = (key: string): string => {
  const name = key.startsWith(":") ? key.slice(1) : key
  const slash = name.lastIndexOf("/")
  return (slash >= 0 && slash < name.length - 1 ? name.slice(slash + 1) : name).replace(/-/g, "_")
}

/** Depth bound for nested EDN values: task files are flat; anything deeper is not a task. */
const depthMax = 64

const toJson = (value: unknown, depth = 0): unknown => {
  if (depth > depthMax) return null
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (Array.isArray(value)) return value.map((item) => toJson(item, depth + 1))
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      if (item === null || item === undefined) continue
      out[normalizeKey(key)] = toJson(item, depth + 1)
    }
    return out
  }
  return value
}
