/**
 * `npm start`: boots a kernel, runs two processes that share a page, and prints the counters.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Deferred, Effect } from "effect"
import { Kernel, Memory, AddressSpace, Process } from "../index.js"

const TEXT = "hello from the writer, through a shared frame"

const demo = Effect.gen(function* () {
  const kernel = yield* Kernel.Kernel
  const pageReady = yield* Deferred.make<number>()
  const sharedAt = yield* Deferred.make<number>()

  const writer = yield* Kernel.spawn(
    Effect.gen(function* () {
      const page = yield* Memory.allocate(1)
      yield* Memory.write(page, new TextEncoder().encode(TEXT))
      yield* Deferred.succeed(pageReady, page)
      yield* Effect.never
    }),
    { name: "writer" }
  )
  const reader = kernel.create({ name: "reader" })
  const readerPcb = reader._tag === "Right" ? reader.right : yield* Effect.die(reader.left)
  const page = yield* Deferred.await(pageReady)
  const at = yield* kernel.share(writer, page, 1, readerPcb, AddressSpace.PageRights.read)
  yield* Deferred.succeed(sharedAt, at)
  yield* kernel.start(
    readerPcb,
    Effect.gen(function* () {
      const me = yield* Process.self
      const bytes = yield* Memory.read(yield* Deferred.await(sharedAt), TEXT.length)
      yield* Console.log(`${me.name} (pid ${me.pid}) read: "${new TextDecoder().decode(bytes)}"`)
      const fault = yield* Effect.flip(Memory.write(at, new Uint8Array([1])))
      yield* Console.log(`${me.name} writing the read-only page: ${fault.message}`)
    })
  )
  yield* readerPcb.await
  yield* Kernel.kill(writer)
  yield* Console.log("kernel counters:")
  yield* Console.log(JSON.stringify(kernel.stats(), null, 2))
})

demo.pipe(Effect.provide(Kernel.layer({ frames: 1024 })), NodeRuntime.runMain)
