import { describe, expect, it } from "vitest"
import { Effect, FiberRef, Scheduler } from "effect"
import { Kernel } from "../../src/index.js"
import { kernelScheduler } from "../../src/kernel/Scheduler.js"

const run = <A>(body: Effect.Effect<A, unknown, Kernel.Kernel>) => Effect.runPromise(Effect.scoped(body.pipe(Effect.provide(Kernel.layer({ frames: 64 })))) as Effect.Effect<A>)

describe("Kernel scheduler", () => {
  it("SCHED-0001 every process (and every thread it forks) runs on the kernel scheduler", async () => {
    const seen = await run(
      Effect.gen(function* () {
        const p = yield* Kernel.spawn(
          Effect.gen(function* () {
            const main = yield* FiberRef.get(Scheduler.currentScheduler)
            const thread = yield* Effect.flatMap(Effect.fork(FiberRef.get(Scheduler.currentScheduler)), (f) => f.await)
            return [main, thread._tag === "Success" ? thread.value : undefined]
          })
        )
        const exit = yield* p.await
        return exit._tag === "Exited" ? (exit.value as ReadonlyArray<unknown>) : []
      })
    )
    expect(seen).toEqual([kernelScheduler, kernelScheduler])
  })

  it("SCHED-0002 a process that never blocks still lets the host's timers run (it yields to the event loop)", async () => {
    const result = await run(
      Effect.gen(function* () {
        const spinner = yield* Kernel.spawn(Effect.forever(Effect.yieldNow()))
        const fired = yield* Effect.promise(() => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 5)))
        yield* Kernel.kill(spinner)
        return fired
      })
    )
    expect(result).toBe(true)
  })
})
