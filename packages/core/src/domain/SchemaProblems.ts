/**
 * A decoding failure as one line a person reads: each problem as `path: message`, joined by `; `.
 * Used wherever oompa decodes what it did not write itself (task files, run logs, an agent
 * function's reply), so their messages read alike.
 *
 * @since 0.1.0
 */
import { SchemaIssue } from "effect"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * One line for an issue: `summary: Expected a value with a length of at least 1; …`.
 *
 * @category formatting
 * @since 0.1.0
 */
export const formatIssue = (issue: SchemaIssue.Issue): string =>
  formatter(issue).issues
    .map((i) => {
      const at = (i.path ?? []).map((p) => (typeof p === "object" ? String(p.key) : String(p))).join(".")
      return at === "" ? i.message : `${at}: ${i.message}`
    })
    .join("; ")
