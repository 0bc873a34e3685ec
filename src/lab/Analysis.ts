/**
 * Building blocks of the experiments' analyses: verdicts over groups of cells and over sweeps,
 * in words, computed from `Stats` only.
 */
import type { Cell, CellResult, Param, Series, Table } from "./Experiment.js"
import { list, range, withSpread } from "./Format.js"
import { compare, type Lead, lead, type Outcome, segments } from "./Stats.js"

/** The sizes of a sweep: `from`, then each `factor` times the one before, up to `to`. */
export const sweep = (from: number, factor: number, to: number): Array<number> => {
  const out: Array<number> = []
  for (let s = from; s <= to; s *= factor) out.push(s)
  return out
}

/** A cell's parameter as a number. */
export const numberOf = (cell: Cell, name: string): number => Number(cell.params[name])

/** The results whose parameters match `params` (every given one). */
export const where = (results: ReadonlyArray<CellResult>, params: Readonly<Record<string, Param>>): Array<CellResult> =>
  results.filter((r) => Object.entries(params).every(([k, v]) => r.params[k] === v))

/** The result of `variant` among `results`, if measured. */
export const variant = (results: ReadonlyArray<CellResult>, name: string): CellResult | undefined => results.find((r) => r.variant === name)

/** The lead of a group of results (by their metric). */
export const leadOf = (results: ReadonlyArray<CellResult>): Lead<CellResult> => lead(results, (r) => r.value, results[0]!.metric.better)

/** A lead in words: the winner's name, or "tie (a, b)". */
export const verdict = (l: Lead<CellResult>): string => (l.winner !== undefined ? l.winner.variant : `tie (${l.tied.map((r) => r.variant).join(", ")})`)

/** A lead in few words, for the answers: the winner, "a or b" (or three) tied, or "no clear winner" when more tie. */
export const shortVerdict = (l: Lead<CellResult>): string =>
  l.winner !== undefined ? l.winner.variant : l.tied.length <= 3 ? l.tied.map((r) => r.variant).join(" or ") : "no clear winner"

/**
 * The leads along a sweep, merged where they repeat: "64 B–1 KiB: tie (copy, lease); 4 KiB: copy".
 * `at(x)` gives the group measured at `x` (sweep points without results are skipped); `words`
 * says a lead (default `verdict`).
 */
export const leadsAlong = <X>(
  xs: ReadonlyArray<X>,
  at: (x: X) => ReadonlyArray<CellResult>,
  label: (x: X) => string,
  words: (l: Lead<CellResult>) => string = verdict
): string =>
  segments(xs.flatMap((x) => (at(x).length === 0 ? [] : [{ x, outcome: words(leadOf(at(x))) }])))
    .map((s) => `${range(s.from, s.to, label)}: ${s.outcome}`)
    .join("; ")

/** How `a` and `b` compare at each point of a sweep where both were measured. */
export const pairAlong = <X>(xs: ReadonlyArray<X>, at: (x: X) => ReadonlyArray<CellResult>, a: string, b: string): Array<{ x: X; outcome: Outcome }> =>
  xs.flatMap((x) => {
    const ra = variant(at(x), a)
    const rb = variant(at(x), b)
    return ra === undefined || rb === undefined ? [] : [{ x, outcome: compare(ra.value, rb.value, ra.metric.better) }]
  })

/** A pairwise sweep in words: "copy faster at 64 B–4 KiB, tie at 16 KiB, grant faster at 64 KiB–16 MiB". */
export const pairInWords = <X>(points: ReadonlyArray<{ x: X; outcome: Outcome }>, a: string, b: string, label: (x: X) => string, faster = "faster"): string =>
  list(segments(points).map((s) => `${s.outcome === "a" ? `${a} ${faster}` : s.outcome === "b" ? `${b} ${faster}` : "tie"} at ${range(s.from, s.to, label)}`))

/**
 * A table of one measure along a sweep: a row per point, a column per variant (median and
 * spread), and the lead at the end.
 */
export const sweepTable = <X>(
  caption: string,
  xName: string,
  xs: ReadonlyArray<X>,
  at: (x: X) => ReadonlyArray<CellResult>,
  variants: ReadonlyArray<string>,
  label: (x: X) => string
): Table => ({
  caption,
  header: [xName, ...variants, "best (intervals apart) or tie"],
  rows: xs.flatMap((x) => {
    const group = at(x)
    if (group.length === 0) return []
    return [[label(x), ...variants.map((v) => (variant(group, v) === undefined ? "—" : withSpread(variant(group, v)!.value))), verdict(leadOf(group))]]
  }),
  textColumns: 1
})

/** A series per variant along a sweep, for a chart. */
export const seriesAlong = <X>(
  xs: ReadonlyArray<X>,
  at: (x: X) => ReadonlyArray<CellResult>,
  variants: ReadonlyArray<string>,
  xValue: (x: X) => number,
  name: (v: string) => string = (v) => v,
  dashed = false
): Array<Series> =>
  variants.map((v) => ({
    name: name(v),
    dashed,
    points: xs.flatMap((x) => {
      const r = variant(at(x), v)
      return r === undefined ? [] : [{ x: xValue(x), y: r.value }]
    })
  }))
