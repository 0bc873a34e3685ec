/**
 * Capabilities and capability spaces.
 *
 * A capability is (object, rights, badge). A process names capabilities only by slot number in its
 * own capability space; the `Capability` values themselves never reach user code.
 *
 * Invariants:
 * - A capability sits in at most one slot of one space (`holder`/`slot` say where).
 * - Rights only shrink along the derivation tree: `mint` never adds a right.
 * - A badge is set once: a badged capability can be copied or minted with fewer rights, never
 *   re-badged.
 * - Kernel objects are reached through the small `KernelObject` interface, so this module knows
 *   nothing of ports or notifications.
 */
import { Either } from "effect"
import { attach, type DerivationNode, descendants, detach } from "../memory/derivation.js"
import { ArrayPrototypeIndexOf, filled, NumberIsSafeInteger } from "../primordials.js"
import { describe } from "./boundary.js"
import { InvalidArgument, InvalidCapability, RightsDenied, StaleCapability } from "./errors.js"

/** Capability rights, a bit set. */
export const Rights = {
  send: 1,
  receive: 2,
  grant: 4,
  read: 8,
  write: 16,
  map: 32,
  all: 63
} as const
/** A combination of `Rights` bits. */
export type Rights = number

const rightNames = ["send", "receive", "grant", "read", "write", "map"] as const

/** The names of the bits set in `rights`, for error messages. */
export const rightsToNames = (rights: Rights): Array<string> => rightNames.filter((_, i) => (rights & (1 << i)) !== 0)

/** Builds a rights set from names: `rightsOf("send", "grant")`. */
export const rightsOf = (...names: ReadonlyArray<(typeof rightNames)[number]>): Rights => names.reduce((acc, n) => acc | Rights[n], 0)

/** What a capability can point at: a kernel object with a kind, an id, an owner, and a life. */
export interface KernelObject {
  readonly kind: string
  readonly id: number
  /** The process (pid, generation) whose death ends the object, if any. */
  readonly ownerPid: number
  readonly ownerGeneration: number
  /** True once the object is gone (its owner died or it was destroyed). */
  readonly closed: boolean
  /** Told when a capability to it is deleted because the process holding it died. */
  released?(cap: Capability): void
}

/** One capability. Owned by the kernel; user code only sees its slot number. */
export class Capability implements DerivationNode<Capability> {
  parent: Capability | undefined = undefined
  first: Capability | undefined = undefined
  last: Capability | undefined = undefined
  next: Capability | undefined = undefined
  prev: Capability | undefined = undefined
  /** The space and slot holding it (undefined once deleted). */
  holder: CSpace | undefined = undefined
  slot = -1

  constructor(
    readonly object: KernelObject,
    readonly rights: Rights,
    /** 0 = no badge. */
    readonly badge: number
  ) {}

  /** Whether every bit of `rights` is held. */
  has(rights: Rights): boolean {
    return (this.rights & rights) === rights
  }
}

/** A process's table of capability slots. Mutated only in the kernel's synchronous sections. */
export class CSpace {
  private readonly slots: Array<Capability | undefined>
  private used = 0

  constructor(readonly size: number) {
    this.slots = filled<Capability | undefined>(size, undefined)
  }

  /** Slots in use. */
  get count(): number {
    return this.used
  }

  /** The capability in `slot`, or undefined. No checks of life or rights. */
  peek(slot: number): Capability | undefined {
    return this.slots[slot]
  }

  /**
   * The capability in `slot` for `operation`, or why there is none: the one check of a slot
   * number (an integer naming a slot of this space) and of its being filled. No checks of kind,
   * life or rights.
   */
  at(slot: number, operation: string): Capability | InvalidCapability {
    const valid = NumberIsSafeInteger(slot) && slot >= 0 && slot < this.size
    const cap = valid ? this.slots[slot] : undefined
    if (cap !== undefined) return cap
    if (valid) return new InvalidCapability({ slot, operation, reason: "empty slot" })
    return new InvalidCapability({ slot: typeof slot === "number" ? slot : -1, operation, reason: `no such slot: ${describe(slot)}` })
  }

  /**
   * Looks `slot` up for `operation`: it must hold a live capability with every bit of `rights`.
   * Errors: `InvalidCapability` (bad or empty slot, wrong kind), `StaleCapability` (object's owner
   * died), `RightsDenied`.
   */
  lookup(slot: number, rights: Rights, operation: string, kind?: string): Either.Either<Capability, InvalidCapability | StaleCapability | RightsDenied> {
    const r = this.find(slot, rights, operation, kind)
    return r instanceof Capability ? Either.right(r) : Either.left(r)
  }

  /** `lookup` without the `Either` wrapper, for the IPC fast path. */
  find(slot: number, rights: Rights, operation: string, kind?: string): Capability | InvalidCapability | StaleCapability | RightsDenied {
    const cap = this.at(slot, operation)
    if (!(cap instanceof Capability)) return cap
    const o = cap.object
    if (kind !== undefined && o.kind !== kind) {
      return new InvalidCapability({ slot, operation, reason: `expected a ${kind}, found a ${o.kind}` })
    }
    if (o.closed) {
      return new StaleCapability({ slot, operation, kind: o.kind, id: o.id, pid: o.ownerPid, generation: o.ownerGeneration })
    }
    if ((cap.rights & rights) !== rights) {
      return new RightsDenied({ slot, operation, needed: rightsToNames(rights & ~cap.rights), held: rightsToNames(cap.rights) })
    }
    return cap
  }

  /** Puts `cap` in the lowest free slot. Fails when the space is full. */
  insert(cap: Capability, operation = "insert"): Either.Either<number, InvalidArgument> {
    if (this.used === this.size) {
      return Either.left(new InvalidArgument({ operation, reason: `capability space full (${this.size} slots)` }))
    }
    const slot = ArrayPrototypeIndexOf(this.slots, undefined)
    this.slots[slot] = cap
    cap.holder = this
    cap.slot = slot
    this.used++
    return Either.right(slot)
  }

  /** Whether `n` more capabilities fit. */
  hasRoom(n: number): boolean {
    return this.used + n <= this.size
  }

  /** Empties `cap`'s slot (the capability stays in the derivation tree). */
  private vacate(cap: Capability): void {
    if (cap.holder !== this) return
    this.slots[cap.slot] = undefined
    cap.holder = undefined
    cap.slot = -1
    this.used--
  }

  /** Every capability held, for teardown. */
  all(): Array<Capability> {
    const out: Array<Capability> = []
    for (let i = 0; i < this.slots.length; i++) if (this.slots[i] !== undefined) out[out.length] = this.slots[i]!
    return out
  }

  // --- operations (decode, then invoke) -------------------------------------------------------

  /** A copy of `slot` with the same rights and badge, as its child, in `into` (default: here). */
  copy(slot: number, into: CSpace = this): Either.Either<number, InvalidCapability | StaleCapability | RightsDenied | InvalidArgument> {
    return this.mint(slot, undefined, undefined, into, "copy")
  }

  /**
   * A child of `slot` with `rights` (default: the same) and `badge` (default: the same), in `into`.
   * Errors: `RightsDenied` if `rights` has a bit the source lacks; `InvalidArgument` if the source
   * is already badged with another badge, the badge is not a positive 31-bit integer, or `into` is
   * full.
   */
  mint(
    slot: number,
    rights?: Rights,
    badge?: number,
    into: CSpace = this,
    operation = "mint"
  ): Either.Either<number, InvalidCapability | StaleCapability | RightsDenied | InvalidArgument> {
    return Either.flatMap(this.lookup(slot, 0, operation), (source): Either.Either<number, RightsDenied | InvalidArgument> => {
      const newRights = rights ?? source.rights
      if (!NumberIsSafeInteger(newRights) || newRights < 0 || newRights > Rights.all) {
        return Either.left(new InvalidArgument({ operation, reason: `rights must be an integer subset of ${Rights.all}, got ${describe(newRights)}` }))
      }
      if ((newRights & ~source.rights) !== 0) {
        return Either.left(new RightsDenied({ slot, operation, needed: rightsToNames(newRights & ~source.rights), held: rightsToNames(source.rights) }))
      }
      if (badge !== undefined && (!NumberIsSafeInteger(badge) || badge <= 0 || badge > 0x7fffffff)) {
        return Either.left(new InvalidArgument({ operation, reason: `badge must be an integer in 1..2^31-1, got ${describe(badge)}` }))
      }
      if (badge !== undefined && source.badge !== 0 && badge !== source.badge) {
        return Either.left(new InvalidArgument({ operation, reason: `capability in slot ${slot} is already badged (${source.badge})` }))
      }
      return into.insertChild(source, newRights, badge ?? source.badge, operation)
    })
  }

  /**
   * Puts a new child of `source` with `rights` and `badge` (the caller checked both against
   * `source`) in the lowest free slot here. The one way a derived capability is made: by mint,
   * copy, and the transfer of a capability in a message. Errors: `InvalidArgument` (space full).
   */
  insertChild(source: Capability, rights: Rights, badge: number, operation: string): Either.Either<number, InvalidArgument> {
    const child = new Capability(source.object, rights, badge)
    return Either.map(this.insert(child, operation), (slot) => {
      attach(source, child)
      return slot
    })
  }

  /** Moves the capability in `slot` to `into` (default: here); its place in the tree is kept. */
  move(slot: number, into: CSpace = this): Either.Either<number, InvalidCapability | InvalidArgument> {
    const cap = this.at(slot, "move")
    if (!(cap instanceof Capability)) return Either.left(cap)
    if (into !== this && !into.hasRoom(1)) {
      return Either.left(new InvalidArgument({ operation: "move", reason: `capability space full (${into.size} slots)` }))
    }
    this.vacate(cap)
    return into.insert(cap, "move")
  }

  /** Deletes the capability in `slot`; its children move up to its parent. */
  delete(slot: number): Either.Either<void, InvalidCapability> {
    const cap = this.at(slot, "delete")
    if (!(cap instanceof Capability)) return Either.left(cap)
    this.remove(cap)
    return Either.right(undefined)
  }

  /** Deletes every capability derived from the one in `slot`, in every space. Returns how many. */
  revoke(slot: number): Either.Either<number, InvalidCapability> {
    const cap = this.at(slot, "revoke")
    if (!(cap instanceof Capability)) return Either.left(cap)
    const doomed = descendants(cap)
    for (let i = 0; i < doomed.length; i++) CSpace.removeAnywhere(doomed[i]!)
    return Either.right(doomed.length)
  }

  /** Removes `cap` from this space and from the derivation tree. */
  remove(cap: Capability): void {
    this.vacate(cap)
    detach(cap)
  }

  /** Removes `cap` from whatever space holds it and from the tree. */
  static removeAnywhere(cap: Capability): void {
    if (cap.holder) cap.holder.remove(cap)
    else detach(cap)
  }
}
