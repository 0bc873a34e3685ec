/** How the lab writes numbers, sizes and lists in its tables and sentences. */
import type { Spread } from "./Stats.js"

/** A size in the units a reader expects: 64 B, 4 KiB, 64 KiB, 1 MiB. */
export const sizeLabel = (n: number): string =>
  n >= 1048576 && n % 1048576 === 0 ? `${n / 1048576} MiB` : n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`

/** A number with three significant digits (whole numbers from 100 on, with thousands separators). */
export const num = (v: number): string => {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  if (a >= 100) return Math.round(v).toLocaleString("en-US")
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  if (a === 0) return "0"
  return v.toPrecision(2)
}

/** A spread as "median (low–high)". */
export const withSpread = (s: Spread): string => `${num(s.median)} (${num(s.low)}–${num(s.high)})`

/** A percentage of a ratio, whole. */
export const percent = (ratio: number): string => `${Math.round(ratio * 100)} %`

/** "a", "a and b", "a, b and c". */
export const list = (items: ReadonlyArray<string>): string =>
  items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`

/** A range of a sweep: "64 KiB" or "64 KiB–16 MiB". */
export const range = <X>(from: X, to: X, label: (x: X) => string): string => (from === to ? label(from) : `${label(from)}–${label(to)}`)
