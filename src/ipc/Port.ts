/**
 * Ports and the message syscalls: synchronous call/reply (L4 Call, seL4 ReplyRecv, QNX
 * MsgSend/MsgReply), one-way sends into a bounded queue that blocks its senders when full, and
 * zero-timeout variants. Deadlines compose with `Effect.timeout`; the kernel primitive itself has
 * only "wait" and "don't wait" (L4 and seL4 found finite kernel timeouts unusable).
 *
 * Every syscall here reads what the program passes exactly once (`internal/snapshot.ts`), checks
 * the snapshot, and only then acts: a getter, a proxy or a wrong type is `InvalidMessage` (the
 * message) or `InvalidArgument` (options), naming the field, and changes nothing.
 *
 * | syscall | rights | result | errors |
 * |---|---|---|---|
 * | `create({ capacity, disconnects })` | — | slot holding every right to a new port | `InvalidArgument` |
 * | `call(slot, msg, { windows, pages })` | send (+grant with caps or pages) | the reply | `InvalidMessage`, `InvalidArgument`, `InvalidCapability`, `StaleCapability`, `RightsDenied`, `PeerDied`, `MessageTooLarge`, `NotAccepted`, `PageFault`, `OutOfMemory` |
 * | `send(slot, msg)` | send (+grant with caps or pages) | — once queued or taken; blocks while full | as `call` |
 * | `trySend(slot, msg)` | send (+grant) | — | as `send`, + `WouldBlock` |
 * | `receive(slot, { windows, pages })` | receive | the message, its badge and, for a call, a reply capability | `InvalidArgument`, `InvalidCapability`, `StaleCapability`, `RightsDenied`, `PeerDied`, `PageFault` (a window) |
 * | `tryReceive(slot, options)` | receive | as `receive` | + `WouldBlock` |
 * | `reply(reply, msg)` | the reply capability | true if delivered, false if the caller had gone (dropped, counted) | `InvalidCapability` (not yours, used), `InvalidMessage`, `RightsDenied` (caps or pages without grant), `MessageTooLarge`, `NotAccepted` |
 * | `replyReceive(reply, msg, slot, options)` | both | as `receive` | as `reply` and `receive` |
 *
 * A receiver gets pages by map and grant items only up to the `pages` it declares (in `receive`'s
 * options, or in `call`'s for the reply): L4's receive window for mappings. A message with more
 * is refused as a whole with `NotAccepted` to its sender; nothing ever lands unasked.
 */
import { Effect, Either, Exit, type Fiber } from "effect"
import { bool, describe, field, intField, object, Refusal } from "../kernel/boundary.js"
import { Capability, Rights } from "../kernel/Capability.js"
import { InvalidArgument, InvalidCapability, RightsDenied } from "../kernel/errors.js"
import { type Pcb, Process, processOf } from "../kernel/Process.js"
import { withCaller } from "../kernel/Syscall.js"
import { InvalidMessage, type IpcError, WouldBlock } from "./errors.js"
import { type FiberSlot, slotOf } from "./internal/blocking.js"
import { DirectEntry, DirectFrame, type DirectHandler } from "./internal/direct.js"
import { ON_HEAP } from "./internal/chunks.js"
import { copyInline, EMPTY } from "./internal/inline.js"
import { deliver, type Destination, discard, prepare, type Prepared } from "./internal/items.js"
import { accept, Answer, answer, Envelope, envelopeOf, makePort, offer, Port, State, takeNext, transferCaps, Waiter } from "./internal/port.js"
import { type MessageSnapshot, NO_OPTIONS, readMessage, readReceiveOptions, ReceiveSnapshot } from "./internal/snapshot.js"
import type { DeliveredItem, Message, Received, Reply, ReplyMessage, Window } from "./Message.js"

export type { DeliveredItem, Lease, Message, Received, Reply, ReplyMessage, TransferItem, Window } from "./Message.js"
export type { DirectHandler } from "./internal/direct.js"

/** Options of `receive`, `tryReceive` and `replyReceive`. */
export interface ReceiveOptions {
  /** Buffers in the receiver's space where the message's copy items land, in order. */
  readonly windows?: ReadonlyArray<Window>
  /** Most pages the receiver takes by map and grant items in one message. Default 0. */
  readonly pages?: number
}

/** Options of `call`. */
export interface CallOptions {
  /** Buffers in the caller's space where the reply's copy items land, in order. */
  readonly windows?: ReadonlyArray<Window>
  /** Most pages the caller takes by map and grant items in the reply. Default 0. */
  readonly pages?: number
}

/** Options of `create`. */
export interface PortOptions {
  /** Pending messages the port holds before senders block. 0 (the default) = pure rendezvous. */
  readonly capacity?: number
  /**
   * Announce the death of a client that held a badged capability to the port: the owner receives
   * a one-way message labelled `Labels.DISCONNECT` with that badge (so a server can drop its state).
   */
  readonly disconnects?: boolean
}

/** Reads `create`'s options once. */
const readPortOptions = (p: Pcb, options: unknown, operation: string): { readonly capacity: number; readonly disconnects: boolean } | InvalidArgument => {
  const k = p.kernel
  const o = options === undefined ? {} : object(options, "options")
  if (o instanceof Refusal) return new InvalidArgument({ operation, reason: o.text })
  const capacity = intField(o, "capacity", "options.capacity", 0, k.config.maxPortCapacity, k.config.defaultPortCapacity)
  if (capacity instanceof Refusal) return new InvalidArgument({ operation, reason: capacity.text })
  const d = field(o, "disconnects", "options.disconnects")
  const disconnects = d instanceof Refusal ? d : bool(d, "options.disconnects", false)
  if (disconnects instanceof Refusal) return new InvalidArgument({ operation, reason: disconnects.text })
  return { capacity, disconnects }
}

/**
 * Creates a port owned by `owner` and puts an original capability (every right) to it in
 * `owner`'s space. Root-task form of `create`, for boot code that wires servers and clients.
 * Errors: `InvalidArgument` (bad options, space full).
 */
export const createFor = (owner: Pcb, options: PortOptions = {}): Either.Either<Capability, InvalidArgument> => {
  const o = readPortOptions(owner, options, "port.create")
  if (o instanceof InvalidArgument) return Either.left(o)
  return owner.kernel.insertObject(owner, makePort(owner, o.capacity, o.disconnects), Rights.all)
}

/** Creates a port owned by the caller; returns the slot of a capability with every right. Errors: `InvalidArgument`. */
export const create = (options?: PortOptions): Effect.Effect<number, InvalidArgument, Process> =>
  withCaller((p) => {
    p.kernel.counters.syscall("port.create")
    return Either.map(createFor(p, options), (cap) => cap.slot)
  })

// --- decode -------------------------------------------------------------------------------------

/** Looks up a port capability with `rights`. */
const lookupPort = (p: Pcb, slot: number, rights: number, operation: string): Capability | IpcError => p.cspace.find(slot, rights, operation, "port")

/** The message a program passed, read once, or `InvalidMessage` naming the field. */
const snapshot = (p: Pcb, msg: unknown, operation: string): MessageSnapshot | InvalidMessage => {
  const snap = readMessage(msg, p.kernel.config)
  return snap instanceof Refusal ? new InvalidMessage({ operation, reason: snap.text }) : snap
}

/** Receive or call options, read once, their windows checked writable: where items may land. */
const destination = (p: Pcb, options: unknown, operation: string): ReceiveSnapshot | IpcError => {
  const o = readReceiveOptions(options, p.kernel.config)
  if (o instanceof Refusal) return new InvalidArgument({ operation, reason: o.text })
  const windows = o.windows
  if (windows !== undefined) {
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i]!
      const fault = p.space.faultAt(w.address, w.length, "write")
      if (fault) return fault
    }
  }
  return o
}

/** The inline bytes of a snapshot as `receiver` gets them: the snapshot's own small array, or a copy in the receiver's chunks. */
const inlineFor = (receiver: Pcb, data: Uint8Array): Uint8Array => (data.length <= ON_HEAP ? data : copyInline(data, receiver))

/**
 * The send side of a syscall: decode (read the message once, then check it, the capabilities and
 * items it transfers and, for a call, the caller's reply destination) and then commit (inline
 * bytes handed over, items prepared). A failure comes from the decode half and has changed
 * nothing. With `nonBlocking`, a port that would block fails with `WouldBlock` first.
 */
const decodeAndCommitSend = (
  p: Pcb,
  slot: number,
  msg: unknown,
  operation: string,
  isCall: boolean,
  options: unknown,
  nonBlocking: boolean
): Envelope | IpcError => {
  const k = p.kernel
  const snap = snapshot(p, msg, operation)
  if (snap instanceof InvalidMessage) return snap
  const replyTo = isCall ? destination(p, options, operation) : NO_OPTIONS
  if (!(replyTo instanceof ReceiveSnapshot)) return replyTo
  const cap = lookupPort(p, slot, Rights.send, operation)
  if (!(cap instanceof Capability)) return cap
  const port = cap.object as Port
  if (nonBlocking && port.receivers.length === 0 && port.queue.length >= port.capacity) {
    return new WouldBlock({ operation, port: port.id })
  }
  const caps = lookupTransfers(p, cap, slot, snap.caps, operation)
  if (!Array.isArray(caps)) return caps as IpcError
  const mayGrant = (cap.rights & Rights.grant) !== 0
  const items = snap.items.length === 0 ? NO_ITEMS : prepare(p, snap.items, { operation, isCall, isReply: false, mayGrant, slot })
  if (!Array.isArray(items)) return items as IpcError
  const data = inlineFor(port.owner, snap.data)
  k.counters.inlineBytes += data.length
  return new Envelope(port, p, snap.label, data, cap.badge, caps, isCall, mayGrant, items, replyTo)
}
const NO_ITEMS: Array<Prepared> = []

/** Looks up the capabilities a message transfers; transferring any needs `grant` on `via`. */
const lookupTransfers = (
  p: Pcb,
  via: Capability | undefined,
  viaSlot: number,
  slots: ReadonlyArray<number>,
  operation: string
): Array<Capability> | IpcError => {
  if (slots.length === 0) return NO_CAPS
  if (via !== undefined && (via.rights & Rights.grant) === 0) {
    return new RightsDenied({ slot: viaSlot, operation, needed: ["grant"], held: [] })
  }
  const caps = new Array<Capability>(slots.length)
  for (let i = 0; i < slots.length; i++) {
    const c = p.cspace.find(slots[i]!, 0, operation)
    if (!(c instanceof Capability)) return c
    caps[i] = c
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
export const call = (slot: number, msg: Message, options?: CallOptions): Effect.Effect<ReplyMessage, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => unsafeCallFrom(fiber, slot, msg, options))

/**
 * `call`, made by the fiber in hand, and going on with `then(reply)`: for layers over `call` that
 * have already asked the runtime for the calling fiber and would `flatMap` the reply (each saves
 * them a runtime step per call). Eager: the message is decoded and committed when this is
 * *called* (so bytes valid only until then may be passed); the returned effect waits for the
 * reply. Call it only on `fiber` itself, from inside that fiber's run. Errors: as `call`, and `then`'s.
 */
export const unsafeCallFrom: UnsafeCall = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  slot: number,
  msg: Message,
  options?: CallOptions,
  then?: (reply: ReplyMessage) => Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<any, any, any> => {
  const p = processOf(fiber)
  p.kernel.counters.syscall("call")
  const env = decodeAndCommitSend(p, slot, msg, "call", true, options, false)
  if (!(env instanceof Envelope)) return Effect.fail(env)
  slotOf(fiber).blocked = env
  env.onReply = then
  return queued(env)
}

/** A call made by the fiber in hand, going on with `then(reply)`: `unsafeCallFrom`, `unsafeCallDirectFrom`. */
type UnsafeCall = {
  (fiber: Fiber.RuntimeFiber<unknown, unknown>, slot: number, msg: Message, options?: CallOptions): Effect.Effect<ReplyMessage, IpcError, Process>
  <A, E, R>(
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    slot: number,
    msg: Message,
    options: CallOptions | undefined,
    then: (reply: ReplyMessage) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | IpcError, R | Process>
}

/** Waits for the reply to a committed call, offered to its port's queue now. */
const queued = (env: Envelope): Effect.Effect<unknown, unknown, never> =>
  Effect.async<unknown, unknown>((resume) => {
    env.resume = resume
    offer(env.port, env)
  })

/** Sends one-way: returns once the port has taken the message; blocks while the port is full. */
export const send = (slot: number, msg: Message): Effect.Effect<void, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("send")
    const env = decodeAndCommitSend(p, slot, msg, "send", false, undefined, false)
    if (!(env instanceof Envelope)) return Effect.fail(env)
    if (offer(env.port, env) !== State.Blocked) return Effect.void
    slotOf(fiber).blocked = env
    // The runtime may run other fibers before this registers: a receiver may take the message,
    // or the port may close, in between. Either left its outcome in `settled`.
    return Effect.async<void, IpcError>((resume) => {
      if (env.settled !== undefined) resume(env.settled)
      else env.resume = resume
    })
  })

/** Sends one-way without waiting: `WouldBlock` (nothing sent) when the port is full. */
export const trySend = (slot: number, msg: Message): Effect.Effect<void, IpcError, Process> =>
  withCaller((p) => {
    p.kernel.counters.syscall("trySend")
    const env = decodeAndCommitSend(p, slot, msg, "trySend", false, undefined, true)
    if (!(env instanceof Envelope)) return Effect.fail(env)
    offer(env.port, env)
    return Effect.void
  })

// --- receive side -------------------------------------------------------------------------------

/** Waits on `port` for a message (see `Waiter` for what happens if the fiber goes away). */
const waitOn = (fiber: Fiber.RuntimeFiber<unknown, unknown>, p: Pcb, port: Port, to: Destination): Effect.Effect<Received, IpcError> => {
  const slot = slotOf(fiber)
  const w = slot.waiter instanceof Waiter ? slot.waiter.arm(port, p, to) : (slot.waiter = new Waiter(port, p, to))
  slot.blocked = w
  return w.wait
}

const receiveOn = (fiber: Fiber.RuntimeFiber<unknown, unknown>, p: Pcb, port: Port, to: Destination): Effect.Effect<Received, IpcError> => {
  for (;;) {
    const env = takeNext(port)
    if (env === undefined) return waitOn(fiber, p, port, to)
    if (env.state !== State.Cancelled) return Effect.succeed(accept(p, env, to))
  }
}

/** A receive-side syscall, decoded: the port, and where items may land (checked windows, pages accepted). */
class Receiving {
  constructor(
    readonly port: Port,
    readonly to: Destination
  ) {}
}

const decodeReceive = (p: Pcb, slot: number, options: unknown, operation: string): Receiving | IpcError => {
  const to = destination(p, options, operation)
  if (!(to instanceof ReceiveSnapshot)) return to
  const cap = lookupPort(p, slot, Rights.receive, operation)
  return cap instanceof Capability ? new Receiving(cap.object as Port, to) : cap
}

/** Waits for a message on the port in `slot`. */
export const receive = (slot: number, options?: ReceiveOptions): Effect.Effect<Received, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("receive")
    const r = decodeReceive(p, slot, options, "receive")
    return r instanceof Receiving ? receiveOn(fiber, p, r.port, r.to) : Effect.fail(r)
  })

/** Takes a message if one is pending; `WouldBlock` otherwise. */
export const tryReceive = (slot: number, options?: ReceiveOptions): Effect.Effect<Received, IpcError, Process> =>
  withCaller((p) => {
    p.kernel.counters.syscall("tryReceive")
    const r = decodeReceive(p, slot, options, "tryReceive")
    if (!(r instanceof Receiving)) return Effect.fail(r)
    for (;;) {
      const env = takeNext(r.port)
      if (env === undefined) return Effect.fail(new WouldBlock({ operation: "tryReceive", port: r.port.id }))
      if (env.state !== State.Cancelled) return Effect.succeed(accept(p, env, r.to))
    }
  })

// --- reply --------------------------------------------------------------------------------------

/**
 * The decode and invoke of a reply; returns whether the caller got it. Everything is checked
 * before anything moves: a copy too large for the caller's window is `MessageTooLarge` to the
 * replier, pages beyond what the caller accepts `NotAccepted`, and the reply capability stays
 * usable.
 */
const replyNow = (p: Pcb, handle: Reply, msg: unknown, operation: string): Either.Either<boolean, IpcError> => {
  const reply = envelopeOf(handle)
  if (reply === undefined || reply.holder !== p || (reply.state !== State.Held && reply.state !== State.Cancelled)) {
    return Either.left(new InvalidCapability({ slot: -1, operation, reason: "not a reply capability this process holds (already used, or never received)" }))
  }
  const snap = snapshot(p, msg, operation)
  if (snap instanceof InvalidMessage) return Either.left(snap)
  const caps = lookupTransfers(p, undefined, -1, snap.caps, operation)
  if (!Array.isArray(caps)) return Either.left(caps as IpcError)
  let movesPages = false
  for (let i = 0; i < snap.items.length; i++) if (snap.items[i]!.kind === "map" || snap.items[i]!.kind === "grant") movesPages = true
  if ((caps.length > 0 || movesPages) && !reply.replyMayGrant) {
    return Either.left(new RightsDenied({ slot: -1, operation, needed: ["grant"], held: [] }))
  }
  const live = reply.state === State.Held && (reply.resume !== undefined || reply.direct)
  if (!live) return Either.right(answer(reply, NO_REPLY))
  let delivered: ReadonlyArray<DeliveredItem> = NO_DELIVERED
  if (snap.items.length > 0) {
    const prepared = prepare(p, snap.items, { operation, isCall: false, isReply: true, mayGrant: reply.replyMayGrant, slot: -1 })
    if (!Array.isArray(prepared)) return Either.left(prepared as IpcError)
    const delivery = deliver(reply.sender, p.space, prepared, reply.replyTo, operation)
    if (delivery.error !== undefined) return Either.left(delivery.error)
    delivered = delivery.items
  }
  const data = inlineFor(reply.sender, snap.data)
  p.kernel.counters.inlineBytes += data.length
  return Either.right(answer(reply, new Answer(snap.label, data, transferCaps(caps, reply.sender), delivered)))
}
const NO_DELIVERED: ReadonlyArray<DeliveredItem> = []
const NO_REPLY: ReplyMessage = new Answer(0, EMPTY, [], [])

/**
 * Answers a call. Never blocks. A reply to a caller that has gone is dropped and counted
 * (`repliesDropped`) and returns false. Capabilities and pages in a reply need the caller's
 * capability to have had `grant` (seL4's rule for reply capabilities).
 */
export const reply = (r: Reply, msg: Message): Effect.Effect<boolean, IpcError, Process> => Effect.withFiberRuntime((fiber) => unsafeReplyFrom(fiber, r, msg))

/**
 * `reply`, made by the fiber in hand. Eager: the reply is decoded and delivered when this is
 * *called*, not when the returned effect runs (for layers that hold the fiber and hand over bytes
 * that are only valid until they return). Errors: as `reply`.
 */
export const unsafeReplyFrom = (fiber: Fiber.RuntimeFiber<unknown, unknown>, r: Reply, msg: Message): Effect.Effect<boolean, IpcError, Process> => {
  const p = processOf(fiber)
  p.kernel.counters.syscall("reply")
  return replyNow(p, r, msg, "reply")
}

/** Replies, then waits for the next message on `slot`, in one syscall (seL4 ReplyRecv). */
export const replyReceive = (r: Reply, msg: Message, slot: number, options?: ReceiveOptions): Effect.Effect<Received, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => unsafeReplyReceiveFrom(fiber, r, msg, slot, options))

/**
 * `replyReceive`, made by the fiber in hand. Eager: the reply is delivered when this is *called*
 * (see `unsafeReplyFrom`); the receive waits when the returned effect runs. Errors: as `replyReceive`.
 */
export const unsafeReplyReceiveFrom = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  r: Reply,
  msg: Message,
  slot: number,
  options?: ReceiveOptions
): Effect.Effect<Received, IpcError, Process> => {
  const p = processOf(fiber)
  p.kernel.counters.syscall("replyReceive")
  const rcv = decodeReceive(p, slot, options, "replyReceive")
  if (!(rcv instanceof Receiving)) return Effect.fail(rcv)
  const replied = replyNow(p, r, msg, "replyReceive")
  return Either.isLeft(replied) ? Effect.fail(replied.left) : receiveOn(fiber, p, rcv.port, rcv.to)
}

// --- direct calls -------------------------------------------------------------------------------

/** Options of `serveDirect`. */
export interface DirectOptions {
  /** Bytes of the receive window each direct call's copy items land in (a window per call, in the server's memory). Default 0. */
  readonly window?: number
  /** Most pages a direct call may bring by map and grant items. Default 0. */
  readonly pages?: number
  /**
   * What a kill of the caller does to a handler inside: `"cut"` it short at its next
   * interruptible point, so the kill completes at once; or let it `"finish"`, as one of the
   * server's own threads would (the kill waits for it). Default `"cut"`.
   */
  readonly onCallerKill?: "cut" | "finish"
}

/**
 * Serves direct calls on the port in `slot`, which the caller must own (and hold with `receive`):
 * from now on a `callDirect` through a capability to the port runs `handler` on the caller's own
 * fiber, with this process's `Process` in its context — every syscall in it acts as this process,
 * with its capabilities and memory, and the call's badge says who called. The handler returns the
 * reply (checked like a reply), or undefined after answering with `reply`, or to answer later.
 * Direct calls run at the same time as the process's own threads and as each other (see
 * docs/ipc.md, "Direct calls"). The handler runs with this thread's fiber refs as they are now (its
 * loggers, supervisor, `Clock`, `Random`…), never its caller's. A second `serveDirect` replaces
 * the handler (calls inside the old one finish there). Errors:
 * `InvalidCapability`, `StaleCapability`, `RightsDenied` (no receive right), `InvalidArgument`
 * (not the port's owner, bad options).
 */
export const serveDirect = (slot: number, handler: DirectHandler, options?: DirectOptions): Effect.Effect<void, IpcError, Process> =>
  withCaller((p, fiber) => {
    p.kernel.counters.syscall("serveDirect")
    const cap = lookupPort(p, slot, Rights.receive, "serveDirect")
    if (!(cap instanceof Capability)) return Effect.fail(cap)
    const port = cap.object as Port
    if (port.owner !== p) return Effect.fail(new InvalidArgument({ operation: "serveDirect", reason: "only the port's owner serves direct calls on it" }))
    if (typeof handler !== "function") return Effect.fail(new InvalidArgument({ operation: "serveDirect", reason: "handler: expected a function" }))
    const o = options === undefined ? {} : object(options, "options")
    if (o instanceof Refusal) return Effect.fail(new InvalidArgument({ operation: "serveDirect", reason: o.text }))
    const window = intField(o, "window", "options.window", 0, 2 ** 24, 0)
    if (window instanceof Refusal) return Effect.fail(new InvalidArgument({ operation: "serveDirect", reason: window.text }))
    const pages = intField(o, "pages", "options.pages", 0, 2 ** 20, 0)
    if (pages instanceof Refusal) return Effect.fail(new InvalidArgument({ operation: "serveDirect", reason: pages.text }))
    const onKill = field(o, "onCallerKill", "options.onCallerKill")
    if (onKill !== undefined && onKill !== "cut" && onKill !== "finish") {
      const reason = onKill instanceof Refusal ? onKill.text : `options.onCallerKill: expected "cut" or "finish", got ${describe(onKill)}`
      return Effect.fail(new InvalidArgument({ operation: "serveDirect", reason }))
    }
    port.direct = new DirectEntry(port, p, handler, window, pages, onKill === "finish", fiber, port.direct)
    return Effect.void
  })

/**
 * Calls the port in `slot` directly (a migrating thread): when its owner serves direct calls
 * (`serveDirect`), this fiber runs the owner's handler itself, with no hand-off; otherwise it is
 * an ordinary `call`. The message, items and options are checked exactly as for `call`. Errors:
 * as `call`; `PeerDied` when the server is being torn down, or dies while the call is inside it (or its handler fails).
 * The handler is never interrupted by the caller: an interruption (a deadline, a parent's) takes
 * effect when it returns. A kill of the caller, or the server's death, cuts the handler short
 * wherever it waits, outside the handler's own uninterruptible sections; the call is withdrawn and
 * its leases revoked (see docs/ipc.md, "Direct calls").
 */
export const callDirect = (slot: number, msg: Message, options?: CallOptions): Effect.Effect<ReplyMessage, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => unsafeCallDirectFrom(fiber, slot, msg, options))

/**
 * `callDirect`, made by the fiber in hand, going on with `then(reply)` (see `unsafeCallFrom`).
 * Eager: the message is decoded and committed, and the handler entered, when this is called (its
 * items are read then). Errors: as `callDirect`, and `then`'s.
 */
export const unsafeCallDirectFrom: UnsafeCall = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  slot: number,
  msg: Message,
  options?: CallOptions,
  then?: (reply: ReplyMessage) => Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<any, any, any> => {
  const p = processOf(fiber)
  p.kernel.counters.syscall("callDirect")
  const env = decodeAndCommitSend(p, slot, msg, "callDirect", true, options, false)
  if (!(env instanceof Envelope)) return Effect.fail(env)
  env.onReply = then
  const slotRecord = slotOf(fiber)
  const entry = env.port.direct
  if (entry === undefined) {
    // No direct entry: an ordinary call.
    slotRecord.blocked = env
    return queued(env)
  }
  return enterDirect(fiber, slotRecord, entry, env)
}

/** Runs a direct call inside `entry`'s server (see `internal/direct.ts`): deliver, run the handler here, take the outcome. */
const enterDirect = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  slotRecord: FiberSlot,
  entry: DirectEntry,
  env: Envelope
): Effect.Effect<unknown, unknown, never> => {
  const server = entry.server
  if (!server.alive) {
    // The server is being torn down: no more of its code starts, and nothing the call carried moves.
    discard(server.kernel, env.items)
    env.state = State.Done
    return Effect.fail(entry.port.died("callDirect"))
  }
  let copies = false
  for (let i = 0; i < env.items.length; i++) if (env.items[i]!.kind === "copy") copies = true
  const to = entry.destination(copies)
  env.direct = true
  env.state = State.InFlight
  const received = accept(server, env, to)
  if ((env.state as State) !== State.Held) {
    // Delivery was refused: the caller's error is the outcome, and the server keeps nothing of the
    // call (the capabilities it carried are taken back).
    for (let i = 0; i < received.caps.length; i++) server.cspace.delete(received.caps[i]!)
    entry.release(to)
    env.direct = false
    const refused = env.outcome ?? Effect.fail(entry.port.died("callDirect"))
    env.outcome = undefined
    return refused
  }
  server.kernel.counters.directCalls++
  const frame = new DirectFrame(entry, env, fiber, slotRecord, to, received)
  // The server's code builds its answer here, on the caller's fiber. A handler that answers at
  // once (`Effect.succeed`, `Effect.fail`: an `Exit`) has nothing left to run: the call ends now,
  // with no trip through the runtime and no context to switch (building an effect reads none).
  const handled = frame.enter()
  if (Exit.isExit(handled)) return frame.finish(handled as Exit.Exit<Message | void, unknown>, replyDirect)
  // Only the handler and the bookkeeping are uninterruptible: the outcome runs as the caller's
  // (a kept call's wait honours the caller's deadline and its kill, as any call's).
  return Effect.flatten(Effect.uninterruptible(Effect.map(Effect.exit(Effect.suspend(() => frame.run(handled))), (exit) => frame.finish(exit, replyDirect))))
}

/** The reply of a direct handler's returned message, checked like any reply. */
const replyDirect = (p: Pcb, handle: Reply, msg: Message): Either.Either<boolean, IpcError> => replyNow(p, handle, msg, "callDirect")
