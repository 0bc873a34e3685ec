/**
 * Typed-protocol benchmarks: a small typed request/response through `Protocol.client` and a
 * `Server.make` worker, and its cost relative to the null call measured in the same run.
 */
import { Effect, Either, Schema } from "effect"
import { Kernel, Port } from "../src/index.js"
import { Rights } from "../src/kernel/Capability.js"
import * as Protocol from "../src/ipc/Protocol.js"
import * as Server from "../src/servers/Server.js"
import { type Benchmark, microsPerOp } from "./harness.js"
import { withKernel } from "./ipc.js"

const Adder = Protocol.make("adder", {
  Add: Protocol.operation({ payload: { a: Schema.Number, b: Schema.Number }, success: { sum: Schema.Number } })
})

/** Microseconds per typed `Add` call from one client to a one-worker server. */
const typedCall = () =>
  withKernel((k) =>
    Effect.gen(function* () {
      const server = Either.getOrThrow(k.create({ name: "adder" }))
      const port = Either.getOrThrow(Port.createFor(server))
      yield* k.start(server, Server.serve(Adder, { Add: ({ a, b }) => Effect.succeed({ sum: a + b }) }, port.slot))
      return yield* Effect.promise(() =>
        microsPerOp(50_000, (n) =>
          Effect.runPromise(
            Effect.gen(function* () {
              const client = yield* Kernel.spawn(
                Effect.gen(function* () {
                  const adder = Protocol.client(Adder, 0)
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
        )
      )
    })
  )

export const protocolBenchmarks: ReadonlyArray<Benchmark> = [
  { name: "protocol.typed_call.us", unit: "µs", run: typedCall },
  {
    name: "protocol.typed_call.vs_null_call",
    unit: "ratio",
    run: async (ctx) => (await ctx.measure("protocol.typed_call.us")) / (await ctx.measure("ipc.null_call.us"))
  }
]
