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
 * - The mapping database (L4's): a page that reached this space by a map item has a
 *   `MappingNode`, a child of the node of the page it was mapped from. The node follows the page
 *   when it is granted on (it moves with the entry), and leaves the tree when the page is unmapped
 *   (its children then hang from its parent), so a `Revocation` from the origin reaches every
 *   page derived from it, wherever it went.
 * - Work is bounded by what the space holds: a range a process names is checked against its
 *   regions before anything walks it, and teardown (`destroy`) runs in slices.
 */
import { Either } from "effect"
import { PAGE_SHIFT, PAGE_SIZE, PAGE_TABLE_ENTRIES, VIRTUAL_PAGES } from "../params.js"
import {
  ArrayPrototypeSplice,
  filled,
  MapPrototypeDelete,
  MapPrototypeGet,
  MapPrototypeSet,
  MathMax,
  MathMin,
  NumberIsSafeInteger,
  TypedArrayPrototypeCopyWithin,
  TypedArrayPrototypeFill,
  TypedArrayPrototypeGetLength,
  TypedArrayPrototypeSet,
  TypedArrayPrototypeSubarray
} from "../primordials.js"
import { attach, type DerivationNode, detach, prune } from "./derivation.js"
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

/** Tells whether `address` is page-aligned (an integer multiple of `PAGE_SIZE`, any size). */
export const isPageAligned = (address: number): boolean => address % PAGE_SIZE === 0

/** The address of virtual page `vpn` (multiplication, not `<<`: addresses reach 2^32). */
const at = (vpn: number): number => vpn * PAGE_SIZE

const RIGHTS_MASK = 3
const badRights = (rights: number, operation: string): InvalidAddress | undefined =>
  NumberIsSafeInteger(rights) && rights >= 0 && (rights & ~RIGHTS_MASK) === 0
    ? undefined
    : new InvalidAddress({ address: 0, length: 0, operation, reason: "page rights must be a combination of read (1) and write (2)" })
// A page-table entry: 0 = not present, else ((frame + 1) << 4) | (maxRights << 2) | rights.
// `maxRights` is what the mapping was given; `protect` can never raise rights above it.
const pte = (frame: number, rights: number, max: number) => ((frame + 1) << 4) | (max << 2) | rights
const pteFrame = (entry: number) => (entry >>> 4) - 1
const pteMax = (entry: number) => (entry >>> 2) & RIGHTS_MASK

/** Frame numbers of a grant being moved, reused (moves are synchronous and never nest). */
let scratch = new Int32Array(1024)
const scratchFrames = (n: number): Int32Array => (scratch.length >= n ? scratch : (scratch = new Int32Array(MathMax(n, 2 * scratch.length))))

/**
 * A page in the mapping database: where it is (`space` and `vpn`; no space while it travels in a
 * grant), the frame, and its place in the derivation tree.
 */
export class MappingNode implements DerivationNode<MappingNode> {
  parent: MappingNode | undefined = undefined
  first: MappingNode | undefined = undefined
  last: MappingNode | undefined = undefined
  next: MappingNode | undefined = undefined
  prev: MappingNode | undefined = undefined
  /** Revoked while its page travelled in a grant: the page is dropped when the grant lands. */
  revoked = false
  constructor(
    public space: AddressSpace | undefined,
    public vpn: number,
    readonly frame: number
  ) {}
}

/** Pages taken out of a table for a grant that travels: their frames (each with its reference) and mapping nodes. */
export class TakenRun {
  constructor(
    readonly frames: ReadonlyArray<number>,
    /** The pages' mapping nodes by index, or undefined when none of them has one. */
    readonly nodes: ReadonlyArray<MappingNode | undefined> | undefined
  ) {}
}

/** One process's view of memory. */
export class AddressSpace {
  /** Second-level tables, allocated on first use. Owned by the kernel's synchronous sections. */
  private readonly directory: Array<Int32Array | undefined> = filled<Int32Array | undefined>(VIRTUAL_PAGES / PAGE_TABLE_ENTRIES, undefined)
  private readonly ranges = new RangeAllocator(1, VIRTUAL_PAGES - 1)
  /** Reserved regions: first page → page count. */
  private readonly regions = new Map<number, number>()
  /** The regions' first pages, ascending (for finding the region around a page by bisection). */
  private readonly starts: Array<number> = []
  private mapped = 0
  /** Mapping nodes by page, in second-level arrays allocated on first use (most spaces never have one). */
  private nodeDir: Array<Array<MappingNode | undefined> | undefined> | undefined = undefined
  private nodes = 0

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
    if (!NumberIsSafeInteger(pages) || pages <= 0 || pages >= VIRTUAL_PAGES) {
      return Either.left(
        new InvalidAddress({ address: 0, length: 0, operation: "reserve", reason: `page count must be an integer in 1..${VIRTUAL_PAGES - 1}` })
      )
    }
    const first = this.ranges.allocate(pages)
    if (first < 0) {
      return Either.left(new OutOfMemory({ account: this.account, requested: pages, available: 0, reason: "virtual" }))
    }
    MapPrototypeSet(this.regions, first, pages)
    ArrayPrototypeSplice(this.starts, this.startIndex(first) + 1, 0, first)
    return Either.right(at(first))
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
    const region = NumberIsSafeInteger(address) && isPageAligned(address) ? this.regionOf(address) : undefined
    if (region === undefined) {
      return Either.left(new InvalidAddress({ address, length: 0, operation: "free", reason: "not a page-aligned address inside a region" }))
    }
    this.unmapRun(region.first, region.pages)
    this.unreserve(region.first)
    return Either.right(region.pages)
  }

  /** The region containing `address`: its first page and page count, or undefined. */
  regionOf(address: number): { readonly first: number; readonly pages: number } | undefined {
    if (!(address >= 0 && address < VIRTUAL_PAGES * PAGE_SIZE)) return undefined
    const vpn = Math.floor(address / PAGE_SIZE)
    const i = this.startIndex(vpn)
    if (i < 0) return undefined
    const first = this.starts[i]!
    const pages = MapPrototypeGet(this.regions, first)!
    return vpn < first + pages ? { first, pages } : undefined
  }

  /**
   * The first page of `[address, address + pages pages)` if the whole range lies inside one
   * region of this space, else why not: every operation on a range a process names checks it
   * here first, so its work is bounded by what the process really holds.
   */
  range(address: number, pages: number, operation: string): number | InvalidAddress {
    const region = NumberIsSafeInteger(address) && isPageAligned(address) ? this.regionOf(address) : undefined
    const first = region === undefined ? 0 : address / PAGE_SIZE
    if (region === undefined || !NumberIsSafeInteger(pages) || pages < 1 || first + pages > region.first + region.pages) {
      return new InvalidAddress({
        address: typeof address === "number" ? address : -1,
        length: 0,
        operation,
        reason: "needs a page-aligned address and 1 or more pages inside one region"
      })
    }
    return first
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
    const pages = MapPrototypeGet(this.regions, first)!
    MapPrototypeDelete(this.regions, first)
    ArrayPrototypeSplice(this.starts, this.startIndex(first), 1)
    this.ranges.free(first, pages)
  }

  // --- the mapping database -------------------------------------------------------------------

  /** The mapping node of page `vpn`, if it has one. */
  nodeAt(vpn: number): MappingNode | undefined {
    return this.nodeDir?.[vpn >>> 10]?.[vpn & 1023]
  }

  private setNode(vpn: number, node: MappingNode): void {
    const dir = (this.nodeDir ??= filled<Array<MappingNode | undefined> | undefined>(VIRTUAL_PAGES / PAGE_TABLE_ENTRIES, undefined))
    const table = (dir[vpn >>> 10] ??= filled<MappingNode | undefined>(PAGE_TABLE_ENTRIES, undefined))
    if (table[vpn & 1023] === undefined) this.nodes++
    table[vpn & 1023] = node
    node.space = this
    node.vpn = vpn
  }

  /** Takes page `vpn`'s node out of this space's table (it stays in the tree); returns it. */
  private clearNode(vpn: number): MappingNode | undefined {
    const table = this.nodeDir?.[vpn >>> 10]
    const node = table?.[vpn & 1023]
    if (node === undefined) return undefined
    table![vpn & 1023] = undefined
    this.nodes--
    node.space = undefined
    return node
  }

  /** Page `vpn` leaves this space other than by a grant: its node leaves the tree, its children hang from its parent. */
  private dropNode(vpn: number): void {
    if (this.nodes === 0) return
    const node = this.clearNode(vpn)
    if (node !== undefined) detach(node)
  }

  /**
   * Removes page `node.vpn`, a derived page being revoked (its subtree is already cut out of the
   * tree), if it still holds the node's frame. Returns whether a page was unmapped.
   */
  unmapDerived(node: MappingNode): boolean {
    const vpn = node.vpn
    this.clearNode(vpn)
    const table = this.directory[vpn >>> 10]
    const e = table === undefined ? 0 : table[vpn & 1023]!
    if (e === 0 || pteFrame(e) !== node.frame) return false
    table![vpn & 1023] = 0
    this.mapped--
    this.memory.release(node.frame)
    return true
  }

  /**
   * Records that the pages `[fromFirst, fromFirst + frames.length)` of `from` were mapped at pages
   * `toFirst ..` of `to` (map delivery): each new page's node is a child of its source's.
   */
  static recordMap(from: AddressSpace, fromFirst: number, frames: ReadonlyArray<number>, to: AddressSpace, toFirst: number): void {
    for (let i = 0; i < frames.length; i++) {
      let parent = from.nodeAt(fromFirst + i)
      if (parent === undefined) from.setNode(fromFirst + i, (parent = new MappingNode(from, fromFirst + i, frames[i]!)))
      const child = new MappingNode(to, toFirst + i, frames[i]!)
      to.setNode(toFirst + i, child)
      attach(parent, child)
    }
  }

  // --- page-table entries (kernel use) --------------------------------------------------------

  /**
   * Maps `frame` at virtual page `vpn` and takes a reference on it. The page must be inside a
   * reserved region and not present. With `node`, the page takes that mapping node back (a grant
   * restored to where it came from).
   */
  mapPage(vpn: number, frame: number, rights: PageRights, node?: MappingNode): Either.Either<void, InvalidAddress> {
    const address = at(vpn)
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
    if (node !== undefined) this.setNode(vpn, node)
    return Either.right(undefined)
  }

  /**
   * Reserves a region of `pages` pages between two unmapped guard pages (so an overrun faults
   * instead of running into other memory) and returns the address of its first page, where
   * `installGuarded` or `moveInto` will put them. Errors: `OutOfMemory` (no virtual room),
   * `InvalidAddress` (a page count out of range); nothing reserved then. Undo with `unreserveGuarded`.
   */
  reserveGuarded(pages: number): Either.Either<number, OutOfMemory | InvalidAddress> {
    return Either.map(this.reserve(pages + 2), (address) => address + PAGE_SIZE)
  }

  /** Gives back a region `reserveGuarded` made and nothing was put into. */
  unreserveGuarded(address: number): void {
    this.unreserve(address / PAGE_SIZE - 1)
  }

  /**
   * Maps `frames` with `rights` at the region `reserveGuarded` made at `address`: the caller's
   * references on the frames pass to the page table (delivery of map items and of grants that
   * travelled), and so do the pages' mapping nodes, if any. Cannot fail.
   */
  installGuarded(address: number, frames: ArrayLike<number>, rights: PageRights, nodes?: ReadonlyArray<MappingNode | undefined>): void {
    const first = address / PAGE_SIZE
    this.installRun(first, frames, rights)
    if (nodes === undefined) return
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]
      if (node === undefined) continue
      this.setNode(first + i, node)
      // Revoked while it travelled: the page does not land.
      if (node.revoked) this.unmapPage(first + i)
    }
  }

  /**
   * Moves the entries of `from`'s pages `[first, first + pages)` — every one present with read and
   * write, as a grant needs (the caller checked) — into the region `reserveGuarded` made at
   * `address`, with their frame references and mapping nodes, and charges the frames that were
   * `from`'s to this space's account (the caller checked its quota): a grant delivered while its
   * sender waits, table to table. Pages `from` had by a map stay charged to their owner. Cannot fail.
   */
  moveInto(address: number, from: AddressSpace, first: number, pages: number): void {
    const to = address / PAGE_SIZE
    const frames = scratchFrames(pages)
    let i = 0
    while (i < pages) {
      const s = first + i
      const d = to + i
      const ss = s & (PAGE_TABLE_ENTRIES - 1)
      const ds = d & (PAGE_TABLE_ENTRIES - 1)
      const n = MathMin(pages - i, PAGE_TABLE_ENTRIES - ss, PAGE_TABLE_ENTRIES - ds)
      const src = from.directory[s >>> 10]!
      let dst = this.directory[d >>> 10]
      if (dst === undefined) dst = this.directory[d >>> 10] = new Int32Array(PAGE_TABLE_ENTRIES)
      // The entry already says frame, read and write, mapped read and write: what a grant installs.
      TypedArrayPrototypeSet(dst, TypedArrayPrototypeSubarray(src, ss, ss + n), ds)
      for (let j = 0; j < n; j++) frames[i + j] = pteFrame(src[ss + j]!)
      TypedArrayPrototypeFill(src, 0, ss, ss + n)
      i += n
    }
    from.mapped -= pages
    this.mapped += pages
    if (from.nodes > 0) {
      for (let j = 0; j < pages; j++) {
        const node = from.clearNode(first + j)
        if (node !== undefined) this.setNode(to + j, node)
      }
    }
    if (Either.isLeft(this.memory.recharge(frames, this.account, pages, from.account))) {
      throw new Error("invariant violated: moveInto charges a receiver whose quota was checked")
    }
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

  /** How many of the frames of `[first, first + pages)` (every one present) are charged to `account`. */
  chargedIn(first: number, pages: number, account: number): number {
    let n = 0
    for (let i = 0; i < pages; i++) if (this.memory.owner(this.frameAt(first + i)) === account) n++
    return n
  }

  /**
   * Removes the entries of `[first, first + pages)`, every one present (the caller checked), and
   * hands their frame references and mapping nodes to the caller, in page order: the send half of
   * a grant that has to travel.
   */
  takeRun(first: number, pages: number): TakenRun {
    // A plain array: a typed array this size would get a backing store outside V8's heap, which
    // costs more to allocate than the whole page-table walk.
    const frames = new Array<number>(pages)
    this.eachTable(first, pages, (table, start, n, vpn) => {
      const base = vpn - first - start
      for (let j = start; j < start + n; j++) frames[base + j] = pteFrame(table![j]!)
      TypedArrayPrototypeFill(table!, 0, start, start + n)
      return true
    })
    this.mapped -= pages
    let nodes: Array<MappingNode | undefined> | undefined = undefined
    if (this.nodes > 0) {
      for (let i = 0; i < pages; i++) {
        const node = this.clearNode(first + i)
        if (node !== undefined) (nodes ??= filled<MappingNode | undefined>(pages, undefined))[i] = node
      }
    }
    return new TakenRun(frames, nodes)
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

  /** Removes the entry for `vpn` and drops its frame reference (its mapping node leaves the tree). Returns the frame, or -1 if absent. */
  unmapPage(vpn: number): number {
    const table = this.directory[vpn >>> 10]
    const e = table === undefined ? 0 : table[vpn & 1023]!
    if (e === 0) return -1
    table![vpn & 1023] = 0
    this.mapped--
    this.dropNode(vpn)
    this.memory.release(pteFrame(e))
    return pteFrame(e)
  }

  /**
   * Changes the rights of every present page in `[address, address + pages pages)`, which must lie
   * inside one region, never above the rights each page was mapped with.
   */
  protect(address: number, pages: number, rights: PageRights): Either.Either<void, InvalidAddress> {
    const bad = badRights(rights, "protect")
    if (bad) return Either.left(bad)
    const first = this.range(address, pages, "protect")
    if (first instanceof InvalidAddress) return Either.left(first)
    this.eachTable(first, pages, (table, start, n) => {
      if (table === undefined) return true
      for (let j = start; j < start + n; j++) {
        const e = table[j]!
        if (e !== 0) table[j] = (e & ~RIGHTS_MASK) | (rights & pteMax(e))
      }
      return true
    })
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
      const base = vpn - first - start
      for (let j = start; j < start + n; j++) table[j] = pte(frames[base + j]!, rights, rights)
      return true
    })
    this.mapped += frames.length
  }

  /** Removes every present entry of `[first, first + pages)` and drops its frame reference (and mapping node). */
  private unmapRun(first: number, pages: number): void {
    this.eachTable(first, pages, (table, start, n, vpn) => {
      if (table === undefined) return true
      for (let j = start; j < start + n; j++) {
        const e = table[j]!
        if (e === 0) continue
        table[j] = 0
        this.mapped--
        this.dropNode(vpn + j - start)
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
    if (!NumberIsSafeInteger(address) || address < 0 || address + length > VIRTUAL_PAGES * PAGE_SIZE) {
      return new PageFault({ address, access, reason: "unmapped" })
    }
    const last = (address + length - 1) >>> PAGE_SHIFT
    for (let vpn = address >>> PAGE_SHIFT; vpn <= last; vpn++) {
      const table = this.directory[vpn >>> 10]
      const e = table === undefined ? 0 : table[vpn & 1023]!
      if ((e & need) === 0) {
        return new PageFault({ address: MathMax(address, at(vpn)), access, reason: e === 0 ? "unmapped" : "protection" })
      }
    }
    return undefined
  }

  /**
   * Turns a process's `(address, length)` into a `UserBuffer`, checking that every page is present
   * with the rights `access` needs. The only constructor of `UserBuffer`.
   */
  check(address: number, length: number, access: Access): Either.Either<UserBuffer, PageFault | InvalidAddress> {
    if (!NumberIsSafeInteger(address) || !NumberIsSafeInteger(length) || address < 0 || length < 0) {
      return Either.left(
        new InvalidAddress({
          address: typeof address === "number" ? address : -1,
          length: typeof length === "number" ? length : -1,
          operation: "check",
          reason: "address and length must be non-negative integers"
        })
      )
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
      const n = MathMin(PAGE_SIZE - inPage, buffer.length - offset)
      f(pteFrame(this.entry(address >>> PAGE_SHIFT)) * PAGE_SIZE + inPage, offset, n)
      offset += n
      address += n
    }
  }

  /** Copies a checked buffer's bytes into `target` (the kernel's own array) at `targetOffset`. */
  readInto(buffer: UserBuffer, target: Uint8Array, targetOffset = 0): void {
    const bytes = this.memory.bytes
    this.forEachChunk(buffer, (p, off, n) => TypedArrayPrototypeSet(target, TypedArrayPrototypeSubarray(bytes, p, p + n), targetOffset + off))
  }

  /**
   * Copies `source[sourceOffset ..]` into a checked writable buffer (`buffer.length` bytes). The
   * source may be a program's `Uint8Array` (checked to be a real one): it is read through the
   * kernel's own built-ins, from its internal slots, once.
   */
  writeFrom(buffer: UserBuffer, source: Uint8Array, sourceOffset = 0): void {
    const bytes = this.memory.bytes
    this.forEachChunk(buffer, (p, off, n) => TypedArrayPrototypeSet(bytes, TypedArrayPrototypeSubarray(source, sourceOffset + off, sourceOffset + off + n), p))
  }

  /** Reads `length` bytes at `address`, or faults without side effects. */
  read(address: number, length: number): Either.Either<Uint8Array, PageFault | InvalidAddress> {
    return Either.map(this.check(address, length, "read"), (buffer) => {
      const out = new Uint8Array(length)
      this.readInto(buffer, out)
      return out
    })
  }

  /** Writes `data` (a real `Uint8Array`) at `address`, or faults without writing a byte. */
  write(address: number, data: Uint8Array): Either.Either<void, PageFault | InvalidAddress> {
    return Either.map(this.check(address, TypedArrayPrototypeGetLength(data), "write"), (buffer) => this.writeFrom(buffer, data))
  }

  /**
   * Unmaps and frees regions (process teardown), at most about `budget` pages per call; returns
   * true once the space is empty. Teardown calls it in slices so a huge space never holds the
   * kernel for long.
   */
  destroy(budget = Infinity): boolean {
    let left = budget
    while (this.starts.length > 0 && left > 0) {
      const first = this.starts[this.starts.length - 1]!
      const pages = MapPrototypeGet(this.regions, first)!
      this.unmapRun(first, pages)
      this.unreserve(first)
      left -= pages
    }
    return this.starts.length === 0
  }
}

/**
 * The revocation of every page derived by map items from a range of a space (L4's recursive
 * unmap), through every space the pages were mapped or granted on to. The origin keeps its own
 * pages. Runs in slices (`step`) so a revocation that reaches many mappings never holds the
 * kernel for long. Created, and stepped to the end, by one syscall.
 */
export class Revocation {
  /** Derived nodes still to remove, each the root of a subtree already cut from the tree. */
  private readonly work: Array<MappingNode> = []
  /** Pages unmapped so far. */
  unmapped = 0

  constructor(space: AddressSpace, first: number, pages: number) {
    for (let vpn = first; vpn < first + pages; vpn++) {
      const node = space.nodeAt(vpn)
      if (node === undefined) continue
      let c = node.first
      while (c !== undefined) {
        const next = c.next
        prune(c)
        this.work[this.work.length] = c
        c = next
      }
    }
  }

  /** Removes up to `budget` derived pages; returns true when nothing is left. */
  step(budget: number): boolean {
    let left = budget
    while (this.work.length > 0 && left-- > 0) {
      const node = this.work.pop()!
      let c = node.first
      while (c !== undefined) {
        this.work[this.work.length] = c
        c = c.next
      }
      node.first = node.last = undefined
      const space = node.space
      if (space === undefined) {
        node.revoked = true
        continue
      }
      if (space.unmapDerived(node)) this.unmapped++
    }
    return this.work.length === 0
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
  const length = MathMin(src.length, dst.length)
  // Walk both page tables a page at a time, but copy physically contiguous runs in one go.
  let runS = 0
  let runD = 0
  let runN = 0
  let done = 0
  while (done < length) {
    const s = src.address + done
    const d = dst.address + done
    const n = MathMin(PAGE_SIZE - (s & (PAGE_SIZE - 1)), PAGE_SIZE - (d & (PAGE_SIZE - 1)), length - done)
    const sp = src.space.frameAt(s >>> PAGE_SHIFT) * PAGE_SIZE + (s & (PAGE_SIZE - 1))
    const dp = dst.space.frameAt(d >>> PAGE_SHIFT) * PAGE_SIZE + (d & (PAGE_SIZE - 1))
    if (runN > 0 && sp === runS + runN && dp === runD + runN) {
      runN += n
    } else {
      if (runN > 0) TypedArrayPrototypeCopyWithin(bytes, runD, runS, runS + runN)
      runS = sp
      runD = dp
      runN = n
    }
    done += n
  }
  if (runN > 0) TypedArrayPrototypeCopyWithin(bytes, runD, runS, runS + runN)
  return length
}
