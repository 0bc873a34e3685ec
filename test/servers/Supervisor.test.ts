import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schedule, Schema, TestClock } from "effect"
import { Kernel, Process } from "../../src/index.js"
import * as Protocol from "../../src/ipc/Protocol.js"
import * as NameService from "../../src/lib/NameService.js"
import * as Server from "../../src/lib/Server.js"
import * as Supervisor from "../../src/root/Supervisor.js"
import * as TestKernel from "../../src/root/TestKernel.js"
import { settle } from "../support/kernel.js"

/** Generation 0 never answers `Wait` or `Append`; later generations do at once. */
const Flaky = Protocol.make("flaky", {
  Wait: Protocol.operation({ success: { generation: Schema.Int }, idempotent: true }),
  Append: Protocol.operation({ payload: { item: Schema.String }, success: Schema.Int }),
  Crash: Protocol.operation({})
})

const flaky = (counters: Server.Counters<typeof Flaky.operations>) =>
  Server.make(
    Flaky,
    Effect.map(Process.self, ({ generation }): Server.Handlers<typeof Flaky.operations> => ({
      Wait: () => (generation === 0 ? Effect.never : Effect.succeed({ generation })),
      Append: () => (generation === 0 ? Effect.never : Effect.succeed(1)),
      Crash: () => Effect.die("crash mid-call")
    })),
    { workers: 3, counters, register: { names: 0, name: "flaky" } }
  )

const retry = Schedule.spaced("20 millis").pipe(Schedule.intersect(Schedule.recurs(100)))

const boot = Effect.provide(TestKernel.layer())

describe("Supervisor", () => {
  it.effect(
    "SUP-0001 a crash mid-call: the supervisor restarts the server; the idempotent call succeeds after the restart, the non-idempotent one fails with PeerDied",
    () =>
      Effect.gen(function* () {
        const names = yield* TestKernel.names()
        const counters = Server.counters(Flaky)
        const sup = yield* Supervisor.start(flaky(counters), { spawn: { name: "flaky", caps: [names.grant(1)] }, initial: "100 millis" })
        const client = <A, E>(body: (c: Protocol.Client<typeof Flaky.operations, NameService.LookupError>) => Effect.Effect<A, E, Process.Process>) =>
          TestKernel.run(body(NameService.client(Flaky, 0, "flaky", { retry })), { caps: [names.grant()] })
        const idempotent = yield* Effect.fork(client((c) => c.Wait()))
        const other = yield* Effect.fork(client((c) => Effect.flip(c.Append({ item: "x" }))))
        yield* TestKernel.withClock(
          Effect.repeat(
            Effect.sync(() => counters.operations.Wait.calls + counters.operations.Append.calls),
            {
              schedule: Schedule.spaced("10 millis"),
              until: (n) => n === 2
            }
          )
        )
        const crash = yield* TestKernel.withClock(client((c) => Effect.flip(c.Crash())))
        expect(crash._tag).toBe("PeerDied")
        expect(yield* TestKernel.withClock(Fiber.join(idempotent))).toEqual({ generation: 1 })
        expect((yield* Fiber.join(other))._tag).toBe("PeerDied")
        expect(sup.restarts).toBe(1)
        expect(sup.current.generation).toBe(1)
        expect(counters.operations.Wait.answered).toBe(1)
      }).pipe(boot)
  )

  it.effect("SUP-0002 back-off: the first restart waits `initial`, the next one twice as long", () =>
    Effect.gen(function* () {
      const crash = yield* Deferred.make<void>()
      const program = Effect.zipRight(Deferred.await(crash), Effect.die("boom"))
      const sup = yield* Supervisor.start(program, { initial: "100 millis" })
      const first = sup.current
      yield* Deferred.succeed(crash, undefined)
      yield* first.await
      yield* settle
      yield* TestClock.adjust("99 millis")
      yield* settle
      expect(sup.restarts).toBe(0)
      yield* TestClock.adjust("1 millis")
      yield* settle
      expect(sup.restarts).toBe(1)
      yield* sup.current.await
      yield* settle
      yield* TestClock.adjust("199 millis")
      yield* settle
      expect(sup.restarts).toBe(1)
      yield* TestClock.adjust("1 millis")
      yield* settle
      expect(sup.restarts).toBe(2)
      expect(sup.current.pid).toBe(first.pid)
      expect(sup.current.generation).toBe(2)
      yield* sup.stop
    }).pipe(boot)
  )

  it.effect("SUP-0003 a server that keeps failing is left dead after maxRestarts, with RestartLimit", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.start(Effect.fail("cannot start"), { maxRestarts: 3, initial: "10 millis" })
      const error = yield* TestKernel.withClock(Effect.flip(sup.await))
      expect(error).toBeInstanceOf(Supervisor.RestartLimit)
      expect(sup.restarts).toBe(3)
      expect((yield* Kernel.Kernel).process(sup.current.pid)).toBeUndefined()
    }).pipe(boot)
  )

  it.effect("SUP-0004 a killed or exited server is not restarted: supervision ends with its exit", () =>
    Effect.gen(function* () {
      const killed = yield* Supervisor.start(Effect.never)
      yield* Kernel.kill(killed.current)
      expect((yield* killed.await)._tag).toBe("Killed")
      const exited = yield* Supervisor.start(Effect.succeed("done"))
      expect(yield* exited.await).toEqual({ _tag: "Exited", value: "done" })
      expect(killed.restarts + exited.restarts).toBe(0)
    }).pipe(boot)
  )
})
