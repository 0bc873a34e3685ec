/**
 * Client side of the name service: register a port, look a name up, and `Target`s that find a
 * server by name again after it was restarted.
 */
import { Effect } from "effect"
import { Capability, Caps, type IpcError, type Process } from "../../index.js"
import * as Protocol from "../../ipc/Protocol.js"
import { type BadRegistration, NameProtocol, type NameNotFound, type NameTaken, type Unavailable } from "./protocol.js"

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
    Caps.mint(port, Capability.Rights.send | Capability.Rights.grant),
    (offer) => Protocol.client(NameProtocol, names).Register({ name }, { caps: [offer] }),
    (offer) => Effect.ignore(Caps.remove(offer))
  )

/**
 * Looks `name` up: a new slot holding a send capability to its server's port, minted with a badge
 * unique to this lookup, and that badge. Errors: `NameNotFound`, `Unavailable`, and the call's errors
 * (`RightsDenied` when `names` lacks `grant`).
 */
export const lookup = (
  names: number,
  name: string
): Effect.Effect<{ readonly slot: number; readonly badge: number }, LookupError, Process.Process> =>
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
