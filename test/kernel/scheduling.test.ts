import { describe, expect, it } from "vitest"
import { Prng, RunQueue, TimerQueue } from "../../src/kernel/internal/scheduling.js"

describe("scheduler internals", () => {
  it("SCHED-0101 the run queue is FIFO across growth and wrap-around, and tells each task's owner", () => {
    const q = new RunQueue<number, string>(4)
    const out: Array<[number, string]> = []
    for (let i = 0; i < 3; i++) q.push(i, `o${i}`)
    out.push([q.take(), q.owner!], [q.take(), q.owner!])
    for (let i = 3; i < 40; i++) q.push(i, `o${i}`)
    while (q.size > 0) out.push([q.take(), q.owner!])
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => [i, `o${i}`]))
  })

  it("SCHED-0102 takeAt takes exactly the chosen entry; every entry is taken once", () => {
    const q = new RunQueue<number, number>(2)
    for (let i = 0; i < 10; i++) q.push(i, i * 10)
    expect(q.takeAt(3)).toBe(3)
    expect(q.owner).toBe(30)
    expect(q.takeAt(0)).toBe(1)
    const rest: Array<number> = []
    while (q.size > 0) rest.push(q.takeAt(q.size - 1))
    expect([3, 1, ...rest].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it("SCHED-0103 the generator is a pure function of its seed, stays in range, and seeds differ", () => {
    const draw = (seed: number) => {
      const p = new Prng(seed)
      return Array.from({ length: 1000 }, () => p.below(7))
    }
    expect(draw(42)).toEqual(draw(42))
    expect(draw(42)).not.toEqual(draw(43))
    expect(draw(2 ** 40 + 1)).not.toEqual(draw(1))
    const xs = draw(7)
    expect(xs.every((x) => Number.isInteger(x) && x >= 0 && x < 7)).toBe(true)
    // Roughly uniform: each of the 7 values within ±40 % of its expected 143.
    const counts = Array.from({ length: 7 }, (_, v) => xs.filter((x) => x === v).length)
    expect(counts.every((c) => c > 85 && c < 200)).toBe(true)
    // Pinned first values: a change here changes every seeded run's schedule.
    const zero = new Prng(0)
    expect([zero.next(), zero.next(), zero.next(), zero.next()]).toEqual([4205396811, 3543653536, 1222415357, 3047368389])
  })

  it("SCHED-0104 timers pop by deadline, then in order of adding; a cancelled timer never pops", () => {
    const q = new TimerQueue()
    const fired: Array<string> = []
    const add = (at: number, name: string) => q.add(at, () => fired.push(name))
    add(30, "c")
    const b = add(20, "b")
    add(10, "a1")
    add(10, "a2")
    const late = add(50, "e")
    add(40, "d")
    expect(q.cancel(b)).toBe(true)
    expect(q.cancel(b)).toBe(false)
    expect(q.cancel(late)).toBe(true)
    expect(q.peek()!.at).toBe(10)
    for (let t = q.pop(); t !== undefined; t = q.pop()) t.fire()
    expect(fired).toEqual(["a1", "a2", "c", "d"])
    expect(q.size).toBe(0)
  })

  it("SCHED-0105 a heap of many random deadlines pops sorted, with cancellations anywhere", () => {
    const p = new Prng(9)
    const q = new TimerQueue()
    const timers = Array.from({ length: 500 }, (_, i) => q.add(p.below(100), () => i))
    const cancelled = new Set(timers.filter((_, i) => i % 3 === 0))
    for (const t of cancelled) q.cancel(t)
    const popped: Array<{ at: number; seq: number }> = []
    for (let t = q.pop(); t !== undefined; t = q.pop()) popped.push({ at: t.at, seq: t.seq })
    expect(popped).toHaveLength(500 - cancelled.size)
    for (let i = 1; i < popped.length; i++) {
      const [x, y] = [popped[i - 1]!, popped[i]!]
      expect(x.at < y.at || (x.at === y.at && x.seq < y.seq)).toBe(true)
    }
  })
})
