/**
 * The chain of commits main moved through by this process's compare-and-swaps, in order. Each move
 * was checked to go forward (the new commit descends from the old), so of two commits on the chain
 * the earlier is an ancestor of the later: `isAncestor` answers from the order, reading no commit.
 * A merge onto a main that moved a few dozen times since the iteration began walked that many
 * commits under the merge queue's lock (~150 ms a landing at 16 workers; issue 17).
 *
 * Internal: used by `gitRepo` and `gitLanding`.
 *
 * @since 0.1.0
 */

/** Commit → its place on the chain, and the place of the newest. */
export interface Chain {
  readonly places: Map<string, number>
  last: number
}

/** An empty chain. */
export const empty = (): Chain => ({ places: new Map(), last: -1 })

/** How many of main's commits the chain remembers. */
const chainMax = 10_000

/**
 * Records that main moved from `from` to `to` by a compare-and-swap that checked `to` descends from
 * `from`. A move that does not continue the chain (main moved elsewhere meanwhile) starts it again.
 */
export const recordMainMove = (chain: Chain, from: string, to: string): void => {
  if (chain.places.get(from) !== chain.last || chain.last < 0) {
    chain.places.clear()
    chain.places.set(from, 0)
    chain.last = 0
  }
  chain.places.set(to, ++chain.last)
  if (chain.places.size > chainMax) chain.places.delete(chain.places.keys().next().value!)
}

/** Whether `ancestor` is `descendant` or one of its ancestors, when both are on the chain; else `undefined`. */
export const ordered = (chain: Chain, ancestor: string, descendant: string): boolean | undefined => {
  const a = chain.places.get(ancestor)
  const d = chain.places.get(descendant)
  return a === undefined || d === undefined ? undefined : a <= d
}
