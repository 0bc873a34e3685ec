/**
 * Leases in the kernel's hands, and the opaque handles their holders get.
 *
 * A `LeaseObject` names a byte range of the lender's address space; only its holder may use it,
 * until it is revoked (at reply, or when the caller goes away), and it dies with every lease
 * forwarded from it. Programs never see the object: a delivered lease item carries a `LeaseHandle`,
 * whose object only the kernel can read (a private field), and which only the kernel can make.
 */
import type { Pcb } from "../../kernel/Process.js"
import type { AddressSpace } from "../../memory/AddressSpace.js"
import type { Lease, LeaseAccess } from "../Message.js"

/** Passed to `LeaseHandle`'s constructor by the kernel alone. */
const KERNEL: unique symbol = Symbol("kernel")
let objectBehind: (handle: unknown) => LeaseObject | undefined

/** A lease as its holder sees it: opaque. Use it with the `Lease` syscalls, or forward it with `{ _tag: "lease", from }`. */
export class LeaseHandle implements Lease {
  readonly _tag = "Lease"
  readonly #lease: LeaseObject
  /** @internal Throws a `TypeError` unless called by the kernel. */
  constructor(token: typeof KERNEL, lease: LeaseObject) {
    if (token !== KERNEL) throw new TypeError("a lease handle is made by the kernel only")
    this.#lease = lease
  }
  static {
    objectBehind = (handle) => (typeof handle === "object" && handle !== null && #lease in handle ? (handle as LeaseHandle).#lease : undefined)
  }
}

/** The lease behind a handle, or undefined when `handle` is not one the kernel made. */
export const leaseOf = (handle: unknown): LeaseObject | undefined => objectBehind(handle)

/** A lease: a byte range of the lender's memory, usable by its holder until revoked. */
export class LeaseObject {
  revoked = false
  /** The process that may use it (set at delivery). */
  holder: Pcb | undefined = undefined
  readonly children: Array<LeaseObject> = []
  /** What the holder holds. */
  readonly handle: LeaseHandle

  constructor(
    readonly space: AddressSpace,
    readonly address: number,
    readonly length: number,
    readonly access: LeaseAccess
  ) {
    this.handle = new LeaseHandle(KERNEL, this)
  }

  /** Revokes this lease and every lease forwarded from it. */
  revoke(): void {
    if (this.revoked) return
    this.revoked = true
    this.holder = undefined
    for (let i = 0; i < this.children.length; i++) this.children[i]!.revoke()
  }

  /** Whether `access` is within this lease's access. */
  allows(access: "read" | "write"): boolean {
    return this.access === "readWrite" || this.access === access
  }
}
