/**
 * Messages: a label, inline bytes, capability transfers and (in the bulk layer) transfer items.
 *
 * `messageSchema(config)` is the contract; the syscalls read messages with its hand-written twin,
 * `internal/snapshot.ts`'s `readMessage` (a Schema decode costs ~0.5 µs, too much per message, and
 * would read a getter more than once). A property test keeps the two in agreement.
 */
import { Schema } from "effect"
import type { KernelConfig } from "../params.js"
import { LABEL_MAX } from "./labels.js"

/** What a sender passes to `call`, `send` or `reply`. */
export interface Message {
  /** An operation code or tag; an integer in 0 .. 2^31-1. */
  readonly label: number
  /** Inline bytes, at most `inlineMax`. The kernel copies them at the syscall. */
  readonly data?: Uint8Array
  /** Slots of capabilities to transfer (copied into the receiver's space). Needs `grant`. */
  readonly caps?: ReadonlyArray<number>
  /** Bulk transfer items (at most `maxItems`); see `TransferItem`. */
  readonly items?: ReadonlyArray<TransferItem>
}

/** Access a lease grants to the server. */
export type LeaseAccess = "read" | "write" | "readWrite"

/**
 * A bulk transfer item. Addresses are in the sender's address space.
 * - `copy`: at delivery the kernel copies the bytes into the receiver's next receive window (L4
 *   string items). On a one-way `send` the kernel copies at the syscall instead, and all copy
 *   items of one message together may hold at most `inlineMax` bytes.
 * - `lease`: lends the bytes to the server for the duration of a `call` (Hubris leases); with
 *   `from`, forwards a sub-range of a lease the sender holds, without touching the bytes.
 * - `map`: page-aligned; the receiver gets the same frames with at most `rights`; the sender keeps
 *   them and can revoke the mapping (`Transfer.revoke`). Needs `grant` on the port capability.
 * - `grant`: page-aligned; the frames move to the receiver, zero copy. Needs `grant`.
 */
export type TransferItem =
  | { readonly _tag: "copy"; readonly address: number; readonly length: number }
  | { readonly _tag: "lease"; readonly address: number; readonly length: number; readonly access: LeaseAccess }
  | { readonly _tag: "lease"; readonly from: Lease; readonly offset: number; readonly length: number; readonly access: LeaseAccess }
  | { readonly _tag: "map"; readonly address: number; readonly pages: number; readonly rights: number }
  | { readonly _tag: "grant"; readonly address: number; readonly pages: number }

/** A transfer item as the receiver gets it. Addresses are in the receiver's address space. */
export type DeliveredItem =
  /** `length` bytes landed at `address` (a receive window); `trueLength` is what was sent. */
  | { readonly _tag: "copy"; readonly address: number; readonly length: number; readonly trueLength: number }
  | { readonly _tag: "lease"; readonly lease: Lease; readonly length: number; readonly access: LeaseAccess }
  | { readonly _tag: "map"; readonly address: number; readonly pages: number; readonly rights: number }
  | { readonly _tag: "grant"; readonly address: number; readonly pages: number }

/** A buffer in the receiver's own address space that copy items may land in. */
export interface Window {
  readonly address: number
  readonly length: number
}

/** An opaque lease handle; only the process that received it can use it, until it is revoked. */
export interface Lease {
  readonly _tag: "Lease"
}

/** The message schema for a kernel configuration. */
export const messageSchema = (config: Pick<KernelConfig, "inlineMax" | "maxCaps" | "maxItems">) =>
  Schema.Struct({
    label: Schema.Int.pipe(Schema.between(0, LABEL_MAX)),
    data: Schema.optional(
      Schema.Uint8ArrayFromSelf.pipe(
        Schema.filter((d) => d.length <= config.inlineMax || `inline data is ${d.length} bytes, more than inlineMax ${config.inlineMax}`)
      )
    ),
    caps: Schema.optional(Schema.Array(Schema.Int.pipe(Schema.nonNegative())).pipe(Schema.maxItems(config.maxCaps))),
    items: Schema.optional(Schema.Array(transferItemSchema).pipe(Schema.maxItems(config.maxItems)))
  })

const Address = Schema.Int.pipe(Schema.nonNegative())
const Access = Schema.Literal("read", "write", "readWrite")
const leaseHandle = Schema.declare((u: unknown): u is Lease => typeof u === "object" && u !== null && (u as Lease)._tag === "Lease")

/** The schema of one transfer item. */
export const transferItemSchema = Schema.Union(
  Schema.TaggedStruct("copy", { address: Address, length: Address }),
  Schema.TaggedStruct("lease", { address: Address, length: Address, access: Access }),
  Schema.TaggedStruct("lease", { from: leaseHandle, offset: Address, length: Address, access: Access }),
  Schema.TaggedStruct("map", { address: Address, pages: Schema.Int.pipe(Schema.positive()), rights: Schema.Int.pipe(Schema.between(1, 3)) }),
  Schema.TaggedStruct("grant", { address: Address, pages: Schema.Int.pipe(Schema.positive()) })
)

/** A message as the receiver gets it. */
export interface Received {
  readonly label: number
  /** The kernel's copy of the sender's inline bytes. */
  readonly data: Uint8Array
  /** The badge of the capability the sender used (0 = unbadged). Set by the kernel; cannot be forged. */
  readonly badge: number
  /** Slots in the receiver's space where transferred capabilities landed. */
  readonly caps: ReadonlyArray<number>
  /** For a call: the one-shot reply capability. Undefined for a one-way send (or a call whose caller already failed). */
  readonly reply: Reply | undefined
  /** The message's transfer items, in order, as delivered. */
  readonly items: ReadonlyArray<DeliveredItem>
}

/** What the caller of `call` gets back. */
export interface ReplyMessage {
  readonly label: number
  readonly data: Uint8Array
  /** Slots in the caller's space where capabilities sent with the reply landed. */
  readonly caps: ReadonlyArray<number>
  /** Copy (and map/grant) items of the reply, as delivered into the caller's windows. */
  readonly items: ReadonlyArray<DeliveredItem>
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
