/**
 * Address spaces: a two-level page table per process (1,024 × 1,024 entries, 32-bit virtual
 * addresses), a virtual range allocator, and every way a process or the kernel touches memory.
 *
 * Invariants:
 * - Every present page-table entry holds one reference on its frame (`PhysicalMemory.retain`).
 * - A process reads and writes only through its own page table; each access checks presence and
 *   rights for every page it touches *before* moving a byte, so a fault changes nothing.
 * - `(address, length)` from a process is an allegation until `check` turns it into a `UserBuffer`;
 *   `check` is the only constructor of `UserBuffer` (Hubris `USlice`).
 * - Page 0 is never handed out, so address 0 always faults.
 */
import { Either } from "effect"
import { PAGE_SHIFT, PAGE_SIZE, PAGE_TABLE_ENTRIES, VIRTUAL_PAGES } from "../params.js"
import { RangeAllocator } from "./internal/ranges.js"
import { type Access, InvalidAddress, OutOfMemory, PageFault } from "./errors.js"
import type { PhysicalMemory } from "./PhysicalMemory.js"

export type { Access } from "./errors.js"

/** Page rights, a bit set. */
export const PageRights = {
  none: 0,
  read: 1,
  write: 2,
  readWrite: 3
} as const
/** A combination of `PageRights` bits. */
export type PageRights = number

const checked: unique symbol = Symbol("UserBuffer.checked")

/**
 * A byte range of an address space whose pages were present with the needed rights when `check`
 * built it. Kernel code uses it in the same synchronous section, so the check still holds.
 */
export class UserBuffer {
  /** @internal */
  readonly [checked] = true
  /** @internal */
  constructor(
    readonly space: AddressSpace,
    readonly address: number,
    readonly length: number,
    readonly access: Access
  ) {}
}

/** Tells whether `address` is page-aligned. */
export const isPageAligned = (address: number): boolean => (address & (PAGE_SIZE - 1)) === 0

const RIGHTS_MASK = 3
const badRights = (rights: number, operation: string): InvalidAddress | undefined =>
  Number.isInteger(rights) && (rights & ~RIGHTS_MASK) === 0
    ? undefined
    : new InvalidAddress({ address: 0, length: 0, operation, reason: `page rights must be a combination of read (1) and write (2), got ${rights}` })
// A page-table entry: 0 = not present, else ((frame + 1) << 4) | (maxRights << 2) | rights.
// `maxRights` is what the mapping was given; `protect` can never raise rights above it.
const pte = (frame: number, rights: number, max: number) => ((frame + 1) << 4) | (max << 2) | rights
const pteFrame = (entry: number) => (entry >>> 4) - 1
const pteMax = (entry: number) => (entry >>> 2) & RIGHTS_MASK

/** Frame numbers of a grant being moved, reused (moves are synchronous and never nest). */
let scratch = new Int32Array(1024)
const scratchFrames = (n: number): Int32Array => (scratch.length >= n ? scratch : (scratch = new Int32Array(Math.max(n, 2 * scratch.length))))

/** One process's view of memory. */
export class AddressSpace {
  /** Second-level tables, allocated on first use. Owned by the kernel's synchronous sections. */
  private readonly directory: Array<Int32Array | undefined> = new Array(VIRTUAL_PAGES / PAGE_TABLE_ENTRIES)
  private readonly ranges = new RangeAllocator(1, VIRTUAL_PAGES - 1)
  /** Reserved regions: first page → page count. */
  private readonly regions = new Map<number, number>()
  /** The regions' first pages, ascending (for finding the region around a page by bisection). */
  private readonly starts: Array<number> = []
  private mapped = 0

  constructor(
    readonly memory: PhysicalMemory,
    /** The frame account (one per process generation) charged for frames this space allocates. */
    readonly account: number
  ) {}

  /** Pages currently present in the page table. */
  get mappedPages(): number {
    return this.mapped
  }

  /** The raw page-table entry of virtual page `vpn` (0 when absent). */
  entry(vpn: number): number {
    const table = this.directory[vpn >>> 10]
    return table === undefined ? 0 : table[vpn & 1023]!
  }

  /** The frame behind `vpn`, or -1. */
  frameAt(vpn: number): number {
    const e = this.entry(vpn)
    return e === 0 ? -1 : pteFrame(e)
  }

  /** The rights of `vpn` (0 when absent). */
  rightsAt(vpn: number): PageRights {
    return this.entry(vpn) & RIGHTS_MASK
  }

  // --- virtual ranges -------------------------------------------------------------------------

  /** Reserves `pages` free virtual pages (nothing mapped); returns the region's address. */
  reserve(pages: number): Either.Either<number, OutOfMemory | InvalidAddress> {
    if (!Number.isInteger(pages) || pages <= 0 || pages >= VIRTUAL_PAGES) {
      return Either.left(new InvalidAddress({ address: 0, length: pages * PAGE_SIZE, operation: "reserve", reason: "page count must be a positive integer" }))
    }
    const first = this.ranges.allocate(pages)
    if (first < 0) {
      return Either.left(new OutOfMemory({ account: this.account, requested: pages, available: 0, reason: "virtual" }))
    }
    this.regions.set(first, pages)
    this.starts.splice(this.startIndex(first) + 1, 0, first)
    return Either.right(first << PAGE_SHIFT)
  }

  /** Reserves a region and backs every page with a fresh zeroed frame. All or nothing. */
  allocate(pages: number, rights: PageRights = PageRights.readWrite): Either.Either<number, OutOfMemory | InvalidAddress> {
    const bad = badRights(rights, "allocate")
    if (bad) return Either.left(bad)
    return Either.flatMap(this.reserve(pages), (address) => {
      const frames = this.memory.allocate(this.account, pages)
      if (Either.isLeft(frames)) {
        this.unreserve(address >>> PAGE_SHIFT)
        return Either.left(frames.left)
      }
      this.installRun(address >>> PAGE_SHIFT, frames.right, rights)
      return Either.right(address)
    })
  }

  /**
   * Unmaps every page of the region that contains the page-aligned `address` (a region made by
   * `allocate` or `reserve`, or one a map or grant item landed in) and frees its range. Returns its
   * page count.
   */
  free(address: number): Either.Either<number, InvalidAddress> {
    const region = isPageAligned(address) ? this.regionOf(address) : undefined
    if (region === undefined) {
      return Either.left(new InvalidAddress({ address, length: 0, operation: "free", reason: "not a page-aligned address inside a region" }))
    }
    this.unmapRun(region.first, region.pages)
    this.unreserve(region.first)
    return Either.right(region.pages)
  }

  /** The region containing `address`: its first page and page count, or undefined. */
  regionOf(address: number): { readonly first: number; readonly pages: number } | undefined {
    const vpn = address >>> PAGE_SHIFT
    const i = this.startIndex(vpn)
    if (i < 0) return undefined
    const first = this.starts[i]!
    const pages = this.regions.get(first)!
    return vpn < first + pages ? { first, pages } : undefined
  }

  /** The index in `starts` of the last region starting at or below `vpn`, or -1. */
  private startIndex(vpn: number): number {
    let lo = 0
    let hi = this.starts.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.starts[mid]! <= vpn) lo = mid + 1
      else hi = mid - 1
    }
    return hi
  }

  private unreserve(first: number): void {
    const pages = this.regions.get(first)!
    this.regions.delete(first)
    this.starts.splice(this.startIndex(first), 1)
    this.ranges.free(first, pages)
  }

  // --- page-table entries (kernel use) --------------------------------------------------------

  /**
   * Maps `frame` at virtual page `vpn` and takes a reference on it. The page must be inside a
   * reserved region and not present.
   */
  mapPage(vpn: number, frame: number, rights: PageRights): Either.Either<void, InvalidAddress> {
    const address = vpn << PAGE_SHIFT
    const bad = badRights(rights, "map")
    if (bad) return Either.left(bad)
    if (this.entry(vpn) !== 0) {
      return Either.left(new InvalidAddress({ address, length: PAGE_SIZE, operation: "map", reason: "page already mapped" }))
    }
    if (this.regionOf(address) === undefined) {
      return Either.left(new InvalidAddress({ address, length: PAGE_SIZE, operation: "map", reason: "page not in a reserved region" }))
    }
    this.memory.retain(frame)
    this.install(vpn, frame, rights)
    return Either.right(undefined)
  }

  /**
   * Reserves a region of `frames.length` pages between two unmapped guard pages (so an overrun
   * faults instead of running into other memory) and maps `frames` there with `rights`; returns
   * the address of the first frame. The caller's references on the frames pass to the page table
   * (kernel use: delivery of map and grant items). Errors: `OutOfMemory` (no virtual room),
   * leaving the references with the caller.
   */
  mapGuarded(frames: ArrayLike<number>, rights: PageRights): Either.Either<number, OutOfMemory | InvalidAddress> {
    if ((rights & ~RIGHTS_MASK) !== 0) throw new Error("invariant violated: mapGuarded needs valid rights")
    return Either.map(this.reserve(frames.length + 2), (address) => {
      const first = (address >>> PAGE_SHIFT) + 1
      this.installRun(first, frames, rights)
      return first << PAGE_SHIFT
    })
  }

  /**
   * Moves the entries of `from`'s pages `[first, first + pages)` — every one present with read and
   * write, as a grant needs (the caller checked) — into a fresh region of this space between two
   * unmapped guard pages, with their frame references, and charges the frames to this space's
   * account (the caller checked its quota): a grant delivered while its sender waits, table to
   * table. Returns the address of the first moved page. Errors: `OutOfMemory` (no virtual room),
   * changing nothing.
   */
  moveGuarded(from: AddressSpace, first: number, pages: number): Either.Either<number, OutOfMemory | InvalidAddress> {
    return Either.map(this.reserve(pages + 2), (address) => {
      const to = (address >>> PAGE_SHIFT) + 1
      const frames = scratchFrames(pages)
      let i = 0
      while (i < pages) {
        const s = first + i
        const d = to + i
        const ss = s & (PAGE_TABLE_ENTRIES - 1)
        const ds = d & (PAGE_TABLE_ENTRIES - 1)
        const n = Math.min(pages - i, PAGE_TABLE_ENTRIES - ss, PAGE_TABLE_ENTRIES - ds)
        const src = from.directory[s >>> 10]!
        let dst = this.directory[d >>> 10]
        if (dst === undefined) dst = this.directory[d >>> 10] = new Int32Array(PAGE_TABLE_ENTRIES)
        // The entry already says frame, read and write, mapped read and write: what a grant installs.
        dst.set(src.subarray(ss, ss + n), ds)
        for (let j = 0; j < n; j++) frames[i + j] = pteFrame(src[ss + j]!)
        src.fill(0, ss, ss + n)
        i += n
      }
      from.mapped -= pages
      this.mapped += pages
      if (Either.isLeft(this.memory.recharge(frames, this.account, pages))) {
        throw new Error("invariant violated: moveGuarded charges a receiver whose quota was checked")
      }
      return to << PAGE_SHIFT
    })
  }

  /**
   * The first page of `[first, first + pages)` that is absent or lacks one of `rights`, or -1 when
   * every page has them all. One pass over the table, no allocation.
   */
  lacking(first: number, pages: number, rights: PageRights): number {
    let found = -1
    this.eachTable(first, pages, (table, start, n, vpn) => {
      if (table === undefined) return (found = vpn) < 0
      for (let j = start; j < start + n; j++) {
        const e = table[j]!
        if (e === 0 || (e & rights) !== rights) return (found = vpn + j - start) < 0
      }
      return true
    })
    return found
  }

  /**
   * Removes the entries of `[first, first + pages)`, every one present (the caller checked), and
   * hands their frame references to the caller, in page order: the send half of a grant.
   */
  takeRun(first: number, pages: number): Array<number> {
    // A plain array: a typed array this size would get a backing store outside V8's heap, which
    // costs more to allocate than the whole page-table walk.
    const frames = new Array<number>(pages)
    this.eachTable(first, pages, (table, start, n, vpn) => {
      const at = vpn - first - start
      for (let j = start; j < start + n; j++) frames[at + j] = pteFrame(table![j]!)
      table!.fill(0, start, start + n)
      return true
    })
    this.mapped -= pages
    return frames
  }

  /** The frames of `[first, first + pages)`, every one present (the caller checked), each with a new reference: the send half of a map. */
  retainRun(first: number, pages: number): Array<number> {
    const frames = new Array<number>(pages)
    for (let i = 0; i < pages; i++) {
      const frame = this.frameAt(first + i)
      this.memory.retain(frame)
      frames[i] = frame
    }
    return frames
  }

  /** Removes the entry for `vpn` and hands its frame reference to the caller (page grant). Returns the frame, or -1. */
  takePage(vpn: number): number {
    const table = this.directory[vpn >>> 10]
    const e = table === undefined ? 0 : table[vpn & 1023]!
    if (e === 0) return -1
    table![vpn & 1023] = 0
    this.mapped--
    return pteFrame(e)
  }

  /** Removes the entry for `vpn` and drops its frame reference. Returns the frame, or -1 if absent. */
  unmapPage(vpn: number): number {
    const frame = this.takePage(vpn)
    if (frame >= 0) this.memory.release(frame)
    return frame
  }

  /**
   * Changes the rights of every present page in `[address, address + pages pages)`, never above
   * the rights each page was mapped with.
   */
  protect(address: number, pages: number, rights: PageRights): Either.Either<void, InvalidAddress> {
    const bad = badRights(rights, "protect")
    if (bad) return Either.left(bad)
    if (!isPageAligned(address)) {
      return Either.left(new InvalidAddress({ address, length: pages * PAGE_SIZE, operation: "protect", reason: "address not page-aligned" }))
    }
    const first = address >>> PAGE_SHIFT
    for (let vpn = first; vpn < first + pages; vpn++) {
      const e = this.entry(vpn)
      if (e !== 0) this.directory[vpn >>> 10]![vpn & 1023] = (e & ~RIGHTS_MASK) | (rights & pteMax(e))
    }
    return Either.right(undefined)
  }

  /** Installs an entry that already owns a frame reference. */
  private install(vpn: number, frame: number, rights: PageRights): void {
    let table = this.directory[vpn >>> 10]
    if (table === undefined) table = this.directory[vpn >>> 10] = new Int32Array(PAGE_TABLE_ENTRIES)
    table[vpn & 1023] = pte(frame, rights, rights)
    this.mapped++
  }

  /** Installs entries for `frames` (each already owning a reference) at pages from `first`, all absent. */
  private installRun(first: number, frames: ArrayLike<number>, rights: PageRights): void {
    this.eachTable(first, frames.length, (table, start, n, vpn) => {
      if (table === undefined) table = this.directory[vpn >>> 10] = new Int32Array(PAGE_TABLE_ENTRIES)
      const at = vpn - first - start
      for (let j = start; j < start + n; j++) table[j] = pte(frames[at + j]!, rights, rights)
      return true
    })
    this.mapped += frames.length
  }

  /** Removes every present entry of `[first, first + pages)` and drops its frame reference. */
  private unmapRun(first: number, pages: number): void {
    this.eachTable(first, pages, (table, start, n) => {
      if (table === undefined) return true
      for (let j = start; j < start + n; j++) {
        const e = table[j]!
        if (e === 0) continue
        table[j] = 0
        this.mapped--
        this.memory.release(pteFrame(e))
      }
      return true
    })
  }

  /**
   * Visits the second-level tables that `[first, first + pages)` spans, in order: entries
   * `[start, start + n)` of `table` (undefined when not yet allocated) are pages `vpn ..`. Stops
   * when `visit` returns false. The walk that every run operation is built on.
   */
  private eachTable(first: number, pages: number, visit: (table: Int32Array | undefined, start: number, n: number, vpn: number) => boolean): void {
    let i = 0
    while (i < pages) {
      const vpn = first + i
      const start = vpn & (PAGE_TABLE_ENTRIES - 1)
      const n = Math.min(pages - i, PAGE_TABLE_ENTRIES - start)
      if (!visit(this.directory[vpn >>> 10], start, n, vpn)) return
      i += n
    }
  }

  // --- access ---------------------------------------------------------------------------------

  /** Physical byte address of `address` for `access`, or -1 when that access would fault. No allocation. */
  physical(address: number, access: Access): number {
    const e = this.entry(address >>> PAGE_SHIFT)
    if (e === 0 || (e & (access === "read" ? PageRights.read : PageRights.write)) === 0) return -1
    return pteFrame(e) * PAGE_SIZE + (address & (PAGE_SIZE - 1))
  }

  /** The first fault an access to `[address, address + length)` would take, or undefined. */
  faultAt(address: number, length: number, access: Access): PageFault | undefined {
    if (length === 0) return undefined
    const need = access === "read" ? PageRights.read : PageRights.write
    if (address < 0 || address + length > VIRTUAL_PAGES * PAGE_SIZE || !Number.isInteger(address)) {
      return new PageFault({ address, access, reason: "unmapped" })
    }
    const last = (address + length - 1) >>> PAGE_SHIFT
    for (let vpn = address >>> PAGE_SHIFT; vpn <= last; vpn++) {
      const table = this.directory[vpn >>> 10]
      const e = table === undefined ? 0 : table[vpn & 1023]!
      if ((e & need) === 0) {
        const at = Math.max(address, vpn << PAGE_SHIFT)
        return new PageFault({ address: at, access, reason: e === 0 ? "unmapped" : "protection" })
      }
    }
    return undefined
  }

  /**
   * Turns a process's `(address, length)` into a `UserBuffer`, checking that every page is present
   * with the rights `access` needs. The only constructor of `UserBuffer`.
   */
  check(address: number, length: number, access: Access): Either.Either<UserBuffer, PageFault | InvalidAddress> {
    if (!Number.isSafeInteger(address) || !Number.isSafeInteger(length) || length < 0) {
      return Either.left(new InvalidAddress({ address, length, operation: "check", reason: "address and length must be non-negative integers" }))
    }
    const fault = this.faultAt(address, length, access)
    return fault ? Either.left(fault) : Either.right(new UserBuffer(this, address, length, access))
  }

  /**
   * Calls `f(physicalOffset, bufferOffset, bytes)` for each page-sized piece of a checked buffer,
   * in order. The page-table walk every copy is built on.
   */
  forEachChunk(buffer: UserBuffer, f: (physical: number, offset: number, bytes: number) => void): void {
    let offset = 0
    let address = buffer.address
    while (offset < buffer.length) {
      const inPage = address & (PAGE_SIZE - 1)
      const n = Math.min(PAGE_SIZE - inPage, buffer.length - offset)
      f(pteFrame(this.entry(address >>> PAGE_SHIFT)) * PAGE_SIZE + inPage, offset, n)
      offset += n
      address += n
    }
  }

  /** Copies a checked buffer's bytes into `target` at `targetOffset`. */
  readInto(buffer: UserBuffer, target: Uint8Array, targetOffset = 0): void {
    const bytes = this.memory.bytes
    this.forEachChunk(buffer, (p, off, n) => target.set(bytes.subarray(p, p + n), targetOffset + off))
  }

  /** Copies `source[sourceOffset ..]` into a checked writable buffer (`buffer.length` bytes). */
  writeFrom(buffer: UserBuffer, source: Uint8Array, sourceOffset = 0): void {
    const bytes = this.memory.bytes
    this.forEachChunk(buffer, (p, off, n) => bytes.set(source.subarray(sourceOffset + off, sourceOffset + off + n), p))
  }

  /** Reads `length` bytes at `address`, or faults without side effects. */
  read(address: number, length: number): Either.Either<Uint8Array, PageFault | InvalidAddress> {
    return Either.map(this.check(address, length, "read"), (buffer) => {
      const out = new Uint8Array(length)
      this.readInto(buffer, out)
      return out
    })
  }

  /** Writes `data` at `address`, or faults without writing a byte. */
  write(address: number, data: Uint8Array): Either.Either<void, PageFault | InvalidAddress> {
    return Either.map(this.check(address, data.length, "write"), (buffer) => this.writeFrom(buffer, data))
  }

  /** Unmaps everything and frees every region (process teardown). */
  destroy(): void {
    for (const first of [...this.regions.keys()]) {
      this.unmapRun(first, this.regions.get(first)!)
      this.unreserve(first)
    }
  }
}

/**
 * The kernel's copy between two checked buffers, page by page on both sides; copies
 * `min(src.length, dst.length)` bytes and returns that count. `src` must have been checked for
 * `read` and `dst` for `write`.
 */
export const copyBetween = (src: UserBuffer, dst: UserBuffer): number => {
  if (src.access !== "read" || dst.access !== "write") {
    throw new Error("invariant violated: copyBetween needs a read-checked source and a write-checked destination")
  }
  const bytes = src.space.memory.bytes
  const length = Math.min(src.length, dst.length)
  // Walk both page tables a page at a time, but copy physically contiguous runs in one go.
  let runS = 0
  let runD = 0
  let runN = 0
  let done = 0
  while (done < length) {
    const s = src.address + done
    const d = dst.address + done
    const n = Math.min(PAGE_SIZE - (s & (PAGE_SIZE - 1)), PAGE_SIZE - (d & (PAGE_SIZE - 1)), length - done)
    const sp = src.space.frameAt(s >>> PAGE_SHIFT) * PAGE_SIZE + (s & (PAGE_SIZE - 1))
    const dp = dst.space.frameAt(d >>> PAGE_SHIFT) * PAGE_SIZE + (d & (PAGE_SIZE - 1))
    if (runN > 0 && sp === runS + runN && dp === runD + runN) {
      runN += n
    } else {
      if (runN > 0) bytes.copyWithin(runD, runS, runS + runN)
      runS = sp
      runD = dp
      runN = n
    }
    done += n
  }
  if (runN > 0) bytes.copyWithin(runD, runS, runS + runN)
  return length
}
