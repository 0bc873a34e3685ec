import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { AddressSpace, copyBetween, PageRights } from "../../src/memory/AddressSpace.js"
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js"
import { PAGE_SIZE } from "../../src/params.js"

const setup = (frames = 16) => {
  const m = new PhysicalMemory(frames)
  m.openAccount(1, frames)
  m.openAccount(2, frames)
  return { m, a: new AddressSpace(m, 1), b: new AddressSpace(m, 2) }
}

describe("AddressSpace", () => {
  it("reads back what it wrote across a page boundary", () => {
    const { a } = setup()
    const at = Either.getOrThrow(a.allocate(2))
    const data = Uint8Array.from({ length: 100 }, (_, i) => i)
    Either.getOrThrow(a.write(at + PAGE_SIZE - 50, data))
    expect(Either.getOrThrow(a.read(at + PAGE_SIZE - 50, 100))).toEqual(data)
  })

  it("PageFault on an unmapped page, with the address and access", () => {
    const { a } = setup()
    const r = a.read(0x5000_0000, 4)
    expect(Either.isLeft(r)).toBe(true)
    const e = (r as Either.Left<any, any>).left
    expect(e._tag).toBe("PageFault")
    expect(e.address).toBe(0x5000_0000)
    expect(e.access).toBe("read")
  })

  it("address 0 always faults", () => {
    const { a } = setup()
    Either.getOrThrow(a.allocate(4))
    expect(Either.isLeft(a.read(0, 1))).toBe(true)
  })

  it("PageFault on a write to a read-only page, and nothing is written", () => {
    const { a } = setup()
    const at = Either.getOrThrow(a.allocate(2))
    Either.getOrThrow(a.protect(at + PAGE_SIZE, 1, PageRights.read))
    const r = a.write(at + PAGE_SIZE - 2, new Uint8Array([1, 2, 3, 4]))
    expect(Either.isLeft(r) && r.left._tag === "PageFault" && r.left.reason === "protection" && r.left.address === at + PAGE_SIZE).toBe(true)
    expect(Either.getOrThrow(a.read(at + PAGE_SIZE - 2, 2))).toEqual(new Uint8Array([0, 0]))
  })

  it("protect never raises rights above how a page was mapped", () => {
    const { a, b } = setup()
    const at = Either.getOrThrow(a.allocate(1))
    const win = Either.getOrThrow(b.reserve(1))
    Either.getOrThrow(b.mapPage(win >>> 12, a.frameAt(at >>> 12), PageRights.read))
    Either.getOrThrow(b.protect(win, 1, PageRights.readWrite))
    expect(b.rightsAt(win >>> 12)).toBe(PageRights.read)
  })

  it("cross-address-space copy counts bytes and honours rights", () => {
    const { a, b } = setup()
    const src = Either.getOrThrow(a.allocate(2))
    const dst = Either.getOrThrow(b.allocate(3))
    const data = Uint8Array.from({ length: 5000 }, (_, i) => i & 255)
    Either.getOrThrow(a.write(src + 7, data))
    const s = Either.getOrThrow(a.check(src + 7, 5000, "read"))
    const d = Either.getOrThrow(b.check(dst + 100, 5000, "write"))
    expect(copyBetween(s, d)).toBe(5000)
    expect(Either.getOrThrow(b.read(dst + 100, 5000))).toEqual(data)
    Either.getOrThrow(b.protect(dst, 3, PageRights.read))
    expect(Either.isLeft(b.check(dst, 10, "write"))).toBe(true)
    expect(() => copyBetween(d, s)).toThrow(/invariant violated/)
  })

  it("free unmaps the region and returns the frames", () => {
    const { m, a } = setup()
    const at = Either.getOrThrow(a.allocate(3))
    expect(m.framesInUse).toBe(3)
    Either.getOrThrow(a.free(at))
    expect(m.framesInUse).toBe(0)
    expect(Either.isLeft(a.free(at))).toBe(true)
  })

  it("a bad (address, length) allegation is InvalidAddress", () => {
    const { a } = setup()
    expect(Either.isLeft(a.check(1.5, 3, "read"))).toBe(true)
    expect(Either.isLeft(a.check(4096, -1, "read"))).toBe(true)
  })
})
