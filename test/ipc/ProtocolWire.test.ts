import { isDeepStrictEqual } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { FastCheck, Schema } from "effect"
import { codec, Undecodable } from "../../src/ipc/internal/codec.js"

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
