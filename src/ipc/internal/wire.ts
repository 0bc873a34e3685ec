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
 * | literal, unique symbol, undefined | nothing (the schema knows the value) |
 * | void | nothing (any value is accepted and none is carried; `undefined` arrives) |
 * | enums, union of literals | the member's index: one byte, a varint beyond 256 members |
 * | union | the member's index (as for enums), then that member |
 * | struct | each property in schema order; an optional one is preceded by a presence byte |
 * | tuple / array | fixed elements (an optional one after a presence byte; after an absent one nothing follows), then a varint count and the rest |
 * | recursive (suspend) | as its definition |
 * | anything else | JSON text, as a string |
 *
 * One walk, `classify`, decides everything about a schema node together (STYLE 14): the node that
 * writes and reads its encoded side (`wire`), the node that writes and reads its type side checked
 * exactly with no Schema pass (`direct`, when there is one; when it is the wire node itself, the
 * wire's output is trusted as it stands), and the least and most bytes a value takes. `compile`
 * hands its answer for a whole schema to the codec; nothing else classifies a schema.
 *
 * Invariants:
 * - A reader never reads past its bytes and rejects trailing bytes, booleans and presence bytes
 *   other than 0/1 and out-of-range indices: malformed bytes are a `WireError`, never a wrong
 *   value. Its work is bounded by its bytes: recursion and JSON nest at most `MAX_DEPTH` deep, a
 *   count of elements is checked against the bytes they need, and at most `ZERO_WIDTH_LIMIT`
 *   elements that take no bytes are read per message. Writers refuse what readers would refuse.
 * - A direct reader returns a value the Schema accepts (`Schema.is`), built fresh, with exactly
 *   the declared own properties ("__proto__" included) of the member its bytes name and plain
 *   prototypes; a direct writer accepts only values Schema's encode accepts.
 *   (A property test, `test/ipc/ProtocolWire.property.test.ts`, holds the two to agreement.)
 * - Every other value goes through Schema: encoded by Schema before the wire writes it, decoded
 *   by Schema after the wire reads it. A "__proto__" property never goes that way (Schema's own
 *   decode would set the prototype instead): the wire refuses it.
 * - What a writer writes, its reader reads back equal: values the bytes cannot carry exactly are
 *   refused (lone surrogates; as JSON, anything but plain data: `undefined`, NaN, infinities,
 *   class instances, accessors, holes, nesting deeper than `MAX_DEPTH`).
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
  /** Recursion depth of the value being written (see `MAX_DEPTH`). */
  depth = 0
  /** Elements that take no bytes written so far (see `ZERO_WIDTH_LIMIT`). */
  zeroWidth = 0

  /** Starts a message at `start` of `bytes`. */
  reset(bytes: Uint8Array, start: number): void {
    if (bytes !== this.bytes) {
      this.bytes = bytes
      this.view = viewOf(bytes)
    }
    this.start = start
    this.pos = start
    this.depth = 0
    this.zeroWidth = 0
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
  /** Recursion depth of the value being read (see `MAX_DEPTH`). */
  depth = 0
  /** Elements that take no bytes read so far (see `ZERO_WIDTH_LIMIT`). */
  zeroWidth = 0

  reset(bytes: Uint8Array): void {
    this.bytes = bytes
    this.pos = 0
    this.depth = 0
    this.zeroWidth = 0
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

/**
 * How deep recursive schemas (`Schema.suspend`) and JSON values may nest in one message. Deeper
 * nesting is refused on both sides: a hostile message cannot run a reader, or Schema's decode
 * after it, out of stack.
 */
export const MAX_DEPTH = 256

/**
 * How many array elements that take no bytes (literals, `undefined`, structs of them…) one
 * message may hold. Every other element is paid for by its bytes; these would let a few bytes of count
 * allocate without end.
 */
export const ZERO_WIDTH_LIMIT = 65536

/** A compiled encoder/decoder of one schema node. */
interface Node {
  readonly write: (w: Writer, v: unknown) => void
  readonly read: (r: Reader) => unknown
}

const expected = (what: string, v: unknown): WireError =>
  new WireError(`expected ${what}, got ${v === null ? "null" : Array.isArray(v) ? "an array" : typeof v}`)

/** How a schema node is named in a reason: its text, shortened (a 300-member union's runs to kilobytes). */
const named = (ast: SchemaAST.AST): string => {
  const text = String(ast)
  return text.length > 80 ? `${text.slice(0, 79)}…` : text
}

const tooDeep = (): WireError => new WireError(`nested more than ${MAX_DEPTH} deep (or a cycle)`)

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

/** A string of a template literal, checked with Schema's own predicate both ways. */
const templateNode = (ast: SchemaAST.TemplateLiteral): Node => {
  const is: (u: unknown) => u is string = ParseResult.is(Schema.make<string, string, never>(ast))
  const what = named(ast)
  return {
    write: (w, v) => {
      if (!is(v)) throw new WireError(`expected ${what}, got ${typeof v === "string" ? JSON.stringify(v) : typeof v}`)
      w.string(v)
    },
    read: (r) => {
      const s = r.string()
      if (!is(s)) throw new WireError(`expected ${what}, got ${JSON.stringify(s)}`)
      return s
    }
  }
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

const refusing = (reason: string): Node => ({
  write: () => {
    throw new WireError(reason)
  },
  read: () => {
    throw new WireError(reason)
  }
})

const neverNode = refusing("no value is allowed here")

/**
 * JSON text of `v`, which must be plain data that JSON carries exactly: what is read back is equal
 * to what was written. Each property is read once, and what was read is what is written.
 */
const toJson = (v: unknown, depth: number): string => {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v)
    case "boolean":
      return v ? "true" : "false"
    case "number":
      if (!Number.isFinite(v)) throw new WireError(`JSON cannot carry the number ${v}`)
      // JSON.stringify writes -0 as "0"; "-0" is JSON too, and parses back to -0
      return Object.is(v, -0) ? "-0" : JSON.stringify(v)
    case "object": {
      if (v === null) return "null"
      if (depth >= MAX_DEPTH) throw tooDeep()
      const proto = Object.getPrototypeOf(v)
      const keys = Reflect.ownKeys(v)
      if (Array.isArray(v)) {
        // own keys: the indices and "length", nothing else (no holes, no extra properties)
        if (proto !== Array.prototype || keys.length !== v.length + 1) throw new WireError("JSON cannot carry an array with holes or extra properties")
        const items: Array<string> = []
        for (let i = 0; i < v.length; i++) items.push(toJson(v[i], depth + 1))
        return `[${items.join(",")}]`
      }
      if (proto !== Object.prototype && proto !== null) throw new WireError("JSON cannot carry a class instance")
      const fields: Array<string> = []
      for (const key of keys) {
        const d = Object.getOwnPropertyDescriptor(v, key)!
        if (typeof key !== "string" || key === "__proto__" || !d.enumerable || !("value" in d)) {
          throw new WireError(`JSON cannot carry the property ${String(key)} (symbol, "__proto__", hidden or accessor)`)
        }
        fields.push(`${JSON.stringify(key)}:${toJson(d.value, depth + 1)}`)
      }
      return `{${fields.join(",")}}`
    }
    default:
      throw new WireError(`JSON cannot carry ${typeof v === "undefined" ? "undefined" : `a ${typeof v}`}`)
  }
}

/** Refuses JSON nested deeper than `MAX_DEPTH` and "__proto__" keys (which Schema's decode, or a spread, would turn into a prototype). */
const checkJson = (v: unknown, depth: number): void => {
  if (typeof v !== "object" || v === null) return
  if (depth >= MAX_DEPTH) throw tooDeep()
  if (Array.isArray(v)) {
    for (const item of v) checkJson(item, depth + 1)
    return
  }
  for (const key of Object.keys(v)) {
    if (key === "__proto__") throw new WireError('a "__proto__" key in JSON')
    checkJson((v as Record<string, unknown>)[key], depth + 1)
  }
}

const jsonNode: Node = {
  write: (w, v) => w.string(toJson(v, 0)),
  read: (r) => {
    const text = r.string()
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch {
      throw new WireError("malformed JSON")
    }
    checkJson(v, 0)
    return v
  }
}

/** A member index: one byte for up to 256 members, a varint beyond. */
const writeIndex = (w: Writer, i: number, count: number): void => (count <= 256 ? w.byte(i) : w.varint(i))
const readIndex = (r: Reader, count: number, what: string): number => {
  const i = count <= 256 ? r.byte() : r.varint()
  if (i >= count) throw new WireError(`${what}: index ${i} out of range`)
  return i
}
/** The most bytes an index of `count` members takes. */
const indexBytes = (count: number): number => {
  if (count <= 256) return 1
  let bytes = 1
  for (let n = count - 1; n >= 0x80; n = Math.floor(n / 0x80)) bytes++
  return bytes
}

/** One of a few values (enums, a union of literals), by index. */
const indexed = (values: ReadonlyArray<unknown>, what: string): Node => ({
  write: (w, v) => {
    const i = values.indexOf(v)
    if (i < 0) throw new WireError(`expected ${what}, got ${String(v)}`)
    writeIndex(w, i, values.length)
  },
  read: (r) => values[readIndex(r, values.length, what)]
})

/**
 * A union of `members`, told apart on writing by the first member whose guard accepts the value
 * (the guards are built on first use: each is a Schema parser).
 */
const union = (members: ReadonlyArray<Node>, guards: () => ReadonlyArray<(v: unknown) => boolean>, what: string): Node => {
  let is: ReadonlyArray<(v: unknown) => boolean> | undefined
  return {
    write: (w, v) => {
      is ??= guards()
      for (let i = 0; i < is.length; i++) {
        if (is[i]!(v)) {
          writeIndex(w, i, members.length)
          return members[i]!.write(w, v)
        }
      }
      throw new WireError(`no member of ${what} matches`)
    },
    read: (r) => members[readIndex(r, members.length, what)]!.read(r)
  }
}

/** Reads a presence byte: whether the optional element that may follow is there. */
const presence = (r: Reader): boolean => {
  const b = r.byte()
  if (b > 1) throw new WireError(`presence byte ${b}`)
  return b === 1
}

/** An own property's value (`v["__proto__"]` would read the prototype when there is no own one). */
const own = (v: object, key: string): unknown => (Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined)
/** Defines an own data property (assigning "__proto__" would set the prototype). */
const define = (o: object, key: string, value: unknown): void => {
  Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true })
}

interface Property {
  readonly name: string
  readonly optional: boolean
}

/**
 * A struct's reader and writer, generated as straight-line code per schema (as protobuf.js and
 * FIDL's bindings do): each property is one statement with its own call site, so V8 sees one
 * node per site and inlines it, and the reader builds its object with one literal, so every
 * decoded value of a schema shares one hidden class. About three times faster than a loop over
 * the properties (the typed-call hot path encodes and decodes two structs per call). The
 * generated text contains only property names quoted by `JSON.stringify` and indices. A
 * "__proto__" property is an own property both ways: read with `own`, built with a computed key
 * (a plain `"__proto__":` in a literal would set the prototype) or `define`.
 */
const struct = (props: ReadonlyArray<Property>, nodes: ReadonlyArray<Node>): Node => {
  const quoted = props.map(({ name, optional }) => ({ key: JSON.stringify(name), proto: name === "__proto__", optional }))
  const writes = quoted.map(({ key, proto, optional }, i) =>
    optional
      ? `if (Object.hasOwn(v, ${key})) { w.byte(1); n${i}.write(w, v[${key}]) } else w.byte(0)`
      : `n${i}.write(w, ${proto ? `own(v, ${key})` : `v[${key}]`})`
  )
  const literal = `{ ${quoted
    .filter((p) => !p.optional)
    .map(({ key, proto }) => `${proto ? `[${key}]` : key}: undefined`)
    .join(", ")} }`
  const reads = quoted.map(({ key, proto, optional }, i) =>
    optional ? (proto ? `if (present(r)) define(o, ${key}, n${i}.read(r))` : `if (present(r)) o[${key}] = n${i}.read(r)`) : `o[${key}] = n${i}.read(r)`
  )
  const bindings = nodes.map((_, i) => `const n${i} = nodes[${i}]`).join("\n")
  const make = new Function(
    "nodes",
    "expected",
    "present",
    "own",
    "define",
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
  ) as (nodes: ReadonlyArray<Node>, e: typeof expected, p: typeof presence, o: typeof own, d: typeof define) => Node
  return make(nodes, expected, presence, own, define)
}

/**
 * A tuple of fixed `elements` and at most one `rest` element. A count of rest elements is checked
 * against the bytes they need (`rest.form.minBytes`, read per message: a recursive element's is
 * known only once its definition is classified) or, for elements that take none, against
 * `ZERO_WIDTH_LIMIT`.
 */
const tuple = (
  elements: ReadonlyArray<{ readonly optional: boolean; readonly node: Node }>,
  rest: { readonly node: Node; readonly form: Form } | undefined
): Node => ({
  write: (w, v) => {
    if (!Array.isArray(v)) throw expected("an array", v)
    for (let i = 0; i < elements.length; i++) {
      const e = elements[i]!
      if (e.optional) {
        w.byte(i < v.length ? 1 : 0)
        if (i >= v.length) return
      } else if (i >= v.length) {
        throw new WireError(`missing element ${i}`)
      }
      e.node.write(w, v[i])
    }
    const more = v.length - elements.length
    if (rest === undefined) {
      if (more > 0) throw new WireError(`${more} elements too many`)
      return
    }
    if (rest.form.minBytes === 0 && (w.zeroWidth += more) > ZERO_WIDTH_LIMIT) {
      throw new WireError(`more than ${ZERO_WIDTH_LIMIT} elements that take no bytes`)
    }
    w.varint(more)
    for (let i = elements.length; i < v.length; i++) rest.node.write(w, v[i])
  },
  read: (r) => {
    const out: Array<unknown> = []
    for (const e of elements) {
      if (e.optional && !presence(r)) return out
      out.push(e.node.read(r))
    }
    if (rest === undefined) return out
    const n = r.varint()
    const min = rest.form.minBytes
    if (min > 0 ? n * min > r.bytes.length - r.pos : (r.zeroWidth += n) > ZERO_WIDTH_LIMIT) {
      throw new WireError(`array of ${n} elements in ${r.bytes.length - r.pos} bytes`)
    }
    for (let i = 0; i < n; i++) out.push(rest.node.read(r))
    return out
  }
})

/** The parse options every refinement's filter is given (Schema's defaults; a filter only reads them): one object, not one per value checked. */
const FILTER_OPTIONS: SchemaAST.ParseOptions = Object.freeze({})

/** A refinement's own check, as Schema applies it after decoding what it refines: the `from` node, then the filter. */
const refined = (ast: SchemaAST.Refinement, from: Node): Node => {
  const check = (v: unknown): void => {
    const issue = ast.filter(v, FILTER_OPTIONS, ast)
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

/** What the walk decides about one schema node. */
interface Form {
  /** Writes the node's encoded-side values (Schema-encoded first) and reads them back (for Schema to decode). */
  readonly wire: Node
  /**
   * Writes and reads the node's type-side values with no Schema pass, checking exactly what Schema
   * would; undefined when some part needs Schema's own pass. `direct === wire` when the two sides
   * are one (no refinement, transformation or "__proto__" key): the wire's output is then trusted.
   */
  readonly direct: Node | undefined
  /** The least bytes a value takes (a lower bound; 0 for a recursion not yet classified). */
  readonly minBytes: number
  /** The most bytes a value takes; `Infinity` when unbounded. */
  readonly maxBytes: number
  /** The forms this one is made of (a recursion's: its definition's). */
  readonly parts: ReadonlyArray<Form>
  /** Whether this is a struct with a "__proto__" property. */
  readonly protoKey: boolean
}

/** A leaf node read and written the same on both sides and checked exactly. */
const exact = (node: Node, minBytes: number, maxBytes: number): Form => ({ wire: node, direct: node, minBytes, maxBytes, parts: [], protoKey: false })

/** A node the wire carries as JSON text; Schema checks it (records, declarations, `object`, symbols). */
const JSON_FORM: Form = { wire: jsonNode, direct: undefined, minBytes: 1, maxBytes: Infinity, parts: [], protoKey: false }

/** Each part's node (`pick`), or undefined when a part has none. */
const allOf = <A>(parts: ReadonlyArray<A>, pick: (a: A) => Node | undefined): ReadonlyArray<Node> | undefined => {
  const nodes = parts.map(pick)
  return nodes.every((n) => n !== undefined) ? (nodes as ReadonlyArray<Node>) : undefined
}

const enums = (values: ReadonlyArray<unknown>, what: string): Form => exact(indexed(values, what), 1, indexBytes(values.length))

const unionForm = (ast: SchemaAST.Union): Form => {
  const what = named(ast)
  if (ast.types.every(SchemaAST.isLiteral)) {
    return enums(
      ast.types.map((t) => (t as SchemaAST.Literal).literal),
      what
    )
  }
  const members = ast.types.map(classify)
  const minBytes = 1 + Math.min(...members.map((m) => m.minBytes))
  const maxBytes = indexBytes(members.length) + Math.max(...members.map((m) => m.maxBytes))
  const guards = (side: (t: SchemaAST.AST) => SchemaAST.AST) => () => ast.types.map((t) => ParseResult.is(Schema.make(side(t))))
  const wire = union(
    members.map((m) => m.wire),
    guards(SchemaAST.encodedAST),
    what
  )
  const shape = { wire, minBytes, maxBytes, parts: members, protoKey: false }
  if (members.every((m) => m.direct === m.wire)) return { ...shape, direct: wire }
  const directs = allOf(members, (m) => m.direct)
  const direct =
    directs &&
    union(
      directs,
      guards((t) => t),
      what
    )
  return { ...shape, direct }
}

/**
 * A struct in binary: named properties only. With an index signature or a symbol key it is JSON,
 * and so is `{}` with no properties at all, whose values are any non-nullable value (as in
 * TypeScript), not just objects.
 */
const structForm = (ast: SchemaAST.TypeLiteral): Form => {
  if (ast.indexSignatures.length > 0 || ast.propertySignatures.length === 0 || ast.propertySignatures.some((p) => typeof p.name !== "string")) {
    return JSON_FORM
  }
  const props = ast.propertySignatures.map((p) => ({ name: p.name as string, optional: p.isOptional, form: classify(p.type) }))
  const minBytes = props.reduce((n, p) => n + (p.optional ? 1 : p.form.minBytes), 0)
  const maxBytes = props.reduce((n, p) => n + (p.optional ? 1 : 0) + p.form.maxBytes, 0)
  const proto = props.some((p) => p.name === "__proto__")
  const wire = struct(
    props,
    props.map((p) => (p.name === "__proto__" ? PROTO_THROUGH_SCHEMA : p.form.wire))
  )
  const shape = { wire, minBytes, maxBytes, parts: props.map((p) => p.form), protoKey: proto }
  if (!proto && props.every((p) => p.form.direct === p.form.wire)) return { ...shape, direct: wire }
  const directs = allOf(props, (p) => p.form.direct)
  return { ...shape, direct: directs && struct(props, directs) }
}

/** What the wire does with a "__proto__" property on Schema's way: Schema would set the prototype with it, not a property. */
const PROTO_THROUGH_SCHEMA = refusing('a "__proto__" property cannot go through Schema\'s own pass (it would set the prototype, not the property)')

const tupleForm = (ast: SchemaAST.TupleType): Form => {
  if (ast.rest.length > 1) return JSON_FORM
  const elements = ast.elements.map((e) => ({ optional: e.isOptional, form: classify(e.type) }))
  const rest = ast.rest.length === 1 ? classify(ast.rest[0]!.type) : undefined
  const required = elements.filter((e) => !e.optional)
  const minBytes = required.reduce((n, e) => n + e.form.minBytes, 0) + (required.length < elements.length || rest !== undefined ? 1 : 0)
  const maxBytes = rest !== undefined ? Infinity : elements.reduce((n, e) => n + (e.optional ? 1 : 0) + e.form.maxBytes, 0)
  const build = (pick: (f: Form) => Node | undefined): Node | undefined => {
    const fixed = allOf(elements, (e) => pick(e.form))
    const restNode = rest && pick(rest)
    if (fixed === undefined || (rest !== undefined && restNode === undefined)) return undefined
    return tuple(
      elements.map((e, i) => ({ optional: e.optional, node: fixed[i]! })),
      rest && { node: restNode!, form: rest }
    )
  }
  const wire = build((f) => f.wire)!
  const parts = rest === undefined ? elements.map((e) => e.form) : [...elements.map((e) => e.form), rest]
  const shape = { wire, minBytes, maxBytes, parts, protoKey: false }
  if (parts.every((f) => f.direct === f.wire)) return { ...shape, direct: wire }
  return { ...shape, direct: build((f) => f.direct) }
}

const limits = (ast: SchemaAST.AST): { readonly maxLength?: number; readonly maxItems?: number } => {
  const a = SchemaAST.getJSONSchemaAnnotation(ast)
  return a._tag === "Some" ? (a.value as { maxLength?: number; maxItems?: number }) : {}
}

/**
 * A refinement: the wire of what it refines (Schema checks it), or a direct node that runs its
 * filter. Its `maxLength` / `maxItems` (the JSON Schema annotation of `Schema.maxLength`,
 * `maxItems`, …) bound its bytes only when what it ultimately refines is a string or an array
 * whose bytes the filtered value itself is (not the encoded side of a transformation).
 */
const refinementForm = (ast: SchemaAST.Refinement): Form => {
  const from = classify(ast.from)
  let base = ast.from
  while (base._tag === "Refinement") base = base.from
  const { maxLength, maxItems } = limits(ast)
  let maxBytes = from.maxBytes
  if (maxLength !== undefined && (base._tag === "StringKeyword" || base._tag === "TemplateLiteral")) {
    maxBytes = Math.min(maxBytes, 5 + 3 * maxLength)
  }
  if (maxItems !== undefined && base._tag === "TupleType" && base.rest.length === 1) {
    const fixed = base.elements.reduce((n, e) => n + (e.isOptional ? 1 : 0) + classify(e.type).maxBytes, 0)
    const each = classify(base.rest[0]!.type).maxBytes
    maxBytes = Math.min(maxBytes, fixed + 5 + (maxItems === 0 ? 0 : maxItems * each))
  }
  return { wire: from.wire, direct: from.direct && refined(ast, from.direct), minBytes: from.minBytes, maxBytes, parts: [from], protoKey: false }
}

/**
 * A recursive reference: the wire of its definition, classified on first use (the definition is
 * a type-side AST that contains this node again, so the memo ties the knot: one compiled node per
 * definition, not one per level), nested at most `MAX_DEPTH` deep. Never direct: whether the whole
 * cycle is exact would need a fixpoint, and recursion is rare in protocols.
 */
const suspendForm = (ast: SchemaAST.Suspend): Form => {
  let inner: Node | undefined
  const definition = (): Node => (inner ??= classify(ast.f()).wire)
  const wire: Node = {
    write: (w, v) => {
      if (++w.depth > MAX_DEPTH) throw tooDeep()
      definition().write(w, v)
      w.depth--
    },
    read: (r) => {
      if (++r.depth > MAX_DEPTH) throw tooDeep()
      const v = definition().read(r)
      r.depth--
      return v
    }
  }
  return {
    wire,
    direct: undefined,
    maxBytes: Infinity,
    get minBytes() {
      return forms.get(ast.f())?.minBytes ?? 0
    },
    get parts() {
      return [classify(ast.f())]
    },
    protoKey: false
  }
}

/** The walk itself: every question about a node, answered once, by its tag. */
const classifyNode = (ast: SchemaAST.AST): Form => {
  switch (ast._tag) {
    case "NumberKeyword":
      return exact(numberNode, 8, 8)
    case "StringKeyword":
      return exact(stringNode, 1, Infinity)
    case "TemplateLiteral":
      return exact(templateNode(ast), 1, Infinity)
    case "BooleanKeyword":
      return exact(booleanNode, 1, 1)
    case "BigIntKeyword":
      return exact(bigintNode, 1, Infinity)
    case "Literal":
      return exact(constant(ast.literal, named(ast)), 0, 0)
    case "UniqueSymbol":
      return exact(constant(ast.symbol, String(ast.symbol)), 0, 0)
    case "UndefinedKeyword":
      return exact(constant(undefined, "undefined"), 0, 0)
    case "VoidKeyword":
      return exact(voidNode, 0, 0)
    case "NeverKeyword":
      return exact(neverNode, 0, 0)
    case "UnknownKeyword":
    case "AnyKeyword":
      return exact(jsonNode, 1, Infinity)
    case "Enums":
      return enums(
        ast.enums.map(([, v]) => v),
        named(ast)
      )
    case "Union":
      return unionForm(ast)
    case "TypeLiteral":
      return structForm(ast)
    case "TupleType":
      return tupleForm(ast)
    case "Refinement":
      return refinementForm(ast)
    case "Transformation": {
      // The encoded side is `from`'s; only `Schema.BigInt` (decimal text <-> bigint) is read directly.
      const from = classify(ast.from)
      const direct = ast === Schema.BigInt.ast ? bigintNode : undefined
      return { wire: from.wire, direct, minBytes: from.minBytes, maxBytes: from.maxBytes, parts: [from], protoKey: false }
    }
    case "Suspend":
      return suspendForm(ast)
    default:
      return JSON_FORM
  }
}

/**
 * Forms by type-side AST node, shared by every codec of the realm (owned by `classify`). A form
 * is immutable once made (a recursion's definition node is filled in once), so sharing is safe,
 * and it makes each struct's code generated once however many schemas contain it.
 */
const forms = new WeakMap<SchemaAST.AST, Form>()

const classify = (ast: SchemaAST.AST): Form => {
  let form = forms.get(ast)
  if (form === undefined) {
    form = classifyNode(ast)
    forms.set(ast, form)
  }
  return form
}

/** One message's wire form of a schema side: writes a value, reads one from all of some bytes. */
export interface Wire {
  /** Writes `value` at `w.pos` (after `w.reset`). Throws `WireError`. */
  readonly write: (w: Writer, value: unknown) => void
  /** Reads one value from all of `bytes`. Throws `WireError`. */
  readonly read: (bytes: Uint8Array) => unknown
}

const reader = new Reader()

const message = (node: Node): Wire => ({
  write: node.write,
  read: (bytes) => {
    reader.reset(bytes)
    const v = node.read(reader)
    if (reader.pos !== bytes.length) throw new WireError(`${bytes.length - reader.pos} trailing bytes`)
    return v
  }
})

/** A schema, compiled: everything the codec needs, decided by one walk. */
export interface Compiled {
  /** The encoded side's wire: its values go through Schema on either side. */
  readonly wire: Wire
  /** The type side's wire, checked exactly with no Schema pass, or undefined when the schema needs Schema's own pass. */
  readonly direct: Wire | undefined
  /** Whether `direct` is `wire` itself: what the wire reads needs no Schema decode, and nothing Schema does could read more. */
  readonly trusted: boolean
  /** The most bytes a value can take (`Infinity`: unbounded). Lets senders and receivers skip receive windows for messages that always fit inline. */
  readonly maxBytes: number
}

/** Whether a struct with a "__proto__" property is part of `form` (through recursion too). */
const protoInside = (form: Form, seen: Set<Form> = new Set()): boolean => {
  if (form.protoKey) return true
  seen.add(form)
  return form.parts.some((p) => !seen.has(p) && protoInside(p, seen))
}

/**
 * Compiles `schema` (see `Compiled`). Throws (a definition-time defect) when the schema needs
 * Schema's own pass and has a "__proto__" property: Schema's encode and decode would drop it, or
 * set the prototype with it, so no value with one could arrive (a schema read directly can have one).
 */
export const compile = (schema: Schema.Schema.All): Compiled => {
  const form = classify(schema.ast)
  if (form.direct === undefined && protoInside(form)) {
    throw new Error(`${named(schema.ast)}: a "__proto__" property cannot go through Schema's own pass (it would set the prototype, not the property)`)
  }
  const wire = message(form.wire)
  const trusted = form.direct === form.wire
  return { wire, direct: trusted ? wire : form.direct && message(form.direct), trusted, maxBytes: form.maxBytes }
}
