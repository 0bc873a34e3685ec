import { describe, expect, it } from "vitest"
import { RangeAllocator } from "../../src/memory/internal/ranges.js"

describe("RangeAllocator", () => {
  it("allocates first fit and merges freed neighbours", () => {
    const r = new RangeAllocator(1, 10)
    const a = r.allocate(3)
    const b = r.allocate(3)
    const c = r.allocate(3)
    expect([a, b, c]).toEqual([1, 4, 7])
    expect(r.allocate(2)).toBe(-1)
    r.free(b, 3)
    r.free(a, 3)
    expect(r.allocate(6)).toBe(1)
    r.free(1, 6)
    r.free(c, 3)
    expect(r.freePages).toBe(10)
    expect(r.allocate(10)).toBe(1)
  })

  it("a double free is a defect", () => {
    const r = new RangeAllocator(1, 10)
    const a = r.allocate(2)
    r.free(a, 2)
    expect(() => r.free(a, 2)).toThrow(/invariant violated/)
  })
})
