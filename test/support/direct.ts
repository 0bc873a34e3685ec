/** Helpers of the direct-call tests: a process's value, an outcome's tag, and a server that serves direct calls. */
import { Cause, Effect, Either } from "effect"
import type { Capability } from "../../src/kernel/Capability.js"
import * as Kernel from "../../src/kernel/Kernel.js"
import type { Pcb, ProcessExit } from "../../src/kernel/Process.js"
import * as Port from "../../src/ipc/Port.js"
import { serverWithPort, settle } from "./kernel.js"

/** The value a process exited with; throws (with the cause) when it ended otherwise. */
export const valueOf = <A>(exit: ProcessExit): A => {
  if (exit._tag !== "Exited") throw new Error(`process ended ${exit._tag}: ${exit._tag === "Failed" ? Cause.pretty(exit.cause) : ""}`)
  return exit.value as A
}

/** `e`'s error tag, or "ok". */
export const tagOf = <A, E extends { readonly _tag: string }, R>(e: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.either(e), (r) => (Either.isLeft(r) ? r.left._tag : "ok"))

/** A server that registers `handler` on its port and then waits (its own thread does nothing else). */
export const directServer = (
  handler: Port.DirectHandler,
  options?: Port.DirectOptions,
  name = "server"
): Effect.Effect<{ readonly server: Pcb; readonly port: Capability }, never, Kernel.Kernel> =>
  Effect.gen(function* () {
    const k = yield* Kernel.Kernel
    const { server, port } = yield* serverWithPort(0, name)
    yield* k.start(server, Effect.zipRight(Port.serveDirect(port.slot, handler, options), Effect.never))
    yield* settle
    return { server, port }
  })
