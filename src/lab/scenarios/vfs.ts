/**
 * Trace scenarios through the real file-system stack: a client opens an 8 KiB file, writes it and
 * reads it back through the VFS to the RAM file system (by lease); the trace covers one step.
 */
import { Effect } from "effect"
import * as Memory from "../../kernel/Memory.js"
import { toMermaid, Tracer } from "../../kernel/Trace.js"
import * as System from "../../root/FileSystemStack.js"
import * as Vfs from "../../fs/VfsClient.js"
import { onFreshKernel } from "../Harness.js"

/** A step of the client's work to trace. */
export type Step = "open" | "write" | "read"

const SIZE = 8192

/** The Mermaid diagram of `step` of an 8 KiB file's open, write and read. */
export const vfsStep = (step: Step): Effect.Effect<string> =>
  Effect.suspend(() => {
    const tracer = new Tracer()
    return onFreshKernel({ frames: 4096 }, (k) =>
      Effect.gen(function* () {
        const sys = yield* System.start()
        // Tracing is switched on and off around the one step by the root task's hook.
        const traced = <A, E, R>(s: Step, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
          Effect.zipRight(
            Effect.sync(() => {
              if (s === step) k.tracer = tracer
            }),
            Effect.ensuring(
              effect,
              Effect.sync(() => {
                k.tracer = undefined
              })
            )
          )
        const client = Effect.gen(function* () {
          const vfs = Vfs.client(0)
          const { fd } = yield* traced("open", vfs.open({ path: "/file", flags: "w+", mode: 0o644 }))
          const buf = yield* Memory.allocate(SIZE / 4096)
          yield* Memory.write(buf, new Uint8Array(SIZE).fill(7))
          yield* traced("write", Vfs.writeFrom(vfs, fd, buf, SIZE, 0))
          yield* traced("read", Vfs.readInto(vfs, fd, buf, SIZE, 0))
          yield* vfs.close({ fd })
        })
        const pcb = yield* System.spawnClient(sys, client, "client0")
        const exit = yield* pcb.await
        if (exit._tag !== "Exited") return yield* Effect.dieMessage(`the traced client ended ${exit._tag}`)
        return toMermaid(tracer.events, `${step}: 8 KiB through the VFS to the RAM file system, by lease`)
      })
    )
  })
