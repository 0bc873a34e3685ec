/**
 * A first-fit allocator of page ranges: the free virtual ranges of one address space.
 *
 * Invariant: `starts`/`counts` describe disjoint, non-adjacent free ranges sorted by start.
 * Pure data structure, no fibers; unit-tested directly. Uses the kernel's captured built-ins.
 */
import { ArrayPrototypePush, ArrayPrototypeSplice } from "../../primordials.js"

export class RangeAllocator {
  private readonly starts: Array<number> = []
  private readonly counts: Array<number> = []

  /** Manages pages `[first, first + count)`, all free. */
  constructor(first: number, count: number) {
    if (count > 0) {
      ArrayPrototypePush(this.starts, first)
      ArrayPrototypePush(this.counts, count)
    }
  }

  /** Takes the lowest free run of `count` pages; returns its first page, or -1 when none fits. */
  allocate(count: number): number {
    for (let i = 0; i < this.starts.length; i++) {
      const n = this.counts[i]!
      if (n < count) continue
      const start = this.starts[i]!
      if (n === count) {
        ArrayPrototypeSplice(this.starts, i, 1)
        ArrayPrototypeSplice(this.counts, i, 1)
      } else {
        this.starts[i] = start + count
        this.counts[i] = n - count
      }
      return start
    }
    return -1
  }

  /** Returns `[start, start + count)` to the free set, merging with its neighbours. */
  free(start: number, count: number): void {
    let i = 0
    while (i < this.starts.length && this.starts[i]! < start) i++
    const prev = i - 1
    const end = start + count
    if (prev >= 0 && this.starts[prev]! + this.counts[prev]! > start) {
      throw new Error(`invariant violated: RangeAllocator.free of [${start}, ${end}) overlaps a free range`)
    }
    if (i < this.starts.length && this.starts[i]! < end) {
      throw new Error(`invariant violated: RangeAllocator.free of [${start}, ${end}) overlaps a free range`)
    }
    const joinsPrev = prev >= 0 && this.starts[prev]! + this.counts[prev]! === start
    const joinsNext = i < this.starts.length && this.starts[i] === end
    if (joinsPrev && joinsNext) {
      this.counts[prev]! += count + this.counts[i]!
      ArrayPrototypeSplice(this.starts, i, 1)
      ArrayPrototypeSplice(this.counts, i, 1)
    } else if (joinsPrev) {
      this.counts[prev]! += count
    } else if (joinsNext) {
      this.starts[i] = start
      this.counts[i]! += count
    } else {
      ArrayPrototypeSplice(this.starts, i, 0, start)
      ArrayPrototypeSplice(this.counts, i, 0, count)
    }
  }

  /** Total free pages. */
  get freePages(): number {
    let n = 0
    for (let i = 0; i < this.counts.length; i++) n += this.counts[i]!
    return n
  }
}
