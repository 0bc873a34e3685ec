import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Fiber, Option, Schema, TestClock } from "effect"
import { Kernel, KernelError, Port } from "../../src/index.js"
import * as Protocol from "../../src/ipc/Protocol.js"
import * as Server from "../../src/lib/Server.js"
import * as TestKernel from "../../src/root/TestKernel.js"
import { settle } from "../support/kernel.js"

class Odd extends Schema.TaggedError<Odd>()("Odd", { n: Schema.Number }) {}

const Work = Protocol.make("work", {
  Slow: Protocol.operation({ payload: { id: Schema.Number }, success: Schema.Number }),
  Hold: Protocol.operation({ payload: { n: Schema.Number }, success: Schema.Number }),
  Release: Protocol.operation({ success: Schema.Number }),
  Half: Protocol.operation({ payload: { n: Schema.Number }, success: Schema.Number, failure: Odd }),
  Crash: Protocol.operation({})
})

/** Handlers with their own state per server incarnation; `seen` records concurrency. */
const work = (seen: { inFlight: number; max: number }) =>
  Effect.sync((): Server.Handlers<typeof Work.operations> => {
    const held: Array<{ readonly n: number; readonly responder: Server.Responder<typeof Work.operations.Hold> }> = []
    return {
      Slow: ({ id }) =>
        Effect.gen(function* () {
          seen.inFlight++
          seen.max = Math.max(seen.max, seen.inFlight)
          yield* Effect.sleep("1 second")
          seen.inFlight--
          return id
        }),
      Hold: ({ n }, call) =>
        Effect.sync(() => {
          const responder = call.defer()
          held.push({ n, responder })
          return responder
        }),
      Release: () =>
        Effect.gen(function* () {
          const count = held.length
          // Answer in reverse order of arrival: the last caller first.
          while (held.length > 0) {
            const { n, responder } = held.pop()!
            yield* Effect.orDie(responder.succeed(n * 10))
          }
          return count
        }),
      Half: ({ n }) => (n % 2 === 0 ? Effect.succeed(n / 2) : Effect.fail(new Odd({ n }))),
      Crash: () => Effect.die("handler bug")
    }
  })

const boot = Effect.provide(TestKernel.layer())

/** Spawns `n` clients, each calling `Slow({ id })`, and lets them all block. */
const slowCallers = (server: TestKernel.TestServer<typeof Work.operations>, n: number) =>
  Effect.gen(function* () {
    const clients = yield* Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (id) => Effect.fork(TestKernel.withClient(server, (c) => c.Slow({ id })))
    )
    yield* settle
    return clients
  })

describe("Server", () => {
  it.effect("SRV-0001 four workers serve four slow requests at once", () =>
    Effect.gen(function* () {
      const seen = { inFlight: 0, max: 0 }
      const server = yield* TestKernel.serve(Work, work(seen), { workers: 4 })
      const clients = yield* slowCallers(server, 4)
      expect(server.counters.operations.Slow.calls).toBe(4)
      yield* TestClock.adjust("1 second")
      expect(yield* Effect.forEach(clients, Fiber.join)).toEqual([0, 1, 2, 3])
      expect(seen.max).toBe(4)
    }).pipe(boot)
  )

  it.effect("SRV-0002 one worker serves slow requests one at a time (the control for SRV-0001)", () =>
    Effect.gen(function* () {
      const seen = { inFlight: 0, max: 0 }
      const server = yield* TestKernel.serve(Work, work(seen), { workers: 1 })
      const clients = yield* slowCallers(server, 4)
      expect(server.counters.operations.Slow.calls).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* settle
      const done = yield* Effect.forEach(clients, (f) => Effect.map(Fiber.poll(f), Option.isSome))
      expect(done.filter(Boolean)).toHaveLength(1)
      yield* TestClock.adjust("3 seconds")
      expect((yield* Effect.forEach(clients, Fiber.join)).sort()).toEqual([0, 1, 2, 3])
      expect(seen.max).toBe(1)
    }).pipe(boot)
  )

  it.effect("SRV-0003 a handler keeps replies and answers them later, out of order", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Work, work({ inFlight: 0, max: 0 }))
      const order: Array<number> = []
      const holder = (n: number) => Effect.fork(TestKernel.withClient(server, (c) => Effect.tap(c.Hold({ n }), (r) => Effect.sync(() => order.push(r)))))
      const first = yield* holder(1)
      yield* settle
      const second = yield* holder(2)
      yield* settle
      expect(server.counters.operations.Hold.deferred).toBe(2)
      // One worker, two calls kept: the worker is free, so a third call is served meanwhile.
      expect(yield* TestKernel.withClient(server, (c) => c.Release())).toBe(2)
      expect(yield* Fiber.join(first)).toBe(10)
      expect(yield* Fiber.join(second)).toBe(20)
      expect(order).toEqual([20, 10])
      expect(server.counters.operations.Hold.answered).toBe(2)
    }).pipe(boot)
  )

  it.effect("SRV-0004 per-operation counters: calls, failures, invalid requests, answers and timed latency", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Work, work({ inFlight: 0, max: 0 }))
      const results = yield* TestKernel.withClient(server, (c) => Effect.forEach([2, 3, 4, 5, 6], (n) => Effect.either(c.Half({ n }))))
      expect(results.map((r) => (r._tag === "Right" ? r.right : r.left._tag))).toEqual([1, "Odd", 2, "Odd", 3])
      yield* TestKernel.run(Port.call(0, { label: Work.entries.findIndex((e) => e.name === "Half"), data: new Uint8Array([1]) }), {
        caps: [{ cap: server.port }]
      })
      const half = server.counters.snapshot().operations.Half
      expect(half).toMatchObject({ calls: 5, failures: 2, invalid: 1, answered: 5 })
      // The first call in each LATENCY_SAMPLE is timed.
      expect(half.timed).toBe(1)
      expect(half.totalMicros).toBeGreaterThanOrEqual(0)
      expect(half.maxMicros).toBeLessThanOrEqual(half.totalMicros)
    }).pipe(boot)
  )

  it.effect("SRV-0005 a handler's defect kills the server: its callers get PeerDied, nobody hangs", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Work, work({ inFlight: 0, max: 0 }), { workers: 2 })
      const waiting = yield* Effect.fork(TestKernel.withClient(server, (c) => Effect.flip(c.Hold({ n: 1 }))))
      const gone = yield* Deferred.make<void>()
      const later = yield* Effect.fork(TestKernel.withClient(server, (c) => Effect.zipRight(Deferred.await(gone), Effect.flip(c.Half({ n: 2 })))))
      yield* settle
      const crasher = yield* TestKernel.withClient(server, (c) => Effect.flip(c.Crash()))
      expect(crasher._tag).toBe("PeerDied")
      expect((yield* Fiber.join(waiting))._tag).toBe("PeerDied")
      expect((yield* server.process.await)._tag).toBe("Failed")
      yield* Deferred.succeed(gone, undefined)
      expect((yield* Fiber.join(later))._tag).toBe("StaleCapability")
    }).pipe(boot)
  )

  it.effect("SRV-0006 a server needs at least one worker: InvalidArgument, and nothing is served", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const pcb = yield* k.create({ name: "zero" })
      const port = yield* Port.createFor(pcb)
      yield* k.start(pcb, Server.serve(Work, work({ inFlight: 0, max: 0 }), port.slot, { workers: 0 }))
      const exit = yield* pcb.await
      expect(exit._tag).toBe("Failed")
      const failure = Cause.failureOption((exit as { readonly cause: Cause.Cause<unknown> }).cause)
      expect(Option.getOrUndefined(failure)).toBeInstanceOf(KernelError.InvalidArgument)
      expect(String((failure as Option.Some<Error>).value.message)).toMatch(/workers must be a positive integer/)
    }).pipe(boot)
  )

  it.effect("SRV-0007 a pool grows by one worker whenever a request takes the last idle one, up to max, and retires the spares afterwards", () =>
    Effect.gen(function* () {
      const seen = { inFlight: 0, max: 0 }
      const server = yield* TestKernel.serve(Work, work(seen), { workers: { min: 1, max: 3 } })
      yield* settle
      expect(server.counters.workers).toBe(1)
      const clients = yield* slowCallers(server, 5)
      // Three workers at most: three slow calls at once, two callers wait their turn.
      expect(server.counters.operations.Slow.calls).toBe(3)
      expect(server.counters.workers).toBe(3)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(server.counters.operations.Slow.calls).toBe(5)
      yield* TestClock.adjust("1 second")
      expect((yield* Effect.forEach(clients, Fiber.join)).sort()).toEqual([0, 1, 2, 3, 4])
      expect(seen.max).toBe(3)
      yield* settle
      // Quiet again: no more than min + 1 idle workers stay.
      expect(server.counters.workers).toBeLessThanOrEqual(2)
      expect(server.counters.peakWorkers).toBe(3)
    }).pipe(boot)
  )

  it.effect("SRV-0008 a pool serves a sequential caller without starting or retiring any worker", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Work, work({ inFlight: 0, max: 0 }), { workers: { min: 1, max: 8 } })
      yield* TestKernel.withClient(server, (c) => Effect.forEach([2, 4, 6, 8, 10, 12], (n) => c.Half({ n })))
      expect(server.counters.operations.Half.answered).toBe(6)
      expect(server.counters.peakWorkers).toBeLessThanOrEqual(2)
    }).pipe(boot)
  )

  it.effect("SRV-0009 a pool needs 1 ≤ min ≤ max: InvalidArgument, and nothing is served", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const pcb = yield* k.create({ name: "bad-pool" })
      const port = yield* Port.createFor(pcb)
      yield* k.start(pcb, Server.serve(Work, work({ inFlight: 0, max: 0 }), port.slot, { workers: { min: 4, max: 2 } }))
      const exit = yield* pcb.await
      const failure = Cause.failureOption((exit as { readonly cause: Cause.Cause<unknown> }).cause)
      expect(Option.getOrUndefined(failure)).toBeInstanceOf(KernelError.InvalidArgument)
      expect(String((failure as Option.Some<Error>).value.message)).toMatch(/min: 4, max: 2/)
    }).pipe(boot)
  )

  it.effect("SRV-0010 a pool worker's defect kills the server: its callers get PeerDied, nobody hangs", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(Work, work({ inFlight: 0, max: 0 }), { workers: { min: 2, max: 4 } })
      const waiting = yield* slowCallers(server, 1)
      const crashed = yield* TestKernel.withClient(server, (c) => Effect.flip(c.Crash()))
      expect(crashed._tag).toBe("PeerDied")
      const exit = yield* Fiber.await(waiting[0]!)
      expect(exit._tag).toBe("Failure")
      expect((yield* server.process.await)._tag).not.toBe("Exited")
    }).pipe(boot)
  )
})
