import { isDeepStrictEqual } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { FastCheck, Option, Schema } from "effect"
import { codec, Undecodable } from "../../src/ipc/internal/codec.js"
import { MAX_DEPTH, ZERO_WIDTH_LIMIT } from "../../src/ipc/internal/wire.js"

class Missing extends Schema.TaggedError<Missing>()("Missing", { key: Schema.String }) {}
class Full extends Schema.TaggedError<Full>()("Full", { used: Schema.Int, limit: Schema.Int }) {}

interface Tree {
  readonly value: number
  readonly children: ReadonlyArray<Tree>
}
const Tree: Schema.Schema<Tree> = Schema.Struct({ value: Schema.Number, children: Schema.Array(Schema.suspend(() => Tree)) })

/** Schemas covering every node the wire compiles, with and without Schema's own pass. */
const schemas = {
  struct: Schema.Struct({ n: Schema.Number, s: Schema.String, b: Schema.Boolean, o: Schema.optional(Schema.String), lit: Schema.Literal("x") }),
  literals: Schema.Literal("read", "write", 3, true, null),
  tuple: Schema.Tuple([Schema.String, Schema.optionalElement(Schema.Number)], Schema.Boolean),
  union: Schema.Union(
    Schema.Struct({ kind: Schema.Literal("a"), a: Schema.Number }),
    Schema.Struct({ kind: Schema.Literal("b"), b: Schema.Array(Schema.String) })
  ),
  refined: Schema.Struct({ port: Schema.Int.pipe(Schema.between(1, 65535)), name: Schema.String.pipe(Schema.maxLength(8)) }),
  transformed: Schema.Struct({ n: Schema.NumberFromString, when: Schema.DateFromNumber.pipe(Schema.validDate()) }),
  failures: Schema.Union(Missing, Full),
  // Keys as plain words: Schema's own record decode drops a "__proto__" key, with or without a wire.
  record: Schema.Record({ key: Schema.String.pipe(Schema.pattern(/^[a-z]{1,8}$/)), value: Schema.Number.pipe(Schema.finite()) }),
  recursive: Tree,
  nothing: Schema.Void,
  // Read and written directly, no Schema pass: refinements checked by their filters, bigints as text.
  attributes: Schema.Struct({
    ino: Schema.NonNegativeInt,
    size: Schema.Int,
    kind: Schema.Literal("file", "dir"),
    mtimeNs: Schema.BigInt,
    big: Schema.BigIntFromSelf
  })
} as const

describe("Protocol wire", () => {
  for (const [name, schema] of Object.entries(schemas)) {
    it.prop(
      `WIRE-0001 ${name}: every value survives encode then decode (as Schema's own equivalence sees it)`,
      [schema as Schema.Schema<unknown>],
      ([value]) => {
        const c = codec(schema as Schema.Schema<unknown>)
        const bytes = c.encode(value, 256)
        expect(typeof bytes).not.toBe("string")
        const decoded = c.decode(bytes as Uint8Array)
        expect(decoded).not.toBeInstanceOf(Undecodable)
        if (name === "nothing") expect(decoded).toBeUndefined()
        // Schema's equivalence forgives -0 vs 0 (NumberFromString writes "0"); deep equality, NaN = NaN.
        else expect(Schema.equivalence(schema as Schema.Schema<unknown>)(decoded, value) || isDeepStrictEqual(decoded, value)).toBe(true)
      }
    )

    it.prop(
      `WIRE-0002 ${name}: arbitrary bytes decode to Undecodable or to a value the Schema accepts`,
      [FastCheck.uint8Array({ maxLength: 40 })],
      ([bytes]) => {
        const decoded = codec(schema as Schema.Schema<unknown>).decode(bytes)
        if (!(decoded instanceof Undecodable)) expect(Schema.is(schema as Schema.Schema<unknown>)(decoded)).toBe(true)
      }
    )
  }

  it.prop("WIRE-0003 a bounded schema's messages never exceed its maxBytes", [schemas.refined, schemas.literals], ([refined, literal]) => {
    for (const [schema, value] of [
      [schemas.refined, refined],
      [schemas.literals, literal]
    ] as const) {
      const c = codec(schema as Schema.Schema<unknown>)
      expect(Number.isFinite(c.maxBytes)).toBe(true)
      expect((c.encode(value, 256) as Uint8Array).length).toBeLessThanOrEqual(c.maxBytes)
    }
  })

  it.prop("WIRE-0004 any well-formed Unicode string survives; non-ASCII takes the UTF-8 path", [FastCheck.fullUnicodeString()], ([text]) => {
    const c = codec(Schema.String)
    expect(c.decode(c.encode(text, 256) as Uint8Array)).toBe(text)
  })

  it("WIRE-0005 values the schema cannot carry are refused with a reason, never mangled", () => {
    const c = codec(schemas.struct)
    expect(c.encode({ n: "1", s: "", b: true, lit: "x" }, 256)).toMatch(/\["n"\][\s\S]*Expected number, actual "1"/)
    expect(c.encode({ n: 1, s: "\ud800", b: true, lit: "x" }, 256)).toMatch(/lone surrogate/)
    expect(codec(schemas.refined).encode({ port: 1, name: 5 }, 256)).toMatch(/\["name"\][\s\S]*Expected string, actual 5/)
    expect(c.maxBytes).toBe(Infinity)
    const decoded = c.decode(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 7]))
    expect(decoded).toBeInstanceOf(Undecodable)
    expect((decoded as Undecodable).reason).toMatch(/boolean byte 7/)
  })
  it('WIRE-0006 a decoded struct has exactly its own properties, a "__proto__" key included, and a plain prototype', () => {
    const S = Schema.Struct({ ["__proto__"]: Schema.Number, constructor: Schema.String, o: Schema.optional(Schema.Boolean) })
    const c = codec(S)
    const value = JSON.parse('{"__proto__": 5, "constructor": "x"}')
    const decoded = c.decode(c.encode(value, 256) as Uint8Array) as Record<string, unknown>
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect(Object.keys(decoded).sort()).toEqual(["__proto__", "constructor"])
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toBe(5)
    const plain = codec(Schema.Struct({ a: Schema.Number, o: Schema.optional(Schema.String), 'we ird"key': Schema.Boolean }))
    const back = plain.decode(plain.encode({ a: 1, 'we ird"key': true }, 256) as Uint8Array)
    expect(back).toEqual({ a: 1, 'we ird"key': true })
    expect(Object.hasOwn(back as object, "o")).toBe(false)
  })
  it("WIRE-0007 a schema read directly (refinements, bigints) refuses what Schema refuses, in Schema's words with the path", () => {
    const c = codec(schemas.attributes)
    const good = { ino: 7, size: -1, kind: "dir", mtimeNs: 1_700_000_000_123_456_789n, big: -(2n ** 80n) }
    expect(c.decode(c.encode(good, 256) as Uint8Array)).toEqual(good)
    expect(c.encode({ ...good, ino: -1 }, 256)).toMatch(/\["ino"\][\s\S]*non-negative/)
    expect(c.encode({ ...good, size: 1.5 }, 256)).toMatch(/\["size"\][\s\S]*integer/)
    expect(c.encode({ ...good, mtimeNs: 5 }, 256)).toMatch(/\["mtimeNs"\]/)
    // Bytes of a negative ino (written through the general path of a laxer schema) are refused on reading.
    const lax = codec(
      Schema.Struct({ ino: Schema.Number, size: Schema.Int, kind: Schema.Literal("file", "dir"), mtimeNs: Schema.BigInt, big: Schema.BigIntFromSelf })
    )
    const refused = c.decode(lax.encode({ ...good, ino: -1 }, 256) as Uint8Array)
    expect(refused).toBeInstanceOf(Undecodable)
    expect((refused as Undecodable).reason).toMatch(/\["ino"\][\s\S]*non-negative/)
  })

  it("WIRE-0008 a string that begins with U+FEFF arrives with it", () => {
    const c = codec(Schema.String)
    for (const text of ["\uFEFFa", `\uFEFF${"é".repeat(40)}`]) expect(c.decode(c.encode(text, 256) as Uint8Array)).toBe(text)
  })
})

/** The wire bytes of `text` as a string: what a JSON node would read (the old form of the schemas below). */
const stringBytes = (text: string): Uint8Array => codec(Schema.String).encode(text, Infinity) as Uint8Array
const roundTrip = (c: ReturnType<typeof codec>, value: unknown): unknown => {
  const bytes = c.encode(value, Infinity)
  if (typeof bytes === "string") throw new Error(bytes)
  return c.decode(bytes)
}
const f64 = (x: number): Array<number> => Array.from(new Uint8Array(new Float64Array([x]).buffer))

describe("Protocol wire: one classification decides", () => {
  it("SEC-0701 an Enums of more than 256 members decodes only its members: 999 is refused, as Schema refuses it", () => {
    const E = Schema.Enums(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`m${i}`, i])))
    const c = codec(E)
    expect(roundTrip(c, 299)).toBe(299)
    expect(c.encode(999, 256)).toMatch(/actual 999/)
    expect(c.decode(stringBytes("999"))).toBeInstanceOf(Undecodable)
    expect((c.decode(new Uint8Array([0xe7, 0x07])) as Undecodable).reason).toMatch(/index 999 out of range/)
    FastCheck.assert(
      FastCheck.property(FastCheck.uint8Array({ maxLength: 4 }), (bytes) => {
        const decoded = c.decode(bytes)
        if (!(decoded instanceof Undecodable)) expect(Schema.is(E)(decoded)).toBe(true)
      })
    )
  })

  it('SEC-0702 a struct with a "__proto__" key decodes only what its schema allows: a string for a Number field is refused', () => {
    const S = Schema.Struct({ ["__proto__"]: Schema.Number, n: Schema.Number })
    const c = codec(S)
    expect(c.decode(stringBytes('{"__proto__":"str","n":1}'))).toBeInstanceOf(Undecodable)
    FastCheck.assert(
      FastCheck.property(FastCheck.uint8Array({ minLength: 15, maxLength: 17 }), (bytes) => {
        const decoded = c.decode(bytes)
        if (decoded instanceof Undecodable) return
        expect(typeof Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toBe("number")
        expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
        expect(Schema.is(S)(decoded)).toBe(true)
      })
    )
  })

  it("WIRE-0009 a union of more than 256 members is binary: a varint index, then the member", () => {
    const U = Schema.Union(...Array.from({ length: 300 }, (_, i) => Schema.Struct({ k: Schema.Literal(i), v: Schema.Number })))
    const c = codec(U)
    expect(c.maxBytes).toBe(2 + 8)
    expect(c.encode({ k: 299, v: 1.5 }, 256)).toEqual(new Uint8Array([0xab, 0x02, ...f64(1.5)]))
    expect(roundTrip(c, { k: 299, v: 1.5 })).toEqual({ k: 299, v: 1.5 })
    expect((c.decode(new Uint8Array([0xac, 0x02, ...f64(1.5)])) as Undecodable).reason).toMatch(/index 300 out of range/)
  })

  it("WIRE-0010 optional tuple elements: after an absent one nothing follows, and every shape survives", () => {
    const c = codec(Schema.Tuple([Schema.optionalElement(Schema.Number), Schema.optionalElement(Schema.String)], Schema.Boolean))
    for (const value of [[], [1], [1, "a"], [1, "a", true, false]]) expect(roundTrip(c, value)).toEqual(value)
    expect(c.encode([], 256)).toEqual(new Uint8Array([0]))
    expect(c.encode([1], 256)).toEqual(new Uint8Array([1, ...f64(1), 0]))
    expect((c.decode(new Uint8Array([0, 0])) as Undecodable).reason).toMatch(/trailing/)
    expect(codec(Schema.Tuple(Schema.optionalElement(Schema.Number), Schema.optionalElement(Schema.Number))).encode([], 256)).toEqual(new Uint8Array([0]))
  })

  it("WIRE-0011 arrays of elements that take no bytes survive; their counts are bounded on both sides", () => {
    expect(roundTrip(codec(Schema.Array(Schema.Null)), [null, null, null])).toEqual([null, null, null])
    expect(roundTrip(codec(Schema.Array(Schema.Literal("x"))), ["x", "x"])).toEqual(["x", "x"])
    const nested = codec(Schema.Array(Schema.Array(Schema.Null)))
    expect(nested.encode([Array(ZERO_WIDTH_LIMIT + 1).fill(null)], 256)).toMatch(/take no bytes/)
    // Seven bytes claiming two arrays of 65,535 nulls each.
    expect(nested.decode(new Uint8Array([2, 0xff, 0xff, 0x03, 0xff, 0xff, 0x03]))).toBeInstanceOf(Undecodable)
    // Elements that take bytes are counted against the bytes left.
    expect((codec(Schema.Array(Schema.Number)).decode(new Uint8Array([2, ...f64(1)])) as Undecodable).reason).toMatch(/2 elements in 8 bytes/)
  })

  it(`WIRE-0012 recursion nests at most MAX_DEPTH (${MAX_DEPTH}) deep: deeper bytes are refused, never a stack overflow`, () => {
    type L = null | readonly [L]
    const L: Schema.Schema<L> = Schema.Union(Schema.Null, Schema.Tuple(Schema.suspend(() => L)))
    const c = codec(L)
    const nest = (n: number): L => Array.from({ length: n }).reduce<L>((inner) => [inner], null)
    expect(roundTrip(c, nest(MAX_DEPTH))).toEqual(nest(MAX_DEPTH))
    expect(c.encode(nest(MAX_DEPTH + 1), 256)).toMatch(/nested more than/)
    const deep = new Uint8Array(20_000).fill(1)
    deep[deep.length - 1] = 0
    expect((c.decode(deep) as Undecodable).reason).toMatch(/nested more than/)
  })

  it("WIRE-0013 a template literal is checked on both sides, with no Schema pass", () => {
    const c = codec(Schema.TemplateLiteral("id-", Schema.Number))
    expect(roundTrip(c, "id-5")).toBe("id-5")
    expect(c.encode("zzz", 256)).toMatch(/Expected `id-\$\{number\}`, actual "zzz"/)
    expect(c.decode(stringBytes("zzz"))).toBeInstanceOf(Undecodable)
  })

  it("WIRE-0014 a value a refinement refuses is never encoded: the sender gets Schema's reason", () => {
    const c = codec(schemas.refined)
    expect(c.encode({ port: 0, name: "a" }, 256)).toMatch(/\["port"\][\s\S]*between 1 and 65535, actual 0/)
    expect(c.encode({ port: 1, name: "too long!" }, 256)).toMatch(/\["name"\][\s\S]*at most 8 character/)
  })

  it('WIRE-0015 JSON carries plain data exactly, refuses what JSON would change, and never reads a "__proto__" key', () => {
    const u = codec(Schema.Unknown)
    const plain = { a: -0, b: [1, "x", null, { c: true }], "\ud800": "\udc00" }
    expect(Object.is((roundTrip(u, plain) as typeof plain).a, -0)).toBe(true)
    expect(isDeepStrictEqual(roundTrip(u, plain), plain)).toBe(true)
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    const refused = [
      NaN,
      Infinity,
      undefined,
      1n,
      new Date(0),
      Array(2),
      Object.assign([1], { x: 1 }),
      {
        get a() {
          return 1
        }
      },
      { [Symbol("s")]: 1 },
      JSON.parse('{"__proto__": 1}'),
      cycle
    ]
    for (const value of refused) expect(u.encode(value, 256)).toMatch(/JSON cannot carry|nested more than/)
    const record = codec(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
    expect((record.decode(stringBytes('{"__proto__": {"admin": true}}')) as Undecodable).reason).toMatch(/"__proto__" key/)
    expect((u.decode(stringBytes('[{"a": {"__proto__": 1}}]')) as Undecodable).reason).toMatch(/"__proto__" key/)
  })

  it("WIRE-0016 maxBytes bounds what the wire writes", () => {
    const proto = codec(Schema.Struct({ ["__proto__"]: Schema.String.pipe(Schema.maxLength(10)) }))
    const value = JSON.parse(`{"__proto__": "${"\\u0001".repeat(10)}"}`)
    expect((proto.encode(value, 256) as Uint8Array).length).toBeLessThanOrEqual(proto.maxBytes)
    // A length on a transformation's type side bounds nothing of its encoded side.
    expect(codec(Schema.Trim.pipe(Schema.maxLength(3))).maxBytes).toBe(Infinity)
    expect(codec(Schema.Array(Schema.String).pipe(Schema.itemsCount(0))).maxBytes).toBe(5)
    expect(codec(Schema.Array(Schema.Boolean).pipe(Schema.maxItems(3))).maxBytes).toBe(5 + 3)
  })

  it("WIRE-0017 `{}` carries any non-nullable value, as Schema's `{}` does", () => {
    const c = codec(Schema.Struct({}))
    for (const value of [0, "a", { x: 1 }, []]) expect(roundTrip(c, value)).toEqual(value)
    expect(c.encode(null, 256)).toMatch(/Expected \{\}, actual null/)
  })

  it('WIRE-0018 a schema that needs Schema\'s pass cannot have a "__proto__" property (Schema would set the prototype): refused at definition', () => {
    expect(() => codec(Schema.Struct({ ["__proto__"]: Schema.NumberFromString }))).toThrow(/"__proto__" property cannot go through Schema's own pass/)
    type R = { readonly next?: R; readonly ["__proto__"]?: number }
    const R: Schema.Schema<R> = Schema.Struct({
      next: Schema.optionalWith(
        Schema.suspend(() => R),
        { exact: true }
      ),
      ["__proto__"]: Schema.optionalWith(Schema.Number, { exact: true })
    })
    expect(() => codec(R)).toThrow(/"__proto__"/)
    const direct = codec(Schema.Struct({ ["__proto__"]: Schema.Int, n: Schema.BigInt }))
    const value = JSON.parse('{"__proto__": 3}')
    value.n = 5n
    expect(isDeepStrictEqual(roundTrip(direct, value), value)).toBe(true)
  })

  it("WIRE-0019 transformations whose encoded side is a struct write that struct in binary and decode through Schema", () => {
    class Point extends Schema.Class<Point>("Point")({ x: Schema.Number }) {}
    const point = codec(Point)
    expect(point.encode(new Point({ x: 1 }), 256)).toEqual(new Uint8Array(f64(1)))
    expect(roundTrip(point, new Point({ x: 1 }))).toEqual(new Point({ x: 1 }))
    const renamed = codec(Schema.Struct({ a: Schema.propertySignature(Schema.NumberFromString).pipe(Schema.fromKey("b")) }))
    expect(renamed.encode({ a: 5 }, 256)).toEqual(new Uint8Array([1, 0x35]))
    expect(roundTrip(renamed, { a: 5 })).toEqual({ a: 5 })
    expect(renamed.decode(new Uint8Array([1, 0x7a]))).toBeInstanceOf(Undecodable)
    const option = codec(Schema.Option(Schema.Int))
    expect(roundTrip(option, Option.some(2))).toEqual(Option.some(2))
    expect(option.decode(new Uint8Array([1, ...f64(1.5)]))).toBeInstanceOf(Undecodable)
  })

  it("WIRE-0020 a unique symbol and a bigint literal are carried as nothing, like any literal", () => {
    const s = Symbol.for("effect-microkernel/test")
    const c = codec(Schema.UniqueSymbolFromSelf(s))
    expect(c.encode(s, 256)).toEqual(new Uint8Array(0))
    expect(roundTrip(c, s)).toBe(s)
    const big = codec(Schema.Struct({ a: Schema.Literal(5n) }))
    expect(big.encode({ a: 5n }, 256)).toEqual(new Uint8Array(0))
    expect(roundTrip(big, { a: 5n })).toEqual({ a: 5n })
    expect(big.encode({ a: 6n }, 256)).toMatch(/Expected 5n, actual 6n/)
  })

  it("WIRE-0021 bytes a direct reader refuses still decode when Schema accepts them: a union member the bytes name refuses, another accepts", () => {
    const c = codec(Schema.Union(Schema.Struct({ a: Schema.Int }), Schema.Struct({ a: Schema.Number })))
    expect(c.decode(new Uint8Array([0, ...f64(1.5)]))).toEqual({ a: 1.5 })
    expect(c.decode(new Uint8Array([2, ...f64(1.5)]))).toBeInstanceOf(Undecodable)
  })
})
