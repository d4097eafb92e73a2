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
  /**
   * Counts `bytes` that arrived but were dropped before they got here (the spawning helper keeps only
   * a stream's head and tail): the head ends here, and what the tail held before them is dropped too.
   */
  readonly skip: (bytes: number) => void
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

/**
 * How `outputBytesMax` splits into the head and the tail kept.
 *
 * @category constructors
 * @since 0.1.0
 */
export const split = (outputBytesMax: number): { readonly head: number; readonly tail: number } => {
  if (!Number.isInteger(outputBytesMax) || outputBytesMax < 2) throw new Error(`outputBytesMax must be an integer >= 2, got ${outputBytesMax}`)
  const head = Math.floor(outputBytesMax / 2)
  return { head, tail: outputBytesMax - head }
}

/**
 * The bytes to keep: a piece less than half the buffer it views is copied, so that it does not
 * pin that buffer; a larger one is kept as it is (no second copy of every megabyte kept), which
 * keeps at most twice the bytes kept alive (an IPC message's chunk may share its buffer with the
 * messages read with it).
 */
const copy = (bytes: Uint8Array): Uint8Array => {
  if (bytes.byteLength * 2 > bytes.buffer.byteLength) return bytes
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
  const { head: headBytesFull, tail: tailBytesMax } = split(outputBytesMax)
  // Lowered to what the head holds once bytes were skipped: nothing after a gap joins the head.
  let headBytesMax = headBytesFull
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

  const skip = (bytes: number): void => {
    if (bytes <= 0) return
    rendered = undefined
    total += bytes
    headBytesMax = headBytes
    tail = []
    tailStart = 0
    tailBytes = 0
  }

  // One buffer, one decode: the kept megabytes are copied once and decoded once. Decoding the
  // marker's ASCII between head and tail gives what decoding each apart gives — a character cut at
  // either end becomes U+FFFD either way — except that a U+FEFF starting the tail is kept (a
  // decoder of its own took it for a byte-order mark).
  const decode = (pieces: ReadonlyArray<Uint8Array>): string => {
    const all = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.byteLength, 0))
    let at = 0
    for (const piece of pieces) {
      all.set(piece, at)
      at += piece.byteLength
    }
    return new TextDecoder("utf-8").decode(all)
  }

  const droppedBytes = () => total - headBytes - tailBytes

  return {
    push,
    skip,
    totalBytes: () => total,
    droppedBytes,
    render: () => {
      if (rendered !== undefined) return rendered
      const dropped = droppedBytes()
      // Nothing dropped: head and tail are contiguous, so no character is split between them.
      const marker = dropped === 0 ? [] : [new TextEncoder().encode(droppedMarker(dropped))]
      rendered = decode([...head, ...marker, ...tail.slice(tailStart)])
      return rendered
    }
  }
}
