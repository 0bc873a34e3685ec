/**
 * Lease syscalls: a server reads and writes the bytes a waiting caller lent it (Hubris
 * `borrow_read`/`borrow_write`/`borrow_info`, QNX `MsgRead`/`MsgWrite`, Minix safecopy). The kernel
 * copies straight between the lender's memory and the server's, page by page, once.
 *
 * | syscall | result | errors |
 * |---|---|---|
 * | `info(lease)` | length and access | `InvalidCapability` (not held by the caller), `LeaseRevoked` |
 * | `read(lease, offset, length, into)` | bytes copied into the caller's memory at `into` | + `LeaseOutOfBounds`, `RightsDenied` (no read access), `PageFault` (either side) |
 * | `write(lease, offset, from, length)` | bytes copied from the caller's memory at `from` | + `LeaseOutOfBounds`, `RightsDenied` (no write access), `PageFault` |
 * | `readBytes(lease, offset, length)` | a copy of the bytes as a `Uint8Array` | as `read` |
 * | `writeBytes(lease, offset, bytes)` | — | as `write` |
 *
 * A lease is byte-granular: no operation reaches a byte outside it. It is revoked when the call
 * is answered or the caller goes away; later use is `LeaseRevoked`. A fault in the lender's
 * memory is returned to the server as an error, never a crash of the server.
 */
import { Either } from "effect"
import type { Effect } from "effect"
import { InvalidCapability, RightsDenied } from "../kernel/errors.js"
import type { Pcb, Process } from "../kernel/Process.js"
import { syscall } from "../kernel/Syscall.js"
import { participant } from "../kernel/Trace.js"
import { copyBetween, type UserBuffer } from "../memory/AddressSpace.js"
import { type IpcError, LeaseOutOfBounds, LeaseRevoked } from "./errors.js"
import { LeaseObject } from "./internal/items.js"
import type { Lease, LeaseAccess } from "./Message.js"

export type { Lease, LeaseAccess } from "./Message.js"

/** Counts `n` bytes copied at `p`'s request, kernel-wide and for `p`. */
const copied = (p: Pcb, n: number, what: string): void => {
  p.kernel.counters.bytesCopied += n
  p.bytesCopied += n
  if (p.kernel.tracer !== undefined)
    p.kernel.tracer.record({
      from: participant(p),
      to: participant(p),
      kind: "kernel",
      text: `${what}: copies ${n} B between the lender's memory and this process's`
    })
}

/** Checks that `p` holds `lease` and that it is live. */
const held = (p: Pcb, lease: Lease, operation: string): Either.Either<LeaseObject, IpcError> => {
  if (!(lease instanceof LeaseObject) || (lease.holder !== p && !lease.revoked)) {
    return Either.left(new InvalidCapability({ slot: -1, operation, reason: "not a lease this process holds" }))
  }
  return lease.revoked ? Either.left(new LeaseRevoked({ operation })) : Either.right(lease)
}

/** Checks that `p` holds a live `lease` allowing `access` over `[offset, offset + length)`; returns the lender's checked bytes. */
const lent = (p: Pcb, l: Lease, offset: number, length: number, access: "read" | "write", operation: string): Either.Either<UserBuffer, IpcError> => {
  const h = held(p, l, operation)
  if (Either.isLeft(h)) return Either.left(h.left)
  const lease = h.right
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > lease.length) {
    return Either.left(new LeaseOutOfBounds({ operation, offset, length, leaseLength: lease.length }))
  }
  if (!lease.allows(access)) {
    return Either.left(new RightsDenied({ slot: -1, operation, needed: [access], held: [lease.access] }))
  }
  p.kernel.counters.leaseOps++
  return lease.space.check(lease.address + offset, length, access)
}

/** The lease's length and access. */
export const info = (lease: Lease): Effect.Effect<{ readonly length: number; readonly access: LeaseAccess }, IpcError, Process> =>
  syscall("lease.info", (p) => Either.map(held(p, lease, "lease.info"), (l) => ({ length: l.length, access: l.access })))

/** Copies `length` lent bytes at `offset` into the caller's memory at `into`. */
export const read = (lease: Lease, offset: number, length: number, into: number): Effect.Effect<number, IpcError, Process> =>
  syscall("lease.read", (p) =>
    Either.flatMap(lent(p, lease, offset, length, "read", "lease.read"), (src) =>
      Either.map(p.space.check(into, length, "write"), (dst) => {
        copied(p, length, "lease.read")
        return copyBetween(src, dst)
      })
    )
  )

/** Copies `length` bytes of the caller's memory at `from` into the lease at `offset`. */
export const write = (lease: Lease, offset: number, from: number, length: number): Effect.Effect<number, IpcError, Process> =>
  syscall("lease.write", (p) =>
    Either.flatMap(p.space.check(from, length, "read"), (src) =>
      Either.map(lent(p, lease, offset, length, "write", "lease.write"), (dst) => {
        copied(p, length, "lease.write")
        return copyBetween(src, dst)
      })
    )
  )

/** Copies lent bytes into a new `Uint8Array` (for small headers and protocol payloads). */
export const readBytes = (lease: Lease, offset: number, length: number): Effect.Effect<Uint8Array, IpcError, Process> =>
  syscall("lease.read", (p) =>
    Either.map(lent(p, lease, offset, length, "read", "lease.readBytes"), (src) => {
      const out = new Uint8Array(length)
      src.space.readInto(src, out)
      copied(p, length, "lease.read")
      return out
    })
  )

/** Copies `bytes` into the lease at `offset`. */
export const writeBytes = (lease: Lease, offset: number, bytes: Uint8Array): Effect.Effect<void, IpcError, Process> =>
  syscall("lease.write", (p) =>
    Either.map(lent(p, lease, offset, bytes.length, "write", "lease.writeBytes"), (dst) => {
      dst.space.writeFrom(dst, bytes)
      copied(p, bytes.length, "lease.write")
    })
  )
