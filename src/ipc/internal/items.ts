/**
 * Transfer items in the kernel's hands: decoded at the send syscall, delivered at accept, and
 * disposed of when their message dies undelivered.
 *
 * Invariants:
 * - Decode, then invoke: `prepare` checks every item before it changes anything (a grant unmaps
 *   its pages only once the whole message is known to be valid).
 * - A map or grant item in transit holds one reference on each frame, so its pages cannot vanish
 *   between send and delivery; delivery or `discard` drops those references.
 * - A lease never reaches a byte outside its range, and dies (with its sub-leases) when revoked.
 * - The receiver of an unaligned buffer's pages never exists: only page-aligned ranges are mapped
 *   or granted; partial pages travel by copy or lease (see `Transfer.plan`).
 */
import { Either } from "effect"
import { InvalidArgument, RightsDenied } from "../../kernel/errors.js"
import type { KernelCore } from "../../kernel/Kernel.js"
import type { Pcb } from "../../kernel/Process.js"
import { participant } from "../../kernel/Trace.js"
import { recordMappings } from "./mappings.js"
import { type AddressSpace, copyBetween, isPageAligned } from "../../memory/AddressSpace.js"
import { InvalidAddress, OutOfMemory } from "../../memory/errors.js"
import { PAGE_SHIFT, PAGE_SIZE } from "../../params.js"
import { InvalidMessage, type IpcError, LeaseOutOfBounds, LeaseRevoked, MessageTooLarge } from "../errors.js"
import type { DeliveredItem, Lease, LeaseAccess, TransferItem, Window } from "../Message.js"

/** A lease: a byte range of the lender's memory, usable by its holder until revoked. */
export class LeaseObject implements Lease {
  readonly _tag = "Lease"
  revoked = false
  /** The process that may use it (set at delivery). */
  holder: Pcb | undefined = undefined
  readonly children: Array<LeaseObject> = []

  constructor(
    readonly space: AddressSpace,
    readonly address: number,
    readonly length: number,
    readonly access: LeaseAccess
  ) {}

  /** Revokes this lease and every lease forwarded from it. */
  revoke(): void {
    if (this.revoked) return
    this.revoked = true
    this.holder = undefined
    for (const c of this.children) c.revoke()
  }

  /** Whether `access` is within this lease's access. */
  allows(access: "read" | "write"): boolean {
    return this.access === "readWrite" || this.access === access
  }
}

/*
 * Items in transit and delivered items live as long as their message: across fiber switches, and
 * often across a scavenge. V8 pretenures the allocation site of an object or array literal whose
 * objects keep surviving scavenges, and from then on every message's items are allocated in old
 * space: about twice the cost of a transfer, on and off from one run to the next. So these are
 * built with `new` and their arrays by builtins (`map`, `filter`), which have no allocation site.
 */

/** A copy item in transit: read from the sender at delivery, or its bytes taken at a one-way send. */
export class PreparedCopy {
  readonly kind = "copy"
  constructor(
    readonly address: number,
    readonly length: number,
    readonly bytes: Uint8Array | undefined
  ) {}
}

/** A lease in transit. */
export class PreparedLease {
  readonly kind = "lease"
  constructor(readonly lease: LeaseObject) {}
}

/** A map item in transit: its frames, each with a transit reference. */
export class PreparedMap {
  readonly kind = "map"
  constructor(
    readonly frames: ReadonlyArray<number>,
    readonly rights: number,
    readonly from: AddressSpace,
    readonly first: number
  ) {}
}

/**
 * A grant in transit. Its pages stay in the sender's table until the message is delivered or
 * queued (`frames` undefined): delivered in the same synchronous section, they move table to
 * table; a message that has to wait takes them out first (`takeGrants`), so the sender loses them
 * at the send either way.
 */
export class Grant {
  readonly kind = "grant"
  frames: ReadonlyArray<number> | undefined = undefined
  constructor(
    readonly from: AddressSpace,
    readonly first: number,
    readonly pages: number
  ) {}
}

/** An item decoded at the send syscall. */
export type Prepared = PreparedCopy | PreparedLease | PreparedMap | Grant

/** Delivered items, as the receiver sees them (`DeliveredItem`). */
class Copied {
  readonly _tag = "copy"
  constructor(
    readonly address: number,
    readonly length: number,
    readonly trueLength: number
  ) {}
}
class Lent {
  readonly _tag = "lease"
  constructor(
    readonly lease: LeaseObject,
    readonly length: number,
    readonly access: LeaseAccess
  ) {}
}
class Mapped {
  readonly _tag = "map"
  constructor(
    readonly address: number,
    readonly pages: number,
    readonly rights: number
  ) {}
}
class Granted {
  readonly _tag = "grant"
  constructor(
    readonly address: number,
    readonly pages: number
  ) {}
}

/** How `prepare` is asked to decode. */
export interface PrepareContext {
  readonly operation: string
  /** Leases and delivery-time copies need a waiting caller. */
  readonly isCall: boolean
  /** Leases make no sense in a reply. */
  readonly isReply: boolean
  /** Whether the capability used carries `grant` (needed for map and grant items). */
  readonly mayGrant: boolean
  readonly slot: number
}

const aligned = (address: number, pages: number, operation: string): InvalidAddress | undefined =>
  isPageAligned(address)
    ? undefined
    : new InvalidAddress({ address, length: pages << PAGE_SHIFT, operation, reason: "map and grant items must be page-aligned" })

/** Checks every page of `[address, address + pages pages)` is present with `rights`: the fault it would take otherwise. */
const pagesPresent = (space: AddressSpace, address: number, pages: number, rights: number): IpcError | undefined => {
  const vpn = space.lacking(address >>> PAGE_SHIFT, pages, rights)
  if (vpn < 0) return undefined
  const at = vpn * PAGE_SIZE
  return space.faultAt(at, PAGE_SIZE, (rights & 2) !== 0 ? "write" : "read") ?? space.faultAt(at, PAGE_SIZE, "read")
}

/**
 * Decodes a message's items for `p`, then (only if all are valid) commits their send-side
 * effects: async copies are taken, leases made, map frames pinned, grant pages unmapped.
 */
export const prepare = (p: Pcb, items: ReadonlyArray<TransferItem>, ctx: PrepareContext): Array<Prepared> | IpcError => {
  const k = p.kernel
  const space = p.space
  const op = ctx.operation
  let asyncCopyBytes = 0
  const granted: Array<{ readonly first: number; readonly pages: number }> = []
  // --- decode ---
  for (const item of items) {
    switch (item._tag) {
      case "copy": {
        const fault = space.faultAt(item.address, item.length, "read")
        if (fault) return fault
        if (!ctx.isCall && !ctx.isReply) asyncCopyBytes += item.length
        break
      }
      case "lease": {
        if (!ctx.isCall) return new InvalidMessage({ operation: op, reason: "leases need a waiting caller: send them with call, not send or reply" })
        if ("from" in item) {
          const from = item.from
          if (from instanceof LeaseObject && from.revoked) return new LeaseRevoked({ operation: op })
          if (!(from instanceof LeaseObject) || from.holder !== p) {
            return new InvalidArgument({ operation: op, reason: "forwarded lease is not one this process holds" })
          }
          if (item.offset + item.length > from.length) {
            return new LeaseOutOfBounds({ operation: op, offset: item.offset, length: item.length, leaseLength: from.length })
          }
          if (item.access !== from.access && from.access !== "readWrite") {
            return new RightsDenied({ slot: ctx.slot, operation: op, needed: [item.access], held: [from.access] })
          }
        } else {
          const fault =
            (item.access !== "write" ? space.faultAt(item.address, item.length, "read") : undefined) ??
            (item.access !== "read" ? space.faultAt(item.address, item.length, "write") : undefined)
          if (fault) return fault
        }
        break
      }
      case "map":
      case "grant": {
        if (!ctx.mayGrant) return new RightsDenied({ slot: ctx.slot, operation: op, needed: ["grant"], held: [] })
        const bad = aligned(item.address, item.pages, op)
        if (bad) return bad
        // A grant gives the pages away whole (read and write): only pages the sender may write qualify,
        // so a page shared with it read-only can never be granted on and written.
        const rights = item._tag === "map" ? item.rights : 3
        const fault = pagesPresent(space, item.address, item.pages, rights)
        if (fault) return fault
        if (item._tag === "grant") {
          const first = item.address >>> PAGE_SHIFT
          for (const g of granted) {
            if (first < g.first + g.pages && g.first < first + item.pages) {
              return new InvalidMessage({ operation: op, reason: `grant items overlap at page 0x${(Math.max(first, g.first) << PAGE_SHIFT).toString(16)}` })
            }
          }
          granted.push({ first, pages: item.pages })
        }
        break
      }
    }
  }
  if (asyncCopyBytes > k.config.inlineMax) {
    return new InvalidMessage({
      operation: op,
      reason: `copy items on a one-way send are copied into the kernel and may hold at most inlineMax (${k.config.inlineMax}) bytes in all, got ${asyncCopyBytes}; send bulk data by grant, or use call`
    })
  }
  // --- invoke ---
  return items.map((item): Prepared => {
    switch (item._tag) {
      case "copy": {
        let bytes: Uint8Array | undefined = undefined
        if (!ctx.isCall && !ctx.isReply) {
          bytes = new Uint8Array(item.length)
          space.readInto(Either.getOrThrow(space.check(item.address, item.length, "read")), bytes)
          k.counters.bytesCopied += item.length
          p.bytesCopied += item.length
        }
        return new PreparedCopy(item.address, item.length, bytes)
      }
      case "lease": {
        let lease: LeaseObject
        if ("from" in item) {
          const from = item.from as LeaseObject
          lease = new LeaseObject(from.space, from.address + item.offset, item.length, item.access)
          from.children.push(lease)
        } else {
          lease = new LeaseObject(space, item.address, item.length, item.access)
        }
        k.counters.leases++
        return new PreparedLease(lease)
      }
      case "map":
        return new PreparedMap(space.retainRun(item.address >>> PAGE_SHIFT, item.pages), item.rights, space, item.address >>> PAGE_SHIFT)
      case "grant":
        return new Grant(space, item.address >>> PAGE_SHIFT, item.pages)
    }
  })
}

/** What delivery produced: the receiver's items, and an error for the sender if any item failed. */
export class Delivery {
  constructor(
    readonly items: ReadonlyArray<DeliveredItem>,
    readonly error: IpcError | undefined
  ) {}
}

/**
 * Delivers prepared items into `receiver`: copies land in `windows` in order, leases get their
 * holder, maps and grants get fresh regions. A copy that does not fit its window is not copied;
 * the receiver sees its true length and the sender gets `MessageTooLarge`.
 */
export const deliver = (
  receiver: Pcb,
  sender: AddressSpace,
  prepared: ReadonlyArray<Prepared>,
  windows: ReadonlyArray<Window> | undefined,
  operation: string
): Delivery => {
  const k = receiver.kernel
  // Copies read the sender's memory now: granted pages must be gone from it first, as they would
  // be had the message waited in a queue.
  if (prepared.length > 1 && prepared.some((i) => i.kind === "grant") && prepared.some((i) => i.kind === "copy" && i.bytes === undefined)) takeGrants(prepared)
  // All or nothing: if a copy does not fit its window, or the receiver cannot be charged for
  // granted pages, nothing is delivered; the receiver is told the true lengths of the copies.
  const refusal = refuse(receiver, prepared, windows, operation)
  if (refusal !== undefined) {
    discard(k, prepared)
    const told = prepared.flatMap((item, i): Array<DeliveredItem> =>
      item.kind === "copy" ? [new Copied(windows?.[copyIndex(prepared, i)]?.address ?? 0, 0, item.length)] : []
    )
    return new Delivery(told, refusal)
  }
  let error: IpcError | undefined = undefined
  let w = 0
  const items = prepared.map((item): DeliveredItem | undefined => {
    switch (item.kind) {
      case "copy": {
        const window = windows![w++]!
        const target = Either.getOrThrow(receiver.space.check(window.address, item.length, "write"))
        if (item.bytes !== undefined) {
          receiver.space.writeFrom(target, item.bytes)
        } else {
          const source = sender.check(item.address, item.length, "read")
          if (Either.isLeft(source)) {
            error ??= source.left
            return new Copied(window.address, 0, item.length)
          }
          copyBetween(source.right, target)
        }
        k.counters.bytesCopied += item.length
        receiver.bytesCopied += item.length
        if (k.tracer !== undefined)
          k.tracer.record({ from: participant(receiver), to: participant(receiver), kind: "kernel", text: `copies ${item.length} B into the receive window` })
        return new Copied(window.address, item.length, item.length)
      }
      case "lease":
        item.lease.holder = receiver
        return new Lent(item.lease, item.lease.length, item.lease.access)
      case "map": {
        // A fresh region between two unmapped guard pages: an overrun faults instead of running
        // into the receiver's other memory. The transit references pass to the page table.
        const mapped = receiver.space.mapGuarded(item.frames, item.rights)
        if (Either.isLeft(mapped)) {
          for (const f of item.frames) k.memory.release(f)
          error ??= mapped.left
          return undefined
        }
        const at = mapped.right
        recordMappings(item.from, item.first, item.frames, receiver.space, at >>> PAGE_SHIFT)
        k.counters.pagesMapped += item.frames.length
        if (k.tracer !== undefined)
          k.tracer.record({ from: participant(receiver), to: participant(receiver), kind: "kernel", text: `maps ${item.frames.length} shared pages` })
        return new Mapped(at, item.frames.length, item.rights)
      }
      case "grant": {
        const taken = item.frames
        const moved = taken === undefined ? receiver.space.moveGuarded(item.from, item.first, item.pages) : receiver.space.mapGuarded(taken, 3)
        if (Either.isLeft(moved)) {
          if (taken !== undefined) restore(k, item.from, item.first, taken)
          error ??= moved.left
          return undefined
        }
        if (taken !== undefined) Either.getOrThrow(k.memory.recharge(taken, receiver.account))
        k.counters.pagesGranted += item.pages
        if (k.tracer !== undefined)
          k.tracer.record({ from: participant(receiver), to: participant(receiver), kind: "kernel", text: `moves ${item.pages} granted pages, 0 B copied` })
        return new Granted(moved.right, item.pages)
      }
    }
  })
  return new Delivery(error === undefined ? (items as Array<DeliveredItem>) : items.filter((i) => i !== undefined), error)
}

/** The index among copy items of item `i`. */
const copyIndex = (prepared: ReadonlyArray<Prepared>, i: number): number => {
  let n = 0
  for (let j = 0; j < i; j++) if (prepared[j]!.kind === "copy") n++
  return n
}

/** Why delivery must be refused as a whole, if it must: a copy too large for its window, or a grant over the receiver's quota. */
const refuse = (receiver: Pcb, prepared: ReadonlyArray<Prepared>, windows: ReadonlyArray<Window> | undefined, operation: string): IpcError | undefined => {
  let w = 0
  let grantPages = 0
  for (const item of prepared) {
    if (item.kind === "copy") {
      const window = windows?.[w++]
      const fits = window !== undefined && item.length <= window.length && receiver.space.faultAt(window.address, item.length, "write") === undefined
      if (!fits) return new MessageTooLarge({ operation, length: item.length, window: window?.length ?? 0 })
    } else if (item.kind === "grant") {
      grantPages += item.pages
    }
  }
  if (grantPages > 0) {
    const m = receiver.kernel.memory
    const room = m.quota(receiver.account) - m.charged(receiver.account)
    if (grantPages > room) return new OutOfMemory({ account: receiver.account, requested: grantPages, available: Math.max(0, room), reason: "quota" })
  }
  return undefined
}

/** Puts granted frames back where they came from if that space still has room, else frees them. */
const restore = (k: KernelCore, space: AddressSpace, first: number, frames: ReadonlyArray<number>): void => {
  frames.forEach((f, i) => {
    space.mapPage(first + i, f, 3) // fails if the origin was freed or reused; then the release frees the frame
    k.memory.release(f)
  })
}

/** Disposes of the items of a message that will never be delivered. */
export const discard = (k: KernelCore, prepared: ReadonlyArray<Prepared>): void => {
  for (const item of prepared) {
    if (item.kind === "lease") item.lease.revoke()
    else if (item.kind === "map") for (const f of item.frames) k.memory.release(f)
    else if (item.kind === "grant" && item.frames !== undefined) restore(k, item.from, item.first, item.frames)
  }
}

/**
 * Takes the pages of the grants among `prepared` out of their senders' tables, for a message that
 * will wait in a queue: from here on the sender cannot touch them, and its death cannot free them.
 */
export const takeGrants = (prepared: ReadonlyArray<Prepared>): void => {
  for (const item of prepared) if (item.kind === "grant" && item.frames === undefined) item.frames = item.from.takeRun(item.first, item.pages)
}

/** Revokes the leases among `prepared` (at reply, or when the caller goes away). */
export const revokeLeases = (prepared: ReadonlyArray<Prepared>): void => {
  for (const item of prepared) if (item.kind === "lease") item.lease.revoke()
}
