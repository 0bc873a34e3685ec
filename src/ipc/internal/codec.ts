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
import { Either, ParseResult, Schema, type SchemaAST } from "effect"
import { Chunks, EMPTY } from "./chunks.js"
import { directWire, trusted, type Wire, wire, WireError, Writer } from "./wire.js"

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
