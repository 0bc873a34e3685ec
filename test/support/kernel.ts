import { Effect, Either } from "effect"
import type { Capability } from "../../src/kernel/Capability.js"
import * as Kernel from "../../src/kernel/Kernel.js"
import type { Pcb } from "../../src/kernel/Process.js"
import * as Port from "../../src/ipc/Port.js"

/** Provides a freshly booted small kernel to a test. */
export const boot = Effect.provide(Kernel.layer({ frames: 512 }))

/** A created (not started) server process with a port of `capacity`. */
export const serverWithPort = (capacity = 0, name = "server") =>
  Effect.map(Kernel.Kernel, (k): { readonly server: Pcb; readonly port: Capability } => {
    const server = Either.getOrThrow(k.create({ name }))
    return { server, port: Either.getOrThrow(Port.createFor(server, { capacity })) }
  })

/** Lets every runnable fiber run until all are blocked (`Kernel.settle`). */
export const settle = Kernel.settle
