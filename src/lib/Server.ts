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
import { Cause, Deferred, Effect, Either, Exit, type Fiber, Scope } from "effect"
import type * as IpcError from "../ipc/errors.js"
import * as Labels from "../ipc/labels.js"
import * as Port from "../ipc/Port.js"
import * as Protocol from "../ipc/Protocol.js"
import * as KernelError from "../kernel/errors.js"
import * as Memory from "../kernel/Memory.js"
import type * as Process from "../kernel/Process.js"
import { type BadRegistration, type NameTaken, register } from "./NameService.js"

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

/**
 * One operation's counters. Latency (receipt to reply) is timed on one call in `LATENCY_SAMPLE`:
 * timing every call would take two clock reads (~100 ns), as much as encoding a small payload.
 */
export interface OperationStats {
  /** Requests that decoded and reached the handler. */
  calls: number
  /** Answers that were typed failures. */
  failures: number
  /** Requests answered with `InvalidRequest`. */
  invalid: number
  /** Calls the handler kept to answer later. */
  deferred: number
  /** Answers sent, immediately or later. */
  answered: number
  /** Answers whose latency was timed, their total and their maximum, in microseconds. */
  timed: number
  totalMicros: number
  maxMicros: number
}

/** One call in this many has its latency timed. */
export const LATENCY_SAMPLE = 16

/**
 * A server's counters, per operation. Written only by the server's threads (synchronously); pass
 * one to `make` and read it from anywhere, across restarts.
 */
export class Counters<Ops extends Protocol.Operations = Protocol.Operations> {
  /** By operation name. */
  readonly operations: { readonly [K in keyof Ops]: OperationStats }
  /** Messages that named no operation, or came without a reply capability (one-way sends). */
  unroutable = 0
  /** Messages received, for latency sampling. */
  received = 0
  /** Worker threads alive now, and the most there were at once. */
  workers = 0
  peakWorkers = 0

  constructor(protocol: Protocol.Protocol<Ops>) {
    const ops: Record<string, OperationStats> = {}
    for (const e of protocol.entries) ops[e.name] = { calls: 0, failures: 0, invalid: 0, deferred: 0, answered: 0, timed: 0, totalMicros: 0, maxMicros: 0 }
    this.operations = ops as { [K in keyof Ops]: OperationStats }
  }

  /** A copy of every counter. */
  snapshot(): {
    readonly operations: { readonly [K in keyof Ops]: Readonly<OperationStats> }
    readonly unroutable: number
    readonly workers: number
    readonly peakWorkers: number
  } {
    const ops: Record<string, OperationStats> = {}
    for (const [k, v] of Object.entries(this.operations)) ops[k] = { ...(v as OperationStats) }
    return { operations: ops as { [K in keyof Ops]: OperationStats }, unroutable: this.unroutable, workers: this.workers, peakWorkers: this.peakWorkers }
  }

  /** Records how many workers are alive. */
  setWorkers(n: number): void {
    this.workers = n
    if (n > this.peakWorkers) this.peakWorkers = n
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
  readonly onDisconnect: ((badge: number) => Effect.Effect<void, never, Process.Process>) | undefined
  /** The growing pool the workers belong to, or undefined for a fixed number of workers. */
  readonly pool: Pool | undefined
  /** Pages a worker accepts by map and grant items in one request (0 when no operation takes any). */
  readonly acceptPages: number
}

/**
 * A pool of workers that grows under load and shrinks when idle (QNX thread pools: `lo_water`,
 * `hi_water`, `maximum`). Counted synchronously by the workers themselves.
 */
interface Pool {
  /** Workers waiting in `receive` (or about to). */
  idle: number
  /** Workers alive. */
  total: number
  /** Idle workers kept ready; one more may idle before any retires. */
  readonly min: number
  /** Workers at most. */
  readonly max: number
  /** Starts one more worker. */
  readonly spawn: Effect.Effect<void, never, Process.Process>
  readonly counters: Counters
}

/**
 * A worker of a pool took a message: one fewer idle. If none is left idle and the pool may grow,
 * the effect starting one more worker, else undefined.
 */
const busy = (pool: Pool): Effect.Effect<void, never, Process.Process> | undefined => {
  pool.idle--
  if (pool.idle > 0 || pool.total >= pool.max) return undefined
  pool.idle++
  pool.counters.setWorkers(++pool.total)
  return pool.spawn
}

/** A worker of a pool is done with a message: whether it goes back to receive (else it retires). */
const idleAgain = (pool: Pool): boolean => {
  pool.idle++
  if (pool.idle <= pool.min + 1) return true
  pool.idle--
  pool.counters.setWorkers(--pool.total)
  return false
}

/**
 * One worker: the shared state plus its receive options — its thread buffer as the window for
 * spilled requests, or none when every request of the protocol fits inline.
 */
interface Worker extends Shared {
  readonly receive: Port.ReceiveOptions | undefined
  /** How the worker goes on after each request (built once per worker). */
  readonly next: Continue<Port.Received | typeof RETIRED>
  /** The worker's own fiber: its replies are made synchronously through it (`Port.unsafeReplyReceiveFrom`). */
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
}

class ServerCall implements Call<Protocol.Operation> {
  responder: ResponderImpl | undefined = undefined
  constructor(
    readonly shared: Shared,
    readonly entry: Protocol.Entry,
    readonly received: Port.Received,
    /** `performance.now()` at receipt if this call's latency is timed, else -1. */
    readonly started: number
  ) {}
  get operation(): string {
    return this.entry.name
  }
  get badge(): number {
    return this.received.badge
  }
  get caps(): ReadonlyArray<number> {
    return this.received.caps
  }
  get items(): ReadonlyArray<Port.DeliveredItem> {
    return Protocol.requestItems(this.received)
  }
  get reply(): Port.Reply {
    return this.received.reply!
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
    return answerWith(this.call.shared, this.call, ok, value, undefined)
  }
}

/** Counts an answer and its latency. */
const answered = (s: OperationStats, ok: boolean, started: number): void => {
  if (!ok) s.failures++
  s.answered++
  if (started < 0) return
  const us = (performance.now() - started) * 1000
  s.timed++
  s.totalMicros += us
  if (us > s.maxMicros) s.maxMicros = us
}

/**
 * Answers with `Port.reply` (the general path: capabilities, spilled bytes, encoding errors,
 * kept calls). If the kernel refuses the reply (the caller's capability lacks `grant` for
 * capabilities, or its window is too small) the caller gets `InvalidReply` instead. Answer
 * capabilities are deleted afterwards, delivered or not.
 */
const answerWith = (
  shared: Shared,
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
  const refused = (error: Protocol.InvalidReply) => replyWith(shared, call.reply, Protocol.statusOf(error), Protocol.encodeError(error, shared.inlineMax), NONE)
  const sent =
    bytes instanceof Protocol.InvalidReply
      ? refused(bytes)
      : Effect.catchAll(replyWith(shared, call.reply, ok ? Labels.Status.ok : Labels.Status.failure, bytes, caps), (e) =>
          e._tag === "RightsDenied" || e._tag === "MessageTooLarge"
            ? refused(new Protocol.InvalidReply({ protocol: shared.protocol.name, operation: entry.name, reason: e.message }))
            : Effect.fail(e)
        )
  return caps.length === 0 ? sent : Effect.ensuring(sent, Protocol.dropCaps(caps))
}
const NONE: ReadonlyArray<number> = []

/** What a retired worker's loop gets instead of a message. */
const RETIRED = null

/**
 * The next message for `w`, or `RETIRED` when its pool has idle workers enough. Lazy: the pool
 * counts change when the effect runs (after whatever precedes it), not when it is built.
 */
const receiveNext = (w: Worker): Effect.Effect<Port.Received | typeof RETIRED, IpcError.IpcError, Process.Process> =>
  Effect.suspend(() => (w.pool !== undefined && !idleAgain(w.pool) ? Effect.succeed(RETIRED) : Port.receive(w.port, w.receive)))

/**
 * Replies, then the next message for `w` (one `replyReceive`), or `RETIRED` after the reply alone.
 * Eager, and called only from `w`'s own fiber while it runs: the reply is delivered (and the pool
 * counted) now, before this returns, so `msg` may hold bytes valid only until then.
 */
const unsafeReplyNext = (w: Worker, reply: Port.Reply, msg: Port.Message): Effect.Effect<Port.Received | typeof RETIRED, IpcError.IpcError, Process.Process> =>
  w.pool !== undefined && !idleAgain(w.pool)
    ? Effect.as(Port.unsafeReplyFrom(w.fiber, reply, msg), RETIRED)
    : Port.unsafeReplyReceiveFrom(w.fiber, reply, msg, w.port, w.receive)

/** Replies with a payload, spilling it through this thread's buffer when it exceeds `inlineMax`. */
const replyWith = (
  shared: Shared,
  reply: Port.Reply,
  status: number,
  bytes: Uint8Array,
  caps: ReadonlyArray<number>
): Effect.Effect<boolean, IpcError.IpcError, Process.Process> => {
  if (bytes.length <= shared.inlineMax) return Port.reply(reply, new Protocol.WireMessage(status, bytes, caps))
  return Effect.flatMap(Protocol.threadBuffer(shared.protocol.maxMessage), (buffer) =>
    Effect.zipRight(
      Memory.write(buffer.address, bytes),
      Port.reply(
        reply,
        new Protocol.WireMessage(status | Labels.SPILLED, new Uint8Array(0), caps, [{ _tag: "copy", address: buffer.address, length: bytes.length }])
      )
    )
  )
}

/** Answers and waits for the next message: one `replyReceive` when the answer is plain and inline. */
const answerAndReceive = (
  w: Worker,
  call: ServerCall,
  ok: boolean,
  value: unknown
): Effect.Effect<Port.Received | typeof RETIRED, IpcError.IpcError, Process.Process> => {
  const entry = call.entry
  if (ok && entry.operation.replyCaps) return Effect.zipRight(answerWith(w, call, ok, value, undefined), receiveNext(w))
  // Transient: `unsafeReplyNext` hands inline bytes to the kernel before anything else runs.
  const bytes = Protocol.encodeAnswer(w.protocol, entry, ok, value, w.inlineMax, true)
  if (bytes instanceof Protocol.InvalidReply || bytes.length > w.inlineMax) {
    return Effect.zipRight(answerWith(w, call, ok, value, bytes), receiveNext(w))
  }
  answered(w.stats[entry.ordinal]!, ok, call.started)
  return unsafeReplyNext(w, call.reply, new Protocol.WireMessage(ok ? Labels.Status.ok : Labels.Status.failure, bytes))
}

/** Counts a refused request: as an invalid call of its operation, or as unroutable. */
const countRefused = (shared: Shared, m: Port.Received): void => {
  const entry = shared.protocol.entries[m.label & Labels.LABEL_BITS]
  if (entry !== undefined) shared.stats[entry.ordinal]!.invalid++
  else shared.counters.unroutable++
}

/** Answers a request that did not decode, gives back what it brought, and waits for the next. */
const refuse = (
  w: Worker,
  m: Port.Received,
  error: Protocol.InvalidRequest
): Effect.Effect<Port.Received | typeof RETIRED, IpcError.IpcError, Process.Process> => {
  countRefused(w, m)
  const answer = replyWith(w, m.reply!, Protocol.statusOf(error), Protocol.encodeError(error, w.inlineMax), NONE)
  return Effect.zipRight(release(m), Effect.zipRight(answer, receiveNext(w)))
}

/**
 * Gives back what a message the server will not serve brought: its capabilities are deleted and
 * the pages its map and grant items landed in are freed, so no client can fill a server's
 * capability space or frame quota with requests it refuses.
 */
const release = (m: Port.Received): Effect.Effect<void, never, Process.Process> => {
  let pages = false
  for (let i = 0; i < m.items.length; i++) if (m.items[i]!._tag === "map" || m.items[i]!._tag === "grant") pages = true
  if (!pages) return Protocol.dropCaps(m.caps)
  return Effect.zipRight(
    Protocol.dropCaps(m.caps),
    Effect.forEach(m.items, (item) => (item._tag === "map" || item._tag === "grant" ? Effect.ignore(Memory.free(item.address)) : Effect.void), {
      discard: true
    })
  )
}

/**
 * What serving a request leads to, by how it ends: refused, answered, or kept for later. A worker
 * goes on to its next message (`A` is that message); a direct call ends with its reply (`A` is
 * the reply message, or nothing when it is answered otherwise). One object per worker or server.
 */
interface Continue<A> {
  readonly refuse: (m: Port.Received, error: Protocol.InvalidRequest) => Effect.Effect<A, IpcError.IpcError, Process.Process>
  readonly answer: (call: ServerCall, ok: boolean, value: unknown) => Effect.Effect<A, IpcError.IpcError, Process.Process>
  readonly kept: Effect.Effect<A, IpcError.IpcError, Process.Process>
}

/** Answers with the handler's outcome, or only counts a kept call. */
const settle = <A>(shared: Shared, call: ServerCall, ok: boolean, value: unknown, k: Continue<A>): Effect.Effect<A, IpcError.IpcError, Process.Process> => {
  if (ok && value instanceof ResponderImpl && value.call === call) {
    shared.stats[call.entry.ordinal]!.deferred++
    return k.kept
  }
  return k.answer(call, ok, value)
}

/** Runs the handler of a decoded request and answers (unless the handler kept the call). */
const dispatch = <A>(
  shared: Shared,
  m: Port.Received,
  entry: Protocol.Entry,
  payload: unknown,
  started: number,
  k: Continue<A>
): Effect.Effect<A, IpcError.IpcError, Process.Process> => {
  if (payload instanceof Protocol.InvalidRequest) return k.refuse(m, payload)
  shared.stats[entry.ordinal]!.calls++
  const call = new ServerCall(shared, entry, m, started)
  const handled = shared.handlers[entry.ordinal]!(payload, call)
  // A handler that answered at once (`Effect.succeed`/`Effect.fail` are `Exit`s) needs no trip
  // through the runtime: the hot path of small servers.
  if (Exit.isExit(handled)) {
    if (Exit.isSuccess(handled)) return settle(shared, call, true, handled.value, k)
    const failure = Cause.failureOption(handled.cause)
    if (failure._tag === "Some") return settle(shared, call, false, failure.value, k)
  }
  return Effect.flatMap(Effect.either(handled), (r) => (Either.isRight(r) ? settle(shared, call, true, r.right, k) : settle(shared, call, false, r.left, k)))
}

/** Serves one call: its operation checked, its payload read (from the window when it spilled) and decoded, then dispatched. */
const request = <A>(shared: Shared, m: Port.Received, started: number, k: Continue<A>): Effect.Effect<A, IpcError.IpcError, Process.Process> => {
  const entry = Protocol.requestEntry(shared.protocol, m)
  if (entry instanceof Protocol.InvalidRequest) return k.refuse(m, entry)
  const spilled = Protocol.spilledPayload(m)
  if (spilled === undefined) return dispatch(shared, m, entry, Protocol.decodePayload(shared.protocol, entry, m.data), started, k)
  return Effect.flatMap(Memory.read(spilled.address, spilled.length), (bytes) =>
    dispatch(shared, m, entry, Protocol.decodePayload(shared.protocol, entry, bytes), started, k)
  )
}

/** Serves one received message; yields the next one (or `RETIRED`). */
const serveOne = (w: Worker, m: Port.Received): Effect.Effect<Port.Received | typeof RETIRED, IpcError.IpcError, Process.Process> => {
  const started = w.counters.received++ % LATENCY_SAMPLE === 0 ? performance.now() : -1
  if (m.reply === undefined) {
    if (m.label === Labels.DISCONNECT && w.onDisconnect !== undefined) return Effect.zipRight(w.onDisconnect(m.badge), receiveNext(w))
    w.counters.unroutable++
    return Effect.zipRight(release(m), receiveNext(w))
  }
  return request(w, m, started, w.next)
}

/**
 * The server's direct handler (`Server.serve` with `direct`): the same decoding, handlers and
 * counters as its workers, run on the caller's fiber. A plain inline answer is the handler's
 * result (the kernel replies with it); answers with capabilities or too long to go inline go
 * through `Port.reply`, as a worker's do.
 */
const directHandler = (shared: Shared): Port.DirectHandler => {
  const k: Continue<Port.Message | void> = {
    refuse: (m, error) => {
      countRefused(shared, m)
      return Effect.as(release(m), new Protocol.WireMessage(Protocol.statusOf(error), Protocol.encodeError(error, shared.inlineMax)))
    },
    answer: (call, ok, value) => {
      const entry = call.entry
      if (ok && entry.operation.replyCaps) return Effect.asVoid(answerWith(shared, call, ok, value, undefined))
      const bytes = Protocol.encodeAnswer(shared.protocol, entry, ok, value, shared.inlineMax)
      if (bytes instanceof Protocol.InvalidReply || bytes.length > shared.inlineMax) return Effect.asVoid(answerWith(shared, call, ok, value, bytes))
      answered(shared.stats[entry.ordinal]!, ok, call.started)
      return Effect.succeed(new Protocol.WireMessage(ok ? Labels.Status.ok : Labels.Status.failure, bytes))
    },
    kept: Effect.void
  }
  return (m) => request(shared, m, shared.counters.received++ % LATENCY_SAMPLE === 0 ? performance.now() : -1, k)
}

/**
 * A worker thread: its window if requests may spill, then receive → serve → replyReceive, until
 * its pool retires it (a fixed set of workers serves forever).
 */
const work = (shared: Shared): Effect.Effect<void, IpcError.IpcError, Process.Process> =>
  Effect.flatMap(
    shared.protocol.requestMax <= shared.inlineMax
      ? Effect.succeed<Port.ReceiveOptions | undefined>(shared.acceptPages === 0 ? undefined : { pages: shared.acceptPages })
      : Effect.map(Protocol.threadBuffer(shared.protocol.maxMessage), (b): Port.ReceiveOptions =>
          shared.acceptPages === 0 ? b.options : { windows: b.windows, pages: shared.acceptPages }
        ),
    (receive) =>
      Effect.withFiberRuntime((fiber) => {
        const w: Worker = { ...shared, receive, fiber: fiber as Fiber.RuntimeFiber<unknown, unknown>, next: undefined as never }
        ;(w as { next: Continue<Port.Received | typeof RETIRED> }).next = {
          refuse: (m, error) => refuse(w, m, error),
          answer: (call, ok, value) => answerAndReceive(w, call, ok, value),
          kept: receiveNext(w)
        }
        const pool = w.pool
        const loop = (m: Port.Received | typeof RETIRED): Effect.Effect<void, IpcError.IpcError, Process.Process> => {
          if (m === RETIRED) return Effect.void
          const grow = pool === undefined ? undefined : busy(pool)
          return grow === undefined ? Effect.flatMap(serveOne(w, m), loop) : Effect.zipRight(grow, Effect.flatMap(serveOne(w, m), loop))
        }
        return Effect.flatMap(Port.receive(w.port, receive), loop)
      })
  )

// --- programs -----------------------------------------------------------------------------------

/** Options of `serve`. */
export interface ServeOptions<Ops extends Protocol.Operations> {
  /**
   * Worker threads receiving on the port: a fixed number, or a pool `{ min, max }` that starts
   * with `min` workers, starts one more whenever a request takes the last idle one (up to `max`
   * in all), and retires workers when more than `min + 1` sit idle — so a handler that blocks
   * (on a slow file system, say) never holds up the others, and a quiet server costs `min`
   * threads. Default 1.
   */
  readonly workers?: number | { readonly min: number; readonly max: number }
  /** Where to count; default fresh counters nobody else sees. */
  readonly counters?: Counters<Ops>
  /**
   * Called with a client's badge when that client dies, if the port was made with
   * `disconnects: true` (drop the client's state: open files, sessions…).
   */
  readonly onDisconnect?: (badge: number) => Effect.Effect<void, never, Process.Process>
  /**
   * Most pages one request may bring by map and grant items, when some operation declares such
   * an item (else the workers accept none). Default `DEFAULT_PAGES`.
   */
  readonly pages?: number
  /**
   * Also serve direct calls (`Port.serveDirect`): a client calling with `direct` runs the
   * handlers on its own fiber, with this server's process, and skips the hand-off to a worker.
   * Handlers then run concurrently with the workers and with each other; a handler whose caller
   * is killed runs to its end, as on a worker (`onCallerKill: "finish"`). See docs/ipc.md,
   * "Direct calls". Default false.
   */
  readonly direct?: boolean
}

/** Pages a request may bring by default to a server whose protocol takes pages: 256 MiB. */
export const DEFAULT_PAGES = 65536

/** Whether some operation of `protocol` declares a map or grant item. */
const takesPages = (protocol: Protocol.Protocol): boolean => protocol.entries.some((e) => e.operation.items.some((i) => i._tag === "map" || i._tag === "grant"))

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
    const sized = typeof workers === "number" ? { min: workers, max: workers } : workers
    if (!Number.isInteger(sized.min) || sized.min < 1 || !Number.isInteger(sized.max) || sized.max < sized.min) {
      const given = typeof workers === "number" ? `${workers}` : `{ min: ${workers.min}, max: ${workers.max} }`
      return yield* Effect.fail(
        new KernelError.InvalidArgument({
          operation: "Server.serve",
          reason: `workers must be a positive integer or { min, max } with 1 ≤ min ≤ max, got ${given}`
        })
      )
    }
    const table = Effect.isEffect(handlers) ? yield* handlers : handlers
    const counters = (options.counters ?? new Counters(protocol)) as Counters
    const shared: Shared = {
      protocol: protocol as Protocol.Protocol,
      handlers: protocol.entries.map((e) => (table as Record<string, AnyHandler>)[e.name]!),
      port,
      counters,
      stats: protocol.entries.map((e) => counters.operations[e.name]!),
      inlineMax: yield* Protocol.inlineMax,
      onDisconnect: options.onDisconnect,
      pool: undefined,
      acceptPages: takesPages(protocol as Protocol.Protocol) ? (options.pages ?? DEFAULT_PAGES) : 0
    }
    if (options.direct === true) {
      const window = shared.protocol.requestMax > shared.inlineMax ? shared.protocol.maxMessage : 0
      // A handler runs to its end when its caller is killed, as on a worker.
      yield* Port.serveDirect(port, directHandler(shared), { window, pages: shared.acceptPages, onCallerKill: "finish" })
    }
    if (typeof workers === "number") {
      counters.setWorkers(workers)
      yield* Effect.forEach(Array.from({ length: workers }), () => work(shared), { concurrency: "unbounded", discard: true })
      return yield* Effect.dieMessage("invariant violated: a server worker returned")
    }
    return yield* servePool(shared, sized.min, sized.max)
  })

/**
 * Runs a growing pool: its workers live in a scope that ends with this effect, and the first
 * worker to fail ends the pool with that failure.
 */
const servePool = (shared: Shared, min: number, max: number): Effect.Effect<never, IpcError.IpcError, Process.Process> =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const failed = yield* Deferred.make<never, IpcError.IpcError>()
    const pool: Pool = {
      idle: min,
      total: min,
      min,
      max,
      counters: shared.counters,
      spawn: Effect.suspend(() =>
        Effect.asVoid(
          Effect.forkIn(
            Effect.catchAllCause(work(withPool), (cause) => Deferred.failCause(failed, cause)),
            scope
          )
        )
      )
    }
    const withPool: Shared = { ...shared, pool }
    shared.counters.setWorkers(min)
    for (let i = 0; i < min; i++) yield* pool.spawn
    return yield* Effect.ensuring(Deferred.await(failed), Scope.close(scope, Exit.void))
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
