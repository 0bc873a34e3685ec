/**
 * The name service: an ordinary server process that maps names to port capabilities.
 *
 * Invariants:
 * - A registered capability is an unbadged send capability to a port; the service holds it, and
 *   every capability it hands out is minted from it, so revoking or killing the server's port
 *   reaches every client.
 * - Each lookup mints with a fresh badge: no two lookups share one, so a server tells each
 *   client's capability apart (and the badge cannot be forged).
 * - A name whose server died is free: lookups answer `NameNotFound` (and drop the entry), and
 *   anyone may register it again; while its server lives, only the registrant (same badge, not 0)
 *   may replace or unregister it.
 */
import { Effect, Either } from "effect"
import { Caps, NameService, Server } from "../../api.js"

const { BadRegistration, NameNotFound, NameProtocol, NameTaken, NotOwner, Unavailable } = NameService

interface Entry {
  /** The registered capability's slot in the service's space. */
  readonly slot: number
  /** Rights handed out: the registered rights without `receive`. */
  readonly rights: number
  /** Badge of the registrant's name-service capability. */
  readonly owner: number
}

const BADGE_MAX = 0x7fffffff
const handOut = Caps.Rights.send | Caps.Rights.grant

/** Whether the capability in `slot` still names a live object. */
const alive = (slot: number) => Effect.isSuccess(Caps.inspect(slot))

const handlers = Effect.sync((): Server.Handlers<typeof NameProtocol.operations> => {
  // Owned by this server's threads: mutated only between their syscalls.
  const entries = new Map<string, Entry>()
  let nextBadge = 1

  const forget = (name: string, entry: Entry) =>
    Effect.suspend(() => {
      if (entries.get(name) === entry) entries.delete(name)
      return Effect.ignore(Caps.remove(entry.slot))
    })

  return {
    Register: ({ name }, call) =>
      Effect.gen(function* () {
        const offered = call.caps[0]!
        const refuse = <E>(error: E) => Effect.zipRight(Effect.ignore(Caps.remove(offered)), Effect.fail(error))
        const info = yield* Effect.either(Caps.inspect(offered))
        if (Either.isLeft(info)) return yield* refuse(new BadRegistration({ name, reason: info.left.message }))
        const { kind, badge, rights } = info.right
        if (kind !== "port" || badge !== 0 || (rights & Caps.Rights.send) === 0) {
          return yield* refuse(
            new BadRegistration({
              name,
              reason: `need an unbadged send capability to a port, got a ${kind} (badge ${badge}, rights ${Caps.rightsToNames(rights).join("+") || "none"})`
            })
          )
        }
        const existing = entries.get(name)
        if (existing !== undefined) {
          if ((yield* alive(existing.slot)) && (call.badge === 0 || existing.owner !== call.badge)) return yield* refuse(new NameTaken({ name }))
          yield* forget(name, existing)
        }
        entries.set(name, { slot: offered, rights: rights & handOut, owner: call.badge })
      }),

    Lookup: ({ name }) =>
      Effect.gen(function* () {
        const entry = entries.get(name)
        if (entry === undefined) return yield* new NameNotFound({ name })
        if (nextBadge > BADGE_MAX) return yield* new Unavailable({ name, reason: "badges exhausted" })
        const minted = yield* Effect.either(Caps.mint(entry.slot, entry.rights, nextBadge))
        if (Either.isLeft(minted)) {
          if (minted.left._tag === "StaleCapability") {
            yield* forget(name, entry)
            return yield* new NameNotFound({ name })
          }
          return yield* new Unavailable({ name, reason: minted.left.message })
        }
        return { value: { badge: nextBadge++ }, caps: [minted.right] }
      }),

    Unregister: ({ name }, call) =>
      Effect.gen(function* () {
        const entry = entries.get(name)
        if (entry === undefined) return yield* new NameNotFound({ name })
        if ((yield* alive(entry.slot)) && (call.badge === 0 || entry.owner !== call.badge)) return yield* new NotOwner({ name })
        yield* forget(name, entry)
      })
  }
})

/**
 * The name-service program. Serve the port in `options.port` (the root task creates it and hands
 * clients capabilities to it, with `grant`), or a new one. Errors: as `Server.make`.
 */
export const program = (options: Server.ServerOptions<typeof NameProtocol.operations> = {}) => Server.make(NameProtocol, handlers, options)
