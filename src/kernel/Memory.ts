/**
 * Memory syscalls: what a process can do with its own address space.
 *
 * Every argument is read once and must be an integer in range (a `Uint8Array` for `write`):
 * anything else is `InvalidAddress` naming the argument, and nothing happens.
 *
 * | syscall | result | errors |
 * |---|---|---|
 * | `allocate(pages, rights?)` | address of a fresh zeroed region | `OutOfMemory` (quota, frames, virtual), `InvalidAddress` (bad count) |
 * | `free(address)` | the page count of the region containing `address`, now unmapped | `InvalidAddress` (not a page-aligned address in a region) |
 * | `read(address, length)` | a copy of the bytes | `PageFault`, `InvalidAddress` |
 * | `write(address, bytes)` | — | `PageFault` (nothing written), `InvalidAddress` |
 * | `protect(address, pages, rights)` | — | `InvalidAddress` (misaligned, or not inside one region) |
 * | `copy(from, to, length)` | — (memmove within the caller's memory) | `PageFault`, `InvalidAddress` |
 */
import type { Effect } from "effect"
import { Either } from "effect"
import { copyBetween, PageRights } from "../memory/AddressSpace.js"
import { InvalidAddress, type OutOfMemory, type PageFault } from "../memory/errors.js"
import { VIRTUAL_PAGES } from "../params.js"
import { byteLength, int, Refusal } from "./boundary.js"
import type { Process } from "./Process.js"
import { syscall } from "./Syscall.js"

export { PageRights } from "../memory/AddressSpace.js"

/** Largest address, and largest length, a program can name (a 32-bit address space). */
const ADDRESS_MAX = 2 ** 32

/** An integer argument in `min .. max`, or `InvalidAddress` naming it (no program code runs: it is read once, as passed). */
const arg = (v: unknown, name: string, min: number, max: number, operation: string): number | InvalidAddress => {
  const n = int(v, name, min, max)
  return n instanceof Refusal ? new InvalidAddress({ address: typeof v === "number" ? v : 0, length: 0, operation, reason: n.text }) : n
}

/** Allocates `pages` zeroed pages with `rights` (default read+write); returns their address. */
export const allocate = (pages: number, rights: PageRights = PageRights.readWrite): Effect.Effect<number, OutOfMemory | InvalidAddress, Process> =>
  syscall("memory.allocate", (p) => {
    const n = arg(pages, "pages", 1, VIRTUAL_PAGES - 1, "allocate")
    if (n instanceof InvalidAddress) return Either.left(n)
    const r = arg(rights, "rights", 0, 3, "allocate")
    if (r instanceof InvalidAddress) return Either.left(r)
    return p.space.allocate(n, r)
  })

/** Unmaps and frees the region containing the page-aligned `address`; returns its page count. */
export const free = (address: number): Effect.Effect<number, InvalidAddress, Process> =>
  syscall("memory.free", (p) => {
    const a = arg(address, "address", 0, ADDRESS_MAX, "free")
    return a instanceof InvalidAddress ? Either.left(a) : p.space.free(a)
  })

/** Reads `length` bytes of the caller's memory at `address`. */
export const read = (address: number, length: number): Effect.Effect<Uint8Array, PageFault | InvalidAddress, Process> =>
  syscall("memory.read", (p) => {
    const a = arg(address, "address", 0, ADDRESS_MAX, "read")
    if (a instanceof InvalidAddress) return Either.left(a)
    const n = arg(length, "length", 0, ADDRESS_MAX, "read")
    return n instanceof InvalidAddress ? Either.left(n) : p.space.read(a, n)
  })

/** Writes `bytes` (a `Uint8Array`) into the caller's memory at `address`; a fault writes nothing. */
export const write = (address: number, bytes: Uint8Array): Effect.Effect<void, PageFault | InvalidAddress, Process> =>
  syscall("memory.write", (p) => {
    const a = arg(address, "address", 0, ADDRESS_MAX, "write")
    if (a instanceof InvalidAddress) return Either.left(a)
    const n = byteLength(bytes, "bytes", ADDRESS_MAX)
    if (n instanceof Refusal) return Either.left(new InvalidAddress({ address: a, length: 0, operation: "write", reason: n.text }))
    return p.space.write(a, bytes)
  })

/**
 * Sets the rights of the present pages of `[address, address + pages pages)` (inside one region of
 * the caller's; never above how they were mapped).
 */
export const protect = (address: number, pages: number, rights: PageRights): Effect.Effect<void, InvalidAddress, Process> =>
  syscall("memory.protect", (p) => {
    const a = arg(address, "address", 0, ADDRESS_MAX, "protect")
    if (a instanceof InvalidAddress) return Either.left(a)
    const n = arg(pages, "pages", 1, VIRTUAL_PAGES, "protect")
    if (n instanceof InvalidAddress) return Either.left(n)
    const r = arg(rights, "rights", 0, 3, "protect")
    return r instanceof InvalidAddress ? Either.left(r) : p.space.protect(a, n, r)
  })

/** The caller's memory use: pages mapped and frames charged against its quota. */
export const usage: Effect.Effect<{ readonly mappedPages: number; readonly framesCharged: number; readonly quota: number }, never, Process> = syscall(
  "memory.usage",
  (p) => Either.right({ mappedPages: p.space.mappedPages, framesCharged: p.kernel.memory.charged(p.account), quota: p.kernel.memory.quota(p.account) })
)

/**
 * Copies `length` bytes from `from` to `to` within the caller's own memory (a user-mode memmove:
 * the process's own work, not counted as kernel copies). A fault copies nothing.
 */
export const copy = (from: number, to: number, length: number): Effect.Effect<void, PageFault | InvalidAddress, Process> =>
  syscall("memory.copy", (p) => {
    const f = arg(from, "from", 0, ADDRESS_MAX, "copy")
    if (f instanceof InvalidAddress) return Either.left(f)
    const t = arg(to, "to", 0, ADDRESS_MAX, "copy")
    if (t instanceof InvalidAddress) return Either.left(t)
    const n = arg(length, "length", 0, ADDRESS_MAX, "copy")
    if (n instanceof InvalidAddress) return Either.left(n)
    return Either.flatMap(p.space.check(f, n, "read"), (src) =>
      Either.map(p.space.check(t, n, "write"), (dst) => {
        if (t > f && t < f + n) {
          // Overlapping forward copy: go through a temporary so no source byte is overwritten first.
          const tmp = new Uint8Array(n)
          p.space.readInto(src, tmp)
          p.space.writeFrom(dst, tmp)
        } else {
          copyBetween(src, dst)
        }
      })
    )
  })
