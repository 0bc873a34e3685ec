/**
 * The port machinery: queues, waiters, delivery, withdrawal and death. Everything here runs in the
 * kernel's synchronous sections; fibers appear only as the `resume` callbacks of `Effect.async`.
 *
 * Invariants:
 * - `queue.length <= capacity`; a message an interrupted receiver hands back goes to the front of
 *   the queue if there is room, else to the front of the blocked senders.
 * - An envelope is in at most one place: `senders` (Blocked), `queue` (Queued), being accepted by
 *   a receiver (InFlight), a holder's `obligations` (Held); or nowhere (Done, Cancelled).
 * - Every resume callback is called at most once: whoever takes an envelope or waiter out of a
 *   list owns its resumption.
 * - A caller whose call is Blocked, Queued, InFlight or Held is resumed exactly once: with the
 *   reply, or with `PeerDied` when the port closes or the holder dies.
 */
import { Effect, Either } from "effect"
import { Capability } from "../../kernel/Capability.js"
import type { KernelCore } from "../../kernel/Kernel.js"
import type { Obligation, Pcb } from "../../kernel/Process.js"
import { PeerDied } from "../errors.js"
import type { IpcError } from "../errors.js"
import type { DeliveredItem, Received, Reply, ReplyMessage } from "../Message.js"
import { deliver, type Destination, discard, type Prepared, revokeLeases, takeGrants, undeliver } from "./items.js"
import { participant } from "../../kernel/Trace.js"
import type { Blocker } from "./blocking.js"
import { Fifo } from "./fifo.js"
import { DISCONNECT } from "../labels.js"
import { copyInline, EMPTY } from "./inline.js"
import type { DirectEntry, DirectFrame } from "./direct.js"
import { NO_OPTIONS } from "./snapshot.js"

/** Where an envelope is. */
export const enum State {
  Blocked,
  Queued,
  InFlight,
  Held,
  Done,
  Cancelled
}

type Resume<A> = (effect: Effect.Effect<A, IpcError>) => void

/** Passed to `ReplyHandle`'s constructor by the kernel alone. */
const KERNEL: unique symbol = Symbol("kernel")
let envelopeBehind: (handle: unknown) => Envelope | undefined

/**
 * A one-shot reply capability as its holder sees it: opaque (the label of the call it answers,
 * nothing else). Only the kernel makes one; the call behind it is in a private field.
 */
export class ReplyHandle implements Reply {
  readonly _tag = "Reply"
  readonly #env: Envelope
  /** @internal Throws a `TypeError` unless called by the kernel. */
  constructor(token: typeof KERNEL, env: Envelope) {
    if (token !== KERNEL) throw new TypeError("a reply capability is made by the kernel only")
    this.#env = env
  }
  get label(): number {
    return this.#env.label
  }
  static {
    envelopeBehind = (handle) => (typeof handle === "object" && handle !== null && #env in handle ? (handle as ReplyHandle).#env : undefined)
  }
}

/** The call behind a reply handle, or undefined when `handle` is not one the kernel made. */
export const envelopeOf = (handle: unknown): Envelope | undefined => envelopeBehind(handle)

/** A message in the kernel's hands. For a call it is also the reply object, held through a `ReplyHandle`. */
export class Envelope implements Blocker, Obligation {
  state: State = State.Blocked
  /** The blocked sender's or the waiting caller's continuation; cleared once used. */
  resume: Resume<any> | undefined = undefined
  /** For a call: the process that received it and alone may reply. */
  holder: Pcb | undefined = undefined
  /** A blocked send's outcome, when it came before the sender registered its continuation. */
  settled: Effect.Effect<void, IpcError> | undefined = undefined
  /** Where this held call sits in its holder's obligations. */
  obligationIndex = -1
  /** For a call: what the caller does with the reply, run in its own fiber as it resumes (saves a `flatMap`). */
  onReply: ((reply: ReplyMessage) => Effect.Effect<unknown, unknown, any>) | undefined = undefined
  /** Set when delivery was refused (the sender got the error): the receiver got the message without its items. */
  refused = false
  /**
   * For a direct call while its handler runs: the caller is not suspended, so the outcome (a
   * reply, or the refusal of delivery) is kept here, and the caller takes it when the handler returns.
   */
  direct = false
  outcome: Effect.Effect<unknown, unknown> | undefined = undefined
  /** A direct call its handler kept, to answer later: its window is given back at the answer. */
  kept: DirectFrame | undefined = undefined

  constructor(
    readonly port: Port,
    readonly sender: Pcb,
    readonly label: number,
    readonly data: Uint8Array,
    readonly badge: number,
    /** Capabilities to transfer, looked up (and rights-checked) at the syscall. */
    readonly caps: ReadonlyArray<Capability>,
    readonly isCall: boolean,
    /** Whether the reply may carry capabilities or pages (the caller's capability had `grant`). */
    readonly replyMayGrant: boolean,
    /** Transfer items, decoded and committed on the sender's side (taken back into transit by an interrupted receiver). */
    public items: ReadonlyArray<Prepared>,
    /** For a call: where the reply's copy items may land in the caller's space, and the pages it accepts. */
    readonly replyTo: Destination
  ) {}

  /** The sender's fiber went away: withdraw the message (see `withdraw`). */
  cancel(): void {
    withdraw(this)
  }

  /** Withdraws the message and resumes a sender or caller still waiting with `error`. */
  abort(error: IpcError): void {
    const resume = this.resume
    withdraw(this)
    this.resume = undefined
    if (resume !== undefined) resume(Effect.fail(error))
  }

  /** The holder died without answering: the caller gets `PeerDied`. */
  fail(): void {
    failCaller(this, this.port.died("call"))
  }
}

/**
 * A receiver waiting on an empty port. The sender that finds it accepts the message on its behalf
 * and resumes it with `take`; if the receiver's fiber dies before `take` runs, `cancel` undoes the
 * acceptance and hands the message back to the port, first in line. No message is lost to a race
 * between delivery and interruption.
 */
export class Waiter implements Blocker {
  resume: Resume<Received> | undefined = undefined
  delivered: Envelope | undefined = undefined
  received: Received | undefined = undefined
  private seen = false
  /** Resumes the receiver: marks the message as taken by user code, and returns it. */
  readonly take: Effect.Effect<Received> = Effect.sync(() => {
    this.seen = true
    return this.received!
  })
  /** Suspends the receiving fiber in the port's queue of receivers. Built once, reused. */
  readonly wait: Effect.Effect<Received, IpcError> = Effect.async<Received, IpcError>((resume) => {
    this.resume = resume
    this.port.receivers.push(this)
  })

  constructor(
    public port: Port,
    public receiver: Pcb,
    public to: Destination
  ) {}

  /** Readies the waiter (one per fiber, reused) for a wait on `port` by `receiver`. */
  arm(port: Port, receiver: Pcb, to: Destination): this {
    this.port = port
    this.receiver = receiver
    this.to = to
    this.delivered = undefined
    this.received = undefined
    this.seen = false
    return this
  }

  /** Resumes a receiver still waiting with `error` (a message already delivered to it is not undone). */
  abort(error: IpcError): void {
    const resume = this.resume
    if (resume === undefined) return
    this.port.receivers.remove(this)
    this.resume = undefined
    resume(Effect.fail(error))
  }

  /** The receiver's fiber went away: leave the queue, or hand back a message it never saw. */
  cancel(): void {
    if (this.resume !== undefined) {
      this.port.receivers.remove(this)
      this.resume = undefined
      return
    }
    const env = this.delivered
    if (this.seen || env === undefined) return
    this.delivered = undefined
    // A call whose delivery was refused has already failed its caller: nothing to hand back.
    if (env.refused && env.isCall) return
    unaccept(this.receiver, env, this.received!)
    if (env.state === State.Cancelled) return
    if (this.port.closed) {
      if (env.isCall) failCaller(env, this.port.died("call"))
      else this.port.kernel.counters.messagesDropped++
      return
    }
    offer(this.port, env, true)
  }
}

/** A port: a kernel object with a bounded queue of pending messages. */
export class Port {
  readonly kind = "port"
  closed = false
  /** Accepted messages (at most `capacity`). */
  readonly queue = new Fifo<Envelope>()
  /** Senders blocked because the queue is full (or, at capacity 0, until a receiver comes). */
  readonly senders = new Fifo<Envelope>()
  /** Receivers waiting for a message. */
  readonly receivers = new Fifo<Waiter>()
  /** The owner's direct entry, if it serves direct calls on this port (`Port.serveDirect`). */
  direct: DirectEntry | undefined = undefined

  constructor(
    readonly kernel: KernelCore,
    readonly id: number,
    readonly owner: Pcb,
    readonly capacity: number,
    /** Whether the death of a badged client is announced (see `released`). */
    readonly disconnects = false
  ) {}

  /**
   * A capability to this port died with its holder. With `disconnects`, and a badge to name the
   * client, the owner gets a one-way message labelled `DISCONNECT` carrying that badge (QNX's
   * disconnect pulse): it goes past the queue's capacity, so a full port never loses it.
   */
  released(cap: Capability): void {
    if (!this.disconnects || this.closed || cap.badge === 0 || cap.holder !== undefined) return
    const env = new Envelope(this, this.owner, DISCONNECT, EMPTY, cap.badge, NO_CAPS, false, false, NO_PREPARED, NO_OPTIONS)
    if (this.receivers.length > 0) offer(this, env)
    else {
      env.state = State.Queued
      this.queue.push(env)
    }
  }

  get ownerPid(): number {
    return this.owner.pid
  }

  get ownerGeneration(): number {
    return this.owner.generation
  }

  died(operation: string): PeerDied {
    return new PeerDied({ operation, kind: "port", object: this.id, pid: this.owner.pid, generation: this.owner.generation })
  }
}

/** Resumes a waiting caller (or blocked sender) with an error, once. */
const failCaller = (env: Envelope, error: IpcError): void => {
  revokeLeases(env.items)
  env.state = State.Done
  settle(env, Effect.fail(error))
}

/** Resumes the sender with `outcome`, or leaves it for a sender that has not registered yet. */
const settle = (env: Envelope, outcome: Effect.Effect<void, IpcError>): void => {
  if (env.direct) {
    env.outcome = outcome
    return
  }
  const resume = env.resume
  env.resume = undefined
  if (resume) {
    env.port.kernel.counters.handoffs++
    resume(outcome)
  } else if (!env.isCall) {
    env.settled = outcome
  }
}

/**
 * Offers an envelope to the port: straight into a waiting receiver's hands, else into the queue
 * if there is room, else into the blocked-senders list. `front` puts it first (a hand-back).
 * Returns the state it ended in.
 */
export const offer = (port: Port, env: Envelope, front = false): State => {
  const w = port.receivers.shift()
  if (w !== undefined) {
    w.delivered = env
    w.received = accept(w.receiver, env, w.to)
    const resume = w.resume!
    w.resume = undefined
    port.kernel.counters.handoffs++
    resume(w.take)
    return env.state
  }
  // The message waits: grants leave the sender now (see `takeGrants`).
  if (env.items.length > 0) takeGrants(env.items)
  if (port.queue.length < port.capacity) {
    env.state = State.Queued
    if (front) port.queue.unshift(env)
    else port.queue.push(env)
    if (port.queue.length > port.kernel.counters.maxQueueDepth) port.kernel.counters.maxQueueDepth = port.queue.length
    return State.Queued
  }
  env.state = State.Blocked
  if (front) port.senders.unshift(env)
  else port.senders.push(env)
  return State.Blocked
}

/** Completes a blocked one-way send whose message the port has now taken. */
const sendAccepted = (env: Envelope): void => settle(env, Effect.void)

/** A place in the queue came free: the first blocked sender's message moves in (a blocked one-way send completes). */
const admitBlocked = (port: Port): void => {
  const next = port.senders.shift()
  if (next === undefined) return
  next.state = State.Queued
  port.queue.push(next)
  if (!next.isCall) sendAccepted(next)
}

/** Takes the next message, if any, refilling the queue from the blocked senders. */
export const takeNext = (port: Port): Envelope | undefined => {
  let env = port.queue.shift()
  if (env !== undefined) {
    admitBlocked(port)
  } else {
    env = port.senders.shift()
    if (env !== undefined && !env.isCall) sendAccepted(env)
  }
  if (env !== undefined) env.state = State.InFlight
  return env
}

/** Copies transferred capabilities into `into`; a capability deleted meanwhile, or one that no longer fits, is dropped. */
export const transferCaps = (caps: ReadonlyArray<Capability>, into: Pcb): Array<number> => {
  if (caps.length === 0) return NO_SLOTS
  const slots: Array<number> = []
  for (let i = 0; i < caps.length; i++) {
    const src = caps[i]!
    if (src.holder === undefined) continue
    const slot = into.cspace.insertChild(src, src.rights, src.badge, "transfer")
    if (Either.isRight(slot)) slots[slots.length] = slot.right
  }
  return slots
}
const NO_SLOTS: Array<number> = []
const NO_CAPS: ReadonlyArray<Capability> = []
const NO_PREPARED: ReadonlyArray<Prepared> = []

/**
 * The receiver takes delivery: items land in its windows and space, and the message becomes a
 * `Received` in `p`'s terms. If an item fails (a copy larger than its window), the caller fails
 * with that error at once and the receiver gets the message without a reply capability.
 */
export const accept = (p: Pcb, env: Envelope, to: Destination): Received => {
  const k = env.port.kernel
  k.counters.messages++
  if (k.tracer !== undefined) {
    k.tracer.record({
      from: participant(env.sender),
      to: participant(p),
      kind: "message",
      text: describe(env.isCall ? "call" : "send", env.label, env.data.length, env.items.map(itemText))
    })
  }
  const delivery = env.items.length === 0 ? NO_DELIVERY : deliver(p, env.sender.space, env.items, to, env.direct ? "callDirect" : env.isCall ? "call" : "send")
  env.refused = delivery.error !== undefined
  if (env.isCall && delivery.error === undefined) {
    env.state = State.Held
    env.holder = p
    p.obligations.add(env)
  } else {
    if (env.isCall) {
      revokeLeases(env.items)
      failCaller(env, delivery.error!)
    }
    env.state = State.Done
  }
  return new ReceivedMessage(
    env.label,
    // Copied for the port's owner at send; another holder of the receive right gets its own copy.
    p === env.port.owner ? env.data : copyInline(env.data, p),
    env.badge,
    transferCaps(env.caps, p),
    env.state === State.Held ? new ReplyHandle(KERNEL, env) : undefined,
    delivery.items
  )
}

/*
 * Messages are class instances, not object literals: V8 pretenures the allocation site of a
 * literal once many of them live long (a full queue), and every later message then pays for
 * old-generation allocation. A constructor keeps them young.
 */

/** A received message (see `Received`). */
export class ReceivedMessage implements Received {
  constructor(
    readonly label: number,
    readonly data: Uint8Array,
    readonly badge: number,
    readonly caps: ReadonlyArray<number>,
    readonly reply: Reply | undefined,
    readonly items: ReadonlyArray<DeliveredItem>
  ) {}
}

/** A reply as the caller gets it (see `ReplyMessage`). */
export class Answer implements ReplyMessage {
  constructor(
    readonly label: number,
    readonly data: Uint8Array,
    readonly caps: ReadonlyArray<number>,
    readonly items: ReadonlyArray<DeliveredItem>
  ) {}
}
const NO_DELIVERY = { items: [], error: undefined }

/**
 * Reverses `accept` for a message its receiver never saw: capabilities are taken back, leases
 * lose their holder, and mapped or granted pages leave the receiver to travel again. (Copies are
 * simply delivered again to the next receiver's windows.)
 */
const unaccept = (p: Pcb, env: Envelope, received: Received): void => {
  env.port.kernel.counters.messages--
  for (let i = 0; i < received.caps.length; i++) p.cspace.delete(received.caps[i]!)
  for (let i = 0; i < env.items.length; i++) {
    const item = env.items[i]!
    if (item.kind === "lease") item.lease.holder = undefined
  }
  // Pages that landed in the receiver travel again (a refused delivery moved none).
  if (!env.refused) env.items = undeliver(p, env.items, received.items)
  env.refused = false
  if (env.isCall) {
    p.obligations.delete(env)
    env.holder = undefined
  }
  if (env.state !== State.Cancelled) env.state = State.InFlight
}

/** Withdraws an interrupted sender's or caller's message. A held call's reply will be dropped. */
export const withdraw = (env: Envelope): void => {
  const port = env.port
  switch (env.state) {
    case State.Blocked:
      env.resume = undefined
      port.senders.remove(env)
      env.state = State.Cancelled
      discard(port.kernel, env.items)
      return
    case State.Queued: {
      if (!env.isCall) return
      env.resume = undefined
      port.queue.remove(env)
      env.state = State.Cancelled
      discard(port.kernel, env.items)
      admitBlocked(port)
      return
    }
    case State.InFlight:
    case State.Held:
      if (!env.isCall) return
      env.resume = undefined
      env.state = State.Cancelled
      revokeLeases(env.items)
      return
    default:
      return
  }
}

/** Answers a held call. Returns false (and counts a dropped reply) when the caller has gone. */
export const answer = (env: Envelope, reply: ReplyMessage): boolean => {
  const counters = env.port.kernel.counters
  if (env.holder) env.holder.obligations.delete(env)
  revokeLeases(env.items)
  const kept = env.kept
  if (kept !== undefined) {
    env.kept = undefined
    kept.entry.release(kept.to)
  }
  const resume = env.resume
  const live = env.state === State.Held && (resume !== undefined || env.direct)
  env.state = State.Done
  env.resume = undefined
  if (!live) {
    counters.repliesDropped++
    return false
  }
  if (!env.direct) counters.handoffs++
  if (env.port.kernel.tracer !== undefined && env.holder !== undefined) {
    env.port.kernel.tracer.record({
      from: participant(env.holder),
      to: participant(env.sender),
      kind: "reply",
      text: describe(
        "reply",
        reply.label,
        reply.data.length,
        reply.items.map((i) => i._tag)
      )
    })
  }
  const then = env.onReply
  // `then`'s own errors are the caller's to type (see `Port.unsafeCallFrom`), not IPC errors.
  const outcome = then === undefined ? Effect.succeed(reply) : (Effect.suspend(() => then(reply)) as Effect.Effect<unknown, IpcError>)
  if (env.direct) {
    env.outcome = outcome
    return true
  }
  resume!(outcome)
  return true
}

/** A one-line description of a message for the trace. */
const describe = (what: string, label: number, bytes: number, items: ReadonlyArray<string>): string =>
  `${what} label ${label}${bytes > 0 ? `, ${bytes} B inline` : ""}${items.length > 0 ? `, ${items.join(", ")}` : ""}`

const itemText = (i: Prepared): string =>
  i.kind === "copy"
    ? `copy ${i.length} B`
    : i.kind === "lease"
      ? `lease ${i.lease.length} B ${i.lease.access}`
      : i.kind === "map"
        ? `map ${i.frames.length} pages`
        : `grant ${i.pages} pages`

/** Closes a port: every blocked sender, queued caller and waiting receiver fails with `PeerDied`. */
export const close = (port: Port): void => {
  if (port.closed) return
  port.closed = true
  const direct = port.direct
  port.direct = undefined
  direct?.died()
  const counters = port.kernel.counters
  const senders = port.senders.drain()
  for (let i = 0; i < senders.length; i++) {
    const env = senders[i]!
    discard(port.kernel, env.items)
    failCaller(env, port.died(env.isCall ? "call" : "send"))
  }
  const queued = port.queue.drain()
  for (let i = 0; i < queued.length; i++) {
    const env = queued[i]!
    discard(port.kernel, env.items)
    if (env.isCall) failCaller(env, port.died("call"))
    else {
      env.state = State.Done
      counters.messagesDropped++
    }
  }
  const receivers = port.receivers.drain()
  for (let i = 0; i < receivers.length; i++) {
    const w = receivers[i]!
    const resume = w.resume
    w.resume = undefined
    if (resume) {
      counters.handoffs++
      resume(Effect.fail(port.died("receive")))
    }
  }
}

/** Creates a port owned by `owner` and closes it when `owner` dies. */
export const makePort = (owner: Pcb, capacity: number, disconnects = false): Port => {
  const port = new Port(owner.kernel, owner.kernel.objectId(), owner, capacity, disconnects)
  owner.onDeath(() => close(port))
  return port
}
