/**
 * Experiment `async-grant` — asynchronous messages that carry pages (unmapped from the sender at
 * send, mapped into the receiver at receive, as Rhombus does) against a synchronous call with a
 * lease, and against asynchronous sends that copy through the kernel, for bulk writes.
 *
 * | variant | one write of `size` bytes |
 * |---|---|
 * | async-grant | fresh pages, filled, sent one-way with a grant item; the server keeps them as its file (freeing the last) |
 * | sync-lease | one call lending the buffer; the server copies it into its file, then replies |
 * | async-copy | one-way sends of `inlineMax` bytes each (the most a one-way copy may hold: the kernel buffers no more) |
 *
 * The port holds 16 pending messages, so one-way senders run ahead of the server. An operation is
 * a batch of writes (16, fewer for large writes); the asynchronous variants end it with a call the
 * server answers once it has taken every write before it, so only writes the server has received
 * are counted.
 */
import { Effect, Either } from "effect"
import { Rights } from "../../kernel/Capability.js"
import * as Kernel from "../../kernel/Kernel.js"
import * as Memory from "../../kernel/Memory.js"
import type { Tracer } from "../../kernel/Trace.js"
import * as Lease from "../../ipc/Lease.js"
import * as Port from "../../ipc/Port.js"
import { defaultConfig, PAGE_SIZE } from "../../params.js"
import { leadsAlong, numberOf, pairAlong, pairInWords, seriesAlong, shortVerdict, sweep, sweepTable, variant, where } from "../Analysis.js"
import { type ClockSource, realClock } from "../Clock.js"
import type { Cell, CellResult, Group, Measured, Resolution, Sample } from "../Experiment.js"
import { num, percent, sizeLabel } from "../Format.js"
import { type Budget, measure, onFreshKernel, ONE_OPERATION, rate, type Session, traced, wallRate } from "../Harness.js"
import { overtakes } from "../Stats.js"

/** The variants, in report order. */
export const VARIANTS = ["async-grant", "sync-lease", "async-copy"] as const
type Variant = (typeof VARIANTS)[number]

/** Pending messages the server's port holds. */
const CAPACITY = 16

const GRANT = 1
const LEASE = 2
const PIECE = 3
const LAST = 4
const FLUSH = 5

const pagesOf = (n: number) => Math.max(1, Math.ceil(n / PAGE_SIZE))
/** Writes per operation: 16, or as many as make 1 MiB. */
const batchOf = (size: number) => Math.min(CAPACITY, Math.max(1, Math.floor(1048576 / size)))

/** The server: keeps granted pages as its file, copies leases into it, takes copies into it piece by piece. */
const server = (slot: number, size: number) =>
  Effect.gen(function* () {
    const piece = defaultConfig.inlineMax
    const store = yield* Memory.allocate(pagesOf(Math.ceil(size / piece) * piece))
    let file: number | undefined = undefined
    let at = 0
    const windows = (): ReadonlyArray<Port.Window> => [{ address: store + at, length: piece }]
    for (;;) {
      const m = yield* Port.receive(slot, { windows: windows(), pages: pagesOf(size) })
      const item = m.items[0]
      if (m.label === GRANT && item?._tag === "grant") {
        if (file !== undefined) yield* Memory.free(file)
        file = item.address
      } else if (m.label === LEASE && item?._tag === "lease") {
        yield* Lease.read(item.lease, 0, item.length, store)
      } else if (m.label === PIECE || m.label === LAST) {
        at = m.label === LAST ? 0 : at + (item?._tag === "copy" ? item.length : 0)
      }
      if (m.reply !== undefined) yield* Port.reply(m.reply, { label: 0 })
    }
  })

/** The client: batches of writes of `size` bytes by `v` for the session's budget. */
const client = (v: Variant, size: number, s: Session) =>
  Effect.gen(function* () {
    const pages = pagesOf(size)
    const content = new Uint8Array(size).fill(0x5a)
    const piece = defaultConfig.inlineMax
    const kept = v === "async-grant" ? 0 : yield* Memory.allocate(pages)
    const write = Effect.gen(function* () {
      switch (v) {
        case "async-grant": {
          // The pages leave with the message: every write fills fresh ones.
          const buf = yield* Memory.allocate(pages)
          yield* Memory.write(buf, content)
          yield* Port.send(0, { label: GRANT, items: [{ _tag: "grant", address: buf, pages }] })
          yield* Memory.free(buf)
          break
        }
        case "sync-lease":
          yield* Memory.write(kept, content)
          yield* Port.call(0, { label: LEASE, items: [{ _tag: "lease", address: kept, length: size, access: "read" }] })
          break
        case "async-copy":
          yield* Memory.write(kept, content)
          for (let off = 0; off < size; off += piece) {
            const length = Math.min(piece, size - off)
            yield* Port.send(0, { label: off + length >= size ? LAST : PIECE, items: [{ _tag: "copy", address: kept + off, length }] })
          }
          break
      }
    })
    const batch = batchOf(size)
    const flush = v === "sync-lease" ? Effect.void : Effect.asVoid(Port.call(0, { label: FLUSH }))
    yield* s.loop(Effect.zipRight(Effect.repeatN(write, batch - 1), flush))
    return true
  })

interface Spec {
  readonly variant: Variant
  readonly size: number
}

const once = (spec: Spec, clock: ClockSource, budget: Budget, tracer?: Tracer): Effect.Effect<Sample> =>
  onFreshKernel({ frames: 64 + 3 * (CAPACITY + 2) * pagesOf(spec.size) }, (k) =>
    Effect.gen(function* () {
      const srv = Either.getOrThrow(k.create({ name: "server" }))
      const port = Either.getOrThrow(Port.createFor(srv, { capacity: CAPACITY }))
      yield* k.start(srv, server(port.slot, spec.size))
      const t = yield* measure(k, { clock: clock(k), budget, label: `async-grant ${spec.variant} ${sizeLabel(spec.size)}`, clients: 1, tracer }, (_, s) =>
        Kernel.spawn(client(spec.variant, spec.size, s), { name: "client", caps: [{ cap: port, rights: Rights.send | Rights.grant }] })
      )
      const writes = t.ops * batchOf(spec.size)
      const written = spec.size * writes
      return {
        value: rate(t, spec.size * batchOf(spec.size)) / 1e6,
        extra: {
          usPerWrite: (t.medianMs * 1000) / batchOf(spec.size),
          wallMBps: wallRate(t, spec.size * batchOf(spec.size)) / 1e6,
          messagesPerWrite: t.messages / writes,
          copiedPerByte: t.bytesCopied / written,
          pagesPerWrite: t.pagesMoved / writes
        },
        intact: true
      }
    })
  )

const SIZES: Record<Resolution, ReadonlyArray<number>> = {
  quick: [4096, 262144],
  default: sweep(4096, 4, 4 * 1048576),
  full: sweep(4096, 2, 16 * 1048576)
}

const groups = (r: Resolution): Array<Group> =>
  SIZES[r].map((size) => ({ key: sizeLabel(size), cells: VARIANTS.map((variant) => ({ variant, params: { size } })) }))

const analyse = (results: ReadonlyArray<CellResult>) => {
  const sizes = [...new Set(results.map((r) => numberOf(r, "size")))].sort((a, b) => a - b)
  const at = (size: number) => where(results, { size })
  const largest = sizes[sizes.length - 1]!
  const leads = leadsAlong(sizes, at, sizeLabel)
  const grantVsLease = pairAlong(sizes, at, "sync-lease", "async-grant")
  const over = overtakes(grantVsLease)
  const ratio = (a: Variant, b: Variant, size: number) => variant(at(size), a)!.value.median / variant(at(size), b)!.value.median
  const messages = (v: Variant) => num(variant(at(largest), v)!.extra["messagesPerWrite"]!)
  const conclusions = [
    `Fastest at each size: ${leads}.`,
    `async-grant against sync-lease: ${pairInWords(grantVsLease, "sync-lease", "async-grant", sizeLabel)}${over === undefined ? "" : ` — pages sent one-way overtake the lease at ${sizeLabel(over)}`}.`,
    `async-copy against sync-lease: ${pairInWords(pairAlong(sizes, at, "sync-lease", "async-copy"), "sync-lease", "async-copy", sizeLabel)}; ` +
      `a one-way copy holds at most ${defaultConfig.inlineMax} B, so a ${sizeLabel(largest)} write takes ${messages("async-copy")} messages.`,
    `What each write costs: async-grant moves ${num(variant(at(largest), "async-grant")!.extra["pagesPerWrite"]!)} pages and copies ${variant(at(largest), "async-grant")!.extra["copiedPerByte"]!.toFixed(2)} bytes per byte ` +
      `but needs fresh pages every time; sync-lease copies ${variant(at(largest), "sync-lease")!.extra["copiedPerByte"]!.toFixed(2)} bytes per byte into the server's file and keeps its buffer.`
  ]
  const figures = sizes
    .filter((size) => size === sizes[0] || size === largest || size === 262144)
    .map(
      (size) =>
        `At ${sizeLabel(size)} async-grant reaches ${percent(ratio("async-grant", "sync-lease", size))} of a synchronous lease's throughput, one-way copies ${percent(ratio("async-copy", "sync-lease", size))}.`
    )
  return {
    answer: `Fastest by size: ${leadsAlong(sizes, at, sizeLabel, shortVerdict)}; one-way copies go ${defaultConfig.inlineMax} B at a time, ${messages("async-copy")} messages for ${sizeLabel(largest)}.`,
    conclusions,
    figures,
    tables: [
      sweepTable("Bulk write throughput, MB/s (median and 95 % interval over the rounds)", "size", sizes, at, VARIANTS, sizeLabel),
      {
        caption: "Counted per write (medians over the rounds)",
        header: ["size", ...VARIANTS.flatMap((v) => [`${v}: µs`, `${v}: messages`])],
        rows: sizes.map((size) => [
          sizeLabel(size),
          ...VARIANTS.flatMap((v) => [num(variant(at(size), v)!.extra["usPerWrite"]!), num(variant(at(size), v)!.extra["messagesPerWrite"]!)])
        ])
      }
    ],
    chart: {
      title: "Bulk writes: one-way with pages, a call with a lease, one-way copies",
      x: { label: "write size", log: true, format: sizeLabel },
      y: { label: "MB/s (log scale)", log: true },
      series: seriesAlong(sizes, at, VARIANTS, (x) => x)
    }
  }
}

/** One 1 MiB write sent one-way with its pages, then the call that waits for the server to have it, traced. */
const diagram = traced("async-grant: a 1 MiB write sent one-way with its 256 pages, then a call the server answers once it has the write", (tracer) =>
  once({ variant: "async-grant", size: 1048576 }, realClock, ONE_OPERATION, tracer)
)

/** The experiment. */
export const asyncGrant: Measured = {
  _tag: "Measured",
  name: "async-grant",
  title: "Asynchronous messages with pages",
  question:
    "The way I got around this in Rhombus was to allow IPC messages to reference a sequence of pages for bulk data. When a message was sent, those pages were unmapped from the sending process. When the message was received by the other process, it was granted the ability to map those pages into its own address space.",
  method: [
    "One client writes `size` bytes at a time to a server whose port holds 16 pending messages. `async-grant`: fresh",
    "pages, filled and sent one-way with a grant item (unmapped at send, mapped at receive); the server keeps them as its",
    "file. `sync-lease`: a call lending the client's one buffer; the server copies it into its file. `async-copy`: one-way",
    `sends of ${defaultConfig.inlineMax} B (the most the kernel buffers for a one-way message). An operation is 16 writes (fewer above`,
    "64 KiB, 1 MiB in all); the one-way variants end it with a call the server answers after taking every write before it."
  ].join(" "),
  metric: { name: "write throughput", unit: "MB/s", better: "higher" },
  settings: {
    quick: { budget: { warmUpMs: 2, runMs: 6, minOps: 5 }, rounds: { min: 3, max: 3 }, seconds: 1.5, warmUpMs: 30 },
    default: { budget: { warmUpMs: 3, runMs: 12, minOps: 5 }, rounds: { min: 3, max: 7 }, seconds: 6, warmUpMs: 100 },
    full: { budget: { warmUpMs: 10, runMs: 40, minOps: 5 }, rounds: { min: 5, max: 9 }, seconds: 300, warmUpMs: 300 }
  },
  groups,
  warmUp: VARIANTS.map((variant) => ({ variant, params: { size: 65536 } })),
  once: (cell: Cell, clock, budget) => once({ variant: cell.variant as Variant, size: numberOf(cell, "size") }, clock, budget),
  analyse,
  diagram
}
