/**
 * Messages: a label, inline bytes, capability transfers and (in the bulk layer) transfer items.
 *
 * `messageSchema(config)` is the contract; `validate` is its hand-written twin used at the syscall
 * boundary (a Schema decode costs ~0.5 µs, too much per message). A property test keeps the two in
 * agreement; when `validate` rejects a message, the Schema's own error text is the reason given.
 */
import { ParseResult, Schema } from "effect"
import type { KernelConfig } from "../params.js"

/** What a sender passes to `call`, `send` or `reply`. */
export interface Message {
  /** An operation code or tag; an integer in 0 .. 2^31-1. */
  readonly label: number
  /** Inline bytes, at most `inlineMax`. The kernel copies them at the syscall. */
  readonly data?: Uint8Array
  /** Slots of capabilities to transfer (copied into the receiver's space). Needs `grant`. */
  readonly caps?: ReadonlyArray<number>
}

/** The largest label. */
export const LABEL_MAX = 0x7fffffff

/** The message schema for a kernel configuration. */
export const messageSchema = (config: Pick<KernelConfig, "inlineMax" | "maxCaps">) =>
  Schema.Struct({
    label: Schema.Int.pipe(Schema.between(0, LABEL_MAX)),
    data: Schema.optional(
      Schema.Uint8ArrayFromSelf.pipe(
        Schema.filter((d) => d.length <= config.inlineMax || `inline data is ${d.length} bytes, more than inlineMax ${config.inlineMax}`)
      )
    ),
    caps: Schema.optional(Schema.Array(Schema.Int.pipe(Schema.nonNegative())).pipe(Schema.maxItems(config.maxCaps)))
  })

const isSlot = (n: unknown) => typeof n === "number" && Number.isInteger(n) && n >= 0

/** The fast check: true when `m` satisfies `messageSchema(config)`. */
export const isValid = (m: unknown, config: Pick<KernelConfig, "inlineMax" | "maxCaps">): m is Message => {
  if (typeof m !== "object" || m === null) return false
  const { label, data, caps } = m as Record<string, unknown>
  if (typeof label !== "number" || !Number.isInteger(label) || label < 0 || label > LABEL_MAX) return false
  if (data !== undefined && !(data instanceof Uint8Array && data.length <= config.inlineMax)) return false
  if (caps !== undefined) {
    if (!Array.isArray(caps) || caps.length > config.maxCaps) return false
    for (const c of caps) if (!isSlot(c)) return false
  }
  return true
}

/** Why `m` is invalid, in the Schema's words (slow path; only called after `isValid` said no). */
export const explain = (m: unknown, config: Pick<KernelConfig, "inlineMax" | "maxCaps">): string => {
  const r = Schema.decodeUnknownEither(messageSchema(config))(m, { errors: "all" })
  return r._tag === "Left" ? ParseResult.TreeFormatter.formatErrorSync(r.left) : "rejected by the kernel's check"
}

/** A message as the receiver gets it. */
export interface Received {
  readonly label: number
  /** The kernel's copy of the sender's inline bytes. */
  readonly data: Uint8Array
  /** The badge of the capability the sender used (0 = unbadged). Set by the kernel; cannot be forged. */
  readonly badge: number
  /** Slots in the receiver's space where transferred capabilities landed. */
  readonly caps: ReadonlyArray<number>
  /** For a call: the one-shot reply capability. Undefined for a one-way send. */
  readonly reply: Reply | undefined
}

/** What the caller of `call` gets back. */
export interface ReplyMessage {
  readonly label: number
  readonly data: Uint8Array
  /** Slots in the caller's space where capabilities sent with the reply landed. */
  readonly caps: ReadonlyArray<number>
}

/**
 * A one-shot reply capability. Opaque: only the process that received the call can use it, once.
 * A server may keep it and answer later, out of order.
 */
export interface Reply {
  readonly _tag: "Reply"
  /** The label of the call it answers. */
  readonly label: number
}
