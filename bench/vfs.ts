/**
 * VFS benchmarks: lease writes and reads through the VFS into the RAM file system, grant writes,
 * copy amplification (kernel bytes copied ÷ bytes written), open+close latency, and 1,000 client
 * processes at once. Each client is a real process calling the VFS; the VFS forwards leases.
 */
import { Effect } from "effect"
import { Kernel, Memory, type Process } from "../src/index.js"
import type { KernelCore } from "../src/kernel/Kernel.js"
import * as System from "../src/root/FileSystemStack.js"
import * as Vfs from "../src/fs/VfsClient.js"
import { PAGE_SIZE } from "../src/params.js"
import { type Benchmark, gbps, microsPerOp } from "./harness.js"

const withFs = <A>(body: (k: KernelCore, sys: System.System) => Effect.Effect<A, unknown, Kernel.Kernel>): Promise<A> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        return yield* body(k, yield* System.start())
      }).pipe(Effect.provide(Kernel.layer({ frames: 32768 })))
    ) as Effect.Effect<A>
  )

/** Runs `program` as one client process and waits for it; a failed client fails the benchmark. */
const client = <A>(k: KernelCore, sys: System.System, program: (vfs: Vfs.Vfs) => Effect.Effect<A, unknown, Process.Process>) =>
  Effect.gen(function* () {
    const pcb = yield* System.spawnClient(sys, program(Vfs.client(0)), "bench-client").pipe(Effect.provideService(Kernel.Kernel, k))
    const exit = yield* pcb.await
    if (exit._tag !== "Exited") return yield* Effect.dieMessage(`bench client ended: ${exit._tag}`)
  })

const iterations = (size: number) => (size >= 1048576 ? 40 : 2000)

/** `n` writes (or reads) of `size` bytes at offset 0 of one file, by lease. */
const leaseLoop = (k: KernelCore, sys: System.System, size: number, n: number, read: boolean) =>
  client(k, sys, (vfs) =>
    Effect.gen(function* () {
      const { fd } = yield* vfs.open({ path: "/bench", flags: "w+", mode: 0o644 })
      const buf = yield* Memory.allocate(Math.ceil(size / PAGE_SIZE))
      yield* Vfs.writeFrom(vfs, fd, buf, size, 0)
      for (let i = 0; i < n; i++) yield* read ? Vfs.readInto(vfs, fd, buf, size, 0) : Vfs.writeFrom(vfs, fd, buf, size, 0)
      yield* vfs.close({ fd })
    })
  )

const lease = (size: number, read: boolean): Benchmark => ({
  name: `vfs.${read ? "read" : "write"}.lease.${size}.gbps`,
  unit: "GB/s",
  run: () =>
    withFs((k, sys) =>
      Effect.promise(() => microsPerOp(iterations(size), (n) => Effect.runPromise(leaseLoop(k, sys, size, n, read)), 3)).pipe(
        Effect.map((us) => gbps(size, us))
      )
    )
})

/** `n` grant writes of 1 MiB: fresh pages each time (granted pages leave the client), counted in. */
const grantLoop = (k: KernelCore, sys: System.System, size: number, n: number) =>
  client(k, sys, (vfs) =>
    Effect.gen(function* () {
      const { fd } = yield* vfs.open({ path: "/grant", flags: "w+", mode: 0o644 })
      for (let i = 0; i < n; i++) {
        const buf = yield* Memory.allocate(size / PAGE_SIZE)
        yield* Vfs.writeGranted(vfs, fd, buf, size, 0)
        yield* Memory.free(buf)
      }
      yield* vfs.close({ fd })
    })
  )

/** Kernel bytes copied ÷ bytes written for 8 writes of 1 MiB; fails if the VFS copied anything. */
const amplification = (grant: boolean): Benchmark => ({
  name: `vfs.copy_amplification.${grant ? "grant" : "lease"}`,
  unit: "ratio",
  run: () =>
    withFs((k, sys) =>
      Effect.gen(function* () {
        const size = 1048576
        const before = k.stats().bytesCopied
        yield* grant ? grantLoop(k, sys, size, 8) : leaseLoop(k, sys, size, 8, false)
        const copied = k.stats().bytesCopied - before
        if (sys.vfs.bytesCopied !== 0) return yield* Effect.dieMessage(`the VFS copied ${sys.vfs.bytesCopied} bytes`)
        // The lease loop also writes the file once before its 8 timed writes.
        return copied / (size * (grant ? 8 : 9))
      })
    )
})

const openClose: Benchmark = {
  name: "vfs.open_close.us",
  unit: "µs",
  run: () =>
    withFs((k, sys) =>
      Effect.gen(function* () {
        yield* client(k, sys, (vfs) =>
          Vfs.writeFile(vfs, "/dir/../f", new Uint8Array(1)).pipe(Effect.catchAll(() => Vfs.writeFile(vfs, "/f", new Uint8Array(1))))
        )
        return yield* Effect.promise(() =>
          microsPerOp(
            2000,
            (n) =>
              Effect.runPromise(
                client(k, sys, (vfs) =>
                  Effect.gen(function* () {
                    for (let i = 0; i < n; i++) {
                      const { fd } = yield* vfs.open({ path: "/f", flags: "r", mode: 0 })
                      yield* vfs.close({ fd })
                    }
                  })
                )
              ),
            3
          )
        )
      })
    )
}

const clients1000: Benchmark = {
  name: "vfs.clients_1000.s",
  unit: "s",
  run: () =>
    withFs((k, sys) =>
      Effect.gen(function* () {
        const data = new Uint8Array(4096).fill(1)
        const t0 = performance.now()
        yield* Effect.forEach(
          Array.from({ length: 1000 }, (_, i) => i),
          (i) =>
            client(k, sys, (vfs) =>
              Effect.gen(function* () {
                const { fd } = yield* vfs.open({ path: `/c${i}`, flags: "w+", mode: 0o644 })
                yield* Vfs.writeBytes(vfs, fd, data, 0)
                const back = yield* Vfs.readBytes(vfs, fd, 4096, 0)
                if (back.length !== 4096) return yield* Effect.dieMessage("short read")
                yield* vfs.close({ fd })
              })
            ),
          { concurrency: "unbounded", discard: true }
        )
        return (performance.now() - t0) / 1000
      })
    )
}

export const vfsBenchmarks: ReadonlyArray<Benchmark> = [
  lease(4096, false),
  lease(1048576, false),
  lease(4096, true),
  lease(1048576, true),
  {
    name: "vfs.write.grant.1048576.gbps",
    unit: "GB/s",
    run: () =>
      withFs((k, sys) =>
        Effect.promise(() => microsPerOp(40, (n) => Effect.runPromise(grantLoop(k, sys, 1048576, n)), 3)).pipe(Effect.map((us) => gbps(1048576, us)))
      )
  },
  amplification(false),
  amplification(true),
  openClose,
  clients1000
]
