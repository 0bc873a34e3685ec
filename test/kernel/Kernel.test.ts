import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Option } from "effect"
import { Caps, Kernel, Memory, Process } from "../../src/index.js"
import { Rights } from "../../src/kernel/Capability.js"
import { testObject } from "../support/objects.js"

const boot = Effect.provide(Kernel.layer({ frames: 256 }))

describe("Kernel", () => {
  it.effect("killing a process returns frames-in-use to its baseline and interrupts its fibers", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const baseline = k.stats().framesInUse
      const started = yield* Deferred.make<void>()
      const threadInterrupted = yield* Deferred.make<void>()
      const p = yield* Kernel.spawn(
        Effect.gen(function* () {
          yield* Memory.allocate(10)
          yield* Process.fork(Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(threadInterrupted, undefined))))
          yield* Deferred.succeed(started, undefined)
          yield* Effect.never
        })
      )
      yield* Deferred.await(started)
      expect(k.stats().framesInUse).toBe(baseline + 10)
      yield* Kernel.kill(p)
      expect(yield* Deferred.isDone(threadInterrupted)).toBe(true)
      expect(k.stats().framesInUse).toBe(baseline)
      expect((yield* p.await)._tag).toBe("Killed")
      expect(p.cspace.count).toBe(0)
    }).pipe(boot)
  )

  it.effect("a program's context holds only its Process", () =>
    Effect.gen(function* () {
      const p = yield* Kernel.spawn(Effect.serviceOption(Kernel.Kernel) as Effect.Effect<Option.Option<unknown>, never, never>)
      const exit = yield* p.await
      expect(exit._tag === "Exited" && Option.isNone(exit.value as Option.Option<unknown>)).toBe(true)
    }).pipe(boot)
  )

  it.effect("a process that dies with a defect is torn down and reports Failed", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const p = yield* Kernel.spawn(Effect.zipRight(Memory.allocate(3), Effect.die("boom")))
      const exit = yield* p.await
      expect(exit._tag).toBe("Failed")
      expect(k.stats().framesInUse).toBe(0)
    }).pipe(boot)
  )

  it.effect("a thread's defect faults the whole process, which ends Failed with that defect", () =>
    Effect.gen(function* () {
      const p = yield* Kernel.spawn(Effect.zipRight(Process.fork(Effect.die("thread fault")), Effect.never))
      const exit = yield* p.await
      expect(exit._tag).toBe("Failed")
      expect(exit._tag === "Failed" && String(exit.cause)).toMatch(/thread fault/)
    }).pipe(boot)
  )

  it.effect("a stale generation gives StaleCapability", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const server = Either.getOrThrow(k.create({ name: "server" }))
      const original = testObject(server)
      const client = yield* Kernel.spawn(Effect.never, { name: "client", caps: [{ cap: original, rights: Rights.send }] })
      yield* Kernel.kill(server)
      const restarted = yield* Kernel.restart(server, Effect.never)
      expect(restarted.pid).toBe(server.pid)
      expect(restarted.generation).toBe(server.generation + 1)
      const err = client.cspace.lookup(0, Rights.send, "send")
      expect(Either.isLeft(err) && err.left._tag === "StaleCapability" && err.left.generation === server.generation).toBe(true)
    }).pipe(boot)
  )

  it.effect("initial capabilities: minted in order, never with more rights", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const owner = Either.getOrThrow(k.create())
      const cap = testObject(owner, Rights.send)
      const bad = yield* Effect.either(Kernel.spawn(Effect.void, { caps: [{ cap, rights: Rights.send | Rights.receive }] }))
      expect(Either.isLeft(bad) && bad.left._tag).toBe("RightsDenied")
      const seen = yield* Deferred.make<{ readonly rights: number; readonly badge: number }>()
      yield* Kernel.spawn(
        Effect.flatMap(Caps.inspect(0), (i) => Deferred.succeed(seen, i)),
        { caps: [{ cap, badge: 42 }] }
      )
      expect(yield* Deferred.await(seen)).toMatchObject({ rights: Rights.send, badge: 42 })
    }).pipe(boot)
  )

  it.effect("quota exhaustion inside a process is OutOfMemory and leaks nothing", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const p = yield* Kernel.spawn(
        Effect.gen(function* () {
          yield* Memory.allocate(4)
          return yield* Effect.flip(Memory.allocate(2))
        }),
        { quota: 5 }
      )
      const exit = yield* p.await
      expect(exit._tag === "Exited" && (exit.value as { _tag: string })._tag).toBe("OutOfMemory")
      expect(k.stats().framesInUse).toBe(0)
    }).pipe(boot)
  )

  it.effect("kill of a running process from outside completes even when it is busy in a loop of syscalls", () =>
    Effect.gen(function* () {
      const p = yield* Kernel.spawn(Effect.forever(Effect.zipRight(Memory.allocate(1).pipe(Effect.flatMap(Memory.free)), Effect.yieldNow())))
      yield* Effect.yieldNow()
      yield* Kernel.kill(p)
      expect(p.status).toBe("dead")
      expect(Option.isSome(yield* Fiber.poll(p.main!))).toBe(true)
    }).pipe(boot)
  )
})
