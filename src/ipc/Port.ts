/**
 * Ports and the message syscalls: synchronous call/reply (L4 Call, seL4 ReplyRecv, QNX
 * MsgSend/MsgReply), one-way sends into a bounded queue that blocks its senders when full, and
 * zero-timeout variants. Deadlines compose with `Effect.timeout`; the kernel primitive itself has
 * only "wait" and "don't wait" (L4 and seL4 found finite kernel timeouts unusable).
 *
 * | syscall | rights | result | errors |
 * |---|---|---|---|
 * | `create({ capacity })` | — | slot holding every right to a new port | `InvalidArgument` |
 * | `call(slot, msg)` | send (+grant with caps) | the reply | `InvalidMessage`, `InvalidCapability`, `StaleCapability`, `RightsDenied`, `PeerDied` |
 * | `send(slot, msg)` | send (+grant with caps) | — once queued or taken; blocks while full | as `call` |
 * | `trySend(slot, msg)` | send (+grant) | — | as `send`, + `WouldBlock` |
 * | `receive(slot)` | receive | the message, its badge and, for a call, a reply capability | `InvalidCapability`, `StaleCapability`, `RightsDenied`, `PeerDied` |
 * | `tryReceive(slot)` | receive | as `receive` | + `WouldBlock` |
 * | `reply(reply, msg)` | the reply capability | true if delivered, false if the caller had gone (dropped, counted) | `InvalidCapability` (not yours, used), `InvalidMessage`, `RightsDenied` (caps without grant) |
 * | `replyReceive(reply, msg, slot)` | both | as `receive` | as `reply` and `receive` |
 */
import { Effect, Either, type Fiber } from "effect"
import { Capability, Rights } from "../kernel/Capability.js"
import { InvalidArgument, InvalidCapability, RightsDenied } from "../kernel/errors.js"
import type { KernelCore } from "../kernel/Kernel.js"
import { type Pcb, Process } from "../kernel/Process.js"
import { InvalidMessage, type IpcError, WouldBlock } from "./errors.js"
import {
  accept,
  answer,
  Envelope,
  makePort,
  offer,
  Port,
  State,
  takeNext,
  transferCaps,
  Waiter
} from "./internal/port.js"
import { processOf, slotOf } from "./internal/blocking.js"
import { copyInline } from "./internal/inline.js"
import { explain, isValid, type Message, type Received, type Reply, type ReplyMessage } from "./Message.js"

export type { Message, Received, Reply, ReplyMessage } from "./Message.js"

/** Options of `create`. */
export interface PortOptions {
  /** Pending messages the port holds before senders block. 0 (the default) = pure rendezvous. */
  readonly capacity?: number
}

const checkCapacity = (k: KernelCore, options: PortOptions, operation: string): Either.Either<number, InvalidArgument> => {
  const capacity = options.capacity ?? k.config.defaultPortCapacity
  return Number.isInteger(capacity) && capacity >= 0 && capacity <= k.config.maxPortCapacity
    ? Either.right(capacity)
    : Either.left(new InvalidArgument({ operation, reason: `capacity must be an integer in 0..${k.config.maxPortCapacity}, got ${capacity}` }))
}

/**
 * Creates a port owned by `owner` and puts an original capability (every right) to it in
 * `owner`'s space. Root-task form of `create`, for boot code that wires servers and clients.
 */
export const createFor = (owner: Pcb, options: PortOptions = {}): Either.Either<Capability, InvalidArgument> =>
  Either.flatMap(checkCapacity(owner.kernel, options, "port.create"), (capacity) =>
    owner.kernel.insertObject(owner, makePort(owner, capacity), Rights.all)
  )

/** Creates a port owned by the caller; returns the slot of a capability with every right. */
export const create = (options: PortOptions = {}): Effect.Effect<number, InvalidArgument, Process> =>
  Effect.flatMap(Process, (p) => {
    p.kernel.counters.syscall("port.create")
    return Either.map(createFor(p, options), (cap) => cap.slot)
  })

// --- decode -------------------------------------------------------------------------------------

/** Looks up a port capability with `rights`. */
const lookupPort = (p: Pcb, slot: number, rights: number, operation: string): Capability | IpcError =>
  p.cspace.find(slot, rights, operation, "port")

/** Checks a message and the capabilities it transfers; copies its data. The decode half of a send. */
const decodeSend = (p: Pcb, slot: number, msg: Message, operation: string, isCall: boolean): Envelope | IpcError => {
  const k = p.kernel
  if (!isValid(msg, k.config)) return new InvalidMessage({ operation, reason: explain(msg, k.config) })
  const cap = lookupPort(p, slot, Rights.send, operation)
  if (!(cap instanceof Capability)) return cap
  const caps = lookupTransfers(p, cap, slot, msg.caps, operation)
  if (!Array.isArray(caps)) return caps as IpcError
  const data = copyInline(msg.data)
  k.counters.inlineBytes += data.length
  return new Envelope(cap.object as Port, p, msg.label, data, cap.badge, caps, isCall, (cap.rights & Rights.grant) !== 0)
}

/** Looks up the capabilities a message transfers; transferring any needs `grant` on `via`. */
const lookupTransfers = (
  p: Pcb,
  via: Capability | undefined,
  viaSlot: number,
  slots: ReadonlyArray<number> | undefined,
  operation: string
): Array<Capability> | IpcError => {
  if (slots === undefined || slots.length === 0) return NO_CAPS
  if (via !== undefined && (via.rights & Rights.grant) === 0) {
    return new RightsDenied({ slot: viaSlot, operation, needed: ["grant"], held: [] })
  }
  const caps: Array<Capability> = []
  for (const s of slots) {
    const c = p.cspace.find(s, 0, operation)
    if (!(c instanceof Capability)) return c
    caps.push(c)
  }
  return caps
}
const NO_CAPS: Array<Capability> = []

// --- send side ----------------------------------------------------------------------------------

/**
 * Sends `msg` through the port in `slot` and waits for the reply. The kernel makes a one-shot
 * reply capability for the receiver. Interrupting the caller withdraws the message if no receiver
 * took it yet; otherwise the server's eventual reply is dropped and counted.
 */
export const call = (slot: number, msg: Message): Effect.Effect<ReplyMessage, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("call")
    const env = decodeSend(p, slot, msg, "call", true)
    if (!(env instanceof Envelope)) return Effect.fail(env)
    slotOf(fiber).blocked = env
    return Effect.async<ReplyMessage, IpcError>((resume) => {
      env.resume = resume
      offer(env.port, env)
    })
  })

/** Sends one-way: returns once the port has taken the message; blocks while the port is full. */
export const send = (slot: number, msg: Message): Effect.Effect<void, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("send")
    const env = decodeSend(p, slot, msg, "send", false)
    if (!(env instanceof Envelope)) return Effect.fail(env)
    if (offer(env.port, env) !== State.Blocked) return Effect.void
    slotOf(fiber).blocked = env
    return Effect.async<void, IpcError>((resume) => {
      env.resume = resume
    })
  })

/** Sends one-way without waiting: `WouldBlock` (nothing sent) when the port is full. */
export const trySend = (slot: number, msg: Message): Effect.Effect<void, IpcError, Process> =>
  Effect.flatMap(Process, (p) => {
    p.kernel.counters.syscall("trySend")
    const env = decodeSend(p, slot, msg, "trySend", false)
    if (!(env instanceof Envelope)) return Effect.fail(env)
    const port = env.port
    if (port.receivers.length === 0 && port.queue.length >= port.capacity) {
      return Effect.fail(new WouldBlock({ operation: "trySend", port: port.id }))
    }
    offer(port, env)
    return Effect.void
  })

// --- receive side -------------------------------------------------------------------------------

/** Waits on `port` for a message (see `Waiter` for what happens if the fiber goes away). */
const waitOn = (fiber: Fiber.RuntimeFiber<unknown, unknown>, p: Pcb, port: Port): Effect.Effect<Received, IpcError> => {
  const slot = slotOf(fiber)
  const w = slot.waiter instanceof Waiter ? slot.waiter.arm(port, p) : (slot.waiter = new Waiter(port, p))
  slot.blocked = w
  return w.wait
}

const receiveOn = (fiber: Fiber.RuntimeFiber<unknown, unknown>, p: Pcb, port: Port): Effect.Effect<Received, IpcError> => {
  for (;;) {
    const env = takeNext(port)
    if (env === undefined) return waitOn(fiber, p, port)
    if (env.state !== State.Cancelled) return Effect.succeed(accept(p, env))
  }
}

const receivePort = (p: Pcb, slot: number, operation: string): Port | IpcError => {
  const cap = lookupPort(p, slot, Rights.receive, operation)
  return cap instanceof Capability ? (cap.object as Port) : cap
}

/** Waits for a message on the port in `slot`. */
export const receive = (slot: number): Effect.Effect<Received, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("receive")
    const port = receivePort(p, slot, "receive")
    return port instanceof Port ? receiveOn(fiber, p, port) : Effect.fail(port)
  })

/** Takes a message if one is pending; `WouldBlock` otherwise. */
export const tryReceive = (slot: number): Effect.Effect<Received, IpcError, Process> =>
  Effect.flatMap(Process, (p) => {
    p.kernel.counters.syscall("tryReceive")
    const port = receivePort(p, slot, "tryReceive")
    if (!(port instanceof Port)) return Effect.fail(port)
    for (;;) {
      const env = takeNext(port)
      if (env === undefined) return Effect.fail(new WouldBlock({ operation: "tryReceive", port: port.id }))
      if (env.state !== State.Cancelled) return Effect.succeed(accept(p, env))
    }
  })

// --- reply --------------------------------------------------------------------------------------

/** The decode and invoke of a reply; returns whether the caller got it. */
const replyNow = (p: Pcb, reply: Reply, msg: Message, operation: string): Either.Either<boolean, IpcError> => {
  const k = p.kernel
  if (!(reply instanceof Envelope) || reply.holder !== p || (reply.state !== State.Held && reply.state !== State.Cancelled)) {
    return Either.left(new InvalidCapability({ slot: -1, operation, reason: "not a reply capability this process holds (already used, or never received)" }))
  }
  if (!isValid(msg, k.config)) return Either.left(new InvalidMessage({ operation, reason: explain(msg, k.config) }))
  const caps = msg.caps === undefined || msg.caps.length === 0 ? NO_CAPS : lookupTransfers(p, undefined, -1, msg.caps, operation)
  if (!Array.isArray(caps)) return Either.left(caps as IpcError)
  if (caps.length > 0 && !reply.replyMayGrant) {
    return Either.left(new RightsDenied({ slot: -1, operation, needed: ["grant"], held: [] }))
  }
  const data = copyInline(msg.data)
  k.counters.inlineBytes += data.length
  const live = reply.state === State.Held && reply.resume !== undefined
  return Either.right(answer(reply, { label: msg.label, data, caps: live ? transferCaps(caps, reply.sender) : NO_SLOTS }))
}
const NO_SLOTS: ReadonlyArray<number> = []

/**
 * Answers a call. Never blocks. A reply to a caller that has gone is dropped and counted
 * (`repliesDropped`) and returns false. Capabilities in a reply need the caller's capability to
 * have had `grant` (seL4's rule for reply capabilities).
 */
export const reply = (r: Reply, msg: Message): Effect.Effect<boolean, IpcError, Process> =>
  Effect.flatMap(Process, (p) => {
    p.kernel.counters.syscall("reply")
    return replyNow(p, r, msg, "reply")
  })

/** Replies, then waits for the next message on `slot`, in one syscall (seL4 ReplyRecv). */
export const replyReceive = (r: Reply, msg: Message, slot: number): Effect.Effect<Received, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("replyReceive")
    const port = receivePort(p, slot, "replyReceive")
    if (!(port instanceof Port)) return Effect.fail(port)
    const replied = replyNow(p, r, msg, "replyReceive")
    return Either.isLeft(replied) ? Effect.fail(replied.left) : receiveOn(fiber, p, port)
  })
