/**
 * The name service's protocol: servers register a send capability to their port under a name;
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
import { Schema } from "effect"
import * as Protocol from "../../ipc/Protocol.js"

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
