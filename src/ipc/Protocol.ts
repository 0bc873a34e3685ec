/**
 * Typed protocols over kernel ports: a protocol is a named group of operations, each with a Schema
 * payload, success and failure, the capabilities and transfer items it carries, and whether it is
 * idempotent. `client(protocol, target)` gives typed methods; servers check requests with
 * `requestEntry`, decode them with `decodePayload` and answer with `encodeAnswer` (`Server.make`
 * does all of it for you). The wire format is in docs/protocols.md.
 *
 * Why not `@effect/rpc`: its server forks a fiber per request, so senders never block, and its
 * payloads are opaque to the kernel, which then cannot mediate capabilities or bulk items (DESIGN
 * §2). Here a call is one kernel `call`: the label carries the operation's ordinal, the inline data
 * carries the payload, capabilities and items travel as the kernel's own.
 *
 * Invariants:
 * - Schema decoding happens at both trust boundaries: the server decodes every request, the
 *   client decodes every reply. Nothing undecoded reaches a handler or a caller.
 * - A payload larger than `inlineMax` travels as one copy item (the message's last item) through
 *   the sending thread's buffer into the receiver's window; at most `maxMessage` bytes, checked
 *   before anything is sent. A rare long payload therefore never breaks a protocol.
 * - A request that cannot be encoded is refused locally (`InvalidRequest`) and nothing is sent;
 *   a request the server cannot decode is answered with `InvalidRequest` and nothing else changes.
 * - Only idempotent operations are retried after `PeerDied`; a `StaleCapability` (the message was
 *   never sent) is retried for any operation. Retries happen only for clients whose target can
 *   be resolved again (`Target`), and end after the retry schedule.
 */
import { Effect, type Fiber, Predicate, Schedule, Schema } from "effect"
import { type Process, processOf } from "../kernel/Process.js"
import { DEFAULT_MAX_MESSAGE } from "../params.js"
import type { IpcError } from "./errors.js"
import { type Codec, codec, Undecodable } from "./internal/codec.js"
import { acquireBuffer, heldBuffer, type ThreadBuffer } from "./internal/threadBuffers.js"
import { remove as removeCap } from "../kernel/Caps.js"
import { read as readMemory, write as writeMemory } from "../kernel/Memory.js"
import { LABEL_BITS, RESERVED, SPILLED, Status } from "./labels.js"
import type { DeliveredItem, Message, Received, ReplyMessage, TransferItem } from "./Message.js"
import { unsafeCallDirectFrom, unsafeCallFrom } from "./Port.js"

// --- errors -------------------------------------------------------------------------------------

/**
 * The request could not be encoded by the client (nothing was sent) or decoded by the server (it
 * was answered with this and nothing else happened). `reason` is the Schema's explanation.
 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  protocol: Schema.String,
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.protocol}.${this.operation}: invalid request: ${this.reason}`
  }
}

/** The server's answer could not be encoded by the server or decoded by the client. */
export class InvalidReply extends Schema.TaggedError<InvalidReply>()("InvalidReply", {
  protocol: Schema.String,
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.protocol}.${this.operation}: invalid reply: ${this.reason}`
  }
}

/** The protocol layer's own errors, beside each operation's failures and the kernel's `IpcError`. */
export type ProtocolError = InvalidRequest | InvalidReply

// --- operations ---------------------------------------------------------------------------------

/** A transfer item an operation's request carries, by kind (copy items are the protocol's own). */
export type ItemKind = { readonly _tag: "lease"; readonly access: "read" | "write" | "readWrite" } | { readonly _tag: "map" } | { readonly _tag: "grant" }

/** An answer together with capability slots (the caller's slots on the client, the server's on the server). */
export interface WithCaps<A> {
  readonly value: A
  readonly caps: ReadonlyArray<number>
}

/** One operation of a protocol. Build with `operation`. */
export interface Operation<Payload = any, Success = any, Failure = any, ReplyCaps extends boolean = boolean> {
  readonly payload: Payload
  readonly success: Success
  readonly failure: Failure
  /** Whether repeating it has the effect of doing it once; only these are retried after `PeerDied`. */
  readonly idempotent: boolean
  /** Capabilities every request carries (exactly this many). */
  readonly caps: number
  /** Whether the answer carries capabilities (`WithCaps`); the caller's capability then needs `grant`. */
  readonly replyCaps: ReplyCaps
  /** Transfer items every request carries, in this order. */
  readonly items: ReadonlyArray<ItemKind>
}

type SchemaOf<X> = X extends Schema.Schema.All ? X : X extends Schema.Struct.Fields ? Schema.Struct<X> : never

/** What `operation` takes. `payload` and `success` may be struct fields; both default to `Schema.Void`. */
export interface OperationSpec<P, S, F, RC extends boolean> {
  readonly payload?: P
  readonly success?: S
  /** A `Schema.TaggedError` class, or a union of them. Default: `Schema.Never` (cannot fail). */
  readonly failure?: F
  readonly idempotent?: boolean
  readonly caps?: number
  readonly replyCaps?: RC
  readonly items?: ReadonlyArray<ItemKind>
}

/**
 * Defines an operation. Schemas must need no context; their encoded values travel in the binary
 * form of docs/protocols.md (records and other open shapes as JSON text). Throws (a defect
 * at definition time) when `caps` is not a non-negative integer.
 */
export const operation = <
  P extends Schema.Schema.All | Schema.Struct.Fields = typeof Schema.Void,
  S extends Schema.Schema.All | Schema.Struct.Fields = typeof Schema.Void,
  F extends Schema.Schema.All = typeof Schema.Never,
  RC extends boolean = false
>(
  spec: OperationSpec<P, S, F, RC>
): Operation<SchemaOf<NoInfer<P>>, SchemaOf<NoInfer<S>>, NoInfer<F>, NoInfer<RC>> => {
  const caps = spec.caps ?? 0
  if (!Number.isInteger(caps) || caps < 0) throw new Error(`operation: caps must be a non-negative integer, got ${caps}`)
  const toSchema = (x: unknown) => (x === undefined ? Schema.Void : Schema.isSchema(x) ? x : Schema.Struct(x as Schema.Struct.Fields))
  return {
    payload: toSchema(spec.payload) as SchemaOf<P>,
    success: toSchema(spec.success) as SchemaOf<S>,
    failure: (spec.failure ?? Schema.Never) as F,
    idempotent: spec.idempotent ?? false,
    caps,
    replyCaps: (spec.replyCaps ?? false) as RC,
    items: spec.items ?? []
  }
}

/** The operations of a protocol, by name. */
export type Operations = Record<string, Operation<any, any, any, any>>

/** The type of an operation's payload. */
export type PayloadOf<O> = O extends Operation<infer P, any, any, any> ? Schema.Schema.Type<P> : never
/** The type of an operation's success value. */
export type SuccessOf<O> = O extends Operation<any, infer S, any, any> ? Schema.Schema.Type<S> : never
/** The type of an operation's typed failures. */
export type FailureOf<O> = O extends Operation<any, any, infer F, any> ? Schema.Schema.Type<F> : never
/** What a successful call yields: the success value, or `WithCaps` of it when the reply carries capabilities. */
export type AnswerOf<O> = O extends Operation<any, infer S, any, infer RC> ? (RC extends true ? WithCaps<Schema.Schema.Type<S>> : Schema.Schema.Type<S>) : never

/** An operation's wire form: its ordinal and codecs. */
export interface Entry {
  readonly name: string
  readonly ordinal: number
  readonly operation: Operation
  readonly payload: Codec
  readonly success: Codec
  readonly failure: Codec
  /** The most bytes an answer (success or failure) can take; `Infinity` when unbounded. */
  readonly answerMax: number
  /** Turns a reply to this operation into the call's result (built once, not per call). */
  readonly onReply: (r: ReplyMessage) => Effect.Effect<unknown, unknown, Process>
}

const TypeId: unique symbol = Symbol.for("effect-microkernel/Protocol")

/** A protocol: a name, its operations (ordinals in definition order), and its largest message. */
export interface Protocol<Ops extends Operations = Operations> {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  readonly operations: Ops
  /** Largest encoded payload in bytes (request or answer); beyond `inlineMax` it spills. */
  readonly maxMessage: number
  /** Wire entries by ordinal. */
  readonly entries: ReadonlyArray<Entry>
  /** The most bytes any request payload can take; `Infinity` when unbounded. */
  readonly requestMax: number
}

/** Options of `make`. */
export interface ProtocolOptions {
  /** Largest encoded payload, request or answer, in bytes. Default 16 KiB. */
  readonly maxMessage?: number
}

/**
 * Defines a protocol. Operation ordinals (the request labels) follow the order of `operations`:
 * append new operations at the end to stay compatible. Throws (a defect at definition time) when
 * there are no operations, `maxMessage` is not a positive integer, or a schema cannot be carried
 * faithfully (one that needs Schema's own pass and has a `__proto__` key: see docs/protocols.md).
 */
export const make = <Ops extends Operations>(name: string, operations: Ops, options: ProtocolOptions = {}): Protocol<Ops> => {
  const names = Object.keys(operations)
  if (names.length === 0) throw new Error(`protocol ${name}: no operations`)
  if (names.length > RESERVED) throw new Error(`protocol ${name}: ${names.length} operations reach the reserved labels`)
  const maxMessage = options.maxMessage ?? DEFAULT_MAX_MESSAGE
  if (!Number.isInteger(maxMessage) || maxMessage <= 0) throw new Error(`protocol ${name}: maxMessage must be a positive integer, got ${maxMessage}`)
  const entries = names.map((n, ordinal): Entry => {
    const op = operations[n]!
    const success = codec(op.success)
    const failure = codec(op.failure)
    const entry: Entry = {
      name: n,
      ordinal,
      operation: op,
      payload: codec(op.payload),
      success,
      failure,
      answerMax: Math.max(success.maxBytes, failure.maxBytes),
      onReply: (r) => decodeReply(name, entry, r)
    }
    return entry
  })
  const requestMax = Math.max(...entries.map((e) => e.payload.maxBytes))
  return { [TypeId]: TypeId, name, operations, maxMessage, entries, requestMax }
}

// --- client -------------------------------------------------------------------------------------

/** Capabilities and transfer items of one request, as the operation declares them. */
export interface Extras {
  readonly caps?: ReadonlyArray<number>
  readonly items?: ReadonlyArray<TransferItem>
}

/** A typed client: one method per operation. `E` is what resolving the target can fail with. */
export type Client<Ops extends Operations, E = never> = {
  readonly [K in keyof Ops]: (
    payload: PayloadOf<Ops[K]>,
    extras?: Extras
  ) => Effect.Effect<AnswerOf<Ops[K]>, FailureOf<Ops[K]> | ProtocolError | IpcError | E, Process>
}

/**
 * Where a client sends: a port capability it can find again. After `PeerDied` or
 * `StaleCapability` the client calls `invalidate` and, when it retries, `resolve` again (the name
 * service's clients re-look a name up and so reach a restarted server).
 */
export interface Target<E> {
  /** The slot of a send capability to the server's port. */
  readonly resolve: Effect.Effect<number, E, Process>
  /** `slot` turned out dead: forget it (and free it). */
  readonly invalidate: (slot: number) => Effect.Effect<void, never, Process>
}

/** Options of `client`. */
export interface ClientOptions {
  /**
   * When to try again after a dead server or a failed resolve (resolvable targets only). Default:
   * exponential from 10 ms, at most 8 retries (about 2.5 s in all).
   */
  readonly retry?: Schedule.Schedule<unknown, unknown>
  /**
   * Call the server directly (`Port.callDirect`: the server's code runs on the calling fiber, no
   * hand-off) — for every operation (`true`) or for the named ones. A server that serves no direct
   * calls is called the ordinary way. Default: none.
   */
  readonly direct?: boolean | ReadonlyArray<string>
}

/** How a method reaches its server: an ordinary call or a direct one (same arguments, same errors). */
type Caller = typeof unsafeCallFrom

/** The default retry schedule of resolvable clients. */
export const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("10 millis").pipe(Schedule.intersect(Schedule.recurs(8)))

const invalid = (protocol: Protocol, entry: Entry, reason: string) => new InvalidRequest({ protocol: protocol.name, operation: entry.name, reason })

/** Checks the caps and items of a request against the declaration; the reason if they do not match. */
const checkExtras = (op: Operation, caps: number, items: ReadonlyArray<{ readonly _tag: string; readonly access?: string }>): string | undefined => {
  if (caps !== op.caps) return `expects ${op.caps} capabilities, got ${caps}`
  if (items.length !== op.items.length) return `expects ${op.items.length} transfer items, got ${items.length}`
  for (let i = 0; i < items.length; i++) {
    const want = op.items[i]!
    const got = items[i]!
    if (got._tag !== want._tag) return `transfer item ${i} must be a ${want._tag}, got a ${got._tag}`
    if (want._tag === "lease" && got.access !== want.access) return `lease ${i} must lend ${want.access} access, got ${got.access}`
  }
  return undefined
}

const NONE: ReadonlyArray<never> = []
const EMPTY = new Uint8Array(0)

/**
 * A message built with `new` rather than as an object literal, for the syscalls the protocol layer
 * makes. A message stays reachable from its sender's continuation for the whole call, so a
 * literal's allocation site sees its objects survive scavenges and V8 pretenures it: every
 * message then lands in old space. That cost about 1 µs per typed call (and made the benchmark
 * bimodal) before this class.
 */
export class WireMessage implements Message {
  constructor(
    readonly label: number,
    readonly data: Uint8Array,
    readonly caps: ReadonlyArray<number> = NONE,
    readonly items: ReadonlyArray<TransferItem> = NONE
  ) {}
}

/**
 * The caller side of one call. `buffer` is this thread's buffer when the answer may spill (its
 * window must be offered); otherwise undefined, and it is fetched only if the request spills.
 */
const callWith = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  protocol: Protocol,
  entry: Entry,
  slot: number,
  payload: unknown,
  extras: Extras | undefined,
  inlineMax: number,
  buffer: ThreadBuffer | undefined,
  caller: Caller
): Effect.Effect<unknown, unknown, Process> => {
  // Transient: the call below copies inline bytes into the kernel before it returns.
  const bytes = entry.payload.encode(payload, inlineMax, true)
  if (typeof bytes === "string") return Effect.fail(invalid(protocol, entry, bytes))
  const caps = extras?.caps ?? NONE
  const items = extras?.items ?? NONE
  if (caps.length !== entry.operation.caps || items.length > 0 || entry.operation.items.length > 0) {
    const wrong = checkExtras(entry.operation, caps.length, items)
    if (wrong !== undefined) return Effect.fail(invalid(protocol, entry, wrong))
  }
  if (bytes.length <= inlineMax) {
    const msg = new WireMessage(entry.ordinal, bytes, caps, items)
    return caller(fiber, slot, msg, buffer?.options, entry.onReply)
  }
  if (bytes.length > protocol.maxMessage) {
    return Effect.fail(invalid(protocol, entry, `payload is ${bytes.length} bytes, more than the protocol's maxMessage ${protocol.maxMessage}`))
  }
  return Effect.flatMap(buffer === undefined ? threadBuffer(protocol.maxMessage) : Effect.succeed(buffer), (b) =>
    // The call is made once the payload is in the buffer: the caller acts when it is called.
    Effect.flatMap(writeMemory(b.address, bytes), () =>
      caller(
        fiber,
        slot,
        new WireMessage(entry.ordinal | SPILLED, EMPTY, caps, [...items, { _tag: "copy", address: b.address, length: bytes.length }]),
        b.options,
        entry.onReply
      )
    )
  )
}

/** The payload bytes of a message: inline, or the spilled copy item (read from where it landed). */
const payloadBytes = (
  label: number,
  data: Uint8Array,
  items: ReadonlyArray<DeliveredItem>
): Uint8Array | { readonly address: number; readonly length: number } | string => {
  if ((label & SPILLED) === 0) return data
  const last = items[items.length - 1]
  if (last === undefined || last._tag !== "copy") return "marked spilled but carries no copy item"
  if (last.length !== last.trueLength) return `spilled payload of ${last.trueLength} bytes did not fit the ${last.length}-byte window`
  return { address: last.address, length: last.length }
}

/** Reads spilled bytes, or passes inline ones through. */
const withBytes = <A, E, R>(
  where: Uint8Array | { readonly address: number; readonly length: number },
  f: (bytes: Uint8Array) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | IpcError, R | Process> => (where instanceof Uint8Array ? f(where) : Effect.flatMap(readMemory(where.address, where.length), f))

const errorCodec = codec(Schema.Struct({ protocol: Schema.String, operation: Schema.String, reason: Schema.String }))

/** An `InvalidReply` failure for `entry`. */
const badReply = (protocol: string, entry: Entry, reason: string) => Effect.fail(new InvalidReply({ protocol, operation: entry.name, reason }))

/** Decodes a reply into the call's result. A reply that does not decode is `InvalidReply`. */
const decodeReply = (protocol: string, entry: Entry, r: ReplyMessage): Effect.Effect<unknown, unknown, Process> => {
  if (r.caps.length > 0 && !(entry.operation.replyCaps && (r.label & LABEL_BITS) === Status.ok)) {
    return Effect.zipRight(dropCaps(r.caps), decodeReply(protocol, entry, { ...r, caps: NONE }))
  }
  if ((r.label & SPILLED) === 0) return answerOf(protocol, entry, r, r.data)
  const where = payloadBytes(r.label, r.data, r.items)
  if (typeof where === "string") return badReply(protocol, entry, where)
  return withBytes(where, (bytes) => answerOf(protocol, entry, r, bytes))
}

/** The call's result from a reply's status and payload bytes. */
const answerOf = (protocol: string, entry: Entry, r: ReplyMessage, bytes: Uint8Array): Effect.Effect<unknown, unknown> => {
  switch (r.label & LABEL_BITS) {
    case Status.ok: {
      const v = entry.success.decode(bytes)
      if (v instanceof Undecodable) return badReply(protocol, entry, v.reason)
      return Effect.succeed(entry.operation.replyCaps ? { value: v, caps: r.caps } : v)
    }
    case Status.failure: {
      const e = entry.failure.decode(bytes)
      return e instanceof Undecodable ? badReply(protocol, entry, e.reason) : Effect.fail(e)
    }
    case Status.invalidRequest:
    case Status.invalidReply: {
      const e = errorCodec.decode(bytes)
      if (e instanceof Undecodable) return badReply(protocol, entry, e.reason)
      const fields = e as { protocol: string; operation: string; reason: string }
      return Effect.fail((r.label & LABEL_BITS) === Status.invalidRequest ? new InvalidRequest(fields) : new InvalidReply(fields))
    }
    default:
      return badReply(protocol, entry, `unknown reply status ${r.label & LABEL_BITS}`)
  }
}

/** Deletes capabilities that arrived where none were expected (nothing may fill a space unasked). */
export const dropCaps = (slots: ReadonlyArray<number>): Effect.Effect<void, never, Process> =>
  Effect.forEach(slots, (s) => Effect.ignore(removeCap(s)), { discard: true })

/** One call on `slot`, with this thread's buffer when the answer may be too long to go inline. */
const callOn = (
  protocol: Protocol,
  entry: Entry,
  slot: number,
  payload: unknown,
  extras: Extras | undefined,
  caller: Caller
): Effect.Effect<unknown, unknown, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const f = fiber as Fiber.RuntimeFiber<unknown, unknown>
    const p = processOf(f)
    const inlineMax = p.kernel.config.inlineMax
    if (entry.answerMax <= inlineMax) return callWith(f, protocol, entry, slot, payload, extras, inlineMax, undefined, caller)
    const buffer = heldBuffer(f, p, protocol.maxMessage)
    if (buffer !== undefined) return callWith(f, protocol, entry, slot, payload, extras, inlineMax, buffer, caller)
    return Effect.flatMap(acquireBuffer(f, p, protocol.maxMessage), (b) => callWith(f, protocol, entry, slot, payload, extras, inlineMax, b, caller))
  })

const isDead = (e: unknown): e is { readonly _tag: "PeerDied" | "StaleCapability" } =>
  Predicate.isTagged(e, "PeerDied") || Predicate.isTagged(e, "StaleCapability")

/**
 * A typed client of `protocol` on `target`: a capability slot, or a `Target` that can be resolved
 * again. Each method is one kernel `call`; its errors are the operation's typed failures,
 * `InvalidRequest` (refused locally, or by the server), `InvalidReply`, the kernel's `IpcError`
 * (`PeerDied` when the server died during the call, `StaleCapability` after it died), and, for a
 * `Target`, what resolving fails with. With a `Target`, a dead server is looked up again and the
 * call retried per `options.retry` when that is safe (see the module invariants). With
 * `options.direct`, the named methods are direct calls (`Port.callDirect`), with the same errors.
 * Throws when `options.direct` names an operation the protocol lacks.
 */
export const client = <Ops extends Operations, E = never>(protocol: Protocol<Ops>, target: number | Target<E>, options: ClientOptions = {}): Client<Ops, E> => {
  const methods: Record<string, (payload: unknown, extras?: Extras) => Effect.Effect<unknown, unknown, Process>> = {}
  const direct = options.direct ?? false
  if (Array.isArray(direct)) {
    for (const name of direct) {
      if (!protocol.entries.some((e) => e.name === name)) throw new Error(`client of ${protocol.name}: direct names no operation ${String(name)}`)
    }
  }
  for (const entry of protocol.entries) {
    const caller: Caller = direct === true || (Array.isArray(direct) && direct.includes(entry.name)) ? (unsafeCallDirectFrom as Caller) : unsafeCallFrom
    methods[entry.name] =
      typeof target === "number"
        ? (payload, extras) => callOn(protocol, entry, target, payload, extras, caller)
        : resolving(protocol, entry, target, options.retry ?? defaultRetry, caller)
  }
  return methods as unknown as Client<Ops, E>
}

/** A method on a resolvable target, with the retry rules of the module header. */
const resolving =
  <E>(protocol: Protocol, entry: Entry, target: Target<E>, schedule: Schedule.Schedule<unknown, unknown>, caller: Caller) =>
  (payload: unknown, extras?: Extras): Effect.Effect<unknown, unknown, Process> =>
    Effect.suspend(() => {
      let retriable = false
      const attempt = Effect.flatMap(
        Effect.tapError(target.resolve, () => Effect.sync(() => (retriable = true))),
        (slot) => {
          retriable = false
          return Effect.tapError(callOn(protocol, entry, slot, payload, extras, caller), (e) => {
            if (!isDead(e)) return Effect.void
            retriable = e._tag === "StaleCapability" || entry.operation.idempotent
            return target.invalidate(slot)
          })
        }
      )
      return Effect.retry(attempt, { schedule, while: () => retriable })
    })

/**
 * The calling thread's message buffer, of at least `length` bytes: where its spilled payloads are
 * staged and its spilled replies land (one per fiber, reused; back to the process's pool when the
 * fiber ends). Errors: `OutOfMemory` when it has to be allocated.
 */
export const threadBuffer = (length: number): Effect.Effect<ThreadBuffer, IpcError, Process> =>
  Effect.withFiberRuntime((fiber) => {
    const f = fiber as Fiber.RuntimeFiber<unknown, unknown>
    const p = processOf(f)
    const b = heldBuffer(f, p, length)
    return b !== undefined ? Effect.succeed(b) : acquireBuffer(f, p, length)
  })

export type { ThreadBuffer } from "./internal/threadBuffers.js"

/** The kernel's `inlineMax`: payloads longer than this spill. */
export const inlineMax: Effect.Effect<number, never, Process> = Effect.withFiberRuntime((fiber) =>
  Effect.succeed(processOf(fiber as Fiber.RuntimeFiber<unknown, unknown>).kernel.config.inlineMax)
)

// --- server side --------------------------------------------------------------------------------

/**
 * The operation a received message names, checked against its declaration: a known ordinal, a
 * spilled payload that arrived whole, and the declared capabilities and items. `InvalidRequest`
 * otherwise.
 */
export const requestEntry = (protocol: Protocol, m: Received): Entry | InvalidRequest => {
  const ordinal = m.label & LABEL_BITS
  const entry = protocol.entries[ordinal]
  if (entry === undefined) {
    return new InvalidRequest({ protocol: protocol.name, operation: `#${ordinal}`, reason: `no operation with ordinal ${ordinal}` })
  }
  const op = entry.operation
  if ((m.label & SPILLED) === 0) {
    if (m.caps.length === op.caps && m.items.length === 0 && op.items.length === 0) return entry
    const wrong = checkExtras(op, m.caps.length, m.items)
    return wrong === undefined ? entry : invalid(protocol, entry, wrong)
  }
  const where = payloadBytes(m.label, m.data, m.items)
  if (typeof where === "string") return invalid(protocol, entry, where)
  const wrong = checkExtras(op, m.caps.length, m.items.slice(0, -1))
  return wrong === undefined ? entry : invalid(protocol, entry, wrong)
}

/** Where a spilled request's payload landed (in the receiver's window); undefined when it is inline. */
export const spilledPayload = (m: Received): { readonly address: number; readonly length: number } | undefined => {
  if ((m.label & SPILLED) === 0) return undefined
  const last = m.items[m.items.length - 1]
  return last !== undefined && last._tag === "copy" ? { address: last.address, length: last.length } : undefined
}

/** The request's transfer items without the protocol's own spill item. */
export const requestItems = (m: Received): ReadonlyArray<DeliveredItem> => ((m.label & SPILLED) !== 0 ? m.items.slice(0, -1) : m.items)

/** Decodes a request's payload bytes with the operation's Schema: the payload, or `InvalidRequest`. */
export const decodePayload = (protocol: Protocol, entry: Entry, bytes: Uint8Array): unknown => {
  const v = entry.payload.decode(bytes)
  return v instanceof Undecodable ? invalid(protocol, entry, v.reason) : v
}

/**
 * Encodes a handler's outcome (`ok`: a success value, else a typed failure) as a reply's payload.
 * A value the Schema refuses, or one over `maxMessage`, becomes an `InvalidReply` (the server's
 * bug, to be told to the caller with `encodeError`).
 * With `transient`, inline bytes may be a view of the encoder's scratch (see `codec`): for a
 * caller that hands them to the kernel before anything else runs.
 */
export const encodeAnswer = (
  protocol: Protocol,
  entry: Entry,
  ok: boolean,
  value: unknown,
  inlineMax: number,
  transient = false
): Uint8Array | InvalidReply => {
  const bytes = (ok ? entry.success : entry.failure).encode(value, inlineMax, transient)
  const reason =
    typeof bytes === "string"
      ? bytes
      : bytes.length > protocol.maxMessage
        ? `answer is ${bytes.length} bytes, more than the protocol's maxMessage ${protocol.maxMessage}`
        : undefined
  return reason === undefined ? (bytes as Uint8Array) : new InvalidReply({ protocol: protocol.name, operation: entry.name, reason })
}

/** The reply status of the protocol layer's own errors. */
export const statusOf = (error: ProtocolError): number => (error._tag === "InvalidRequest" ? Status.invalidRequest : Status.invalidReply)

/**
 * Encodes the protocol layer's own errors as a reply's payload (with status `statusOf(error)`).
 * Always inline: the reason (then the names) are shortened until the bytes fit `inlineMax`, so an
 * error answer never needs the caller's window.
 */
export const encodeError = (error: ProtocolError, inlineMax: number): Uint8Array => {
  let fields = { protocol: error.protocol, operation: error.operation, reason: error.reason }
  for (;;) {
    const bytes = errorCodec.encode(fields, inlineMax)
    if (typeof bytes === "string") return new Uint8Array(0)
    if (bytes.length <= inlineMax) return bytes
    const excess = bytes.length - inlineMax
    if (fields.reason.length > 0) fields = { ...fields, reason: shorten(fields.reason, excess) }
    else if (fields.operation.length > 0) fields = { ...fields, operation: shorten(fields.operation, excess) }
    else if (fields.protocol.length > 0) fields = { ...fields, protocol: shorten(fields.protocol, excess) }
    else return new Uint8Array(0)
  }
}

/** `text` at least `excess` bytes shorter (a UTF-8 character is at most 3 bytes per code unit), marked with "…". */
const shorten = (text: string, excess: number): string => {
  const keep = text.length - excess - 3
  return keep <= 0 ? "" : `${text.slice(0, keep)}…`
}
