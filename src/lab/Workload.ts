/**
 * The lab's file workload: clients write a file's bytes to a storage server, then read them back,
 * moving the data by one transfer strategy. One measurement ("cell") per strategy × size × number
 * of clients, each on a freshly booted kernel so the counters belong to that cell alone.
 *
 * The storage server gives every client its own session port and worker (Genode-style sessions),
 * so each worker's receive window is that client's file: a copy lands where the file lives.
 *
 * | strategy | write (client → server) | read (server → client) |
 * |---|---|---|
 * | inline | `inlineMax`-byte chunks in message data | chunks in reply data |
 * | copy | copy item into the session window (the file) | reply copy item into the client's window |
 * | lease | read lease; the server copies it into the file | write lease; the server copies the file into it |
 * | map | map item: the server copies from the shared pages into the file | reply map item of the file's pages, read in place; the server revokes the last one first |
 * | grant | grant item: the pages become the file | reply grant item: the file's pages come back |
 * | ring | entries through a client → server ring | entries through a server → client ring |
 * | plan | `Transfer.plan` with the sender's freedoms (`move`, the window size) | the server plans its reply the same way |
 */
import { Effect, Either, Fiber } from "effect"
import { Rights } from "../kernel/Capability.js"
import * as Kernel from "../kernel/Kernel.js"
import * as Memory from "../kernel/Memory.js"
import * as Process from "../kernel/Process.js"
import * as Lease from "../ipc/Lease.js"
import * as Port from "../ipc/Port.js"
import * as Ring from "../ipc/Ring.js"
import * as Transfer from "../ipc/Transfer.js"
import { defaultConfig, PAGE_SIZE } from "../params.js"
import * as Labels from "../ipc/labels.js"
import type { Tracer } from "../kernel/Trace.js"
import { type Checkpoints, measure, type Timing } from "./Harness.js"

/** Pages the storage server (and a client reading back) accepts by map and grant items in one message. */
const ACCEPT_PAGES = 65536

/** Every strategy the lab measures, in report order. */
export const STRATEGIES = ["inline", "copy", "lease", "map", "grant", "ring", "plan"] as const
/** A transfer strategy. */
export type Strategy = (typeof STRATEGIES)[number]

/** One cell of the matrix. */
export interface CellSpec {
  readonly strategy: Strategy
  readonly size: number
  readonly clients: number
  /** Write-then-read operations per client. */
  readonly ops: number
}

/** What one cell measured. */
export interface Measurement extends CellSpec, Timing {}

const WRITE = 1
const READ = 2
const pagesOf = (n: number) => Math.max(1, Math.ceil(n / PAGE_SIZE))
const RING_ENTRY = PAGE_SIZE - 4
const RING_ENTRIES = 16
const op = (kind: number, index = 0) => kind | (index << 4)

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
    let fileIsGranted = false
    let inbound: Ring.RingEnd | undefined = undefined
    let outbound: Ring.RingEnd | undefined = undefined
    const windows = (): ReadonlyArray<Port.Window> => [{ address: file, length: pagesOf(size) * PAGE_SIZE }]
    let m = yield* Port.receive(slot, { windows: windows(), pages: ACCEPT_PAGES })
    for (;;) {
      const kind = m.label === Labels.RING ? 0 : m.label & 15
      const index = m.label >>> 4
      let answer: Port.Message = { label: 0 }
      if (m.label === Labels.RING) {
        const opened = yield* Ring.open(m)
        if (opened.end.role === "consumer") {
          inbound = opened.end
          const into = file
          const ring = inbound
          // The consumer side of writes: pull entries into the file as they come, forever.
          yield* Process.fork(
            Effect.forever(
              Effect.gen(function* () {
                for (let off = 0; off < size; off += RING_ENTRY) yield* Ring.popInto(ring, into + off)
              })
            )
          )
        } else {
          outbound = opened.end
        }
        answer = opened.answer
      } else if (kind === WRITE) {
        if (m.data.length > 0) yield* Memory.write(file + index * inlineMax, m.data)
        for (const item of m.items) {
          if (item._tag === "lease") yield* Lease.read(item.lease, 0, item.length, file)
          else if (item._tag === "map") {
            // Reached through the mapping, kept by the server's own copy into the file.
            yield* Memory.copy(item.address, file, size)
            yield* Memory.free(item.address)
          } else if (item._tag === "grant") {
            yield* Memory.free(file)
            file = item.address
            fileIsGranted = true
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
            // The reply says "coming"; the entries follow through the ring.
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

/** One client: `ops` writes and reads of `size` bytes by `strategy`; true if every read matched. */
/** Whether two byte arrays hold the same bytes. */
export const same = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const client = (strategy: Strategy, size: number, ops: number, seed: number, at: Checkpoints) =>
  Effect.gen(function* () {
    const inlineMax = defaultConfig.inlineMax
    const pages = pagesOf(size)
    let buf = yield* Memory.allocate(pages)
    const content = new Uint8Array(size)
    for (let j = 0; j < size; j++) content[j] = (j * 31 + seed) & 255
    let intact = false
    let toServer: Ring.RingEnd | undefined = undefined
    let fromServer: Ring.RingEnd | undefined = undefined
    if (strategy === "ring") {
      const out = yield* Ring.create({ entries: RING_ENTRIES, entrySize: RING_ENTRY })
      toServer = yield* Ring.connect(out.end, yield* Port.call(0, out.share))
      const back = yield* Ring.create({ entries: RING_ENTRIES, entrySize: RING_ENTRY, role: "consumer" })
      fromServer = yield* Ring.connect(back.end, yield* Port.call(0, back.share))
    }
    // With more than one operation, operation 0 warms up untimed; the rest are measured between
    // the checkpoints. (A single large operation is its own warm-up.)
    const first = ops > 1 ? 1 : 0
    for (let i = 0; i < ops + first; i++) {
      if (i === first) yield* at.ready
      yield* Memory.write(buf, content)
      let gaveBuffer = false
      // write
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
            Transfer.plan({ address: buf, length: size }, strategy === "grant" ? { strategy: "grant", window: size } : { move: true, window: size })
          )
          yield* Port.call(0, { label: WRITE, items: plan.items })
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
      }
      // read
      let readAt = buf
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
      }
      if (i === ops + first - 1) {
        // The last read is checked after the clock stops (reading a megabyte back and comparing
        // it byte by byte is not the transfer's cost).
        yield* at.done
        intact = same(yield* Memory.read(readAt, size), content)
      }
      if (readAt !== buf) {
        if (strategy === "map") yield* Memory.free(readAt)
        else {
          if (!gaveBuffer) yield* Memory.free(buf)
          buf = readAt
        }
      }
    }
    return intact
  })

/** Frames a cell needs: files, buffers, rings and guard pages for every client, plus slack. */
const framesFor = (spec: CellSpec) => 1024 + spec.clients * (3 * pagesOf(spec.size) + 2 * (2 + Math.ceil((RING_ENTRIES * PAGE_SIZE) / PAGE_SIZE)) + 8)

/** Runs one cell on a fresh kernel and measures it; with `tracer`, the kernel traces it. */
export const runCell = (spec: CellSpec, tracer?: Tracer): Effect.Effect<Measurement> =>
  Effect.scoped(
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      if (tracer !== undefined) k.tracer = tracer
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
      return yield* measure(k, spec, (i, at) =>
        Kernel.spawn(client(spec.strategy, spec.size, spec.ops, i, at), {
          name: `client${i}`,
          caps: [{ cap: ports[i]!, rights: Rights.send | Rights.grant, badge: i + 1 }]
        })
      )
    }).pipe(Effect.orDie, Effect.provide(Kernel.layer({ frames: framesFor(spec), processQuota: framesFor(spec) })))
  )
