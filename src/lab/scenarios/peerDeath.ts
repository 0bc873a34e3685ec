/** Trace scenario: a server dies while one client is being served and another waits; both get `PeerDied`. */
import { Effect, Either } from "effect"
import * as Kernel from "../../kernel/Kernel.js"
import { participant, toMermaid, Tracer } from "../../kernel/Trace.js"
import * as Port from "../../ipc/Port.js"
import { onFreshKernel } from "../Harness.js"

/** The Mermaid diagram of a server killed with one caller served and one queued. */
export const peerDeath: Effect.Effect<string> = Effect.suspend(() => {
  const tracer = new Tracer()
  return onFreshKernel({ frames: 256 }, (k) =>
    Effect.gen(function* () {
      k.tracer = tracer
      const server = Either.getOrThrow(k.create({ name: "server" }))
      const port = Either.getOrThrow(Port.createFor(server, { capacity: 1 }))
      yield* k.start(server, Effect.zipRight(Port.receive(port.slot), Effect.never))
      const callers = yield* Effect.forEach([1, 2], (i) =>
        Kernel.spawn(Effect.either(Port.call(0, { label: i })), { name: `client${i}`, caps: [{ cap: port }] })
      )
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      tracer.record({ from: "root", to: participant(server), kind: "message", text: "kill" })
      yield* Kernel.kill(server)
      for (const c of callers) {
        const exit = yield* c.await
        const outcome = exit._tag === "Exited" ? (exit.value as Either.Either<unknown, { _tag: string }>) : undefined
        const who = participant(c)
        tracer.record({
          from: who,
          to: who,
          kind: "kernel",
          text: `call fails with ${outcome !== undefined && Either.isLeft(outcome) ? outcome.left._tag : "?"}`
        })
      }
      return toMermaid(tracer.events, "peer death: the server is killed with one caller served and one queued")
    })
  )
})
