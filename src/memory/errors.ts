/**
 * The memory model's recoverable errors: faults on access, malformed addresses and exhausted
 * frames, quotas or address space. Each names the address or account and the operation; nothing
 * was changed when one is returned.
 */
import { Data } from "effect"

/**
 * The frame allocator or an account's quota cannot satisfy a request. Nothing was allocated.
 * `reason` is `"frames"` when the machine is out of frames, `"quota"` when the account is at its
 * quota, `"virtual"` when an address space has no free range that large.
 */
export class OutOfMemory extends Data.TaggedError("OutOfMemory")<{
  readonly account: number
  readonly requested: number
  readonly available: number
  readonly reason: "frames" | "quota" | "virtual"
}> {
  override get message() {
    return `out of memory (${this.reason}): account ${this.account} asked for ${this.requested}, ${this.available} available`
  }
}

/** The kind of access that faulted. */
export type Access = "read" | "write"

/** A process touched an unmapped page, or wrote a page it may only read. Nothing was changed. */
export class PageFault extends Data.TaggedError("PageFault")<{
  readonly address: number
  readonly access: Access
  readonly reason: "unmapped" | "protection"
}> {
  override get message() {
    return `page fault: ${this.access} at 0x${this.address.toString(16)} (${this.reason})`
  }
}

/** An address or range that is not what the operation needs (not a region start, misaligned, out of range). */
export class InvalidAddress extends Data.TaggedError("InvalidAddress")<{
  readonly address: number
  readonly length: number
  readonly operation: string
  readonly reason: string
}> {
  override get message() {
    return `${this.operation}: invalid address 0x${this.address.toString(16)} (+${this.length}): ${this.reason}`
  }
}
