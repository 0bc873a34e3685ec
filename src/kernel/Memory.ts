/**
 * Memory syscalls: what a process can do with its own address space.
 *
 * | syscall | result | errors |
 * |---|---|---|
 * | `allocate(pages, rights?)` | address of a fresh zeroed region | `OutOfMemory` (quota, frames, virtual), `InvalidAddress` (bad count) |
 * | `free(address)` | the page count of the region containing `address`, now unmapped | `InvalidAddress` (not a page-aligned address in a region) |
 * | `read(address, length)` | a copy of the bytes | `PageFault`, `InvalidAddress` |
 * | `write(address, bytes)` | — | `PageFault` (nothing written), `InvalidAddress` |
 * | `protect(address, pages, rights)` | — | `InvalidAddress` (misaligned) |
 * | `copy(from, to, length)` | — (memmove within the caller's memory) | `PageFault`, `InvalidAddress` |
 */
import type { Effect } from "effect"
import { Either } from "effect"
import { copyBetween, PageRights } from "../memory/AddressSpace.js"
import type { InvalidAddress, OutOfMemory, PageFault } from "../memory/errors.js"
import type { Process } from "./Process.js"
import { syscall } from "./Syscall.js"

export { PageRights } from "../memory/AddressSpace.js"

/** Allocates `pages` zeroed pages with `rights` (default read+write); returns their address. */
export const allocate = (pages: number, rights: PageRights = PageRights.readWrite): Effect.Effect<number, OutOfMemory | InvalidAddress, Process> =>
  syscall("memory.allocate", (p) => p.space.allocate(pages, rights))

/** Unmaps and frees the region containing the page-aligned `address`; returns its page count. */
export const free = (address: number): Effect.Effect<number, InvalidAddress, Process> => syscall("memory.free", (p) => p.space.free(address))

/** Reads `length` bytes of the caller's memory at `address`. */
export const read = (address: number, length: number): Effect.Effect<Uint8Array, PageFault | InvalidAddress, Process> =>
  syscall("memory.read", (p) => p.space.read(address, length))

/** Writes `bytes` into the caller's memory at `address`; a fault writes nothing. */
export const write = (address: number, bytes: Uint8Array): Effect.Effect<void, PageFault | InvalidAddress, Process> =>
  syscall("memory.write", (p) => p.space.write(address, bytes))

/** Sets the rights of the present pages of `[address, address + pages pages)` (never above how they were mapped). */
export const protect = (address: number, pages: number, rights: PageRights): Effect.Effect<void, InvalidAddress, Process> =>
  syscall("memory.protect", (p) => p.space.protect(address, pages, rights))

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
  syscall("memory.copy", (p) =>
    Either.flatMap(p.space.check(from, length, "read"), (src) =>
      Either.map(p.space.check(to, length, "write"), (dst) => {
        if (to > from && to < from + length) {
          // Overlapping forward copy: go through a temporary so no source byte is overwritten first.
          const tmp = new Uint8Array(length)
          p.space.readInto(src, tmp)
          p.space.writeFrom(dst, tmp)
        } else {
          copyBetween(src, dst)
        }
      })
    )
  )
