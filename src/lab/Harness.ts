/**
 * The lab's measuring harness, shared by the direct and the VFS workloads: spawn the clients, let
 * each warm up, time the operations between two checkpoints that all clients reach, and turn the
 * kernel's counters into per-operation numbers.
 */
import { Deferred, Effect } from "effect"
import type { KernelCore } from "../kernel/Kernel.js"
import type { Pcb } from "../kernel/Process.js"

/** The checkpoints a client passes: after its warm-up, and after its timed operations. */
export interface Checkpoints {
  /** Warm-up done; wait for the start. */
  readonly ready: Effect.Effect<void>
  /** Timed operations done; wait for the counters to be read. */
  readonly done: Effect.Effect<void>
}

/** What every cell describes. */
export interface Cell {
  readonly strategy: string
  readonly size: number
  readonly clients: number
  /** Write-then-read operations per client. */
  readonly ops: number
}

/** What the harness measures for a cell. */
export interface Timing {
  /** Microseconds per operation (one write and one read of `size` bytes), all clients together. */
  readonly usPerOp: number
  /** Bytes moved (both directions) per second, in MB (10^6). */
  readonly mbPerS: number
  /** Bytes the kernel copied ÷ bytes moved. */
  readonly copiedPerByte: number
  /** Pages mapped or granted per operation. */
  readonly pagesPerOp: number
  /** Frames in use when the timed operations end, all processes together. */
  readonly framesInUse: number
  /** Fiber hand-offs per operation. */
  readonly handoffsPerOp: number
  /** Whether every client read back exactly what it wrote (each client returns that boolean). */
  readonly intact: boolean
}

/**
 * Spawns `spec.clients` clients with `spawn(i, checkpoints)` and measures them. `onStart` runs as
 * the clock starts. A client that ends before a checkpoint fails the cell (a defect naming it)
 * instead of leaving the harness waiting.
 */
export const measure = <C extends Cell, E, R>(
  k: KernelCore,
  spec: C,
  spawn: (i: number, at: Checkpoints) => Effect.Effect<Pcb, E, R>,
  onStart: () => void = () => {}
): Effect.Effect<C & Timing, E, R> =>
  Effect.gen(function* () {
    const go = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const indices = Array.from({ length: spec.clients }, (_, i) => i)
    const ready = yield* Effect.forEach(indices, () => Deferred.make<void>())
    const done = yield* Effect.forEach(indices, () => Deferred.make<void>())
    const clients = yield* Effect.forEach(indices, (i) =>
      spawn(i, {
        ready: Effect.zipRight(Deferred.succeed(ready[i]!, undefined), Deferred.await(go)),
        done: Effect.zipRight(Deferred.succeed(done[i]!, undefined), Deferred.await(release))
      })
    )
    const ended = (i: number, exit: Pcb extends { await: Effect.Effect<infer X> } ? X : never) =>
      Effect.dieMessage(`lab client ${i} (${spec.strategy}, ${spec.size} B) ended ${exit._tag}: ${exit._tag === "Failed" ? String(exit.cause) : ""}`)
    const checkpoint = (points: ReadonlyArray<Deferred.Deferred<void>>) =>
      Effect.forEach(points, (point, i) =>
        Effect.raceFirst(
          Deferred.await(point),
          Effect.flatMap(clients[i]!.await, (exit) => ended(i, exit))
        )
      )
    yield* checkpoint(ready)
    const before = k.stats()
    onStart()
    const t0 = performance.now()
    yield* Deferred.succeed(go, undefined)
    yield* checkpoint(done)
    const micros = (performance.now() - t0) * 1000
    const after = k.stats()
    yield* Deferred.succeed(release, undefined)
    const exits = yield* Effect.forEach(clients, (c) => c.await)
    const failed = exits.findIndex((e) => e._tag !== "Exited")
    if (failed >= 0) return yield* ended(failed, exits[failed]!)
    const total = spec.ops * spec.clients
    const moved = 2 * spec.size * total
    return {
      ...spec,
      usPerOp: micros / total,
      mbPerS: moved / micros,
      copiedPerByte: (after.bytesCopied - before.bytesCopied) / moved,
      pagesPerOp: (after.pagesMapped + after.pagesGranted - before.pagesMapped - before.pagesGranted) / total,
      framesInUse: after.framesInUse,
      handoffsPerOp: (after.handoffs - before.handoffs) / total,
      intact: exits.every((e) => e._tag === "Exited" && e.value === true)
    }
  })
