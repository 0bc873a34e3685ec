/**
 * The lab's outputs: the console table, `report.md`, the throughput chart (`throughput.svg`,
 * drawn here as plain SVG) and JSON lines.
 */
import { type Measurement, STRATEGIES, type Strategy } from "./Workload.js"

/** A result row: a direct measurement or one through the VFS. */
export type Row = Omit<Measurement, "strategy"> & { readonly strategy: string }

/** A size in the units a reader expects: 64 B, 4 KiB, 64 KiB, 1 MiB. */
export const sizeLabel = (n: number): string =>
  n >= 1048576 && n % 1048576 === 0 ? `${n / 1048576} MiB` : n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`

const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))

/** The strategy with the best throughput at each size (averaged over the client counts). */
export const winners = (results: ReadonlyArray<Measurement>): ReadonlyMap<number, Strategy> => {
  const out = new Map<number, Strategy>()
  for (const size of [...new Set(results.map((r) => r.size))]) {
    let best: Strategy | undefined
    let bestRate = -1
    for (const s of STRATEGIES) {
      const rows = results.filter((r) => r.size === size && r.strategy === s)
      if (rows.length === 0) continue
      const rate = rows.reduce((n, r) => n + r.mbPerS, 0) / rows.length
      if (rate > bestRate) {
        best = s
        bestRate = rate
      }
    }
    if (best !== undefined) out.set(size, best)
  }
  return out
}

const HEADER = ["strategy", "size", "clients", "µs/op", "MB/s", "copied/byte", "pages/op", "frames in use", "hand-offs/op", "intact"]
const row = (r: Row): Array<string> => [
  r.strategy,
  sizeLabel(r.size),
  String(r.clients),
  fmt(r.usPerOp),
  fmt(r.mbPerS),
  r.copiedPerByte.toFixed(2),
  fmt(r.pagesPerOp),
  String(r.framesInUse),
  fmt(r.handoffsPerOp),
  r.intact ? "yes" : "NO"
]

/** The results as an aligned text table, then the winner at each size. */
export const textTable = (results: ReadonlyArray<Row>, withWinners = true): string => {
  const rows = [HEADER, ...results.map(row)]
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const lines = rows.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "))
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "))
  if (!withWinners) return `${lines.join("\n")}\n`
  const win = [...winners(results as ReadonlyArray<Measurement>)].map(([size, s]) => `${sizeLabel(size)}: ${s}`).join(", ")
  return `${lines.join("\n")}\n\nfastest at each size: ${win}\n`
}

/** The results as a Markdown table. */
export const markdownTable = (results: ReadonlyArray<Row>): string =>
  [`| ${HEADER.join(" | ")} |`, `|${HEADER.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`, ...results.map((r) => `| ${row(r).join(" | ")} |`)].join(
    "\n"
  ) + "\n"

/** One JSON object per line. */
export const jsonLines = (results: ReadonlyArray<Row>): string => results.map((r) => JSON.stringify(r)).join("\n") + "\n"

const COLORS: Record<string, string> = {
  "vfs.lease": "#2ca02c",
  "vfs.grant": "#d62728",
  inline: "#7f7f7f",
  copy: "#1f77b4",
  lease: "#2ca02c",
  map: "#9467bd",
  grant: "#d62728",
  ring: "#ff7f0e",
  plan: "#17becf"
}

/** Direct strategies first, in report order, then the VFS paths. */
const order = (s: string) => {
  const i = (STRATEGIES as ReadonlyArray<string>).indexOf(s)
  return i >= 0 ? i : STRATEGIES.length + s.length
}

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/**
 * Throughput (MB/s, log scale) by transfer size, one line per strategy, each point the best over
 * the client counts measured. Plain SVG, one `<g class="series">` per strategy.
 */
export const throughputSvg = (results: ReadonlyArray<Row>, title: string): string => {
  const W = 760
  const H = 440
  const left = 70
  const right = 150
  const top = 40
  const bottom = 50
  const sizes = [...new Set(results.map((r) => r.size))].sort((a, b) => a - b)
  const rates = results.map((r) => r.mbPerS).filter((v) => v > 0)
  const lo = Math.floor(Math.log10(Math.max(1e-3, Math.min(...rates, 1))))
  const hi = Math.ceil(Math.log10(Math.max(...rates, 10)))
  const x = (i: number) => left + (sizes.length === 1 ? (W - left - right) / 2 : (i * (W - left - right)) / (sizes.length - 1))
  const y = (v: number) => top + ((hi - Math.log10(Math.max(v, 10 ** lo))) * (H - top - bottom)) / (hi - lo)
  const parts: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${xml(title)}</text>`
  ]
  for (let e = lo; e <= hi; e++) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/>`)
    parts.push(`<text x="${left - 8}" y="${y(10 ** e) + 4}" text-anchor="end">${xml(e >= 0 ? String(10 ** e) : (10 ** e).toFixed(-e))}</text>`)
  }
  sizes.forEach((s, i) => parts.push(`<text x="${x(i)}" y="${H - bottom + 20}" text-anchor="middle">${xml(sizeLabel(s))}</text>`))
  parts.push(`<text x="${(left + W - right) / 2}" y="${H - 10}" text-anchor="middle">transfer size (write + read)</text>`)
  parts.push(`<text transform="translate(16 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle">MB/s (log scale)</text>`)
  const present = [...new Set(results.map((r) => r.strategy))].sort((a, b) => order(a) - order(b))
  present.forEach((s, k) => {
    const points = sizes
      .map((size, i) => {
        const rows = results.filter((r) => r.strategy === s && r.size === size)
        return rows.length === 0 ? undefined : `${x(i).toFixed(1)},${y(Math.max(...rows.map((r) => r.mbPerS))).toFixed(1)}`
      })
      .filter((p): p is string => p !== undefined)
    parts.push(`<g class="series" data-strategy="${s}">`)
    const dash = s.startsWith("vfs.") ? ` stroke-dasharray="6 4"` : ""
    parts.push(`<polyline fill="none" stroke="${COLORS[s] ?? "#000"}" stroke-width="2"${dash} points="${points.join(" ")}"/>`)
    for (const p of points) {
      const [px, py] = p.split(",")
      parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${COLORS[s] ?? "#000"}"/>`)
    }
    parts.push(
      `<line x1="${W - right + 15}" x2="${W - right + 35}" y1="${top + 10 + k * 20}" y2="${top + 10 + k * 20}" stroke="${COLORS[s] ?? "#000"}" stroke-width="2"${dash}/>`
    )
    parts.push(`<text x="${W - right + 40}" y="${top + 14 + k * 20}">${xml(s)}</text>`)
    parts.push(`</g>`)
  })
  parts.push(`</svg>`)
  return parts.join("\n") + "\n"
}
