import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { Capability, CSpace, Rights, rightsOf } from "../../src/kernel/Capability.js"
import { attach, descendants, detach } from "../../src/memory/derivation.js"

const object = () => ({ kind: "test-object", id: 1, ownerPid: 1, ownerGeneration: 0, closed: false })

const withOriginal = (rights: number = Rights.all) => {
  const a = new CSpace(8)
  const b = new CSpace(8)
  const o = object()
  const slot = Either.getOrThrow(a.insert(new Capability(o, rights, 0)))
  return { a, b, o, slot }
}

describe("derivation tree", () => {
  it("descendants lists the whole subtree, deepest first; detach re-parents children", () => {
    const mk = (): any => ({ parent: undefined, first: undefined, last: undefined, next: undefined, prev: undefined })
    const root = mk(),
      c1 = mk(),
      c2 = mk(),
      g = mk()
    attach(root, c1)
    attach(root, c2)
    attach(c1, g)
    expect(descendants(root)).toEqual([g, c1, c2])
    detach(c1)
    expect(g.parent).toBe(root)
    expect(descendants(root)).toEqual([c2, g])
  })
})

describe("CSpace", () => {
  it("mint cannot add rights", () => {
    const { a, slot } = withOriginal(rightsOf("send"))
    const r = a.mint(slot, rightsOf("send", "receive"))
    expect(Either.isLeft(r) && r.left._tag === "RightsDenied").toBe(true)
    expect(a.count).toBe(1)
    const weaker = Either.getOrThrow(a.mint(slot, 0))
    expect(a.peek(weaker)!.rights).toBe(0)
  })

  it("a badge is set once", () => {
    const { a, slot } = withOriginal()
    const badged = Either.getOrThrow(a.mint(slot, Rights.send, 7))
    expect(a.peek(badged)!.badge).toBe(7)
    const again = a.mint(badged, Rights.send, 8)
    expect(Either.isLeft(again) && again.left._tag === "InvalidArgument").toBe(true)
    expect(a.peek(Either.getOrThrow(a.copy(badged)))!.badge).toBe(7)
  })

  it("revoke removes derived capabilities held by other spaces, and keeps the original", () => {
    const { a, b, slot } = withOriginal()
    const inB = Either.getOrThrow(a.mint(slot, Rights.send, 3, b))
    const grandchild = Either.getOrThrow(b.copy(inB))
    expect(b.count).toBe(2)
    expect(Either.getOrThrow(a.revoke(slot))).toBe(2)
    expect(b.peek(inB)).toBeUndefined()
    expect(b.peek(grandchild)).toBeUndefined()
    expect(a.peek(slot)).toBeDefined()
  })

  it("a deleted capability's children remain revocable from its parent", () => {
    const { a, b, slot } = withOriginal()
    const mid = Either.getOrThrow(a.copy(slot))
    const leaf = Either.getOrThrow(a.mint(mid, Rights.send, undefined, b))
    Either.getOrThrow(a.delete(mid))
    expect(b.peek(leaf)).toBeDefined()
    Either.getOrThrow(a.revoke(slot))
    expect(b.peek(leaf)).toBeUndefined()
  })

  it("lookup: empty slot and bad slot are InvalidCapability; missing right is RightsDenied; closed object is StaleCapability", () => {
    const { a, o, slot } = withOriginal(rightsOf("send"))
    const e1 = a.lookup(5, 0, "x")
    const e2 = a.lookup(-1, 0, "x")
    const e3 = a.lookup(slot, Rights.receive, "x")
    expect([e1, e2, e3].map((e) => Either.isLeft(e) && e.left._tag)).toEqual(["InvalidCapability", "InvalidCapability", "RightsDenied"])
    o.closed = true
    const e4 = a.lookup(slot, Rights.send, "x")
    expect(Either.isLeft(e4) && e4.left._tag).toBe("StaleCapability")
  })

  it("move keeps the capability's place in the tree; a full space refuses", () => {
    const { a, b, slot } = withOriginal()
    const child = Either.getOrThrow(a.copy(slot))
    const moved = Either.getOrThrow(a.move(child, b))
    expect(a.peek(child)).toBeUndefined()
    Either.getOrThrow(a.revoke(slot))
    expect(b.peek(moved)).toBeUndefined()
    const tiny = new CSpace(1)
    Either.getOrThrow(tiny.insert(new Capability(object(), 0, 0)))
    expect(Either.isLeft(a.copy(slot, tiny))).toBe(true)
  })
})
