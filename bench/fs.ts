/**
 * The `fs` facade against memfs, from plain JavaScript: per-call time of `bootFileSystem().fs` ÷
 * memfs's, each call awaited before the next (sequential), except `concurrent_write_1000` (1,000
 * `writeFile`s of 1 KiB started at once, timed until the last settles), and the `*_sync` ops, which
 * call the sync API (`statSync`, `readFileSync`) of both sides one after another.
 *
 * Each ratio is timed in alternating rounds of its two sides in one run (this fs, then memfs, then
 * this fs…, the order swapped every round): measured apart, the two drift by more than the
 * difference the ratio is about. A ratio is the median of the rounds' ratios, with their minimum and
 * maximum in its unit; `fs.<op>.us` and `fs.<op>.memfs_us` are the median per-call times of the two
 * sides in the same rounds. `fs.entry.us` is the entry alone: a call into the client process that
 * does no IPC.
 */
import { Effect } from "effect"
import { createFsFromVolume, Volume } from "memfs"
import { bootFileSystem, type BootedFileSystem } from "../src/root/bootFileSystem.js"
import { type Benchmark, microsPerOp } from "./harness.js"

/** The two sides' promise APIs, as much of them as the benchmarks use. */
interface Side {
  readonly stat: (p: string) => Promise<unknown>
  readonly open: (p: string, flags: string) => Promise<{ close: () => Promise<void> }>
  readonly readFile: (p: string) => Promise<unknown>
  readonly writeFile: (p: string, data: Uint8Array) => Promise<void>
  readonly readdir: (p: string) => Promise<unknown>
  readonly mkdir: (p: string, o: { recursive: boolean }) => Promise<unknown>
}

/** What one operation does `n` times on a side, sequentially (or one batch per `n` for the concurrent one). */
interface Op {
  readonly name: string
  /** Operations per timed round. */
  readonly n: number
  readonly setup: (fs: Side) => Promise<void>
  readonly body: (fs: Side, n: number) => Promise<void>
}

/** The two sides' sync APIs, as much of them as the benchmarks use; a side's is found by its promise API. */
interface SyncSide {
  readonly statSync: (p: string) => unknown
  readonly readFileSync: (p: string) => unknown
}
const syncOf = new WeakMap<Side, SyncSide>()

const KiB4 = new Uint8Array(4096).fill(7)
const KiB1 = new Uint8Array(1024).fill(3)

/** `n` awaited calls of `call`, one after another. */
const sequential = async (n: number, call: () => Promise<unknown>) => {
  for (let i = 0; i < n; i++) await call()
}

/** An op on one file made by `setup` (`data` written at `path`): `call` on it, sequentially. */
const onFile = (name: string, n: number, path: string, data: Uint8Array, call: (fs: Side) => Promise<unknown>): Op => ({
  name,
  n,
  setup: (fs) => fs.writeFile(path, data),
  body: (fs, m) => sequential(m, () => call(fs))
})

const ops: ReadonlyArray<Op> = [
  onFile("stat", 2000, "/stat-me", KiB1, (fs) => fs.stat("/stat-me")),
  onFile("open_close", 1000, "/open-me", KiB1, async (fs) => (await fs.open("/open-me", "r")).close()),
  onFile("read_file_4k", 1000, "/read-me", KiB4, (fs) => fs.readFile("/read-me")),
  onFile("write_file_4k", 1000, "/write-me", KiB4, (fs) => fs.writeFile("/write-me", KiB4)),
  {
    name: "readdir_100",
    n: 500,
    setup: async (fs) => {
      await fs.mkdir("/hundred", { recursive: true })
      for (let i = 0; i < 100; i++) await fs.writeFile(`/hundred/entry-${i}`, KiB1)
    },
    body: (fs, n) => sequential(n, () => fs.readdir("/hundred"))
  },
  {
    name: "concurrent_write_1000",
    n: 1,
    setup: (fs) => fs.mkdir("/many", { recursive: true }).then(() => undefined),
    body: async (fs, n) => {
      for (let r = 0; r < n; r++) await Promise.all(Array.from({ length: 1000 }, (_, i) => fs.writeFile(`/many/f${i}`, KiB1)))
    }
  }
]

/** An op on one file made by `setup`: `call` on the side's sync API, `n` times on this stack. */
const onFileSync = (name: string, n: number, path: string, data: Uint8Array, call: (fs: SyncSide) => unknown): Op => ({
  name,
  n,
  setup: (fs) => fs.writeFile(path, data),
  body: async (fs, m) => {
    const s = syncOf.get(fs)!
    for (let i = 0; i < m; i++) call(s)
  }
})

const syncOps: ReadonlyArray<Op> = [
  onFileSync("stat_sync", 2000, "/stat-me", KiB1, (fs) => fs.statSync("/stat-me")),
  onFileSync("read_file_sync_4k", 1000, "/read-me", KiB4, (fs) => fs.readFileSync("/read-me"))
]

/** Rounds per ratio (odd, for a median). */
const ROUNDS = 9

/** A paired measurement: per-round ratios and both sides' per-call microseconds. */
interface Paired {
  readonly ratio: { readonly median: number; readonly min: number; readonly max: number }
  readonly us: number
  readonly memfsUs: number
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/**
 * Times `a` and `b` (each `(n) => Promise<void>` doing `n` operations) in `rounds` alternating
 * rounds after a warm-up of each; the median, min and max of the rounds' a/b ratios, and each
 * side's median µs per operation. (Local: swap for the harness's paired form when it has one.)
 */
const alternating = async (n: number, a: (n: number) => Promise<void>, b: (n: number) => Promise<void>, rounds = ROUNDS): Promise<Paired> => {
  const time = async (f: (n: number) => Promise<void>) => {
    const t0 = performance.now()
    await f(n)
    return ((performance.now() - t0) * 1000) / n
  }
  await a(Math.max(1, n >> 2))
  await b(Math.max(1, n >> 2))
  const as: Array<number> = []
  const bs: Array<number> = []
  const ratios: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    let x: number, y: number
    if (r % 2 === 0) {
      x = await time(a)
      y = await time(b)
    } else {
      y = await time(b)
      x = await time(a)
    }
    as.push(x)
    bs.push(y)
    ratios.push(x / y)
  }
  return { ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) }, us: median(as), memfsUs: median(bs) }
}

/** The promise API of `fs` as a `Side`, its sync API known by it. */
const sideOf = (fs: { readonly promises: unknown }): Side => {
  const side = fs.promises as Side
  syncOf.set(side, fs as unknown as SyncSide)
  return side
}

/** This fs's promise API as a `Side`. */
const ours = (booted: BootedFileSystem): Side => sideOf(booted.fs)

/** A fresh memfs volume's promise API as a `Side`. */
const memfs = (): Side => sideOf(createFsFromVolume(new Volume()))

/** Boots a file system big enough for every op, runs `f`, closes it. */
const withBooted = async <A>(f: (booted: BootedFileSystem) => Promise<A>): Promise<A> => {
  const booted = await bootFileSystem({ frames: 32768 })
  try {
    return await f(booted)
  } finally {
    await booted.close()
  }
}

/** One paired run per op, shared by its ratio and its two µs lines. */
const paired = new Map<string, Promise<Paired>>()
const pairedOf = (op: Op): Promise<Paired> => {
  let p = paired.get(op.name)
  if (p === undefined) {
    p = withBooted(async (booted) => {
      const a = ours(booted)
      const b = memfs()
      await op.setup(a)
      await op.setup(b)
      return alternating(
        op.n,
        (n) => op.body(a, n),
        (n) => op.body(b, n)
      )
    })
    paired.set(op.name, p)
  }
  return p
}

const fmt = (x: number) => x.toPrecision(3)

/** The ratio line of `op`; its unit carries the rounds' min and max once measured. */
const ratioBenchmark = (op: Op): Benchmark => {
  const b = {
    name: `fs.${op.name}.vs_memfs`,
    unit: "ratio",
    run: async () => {
      const p = await pairedOf(op)
      b.unit = `ratio (min ${fmt(p.ratio.min)}, max ${fmt(p.ratio.max)}, ${ROUNDS} rounds)`
      return p.ratio.median
    }
  }
  return b
}

/** The entry alone: `run(Effect.void)` from plain JavaScript, awaited one after another. */
const entry: Benchmark = {
  name: "fs.entry.us",
  unit: "µs",
  run: () =>
    withBooted((booted) =>
      microsPerOp(
        5000,
        async (n) => {
          for (let i = 0; i < n; i++) await booted.run(Effect.void)
        },
        5
      )
    )
}

export const fsBenchmarks: ReadonlyArray<Benchmark> = [
  entry,
  ...[...ops, ...syncOps].flatMap((op): Array<Benchmark> => [
    ratioBenchmark(op),
    { name: `fs.${op.name}.us`, unit: op.n === 1 ? "µs per 1,000" : "µs", run: async () => (await pairedOf(op)).us },
    { name: `fs.${op.name}.memfs_us`, unit: op.n === 1 ? "µs per 1,000" : "µs", run: async () => (await pairedOf(op)).memfsUs }
  ])
]
