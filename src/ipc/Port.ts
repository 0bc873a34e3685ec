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
import { withCaller } from "../kernel/Syscall.js"
import { Effect, Either, type Fiber } from "effect"
import { Capability, Rights } from "../kernel/Capability.js"
import { InvalidArgument, InvalidCapability, RightsDenied } from "../kernel/errors.js"
import type { KernelCore } from "../kernel/Kernel.js"
import { type Pcb, Process, processOf } from "../kernel/Process.js"
import { InvalidMessage, type IpcError, MessageTooLarge, WouldBlock } from "./errors.js"
import { deliver, prepare, type Prepared } from "./internal/items.js"
import { accept, Answer, answer, Envelope, makePort, offer, Port, State, takeNext, transferCaps, Waiter } from "./internal/port.js"
import { slotOf } from "./internal/blocking.js"
import { copyInline, EMPTY } from "./internal/inline.js"
import { type DeliveredItem, explain, isValid, type Message, type Received, type Reply, type ReplyMessage, type TransferItem, type Window } from "./Message.js"

export type { DeliveredItem, Lease, Message, Received, Reply, ReplyMessage, TransferItem, Window } from "./Message.js"

/** Options of `receive`, `tryReceive` and `replyReceive`. */
export interface ReceiveOptions {
  /** Buffers in the receiver's space where the message's copy items land, in order. */
  readonly windows?: ReadonlyArray<Window>
}

/** Options of `call`. */
export interface CallOptions {
  /** Buffers in the caller's space where the reply's copy items land, in order. */
  readonly windows?: ReadonlyArray<Window>
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
    owner.kernel.insertObject(owner, makePort(owner, capacity, options.disconnects === true), Rights.all)
  )

/** Creates a port owned by the caller; returns the slot of a capability with every right. */
export const create = (options: PortOptions = {}): Effect.Effect<number, InvalidArgument, Process> =>
  withCaller((p) => {
    p.kernel.counters.syscall("port.create")
    return Either.map(createFor(p, options), (cap) => cap.slot)
  })

// --- decode -------------------------------------------------------------------------------------

/** Looks up a port capability with `rights`. */
const lookupPort = (p: Pcb, slot: number, rights: number, operation: string): Capability | IpcError => p.cspace.find(slot, rights, operation, "port")

/**
 * The whole send side of a syscall, in two halves: decode (the message, the capabilities and items
 * it transfers, and for a call the caller's reply windows, all checked) and then commit (data
 * copied, items prepared). A failure comes from the decode half and has changed nothing.
 * With `nonBlocking`, a port that would block fails with `WouldBlock` before anything is committed.
 */
const decodeAndCommitSend = (
  p: Pcb,
  slot: number,
  msg: Message,
  operation: string,
  isCall: boolean,
  options: CallOptions | undefined,
  nonBlocking: boolean
): Envelope | IpcError => {
  const k = p.kernel
  if (!isValid(msg, k.config)) return new InvalidMessage({ operation, reason: explain(msg, k.config) })
  const cap = lookupPort(p, slot, Rights.send, operation)
  if (!(cap instanceof Capability)) return cap
  const port = cap.object as Port
  if (nonBlocking && port.receivers.length === 0 && port.queue.length >= port.capacity) {
    return new WouldBlock({ operation, port: port.id })
  }
  const caps = lookupTransfers(p, cap, slot, msg.caps, operation)
  if (!Array.isArray(caps)) return caps as IpcError
  const windows = options?.windows
  if (windows !== undefined) {
    const bad = checkWindows(p, windows, operation)
    if (bad) return bad
  }
  const mayGrant = (cap.rights & Rights.grant) !== 0
  const items = msg.items === undefined || msg.items.length === 0 ? NO_ITEMS : prepare(p, msg.items, { operation, isCall, isReply: false, mayGrant, slot })
  if (!Array.isArray(items)) return items as IpcError
  const data = copyInline(msg.data, port.owner)
  k.counters.inlineBytes += data.length
  return new Envelope(port, p, msg.label, data, cap.badge, caps, isCall, mayGrant, items, windows)
}
const NO_ITEMS: Array<Prepared> = []

/** Receive windows must be writable buffers of the caller, at most `maxItems` of them. */
const checkWindows = (p: Pcb, windows: ReadonlyArray<Window>, operation: string): IpcError | undefined => {
  if (!Array.isArray(windows) || windows.length > p.kernel.config.maxItems) {
    return new InvalidArgument({ operation, reason: `windows must be an array of at most ${p.kernel.config.maxItems} buffers` })
  }
  for (const w of windows) {
    const checked = p.space.check(w?.address, w?.length, "write")
    if (Either.isLeft(checked)) return checked.left
  }
  return undefined
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
export const call = (slot: number, msg: Message, options?: CallOptions): Effect.Effect<ReplyMessage, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => unsafeCallFrom(fiber, slot, msg, options))

/**
 * `call`, made by the fiber in hand, and going on with `then(reply)`: for layers over `call` that
 * have already asked the runtime for the calling fiber and would `flatMap` the reply (each saves
 * them a runtime step per call). Eager: the message is decoded and committed when this is
 * *called* (so bytes valid only until then may be passed); the returned effect waits for the
 * reply. Call it only on `fiber` itself, from inside that fiber's run. Errors: as `call`, and `then`'s.
 */
export const unsafeCallFrom: {
  (fiber: Fiber.RuntimeFiber<unknown, unknown>, slot: number, msg: Message, options?: CallOptions): Effect.Effect<ReplyMessage, IpcError, Process>
  <A, E, R>(
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    slot: number,
    msg: Message,
    options: CallOptions | undefined,
    then: (reply: ReplyMessage) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | IpcError, R | Process>
} = (
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
  return Effect.async<unknown, unknown>((resume) => {
    env.resume = resume
    offer(env.port, env)
  })
}

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
const waitOn = (fiber: Fiber.RuntimeFiber<unknown, unknown>, p: Pcb, port: Port, windows: Windows): Effect.Effect<Received, IpcError> => {
  const slot = slotOf(fiber)
  const w = slot.waiter instanceof Waiter ? slot.waiter.arm(port, p, windows) : (slot.waiter = new Waiter(port, p, windows))
  slot.blocked = w
  return w.wait
}

const receiveOn = (fiber: Fiber.RuntimeFiber<unknown, unknown>, p: Pcb, port: Port, windows: Windows): Effect.Effect<Received, IpcError> => {
  for (;;) {
    const env = takeNext(port)
    if (env === undefined) return waitOn(fiber, p, port, windows)
    if (env.state !== State.Cancelled) return Effect.succeed(accept(p, env, windows))
  }
}

type Windows = ReadonlyArray<Window> | undefined

/** The receive port and checked windows of a receive-side syscall. */
const decodeReceive = (p: Pcb, slot: number, options: ReceiveOptions | undefined, operation: string): Port | IpcError => {
  const port = receivePort(p, slot, operation)
  if (!(port instanceof Port) || options?.windows === undefined) return port
  return checkWindows(p, options.windows, operation) ?? port
}

const receivePort = (p: Pcb, slot: number, operation: string): Port | IpcError => {
  const cap = lookupPort(p, slot, Rights.receive, operation)
  return cap instanceof Capability ? (cap.object as Port) : cap
}

/** Waits for a message on the port in `slot`. */
export const receive = (slot: number, options?: ReceiveOptions): Effect.Effect<Received, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const p = processOf(fiber)
    p.kernel.counters.syscall("receive")
    const port = decodeReceive(p, slot, options, "receive")
    return port instanceof Port ? receiveOn(fiber, p, port, options?.windows) : Effect.fail(port)
  })

/** Takes a message if one is pending; `WouldBlock` otherwise. */
export const tryReceive = (slot: number, options?: ReceiveOptions): Effect.Effect<Received, IpcError, Process> =>
  withCaller((p) => {
    p.kernel.counters.syscall("tryReceive")
    const port = decodeReceive(p, slot, options, "tryReceive")
    if (!(port instanceof Port)) return Effect.fail(port)
    for (;;) {
      const env = takeNext(port)
      if (env === undefined) return Effect.fail(new WouldBlock({ operation: "tryReceive", port: port.id }))
      if (env.state !== State.Cancelled) return Effect.succeed(accept(p, env, options?.windows))
    }
  })

// --- reply --------------------------------------------------------------------------------------

/**
 * The decode and invoke of a reply; returns whether the caller got it. Everything is checked
 * before anything moves: a copy too large for the caller's window is `MessageTooLarge` to the
 * replier, and the reply capability stays usable.
 */
const replyNow = (p: Pcb, reply: Reply, msg: Message, operation: string): Either.Either<boolean, IpcError> => {
  const k = p.kernel
  if (!(reply instanceof Envelope) || reply.holder !== p || (reply.state !== State.Held && reply.state !== State.Cancelled)) {
    return Either.left(new InvalidCapability({ slot: -1, operation, reason: "not a reply capability this process holds (already used, or never received)" }))
  }
  if (!isValid(msg, k.config)) return Either.left(new InvalidMessage({ operation, reason: explain(msg, k.config) }))
  const caps = msg.caps === undefined || msg.caps.length === 0 ? NO_CAPS : lookupTransfers(p, undefined, -1, msg.caps, operation)
  if (!Array.isArray(caps)) return Either.left(caps as IpcError)
  const movesPages = msg.items?.some((i) => i._tag === "map" || i._tag === "grant") ?? false
  if ((caps.length > 0 || movesPages) && !reply.replyMayGrant) {
    return Either.left(new RightsDenied({ slot: -1, operation, needed: ["grant"], held: [] }))
  }
  const live = reply.state === State.Held && reply.resume !== undefined
  if (!live) return Either.right(answer(reply, NO_REPLY))
  let delivered: ReadonlyArray<DeliveredItem> = NO_DELIVERED
  if (msg.items !== undefined && msg.items.length > 0) {
    const tooLarge = copyOverflow(msg.items, reply.replyWindows, operation)
    if (tooLarge) return Either.left(tooLarge)
    const prepared = prepare(p, msg.items, { operation, isCall: false, isReply: true, mayGrant: reply.replyMayGrant, slot: -1 })
    if (!Array.isArray(prepared)) return Either.left(prepared as IpcError)
    const delivery = deliver(reply.sender, p.space, prepared, reply.replyWindows, operation)
    if (delivery.error !== undefined) return Either.left(delivery.error)
    delivered = delivery.items
  }
  const data = copyInline(msg.data, reply.sender)
  k.counters.inlineBytes += data.length
  return Either.right(answer(reply, new Answer(msg.label, data, transferCaps(caps, reply.sender), delivered)))
}
const NO_DELIVERED: ReadonlyArray<DeliveredItem> = []
const NO_REPLY: ReplyMessage = new Answer(0, EMPTY, [], [])

/** The first copy item that would not fit its window, as `MessageTooLarge`. */
const copyOverflow = (items: ReadonlyArray<TransferItem>, windows: Windows, operation: string): MessageTooLarge | undefined => {
  let w = 0
  for (const item of items) {
    if (item._tag !== "copy") continue
    const room = windows?.[w++]?.length ?? 0
    if (item.length > room) return new MessageTooLarge({ operation, length: item.length, window: room })
  }
  return undefined
}

/**
 * Answers a call. Never blocks. A reply to a caller that has gone is dropped and counted
 * (`repliesDropped`) and returns false. Capabilities in a reply need the caller's capability to
 * have had `grant` (seL4's rule for reply capabilities).
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
  const port = decodeReceive(p, slot, options, "replyReceive")
  if (!(port instanceof Port)) return Effect.fail(port)
  const replied = replyNow(p, r, msg, "replyReceive")
  return Either.isLeft(replied) ? Effect.fail(replied.left) : receiveOn(fiber, p, port, options?.windows)
}
