/**
 * Experiment `direct-call` — calling the server's code in the caller's own context (a migrating
 * thread: `Port.callDirect`) against call/reply, raw and typed, for a null message, small inline
 * payloads and a lease the server reads.
 *
 * | variant | one operation | who runs the server's code |
 * |---|---|---|
 * | direct | `Port.callDirect` to a port the server serves with `Port.serveDirect` | the caller's own fiber |
 * | call | `Port.call` to the same server's port, served by its one thread (receive, handle, `replyReceive`) | the server's one worker |
 * | typed-direct | a `Protocol.client(…, { direct: true })` method to a `Server.serve(…, { direct: true })` server | the caller's own fiber |
 * | typed-call | the same method through an ordinary typed client, served by the server's one worker | the server's one worker |
 *
 * Payloads: `null` (a label, nothing else), `inline` (`size` bytes as the message's data; the
 * handler sums them), `lease` (a `size`-byte buffer lent for reading; the handler copies it into
 * its own memory with `Lease.read`). Typed inline payloads are a string sized so that the encoded
 * request is `size` bytes. Both raw variants run the same handler; both typed ones the same
 * `Server.serve` server. After the timed section every client makes one more call, marked as a
 * check, with its own pattern; the server answers with the sum of the bytes it received, and the
 * client compares it with the sum of what it sent.
 */
import { Effect, Either, Schema } from "effect"
import { Rights } from "../../kernel/Capability.js"
import * as Kernel from "../../kernel/Kernel.js"
import * as Memory from "../../kernel/Memory.js"
import type { Process } from "../../kernel/Process.js"
import type { Tracer } from "../../kernel/Trace.js"
import type { IpcError } from "../../ipc/errors.js"
import * as Lease from "../../ipc/Lease.js"
import * as Port from "../../ipc/Port.js"
import * as Protocol from "../../ipc/Protocol.js"
import * as Server from "../../lib/Server.js"
import { PAGE_SIZE } from "../../params.js"
import { leadsAlong, numberOf, pairAlong, pairInWords, seriesAlong, sweepTable, variant } from "../Analysis.js"
import { type ClockSource, realClock } from "../Clock.js"
import type { Cell, CellResult, Group, Measured, Resolution, Sample } from "../Experiment.js"
import { list, num, sizeLabel } from "../Format.js"
import { type Budget, measure, onFreshKernel, ONE_OPERATION, type Session, traced, wallRate, windowRate } from "../Harness.js"

/** The variants, in report order. */
export const VARIANTS = ["direct", "call", "typed-direct", "typed-call"] as const
type Variant = (typeof VARIANTS)[number]

/** What one operation carries. */
type Kind = "null" | "inline" | "lease"

/** A payload of the sweep. */
interface Payload {
  readonly kind: Kind
  readonly size: number
}

/** Every payload, in report order. */
const PAYLOADS: ReadonlyArray<Payload> = [
  { kind: "null", size: 0 },
  { kind: "inline", size: 64 },
  { kind: "inline", size: 256 },
  { kind: "lease", size: 4096 },
  { kind: "lease", size: 65536 }
]

/** "null", "64 B inline", "4 KiB lease". */
const payloadLabel = (p: Payload): string => (p.kind === "null" ? "null" : `${sizeLabel(p.size)} ${p.kind}`)

const clientsLabel = (n: number) => `${n} client${n === 1 ? "" : "s"}`

/** Threads of the call/reply servers (raw and typed). */
const WORKERS = 1

const NULL = 1
const INLINE = 2
const LEASE = 3
/** Set on a request's label: answer with the sum of the bytes received. */
const CHECK = 16

/** The sum of `bytes`, as the check compares it. */
const sumOf = (bytes: Uint8Array): number => {
  let s = 0
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!
  return s
}

/** The bytes client `i` sends in an operation, or in its check. */
const patternOf = (size: number, i: number, check: boolean): Uint8Array => {
  const out = new Uint8Array(size)
  for (let j = 0; j < size; j++) out[j] = (j * 7 + i * 13 + (check ? 101 : 0)) & 0xff
  return out
}

/** The answer of a check: the sum, in four bytes. */
const sumReply = (sum: number): Port.Message => {
  const data = new Uint8Array(4)
  new DataView(data.buffer).setUint32(0, sum, true)
  return { label: 0, data }
}

/** The answer of every operation that is not a check: one object, reused. */
class Done implements Port.Message {
  readonly label = 0
}
const DONE = new Done()

/**
 * The raw handler, shared by `direct` (as the port's direct handler) and `call` (run by the
 * server's thread): a null or inline request is answered at once (the bytes summed on the way);
 * a lease is read into the server's `store`.
 */
const handler =
  (store: number) =>
  (m: Port.Received): Effect.Effect<Port.Message, IpcError, Process> => {
    const check = (m.label & CHECK) !== 0
    const item = m.items[0]
    if ((m.label & ~CHECK) === LEASE && item?._tag === "lease") return leaseRead(store, item.lease, item.length, check)
    const sum = sumOf(m.data)
    return Effect.succeed(check ? sumReply(sum) : DONE)
  }

/** Reads a lease into `store`; a check answers with the sum of what arrived. */
const leaseRead = (store: number, lease: Port.Lease, length: number, check: boolean): Effect.Effect<Port.Message, IpcError, Process> =>
  Effect.gen(function* () {
    yield* Lease.read(lease, 0, length, store)
    return check ? sumReply(sumOf(yield* Memory.read(store, length))) : DONE
  })

/** The raw server: serves direct calls with `handler`, or runs it on its one thread. */
const rawServer = (slot: number, size: number, direct: boolean) =>
  Effect.gen(function* () {
    const handle = handler(yield* Memory.allocate(pagesOf(size)))
    if (direct) return yield* Effect.zipRight(Port.serveDirect(slot, handle), Effect.never)
    let m = yield* Port.receive(slot)
    for (;;) m = yield* Port.replyReceive(m.reply!, yield* handle(m), slot)
  })

/** The typed protocol: the same three operations; a check answers with the sum of the bytes received, any other call with 0. */
const Bench = Protocol.make("lab-direct", {
  Null: Protocol.operation({}),
  Inline: Protocol.operation({ payload: { text: Schema.String, check: Schema.Boolean }, success: Schema.Number }),
  Lease: Protocol.operation({ payload: { check: Schema.Boolean }, items: [{ _tag: "lease", access: "read" }], success: Schema.Number })
})

/** The sum of a string's character codes (every one below 128, so one byte each on the wire). */
const sumOfText = (text: string): number => {
  let s = 0
  for (let i = 0; i < text.length; i++) s += text.charCodeAt(i)
  return s
}

/** A string whose request (`{ text, check }`: a length varint, the characters, a boolean) takes `size` bytes. */
const textOf = (size: number, i: number, check: boolean): string => {
  const chars = size - 1 - (size - 2 < 128 ? 1 : 2)
  return Array.from(patternOf(chars, i, check), (b) => String.fromCharCode(b & 0x7f)).join("")
}

/** The typed server: `Server.serve` with one worker, serving direct calls too with `direct`. */
const typedServer = (slot: number, size: number, direct: boolean) =>
  Effect.gen(function* () {
    const store = yield* Memory.allocate(pagesOf(size))
    return yield* Server.serve(
      Bench,
      {
        Null: () => Effect.void,
        Inline: ({ check, text }) => Effect.succeed(check ? sumOfText(text) : 0),
        // A lease that cannot be read is a fault of this server (it declared the item).
        Lease: ({ check }, call) =>
          Effect.orDie(
            Effect.gen(function* () {
              const item = call.items[0]
              if (item?._tag !== "lease") return 0
              yield* Lease.read(item.lease, 0, item.length, store)
              return check ? sumOf(yield* Memory.read(store, item.length)) : 0
            })
          )
      },
      slot,
      { workers: WORKERS, direct }
    )
  })

const pagesOf = (n: number) => Math.max(1, Math.ceil(n / PAGE_SIZE))

/** One client of a raw variant: `size` bytes of `kind` per operation; returns whether its check came back right. */
const rawClient = (direct: boolean, p: Payload, i: number, s: Session) =>
  Effect.gen(function* () {
    const call = direct ? Port.callDirect : Port.call
    const buf = p.kind === "lease" ? yield* Memory.allocate(pagesOf(p.size)) : 0
    const messageOf = (check: boolean): Port.Message => {
      const flag = check ? CHECK : 0
      if (p.kind === "null") return { label: NULL | flag }
      if (p.kind === "inline") return { label: INLINE | flag, data: patternOf(p.size, i, check) }
      return { label: LEASE | flag, items: [{ _tag: "lease", address: buf, length: p.size, access: "read" }] }
    }
    if (p.kind === "lease") yield* Memory.write(buf, patternOf(p.size, i, false))
    const msg = messageOf(false)
    yield* s.loop(Effect.asVoid(call(0, msg)))
    const checked = messageOf(true)
    const sent = p.kind === "lease" ? patternOf(p.size, i, true) : (checked.data ?? new Uint8Array(0))
    if (p.kind === "lease") yield* Memory.write(buf, sent)
    const answer = yield* call(0, checked)
    if (p.kind === "null") return answer.label === 0
    return answer.data.length === 4 && new DataView(answer.data.buffer, answer.data.byteOffset).getUint32(0, true) === sumOf(sent)
  })

/** One client of a typed variant, as `rawClient`. */
const typedClient = (direct: boolean, p: Payload, i: number, s: Session) =>
  Effect.gen(function* () {
    const bench = Protocol.client(Bench, 0, { direct })
    if (p.kind === "null") {
      yield* s.loop(bench.Null())
      yield* bench.Null()
      return true
    }
    if (p.kind === "inline") {
      // One payload object for the timed calls (see bench/protocol.ts: a literal per call may be pretenured).
      const payload = { text: textOf(p.size, i, false), check: false }
      yield* s.loop(Effect.asVoid(bench.Inline(payload)))
      const check = { text: textOf(p.size, i, true), check: true }
      return (yield* bench.Inline(check)) === sumOfText(check.text)
    }
    const buf = yield* Memory.allocate(pagesOf(p.size))
    const extras = { items: [{ _tag: "lease", address: buf, length: p.size, access: "read" }] as const }
    yield* Memory.write(buf, patternOf(p.size, i, false))
    const payload = { check: false }
    yield* s.loop(Effect.asVoid(bench.Lease(payload, extras)))
    const sent = patternOf(p.size, i, true)
    yield* Memory.write(buf, sent)
    return (yield* bench.Lease({ check: true }, extras)) === sumOf(sent)
  })

interface Spec extends Payload {
  readonly variant: Variant
  readonly clients: number
}

const isDirect = (v: Variant) => v === "direct" || v === "typed-direct"
const isTyped = (v: Variant) => v === "typed-direct" || v === "typed-call"

const once = (spec: Spec, clock: ClockSource, budget: Budget, tracer?: Tracer): Effect.Effect<Sample> =>
  onFreshKernel({ frames: 256 + (spec.clients + 2) * pagesOf(spec.size) }, (k) =>
    Effect.gen(function* () {
      const direct = isDirect(spec.variant)
      const srv = Either.getOrThrow(k.create({ name: "server" }))
      const port = Either.getOrThrow(Port.createFor(srv))
      yield* k.start(srv, isTyped(spec.variant) ? typedServer(port.slot, spec.size, direct) : rawServer(port.slot, spec.size, direct))
      // Let the server register its direct handler before the first call.
      yield* Effect.yieldNow()
      const label = `direct-call ${spec.variant} ${payloadLabel(spec)} ${clientsLabel(spec.clients)}`
      const t = yield* measure(k, { clock: clock(k), budget, label, clients: spec.clients, tracer }, (i, s) =>
        Kernel.spawn(isTyped(spec.variant) ? typedClient(direct, spec, i, s) : rawClient(direct, spec, i, s), {
          name: `client${i}`,
          caps: [{ cap: port, rights: Rights.send }]
        })
      )
      const perSecond = windowRate(t, spec.clients, 1)
      return {
        value: 1e6 / perSecond,
        extra: {
          usPerCall: t.medianMs * 1000,
          wallUsPerOp: 1e6 / wallRate(t, 1),
          handoffsPerOp: t.handoffs / t.ops,
          directPerOp: t.directCalls / t.ops,
          messagesPerOp: t.messages / t.ops,
          copiedPerOp: t.bytesCopied / t.ops
        },
        intact: t.results.every((r) => r === true)
      }
    })
  )

const CLIENTS: Record<Resolution, ReadonlyArray<number>> = { quick: [1, 8], default: [1, 8], full: [1, 8, 64] }

/** The payloads measured at each resolution (quick: the smallest and largest of each kind). */
const PAYLOADS_AT: Record<Resolution, ReadonlyArray<Payload>> = {
  quick: PAYLOADS.filter((p) => p.size === 0 || p.size === 256 || p.size === 65536),
  default: PAYLOADS,
  full: PAYLOADS
}

const groups = (r: Resolution): Array<Group> =>
  CLIENTS[r].flatMap((clients) =>
    PAYLOADS_AT[r].map((p) => ({
      key: `${clientsLabel(clients)}, ${payloadLabel(p)}`,
      cells: VARIANTS.map((variant) => ({ variant, params: { payload: p.kind, size: p.size, clients } }))
    }))
  )

const payloadOfCell = (c: Cell): Payload => ({ kind: c.params["payload"] as Kind, size: numberOf(c, "size") })

const analyse = (results: ReadonlyArray<CellResult>) => {
  const clientCounts = [...new Set(results.map((r) => numberOf(r, "clients")))].sort((a, b) => a - b)
  const at = (clients: number) => (p: Payload) =>
    results.filter((r) => numberOf(r, "clients") === clients && r.params["payload"] === p.kind && numberOf(r, "size") === p.size)
  /** The payloads measured with `clients` clients, in report order. */
  const payloadsOf = (clients: number) => PAYLOADS.filter((p) => at(clients)(p).length > 0)
  const firstOf = (clients: number) => payloadsOf(clients)[0]!
  const lastOf = (clients: number) => payloadsOf(clients)[payloadsOf(clients).length - 1]!
  const one = clientCounts[0]!
  const pair = (clients: number, a: Variant, b: Variant) => pairInWords(pairAlong(payloadsOf(clients), at(clients), a, b), a, b, payloadLabel)
  const ratio = (clients: number, p: Payload, slow: Variant, fast: Variant) =>
    variant(at(clients)(p), slow)!.value.median / variant(at(clients)(p), fast)!.value.median
  const ratios = (clients: number, slow: Variant, fast: Variant) => payloadsOf(clients).map((p) => `${payloadLabel(p)} ${num(ratio(clients, p, slow, fast))}×`)
  /** Whether the ratio `slow ÷ fast` is smaller at the last payload than at the first. */
  const narrows = (clients: number, slow: Variant, fast: Variant) =>
    ratio(clients, lastOf(clients), slow, fast) < ratio(clients, firstOf(clients), slow, fast) ? "narrows" : "does not narrow"
  const extraOf = (clients: number, p: Payload, v: Variant, key: string) => variant(at(clients)(p), v)!.extra[key]!
  const counted = (key: string) => (v: Variant) => `${num(extraOf(one, firstOf(one), v, key))} (${v})`
  const conclusions = [
    ...clientCounts.map((c) => `Fastest, ${clientsLabel(c)}: ${leadsAlong(payloadsOf(c), at(c), payloadLabel)}.`),
    ...clientCounts.map((c) => `direct against call, ${clientsLabel(c)}: ${pair(c, "direct", "call")}.`),
    ...clientCounts.map((c) => `typed-direct against typed-call, ${clientsLabel(c)}: ${pair(c, "typed-direct", "typed-call")}.`),
    `Counted per operation (${clientsLabel(one)}, ${payloadLabel(firstOf(one))}): hand-offs ${list(VARIANTS.map(counted("handoffsPerOp")))}; ` +
      `direct calls ${list(VARIANTS.map(counted("directPerOp")))}. A direct call wakes no other fiber: the caller runs the server's handler itself.`
  ]
  /** What call/reply does with `clients` callers queued for the server: hand-offs per call, and its cost against one caller's where measured. */
  const queueing = (clients: number, p: Payload) => {
    const alone = variant(at(one)(p), "call")
    return (
      `${clientsLabel(clients)}, ${payloadLabel(p)}: call/reply hands off ${num(extraOf(clients, p, "call", "handoffsPerOp"))} times per call ` +
      `(the server's worker finds the next request waiting), a direct call ${num(extraOf(clients, p, "direct", "handoffsPerOp"))}; ` +
      `call/reply takes ${num(variant(at(clients)(p), "call")!.value.median)} µs per operation` +
      `${alone === undefined ? "" : ` (${num(alone.value.median)} µs with ${clientsLabel(one)})`}.`
    )
  }
  const figures = clientCounts.flatMap((c) => [
    `${clientsLabel(c)}: call ÷ direct per operation: ${list(ratios(c, "call", "direct"))}` +
      `${payloadsOf(c).length > 1 ? `; the gap ${narrows(c, "call", "direct")} as the payload grows` : ""}.`,
    `${clientsLabel(c)}: typed-call ÷ typed-direct: ${list(ratios(c, "typed-call", "typed-direct"))}.`,
    ...(c === one ? [] : [queueing(c, firstOf(c))])
  ])
  const rowsOf = clientCounts.flatMap((c) => payloadsOf(c).map((p) => ({ c, p })))
  return {
    answer:
      `Direct calls against call/reply, ${clientsLabel(one)}: ${pair(one, "direct", "call")} ` +
      `(call ÷ direct ${list(ratios(one, "call", "direct"))}); typed: ${pair(one, "typed-direct", "typed-call")}.`,
    conclusions,
    figures,
    tables: [
      sweepTable(
        "µs per operation, all clients together (median and 95 % interval over the rounds)",
        "clients, payload",
        rowsOf,
        ({ c, p }) => at(c)(p),
        VARIANTS,
        ({ c, p }) => `${clientsLabel(c)}, ${payloadLabel(p)}`
      ),
      {
        caption: "Counted per operation (medians over the rounds): hand-offs, direct calls, bytes copied",
        header: ["clients, payload", ...VARIANTS.map((v) => `${v}: hand-offs`), ...VARIANTS.map((v) => `${v}: direct`), "bytes copied"],
        rows: rowsOf.map(({ c, p }) => [
          `${clientsLabel(c)}, ${payloadLabel(p)}`,
          ...VARIANTS.map((v) => num(extraOf(c, p, v, "handoffsPerOp"))),
          ...VARIANTS.map((v) => num(extraOf(c, p, v, "directPerOp"))),
          num(extraOf(c, p, "call", "copiedPerOp"))
        ])
      }
    ],
    chart: {
      title: "A direct call against call/reply, raw and typed",
      x: { label: "payload", log: false, format: (x: number) => payloadLabel(PAYLOADS[x - 1]!) },
      y: { label: "µs per operation (log scale)", log: true },
      series: clientCounts.flatMap((c, k) =>
        seriesAlong(
          payloadsOf(c),
          at(c),
          VARIANTS,
          (p) => PAYLOADS.indexOf(p) + 1,
          (v) => `${v}, ${clientsLabel(c)}`,
          k > 0
        )
      )
    }
  }
}

/** One direct call lending 4 KiB: the caller's thread enters the server, reads the lease as the server, and leaves. */
const diagram = traced(
  "direct-call: one direct call lending 4 KiB, the caller's thread entering the server to run its handler (a lease read) and leaving",
  (tracer) => once({ variant: "direct", kind: "lease", size: 4096, clients: 1 }, realClock, ONE_OPERATION, tracer)
)

/** The experiment. */
export const directCall: Measured = {
  _tag: "Measured",
  name: "direct-call",
  title: "Calling the server's code in your own context",
  question:
    "I worked with a message passing kernel once that had a mechanism for calling the code in another process space in your own context. … don't get locked into a design that is uniform just for uniformity's sake.",
  method: [
    "Clients call one server, each waiting for its answer before the next call. `direct`: `Port.callDirect`, the",
    "caller's fiber runs the server's handler (`Port.serveDirect`) with the server's `Process`; `call`: `Port.call`",
    `to the same handler run by the server's ${WORKERS === 1 ? "one thread" : `${WORKERS} threads`} (receive, handle, \`replyReceive\`); \`typed-direct\`/\`typed-call\`: the same`,
    `through a typed protocol (\`Protocol.client\` with and without \`direct\`, one \`Server.serve\` server with ${WORKERS} worker and direct calls on).`,
    "Payloads: `null` (a label); `inline` (the bytes as the message's data, summed by the handler; typed: a string",
    "sized so that the request takes as many bytes); `lease` (a buffer lent for reading, copied by the handler into the",
    "server's memory with `Lease.read`). A direct call never queues: each caller runs the handler itself; call/reply queues the callers for",
    "the server's worker. The metric is µs per operation, all clients together: the median time that as many",
    "consecutive calls as there are clients took to complete, ÷ the clients (with one client, the median call). Callers",
    "queued for a worker complete in bursts; direct calls that answer at once never yield, so one caller makes a run of",
    "calls while the others wait: either way that many completions span one call of each client's worth of work, and the",
    "median leaves out the spans in which the machine paused the lab.",
    "After the timed section each client makes one more call with its own pattern; the server answers with the sum",
    "of the bytes it received, checked by the client."
  ].join(" "),
  metric: { name: "time per operation", unit: "µs", better: "lower" },
  settings: {
    quick: { budget: { warmUpMs: 1, runMs: 4, minOps: 5 }, rounds: { min: 3, max: 3 }, seconds: 2, warmUpMs: 20 },
    default: { budget: { warmUpMs: 2, runMs: 12, minOps: 5 }, rounds: { min: 3, max: 7 }, seconds: 8, warmUpMs: 50 },
    full: { budget: { warmUpMs: 10, runMs: 40, minOps: 5 }, rounds: { min: 5, max: 9 }, seconds: 300, warmUpMs: 300 }
  },
  groups,
  warmUp: VARIANTS.map((variant) => ({ variant, params: { payload: "lease", size: 4096, clients: 8 } })),
  once: (cell: Cell, clock, budget) => once({ variant: cell.variant as Variant, ...payloadOfCell(cell), clients: numberOf(cell, "clients") }, clock, budget),
  analyse,
  diagram
}
