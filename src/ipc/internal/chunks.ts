/**
 * Copies of small byte strings that cost no allocation outside V8's heap.
 *
 * `Uint8Array.prototype.slice` of a few hundred bytes costs ~2 µs on V8 (each new backing store is
 * an external allocation), as much as a whole call. A `Chunks` instead copies into 64 KiB chunks,
 * bump-allocated and never reused: each copy is a view into the current chunk, and a chunk is
 * garbage once nothing views it. Copies of up to `ON_HEAP` bytes are arrays of their own on V8's
 * heap (a bump allocation, cheaper still).
 *
 * A view exposes its whole chunk (`view.buffer`): whoever owns a `Chunks` decides who may see
 * what lands in it (the kernel keeps one per receiving process, see `inline.ts`).
 */

import { TypedArrayPrototypeGetLength, TypedArrayPrototypeSet, TypedArrayPrototypeSlice, TypedArrayPrototypeSubarray } from "../../primordials.js"

/** Bytes in one chunk. */
const CHUNK = 65536
/** Copies up to this many bytes are arrays of their own, on V8's heap. */
export const ON_HEAP = 64

/** An empty array to share (length 0: nothing to see or write). */
export const EMPTY = new Uint8Array(0)

/** A bump allocator of byte copies (see the module header). Owned by one holder, used synchronously. */
export class Chunks {
  private bytes = new Uint8Array(CHUNK)
  private used = 0

  /** A copy of `source[start, end)` that is never written again: its own array, or a view of a chunk. */
  copy(source: Uint8Array, start = 0, end = TypedArrayPrototypeGetLength(source)): Uint8Array {
    const n = end - start
    if (n === 0) return EMPTY
    const whole = start === 0 && end === TypedArrayPrototypeGetLength(source) ? source : TypedArrayPrototypeSubarray(source, start, end)
    if (n <= ON_HEAP) {
      const own = new Uint8Array(n)
      TypedArrayPrototypeSet(own, whole)
      return own
    }
    if (n > CHUNK) return TypedArrayPrototypeSlice(whole)
    if (this.used + n > CHUNK) {
      this.bytes = new Uint8Array(CHUNK)
      this.used = 0
    }
    const out = TypedArrayPrototypeSubarray(this.bytes, this.used, this.used + n)
    TypedArrayPrototypeSet(out, whole)
    this.used += (n + 7) & ~7
    return out
  }
}
