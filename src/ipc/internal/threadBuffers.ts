/**
 * Thread buffers (an L4 UTCB's buffer registers): each thread's message buffer in its own process's
 * memory, where a spilled request is staged for the kernel to copy out and a spilled reply lands.
 * The only effects are the memory syscalls that make a buffer.
 *
 * Invariant: a thread buffer is used by one fiber at a time: the fiber that holds it is blocked in
 * its call while the kernel copies into or out of it, and it returns to its process's pool only
 * when that fiber has ended.
 */
import { Effect, type Fiber } from "effect"
import { allocate } from "../../kernel/Memory.js"
import type { Pcb, Process } from "../../kernel/Process.js"
import { PAGE_SIZE } from "../../params.js"
import type { IpcError } from "../errors.js"
import type { Window } from "../Message.js"

/**
 * A thread's message buffer (an L4 UTCB's buffer registers): where its spilled request is staged
 * for the kernel to copy out, and the window its spilled reply lands in. The request is copied out
 * at delivery, strictly before any reply can be copied in, so one buffer serves both.
 */
export class ThreadBuffer {
  /** The receive windows to pass to a syscall: this buffer alone. */
  readonly windows: ReadonlyArray<Window>
  /** `{ windows }`, ready to pass as syscall options. */
  readonly options: { readonly windows: ReadonlyArray<Window> }
  constructor(
    /** The process whose memory holds it. */
    readonly owner: Pcb,
    readonly address: number,
    readonly length: number
  ) {
    this.windows = [{ address, length }]
    this.options = { windows: this.windows }
  }
}

/**
 * Buffers held by live fibers — one per process a fiber acts for (its own, and the servers it
 * runs direct calls in) — and buffers of ended fibers ready for reuse, per process. Module-level,
 * keyed weakly; written by the owning fibers only (`acquireBuffer` on the fiber itself, the
 * fiber's exit observer when it ends).
 */
const held = new WeakMap<Fiber.RuntimeFiber<unknown, unknown>, Array<ThreadBuffer>>()
const pools = new WeakMap<Pcb, Array<ThreadBuffer>>()

const poolOf = (p: Pcb): Array<ThreadBuffer> => {
  let pool = pools.get(p)
  if (pool === undefined) pools.set(p, (pool = []))
  return pool
}

/** The buffer `fiber` already holds in `p`'s memory, if it is at least `length` bytes. Synchronous and cheap. */
export const heldBuffer = (fiber: Fiber.RuntimeFiber<unknown, unknown>, p: Pcb, length: number): ThreadBuffer | undefined => {
  const mine = held.get(fiber)
  if (mine === undefined) return undefined
  for (let i = 0; i < mine.length; i++) {
    const b = mine[i]!
    if (b.owner === p) return b.length >= length ? b : undefined
  }
  return undefined
}

/**
 * Gives `fiber` (acting for process `p`) a buffer of at least `length` bytes in `p`'s memory: one
 * from `p`'s pool, or fresh pages. The buffer goes back to the pool when the fiber ends. Errors:
 * `OutOfMemory`.
 */
export const acquireBuffer = (fiber: Fiber.RuntimeFiber<unknown, unknown>, p: Pcb, length: number): Effect.Effect<ThreadBuffer, IpcError, Process> => {
  const free = poolOf(p)
  const adopt = (b: ThreadBuffer): ThreadBuffer => {
    let mine = held.get(fiber)
    if (mine === undefined) {
      const list: Array<ThreadBuffer> = []
      mine = list
      held.set(fiber, list)
      fiber.addObserver(() => {
        held.delete(fiber)
        for (const buffer of list) poolOf(buffer.owner).push(buffer)
      })
    }
    const previous = mine.findIndex((x) => x.owner === p)
    if (previous >= 0) free.push(mine.splice(previous, 1)[0]!)
    mine.push(b)
    return b
  }
  const i = free.findIndex((b) => b.length >= length)
  if (i >= 0) return Effect.succeed(adopt(free.splice(i, 1)[0]!))
  const pages = Math.max(1, Math.ceil(length / PAGE_SIZE))
  return Effect.map(allocate(pages), (address) => adopt(new ThreadBuffer(p, address, pages * PAGE_SIZE)))
}
