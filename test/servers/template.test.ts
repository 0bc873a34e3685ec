import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Protocol from "../../src/ipc/Protocol.js"
import { LIMIT, TemplateProtocol } from "../../src/servers/template/TemplateProtocol.js"
import { handlers } from "../../src/servers/template/TemplateServer.js"
import * as TestKernel from "../../src/root/TestKernel.js"

// TEMPLATE — the server's own tests. Copy them with the server; each names the behaviour it pins.
describe("template server", () => {
  it.effect("TPL-0001 each client adds to its own total", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(TemplateProtocol, handlers)
      const a = yield* TestKernel.withClient(server, (c) => Effect.zipRight(c.Add({ amount: 2 }), c.Add({ amount: 3 })), { badge: 1 })
      const b = yield* TestKernel.withClient(server, (c) => Effect.zipRight(c.Add({ amount: 10 }), c.Total()), { badge: 2 })
      expect(a).toEqual({ total: 5 })
      expect(b).toEqual({ total: 10 })
      expect(yield* TestKernel.withClient(server, (c) => c.Total(), { badge: 1 })).toEqual({ total: 5 })
    }).pipe(Effect.provide(TestKernel.layer()))
  )

  it.effect("TPL-0002 an Add past the limit fails with Overflow and changes nothing", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(TemplateProtocol, handlers)
      const [error, total] = yield* TestKernel.withClient(server, (c) =>
        Effect.gen(function* () {
          yield* c.Add({ amount: LIMIT })
          return [yield* Effect.flip(c.Add({ amount: 1 })), yield* c.Total()] as const
        })
      )
      expect(error._tag).toBe("Overflow")
      expect(total).toEqual({ total: LIMIT })
    }).pipe(Effect.provide(TestKernel.layer()))
  )

  it.effect("TPL-0003 a non-positive or fractional amount is an InvalidRequest, refused by the typed client before it is sent", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(TemplateProtocol, handlers)
      const errors = yield* TestKernel.withClient(server, (c) => Effect.forEach([0, 1.5], (amount) => Effect.flip(c.Add({ amount }))))
      expect(errors.map((e) => e._tag)).toEqual(["InvalidRequest", "InvalidRequest"])
      expect((errors[1] as Protocol.InvalidRequest).reason).toMatch(/integer/)
      expect(server.counters.operations.Add.invalid).toBe(0)
    }).pipe(Effect.provide(TestKernel.layer()))
  )

  it.effect("TPL-0004 Reset forgets only the caller's total", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(TemplateProtocol, handlers)
      yield* TestKernel.withClient(server, (c) => c.Add({ amount: 4 }), { badge: 1 })
      yield* TestKernel.withClient(server, (c) => Effect.zipRight(c.Add({ amount: 4 }), c.Reset()), { badge: 2 })
      expect(yield* TestKernel.withClient(server, (c) => c.Total(), { badge: 1 })).toEqual({ total: 4 })
      expect(yield* TestKernel.withClient(server, (c) => c.Total(), { badge: 2 })).toEqual({ total: 0 })
    }).pipe(Effect.provide(TestKernel.layer()))
  )

  it.effect("TPL-0005 served directly too, many callers at once keep every total exact", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(TemplateProtocol, handlers, { direct: true, workers: 2 })
      const clients = yield* Effect.forEach([0, 1, 2, 3], (i) =>
        Effect.fork(
          TestKernel.withClient(server, (c) => Effect.forEach(Array.from({ length: 100 }), () => c.Add({ amount: 1 }), { concurrency: 4 }), {
            badge: 1,
            direct: i % 2 === 0
          })
        )
      )
      for (const c of clients) yield* Fiber.join(c)
      expect(yield* TestKernel.withClient(server, (c) => c.Total(), { badge: 1, direct: true })).toEqual({ total: 400 })
      expect(server.counters.operations.Add.calls).toBe(400)
    }).pipe(Effect.provide(TestKernel.layer()))
  )
})
