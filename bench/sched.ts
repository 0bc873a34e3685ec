/**
 * Scheduler benchmarks: deadlines under saturating IPC, the cost of the synchronous drive, the
 * kernel scheduler's hand-off against Effect's default one, and a 64 B copy call with the kernel's
 * memory large against small (the case that got an earlier `setImmediate` scheduler reverted).
 */
import { Effect, Either, Exit, Scheduler } from "effect"
import { Kernel, Memory, Port } from "../src/index.js"
import { type Capability, Rights } from "../src/kernel/Capability.js"
import type { KernelCore } from "../src/kernel/Kernel.js"
import type { Pcb } from "../src/kernel/Process.js"
import { asyncHandoff, onScheduler, Wakeup } from "./floor.js"
import { alternating, type Benchmark, microsPerOp, runLoop, timeOnce } from "./harness.js"
import { echoServer, withKernel } from "./ipc.js"

/** A client process calling `port` with null messages as fast as it can, forever. */
const busyClient = (k: KernelCore, port: Capability) =>
  Kernel.spawn(Effect.forever(Port.call(0, { label: 1 })), { name: "busy", caps: [{ cap: port, rights: Rights.send }] }).pipe(
    Effect.provideService(Kernel.Kernel, k)
  )

/**
 * Lateness in milliseconds of `timeouts` × 20 ms timeouts, one after another in one process (each
 * a call to a server that never answers), while two client/server pairs call as fast as they can.
 */
const timerLag = (timeouts: number) =>
  withKernel((k) =>
    Effect.gen(function* () {
      const pairs: Array<Pcb> = []
      for (let i = 0; i < 2; i++) {
        const { server, port } = yield* echoServer(k, 0)
        pairs.push(server, yield* busyClient(k, port))
      }
      const silent = Either.getOrThrow(k.create({ name: "silent" }))
      const silentPort = Either.getOrThrow(Port.createFor(silent, { capacity: 0 }))
      yield* k.start(silent, Effect.zipRight(Port.receive(silentPort.slot), Effect.never))
      const timer = yield* Kernel.spawn(
        Effect.gen(function* () {
          const late: Array<number> = []
          for (let i = 0; i < timeouts; i++) {
            const t0 = performance.now()
            yield* Effect.exit(Effect.timeout(Port.call(0, { label: 1 }), "20 millis"))
            late.push(performance.now() - t0 - 20)
          }
          return late
        }),
        { name: "timer", caps: [{ cap: silentPort, rights: Rights.send }] }
      )
      const exit = yield* timer.await
      for (const p of pairs) yield* Kernel.kill(p)
      if (exit._tag !== "Exited") throw new Error(`timer process ended ${exit._tag}`)
      return (exit.value as Array<number>).sort((a, b) => a - b)
    })
  )

/** Lateness in milliseconds of `timeouts` × 20 ms host timers with nothing else running: the host's own. */
const hostLag = async (timeouts: number) => {
  const late: Array<number> = []
  for (let i = 0; i < timeouts; i++) {
    const t0 = performance.now()
    await new Promise<void>((resolve) => setTimeout(resolve, 20))
    late.push(performance.now() - t0 - 20)
  }
  return late.sort((a, b) => a - b)
}

/** The `q`-quantile of sorted samples. */
const quantile = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!

/** One timer-lag run, shared by its two quantiles (owned by the two benchmarks below). */
let lagRun: Promise<Array<number>> | undefined

/**
 * Microseconds per `runSync` of a null call to an echo server, made by a standing client's thread
 * that the root task wakes (and that wakes it back) through `Effect.async` wake-ups; with `bare`,
 * of `Effect.yieldNow()` (the drive alone: a fiber, one turn through the ready queue).
 */
const runSyncCost = (bare: boolean) =>
  withKernel((k) =>
    Effect.gen(function* () {
      const { port } = yield* echoServer(k, 0)
      const request = new Wakeup()
      const answer = new Wakeup()
      yield* Kernel.spawn(
        Effect.forever(
          Effect.zipRight(
            Effect.zipRight(request.wait, Port.call(0, { label: 1 })),
            Effect.sync(() => answer.notify())
          )
        ),
        {
          name: "client",
          caps: [{ cap: port, rights: Rights.send }]
        }
      )
      const effect = bare
        ? Effect.yieldNow()
        : Effect.suspend(() => {
            request.notify()
            return answer.wait
          })
      return yield* Effect.promise(() =>
        microsPerOp(20_000, async (n) => {
          for (let i = 0; i < n; i++) {
            const exit = k.runSyncExit(effect)
            if (Exit.isFailure(exit)) throw new Error(`runSync failed: ${exit.cause}`)
          }
        })
      )
    })
  )

/** Effect's default scheduler's hand-off ÷ the kernel scheduler's, in alternating rounds (`alternating`). */
const handoffRatio = () =>
  alternating(
    () => timeOnce(2_000, runLoop(onScheduler(asyncHandoff, Scheduler.defaultScheduler))),
    () => timeOnce(2_000, runLoop(onScheduler(asyncHandoff)))
  )

/** Frames and allocated pages of the large kernel memory. */
const LARGE_FRAMES = 65_536
const LARGE_PAGES = 60_000

/** A server receiving 64 B copies into a window and answering each with an empty reply. */
const copyServer = (k: KernelCore) =>
  Effect.gen(function* () {
    const server = Either.getOrThrow(k.create({ name: "copy-server" }))
    const port = Either.getOrThrow(Port.createFor(server, { capacity: 0 }))
    yield* k.start(
      server,
      Effect.gen(function* () {
        const windows = [{ address: yield* Memory.allocate(1), length: 4096 }]
        let m = yield* Port.receive(port.slot, { windows })
        for (;;) m = yield* Port.replyReceive(m.reply!, { label: 0 }, port.slot, { windows })
      })
    )
    return port
  })

/** A client's `n` 64 B copy calls; the microseconds its timed loop took. */
const copyCalls = (k: KernelCore, port: Capability, n: number) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          yield* Port.call(0, { label: 2 })
          const t0 = performance.now()
          for (let i = 0; i < n; i++) yield* Port.call(0, { label: 1, items: [{ _tag: "copy", address: buf, length: 64 }] })
          return (performance.now() - t0) * 1000
        }),
        { caps: [{ cap: port, rights: Rights.send | Rights.grant }] }
      )
      const exit = yield* client.await
      if (exit._tag !== "Exited") throw new Error(`copy client ended ${exit._tag}`)
      return exit.value as number
    }).pipe(Effect.provideService(Kernel.Kernel, k))
  )

/**
 * A 64 B copy call on a kernel of 65,536 frames with 60,000 pages allocated (held by a process)
 * ÷ the same on a kernel of 4,096 frames, timed in alternating rounds (`alternating`).
 */
const largeMemoryRatio = () =>
  withKernel(
    (large) =>
      Effect.gen(function* () {
        yield* Kernel.spawn(
          Effect.gen(function* () {
            for (let i = 0; i < LARGE_PAGES; i += 1000) yield* Memory.allocate(Math.min(1000, LARGE_PAGES - i))
            yield* Effect.never
          }),
          { name: "holder", quota: LARGE_PAGES + 16 }
        ).pipe(Effect.provideService(Kernel.Kernel, large))
        yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 100)))
        const largePort = yield* copyServer(large)
        return yield* Effect.promise(() =>
          withKernel((small) =>
            Effect.gen(function* () {
              const smallPort = yield* copyServer(small)
              return yield* Effect.promise(() =>
                alternating(
                  async () => (await copyCalls(large, largePort, 2_000)) / 2_000,
                  async () => (await copyCalls(small, smallPort, 2_000)) / 2_000
                )
              )
            })
          )
        )
      }),
    LARGE_FRAMES
  )

export const schedBenchmarks: ReadonlyArray<Benchmark> = [
  {
    name: "sched.timer_lag_under_load.ms",
    unit: "ms",
    run: async () => quantile(await (lagRun ??= timerLag(200)), 0.99)
  },
  {
    name: "sched.timer_lag_under_load.p50.ms",
    unit: "ms",
    run: async () => quantile(await (lagRun ??= timerLag(200)), 0.5)
  },
  // The same 200 × 20 ms as plain host timers with nothing running: what the host adds by itself.
  { name: "sched.timer_lag_idle_host.ms", unit: "ms", run: async () => quantile(await hostLag(200), 0.99) },
  { name: "sched.run_sync.null_call.us", unit: "µs", run: () => runSyncCost(false) },
  { name: "sched.run_sync.yield.us", unit: "µs", run: () => runSyncCost(true) },
  { name: "sched.handoff.default_vs_kernel", unit: "ratio", run: handoffRatio },
  { name: "sched.copy_64B.large_vs_small_memory", unit: "ratio", run: largeMemoryRatio }
]
