import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { beats, compare, knee, lead, median, overtakes, percentile, RESOLUTION, segments, spread, type Spread } from "../../src/lab/Stats.js"

const s = (median: number, low: number, high: number): Spread => ({ median, low, high })

describe("lab statistics", () => {
  it("LAB-0001 median of a cell's rounds", () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(() => median([])).toThrow()
  })

  it("LAB-0009 the spread is the exact 95 % bootstrap interval of the median: min–max up to 5 rounds, the extremes dropped from 7", () => {
    expect(spread([5, 9, 7])).toEqual({ median: 7, low: 5, high: 9 })
    expect(spread([1, 2])).toEqual({ median: 1.5, low: 1, high: 2 })
    expect(spread([50, 10, 30, 20, 40])).toEqual({ median: 30, low: 10, high: 50 })
    expect(spread([1, 7, 3, 100, 4, 5, 6])).toEqual({ median: 5, low: 3, high: 7 })
    expect(spread([9, 1, 8, 2, 7, 3, 6, 4, 5])).toEqual({ median: 5, low: 2, high: 8 })
    expect(spread([4])).toEqual({ median: 4, low: 4, high: 4 })
  })

  it("LAB-0002 nearest-rank percentiles", () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i)
    expect(percentile(xs, 50)).toBe(50)
    expect(percentile(xs, 99)).toBe(99)
    expect(percentile(xs, 100)).toBe(100)
    expect(percentile([7], 99)).toBe(7)
    expect(percentile([], 50)).toBe(0)
  })

  it("LAB-0003 one cell beats another only when the spreads do not overlap", () => {
    expect(beats(s(10, 9, 11), s(5, 4, 8), "higher")).toBe(true)
    expect(beats(s(10, 7, 11), s(5, 4, 8), "higher")).toBe(false)
    expect(beats(s(5, 4, 8), s(10, 9, 11), "lower")).toBe(true)
    expect(compare(s(10, 9, 11), s(5, 4, 8), "higher")).toBe("a")
    expect(compare(s(5, 4, 8), s(10, 9, 11), "higher")).toBe("b")
    expect(compare(s(10, 7, 11), s(9, 4, 8), "higher")).toBe("tie")
  })

  it("LAB-0010 a difference under the resolution (1.5 ×) is a tie even where the spreads separate", () => {
    expect(RESOLUTION).toBe(1.5)
    expect(compare(s(14, 13.9, 14.1), s(10, 9.9, 10.1), "higher")).toBe("tie")
    expect(compare(s(15, 14.9, 15.1), s(10, 9.9, 10.1), "higher")).toBe("a")
    expect(compare(s(7, 6.9, 7.1), s(10, 9.9, 10.1), "lower")).toBe("tie")
    expect(compare(s(6.5, 6.4, 6.6), s(10, 9.9, 10.1), "lower")).toBe("a")
  })

  it("LAB-0004 a group's winner is named only when nothing ties with the leader", () => {
    const clear = lead([s(10, 9, 11), s(20, 18, 22), s(5, 4, 6)], (x) => x, "higher")
    expect(clear.winner).toEqual(s(20, 18, 22))
    expect(clear.tied).toHaveLength(1)
    const close = lead([s(10, 9, 19), s(20, 18, 22), s(5, 4, 6)], (x) => x, "higher")
    expect(close.winner).toBeUndefined()
    // In the group's order, whatever the medians: two runs that agree say it the same way.
    expect(close.tied).toEqual([s(10, 9, 19), s(20, 18, 22)])
    expect(close.leader).toEqual(s(20, 18, 22))
    expect(lead([s(3, 2, 4), s(1, 0.5, 1.5)], (x) => x, "lower").winner).toEqual(s(1, 0.5, 1.5))
  })

  it.prop(
    "LAB-0005 verdicts do not depend on the machine's speed: scaling every number keeps the same lead",
    [
      fc.array(
        fc.tuple(fc.double({ min: 1, max: 1000, noNaN: true }), fc.double({ min: 0, max: 0.5, noNaN: true }), fc.double({ min: 0, max: 0.5, noNaN: true })),
        { minLength: 1, maxLength: 8 }
      ),
      // Powers of two scale floating-point numbers exactly, so no comparison changes by rounding.
      fc.integer({ min: -10, max: 10 }).map((e) => 2 ** e)
    ],
    ([cells, factor]) => {
      const spreads = cells.map(([m, lo, hi]) => s(m, m * (1 - lo), m * (1 + hi)))
      const scaled = spreads.map((x) => s(x.median * factor, x.low * factor, x.high * factor))
      const a = lead(spreads, (x) => x, "higher")
      const b = lead(scaled, (x) => x, "higher")
      expect(b.tied.map((x) => scaled.indexOf(x))).toEqual(a.tied.map((x) => spreads.indexOf(x)))
    }
  )

  it("LAB-0006 segments merge a sweep's equal verdicts", () => {
    const points = [1, 2, 3, 4, 5].map((x) => ({ x, outcome: x < 3 ? "copy" : x === 3 ? "tie" : "grant" }))
    expect(segments(points)).toEqual([
      { from: 1, to: 2, outcome: "copy" },
      { from: 3, to: 3, outcome: "tie" },
      { from: 4, to: 5, outcome: "grant" }
    ])
  })

  it("LAB-0007 b overtakes a where it first beats a with a never winning after (ties allowed), and nowhere if a wins last or b never wins", () => {
    const at = (...o: Array<"a" | "b" | "tie">) => o.map((outcome, x) => ({ x, outcome }))
    expect(overtakes(at("a", "tie", "b", "b"))).toBe(2)
    expect(overtakes(at("b", "a", "b"))).toBe(2)
    expect(overtakes(at("a", "b", "tie", "b"))).toBe(1)
    expect(overtakes(at("a", "b", "tie"))).toBe(1)
    expect(overtakes(at("b", "b", "a"))).toBeUndefined()
    expect(overtakes(at("a", "tie", "tie"))).toBeUndefined()
    expect(overtakes(at("b", "b"))).toBe(0)
  })

  it("LAB-0008 the knee is the smallest resource no larger one beats", () => {
    const series = [
      { x: 1, spread: s(1000, 990, 1010) },
      { x: 4, spread: s(4000, 3900, 4100) },
      { x: 16, spread: s(15000, 14000, 16000) },
      { x: 64, spread: s(15500, 13000, 17000) }
    ]
    expect(knee(series, "higher")).toBe(16)
    expect(knee([{ x: 1, spread: s(1, 1, 1) }], "higher")).toBe(1)
  })
})
