import { Effect, Either } from "effect"
import { Kernel, Port } from "../src/index.js"
import { Rights } from "../src/kernel/Capability.js"

const N = 200000
const prog = Effect.gen(function* () {
  const k = yield* Kernel.Kernel
  const server = Either.getOrThrow(k.create({ name: "server" }))
  const port = Either.getOrThrow(Port.createFor(server, { capacity: 0 }))
  yield* k.start(server, Effect.gen(function* () {
    let m = yield* Port.receive(port.slot)
    for (;;) m = yield* Port.replyReceive(m.reply!, { label: m.label }, port.slot)
  }))
  const t0 = performance.now()
  const c = yield* Kernel.spawn(Effect.gen(function* () {
    for (let i = 0; i < N; i++) yield* Port.call(0, { label: 1 })
  }), { caps: [{ cap: port, rights: Rights.send }] })
  yield* c.await
  console.log(((performance.now() - t0) * 1000 / N).toFixed(2), "us/call")
})
Effect.runPromise(Effect.scoped(prog.pipe(Effect.provide(Kernel.layer({ frames: 1024 })))))
