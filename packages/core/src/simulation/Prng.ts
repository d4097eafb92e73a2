/**
 * The simulation's one source of randomness: a seeded mulberry32 generator, ours so that a seed
 * replays the same run across Effect upgrades (Effect's own algorithm is internal).
 *
 * @since 0.1.0
 */

/**
 * @category models
 * @since 0.1.0
 */
export interface Prng {
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max], both included. */
  readonly int: (min: number, max: number) => number
  /** `true` with probability `p`. */
  readonly chance: (p: number) => boolean
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  /** A fresh generator seeded from this one: one per subsystem, so adding draws in one keeps the others' streams. */
  readonly fork: () => Prng
}

/**
 * @category constructors
 * @since 0.1.0
 */
export const make = (seed: number): Prng => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = Math.imul(state ^ (state >>> 15), state | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const prng: Prng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    fork: () => make(Math.floor(next() * 4294967296))
  }
  return prng
}

/**
 * An incremental hash of a trace: two 32-bit FNV-1a lanes with different offsets, shown as 16 hex
 * characters. Not cryptographic; it only has to tell two traces apart.
 *
 * @category hashing
 * @since 0.1.0
 */
export class TraceHash {
  private a = 0x811c9dc5
  private b = 0x01000193 ^ 0x9e3779b9
  add(text: string): void {
    let a = this.a
    let b = this.b
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      a = Math.imul(a ^ c, 0x01000193)
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 13)
    }
    this.a = a
    this.b = b
  }
  get hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, "0") + (this.b >>> 0).toString(16).padStart(8, "0")
  }
}
