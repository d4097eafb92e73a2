/**
 * The context header's YAML composed line by line: the same text as the `yaml` library's
 * `stringify(data, { lineWidth: 0 })` for nested maps and sequences of one-line scalars, built from
 * the library's own rendering of each scalar, which a {@link PromptCache} remembers.
 *
 * The library builds a document for every call, and a swarm renders a header for nearly every
 * prompt; the scalars in it (task ids and summaries, note paths and titles) recur between merges.
 * Only the layout is done here, never a scalar's quoting or escaping, so this is not a second YAML
 * dialect: a scalar that needs more than one line, or data of another shape, gives `undefined`, and
 * the caller asks the library for the whole text. A property test holds the two equal.
 *
 * @since 0.1.0
 */
import { stringify } from "yaml"
import { type PromptCache, remember, scalarsMax } from "./PromptCache.ts"

/**
 * The options of every `stringify` of the header. `lineWidth: 0`: no folding of long summaries, one
 * value per line is easier for agents to read.
 *
 * @category constants
 * @since 0.1.0
 */
export const yamlOptions = { lineWidth: 0 } as const

/**
 * The library's rendering of one scalar, as a map value and as a sequence item, each filled in when
 * first needed. `undefined` marks a scalar that needs more than one line (a block scalar), which
 * only the library lays out.
 *
 * @category models
 * @since 0.1.0
 */
export interface ScalarLayout {
  asValue?: string | undefined
  asItem?: string | undefined
}

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

/**
 * Words of one or more letters, digits and `_ . / ( ) , -`, separated by single spaces, starting with a
 * letter: plain in YAML as they stand (no indicator, no `: ` or ` #`, not a number) — except the
 * words the library's schemas read as something else, below. Task ids and summaries, note paths and
 * the counts' labels are nearly all of this shape; each new run would otherwise ask the library for
 * a document per scalar (in the simulator, a run per seed). The equality property and a list of the
 * awkward words hold this to the library.
 */
const plainWords = /^[A-Za-z][A-Za-z0-9_./(),-]*(?: [A-Za-z0-9_./(),-]+)*$/

/** Words YAML (1.1 or 1.2) reads as booleans or null, in any case: quoted by the library. */
const specialWord = /^(?:y|yes|n|no|on|off|true|false|null)$/i

/** Whether the library writes `text` plain, exactly as it stands. */
export const isPlainAsIs = (text: string): boolean => plainWords.test(text) && !specialWord.test(text)

const scalarOf = (cache: PromptCache, value: string | number, as: "asValue" | "asItem"): string | undefined => {
  if (typeof value === "string" && (plainHex.test(value) || isPlainAsIs(value))) return value
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value)
  const layout = remember(cache.scalars, scalarsMax, value, (): ScalarLayout => ({}))
  if (!(as in layout)) {
    layout[as] = as === "asValue" ? oneLine(stringify({ k: value }, yamlOptions), "k: ") : oneLine(stringify([value], yamlOptions), "- ")
  }
  return layout[as]
}

const isPlainMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Whether `value` has an own enumerable key (`Object.keys(value).length > 0`, without the array). */
const hasOwnKeys = (value: object): boolean => {
  for (const key in value) if (Object.hasOwn(value, key)) return true
  return false
}

/**
 * The same text as `yaml`'s `stringify(data, { lineWidth: 0 })` for nested maps and sequences of
 * one-line scalars, composed from the library's rendering of each scalar (remembered in `cache`);
 * `undefined` when some scalar needs the library's layout.
 *
 * @category rendering
 * @since 0.1.0
 */
export const blockYaml = (data: Record<string, unknown>, cache: PromptCache): string | undefined => {
  const out: Array<string> = []
  const map = (value: Record<string, unknown>, indent: string, first: string): boolean => {
    let lead = first
    for (const key of Object.keys(value)) {
      if (!/^[a-z_]+$/.test(key) || !entry(value[key], `${lead}${key}:`, indent)) return false
      lead = indent
    }
    return true
  }
  const entry = (item: unknown, label: string, indent: string): boolean => {
    if (typeof item === "string" || typeof item === "number") {
      const rendered = scalarOf(cache, item, "asValue")
      if (rendered === undefined) return false
      out.push(`${label} ${rendered}`)
      return true
    }
    if (Array.isArray(item)) {
      if (item.length === 0) return void out.push(`${label} []`), true
      out.push(label)
      const inner = `${indent}  `
      const itemLead = `${inner}- `
      const itemIndent = `${inner}  `
      for (const element of item) {
        if (typeof element === "string" || typeof element === "number") {
          const rendered = scalarOf(cache, element, "asItem")
          if (rendered === undefined) return false
          out.push(`${itemLead}${rendered}`)
        } else if (isPlainMap(element) && hasOwnKeys(element)) {
          if (!map(element, itemIndent, itemLead)) return false
        } else {
          return false
        }
      }
      return true
    }
    if (isPlainMap(item)) {
      if (!hasOwnKeys(item)) return void out.push(`${label} {}`), true
      out.push(label)
      return map(item, `${indent}  `, `${indent}  `)
    }
    return false
  }
  return map(data, "", "") ? `${out.join("\n")}\n` : undefined
}
