/**
 * Servers from protocols: `Server.make(protocol, handlers, { workers })` is a program — an
 * `Effect` needing only `Process` — that serves a protocol on a port with a pool of worker threads
 * (QNX resource managers): each worker receives, decodes at the boundary, runs the handler, and
 * answers with `replyReceive`.
 *
 * A handler returns the answer, fails with one of the operation's typed failures, or keeps the
 * call for later: `call.defer()` gives a `Responder`; returning it tells the worker not to answer,
 * and whoever holds it answers later, in any order (seL4 reply capabilities, QNX MsgReply).
 *
 * Invariants:
 * - A request that does not decode is answered with `InvalidRequest`; its capabilities are
 *   deleted; the worker goes on serving. Nothing undecoded reaches a handler.
 * - A handler's defect is a fault of the server: the process dies, every caller waiting on it
 *   gets `PeerDied`, and a supervisor may restart it (Hubris: a crash is the server's, not the
 *   client's, problem). A typed failure is an answer like any other.
 * - Capabilities in an answer move: the server's slots are deleted once the reply is sent (or
 *   dropped), so serving never leaks slots.
 * - Per-operation counters are plain numbers written by the workers only.
 */
import { Cause, Effect, Either, Exit } from "effect"
import { type IpcError, KernelError, Memory, Port, type Process } from "../index.js"
import * as Protocol from "../ipc/Protocol.js"
import { register } from "./names/client.js"
import type { BadRegistration, NameTaken } from "./names/protocol.js"

// --- handlers -----------------------------------------------------------------------------------

/** One call as a handler sees it. */
export interface Call<O extends Protocol.Operation> {
  /** The operation's name. */
  readonly operation: string
  /** The badge of the caller's capability (0 = unbadged): who calls, unforgeably. */
  readonly badge: number
  /** Slots (in the server's space) of the capabilities the request carried; the handler owns them. */
  readonly caps: ReadonlyArray<number>
  /** The request's transfer items as delivered (leases, maps, grants), in declared order. */
  readonly items: ReadonlyArray<Port.DeliveredItem>
  /** Keeps the call to answer later: return the responder from the handler, answer through it. */
  defer(): Responder<O>
}

const ResponderTypeId: unique symbol = Symbol.for("effect-microkernel/Server/Responder")

/**
 * A kept call. Answer it once, from any thread of the server process. Each answer returns
 * whether the caller got it (false: the caller had gone; dropped and counted by the kernel).
 * Errors: `InvalidCapability` when answered twice, and the reply's IPC errors.
 */
export interface Responder<O extends Protocol.Operation> {
  readonly [ResponderTypeId]: typeof ResponderTypeId
  readonly succeed: (answer: Protocol.AnswerOf<O>) => Effect.Effect<boolean, IpcError.IpcError, Process.Process>
  readonly fail: (failure: Protocol.FailureOf<O>) => Effect.Effect<boolean, IpcError.IpcError, Process.Process>
}

/** Serves one operation: the answer, a typed failure, or the call's `Responder` (answer later). */
export type Handler<O extends Protocol.Operation> = (
  payload: Protocol.PayloadOf<O>,
  call: Call<O>
) => Effect.Effect<Protocol.AnswerOf<O> | Responder<O>, Protocol.FailureOf<O>, Process.Process>

/** A handler per operation. */
export type Handlers<Ops extends Protocol.Operations> = { readonly [K in keyof Ops]: Handler<Ops[K]> }

// --- counters -----------------------------------------------------------------------------------

/** One operation's counters. */
export interface OperationStats {
  /** Requests that decoded and reached the handler. */
  calls: number
  /** Answers that were typed failures. */
  failures: number
  /** Requests answered with `InvalidRequest`. */
  invalid: number
  /** Calls the handler kept to answer later. */
  deferred: number
  /** Answers sent (immediately or later), and their latency from receipt to reply. */
  answered: number
  totalMicros: number
  maxMicros: number
}

/**
 * A server's counters, per operation. Written only by the server's threads (synchronously); pass
 * one to `make` and read it from anywhere, across restarts.
 */
export class Counters<Ops extends Protocol.Operations = Protocol.Operations> {
  /** By operation name. */
  readonly operations: { readonly [K in keyof Ops]: OperationStats }
  /** Messages that named no operation, or came without a reply capability (one-way sends). */
  unroutable = 0

  constructor(protocol: Protocol.Protocol<Ops>) {
    const ops: Record<string, OperationStats> = {}
    for (const e of protocol.entries) ops[e.name] = { calls: 0, failures: 0, invalid: 0, deferred: 0, answered: 0, totalMicros: 0, maxMicros: 0 }
    this.operations = ops as { [K in keyof Ops]: OperationStats }
  }

  /** A copy of every counter. */
  snapshot(): { readonly operations: { readonly [K in keyof Ops]: Readonly<OperationStats> }; readonly unroutable: number } {
    const ops: Record<string, OperationStats> = {}
    for (const [k, v] of Object.entries(this.operations)) ops[k] = { ...(v as OperationStats) }
    return { operations: ops as { [K in keyof Ops]: OperationStats }, unroutable: this.unroutable }
  }
}

/** Fresh counters for a server of `protocol`. */
export const counters = <Ops extends Protocol.Operations>(protocol: Protocol.Protocol<Ops>): Counters<Ops> => new Counters(protocol)

// --- the worker loop ----------------------------------------------------------------------------

type AnyHandler = (payload: unknown, call: ServerCall) => Effect.Effect<unknown, unknown, Process.Process>

/** What every worker of one server shares. */
interface Shared {
  readonly protocol: Protocol.Protocol
  /** Handlers by ordinal. */
  readonly handlers: ReadonlyArray<AnyHandler>
  readonly port: number
  readonly counters: Counters
  readonly stats: ReadonlyArray<OperationStats>
  readonly inlineMax: number
}

/** One worker: the shared state plus its own buffer, which is also its receive window. */
interface Worker extends Shared {
  readonly buffer: Protocol.ThreadBuffer
}

class ServerCall implements Call<Protocol.Operation> {
  responder: ResponderImpl | undefined = undefined
  constructor(
    readonly shared: Shared,
    readonly entry: Protocol.Entry,
    readonly reply: Port.Reply,
    readonly badge: number,
    readonly caps: ReadonlyArray<number>,
    readonly items: ReadonlyArray<Port.DeliveredItem>,
    /** `performance.now()` at receipt, for the latency counters. */
    readonly started: number
  ) {}
  get operation(): string {
    return this.entry.name
  }
  defer(): ResponderImpl {
    return (this.responder ??= new ResponderImpl(this))
  }
}

class ResponderImpl implements Responder<Protocol.Operation> {
  readonly [ResponderTypeId]: typeof ResponderTypeId = ResponderTypeId
  constructor(readonly call: ServerCall) {}
  succeed(answer: unknown): Effect.Effect<boolean, IpcError.IpcError, Process.Process> {
    return this.answer(true, answer)
  }
  fail(failure: unknown): Effect.Effect<boolean, IpcError.IpcError, Process.Process> {
    return this.answer(false, failure)
  }
  private answer(ok: boolean, value: unknown): Effect.Effect<boolean, IpcError.IpcError, Process.Process> {
    const c = this.call
    return Effect.flatMap(Protocol.threadBuffer(c.shared.protocol.maxMessage), (buffer) => send(c.shared, buffer, c, ok, value, undefined))
  }
}

/** Counts an answer and its latency. */
const answered = (s: OperationStats, ok: boolean, started: number): void => {
  const us = (performance.now() - started) * 1000
  if (!ok) s.failures++
  s.answered++
  s.totalMicros += us
  if (us > s.maxMicros) s.maxMicros = us
}

/**
 * Answers with `Port.reply` (the general path: capabilities, spilled bytes, encoding errors,
 * kept calls). If the kernel refuses the reply (the caller's capability lacks `grant` for
 * capabilities, or its window is too small) the caller gets `InvalidReply` instead. Answer
 * capabilities are deleted afterwards, delivered or not.
 */
const send = (
  shared: Shared,
  buffer: Protocol.ThreadBuffer,
  call: ServerCall,
  ok: boolean,
  value: unknown,
  encoded: Uint8Array | Protocol.InvalidReply | undefined
): Effect.Effect<boolean, IpcError.IpcError, Process.Process> => {
  const entry = call.entry
  const withCaps = ok && entry.operation.replyCaps
  const caps = withCaps ? (value as Protocol.WithCaps<unknown>).caps : NONE
  const bytes = encoded ?? Protocol.encodeAnswer(shared.protocol, entry, ok, withCaps ? (value as Protocol.WithCaps<unknown>).value : value, shared.inlineMax)
  answered(shared.stats[entry.ordinal]!, ok, call.started)
  const refused = (error: Protocol.InvalidReply) =>
    replyWith(call.reply, Protocol.statusOf(error), Protocol.encodeError(error, shared.inlineMax), NONE, buffer, shared.inlineMax)
  const sent =
    bytes instanceof Protocol.InvalidReply
      ? refused(bytes)
      : Effect.catchAll(replyWith(call.reply, ok ? Protocol.Status.ok : Protocol.Status.failure, bytes, caps, buffer, shared.inlineMax), (e) =>
          e._tag === "RightsDenied" || e._tag === "MessageTooLarge"
            ? refused(new Protocol.InvalidReply({ protocol: shared.protocol.name, operation: entry.name, reason: e.message }))
            : Effect.fail(e)
        )
  return caps.length === 0 ? sent : Effect.ensuring(sent, Protocol.dropCaps(caps))
}
const NONE: ReadonlyArray<number> = []

/** Replies with a payload, spilling it through `buffer` when it exceeds `inlineMax`. */
const replyWith = (
  reply: Port.Reply,
  status: number,
  bytes: Uint8Array,
  caps: ReadonlyArray<number>,
  buffer: Protocol.ThreadBuffer,
  inlineMax: number
): Effect.Effect<boolean, IpcError.IpcError, Process.Process> => {
  if (bytes.length <= inlineMax) return Port.reply(reply, { label: status, data: bytes, caps })
  return Effect.zipRight(
    Memory.write(buffer.address, bytes),
    Port.reply(reply, { label: status | Protocol.SPILLED, caps, items: [{ _tag: "copy", address: buffer.address, length: bytes.length }] })
  )
}

/** Answers and waits for the next message: one `replyReceive` when the answer is plain and inline. */
const answerAndReceive = (w: Worker, call: ServerCall, ok: boolean, value: unknown): Effect.Effect<Port.Received, IpcError.IpcError, Process.Process> => {
  const entry = call.entry
  if (ok && entry.operation.replyCaps) return Effect.zipRight(send(w, w.buffer, call, ok, value, undefined), Port.receive(w.port, w.buffer.options))
  const bytes = Protocol.encodeAnswer(w.protocol, entry, ok, value, w.inlineMax)
  if (bytes instanceof Protocol.InvalidReply || bytes.length > w.inlineMax) {
    return Effect.zipRight(send(w, w.buffer, call, ok, value, bytes), Port.receive(w.port, w.buffer.options))
  }
  answered(w.stats[entry.ordinal]!, ok, call.started)
  return Port.replyReceive(call.reply, { label: ok ? Protocol.Status.ok : Protocol.Status.failure, data: bytes }, w.port, w.buffer.options)
}

/** Answers a request that did not decode, deletes its capabilities, and waits for the next. */
const refuse = (w: Worker, m: Port.Received, error: Protocol.InvalidRequest): Effect.Effect<Port.Received, IpcError.IpcError, Process.Process> => {
  const entry = w.protocol.entries[m.label & Protocol.LABEL_BITS]
  if (entry !== undefined) w.stats[entry.ordinal]!.invalid++
  else w.counters.unroutable++
  const answer = replyWith(m.reply!, Protocol.statusOf(error), Protocol.encodeError(error, w.inlineMax), NONE, w.buffer, w.inlineMax)
  return Effect.zipRight(Protocol.dropCaps(m.caps), Effect.zipRight(answer, Port.receive(w.port, w.buffer.options)))
}

/** Answers with the handler's outcome, or only counts a kept call; then waits for the next message. */
const settle = (w: Worker, call: ServerCall, ok: boolean, value: unknown): Effect.Effect<Port.Received, IpcError.IpcError, Process.Process> => {
  if (ok && value instanceof ResponderImpl && value.call === call) {
    w.stats[call.entry.ordinal]!.deferred++
    return Port.receive(w.port, w.buffer.options)
  }
  return answerAndReceive(w, call, ok, value)
}

/** Runs the handler of a decoded request and answers (unless the handler kept the call). */
const dispatch = (
  w: Worker,
  m: Port.Received,
  entry: Protocol.Entry,
  payload: unknown,
  started: number
): Effect.Effect<Port.Received, IpcError.IpcError, Process.Process> => {
  if (payload instanceof Protocol.InvalidRequest) return refuse(w, m, payload)
  w.stats[entry.ordinal]!.calls++
  const call = new ServerCall(w, entry, m.reply!, m.badge, m.caps, Protocol.requestItems(m), started)
  const handled = w.handlers[entry.ordinal]!(payload, call)
  // A handler that answered at once (`Effect.succeed`/`Effect.fail` are `Exit`s) needs no trip
  // through the runtime: the hot path of small servers.
  if (Exit.isExit(handled)) {
    if (Exit.isSuccess(handled)) return settle(w, call, true, handled.value)
    const failure = Cause.failureOption(handled.cause)
    if (failure._tag === "Some") return settle(w, call, false, failure.value)
  }
  return Effect.flatMap(Effect.either(handled), (r) => (Either.isRight(r) ? settle(w, call, true, r.right) : settle(w, call, false, r.left)))
}

/** Serves one received message; yields the next one. */
const serveOne = (w: Worker, m: Port.Received): Effect.Effect<Port.Received, IpcError.IpcError, Process.Process> => {
  const started = performance.now()
  if (m.reply === undefined) {
    w.counters.unroutable++
    return Effect.zipRight(Protocol.dropCaps(m.caps), Port.receive(w.port, w.buffer.options))
  }
  const entry = Protocol.requestEntry(w.protocol, m)
  if (entry instanceof Protocol.InvalidRequest) return refuse(w, m, entry)
  const spilled = Protocol.spilledPayload(m)
  if (spilled === undefined) return dispatch(w, m, entry, Protocol.decodePayload(w.protocol, entry, m.data), started)
  return Effect.flatMap(Memory.read(spilled.address, spilled.length), (bytes) =>
    dispatch(w, m, entry, Protocol.decodePayload(w.protocol, entry, bytes), started)
  )
}

/** A worker thread: its buffer, then receive → serve → replyReceive, forever. */
const work = (shared: Shared): Effect.Effect<never, IpcError.IpcError, Process.Process> =>
  Effect.flatMap(Protocol.threadBuffer(shared.protocol.maxMessage), (buffer) => {
    const w: Worker = { ...shared, buffer }
    const loop = (m: Port.Received): Effect.Effect<never, IpcError.IpcError, Process.Process> => Effect.flatMap(serveOne(w, m), loop)
    return Effect.flatMap(Port.receive(w.port, buffer.options), loop)
  })

// --- programs -----------------------------------------------------------------------------------

/** Options of `serve`. */
export interface ServeOptions<Ops extends Protocol.Operations> {
  /** Worker threads receiving on the port. Default 1. */
  readonly workers?: number
  /** Where to count; default fresh counters nobody else sees. */
  readonly counters?: Counters<Ops>
}

/**
 * Serves `protocol` on the port in slot `port` (needs `receive`) with `handlers`, given as a
 * record or as an effect that builds one inside the server process (state that should start fresh
 * with every incarnation). Runs until a worker fails: the port's errors (`PeerDied`…), or `E`.
 * Throws nothing; `workers` that is not a positive integer is `InvalidArgument`.
 */
export const serve = <Ops extends Protocol.Operations, E = never>(
  protocol: Protocol.Protocol<Ops>,
  handlers: Handlers<Ops> | Effect.Effect<Handlers<Ops>, E, Process.Process>,
  port: number,
  options: ServeOptions<Ops> = {}
): Effect.Effect<never, IpcError.IpcError | E, Process.Process> =>
  Effect.gen(function* () {
    const workers = options.workers ?? 1
    if (!Number.isInteger(workers) || workers < 1) {
      return yield* Effect.fail(new KernelError.InvalidArgument({ operation: "Server.serve", reason: `workers must be a positive integer, got ${workers}` }))
    }
    const table = Effect.isEffect(handlers) ? yield* handlers : handlers
    const counters = (options.counters ?? new Counters(protocol)) as Counters
    const shared: Shared = {
      protocol: protocol as Protocol.Protocol,
      handlers: protocol.entries.map((e) => (table as Record<string, AnyHandler>)[e.name]!),
      port,
      counters,
      stats: protocol.entries.map((e) => counters.operations[e.name]!),
      inlineMax: yield* Protocol.inlineMax
    }
    if (workers === 1) return yield* work(shared)
    yield* Effect.forEach(Array.from({ length: workers }), () => work(shared), { concurrency: "unbounded", discard: true })
    return yield* Effect.dieMessage("invariant violated: a server worker returned")
  })

/** Options of `make`. */
export interface ServerOptions<Ops extends Protocol.Operations> extends ServeOptions<Ops> {
  /** Serve the port in this slot (needs `receive`). Default: create a new port. */
  readonly port?: number
  /** Capacity of the port `make` creates. Default: the kernel's default (0, rendezvous). */
  readonly capacity?: number
  /** Register the port with the name service in slot `names` (needs `grant`) under `name`. */
  readonly register?: { readonly names: number; readonly name: string }
}

/**
 * A server program: takes its port (or creates one), registers it if asked, and serves
 * `protocol` with `options.workers` threads until a worker fails. Errors: as `serve`, plus those
 * of `Port.create` and of registering (`NameTaken`, `BadRegistration`, `InvalidRequest`, IPC
 * errors).
 */
export const make = <Ops extends Protocol.Operations, E = never>(
  protocol: Protocol.Protocol<Ops>,
  handlers: Handlers<Ops> | Effect.Effect<Handlers<Ops>, E, Process.Process>,
  options: ServerOptions<Ops> = {}
): Effect.Effect<never, IpcError.IpcError | E | Protocol.ProtocolError | NameTaken | BadRegistration, Process.Process> =>
  Effect.gen(function* () {
    const port = options.port ?? (yield* Port.create(options.capacity === undefined ? {} : { capacity: options.capacity }))
    if (options.register !== undefined) yield* register(options.register.names, options.register.name, port)
    return yield* serve(protocol, handlers, port, options)
  })
