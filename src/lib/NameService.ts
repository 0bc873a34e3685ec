/**
 * The name service's protocol and its client side: servers register a send capability to their port under a name;
 * clients look a name up and get a capability minted with a badge of their own, so the server can
 * tell its clients apart (DESIGN §7).
 *
 * | operation | request | answer | failures |
 * |---|---|---|---|
 * | `Register` | `{ name }` + 1 capability (a send capability to a port, unbadged) | — | `NameTaken`, `BadRegistration` |
 * | `Lookup` (idempotent) | `{ name }` | `{ badge }` + 1 capability (send, and grant if registered with it) | `NameNotFound`, `Unavailable` |
 * | `Unregister` (idempotent) | `{ name }` | — | `NameNotFound`, `NotOwner` |
 *
 * Registering needs `grant` on the name-service capability (it carries a capability); so does
 * looking up (the answer carries one: seL4's rule for replies).
 */
import { Effect, Schema } from "effect"
import * as Caps from "../kernel/Caps.js"
import { Rights } from "../kernel/Capability.js"
import type * as IpcError from "../ipc/errors.js"
import type * as Process from "../kernel/Process.js"
import * as Protocol from "../ipc/Protocol.js"

/** A service name: 1 to 128 characters. */
export const Name = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))

/** No live server is registered under `name`. */
export class NameNotFound extends Schema.TaggedError<NameNotFound>()("NameNotFound", { name: Schema.String }) {}

/** Another registrant's live server holds `name`. */
export class NameTaken extends Schema.TaggedError<NameTaken>()("NameTaken", { name: Schema.String }) {}

/** The capability offered for `name` is not an unbadged send capability to a port. */
export class BadRegistration extends Schema.TaggedError<BadRegistration>()("BadRegistration", {
  name: Schema.String,
  reason: Schema.String
}) {}

/** Only the registrant (the same badge) may unregister `name`. */
export class NotOwner extends Schema.TaggedError<NotOwner>()("NotOwner", { name: Schema.String }) {}

/** The name service cannot serve the request now (its capability space is full, badges ran out). */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { name: Schema.String, reason: Schema.String }) {}

/** The name service's protocol. */
export const NameProtocol = Protocol.make("names", {
  Register: Protocol.operation({ payload: { name: Name }, caps: 1, failure: Schema.Union(NameTaken, BadRegistration) }),
  Lookup: Protocol.operation({
    payload: { name: Name },
    success: { badge: Schema.Int },
    failure: Schema.Union(NameNotFound, Unavailable),
    replyCaps: true,
    idempotent: true
  }),
  Unregister: Protocol.operation({ payload: { name: Name }, failure: Schema.Union(NameNotFound, NotOwner), idempotent: true })
})

// --- client -------------------------------------------------------------------------------------

/** What resolving a name can fail with. */
export type LookupError = NameNotFound | Unavailable | Protocol.ProtocolError | IpcError.IpcError

/**
 * Registers the port in slot `port` under `name` with the name service in slot `names`. Sends a
 * send+grant capability minted from `port` (never the receive right) and deletes the local copy.
 * Errors: `NameTaken`, `BadRegistration`, and the errors of minting and calling (`RightsDenied`
 * when `names` lacks `grant`).
 */
export const register = (
  names: number,
  name: string,
  port: number
): Effect.Effect<void, NameTaken | BadRegistration | Protocol.ProtocolError | IpcError.IpcError, Process.Process> =>
  Effect.acquireUseRelease(
    Caps.mint(port, Rights.send | Rights.grant),
    (offer) => Protocol.client(NameProtocol, names).Register({ name }, { caps: [offer] }),
    (offer) => Effect.ignore(Caps.remove(offer))
  )

/**
 * Looks `name` up: a new slot holding a send capability to its server's port, minted with a badge
 * unique to this lookup, and that badge. Errors: `NameNotFound`, `Unavailable`, and the call's errors
 * (`RightsDenied` when `names` lacks `grant`).
 */
export const lookup = (names: number, name: string): Effect.Effect<{ readonly slot: number; readonly badge: number }, LookupError, Process.Process> =>
  Effect.flatMap(Protocol.client(NameProtocol, names).Lookup({ name }), ({ value, caps }) =>
    caps.length === 1
      ? Effect.succeed({ slot: caps[0]!, badge: value.badge })
      : Effect.zipRight(
          Protocol.dropCaps(caps),
          Effect.fail(new Protocol.InvalidReply({ protocol: NameProtocol.name, operation: "Lookup", reason: `expected 1 capability, got ${caps.length}` }))
        )
  )

/**
 * A `Protocol.Target` that finds `name` through the name service in slot `names`, caches the
 * capability, and looks the name up again once told the capability is dead.
 */
export const target = (names: number, name: string): Protocol.Target<LookupError> => {
  let cached: number | undefined = undefined
  return {
    resolve: Effect.suspend(() =>
      cached !== undefined
        ? Effect.succeed(cached)
        : Effect.flatMap(lookup(names, name), ({ slot }) => {
            if (cached === undefined) {
              cached = slot
              return Effect.succeed(slot)
            }
            const winner = cached
            return Effect.as(Effect.ignore(Caps.remove(slot)), winner)
          })
    ),
    invalidate: (slot) =>
      Effect.suspend(() => {
        if (cached !== slot) return Effect.void
        cached = undefined
        return Effect.ignore(Caps.remove(slot))
      })
  }
}

/**
 * A typed client of the server registered as `name`: resolved on first use, and again after the
 * server died (idempotent operations are then retried; see `Protocol.client`).
 */
export const client = <Ops extends Protocol.Operations>(
  protocol: Protocol.Protocol<Ops>,
  names: number,
  name: string,
  options: Protocol.ClientOptions = {}
): Protocol.Client<Ops, LookupError> => Protocol.client(protocol, target(names, name), options)
