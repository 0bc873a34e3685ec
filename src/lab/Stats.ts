/**
 * The lab's statistics, pure functions of the measured numbers: a cell's median over its rounds
 * and its spread, percentiles, and the comparisons every conclusion of the report is made of.
 *
 * The spread is the 95 % bootstrap interval of the median, computed exactly (no resampling, so no
 * randomness): the order statistics between which the median of a resample of the rounds falls
 * with 95 % probability. With 3 or 5 rounds that is the lowest to the highest round; with 7 or 9
 * it drops the lowest and the highest, so one round disturbed by the machine (a collection, a
 * burst of another program) does not decide anything.
 *
 * The rule behind every verdict: one cell *beats* another only when their spreads do not overlap
 * and their medians differ by `RESOLUTION` (1.5 ×) at least. The machine is shared with other
 * programs: a difference smaller than that, even where the spreads separate, does not come out
 * the same run after run. A group's leader is the best median; every cell the leader does not beat
 * ties with it. A verdict names a winner only when nothing ties; otherwise it says "tie".
 */

/** The smallest ratio of medians a verdict acts on. */
export const RESOLUTION = 1.5

/** A cell's rounds summarised: the median, and the 95 % interval around it. */
export interface Spread {
  readonly median: number
  readonly low: number
  readonly high: number
}

/** Which direction is better for a measure. */
export type Better = "higher" | "lower"

/** The median of `samples` (the mean of the middle two for an even count). Throws on none. */
export const median = (samples: ReadonlyArray<number>): number => {
  if (samples.length === 0) throw new Error("median of no samples")
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** P(X ≥ m) for X ~ Binomial(n, p). */
const atLeast = (n: number, p: number, m: number): number => {
  let sum = 0
  let choose = 1 // C(n, j), built up from j = 0
  for (let j = 0; j <= n; j++) {
    if (j > 0) choose = (choose * (n - j + 1)) / j
    if (j >= m) sum += choose * p ** j * (1 - p) ** (n - j)
  }
  return sum
}

/**
 * The median of `samples` and its exact 95 % bootstrap percentile interval: the median of a
 * resample (its lower middle for an even count) is at most the k-th smallest sample with the
 * probability that at least ⌈n/2⌉ of n draws fall among the k smallest. Throws on none.
 */
export const spread = (samples: ReadonlyArray<number>): Spread => {
  const sorted = [...samples].sort((a, b) => a - b)
  const n = sorted.length
  const m = Math.ceil(n / 2)
  const order = (q: number) => {
    for (let k = 1; k <= n; k++) if (atLeast(n, k / n, m) >= q) return sorted[k - 1]!
    return sorted[n - 1]!
  }
  return { median: median(samples), low: order(0.025), high: order(0.975) }
}

/** The nearest-rank `p`-th percentile (0 < p ≤ 100) of `samples`; 0 for none. */
export const percentile = (samples: ReadonlyArray<number>, p: number): number => {
  if (samples.length === 0) return 0
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** Whether `a` is better than `b` beyond doubt: the spreads do not overlap and the medians differ by `RESOLUTION` at least. */
export const beats = (a: Spread, b: Spread, better: Better): boolean =>
  better === "higher" ? a.low > b.high && a.median >= RESOLUTION * b.median : a.high < b.low && a.median * RESOLUTION <= b.median

/** How two cells compare: `"a"` or `"b"` when one beats the other, else `"tie"`. */
export type Outcome = "a" | "b" | "tie"

/** Compares two spreads. */
export const compare = (a: Spread, b: Spread, better: Better): Outcome => (beats(a, b, better) ? "a" : beats(b, a, better) ? "b" : "tie")

/** A group's verdict: the leader by median, and everything it does not beat. */
export interface Lead<T> {
  readonly leader: T
  /** The leader and every entry that ties with it, in the group's order (so that two runs that agree say it alike). */
  readonly tied: ReadonlyArray<T>
  /** The leader, when nothing ties with it. */
  readonly winner: T | undefined
}

/** The lead of a non-empty group. Throws on an empty one. */
export const lead = <T>(entries: ReadonlyArray<T>, spreadOf: (t: T) => Spread, better: Better): Lead<T> => {
  if (entries.length === 0) throw new Error("lead of an empty group")
  const sign = better === "higher" ? -1 : 1
  const leader = [...entries].sort((x, y) => sign * (spreadOf(x).median - spreadOf(y).median))[0]!
  const tied = entries.filter((t) => t === leader || !beats(spreadOf(leader), spreadOf(t), better))
  return { leader, tied, winner: tied.length === 1 ? leader : undefined }
}

/** A run of consecutive points of a sweep with the same outcome. */
export interface Segment<X, O> {
  readonly from: X
  readonly to: X
  readonly outcome: O
}

/** Merges consecutive points with equal outcomes (by `key`) into segments, in order. */
export const segments = <X, O>(points: ReadonlyArray<{ readonly x: X; readonly outcome: O }>, key: (o: O) => string = String): Array<Segment<X, O>> => {
  const out: Array<Segment<X, O>> = []
  for (const p of points) {
    const last = out[out.length - 1]
    if (last !== undefined && key(last.outcome) === key(p.outcome)) out[out.length - 1] = { ...last, to: p.x }
    else out.push({ from: p.x, to: p.x, outcome: p.outcome })
  }
  return out
}

/**
 * Where `b` overtakes `a` along a sweep: the first point where `b` beats `a` after which `a` never
 * beats `b` again (ties allowed: a tie between two wins of `b` is a cell whose intervals happened
 * to overlap, and reading it as a reversal moved the crossover from run to run); undefined when
 * `a` wins last, or `b` never wins.
 */
export const overtakes = <X>(points: ReadonlyArray<{ readonly x: X; readonly outcome: Outcome }>): X | undefined => {
  let at: X | undefined = undefined
  for (const p of points) {
    if (p.outcome === "b") at ??= p.x
    else if (p.outcome === "a") at = undefined
  }
  return at
}

/**
 * The knee of a series ordered by a growing resource (workers, say): the smallest resource that
 * nothing larger beats. Past it, more of the resource stops helping.
 */
export const knee = <X>(series: ReadonlyArray<{ readonly x: X; readonly spread: Spread }>, better: Better): X | undefined =>
  series.find((p, i) => series.slice(i + 1).every((q) => !beats(q.spread, p.spread, better)))?.x
