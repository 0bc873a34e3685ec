/**
 * Typed-protocol benchmarks: a small typed request/response through `Protocol.client` and a
 * `Server.make` worker, and its cost relative to a null call. The ratio is timed in alternating
 * rounds on one kernel (`alternating`: typed calls to the adder, null calls to an echo server, and
 * again): separately measured, the two drift apart by ±30 % on a shared machine, far more than
 * the difference the ratio is about.
 */
import { Effect, Either, Schema } from "effect"
import { Kernel, Port } from "../src/index.js"
import { type Capability, Rights } from "../src/kernel/Capability.js"
import type { KernelCore } from "../src/kernel/Kernel.js"
import * as Protocol from "../src/ipc/Protocol.js"
import * as Server from "../src/lib/Server.js"
import { alternating, type Benchmark, timeOnce, microsPerOp } from "./harness.js"
import { callLoop, echoServer, withKernel } from "./ipc.js"

const Adder = Protocol.make("adder", {
  Add: Protocol.operation({ payload: { a: Schema.Number, b: Schema.Number }, success: { sum: Schema.Number } })
})

const CALLS = 50_000

/** An adder server on a fresh port (serving direct calls too, with `direct`). */
export const adderServer = (k: KernelCore, direct = false) =>
  Effect.gen(function* () {
    const server = Either.getOrThrow(k.create({ name: "adder" }))
    const port = Either.getOrThrow(Port.createFor(server))
    yield* k.start(server, Server.serve(Adder, { Add: ({ a, b }) => Effect.succeed({ sum: a + b }) }, port.slot, { direct }))
    return port
  })

/** Runs `n` typed `Add` calls from a fresh client process (direct calls, with `direct`). */
export const typedLoop = (k: KernelCore, port: Capability, n: number, direct = false) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const adder = Protocol.client(Adder, 0, { direct })
          // One payload object, as ipc.null_call reuses one message: a literal per call
          // stays reachable for the whole call and V8 may pretenure its site (see
          // docs/protocols.md, Costs), which would measure V8's heuristics, not the layer.
          const payload = { a: 20, b: 22 }
          for (let i = 0; i < n; i++) yield* adder.Add(payload)
        }),
        { name: "client", caps: [{ cap: port, rights: Rights.send }] }
      )
      const exit = yield* client.await
      if (exit._tag !== "Exited") throw new Error(`benchmark client ended ${exit._tag}`)
    }).pipe(Effect.provideService(Kernel.Kernel, k))
  )

/** Microseconds per typed `Add` call from one client to a one-worker server. */
const typedCall = () => withKernel((k) => Effect.flatMap(adderServer(k), (port) => Effect.promise(() => microsPerOp(CALLS, (n) => typedLoop(k, port, n)))))

/** Calls per batch of the ratio. */
const RATIO_CALLS = 2_000

/** A typed call ÷ a null call, the two timed in alternating rounds on one kernel. */
const typedOverNull = () =>
  withKernel((k) =>
    Effect.gen(function* () {
      const adder = yield* adderServer(k)
      const { port: echo } = yield* echoServer(k, 0)
      return yield* Effect.promise(() =>
        alternating(
          () => timeOnce(RATIO_CALLS, (n) => typedLoop(k, adder, n)),
          () => timeOnce(RATIO_CALLS, (n) => callLoop(k, echo, n, { label: 1 }))
        )
      )
    })
  )

export const protocolBenchmarks: ReadonlyArray<Benchmark> = [
  { name: "protocol.typed_call.us", unit: "µs", run: typedCall },
  { name: "protocol.typed_call.vs_null_call", unit: "ratio", run: typedOverNull }
]
