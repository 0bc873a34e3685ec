/**
 * Experiment `unknown-size` — the receiver of a write does not know how many bytes are coming.
 * One client writes `size` bytes to a server that stores them, by one of the thread's answers:
 *
 * | variant | what crosses | the server's receive buffer |
 * |---|---|---|
 * | max-window | one copy item per 1 MiB piece; the kernel reports each piece's true length | a 1 MiB window, always |
 * | ask-first | a call announcing the size, then one copy item | a window of exactly the size, declared after the first call |
 * | chunks-64K, chunks-4K | one copy item per fixed-size piece | a window of one piece |
 * | lease | one call lending the buffer; the server reads its length and pulls 64 KiB at a time | none |
 *
 * Pieces land where they belong (each receive declares its window at the next offset of the
 * server's store), so no variant copies a byte twice. One client: ask-first's window is declared
 * for the next message on the port, which only works with one sender at a time.
 */
import { Effect, Either } from "effect"
import { Rights } from "../../kernel/Capability.js"
import * as Kernel from "../../kernel/Kernel.js"
import * as Memory from "../../kernel/Memory.js"
import type { Tracer } from "../../kernel/Trace.js"
import * as Lease from "../../ipc/Lease.js"
import * as Port from "../../ipc/Port.js"
import { PAGE_SIZE } from "../../params.js"
import { leadsAlong, numberOf, pairAlong, pairInWords, seriesAlong, shortVerdict, sweep, sweepTable, variant, where } from "../Analysis.js"
import { type ClockSource, realClock } from "../Clock.js"
import type { Cell, CellResult, Group, Measured, Resolution, Sample } from "../Experiment.js"
import { list, num, percent, sizeLabel } from "../Format.js"
import { type Budget, measure, onFreshKernel, ONE_OPERATION, rate, type Session, traced, wallRate } from "../Harness.js"
import { overtakes } from "../Stats.js"

/** The variants, in report order. */
export const VARIANTS = ["max-window", "ask-first", "chunks-64K", "chunks-4K", "lease"] as const
type Variant = (typeof VARIANTS)[number]

/** The largest message the max-window server takes (the thread's example). */
const MAX_WINDOW = 1048576
/** How much the lease server pulls at a time. */
const PULL = 65536

/** Bytes per copy item, for the variants that cut the write into pieces. */
const pieceOf = (v: Variant, size: number): number =>
  v === "max-window" ? MAX_WINDOW : v === "chunks-64K" ? 65536 : v === "chunks-4K" ? 4096 : v === "ask-first" ? size : PULL

const PIECE = 1
const LAST = 2
const SIZE = 3
const WRITE = 4

const pagesOf = (n: number) => Math.max(1, Math.ceil(n / PAGE_SIZE))
const roundUp = (n: number, to: number) => Math.ceil(n / to) * to

/** The storing server, for one variant; its store holds one write. */
const server = (slot: number, v: Variant, size: number) =>
  Effect.gen(function* () {
    const piece = pieceOf(v, size)
    const store = yield* Memory.allocate(pagesOf(roundUp(size, piece)))
    // Where the next piece lands; reset when a write ends.
    let at = 0
    let windows: ReadonlyArray<Port.Window> | undefined = v === "lease" ? undefined : [{ address: store, length: piece }]
    let m = yield* Port.receive(slot, windows === undefined ? {} : { windows })
    for (;;) {
      if (m.label === SIZE) {
        const announced = new DataView(m.data.buffer, m.data.byteOffset).getUint32(0, true)
        windows = [{ address: store, length: announced }]
      } else if (m.label === PIECE || m.label === LAST) {
        const item = m.items[0]
        at = m.label === LAST ? 0 : at + (item?._tag === "copy" ? item.length : 0)
        if (v !== "ask-first") windows = [{ address: store + at, length: piece }]
      } else if (m.label === WRITE) {
        const item = m.items[0]
        if (item?._tag === "lease")
          for (let off = 0; off < item.length; off += PULL) yield* Lease.read(item.lease, off, Math.min(PULL, item.length - off), store + off)
      }
      m = yield* Port.replyReceive(m.reply!, { label: 0 }, slot, windows === undefined ? {} : { windows })
    }
  })

/** The client: writes `size` bytes by `v` for the session's budget. */
const client = (v: Variant, size: number, s: Session) =>
  Effect.gen(function* () {
    const buf = yield* Memory.allocate(pagesOf(size))
    yield* Memory.write(buf, new Uint8Array(size).fill(0x5a))
    const announce = new Uint8Array(4)
    new DataView(announce.buffer).setUint32(0, size, true)
    const write =
      v === "lease"
        ? Port.call(0, { label: WRITE, items: [{ _tag: "lease", address: buf, length: size, access: "read" }] })
        : v === "ask-first"
          ? Effect.zipRight(Port.call(0, { label: SIZE, data: announce }), Port.call(0, { label: LAST, items: [{ _tag: "copy", address: buf, length: size }] }))
          : Effect.gen(function* () {
              const piece = pieceOf(v, size)
              for (let off = 0; off < size; off += piece) {
                const length = Math.min(piece, size - off)
                yield* Port.call(0, { label: off + length >= size ? LAST : PIECE, items: [{ _tag: "copy", address: buf + off, length }] })
              }
            })
    yield* s.loop(Effect.asVoid(write))
    return true
  })

interface Spec {
  readonly variant: Variant
  readonly size: number
}

const once = (spec: Spec, clock: ClockSource, budget: Budget, tracer?: Tracer): Effect.Effect<Sample> =>
  onFreshKernel({ frames: 64 + pagesOf(spec.size) + pagesOf(roundUp(spec.size, pieceOf(spec.variant, spec.size))) }, (k) =>
    Effect.gen(function* () {
      const srv = Either.getOrThrow(k.create({ name: "server" }))
      const port = Either.getOrThrow(Port.createFor(srv, { capacity: 0 }))
      yield* k.start(srv, server(port.slot, spec.variant, spec.size))
      const t = yield* measure(k, { clock: clock(k), budget, label: `unknown-size ${spec.variant} ${sizeLabel(spec.size)}`, clients: 1, tracer }, (_, s) =>
        Kernel.spawn(client(spec.variant, spec.size, s), { name: "client", caps: [{ cap: port, rights: Rights.send }] })
      )
      const written = spec.size * t.ops
      return {
        value: rate(t, spec.size) / 1e6,
        extra: {
          usPerWrite: t.medianMs * 1000,
          wallMBps: wallRate(t, spec.size) / 1e6,
          callsPerWrite: t.messages / t.ops,
          copiedPerByte: t.bytesCopied / written,
          windowBytes: spec.variant === "lease" ? 0 : pieceOf(spec.variant, spec.size)
        },
        intact: true
      }
    })
  )

const SIZES: Record<Resolution, ReadonlyArray<number>> = {
  quick: [64, 4096, 262144, 4 * 1048576],
  default: sweep(64, 4, 4 * 1048576),
  full: sweep(64, 2, 16 * 1048576)
}

const groups = (r: Resolution): Array<Group> =>
  SIZES[r].map((size) => ({ key: sizeLabel(size), cells: VARIANTS.map((variant) => ({ variant, params: { size } })) }))

const analyse = (results: ReadonlyArray<CellResult>) => {
  const sizes = [...new Set(results.map((r) => numberOf(r, "size")))].sort((a, b) => a - b)
  const at = (size: number) => where(results, { size })
  const ratioAt = (size: number, a: Variant, b: Variant) => variant(at(size), a)!.value.median / variant(at(size), b)!.value.median
  const smallest = sizes[0]!
  const largest = sizes[sizes.length - 1]!
  const vsWindow = (v: Variant) => {
    const points = pairAlong(sizes, at, "max-window", v)
    const over = overtakes(points)
    return `${v} against max-window: ${pairInWords(points, "max-window", v, sizeLabel)}${over === undefined ? "" : ` — ${v} overtakes it at ${sizeLabel(over)}`}.`
  }
  const calls = (v: Variant, size: number) => variant(at(size), v)!.extra["callsPerWrite"]!
  const conclusions = [
    `Fastest at each size: ${leadsAlong(sizes, at, sizeLabel)}.`,
    vsWindow("ask-first"),
    vsWindow("chunks-64K"),
    vsWindow("chunks-4K"),
    vsWindow("lease"),
    `Calls per write at ${sizeLabel(largest)}: ${list(VARIANTS.map((v) => `${num(calls(v, largest))} (${v})`))}; every variant copies each byte once ` +
      `(copied/byte ${[...new Set(results.map((r) => r.extra["copiedPerByte"]!.toFixed(2)))].join(", ")}), and the server keeps ready a ${sizeLabel(MAX_WINDOW)} window, ` +
      `a window of the announced size, one chunk, or nothing (lease).`
  ]
  const askCost = variant(at(smallest), "ask-first")!.extra["usPerWrite"]! - variant(at(smallest), "max-window")!.extra["usPerWrite"]!
  const figures = [
    `Asking for the size first: ${num(askCost)} µs per write more than max-window at ${sizeLabel(smallest)} (${percent(ratioAt(smallest, "ask-first", "max-window"))} of its throughput), ` +
      `${percent(ratioAt(largest, "ask-first", "max-window"))} at ${sizeLabel(largest)}.`,
    `Fixed chunks reach ${percent(ratioAt(largest, "chunks-64K", "max-window"))} (64 KiB) and ${percent(ratioAt(largest, "chunks-4K", "max-window"))} (4 KiB) of max-window at ${sizeLabel(largest)}; ` +
      `the lease ${percent(ratioAt(largest, "lease", "max-window"))}.`
  ]
  return {
    answer: `Fastest by size: ${leadsAlong(sizes, at, sizeLabel, shortVerdict)}; ${vsWindow("ask-first").replace(/\.$/, "")}; fixed 4 KiB chunks take ${num(calls("chunks-4K", largest))} calls for ${sizeLabel(largest)}.`,
    conclusions,
    figures,
    tables: [
      sweepTable("Write throughput, MB/s (median and 95 % interval over the rounds)", "size", sizes, at, VARIANTS, sizeLabel),
      {
        caption: "Calls per write and the server's receive window",
        header: ["size", ...VARIANTS.map((v) => `${v}: calls`), "windows (max-window, ask-first, 64K, 4K, lease)"],
        rows: sizes.map((size) => [
          sizeLabel(size),
          ...VARIANTS.map((v) => num(variant(at(size), v)!.extra["callsPerWrite"]!)),
          VARIANTS.map((v) => sizeLabel(variant(at(size), v)!.extra["windowBytes"]!)).join(", ")
        ])
      }
    ],
    chart: {
      title: "The receiver does not know the size: write throughput",
      x: { label: "write size", log: true, format: sizeLabel },
      y: { label: "MB/s (log scale)", log: true },
      series: seriesAlong(sizes, at, VARIANTS, (x) => x)
    }
  }
}

/** A 160 KiB write by lease, the server pulling 64 KiB at a time, traced. */
const diagram = traced("unknown-size: a 160 KiB write by lease, the server reading its length and pulling 64 KiB at a time", (tracer) =>
  once({ variant: "lease", size: 163840 }, realClock, ONE_OPERATION, tracer)
)

/** The experiment. */
export const unknownSize: Measured = {
  _tag: "Measured",
  name: "unknown-size",
  title: "The receiver does not know how much is coming",
  question:
    "At the receiver side I should know somehow the size of the arbitrary data before trying to receive the message to give a proper sized buffer to the kernel. … One more option would be to define the absolute maximum size of these messages (let's say 1Mb) … Any other way to solve this issue?",
  method: [
    "One client writes `size` bytes to a server that stores them. `max-window`: the server always declares a 1 MiB",
    "receive window and the kernel reports each piece's true length (larger writes go in 1 MiB pieces); `ask-first`: a",
    "call announces the size, the server declares a window of exactly that size for the next message, then one copy",
    "follows; `chunks-64K`/`chunks-4K`: fixed pieces through a one-piece window; `lease`: one call lends the buffer, the",
    "server reads its length and pulls 64 KiB at a time. Every piece lands at its place in the server's store."
  ].join(" "),
  metric: { name: "write throughput", unit: "MB/s", better: "higher" },
  settings: {
    quick: { budget: { warmUpMs: 2, runMs: 5, minOps: 5 }, rounds: { min: 3, max: 3 }, seconds: 2, warmUpMs: 30 },
    default: { budget: { warmUpMs: 3, runMs: 10, minOps: 5 }, rounds: { min: 3, max: 7 }, seconds: 6, warmUpMs: 100 },
    full: { budget: { warmUpMs: 10, runMs: 40, minOps: 5 }, rounds: { min: 5, max: 9 }, seconds: 300, warmUpMs: 300 }
  },
  groups,
  warmUp: VARIANTS.map((variant) => ({ variant, params: { size: 262144 } })),
  once: (cell: Cell, clock, budget) => once({ variant: cell.variant as Variant, size: numberOf(cell, "size") }, clock, budget),
  analyse,
  diagram
}
