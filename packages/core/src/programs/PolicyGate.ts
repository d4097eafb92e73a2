/**
 * The policy gate (SPEC F7): enforced on the change before review and on the merge result, never
 * just printed into a prompt.
 *
 * Pure: a policy and a list of file changes in, the violations out (empty: the change passes).
 * Always-denied paths apply whatever the config says.
 *
 * @since 0.1.0
 */
import picomatch from "picomatch"
import { alwaysDenied, normalizeGlob, type Policy } from "../domain/Policy.ts"
import { policyLines } from "../domain/Prompt.ts"
import type { FileChange } from "../services/Git.ts"

const matcherOptions = { dot: true } as const

/**
 * A compiled policy: globs compiled once per run, not once per file.
 *
 * @category models
 * @since 0.1.0
 */
export interface PolicyGate {
  readonly check: (changes: ReadonlyArray<FileChange>) => ReadonlyArray<string>
  /** Whether the policy denies `path` (the always-denied paths included). */
  readonly isDenied: (path: string) => boolean
  /** The policy as short lines for prompts and the context header. */
  readonly lines: ReadonlyArray<string>
}

/**
 * Compiles a policy for a run whose task folder is `tasksDir`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (policy: Policy, tasksDir: string): PolicyGate => {
  const denied = [...alwaysDenied(tasksDir), ...(policy.deny ?? [])].flatMap(normalizeGlob)
  const isDenied = picomatch(denied, matcherOptions)
  const isAllowed = policy.allow === undefined || policy.allow.length === 0
    ? () => true
    : picomatch(policy.allow.flatMap(normalizeGlob), matcherOptions)
  const check = (changes: ReadonlyArray<FileChange>): ReadonlyArray<string> => {
    const violations: Array<string> = []
    let added = 0
    let deleted = 0
    for (const change of changes) {
      added += change.added
      deleted += change.deleted
      if (isDenied(change.path)) violations.push(`${change.path}: path is denied by policy`)
      else if (!isAllowed(change.path)) violations.push(`${change.path}: path is outside the allowed paths (${(policy.allow ?? []).join(", ")})`)
      if (change.binary && policy.allow_binary === false) violations.push(`${change.path}: binary files are not allowed`)
    }
    if (policy.max_files !== undefined && changes.length > policy.max_files) {
      violations.push(`${changes.length} files changed; the limit is ${policy.max_files}`)
    }
    if (policy.max_lines_added !== undefined && added > policy.max_lines_added) {
      violations.push(`${added} lines added; the limit is ${policy.max_lines_added}`)
    }
    if (policy.max_lines_deleted !== undefined && deleted > policy.max_lines_deleted) {
      violations.push(`${deleted} lines deleted; the limit is ${policy.max_lines_deleted}`)
    }
    return violations
  }
  return { check, isDenied: (path) => isDenied(path), lines: policyLines(policy, alwaysDenied(tasksDir)) }
}
