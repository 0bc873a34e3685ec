import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, FastCheck as fc } from "effect"
import { Kernel, Lease, Memory, Port, Ring, Transfer } from "../../src/index.js"
import { Rights } from "../../src/kernel/Capability.js"
import type { ProcessExit } from "../../src/kernel/Process.js"
import { PAGE_SIZE } from "../../src/params.js"
import { boot, serverWithPort } from "../support/kernel.js"

const pattern = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255)
const valueOf = <A>(exit: ProcessExit): A => {
  if (exit._tag !== "Exited") throw new Error(`process ended ${exit._tag}: ${exit._tag === "Failed" ? String(exit.cause) : ""}`)
  return exit.value as A
}
const all = Rights.send | Rights.grant

/** The grant item a message must carry first. */
const grantOf = (m: Port.Received): { readonly address: number; readonly pages: number } => {
  const g = m.items[0]
  if (g?._tag !== "grant") throw new Error("expected a grant")
  return g
}

describe("Transfer.plan", () => {
  it.prop(
    "items cover exactly the buffer, and only whole pages inside it are mapped or granted",
    [
      fc.integer({ min: 1, max: 64 * PAGE_SIZE }),
      fc.integer({ min: 0, max: 40 * PAGE_SIZE }),
      fc.constantFrom<"map" | "grant" | undefined>("map", "grant", undefined),
      fc.boolean()
    ],
    ([address, length, strategy, move]) => {
      const r = Transfer.plan({ address, length }, strategy === undefined ? { move, window: PAGE_SIZE } : { strategy })
      const plan = Either.getOrThrow(r)
      let at = address
      for (const item of plan.items) {
        if (item._tag === "map" || item._tag === "grant") {
          expect(item.address % PAGE_SIZE).toBe(0)
          expect(item.address).toBe(at)
          at += item.pages * PAGE_SIZE
        } else if (item._tag === "copy" || (item._tag === "lease" && "address" in item)) {
          expect(item.address).toBe(at)
          at += item.length
        }
      }
      expect(at).toBe(address + length)
    }
  )

  it("a one-way send of more than inlineMax bytes needs move with aligned ends", () => {
    expect(Either.isLeft(Transfer.plan({ address: 100, length: 10_000 }, { via: "send" }))).toBe(true)
    const ok = Either.getOrThrow(Transfer.plan({ address: PAGE_SIZE, length: 3 * PAGE_SIZE }, { via: "send", move: true }))
    expect(ok.items).toEqual([{ _tag: "grant", address: PAGE_SIZE, pages: 3 }])
  })
})

describe("bulk transfer", () => {
  it.effect("BULK-0001 a planned unaligned buffer: the receiver reaches exactly its bytes and faults one byte beyond at both ends", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const start = 100
      const length = 5 * PAGE_SIZE + 50
      const result = yield* Deferred.make<{ bytes: Uint8Array; beforeFaults: boolean; afterFaults: boolean; windowTail: Uint8Array }>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const windows = yield* Memory.allocate(2)
          const m = yield* Port.receive(port.slot, {
            pages: 65536,
            windows: [
              { address: windows, length: PAGE_SIZE },
              { address: windows + PAGE_SIZE, length: PAGE_SIZE }
            ]
          })
          const [head, middle, tail] = m.items as [Transfer.DeliveredItem, Transfer.DeliveredItem, Transfer.DeliveredItem]
          if (head._tag !== "copy" || middle._tag !== "map" || tail._tag !== "copy") throw new Error(`unexpected items ${JSON.stringify(m.items)}`)
          const parts = [
            yield* Memory.read(head.address, head.length),
            yield* Memory.read(middle.address, middle.pages * PAGE_SIZE),
            yield* Memory.read(tail.address, tail.length)
          ]
          const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
          let o = 0
          for (const part of parts) {
            bytes.set(part, o)
            o += part.length
          }
          const beforeFaults = Either.isLeft(yield* Effect.either(Memory.read(middle.address - 1, 1)))
          const afterFaults = Either.isLeft(yield* Effect.either(Memory.read(middle.address + middle.pages * PAGE_SIZE, 1)))
          const windowTail = yield* Memory.read(head.address + head.length, PAGE_SIZE - head.length)
          yield* Port.reply(m.reply!, { label: 0 })
          yield* Deferred.succeed(result, { bytes, beforeFaults, afterFaults, windowTail })
        })
      )
      const secret = new Uint8Array(8 * PAGE_SIZE).fill(0xee)
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const region = yield* Memory.allocate(8)
          yield* Memory.write(region, secret)
          yield* Memory.write(region + start, pattern(length))
          const plan = Either.getOrThrow(Transfer.plan({ address: region + start, length }, { strategy: "map", window: PAGE_SIZE }))
          yield* Port.call(0, { label: 1, items: plan.items })
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      const r = yield* Deferred.await(result)
      valueOf(yield* client.await)
      expect(r.bytes).toEqual(pattern(length))
      expect(r.beforeFaults).toBe(true)
      expect(r.afterFaults).toBe(true)
      expect(r.windowTail.every((b) => b === 0)).toBe(true)
    }).pipe(boot)
  )

  it.effect("BULK-0002 a copy larger than the window: MessageTooLarge to the sender, the receiver sees the true length", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const seen = yield* Deferred.make<Transfer.DeliveredItem>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const w = yield* Memory.allocate(1)
          const m = yield* Port.receive(port.slot, { windows: [{ address: w, length: 100 }] })
          yield* Deferred.succeed(seen, m.items[0]!)
          expect(m.reply).toBeUndefined()
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          return yield* Effect.flip(Port.call(0, { label: 1, items: [{ _tag: "copy", address: buf, length: 300 }] }))
        }),
        { caps: [{ cap: port }] }
      )
      const error = valueOf<{ _tag: string; length: number; window: number }>(yield* client.await)
      expect(error).toMatchObject({ _tag: "MessageTooLarge", length: 300, window: 100 })
      expect(yield* Deferred.await(seen)).toMatchObject({ _tag: "copy", length: 0, trueLength: 300 })
      expect(k.stats().bytesCopied).toBe(0)
    }).pipe(boot)
  )

  it.effect("BULK-0003 leases: read and write inside, RightsDenied through a read-only lease, LeaseOutOfBounds outside, LeaseRevoked after the reply", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const outcome = yield* Deferred.make<ReadonlyArray<string>>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot, { pages: 65536 })
          const [ro, rw] = m.items.map((i) => (i._tag === "lease" ? i.lease : undefined)) as [Lease.Lease, Lease.Lease]
          const info = yield* Lease.info(rw)
          const head = yield* Lease.readBytes(ro, 1, 3)
          yield* Lease.writeBytes(rw, 2, new Uint8Array([9, 9]))
          const denied = yield* Effect.flip(Lease.writeBytes(ro, 0, new Uint8Array([1])))
          const outside = yield* Effect.flip(Lease.readBytes(ro, 8, 3))
          yield* Port.reply(m.reply!, { label: 0 })
          const revoked = yield* Effect.flip(Lease.readBytes(ro, 0, 1))
          yield* Deferred.succeed(outcome, [`${info.length}:${info.access}`, [...head].join(","), denied._tag, outside._tag, revoked._tag])
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          yield* Memory.write(buf, Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
          yield* Port.call(0, {
            label: 1,
            items: [
              { _tag: "lease", address: buf, length: 10, access: "read" },
              { _tag: "lease", address: buf + 100, length: 6, access: "readWrite" }
            ]
          })
          return yield* Memory.read(buf + 100, 6)
        }),
        { caps: [{ cap: port }] }
      )
      expect(yield* Deferred.await(outcome)).toEqual(["6:readWrite", "1,2,3", "RightsDenied", "LeaseOutOfBounds", "LeaseRevoked"])
      expect([...valueOf<Uint8Array>(yield* client.await)]).toEqual([0, 0, 9, 9, 0, 0])
    }).pipe(boot)
  )

  it.effect("BULK-0004 a forwarded sub-lease reaches only its range, and the bytes are copied once, by the last server", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const vfs = yield* serverWithPort(0, "vfs")
      const fs = yield* serverWithPort(0, "fs")
      const seen = yield* Deferred.make<ReadonlyArray<string>>()
      yield* k.start(
        fs.server,
        Effect.gen(function* () {
          const m = yield* Port.receive(fs.port.slot, { pages: 65536 })
          const lease = (m.items[0] as { lease: Lease.Lease }).lease
          const inside = yield* Lease.readBytes(lease, 0, 4)
          const beyond = yield* Effect.flip(Lease.readBytes(lease, 2, 3))
          yield* Deferred.succeed(seen, [[...inside].join(","), beyond._tag])
          yield* Port.reply(m.reply!, { label: 0 })
        })
      )
      yield* k.start(
        vfs.server,
        Effect.gen(function* () {
          const m = yield* Port.receive(vfs.port.slot, { pages: 65536 })
          const lease = (m.items[0] as { lease: Lease.Lease }).lease
          yield* Port.call(1, { label: 2, items: [{ _tag: "lease", from: lease, offset: 3, length: 4, access: "read" }] })
          yield* Port.reply(m.reply!, { label: 0 })
        })
      )
      Either.getOrThrow(vfs.server.cspace.copy(0)) // placeholder slot 1 below is replaced by the fs capability
      vfs.server.cspace.delete(1)
      Either.getOrThrow(fs.server.cspace.mint(fs.port.slot, Rights.send, undefined, vfs.server.cspace))
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          yield* Memory.write(buf, Uint8Array.from([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]))
          yield* Port.call(0, { label: 1, items: [{ _tag: "lease", address: buf, length: 10, access: "read" }] })
        }),
        { caps: [{ cap: vfs.port }] }
      )
      expect(yield* Deferred.await(seen)).toEqual(["13,14,15,16", "LeaseOutOfBounds"])
      valueOf(yield* client.await)
      expect(k.stats().bytesCopied).toBe(4)
    }).pipe(boot)
  )

  it.effect("BULK-0005 after a grant the sender faults on the pages, the receiver reads the bytes, and no frame leaks", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const baseline = k.stats().framesInUse
      const { server, port } = yield* serverWithPort(4)
      const got = yield* Deferred.make<Uint8Array>()
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(3)
          yield* Memory.write(buf, pattern(3 * PAGE_SIZE))
          yield* Port.send(0, { label: 1, items: [{ _tag: "grant", address: buf, pages: 3 }] })
          return Either.isLeft(yield* Effect.either(Memory.read(buf, 1)))
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      expect(valueOf<boolean>(yield* client.await)).toBe(true)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const g = grantOf(yield* Port.receive(port.slot, { pages: 65536 }))
          yield* Deferred.succeed(got, yield* Memory.read(g.address, g.pages * PAGE_SIZE))
        })
      )
      expect(yield* Deferred.await(got)).toEqual(pattern(3 * PAGE_SIZE))
      yield* server.await
      expect(k.stats()).toMatchObject({ bytesCopied: 0, pagesGranted: 3, framesInUse: baseline })
    }).pipe(boot)
  )

  it.effect(
    "BULK-0013 a grant to a waiting receiver moves the pages table to table: the sender faults, the receiver is charged, and a receiver without room leaves the sender's pages untouched",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const baseline = k.stats().framesInUse
        // A receiver whose quota has room for 4 pages, waiting in receive before anyone sends.
        const server = yield* k.create({ name: "small-server", quota: 4 })
        const port = yield* Port.createFor(server, { capacity: 0 })
        const seen = yield* Deferred.make<{ readonly bytes: Uint8Array; readonly charged: number }>()
        yield* k.start(
          server,
          Effect.gen(function* () {
            const m = yield* Port.receive(port.slot, { pages: 65536 })
            const g = grantOf(m)
            const charged = (yield* Memory.usage).framesCharged
            yield* Deferred.succeed(seen, { bytes: yield* Memory.read(g.address, g.pages * PAGE_SIZE), charged })
            yield* Port.reply(m.reply!, { label: 0 })
            // Too many pages for its quota: refused whole, while it waits.
            const again = yield* Port.receive(port.slot, { pages: 65536 })
            if (again.reply !== undefined) yield* Port.reply(again.reply, { label: 1 })
          })
        )
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const buf = yield* Memory.allocate(3)
            yield* Memory.write(buf, pattern(3 * PAGE_SIZE))
            yield* Port.call(0, { label: 1, items: [{ _tag: "grant", address: buf, pages: 3 }] })
            const gone = Either.isLeft(yield* Effect.either(Memory.read(buf, 1)))
            const big = yield* Memory.allocate(5)
            const bigBytes = pattern(5 * PAGE_SIZE, 9)
            yield* Memory.write(big, bigBytes)
            const refused = yield* Effect.either(Port.call(0, { label: 2, items: [{ _tag: "grant", address: big, pages: 5 }] }))
            const kept = yield* Memory.read(big, 5 * PAGE_SIZE)
            return { gone, refused: Either.isLeft(refused) ? refused.left._tag : "delivered", intact: kept.every((b, i) => b === bigBytes[i]) }
          }),
          { caps: [{ cap: port, rights: all }] }
        )
        const result = valueOf<{ gone: boolean; refused: string; intact: boolean }>(yield* client.await)
        expect(result).toEqual({ gone: true, refused: "OutOfMemory", intact: true })
        const { bytes, charged } = yield* Deferred.await(seen)
        expect(bytes).toEqual(pattern(3 * PAGE_SIZE))
        expect(charged).toBe(3)
        yield* server.await
        expect(k.stats()).toMatchObject({ bytesCopied: 0, pagesGranted: 3, framesInUse: baseline })
      }).pipe(boot)
  )

  it.effect("BULK-0006 after a map both sides see each other's writes, and revoke removes the receiver's mapping", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const mappedAt = yield* Deferred.make<number>()
      const clientWrote = yield* Deferred.make<void>()
      const revoked = yield* Deferred.make<void>()
      const seen = yield* Deferred.make<ReadonlyArray<unknown>>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot, { pages: 65536 })
          const item = m.items[0]!
          if (item._tag !== "map") throw new Error("expected a map")
          yield* Memory.write(item.address + 10, new Uint8Array([42]))
          yield* Port.reply(m.reply!, { label: 0 })
          yield* Deferred.await(clientWrote)
          const fromClient = (yield* Memory.read(item.address, 1))[0]
          yield* Deferred.succeed(mappedAt, item.address)
          yield* Deferred.await(revoked)
          const after = yield* Effect.flip(Memory.read(item.address, 1))
          yield* Deferred.succeed(seen, [fromClient, after._tag])
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(2)
          yield* Port.call(0, { label: 1, items: [{ _tag: "map", address: buf, pages: 2, rights: 3 }] })
          const fromServer = (yield* Memory.read(buf + 10, 1))[0]
          yield* Memory.write(buf, new Uint8Array([7]))
          yield* Deferred.succeed(clientWrote, undefined)
          yield* Deferred.await(mappedAt)
          const unmapped = yield* Transfer.revoke(buf, 2)
          yield* Deferred.succeed(revoked, undefined)
          return [fromServer, unmapped]
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      expect(valueOf<ReadonlyArray<number>>(yield* client.await)).toEqual([42, 2])
      expect(yield* Deferred.await(seen)).toEqual([7, "PageFault"])
      expect(k.stats().pagesUnmapped).toBe(2)
    }).pipe(boot)
  )

  it.effect("BULK-0007 map and grant items need the grant right; a one-way send refuses leases and bulk copies", () =>
    Effect.gen(function* () {
      const { port } = yield* serverWithPort(4)
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          return yield* Effect.all([
            Effect.flip(Port.send(0, { label: 1, items: [{ _tag: "grant", address: buf, pages: 1 }] })),
            Effect.flip(Port.send(0, { label: 1, items: [{ _tag: "map", address: buf, pages: 1, rights: 1 }] })),
            Effect.flip(Port.send(0, { label: 1, items: [{ _tag: "lease", address: buf, length: 4, access: "read" }] })),
            Effect.flip(Port.send(0, { label: 1, items: [{ _tag: "copy", address: buf, length: 1000 }] })),
            Effect.flip(Port.call(0, { label: 1, items: [{ _tag: "grant", address: buf + 1, pages: 1 }] }))
          ])
        }),
        { caps: [{ cap: port, rights: Rights.send }] }
      )
      const errors = valueOf<ReadonlyArray<{ _tag: string }>>(yield* client.await)
      expect(errors.map((e) => e._tag)).toEqual(["RightsDenied", "RightsDenied", "InvalidMessage", "InvalidMessage", "RightsDenied"])
      expect((port.object as unknown as { queue: { length: number } }).queue.length).toBe(0)
    }).pipe(boot)
  )

  it.effect("BULK-0008 a caller killed mid-call revokes its leases at once", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const holding = yield* Deferred.make<void>()
      const callerGone = yield* Deferred.make<void>()
      const after = yield* Deferred.make<string>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot, { pages: 65536 })
          const lease = (m.items[0] as { lease: Lease.Lease }).lease
          yield* Lease.readBytes(lease, 0, 1)
          yield* Deferred.succeed(holding, undefined)
          yield* Deferred.await(callerGone)
          yield* Deferred.succeed(after, (yield* Effect.flip(Lease.readBytes(lease, 0, 1)))._tag)
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          yield* Port.call(0, { label: 1, items: [{ _tag: "lease", address: buf, length: 8, access: "read" }] })
        }),
        { caps: [{ cap: port }] }
      )
      yield* Deferred.await(holding)
      yield* Kernel.kill(client)
      yield* Deferred.succeed(callerGone, undefined)
      expect(yield* Deferred.await(after)).toBe("LeaseRevoked")
    }).pipe(boot)
  )

  it.effect("BULK-0009 a reply's copy items land in the caller's windows", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          yield* Memory.write(buf, pattern(500, 3))
          const m = yield* Port.receive(port.slot, { pages: 65536 })
          const tooBig = yield* Effect.flip(Port.reply(m.reply!, { label: 0, items: [{ _tag: "copy", address: buf, length: 5000 }] }))
          expect(tooBig._tag).toBe("MessageTooLarge")
          yield* Port.reply(m.reply!, { label: 0, items: [{ _tag: "copy", address: buf, length: 500 }] })
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const w = yield* Memory.allocate(1)
          const r = yield* Port.call(0, { label: 1 }, { windows: [{ address: w, length: PAGE_SIZE }] })
          return yield* Memory.read(w, (r.items[0] as { length: number }).length)
        }),
        { caps: [{ cap: port }] }
      )
      expect(valueOf<Uint8Array>(yield* client.await)).toEqual(pattern(500, 3))
    }).pipe(boot)
  )

  it.effect(
    "BULK-0010 a ring carries 1,000,000 entries in order with no loss, with far fewer doorbells than entries",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const { server, port } = yield* serverWithPort(0)
        const N = 1_000_000
        const consumed = yield* Deferred.make<{ count: number; inOrder: boolean }>()
        yield* k.start(
          server,
          Effect.gen(function* () {
            const m = yield* Port.receive(port.slot, { pages: 65536 })
            const { end: ring, answer } = yield* Ring.open(m)
            yield* Port.reply(m.reply!, answer)
            let inOrder = true
            for (let i = 0; i < N; i++) {
              const e = yield* Ring.pop(ring)
              if (e[0] !== (i & 255) || e[1] !== ((i >>> 8) & 255) || e[2] !== ((i >>> 16) & 255)) inOrder = false
            }
            yield* Deferred.succeed(consumed, { count: N, inOrder })
          })
        )
        const producer = yield* Kernel.spawn(
          Effect.gen(function* () {
            const created = yield* Ring.create({ entries: 256, entrySize: 16 })
            const end = yield* Ring.connect(created.end, yield* Port.call(0, created.share))
            const entry = new Uint8Array(3)
            for (let i = 0; i < N; i++) {
              entry[0] = i & 255
              entry[1] = (i >>> 8) & 255
              entry[2] = (i >>> 16) & 255
              yield* Ring.push(end, entry)
            }
          }),
          { caps: [{ cap: port, rights: all }] }
        )
        expect(yield* Deferred.await(consumed)).toEqual({ count: N, inOrder: true })
        valueOf(yield* producer.await)
        const s = k.stats()
        expect(s.ringEntries).toBe(N)
        expect(s.doorbells).toBeLessThan(N / 50)
      }).pipe(boot),
    120_000
  )

  it.effect("BULK-0011 a producer blocked on a full ring is woken with an error when the consumer dies", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot, { pages: 65536 })
          const { answer } = yield* Ring.open(m)
          yield* Port.reply(m.reply!, answer)
          yield* Effect.never
        })
      )
      const full = yield* Deferred.make<void>()
      const producer = yield* Kernel.spawn(
        Effect.gen(function* () {
          const created = yield* Ring.create({ entries: 2, entrySize: 8 })
          const end = yield* Ring.connect(created.end, yield* Port.call(0, created.share))
          yield* Ring.push(end, new Uint8Array(1))
          yield* Ring.push(end, new Uint8Array(1))
          yield* Deferred.succeed(full, undefined)
          return yield* Effect.flip(Ring.push(end, new Uint8Array(1)))
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      yield* Deferred.await(full)
      yield* Kernel.kill(server)
      expect(valueOf<{ _tag: string }>(yield* producer.await)._tag).toBe("PeerDied")
    }).pipe(boot)
  )

  it.effect("BULK-0012 a page shared read-only cannot be granted on (so never made writable)", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { port } = yield* serverWithPort(4)
      const owner = yield* Kernel.spawn(Effect.zipRight(Memory.allocate(1), Effect.never))
      yield* Effect.yieldNow()
      const page = Either.getOrThrow(owner.space.allocate(1))
      const client = Either.getOrThrow(k.create({ caps: [{ cap: port, rights: all }] }))
      const shared = Either.getOrThrow(k.share(owner, page, 1, client, 1))
      yield* k.start(client, Effect.flip(Port.send(0, { label: 1, items: [{ _tag: "grant", address: shared, pages: 1 }] })))
      expect(valueOf<{ _tag: string; reason: string }>(yield* client.await)).toMatchObject({ _tag: "PageFault", reason: "protection" })
    }).pipe(boot)
  )
})
