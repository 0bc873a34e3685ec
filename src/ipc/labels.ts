/**
 * Every label with a meaning of its own, in one place. A label is an integer in `0 ..
 * LABEL_MAX`. The kernel gives it no meaning; the protocol layer splits it into a `SPILLED` bit
 * and the bits below (`LABEL_BITS`: an operation's ordinal in a request, a `Status` in a reply).
 *
 * Reserved labels lie in `RESERVED .. LABEL_BITS`, above every ordinal a protocol can have and
 * with the `SPILLED` bit clear, so a server that reads a reserved label as a request sees an
 * unknown operation, never a spilled payload. `Protocol.make` refuses protocols whose ordinals
 * would reach `RESERVED`.
 */

/** The largest label. */
export const LABEL_MAX = 0x7fff_ffff

/** Set in a label when the payload travels as the message's last copy item (protocol layer). */
export const SPILLED = 0x4000_0000

/** The label bits that carry the ordinal (requests) or the status (replies). */
export const LABEL_BITS = 0x3fff_ffff

/** The first reserved label; protocol ordinals stay below it. */
export const RESERVED = 0x3fff_ff00

/** A one-way message from the kernel announcing a badged client's death (`Port` `disconnects`). */
export const DISCONNECT = 0x3fff_fffe

/** The message `Ring.create` builds to offer a ring to its peer, and the peer's answer. */
export const RING = 0x3fff_fffd

/** The labels the kernel and the libraries reserve, by name. */
export const reserved = { DISCONNECT, RING } as const

/** What a reply's label says about its payload (protocol layer). */
export const Status = {
  /** The operation succeeded; the payload is the encoded success value. */
  ok: 0,
  /** The operation failed with a typed failure; the payload is the encoded failure. */
  failure: 1,
  /** The server could not decode the request; the payload is an encoded `InvalidRequest`. */
  invalidRequest: 2,
  /** The server could not encode its answer; the payload is an encoded `InvalidReply`. */
  invalidReply: 3
} as const
