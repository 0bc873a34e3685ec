import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Kernel } from "../../src/index.js"
import { KvProtocol } from "../../src/servers/kv/KvProtocol.js"
import { handlers } from "../../src/servers/kv/KvServer.js"
import * as TestKernel from "../../src/root/TestKernel.js"
import { settle } from "../support/kernel.js"

const boot = Effect.provide(TestKernel.layer())

describe("kv server", () => {
  it.effect("KV-0001 Put then Get; each change bumps the version, an unchanged Put does not", () =>
    Effect.gen(function* () {
      const kv = yield* TestKernel.serve(KvProtocol, handlers())
      const seen = yield* TestKernel.withClient(kv, (c) =>
        Effect.gen(function* () {
          const v1 = yield* c.Put({ key: "a", value: "1" })
          const again = yield* c.Put({ key: "a", value: "1" })
          const v2 = yield* c.Put({ key: "a", value: "2" })
          return [v1.version, again.version, v2.version, yield* c.Get({ key: "a" })] as const
        })
      )
      expect(seen).toEqual([1, 1, 2, { value: "2", version: 2 }])
    }).pipe(boot)
  )

  it.effect("KV-0002 a missing key is NoSuchKey; Delete says whether it existed; a re-created key's version keeps growing", () =>
    Effect.gen(function* () {
      const kv = yield* TestKernel.serve(KvProtocol, handlers())
      const seen = yield* TestKernel.withClient(kv, (c) =>
        Effect.gen(function* () {
          const missing = yield* Effect.flip(c.Get({ key: "nope" }))
          yield* c.Put({ key: "k", value: "v" })
          const first = yield* c.Delete({ key: "k" })
          const second = yield* c.Delete({ key: "k" })
          const recreated = yield* c.Put({ key: "k", value: "w" })
          return [missing._tag, first.existed, second.existed, recreated.version] as const
        })
      )
      expect(seen).toEqual(["NoSuchKey", true, false, 2])
    }).pipe(boot)
  )

  it.effect("KV-0003 CompareAndSet creates at version 0, updates at the current version, and refuses a stale one", () =>
    Effect.gen(function* () {
      const kv = yield* TestKernel.serve(KvProtocol, handlers())
      const seen = yield* TestKernel.withClient(kv, (c) =>
        Effect.gen(function* () {
          const created = yield* c.CompareAndSet({ key: "x", version: 0, value: "a" })
          const updated = yield* c.CompareAndSet({ key: "x", version: created.version, value: "b" })
          const stale = yield* Effect.flip(c.CompareAndSet({ key: "x", version: created.version, value: "c" }))
          return [created.version, updated.version, stale, yield* c.Get({ key: "x" })] as const
        })
      )
      expect(seen.slice(0, 2)).toEqual([1, 2])
      expect(seen[2]).toMatchObject({ _tag: "VersionMismatch", key: "x", expected: 1, actual: 2 })
      expect(seen[3]).toEqual({ value: "b", version: 2 })
    }).pipe(boot)
  )

  it.effect("KV-0004 a value and a listing longer than inlineMax travel spilled and arrive intact", () =>
    Effect.gen(function* () {
      const kv = yield* TestKernel.serve(KvProtocol, handlers())
      const big = "ü".repeat(5000)
      const keys = Array.from({ length: 200 }, (_, i) => `user/${String(i).padStart(3, "0")}`)
      const [value, listed] = yield* TestKernel.withClient(kv, (c) =>
        Effect.gen(function* () {
          yield* c.Put({ key: "big", value: big })
          yield* Effect.forEach(keys, (key) => c.Put({ key, value: "" }), { discard: true })
          return [yield* c.Get({ key: "big" }), yield* c.List({ prefix: "user/" })] as const
        })
      )
      expect(value.value).toBe(big)
      expect(listed).toEqual(keys)
      expect((yield* Kernel.stats).bytesCopied).toBeGreaterThan(2 * 10_000)
    }).pipe(boot)
  )

  it.effect("KV-0005 Watch keeps the call until the key changes; a delete ends it with NoSuchKey", () =>
    Effect.gen(function* () {
      const kv = yield* TestKernel.serve(KvProtocol, handlers())
      yield* TestKernel.withClient(kv, (c) => c.Put({ key: "w", value: "0" }))
      const changed = yield* Effect.fork(TestKernel.withClient(kv, (c) => c.Watch({ key: "w", after: 1 })))
      const born = yield* Effect.fork(TestKernel.withClient(kv, (c) => c.Watch({ key: "later", after: 0 })))
      const deleted = yield* Effect.fork(TestKernel.withClient(kv, (c) => Effect.flip(c.Watch({ key: "w", after: 5 }))))
      yield* settle
      expect(kv.counters.operations.Watch.deferred).toBe(3)
      yield* TestKernel.withClient(kv, (c) => Effect.zipRight(c.Put({ key: "w", value: "1" }), c.Put({ key: "later", value: "here" })))
      expect(yield* Fiber.join(changed)).toEqual({ value: "1", version: 2 })
      expect(yield* Fiber.join(born)).toEqual({ value: "here", version: 1 })
      yield* TestKernel.withClient(kv, (c) => c.Delete({ key: "w" }))
      expect((yield* Fiber.join(deleted))._tag).toBe("NoSuchKey")
      // A watch already satisfied is answered at once.
      expect(yield* TestKernel.withClient(kv, (c) => c.Watch({ key: "later", after: 0 }))).toEqual({ value: "here", version: 1 })
    }).pipe(boot)
  )

  it.effect("KV-0006 at maxKeys a new key is StoreFull; existing keys still change", () =>
    Effect.gen(function* () {
      const kv = yield* TestKernel.serve(KvProtocol, handlers({ maxKeys: 2 }))
      const seen = yield* TestKernel.withClient(kv, (c) =>
        Effect.gen(function* () {
          yield* c.Put({ key: "a", value: "1" })
          yield* c.Put({ key: "b", value: "1" })
          const full = yield* Effect.flip(c.Put({ key: "c", value: "1" }))
          const changed = yield* c.Put({ key: "a", value: "2" })
          return [full._tag, changed.version, yield* c.List({ prefix: "" })] as const
        })
      )
      expect(seen).toEqual(["StoreFull", 2, ["a", "b"]])
    }).pipe(boot)
  )
})
