/**
 * Experiment `strategy` — how should a process move a buffer to a server and back? Clients write a
 * file's bytes to a storage server and read them back, moving the bytes by one strategy, across
 * sizes, aligned and unaligned buffers, and numbers of clients.
 *
 * The storage server gives every client its own session port and worker (Genode-style sessions),
 * so each worker's first receive window is that client's file: a copy lands where the file lives.
 *
 * | strategy | write (client → server) | read (server → client) |
 * |---|---|---|
 * | inline | `inlineMax`-byte chunks in message data | chunks in reply data |
 * | copy | copy item into the session window (the file) | reply copy item into the client's window |
 * | lease | read lease; the server copies it into the file | write lease; the server copies the file into it |
 * | map | map item: the server copies from the shared pages into the file | reply map item of the file's pages, read in place; the server revokes the last one first |
 * | grant | grant item: the pages become the file | reply grant item: the file's pages come back |
 * | ring | entries through a client → server ring | entries through a server → client ring |
 * | plan | `Transfer.plan` with the sender's freedoms | the server plans its reply the same way |
 * | direct | a direct call (`Port.callDirect`) with a read lease: the caller's own thread runs the server's handler, which copies it into the file | a direct call with a write lease: the handler copies the file into it |
 *
 * An unaligned buffer starts `OFFSET` bytes into its first page, inside memory the client keeps
 * using: its pages can be neither given away nor shown to the server whole, so map and grant are
 * not offered, and the planner may only share the whole pages inside it (`share: true`), copying
 * the partial ones. An aligned buffer is the client's to give: the planner may move it (`move: true`).
 */
import { Effect, Either, Fiber, Queue } from "effect"
import { Rights } from "../../kernel/Capability.js"
import * as Kernel from "../../kernel/Kernel.js"
import * as Memory from "../../kernel/Memory.js"
import * as Process from "../../kernel/Process.js"
import type { Tracer } from "../../kernel/Trace.js"
import * as Lease from "../../ipc/Lease.js"
import * as Port from "../../ipc/Port.js"
import * as Ring from "../../ipc/Ring.js"
import * as Transfer from "../../ipc/Transfer.js"
import * as Labels from "../../ipc/labels.js"
import { defaultConfig, PAGE_SIZE } from "../../params.js"
import type { Received } from "../../ipc/Message.js"
import { leadOf, leadsAlong, numberOf, pairAlong, pairInWords, seriesAlong, shortVerdict, sweep, sweepTable, variant, where } from "../Analysis.js"
import { type ClockSource, realClock } from "../Clock.js"
import type { Cell, CellResult, Group, Measured, Resolution, Sample } from "../Experiment.js"
import { list, num, percent, sizeLabel } from "../Format.js"
import { type Budget, measure, onFreshKernel, ONE_OPERATION, rate, type Session, traced, wallRate } from "../Harness.js"
import { overtakes } from "../Stats.js"

/** Pages the storage server (and a client reading back) accepts by map and grant items in one message. */
const ACCEPT_PAGES = 65536

/** Every strategy, in report order. */
export const STRATEGIES = ["inline", "copy", "lease", "map", "grant", "ring", "plan", "direct"] as const
/** A transfer strategy. */
export type Strategy = (typeof STRATEGIES)[number]
/** The strategies an unaligned buffer the client keeps can use. */
const UNALIGNED: ReadonlyArray<Strategy> = ["inline", "copy", "lease", "ring", "plan", "direct"]
/** Where an unaligned buffer starts in its first page. */
const OFFSET = 100

const WRITE = 1
const READ = 2
const pagesOf = (n: number) => Math.max(1, Math.ceil(n / PAGE_SIZE))
const RING_ENTRY = PAGE_SIZE - 4
const RING_ENTRIES = 16
const op = (kind: number, index = 0) => kind | (index << 4)

/** One cell, typed. */
interface Spec {
  readonly strategy: Strategy
  readonly size: number
  readonly clients: number
  readonly aligned: boolean
}

const specOf = (cell: Cell): Spec => ({
  strategy: cell.variant as Strategy,
  size: numberOf(cell, "size"),
  clients: numberOf(cell, "clients"),
  aligned: cell.params["buffer"] === "aligned"
})

/** The storage server: one worker per session port; a session's file is `size` bytes. */
const storageServer = (sessions: ReadonlyArray<number>, strategy: Strategy, size: number) =>
  Effect.gen(function* () {
    const workers = yield* Effect.forEach(sessions, (slot) => Process.fork(session(slot, strategy, size)))
    yield* Fiber.joinAll(workers)
  })

const session = (slot: number, strategy: Strategy, size: number) =>
  Effect.gen(function* () {
    const inlineMax = defaultConfig.inlineMax
    let file = yield* Memory.allocate(pagesOf(size))
    // A planned write's tail copy lands here (its head lands in the file).
    const scratch = yield* Memory.allocate(1)
    let fileIsGranted = false
    let outbound: Ring.RingEnd | undefined = undefined
    // Ring writes the consumer thread has taken in whole, for the reads after them to wait on.
    const written = yield* Queue.unbounded<void>()
    const windows = (): ReadonlyArray<Port.Window> => [
      { address: file, length: pagesOf(size) * PAGE_SIZE },
      { address: scratch, length: PAGE_SIZE }
    ]
    if (strategy === "direct") {
      // The session's handler, run by the client's own thread: the same lease copies as `lease`.
      // A call that comes before the handler is registered is delivered as an ordinary call: the
      // worker serves those with the same handler.
      const reply: Port.Message = { label: 0 }
      const handle = (d: Received) => {
        const lent = d.items[0]
        if (lent?._tag !== "lease") return Effect.succeed(reply)
        return Effect.as(d.label === WRITE ? Lease.read(lent.lease, 0, lent.length, file) : Lease.write(lent.lease, 0, file, size), reply)
      }
      yield* Port.serveDirect(slot, handle)
      let d = yield* Port.receive(slot)
      for (;;) d = yield* Port.replyReceive(d.reply!, yield* handle(d), slot)
    }
    let m = yield* Port.receive(slot, { windows: windows(), pages: ACCEPT_PAGES })
    for (;;) {
      const kind = m.label === Labels.RING ? 0 : m.label & 15
      const index = m.label >>> 4
      let answer: Port.Message = { label: 0 }
      if (m.label === Labels.RING) {
        const opened = yield* Ring.open(m)
        if (opened.end.role === "consumer") {
          const into = file
          const ring = opened.end
          // The consumer side of writes: pull entries into the file as they come, forever (a
          // thread of its own: a write larger than the ring cannot wait for a message).
          yield* Process.fork(
            Effect.forever(
              Effect.gen(function* () {
                for (let off = 0; off < size; off += RING_ENTRY) yield* Ring.popInto(ring, into + off)
                yield* Queue.offer(written, undefined)
              })
            )
          )
        } else {
          outbound = opened.end
        }
        answer = opened.answer
      } else if (kind === WRITE) {
        if (m.data.length > 0) yield* Memory.write(file + index * inlineMax, m.data)
        // The items in order make up the file: each lands (or is put) after the one before.
        let at = 0
        for (const item of m.items) {
          if (item._tag === "copy") {
            if (item.address !== file + at) yield* Memory.copy(item.address, file + at, item.length)
            at += item.length
          } else if (item._tag === "lease") {
            yield* Lease.read(item.lease, 0, item.length, file + at)
            at += item.length
          } else if (item._tag === "map") {
            // Reached through the mapping, kept by the server's own copy into the file.
            const n = Math.min(item.pages * PAGE_SIZE, size - at)
            yield* Memory.copy(item.address, file + at, n)
            yield* Memory.free(item.address)
            at += n
          } else if (item._tag === "grant") {
            yield* Memory.free(file)
            file = item.address
            fileIsGranted = true
            at += item.pages * PAGE_SIZE
          }
        }
      } else if (kind === READ) {
        const lent = m.items[0]
        switch (strategy) {
          case "inline":
            answer = { label: 0, data: yield* Memory.read(file + index * inlineMax, Math.min(inlineMax, size - index * inlineMax)) }
            break
          case "copy":
            answer = { label: 0, items: [{ _tag: "copy", address: file, length: size }] }
            break
          case "lease":
            if (lent?._tag === "lease") yield* Lease.write(lent.lease, 0, file, size)
            break
          case "map":
            yield* Transfer.revoke(file, pagesOf(size))
            answer = { label: 0, items: [{ _tag: "map", address: file, pages: pagesOf(size), rights: 1 }] }
            break
          case "grant":
          case "plan": {
            const hint: Transfer.PlanHint = strategy === "grant" && fileIsGranted ? { strategy: "grant", window: size } : { move: fileIsGranted, window: size }
            const plan = Either.getOrThrow(Transfer.plan({ address: file, length: size }, hint))
            answer = { label: 0, items: plan.items.filter((i) => i._tag !== "lease") }
            if (plan.strategy === "grant") fileIsGranted = false
            break
          }
          case "ring":
            // The write before this read has come in whole; the reply says "coming", and the
            // entries follow through the ring.
            yield* Queue.take(written)
            if (m.reply !== undefined) yield* Port.reply(m.reply, answer)
            for (let off = 0; off < size; off += RING_ENTRY) yield* Ring.pushFrom(outbound!, file + off, Math.min(RING_ENTRY, size - off))
            m = yield* Port.receive(slot, { windows: windows(), pages: ACCEPT_PAGES })
            continue
        }
      }
      const reply = m.reply
      m =
        reply === undefined
          ? yield* Port.receive(slot, { windows: windows(), pages: ACCEPT_PAGES })
          : yield* Port.replyReceive(reply, answer, slot, { windows: windows(), pages: ACCEPT_PAGES })
    }
  })

/** Whether two byte arrays hold the same bytes (compared natively: megabytes per cell). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)

/**
 * A client's bytes: a 251-byte cycle (a prime, so no page or chunk boundary lines up with it)
 * started at `seed`, built by doubling copies rather than a byte loop.
 */
const pattern = (size: number, seed: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  for (let j = 0; j < Math.min(size, 251); j++) bytes[j] = (j * 31 + seed) & 255
  for (let filled = Math.min(size, 251); filled < size; filled *= 2) bytes.copyWithin(filled, 0, Math.min(filled, size - filled))
  return bytes
}

/** The planner's hint for a client's write: move an aligned buffer, share the whole pages of an unaligned one. */
const writeHint = (spec: Spec): Transfer.PlanHint => (spec.aligned ? { move: true, window: spec.size } : { share: true, window: spec.size })

/** One client: writes and reads back `size` bytes by `strategy` for the session's budget; true if the last read matched. */
const client = (spec: Spec, seed: number, s: Session) =>
  Effect.gen(function* () {
    const { strategy, size } = spec
    const inlineMax = defaultConfig.inlineMax
    const pages = pagesOf(size)
    const offset = spec.aligned ? 0 : OFFSET
    let buf = (yield* Memory.allocate(pagesOf(size + offset))) + offset
    const content = pattern(size, seed)
    let toServer: Ring.RingEnd | undefined = undefined
    let fromServer: Ring.RingEnd | undefined = undefined
    if (strategy === "ring") {
      const out = yield* Ring.create({ entries: RING_ENTRIES, entrySize: RING_ENTRY })
      toServer = yield* Ring.connect(out.end, yield* Port.call(0, out.share))
      const back = yield* Ring.create({ entries: RING_ENTRIES, entrySize: RING_ENTRY, role: "consumer" })
      fromServer = yield* Ring.connect(back.end, yield* Port.call(0, back.share))
    }
    // Where the last read left the bytes, and a mapping to drop before the next operation.
    let readAt = buf
    let held: number | undefined = undefined
    // The bytes stay in the buffer (or come back with its pages) from one operation to the next.
    yield* Memory.write(buf, content)
    /** One write and read back; with `clear`, the client's buffer is zeroed in between (the check). */
    const writeThenRead = (clear: boolean) =>
      Effect.gen(function* () {
        if (held !== undefined) yield* Memory.free(held)
        held = undefined
        let gaveBuffer = false
        switch (strategy) {
          case "inline":
            for (let off = 0, k = 0; off < size; off += inlineMax, k++) {
              yield* Port.call(0, { label: op(WRITE, k), data: yield* Memory.read(buf + off, Math.min(inlineMax, size - off)) })
            }
            break
          case "copy":
            yield* Port.call(0, { label: WRITE, items: [{ _tag: "copy", address: buf, length: size }] })
            break
          case "lease":
            yield* Port.call(0, { label: WRITE, items: [{ _tag: "lease", address: buf, length: size, access: "read" }] })
            break
          case "map":
            yield* Port.call(0, { label: WRITE, items: [{ _tag: "map", address: buf, pages, rights: 1 }] })
            yield* Transfer.revoke(buf, pages)
            break
          case "grant":
          case "plan": {
            const plan = Either.getOrThrow(
              Transfer.plan({ address: buf, length: size }, strategy === "grant" ? { strategy: "grant", window: size } : writeHint(spec))
            )
            yield* Port.call(0, { label: WRITE, items: plan.items })
            for (const item of plan.items) if (item._tag === "map") yield* Transfer.revoke(item.address, item.pages)
            // The granted pages left with the write; the read brings them back at a new address.
            if (plan.strategy === "grant") {
              yield* Memory.free(buf)
              gaveBuffer = true
            }
            break
          }
          case "ring":
            for (let off = 0; off < size; off += RING_ENTRY) yield* Ring.pushFrom(toServer!, buf + off, Math.min(RING_ENTRY, size - off))
            break
          case "direct":
            yield* Port.callDirect(0, { label: WRITE, items: [{ _tag: "lease", address: buf, length: size, access: "read" }] })
            break
        }
        if (clear && !gaveBuffer) yield* Memory.write(buf, new Uint8Array(size))
        readAt = buf
        switch (strategy) {
          case "inline":
            for (let off = 0, k = 0; off < size; off += inlineMax, k++) {
              const r = yield* Port.call(0, { label: op(READ, k) })
              yield* Memory.write(buf + off, r.data)
            }
            break
          case "copy":
            yield* Port.call(0, { label: READ }, { windows: [{ address: buf, length: size }] })
            break
          case "lease":
            yield* Port.call(0, { label: READ, items: [{ _tag: "lease", address: buf, length: size, access: "write" }] })
            break
          case "map":
          case "grant":
          case "plan": {
            const r = yield* Port.call(
              0,
              { label: READ },
              gaveBuffer ? { pages: ACCEPT_PAGES } : { windows: [{ address: buf, length: size }], pages: ACCEPT_PAGES }
            )
            const moved = r.items[0]
            if (moved?._tag === "map" || moved?._tag === "grant") readAt = moved.address
            break
          }
          case "ring":
            yield* Port.call(0, { label: READ })
            for (let off = 0; off < size; off += RING_ENTRY) yield* Ring.popInto(fromServer!, buf + off)
            break
          case "direct":
            yield* Port.callDirect(0, { label: READ, items: [{ _tag: "lease", address: buf, length: size, access: "write" }] })
            break
        }
        if (readAt !== buf) {
          // A mapping is read in place and dropped before the next operation; granted pages become the buffer.
          if (strategy === "map") held = readAt
          else {
            if (!gaveBuffer) yield* Memory.free(buf)
            buf = readAt
          }
        }
      })
    yield* s.loop(writeThenRead(false))
    // Checked after the clock stops, by one more write and a read back into the cleared buffer.
    yield* writeThenRead(true)
    return same(yield* Memory.read(readAt, size), content)
  })

/**
 * Frames a cell needs: files, buffers and rings for every client, plus slack. No more: every cell
 * boots a kernel, and a larger physical memory costs its allocation and the collector's time.
 */
const framesFor = (spec: Spec) => 64 + spec.clients * (3 * pagesOf(spec.size + OFFSET) + (spec.strategy === "ring" ? 2 * (2 + RING_ENTRIES) : 0) + 4)

/** Runs one cell once on a fresh kernel; with `tracer`, the kernel traces it. */
const once = (spec: Spec, clock: ClockSource, budget: Budget, tracer?: Tracer): Effect.Effect<Sample> =>
  onFreshKernel({ frames: framesFor(spec) }, (k) =>
    Effect.gen(function* () {
      const server = Either.getOrThrow(k.create({ name: "storage" }))
      const ports = Array.from({ length: spec.clients }, () => Either.getOrThrow(Port.createFor(server, { capacity: 0 })))
      yield* k.start(
        server,
        storageServer(
          ports.map((p) => p.slot),
          spec.strategy,
          spec.size
        )
      )
      const t = yield* measure(
        k,
        { clock: clock(k), budget, label: `strategy ${spec.strategy} ${sizeLabel(spec.size)}`, clients: spec.clients, tracer },
        (i, s) => Kernel.spawn(client(spec, i, s), { name: `client${i}`, caps: [{ cap: ports[i]!, rights: Rights.send | Rights.grant, badge: i + 1 }] })
      )
      const moved = 2 * spec.size * t.ops
      return {
        value: rate(t, 2 * spec.size) / 1e6,
        extra: {
          usPerOp: (t.medianMs * 1000) / t.clients,
          wallMBps: wallRate(t, 2 * spec.size) / 1e6,
          copiedPerByte: t.bytesCopied / moved,
          pagesPerOp: t.pagesMoved / t.ops,
          handoffsPerOp: t.handoffs / t.ops,
          framesInUse: t.framesInUse
        },
        intact: t.results.every((r) => r === true)
      }
    })
  )

// --- the sweeps ---------------------------------------------------------------------------------

interface Plan {
  readonly sizes: ReadonlyArray<number>
  /** Clients beyond one: aligned buffers only, at these sizes up to `clientBytes` ÷ clients. */
  readonly clients: ReadonlyArray<number>
  readonly clientSizes: ReadonlyArray<number>
  /** All clients of a cell together hold at most this much in flight. */
  readonly clientBytes: number
  /**
   * The strategies that cut a buffer into pieces — inline (a round trip per 256 bytes) and ring
   * (an entry per 4 KiB) — are measured while all clients' bytes together stay within this.
   */
  readonly piecesUpTo: number
}

/** The largest buffer of the sweeps. */
const MAX_SIZE = 16 * 1048576

const PLANS: Record<Resolution, Plan> = {
  quick: { sizes: [64, 16384, 1048576], clients: [8, 64], clientSizes: [4096], clientBytes: 4 * 1048576, piecesUpTo: 262144 },
  default: { sizes: sweep(64, 4, MAX_SIZE), clients: [8, 64], clientSizes: [64, 16384, 262144], clientBytes: 4 * 1048576, piecesUpTo: 1048576 },
  full: { sizes: sweep(64, 2, MAX_SIZE), clients: [8, 64], clientSizes: sweep(64, 4, MAX_SIZE), clientBytes: MAX_SIZE, piecesUpTo: MAX_SIZE }
}

const groupOf = (strategies: ReadonlyArray<Strategy>, size: number, clients: number, buffer: "aligned" | "unaligned", plan: Plan): Group => ({
  key: `${clients} client${clients === 1 ? "" : "s"}, ${buffer}, ${sizeLabel(size)}`,
  cells: strategies
    .filter((s) => (s !== "inline" && s !== "ring") || size * clients <= (s === "inline" ? plan.piecesUpTo / 4 : plan.piecesUpTo))
    .map((variant) => ({ variant, params: { size, clients, buffer } }))
})

const groups = (resolution: Resolution): Array<Group> => {
  const plan = PLANS[resolution]
  return [
    ...plan.sizes.map((size) => groupOf(STRATEGIES, size, 1, "aligned", plan)),
    ...plan.sizes.map((size) => groupOf(UNALIGNED, size, 1, "unaligned", plan)),
    ...plan.clients.flatMap((n) => plan.clientSizes.filter((size) => size * n <= plan.clientBytes).map((size) => groupOf(STRATEGIES, size, n, "aligned", plan)))
  ]
}

// --- the analysis -------------------------------------------------------------------------------

const sizesOf = (results: ReadonlyArray<CellResult>) => [...new Set(results.map((r) => numberOf(r, "size")))].sort((a, b) => a - b)

/** A size from the middle of a sweep: the first from 64 KiB, or the largest. */
const mid = (sizes: ReadonlyArray<number>) => sizes.find((s) => s >= 65536) ?? sizes[sizes.length - 1]!

const analyse = (results: ReadonlyArray<CellResult>) => {
  const at = (clients: number, buffer: string) => (size: number) => where(results, { size, clients, buffer })
  const sizes = sizesOf(results)
  const one = at(1, "aligned")
  const unaligned = at(1, "unaligned")
  const clientCounts = [...new Set(results.map((r) => numberOf(r, "clients")))].filter((n) => n > 1).sort((a, b) => a - b)
  const measuredAt = (group: (size: number) => ReadonlyArray<CellResult>) => sizes.filter((s) => group(s).length > 0)

  const crossovers = (
    [
      ["inline", "copy"],
      ["copy", "lease"],
      ["copy", "map"],
      ["copy", "grant"],
      ["lease", "direct"]
    ] as const
  ).map(([a, b]) => {
    const points = pairAlong(sizes, one, a, b)
    const over = overtakes(points)
    return {
      a,
      b,
      over,
      words: `${a} against ${b}: ${pairInWords(points, a, b, sizeLabel)}${over === undefined ? "" : ` — ${b} overtakes ${a} at ${sizeLabel(over)}`}.`
    }
  })

  /**
   * The planner against the best per-message strategy at each size of a group: the planner
   * chooses the items of one message, so the ring (a standing channel set up beforehand) and the
   * direct call (a way of calling, not of moving the bytes) are apart.
   */
  const plannerVsBest = (group: (size: number) => ReadonlyArray<CellResult>) =>
    measuredAt(group).flatMap((size) => {
      const g = group(size).filter((r) => r.variant !== "ring" && r.variant !== "direct")
      const plan = variant(g, "plan")
      if (plan === undefined) return []
      const l = leadOf(g)
      const best = l.leader
      return [{ size, plan, best, ratio: plan.value.median / best.value.median, among: l.tied.includes(plan) }]
    })
  const planned = plannerVsBest(one)
  const plannedUnaligned = plannerVsBest(unaligned)
  /** "among the fastest … at N of M sizes; behind at …" */
  const plannerWords = (rows: ReturnType<typeof plannerVsBest>) => {
    const behind = rows.filter((r) => !r.among)
    return (
      `among the fastest per-message strategies at ${rows.length - behind.length} of ${rows.length} sizes` +
      (behind.length === 0 ? "" : `; behind ${list(behind.map((r) => `${r.best.variant} at ${sizeLabel(r.size)}`))}`)
    )
  }
  /** "0.97 (64 B) to 1.02 (1 MiB)": the planner's throughput over the best's, lowest and highest. */
  const plannerRange = (rows: ReturnType<typeof plannerVsBest>) => {
    const sorted = [...rows].sort((a, b) => a.ratio - b.ratio)
    const lo = sorted[0]
    const hi = sorted[sorted.length - 1]
    return lo === undefined || hi === undefined ? "—" : `${lo.ratio.toFixed(2)} (${sizeLabel(lo.size)}) to ${hi.ratio.toFixed(2)} (${sizeLabel(hi.size)})`
  }
  const exposed = sizes
    .filter((s) => unaligned(s).length > 0)
    .map((s) => `${sizeLabel(s)}: ${num(pagesOf(s + OFFSET) * PAGE_SIZE - s)} B`)
    .join(", ")
  const largest = sizes[sizes.length - 1]!
  /** The largest size at which `s` was measured with one client. */
  const upTo = (s: Strategy) => Math.max(...results.filter((r) => r.variant === s && numberOf(r, "clients") === 1).map((r) => numberOf(r, "size")))

  const conclusions = [
    `Fastest at each size, 1 client, aligned buffers: ${leadsAlong(measuredAt(one), one, sizeLabel)}.`,
    ...crossovers.map((c) => c.words),
    `The planner (aligned buffers, allowed to move them) is ${plannerWords(planned)}.`,
    `Fastest at each size, 1 client, unaligned buffers (map and grant not offered): ${leadsAlong(measuredAt(unaligned), unaligned, sizeLabel)}.`,
    `The planner (unaligned buffers, sharing only the whole pages inside them) is ${plannerWords(plannedUnaligned)}.`,
    `Mapping or granting the pages under an unaligned buffer would expose this many of the neighbouring bytes: ${exposed}.`,
    ...clientCounts.map(
      (n) => `Fastest at each size, ${n} clients, aligned buffers: ${leadsAlong(measuredAt(at(n, "aligned")), at(n, "aligned"), sizeLabel)}.`
    ),
    ...(["inline", "ring"] as const).flatMap((s) =>
      upTo(s) < largest
        ? [
            `${s === "inline" ? "Inline messages" : "Rings"} are measured up to ${sizeLabel(upTo(s))} with one client (${s === "inline" ? `a round trip per ${defaultConfig.inlineMax} B` : `an entry per ${sizeLabel(RING_ENTRY + 4)}`}), and to fewer bytes in all with more clients.`
          ]
        : []
    )
  ]
  const ratioAt = (size: number, a: Strategy, b: Strategy) => {
    const ra = variant(one(size), a)
    const rb = variant(one(size), b)
    return ra === undefined || rb === undefined ? undefined : ra.value.median / rb.value.median
  }
  const figures = [
    `The planner's throughput ÷ the best per-message strategy's: ${plannerRange(planned)} with aligned buffers, ${plannerRange(plannedUnaligned)} with unaligned ones.`,
    ...[mid(sizes), largest].flatMap((size) => {
      const r = ratioAt(size, "grant", "copy")
      return r === undefined ? [] : [`At ${sizeLabel(size)} a grant moves ${r.toFixed(1)} × the bytes per second a copy does (write and read back).`]
    }),
    ...(ratioAt(sizes[0]!, "inline", "copy") === undefined
      ? []
      : [
          `Inline messages reach ${percent(ratioAt(Math.min(upTo("inline"), 65536), "inline", "copy")!)} of a copy's throughput at ${sizeLabel(Math.min(upTo("inline"), 65536))}.`
        ])
  ]
  const grantOver = crossovers.find((c) => c.b === "grant")!.over
  const answer =
    `Fastest by size, one client: ${leadsAlong(measuredAt(one), one, sizeLabel, shortVerdict)}` +
    (grantOver !== undefined ? `; grant overtakes copy at ${sizeLabel(grantOver)}` : "") +
    `; the planner is ${plannerWords(planned)}.`

  const counted = (size: number) => ({
    caption: `Counted per operation at ${sizeLabel(size)} (1 client, aligned; medians over the rounds)`,
    header: ["strategy", "µs/op", "copied/byte", "pages/op", "hand-offs/op", "frames in use"],
    rows: one(size).map((r) => [
      r.variant,
      num(r.extra["usPerOp"]!),
      r.extra["copiedPerByte"]!.toFixed(2),
      num(r.extra["pagesPerOp"]!),
      num(r.extra["handoffsPerOp"]!),
      num(r.extra["framesInUse"]!)
    ])
  })
  const sizeTable = (caption: string, group: (size: number) => ReadonlyArray<CellResult>, strategies: ReadonlyArray<Strategy>) =>
    sweepTable(caption, "size", measuredAt(group), group, strategies, sizeLabel)
  return {
    answer,
    conclusions,
    figures,
    tables: [
      sizeTable("1 client, aligned buffers: MB/s, write + read (median and 95 % interval over the rounds)", one, STRATEGIES),
      sizeTable("1 client, unaligned buffers: MB/s", unaligned, UNALIGNED),
      ...clientCounts.map((n) => sizeTable(`${n} clients, aligned buffers: MB/s, all clients together`, at(n, "aligned"), STRATEGIES)),
      {
        caption: "The planner against the best per-message strategy at each size (1 client; the ring apart)",
        header: ["size", "aligned: plan ÷ best", "best", "unaligned: plan ÷ best", "best"],
        rows: sizes.map((size) => {
          const a = planned.find((r) => r.size === size)
          const u = plannedUnaligned.find((r) => r.size === size)
          const cellOf = (r: (typeof planned)[number] | undefined) =>
            r === undefined ? ["—", "—"] : [`${r.ratio.toFixed(2)}${r.among ? " (tie)" : ""}`, r.best.variant]
          return [sizeLabel(size), ...cellOf(a), ...cellOf(u)]
        })
      },
      counted(sizes[0]!),
      counted(mid(sizes)),
      counted(largest)
    ],
    chart: {
      title: "Moving a buffer: write + read back, 1 client",
      x: { label: "transfer size", log: true, format: sizeLabel },
      y: { label: "MB/s (write + read, log scale)", log: true },
      series: [
        ...seriesAlong(sizes, one, STRATEGIES, (x) => x),
        ...seriesAlong(
          sizes,
          unaligned,
          ["plan"],
          (x) => x,
          () => "plan (unaligned)",
          true
        )
      ]
    }
  }
}

// --- the diagram --------------------------------------------------------------------------------

/** One planned write and read of 320 KiB from an unaligned buffer, traced: copy, map, copy out, a copy back. */
const diagram = traced(`strategy: a planned write and read of 320 KiB from a buffer ${OFFSET} B into its page`, (tracer) =>
  once({ strategy: "plan", size: 327680, clients: 1, aligned: false }, realClock, ONE_OPERATION, tracer)
)

/** The experiment. */
export const strategy: Measured = {
  _tag: "Measured",
  name: "strategy",
  title: "How to move a buffer",
  question:
    "What other options do I have to solve this problem? … I am worrying because the buffers passed to read() and write() are not page aligned in 99% of the cases.",
  method: [
    "Each client writes a file's bytes to a storage server and reads them back, by one strategy, as often as it can in the",
    "time budget; MB/s counts both directions, all clients together. The server gives each client a session of its own",
    "(a port and a worker), whose first receive window is the client's file. `inline`: 256-byte messages; `copy`: one",
    "copy item into the window; `lease`: the server pulls and pushes through the client's lent buffer; `map`: shared",
    "pages, copied by the server; `grant`: the pages move and become the file; `ring`: a shared ring each way; `plan`:",
    "`Transfer.plan` (aligned buffers may move; unaligned ones may only share the whole pages inside them, their partial",
    `first and last pages going by copy). An unaligned buffer starts ${OFFSET} B into its page, in memory the client keeps`,
    "using: map and grant, which take whole pages, are not offered for it. Each cell runs on a fresh kernel."
  ].join(" "),
  metric: { name: "throughput", unit: "MB/s", better: "higher" },
  settings: {
    quick: { budget: { warmUpMs: 2, runMs: 5, minOps: 5 }, rounds: { min: 3, max: 3 }, seconds: 5, warmUpMs: 30 },
    default: { budget: { warmUpMs: 2, runMs: 8, minOps: 5 }, rounds: { min: 3, max: 7 }, seconds: 26, warmUpMs: 100 },
    full: { budget: { warmUpMs: 10, runMs: 40, minOps: 5 }, rounds: { min: 5, max: 9 }, seconds: 600, warmUpMs: 300 }
  },
  groups,
  warmUp: [4096, 262144].flatMap((size) => STRATEGIES.map((variant) => ({ variant, params: { size, clients: 1, buffer: "aligned" } }))),
  once: (cell, clock, budget) => once(specOf(cell), clock, budget),
  analyse,
  diagram
}
