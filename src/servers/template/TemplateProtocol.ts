/**
 * TEMPLATE — copy this folder to start a server (see docs/servers.md). This file is the
 * protocol: the contract clients and the server share. Keep it apart from the implementation
 * (Hubris `idl/*.idol`): clients import only this file.
 *
 * The example: a tally per client. Each client (told apart by its capability's badge) adds to
 * its own total, up to a limit.
 *
 * | operation | request | answer | failures |
 * |---|---|---|---|
 * | `Add` | `{ amount }` (a positive integer) | `{ total }` | `Overflow` |
 * | `Total` (idempotent) | — | `{ total }` | — |
 * | `Reset` (idempotent) | — | — | — |
 */
import { Schema } from "effect"
import { Protocol } from "../../api.js"

/** The most a client's total may reach. */
export const LIMIT = 1_000_000

/** Adding `amount` would take the total past `limit`; nothing was added. */
export class Overflow extends Schema.TaggedError<Overflow>()("Overflow", { total: Schema.Int, amount: Schema.Int, limit: Schema.Int }) {}

/** The protocol. Append new operations at the end: ordinals are the wire labels. */
export const TemplateProtocol = Protocol.make("template", {
  Add: Protocol.operation({
    payload: { amount: Schema.Int.pipe(Schema.positive()) },
    success: { total: Schema.Int },
    failure: Overflow
  }),
  Total: Protocol.operation({ success: { total: Schema.Int }, idempotent: true }),
  Reset: Protocol.operation({ idempotent: true })
})
