import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { PhysicalMemory } from "../../src/memory/PhysicalMemory.js"
import { PAGE_SIZE } from "../../src/params.js"

describe("PhysicalMemory", () => {
  it("frames are zeroed on allocation", () => {
    const m = new PhysicalMemory(4)
    m.openAccount(1, 4)
    const [f] = Either.getOrThrow(m.allocate(1, 1))
    m.bytes.fill(0xab, m.base(f!), m.base(f!) + PAGE_SIZE)
    m.release(f!)
    const [g] = Either.getOrThrow(m.allocate(1, 1))
    expect(g).toBe(f)
    expect(m.bytes.subarray(m.base(g!), m.base(g!) + PAGE_SIZE).every((b) => b === 0)).toBe(true)
  })

  it("a shared frame is freed on its last release only", () => {
    const m = new PhysicalMemory(2)
    m.openAccount(1, 2)
    const [f] = Either.getOrThrow(m.allocate(1, 1))
    m.retain(f!)
    m.release(f!)
    expect(m.framesInUse).toBe(1)
    expect(m.refCount(f!)).toBe(1)
    m.release(f!)
    expect(m.framesInUse).toBe(0)
    expect(m.charged(1)).toBe(0)
  })

  it("quota exhaustion is OutOfMemory and allocates nothing", () => {
    const m = new PhysicalMemory(8)
    m.openAccount(1, 3)
    Either.getOrThrow(m.allocate(1, 2))
    const r = m.allocate(1, 2)
    expect(Either.isLeft(r) && r.left._tag === "OutOfMemory" && r.left.reason === "quota").toBe(true)
    expect(m.framesInUse).toBe(2)
    expect(m.charged(1)).toBe(2)
  })

  it("machine exhaustion is OutOfMemory and allocates nothing", () => {
    const m = new PhysicalMemory(3)
    m.openAccount(1, 100)
    const r = m.allocate(1, 4)
    expect(Either.isLeft(r) && r.left.reason === "frames").toBe(true)
    expect(m.framesInUse).toBe(0)
  })

  it("recharge moves the charge to the new owner within its quota", () => {
    const m = new PhysicalMemory(4)
    m.openAccount(1, 4)
    m.openAccount(2, 1)
    const frames = Either.getOrThrow(m.allocate(1, 2))
    expect(Either.isLeft(m.recharge(frames, 2))).toBe(true)
    expect(m.charged(1)).toBe(2)
    Either.getOrThrow(m.recharge(frames.slice(0, 1), 2))
    expect(m.charged(1)).toBe(1)
    expect(m.charged(2)).toBe(1)
    expect(m.owner(frames[0]!)).toBe(2)
  })

  it("releasing a free frame is a defect naming the invariant", () => {
    const m = new PhysicalMemory(1)
    expect(() => m.release(0)).toThrow(/invariant violated/)
  })
})
