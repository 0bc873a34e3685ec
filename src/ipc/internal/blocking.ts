/**
 * Clean-up of blocked IPC when a fiber goes away.
 *
 * `Effect.async` with a canceler, or `Effect.onInterrupt`, costs 4–10 µs per use on this runtime —
 * more than the whole hand-off. Instead each fiber that blocks in IPC gets one `FiberSlot` and one
 * exit observer (registered once per fiber). Before blocking, the syscall records what it blocks on;
 * if the fiber exits (interrupted by a timeout race, a kill, a parent's interruption), the observer
 * cancels it: a queued message is withdrawn, a waiting receiver leaves the queue and hands back a
 * message delivered to it but not yet taken, a held call's reply will be dropped.
 *
 * Effect interruption always ends the interrupted fiber (`Effect.timeout` runs its effect in a
 * child fiber), so the observer sees every interruption of a blocked syscall.
 */
import type { Fiber } from "effect"
import type { IpcError } from "../errors.js"

/** What a blocked syscall leaves behind for its fiber's exit to clean up. Must be idempotent. */
export interface Blocker {
  /** The fiber went away: undo the wait (withdraw the message, leave the queue, hand a message back). */
  cancel(): void
  /**
   * Ends the wait at once, resuming the fiber with `error`, if it is still waiting: the server a
   * direct call is inside has died, and its pending wait must not outlive it.
   */
  abort(error: IpcError): void
}

/** The blocking record of a fiber: what it waits on now, and the direct calls it is inside (innermost last). */
export class FiberSlot {
  blocked: Blocker | undefined = undefined
  /** The fiber's receive waiter, kept for reuse (a fiber waits on one port at a time). */
  waiter: Blocker | undefined = undefined
  /** Direct calls this fiber is inside, innermost last (see `direct.ts`). */
  readonly frames: Array<Blocker> = []
  /** Interruptions sent to the fiber while inside direct calls, told when it leaves the last (see `direct.ts`); undefined until its first. */
  held: Array<object> | undefined = undefined
}

const slots = new WeakMap<Fiber.RuntimeFiber<unknown, unknown>, FiberSlot>()

/** The slot of `fiber`; must be called on `fiber` itself (it may register the exit observer). */
export const slotOf = (fiber: Fiber.RuntimeFiber<any, any>): FiberSlot => {
  let slot = slots.get(fiber)
  if (slot === undefined) {
    const s = new FiberSlot()
    slot = s
    slots.set(fiber, s)
    fiber.addObserver(() => {
      const b = s.blocked
      s.blocked = undefined
      if (b !== undefined) b.cancel()
      while (s.frames.length > 0) s.frames.pop()!.cancel()
    })
  }
  return slot
}
