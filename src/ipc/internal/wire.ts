/**
 * The typed-protocol byte encoding: a compact binary form compiled from a Schema's *encoded* side
 * (like FIDL or Hubris idol messages, and unlike JSON: no field names, no number formatting).
 *
 * | encoded-side node | bytes |
 * |---|---|
 * | number | float64, little-endian |
 * | string, template literal | varint byte length, UTF-8 (well-formed strings only: no lone surrogates) |
 * | boolean | one byte, 0 or 1 |
 * | bigint | its decimal text, as a string |
 * | literal, undefined | nothing (the schema knows the value) |
 * | void | nothing (any value is accepted and none is carried; `undefined` arrives) |
 * | enums | one byte: the member's index |
 * | union | one byte: the member's index, then that member |
 * | struct | each property in schema order; an optional one is preceded by a presence byte |
 * | tuple / array | fixed elements (optional ones with a presence byte), then a varint count and the rest |
 * | recursive (suspend) | as its definition |
 * | anything else | JSON text, as a string |
 *
 * Invariants:
 * - A reader never reads past its bytes and rejects trailing bytes, booleans other than 0/1 and
 *   out-of-range indices: malformed bytes are a `WireError`, never a wrong value.
 * - For a `trusted` schema (no refinement, transformation, declaration, recursion or JSON node),
 *   what the reader returns is a value the Schema accepts, built with exactly the declared
 *   properties: decoding it again with Schema would change nothing. Every other schema's values
 *   go through Schema after reading. (A property test holds the two to agreement.)
 */
import { BigInt as BigInt_, Option, ParseResult, Schema, SchemaAST } from "effect"

/** Bytes that are not a value of the schema, or a value that cannot be written. */
export class WireError extends Error {}

/** Float64 <-> bytes for the reader, whose bytes change with every message (a view each would allocate). */
const f64 = new Float64Array(1)
const f64Bytes = new Uint8Array(f64.buffer)
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
/** A view of `bytes` for float64s (little-endian, as the wire), made once per buffer. */
const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * Writes one message at a time into `bytes` from `start` (a scratch buffer the caller lends);
 * when that runs out it moves the message so far into a bigger buffer of its own.
 */
export class Writer {
  bytes: Uint8Array = new Uint8Array(0)
  view: DataView = viewOf(this.bytes)
  start = 0
  pos = 0

  /** Starts a message at `start` of `bytes`. */
  reset(bytes: Uint8Array, start: number): void {
    if (bytes !== this.bytes) {
      this.bytes = bytes
      this.view = viewOf(bytes)
    }
    this.start = start
    this.pos = start
  }

  /** Bytes written since `reset`. */
  get length(): number {
    return this.pos - this.start
  }

  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return
    const length = this.pos - this.start
    const bigger = new Uint8Array(Math.max(1024, 2 * (length + n)))
    bigger.set(this.bytes.subarray(this.start, this.pos))
    this.bytes = bigger
    this.view = viewOf(bigger)
    this.start = 0
    this.pos = length
  }

  byte(b: number): void {
    this.ensure(1)
    this.bytes[this.pos++] = b
  }

  varint(n: number): void {
    this.ensure(5)
    while (n >= 0x80) {
      this.bytes[this.pos++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    this.bytes[this.pos++] = n
  }

  float(x: number): void {
    this.ensure(8)
    this.view.setFloat64(this.pos, x, true)
    this.pos += 8
  }

  string(s: string): void {
    const n = s.length
    const start = this.pos
    this.varint(n)
    this.ensure(n)
    const bytes = this.bytes
    let p = this.pos
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) {
        this.pos = start
        return this.utf8(s)
      }
      bytes[p++] = c
    }
    this.pos = p
  }

  private utf8(s: string): void {
    if (!wellFormed(s)) throw new WireError("string is not well-formed Unicode (a lone surrogate would not survive UTF-8)")
    const encoded = encoder.encode(s)
    this.varint(encoded.length)
    this.ensure(encoded.length)
    this.bytes.set(encoded, this.pos)
    this.pos += encoded.length
  }
}

/** Reads one message's bytes; one reader serves every decode (reading never yields). */
export class Reader {
  pos = 0
  bytes: Uint8Array = new Uint8Array(0)

  reset(bytes: Uint8Array): void {
    this.bytes = bytes
    this.pos = 0
  }

  need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new WireError(`truncated: need ${n} more bytes at offset ${this.pos}`)
  }

  byte(): number {
    this.need(1)
    return this.bytes[this.pos++]!
  }

  varint(): number {
    let n = 0
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte()
      n += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return n
    }
    throw new WireError(`varint too long at offset ${this.pos}`)
  }

  float(): number {
    this.need(8)
    const b = this.bytes
    const p = this.pos
    if (littleEndian) for (let i = 0; i < 8; i++) f64Bytes[i] = b[p + i]!
    else for (let i = 0; i < 8; i++) f64Bytes[7 - i] = b[p + i]!
    this.pos = p + 8
    return f64[0]!
  }

  string(): string {
    const n = this.varint()
    this.need(n)
    const start = this.pos
    this.pos += n
    if (n <= 32) {
      let s = ""
      for (let i = start; i < start + n; i++) {
        const c = this.bytes[i]!
        if (c >= 0x80) return decodeUtf8(this.bytes.subarray(start, start + n))
        s += String.fromCharCode(c)
      }
      return s
    }
    return decodeUtf8(this.bytes.subarray(start, start + n))
  }
}

const encoder = new TextEncoder()

/** Whether every surrogate in `s` is half of a pair (`String.prototype.isWellFormed`, ES2024). */
const wellFormed = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    if (c > 0xdbff) return false
    const next = s.charCodeAt(i + 1)
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false
    i++
  }
  return true
}
/** Keeps a leading U+FEFF: by default a TextDecoder drops it as a byte-order mark, and "\uFEFFa" would arrive as "a". */
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const decodeUtf8 = (bytes: Uint8Array): string => {
  try {
    return decoder.decode(bytes)
  } catch {
    throw new WireError("malformed UTF-8")
  }
}

/** A compiled encoder/decoder of one schema node. */
interface Node {
  readonly write: (w: Writer, v: unknown) => void
  readonly read: (r: Reader) => unknown
}

const expected = (what: string, v: unknown): WireError =>
  new WireError(`expected ${what}, got ${v === null ? "null" : Array.isArray(v) ? "an array" : typeof v}`)

const numberNode: Node = {
  write: (w, v) => {
    if (typeof v !== "number") throw expected("a number", v)
    w.float(v)
  },
  read: (r) => r.float()
}

const stringNode: Node = {
  write: (w, v) => {
    if (typeof v !== "string") throw expected("a string", v)
    w.string(v)
  },
  read: (r) => r.string()
}

const booleanNode: Node = {
  write: (w, v) => {
    if (typeof v !== "boolean") throw expected("a boolean", v)
    w.byte(v ? 1 : 0)
  },
  read: (r) => {
    const b = r.byte()
    if (b > 1) throw new WireError(`boolean byte ${b}`)
    return b === 1
  }
}

const constant = (value: unknown, what: string): Node => ({
  write: (_, v) => {
    if (v !== value) throw new WireError(`expected ${what}, got ${String(v)}`)
  },
  read: () => value
})

/** `void` accepts any value and carries none: nothing is written, `undefined` is read. */
const voidNode: Node = {
  write: () => undefined,
  read: () => undefined
}

const neverNode: Node = {
  write: () => {
    throw new WireError("no value is allowed here")
  },
  read: () => {
    throw new WireError("no value is allowed here")
  }
}

const jsonNode: Node = {
  write: (w, v) => {
    let text: string | undefined
    try {
      text = JSON.stringify(v)
    } catch (e) {
      throw new WireError(`not representable as JSON: ${String(e)}`)
    }
    if (text === undefined) throw new WireError(`not representable as JSON: ${String(v)}`)
    w.string(text)
  },
  read: (r) => {
    try {
      return JSON.parse(r.string())
    } catch (e) {
      if (e instanceof WireError) throw e
      throw new WireError("malformed JSON")
    }
  }
}

/** One of a few values, by index. */
const indexed = (values: ReadonlyArray<unknown>, what: string): Node => {
  if (values.length > 256) return jsonNode
  return {
    write: (w, v) => {
      const i = values.indexOf(v)
      if (i < 0) throw new WireError(`expected ${what}, got ${String(v)}`)
      w.byte(i)
    },
    read: (r) => {
      const i = r.byte()
      if (i >= values.length) throw new WireError(`${what}: index ${i} out of range`)
      return values[i]
    }
  }
}

/** A union of `members` (compiled by the caller), told apart on writing by each member's guard. */
const union = (ast: SchemaAST.Union, members: ReadonlyArray<Node>): Node => {
  const guards = ast.types.map((t) => ParseResult.is(Schema.make(t)))
  return {
    write: (w, v) => {
      for (let i = 0; i < guards.length; i++) {
        if (guards[i]!(v)) {
          w.byte(i)
          return members[i]!.write(w, v)
        }
      }
      throw new WireError(`no member of ${String(ast)} matches`)
    },
    read: (r) => {
      const i = r.byte()
      const m = members[i]
      if (m === undefined) throw new WireError(`union member ${i} out of range`)
      return m.read(r)
    }
  }
}

/**
 * A struct's reader and writer, generated as straight-line code per schema (as protobuf.js and
 * FIDL's bindings do): each property is one statement with its own call site, so V8 sees one
 * node per site and inlines it, and the reader builds its object with one literal, so every
 * decoded value of a schema shares one hidden class. About three times faster than a loop over
 * the properties (the typed-call hot path encodes and decodes two structs per call). The
 * generated text contains only property names quoted by `JSON.stringify` and indices.
 */
const struct = (ast: SchemaAST.TypeLiteral, nodes: ReadonlyArray<Node>): Node => {
  const props = ast.propertySignatures.map((p) => ({ key: JSON.stringify(p.name as string), optional: p.isOptional }))
  const writes = props.map(({ key, optional }, i) =>
    optional ? `if (Object.hasOwn(v, ${key})) { w.byte(1); n${i}.write(w, v[${key}]) } else w.byte(0)` : `n${i}.write(w, v[${key}])`
  )
  const required = props.filter((p) => !p.optional)
  const reads = props.map(({ key, optional }, i) => (optional ? `if (present(r)) o[${key}] = n${i}.read(r)` : `o[${key}] = n${i}.read(r)`))
  const literal = `{ ${required.map(({ key }) => `${key}: undefined`).join(", ")} }`
  const bindings = nodes.map((_, i) => `const n${i} = nodes[${i}]`).join("\n")
  const make = new Function(
    "nodes",
    "expected",
    "present",
    `${bindings}
return {
  write(w, v) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw expected("an object", v)
    ${writes.join("\n    ")}
  },
  read(r) {
    const o = ${literal}
    ${reads.join("\n    ")}
    return o
  }
}`
  ) as (nodes: ReadonlyArray<Node>, e: typeof expected, p: typeof presence) => Node
  return make(nodes, expected, presence)
}

/** Reads a presence byte: whether the optional element that may follow is there. */
const presence = (r: Reader): boolean => {
  const b = r.byte()
  if (b > 1) throw new WireError(`presence byte ${b}`)
  return b === 1
}

/** A tuple of `fixed` elements (compiled by the caller) and at most one `rest` element. */
const tuple = (ast: SchemaAST.TupleType, fixed: ReadonlyArray<Node>, rest: Node | undefined): Node => {
  const elements = ast.elements.map((e, i) => ({ optional: e.isOptional, node: fixed[i]! }))
  return {
    write: (w, v) => {
      if (!Array.isArray(v)) throw expected("an array", v)
      elements.forEach((e, i) => {
        if (e.optional) {
          w.byte(i < v.length ? 1 : 0)
          if (i >= v.length) return
        } else if (i >= v.length) {
          throw new WireError(`missing element ${i}`)
        }
        e.node.write(w, v[i])
      })
      const more = v.length - elements.length
      if (rest === undefined) {
        if (more > 0) throw new WireError(`${more} elements too many`)
        return
      }
      w.varint(Math.max(0, more))
      for (let i = elements.length; i < v.length; i++) rest.write(w, v[i])
    },
    read: (r) => {
      const out: Array<unknown> = []
      for (const e of elements) {
        if (e.optional) {
          const present = r.byte()
          if (present > 1) throw new WireError(`presence byte ${present}`)
          if (present === 0) break
        }
        out.push(e.node.read(r))
      }
      if (rest === undefined) return out
      if (out.length < elements.length) {
        if (r.varint() !== 0) throw new WireError("rest elements after a missing optional element")
        return out
      }
      const n = r.varint()
      if (n > r.bytes.length - r.pos) throw new WireError(`array of ${n} elements in ${r.bytes.length - r.pos} bytes`)
      for (let i = 0; i < n; i++) out.push(rest.read(r))
      return out
    }
  }
}

/** A union of literals, as the index of its member. */
const literals = (ast: SchemaAST.Union): Node =>
  indexed(
    ast.types.map((t) => (t as SchemaAST.Literal).literal),
    String(ast)
  )

/**
 * Whether a struct has a binary form: named properties only (no index signature), none called
 * "__proto__" (in an object literal that key would set the prototype, not a property).
 */
const structCompiles = (ast: SchemaAST.TypeLiteral): boolean =>
  ast.indexSignatures.length === 0 && ast.propertySignatures.every((p) => typeof p.name === "string" && p.name !== "__proto__")

/** Compiles an encoded-side AST node. */
const compile = (ast: SchemaAST.AST): Node => {
  switch (ast._tag) {
    case "NumberKeyword":
      return numberNode
    case "StringKeyword":
    case "TemplateLiteral":
      return stringNode
    case "BooleanKeyword":
      return booleanNode
    case "BigIntKeyword":
      return bigintNode
    case "Literal":
      return constant(ast.literal, JSON.stringify(ast.literal) ?? String(ast.literal))
    case "UndefinedKeyword":
      return constant(undefined, "undefined")
    case "VoidKeyword":
      return voidNode
    case "NeverKeyword":
      return neverNode
    case "Enums":
      return indexed(
        ast.enums.map(([, v]) => v),
        String(ast)
      )
    case "Union":
      if (ast.types.length > 256) return jsonNode
      if (ast.types.every(SchemaAST.isLiteral)) return literals(ast)
      return union(ast, ast.types.map(compile))
    case "TypeLiteral":
      return structCompiles(ast)
        ? struct(
            ast,
            ast.propertySignatures.map((p) => compile(p.type))
          )
        : jsonNode
    case "TupleType":
      return ast.rest.length > 1
        ? jsonNode
        : tuple(
            ast,
            ast.elements.map((e) => compile(e.type)),
            ast.rest.length === 1 ? compile(ast.rest[0]!.type) : undefined
          )
    case "Refinement":
      return compile(ast.from)
    case "Transformation":
      return compile(ast.from)
    case "Suspend": {
      let inner: Node | undefined = undefined
      return {
        write: (w, v) => (inner ??= compile(ast.f())).write(w, v),
        read: (r) => (inner ??= compile(ast.f())).read(r)
      }
    }
    default:
      return jsonNode
  }
}

/** A refinement's own check, as the wire applies it: the `from` node, then the filter. */
const refined = (ast: SchemaAST.Refinement, from: Node): Node => {
  const check = (v: unknown): void => {
    const issue = ast.filter(v, {}, ast)
    if (Option.isSome(issue)) throw new WireError(ParseResult.TreeFormatter.formatIssueSync(issue.value))
  }
  return {
    write: (w, v) => {
      from.write(w, v)
      check(v)
    },
    read: (r) => {
      const v = from.read(r)
      check(v)
      return v
    }
  }
}

/** A `bigint` as its decimal text (the encoded side of `Schema.BigInt`), read back as `Schema.BigInt` decodes it. */
const bigintNode: Node = {
  write: (w, v) => {
    if (typeof v !== "bigint") throw expected("a bigint", v)
    w.string(v.toString())
  },
  read: (r) => {
    const text = r.string()
    const n = BigInt_.fromString(text)
    if (Option.isNone(n)) throw new WireError(`not an integer: ${JSON.stringify(text)}`)
    return n.value
  }
}

/**
 * Nodes the reader builds exactly from the bytes, with nothing to check after: keywords (values
 * are read as what they are), literals and enums (by index), `unknown`/`any` (JSON text).
 */
const LEAVES: ReadonlySet<SchemaAST.AST["_tag"]> = new Set([
  "NumberKeyword",
  "StringKeyword",
  "BooleanKeyword",
  "BigIntKeyword",
  "Literal",
  "UndefinedKeyword",
  "VoidKeyword",
  "NeverKeyword",
  "Enums",
  "UnknownKeyword",
  "AnyKeyword"
])

/**
 * The node that reads and writes a schema's *type-side* values directly, or undefined when some
 * part needs Schema's own pass. Covers what the reader can check exactly: keywords, literals,
 * enums, unions, structs and tuples of such, refinements (each checked with its own filter, as
 * Schema does after decoding what it refines), and bigints (`Schema.BigIntFromSelf`, and
 * `Schema.BigInt`, whose encoded side is the same decimal text). Any other transformation or
 * declaration, recursion and JSON nodes go the general way: Schema encode, the encoded side's
 * bytes, Schema decode. The bytes are the same either way: this only skips the passes.
 */
const direct = (ast: SchemaAST.AST): Node | undefined => {
  if (LEAVES.has(ast._tag)) return compile(ast)
  switch (ast._tag) {
    case "Union": {
      if (ast.types.length > 256) return undefined
      if (ast.types.every(SchemaAST.isLiteral)) return literals(ast)
      const members = ast.types.map(direct)
      return members.every((m) => m !== undefined) ? union(ast, members as Array<Node>) : undefined
    }
    case "TypeLiteral": {
      if (!structCompiles(ast)) return undefined
      const nodes = ast.propertySignatures.map((p) => direct(p.type))
      return nodes.every((n) => n !== undefined) ? struct(ast, nodes as Array<Node>) : undefined
    }
    case "TupleType": {
      if (ast.rest.length > 1) return undefined
      const fixed = ast.elements.map((e) => direct(e.type))
      const rest = ast.rest.length === 1 ? direct(ast.rest[0]!.type) : undefined
      if (!fixed.every((n) => n !== undefined) || (ast.rest.length === 1 && rest === undefined)) return undefined
      return tuple(ast, fixed as Array<Node>, rest)
    }
    case "Refinement": {
      const from = direct(ast.from)
      return from === undefined ? undefined : refined(ast, from)
    }
    case "Transformation":
      return ast === Schema.BigInt.ast ? bigintNode : undefined
    default:
      return undefined
  }
}

/**
 * Whether the reader's output needs no Schema pass: every node is one the reader builds exactly
 * (see the module invariants).
 */
export const trusted = (ast: SchemaAST.AST): boolean => {
  if (LEAVES.has(ast._tag)) return true
  switch (ast._tag) {
    case "Union":
      return ast.types.length <= 256 && ast.types.every(trusted)
    case "TypeLiteral":
      return ast.indexSignatures.length === 0 && ast.propertySignatures.every((p) => typeof p.name === "string" && trusted(p.type))
    case "TupleType":
      return ast.rest.length <= 1 && ast.elements.every((e) => trusted(e.type)) && ast.rest.every((t) => trusted(t.type))
    default:
      return false
  }
}

const limits = (ast: SchemaAST.AST): { readonly maxLength?: number; readonly maxItems?: number } => {
  const a = SchemaAST.getJSONSchemaAnnotation(ast)
  return a._tag === "Some" ? (a.value as { maxLength?: number; maxItems?: number }) : {}
}

/**
 * The most bytes the wire form of a value of `ast` (an encoded-bound AST: encoded side, with its
 * refinements) can take; `Infinity` when unbounded (a string without `maxLength`, an array
 * without `maxItems`, JSON). Lets senders and receivers skip receive windows for operations whose
 * messages always fit inline.
 */
export const maxBytes = (ast: SchemaAST.AST): number => {
  switch (ast._tag) {
    case "NumberKeyword":
      return 8
    case "BooleanKeyword":
      return 1
    case "Enums":
      return ast.enums.length > 256 ? Infinity : 1
    case "Literal":
    case "UndefinedKeyword":
    case "VoidKeyword":
    case "NeverKeyword":
      return 0
    case "Union":
      if (ast.types.length > 256) return Infinity
      return ast.types.every(SchemaAST.isLiteral) ? 1 : 1 + Math.max(...ast.types.map(maxBytes))
    case "TypeLiteral":
      if (ast.indexSignatures.length > 0 || ast.propertySignatures.some((p) => typeof p.name !== "string")) return Infinity
      return ast.propertySignatures.reduce((n, p) => n + (p.isOptional ? 1 : 0) + maxBytes(p.type), 0)
    case "TupleType": {
      if (ast.rest.length > 0) return Infinity
      return ast.elements.reduce((n, e) => n + (e.isOptional ? 1 : 0) + maxBytes(e.type), 0)
    }
    case "Refinement": {
      const { maxLength, maxItems } = limits(ast)
      const from = ast.from
      if (maxLength !== undefined && (from._tag === "StringKeyword" || from._tag === "TemplateLiteral" || from._tag === "Refinement")) {
        return Math.min(maxBytes(from), 5 + 3 * maxLength)
      }
      if (maxItems !== undefined && from._tag === "TupleType" && from.rest.length === 1) {
        const fixed = from.elements.reduce((n, e) => n + (e.isOptional ? 1 : 0) + maxBytes(e.type), 0)
        return Math.min(maxBytes(from), fixed + 5 + maxItems * maxBytes(from.rest[0]!.type))
      }
      return maxBytes(from)
    }
    case "Transformation":
      return maxBytes(ast.from)
    default:
      return Infinity
  }
}

/** The wire form of a schema: writes its values, reads them back. */
export interface Wire {
  /** Writes `value` at `w.pos`. Throws `WireError`. */
  readonly write: (w: Writer, value: unknown) => void
  /** Reads one value from all of `bytes`. Throws `WireError`. */
  readonly read: (bytes: Uint8Array) => unknown
  /** The most bytes a value can take (`Infinity`: unbounded). */
  readonly maxBytes: number
}

const reader = new Reader()

const wireOf = (node: Node, schema: Schema.Schema.All): Wire => ({
  maxBytes: maxBytes(SchemaAST.encodedBoundAST(schema.ast)),
  write: node.write,
  read: (bytes) => {
    reader.reset(bytes)
    const v = node.read(reader)
    if (reader.pos !== bytes.length) throw new WireError(`${bytes.length - reader.pos} trailing bytes`)
    return v
  }
})

/** Compiles the wire form of `schema`'s encoded side: its values go through Schema on either side. */
export const wire = (schema: Schema.Schema.All): Wire => wireOf(compile(SchemaAST.encodedAST(schema.ast)), schema)

/**
 * The wire form of `schema`'s *type-side* values, checked exactly with no Schema pass (see
 * `direct`), or undefined when the schema needs Schema's own pass. Same bytes as `wire`.
 */
export const directWire = (schema: Schema.Schema.All): Wire | undefined => {
  const node = direct(schema.ast)
  return node === undefined ? undefined : wireOf(node, schema)
}
