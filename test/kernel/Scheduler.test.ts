import { describe, expect, it } from "@effect/vitest"
import { Clock, Data, Deferred, Effect, Either, Exit, Fiber, FiberRef, Schema, Scheduler } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as Vfs from "../../src/fs/VfsClient.js"
import * as Port from "../../src/ipc/Port.js"
import * as Protocol from "../../src/ipc/Protocol.js"
import { type Capability, Rights } from "../../src/kernel/Capability.js"
import * as Kernel from "../../src/kernel/Kernel.js"
import type { Pcb } from "../../src/kernel/Process.js"
import * as Process from "../../src/kernel/Process.js"
import { ReentrantRunSync, WouldWaitOnHost } from "../../src/kernel/Scheduler.js"
import * as Race from "../../src/lab/scenarios/race.js"
import type * as Server from "../../src/lib/Server.js"
import * as System from "../../src/root/FileSystemStack.js"
import * as TestKernel from "../../src/root/TestKernel.js"
import { KvProtocol, VersionMismatch } from "../../src/servers/kv/KvProtocol.js"
import * as KvServer from "../../src/servers/kv/KvServer.js"
import { defaultConfig, SLICE_MS } from "../../src/params.js"

/** Runs `body` on a fresh live kernel, on the host's own clock (these tests measure real time). */
const live = <A>(body: Effect.Effect<A, unknown, Kernel.Kernel>, frames = 512): Promise<A> =>
  Effect.runPromise(Effect.scoped(body.pipe(Effect.provide(Kernel.layer({ frames })))) as Effect.Effect<A>)

/** An echo server on a fresh port: answers every call with an empty reply, forever. */
const echo = (k: Kernel.KernelCore, name = "echo") =>
  Effect.gen(function* () {
    const server = Either.getOrThrow(k.create({ name }))
    const port = Either.getOrThrow(Port.createFor(server, { capacity: 0 }))
    yield* k.start(
      server,
      Effect.gen(function* () {
        let m = yield* Port.receive(port.slot)
        for (;;) m = yield* Port.replyReceive(m.reply!, { label: 0 }, port.slot)
      })
    )
    return { server, port }
  })

/** `pairs` client/server pairs calling as fast as they can; returns every process. */
const busyPairs = (pairs: number) =>
  Effect.gen(function* () {
    const k = yield* Kernel.Kernel
    const all: Array<Pcb> = []
    for (let i = 0; i < pairs; i++) {
      const { server, port } = yield* echo(k, `echo${i}`)
      all.push(server, yield* Kernel.spawn(Effect.forever(Port.call(0, { label: 1 })), { name: `busy${i}`, caps: [{ cap: port, rights: Rights.send }] }))
    }
    return all
  })

/** A server that takes one call and never answers: calls to it wait until their deadline. */
const silent = (k: Kernel.KernelCore): Capability => {
  const server = Either.getOrThrow(k.create({ name: "silent" }))
  const port = Either.getOrThrow(Port.createFor(server, { capacity: 0 }))
  Effect.runSync(k.start(server, Effect.zipRight(Port.receive(port.slot), Effect.never)))
  return port
}

const exited = <A>(p: Pcb) =>
  Effect.map(p.await, (exit) => (exit._tag === "Exited" ? (exit.value as A) : Effect.runSync(Effect.dieMessage(`${p} ended ${exit._tag}`))))

/** A kernel for plain-JavaScript use (as the fs facade will hold one): never shut down by a scope. */
const bare = (seed?: number) => new Kernel.KernelCore({ ...defaultConfig, frames: 256 }, seed)

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

// --- the racy plugin of docs/servers.md ------------------------------------------------------------

/** A seat-reservation plugin over the key-value store (slot 0 of the plugin holds a KV capability). */
const Seats = Protocol.make("seats", {
  Reserve: Protocol.operation({ payload: { seat: Schema.String, who: Schema.String }, success: Schema.Boolean })
})
type SeatOps = typeof Seats.operations

/** Racy: checks that the seat is free with one call, then takes it with another. */
const racySeats: Server.Handlers<SeatOps> = {
  Reserve: ({ seat, who }) =>
    Effect.gen(function* () {
      const kv = Protocol.client(KvProtocol, 0)
      const taken = yield* Effect.match(kv.Get({ key: seat }), { onFailure: () => false, onSuccess: () => true })
      if (taken) return false
      yield* kv.Put({ key: seat, value: who })
      return true
    }).pipe(Effect.orDie)
}

/** Fixed: one compare-and-set decides (version 0: only if the key does not exist). */
const fixedSeats: Server.Handlers<SeatOps> = {
  Reserve: ({ seat, who }) =>
    Protocol.client(KvProtocol, 0)
      .CompareAndSet({ key: seat, version: 0, value: who })
      .pipe(
        Effect.as(true),
        Effect.catchIf(
          (e) => e instanceof VersionMismatch,
          () => Effect.succeed(false)
        ),
        Effect.orDie
      )
}

class DoubleBooking extends Schema.TaggedError<DoubleBooking>()("DoubleBooking", { granted: Schema.Number }) {}

/**
 * Alice reserves seat 12A while Bob reserves 14C and then 12A, through a two-worker plugin:
 * exactly one of them may get 12A. In first-come order Alice's reservation is done before Bob
 * asks for 12A; only some interleavings overlap the two.
 */
const booking = (handlers: Server.Handlers<SeatOps>) =>
  Effect.gen(function* () {
    const kv = yield* TestKernel.serve(KvProtocol, KvServer.handlers())
    const seats = yield* TestKernel.serve(Seats, handlers, { workers: 2, caps: [{ cap: kv.port, rights: Rights.send | Rights.grant }] })
    const granted = yield* Effect.all(
      [
        TestKernel.withClient(seats, (c) => c.Reserve({ seat: "12A", who: "alice" })),
        TestKernel.withClient(seats, (c) => Effect.zipRight(c.Reserve({ seat: "14C", who: "bob" }), c.Reserve({ seat: "12A", who: "bob" })))
      ],
      { concurrency: "unbounded" }
    )
    const n = granted.filter(Boolean).length
    if (n !== 1) return yield* new DoubleBooking({ granted: n })
  })

describe("kernel scheduler", () => {
  it("SCHED-0001 every fiber of a process (main, threads, their forks) runs on the kernel's scheduler and counts to the process", async () => {
    const { seen, steps } = await live(
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const schedulers = yield* Deferred.make<ReadonlyArray<Scheduler.Scheduler>>()
        const p = yield* Kernel.spawn(
          Effect.gen(function* () {
            const main = yield* FiberRef.get(FiberRef.currentScheduler)
            const thread = yield* Fiber.join(yield* Process.fork(FiberRef.get(FiberRef.currentScheduler)))
            const child = yield* Fiber.join(yield* Effect.fork(FiberRef.get(FiberRef.currentScheduler)))
            yield* Effect.repeatN(Effect.yieldNow(), 9)
            yield* Deferred.succeed(schedulers, [main, thread, child])
            yield* Effect.never
          })
        )
        const seen = yield* Deferred.await(schedulers)
        yield* Kernel.settle
        return { seen, steps: k.stats().scheduler.processes.find((a) => a.pid === p.pid)!.steps }
      })
    )
    expect(seen[0]).not.toBe(Scheduler.defaultScheduler)
    expect(seen[1]).toBe(seen[0])
    expect(seen[2]).toBe(seen[0])
    // The main fiber's first step, ten yields, and the steps of its thread and child.
    expect(steps).toBeGreaterThanOrEqual(13)
  })

  it("SCHED-0002 20 ms timeouts and sleeps in a process fire while two pairs saturate IPC: none starves, the kernel yields to the host slice after slice", async () => {
    const { timeouts, sleeps, busySteps, yieldsPerMs } = await live(
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const pairs = yield* busyPairs(2)
        const port = silent(k)
        const timer = yield* Kernel.spawn(
          Effect.gen(function* () {
            const timeouts: Array<number> = []
            const sleeps: Array<number> = []
            for (let i = 0; i < 15; i++) {
              let t0 = performance.now()
              const r = yield* Effect.either(Effect.timeoutFail(Port.call(0, { label: 1 }), { duration: "20 millis", onTimeout: () => "late" as const }))
              timeouts.push(Either.isLeft(r) && r.left === "late" ? performance.now() - t0 - 20 : Infinity)
              t0 = performance.now()
              yield* Effect.sleep("20 millis")
              sleeps.push(performance.now() - t0 - 20)
            }
            return { timeouts, sleeps }
          }),
          { name: "timer", caps: [{ cap: port, rights: Rights.send }] }
        )
        const before = k.stats().scheduler
        const t0 = performance.now()
        const result = yield* exited<{ timeouts: Array<number>; sleeps: Array<number> }>(timer)
        const after = k.stats().scheduler
        const yieldsPerMs = (after.yields - before.yields) / (performance.now() - t0)
        for (const p of pairs) yield* Kernel.kill(p)
        return { ...result, busySteps: after.steps - before.steps, yieldsPerMs }
      })
    )
    // Effect's default scheduler never fired one in 8 s under one busy pair.
    expect(timeouts.every(Number.isFinite)).toBe(true)
    // About a slice late on an idle host; the target, 10 ms at the 99th percentile, is the
    // benchmark's (`sched.timer_lag_under_load.ms`). A test host shared with other work also
    // preempts the busy process for tens of milliseconds, hence the wide bounds here.
    expect(median(timeouts)).toBeLessThanOrEqual(25)
    expect(median(sleeps)).toBeLessThanOrEqual(25)
    expect(Math.max(...timeouts, ...sleeps)).toBeLessThan(500)
    // The kernel handed the host its turns (about one per slice on an idle host; a loaded one
    // stretches slices by preempting the process), and the pairs kept calling.
    expect(yieldsPerMs).toBeGreaterThan(1 / (10 * SLICE_MS))
    expect(busySteps).toBeGreaterThan(10_000)
  })

  it("SCHED-0003 host timers and host I/O callbacks run while pairs saturate IPC", async () => {
    const { timerMs, ioMs } = await live(
      Effect.gen(function* () {
        const pairs = yield* busyPairs(2)
        yield* Effect.sleep("5 millis")
        const t0 = performance.now()
        yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))
        const timerMs = performance.now() - t0 - 5
        const t1 = performance.now()
        yield* Effect.promise(() => fs.promises.readFile(fileURLToPath(import.meta.url)))
        const ioMs = performance.now() - t1
        for (const p of pairs) yield* Kernel.kill(p)
        return { timerMs, ioMs }
      })
    )
    expect(timerMs).toBeLessThan(100)
    expect(ioMs).toBeLessThan(200)
  })

  it("SCHED-0004 fairness: a periodic process keeps its period and a spinning one gets its turns among three busy pairs", async () => {
    const { ticksMs, spinnerShare, pairShares } = await live(
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const pairs = yield* busyPairs(3)
        const spinner = yield* Kernel.spawn(Effect.forever(Effect.yieldNow()), { name: "spinner" })
        const periodic = yield* Kernel.spawn(
          Effect.gen(function* () {
            const t0 = performance.now()
            for (let i = 0; i < 20; i++) yield* Effect.sleep("5 millis")
            return performance.now() - t0
          }),
          { name: "periodic" }
        )
        const ticksMs = yield* exited<number>(periodic)
        const accounts = k.stats().scheduler.processes
        const total = accounts.reduce((n, a) => n + a.steps, 0)
        const share = (pid: number) => accounts.find((a) => a.pid === pid)!.steps / total
        const result = { ticksMs, spinnerShare: share(spinner.pid), pairShares: pairs.map((p) => share(p.pid)) }
        for (const p of [...pairs, spinner]) yield* Kernel.kill(p)
        return result
      })
    )
    // 100 ms of sleeps; on Effect's default scheduler the busy pairs would starve it for good.
    // (Lateness itself is SCHED-0002's and the benchmark's: on a loaded host it is the OS's too.)
    expect(ticksMs).toBeLessThan(2000)
    // FIFO turns: 3 pairs keep about one fiber each ready, the spinner one: about a quarter each.
    expect(spinnerShare).toBeGreaterThan(1 / 16)
    for (const s of pairShares) expect(s).toBeGreaterThan(0.02)
  })

  it("SCHED-0005 Kernel.stats counts each live process's steps and CPU time; an account leaves with its process", async () => {
    const { during, after } = await live(
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const p = yield* Kernel.spawn(
          Effect.forever(
            Effect.sync(() => {
              let x = 0
              for (let i = 0; i < 10_000; i++) x += i
              return x
            })
          ),
          { name: "worker" }
        )
        yield* Effect.sleep("30 millis")
        const during = k.stats().scheduler.processes.find((a) => a.pid === p.pid)
        yield* Kernel.kill(p)
        return { during, after: k.stats().scheduler.processes.find((a) => a.pid === p.pid) }
      })
    )
    expect(during).toMatchObject({ name: "worker", generation: 0 })
    expect(during!.steps).toBeGreaterThan(0)
    expect(during!.cpuMicros).toBeGreaterThan(1000)
    expect(after).toBeUndefined()
  })
})

describe("seeded mode", () => {
  /** A small world: an echo server, three clients making calls and sleeping; results and counters. */
  const world = Effect.gen(function* () {
    const k = yield* Kernel.Kernel
    const { port } = yield* echo(k)
    const clients = yield* Effect.forEach([1, 2, 3], (i) =>
      Kernel.spawn(
        Effect.gen(function* () {
          for (let j = 0; j < 4; j++) {
            yield* Port.call(0, { label: i * 10 + j, data: new Uint8Array(j) })
            if (j === 1) yield* Effect.sleep(`${i} millis`)
          }
          return yield* Clock.currentTimeMillis
        }),
        { name: `client${i}`, caps: [{ cap: port, rights: Rights.send }] }
      )
    )
    const results = yield* Effect.forEach(clients, exited<number>)
    return { results, stats: k.stats() }
  })

  it("SCHED-0006 the same seed gives the same run byte for byte: trace, counters, results", () =>
    Effect.gen(function* () {
      const a = yield* TestKernel.replay(7, world)
      const b = yield* TestKernel.replay(7, world)
      expect(Exit.isSuccess(a.exit)).toBe(true)
      expect(b.diagram).toBe(a.diagram)
      expect(JSON.stringify(b.trace)).toBe(JSON.stringify(a.trace))
      expect(JSON.stringify(b.exit)).toBe(JSON.stringify(a.exit))
      const stats = Exit.isSuccess(a.exit) ? a.exit.value.stats : undefined
      expect(stats?.scheduler).toMatchObject({ seed: 7, yields: 0 })
      expect(stats?.messages).toBe(12)
    }).pipe(Effect.runPromise))

  it("SCHED-0007 different seeds explore different interleavings of `race`; the file system's guarantees hold on each", async () => {
    const runs = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => Effect.runPromise(Race.run(seed))))
    expect(new Set(runs.map((r) => r.diagram)).size).toBeGreaterThanOrEqual(2)
    for (const r of runs) {
      expect(r.outcomes.filter((o) => o.created)).toHaveLength(1)
      expect(r.outcomes.filter((o) => o.renamed)).toHaveLength(1)
    }
    const again = await Effect.runPromise(Race.run(3))
    expect(again.diagram).toBe(runs[2]!.diagram)
  })

  it("SCHED-0008 virtual time: an hour of sleep finishes at once, timeouts fire at their virtual time, the clock stands still while fibers run", () =>
    Effect.gen(function* () {
      const t0 = performance.now()
      const run = yield* TestKernel.replay(
        1,
        Effect.gen(function* () {
          const k = yield* Kernel.Kernel
          const port = silent(k)
          const p = yield* Kernel.spawn(
            Effect.gen(function* () {
              const start = yield* Clock.currentTimeMillis
              yield* Effect.sleep("1 hour")
              const woke = yield* Clock.currentTimeMillis
              const r = yield* Effect.either(Effect.timeoutFail(Port.call(0, { label: 1 }), { duration: "10 seconds", onTimeout: () => "late" }))
              const timedOut = yield* Clock.currentTimeMillis
              for (let i = 0; i < 1000; i++) yield* Effect.yieldNow()
              return { start, woke, timedOut, late: Either.isLeft(r), still: (yield* Clock.currentTimeMillis) === timedOut }
            }),
            { caps: [{ cap: port, rights: Rights.send }] }
          )
          return yield* exited<{ start: number; woke: number; timedOut: number; late: boolean; still: boolean }>(p)
        }),
        { limit: "2 hours" }
      )
      expect(run.exit).toEqual(Exit.succeed({ start: 0, woke: 3_600_000, timedOut: 3_610_000, late: true, still: true }))
      expect(performance.now() - t0).toBeLessThan(2000)
    }).pipe(Effect.runPromise))

  it("SCHED-0009 the RAM file system's timestamps come from the kernel's virtual clock", () =>
    Effect.gen(function* () {
      const run = yield* TestKernel.replay(
        3,
        Effect.gen(function* () {
          const system = yield* System.start()
          const client = yield* System.spawnClient(
            system,
            Effect.gen(function* () {
              const vfs = Vfs.client(0)
              yield* Effect.sleep("2 seconds")
              yield* Vfs.writeFile(vfs, "/a", new Uint8Array([1]))
              return (yield* Vfs.stat(vfs, "/a")).mtimeNs
            })
          )
          return yield* exited<bigint>(client)
        })
      )
      expect(Exit.isSuccess(run.exit)).toBe(true)
      const mtime = Exit.isSuccess(run.exit) ? run.exit.value : 0n
      // Two seconds of virtual time, plus a few nanoseconds of strictly increasing stamps.
      expect(mtime >= 2_000_000_000n && mtime < 2_000_001_000n).toBe(true)
    }).pipe(Effect.runPromise))

  it("SCHED-0010 explore finds the racy plugin's double booking (which first-come order hides), replay reproduces it exactly, and the fixed plugin passes", () =>
    Effect.gen(function* () {
      // On the live kernel the order is first come, first served: the race does not show.
      yield* Effect.scoped(Effect.provide(booking(racySeats), TestKernel.layer()))
      const found = yield* TestKernel.explore(booking(racySeats), { schedules: 50 })
      expect(found._tag).toBe("Failed")
      if (found._tag !== "Failed") return
      expect(Exit.isFailure(found.run.exit) && JSON.stringify(found.run.exit)).toContain("DoubleBooking")
      const again = yield* TestKernel.replay(found.run.seed, booking(racySeats))
      expect(again.diagram).toBe(found.run.diagram)
      expect(JSON.stringify(again.exit)).toBe(JSON.stringify(found.run.exit))
      expect(yield* TestKernel.explore(booking(fixedSeats), { schedules: 50 })).toEqual({ _tag: "Passed", schedules: 50 })
    }).pipe(Effect.runPromise))

  it("SCHED-0011 a seeded run that deadlocks fails with Deadlock instead of waiting forever; one that outlives its limit with StillWaiting", () =>
    Effect.gen(function* () {
      const stuck = yield* TestKernel.replay(
        1,
        Effect.flatMap(Kernel.Kernel, (k) =>
          Effect.flatMap(Kernel.spawn(Port.call(0, { label: 1 }), { caps: [{ cap: silent(k), rights: Rights.send }] }), (p) => p.await)
        )
      )
      expect(Exit.isFailure(stuck.exit) && JSON.stringify(stuck.exit)).toContain("Deadlock")
      const slow = yield* TestKernel.replay(1, Effect.forever(Effect.sleep("1 minute")), { limit: "10 minutes" })
      expect(Exit.isFailure(slow.exit) && JSON.stringify(slow.exit)).toContain("StillWaiting")
    }).pipe(Effect.runPromise))

  it("SCHED-0018 a seeded layer puts the effect it is provided to on the kernel's scheduler, clock and Random, and only that effect", () =>
    Effect.gen(function* () {
      const before = yield* FiberRef.get(FiberRef.currentScheduler)
      const inside = yield* Effect.provide(
        Effect.gen(function* () {
          const k = yield* Kernel.Kernel
          yield* Effect.sleep("1 day")
          return { own: (yield* FiberRef.get(FiberRef.currentScheduler)) === k.scheduler.root, now: yield* Clock.currentTimeMillis }
        }),
        Kernel.layer({ seed: 2, frames: 64 })
      )
      expect(inside).toEqual({ own: true, now: 86_400_000 })
      expect(yield* FiberRef.get(FiberRef.currentScheduler)).toBe(before)
      expect(yield* Clock.currentTimeMillis).toBeGreaterThan(1_600_000_000_000)
    }).pipe(Effect.runPromise))

  it("SCHED-0012 a seed that is not a safe integer is a defect naming it", async () => {
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.provide(Kernel.Kernel, Kernel.layer({ seed: 1.5 }))))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("seed must be a safe integer, got 1.5")
  })
})

class Own extends Data.TaggedError("Own") {}

describe("runSync", () => {
  it("SCHED-0013 runSync completes in-kernel work (spawning, IPC, a process's whole run) and returns its value, or throws its failure", () => {
    const k = bare()
    const answers = k.runSync(
      Effect.gen(function* () {
        const { port } = yield* echo(k)
        const p = yield* Kernel.spawn(
          Effect.gen(function* () {
            const labels: Array<number> = []
            for (let i = 0; i < 100; i++) labels.push((yield* Port.call(0, { label: i })).label)
            return labels.length
          }),
          { caps: [{ cap: port, rights: Rights.send }] }
        )
        return yield* exited<number>(p)
      })
    )
    expect(answers).toBe(100)
    expect(k.stats().processesExited).toBe(1)
    expect(k.runSync(Effect.succeed(7))).toBe(7)
    expect(() => k.runSync(Effect.fail(new Own()))).toThrow(Own)
  })

  it("SCHED-0014 runSync refuses an effect that waits on the host (a real timer, a promise), interrupts it, and the kernel works on", () => {
    const k = bare()
    let finalized = false
    const timer = k.runSyncExit(
      Effect.ensuring(
        Effect.sleep("5 millis"),
        Effect.sync(() => (finalized = true))
      )
    )
    expect(timer).toEqual(Exit.fail(new WouldWaitOnHost({ operation: "runSync", reason: "nothing ready" })))
    expect(finalized).toBe(true)
    const promise = k.runSyncExit(Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5))))
    expect(Exit.isFailure(promise) && String(promise.cause)).toContain("waits on the host")
    expect(k.runSync(Effect.flatMap(echo(k), ({ server }) => Effect.succeed(server.alive)))).toBe(true)
  })

  it("SCHED-0015 runSync gives up at its limit when busy processes keep the kernel running and the effect waits on the host", async () => {
    const k = bare()
    const pairs = k.runSync(busyPairs(1))
    const t0 = performance.now()
    const exit = k.runSyncExit(Effect.sleep("1 second"), 20)
    expect(exit).toEqual(Exit.fail(new WouldWaitOnHost({ operation: "runSync", reason: "limit" })))
    expect(performance.now() - t0).toBeLessThan(500)
    for (const p of pairs) await Effect.runPromise(Kernel.kill(p))
  })

  it("SCHED-0016 runSync from inside a kernel fiber is ReentrantRunSync and changes nothing", async () => {
    const inner = await live(
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const p = yield* Kernel.spawn(Effect.sync(() => [k.runSyncExit(Effect.succeed(1)), Either.try(() => k.runSync(Effect.succeed(1)))] as const))
        return yield* exited<readonly [Exit.Exit<number, unknown>, Either.Either<number, unknown>]>(p)
      })
    )
    expect(inner[0]).toEqual(Exit.fail(new ReentrantRunSync({ operation: "runSync" })))
    expect(Either.isLeft(inner[1]) && inner[1].left).toBeInstanceOf(ReentrantRunSync)
  })

  it("SCHED-0019 driveUntil runs what start handed to kernel fibers until done; waiting on the host it interrupts nothing and the work goes on; from inside a kernel fiber it does not start", async () => {
    const k = bare()
    const { port } = k.runSync(echo(k))
    // Work handed to a process by other means than the drive's own fiber: a spawned caller.
    let answered = 0
    const handOff = () =>
      Effect.runSync(
        Effect.provideService(
          Kernel.spawn(
            Effect.flatMap(Port.call(0, { label: 1 }), () => Effect.sync(() => answered++)),
            { caps: [{ cap: port, rights: Rights.send }] }
          ),
          Kernel.Kernel,
          k
        )
      )
    expect(k.driveUntil(handOff, () => answered === 1)).toBeUndefined()
    expect(answered).toBe(1)
    // Waiting on the host: refused, and the work is not interrupted — it finishes later.
    let slept = false
    const sleeper = () =>
      Effect.runSync(
        Effect.provideService(
          Kernel.spawn(
            Effect.zipRight(
              Effect.sleep("5 millis"),
              Effect.sync(() => (slept = true))
            )
          ),
          Kernel.Kernel,
          k
        )
      )
    expect(k.driveUntil(sleeper, () => slept)).toEqual(new WouldWaitOnHost({ operation: "runSync", reason: "nothing ready" }))
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(slept).toBe(true)
    // From inside a kernel fiber: ReentrantRunSync, and start is never called.
    let started = false
    const inner = k.runSync(
      Effect.flatMap(
        Kernel.spawn(
          Effect.sync(() =>
            k.driveUntil(
              () => (started = true),
              () => true
            )
          )
        ),
        exited<unknown>
      )
    )
    expect(inner).toEqual(new ReentrantRunSync({ operation: "runSync" }))
    expect(started).toBe(false)
  })

  it("SCHED-0017 in seeded mode runSync completes virtual sleeps and deadlines", () => {
    const k = bare(5)
    const port = silent(k)
    const result = k.runSync(
      Effect.flatMap(
        Kernel.spawn(
          Effect.gen(function* () {
            yield* Effect.sleep("1 hour")
            const r = yield* Effect.either(Effect.timeout(Port.call(0, { label: 1 }), "1 second"))
            return [Either.isLeft(r), yield* Clock.currentTimeMillis] as const
          }),
          { caps: [{ cap: port, rights: Rights.send }] }
        ),
        exited<readonly [boolean, number]>
      )
    )
    expect(result).toEqual([true, 3_601_000])
  })
})
