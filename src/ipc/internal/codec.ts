/**
 * Payload codecs: a protocol operation's schemas turned into encoders and decoders of wire bytes
 * (the binary form of `wire.ts`). Pure functions and plain objects, no effects.
 *
 * Where payloads go (see docs/protocols.md): a request's label is the operation's ordinal, a
 * reply's a `Status` (`labels.ts`), with `SPILLED` set when the payload travels as the message's
 * last copy item (through a thread buffer, `threadBuffers.ts`) instead of inline data.
 *
 * Invariants:
 * - Bytes handed to the kernel are never written again, so a fiber switch between encoding and
 *   the syscall cannot corrupt a message. Encoding writes into one scratch buffer and copies the
 *   message out before returning (it never yields) — unless the caller asks for a `transient`
 *   view of the scratch, which it must hand to a syscall that copies it before anything else
 *   runs (the client's call does: `Port.unsafeCallFrom` decodes the send synchronously).
 */
import { Either, ParseResult, Schema } from "effect"
import { Chunks, EMPTY } from "./chunks.js"
import { compile, type Wire, WireError, Writer } from "./wire.js"

// --- values <-> bytes ---------------------------------------------------------------------------

/**
 * The one writer, its scratch, and the chunks finished messages are copied into: module-level,
 * shared by every encode in the realm. Encoding is synchronous and each message is taken out of
 * the scratch before the next begins, so no two users ever overlap.
 */
const writer = new Writer()
const scratch = new Uint8Array(1024)
const chunks = new Chunks()

/**
 * The message just written, as bytes of its own that are never written again (a `Chunks` copy),
 * or, with `transient`, a view of the scratch (see `Codec.encode`).
 */
const finish = (inlineMax: number, transient: boolean): Uint8Array => {
  if (writer.length === 0) return EMPTY
  if (transient && writer.length <= inlineMax && writer.bytes === scratch) return scratch.subarray(writer.start, writer.pos)
  return chunks.copy(writer.bytes, writer.start, writer.pos)
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

const describe = (e: ParseResult.ParseError): string => ParseResult.TreeFormatter.formatErrorSync(e)

/**
 * The wire codec of `schema` (which must need no context), as `compile` classifies it. A schema
 * with a direct wire is written and read with no Schema pass, its checks made by the wire itself.
 * When the direct wire refuses a value, Schema's encode says why, in Schema's words with the path
 * to the fault (or, when Schema accepts it, the wire's reason stands: the bytes cannot carry it).
 * When it refuses bytes, the encoded side's wire reads them and Schema decodes them, which gives
 * Schema's words, or a value Schema accepts where the direct reader would not (a union whose
 * member, as the bytes name it, refuses a value another member accepts) — unless the schema is
 * trusted: the same reader then refused them. Any other schema is encoded by Schema before its
 * wire writes it, and decoded by Schema after its wire reads it. Throws as `compile` does (a
 * definition-time defect: a schema that needs Schema's pass and has a "__proto__" property).
 */
export const codec = (schema: Schema.Schema<any, any, never>): Codec => {
  const { wire, direct, trusted, maxBytes } = compile(schema)
  const encodeEither = Schema.encodeEither(schema)
  const decodeEither = Schema.decodeUnknownEither(schema)
  /** Reads the encoded side and decodes it with Schema; a wire refusal is `refused`'s reason, or its own. */
  const readThroughSchema = (bytes: Uint8Array, refused?: string): unknown => {
    let value: unknown
    try {
      value = wire.read(bytes)
    } catch (e) {
      if (e instanceof WireError) return new Undecodable(refused ?? e.message)
      throw e
    }
    const r = decodeEither(value)
    return Either.isLeft(r) ? new Undecodable(describe(r.left)) : r.right
  }
  if (direct === undefined) {
    return {
      maxBytes,
      encode: (value, inlineMax, transient = false) => {
        const r = encodeEither(value)
        return Either.isLeft(r) ? describe(r.left) : writeWith(wire, r.right, inlineMax, transient)
      },
      decode: (bytes) => readThroughSchema(bytes)
    }
  }
  return {
    maxBytes,
    encode: (value, inlineMax, transient = false) => {
      const bytes = writeWith(direct, value, inlineMax, transient)
      if (typeof bytes !== "string") return bytes
      const r = encodeEither(value)
      return Either.isLeft(r) ? describe(r.left) : bytes
    },
    decode: (bytes) => {
      try {
        return direct.read(bytes)
      } catch (e) {
        if (!(e instanceof WireError)) throw e
        return trusted ? new Undecodable(e.message) : readThroughSchema(bytes, e.message)
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
