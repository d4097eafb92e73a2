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
 * Refused, as a task file must be (it is hostile input): a map whose keys repeat once normalised
 * (`{:id "a" :id "b"}`, but also `:last-feedback` next to `:last_feedback`, or `:id` next to
 * `:task/id` — any of which would otherwise silently keep one value), a map key that is itself a
 * list or a map, and values nested deeper than `depthMax` (by default 64). Maps are read as lists of
 * pairs (`edn-data`'s `doubleArray`), which is what makes repeats visible, and costs linear time
 * where its objects are rebuilt for every key.
 *
 * @since 0.1.0
 */
import { EDNListParser } from "edn-data/dist/parse.js"

const sentinel = "oompa.edn/end-of-input"

/** A parse result: the value, or why the text is not one EDN value. */
export type EdnParse = { readonly _tag: "Value"; readonly value: unknown } | { readonly _tag: "Problem"; readonly problem: string }

const problem = (text: string): EdnParse => ({ _tag: "Problem", problem: text })

/** Parses exactly one EDN form from `text`, nested at most `depthMax` levels. */
export const parseEdn = (text: string, options: { readonly depthMax?: number } = {}): EdnParse => {
  const parser = new EDNListParser({ mapAs: "doubleArray", setAs: "array", listAs: "array", keywordAs: "string", symbolAs: "string", charAs: "string" })
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
  const converted = toJson(values[0], { depth: 0, depthMax: options.depthMax ?? depthMaxDefault })
  return "problem" in converted ? problem(converted.problem) : { _tag: "Value", value: converted.value }
}

/** `:ns/last-feedback` → `last_feedback`. */
export const normalizeKey = (key: string): string => {
  const name = key.startsWith(":") ? key.slice(1) : key
  const slash = name.lastIndexOf("/")
  return (slash >= 0 && slash < name.length - 1 ? name.slice(slash + 1) : name).replace(/-/g, "_")
}

/** Depth bound for nested EDN values: task files are flat; anything deeper is not a task. */
const depthMaxDefault = 64

type Converted = { readonly value: unknown } | { readonly problem: string }

interface Depth {
  readonly depth: number
  readonly depthMax: number
}

/** `edn-data`'s map with `mapAs: "doubleArray"`: its key–value pairs in the order written. */
const pairsOf = (value: object): ReadonlyArray<readonly [unknown, unknown]> | undefined => {
  const keys = Object.keys(value)
  const pairs = (value as { readonly map?: unknown }).map
  return keys.length === 1 && keys[0] === "map" && Array.isArray(pairs) ? pairs as ReadonlyArray<readonly [unknown, unknown]> : undefined
}

/** A map key as text (keywords and strings as written, numbers and the like as JSON would). */
const keyText = (key: unknown): string | undefined =>
  typeof key === "string" ? key : key === null || typeof key === "number" || typeof key === "boolean" || typeof key === "bigint" ? String(key) : undefined

/** An EDN value as JSON; recursion bounded by `depthMax` (which the caller keeps small). */
const toJson = (value: unknown, at: Depth): Converted => {
  if (typeof value === "bigint") return { value: Number.isSafeInteger(Number(value)) ? Number(value) : value.toString() }
  if (value instanceof Date) return { value: Number.isNaN(value.getTime()) ? null : value.toISOString() }
  if (value === null || typeof value !== "object") return { value }
  // `at.depth` lists and maps enclose this one.
  if (at.depth >= at.depthMax) return { problem: `EDN lists and maps nested deeper than ${at.depthMax} levels (a task file is flat)` }
  const inner: Depth = { depth: at.depth + 1, depthMax: at.depthMax }
  if (Array.isArray(value)) {
    const items: Array<unknown> = []
    for (const item of value) {
      const converted = toJson(item, inner)
      if ("problem" in converted) return converted
      items.push(converted.value)
    }
    return { value: items }
  }
  return mapToJson(pairsOf(value) ?? Object.entries(value), inner)
}

/** A map's pairs as one JSON object; a key that repeats once normalised is a problem, not a choice. */
const mapToJson = (pairs: ReadonlyArray<readonly [unknown, unknown]>, inner: Depth): Converted => {
  const entries: Array<[string, unknown]> = []
  const written = new Map<string, string>()
  for (const [key, item] of pairs) {
    const text = keyText(key)
    if (text === undefined) return { problem: "a map key is a list or a map; task files have keyword keys" }
    const name = normalizeKey(text)
    const earlier = written.get(name)
    if (earlier !== undefined) {
      const spelled = earlier === text ? `${JSON.stringify(text)} appears more than once` : `${JSON.stringify(earlier)} and ${JSON.stringify(text)} are both ${JSON.stringify(name)}`
      return { problem: `the map key ${spelled} (one value would be silently dropped)` }
    }
    written.set(name, text)
    if (item === null || item === undefined) continue
    const converted = toJson(item, inner)
    if ("problem" in converted) return converted
    entries.push([name, converted.value])
  }
  // fromEntries defines own properties, so a key named `__proto__` stays a key.
  return { value: Object.fromEntries(entries) }
}
