/**
 * Notifications: an asynchronous word of bits (seL4 notifications, QNX pulses, Hubris
 * notification masks). `signal` ORs bits into the word and never blocks; `wait` takes and clears
 * the word, blocking while it is zero; `poll` takes and clears it without blocking. Used as
 * doorbells: many signals before a wait cost one wake-up.
 *
 * | syscall | rights | result | errors |
 * |---|---|---|---|
 * | `create()` | — | slot with every right | `InvalidArgument` (space full) |
 * | `signal(slot, bits?)` | send | — (bits default to the capability's badge, or 1) | `InvalidCapability`, `StaleCapability`, `RightsDenied`, `InvalidArgument` (bits not a non-zero 31-bit integer) |
 * | `wait(slot)` | receive | the word (non-zero) | `InvalidCapability`, `StaleCapability`, `RightsDenied`, `PeerDied` |
 * | `poll(slot)` | receive | the word (0 if none) | `InvalidCapability`, `StaleCapability`, `RightsDenied` |
 */
import { withCaller } from "../kernel/Syscall.js"
import { Effect, Either } from "effect"
import { Capability, Rights } from "../kernel/Capability.js"
import { describe } from "../kernel/boundary.js"
import { InvalidArgument } from "../kernel/errors.js"
import { NumberIsSafeInteger } from "../primordials.js"
import { type Pcb, Process, processOf } from "../kernel/Process.js"
import { type IpcError, PeerDied } from "./errors.js"
import { type Blocker, slotOf } from "./internal/blocking.js"
import { Fifo } from "./internal/fifo.js"

type Resume = (effect: Effect.Effect<number, IpcError>) => void

/** A fiber waiting for bits. */
class BitWaiter implements Blocker {
  resume: Resume | undefined = undefined
  constructor(readonly notification: NotificationObject) {}
  cancel(): void {
    if (this.resume !== undefined) {
      this.resume = undefined
      this.notification.waiters.remove(this)
    }
  }
  abort(error: IpcError): void {
    const resume = this.resume
    this.cancel()
    resume?.(Effect.fail(error))
  }
}

/** The kernel object. Its word and waiters are mutated only in syscalls' synchronous sections. */
export class NotificationObject {
  readonly kind = "notification"
  closed = false
  word = 0
  readonly waiters = new Fifo<BitWaiter>()

  constructor(
    readonly owner: Pcb,
    readonly id: number
  ) {}

  get ownerPid(): number {
    return this.owner.pid
  }

  get ownerGeneration(): number {
    return this.owner.generation
  }

  /** Returns the word and clears it. */
  take(): number {
    const word = this.word
    this.word = 0
    return word
  }

  /** ORs `bits` in; wakes the first waiter with the whole word. */
  signal(bits: number): void {
    this.word |= bits
    const w = this.waiters.shift()
    if (w === undefined) return
    const word = this.take()
    const resume = w.resume!
    w.resume = undefined
    this.owner.kernel.counters.handoffs++
    resume(Effect.succeed(word))
  }

  /** Wakes every waiter with `PeerDied`. */
  close(): void {
    this.closed = true
    for (const w of this.waiters.drain()) {
      const resume = w.resume
      w.resume = undefined
      resume?.(Effect.fail(new PeerDied({ operation: "wait", kind: "notification", object: this.id, pid: this.owner.pid, generation: this.owner.generation })))
    }
  }
}

/** Creates a notification owned by `owner` and puts a capability (every right) in its space. Root-task form. */
export const createFor = (owner: Pcb): Either.Either<Capability, InvalidArgument> => {
  const n = new NotificationObject(owner, owner.kernel.objectId())
  owner.onDeath(() => n.close())
  return owner.kernel.insertObject(owner, n, Rights.all)
}

/** Creates a notification owned by the caller; returns its slot. */
export const create: Effect.Effect<number, InvalidArgument, Process> = withCaller((p) => {
  p.kernel.counters.syscall("notification.create")
  return Either.map(createFor(p), (c) => c.slot)
})

const find = (p: Pcb, slot: number, rights: number, operation: string): Capability | IpcError => p.cspace.find(slot, rights, operation, "notification")

/** ORs `bits` (default: the capability's badge, or 1 when unbadged) into the notification's word. */
export const signal = (slot: number, bits?: number): Effect.Effect<void, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("signal")
    const cap = find(p, slot, Rights.send, "signal")
    if (!(cap instanceof Capability)) return Effect.fail(cap)
    const value = bits ?? (cap.badge || 1)
    if (!NumberIsSafeInteger(value) || value <= 0 || value > 0x7fffffff) {
      return Effect.fail(new InvalidArgument({ operation: "signal", reason: `bits must be an integer in 1..2^31-1, got ${describe(value)}` }))
    }
    p.kernel.counters.doorbells++
    ;(cap.object as NotificationObject).signal(value)
    return Effect.void
  })

/** Waits until the word is non-zero; returns it and clears it. */
export const wait = (slot: number): Effect.Effect<number, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("wait")
    const cap = find(p, slot, Rights.receive, "wait")
    if (!(cap instanceof Capability)) return Effect.fail(cap)
    const n = cap.object as NotificationObject
    if (n.word !== 0) return Effect.succeed(n.take())
    const w = new BitWaiter(n)
    slotOf(fiber).blocked = w
    return Effect.async<number, IpcError>((resume) => {
      w.resume = resume
      n.waiters.push(w)
    })
  })

/** Returns the word (0 when no bit is set) and clears it, without waiting. */
export const poll = (slot: number): Effect.Effect<number, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("poll")
    const cap = find(p, slot, Rights.receive, "poll")
    if (!(cap instanceof Capability)) return Effect.fail(cap)
    return Effect.succeed((cap.object as NotificationObject).take())
  })
