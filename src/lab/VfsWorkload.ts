/**
 * The lab's file workload through the real file-system stack: client processes write a file
 * through the VFS to the RAM file system and read it back. Writes go by lease (the VFS forwards
 * the client's buffer to the file system, which copies it once) or by grant (the pages become file
 * pages); reads go by lease. The VFS itself never touches the data.
 */
import { Effect } from "effect"
import * as Kernel from "../kernel/Kernel.js"
import * as Memory from "../kernel/Memory.js"
import type { Tracer } from "../kernel/Trace.js"
import * as System from "../root/FileSystemStack.js"
import * as Vfs from "../fs/VfsClient.js"
import { PAGE_SIZE } from "../params.js"
import { type Checkpoints, measure } from "./Harness.js"
import { type Measurement, same } from "./Workload.js"

/** How writes reach the file system. */
export const VFS_STRATEGIES = ["vfs.lease", "vfs.grant"] as const
/** A VFS write strategy. */
export type VfsStrategy = (typeof VFS_STRATEGIES)[number]

/** One VFS cell. */
export interface VfsCellSpec {
  readonly strategy: VfsStrategy
  readonly size: number
  readonly clients: number
  readonly ops: number
}

/** A VFS measurement: the same columns as the direct ones, plus bytes the VFS process copied. */
export interface VfsMeasurement extends Omit<Measurement, "strategy"> {
  readonly strategy: VfsStrategy
  /** Bytes the kernel copied on the VFS process's behalf (must be 0: the VFS forwards leases). */
  readonly vfsBytesCopied: number
}

const pagesOf = (n: number) => Math.max(1, Math.ceil(n / PAGE_SIZE))

/** Memory for a cell: files, buffers and slack; any one process may use all of it. */
const framesFor = (spec: VfsCellSpec) => {
  const frames = 4096 + spec.clients * 4 * pagesOf(spec.size)
  return { frames, processQuota: frames }
}

/** A step of client 0's first measured operation to trace. */
export interface TraceStep {
  readonly tracer: Tracer
  readonly step: "open" | "write" | "read"
}

/** Runs one VFS cell on a fresh kernel; with `traced`, the kernel traces one step of client 0. */
export const runVfsCell = (spec: VfsCellSpec, traced?: TraceStep): Effect.Effect<VfsMeasurement> =>
  Effect.scoped(
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const sys = yield* System.start()
      let vfsBefore = 0
      const timed = yield* measure(
        k,
        spec,
        (i, at) => {
          // Tracing is switched on and off around one step of client 0 by the root task's hook.
          const trace = (step: TraceStep["step"], on: boolean) =>
            Effect.sync(() => {
              if (traced !== undefined && traced.step === step && i === 0) k.tracer = on ? traced.tracer : undefined
            })
          return System.spawnClient(sys, vfsClient(spec, i, at, trace), `client${i}`)
        },
        () => {
          vfsBefore = sys.vfs.bytesCopied
        }
      )
      return { ...timed, vfsBytesCopied: sys.vfs.bytesCopied - vfsBefore }
    }).pipe(Effect.orDie, Effect.provide(Kernel.layer(framesFor(spec))))
  )

/** One client: open its file, then write and read it `spec.ops` times; true if every read matched. */
const vfsClient = (spec: VfsCellSpec, i: number, at: Checkpoints, trace: (step: TraceStep["step"], on: boolean) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const vfs = Vfs.client(0)
    const content = new Uint8Array(spec.size)
    for (let j = 0; j < spec.size; j++) content[j] = (j * 13 + i) & 255
    yield* trace("open", true)
    const { fd } = yield* vfs.open({ path: `/file${i}`, flags: "w+", mode: 0o644 })
    yield* trace("open", false)
    const back = yield* Memory.allocate(pagesOf(spec.size))
    // A lease leaves the buffer with the client, so one serves every write; a grant takes its
    // pages away, so each grant write needs fresh ones (and pays for them).
    const granting = spec.strategy === "vfs.grant"
    const kept = granting ? 0 : yield* Memory.allocate(pagesOf(spec.size))
    // As in the direct workload: one untimed warm-up operation when there are several.
    const first = spec.ops > 1 ? 1 : 0
    for (let n = 0; n < spec.ops + first; n++) {
      if (n === first) yield* at.ready
      const buf = granting ? yield* Memory.allocate(pagesOf(spec.size)) : kept
      yield* Memory.write(buf, content)
      yield* trace("write", n === first)
      if (granting) yield* Vfs.writeGranted(vfs, fd, buf, spec.size, 0)
      else yield* Vfs.writeFrom(vfs, fd, buf, spec.size, 0)
      yield* trace("write", false)
      if (granting) yield* Memory.free(buf).pipe(Effect.ignore)
      yield* trace("read", n === first)
      yield* Vfs.readInto(vfs, fd, back, spec.size, 0)
      yield* trace("read", false)
    }
    yield* at.done
    // Checked after the clock stops: reading the file back and comparing is not the transfer's cost.
    const intact = same(yield* Memory.read(back, spec.size), content)
    yield* vfs.close({ fd })
    return intact
  })
