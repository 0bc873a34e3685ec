import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Capability, Caps, Kernel, Notification, Port } from "../../src/index.js"
import * as Protocol from "../../src/ipc/Protocol.js"
import * as NameService from "../../src/lib/NameService.js"
import * as Server from "../../src/lib/Server.js"
import * as TestKernel from "../../src/root/TestKernel.js"

/** A server that tells each caller the badge it called with. */
const Whoami = Protocol.make("whoami", { Badge: Protocol.operation({ success: Schema.Int, idempotent: true }) })
const whoami = Server.make(Whoami, { Badge: (_, call) => Effect.succeed(call.badge) }, { register: { names: 0, name: "whoami" } })

const boot = Effect.provide(TestKernel.layer())

/** Spawns the name service and a registered `whoami` server; waits until the name resolves. */
const setup = Effect.gen(function* () {
  const names = yield* TestKernel.names()
  const server = yield* Kernel.spawn(whoami, { name: "whoami", caps: [names.grant(7)] })
  yield* TestKernel.run(Effect.retry(NameService.lookup(0, "whoami"), { times: 100 }), { caps: [names.grant()] })
  return { names, server }
})

describe("NameService", () => {
  it.effect("NS-0001 two clients looking up one name get different badges, and the server sees them", () =>
    Effect.gen(function* () {
      const { names } = yield* setup
      const client = TestKernel.run(
        Effect.gen(function* () {
          const found = yield* NameService.lookup(0, "whoami")
          const seen = yield* Protocol.client(Whoami, found.slot).Badge()
          const cap = yield* Caps.inspect(found.slot)
          return { badge: found.badge, seen, capBadge: cap.badge, rights: cap.rights }
        }),
        { caps: [names.grant()] }
      )
      const a = yield* client
      const b = yield* client
      expect(a.badge).not.toBe(b.badge)
      expect(a.seen).toBe(a.badge)
      expect(b.seen).toBe(b.badge)
      expect(a.capBadge).toBe(a.badge)
      expect(a.rights & Capability.Rights.receive).toBe(0)
    }).pipe(boot)
  )

  it.effect("NS-0002 a live server's name is taken; its registrant may re-register; a dead server's name is free", () =>
    Effect.gen(function* () {
      const { names, server } = yield* setup
      const registerOwn = (badge: number) =>
        TestKernel.run(
          Effect.flatMap(Port.create(), (port) => Effect.either(NameService.register(0, "whoami", port))),
          { caps: [names.grant(badge)] }
        )
      const stranger = yield* registerOwn(99)
      expect(stranger._tag === "Left" && stranger.left._tag).toBe("NameTaken")
      yield* Kernel.kill(server)
      const lookup = yield* TestKernel.run(Effect.either(NameService.lookup(0, "whoami")), { caps: [names.grant()] })
      expect(lookup._tag === "Left" && lookup.left._tag).toBe("NameNotFound")
      const taken = yield* registerOwn(99)
      expect(taken._tag).toBe("Right")
    }).pipe(boot)
  )

  it.effect("NS-0003 only an unbadged send capability to a port registers; the offered capability is not kept", () =>
    Effect.gen(function* () {
      const { names } = yield* setup
      const k = yield* Kernel.Kernel
      const nsSlotsBefore = names.process.cspace.count
      const attempt = TestKernel.run(
        Effect.gen(function* () {
          const port = yield* Port.create()
          const badged = yield* Caps.mint(port, Capability.Rights.send | Capability.Rights.grant, 5)
          const notification = yield* Notification.create
          const viaRegister = (slot: number) => Effect.flip(Protocol.client(NameService.NameProtocol, 0).Register({ name: "odd" }, { caps: [slot] }))
          return [yield* viaRegister(badged), yield* viaRegister(notification)]
        }),
        { caps: [names.grant()] }
      )
      const errors = yield* attempt
      expect(errors.map((e) => e._tag)).toEqual(["BadRegistration", "BadRegistration"])
      expect(names.process.cspace.count).toBe(nsSlotsBefore)
      const noGrant = yield* TestKernel.run(Effect.flip(NameService.register(0, "x", 1)), {
        caps: [{ cap: names.port, rights: Capability.Rights.send }, { cap: names.port }]
      })
      expect(noGrant._tag).toBe("RightsDenied")
      expect(k.process(names.process.pid)).toBeDefined()
    }).pipe(boot)
  )

  it.effect("NS-0004 only the registrant unregisters a live server's name", () =>
    Effect.gen(function* () {
      const { names } = yield* setup
      const unregister = (badge: number) =>
        TestKernel.run(Effect.either(Protocol.client(NameService.NameProtocol, 0).Unregister({ name: "whoami" })), {
          caps: [names.grant(badge)]
        })
      const other = yield* unregister(8)
      expect(other._tag === "Left" && other.left._tag).toBe("NotOwner")
      expect((yield* unregister(7))._tag).toBe("Right")
      const gone = yield* TestKernel.run(Effect.either(NameService.lookup(0, "whoami")), { caps: [names.grant()] })
      expect(gone._tag === "Left" && gone.left._tag).toBe("NameNotFound")
    }).pipe(boot)
  )

  it.effect("NS-0005 a client built from a name resolves it once and reuses the capability", () =>
    Effect.gen(function* () {
      const { names } = yield* setup
      const [first, second, slots] = yield* TestKernel.run(
        Effect.gen(function* () {
          const whoamiClient = NameService.client(Whoami, 0, "whoami")
          const first = yield* whoamiClient.Badge()
          const second = yield* whoamiClient.Badge()
          return [first, second, (yield* Caps.usage).used] as const
        }),
        { caps: [names.grant()] }
      )
      expect(first).toBe(second)
      // The name-service capability and one looked-up capability: a single lookup.
      expect(slots).toBe(2)
    }).pipe(boot)
  )
})
