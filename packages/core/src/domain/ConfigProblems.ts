/**
 * The problems of an oompa.json, reported for the person editing it by hand: each problem is one
 * line naming the file and the field path, e.g.
 * `oompa.json: workers[1].iteratons: unknown key (did you mean "iterations"?)`, and all problems
 * are reported at once rather than one per attempt.
 *
 * The Schema's issue tree (`ConfigFileSchema.ts`) is flattened into one problem per leaf: a value of
 * the wrong type reads "expected <the field's `expected` label>, got <the value>", an unknown key
 * gets a did-you-mean hint or the list of valid keys, and a JSON syntax error gets a line and a
 * column. {@link ConfigError} carries them, ready to print.
 *
 * @since 0.1.0
 */
import { Schema, type SchemaAST, type SchemaIssue } from "effect"

/**
 * The annotation naming what the keys of an object are, for "unknown harness" rather than
 * "unknown key"; the Schema sets it on `harnesses`.
 *
 * @category constants
 * @since 0.1.0
 */
export const keyKindAnnotation = "oompa/keyKind"

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * One problem of a config file: a field path such as `workers[0].count` (empty for the whole file)
 * and what is wrong with it.
 *
 * @category models
 * @since 0.1.0
 */
export const ConfigProblem = Schema.Struct({ path: Schema.String, message: Schema.String })
export type ConfigProblem = typeof ConfigProblem.Type

/**
 * Raised when oompa.json cannot be parsed or decoded; `message` is one `<file>: <path>: <message>`
 * line per problem, ready to print.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  file: Schema.String,
  problems: Schema.Array(ConfigProblem)
}) {
  override get message(): string {
    return this.problems
      .map((problem) => problem.path === "" ? `${this.file}: ${problem.message}` : `${this.file}: ${problem.path}: ${problem.message}`)
      .join("\n")
  }
}

// ---------------------------------------------------------------------------------------------
// Issue formatting
// ---------------------------------------------------------------------------------------------

/** `workers[1].iterations`; keys that are not plain names are quoted, as in JavaScript. */
const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((segment, index) => {
    if (typeof segment === "number") return `[${segment}]`
    const key = String(segment)
    if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return index === 0 ? key : `.${key}`
    return `[${JSON.stringify(key)}]`
  }).join("")

const valueAt = (root: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>((value, segment) =>
    typeof value === "object" && value !== null && Object.hasOwn(value, segment)
      ? (value as Record<PropertyKey, unknown>)[segment]
      : undefined, root)

const describeValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

const lastCheckExpected = (ast: SchemaAST.AST): string | undefined => {
  const last = ast.checks?.[ast.checks.length - 1]
  const expected = last?.annotations?.expected
  return typeof expected === "string" ? expected : undefined
}

/** What a schema node accepts, in words, for "expected …, got …". */
const expectedOf = (ast: SchemaAST.AST): string => {
  const own = ast.annotations?.expected
  if (typeof own === "string") return own
  const fromCheck = lastCheckExpected(ast)
  if (fromCheck !== undefined) return fromCheck
  switch (ast._tag) {
    case "String":
      return "a string"
    case "Number":
      return "a number"
    case "Boolean":
      return "true or false"
    case "Objects":
      return "an object"
    case "Arrays":
      return "a list"
    case "Literal":
      return JSON.stringify(ast.literal)
    case "Union":
      return ast.types.every((member) => member._tag === "Literal")
        ? `one of ${ast.types.map(expectedOf).join(", ")}`
        : ast.types.map(expectedOf).join(" or ")
    default:
      return "a valid value"
  }
}

/** Levenshtein distance, for "did you mean"; keys are short, so the quadratic table is fine. */
const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution))
    }
    previous = current
  }
  return previous[b.length]!
}

/**
 * The valid key closest to `key`, if one is close enough to be a likely typo: same letters up to
 * case, `_` and `-`, or within a third of the key's length in edits (at least 2).
 *
 * @category formatting
 * @since 0.1.0
 */
export const didYouMean = (key: string, validKeys: ReadonlyArray<string>): string | undefined => {
  const loose = (text: string) => text.toLowerCase().replace(/[_-]/g, "")
  const sameLetters = validKeys.find((valid) => loose(valid) === loose(key))
  if (sameLetters !== undefined) return sameLetters
  const limit = Math.max(2, Math.floor(key.length / 3))
  let best: { readonly key: string; readonly distance: number } | undefined
  for (const valid of validKeys) {
    const distance = editDistance(key.toLowerCase(), valid.toLowerCase())
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key: valid, distance }
  }
  return best?.key
}

const unknownKeyMessage = (key: string, objectAst: SchemaAST.AST): string => {
  const validKeys = objectAst._tag === "Objects" ? objectAst.propertySignatures.map((ps) => String(ps.name)) : []
  const kind = objectAst.annotations?.[keyKindAnnotation] === "harness" ? "harness" : "key"
  const suggestion = didYouMean(key, validKeys)
  if (suggestion !== undefined) return `unknown ${kind} (did you mean "${suggestion}"?)`
  return validKeys.length === 0 ? `unknown ${kind}` : `unknown ${kind}; expected one of ${validKeys.join(", ")}`
}

interface Walk {
  readonly root: unknown
  readonly out: Array<ConfigProblem>
}

/** Flattens an issue tree into one problem per leaf, with the path the leaf sits at. */
const collectProblems = (
  issue: SchemaIssue.Issue,
  path: ReadonlyArray<PropertyKey>,
  owner: SchemaAST.AST | undefined,
  walk: Walk
): void => {
  const push = (message: string): void => {
    walk.out.push({ path: formatPath(path), message })
  }
  const got = () => describeValue(valueAt(walk.root, path))
  switch (issue._tag) {
    case "Pointer":
      return collectProblems(issue.issue, [...path, ...issue.path], owner, walk)
    case "Composite":
      return issue.issues.forEach((child) => collectProblems(child, path, issue.ast, walk))
    case "Filter":
    case "Encoding":
      return collectProblems(issue.issue, path, owner, walk)
    case "AnyOf":
      // Members that got past the type test explain the failure best; none did: a plain type mismatch.
      if (issue.issues.length > 0) return issue.issues.forEach((child) => collectProblems(child, path, issue.ast, walk))
      return push(`expected ${expectedOf(issue.ast)}, got ${got()}`)
    case "InvalidType":
      return push(`expected ${expectedOf(issue.ast)}, got ${got()}`)
    case "InvalidValue": {
      const message = issue.annotations?.message
      if (typeof message === "string") return push(message)
      return push(`expected ${owner === undefined ? "a valid value" : expectedOf(owner)}, got ${got()}`)
    }
    case "MissingKey":
      return push("is required")
    case "UnexpectedKey":
      return push(unknownKeyMessage(String(path[path.length - 1] ?? ""), issue.ast))
    case "Forbidden":
      return push(issue.annotations?.message ?? "is not allowed")
    case "OneOf":
      return push(`matches more than one of ${expectedOf(issue.ast)}`)
  }
}

/**
 * The problems of a failed decoding of `root`: one per leaf of the issue tree, each at the field
 * path where it sits, in the order found, without repeats.
 *
 * @category formatting
 * @since 0.1.0
 */
export const problemsOf = (issue: SchemaIssue.Issue, root: unknown): Array<ConfigProblem> => {
  const walk: Walk = { root, out: [] }
  collectProblems(issue, [], undefined, walk)
  const seen = new Set<string>()
  return walk.out.filter((problem) => {
    const key = `${problem.path}\u0000${problem.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

const lineAndColumn = (text: string, position: number): { readonly line: number; readonly column: number } => {
  const before = text.slice(0, position)
  const lines = before.split("\n")
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 }
}

/**
 * What `JSON.parse` of `text` threw, as a problem of the whole file: V8's "at position N" turned
 * into a line and column a person can go to.
 *
 * @category formatting
 * @since 0.1.0
 */
export const jsonSyntaxProblem = (text: string, cause: unknown): ConfigProblem => {
  const raw = cause instanceof Error ? cause.message : String(cause)
  const position = /at position (\d+)/.exec(raw)?.[1]
  const where = lineAndColumn(text, position === undefined ? text.length : Number(position))
  const reason = raw.replace(/\s*(?:in JSON )?at position \d+(?: \(line \d+ column \d+\))?/, "")
  return { path: "", message: `invalid JSON at line ${where.line}, column ${where.column}: ${reason}` }
}
