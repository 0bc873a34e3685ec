/**
 * Direct-call benchmarks: a null direct call (the caller's fiber runs the server's handler, which
 * answers at once) between two processes, its ratio to a null call/reply timed in alternating
 * rounds on one kernel, and the same for a typed call through `Protocol.client({ direct })` and a
 * `Server.serve({ direct })` server.
 */
import { Effect, Either } from "effect"
import { Kernel, Port } from "../src/index.js"
import { type Capability, Rights } from "../src/kernel/Capability.js"
import type { KernelCore } from "../src/kernel/Kernel.js"
import { alternating, type Benchmark, microsPerOp, timeOnce } from "./harness.js"
import { callLoop, echoServer, withKernel } from "./ipc.js"
import { adderServer, typedLoop } from "./protocol.js"

const CALLS = 50_000
/** Calls per batch of a ratio (a few milliseconds; see `alternating`). */
const RATIO_CALLS = 2_000

/** The reply of the null handler: one object, as the echo server's replies reuse none. */
class Null implements Port.Message {
  readonly label = 0
}

/** A server that serves null direct calls on a fresh port: its handler answers at once. */
const directServer = (k: KernelCore) =>
  Effect.gen(function* () {
    const server = Either.getOrThrow(k.create({ name: "direct" }))
    const port = Either.getOrThrow(Port.createFor(server))
    const reply = new Null()
    yield* k.start(
      server,
      Effect.zipRight(
        Port.serveDirect(port.slot, () => Effect.succeed(reply)),
        Effect.never
      )
    )
    yield* Effect.yieldNow()
    return port
  })

/** Runs `n` null direct calls from a fresh client process through `port`. */
const directLoop = (k: KernelCore, port: Capability, n: number) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const msg = { label: 1 }
          for (let i = 0; i < n; i++) yield* Port.callDirect(0, msg)
        }),
        { name: "client", caps: [{ cap: port, rights: Rights.send }] }
      )
      const exit = yield* client.await
      if (exit._tag !== "Exited") throw new Error(`benchmark client ended ${exit._tag}`)
    }).pipe(Effect.provideService(Kernel.Kernel, k))
  )

/** Microseconds per null direct call. */
const directCall = () => withKernel((k) => Effect.flatMap(directServer(k), (port) => Effect.promise(() => microsPerOp(CALLS, (n) => directLoop(k, port, n)))))

/** A null direct call ÷ a null call, timed in alternating rounds on one kernel. */
const directOverNull = () =>
  withKernel((k) =>
    Effect.gen(function* () {
      const direct = yield* directServer(k)
      const { port: echo } = yield* echoServer(k, 0)
      return yield* Effect.promise(() =>
        alternating(
          () => timeOnce(RATIO_CALLS, (n) => directLoop(k, direct, n)),
          () => timeOnce(RATIO_CALLS, (n) => callLoop(k, echo, n, { label: 1 }))
        )
      )
    })
  )

/** Microseconds per typed direct `Add` call. */
const typedDirectCall = () =>
  withKernel((k) => Effect.flatMap(adderServer(k, true), (port) => Effect.promise(() => microsPerOp(CALLS, (n) => typedLoop(k, port, n, true)))))

/** A typed direct call ÷ a typed call to the same server, timed in alternating rounds. */
const typedDirectOverTyped = () =>
  withKernel((k) =>
    Effect.gen(function* () {
      const adder = yield* adderServer(k, true)
      return yield* Effect.promise(() =>
        alternating(
          () => timeOnce(RATIO_CALLS, (n) => typedLoop(k, adder, n, true)),
          () => timeOnce(RATIO_CALLS, (n) => typedLoop(k, adder, n, false))
        )
      )
    })
  )

export const directBenchmarks: ReadonlyArray<Benchmark> = [
  { name: "ipc.direct_call.us", unit: "µs", run: directCall },
  { name: "ipc.direct_call.vs_null_call", unit: "ratio", run: directOverNull },
  { name: "protocol.typed_direct_call.us", unit: "µs", run: typedDirectCall },
  { name: "protocol.typed_direct_call.vs_typed_call", unit: "ratio", run: typedDirectOverTyped }
]
