/**
 * The lab's charts as plain SVG: one line per series, a bar from min to max at every point (the
 * spread over the rounds), logarithmic axes where the chart asks for them, labelled axes with
 * units, and a legend. No dependencies; the output is well-formed XML.
 */
import type { Chart } from "./Experiment.js"

const W = 800
const H = 460
const LEFT = 80
const RIGHT = 190
const TOP = 44
const BOTTOM = 56
const COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#ff7f0e", "#17becf", "#7f7f7f", "#8c564b", "#e377c2", "#bcbd22", "#393b79", "#637939"]

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** A scale from data to pixels over `[lo, hi]`, with the ticks to draw. */
interface Scale {
  readonly at: (v: number) => number
  readonly ticks: ReadonlyArray<number>
}

/** Round tick values for a linear axis from 0 (or the lowest value) to the highest. */
const linearTicks = (lo: number, hi: number): Array<number> => {
  const span = hi - lo || Math.abs(hi) || 1
  const step = 10 ** Math.floor(Math.log10(span / 5))
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= 6) ?? step * 10
  const out: Array<number> = []
  for (let v = Math.floor(lo / nice) * nice; v <= hi + nice / 2; v += nice) out.push(Number(v.toPrecision(12)))
  return out
}

const scale = (values: ReadonlyArray<number>, log: boolean, from: number, to: number): Scale => {
  if (log) {
    const positive = values.filter((v) => v > 0)
    const lo = Math.floor(Math.log10(Math.min(...positive)))
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...positive))))
    const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i))
    return { at: (v) => from + ((Math.log10(Math.max(v, 10 ** lo)) - lo) * (to - from)) / (hi - lo), ticks }
  }
  const ticks = linearTicks(Math.min(0, ...values), Math.max(...values))
  const lo = ticks[0]!
  const hi = ticks[ticks.length - 1]!
  return { at: (v) => from + ((v - lo) * (to - from)) / (hi - lo || 1), ticks }
}

const tickLabel = (v: number): string => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : v >= 1 ? String(v) : String(Number(v.toPrecision(2))))

/** Renders `chart` as an SVG document. */
export const toSvg = (chart: Chart): string => {
  const points = chart.series.flatMap((s) => s.points)
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b)
  const ys = points.flatMap((p) => [p.y.low, p.y.high, p.y.median])
  const parts: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(chart.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(LEFT + W - RIGHT) / 2}" y="24" text-anchor="middle" font-size="15">${xml(chart.title)}</text>`
  ]
  if (points.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`, "</svg>")
    return parts.join("\n") + "\n"
  }
  const x = scale(xs, chart.x.log, LEFT + 10, W - RIGHT - 10)
  const y = scale(ys, chart.y.log, H - BOTTOM, TOP)
  for (const t of y.ticks) {
    parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y.at(t).toFixed(1)}" y2="${y.at(t).toFixed(1)}" stroke="#e4e4e4"/>`)
    parts.push(`<text x="${LEFT - 8}" y="${(y.at(t) + 4).toFixed(1)}" text-anchor="end">${xml(tickLabel(t))}</text>`)
  }
  // Label every measured x, thinned to at most ~12 labels.
  const every = Math.ceil(xs.length / 12)
  xs.forEach((v, i) => {
    if (i % every !== 0 && i !== xs.length - 1) return
    parts.push(`<line x1="${x.at(v).toFixed(1)}" x2="${x.at(v).toFixed(1)}" y1="${H - BOTTOM}" y2="${H - BOTTOM + 5}" stroke="#888"/>`)
    parts.push(`<text x="${x.at(v).toFixed(1)}" y="${H - BOTTOM + 19}" text-anchor="middle">${xml(chart.x.format(v))}</text>`)
  })
  parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${H - BOTTOM}" y2="${H - BOTTOM}" stroke="#888"/>`)
  parts.push(`<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${H - BOTTOM}" stroke="#888"/>`)
  parts.push(`<text x="${(LEFT + W - RIGHT) / 2}" y="${H - 14}" text-anchor="middle">${xml(chart.x.label + (chart.x.log ? " (log scale)" : ""))}</text>`)
  parts.push(`<text transform="translate(18 ${(TOP + H - BOTTOM) / 2}) rotate(-90)" text-anchor="middle">${xml(chart.y.label)}</text>`)
  chart.series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length]!
    const dash = s.dashed === true ? ` stroke-dasharray="6 4"` : ""
    const line = s.points.map((p) => `${x.at(p.x).toFixed(1)},${y.at(p.y.median).toFixed(1)}`).join(" ")
    parts.push(`<g class="series" data-series="${xml(s.name)}">`)
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${line}"/>`)
    for (const p of s.points) {
      const px = x.at(p.x).toFixed(1)
      parts.push(`<line x1="${px}" x2="${px}" y1="${y.at(p.y.low).toFixed(1)}" y2="${y.at(p.y.high).toFixed(1)}" stroke="${color}" stroke-width="1"/>`)
      parts.push(`<circle cx="${px}" cy="${y.at(p.y.median).toFixed(1)}" r="3" fill="${color}"/>`)
    }
    const ly = TOP + 10 + k * 20
    parts.push(`<line x1="${W - RIGHT + 16}" x2="${W - RIGHT + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`)
    parts.push(`<text x="${W - RIGHT + 46}" y="${ly + 4}">${xml(s.name)}</text>`)
    parts.push(`</g>`)
  })
  parts.push(`<text x="${W - RIGHT + 16}" y="${TOP + 20 + chart.series.length * 20}" fill="#666">bars: 95 % interval of the median</text>`)
  parts.push(`</svg>`)
  return parts.join("\n") + "\n"
}
