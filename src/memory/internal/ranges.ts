/**
 * A first-fit allocator of page ranges: the free virtual ranges of one address space.
 *
 * Invariant: `starts`/`counts` describe disjoint, non-adjacent free ranges sorted by start.
 * Pure data structure, no fibers; unit-tested directly.
 */
export class RangeAllocator {
  private readonly starts: Array<number> = []
  private readonly counts: Array<number> = []

  /** Manages pages `[first, first + count)`, all free. */
  constructor(first: number, count: number) {
    if (count > 0) {
      this.starts.push(first)
      this.counts.push(count)
    }
  }

  /** Takes the lowest free run of `count` pages; returns its first page, or -1 when none fits. */
  allocate(count: number): number {
    for (let i = 0; i < this.starts.length; i++) {
      const n = this.counts[i]!
      if (n < count) continue
      const start = this.starts[i]!
      if (n === count) {
        this.starts.splice(i, 1)
        this.counts.splice(i, 1)
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
      this.starts.splice(i, 1)
      this.counts.splice(i, 1)
    } else if (joinsPrev) {
      this.counts[prev]! += count
    } else if (joinsNext) {
      this.starts[i] = start
      this.counts[i]! += count
    } else {
      this.starts.splice(i, 0, start)
      this.counts.splice(i, 0, count)
    }
  }

  /** Total free pages. */
  get freePages(): number {
    let n = 0
    for (const c of this.counts) n += c
    return n
  }
}
