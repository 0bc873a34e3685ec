import { Effect, Either, FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { Kernel, Lease, Memory, Port, Transfer } from "../../src/index.js"
import { Rights } from "../../src/kernel/Capability.js"
import { PAGE_SIZE } from "../../src/params.js"

/** One transfer: a buffer inside a 12-page region of the sender, and how the planner may move it. */
const transfer = fc.record({
  offset: fc.integer({ min: 0, max: 3 * PAGE_SIZE }),
  length: fc.integer({ min: 1, max: 6 * PAGE_SIZE }),
  hint: fc.constantFrom<Transfer.PlanHint>(
    { window: 8 * PAGE_SIZE },
    {},
    { strategy: "map", window: 2 * PAGE_SIZE },
    { strategy: "grant", window: 2 * PAGE_SIZE },
    { strategy: "lease" },
    { strategy: "copy" }
  )
})

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed * 7 + 1) & 255)

/**
 * Runs one transfer between two fresh processes; the receiver checks that it reaches exactly the
 * buffer's bytes: every delivered byte is right, the byte before and after each mapped or granted
 * region faults, and a lease refuses every byte outside it. Returns the frames in use before and after.
 */
const runOne = (t: { readonly offset: number; readonly length: number; readonly hint: Transfer.PlanHint }, seed: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const baseline = k.stats().framesInUse
      const server = Either.getOrThrow(k.create({ name: "receiver" }))
      const port = Either.getOrThrow(Port.createFor(server, { capacity: 0 }))
      const expected = pattern(t.length, seed)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const windows = yield* Memory.allocate(16)
          const m = yield* Port.receive(port.slot, {
            pages: 65536,
            windows: [
              { address: windows, length: 8 * PAGE_SIZE },
              { address: windows + 8 * PAGE_SIZE, length: 8 * PAGE_SIZE }
            ]
          })
          const got = new Uint8Array(t.length)
          let at = 0
          for (const item of m.items) {
            if (item._tag === "copy") {
              got.set(yield* Memory.read(item.address, item.length), at)
              at += item.length
            } else if (item._tag === "lease") {
              got.set(yield* Lease.readBytes(item.lease, 0, item.length), at)
              expect(Either.isLeft(yield* Effect.either(Lease.readBytes(item.lease, item.length, 1)))).toBe(true)
              expect(Either.isLeft(yield* Effect.either(Lease.readBytes(item.lease, 0, item.length + 1)))).toBe(true)
              at += item.length
            } else {
              const bytes = item.pages * PAGE_SIZE
              got.set(yield* Memory.read(item.address, bytes), at)
              expect(Either.isLeft(yield* Effect.either(Memory.read(item.address - 1, 1)))).toBe(true)
              expect(Either.isLeft(yield* Effect.either(Memory.read(item.address + bytes, 1)))).toBe(true)
              at += bytes
            }
          }
          expect(at).toBe(t.length)
          expect(got).toEqual(expected)
          if (m.reply) yield* Port.reply(m.reply, { label: 0 })
        })
      )
      const sender = yield* Kernel.spawn(
        Effect.gen(function* () {
          const region = yield* Memory.allocate(12)
          yield* Memory.write(region, new Uint8Array(12 * PAGE_SIZE).fill(0xee))
          yield* Memory.write(region + t.offset, expected)
          const plan = yield* Transfer.plan({ address: region + t.offset, length: t.length }, t.hint)
          yield* Port.call(0, { label: 1, items: plan.items })
        }),
        { caps: [{ cap: port, rights: Rights.send | Rights.grant }] }
      )
      const sent = yield* sender.await
      if (sent._tag !== "Exited") throw new Error(`sender ended ${sent._tag}: ${sent._tag === "Failed" ? String(sent.cause) : ""}`)
      const received = yield* server.await
      if (received._tag !== "Exited") throw new Error(`receiver ended ${received._tag}: ${received._tag === "Failed" ? String(received.cause) : ""}`)
      return { baseline, after: k.stats().framesInUse }
    }).pipe(Effect.provide(Kernel.layer({ frames: 256 })))
  )

describe("bulk transfer property", () => {
  it("random planned transfers reach exactly the buffer's bytes, nothing beyond, and leak no frame", async () => {
    let seed = 0
    await fc.assert(
      fc.asyncProperty(transfer, async (t) => {
        const { baseline, after } = await Effect.runPromise(runOne(t, seed++))
        expect(after).toBe(baseline)
      }),
      { numRuns: 40 }
    )
  }, 60_000)
})
