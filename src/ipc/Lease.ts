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
import { byteLength, int, Refusal } from "../kernel/boundary.js"
import { InvalidArgument, InvalidCapability, RightsDenied } from "../kernel/errors.js"
import type { Pcb, Process } from "../kernel/Process.js"
import { syscall } from "../kernel/Syscall.js"
import { participant } from "../kernel/Trace.js"
import { copyBetween, type UserBuffer } from "../memory/AddressSpace.js"
import { type IpcError, LeaseOutOfBounds, LeaseRevoked } from "./errors.js"
import { type LeaseObject, leaseOf } from "./internal/lease.js"
import type { Lease, LeaseAccess } from "./Message.js"

export type { Lease, LeaseAccess } from "./Message.js"

/** Largest offset or length a program can name. */
const BYTES_MAX = 2 ** 32

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

/** Checks that `p` holds `handle`'s lease and that it is live. */
const held = (p: Pcb, handle: unknown, operation: string): Either.Either<LeaseObject, IpcError> => {
  const lease = leaseOf(handle)
  if (lease === undefined || (lease.holder !== p && !lease.revoked)) {
    return Either.left(new InvalidCapability({ slot: -1, operation, reason: "not a lease this process holds" }))
  }
  return lease.revoked ? Either.left(new LeaseRevoked({ operation })) : Either.right(lease)
}

/** An integer argument of a lease syscall (an offset, a length, an address), or `InvalidArgument` naming it. */
const arg = (v: unknown, name: string, operation: string): number | InvalidArgument => {
  const n = int(v, name, 0, BYTES_MAX)
  return n instanceof Refusal ? new InvalidArgument({ operation, reason: n.text }) : n
}

/** Checks that `p` holds a live lease allowing `access` over `[offset, offset + length)`; returns the lender's checked bytes. */
const lent = (p: Pcb, l: unknown, offset: number, length: number, access: "read" | "write", operation: string): Either.Either<UserBuffer, IpcError> => {
  const h = held(p, l, operation)
  if (Either.isLeft(h)) return Either.left(h.left)
  const lease = h.right
  if (offset + length > lease.length) {
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
  syscall("lease.read", (p) => {
    const o = arg(offset, "offset", "lease.read")
    const n = arg(length, "length", "lease.read")
    const to = arg(into, "into", "lease.read")
    if (o instanceof InvalidArgument) return Either.left(o)
    if (n instanceof InvalidArgument) return Either.left(n)
    if (to instanceof InvalidArgument) return Either.left(to)
    return Either.flatMap(lent(p, lease, o, n, "read", "lease.read"), (src) =>
      Either.map(p.space.check(to, n, "write"), (dst) => {
        copied(p, n, "lease.read")
        return copyBetween(src, dst)
      })
    )
  })

/** Copies `length` bytes of the caller's memory at `from` into the lease at `offset`. */
export const write = (lease: Lease, offset: number, from: number, length: number): Effect.Effect<number, IpcError, Process> =>
  syscall("lease.write", (p) => {
    const o = arg(offset, "offset", "lease.write")
    const at = arg(from, "from", "lease.write")
    const n = arg(length, "length", "lease.write")
    if (o instanceof InvalidArgument) return Either.left(o)
    if (at instanceof InvalidArgument) return Either.left(at)
    if (n instanceof InvalidArgument) return Either.left(n)
    return Either.flatMap(p.space.check(at, n, "read"), (src) =>
      Either.map(lent(p, lease, o, n, "write", "lease.write"), (dst) => {
        copied(p, n, "lease.write")
        return copyBetween(src, dst)
      })
    )
  })

/** Copies lent bytes into a new `Uint8Array` (for small headers and protocol payloads). */
export const readBytes = (lease: Lease, offset: number, length: number): Effect.Effect<Uint8Array, IpcError, Process> =>
  syscall("lease.read", (p) => {
    const o = arg(offset, "offset", "lease.readBytes")
    const n = arg(length, "length", "lease.readBytes")
    if (o instanceof InvalidArgument) return Either.left(o)
    if (n instanceof InvalidArgument) return Either.left(n)
    return Either.map(lent(p, lease, o, n, "read", "lease.readBytes"), (src) => {
      const out = new Uint8Array(n)
      src.space.readInto(src, out)
      copied(p, n, "lease.read")
      return out
    })
  })

/** Copies `bytes` (a `Uint8Array`) into the lease at `offset`. */
export const writeBytes = (lease: Lease, offset: number, bytes: Uint8Array): Effect.Effect<void, IpcError, Process> =>
  syscall("lease.write", (p) => {
    const o = arg(offset, "offset", "lease.writeBytes")
    if (o instanceof InvalidArgument) return Either.left(o)
    const n = byteLength(bytes, "bytes", BYTES_MAX)
    if (n instanceof Refusal) return Either.left(new InvalidArgument({ operation: "lease.writeBytes", reason: n.text }))
    return Either.map(lent(p, lease, o, n, "write", "lease.writeBytes"), (dst) => {
      dst.space.writeFrom(dst, bytes)
      copied(p, n, "lease.write")
    })
  })
