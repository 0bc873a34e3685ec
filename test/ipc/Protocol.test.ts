import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Schema } from "effect"
import { Capability, Caps, Kernel, Labels, Lease, Memory, Port } from "../../src/index.js"
import * as Protocol from "../../src/ipc/Protocol.js"
import * as Server from "../../src/lib/Server.js"
import * as TestKernel from "../../src/root/TestKernel.js"
import { settle } from "../support/kernel.js"

class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", { dividend: Schema.Number }) {}

const Calc = Protocol.make("calc", {
  Add: Protocol.operation({ payload: { a: Schema.Number, b: Schema.Number }, success: { sum: Schema.Number }, idempotent: true }),
  Divide: Protocol.operation({ payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number, failure: DivideByZero }),
  Echo: Protocol.operation({ payload: { text: Schema.String }, success: { text: Schema.String, bytes: Schema.Int } }),
  Sqrt: Protocol.operation({ payload: { x: Schema.Number.pipe(Schema.nonNegative()) }, success: Schema.Number }),
  Gate: Protocol.operation({ payload: { open: Schema.Boolean } }),
  Badge: Protocol.operation({ success: Schema.Int }),
  Keep: Protocol.operation({ caps: 1, success: { kind: Schema.String } }),
  Give: Protocol.operation({ success: { note: Schema.String }, replyCaps: true }),
  Checksum: Protocol.operation({ payload: { length: Schema.Int }, success: Schema.Int, items: [{ _tag: "lease", access: "read" }] })
})

const calc = (gate?: Deferred.Deferred<void>): Server.Handlers<typeof Calc.operations> => ({
  Add: ({ a, b }) => Effect.succeed({ sum: a + b }),
  Divide: ({ a, b }) => (b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : Effect.succeed(a / b)),
  Echo: ({ text }) => Effect.succeed({ text, bytes: new TextEncoder().encode(text).length }),
  Sqrt: ({ x }) => Effect.succeed(Math.sqrt(x)),
  Gate: () => (gate === undefined ? Effect.void : Deferred.await(gate)),
  Badge: (_, call) => Effect.succeed(call.badge),
  Keep: (_, call) => Effect.map(Caps.inspect(call.caps[0]!), (c) => ({ kind: c.kind })).pipe(Effect.orDie),
  Give: () => Effect.map(Port.create(), (slot) => ({ value: { note: "a port of my own" }, caps: [slot] })).pipe(Effect.orDie),
  Checksum: ({ length }, call) => {
    const item = call.items[0]!
    if (item._tag !== "lease") return Effect.die("declared a lease")
    return Effect.map(Lease.readBytes(item.lease, 0, length), (bytes) => bytes.reduce((a, b) => a + b, 0)).pipe(Effect.orDie)
  }
})

const boot = Effect.provide(TestKernel.layer())

describe("Protocol", () => {
  it.effect("PROTO-0001 a typed call round trip: the client gets the decoded success value", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc())
      const result = yield* TestKernel.withClient(server, (c) => c.Add({ a: 2, b: 40 }))
      expect(result).toEqual({ sum: 42 })
      expect(server.counters.operations.Add.calls).toBe(1)
      expect(server.counters.operations.Add.answered).toBe(1)
    }).pipe(boot)
  )

  it.effect("PROTO-0002 a typed failure arrives as that failure: a DivideByZero instance, fields intact", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc())
      const error = yield* TestKernel.withClient(server, (c) => Effect.flip(c.Divide({ a: 7, b: 0 })))
      expect(error).toBeInstanceOf(DivideByZero)
      expect(error._tag).toBe("DivideByZero")
      expect((error as DivideByZero).dividend).toBe(7)
      expect(server.counters.operations.Divide.failures).toBe(1)
    }).pipe(boot)
  )

  it.effect("PROTO-0003 a malformed request gets InvalidRequest, and the server keeps serving other clients", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc())
      const raw = (label: number, data: Uint8Array) =>
        TestKernel.run(Port.call(0, { label, data }), { caps: [{ cap: server.port, rights: Capability.Rights.send }] })
      const replies = [
        yield* raw(0, new Uint8Array([1, 2, 3])), // Add: truncated
        yield* raw(0, new Uint8Array(17)), // Add: a trailing byte
        yield* raw(99, new Uint8Array(0)) // no such operation
      ]
      expect(replies.map((r) => r.label)).toEqual(Array(3).fill(Labels.Status.invalidRequest))
      // A typed client sees the answer as the tagged error: a payload of the wrong shape…
      const wrongShape = yield* TestKernel.withClient(server, () =>
        Effect.flip(Protocol.client(Protocol.make("calc", { Add: Protocol.operation({ payload: { a: Schema.String } }) }), 0).Add({ a: "x" }))
      )
      expect(wrongShape).toBeInstanceOf(Protocol.InvalidRequest)
      expect((wrongShape as Protocol.InvalidRequest).operation).toBe("Add")
      expect((wrongShape as Protocol.InvalidRequest).reason).toMatch(/truncated/)
      // …and one the server's Schema refuses, from a laxer client (the typed client refuses it before sending).
      const unsent = yield* TestKernel.withClient(server, (c) => Effect.flip(c.Sqrt({ x: -4 })))
      expect((unsent as Protocol.InvalidRequest).reason).toMatch(/\["x"\][\s\S]*non-negative/)
      const { Add, Divide, Echo } = Calc.operations
      const lax = Protocol.make("calc", { Add, Divide, Echo, Sqrt: Protocol.operation({ payload: { x: Schema.Number }, success: Schema.Number }) })
      const refused = yield* TestKernel.withClient(server, () => Effect.flip(Protocol.client(lax, 0).Sqrt({ x: -4 })))
      expect(refused._tag).toBe("InvalidRequest")
      expect((refused as Protocol.InvalidRequest).reason).toMatch(/\["x"\][\s\S]*non-negative/)
      // Everyone else is still served.
      const good = yield* Effect.all(
        [1, 2, 3].map((n) => TestKernel.withClient(server, (c) => c.Add({ a: n, b: n }))),
        { concurrency: "unbounded" }
      )
      expect(good).toEqual([{ sum: 2 }, { sum: 4 }, { sum: 6 }])
      expect(server.counters.operations.Add.invalid).toBe(3)
      expect(server.counters.operations.Sqrt.invalid).toBe(1)
      expect(server.counters.unroutable).toBe(1)
    }).pipe(boot)
  )

  it.effect("PROTO-0004 a payload over inlineMax spills into a copy item and arrives intact, both ways", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc())
      const text = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(0x41 + (i % 26)) + (i % 97 === 0 ? "é✓" : "")).join("")
      const before = (yield* Kernel.stats).bytesCopied
      const echoed = yield* TestKernel.withClient(server, (c) => c.Echo({ text }))
      expect(echoed.text).toBe(text)
      expect(echoed.bytes).toBeGreaterThan(256)
      expect(echoed.bytes).toBe(new TextEncoder().encode(text).length)
      // Request and answer each crossed as one copy item of their JSON bytes.
      expect((yield* Kernel.stats).bytesCopied - before).toBeGreaterThan(2 * echoed.bytes)
    }).pipe(boot)
  )

  it.effect("PROTO-0005 a payload over the protocol's maxMessage is refused locally with InvalidRequest; nothing is sent", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc())
      const error = yield* TestKernel.withClient(server, (c) => Effect.flip(c.Echo({ text: "x".repeat(Calc.maxMessage + 1) })))
      expect(error).toBeInstanceOf(Protocol.InvalidRequest)
      expect((error as Protocol.InvalidRequest).reason).toMatch(/maxMessage/)
      expect(server.counters.operations.Echo.calls).toBe(0)
      expect((yield* Kernel.stats).messages).toBe(0)
    }).pipe(boot)
  )

  it.effect("PROTO-0006 the server sees each client's badge; capabilities travel with requests and answers", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc())
      const badges = yield* Effect.all([5, 6].map((badge) => TestKernel.withClient(server, (c) => c.Badge(), { badge })))
      expect(badges).toEqual([5, 6])
      const kind = yield* TestKernel.withClient(server, (c) => c.Keep(undefined, { caps: [0] }))
      expect(kind).toEqual({ kind: "port" })
      const given = yield* TestKernel.withClient(server, (c) =>
        Effect.flatMap(c.Give(), ({ value, caps }) => Effect.map(Caps.inspect(caps[0]!), (cap) => ({ note: value.note, kind: cap.kind })))
      )
      expect(given).toEqual({ note: "a port of my own", kind: "port" })
    }).pipe(boot)
  )

  it.effect("PROTO-0007 capabilities other than declared are refused locally; an answer with capabilities needs grant", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc())
      const refused = yield* TestKernel.withClient(server, (c) => Effect.flip(c.Keep(undefined)))
      expect(refused._tag).toBe("InvalidRequest")
      const noGrant = yield* TestKernel.withClient(server, (c) => Effect.flip(c.Give()), { rights: Capability.Rights.send })
      expect(noGrant._tag).toBe("InvalidReply")
      expect((noGrant as Protocol.InvalidReply).reason).toMatch(/grant/)
      // The server kept nothing it meant to give: its space holds only its port.
      expect(server.process.cspace.count).toBe(1)
    }).pipe(boot)
  )

  it.effect("PROTO-0008 calls to a dead server fail with PeerDied or StaleCapability, never hang", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const server = yield* TestKernel.serve(Calc, calc(gate))
      const k = yield* Kernel.Kernel
      const caller = yield* Kernel.spawn(Effect.flip(Protocol.client(Calc, 0).Gate({ open: true })), { caps: [{ cap: server.port }] })
      while (server.counters.operations.Gate.calls === 0) yield* Effect.yieldNow()
      yield* Kernel.kill(server.process)
      const exit = yield* caller.await
      expect(exit._tag === "Exited" && (exit.value as { _tag: string })._tag).toBe("PeerDied")
      expect(k.process(server.process.pid)).toBeUndefined()
    }).pipe(boot)
  )

  it.effect("PROTO-0009 an operation's declared lease reaches the handler, which reads the client's bytes; a wrong item is refused locally", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc())
      const [sum, wrongAccess, missing] = yield* TestKernel.withClient(server, (c) =>
        Effect.gen(function* () {
          const buffer = yield* Memory.allocate(1)
          yield* Memory.write(buffer, new Uint8Array([1, 2, 3, 4, 5]))
          const sum = yield* c.Checksum({ length: 5 }, { items: [{ _tag: "lease", address: buffer, length: 5, access: "read" }] })
          const wrongAccess = yield* Effect.flip(c.Checksum({ length: 5 }, { items: [{ _tag: "lease", address: buffer, length: 5, access: "write" }] }))
          const missing = yield* Effect.flip(c.Checksum({ length: 5 }))
          return [sum, wrongAccess, missing] as const
        })
      )
      expect(sum).toBe(15)
      expect((wrongAccess as Protocol.InvalidRequest).reason).toMatch(/read access/)
      expect((missing as Protocol.InvalidRequest).reason).toMatch(/1 transfer items, got 0/)
      expect(server.counters.operations.Checksum.calls).toBe(1)
    }).pipe(boot)
  )

  it("PROTO-0010 a protocol needs operations and a positive maxMessage", () => {
    expect(() => Protocol.make("empty", {})).toThrow(/no operations/)
    expect(() => Protocol.make("x", { A: Protocol.operation({}) }, { maxMessage: 0 })).toThrow(/maxMessage/)
    const p = Protocol.make("x", { A: Protocol.operation({}), B: Protocol.operation({}) })
    expect(p.entries.map((e) => [e.name, e.ordinal])).toEqual([
      ["A", 0],
      ["B", 1]
    ])
  })

  it.effect("PROTO-0011 requests queued behind a busy server keep their own bytes (each encode after them reuses the encoder's scratch)", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const server = yield* TestKernel.serve(Calc, calc(gate), { capacity: 16 })
      // The one worker waits on the gate; twelve requests with different payloads queue meanwhile.
      const blocker = yield* Effect.fork(TestKernel.withClient(server, (c) => c.Gate({ open: true })))
      const sums = yield* Effect.fork(
        Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          (i) => TestKernel.withClient(server, (c) => c.Add({ a: i, b: 1000 * i })),
          {
            concurrency: "unbounded"
          }
        )
      )
      yield* settle
      expect((yield* Kernel.Kernel).stats().maxQueueDepth).toBeGreaterThanOrEqual(12)
      yield* Deferred.succeed(gate, undefined)
      yield* blocker.await
      expect((yield* sums.await)._tag).toBe("Success")
      const results = yield* Effect.orDie(sums)
      expect(results).toEqual(Array.from({ length: 12 }, (_, i) => ({ sum: 1001 * i })))
    }).pipe(boot)
  )
})
