/**
 * IPC errors. Together with the kernel's capability errors they form `IpcError`, the error channel
 * of every IPC syscall. Each says which side is to blame.
 */
import { Data } from "effect"
import type { InvalidArgument, InvalidCapability, RightsDenied, StaleCapability } from "../kernel/errors.js"
import type { InvalidAddress, OutOfMemory, PageFault } from "../memory/errors.js"

/**
 * The peer process died before the operation completed: the owner of the port or notification
 * (`kind`, `object`: the kernel object's id), or, for a reply, the caller.
 */
export class PeerDied extends Data.TaggedError("PeerDied")<{
  readonly operation: string
  readonly kind: "port" | "notification"
  readonly object: number
  readonly pid: number
  readonly generation: number
}> {
  override get message() {
    return `${this.operation}: peer process ${this.pid} generation ${this.generation} of ${this.kind} ${this.object} died`
  }
}

/** The operation would have to wait and the caller asked it not to. Nothing was sent or received. */
export class WouldBlock extends Data.TaggedError("WouldBlock")<{
  readonly operation: string
  readonly port: number
}> {
  override get message() {
    return `${this.operation}: port ${this.port} would block`
  }
}

/** The message breaks the message schema (sizes, counts, types). The sender is to blame; nothing changed. */
export class InvalidMessage extends Data.TaggedError("InvalidMessage")<{
  readonly operation: string
  readonly reason: string
}> {
  override get message() {
    return `${this.operation}: invalid message: ${this.reason}`
  }
}

/**
 * A copy item held more bytes than the receive window it landed in. Nothing was truncated: the
 * sender gets this error and the receiver is told the true length.
 */
export class MessageTooLarge extends Data.TaggedError("MessageTooLarge")<{
  readonly operation: string
  readonly length: number
  readonly window: number
}> {
  override get message() {
    return `${this.operation}: ${this.length} bytes do not fit the receiver's ${this.window}-byte window`
  }
}

/**
 * The message carries more pages by map and grant items than the receiver accepts (L4's receive
 * window for mappings): nothing was delivered. Receivers declare the pages they accept with the
 * `pages` option of `receive` (and of `call`, for a reply).
 */
export class NotAccepted extends Data.TaggedError("NotAccepted")<{
  readonly operation: string
  readonly pages: number
  readonly accepted: number
}> {
  override get message() {
    return `${this.operation}: the message carries ${this.pages} pages by map or grant, the receiver accepts ${this.accepted}`
  }
}

/** The lease was revoked (the call was answered, or the caller went away). */
export class LeaseRevoked extends Data.TaggedError("LeaseRevoked")<{
  readonly operation: string
}> {
  override get message() {
    return `${this.operation}: the lease has been revoked`
  }
}

/** An access outside the lease's bytes. Nothing was copied. */
export class LeaseOutOfBounds extends Data.TaggedError("LeaseOutOfBounds")<{
  readonly operation: string
  readonly offset: number
  readonly length: number
  readonly leaseLength: number
}> {
  override get message() {
    return `${this.operation}: [${this.offset}, ${this.offset + this.length}) is outside the ${this.leaseLength}-byte lease`
  }
}

/** Every error an IPC syscall can fail with. */
export type IpcError =
  | PeerDied
  | WouldBlock
  | InvalidMessage
  | MessageTooLarge
  | NotAccepted
  | LeaseRevoked
  | LeaseOutOfBounds
  | InvalidCapability
  | StaleCapability
  | RightsDenied
  | InvalidArgument
  | PageFault
  | InvalidAddress
  | OutOfMemory
