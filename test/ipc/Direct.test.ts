import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Either, Exit, Fiber, FiberRef, Scheduler, Schema } from "effect"
import { Caps, Kernel, Labels, Lease, Memory, Port, Process, Trace } from "../../src/index.js"
import * as Protocol from "../../src/ipc/Protocol.js"
import * as Server from "../../src/lib/Server.js"
import * as TestKernel from "../../src/root/TestKernel.js"
import { Rights } from "../../src/kernel/Capability.js"
import { PAGE_SIZE } from "../../src/params.js"
import { directServer, tagOf, valueOf } from "../support/direct.js"
import { boot, serverWithPort, settle } from "../support/kernel.js"

const all = Rights.send | Rights.grant

describe("direct calls", () => {
  it.effect("DIRECT-0001 the handler runs on the caller's fiber as the server: its identity, memory and badge; no hand-off", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* directServer((m) =>
        Effect.gen(function* () {
          const me = yield* Process.self
          const page = yield* Memory.allocate(1)
          yield* Memory.write(page, m.data)
          return { label: me.pid, data: Uint8Array.of(m.badge, (yield* Memory.read(page, 1))[0]!) }
        })
      )
      const before = k.stats()
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const callerFiber = yield* Effect.withFiberRuntime((f) => Effect.succeed(f.id()))
          const r = yield* Port.callDirect(0, { label: 1, data: Uint8Array.of(9) })
          const after = yield* Effect.withFiberRuntime((f) => Effect.succeed(f.id()))
          return [r.label, [...r.data], callerFiber === after, (yield* Process.self).pid]
        }),
        { caps: [{ cap: port, rights: all, badge: 7 }] }
      )
      expect(valueOf(yield* client.await)).toEqual([server.pid, [7, 9], true, client.pid])
      const after = k.stats()
      expect(after.directCalls - before.directCalls).toBe(1)
      expect(after.handoffs - before.handoffs).toBe(0)
      // The page the handler allocated is the server's.
      expect(server.space.mappedPages).toBe(1)
    }).pipe(boot)
  )

  it.effect("DIRECT-0002 the message is read and checked exactly as for a call; a port without a direct entry is called the ordinary way", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { port } = yield* directServer(() => Effect.succeed({ label: 5 }))
      const plain = yield* serverWithPort(0, "plain")
      yield* k.start(
        plain.server,
        Effect.flatMap(Port.receive(plain.port.slot), (m) => Port.reply(m.reply!, { label: 6 }))
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          let reads = 0
          const counted = Object.defineProperty({}, "label", { enumerable: true, get: () => [1, 1.5][Math.min(reads++, 1)] })
          return [
            yield* tagOf(Port.callDirect(0, { label: 1.5 })),
            yield* tagOf(Port.callDirect(0, { label: 1, data: new Uint8Array(300) })),
            (yield* Port.callDirect(0, counted as Port.Message)).label,
            reads,
            (yield* Port.callDirect(1, { label: 1 })).label
          ]
        }),
        { caps: [{ cap: port }, { cap: plain.port }] }
      )
      expect(valueOf(yield* client.await)).toEqual(["InvalidMessage", "InvalidMessage", 5, 1, 6])
    }).pipe(boot)
  )

  it.effect("DIRECT-0003 items: copies land in the entry's window, leases work until the handler returns, pages only up to what it accepts", () =>
    Effect.gen(function* () {
      let kept: Lease.Lease | undefined = undefined
      const { server, port } = yield* directServer(
        (m) =>
          Effect.gen(function* () {
            const copy = m.items.find((i) => i._tag === "copy") as { address: number; length: number } | undefined
            const lease = m.items.find((i) => i._tag === "lease") as { lease: Lease.Lease; length: number } | undefined
            const grant = m.items.find((i) => i._tag === "grant") as { address: number; pages: number } | undefined
            let sum = 0
            if (copy) for (const b of yield* Memory.read(copy.address, copy.length)) sum += b
            if (lease) {
              kept = lease.lease
              for (const b of yield* Lease.readBytes(lease.lease, 0, lease.length)) sum += b
            }
            if (grant) sum += (yield* Memory.read(grant.address, 1))[0]!
            return { label: sum }
          }),
        { window: PAGE_SIZE, pages: 2 }
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(4)
          yield* Memory.write(buf, Uint8Array.of(1, 2, 3))
          yield* Memory.write(buf + 2 * PAGE_SIZE, Uint8Array.of(40))
          const copy = (yield* Port.callDirect(0, { label: 1, items: [{ _tag: "copy", address: buf, length: 3 }] })).label
          const lease = (yield* Port.callDirect(0, { label: 1, items: [{ _tag: "lease", address: buf, length: 3, access: "read" }] })).label
          const grant = (yield* Port.callDirect(0, { label: 1, items: [{ _tag: "grant", address: buf + 2 * PAGE_SIZE, pages: 1 }] })).label
          const three = yield* Memory.allocate(3)
          const tooMany = yield* tagOf(Port.callDirect(0, { label: 1, items: [{ _tag: "map", address: three, pages: 3, rights: 1 }] }))
          const tooBig = yield* tagOf(Port.callDirect(0, { label: 1, items: [{ _tag: "copy", address: buf, length: PAGE_SIZE + 1 }] }))
          return [copy, lease, grant, tooMany, tooBig]
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      expect(valueOf(yield* client.await)).toEqual([6, 6, 40, "NotAccepted", "MessageTooLarge"])
      // The lease the handler kept died with its call: read as the server, it is revoked.
      const again = yield* Effect.either(Effect.provideService(Lease.readBytes(kept!, 0, 1), Process.Process, server.handle))
      expect(Either.isLeft(again) && again.left._tag).toBe("LeaseRevoked")
    }).pipe(boot)
  )

  it.effect("DIRECT-0004 the reply is checked like a reply: its copies land in the caller's windows; one the kernel refuses faults the server", () =>
    Effect.gen(function* () {
      const { server, port } = yield* directServer((m) =>
        Effect.gen(function* () {
          const page = yield* Memory.allocate(1)
          yield* Memory.write(page, Uint8Array.of(4, 5, 6))
          if (m.label === 1) return { label: 0, items: [{ _tag: "copy" as const, address: page, length: 3 }] }
          return { label: 0, data: new Uint8Array(1000) }
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const w = yield* Memory.allocate(1)
          const r = yield* Port.callDirect(0, { label: 1 }, { windows: [{ address: w, length: 16 }] })
          const copied = [...(yield* Memory.read(w, 3))]
          return [r.items[0]?._tag, copied, yield* tagOf(Port.callDirect(0, { label: 2 }))]
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      expect(valueOf(yield* client.await)).toEqual(["copy", [4, 5, 6], "PeerDied"])
      expect((yield* server.await)._tag).toBe("Failed")
    }).pipe(boot)
  )

  it.effect("DIRECT-0005 a defect in the handler faults the server; its caller gets PeerDied, later callers StaleCapability", () =>
    Effect.gen(function* () {
      const { server, port } = yield* directServer(() => Effect.die("broken handler"))
      const client = yield* Kernel.spawn(
        Effect.all([tagOf(Port.callDirect(0, { label: 1 })), Effect.zipRight(Effect.repeatN(Effect.yieldNow(), 20), tagOf(Port.callDirect(0, { label: 1 })))]),
        {
          caps: [{ cap: port }]
        }
      )
      expect(valueOf(yield* client.await)).toEqual(["PeerDied", "StaleCapability"])
      const exit = yield* server.await
      expect(exit._tag === "Failed" && Cause.pretty(exit.cause)).toMatch(/broken handler/)
    }).pipe(boot)
  )

  it.effect(
    "DIRECT-0006 the server dies while the handler waits, in the kernel or not: the wait ends, the caller gets PeerDied at once, and no more of the handler runs",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const silent = yield* serverWithPort(0, "silent")
        yield* k.start(silent.server, Effect.never)
        const inside = yield* Deferred.make<void>()
        const never = yield* Deferred.make<void>()
        const acted: Array<string> = []
        const { server, port } = yield* serverWithPort(0)
        // The server's slot 1: a capability to a server that never answers.
        Either.getOrThrow(silent.server.cspace.mint(silent.port.slot, Rights.send, undefined, server.cspace))
        yield* k.start(
          server,
          Effect.zipRight(
            Port.serveDirect(port.slot, (m) =>
              Effect.gen(function* () {
                yield* Deferred.succeed(inside, undefined)
                // Label 1 waits in the kernel (a call nobody answers); label 2 on something of the server's own.
                const waited = m.label === 1 ? yield* tagOf(Port.call(1, { label: 1 })) : yield* tagOf(Deferred.await(never))
                acted.push(`woke with ${waited}`)
                return { label: 0 }
              }).pipe(
                Effect.ensuring(
                  Effect.flatMap(Effect.exit(Memory.allocate(1)), (e) =>
                    Effect.sync(() => acted.push(`finalizer ${e._tag === "Success" ? "allocated" : "could not act"}`))
                  )
                )
              )
            ),
            Effect.never
          )
        )
        yield* settle
        const client = yield* Kernel.spawn(Effect.all([tagOf(Port.callDirect(0, { label: 1 })), Effect.succeed("after")]), { caps: [{ cap: port }] })
        yield* Deferred.await(inside)
        yield* Kernel.kill(server)
        expect(valueOf(yield* client.await)).toEqual(["PeerDied", "after"])
        expect(acted).toEqual(["finalizer could not act"])

        const second = yield* serverWithPort(0, "second")
        const inside2 = yield* Deferred.make<void>()
        yield* k.start(
          second.server,
          Effect.zipRight(
            Port.serveDirect(second.port.slot, () =>
              Effect.gen(function* () {
                yield* Deferred.succeed(inside2, undefined)
                yield* Deferred.await(never)
                acted.push("woke")
                return { label: 0 }
              })
            ),
            Effect.never
          )
        )
        yield* settle
        const client2 = yield* Kernel.spawn(tagOf(Port.callDirect(0, { label: 2 })), { caps: [{ cap: second.port }] })
        yield* Deferred.await(inside2)
        yield* Kernel.kill(second.server)
        expect(valueOf(yield* client2.await)).toBe("PeerDied")
        expect(acted).toEqual(["finalizer could not act"])
        // Only the silent server is left.
        expect(k.stats().processesAlive).toBe(1)
      }).pipe(boot)
  )

  it.live(
    "DIRECT-0007 a handler is never interrupted by its caller (LRPC): the caller's deadline takes effect when it returns, even around an interruptible section; the caller's finalizer runs as the caller",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const finished: Array<number> = []
        const { server, port } = yield* directServer((m) =>
          Effect.gen(function* () {
            const wait = Effect.sleep("60 millis")
            yield* m.label === 1 ? wait : Effect.interruptible(wait)
            finished.push(m.label)
            return { label: m.label }
          })
        )
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const whoInFinalizer: Array<number> = []
            const started = Date.now()
            const first = yield* Effect.either(Effect.timeout(Port.callDirect(0, { label: 1 }), "10 millis"))
            const second = yield* Effect.either(
              Effect.timeout(
                Effect.ensuring(
                  Port.callDirect(0, { label: 2 }),
                  Effect.flatMap(Process.self, (me) => Effect.sync(() => whoInFinalizer.push(me.pid)))
                ),
                "10 millis"
              )
            )
            return [first._tag, second._tag, whoInFinalizer, Date.now() - started]
          }),
          { caps: [{ cap: port }] }
        )
        const [first, second, who, took] = valueOf<[string, string, Array<number>, number]>(yield* client.await)
        expect([first, second]).toEqual(["Left", "Left"])
        expect(who).toEqual([client.pid])
        // Both handlers completed their work; each deadline took effect when its handler returned.
        expect(finished).toEqual([1, 2])
        expect(took).toBeGreaterThanOrEqual(110)
        yield* settle
        expect(server.obligations.size).toBe(0)
        expect(k.stats().processesAlive).toBe(1)
      }).pipe(Effect.provide(Kernel.layer({ frames: 512 }))),
    10_000
  )

  it.effect("DIRECT-0008 re-entrancy works and never deadlocks: a handler that calls its own server, and a chain that comes back", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const a = yield* serverWithPort(0, "a")
      const b = yield* serverWithPort(0, "b")
      // a's slot 1: a itself; b's slot 1: a; a's slot 2: b.
      Either.getOrThrow(a.server.cspace.copy(a.port.slot))
      Either.getOrThrow(a.server.cspace.mint(a.port.slot, Rights.send, undefined, b.server.cspace))
      Either.getOrThrow(b.server.cspace.mint(b.port.slot, Rights.send, undefined, a.server.cspace))
      yield* k.start(
        a.server,
        Effect.zipRight(
          Port.serveDirect(a.port.slot, (m) =>
            m.label === 0
              ? Effect.succeed({ label: 100 })
              : m.label < 10
                ? Effect.map(Port.callDirect(1, { label: m.label - 1 }), (r) => ({ label: r.label + 1 }))
                : Effect.map(Port.callDirect(2, { label: 3 }), (r) => ({ label: r.label + 1000 }))
          ),
          Effect.never
        )
      )
      yield* k.start(
        b.server,
        Effect.zipRight(
          Port.serveDirect(b.port.slot, (m) => Effect.map(Port.callDirect(1, { label: m.label }), (r) => ({ label: r.label + 10 }))),
          Effect.never
        )
      )
      yield* settle
      const client = yield* Kernel.spawn(Effect.all([Port.callDirect(0, { label: 5 }), Port.callDirect(0, { label: 20 })]), { caps: [{ cap: a.port }] })
      const [recursive, chain] = valueOf<[Port.ReplyMessage, Port.ReplyMessage]>(yield* client.await)
      expect(recursive.label).toBe(105)
      expect(chain.label).toBe(1113)
    }).pipe(boot)
  )

  it.effect("DIRECT-0009 direct calls and the server's own workers run at once, on one state changed only between syscalls", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const { server, port } = yield* serverWithPort(0)
      let total = 0
      let direct = 0
      yield* k.start(
        server,
        Effect.gen(function* () {
          yield* Port.serveDirect(port.slot, () =>
            Effect.sync(() => {
              total++
              direct++
              return { label: total }
            })
          )
          let m = yield* Port.receive(port.slot)
          for (;;) {
            total++
            m = yield* Port.replyReceive(m.reply!, { label: total }, port.slot)
          }
        })
      )
      yield* settle
      const clients = yield* Effect.forEach([0, 1, 2, 3], (i) =>
        Kernel.spawn(
          Effect.forEach(Array.from({ length: 50 }), () => (i % 2 === 0 ? Port.callDirect(0, { label: 1 }) : Port.call(0, { label: 1 }))),
          {
            caps: [{ cap: port }]
          }
        )
      )
      for (const c of clients) valueOf(yield* c.await)
      expect(total).toBe(200)
      expect(direct).toBe(100)
    }).pipe(boot)
  )

  it.effect("DIRECT-0010 a caller killed while its handler waits in the kernel: the wait ends and the kill completes; the server lives on", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const inside = yield* Deferred.make<void>()
      const { server, port } = yield* serverWithPort(0)
      yield* k.start(
        server,
        Effect.gen(function* () {
          // A port of the server's own that nobody sends to: the handler waits on it.
          const note = yield* Port.create({ capacity: 0 })
          yield* Port.serveDirect(port.slot, () =>
            Effect.gen(function* () {
              yield* Deferred.succeed(inside, undefined)
              yield* Effect.either(Port.receive(note))
              return { label: 0 }
            })
          )
          return yield* Effect.never
        })
      )
      yield* settle
      const client = yield* Kernel.spawn(Port.callDirect(0, { label: 1 }), { caps: [{ cap: port }] })
      yield* Deferred.await(inside)
      yield* Kernel.kill(client)
      expect((yield* client.await)._tag).toBe("Killed")
      expect(server.alive).toBe(true)
      yield* settle
      expect(server.obligations.size).toBe(0)
    }).pipe(boot)
  )

  it.live(
    "DIRECT-0018 a caller killed while its handler waits on something of the server's own: the handler is cut short, its finalizer runs, the kill completes, and no more of the caller runs",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const inside = yield* Deferred.make<void>()
        const never = yield* Deferred.make<void>()
        const log: Array<string> = []
        const { server, port } = yield* directServer(() =>
          Effect.gen(function* () {
            yield* Deferred.succeed(inside, undefined)
            yield* Deferred.await(never)
            log.push("handler went on")
            return { label: 3 }
          }).pipe(Effect.ensuring(Effect.sync(() => log.push("handler finalizer"))))
        )
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            yield* Port.callDirect(0, { label: 1 })
            log.push("caller went on")
          }),
          { caps: [{ cap: port }] }
        )
        yield* Deferred.await(inside)
        yield* Kernel.kill(client)
        expect((yield* client.await)._tag).toBe("Killed")
        yield* Effect.sleep("20 millis")
        expect(log).toEqual(["handler finalizer"])
        expect(server.alive).toBe(true)
        expect(server.obligations.size).toBe(0)
        expect(k.stats().processesAlive).toBe(1)
      }).pipe(boot)
  )

  it.live(
    "DIRECT-0019 an interruption of the caller's thread while inside waits for the handler, then ends the thread: none of the caller's code runs after it",
    () =>
      Effect.gen(function* () {
        const inside = yield* Deferred.make<void>()
        const log: Array<string> = []
        const { port } = yield* directServer(() =>
          Effect.gen(function* () {
            yield* Deferred.succeed(inside, undefined)
            yield* Effect.sleep("30 millis")
            log.push("handler done")
            return { label: 3 }
          })
        )
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const thread = yield* Effect.fork(
              Effect.gen(function* () {
                yield* Port.callDirect(0, { label: 1 })
                log.push("thread went on")
                yield* Effect.sleep("1 millis")
                log.push("thread went on again")
              })
            )
            yield* Deferred.await(inside)
            const exit = yield* Fiber.interrupt(thread)
            return Exit.isInterrupted(exit)
          }),
          { caps: [{ cap: port }] }
        )
        expect(valueOf(yield* client.await)).toBe(true)
        expect(log).toEqual(["handler done"])
      }).pipe(boot)
  )

  it.effect(
    "DIRECT-0020 the server's death cuts only what its handler started: fibers the caller forked before the call live on, fibers the handler forked end",
    () =>
      Effect.gen(function* () {
        const inside = yield* Deferred.make<void>()
        const never = yield* Deferred.make<void>()
        const ended: Array<string> = []
        const { server, port } = yield* directServer(() =>
          Effect.gen(function* () {
            yield* Effect.fork(Effect.onInterrupt(Deferred.await(never), () => Effect.sync(() => ended.push("handler's fiber"))))
            yield* Deferred.succeed(inside, undefined)
            return yield* Effect.as(Deferred.await(never), { label: 0 })
          })
        )
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const mine = yield* Effect.fork(
              Effect.onInterrupt(Effect.as(Effect.yieldNow(), "caller's fiber done"), () => Effect.sync(() => ended.push("caller's fiber")))
            )
            const outcome = yield* tagOf(Port.callDirect(0, { label: 1 }))
            return [outcome, yield* Fiber.join(mine)]
          }),
          { caps: [{ cap: port }] }
        )
        yield* Deferred.await(inside)
        yield* Kernel.kill(server)
        expect(valueOf(yield* client.await)).toEqual(["PeerDied", "caller's fiber done"])
        yield* settle
        expect(ended).toEqual(["handler's fiber"])
      }).pipe(boot)
  )

  it.effect(
    "DIRECT-0021 the outer server dies while the thread is inside an inner one: the inner call, the dead server's own, is cut as a killed caller's is, then the outer; the caller gets PeerDied and the inner server lives on",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const inside = yield* Deferred.make<void>()
        const never = yield* Deferred.make<void>()
        const log: Array<string> = []
        const inner = yield* directServer(
          () =>
            Effect.gen(function* () {
              yield* Deferred.succeed(inside, undefined)
              yield* Deferred.await(never)
              log.push("inner went on")
              return { label: 7 }
            }).pipe(Effect.ensuring(Effect.sync(() => log.push("inner finalizer")))),
          undefined,
          "inner"
        )
        const outer = yield* serverWithPort(0, "outer")
        // outer's slot 1: the inner server.
        Either.getOrThrow(inner.server.cspace.mint(inner.port.slot, Rights.send, undefined, outer.server.cspace))
        yield* k.start(
          outer.server,
          Effect.zipRight(
            Port.serveDirect(outer.port.slot, () =>
              Effect.gen(function* () {
                const r = yield* Effect.either(Port.callDirect(1, { label: 1 }))
                log.push("outer went on")
                return { label: Either.isRight(r) ? r.right.label : 0 }
              }).pipe(Effect.ensuring(Effect.sync(() => log.push("outer finalizer"))))
            ),
            Effect.never
          )
        )
        yield* settle
        const client = yield* Kernel.spawn(Effect.all([tagOf(Port.callDirect(0, { label: 1 })), Effect.succeed("caller went on")]), {
          caps: [{ cap: outer.port }]
        })
        yield* Deferred.await(inside)
        yield* Kernel.kill(outer.server)
        expect(valueOf(yield* client.await)).toEqual(["PeerDied", "caller went on"])
        expect(log).toEqual(["inner finalizer", "outer finalizer"])
        expect(inner.server.alive).toBe(true)
        expect(inner.server.obligations.size).toBe(0)
      }).pipe(boot)
  )

  it.effect("DIRECT-0022 a handler that throws while it builds its effect, or builds none, faults its server; the caller gets PeerDied", () =>
    Effect.gen(function* () {
      const throwing = yield* directServer(() => {
        throw new Error("thrown while building")
      })
      const none = yield* directServer((() => 42) as never, undefined, "none")
      for (const { server, port } of [throwing, none]) {
        const client = yield* Kernel.spawn(Effect.all([tagOf(Port.callDirect(0, { label: 1 })), Effect.succeed("caller went on")]), { caps: [{ cap: port }] })
        expect(valueOf(yield* client.await)).toEqual(["PeerDied", "caller went on"])
        const exit = yield* server.await
        expect(exit._tag === "Failed" && Cause.pretty(exit.cause)).toMatch(/thrown while building|returned no effect/)
      }
    }).pipe(boot)
  )

  it.live(
    'DIRECT-0023 with onCallerKill "finish", a killed caller\'s handler runs to its end and the kill waits for it; no more of the caller runs; a bad value is InvalidArgument',
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const inside = yield* Deferred.make<void>()
        const log: Array<string> = []
        const { server, port } = yield* directServer(
          () =>
            Effect.gen(function* () {
              yield* Deferred.succeed(inside, undefined)
              yield* Effect.sleep("30 millis")
              log.push("handler finished")
              return { label: 3 }
            }),
          { onCallerKill: "finish" }
        )
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            yield* Port.callDirect(0, { label: 1 })
            log.push("caller went on")
          }),
          { caps: [{ cap: port }] }
        )
        yield* Deferred.await(inside)
        yield* Kernel.kill(client)
        expect((yield* client.await)._tag).toBe("Killed")
        expect(log).toEqual(["handler finished"])
        expect(server.obligations.size).toBe(0)
        const bad = yield* Kernel.spawn(
          tagOf(Port.create().pipe(Effect.flatMap((slot) => Port.serveDirect(slot, () => Effect.succeed({ label: 0 }), { onCallerKill: "later" as never }))))
        )
        expect(valueOf(yield* bad.await)).toBe("InvalidArgument")
        expect(k.stats().processesAlive).toBe(1)
      }).pipe(boot)
  )

  it.effect("DIRECT-0011 the trace shows the caller's thread entering and leaving the server", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      k.tracer = new Trace.Tracer()
      const { port } = yield* directServer(() => Effect.succeed({ label: 0 }), undefined, "echo")
      const client = yield* Kernel.spawn(Port.callDirect(0, { label: 3 }), { name: "client", caps: [{ cap: port }] })
      valueOf(yield* client.await)
      const mermaid = Trace.toMermaid(k.tracer.events)
      expect(mermaid).toMatch(/client_\d+-\)echo_\d+: enters echo \(label 3\)/)
      expect(mermaid).toMatch(/echo_\d+-\)client_\d+: leaves echo/)
    }).pipe(boot)
  )

  it.effect("DIRECT-0012 only the port's owner serves direct calls on it", () =>
    Effect.gen(function* () {
      const { port } = yield* directServer(() => Effect.succeed({ label: 0 }))
      const other = yield* Kernel.spawn(tagOf(Port.serveDirect(0, () => Effect.succeed({ label: 1 }))), { caps: [{ cap: port, rights: Rights.send }] })
      expect(valueOf(yield* other.await)).toBe("RightsDenied")
      const withReceive = yield* Kernel.spawn(tagOf(Port.serveDirect(0, () => Effect.succeed({ label: 1 }))), { caps: [{ cap: port, rights: Rights.all }] })
      expect(valueOf(yield* withReceive.await)).toBe("InvalidArgument")
    }).pipe(boot)
  )
})

class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", { dividend: Schema.Number }) {}

const Calc = Protocol.make("calc", {
  Divide: Protocol.operation({ payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number, failure: DivideByZero }),
  Echo: Protocol.operation({ payload: { text: Schema.String }, success: { text: Schema.String, pid: Schema.Int } }),
  Badge: Protocol.operation({ success: Schema.Int }),
  Keep: Protocol.operation({ caps: 1, success: { kind: Schema.String } }),
  Give: Protocol.operation({ success: { note: Schema.String }, replyCaps: true }),
  Checksum: Protocol.operation({ payload: { length: Schema.Int }, success: Schema.Int, items: [{ _tag: "lease", access: "read" }] }),
  Hold: Protocol.operation({ payload: { n: Schema.Number }, success: Schema.Number }),
  Release: Protocol.operation({ success: Schema.Int }),
  Crash: Protocol.operation({})
})

const calc = Effect.sync((): Server.Handlers<typeof Calc.operations> => {
  const held: Array<{ readonly n: number; readonly responder: Server.Responder<typeof Calc.operations.Hold> }> = []
  return {
    Divide: ({ a, b }) => (b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : Effect.succeed(a / b)),
    Echo: ({ text }) => Effect.map(Process.self, (me) => ({ text, pid: me.pid })),
    Badge: (_, call) => Effect.succeed(call.badge),
    Keep: (_, call) => Effect.map(Caps.inspect(call.caps[0]!), (c) => ({ kind: c.kind })).pipe(Effect.orDie),
    Give: () => Effect.map(Port.create(), (slot) => ({ value: { note: "a port of my own" }, caps: [slot] })).pipe(Effect.orDie),
    Checksum: ({ length }, call) => {
      const item = call.items[0]!
      if (item._tag !== "lease") return Effect.die("declared a lease")
      return Effect.map(Lease.readBytes(item.lease, 0, length), (bytes) => bytes.reduce((a, b) => a + b, 0)).pipe(Effect.orDie)
    },
    Hold: ({ n }, call) =>
      Effect.sync(() => {
        const responder = call.defer()
        held.push({ n, responder })
        return responder
      }),
    Release: () =>
      Effect.gen(function* () {
        const count = held.length
        while (held.length > 0) {
          const { n, responder } = held.pop()!
          yield* Effect.orDie(responder.succeed(n * 10))
        }
        return count
      }),
    Crash: () => Effect.die("handler bug")
  }
})

/** Every operation of `Calc` once, from a client process; what each gave (values, typed errors, capabilities as their kinds). */
const exercise = (c: Protocol.Client<typeof Calc.operations>) =>
  Effect.gen(function* () {
    const page = yield* Memory.allocate(1)
    yield* Memory.write(page, Uint8Array.of(1, 2, 3, 4))
    const long = "x".repeat(5000)
    const echoed = yield* c.Echo({ text: long })
    const given = yield* c.Give()
    return {
      divide: yield* c.Divide({ a: 9, b: 3 }),
      byZero: yield* Effect.flip(c.Divide({ a: 7, b: 0 })),
      echo: { same: echoed.text === long, pid: echoed.pid },
      badge: yield* c.Badge(),
      keep: yield* c.Keep(undefined, { caps: [0] }),
      give: { note: given.value.note, kind: (yield* Caps.inspect(given.caps[0]!)).kind },
      checksum: yield* c.Checksum({ length: 4 }, { items: [{ _tag: "lease", address: page, length: 4, access: "read" }] })
    }
  })

describe("typed direct calls", () => {
  it.effect(
    "DIRECT-0013 a typed client calling directly gets what an ordinary client gets: values, typed errors, spilled payloads, capabilities both ways, leases",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const server = yield* TestKernel.serve(Calc, calc, { direct: true })
        const ordinary = yield* TestKernel.withClient(server, exercise, { badge: 4 })
        const before = k.stats()
        const direct = yield* TestKernel.withClient(server, exercise, { badge: 4, direct: true })
        const after = k.stats()
        expect(direct).toEqual(ordinary)
        expect(direct.byZero).toBeInstanceOf(DivideByZero)
        expect(direct.echo.pid).toBe(server.process.pid)
        expect(direct.badge).toBe(4)
        expect(direct.give.kind).toBe("port")
        expect(direct.checksum).toBe(10)
        expect(after.directCalls - before.directCalls).toBe(7)
        expect(after.handoffs - before.handoffs).toBe(0)
        expect(server.counters.operations.Divide.calls).toBe(4)
        expect(server.counters.operations.Divide.failures).toBe(2)
        expect(server.counters.operations.Echo.answered).toBe(2)
      }).pipe(boot)
  )

  it.effect("DIRECT-0014 a request the server refuses is answered InvalidRequest on the caller's fiber, counted, and its capabilities deleted", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc, { direct: true })
      const before = server.process.cspace.size
      const labels = yield* TestKernel.run(
        Effect.gen(function* () {
          const own = yield* Port.create()
          const truncated = yield* Port.callDirect(0, { label: 0, data: new Uint8Array([1, 2, 3]) })
          const unknown = yield* Port.callDirect(0, { label: 99, caps: [own] })
          return [truncated.label, unknown.label]
        }),
        { caps: [{ cap: server.port, rights: Rights.send | Rights.grant }] }
      )
      expect(labels).toEqual([Labels.Status.invalidRequest, Labels.Status.invalidRequest])
      expect(server.counters.operations.Divide.invalid).toBe(1)
      expect(server.counters.snapshot().unroutable).toBe(1)
      expect(server.process.cspace.size).toBe(before)
    }).pipe(boot)
  )

  it.effect("DIRECT-0015 a handler may keep a direct call and answer it later, from another call: the caller waits until then", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc, { direct: true })
      const held = yield* Effect.fork(TestKernel.withClient(server, (c) => c.Hold({ n: 4 }), { direct: true }))
      yield* settle
      expect(server.counters.operations.Hold.deferred).toBe(1)
      expect(yield* TestKernel.withClient(server, (c) => c.Release())).toBe(1)
      expect(yield* Fiber.join(held)).toBe(40)
    }).pipe(boot)
  )

  it.effect("DIRECT-0016 a handler's defect in a direct call kills the server, as a worker's does: the caller gets PeerDied, nobody hangs", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Calc, calc, { direct: true })
      const waiting = yield* Effect.fork(TestKernel.withClient(server, (c) => Effect.flip(c.Hold({ n: 1 }))))
      yield* settle
      const crashed = yield* TestKernel.withClient(server, (c) => Effect.flip(c.Crash()), { direct: true })
      expect(crashed._tag).toBe("PeerDied")
      yield* settle
      expect(server.process.alive).toBe(false)
      expect((yield* Fiber.join(waiting))._tag).toBe("PeerDied")
    }).pipe(boot)
  )

  it.effect(
    "DIRECT-0017 a client calls directly only the operations it names; a server that serves no direct calls is called the ordinary way; an unknown name throws",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const server = yield* TestKernel.serve(Calc, calc, { direct: true })
        const plain = yield* TestKernel.serve(Calc, calc)
        const count = <A, E>(e: Effect.Effect<A, E, Kernel.Kernel>) =>
          Effect.gen(function* () {
            const before = k.stats().directCalls
            const value = yield* e
            return [value, k.stats().directCalls - before] as const
          })
        expect(yield* count(TestKernel.withClient(server, (c) => Effect.all([c.Divide({ a: 1, b: 1 }), c.Badge(), c.Badge()]), { direct: ["Badge"] }))).toEqual(
          [[1, 0, 0], 2]
        )
        expect(yield* count(TestKernel.withClient(plain, (c) => c.Divide({ a: 6, b: 2 }), { direct: true }))).toEqual([3, 0])
        expect(() => Protocol.client(Calc, 0, { direct: ["Divide", "Multiply"] })).toThrow(/direct names no operation Multiply/)
      }).pipe(boot)
  )
})

describe("direct calls: what the handler runs with, and what it leaves", () => {
  it.effect(
    "DIRECT-0024 the handler's fiber refs hold its server's context alone: no earlier context (the root task's Kernel, the caller's Process) is on their stacks",
    () =>
      Effect.gen(function* () {
        const found: Array<string> = []
        const { server, port } = yield* directServer(() =>
          Effect.withFiberRuntime((fiber) => {
            for (const [ref, stack] of fiber.getFiberRefs().locals) {
              for (const [, value] of stack) {
                if (!Context.isContext(value)) continue
                if (Context.getOption(value as Context.Context<Kernel.Kernel>, Kernel.Kernel)._tag === "Some") found.push("Kernel")
                const p = Context.getOption(value as Context.Context<Process.Process>, Process.Process)
                if (p._tag === "Some") found.push(ref === FiberRef.currentContext ? `Process ${p.value.pid}` : "Process elsewhere")
              }
            }
            return Effect.as(Effect.yieldNow(), { label: 0 })
          })
        )
        const client = yield* Kernel.spawn(Port.callDirect(0, { label: 1 }), { caps: [{ cap: port }] })
        yield* client.await
        expect(found).toEqual([`Process ${server.pid}`])
      }).pipe(boot)
  )

  it.effect(
    "DIRECT-0025 the handler runs on the kernel's scheduler, its steps charged to its caller's account (as on a donated scheduling context), whatever scheduler the caller chose, and not to the server's",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const { server, port } = yield* directServer(() => Effect.as(Effect.repeatN(Effect.yieldNow(), 199), { label: 0 }))
        const steps = (pid: number) => k.stats().scheduler.processes.find((a) => a.pid === pid)?.steps ?? 0
        const called = yield* Deferred.make<void>()
        const serverBefore = steps(server.pid)
        const client = yield* Kernel.spawn(
          Effect.zipRight(
            Effect.withScheduler(Port.callDirect(0, { label: 1 }), Scheduler.defaultScheduler),
            Effect.zipRight(Deferred.succeed(called, undefined), Effect.never)
          ),
          {
            caps: [{ cap: port }]
          }
        )
        yield* Deferred.await(called)
        expect({ client: steps(client.pid) >= 200, server: steps(server.pid) - serverBefore }).toEqual({ client: true, server: 0 })
        yield* Kernel.kill(client)
      }).pipe(boot)
  )

  it.effect("DIRECT-0026 a fiber the handler forks is a thread of the server: it outlives the call and its caller, and ends with the server", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const ended: Array<string> = []
      const { server, port } = yield* directServer(() =>
        Effect.as(
          Effect.fork(Effect.onExit(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never), () => Effect.sync(() => ended.push("ended")))),
          { label: 0 }
        )
      )
      const threads = server.threads.size
      const client = yield* Kernel.spawn(Port.callDirect(0, { label: 1 }), { caps: [{ cap: port }] })
      expect((yield* client.await)._tag).toBe("Exited")
      yield* Deferred.await(started)
      yield* settle
      expect({ threads: server.threads.size - threads, ended }).toEqual({ threads: 1, ended: [] })
      yield* Kernel.kill(server)
      expect({ threads: server.threads.size, ended }).toEqual({ threads: 0, ended: ["ended"] })
    }).pipe(boot)
  )

  it.effect("DIRECT-0027 a direct call whose delivery is refused names callDirect in its error, and a refused one changes nothing in the server", () =>
    Effect.gen(function* () {
      const { server, port } = yield* directServer(() => Effect.succeed({ label: 0 }), { window: 16 })
      const caps = server.cspace.all().length
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          const own = yield* Port.create()
          return yield* Effect.flip(Port.callDirect(0, { label: 1, caps: [own], items: [{ _tag: "copy", address: buf, length: 17 }] }))
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      const error = valueOf<{ _tag: string; operation: string }>(yield* client.await)
      expect({ tag: error._tag, operation: error.operation, caps: server.cspace.all().length - caps, obligations: server.obligations.size }).toEqual({
        tag: "MessageTooLarge",
        operation: "callDirect",
        caps: 0,
        obligations: 0
      })
    }).pipe(boot)
  )
})
