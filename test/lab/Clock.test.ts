import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Kernel from "../../src/kernel/Kernel.js"
import { realClock, workClock } from "../../src/lab/Clock.js"

describe("lab clocks", () => {
  it.effect("LAB-0101 the stand-in clock advances with the work the kernel counts, the same every time", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const clock = workClock(k)
      const t0 = clock.now()
      k.counters.handoffs += 1000
      k.counters.bytesCopied += 2_000_000
      const t1 = clock.now()
      // 1,000 hand-offs at 1.5 µs and 2 MB at 0.5 ns a byte: 2.5 ms, plus the clock reads.
      expect(t1 - t0).toBeCloseTo(2.5, 2)
      // Two clocks over the same counters read the same time.
      expect(workClock(k).now()).toBe(workClock(k).now())
    }).pipe(Effect.provide(Kernel.layer({ frames: 64 })))
  )

  it.effect("LAB-0102 a sleeper on the stand-in clock wakes when the modelled time reaches its deadline, jumping over idle time", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const clock = workClock(k)
      const driver = yield* Effect.forkDaemon(clock.drive!)
      const t0 = clock.now()
      const sleepers = yield* Effect.forEach([5, 1, 3], (ms) => Effect.fork(Effect.as(clock.sleep(ms), ms)))
      const woke: Array<number> = []
      for (const f of sleepers) woke.push(yield* Fiber.join(f))
      expect(woke).toEqual([5, 1, 3])
      expect(clock.now() - t0).toBeGreaterThanOrEqual(5)
      expect(clock.now() - t0).toBeLessThan(5.01)
      yield* Fiber.interrupt(driver)
    }).pipe(Effect.provide(Kernel.layer({ frames: 64 })))
  )

  it.live("LAB-0103 the wall clock sleeps in real time and needs no driver", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const clock = realClock(k)
      expect(clock.drive).toBeUndefined()
      const t0 = clock.now()
      yield* clock.sleep(5)
      expect(clock.now() - t0).toBeGreaterThanOrEqual(4)
    }).pipe(Effect.provide(Kernel.layer({ frames: 64 })))
  )
})
