/**
 * The benchmark harness: named measurements, memoised within one run (so a ratio reuses the
 * numbers it divides), printed as a table or as JSON lines.
 */
import { Effect } from "effect"

/** One reported number. */
export interface Result {
  readonly name: string
  readonly value: number
  readonly unit: string
}

/** What a benchmark sees: `measure` runs (or reuses) another named measurement. */
export interface BenchContext {
  readonly measure: (name: string) => Promise<number>
}

/** A named measurement. `run` returns the value. */
export interface Benchmark {
  readonly name: string
  readonly unit: string
  readonly run: (ctx: BenchContext) => Promise<number>
}

/**
 * Times `body(n)` (which performs `n` operations) over `rounds` rounds after one warm-up round;
 * returns the best round's microseconds per operation. The best round is the one least disturbed
 * by garbage collection and the other core's work, which keeps ratios between benchmarks stable.
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

/** Runs an Effect-based operation loop as a promise. */
export const runLoop = (effect: (n: number) => Effect.Effect<void>) => (n: number) => Effect.runPromise(effect(n))

/** Converts bytes moved per microsecond into GB/s (10^9 bytes per second). */
export const gbps = (bytes: number, micros: number): number => bytes / micros / 1000

const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Number(v.toPrecision(4)))

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
  const memo = new Map<string, Promise<number>>()
  const ctx: BenchContext = {
    measure: (name) => {
      let p = memo.get(name)
      if (p === undefined) {
        const b = byName.get(name)
        if (b === undefined) throw new Error(`no benchmark named ${name}`)
        p = b.run(ctx)
        memo.set(name, p)
      }
      return p
    }
  }
  const selected = all.filter((b) => filter === undefined || b.name.startsWith(filter))
  if (selected.length === 0) {
    console.error(`no benchmark matches --filter ${filter}`)
    process.exitCode = 2
    return
  }
  if (!json) console.log(`${"benchmark".padEnd(44)} ${"value".padStart(12)}  unit`)
  for (const b of selected) {
    const value = await ctx.measure(b.name)
    const result: Result = { name: b.name, value: round(value), unit: b.unit }
    console.log(json ? JSON.stringify(result) : `${b.name.padEnd(44)} ${String(result.value).padStart(12)}  ${b.unit}`)
  }
}
