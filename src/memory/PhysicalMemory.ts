/**
 * Physical memory: N frames of 4 KiB in one `ArrayBuffer`, a free stack, a reference count per
 * frame and a charge per account.
 *
 * Invariants:
 * - A frame is free (refs 0, on the free stack exactly once) or in use (refs ≥ 1, charged to exactly
 *   one account). `framesInUse + freeCount === frames`.
 * - A frame is zero-filled when it leaves the free stack, so no byte leaks between owners.
 * - Allocation is all-or-nothing: a request that the quota or the free stack cannot satisfy fails
 *   with `OutOfMemory` and changes nothing.
 *
 * This module is pure bookkeeping (no fibers); the kernel calls it from its synchronous sections.
 */
import { Either } from "effect"
import { MapPrototypeDelete, MapPrototypeGet, MapPrototypeSet, NumberIsSafeInteger, TypedArrayPrototypeFill } from "../primordials.js"
import { OutOfMemory } from "./errors.js"
import { PAGE_SIZE } from "../params.js"

/** An account (one per process generation: a restarted process gets a new one) with a frame quota. */
interface Account {
  quota: number
  charged: number
}

/** The machine's physical memory. One per kernel. */
export class PhysicalMemory {
  /** All of physical memory. Frame `f` is bytes `[f * PAGE_SIZE, (f + 1) * PAGE_SIZE)`. */
  readonly bytes: Uint8Array
  /** Reference count per frame: the number of page-table entries (or kernel holds) naming it. */
  private readonly refs: Uint32Array
  /** Account charged for each frame in use, -1 for a free frame. */
  private readonly chargedTo: Int32Array
  /** Free frames; `free[0 .. freeTop)` are free. */
  private readonly free: Int32Array
  private freeTop: number
  private readonly accounts = new Map<number, Account>()

  constructor(readonly frames: number) {
    if (!NumberIsSafeInteger(frames) || frames <= 0) {
      throw new RangeError(`PhysicalMemory: frames must be a positive integer, got ${frames}`)
    }
    this.bytes = new Uint8Array(new ArrayBuffer(frames * PAGE_SIZE))
    this.refs = new Uint32Array(frames)
    this.chargedTo = new Int32Array(frames).fill(-1)
    this.free = new Int32Array(frames)
    // Hand out low frames first: push in reverse so frame 0 is on top.
    for (let i = 0; i < frames; i++) this.free[i] = frames - 1 - i
    this.freeTop = frames
  }

  /** Frames currently allocated. */
  get framesInUse(): number {
    return this.frames - this.freeTop
  }

  /** Opens an account with a quota in frames. Re-opening an account resets its quota only. */
  openAccount(account: number, quota: number): void {
    const existing = MapPrototypeGet(this.accounts, account)
    if (existing) existing.quota = quota
    else MapPrototypeSet(this.accounts, account, { quota, charged: 0 })
  }

  /** Frames charged to `account`. */
  charged(account: number): number {
    return MapPrototypeGet(this.accounts, account)?.charged ?? 0
  }

  /** The quota of `account` (0 for an unknown account). */
  quota(account: number): number {
    return MapPrototypeGet(this.accounts, account)?.quota ?? 0
  }

  /** Closes an account. Frames still charged to it stay in use until their last reference goes. */
  closeAccount(account: number): void {
    MapPrototypeDelete(this.accounts, account)
  }

  /**
   * Allocates `count` zeroed frames charged to `account`, each with one reference.
   * Fails with `OutOfMemory` (and changes nothing) when the quota or the machine cannot satisfy it.
   */
  allocate(account: number, count: number): Either.Either<Array<number>, OutOfMemory> {
    const acct = MapPrototypeGet(this.accounts, account)
    const room = acct ? acct.quota - acct.charged : 0
    if (count > room) {
      return Either.left(new OutOfMemory({ account, requested: count, available: Math.max(0, room), reason: "quota" }))
    }
    if (count > this.freeTop) {
      return Either.left(new OutOfMemory({ account, requested: count, available: this.freeTop, reason: "frames" }))
    }
    const out = new Array<number>(count)
    for (let i = 0; i < count; i++) {
      const frame = this.free[--this.freeTop]!
      TypedArrayPrototypeFill(this.bytes, 0, frame * PAGE_SIZE, (frame + 1) * PAGE_SIZE)
      this.refs[frame] = 1
      this.chargedTo[frame] = account
      out[i] = frame
    }
    if (count > 0) acct!.charged += count
    return Either.right(out)
  }

  /** Adds a reference to an in-use frame (a second mapping of it). */
  retain(frame: number): void {
    this.assertInUse(frame, "retain")
    this.refs[frame]!++
  }

  /** Drops a reference; the frame returns to the free stack and its charge is lifted at zero. */
  release(frame: number): void {
    this.assertInUse(frame, "release")
    if (--this.refs[frame]! > 0) return
    const account = this.chargedTo[frame]!
    const acct = MapPrototypeGet(this.accounts, account)
    if (acct) acct.charged--
    this.chargedTo[frame] = -1
    this.free[this.freeTop++] = frame
  }

  /** References to `frame` (0 when free). */
  refCount(frame: number): number {
    return this.refs[frame] ?? 0
  }

  /** The account a frame is charged to, or -1 when free. */
  owner(frame: number): number {
    return this.chargedTo[frame] ?? -1
  }

  /**
   * Moves the charge for the first `count` of `frames` (default all) to `account`: a page grant,
   * where the receiver pays for what it now owns. With `from`, only the frames charged to `from`
   * move (a page the sender had by a map stays charged to its owner). Fails with `OutOfMemory`
   * (and changes nothing) when the receiver's quota cannot take the frames that would move.
   */
  recharge(frames: ArrayLike<number>, account: number, count = frames.length, from?: number): Either.Either<void, OutOfMemory> {
    const acct = MapPrototypeGet(this.accounts, account)
    const room = acct ? acct.quota - acct.charged : 0
    const chargedTo = this.chargedTo
    const moves = (frame: number) => {
      const owner = chargedTo[frame]!
      return owner !== account && (from === undefined || owner === from)
    }
    if (count > room) {
      let incoming = 0
      for (let i = 0; i < count; i++) if (moves(frames[i]!)) incoming++
      if (incoming > room) {
        return Either.left(new OutOfMemory({ account, requested: incoming, available: Math.max(0, room), reason: "quota" }))
      }
    }
    // Frames arrive in runs charged to one account (a granted region): one account update per run.
    let moved = 0
    let i = 0
    while (i < count) {
      const owner = chargedTo[frames[i]!]!
      let j = i
      while (j < count && chargedTo[frames[j]!] === owner) j++
      if (owner !== account && (from === undefined || owner === from)) {
        for (let k = i; k < j; k++) chargedTo[frames[k]!] = account
        const prev = MapPrototypeGet(this.accounts, owner)
        if (prev) prev.charged -= j - i
        moved += j - i
      }
      i = j
    }
    if (moved > 0) acct!.charged += moved
    return Either.right(undefined)
  }

  /** Byte offset of `frame` in `bytes`. */
  base(frame: number): number {
    return frame * PAGE_SIZE
  }

  private assertInUse(frame: number, op: string): void {
    if (!(this.refs[frame]! > 0)) {
      throw new Error(`invariant violated: PhysicalMemory.${op} on free frame ${frame}`)
    }
  }
}
