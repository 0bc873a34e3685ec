/**
 * The kernel's copies of inline message data ("message registers"), made with `Chunks`.
 *
 * Isolation: a chunk's views expose the whole chunk (`data.buffer`), so every process has chunks
 * of its own, and only data addressed *to* that process is ever copied into them. A process can
 * see nothing in its chunks but messages it received.
 */
import type { Pcb } from "../../kernel/Process.js"
import { Chunks, EMPTY } from "./chunks.js"

export { EMPTY } from "./chunks.js"

/** Each process's chunks. Owned by the kernel: written only in syscalls' synchronous sections. */
const chunks = new WeakMap<Pcb, Chunks>()

/** A copy of `data` (at most `inlineMax` bytes) that only `receiver` can ever see. */
export const copyInline = (data: Uint8Array | undefined, receiver: Pcb): Uint8Array => {
  if (data === undefined || data.length === 0) return EMPTY
  let c = chunks.get(receiver)
  if (c === undefined) chunks.set(receiver, (c = new Chunks()))
  return c.copy(data)
}
