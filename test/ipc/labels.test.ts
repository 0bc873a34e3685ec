import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { Labels, Protocol } from "../../src/index.js"

describe("labels", () => {
  it("LABEL-0001 reserved labels never carry the spill bit and lie above every ordinal", () => {
    for (const [name, label] of Object.entries(Labels.reserved)) {
      expect({ name, spilled: (label & Labels.SPILLED) !== 0 }).toEqual({ name, spilled: false })
      expect(label).toBeGreaterThanOrEqual(Labels.RESERVED)
      expect(label).toBeLessThanOrEqual(Labels.LABEL_BITS)
    }
    expect(new Set(Object.values(Labels.reserved)).size).toBe(Object.keys(Labels.reserved).length)
  })

  it("LABEL-0002 a protocol's ordinals stay below the reserved labels", () => {
    const p = Protocol.make("p", { a: Protocol.operation({ success: Schema.Number }), b: Protocol.operation({}) })
    for (const e of p.entries) expect(e.ordinal).toBeLessThan(Labels.RESERVED)
  })
})
