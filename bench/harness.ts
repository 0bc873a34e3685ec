/**
 * The benchmark harness: named measurements, memoised within one run, printed as a table or as
 * JSON lines; and the two ways of timing — the best of several rounds for an absolute number, and
 * alternating rounds of two sides for a ratio (`alternating`).
 */
import { Effect } from "effect"
import { median } from "../src/lab/Stats.js"

/** A number measured in rounds: the reported value, and the lowest and highest round. */
export interface Spread {
  readonly value: number
  readonly min: number
  readonly max: number
}

/** What a benchmark returns: a plain number, or a value with its spread over rounds. */
export type Measurement = number | Spread

/** One reported line. `min` and `max` are the spread over rounds, where the benchmark has one. */
export interface Result {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly min?: number
  readonly max?: number
}

/** What a benchmark sees: `measure` runs (or reuses) another named measurement and gives its value. */
export interface BenchContext {
  readonly measure: (name: string) => Promise<number>
}

/** A named measurement. */
export interface Benchmark {
  readonly name: string
  readonly unit: string
  readonly run: (ctx: BenchContext) => Promise<Measurement>
}

/** Microseconds per operation of one run of `body(n)` (which performs `n` operations). */
export const timeOnce = async (n: number, body: (n: number) => Promise<void>): Promise<number> => {
  const t0 = performance.now()
  await body(n)
  return ((performance.now() - t0) * 1000) / n
}

/**
 * Times `body(n)` (which performs `n` operations) over `rounds` rounds after one warm-up round;
 * returns the best round's microseconds per operation. The best round is the one least disturbed
 * by garbage collection and the other core's work.
 */
export const microsPerOp = (n: number, body: (n: number) => Promise<void>, rounds = 5): Promise<number> =>
  microsPerOpTimed(
    n,
    async (m) => {
      const t0 = performance.now()
      await body(m)
      return (performance.now() - t0) * 1000
    },
    rounds
  )

/**
 * As `microsPerOp`, for bodies that need setup the timing must not include (buffers to fill,
 * pages to hand back): `body(n)` performs `n` operations and returns the microseconds its timed
 * section took.
 */
export const microsPerOpTimed = async (n: number, body: (n: number) => Promise<number>, rounds = 5): Promise<number> => {
  await body(Math.max(1, Math.floor(n / 4)))
  const samples: Array<number> = []
  for (let r = 0; r < rounds; r++) samples.push((await body(n)) / n)
  return Math.min(...samples)
}

/** Rounds a ratio is the median of, and batches of each side per round (see `alternating`). */
export const RATIO_ROUNDS = 21
export const RATIO_BATCHES = 8

/**
 * The ratio of two measurements, timed in alternating rounds within one benchmark: every ratio
 * line of `npm run bench` is made with it (and so should any new one be).
 *
 * `a()` and `b()` each time one short batch of their side — a few milliseconds — and return its
 * number (microseconds per operation, GB/s: any). A round runs `batches` batches of each side
 * interleaved, a b, b a, a b, … so that neither goes first and both see the same moments of the
 * machine; the round's ratio is `combine` (default ÷) of the two sides' median batches. After one
 * discarded round (warm-up), `rounds` rounds run; the result is the median of their ratios, with
 * the lowest and highest as its spread.
 *
 * Why: two sides measured at different moments of one process see different JIT, garbage
 * collection and machine states (other programs take the machine's cores for tens of
 * milliseconds), and their ratio moves by ±30 % or more from run to run. Batches milliseconds
 * apart see the same state, a batch the process was paused in is outvoted by the median, and the
 * median of many rounds' ratios is stable. Errors: whatever `a` or `b` rejects with.
 */
export const alternating = async (
  a: () => Promise<number>,
  b: () => Promise<number>,
  options: { readonly rounds?: number; readonly batches?: number; readonly combine?: (a: number, b: number) => number } = {}
): Promise<Spread> => {
  const rounds = options.rounds ?? RATIO_ROUNDS
  const batches = options.batches ?? RATIO_BATCHES
  const combine = options.combine ?? ((x: number, y: number) => x / y)
  const round = async () => {
    const as: Array<number> = []
    const bs: Array<number> = []
    for (let i = 0; i < batches; i++) {
      if (i % 2 === 0) {
        as.push(await a())
        bs.push(await b())
      } else {
        bs.push(await b())
        as.push(await a())
      }
    }
    return combine(median(as), median(bs))
  }
  await round()
  const ratios: Array<number> = []
  for (let r = 0; r < rounds; r++) ratios.push(await round())
  return { value: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) }
}

/** Runs an Effect-based operation loop as a promise. */
export const runLoop = (effect: (n: number) => Effect.Effect<void>) => (n: number) => Effect.runPromise(effect(n))

/** Converts bytes moved per microsecond into GB/s (10^9 bytes per second). */
export const gbps = (bytes: number, micros: number): number => bytes / micros / 1000

const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Number(v.toPrecision(4)))

const valueOf = (m: Measurement): number => (typeof m === "number" ? m : m.value)

/** Parses `--json` and `--filter PREFIX`, runs the matching benchmarks in order, prints each result. */
export const runBenchmarks = async (all: ReadonlyArray<Benchmark>, argv: ReadonlyArray<string>): Promise<void> => {
  const json = argv.includes("--json")
  const fi = argv.indexOf("--filter")
  const filter = fi >= 0 ? argv[fi + 1] : undefined
  if (fi >= 0 && filter === undefined) {
    console.error("--filter needs a prefix")
    process.exitCode = 2
    return
  }
  const byName = new Map(all.map((b) => [b.name, b]))
  const memo = new Map<string, Promise<Measurement>>()
  const run = (name: string): Promise<Measurement> => {
    let p = memo.get(name)
    if (p === undefined) {
      const b = byName.get(name)
      if (b === undefined) throw new Error(`no benchmark named ${name}`)
      p = b.run(ctx)
      memo.set(name, p)
    }
    return p
  }
  const ctx: BenchContext = { measure: (name) => run(name).then(valueOf) }
  const selected = all.filter((b) => filter === undefined || b.name.startsWith(filter))
  if (selected.length === 0) {
    console.error(`no benchmark matches --filter ${filter}`)
    process.exitCode = 2
    return
  }
  if (!json) console.log(`${"benchmark".padEnd(44)} ${"value".padStart(12)}  ${"unit".padEnd(6)}  spread`)
  for (const b of selected) {
    const m = await run(b.name)
    const result: Result =
      typeof m === "number"
        ? { name: b.name, value: round(m), unit: b.unit }
        : { name: b.name, value: round(m.value), unit: b.unit, min: round(m.min), max: round(m.max) }
    const spread = result.min === undefined ? "" : `${result.min}–${result.max}`
    console.log(json ? JSON.stringify(result) : `${b.name.padEnd(44)} ${String(result.value).padStart(12)}  ${b.unit.padEnd(6)}  ${spread}`)
  }
}
