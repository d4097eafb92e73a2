/**
 * A bounded capture of one output stream of an agent process: the first half of `outputBytesMax`
 * is kept as it arrives, then only a rolling tail of the other half, and the bytes in between are
 * counted, not stored. Memory per stream therefore stays at `outputBytesMax` plus one chunk,
 * however much the agent prints (SPEC F3: head and tail kept, the dropped size stated).
 *
 * The head keeps what identifies a run (codex's `thread.started`), the tail what ends it (the final
 * answer, `turn.completed`), so JSONL output still parses after a cut.
 *
 * Used by `NodeAgent` and `HarnessCheck`. Mutable on purpose: it is fed from a stream's
 * `runForEach` and owned by one call.
 *
 * @since 0.1.0
 */

/**
 * @category models
 * @since 0.1.0
 */
export interface OutputCapture {
  /** Adds one chunk as it arrives. */
  readonly push: (chunk: Uint8Array) => void
  /** Every byte the stream produced, kept or not. */
  readonly totalBytes: () => number
  /** Bytes counted but not kept. */
  readonly droppedBytes: () => number
  /** The kept text; when bytes were dropped, head and tail around one line that says how many. */
  readonly render: () => string
}

/**
 * The line put where bytes were dropped.
 *
 * @category formatting
 * @since 0.1.0
 */
export const droppedMarker = (droppedBytes: number): string =>
  `\n[oompa: ${droppedBytes} bytes of output dropped here; the first and last bytes are kept]\n`

const empty = new Uint8Array(0)

/** A copy of exactly these bytes, so a kept piece never pins the larger buffer it came from. */
const copy = (bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(bytes.byteLength)
  out.set(bytes)
  return out
}

/**
 * A capture keeping at most `outputBytesMax` bytes: half head, half tail.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (outputBytesMax: number): OutputCapture => {
  if (!Number.isInteger(outputBytesMax) || outputBytesMax < 2) throw new Error(`outputBytesMax must be an integer >= 2, got ${outputBytesMax}`)
  const headBytesMax = Math.floor(outputBytesMax / 2)
  const tailBytesMax = outputBytesMax - headBytesMax
  const head: Array<Uint8Array> = []
  let headBytes = 0
  // The tail is a queue of chunks from `tailStart` on; the oldest is trimmed when it overflows.
  // An index instead of `shift` keeps many tiny writes linear; the array is compacted now and then.
  let tail: Array<Uint8Array> = []
  let tailStart = 0
  let tailBytes = 0
  let total = 0

  const pushTail = (chunk: Uint8Array): void => {
    // A chunk larger than the whole tail only contributes its end.
    const kept = chunk.byteLength > tailBytesMax ? chunk.subarray(chunk.byteLength - tailBytesMax) : chunk
    tail.push(copy(kept))
    tailBytes += kept.byteLength
    while (tailBytes > tailBytesMax) {
      const oldest = tail[tailStart]!
      const excess = tailBytes - tailBytesMax
      if (oldest.byteLength <= excess) {
        tail[tailStart] = empty // release the bytes now, not at the next compaction
        tailStart += 1
        tailBytes -= oldest.byteLength
      } else {
        tail[tailStart] = oldest.subarray(excess)
        tailBytes -= excess
      }
    }
    if (tailStart > 1024 && tailStart * 2 > tail.length) {
      tail = tail.slice(tailStart)
      tailStart = 0
    }
  }

  // The last render, until more output arrives (the layer reads it several times after the exit).
  let rendered: string | undefined

  const push = (chunk: Uint8Array): void => {
    rendered = undefined
    total += chunk.byteLength
    const room = headBytesMax - headBytes
    if (room > 0) {
      const taken = chunk.byteLength <= room ? chunk : chunk.subarray(0, room)
      head.push(copy(taken))
      headBytes += taken.byteLength
      if (taken.byteLength < chunk.byteLength) pushTail(chunk.subarray(room))
      return
    }
    pushTail(chunk)
  }

  const decode = (chunks: ReadonlyArray<Uint8Array>): string => {
    const decoder = new TextDecoder("utf-8")
    return chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode()
  }

  const droppedBytes = () => total - headBytes - tailBytes

  return {
    push,
    totalBytes: () => total,
    droppedBytes,
    render: () => {
      if (rendered !== undefined) return rendered
      const dropped = droppedBytes()
      // Nothing dropped: head and tail are contiguous, decode them as one so no character is split.
      rendered = dropped === 0
        ? decode([...head, ...tail.slice(tailStart)])
        : decode(head) + droppedMarker(dropped) + decode(tail.slice(tailStart))
      return rendered
    }
  }
}
