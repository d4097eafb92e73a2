/**
 * The memory repository's shas: deterministic, 40 hex characters, from a non-cryptographic 64-bit
 * hash (core has no `node:*` imports, so no crypto). The same operations always give the same shas,
 * which is what lets a simulated seed replay to the same trace.
 *
 * A commit's sha folds its message, its parents in order, and its tree's size and digest. A tree's
 * digest is the lane-wise sum (mod 2^32) of its entries' hashes: a sum does not depend on insertion
 * order, and changing one entry is a subtraction and an addition, so a derived tree's digest costs
 * O(changed entries), not a rehash of the tree.
 *
 * @since 0.1.0
 */
import type { FileContent } from "./tree.ts"

/** A 64-bit hash as two 32-bit lanes. */
export interface Lanes {
  lo: number
  hi: number
}

// cyrb53's two lanes, both kept whole: one pass over the text.
const hashText = (text: string, seed: number): Lanes => {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return { lo: h1 >>> 0, hi: h2 >>> 0 }
}

// murmur3's finalizer: every input bit affects every output bit.
const fmix = (word: number): number => {
  let h = Math.imul(word ^ (word >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

// Folds a 32-bit word into the lanes; the order of folds matters, as it must for a commit's parents.
const fold = (lanes: Lanes, word: number): void => {
  lanes.lo = fmix(lanes.lo ^ word)
  lanes.hi = fmix((lanes.hi + Math.imul(word ^ 0x9e3779b9, 0x27d4eb2f) + lanes.lo) | 0)
}

const hex8 = (word: number): string => (word >>> 0).toString(16).padStart(8, "0")

// 40 hex digits: the lanes themselves, then three words mixed from them to fill a sha's width.
const sha40 = (lanes: Lanes): string =>
  hex8(lanes.lo) + hex8(lanes.hi) + [1, 2, 3].map((k) => hex8(fmix(lanes.lo ^ Math.imul(k, 0x9e3779b9)) ^ lanes.hi)).join("")

// A sha's first 16 digits are its lanes: how a commit's sha enters its children's.
const lanesOfSha = (sha: string): Lanes => ({ lo: parseInt(sha.slice(0, 8), 16), hi: parseInt(sha.slice(8, 16), 16) })

const bytesAsText = (bytes: Uint8Array): string => {
  let out = ""
  for (const byte of bytes) out += String.fromCharCode(byte)
  return out
}

/** Adds (`sign` 1) or removes (`sign` -1) the hash of one tree entry, `path` holding `content`, to a digest. */
export const applyEntry = (digest: Lanes, path: string, content: FileContent, sign: 1 | -1): void => {
  const entry = hashText(path, 3)
  // Different seeds keep the text "1" and the bytes [49] apart.
  const { hi, lo } = typeof content === "string" ? hashText(content, 1) : hashText(bytesAsText(content), 2)
  fold(entry, lo)
  fold(entry, hi)
  digest.lo = (digest.lo + sign * entry.lo) >>> 0
  digest.hi = (digest.hi + sign * entry.hi) >>> 0
}

/** A commit's sha: its message, parents in order, and tree (size and digest), folded into 64 bits. */
export const commitSha = (message: string, parents: ReadonlyArray<string>, size: number, digest: Readonly<Lanes>): string => {
  const lanes = hashText(message, 4)
  for (const parent of parents) {
    const { hi, lo } = lanesOfSha(parent)
    fold(lanes, lo)
    fold(lanes, hi)
  }
  for (const word of [parents.length, size, digest.lo, digest.hi]) fold(lanes, word)
  return sha40(lanes)
}
