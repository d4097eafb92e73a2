/**
 * What the memory repository does with the content of files: line diffs (the counts of `diffStat`
 * and the hunks of `diffText`, as git prints them) and three-way merges of one file — git's rules for
 * one-sided changes, deletions and binary files, and diff3 (via `node-diff3`) with conflict markers
 * for text both sides changed.
 *
 * @since 0.1.0
 */
import { diff3Merge, diffComm } from "node-diff3"
import type { FileChange } from "../../services/Git.ts"
import { type FileContent, sameContent } from "./tree.ts"

// Lines keep their terminator, so "a" and "a\n" differ as they do for git.
const splitLines = (text: string): Array<string> => text.match(/[^\n]*\n|[^\n]+$/g) ?? []

const withNewline = (line: string): string => line.endsWith("\n") ? line : `${line}\n`

interface LineOp {
  readonly kind: " " | "-" | "+"
  readonly line: string
}

// A line diff (the longest common subsequence of the lines, via `node-diff3`).
const lineOps = (before: string, after: string): Array<LineOp> => {
  const ops: Array<LineOp> = []
  for (const part of diffComm(splitLines(before), splitLines(after))) {
    if (part.common !== undefined) ops.push(...part.common.map((line): LineOp => ({ kind: " ", line })))
    else {
      ops.push(...part.buffer1.map((line): LineOp => ({ kind: "-", line })))
      ops.push(...part.buffer2.map((line): LineOp => ({ kind: "+", line })))
    }
  }
  return ops
}

// [start, stop) ranges of `ops` that form hunks with `context` lines around each change.
const hunkRanges = (ops: ReadonlyArray<LineOp>, context: number): Array<readonly [number, number]> => {
  const changes = ops.flatMap((op, index) => op.kind === " " ? [] : [index])
  const ranges: Array<[number, number]> = []
  for (const index of changes) {
    const start = Math.max(0, index - context)
    const stop = Math.min(ops.length, index + 1 + context)
    const last = ranges[ranges.length - 1]
    if (last !== undefined && start <= last[1]) last[1] = stop
    else ranges.push([start, stop])
  }
  return ranges
}

const renderHunks = (ops: ReadonlyArray<LineOp>): Array<string> => {
  const oldBefore: Array<number> = []
  const newBefore: Array<number> = []
  let oldCount = 0
  let newCount = 0
  for (const op of ops) {
    oldBefore.push(oldCount)
    newBefore.push(newCount)
    if (op.kind !== "+") oldCount++
    if (op.kind !== "-") newCount++
  }
  const out: Array<string> = []
  for (const [start, stop] of hunkRanges(ops, 3)) {
    const slice = ops.slice(start, stop)
    const oldLines = slice.filter((op) => op.kind !== "+").length
    const newLines = slice.filter((op) => op.kind !== "-").length
    const oldStart = (oldBefore[start] ?? 0) + (oldLines === 0 ? 0 : 1)
    const newStart = (newBefore[start] ?? 0) + (newLines === 0 ? 0 : 1)
    out.push(`@@ -${oldStart},${oldLines} +${newStart},${newLines} @@`)
    for (const op of slice) {
      out.push(`${op.kind}${op.line.endsWith("\n") ? op.line.slice(0, -1) : op.line}`)
      if (!op.line.endsWith("\n")) out.push("\\ No newline at end of file")
    }
  }
  return out
}

/** One file's change from `before` to `after` (`undefined`: absent), lines counted. */
export const fileChange = (path: string, before: FileContent | undefined, after: FileContent | undefined): FileChange => {
  const status = before === undefined ? "added" : after === undefined ? "deleted" : "modified"
  const binary = before instanceof Uint8Array || after instanceof Uint8Array
  if (binary) return { path, status, added: 0, deleted: 0, binary }
  const ops = lineOps(before ?? "", after ?? "")
  return {
    path,
    status,
    added: ops.filter((op) => op.kind === "+").length,
    deleted: ops.filter((op) => op.kind === "-").length,
    binary
  }
}

/** One file's part of a unified diff, as lines. */
export const fileDiffText = (path: string, before: FileContent | undefined, after: FileContent | undefined): Array<string> => {
  const out = [`diff --git a/${path} b/${path}`]
  if (before === undefined) out.push("new file")
  if (after === undefined) out.push("deleted file")
  const from = before === undefined ? "/dev/null" : `a/${path}`
  const to = after === undefined ? "/dev/null" : `b/${path}`
  if (before instanceof Uint8Array || after instanceof Uint8Array) {
    out.push(`Binary files ${from} and ${to} differ`)
    return out
  }
  out.push(`--- ${from}`, `+++ ${to}`)
  out.push(...renderHunks(lineOps(before ?? "", after ?? "")))
  return out
}

/** One file merged: its content, and whether it conflicted. */
export interface FileMerge {
  readonly conflict: boolean
  /** The merged content; for a conflict, what the working file should hold (markers for text). */
  readonly content: FileContent | undefined
}

/** The names conflict markers carry for each side. */
export interface MarkerLabels {
  readonly ours: string
  readonly theirs: string
}

const mergeText = (base: string, ours: string, theirs: string, labels: MarkerLabels): FileMerge => {
  let conflict = false
  let content = ""
  for (const region of diff3Merge(splitLines(ours), splitLines(base), splitLines(theirs))) {
    if (region.ok !== undefined) content += region.ok.join("")
    if (region.conflict !== undefined) {
      conflict = true
      content += `<<<<<<< ${labels.ours}\n${region.conflict.a.map(withNewline).join("")}=======\n` +
        `${region.conflict.b.map(withNewline).join("")}>>>>>>> ${labels.theirs}\n`
    }
  }
  return { conflict, content }
}

/** git's per-file rules: a side that did not change yields to the other; anything else needs diff3. */
export const mergeFile = (
  base: FileContent | undefined,
  ours: FileContent | undefined,
  theirs: FileContent | undefined,
  labels: MarkerLabels
): FileMerge => {
  if (sameContent(ours, theirs)) return { conflict: false, content: ours }
  if (sameContent(base, ours)) return { conflict: false, content: theirs }
  if (sameContent(base, theirs)) return { conflict: false, content: ours }
  // Deleted on one side and changed on the other: the changed version stays in the working tree.
  if (ours === undefined || theirs === undefined) return { conflict: true, content: ours ?? theirs }
  if (typeof ours !== "string" || typeof theirs !== "string" || (base !== undefined && typeof base !== "string")) {
    return { conflict: true, content: ours }
  }
  return mergeText(base ?? "", ours, theirs, labels)
}
