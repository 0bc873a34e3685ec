/**
 * The wire codec against Schema itself, on random schemas: whatever bytes arrive, the codec never
 * yields a value Schema refuses; whatever valid value is sent, it arrives equal (or refused for a
 * reason the bytes cannot carry). Runs `FUZZ_STEPS` schemas (default 300, about a second); a
 * longer fuzz run sets it higher, and `FUZZ_SEED` replays one.
 */
import { inspect, isDeepStrictEqual } from "node:util"
import { Either, FastCheck as fc, Option, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { codec, Undecodable } from "../../src/ipc/internal/codec.js"

const STEPS = Number(process.env.FUZZ_STEPS ?? 300)
/** A fixed seed to replay a run (fast-check prints the seed of a failing one). */
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)

type AnySchema = Schema.Schema<any, any, never>

/** A schema and an arbitrary of its type-side values, made together so that every value is valid. */
interface Case {
  readonly schema: AnySchema
  readonly value: fc.Arbitrary<unknown>
}

/** A case, printed as its schema when fast-check reports a counterexample. */
const make = (schema: AnySchema, value: fc.Arbitrary<unknown>): Case => ({ schema, value, [fc.toStringMethod]: () => String(schema.ast) }) as Case

class Point extends Schema.Class<Point>("Point")({ x: Schema.Number, y: Schema.optional(Schema.String) }) {}
class Missing extends Schema.TaggedError<Missing>()("Missing", { key: Schema.String }) {}

const bigEnum = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`m${i}`, i % 2 === 0 ? i : `v${i}`]))
const bigLiterals = Array.from({ length: 300 }, (_, i) => `l${i}`)
const bigUnion = Schema.Union(...Array.from({ length: 300 }, (_, i) => Schema.Struct({ k: Schema.Literal(i), v: Schema.Number })))

const text = fc.oneof(fc.string({ maxLength: 6 }), fc.fullUnicodeString({ maxLength: 4 }), fc.constantFrom("\uFEFFbom", "\ud800", "é"))

const leaves: ReadonlyArray<Case> = [
  make(Schema.Number, fc.double()),
  make(Schema.String, text),
  make(Schema.Boolean, fc.boolean()),
  make(Schema.BigIntFromSelf, fc.bigInt()),
  make(Schema.Null, fc.constant(null)),
  make(Schema.Undefined, fc.constant(undefined)),
  make(Schema.Unknown, fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.anything({ maxDepth: 1 }))),
  make(Schema.Literal("x"), fc.constant("x")),
  make(Schema.Literal(1, "two", true, null, 3n), fc.constantFrom(1, "two", true, null, 3n)),
  make(Schema.Literal(5n), fc.constant(5n)),
  make(Schema.Enums({ a: "a", b: 2 }), fc.constantFrom("a", 2)),
  make(Schema.Enums(bigEnum), fc.constantFrom(...Object.values(bigEnum))),
  make(Schema.Literal(...bigLiterals), fc.constantFrom(...bigLiterals)),
  make(bigUnion, fc.record({ k: fc.integer({ min: 0, max: 299 }), v: fc.double() })),
  make(
    Schema.TemplateLiteral("id-", Schema.Number),
    fc.integer().map((n) => `id-${n}`)
  ),
  make(Schema.Int, fc.integer()),
  make(Schema.Number.pipe(Schema.between(-5, 5)), fc.double({ min: -5, max: 5, noNaN: true })),
  make(Schema.String.pipe(Schema.maxLength(3)), fc.string({ maxLength: 3 })),
  make(Schema.NumberFromString, fc.double()),
  make(Schema.BigInt, fc.bigInt()),
  make(Schema.Record({ key: Schema.String, value: Schema.Number }), fc.dictionary(fc.string({ maxLength: 3 }), fc.double(), { maxKeys: 3 })),
  make(
    Schema.Struct({}),
    fc.anything({ maxDepth: 1 }).filter((v) => v !== null && v !== undefined)
  ),
  make(Schema.DateFromSelf, fc.date()),
  make(
    Schema.Trim,
    fc.string({ maxLength: 6 }).map((s) => s.trim())
  ),
  make(
    Point,
    fc.record({ x: fc.double(), y: fc.option(fc.string(), { nil: undefined }) }).map(({ x, y }) => new Point(y === undefined ? { x } : { x, y }))
  ),
  make(
    Missing,
    fc.string().map((key) => new Missing({ key }))
  )
]

const ABSENT = Symbol("absent")

/** An object with exactly these own properties (a "__proto__" key included, as its own property). */
const objectOf = (entries: ReadonlyArray<readonly [string, unknown]>): object => {
  const o = {}
  for (const [k, v] of entries) if (v !== ABSENT) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true })
  return o
}

const KEYS = ["a", "b", "__proto__", "constructor", "we ird"] as const

const { node } = fc.letrec<{ node: Case; composite: Case }>((tie) => ({
  node: fc.oneof({ depthSize: "small", maxDepth: 3 }, fc.constantFrom(...leaves), tie("composite")),
  composite: fc.oneof(
    // a struct: some keys, each required, optional (may be undefined) or exactly optional
    fc
      .uniqueArray(fc.record({ key: fc.constantFrom(...KEYS), kind: fc.constantFrom("required", "optional", "exact"), field: tie("node") }), {
        selector: (f) => f.key,
        maxLength: 4
      })
      .map((fields): Case => {
        const schema = Schema.Struct(
          Object.fromEntries(
            fields.map(({ key, kind, field }) => [
              key,
              kind === "required" ? field.schema : kind === "optional" ? Schema.optional(field.schema) : Schema.optionalWith(field.schema, { exact: true })
            ])
          )
        )
        const values = fields.map(({ kind, field }) =>
          kind === "required" ? field.value : fc.oneof(fc.constant(ABSENT), field.value, ...(kind === "optional" ? [fc.constant(undefined)] : []))
        )
        return make(
          schema,
          fc.tuple(...values).map((vs) => objectOf(fields.map((f, i) => [f.key, vs[i]] as const)))
        )
      }),
    // a tuple: required elements, optional elements, maybe a rest element
    fc
      .tuple(fc.array(tie("node"), { maxLength: 2 }), fc.array(tie("node"), { maxLength: 2 }), fc.option(tie("node")))
      .map(([required, optional, rest]): Case => {
        const elements: Array<AnySchema | Schema.Element<AnySchema, "?">> = [
          ...required.map((c) => c.schema),
          ...optional.map((c) => Schema.optionalElement(c.schema))
        ]
        const schema = rest ? Schema.Tuple(elements, rest.schema) : Schema.Tuple(...elements)
        const value = fc
          .tuple(
            fc.tuple(...required.map((c) => c.value)),
            fc.tuple(...optional.map((c) => c.value)),
            fc.nat(optional.length),
            rest ? fc.array(rest.value, { maxLength: 3 }) : fc.constant([])
          )
          .map(([req, opt, present, more]) => [...req, ...opt.slice(0, present), ...(present === optional.length ? more : [])])
        return make(schema as unknown as AnySchema, value)
      }),
    tie("node").map((c): Case => make(Schema.Array(c.schema), fc.array(c.value, { maxLength: 4 }))),
    tie("node").map((c): Case => make(Schema.Array(c.schema).pipe(Schema.maxItems(2)), fc.array(c.value, { maxLength: 2 }))),
    fc.tuple(tie("node"), tie("node")).map(([a, b]): Case => make(Schema.Union(a.schema, b.schema), fc.oneof(a.value, b.value))),
    // a refinement over anything (a JSON node, a struct…): no negative number at the top
    tie("node").map((c): Case => {
      const ok = (u: unknown) => !(typeof u === "number" && u < 0)
      return make(c.schema.pipe(Schema.filter(ok)), c.value.filter(ok))
    }),
    // transformations whose encoded side is a struct: Option, a renamed key
    tie("node").map((c): Case =>
      make(
        Schema.Option(c.schema),
        fc.option(c.value, { nil: ABSENT }).map((v) => (v === ABSENT ? Option.none() : Option.some(v)))
      )
    ),
    tie("node").map((c): Case =>
      make(
        Schema.Struct({ a: Schema.propertySignature(c.schema).pipe(Schema.fromKey("b")) }),
        c.value.map((a) => ({ a }))
      )
    ),
    // recursion: a list and a tree
    tie("node").map((c): Case => {
      interface List {
        readonly v: unknown
        readonly next?: List
      }
      const list: Schema.Schema<List, any> = Schema.Struct({
        v: c.schema,
        next: Schema.optionalWith(
          Schema.suspend(() => list),
          { exact: true }
        )
      })
      const value = fc
        .array(c.value, { minLength: 1, maxLength: 4 })
        .map((vs) => vs.reduceRight<List | undefined>((next, v) => (next === undefined ? { v } : { v, next }), undefined))
      return make(list, value)
    }),
    tie("node").map((c): Case => {
      const tree: AnySchema = Schema.Union(c.schema, Schema.Array(Schema.suspend(() => tree)))
      const { value } = fc.letrec<{ value: unknown }>((t) => ({
        value: fc.oneof({ depthSize: "small", maxDepth: 3 }, c.value, fc.array(t("value"), { maxLength: 3 }))
      }))
      return make(tree, value)
    })
  )
}))

/** Reasons a valid value may be refused: the bytes cannot carry it exactly. */
const CANNOT_CARRY = /lone surrogate|JSON cannot carry|"__proto__"|nested more than|take no bytes/

/** Mutations of encoded bytes, to reach deep paths that random bytes would not. */
const mutation = fc.record({ op: fc.constantFrom("set", "insert", "delete", "truncate"), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) })

const mutate = (bytes: Uint8Array, m: { readonly op: string; readonly at: number; readonly byte: number }): Uint8Array => {
  const b = Array.from(bytes)
  const at = b.length === 0 ? 0 : m.at % (b.length + 1)
  if (m.op === "set" && at < b.length) b[at] = m.byte
  else if (m.op === "insert") b.splice(at, 0, m.byte)
  else if (m.op === "delete") b.splice(at, 1)
  else b.length = at
  return Uint8Array.from(b)
}

const same = (schema: AnySchema, a: unknown, b: unknown): boolean => isDeepStrictEqual(a, b) || Schema.equivalence(Schema.typeSchema(schema))(a, b)

/** The value after Schema's own encode and decode (which may differ from the value: a union member told apart by its encoded form). */
const schemaRoundTrip = (schema: AnySchema, value: unknown): Either.Either<unknown, unknown> =>
  Either.flatMap(Schema.encodeEither(schema)(value), (e) => Schema.decodeUnknownEither(schema)(e))

describe("Protocol wire against Schema (property)", () => {
  it(
    `WIRE-0022 on ${STEPS} random schemas: bytes never decode to a value Schema refuses; a value that encodes decodes back equal`,
    async () => {
      let runs = 0
      const sample = node.chain((c) =>
        fc.record({
          c: fc.constant(c),
          value: c.value,
          random: fc.array(fc.uint8Array({ maxLength: 48 }), { maxLength: 3 }),
          mutations: fc.array(fc.array(mutation, { minLength: 1, maxLength: 3 }), { maxLength: 6 })
        })
      )
      await fc.assert(
        fc.asyncProperty(sample, async ({ c: { schema }, value, random, mutations }) => {
          // A long run lets the test runner's own messages through now and then.
          if (++runs % 500 === 0) await new Promise((resolve) => setImmediate(resolve))
          let wire: ReturnType<typeof codec>
          try {
            wire = codec(schema)
          } catch (e) {
            // Only a schema that Schema's own pass would rob of a "__proto__" property is refused, or
            // one Schema itself cannot build a parser for (a "__proto__" key as a union's discriminator).
            if (!String(e).match(/"__proto__" property cannot go through Schema's own pass/)) expect(() => Schema.encodeEither(schema)).toThrow()
            return
          }
          const accepts = Schema.decodeUnknownEither(Schema.typeSchema(schema), { exact: true })
          const check = (bytes: Uint8Array) => {
            const decoded = wire.decode(bytes)
            if (!(decoded instanceof Undecodable)) expect(Either.isRight(accepts(decoded)), `decoded ${inspect(decoded)} from [${bytes}]`).toBe(true)
          }
          expect(Either.isRight(accepts(value))).toBe(true)
          const bytes = wire.encode(value, 256)
          if (typeof bytes === "string") {
            expect(bytes).toMatch(CANNOT_CARRY)
          } else {
            expect(bytes.length).toBeLessThanOrEqual(wire.maxBytes)
            const decoded = wire.decode(bytes)
            const viaSchema = schemaRoundTrip(schema, value)
            // Refused only where Schema's own encode then decode fails too (a union whose first
            // member decodes the encoded form to a value a refinement above it refuses).
            if (decoded instanceof Undecodable) expect(Either.isLeft(viaSchema), decoded.reason).toBe(true)
            else expect(same(schema, decoded, value) || (Either.isRight(viaSchema) && same(schema, decoded, viaSchema.right))).toBe(true)
            for (const ms of mutations) check(ms.reduce(mutate, bytes))
          }
          for (const r of random) check(r)
        }),
        { numRuns: STEPS, ...(SEED === undefined ? {} : { seed: SEED }) }
      )
    },
    30_000 + 10 * STEPS
  )
})
