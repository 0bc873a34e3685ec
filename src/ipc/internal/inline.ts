/**
 * The kernel's copies of inline message data.
 *
 * `Uint8Array.prototype.slice` of a few hundred bytes costs ~2 µs on V8 (each new backing store is
 * an external allocation) — as much as a whole call. The kernel instead copies into 64 KiB chunks,
 * bump-allocated and never reused: each copy is a view into the current chunk, and a chunk is
 * garbage once no message views it. A receiver's `data` is thus its own, immutable by the sender.
 */
const CHUNK = 65536
let chunk = new Uint8Array(CHUNK)
let used = 0

/** An empty array shared by messages without inline data (never written: length 0). */
export const EMPTY = new Uint8Array(0)

/** A private copy of `data` (at most `inlineMax` bytes, so always far below a chunk). */
export const copyInline = (data: Uint8Array | undefined): Uint8Array => {
  const n = data === undefined ? 0 : data.length
  if (n === 0) return EMPTY
  if (used + n > CHUNK) {
    chunk = new Uint8Array(CHUNK)
    used = 0
  }
  const copy = chunk.subarray(used, used + n)
  copy.set(data!)
  used += (n + 7) & ~7
  return copy
}
