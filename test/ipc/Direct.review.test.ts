/**
 * A hostile reading of direct calls (`Port.serveDirect`, `Port.callDirect`): what a hostile
 * handler, a hostile caller, races with death and kills, and Effect's own combinators do to the
 * claimed semantics (docs/ipc.md, "Direct calls"). Each test pins a property that holds; the
 * two the kernel cannot give (DIRECT-R0003, R0004: a handler's own uninterruptible section)
 * assert the documented limit instead. Tests that would otherwise leave a thread stuck release
 * it at their end, so the kernel can shut down.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberRef,
  FiberRefs,
  HashMap,
  HashSet,
  Logger,
  LogLevel,
  Random,
  Scheduler,
  Schema,
  Supervisor
} from "effect"
import { Kernel, Lease, Memory, Port, Process, TestKernel } from "../../src/index.js"
import * as Protocol from "../../src/ipc/Protocol.js"
import * as Server from "../../src/lib/Server.js"
import { Rights } from "../../src/kernel/Capability.js"
import type { Pcb } from "../../src/kernel/Process.js"
import { defaultConfig, PAGE_SIZE } from "../../src/params.js"
import { directServer, tagOf, valueOf } from "../support/direct.js"
import { boot, serverWithPort, settle } from "../support/kernel.js"

const all = Rights.send | Rights.grant

/**
 * `e`'s value, or "still waiting" once `ms` of host time have passed (for what must not wait
 * forever). Disconnected: a timed-out `e` is interrupted in the background, not waited for.
 */
const within = <A, E, R>(ms: number, e: Effect.Effect<A, E, R>) =>
  Effect.timeoutTo(Effect.disconnect(e), { duration: Duration.millis(ms), onTimeout: () => "still waiting" as const, onSuccess: (a) => a })

/** Server code that keeps running until stopped: it ticks every millisecond (what shows whether it still runs). */
class Ticker {
  ticks = 0
  private stopped = false
  readonly run: Effect.Effect<number> = Effect.iterate(0, {
    while: () => !this.stopped,
    body: () =>
      Effect.zipRight(
        Effect.sleep("1 millis"),
        Effect.sync(() => this.ticks++)
      )
  })
  readonly stop: Effect.Effect<void> = Effect.sync(() => {
    this.stopped = true
  })
}

/**
 * Frees the threads a leaked frame of `server`'s entry holds (test clean-up, through the kernel's
 * internals: the frame off its thread's stack, the interruptions its fence held told), so the
 * kernel can shut down. Returns how many frames were leaked.
 */
const unstick = (server: Pcb, slot: number): number => {
  const frames = (entryOf(server, slot)?.frames ?? []) as Array<{ slot: { frames: Array<unknown>; held?: Array<unknown> }; fiber: { tell(m: unknown): void } }>
  const leaked = frames.length
  for (const frame of frames.splice(0)) {
    frame.slot.frames.length = 0
    for (const m of frame.slot.held?.splice(0) ?? []) frame.fiber.tell(m)
  }
  return leaked
}

/** The frames a kernel object holds, read through its fields (what a leak shows up in). */
const entryOf = (server: Pcb, slot: number) => {
  const cap = server.cspace.find(slot, 0, "test")
  // A dead server holds no capability: it has no entry left.
  if (!("object" in cap)) return undefined
  return (cap.object as unknown as { direct: { frames: Array<unknown> } | undefined }).direct
}

describe("direct calls: a hostile handler", () => {
  it.live(
    "DIRECT-R0001 a handler that throws while building its effect is a defect of the server: the caller gets PeerDied, the server is faulted, nothing is left inside, the thread stays interruptible",
    () =>
      Effect.gen(function* () {
        const { server, port } = yield* directServer((m) => {
          if (m.label === 1) throw new Error("thrown by the handler")
          return Effect.as(Effect.yieldNow(), { label: 2 })
        })
        const seen: Array<unknown> = []
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const thread = yield* Effect.fork(
              Effect.gen(function* () {
                // A slow direct call first: the thread's fence is in place.
                yield* Port.callDirect(0, { label: 2 })
                const thrown = yield* Effect.exit(Port.callDirect(0, { label: 1 }))
                seen.push(Exit.isFailure(thrown) ? (Cause.failureOption(thrown.cause)._tag === "Some" ? "failed" : "died") : "ok")
                seen.push(entryOf(server, 0)?.frames.length ?? 0, server.obligations.size)
                return yield* Effect.never
              })
            )
            yield* Effect.sleep("20 millis")
            return yield* within(300, Effect.as(Fiber.interrupt(thread), "interrupted"))
          }),
          { caps: [{ cap: port }] }
        )
        const interrupted = yield* within(
          1000,
          Effect.map(client.await, (e) => valueOf<string>(e))
        )
        const stuck = unstick(server, 0)
        yield* settle
        expect({ seen, interrupted, serverAlive: server.alive, stuck }).toEqual({
          seen: ["failed", 0, 0],
          interrupted: "interrupted",
          serverAlive: false,
          stuck: 0
        })
      }).pipe(boot)
  )

  it.effect("DIRECT-R0024 a handler cannot get hold of its caller's Process handle: the fiber refs it runs with hold no context of the caller's", () =>
    Effect.gen(function* () {
      const stolen: Array<Context.Tag.Service<Process.Process>> = []
      const { server, port } = yield* directServer(() =>
        Effect.withFiberRuntime((fiber) => {
          const me = Context.get(fiber.currentContext as Context.Context<Process.Process>, Process.Process)
          // Every context the fiber's refs still hold (FiberRefs.locals: a stack per fiber ref).
          for (const [, context] of fiber.getFiberRefs().locals.get(FiberRef.currentContext) ?? []) {
            const handle = Context.getOption(context as Context.Context<Process.Process>, Process.Process)
            if (handle._tag === "Some" && handle.value.pid !== me.pid) stolen.push(handle.value)
          }
          return Effect.as(Effect.yieldNow(), { label: 0 })
        })
      )
      const called = yield* Deferred.make<number>()
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          yield* Memory.write(buf, new TextEncoder().encode("the client's key"))
          // From the main thread, and from a thread it forked.
          yield* Port.callDirect(0, { label: 1 })
          yield* Fiber.join(yield* Effect.fork(Port.callDirect(0, { label: 1 })))
          yield* Deferred.succeed(called, buf)
          return yield* Effect.never
        }),
        { caps: [{ cap: port }] }
      )
      const buf = yield* Deferred.await(called)
      expect(server.alive).toBe(true)
      // With the handle, the server's code acts as its client: here, it reads the client's memory.
      const read = yield* Effect.forEach(stolen, (handle) =>
        Effect.map(Effect.provideService(Memory.read(buf, 16), Process.Process, handle), (b) => new TextDecoder().decode(b))
      )
      expect({ stolen: stolen.map((h) => h.pid), read }).toEqual({ stolen: [], read: [] })
      yield* Kernel.kill(client)
    }).pipe(boot)
  )

  it.effect(
    "DIRECT-R0026 a typed handler that throws instead of returning an effect: the direct caller gets PeerDied as a worker's caller does, and the server is faulted",
    () =>
      Effect.gen(function* () {
        const Thrower = Protocol.make("thrower", { Boom: Protocol.operation({ success: Schema.Number }) })
        const handlers: Server.Handlers<typeof Thrower.operations> = {
          Boom: () => {
            throw new Error("a bug in the handler")
          }
        }
        const byWorker = yield* TestKernel.serve(Thrower, handlers, { direct: true })
        const worker = yield* Effect.either(TestKernel.withClient(byWorker, (c) => Effect.either(c.Boom())))
        const direct = yield* TestKernel.serve(Thrower, handlers, { direct: true })
        const called = yield* Effect.either(TestKernel.withClient(direct, (c) => Effect.either(c.Boom()), { direct: true }))
        yield* settle
        const seen = (r: typeof worker) => (Either.isLeft(r) ? r.left._tag : Either.isLeft(r.right) ? r.right.left._tag : "ok")
        expect({ worker: seen(worker), workerServer: byWorker.process.alive }).toEqual({ worker: "PeerDied", workerServer: false })
        expect({ direct: seen(called), directServer: direct.process.alive }).toEqual({ direct: "PeerDied", directServer: false })
      }).pipe(boot)
  )
})

describe("direct calls: a hostile server holds its caller", () => {
  it.live(
    "DIRECT-R0002 a caller waiting for a kept call (the handler ran effects, then returned nothing) honours its deadline and its kill, as any caller does",
    () =>
      Effect.gen(function* () {
        const { server, port } = yield* directServer((m) =>
          // Label 1 keeps the call at once (an `Exit`: no trip through the runtime); label 2 after an effect.
          m.label === 1 ? Effect.void : Effect.yieldNow()
        )
        return yield* Effect.gen(function* () {
          const deadline = (label: number) =>
            Kernel.spawn(
              Effect.map(Effect.either(Effect.timeout(Port.callDirect(0, { label }), "10 millis")), (r) => r._tag),
              { caps: [{ cap: port }] }
            )
          const fast = yield* deadline(1)
          const slow = yield* deadline(2)
          const victim = yield* Kernel.spawn(Port.callDirect(0, { label: 2 }), { caps: [{ cap: port }] })
          yield* Effect.sleep("20 millis")
          const killed = yield* within(300, Effect.as(Kernel.kill(victim), "killed"))
          const outcomes = [yield* within(300, Effect.map(fast.await, valueOf)), yield* within(300, Effect.map(slow.await, valueOf)), killed]
          expect(outcomes).toEqual(["Left", "Left", "killed"])
          expect(server.alive).toBe(true)
        }).pipe(Effect.ensuring(Kernel.kill(server)))
      }).pipe(boot)
  )

  it.live(
    "DIRECT-R0003 a handler in an uninterruptible section of its own holds a kill of its caller until the section ends (the documented limit: the thread is the server's while inside); then the kill completes and the server lives on",
    () =>
      Effect.gen(function* () {
        const release = yield* Deferred.make<void>()
        const { server, port } = yield* directServer(() => Effect.as(Effect.uninterruptible(Deferred.await(release)), { label: 0 }))
        return yield* Effect.gen(function* () {
          const client = yield* Kernel.spawn(Port.callDirect(0, { label: 1 }), { caps: [{ cap: port }] })
          yield* Effect.sleep("10 millis")
          const kill = yield* Effect.fork(Kernel.kill(client))
          yield* Effect.sleep("50 millis")
          const held = kill.unsafePoll() === null
          yield* Deferred.succeed(release, undefined)
          const killed = yield* within(300, Effect.as(Fiber.join(kill), "killed"))
          expect({ held, killed, client: (yield* client.await)._tag, serverAlive: server.alive }).toEqual({
            held: true,
            killed: "killed",
            client: "Killed",
            serverAlive: true
          })
        }).pipe(Effect.ensuring(Deferred.succeed(release, undefined)))
      }).pipe(boot)
  )

  it.live(
    "DIRECT-R0004 the server dies while its handler is in an uninterruptible section of its own: the section runs to its end (the documented limit), its syscalls fail, and then the caller gets PeerDied and no more of the handler runs",
    () =>
      Effect.gen(function* () {
        const ticker = new Ticker()
        const after: Array<string> = []
        const { server, port } = yield* directServer(() =>
          Effect.zipRight(
            Effect.uninterruptible(
              Effect.zipRight(
                ticker.run,
                Effect.flatMap(Effect.exit(Memory.allocate(1)), (e) => Effect.sync(() => after.push(Exit.isFailure(e) ? "syscall failed" : "syscall ran")))
              )
            ),
            Effect.sync(() => (after.push("handler went on"), { label: 0 }))
          )
        )
        return yield* Effect.gen(function* () {
          const client = yield* Kernel.spawn(tagOf(Port.callDirect(0, { label: 1 })), { caps: [{ cap: port }] })
          yield* Effect.sleep("10 millis")
          yield* Kernel.kill(server)
          const atDeath = ticker.ticks
          yield* Effect.sleep("20 millis")
          const stillRunning = ticker.ticks > atDeath
          const waiting = client.status !== "dead"
          yield* ticker.stop
          const outcome = yield* within(300, Effect.map(client.await, valueOf))
          expect({ stillRunning, waiting, outcome, after, serverAlive: server.alive }).toEqual({
            stillRunning: true,
            waiting: true,
            outcome: "PeerDied",
            after: ["syscall failed"],
            serverAlive: false
          })
        }).pipe(Effect.ensuring(ticker.stop))
      }).pipe(boot)
  )

  it.live(
    "DIRECT-R0005 the server replaces its handler (serveDirect again) while a call is inside the old one, then dies: the call inside is cut, its caller gets PeerDied",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const inside = yield* Deferred.make<void>()
        const never = yield* Deferred.make<void>()
        const ran: Array<string> = []
        const { server, port } = yield* serverWithPort(0)
        yield* k.start(
          server,
          Effect.gen(function* () {
            yield* Port.serveDirect(port.slot, () =>
              Effect.gen(function* () {
                yield* Deferred.succeed(inside, undefined)
                yield* Deferred.await(never)
                ran.push("old handler went on")
                return { label: 1 }
              })
            )
            yield* Deferred.await(inside)
            yield* Port.serveDirect(port.slot, () => Effect.succeed({ label: 2 }))
            return yield* Effect.never
          })
        )
        yield* settle
        return yield* Effect.gen(function* () {
          const client = yield* Kernel.spawn(tagOf(Port.callDirect(0, { label: 1 })), { caps: [{ cap: port }] })
          yield* Deferred.await(inside)
          yield* settle
          yield* Kernel.kill(server)
          expect(yield* within(300, Effect.map(client.await, valueOf))).toBe("PeerDied")
          expect(ran).toEqual([])
        }).pipe(Effect.ensuring(Deferred.succeed(never, undefined)))
      }).pipe(boot)
  )

  it.live(
    "DIRECT-R0028 a server being torn down (its threads still finishing) runs no new handler: a direct call made then gets PeerDied, as a call does",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const ran: Array<string> = []
        const { server, port } = yield* serverWithPort(0)
        yield* k.start(
          server,
          Effect.gen(function* () {
            // A thread whose finalizer takes a while: teardown waits for it before it closes the port.
            yield* Process.fork(Effect.ensuring(Effect.never, Effect.sleep("50 millis")))
            yield* Port.serveDirect(port.slot, () => Effect.sync(() => (ran.push("handler ran"), { label: 7 })))
            return yield* Effect.never
          })
        )
        yield* settle
        const dying = yield* Effect.fork(Kernel.kill(server))
        yield* Effect.sleep("10 millis")
        expect(server.status).toBe("dying")
        const client = yield* Kernel.spawn(tagOf(Port.callDirect(0, { label: 1 })), { caps: [{ cap: port }] })
        const outcome = valueOf(yield* client.await)
        yield* Fiber.join(dying)
        expect({ outcome, ran }).toEqual({ outcome: "PeerDied", ran: [] })
      }).pipe(boot)
  )
})

describe("direct calls: a hostile caller, and what passes between caller and server", () => {
  it.effect("DIRECT-R0006 a direct call whose delivery is refused leaves nothing in the server: the capabilities it carried are not transferred", () =>
    Effect.gen(function* () {
      const { server, port } = yield* directServer(() => Effect.succeed({ label: 0 }), { window: 16, pages: 0 })
      const before = server.cspace.all().length
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const own = yield* Port.create()
          const buf = yield* Memory.allocate(1)
          const tags: Array<string> = []
          for (let i = 0; i < 20; i++) {
            tags.push(yield* tagOf(Port.callDirect(0, { label: 1, caps: [own], items: [{ _tag: "copy", address: buf, length: 64 }] })))
            tags.push(yield* tagOf(Port.callDirect(0, { label: 1, caps: [own], items: [{ _tag: "map", address: buf, pages: 1, rights: 1 }] })))
          }
          return [[...new Set(tags)], server.cspace.all().length - before]
        }),
        { caps: [{ cap: port, rights: all }] }
      )
      expect(valueOf(yield* client.await)).toEqual([["MessageTooLarge", "NotAccepted"], 0])
    }).pipe(boot)
  )

  it.effect(
    "DIRECT-R0007 the handler runs in the server's environment, not one its caller chose: the caller's Random, Clock, loggers and log annotations do not reach it",
    () =>
      Effect.gen(function* () {
        const { port } = yield* directServer(() =>
          Effect.gen(function* () {
            yield* Effect.log("the server's secret")
            const annotations = yield* FiberRef.get(FiberRef.currentLogAnnotations)
            return {
              label: 0,
              data: Uint8Array.of(yield* Random.nextIntBetween(0, 256), (yield* Clock.currentTimeMillis) === 256_000 ? 0 : 1, [...annotations].length)
            }
          })
        )
        const heard: Array<unknown> = []
        const spy = Logger.make(({ message }) => void heard.push(message))
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const real = yield* Effect.clock
            const frozen: Clock.Clock = { ...real, currentTimeMillis: Effect.succeed(256_000), unsafeCurrentTimeMillis: () => 256_000 }
            const reply = yield* Port.callDirect(0, { label: 1 }).pipe(
              Effect.withRandom(Random.make("chosen by the caller")),
              Effect.withClock(frozen),
              Effect.annotateLogs("planted", "by the caller"),
              Effect.locallyWith(FiberRef.currentLoggers, HashSet.add(spy))
            )
            const predicted = yield* Effect.withRandom(Random.nextIntBetween(0, 256), Random.make("chosen by the caller"))
            return { randomChosenByCaller: reply.data[0] === predicted, clockChosenByCaller: reply.data[1] === 0, annotationsPlanted: reply.data[2], heard }
          }),
          { caps: [{ cap: port }] }
        )
        expect(valueOf(yield* client.await)).toEqual({ randomChosenByCaller: false, clockChosenByCaller: false, annotationsPlanted: 0, heard: [] })
      }).pipe(boot)
  )

  it.effect(
    "DIRECT-R0008 what the handler changes in its fiber refs stays in the server: log annotations, log level, concurrency, a fiber ref of its own",
    () =>
      Effect.gen(function* () {
        const mine = FiberRef.unsafeMake("caller's")
        const { port } = yield* directServer(() =>
          Effect.gen(function* () {
            yield* FiberRef.set(mine, "server's")
            yield* FiberRef.set(FiberRef.currentLogAnnotations, HashMap.make(["server", "annotation"]))
            yield* FiberRef.set(FiberRef.currentMinimumLogLevel, LogLevel.None)
            yield* FiberRef.set(FiberRef.currentConcurrency, 1)
            yield* Effect.yieldNow()
            return { label: 0 }
          })
        )
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const read = Effect.all([
              FiberRef.get(mine),
              Effect.map(FiberRef.get(FiberRef.currentLogAnnotations), (a) => [...a]),
              Effect.map(FiberRef.get(FiberRef.currentMinimumLogLevel), (l) => l.label),
              FiberRef.get(FiberRef.currentConcurrency),
              Effect.map(Process.self, (me) => me.pid)
            ])
            const before = yield* read
            yield* Port.callDirect(0, { label: 1 })
            return [before, yield* read]
          }),
          { caps: [{ cap: port }] }
        )
        const [before, after] = valueOf<[unknown, unknown]>(yield* client.await)
        expect(after).toEqual(before)
      }).pipe(boot)
  )

  it.live(
    "DIRECT-R0009 the handler runs on the kernel's scheduler, not one its caller chose: a caller whose scheduler never runs cannot hold the server's lock, and its kill completes",
    () =>
      Effect.gen(function* () {
        // A scheduler that keeps every task until opened (then hands them to Effect's default one).
        const parked: Array<() => void> = []
        let open = false
        const gate: Scheduler.Scheduler = {
          shouldYield: Scheduler.defaultScheduler.shouldYield.bind(Scheduler.defaultScheduler),
          scheduleTask: (task, priority) => (open ? Scheduler.defaultScheduler.scheduleTask(task, priority) : void parked.push(task))
        }
        const lock = yield* Effect.makeSemaphore(1)
        const { port } = yield* directServer(() => lock.withPermits(1)(Effect.as(Effect.sleep("1 millis"), { label: 0 })))
        return yield* Effect.gen(function* () {
          const hostile = yield* Kernel.spawn(Effect.withScheduler(Port.callDirect(0, { label: 1 }), gate), { caps: [{ cap: port }] })
          yield* Effect.sleep("20 millis")
          const honest = yield* Kernel.spawn(Port.callDirect(0, { label: 1 }), { caps: [{ cap: port }] })
          const served = yield* within(300, Effect.as(honest.await, "served"))
          const killed = yield* within(300, Effect.as(Kernel.kill(hostile), "killed"))
          expect({ served, killed }).toEqual({ served: "served", killed: "killed" })
        }).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              open = true
              for (const task of parked.splice(0)) Scheduler.defaultScheduler.scheduleTask(task, 0)
            })
          )
        )
      }).pipe(boot)
  )

  it.live(
    "DIRECT-R0010 a fiber the handler forks (Effect.fork) ends when the call ends, or at the latest with the server: no server code runs after the server's death",
    () =>
      Effect.gen(function* () {
        const ticker = new Ticker()
        const { server, port } = yield* directServer(() => Effect.as(Effect.fork(ticker.run), { label: 0 }))
        return yield* Effect.gen(function* () {
          const client = yield* Kernel.spawn(Effect.zipRight(Port.callDirect(0, { label: 1 }), Effect.never), { caps: [{ cap: port }] })
          yield* Effect.sleep("10 millis")
          yield* Kernel.kill(server)
          const atDeath = ticker.ticks
          yield* Effect.sleep("30 millis")
          expect({ ticksAfterDeath: ticker.ticks - atDeath }).toEqual({ ticksAfterDeath: 0 })
          yield* Kernel.kill(client)
        }).pipe(Effect.ensuring(ticker.stop))
      }).pipe(boot)
  )

  it.effect("DIRECT-R0011 the copy items of a kept call stay where they landed until it is answered: the next direct call does not overwrite them", () =>
    Effect.gen(function* () {
      const kept: Array<{ reply: Port.Reply; address: number }> = []
      const { port } = yield* directServer(
        (m) =>
          Effect.gen(function* () {
            const copy = m.items[0] as { address: number }
            if (m.label === 1) {
              kept.push({ reply: m.reply!, address: copy.address })
              return undefined
            }
            // Label 2: answer the kept call with what its copy brought.
            const first = kept.pop()!
            yield* Port.reply(first.reply, { label: 0, data: yield* Memory.read(first.address, 3) })
            return { label: 0 }
          }),
        { window: 16 }
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          yield* Memory.write(buf, Uint8Array.of(1, 1, 1, 2, 2, 2))
          const first = yield* Effect.fork(Port.callDirect(0, { label: 1, items: [{ _tag: "copy", address: buf, length: 3 }] }))
          yield* Effect.yieldNow()
          yield* Port.callDirect(0, { label: 2, items: [{ _tag: "copy", address: buf + 3, length: 3 }] })
          return [...(yield* Fiber.join(first)).data]
        }),
        { caps: [{ cap: port }] }
      )
      expect(valueOf(yield* client.await)).toEqual([1, 1, 1])
    }).pipe(boot)
  )

  it.live(
    "DIRECT-R0012 a caller killed while its handler waits on a kernel call inside an uninterruptible section: the section completes as written, the call is not failed with a PeerDied for a peer that lives",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const backend = yield* serverWithPort(0, "backend")
        yield* k.start(
          backend.server,
          Effect.forever(Effect.flatMap(Port.receive(backend.port.slot), (m) => Effect.zipRight(Effect.sleep("30 millis"), Port.reply(m.reply!, { label: 7 }))))
        )
        const seen: Array<string> = []
        const { server, port } = yield* serverWithPort(0)
        Either.getOrThrow(backend.server.cspace.mint(backend.port.slot, Rights.send, undefined, server.cspace))
        yield* k.start(
          server,
          Effect.zipRight(
            Port.serveDirect(port.slot, () =>
              Effect.uninterruptible(
                Effect.map(Effect.either(Port.call(1, { label: 1 })), (r) => {
                  seen.push(Either.isRight(r) ? `backend answered ${r.right.label}` : `${r.left._tag} (port ${(r.left as { object?: number }).object})`)
                  return { label: 0 }
                })
              )
            ),
            Effect.never
          )
        )
        yield* settle
        const client = yield* Kernel.spawn(Port.callDirect(0, { label: 1 }), { caps: [{ cap: port }] })
        yield* Effect.sleep("10 millis")
        yield* Kernel.kill(client)
        yield* Effect.sleep("50 millis")
        expect(seen).toEqual(["backend answered 7"])
        expect(backend.server.alive).toBe(true)
      }).pipe(boot)
  )
  it.live(
    "DIRECT-R0023 a caller cannot get hold of the server's Process handle: a supervisor or a logger it installs sees the handler's fiber, never the server's identity",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const { server, port } = yield* serverWithPort(0)
        const secretAt = yield* Deferred.make<number>()
        yield* k.start(
          server,
          Effect.gen(function* () {
            const page = yield* Memory.allocate(1)
            yield* Memory.write(page, new TextEncoder().encode("the server's key"))
            yield* Deferred.succeed(secretAt, page)
            yield* Port.serveDirect(port.slot, () => Effect.as(Effect.zipRight(Effect.sleep("1 millis"), Effect.log("served")), { label: 0 }))
            return yield* Effect.never
          })
        )
        const address = yield* Deferred.await(secretAt)
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const me = yield* Process.self
            const stolen: Array<Context.Tag.Service<Process.Process>> = []
            const steal = (context: Context.Context<never>) => {
              const handle = Context.getOption(context as Context.Context<Process.Process>, Process.Process)
              if (handle._tag === "Some" && handle.value.pid !== me.pid && !stolen.includes(handle.value)) stolen.push(handle.value)
            }
            class Spy extends Supervisor.AbstractSupervisor<void> {
              value = Effect.void
              override onSuspend<A, E>(fiber: Fiber.RuntimeFiber<A, E>) {
                steal(fiber.currentContext)
              }
            }
            const spyLogger = Logger.make(({ context }) => steal(FiberRefs.getOrDefault(context, FiberRef.currentContext)))
            yield* Effect.supervised(Port.callDirect(0, { label: 1 }), new Spy()).pipe(Effect.locallyWith(FiberRef.currentLoggers, () => HashSet.empty()))
            const bySupervisor = stolen.splice(0)
            yield* Effect.locallyWith(Port.callDirect(0, { label: 1 }), FiberRef.currentLoggers, () => HashSet.make(spyLogger))
            const byLogger = stolen.splice(0)
            const handle = bySupervisor[0] ?? byLogger[0]
            // With the handle, the client's own code acts as the server: it reads the server's memory.
            const read = handle === undefined ? "" : new TextDecoder().decode(yield* Effect.provideService(Memory.read(address, 16), Process.Process, handle))
            return { bySupervisor: bySupervisor.length, byLogger: byLogger.length, read }
          }),
          { caps: [{ cap: port }] }
        )
        expect(valueOf(yield* client.await)).toEqual({ bySupervisor: 0, byLogger: 0, read: "" })
      }).pipe(boot)
  )

  it.effect(
    "DIRECT-R0025 a burst of concurrent direct calls cannot take the server's memory for good: once they have ended, the server allocates as before",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const gate = yield* Deferred.make<void>()
        const server = Either.getOrThrow(k.create({ name: "server", quota: 48 }))
        const port = Either.getOrThrow(Port.createFor(server, { capacity: 0 }))
        const go = yield* Deferred.make<void>()
        const own = yield* Deferred.make<string>()
        yield* k.start(
          server,
          Effect.gen(function* () {
            yield* Port.serveDirect(port.slot, () => Effect.as(Deferred.await(gate), { label: 0 }), { window: 4 * PAGE_SIZE })
            yield* Deferred.await(go)
            // After the burst: the server's own allocation.
            yield* Effect.flatMap(tagOf(Memory.allocate(32)), (tag) => Deferred.succeed(own, tag))
            return yield* Effect.never
          })
        )
        yield* settle
        const clients = yield* Effect.forEach(Array.from({ length: 16 }), () =>
          Kernel.spawn(
            Effect.gen(function* () {
              const buf = yield* Memory.allocate(1)
              return yield* tagOf(Port.callDirect(0, { label: 1, items: [{ _tag: "copy", address: buf, length: 8 }] }))
            }),
            { caps: [{ cap: port }] }
          )
        )
        yield* settle
        const heldPages = server.space.mappedPages
        yield* Deferred.succeed(gate, undefined)
        const tags = yield* Effect.forEach(clients, (c) => Effect.map(c.await, valueOf<string>))
        yield* settle
        // The burst took every page of the server's quota for windows (12 windows of 4 pages; the last 4 callers were refused).
        expect({ heldPages, refused: tags.filter((t) => t !== "ok").length }).toEqual({ heldPages: 48, refused: 4 })
        // What the server keeps after the burst it can no longer use for itself.
        const ownTag = yield* Effect.zipRight(Deferred.succeed(go, undefined), Deferred.await(own))
        expect(ownTag).toBe("ok")
      }).pipe(boot)
  )
})

describe("direct calls: properties that hold", () => {
  it.effect(
    "DIRECT-R0013 a handler that direct-calls its own server 10,000 deep: no stack overflow, every frame leaves, and a kill at the bottom unwinds them all",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const bottom = yield* Deferred.make<void>()
        const never = yield* Deferred.make<void>()
        const { server, port } = yield* serverWithPort(0)
        // The server's slot 1: itself.
        Either.getOrThrow(server.cspace.copy(port.slot))
        yield* k.start(
          server,
          Effect.zipRight(
            // Label n: n levels more; then data [0] answers, data [1] waits at the bottom.
            Port.serveDirect(port.slot, (m) =>
              m.label > 0
                ? Effect.map(Port.callDirect(1, { label: m.label - 1, data: m.data }), (r) => ({ label: r.label + 1 }))
                : m.data[0] === 0
                  ? Effect.succeed({ label: 0 })
                  : Effect.zipRight(Deferred.succeed(bottom, undefined), Effect.as(Deferred.await(never), { label: 0 }))
            ),
            Effect.never
          )
        )
        yield* settle
        const deep = yield* Kernel.spawn(
          Effect.map(Port.callDirect(0, { label: 10_000, data: Uint8Array.of(0) }), (r) => r.label),
          { caps: [{ cap: port }] }
        )
        expect(valueOf(yield* deep.await)).toBe(10_000)
        const entry = entryOf(server, port.slot)!
        expect(entry.frames.length).toBe(0)
        const held = yield* Kernel.spawn(Port.callDirect(0, { label: 10_000, data: Uint8Array.of(1) }), { caps: [{ cap: port }] })
        yield* Deferred.await(bottom)
        expect(entry.frames.length).toBe(10_001)
        yield* Kernel.kill(held)
        expect((yield* held.await)._tag).toBe("Killed")
        expect(entry.frames.length).toBe(0)
        expect(server.obligations.size).toBe(0)
        expect(server.alive).toBe(true)
        // The server dies with the thread 10,000 deep in it: the caller gets PeerDied.
        const again = yield* Kernel.spawn(tagOf(Port.callDirect(0, { label: 10_000, data: Uint8Array.of(1) })), { caps: [{ cap: port }] })
        yield* settle
        expect(entry.frames.length).toBe(10_001)
        yield* Kernel.kill(server)
        expect(valueOf(yield* again.await)).toBe("PeerDied")
      }).pipe(boot)
  )

  it.effect("DIRECT-R0014 a lease lent by a direct call is revoked when the handler returns: the server can no longer read it", () =>
    Effect.gen(function* () {
      let kept: Lease.Lease | undefined = undefined
      const { server, port } = yield* directServer((m) =>
        Effect.gen(function* () {
          const item = m.items[0] as { lease: Lease.Lease }
          kept = item.lease
          return { label: (yield* Lease.readBytes(item.lease, 0, 1))[0]! }
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          yield* Memory.write(buf, Uint8Array.of(42))
          return (yield* Port.callDirect(0, { label: 1, items: [{ _tag: "lease", address: buf, length: 1, access: "read" }] })).label
        }),
        { caps: [{ cap: port }] }
      )
      expect(valueOf(yield* client.await)).toBe(42)
      // Read it again as the server: the lease is gone with its call.
      const again = yield* Effect.either(Effect.provideService(Lease.readBytes(kept!, 0, 1), Process.Process, server.handle))
      expect(Either.isLeft(again) && again.left._tag).toBe("LeaseRevoked")
    }).pipe(boot)
  )

  it.effect(
    "DIRECT-R0015 a thousand direct calls with copies, leases, maps and grants leave nothing behind: pages, windows, obligations, frames, capabilities",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const { server, port } = yield* directServer(
          (m) =>
            Effect.gen(function* () {
              let sum = 0
              for (const item of m.items) {
                if (item._tag === "copy") sum += (yield* Memory.read(item.address, 1))[0]!
                else if (item._tag === "lease") sum += (yield* Lease.readBytes(item.lease, 0, 1))[0]!
                else if (item._tag === "map" || item._tag === "grant") {
                  sum += (yield* Memory.read(item.address, 1))[0]!
                  yield* Memory.free(item.address)
                }
              }
              return { label: sum }
            }).pipe(Effect.orDie),
          { window: PAGE_SIZE, pages: 2 }
        )
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const buf = yield* Memory.allocate(2)
            yield* Memory.write(buf, Uint8Array.of(1))
            const call = (item: Port.TransferItem) => Effect.map(Port.callDirect(0, { label: 1, items: [item] }), (r) => r.label)
            const round = Effect.all([
              call({ _tag: "copy", address: buf, length: 8 }),
              call({ _tag: "lease", address: buf, length: 8, access: "read" }),
              call({ _tag: "map", address: buf, pages: 1, rights: 1 })
            ])
            yield* round
            const before = [server.space.mappedPages, k.stats().framesInUse]
            let sum = 0
            for (let i = 0; i < 1000; i++) for (const x of yield* round) sum += x
            // A grant moves the page: make one per round, each time a fresh page.
            for (let i = 0; i < 100; i++) {
              const page = yield* Memory.allocate(1)
              yield* Memory.write(page, Uint8Array.of(2))
              sum += yield* call({ _tag: "grant", address: page, pages: 1 })
            }
            return { sum, before, after: [server.space.mappedPages, k.stats().framesInUse] }
          }),
          { caps: [{ cap: port, rights: all }] }
        )
        const { sum, before, after } = valueOf<{ sum: number; before: Array<number>; after: Array<number> }>(yield* client.await)
        expect(sum).toBe(3000 + 200)
        expect(after).toEqual(before)
        expect(server.obligations.size).toBe(0)
        expect(entryOf(server, port.slot)!.frames.length).toBe(0)
      }).pipe(boot)
  )

  it.live(
    "DIRECT-R0016 Effect's interruptions around a direct call: a zero timeout, a race, an uninterruptible caller, a caller already interrupted: each handler runs to its end, the caller's interruption comes after",
    () =>
      Effect.gen(function* () {
        const finished: Array<number> = []
        const { server, port } = yield* directServer((m) =>
          Effect.gen(function* () {
            yield* Effect.sleep(Duration.millis(m.label))
            finished.push(m.label)
            return { label: m.label }
          })
        )
        const client = yield* Kernel.spawn(
          Effect.gen(function* () {
            const zero = yield* Effect.either(Effect.timeout(Port.callDirect(0, { label: 5 }), 0))
            const raced = yield* Effect.race(Port.callDirect(0, { label: 20 }), Port.callDirect(0, { label: 1 }))
            const inside: Array<string> = []
            const interrupted = yield* Effect.flatMap(
              Effect.fork(
                Effect.uninterruptible(
                  Effect.gen(function* () {
                    yield* Effect.withFiberRuntime((f) => Effect.sync(() => f.unsafeInterruptAsFork(f.id())))
                    yield* Effect.yieldNow()
                    inside.push(`replied ${(yield* Port.callDirect(0, { label: 3 })).label}`)
                  })
                )
              ),
              Fiber.await
            )
            return [zero._tag, raced.label, inside, Exit.isInterrupted(interrupted)]
          }),
          { caps: [{ cap: port }] }
        )
        expect(valueOf(yield* client.await)).toEqual(["Left", 1, ["replied 3"], true])
        expect(finished.sort((a, b) => a - b)).toEqual([1, 3, 5, 20])
        expect(server.obligations.size).toBe(0)
      }).pipe(boot)
  )

  it.live("DIRECT-R0017 an uninterruptible caller is still cut when the server dies: it gets PeerDied", () =>
    Effect.gen(function* () {
      const inside = yield* Deferred.make<void>()
      const never = yield* Deferred.make<void>()
      const { server, port } = yield* directServer(() => Effect.zipRight(Deferred.succeed(inside, undefined), Effect.as(Deferred.await(never), { label: 0 })))
      const client = yield* Kernel.spawn(Effect.uninterruptible(tagOf(Port.callDirect(0, { label: 1 }))), { caps: [{ cap: port }] })
      yield* Deferred.await(inside)
      yield* Kernel.kill(server)
      expect(yield* within(300, Effect.map(client.await, valueOf))).toBe("PeerDied")
    }).pipe(boot)
  )

  it.effect(
    "DIRECT-R0018 hostile replies: a non-message or a throwing proxy faults the server and the caller gets PeerDied; a getter is read once; a second reply is refused to the handler",
    () =>
      Effect.gen(function* () {
        const outcome = (handler: Port.DirectHandler) =>
          Effect.gen(function* () {
            const { server, port } = yield* directServer(handler)
            const client = yield* Kernel.spawn(
              Effect.map(Effect.either(Port.callDirect(0, { label: 1 })), (r) => (Either.isLeft(r) ? r.left._tag : r.right.label)),
              { caps: [{ cap: port }] }
            )
            const got = valueOf(yield* client.await)
            yield* settle
            return [got, server.alive ? "alive" : "dead"]
          })
        const hostile = new Proxy(
          {},
          {
            get: () => {
              throw new Error("trap")
            },
            ownKeys: () => {
              throw new Error("trap")
            }
          }
        )
        let reads = 0
        const getter = Object.defineProperty({}, "label", { enumerable: true, get: () => 10 + reads++ })
        const twice: Array<string> = []
        expect(yield* outcome(() => Effect.succeed(42 as unknown as Port.Message))).toEqual(["PeerDied", "dead"])
        expect(yield* outcome(() => Effect.as(Effect.yieldNow(), hostile as Port.Message))).toEqual(["PeerDied", "dead"])
        expect(yield* outcome(() => Effect.succeed(getter as Port.Message))).toEqual([10, "alive"])
        expect(reads).toBe(1)
        expect(
          yield* outcome((m) =>
            Effect.gen(function* () {
              twice.push(yield* tagOf(Port.reply(m.reply!, { label: 1 })))
              twice.push(yield* tagOf(Port.reply(m.reply!, { label: 2 })))
              return { label: 3 }
            })
          )
        ).toEqual([1, "alive"])
        expect(twice).toEqual(["ok", "InvalidCapability"])
      }).pipe(boot)
  )

  it.effect("DIRECT-R0019 a handler that keeps the call and then dies: its caller gets PeerDied, nobody hangs", () =>
    Effect.gen(function* () {
      const { server, port } = yield* directServer((m) =>
        m.label === 1 ? Effect.asVoid(Effect.yieldNow()) : Effect.die("the server breaks after keeping a call")
      )
      const kept = yield* Kernel.spawn(tagOf(Port.callDirect(0, { label: 1 })), { caps: [{ cap: port }] })
      yield* settle
      const breaker = yield* Kernel.spawn(tagOf(Port.callDirect(0, { label: 2 })), { caps: [{ cap: port }] })
      expect(valueOf(yield* breaker.await)).toBe("PeerDied")
      expect(valueOf(yield* kept.await)).toBe("PeerDied")
      expect(server.alive).toBe(false)
    }).pipe(boot)
  )

  it.effect("DIRECT-R0020 a handler that interrupts itself (Effect.interrupt) ends the server as a fault: the caller gets PeerDied", () =>
    Effect.gen(function* () {
      const { server, port } = yield* directServer(() => Effect.zipRight(Effect.yieldNow(), Effect.interrupt))
      const client = yield* Kernel.spawn(tagOf(Port.callDirect(0, { label: 1 })), { caps: [{ cap: port }] })
      expect(valueOf(yield* client.await)).toBe("PeerDied")
      expect((yield* server.await)._tag).toBe("Failed")
    }).pipe(boot)
  )

  it.effect(
    "DIRECT-R0021 seeded schedules (TestKernel.explore): direct calls that wait in the kernel, with a client and then the server killed at a seeded moment, never deadlock and leave no obligation",
    () =>
      Effect.gen(function* () {
        const scenario = Effect.gen(function* () {
          const k = yield* Kernel.Kernel
          const backend = yield* serverWithPort(0, "backend")
          yield* k.start(
            backend.server,
            Effect.forever(Effect.flatMap(Port.receive(backend.port.slot), (m) => Effect.zipRight(Effect.yieldNow(), Port.reply(m.reply!, { label: m.label }))))
          )
          const { server, port } = yield* serverWithPort(0)
          Either.getOrThrow(backend.server.cspace.mint(backend.port.slot, Rights.send, undefined, server.cspace))
          yield* k.start(
            server,
            Effect.zipRight(
              Port.serveDirect(port.slot, (m) =>
                Effect.gen(function* () {
                  for (let i = 0; i < m.label % 3; i++) yield* Effect.yieldNow()
                  return { label: (yield* Port.call(1, { label: m.label })).label }
                }).pipe(Effect.orDie)
              ),
              Effect.never
            )
          )
          const clients = yield* Effect.forEach([0, 1, 2], (c) =>
            Kernel.spawn(
              Effect.forEach([1, 2, 3, 4, 5], (i) => tagOf(Port.callDirect(0, { label: c * 10 + i }))),
              { caps: [{ cap: port }] }
            )
          )
          for (let i = 0; i < (yield* Random.nextIntBetween(0, 30)); i++) yield* Effect.yieldNow()
          yield* Kernel.kill(clients[0]!)
          for (let i = 0; i < (yield* Random.nextIntBetween(0, 30)); i++) yield* Effect.yieldNow()
          yield* Kernel.kill(server)
          const ends = yield* Effect.forEach(clients, (c) => c.await)
          yield* settle
          if (backend.server.obligations.size !== 0) return yield* Effect.dieMessage("the backend holds a call nobody waits for")
          for (const end of ends) {
            if (end._tag === "Failed") return yield* Effect.dieMessage(`a client failed: ${Cause.pretty(end.cause)}`)
            if (end._tag === "Exited" && (end.value as Array<string>).some((t) => t !== "ok" && t !== "PeerDied" && t !== "StaleCapability"))
              return yield* Effect.dieMessage(`a client saw ${end.value}`)
          }
          return ends.map((e) => e._tag)
        })
        const found = yield* TestKernel.explore(scenario, { schedules: 30 })
        expect(found._tag === "Failed" ? found.run.exit : found).toEqual({ _tag: "Passed", schedules: 30 })
      })
  )

  it("DIRECT-R0022 kernel.runSync runs a process making direct calls into a handler that yields and waits in the kernel, to the end", () => {
    const k = new Kernel.KernelCore({ ...defaultConfig, frames: 256 })
    const labels = k.runSync(
      Effect.gen(function* () {
        const backend = yield* serverWithPort(0, "backend")
        yield* k.start(backend.server, Effect.forever(Effect.flatMap(Port.receive(backend.port.slot), (m) => Port.reply(m.reply!, { label: m.label + 1 }))))
        const { server, port } = yield* serverWithPort(0)
        Either.getOrThrow(backend.server.cspace.mint(backend.port.slot, Rights.send, undefined, server.cspace))
        yield* k.start(
          server,
          Effect.zipRight(
            Port.serveDirect(port.slot, (m) =>
              Effect.zipRight(Effect.yieldNow(), Effect.orDie(Effect.map(Port.call(1, { label: m.label }), (r) => ({ label: r.label }))))
            ),
            Effect.never
          )
        )
        const client = yield* Kernel.spawn(
          Effect.forEach([1, 2, 3], (i) => Effect.map(Port.callDirect(0, { label: i }), (r) => r.label)),
          { caps: [{ cap: port }] }
        )
        return valueOf<Array<number>>(yield* client.await)
      })
    )
    expect(labels).toEqual([2, 3, 4])
    expect(k.stats().directCalls).toBe(3)
  })

  it.effect("DIRECT-R0027 a scoped resource the handler acquires is released when the call is cut: by the server's death and by the caller's kill", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const inside = yield* Deferred.make<void>()
      const never = yield* Deferred.make<void>()
      const handler: Port.DirectHandler = (m) =>
        Effect.scoped(
          Effect.gen(function* () {
            yield* Effect.acquireRelease(
              Effect.sync(() => log.push(`acquired ${m.label}`)),
              () => Effect.sync(() => log.push(`released ${m.label}`))
            )
            yield* Deferred.succeed(inside, undefined)
            yield* Deferred.await(never)
            return { label: 0 }
          })
        )
      const first = yield* directServer(handler)
      const killedCaller = yield* Kernel.spawn(Port.callDirect(0, { label: 1 }), { caps: [{ cap: first.port }] })
      yield* Deferred.await(inside)
      yield* Kernel.kill(killedCaller)
      expect(first.server.alive).toBe(true)
      const second = yield* directServer(handler, undefined, "second")
      const caller = yield* Kernel.spawn(tagOf(Port.callDirect(0, { label: 2 })), { caps: [{ cap: second.port }] })
      yield* settle
      yield* Kernel.kill(second.server)
      expect(valueOf(yield* caller.await)).toBe("PeerDied")
      expect(log).toEqual(["acquired 1", "released 1", "acquired 2", "released 2"])
    }).pipe(boot)
  )
})
