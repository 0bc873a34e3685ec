import { describe, expect, it } from "@effect/vitest"
import { alternating } from "../../bench/harness.js"

describe("bench harness", () => {
  it("BENCH-0001 a ratio's sides are timed in interleaved batches, a b then b a, and the warm-up round is discarded", async () => {
    const seen: Array<string> = []
    let n = 0
    const side = (name: string, value: () => number) => async () => {
      seen.push(name)
      return value()
    }
    // a's batches read 2, 4, 6, …; b's always 1: the first round (warm-up) is thrown away.
    const r = await alternating(
      side("a", () => 2 * ++n),
      side("b", () => 1),
      { rounds: 3, batches: 4 }
    )
    expect(seen.slice(0, 8).join("")).toBe("abbaabba")
    expect(seen).toHaveLength(4 * 2 * 4)
    // Rounds 2–4 hold a's batches 5–8, 9–12, 13–16: medians 13, 21, 29.
    expect(r).toEqual({ value: 21, min: 13, max: 29 })
  })

  it("BENCH-0002 the ratio is the median of the rounds' ratios: one disturbed round does not move it", async () => {
    let round = 0
    let calls = 0
    const a = async () => {
      const r = Math.floor(calls++ / 2)
      round = r
      return r === 3 ? 50 : 10
    }
    const r = await alternating(a, async () => 5, { rounds: 5, batches: 2 })
    expect(round).toBe(5)
    expect(r.value).toBe(2)
    expect(r.max).toBe(10)
  })
})
