/**
 * The `fs` facade against memfs, from plain JavaScript: per-call time of `bootFileSystem().fs` ÷
 * memfs's, each call awaited before the next (sequential), except `concurrent_write_1000` (1,000
 * `writeFile`s of 1 KiB started at once, timed until the last settles), and the `*_sync` ops, which
 * call the sync API (`statSync`, `readFileSync`) of both sides one after another.
 *
 * Each ratio is timed in alternating rounds of its two sides in one run (the harness's
 * `alternating`): measured apart, the two drift by more than the difference the ratio is about.
 * `fs.<op>.us` and `fs.<op>.memfs_us` are the median per-call times of the two sides' batches in
 * the same rounds. `fs.entry.us` is the entry alone: a call into the client process that
 * does no IPC.
 */
import { Effect } from "effect"
import { createFsFromVolume, Volume } from "memfs"
import { bootFileSystem, type BootedFileSystem } from "../src/root/bootFileSystem.js"
import { median } from "../src/lab/Stats.js"
import { alternating, type Benchmark, microsPerOp, type Spread, timeOnce } from "./harness.js"

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
  onFile("stat", 1000, "/stat-me", KiB1, (fs) => fs.stat("/stat-me")),
  onFile("open_close", 150, "/open-me", KiB1, async (fs) => (await fs.open("/open-me", "r")).close()),
  onFile("read_file_4k", 150, "/read-me", KiB4, (fs) => fs.readFile("/read-me")),
  onFile("write_file_4k", 150, "/write-me", KiB4, (fs) => fs.writeFile("/write-me", KiB4)),
  {
    name: "readdir_100",
    n: 60,
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
  onFileSync("stat_sync", 1000, "/stat-me", KiB1, (fs) => fs.statSync("/stat-me")),
  onFileSync("read_file_sync_4k", 150, "/read-me", KiB4, (fs) => fs.readFileSync("/read-me"))
]

/** A paired measurement: the ratio over alternating rounds, and both sides' median per-call microseconds. */
interface Paired {
  readonly ratio: Spread
  readonly us: number
  readonly memfsUs: number
}

/**
 * Times `a` and `b` (each `(n) => Promise<void>` doing `n` operations) as the harness's
 * `alternating` does, after a warm-up of each; the ratio, and each side's median µs per operation
 * over all its batches.
 */
const timedPair = async (n: number, a: (n: number) => Promise<void>, b: (n: number) => Promise<void>): Promise<Paired> => {
  const as: Array<number> = []
  const bs: Array<number> = []
  const batch = (f: (n: number) => Promise<void>, into: Array<number>) => async () => {
    const us = await timeOnce(n, f)
    into.push(us)
    return us
  }
  await a(Math.max(1, n >> 2))
  await b(Math.max(1, n >> 2))
  const ratio = await alternating(batch(a, as), batch(b, bs))
  return { ratio, us: median(as), memfsUs: median(bs) }
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
      return timedPair(
        op.n,
        (n) => op.body(a, n),
        (n) => op.body(b, n)
      )
    })
    paired.set(op.name, p)
  }
  return p
}

/** The ratio line of `op`, with its rounds' spread. */
const ratioBenchmark = (op: Op): Benchmark => ({ name: `fs.${op.name}.vs_memfs`, unit: "ratio", run: async () => (await pairedOf(op)).ratio })

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
