/**
 * The typed-protocol wire format: labels, the byte encoding of payloads, and the per-thread
 * message buffers that spilled payloads travel through. Pure functions and plain objects; the
 * only effects are the memory syscalls that make a thread's buffer.
 *
 * Wire format (see docs/protocols.md):
 * - A request's label is the operation's ordinal, with `SPILLED` set when the payload travels as
 *   the message's last copy item instead of inline data.
 * - A reply's label is a `Status`, with `SPILLED` likewise.
 * - A payload is its Schema *encoded* value in the binary form of `protocolWire.ts`.
 *
 * Invariants:
 * - Bytes handed to the kernel are never written again, so a fiber switch between encoding and
 *   the syscall cannot corrupt a message. Encoding writes into one scratch buffer and copies the
 *   message out before returning (it never yields) — unless the caller asks for a `transient`
 *   view of the scratch, which it must hand to a syscall that copies it before anything else
 *   runs (the client's call does: `Port.callFrom` decodes the send synchronously).
 * - A thread buffer is used by one fiber at a time: the fiber that holds it is blocked in its call
 *   while the kernel copies into or out of it, and it returns to its process's pool only when
 *   that fiber has ended.
 */
import { Effect, Either, type Fiber, ParseResult, Schema, type SchemaAST } from "effect"
import { allocate } from "../../kernel/Memory.js"
import type { Pcb, Process } from "../../kernel/Process.js"
import { PAGE_SIZE } from "../../params.js"
import { directWire, trusted, type Wire, wire, WireError, Writer } from "./protocolWire.js"
import type { IpcError } from "../errors.js"
import type { Window } from "../Message.js"

// --- labels -------------------------------------------------------------------------------------

/** Set in a label when the payload travels as the message's last copy item. */
export const SPILLED = 0x4000_0000
/** The label bits that carry the ordinal (requests) or the status (replies). */
export const LABEL_BITS = 0x3fff_ffff

/** What a reply's label says about its payload. */
export const Status = {
  /** The operation succeeded; the payload is the encoded success value. */
  ok: 0,
  /** The operation failed with a typed failure; the payload is the encoded failure. */
  failure: 1,
  /** The server could not decode the request; the payload is an encoded `InvalidRequest`. */
  invalidRequest: 2,
  /** The server could not encode its answer; the payload is an encoded `InvalidReply`. */
  invalidReply: 3
} as const

// --- values <-> bytes ---------------------------------------------------------------------------

const CHUNK = 65536
let chunk = new Uint8Array(CHUNK)
let used = 0
const EMPTY = new Uint8Array(0)
/** Arrays up to this many bytes live on V8's heap: allocating one is a bump, with no backing store. */
const ON_HEAP = 64
/** The one writer and its scratch: encoding is synchronous, and each message is taken out before the next. */
const writer = new Writer()
const scratch = new Uint8Array(1024)

/**
 * The message just written, as bytes of its own that are never written again: a small array of
 * its own (on V8's heap), a view into a chunk that is never reused (up to `inlineMax`, so no
 * external allocation per message), or, for a message that will spill, a copy.
 */
const finish = (inlineMax: number, transient: boolean): Uint8Array => {
  const n = writer.length
  if (n === 0) return EMPTY
  if (transient && n <= inlineMax && writer.bytes === scratch) return scratch.subarray(writer.start, writer.pos)
  if (n <= ON_HEAP || n > inlineMax) return writer.bytes.slice(writer.start, writer.pos)
  if (used + n > CHUNK) {
    chunk = new Uint8Array(CHUNK)
    used = 0
  }
  const out = chunk.subarray(used, used + n)
  out.set(writer.bytes.subarray(writer.start, writer.pos))
  used += (n + 7) & ~7
  return out
}

/** Why bytes are not a value of a schema (a class, so no decoded value can be mistaken for it). */
export class Undecodable {
  constructor(readonly reason: string) {}
}

/** Encodes and decodes one schema's values to and from wire bytes. */
export interface Codec {
  /**
   * The wire bytes of `value`, or why it cannot be encoded. With `transient`, bytes that fit
   * `inlineMax` may be a view of the encoder's scratch, valid only until the next encode: for a
   * caller that hands them to the kernel (which copies them) before anything else runs.
   */
  readonly encode: (value: unknown, inlineMax: number, transient?: boolean) => Uint8Array | string
  /** The value the wire `bytes` stand for, or an `Undecodable` saying why they are not one. */
  readonly decode: (bytes: Uint8Array) => unknown
  /** The most bytes an encoded value can take (`Infinity`: unbounded). */
  readonly maxBytes: number
}

/**
 * Whether encoding with `ast` is the identity on values (no transformation, declaration or
 * recursion anywhere), so a sender whose value is already typed may skip the encode step.
 */
export const isPlain = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "Transformation":
    case "Declaration":
    case "Suspend":
      return false
    case "Refinement":
      return isPlain(ast.from)
    case "Union":
      return ast.types.every(isPlain)
    case "TupleType":
      return ast.elements.every((e) => isPlain(e.type)) && ast.rest.every((r) => isPlain(r.type))
    case "TypeLiteral":
      return ast.propertySignatures.every((p) => isPlain(p.type)) && ast.indexSignatures.every((s) => isPlain(s.type))
    default:
      return true
  }
}

const describe = (e: ParseResult.ParseError): string => ParseResult.TreeFormatter.formatErrorSync(e)

/**
 * The wire codec of `schema` (which must need no context). A schema with a `directWire` is written
 * and read with no Schema pass, its checks made by the wire itself; when it refuses a value or
 * bytes, the general path runs to say why, in Schema's words (with the path to the fault).
 * Otherwise encoding runs Schema's encode unless it is the identity, and decoding reads the
 * encoded side's bytes and then runs Schema's decode unless the schema is `trusted` (the
 * reader's output is then already exactly a valid value).
 */
export const codec = (schema: Schema.Schema<any, any, never>): Codec => {
  const plain = isPlain(schema.ast)
  const skipDecode = trusted(schema.ast)
  const form = wire(schema)
  const fast = directWire(schema)
  const encodeEither = Schema.encodeEither(schema)
  const decodeEither = Schema.decodeUnknownEither(schema)
  const encodeGeneral = (value: unknown, inlineMax: number, transient = false): Uint8Array | string => {
    let encoded = value
    if (!plain) {
      const r = encodeEither(value)
      if (Either.isLeft(r)) return describe(r.left)
      encoded = r.right
    }
    return writeWith(form, encoded, inlineMax, transient)
  }
  const decodeGeneral = (bytes: Uint8Array): unknown => {
    let value: unknown
    try {
      value = form.read(bytes)
    } catch (e) {
      if (e instanceof WireError) return new Undecodable(e.message)
      throw e
    }
    if (skipDecode) return value
    const r = decodeEither(value)
    return Either.isLeft(r) ? new Undecodable(describe(r.left)) : r.right
  }
  if (fast === undefined) return { maxBytes: form.maxBytes, encode: encodeGeneral, decode: decodeGeneral }
  return {
    maxBytes: form.maxBytes,
    encode: (value, inlineMax, transient = false) => {
      const bytes = writeWith(fast, value, inlineMax, transient)
      return typeof bytes === "string" ? encodeGeneral(value, inlineMax, transient) : bytes
    },
    decode: (bytes) => {
      try {
        return fast.read(bytes)
      } catch (e) {
        if (e instanceof WireError) return decodeGeneral(bytes)
        throw e
      }
    }
  }
}

/** Writes one message with `form`: its bytes, or why it cannot be written. */
const writeWith = (form: Wire, value: unknown, inlineMax: number, transient: boolean): Uint8Array | string => {
  writer.reset(scratch, 0)
  try {
    form.write(writer, value)
  } catch (e) {
    if (e instanceof WireError) return e.message
    throw e
  }
  return finish(inlineMax, transient)
}

// --- thread buffers -----------------------------------------------------------------------------

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
    readonly address: number,
    readonly length: number
  ) {
    this.windows = [{ address, length }]
    this.options = { windows: this.windows }
  }
}

/** Buffers held by live fibers, and buffers of ended fibers ready for reuse, per process. */
const held = new WeakMap<Fiber.RuntimeFiber<unknown, unknown>, ThreadBuffer>()
const pools = new WeakMap<Pcb, Array<ThreadBuffer>>()

/** The buffer `fiber` already holds, if it is at least `length` bytes. Synchronous and cheap. */
export const heldBuffer = (fiber: Fiber.RuntimeFiber<unknown, unknown>, length: number): ThreadBuffer | undefined => {
  const b = held.get(fiber)
  return b !== undefined && b.length >= length ? b : undefined
}

/**
 * Gives `fiber` (of process `p`) a buffer of at least `length` bytes: one from the pool, or fresh
 * pages. The buffer goes back to the pool when the fiber ends. Errors: `OutOfMemory`.
 */
export const acquireBuffer = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  p: Pcb,
  length: number
): Effect.Effect<ThreadBuffer, IpcError, Process> => {
  let pool = pools.get(p)
  if (pool === undefined) pools.set(p, (pool = []))
  const free = pool
  const adopt = (b: ThreadBuffer): ThreadBuffer => {
    const previous = held.get(fiber)
    held.set(fiber, b)
    if (previous !== undefined) {
      free.push(previous)
    } else {
      fiber.addObserver(() => {
        const mine = held.get(fiber)
        held.delete(fiber)
        if (mine !== undefined) free.push(mine)
      })
    }
    return b
  }
  const i = free.findIndex((b) => b.length >= length)
  if (i >= 0) return Effect.succeed(adopt(free.splice(i, 1)[0]!))
  const pages = Math.max(1, Math.ceil(length / PAGE_SIZE))
  return Effect.map(allocate(pages), (address) => adopt(new ThreadBuffer(address, pages * PAGE_SIZE)))
}
