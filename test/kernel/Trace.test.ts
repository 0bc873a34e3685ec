import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Kernel, Lease, Memory, Port, Trace } from "../../src/index.js"
import { boot, serverWithPort } from "../support/kernel.js"

describe("Trace", () => {
  it.effect("a traced call with a lease renders as a Mermaid sequence diagram of the message, the kernel copy and the reply", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      k.tracer = new Trace.Tracer()
      const { server, port } = yield* serverWithPort(0, "fs")
      yield* k.start(
        server,
        Effect.gen(function* () {
          const m = yield* Port.receive(port.slot)
          const store = yield* Memory.allocate(1)
          const lease = m.items[0]!
          if (lease._tag === "lease") yield* Lease.read(lease.lease, 0, lease.length, store)
          yield* Port.reply(m.reply!, { label: 0 })
        })
      )
      const client = yield* Kernel.spawn(
        Effect.gen(function* () {
          const buf = yield* Memory.allocate(1)
          yield* Port.call(0, { label: 7, items: [{ _tag: "lease", address: buf, length: 100, access: "read" }] })
        }),
        { name: "client", caps: [{ cap: port }] }
      )
      yield* client.await
      const text = Trace.toMermaid(k.tracer.events, "write")
      expect(text.split("\n")[0]).toBe("sequenceDiagram")
      expect(text).toContain("client_2->>fs_1: call label 7, lease 100 B read")
      expect(text).toContain("Note over fs_1: kernel: lease.read: copies 100 B")
      expect(text).toContain("fs_1-->>client_2: reply label 0")
    }).pipe(boot)
  )

  it.effect("tracing is off by default", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      expect(k.tracer).toBeUndefined()
    }).pipe(boot)
  )
})
