import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Option, Ref, TestClock } from "effect"
import { Kernel, Labels, Notification, Port, Process } from "../../src/index.js"
import { Rights } from "../../src/kernel/Capability.js"
import { boot, serverWithPort, settle } from "../support/kernel.js"

describe("Port", () => {
  it.effect("IPC-0001 capacity 0 is a rendezvous: send waits until a receiver takes the message", () =>
    Effect.gen(function* () {
      const { server, port } = yield* serverWithPort(0)
      const client = yield* Kernel.spawn(Port.send(0, { label: 7 }), { caps: [{ cap: port }] })
      yield* settle
      expect(Option.isNone(yield* Fiber.poll(client.main!))).toBe(true)
      const k = yield* Kernel.Kernel
      const got = yield* Deferred.make<number>()
      yield* k.start(
        server,
        Effect.flatMap(Port.receive(port.slot), (m) => Deferred.succeed(got, m.label))
      )
      expect(yield* Deferred.await(got)).toBe(7)
      expect((yield* client.await)._tag).toBe("Exited")
    }).pipe(boot)
  )

  it.effect("IPC-0002 call returns the server's reply, and the receiver sees label, data and badge", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot)
          yield* Port.reply(m.reply!, { label: m.label + 1, data: new Uint8Array([...m.data, m.badge]) })
        })
      )
      const client = yield* Kernel.spawn(Port.call(0, { label: 41, data: new Uint8Array([1, 2]) }), { caps: [{ cap: port, badge: 9 }] })
      const exit = yield* client.await
      expect(exit._tag).toBe("Exited")
      const reply = (exit as { value: Port.ReplyMessage }).value
      expect(reply.label).toBe(42)
      expect([...reply.data]).toEqual([1, 2, 9])
    }).pipe(boot)
  )

  it.effect("IPC-0003 a sender blocked on a full port resumes after a receive", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(1)
      const client = yield* Kernel.spawn(Effect.zipRight(Port.send(0, { label: 1 }), Port.send(0, { label: 2 })), { caps: [{ cap: port }] })
      yield* settle
      expect(Option.isNone(yield* Fiber.poll(client.main!))).toBe(true)
      expect(k.stats().maxQueueDepth).toBe(1)
      const labels = yield* Ref.make<Array<number>>([])
      yield* k.start(server, Effect.forever(Effect.flatMap(Port.receive(port.slot), (m) => Ref.update(labels, (l) => [...l, m.label]))))
      expect((yield* client.await)._tag).toBe("Exited")
      yield* settle
      expect(yield* Ref.get(labels)).toEqual([1, 2])
    }).pipe(boot)
  )

  it.effect("IPC-0004 trySend on a full port and tryReceive on an empty one fail with WouldBlock and change nothing", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(1)
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          yield* Port.trySend(0, { label: 1 })
          return yield* Effect.flip(Port.trySend(0, { label: 2 }))
        }),
        { caps: [{ cap: port }] }
      )
      const exit = yield* client.await
      expect(exit._tag === "Exited" && (exit.value as { _tag: string })._tag).toBe("WouldBlock")
      const seen = yield* Deferred.make<ReadonlyArray<string | number>>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const first = yield* Port.tryReceive(port.slot)
          const second = yield* Effect.flip(Port.tryReceive(port.slot))
          yield* Deferred.succeed(seen, [first.label, second._tag])
        })
      )
      expect(yield* Deferred.await(seen)).toEqual([1, "WouldBlock"])
    }).pipe(boot)
  )

  it.effect("IPC-0005 an interrupted caller's message is withdrawn if no receiver took it", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(4)
      const client = yield* Kernel.spawn(Effect.either(Effect.timeout(Port.call(0, { label: 5 }), "1 second")), { caps: [{ cap: port }] })
      yield* settle
      yield* TestClock.adjust("2 seconds")
      const exit = yield* client.await
      expect(exit._tag === "Exited" && Either.isLeft(exit.value as Either.Either<unknown, { _tag: string }>)).toBe(true)
      const seen = yield* Deferred.make<string>()
      yield* k.start(
        server,
        Effect.flatMap(Effect.flip(Port.tryReceive(port.slot)), (e) => Deferred.succeed(seen, e._tag))
      )
      expect(yield* Deferred.await(seen)).toBe("WouldBlock")
    }).pipe(boot)
  )

  it.effect("IPC-0006 a caller interrupted after the server took its call: the reply is dropped and counted", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const held = yield* Deferred.make<Port.Reply>()
      const delivered = yield* Deferred.make<boolean>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot)
          yield* Deferred.succeed(held, m.reply!)
          yield* TestClock.sleep("5 seconds")
          yield* Deferred.succeed(delivered, yield* Port.reply(m.reply!, { label: 0 }))
        })
      )
      const client = yield* Kernel.spawn(Effect.timeout(Port.call(0, { label: 1 }), "1 second"), { caps: [{ cap: port }] })
      yield* Deferred.await(held)
      yield* TestClock.adjust("1 second")
      yield* client.await
      yield* TestClock.adjust("5 seconds")
      expect(yield* Deferred.await(delivered)).toBe(false)
      expect(k.stats().repliesDropped).toBe(1)
    }).pipe(boot)
  )

  it.effect("IPC-0007 a killed server wakes callers that are blocked, queued and being served with PeerDied", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(1)
      const serving = yield* Deferred.make<void>()
      yield* k.start(server, Effect.zipRight(Port.receive(port.slot), Effect.zipRight(Deferred.succeed(serving, undefined), Effect.never)))
      const caller = () => Kernel.spawn(Effect.flip(Port.call(0, { label: 1 })), { caps: [{ cap: port }] })
      const served = yield* caller()
      yield* Deferred.await(serving)
      const queued = yield* caller()
      yield* settle
      const blocked = yield* caller()
      yield* settle
      expect(port.object.closed).toBe(false)
      yield* Kernel.kill(server)
      for (const c of [served, queued, blocked]) {
        const exit = yield* c.await
        expect(exit._tag === "Exited" && (exit.value as { _tag: string })._tag).toBe("PeerDied")
      }
    }).pipe(boot)
  )

  it.effect("IPC-0008 a reply to a caller that died is dropped and counted; the server keeps serving", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const held = yield* Deferred.make<void>()
      const results = yield* Deferred.make<ReadonlyArray<boolean>>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const a = yield* Port.receive(port.slot)
          yield* Deferred.succeed(held, undefined)
          const b = yield* Port.receive(port.slot)
          const toDead = yield* Port.reply(a.reply!, { label: 0 })
          const toLive = yield* Port.reply(b.reply!, { label: 0 })
          yield* Deferred.succeed(results, [toDead, toLive])
        })
      )
      const doomed = yield* Kernel.spawn(Port.call(0, { label: 1 }), { caps: [{ cap: port }] })
      yield* Deferred.await(held)
      yield* Kernel.kill(doomed)
      const other = yield* Kernel.spawn(Port.call(0, { label: 2 }), { caps: [{ cap: port }] })
      expect(yield* Deferred.await(results)).toEqual([false, true])
      expect((yield* other.await)._tag).toBe("Exited")
      expect(k.stats().repliesDropped).toBe(1)
    }).pipe(boot)
  )

  it.effect("IPC-0009 transferring a capability needs grant; with it, the receiver gets a working capability", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const other = yield* serverWithPort(1, "other")
      const denied = yield* Kernel.spawn(Effect.flip(Port.send(0, { label: 1, caps: [1] })), {
        caps: [
          { cap: port, rights: Rights.send },
          { cap: other.port, rights: Rights.send }
        ]
      })
      const e = yield* denied.await
      expect(e._tag === "Exited" && (e.value as { _tag: string })._tag).toBe("RightsDenied")
      const used = yield* Deferred.make<number>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot)
          yield* Port.send(m.caps[0]!, { label: 99 })
          yield* Deferred.succeed(used, m.caps.length)
        })
      )
      yield* Kernel.spawn(Port.send(0, { label: 1, caps: [1] }), {
        caps: [
          { cap: port, rights: Rights.send | Rights.grant },
          { cap: other.port, rights: Rights.send }
        ]
      })
      expect(yield* Deferred.await(used)).toBe(1)
      const got = yield* Deferred.make<number>()
      yield* k.start(
        other.server,
        Effect.flatMap(Port.receive(other.port.slot), (m) => Deferred.succeed(got, m.label))
      )
      expect(yield* Deferred.await(got)).toBe(99)
    }).pipe(boot)
  )

  it.effect("IPC-0010 an invalid message is InvalidMessage and leaves the port unchanged", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { port } = yield* serverWithPort(4)
      const bad: ReadonlyArray<unknown> = [
        { label: -1 },
        { label: 1.5 },
        { label: 1, data: new Uint8Array(257) },
        { label: 1, data: [1, 2, 3] },
        { label: 1, caps: [0, 0, 0, 0, 0] },
        null
      ]
      const client = yield* Kernel.spawn(
        Effect.forEach(bad, (m) => Effect.flip(Port.trySend(0, m as Port.Message))),
        { caps: [{ cap: port }] }
      )
      const exit = yield* client.await
      const errors = (exit as { value: ReadonlyArray<{ _tag: string; reason: string }> }).value
      expect(errors.map((e) => e._tag)).toEqual(Array(bad.length).fill("InvalidMessage"))
      expect(errors[2]!.reason).toMatch(/inlineMax/)
      expect((port.object as unknown as { queue: { length: number } }).queue.length).toBe(0)
      expect(k.stats().messages).toBe(0)
    }).pipe(boot)
  )

  it.effect("IPC-0011 each client's badge is delivered with its messages and cannot be chosen by the sender", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(8)
      const badges = yield* Ref.make<Array<number>>([])
      yield* k.start(server, Effect.forever(Effect.flatMap(Port.receive(port.slot), (m) => Ref.update(badges, (b) => [...b, m.badge]))))
      for (const badge of [11, 22, 33]) {
        const c = yield* Kernel.spawn(Port.send(0, { label: 0 }), { caps: [{ cap: port, rights: Rights.send, badge }] })
        yield* c.await
      }
      yield* settle
      expect(yield* Ref.get(badges)).toEqual([11, 22, 33])
    }).pipe(boot)
  )

  it.effect("IPC-0012 replyReceive answers one call and waits for the next", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      yield* k.start(
        server,
        Effect.gen(function* () {
          let m = yield* Port.receive(port.slot)
          for (;;) m = yield* Port.replyReceive(m.reply!, { label: m.label * 2 }, port.slot)
        })
      )
      const client = yield* Kernel.spawn(
        Effect.forEach([1, 2, 3], (i) => Effect.map(Port.call(0, { label: i }), (r) => r.label)),
        {
          caps: [{ cap: port }]
        }
      )
      const exit = yield* client.await
      expect((exit as { value: unknown }).value).toEqual([2, 4, 6])
      expect(k.stats().syscalls["replyReceive"]).toBe(3)
    }).pipe(boot)
  )

  it.effect("IPC-0013 notifications OR their bits; wait blocks until a signal, poll never blocks", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const owner = Either.getOrThrow(k.create({ name: "owner" }))
      const n = Either.getOrThrow(Notification.createFor(owner))
      const words = yield* Deferred.make<ReadonlyArray<number>>()
      const waiting = yield* Deferred.make<void>()
      yield* k.start(
        owner,
        Effect.gen(function* () {
          const empty = yield* Notification.poll(n.slot)
          yield* Deferred.succeed(waiting, undefined)
          const first = yield* Notification.wait(n.slot)
          yield* TestClock.sleep("1 second")
          const second = yield* Notification.poll(n.slot)
          yield* Deferred.succeed(words, [empty, first, second])
        })
      )
      yield* Deferred.await(waiting)
      yield* Kernel.spawn(
        Effect.gen(function* () {
          yield* Notification.signal(0, 0b001)
          yield* Effect.sleep("500 millis")
          yield* Notification.signal(0, 0b010)
          yield* Notification.signal(0, 0b100)
          yield* Notification.signal(1)
        }),
        {
          caps: [
            { cap: n, rights: Rights.send },
            { cap: n, rights: Rights.send, badge: 0b1000 }
          ]
        }
      )
      yield* settle
      yield* TestClock.adjust("2 seconds")
      expect(yield* Deferred.await(words)).toEqual([0, 0b001, 0b1110])
    }).pipe(boot)
  )

  it.effect("IPC-0014 1,000 senders through a capacity-8 port: every message delivered exactly once, queue never deeper than 8", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(8)
      const seen = new Map<number, number>()
      const done = yield* Deferred.make<void>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          for (let i = 0; i < 1000; i++) {
            const m = yield* Port.receive(port.slot)
            seen.set(m.label, (seen.get(m.label) ?? 0) + 1)
            if (i % 7 === 0) yield* Effect.yieldNow()
          }
          yield* Deferred.succeed(done, undefined)
        })
      )
      const senders = yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i),
        (i) => Kernel.spawn(Port.send(0, { label: i }), { caps: [{ cap: port, rights: Rights.send }] })
      )
      yield* Deferred.await(done)
      for (const s of senders) expect((yield* s.await)._tag).toBe("Exited")
      expect(seen.size).toBe(1000)
      expect([...seen.values()].every((c) => c === 1)).toBe(true)
      expect(k.stats().maxQueueDepth).toBe(8)
    }).pipe(boot)
  )

  it.effect("IPC-0015 the kernel copies data at send: changing the buffer afterwards changes nothing", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(1)
      const buffer = new Uint8Array([1, 2, 3])
      const client = yield* Kernel.spawn(Port.send(0, { label: 0, data: buffer }), { caps: [{ cap: port }] })
      yield* client.await
      buffer.fill(9)
      const got = yield* Deferred.make<ReadonlyArray<number>>()
      yield* k.start(
        server,
        Effect.flatMap(Port.receive(port.slot), (m) => Deferred.succeed(got, [...m.data]))
      )
      expect(yield* Deferred.await(got)).toEqual([1, 2, 3])
    }).pipe(boot)
  )

  it.effect("IPC-0016 sends to a dead server's port fail with StaleCapability", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(1)
      yield* k.start(server, Effect.never)
      const serverGone = yield* Deferred.make<void>()
      const client = yield* Kernel.spawn(Effect.zipRight(Deferred.await(serverGone), Effect.flip(Port.send(0, { label: 0 }))), {
        caps: [{ cap: port }]
      })
      yield* Kernel.kill(server)
      yield* Deferred.succeed(serverGone, undefined)
      const exit = yield* client.await
      expect(exit._tag === "Exited" && (exit.value as { _tag: string })._tag).toBe("StaleCapability")
    }).pipe(boot)
  )

  it.effect("IPC-0017 a server may keep reply capabilities and answer out of order", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(2)
      yield* k.start(
        server,
        Effect.gen(function* () {
          const a = yield* Port.receive(port.slot)
          const b = yield* Port.receive(port.slot)
          yield* Port.reply(b.reply!, { label: b.label })
          yield* Port.reply(a.reply!, { label: a.label })
          const again = yield* Effect.flip(Port.reply(a.reply!, { label: 0 }))
          expect(again._tag).toBe("InvalidCapability")
        })
      )
      const order: Array<number> = []
      const caller = (label: number) =>
        Kernel.spawn(
          Effect.tap(Port.call(0, { label }), () => Effect.sync(() => order.push(label))),
          { caps: [{ cap: port }] }
        )
      const a = yield* caller(1)
      const b = yield* caller(2)
      yield* a.await
      yield* b.await
      expect(order).toEqual([2, 1])
    }).pipe(boot)
  )

  it.effect("IPC-0018 a reply capability works only for the process that received the call", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const stolen = yield* Deferred.make<Port.Reply>()
      yield* k.start(
        server,
        Effect.zipRight(
          Effect.flatMap(Port.receive(port.slot), (m) => Deferred.succeed(stolen, m.reply!)),
          Effect.never
        )
      )
      yield* Kernel.spawn(Port.call(0, { label: 1 }), { caps: [{ cap: port }] })
      const r = yield* Deferred.await(stolen)
      const thief = yield* Kernel.spawn(Effect.flip(Port.reply(r, { label: 0 })))
      const exit = yield* thief.await
      expect(exit._tag === "Exited" && (exit.value as { _tag: string })._tag).toBe("InvalidCapability")
    }).pipe(boot)
  )

  it.effect("IPC-0019 missing rights and bad slots: RightsDenied and InvalidCapability", () =>
    Effect.gen(function* () {
      const { port } = yield* serverWithPort(1)
      const p = yield* Kernel.spawn(
        Effect.all([Effect.flip(Port.receive(0)), Effect.flip(Port.send(5, { label: 0 })), Effect.flip(Port.send(-1, { label: 0 }))]),
        { caps: [{ cap: port, rights: Rights.send }] }
      )
      const exit = yield* p.await
      expect((exit as { value: ReadonlyArray<{ _tag: string }> }).value.map((e) => e._tag)).toEqual(["RightsDenied", "InvalidCapability", "InvalidCapability"])
    }).pipe(boot)
  )

  it.effect("IPC-0020 a message delivered to a receiver that was being interrupted is handed back, not lost", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      const got = yield* Deferred.make<number>()
      const ready = yield* Deferred.make<Fiber.RuntimeFiber<unknown, unknown>>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const doomed = yield* Process.fork(Port.receive(port.slot))
          yield* Deferred.succeed(ready, doomed as Fiber.RuntimeFiber<unknown, unknown>)
          yield* Fiber.await(doomed)
          const m = yield* Port.receive(port.slot)
          yield* Deferred.succeed(got, m.label)
        })
      )
      const doomed = yield* Deferred.await(ready)
      yield* settle
      // Interrupt the waiting receiver and send in the same synchronous turn: the send finds the
      // waiter before its fiber has processed the interruption.
      yield* Kernel.spawn(Effect.zipRight(Fiber.interruptFork(doomed), Port.send(0, { label: 77 })), { caps: [{ cap: port }] })
      expect(yield* Deferred.await(got)).toBe(77)
      expect(k.stats().messages).toBe(1)
    }).pipe(boot)
  )

  it.effect("IPC-0021 a caller killed while its call is queued withdraws it; the server never sees it", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(4)
      const doomed = yield* Kernel.spawn(Port.call(0, { label: 1 }), { caps: [{ cap: port }] })
      yield* settle
      yield* Kernel.kill(doomed)
      const live = yield* Kernel.spawn(Port.call(0, { label: 2 }), { caps: [{ cap: port }] })
      const labels: Array<number> = []
      yield* k.start(
        server,
        Effect.forever(
          Effect.flatMap(Port.receive(port.slot), (m) =>
            Effect.zipRight(
              Effect.sync(() => labels.push(m.label)),
              Port.reply(m.reply!, { label: 0 })
            )
          )
        )
      )
      expect(Exit.isExit(yield* Effect.exit(live.await))).toBe(true)
      expect(labels).toEqual([2])
    }).pipe(boot)
  )

  it.effect("IPC-0022 a port made with disconnects announces a badged client's death with its badge", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const server = Either.getOrThrow(k.create({ name: "server" }))
      const port = Either.getOrThrow(Port.createFor(server, { capacity: 1, disconnects: true }))
      const quiet = Either.getOrThrow(Port.createFor(server, { capacity: 1 }))
      const client = yield* Kernel.spawn(Effect.never, { caps: [{ cap: port, badge: 5 }, { cap: quiet, badge: 6 }, { cap: port }] })
      // Fill the port first: the announcement must not be lost to a full queue.
      const filler = yield* Kernel.spawn(Port.send(0, { label: 1 }), { caps: [{ cap: port }] })
      yield* filler.await
      yield* Kernel.kill(client)
      const got = yield* Deferred.make<ReadonlyArray<readonly [number, number, boolean]>>()
      yield* k.start(
        server,
        Effect.gen(function* () {
          const seen: Array<readonly [number, number, boolean]> = []
          for (;;) {
            const m = yield* Effect.either(Port.tryReceive(port.slot))
            if (Either.isLeft(m)) break
            seen.push([m.right.label, m.right.badge, m.right.reply === undefined])
          }
          const other = yield* Effect.either(Port.tryReceive(quiet.slot))
          expect(Either.isLeft(other)).toBe(true)
          yield* Deferred.succeed(got, seen)
        })
      )
      expect(yield* Deferred.await(got)).toEqual([
        [1, 0, true],
        [Labels.DISCONNECT, 5, true]
      ])
    }).pipe(boot)
  )
})
