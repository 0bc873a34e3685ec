/**
 * IPC errors. Together with the kernel's capability errors they form `IpcError`, the error channel
 * of every IPC syscall. Each says which side is to blame.
 */
import { Data } from "effect"
import type { InvalidArgument, InvalidCapability, RightsDenied, StaleCapability } from "../kernel/errors.js"

/** The peer process (the port's server, or the caller) died before the operation completed. */
export class PeerDied extends Data.TaggedError("PeerDied")<{
  readonly operation: string
  readonly port: number
  readonly pid: number
  readonly generation: number
}> {
  override get message() {
    return `${this.operation}: peer process ${this.pid} generation ${this.generation} of port ${this.port} died`
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

/** Every error an IPC syscall can fail with. */
export type IpcError = PeerDied | WouldBlock | InvalidMessage | InvalidCapability | StaleCapability | RightsDenied | InvalidArgument
