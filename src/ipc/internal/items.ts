/**
 * Transfer items in the kernel's hands: checked and committed at the send syscall (`prepare`),
 * delivered at accept (`deliver`), and disposed of when their message dies undelivered.
 *
 * Invariants:
 * - Decode, then invoke: `prepare` checks every item of the snapshot (`snapshot.ts`) before it
 *   changes anything, and `deliver` decides everything it depends on (windows, quotas, pages the
 *   receiver accepts, virtual room) before it moves a byte or a page. Neither invoke half can fail.
 * - A map item in transit holds one reference on each frame; a grant in transit either still sits
 *   in its sender's table (delivered in the same synchronous section) or was taken out of it with
 *   its references and mapping nodes (`takeGrants`). Delivery or `discard` drops or places them.
 * - A lease never reaches a byte outside its range, and dies (with its sub-leases) when revoked.
 * - Only page-aligned ranges are mapped or granted; partial pages travel by copy or lease (see
 *   `Transfer.plan`), so no receiver ever sees a neighbour's bytes.
 * - A receiver gets pages by map or grant only up to what it declared it accepts (L4's receive
 *   window for mappings); a message carrying more is refused as a whole (`NotAccepted`).
 * - Granting moves the charge only for frames charged to the sender: a page it had by a map stays
 *   charged to its owner, and stays in the owner's mapping database.
 */
import { Either } from "effect"
import { InvalidArgument, RightsDenied } from "../../kernel/errors.js"
import type { KernelCore } from "../../kernel/Kernel.js"
import type { Pcb } from "../../kernel/Process.js"
import { participant } from "../../kernel/Trace.js"
import { AddressSpace, copyBetween, type TakenRun } from "../../memory/AddressSpace.js"
import { detach } from "../../memory/derivation.js"
import { InvalidAddress, OutOfMemory } from "../../memory/errors.js"
import { PAGE_SIZE } from "../../params.js"
import { filled, MathMax } from "../../primordials.js"
import { InvalidMessage, type IpcError, LeaseOutOfBounds, LeaseRevoked, MessageTooLarge, NotAccepted } from "../errors.js"
import type { DeliveredItem, LeaseAccess } from "../Message.js"
import { type LeaseHandle, LeaseObject } from "./lease.js"
import type { Item, WindowSnapshot } from "./snapshot.js"

/*
 * Items in transit and delivered items live as long as their message: across fiber switches, and
 * often across a scavenge. V8 pretenures the allocation site of an object or array literal whose
 * objects keep surviving scavenges, and from then on every message's items are allocated in old
 * space: about twice the cost of a transfer, on and off from one run to the next. So these are
 * built with `new` and their arrays by `new Array(n)`, which has no literal site.
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

/** A map item in transit: its frames, each with a transit reference, and where they came from. */
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
 * queued (`taken` undefined): delivered in the same synchronous section, they move table to
 * table; a message that has to wait takes them out first (`takeGrants`), so the sender loses them
 * at the send either way.
 */
export class Grant {
  readonly kind = "grant"
  taken: TakenRun | undefined = undefined
  constructor(
    readonly from: AddressSpace,
    readonly first: number,
    readonly pages: number
  ) {}
}

/** An item committed at the send syscall. */
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
    readonly lease: LeaseHandle,
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

/** The fault of the first page of `[address, address + pages pages)` that lacks `rights`, if any. */
const pagesPresent = (space: AddressSpace, address: number, pages: number, rights: number): IpcError | undefined => {
  const vpn = space.lacking(address / PAGE_SIZE, pages, rights)
  if (vpn < 0) return undefined
  const at = vpn * PAGE_SIZE
  return space.faultAt(at, PAGE_SIZE, (rights & 2) !== 0 ? "write" : "read") ?? space.faultAt(at, PAGE_SIZE, "read")
}

/** Whether `[a, a + n)` and `[b, b + m)` overlap. */
const overlap = (a: number, n: number, b: number, m: number): boolean => a < b + m && b < a + n

/**
 * Checks a message's items (a snapshot: kernel-owned values) for `p`, then, only if all are
 * valid, commits their send-side effects: one-way copies taken, leases made, map frames pinned.
 * Grants are only recorded: their pages leave the sender at delivery or when the message queues.
 */
export const prepare = (p: Pcb, items: ReadonlyArray<Item>, ctx: PrepareContext): Array<Prepared> | IpcError => {
  const k = p.kernel
  const space = p.space
  const op = ctx.operation
  const oneWay = !ctx.isCall && !ctx.isReply
  let asyncCopyBytes = 0
  // --- decode ---
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    switch (item.kind) {
      case "copy": {
        // A reply is delivered at once: its copies are checked at delivery, window first (`decide`).
        if (ctx.isReply) break
        const fault = space.faultAt(item.address, item.length, "read")
        if (fault) return fault
        if (oneWay) asyncCopyBytes += item.length
        break
      }
      case "lease": {
        if (!ctx.isCall) return new InvalidMessage({ operation: op, reason: "leases need a waiting caller: send them with call, not send or reply" })
        const fault =
          (item.access !== "write" ? space.faultAt(item.address, item.length, "read") : undefined) ??
          (item.access !== "read" ? space.faultAt(item.address, item.length, "write") : undefined)
        if (fault) return fault
        break
      }
      case "forward": {
        if (!ctx.isCall) return new InvalidMessage({ operation: op, reason: "leases need a waiting caller: send them with call, not send or reply" })
        const from = item.lease
        if (from.revoked) return new LeaseRevoked({ operation: op })
        if (from.holder !== p) return new InvalidArgument({ operation: op, reason: `items[${i}].from: not a lease this process holds` })
        if (item.offset + item.length > from.length) {
          return new LeaseOutOfBounds({ operation: op, offset: item.offset, length: item.length, leaseLength: from.length })
        }
        if (item.access !== from.access && from.access !== "readWrite") {
          return new RightsDenied({ slot: ctx.slot, operation: op, needed: [item.access], held: [from.access] })
        }
        break
      }
      case "map":
      case "grant": {
        if (!ctx.mayGrant) return new RightsDenied({ slot: ctx.slot, operation: op, needed: ["grant"], held: [] })
        if (item.address % PAGE_SIZE !== 0) {
          return new InvalidAddress({
            address: item.address,
            length: item.pages * PAGE_SIZE,
            operation: op,
            reason: "map and grant items must be page-aligned"
          })
        }
        // A grant gives the pages away whole (read and write): only pages the sender may write qualify,
        // so a page shared with it read-only can never be granted on and written.
        const fault = pagesPresent(space, item.address, item.pages, item.kind === "map" ? item.rights : 3)
        if (fault) return fault
        if (item.kind === "grant") {
          for (let j = 0; j < i; j++) {
            const other = items[j]!
            if (other.kind === "grant" && overlap(item.address, item.pages * PAGE_SIZE, other.address, other.pages * PAGE_SIZE)) {
              return new InvalidMessage({ operation: op, reason: `grant items overlap at page 0x${MathMax(item.address, other.address).toString(16)}` })
            }
          }
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
  const out = new Array<Prepared>(items.length)
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    switch (item.kind) {
      case "copy": {
        let bytes: Uint8Array | undefined = undefined
        if (oneWay) {
          bytes = new Uint8Array(item.length)
          space.readInto(Either.getOrThrow(space.check(item.address, item.length, "read")), bytes)
          k.counters.bytesCopied += item.length
          p.bytesCopied += item.length
        }
        out[i] = new PreparedCopy(item.address, item.length, bytes)
        break
      }
      case "lease":
        k.counters.leases++
        out[i] = new PreparedLease(new LeaseObject(space, item.address, item.length, item.access))
        break
      case "forward": {
        const from = item.lease
        const lease = new LeaseObject(from.space, from.address + item.offset, item.length, item.access)
        from.children[from.children.length] = lease
        k.counters.leases++
        out[i] = new PreparedLease(lease)
        break
      }
      case "map":
        out[i] = new PreparedMap(space.retainRun(item.address / PAGE_SIZE, item.pages), item.rights, space, item.address / PAGE_SIZE)
        break
      case "grant":
        out[i] = new Grant(space, item.address / PAGE_SIZE, item.pages)
        break
    }
  }
  return out
}

/** What delivery produced: the receiver's items, and an error for the sender if delivery was refused. */
export class Delivery {
  constructor(
    readonly items: ReadonlyArray<DeliveredItem>,
    readonly error: IpcError | undefined
  ) {}
}

/** Where a message's items will be delivered: the receiver's windows and the pages it accepts. */
export interface Destination {
  readonly windows: ReadonlyArray<WindowSnapshot> | undefined
  /** Pages the receiver accepts by map and grant items in one message. */
  readonly pages: number
}

/** Frames of a grant charged to its sender (the ones whose charge moves to the receiver). */
const grantCharge = (g: Grant): number => {
  if (g.taken === undefined) return g.from.chargedIn(g.first, g.pages, g.from.account)
  const m = g.from.memory
  let n = 0
  for (let i = 0; i < g.taken.frames.length; i++) if (m.owner(g.taken.frames[i]!) === g.from.account) n++
  return n
}

/**
 * Decides whether `prepared` can be delivered into `receiver` as a whole: every copy fits its
 * window, which the receiver may write, and its source is still readable and not among the pages
 * granted by the same message; the pages fit what the receiver accepts and its quota; each map or
 * grant finds virtual room. Returns the refusal, or the regions reserved for the maps and grants.
 */
const decide = (receiver: Pcb, sender: AddressSpace, prepared: ReadonlyArray<Prepared>, to: Destination, operation: string): IpcError | Array<number> => {
  let w = 0
  let pages = 0
  let charged = 0
  for (let i = 0; i < prepared.length; i++) {
    const item = prepared[i]!
    if (item.kind === "copy") {
      const window = to.windows?.[w++]
      if (window === undefined || item.length > window.length || receiver.space.faultAt(window.address, item.length, "write") !== undefined) {
        return new MessageTooLarge({ operation, length: item.length, window: window?.length ?? 0 })
      }
      if (item.bytes === undefined) {
        const fault = sender.faultAt(item.address, item.length, "read")
        if (fault) return fault
        for (let j = 0; j < prepared.length; j++) {
          const g = prepared[j]!
          if (g.kind === "grant" && g.from === sender && overlap(item.address, item.length, g.first * PAGE_SIZE, g.pages * PAGE_SIZE)) {
            return (
              sender.faultAt(MathMax(item.address, g.first * PAGE_SIZE), 1, "read") ??
              new InvalidMessage({ operation, reason: "a copy item reads pages the same message grants" })
            )
          }
        }
      }
    } else if (item.kind === "map") {
      pages += item.frames.length
    } else if (item.kind === "grant") {
      pages += item.pages
      charged += grantCharge(item)
    }
  }
  if (pages > to.pages) return new NotAccepted({ operation, pages, accepted: to.pages })
  if (charged > 0) {
    const m = receiver.kernel.memory
    const room = m.quota(receiver.account) - m.charged(receiver.account)
    if (charged > room) return new OutOfMemory({ account: receiver.account, requested: charged, available: MathMax(0, room), reason: "quota" })
  }
  if (pages === 0) return NO_REGIONS
  const regions = filled(prepared.length, -1)
  for (let i = 0; i < prepared.length; i++) {
    const item = prepared[i]!
    if (item.kind !== "map" && item.kind !== "grant") continue
    const r = receiver.space.reserveGuarded(item.kind === "map" ? item.frames.length : item.pages)
    if (Either.isLeft(r)) {
      for (let j = 0; j < i; j++) if (regions[j]! >= 0) receiver.space.unreserveGuarded(regions[j]!)
      return r.left
    }
    regions[i] = r.right
  }
  return regions
}
const NO_REGIONS: Array<number> = []

/**
 * Delivers prepared items into `receiver`: copies land in the windows in order, leases get their
 * holder, maps and grants land in fresh regions between guard pages. All or nothing: when
 * delivery is refused (`decide`), nothing moves, the items are disposed of, the sender gets the
 * error and the receiver is told the true lengths of the copies.
 */
export const deliver = (receiver: Pcb, sender: AddressSpace, prepared: ReadonlyArray<Prepared>, to: Destination, operation: string): Delivery => {
  const k = receiver.kernel
  const decided = decide(receiver, sender, prepared, to, operation)
  if (!Array.isArray(decided)) {
    discard(k, prepared)
    const told: Array<DeliveredItem> = []
    let w = 0
    for (let i = 0; i < prepared.length; i++) {
      const item = prepared[i]!
      if (item.kind === "copy") told[told.length] = new Copied(to.windows?.[w++]?.address ?? 0, 0, item.length)
    }
    return new Delivery(told, decided)
  }
  const regions = decided
  const items = new Array<DeliveredItem>(prepared.length)
  let w = 0
  for (let i = 0; i < prepared.length; i++) {
    const item = prepared[i]!
    switch (item.kind) {
      case "copy": {
        const window = to.windows![w++]!
        const target = Either.getOrThrow(receiver.space.check(window.address, item.length, "write"))
        if (item.bytes !== undefined) receiver.space.writeFrom(target, item.bytes)
        else copyBetween(Either.getOrThrow(sender.check(item.address, item.length, "read")), target)
        k.counters.bytesCopied += item.length
        receiver.bytesCopied += item.length
        if (k.tracer !== undefined)
          k.tracer.record({ from: participant(receiver), to: participant(receiver), kind: "kernel", text: `copies ${item.length} B into the receive window` })
        items[i] = new Copied(window.address, item.length, item.length)
        break
      }
      case "lease":
        item.lease.holder = receiver
        items[i] = new Lent(item.lease.handle, item.lease.length, item.lease.access)
        break
      case "map": {
        // The transit references pass to the page table; the new pages join the origin's mapping database.
        const address = regions[i]!
        receiver.space.installGuarded(address, item.frames, item.rights)
        AddressSpace.recordMap(item.from, item.first, item.frames, receiver.space, address / PAGE_SIZE)
        k.counters.pagesMapped += item.frames.length
        if (k.tracer !== undefined)
          k.tracer.record({ from: participant(receiver), to: participant(receiver), kind: "kernel", text: `maps ${item.frames.length} shared pages` })
        items[i] = new Mapped(address, item.frames.length, item.rights)
        break
      }
      case "grant": {
        const address = regions[i]!
        const taken = item.taken
        if (taken === undefined) {
          receiver.space.moveInto(address, item.from, item.first, item.pages)
        } else {
          receiver.space.installGuarded(address, taken.frames, 3, taken.nodes)
          Either.getOrThrow(k.memory.recharge(taken.frames, receiver.account, taken.frames.length, item.from.account))
        }
        k.counters.pagesGranted += item.pages
        if (k.tracer !== undefined)
          k.tracer.record({ from: participant(receiver), to: participant(receiver), kind: "kernel", text: `moves ${item.pages} granted pages, 0 B copied` })
        items[i] = new Granted(address, item.pages)
        break
      }
    }
  }
  return new Delivery(items, undefined)
}

/**
 * Reverses the delivery of map and grant items into `receiver`, for a message its receiver never
 * saw (it was interrupted first): their pages leave its regions and travel again, so the message
 * can go to the next receiver. Copies and leases need nothing (they are delivered again).
 */
export const undeliver = (receiver: Pcb, prepared: ReadonlyArray<Prepared>, delivered: ReadonlyArray<DeliveredItem>): ReadonlyArray<Prepared> => {
  let pages = false
  for (let i = 0; i < prepared.length; i++) if (prepared[i]!.kind === "map" || prepared[i]!.kind === "grant") pages = true
  if (!pages) return prepared
  const out = new Array<Prepared>(prepared.length)
  for (let i = 0; i < prepared.length; i++) {
    const item = prepared[i]!
    const d = delivered[i]
    if (item.kind === "map" && d?._tag === "map") {
      const taken = receiver.space.takeRun(d.address / PAGE_SIZE, d.pages)
      receiver.space.unreserveGuarded(d.address)
      // The receiver's pages leave the origin's mapping database (they had no children yet); the
      // next delivery records new ones.
      if (taken.nodes !== undefined) for (let j = 0; j < taken.nodes.length; j++) if (taken.nodes[j] !== undefined) detach(taken.nodes[j]!)
      out[i] = new PreparedMap(taken.frames, item.rights, item.from, item.first)
    } else if (item.kind === "grant" && d?._tag === "grant") {
      const taken = receiver.space.takeRun(d.address / PAGE_SIZE, d.pages)
      receiver.space.unreserveGuarded(d.address)
      Either.getOrThrow(receiver.kernel.memory.recharge(taken.frames, item.from.account, taken.frames.length, receiver.account))
      const g = new Grant(item.from, item.first, item.pages)
      g.taken = taken
      out[i] = g
    } else {
      out[i] = item
    }
  }
  return out
}

/** Puts taken grant pages back where they came from if that space still has room, else frees them. */
const restore = (k: KernelCore, space: AddressSpace, first: number, taken: TakenRun): void => {
  for (let i = 0; i < taken.frames.length; i++) {
    const f = taken.frames[i]!
    const node = taken.nodes?.[i]
    // Fails if the origin was freed or reused; then the release frees the frame.
    space.mapPage(first + i, f, 3, node)
    k.memory.release(f)
  }
}

/** Disposes of the items of a message that will never be delivered. */
export const discard = (k: KernelCore, prepared: ReadonlyArray<Prepared>): void => {
  for (let i = 0; i < prepared.length; i++) {
    const item = prepared[i]!
    if (item.kind === "lease") item.lease.revoke()
    else if (item.kind === "map") for (let j = 0; j < item.frames.length; j++) k.memory.release(item.frames[j]!)
    else if (item.kind === "grant" && item.taken !== undefined) restore(k, item.from, item.first, item.taken)
  }
}

/**
 * Takes the pages of the grants among `prepared` out of their senders' tables, for a message that
 * will wait in a queue: from here on the sender cannot touch them, and its death cannot free them.
 */
export const takeGrants = (prepared: ReadonlyArray<Prepared>): void => {
  for (let i = 0; i < prepared.length; i++) {
    const item = prepared[i]!
    if (item.kind === "grant" && item.taken === undefined) item.taken = item.from.takeRun(item.first, item.pages)
  }
}

/** Revokes the leases among `prepared` (at reply, or when the caller goes away). */
export const revokeLeases = (prepared: ReadonlyArray<Prepared>): void => {
  for (let i = 0; i < prepared.length; i++) {
    const item = prepared[i]!
    if (item.kind === "lease") item.lease.revoke()
  }
}
