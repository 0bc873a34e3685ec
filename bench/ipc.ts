/**
 * IPC benchmarks: a null call/reply, a 256-byte call, and one-way throughput through a bounded
 * port, each between real processes on a booted kernel; and the null call against the floor and
 * against the obvious Effect design, each ratio timed in alternating rounds (`alternating`).
 */
import { Effect, Either } from "effect"
import { Kernel, Port } from "../src/index.js"
import { type Capability, Rights } from "../src/kernel/Capability.js"
import type { KernelCore } from "../src/kernel/Kernel.js"
import { asyncHandoff, onScheduler, queueCall } from "./floor.js"
import { alternating, type Benchmark, timeOnce, microsPerOp, runLoop } from "./harness.js"

/** Boots a kernel of `frames` frames, runs `body` with it, and shuts it down. */
export const withKernel = <A>(body: (k: KernelCore) => Effect.Effect<A, unknown, Kernel.Kernel>, frames = 4096): Promise<A> =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(Kernel.Kernel, body).pipe(Effect.provide(Kernel.layer({ frames })))) as Effect.Effect<A>)

/**
 * An echo's reply, built with `new`: a literal per reply would give V8 an allocation site whose
 * objects survive scavenges (each lives across a hand-off), which it may pretenure — and then the
 * benchmark measures old-space allocation on some runs and not others (as the typed layer's
 * `WireMessage`, see docs/protocols.md).
 */
class Echo implements Port.Message {
  constructor(
    readonly label: number,
    readonly data: Uint8Array
  ) {}
}

/** An echo server on a fresh port: receive, then replyReceive forever, echoing label and data. */
export const echoServer = (k: KernelCore, capacity: number) =>
  Effect.gen(function* () {
    const server = Either.getOrThrow(k.create({ name: "server" }))
    const port = Either.getOrThrow(Port.createFor(server, { capacity }))
    yield* k.start(
      server,
      Effect.gen(function* () {
        let m = yield* Port.receive(port.slot)
        for (;;) m = yield* Port.replyReceive(m.reply!, new Echo(m.label, m.data), port.slot)
      })
    )
    return { server, port }
  })

/** Runs `n` calls of `msg` from a fresh client process through `port`. */
export const callLoop = (k: KernelCore, port: Capability, n: number, msg: Port.Message) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          for (let i = 0; i < n; i++) yield* Port.call(0, msg)
        }),
        { name: "client", caps: [{ cap: port, rights: Rights.send }] }
      )
      yield* client.await
    }).pipe(Effect.provideService(Kernel.Kernel, k))
  )

/** Microseconds per call of `msg` from one client to an echo server. */
const callLatency = (data: Uint8Array | undefined) => () =>
  withKernel((k) =>
    Effect.gen(function* () {
      const { port } = yield* echoServer(k, 0)
      const msg = data === undefined ? { label: 1 } : { label: 1, data }
      return yield* Effect.promise(() => microsPerOp(50_000, (n) => callLoop(k, port, n, msg)))
    })
  )

/** Null calls per batch of a ratio. */
const RATIO_CALLS = 2_000

/**
 * A null call ÷ `other` (one batch: microseconds per operation), timed in alternating rounds
 * against an echo server on one kernel.
 */
const nullCallOver = (other: () => Promise<number>) => () =>
  withKernel((k) =>
    Effect.gen(function* () {
      const { port } = yield* echoServer(k, 0)
      const nullCall = () => timeOnce(RATIO_CALLS, (n) => callLoop(k, port, n, { label: 1 }))
      return yield* Effect.promise(() => alternating(nullCall, other))
    })
  )

/** Messages per second, four senders and one receiver through a capacity-64 port. */
const sendThroughput = () =>
  withKernel((k) =>
    Effect.gen(function* () {
      const receiver = Either.getOrThrow(k.create({ name: "receiver" }))
      const port = Either.getOrThrow(Port.createFor(receiver, { capacity: 64 }))
      yield* k.start(receiver, Effect.forever(Port.receive(port.slot)))
      const us = yield* Effect.promise(() =>
        microsPerOp(200_000, (n) =>
          Effect.runPromise(
            Effect.gen(function* () {
              const senders = yield* Effect.forEach([0, 1, 2, 3], () =>
                Kernel.spawn(
                  Effect.gen(function* () {
                    for (let i = 0; i < n / 4; i++) yield* Port.send(0, { label: i })
                  }),
                  { caps: [{ cap: port, rights: Rights.send }] }
                )
              )
              yield* Effect.forEach(senders, (s) => s.await)
            }).pipe(Effect.provideService(Kernel.Kernel, k))
          )
        )
      )
      return 1e6 / us
    })
  )

export const ipcBenchmarks: ReadonlyArray<Benchmark> = [
  { name: "ipc.null_call.us", unit: "µs", run: callLatency(undefined) },
  { name: "ipc.call_256B.us", unit: "µs", run: callLatency(new Uint8Array(256).fill(1)) },
  { name: "ipc.send.msgs_per_s", unit: "msg/s", run: sendThroughput },
  // Both sides on the kernel scheduler (the floors on one of their own, see floor.ts).
  { name: "ipc.null_call.vs_floor", unit: "ratio", run: nullCallOver(() => timeOnce(RATIO_CALLS, runLoop(onScheduler(asyncHandoff)))) },
  { name: "ipc.null_call.vs_peer", unit: "ratio", run: nullCallOver(() => timeOnce(RATIO_CALLS / 4, runLoop(onScheduler(queueCall)))) }
]
