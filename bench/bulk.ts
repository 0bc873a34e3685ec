/**
 * Bulk benchmarks: one-way transfer of a client's buffer into a server's memory, IPC included, by
 * each strategy and by the planner, at 64 B, 4 KiB, 64 KiB and 1 MiB.
 *
 * One generic server takes every strategy: copies land in its receive window; leases it reads
 * into its own buffer; mapped pages are already in its memory (it unmaps them); granted pages are
 * granted back in the reply, so the client can send them again (a grant round trip thus moves the
 * pages twice, and the number is conservative).
 */
import { Effect, Either } from "effect"
import { Kernel, Lease, Memory, Port, Ring, Transfer } from "../src/index.js"
import { type Capability, Rights } from "../src/kernel/Capability.js"
import type { KernelCore } from "../src/kernel/Kernel.js"
import { defaultConfig, PAGE_SIZE } from "../src/params.js"
import { SIZES } from "./floor.js"
import { type Benchmark, gbps, microsPerOp } from "./harness.js"
import { withKernel } from "./ipc.js"

const MAX = 1048576
const pagesOf = (n: number) => Math.ceil(n / PAGE_SIZE)

/** The generic bulk server on a fresh port. */
const bulkServer = (k: KernelCore) =>
  Effect.gen(function* () {
    const server = Either.getOrThrow(k.create({ name: "bulk-server" }))
    const port = Either.getOrThrow(Port.createFor(server, { capacity: 0 }))
    yield* k.start(
      server,
      Effect.gen(function* () {
        const store = yield* Memory.allocate(pagesOf(MAX) + 1)
        const windows = [{ address: store, length: MAX }]
        let m = yield* Port.receive(port.slot, { windows })
        for (;;) {
          let grantedBack: number | undefined = undefined
          let back: Port.Message = { label: 0 }
          if (m.data.length > 0) yield* Memory.write(store, m.data)
          for (const item of m.items) {
            if (item._tag === "lease") yield* Lease.read(item.lease, 0, item.length, store)
            else if (item._tag === "map") yield* Memory.free(item.address)
            else if (item._tag === "grant") {
              grantedBack = item.address
              back = { label: 0, items: [{ _tag: "grant", address: item.address, pages: item.pages }] }
            }
          }
          m = m.reply === undefined ? yield* Port.receive(port.slot, { windows }) : yield* Port.replyReceive(m.reply, back, port.slot, { windows })
          if (grantedBack !== undefined) yield* Memory.free(grantedBack) // the emptied region the pages left
        }
      })
    )
    return port
  })

type Strategy = "inline" | "copy" | "lease" | "map" | "grant" | "plan"

/** The client's loop: `n` transfers of `size` bytes by `strategy`. */
const clientLoop = (strategy: Strategy, size: number, n: number) =>
  Effect.gen(function* () {
    const inlineMax = defaultConfig.inlineMax
    let buf = yield* Memory.allocate(pagesOf(size))
    yield* Memory.write(buf, new Uint8Array(size).fill(0x5a))
    for (let i = 0; i < n; i++) {
      switch (strategy) {
        case "inline":
          for (let off = 0; off < size; off += inlineMax) {
            yield* Port.call(0, { label: 1, data: yield* Memory.read(buf + off, Math.min(inlineMax, size - off)) })
          }
          break
        case "copy":
          yield* Port.call(0, { label: 1, items: [{ _tag: "copy", address: buf, length: size }] })
          break
        case "lease":
          yield* Port.call(0, { label: 1, items: [{ _tag: "lease", address: buf, length: size, access: "read" }] })
          break
        case "map":
          yield* Port.call(0, { label: 1, items: [{ _tag: "map", address: buf, pages: pagesOf(size), rights: 1 }] })
          break
        case "grant":
        case "plan": {
          const items =
            strategy === "grant"
              ? [{ _tag: "grant" as const, address: buf, pages: pagesOf(size) }]
              : Either.getOrThrow(Transfer.plan({ address: buf, length: size }, { move: true, window: MAX })).items
          const r = yield* Port.call(0, { label: 1, items })
          const back = r.items[0]
          if (back?._tag === "grant") {
            yield* Memory.free(buf) // the emptied region the pages left
            buf = back.address
          }
          break
        }
      }
    }
  })

const runClient = (k: KernelCore, port: Capability, strategy: Strategy, size: number, n: number) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* Kernel.spawn(clientLoop(strategy, size, n), { caps: [{ cap: port, rights: Rights.send | Rights.grant }] })
      const exit = yield* client.await
      if (exit._tag !== "Exited") throw new Error(`bulk client ${strategy}/${size} ended ${exit._tag}`)
    }).pipe(Effect.provideService(Kernel.Kernel, k))
  )

/**
 * Transfers per timed round: about 512 MiB of data, within 64..20,000 transfers; inline transfers
 * are bounded by messages instead (about 20,000 `inlineMax` chunks a round).
 */
const iterations = (strategy: Strategy | "ring", size: number) =>
  strategy === "inline"
    ? Math.max(4, Math.floor(20_000 / Math.ceil(size / defaultConfig.inlineMax)))
    : Math.max(64, Math.min(20_000, Math.floor((512 * MAX) / size)))

const viaStrategy = (strategy: Strategy, size: number): Benchmark => ({
  name: `bulk.${strategy}.${size}.gbps`,
  unit: "GB/s",
  run: () =>
    withKernel((k) =>
      Effect.gen(function* () {
        const port = yield* bulkServer(k)
        const us = yield* Effect.promise(() => microsPerOp(iterations(strategy, size), (n) => runClient(k, port, strategy, size, n)))
        return gbps(size, us)
      })
    )
})

/** A producer streams `n × size` bytes through a ring of 64 page-sized entries to a consumer. */
const viaRing = (size: number): Benchmark => ({
  name: `bulk.ring.${size}.gbps`,
  unit: "GB/s",
  run: () =>
    withKernel((k) =>
      Effect.gen(function* () {
        const entrySize = Math.min(size, PAGE_SIZE - 4)
        const perTransfer = Math.ceil(size / entrySize)
        const us = yield* Effect.promise(() =>
          microsPerOp(iterations("ring", size), (n) =>
            Effect.runPromise(
              Effect.gen(function* () {
                const consumer = Either.getOrThrow(k.create({ name: "ring-consumer" }))
                const p = Either.getOrThrow(Port.createFor(consumer, { capacity: 0 }))
                yield* k.start(
                  consumer,
                  Effect.gen(function* () {
                    const m = yield* Port.receive(p.slot)
                    const { end: ring, answer } = yield* Ring.open(m)
                    yield* Port.reply(m.reply!, answer)
                    const store = yield* Memory.allocate(1)
                    for (let i = 0; i < n * perTransfer; i++) yield* Ring.popInto(ring, store)
                  })
                )
                const producer = yield* Kernel.spawn(
                  Effect.gen(function* () {
                    const created = yield* Ring.create({ entries: 64, entrySize })
                    const end = yield* Ring.connect(created.end, yield* Port.call(0, created.share))
                    const buf = yield* Memory.allocate(pagesOf(size))
                    for (let i = 0; i < n; i++) {
                      for (let off = 0; off < size; off += entrySize) yield* Ring.pushFrom(end, buf + off, Math.min(entrySize, size - off))
                    }
                  }),
                  { caps: [{ cap: p, rights: Rights.send | Rights.grant }] }
                )
                yield* producer.await
                yield* consumer.await
              }).pipe(Effect.provideService(Kernel.Kernel, k))
            )
          )
        )
        return gbps(size, us)
      })
    )
})

const ratio = (name: string, over: string, under: string): Benchmark => ({
  name,
  unit: "ratio",
  run: async (ctx) => (await ctx.measure(over)) / (await ctx.measure(under))
})

export const bulkBenchmarks: ReadonlyArray<Benchmark> = [
  ...SIZES.flatMap((size) => [
    viaStrategy("inline", size),
    viaStrategy("copy", size),
    viaStrategy("lease", size),
    viaStrategy("map", size),
    viaStrategy("grant", size),
    viaRing(size),
    viaStrategy("plan", size)
  ]),
  ratio("bulk.copy.1048576.vs_memcpy", "bulk.copy.1048576.gbps", "floor.memcpy.1048576.gbps"),
  ratio("bulk.lease.1048576.vs_memcpy", "bulk.lease.1048576.gbps", "floor.memcpy.1048576.gbps"),
  ratio("bulk.grant.1048576.vs_copy", "bulk.grant.1048576.gbps", "bulk.copy.1048576.gbps"),
  // The planner chooses the items of one message, so it is compared with the best per-message
  // strategy. The ring is a standing channel set up beforehand, not an item; it is reported beside
  // them (and at 64 B it beats every per-message strategy: no syscall per entry).
  // Separately measured benchmarks differ by ±15 % from run order alone (JIT and GC state), more
  // than the 10 % this ratio is about; so the winner, once known, is timed again against the
  // planner in alternating rounds on one kernel, and the ratio is of those paired numbers.
  ...SIZES.map((size): Benchmark => ({
    name: `bulk.plan.${size}.vs_best`,
    unit: "ratio",
    run: async (ctx) => {
      const candidates = ["inline", "copy", "lease", "map", "grant"] as const
      const rates = await Promise.all(candidates.map((s) => ctx.measure(`bulk.${s}.${size}.gbps`)))
      const best = candidates[rates.indexOf(Math.max(...rates))]!
      return paired(best, size)
    }
  }))
]

/** Planner ÷ `best` throughput, timed in alternating rounds against one server. */
const paired = (best: Strategy, size: number): Promise<number> =>
  withKernel((k) =>
    Effect.gen(function* () {
      const port = yield* bulkServer(k)
      const n = iterations(best, size)
      const time = (s: Strategy) => Effect.promise(() => microsPerOp(n, (m) => runClient(k, port, s, size, m), 1))
      let bestUs = Infinity
      let planUs = Infinity
      for (let round = 0; round < 5; round++) {
        bestUs = Math.min(bestUs, yield* time(best))
        planUs = Math.min(planUs, yield* time("plan"))
      }
      return bestUs / planUs
    })
  )
