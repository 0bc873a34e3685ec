/**
 * The floors every kernel number is compared with: the raw Effect fiber hand-off, the obvious
 * Effect design of call/reply (a `Queue` plus a `Deferred` per call), and `memcpy` bandwidth.
 *
 * The hand-off and the peer design run on a kernel scheduler (`KernelScheduler`, the scheduler
 * every process runs on), so that ratios against them compare designs, not schedulers: on
 * Effect's default scheduler each hand-off also costs a microtask and a per-fiber runner lookup
 * (`sched.handoff.default_vs_kernel` measures the difference).
 */
import { Deferred, Effect, Fiber, Queue, type Scheduler } from "effect"
import { KernelScheduler } from "../src/kernel/Scheduler.js"
import { type Benchmark, gbps, microsPerOp, runLoop, timeOnce } from "./harness.js"

/** A one-slot wake-up built directly on `Effect.async`: the cheapest way one fiber resumes another. */
export class Wakeup {
  private waiter: ((e: Effect.Effect<void>) => void) | undefined = undefined
  private pending = false
  readonly wait: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.pending) {
      this.pending = false
      resume(Effect.void)
    } else {
      this.waiter = resume
    }
  })
  notify(): void {
    const w = this.waiter
    if (w) {
      this.waiter = undefined
      w(Effect.void)
    } else {
      this.pending = true
    }
  }
}

/** Two fibers resuming each other through `Effect.async` callbacks; `n` round trips. */
export const asyncHandoff = (n: number) =>
  Effect.gen(function* () {
    const toServer = new Wakeup()
    const toClient = new Wakeup()
    const server = yield* Effect.fork(
      Effect.forever(
        Effect.zipRight(
          toServer.wait,
          Effect.sync(() => toClient.notify())
        )
      )
    )
    for (let i = 0; i < n; i++) {
      toServer.notify()
      yield* toClient.wait
    }
    yield* Fiber.interrupt(server)
  })

interface Pending {
  readonly label: number
  readonly reply: Deferred.Deferred<number>
}

/** Call/reply over an Effect `Queue` and a `Deferred` per call; `n` calls. */
export const queueCall = (n: number) =>
  Effect.gen(function* () {
    const q = yield* Queue.bounded<Pending>(1)
    const server = yield* Effect.fork(Effect.forever(Effect.flatMap(Queue.take(q), (p) => Deferred.succeed(p.reply, p.label))))
    for (let i = 0; i < n; i++) {
      const reply = yield* Deferred.make<number>()
      yield* Queue.offer(q, { label: i, reply })
      yield* Deferred.await(reply)
    }
    yield* Fiber.interrupt(server)
  })

/** The sizes every bulk benchmark uses. */
export const SIZES = [64, 4096, 65536, 1048576] as const

/** Copies per timed round of `memcpy` at `size`: about 64 MiB. */
const memcpyCount = (size: number) => Math.max(64, Math.floor((64 * 1048576) / size))

/** A `memcpy` of `size` bytes between two buffers: `n` copies per call. */
export const memcpyLoop = (size: number) => {
  const src = new Uint8Array(size).fill(7)
  const dst = new Uint8Array(size)
  return async (n: number) => {
    for (let i = 0; i < n; i++) dst.set(src)
  }
}

/** GB/s of one batch of `memcpy` at `size` (for ratios timed in alternating rounds). */
export const memcpyBatch = (size: number): (() => Promise<number>) => {
  const loop = memcpyLoop(size)
  return async () => gbps(size, await timeOnce(memcpyCount(size), loop))
}

const memcpy = (size: number): Benchmark => ({
  name: `floor.memcpy.${size}.gbps`,
  unit: "GB/s",
  run: async () => gbps(size, await microsPerOp(memcpyCount(size), memcpyLoop(size)))
})

/** The scheduler of the floors: a kernel scheduler of their own (no kernel around it). */
const floorScheduler = new KernelScheduler()

/** `loop`, its fibers on `scheduler` (default: the floors' kernel scheduler). */
export const onScheduler =
  (loop: (n: number) => Effect.Effect<void>, scheduler: Scheduler.Scheduler = floorScheduler.root) =>
  (n: number) =>
    Effect.withScheduler(loop(n), scheduler)

export const floorBenchmarks: ReadonlyArray<Benchmark> = [
  { name: "floor.async_handoff.us", unit: "µs", run: () => microsPerOp(50_000, runLoop(onScheduler(asyncHandoff))) },
  { name: "peer.queue_call.us", unit: "µs", run: () => microsPerOp(20_000, runLoop(onScheduler(queueCall))) },
  ...SIZES.map(memcpy)
]
