import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Either, Exit, Fiber, Option, Schema } from "effect"
import { Caps, Kernel, Lease, Memory, Notification, Port, Process, Protocol, Ring, Server, Transfer } from "../../src/index.js"
import { Rights } from "../../src/kernel/Capability.js"
import type { ProcessExit } from "../../src/kernel/Process.js"
import { PAGE_SIZE } from "../../src/params.js"
import { boot, serverWithPort, settle } from "../support/kernel.js"

const valueOf = <A>(exit: ProcessExit): A => {
  if (exit._tag !== "Exited") throw new Error(`process ended ${exit._tag}: ${exit._tag === "Failed" ? Cause.pretty(exit.cause) : ""}`)
  return exit.value as A
}
const all = Rights.send | Rights.grant

/** An object whose `key` reads as each of `values` in turn (the last one from then on). */
const flipping = <T extends object>(base: T, key: string, values: ReadonlyArray<unknown>): T => {
  let reads = 0
  return Object.defineProperty({ ...base }, key, { enumerable: true, get: () => values[Math.min(reads++, values.length - 1)] })
}

/** The tag of the typed failure of `effect`, or "ok"; a defect fails the test. */
const outcome = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E, Process.Process>) =>
  Effect.map(Effect.either(effect), (r) => (Either.isLeft(r) ? r.left._tag : "ok"))

const framesInUse = Effect.map(Kernel.Kernel, (k) => k.memory.framesInUse)

describe("the kernel boundary", () => {
  it.effect("SEC-0001 a map item whose rights read 1 when checked and 3 when used maps the page read-only", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot, { pages: 4 })
          const mapped = m.items[0] as { readonly address: number; readonly rights: number }
          const write = yield* Effect.flip(Memory.write(mapped.address, new Uint8Array([1])))
          yield* Port.reply(m.reply!, { label: 0 })
          return [mapped.rights, write._tag, write._tag === "PageFault" ? write.reason : ""]
        })
      )
      yield* Kernel.spawn(
        Effect.gen(function* () {
          const page = yield* Memory.allocate(1)
          yield* Port.call(0, { label: 1, items: [flipping({ _tag: "map", address: page, pages: 1, rights: 1 }, "rights", [1, 3])] })
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      expect(valueOf(yield* server.await)).toEqual([1, "PageFault", "protection"])
    }).pipe(boot)
  )

  it.effect("SEC-0002 a grant item whose page count reads 1 then 2 grants one page; nothing leaks and teardown ends", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const before = yield* framesInUse
      const { server, port } = yield* serverWithPort(0)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot, { pages: 8 })
          yield* Port.reply(m.reply!, { label: 0 })
          return (m.items[0] as { readonly pages: number }).pages
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(2)
          yield* Memory.write(buf + PAGE_SIZE, new Uint8Array([9]))
          yield* Port.call(0, { label: 1, items: [flipping({ _tag: "grant", address: buf, pages: 1 }, "pages", [1, 2])] })
          const first = yield* outcome(Memory.read(buf, 1))
          const second = yield* Memory.read(buf + PAGE_SIZE, 1)
          return [first, second[0]]
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      expect(valueOf(yield* server.await)).toBe(1)
      expect(valueOf(yield* client.await)).toEqual(["PageFault", 9])
      expect(yield* framesInUse).toBe(before)
    }).pipe(boot)
  )

  it.effect("SEC-0003 inline data is read once: a getter that grows it, or a huge array, never passes the limit", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot)
          yield* Port.reply(m.reply!, { label: 0 })
          return m.data.length
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const huge = yield* Effect.flip(Port.call(0, { label: 1, data: new Uint8Array(200_000) }))
          let reads = 0
          const counted = new Proxy({ label: 2, data: new Uint8Array(10) }, { get: (t, key) => (key === "label" && reads++, Reflect.get(t, key)) })
          yield* Port.call(0, flipping(counted, "data", [new Uint8Array(10), new Uint8Array(4000)]))
          return [huge._tag, huge._tag === "InvalidMessage" ? huge.reason : "", reads]
        }),
        { caps: [{ cap: port }] }
      )
      const [tag, reason, reads] = valueOf<[string, string, number]>(yield* client.await)
      expect(tag).toBe("InvalidMessage")
      expect(reason).toMatch(/^data: inline data is 200000 bytes/)
      expect(reads).toBe(1)
      expect(valueOf(yield* server.await)).toBe(10)
    }).pipe(boot)
  )

  it.effect("SEC-0004 protect and revoke with a huge page count are refused at once, checked against the caller's regions", () =>
    Effect.gen(function* () {
      const p = yield* Kernel.spawn(
        Effect.gen(function* () {
          const page = yield* Memory.allocate(2)
          return [
            yield* outcome(Memory.protect(page, 2 ** 40, 1)),
            yield* outcome(Memory.protect(page, 2 ** 19, 1)),
            yield* outcome(Transfer.revoke(page, 2 ** 40)),
            yield* outcome(Transfer.revoke(page, 3)),
            yield* outcome(Memory.protect(page, 2, 1)),
            yield* outcome(Transfer.revoke(page, 2))
          ]
        })
      )
      expect(valueOf(yield* p.await)).toEqual(["InvalidAddress", "InvalidAddress", "InvalidAddress", "InvalidAddress", "ok", "ok"])
    }).pipe(boot)
  )

  it.effect("SEC-0005 wrong types anywhere are typed errors, never defects, and change nothing", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const bad: ReadonlyArray<unknown> = [
        null,
        undefined,
        Symbol("s"),
        10n,
        "abc",
        Number.NaN,
        -1,
        1.5,
        2 ** 60,
        {},
        [],
        () => 1,
        new Proxy(
          {},
          {
            get: () => {
              throw new Error("trap")
            }
          }
        )
      ]
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot)
          const lease = (m.items[0] as { readonly lease: Lease.Lease }).lease
          const tags: Array<string> = []
          for (const v of bad) {
            tags.push(yield* outcome(Lease.writeBytes(lease, v as number, new Uint8Array(1))))
            tags.push(yield* outcome(Lease.writeBytes(lease, 0, v as Uint8Array)))
            tags.push(yield* outcome(Lease.read(lease, 0, v as number, 0)))
            tags.push(yield* outcome(Lease.info(v as Lease.Lease)))
          }
          yield* Port.reply(m.reply!, { label: 0 })
          return tags
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const page = yield* Memory.allocate(1)
          const bell = yield* Notification.create
          // The one-way sends below go to a port of the client's own that nobody receives on.
          const own = yield* Port.create()
          const { end } = yield* Ring.create({ entries: 4, entrySize: 8 })
          const tags: Array<string> = []
          for (const v of bad) {
            const n = v as number
            tags.push(yield* outcome(Memory.write(n, new Uint8Array(1))))
            tags.push(yield* outcome(Memory.write(page, v as Uint8Array)))
            tags.push(yield* outcome(Memory.free(n)))
            tags.push(yield* outcome(Memory.read(n, 1)))
            tags.push(yield* outcome(Memory.protect(page, n, 1)))
            tags.push(yield* outcome(Memory.protect(page, 1, n)))
            tags.push(yield* outcome(Memory.allocate(n)))
            tags.push(yield* outcome(Memory.copy(n, page, 1)))
            tags.push(yield* outcome(Caps.mint(n, 1)))
            tags.push(yield* outcome(Caps.mint(1, n)))
            tags.push(yield* outcome(Caps.mint(1, 1, n)))
            tags.push(yield* outcome(Port.create(v as Port.PortOptions)))
            tags.push(yield* outcome(Port.create({ capacity: n })))
            tags.push(yield* outcome(Port.trySend(n, { label: 1 })))
            tags.push(yield* outcome(Port.trySend(own, v as Port.Message)))
            tags.push(yield* outcome(Port.trySend(own, { label: n })))
            tags.push(yield* outcome(Port.trySend(own, { label: 1, caps: v as Array<number> })))
            tags.push(yield* outcome(Port.trySend(own, { label: 1, items: [v as Port.TransferItem] })))
            tags.push(yield* outcome(Port.tryReceive(own, v as Port.ReceiveOptions)))
            tags.push(yield* outcome(Port.reply(v as Port.Reply, { label: 1 })))
            tags.push(yield* outcome(Notification.signal(n)))
            tags.push(yield* outcome(Notification.signal(bell, n)))
            tags.push(yield* outcome(Transfer.revoke(n, 1)))
            tags.push(yield* outcome(Ring.tryPush(v as Ring.RingEnd, new Uint8Array(1))))
            tags.push(yield* outcome(Ring.tryPush(end, v as Uint8Array)))
            tags.push(yield* outcome(Ring.tryPop(v as Ring.RingEnd)))
          }
          yield* Port.call(0, { label: 1, items: [{ _tag: "lease", address: page, length: 16, access: "readWrite" }] })
          return tags
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      const typed = new Set([
        "ok",
        "InvalidArgument",
        "InvalidAddress",
        "InvalidMessage",
        "InvalidCapability",
        "PageFault",
        "RightsDenied",
        "WouldBlock",
        "LeaseOutOfBounds"
      ])
      const serverTags = valueOf<Array<string>>(yield* server.await)
      const clientTags = valueOf<Array<string>>(yield* client.await)
      expect(clientTags.filter((t) => !typed.has(t))).toEqual([])
      expect(serverTags.filter((t) => !typed.has(t))).toEqual([])
      // The well-formed values among the bad ones (-1, 1.5, …) are refused too: nothing succeeded that should not.
      expect(clientTags.filter((t) => t === "ok").length).toBeLessThan(clientTags.length / 4)
    }).pipe(boot)
  )

  it.effect("SEC-0006 a page mapped on and then granted stays revocable by its origin, and stays charged to it", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const b = yield* serverWithPort(0, "b")
      const c = yield* serverWithPort(0, "c")
      const revoked = yield* Deferred.make<void>()
      yield* k.start(
        c.server,
        Effect.gen(function* () {
          const m = yield* Port.receive(c.port.slot, { pages: 4 })
          const granted = m.items[0] as { readonly address: number }
          yield* Memory.write(granted.address, new Uint8Array([42]))
          const charged = (yield* Memory.usage).framesCharged
          yield* Port.reply(m.reply!, { label: 0 })
          yield* Deferred.await(revoked)
          return [charged, yield* outcome(Memory.read(granted.address, 1))]
        })
      )
      // B's slot 1: a capability to C's port.
      Either.getOrThrow(c.server.cspace.mint(c.port.slot, all, undefined, b.server.cspace))
      yield* k.start(
        b.server,
        Effect.gen(function* () {
          const m = yield* Port.receive(b.port.slot, { pages: 4 })
          const mapped = m.items[0] as { readonly address: number }
          yield* Port.reply(m.reply!, { label: 0 })
          // Grant the page A mapped here on to C.
          return (yield* Port.call(1, { label: 2, items: [{ _tag: "grant", address: mapped.address, pages: 1 }] })).label
        })
      )
      const a = yield* Kernel.spawn(
        Effect.gen(function* () {
          const page = yield* Memory.allocate(1)
          yield* Port.call(0, { label: 1, items: [{ _tag: "map", address: page, pages: 1, rights: 3 }] })
          yield* Effect.repeatN(Effect.yieldNow(), 50)
          const seen = (yield* Memory.read(page, 1))[0]
          const unmapped = yield* Transfer.revoke(page, 1)
          return [seen, unmapped, (yield* Memory.usage).framesCharged]
        }),
        { caps: [{ cap: b.port, rights: all }] }
      )
      expect(valueOf(yield* a.await)).toEqual([42, 1, 1])
      yield* Deferred.succeed(revoked, undefined)
      expect(valueOf(yield* c.server.await)).toEqual([0, "PageFault"])
    }).pipe(boot)
  )

  const Quiet = Protocol.make("quiet", {
    Ping: Protocol.operation({ success: Schema.Number }),
    Put: Protocol.operation({ items: [{ _tag: "grant" }] })
  })

  it.effect("SEC-0007 a receiver never holds pages it did not ask for: the kernel refuses them, the server runtime frees those of requests it refuses", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const raw = yield* serverWithPort(0, "raw")
      // A raw receiver that accepts no pages: a refused call reaches it without a reply capability.
      yield* k.start(
        raw.server,
        Effect.forever(Effect.flatMap(Port.receive(raw.port.slot), (m) => (m.reply === undefined ? Effect.void : Port.reply(m.reply, { label: 0 }))))
      )
      const typed = yield* serverWithPort(0, "typed")
      yield* k.start(
        typed.server,
        Server.serve(
          Quiet,
          { Ping: () => Effect.succeed(1), Put: (_, call) => Effect.ignore(Memory.free((call.items[0] as { address: number }).address)) },
          typed.port.slot
        )
      )
      yield* settle
      const before = [raw.server.space.mappedPages, typed.server.space.mappedPages, k.memory.charged(typed.server.account)]
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const tags: Array<string> = []
          for (let i = 0; i < 8; i++) {
            const buf = yield* Memory.allocate(8)
            tags.push(yield* outcome(Port.call(0, { label: 1, items: [{ _tag: "grant", address: buf, pages: 8 }] })))
            // Ping (ordinal 0) declares no items: the server refuses the request and frees its pages.
            const refused = yield* Port.call(1, { label: 0, items: [{ _tag: "grant", address: buf, pages: 8 }] })
            tags.push(String(refused.label))
          }
          return tags
        }),
        {
          caps: [
            { cap: raw.port, rights: all },
            { cap: typed.port, rights: all }
          ]
        }
      )
      const tags = valueOf<Array<string>>(yield* client.await)
      expect(tags).toEqual(Array.from({ length: 8 }, () => ["NotAccepted", "2"]).flat())
      yield* settle
      expect([raw.server.space.mappedPages, typed.server.space.mappedPages, k.memory.charged(typed.server.account)]).toEqual(before)
    }).pipe(boot)
  )

  it.effect("SEC-0008 a receiver interrupted in the turn a call with a map item reaches it hands the call back", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const ready = yield* Deferred.make<Fiber.RuntimeFiber<unknown, unknown>>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const doomed = yield* Process.fork(Port.receive(port.slot, { pages: 4 }))
          yield* Deferred.succeed(ready, doomed as Fiber.RuntimeFiber<unknown, unknown>)
          yield* Fiber.await(doomed)
          const usage = yield* Memory.usage
          const m = yield* Port.receive(port.slot, { pages: 4 })
          const mapped = m.items[0] as { readonly address: number }
          const byte = (yield* Memory.read(mapped.address, 1))[0]
          yield* Port.reply(m.reply!, { label: byte! })
          return usage.mappedPages
        })
      )
      const doomed = yield* Deferred.await(ready)
      yield* settle
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const page = yield* Memory.allocate(1)
          yield* Memory.write(page, new Uint8Array([5]))
          yield* Effect.sync(() => doomed.unsafeInterruptAsFork(doomed.id()))
          return (yield* Port.call(0, { label: 1, items: [{ _tag: "map", address: page, pages: 1, rights: 1 }] })).label
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      expect(valueOf(yield* client.await)).toBe(5)
      // The interrupted receiver kept nothing: the server held no mapped page between the two receives.
      expect(valueOf(yield* server.await)).toBe(0)
    }).pipe(boot)
  )

  it.effect("SEC-0009 a program holds handles, never kernel objects: no Pcb, no kernel, no address space, no forged capability", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot)
          const item = m.items[0] as { readonly lease: object }
          const found = {
            reply: Reflect.ownKeys(m.reply!).map(String),
            replySender: (m.reply as unknown as Record<string, unknown>)["sender"],
            lease: Reflect.ownKeys(item.lease).map(String),
            leaseSpace: (item.lease as Record<string, unknown>)["space"],
            forgedReply: yield* outcome(Port.reply({ _tag: "Reply", label: 1 }, { label: 0 })),
            forgedLease: yield* outcome(Lease.info({ _tag: "Lease" })),
            forwardForged: yield* outcome(
              Port.trySend(0, { label: 1, items: [{ _tag: "lease", from: { _tag: "Lease" }, offset: 0, length: 1, access: "read" }] })
            )
          }
          yield* Port.reply(m.reply!, { label: 0 })
          return found
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const me = yield* Process.Process
          const ctx = yield* Effect.context<Process.Process>()
          let constructed = "ok"
          try {
            new (me.constructor as new (...a: Array<unknown>) => unknown)(Symbol("kernel"), {})
          } catch (e) {
            constructed = (e as Error).name
          }
          const page = yield* Memory.allocate(1)
          yield* Port.call(0, { label: 1, items: [{ _tag: "lease", address: page, length: 8, access: "read" }] })
          return {
            keys: Reflect.ownKeys(me).map(String),
            kernel: (me as unknown as Record<string, unknown>)["kernel"],
            kernelService: Option.isSome(Context.getOption(ctx, Kernel.Kernel)),
            services: [...ctx.unsafeMap.keys()],
            constructed,
            pid: me.pid
          }
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      const c = valueOf<Record<string, unknown>>(yield* client.await)
      expect(c["keys"]).toEqual([])
      expect(c["kernel"]).toBeUndefined()
      expect(c["kernelService"]).toBe(false)
      expect(c["services"]).toEqual(["effect-microkernel/Process"])
      expect(c["constructed"]).toBe("TypeError")
      expect(c["pid"]).toBe(client.pid)
      const s = valueOf<Record<string, unknown>>(yield* server.await)
      expect(s["reply"]).toEqual(["_tag"])
      expect(s["replySender"]).toBeUndefined()
      expect(s["lease"]).toEqual(["_tag"])
      expect(s["leaseSpace"]).toBeUndefined()
      expect(s["forgedReply"]).toBe("InvalidCapability")
      expect(s["forgedLease"]).toBe("InvalidCapability")
      expect(s["forwardForged"]).toBe("InvalidMessage")
    }).pipe(boot)
  )

  it.effect("SEC-0010 a program that replaces Number.isInteger, Number.isSafeInteger or Array.isArray changes no kernel decision", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(4)
      yield* k.start(server, Effect.never)
      const original = { isInteger: Number.isInteger, isSafeInteger: Number.isSafeInteger, isArray: Array.isArray }
      const patched = <A, E>(effect: Effect.Effect<A, E, Process.Process>) =>
        Effect.suspend(() => {
          Number.isInteger = () => true
          Number.isSafeInteger = () => true
          Array.isArray = ((_: unknown) => true) as typeof Array.isArray
          return outcome(effect as Effect.Effect<A, E & { _tag: string }, Process.Process>)
        }).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              Number.isInteger = original.isInteger
              Number.isSafeInteger = original.isSafeInteger
              Array.isArray = original.isArray
            })
          )
        )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          return [
            yield* patched(Port.trySend(0, { label: 1.5 })),
            yield* patched(Port.trySend(0, { label: 1, caps: "0" as unknown as Array<number> })),
            yield* patched(Memory.allocate(1.5)),
            yield* patched(Caps.mint(0, 1.5))
          ]
        }),
        { caps: [{ cap: port }] }
      )
      expect(valueOf(yield* client.await)).toEqual(["InvalidMessage", "InvalidMessage", "InvalidAddress", "InvalidArgument"])
      expect(k.stats().messages).toBe(0)
      expect(Exit.isSuccess(Exit.succeed(1))).toBe(true)
    }).pipe(boot)
  )
})
