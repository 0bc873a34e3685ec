/**
 * Experiment `ring-memory` — is a shared ring per channel worth its memory when a server has
 * hundreds of clients? Every client sends small messages to one server as fast as it can:
 *
 * | variant | a message | the server |
 * |---|---|---|
 * | ring | an entry pushed into the client's own ring (pages shared with the server, a doorbell each way) | one consumer thread per ring |
 * | port-lease | a call lending the message's bytes | one thread: receive, read the lease, reply |
 * | port-inline | a call with the bytes inline | one thread: receive, store the bytes, reply |
 *
 * Throughput counts the messages the server consumed during the timed section; memory is the
 * frames in use at its end, every process together, and the frames each further client costs.
 */
import { Effect, Either } from "effect"
import { Rights } from "../../kernel/Capability.js"
import * as Kernel from "../../kernel/Kernel.js"
import * as Memory from "../../kernel/Memory.js"
import * as Process from "../../kernel/Process.js"
import type { Tracer } from "../../kernel/Trace.js"
import * as Labels from "../../ipc/labels.js"
import * as Lease from "../../ipc/Lease.js"
import * as Port from "../../ipc/Port.js"
import * as Ring from "../../ipc/Ring.js"
import { PAGE_SIZE } from "../../params.js"
import { leadsAlong, numberOf, pairAlong, pairInWords, seriesAlong, shortVerdict, sweepTable, variant, where } from "../Analysis.js"
import { type ClockSource, type LabClock, realClock } from "../Clock.js"
import type { Cell, CellResult, Group, Measured, Resolution, Sample } from "../Experiment.js"
import { list, num, percent, sizeLabel } from "../Format.js"
import { type Budget, measure, onFreshKernel, ONE_OPERATION, type Session, rateIn, traced } from "../Harness.js"

/** The variants, in report order. */
export const VARIANTS = ["ring", "port-lease", "port-inline"] as const
type Variant = (typeof VARIANTS)[number]

/** Bytes per message. */
const MESSAGE = 64
/** Entries per ring. */
const ENTRIES = 16
const MSG = 1

/** The server: consumes every message into its store, noting when (by the cell's clock) in `consumed`. */
const server = (slot: number, clock: LabClock, consumed: Array<number>) =>
  Effect.gen(function* () {
    const store = yield* Memory.allocate(1)
    const accept = { pages: Ring.pagesFor({ entries: ENTRIES, entrySize: MESSAGE }) }
    let m = yield* Port.receive(slot, accept)
    for (;;) {
      let answer: Port.Message = { label: 0 }
      if (m.label === Labels.RING) {
        const opened = yield* Ring.open(m)
        const ring = opened.end
        yield* Process.fork(
          Effect.forever(
            Effect.zipRight(
              Ring.popInto(ring, store),
              Effect.sync(() => {
                consumed.push(clock.now())
              })
            )
          )
        )
        answer = opened.answer
      } else {
        const item = m.items[0]
        if (item?._tag === "lease") yield* Lease.read(item.lease, 0, item.length, store)
        else yield* Memory.write(store, m.data)
        consumed.push(clock.now())
      }
      m = yield* Port.replyReceive(m.reply!, answer, slot, accept)
    }
  })

/** A client: sends `MESSAGE`-byte messages by `v` for the session's budget. */
const client = (v: Variant, seed: number, s: Session) =>
  Effect.gen(function* () {
    const bytes = new Uint8Array(MESSAGE).fill(seed & 255)
    const buf = yield* Memory.allocate(1)
    yield* Memory.write(buf, bytes)
    let send: Effect.Effect<unknown, unknown, Process.Process>
    if (v === "ring") {
      const created = yield* Ring.create({ entries: ENTRIES, entrySize: MESSAGE })
      const end = yield* Ring.connect(created.end, yield* Port.call(0, created.share))
      send = Ring.pushFrom(end, buf, MESSAGE)
    } else if (v === "port-lease") {
      send = Port.call(0, { label: MSG, items: [{ _tag: "lease", address: buf, length: MESSAGE, access: "read" }] })
    } else {
      send = Port.call(0, { label: MSG, data: bytes })
    }
    yield* s.loop(Effect.asVoid(send))
    return true
  })

interface Spec {
  readonly variant: Variant
  readonly clients: number
}

const once = (spec: Spec, clock: ClockSource, budget: Budget, tracer?: Tracer): Effect.Effect<Sample> =>
  // Each ring takes two of the server's capability slots (its doorbells): the default 1,024 hold
  // about 500 rings, so the kernel is booted with room for every client's — and no more (every
  // process of the kernel gets that many slots).
  onFreshKernel({ frames: 64 + 4 * spec.clients, capSlots: 64 + (spec.variant === "ring" ? 2 : 0) * spec.clients }, (k) =>
    Effect.gen(function* () {
      // The diagram shows a ring's setup, so a traced run traces from the start.
      if (tracer !== undefined) k.tracer = tracer
      const cellClock = clock(k)
      // When the server took each message: written by the server's threads, read once the cell is done.
      const consumed: Array<number> = []
      const srv = Either.getOrThrow(k.create({ name: "server" }))
      const port = Either.getOrThrow(Port.createFor(srv, { capacity: 0 }))
      yield* k.start(srv, server(port.slot, cellClock, consumed))
      const t = yield* measure(k, { clock: cellClock, budget, label: `ring-memory ${spec.variant} × ${spec.clients}`, clients: spec.clients, tracer }, (i, s) =>
        Kernel.spawn(client(spec.variant, i, s), { name: `client${i}`, caps: [{ cap: port, rights: Rights.send | Rights.grant, badge: i + 1 }] })
      )
      return {
        // The messages the server consumed in the timed section, by the wall clock: with hundreds of
        // clients one round of them lasts longer than the timed section, and a median operation
        // would not tell the rate.
        value: rateIn(consumed, t),
        extra: { framesInUse: t.framesInUse },
        intact: t.results.every((r) => r === true)
      }
    })
  )

const PLANS: Record<Resolution, ReadonlyArray<number>> = {
  quick: [1, 100],
  default: [1, 100, 1000],
  full: [1, 3, 10, 30, 100, 300, 1000]
}

const groups = (r: Resolution): Array<Group> =>
  PLANS[r].map((clients) => ({ key: `${clients} client${clients === 1 ? "" : "s"}`, cells: VARIANTS.map((variant) => ({ variant, params: { clients } })) }))

const analyse = (results: ReadonlyArray<CellResult>) => {
  const counts = [...new Set(results.map((r) => numberOf(r, "clients")))].sort((a, b) => a - b)
  const at = (clients: number) => where(results, { clients })
  const few = counts[0]!
  const many = counts[counts.length - 1]!
  const frames = (v: Variant, n: number) => variant(at(n), v)!.extra["framesInUse"]!
  /** Frames each further client costs: the slope from the fewest clients to the most. */
  const perClient = (v: Variant) => (many === few ? frames(v, many) / many : (frames(v, many) - frames(v, few)) / (many - few))
  const mib = (f: number) => `${num((f * PAGE_SIZE) / 1048576)} MiB`
  const ratio = (n: number) => variant(at(n), "ring")!.value.median / variant(at(n), "port-inline")!.value.median
  const leads = leadsAlong(counts, at, String)
  const ringVsPort = pairAlong(counts, at, "port-inline", "ring")
  const conclusions = [
    `Most messages per second, by number of clients: ${leads}.`,
    `ring against port-inline, by number of clients: ${pairInWords(ringVsPort, "port-inline", "ring", String)}.`,
    `Each further client costs ${list(VARIANTS.map((v) => `${num(perClient(v))} frames (${v})`))}: a ring adds ${num(perClient("ring") - perClient("port-inline"))} frames ` +
      `(${sizeLabel(Math.round(perClient("ring") - perClient("port-inline")) * PAGE_SIZE)}) per channel; with ${many} clients the rings take ${mib(frames("ring", many))} in all ` +
      `against ${mib(frames("port-inline", many))} for one shared port.`
  ]
  const figures = counts.map((n) => `With ${n} client${n === 1 ? "" : "s"} the rings move ${percent(ratio(n))} of the shared port's messages per second.`)
  return {
    answer:
      `Most messages per second, by number of clients: ${leadsAlong(counts, at, String, shortVerdict)}; each ring costs ${num(perClient("ring") - perClient("port-inline"))} more frames per client: ` +
      `${mib(frames("ring", many))} against ${mib(frames("port-inline", many))} at ${many} clients.`,
    conclusions,
    figures,
    tables: [
      sweepTable(
        `${MESSAGE}-byte messages per second, all clients together (median and 95 % interval over the rounds)`,
        "clients",
        counts,
        at,
        VARIANTS,
        String
      ),
      {
        caption: "Frames in use at the end of the timed section, every process together (medians over the rounds)",
        header: ["clients", ...VARIANTS],
        rows: counts.map((n) => [String(n), ...VARIANTS.map((v) => num(frames(v, n)))])
      }
    ],
    chart: {
      title: `${MESSAGE}-byte messages from many clients: a ring each, or one shared port`,
      x: { label: "clients", log: true, format: String },
      y: { label: "messages per second (log scale)", log: true },
      series: seriesAlong(counts, at, VARIANTS, (n) => n)
    }
  }
}

/** A client setting up its ring with the server, and its first entry, traced. */
const diagram = traced("ring-memory: a client sets up its ring (pages shared with the server), after which entries cross without a message", (tracer) =>
  once({ variant: "ring", clients: 1 }, realClock, ONE_OPERATION, tracer)
)

/** The experiment. */
export const ringMemory: Measured = {
  _tag: "Measured",
  name: "ring-memory",
  title: "A shared ring per channel, with hundreds of clients",
  question:
    "The shared memory ring buffer is great as it is a zero copy solution … but this requires that you map at least one page for each open channel. The VFS for example is likely to have many clients, in the hundreds even … Do you see this as a problem or is the extra memory used here worth it?",
  method: [
    `Every client sends ${MESSAGE}-byte messages to one server as fast as it can: into a ring of its own (${ENTRIES} entries,`,
    "its pages shared with the server, one consumer thread per ring on the server), or through the server's one port",
    "by a call lending the bytes (`port-lease`) or carrying them inline (`port-inline`), served by one thread. A ring",
    "also takes two of the server's capability slots (its doorbells): the kernel's default 1,024 slots hold about 500",
    "rings, so these kernels are booted with more.",
    "Throughput counts the messages the server consumed in the timed section, by the wall clock; memory is every frame in",
    "use at the end of the timed section."
  ].join(" "),
  metric: { name: "messages per second", unit: "msg/s", better: "higher" },
  settings: {
    quick: { budget: { warmUpMs: 2, runMs: 6 }, rounds: { min: 3, max: 3 }, seconds: 2, warmUpMs: 30 },
    default: { budget: { warmUpMs: 10, runMs: 100 }, rounds: { min: 3, max: 7 }, seconds: 10, warmUpMs: 100 },
    full: { budget: { warmUpMs: 10, runMs: 40 }, rounds: { min: 5, max: 9 }, seconds: 300, warmUpMs: 300 }
  },
  groups,
  warmUp: VARIANTS.map((variant) => ({ variant, params: { clients: 10 } })),
  once: (cell: Cell, clock, budget) => once({ variant: cell.variant as Variant, clients: numberOf(cell, "clients") }, clock, budget),
  analyse,
  diagram
}
