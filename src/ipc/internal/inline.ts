/**
 * The kernel's copies of inline message data ("message registers").
 *
 * `Uint8Array.prototype.slice` of a few hundred bytes costs ~2 µs on V8 (each new backing store is
 * an external allocation) — as much as a whole call. The kernel instead copies into 64 KiB chunks,
 * bump-allocated and never reused: each copy is a view into the current chunk, and a chunk is
 * garbage once no message views it.
 *
 * Isolation: a view exposes its whole chunk (`data.buffer`), so every process has chunks of its
 * own, and only data addressed *to* that process is ever copied into them. A process can see
 * nothing in its chunks but messages it received. Copies of up to 64 bytes are arrays of their own
 * on V8's heap (a bump allocation: cheaper still, and they expose nothing else).
 */
import type { Pcb } from "../../kernel/Process.js"

const CHUNK = 65536
/** Arrays up to this many bytes are allocated on V8's heap (no backing store outside it). */
const ON_HEAP = 64

interface Chunk {
  bytes: Uint8Array
  used: number
}

const chunks = new WeakMap<Pcb, Chunk>()

/** An empty array shared by messages without inline data (length 0: nothing to see or write). */
export const EMPTY = new Uint8Array(0)

/** A copy of `data` (at most `inlineMax` bytes) that only `receiver` can ever see. */
export const copyInline = (data: Uint8Array | undefined, receiver: Pcb): Uint8Array => {
  const n = data === undefined ? 0 : data.length
  if (n === 0) return EMPTY
  if (n <= ON_HEAP) {
    // Small arrays live on V8's heap: a bump allocation, cheaper than a view into a chunk.
    const own = new Uint8Array(n)
    own.set(data!)
    return own
  }
  let c = chunks.get(receiver)
  if (c === undefined || c.used + n > CHUNK) {
    c = { bytes: new Uint8Array(CHUNK), used: 0 }
    chunks.set(receiver, c)
  }
  const copy = c.bytes.subarray(c.used, c.used + n)
  copy.set(data!)
  c.used += (n + 7) & ~7
  return copy
}
