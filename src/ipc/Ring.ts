/**
 * Ring channels: a single-producer/single-consumer ring in pages mapped into both processes, with
 * notifications as doorbells (Genode packet streams, io_uring). After setup no syscall moves data:
 * the producer writes entries into shared memory and the consumer reads them in place; the kernel
 * is entered only to wake a side that sleeps.
 *
 * Batched wake-ups: a consumer about to sleep raises a flag in the ring header, then looks at the
 * ring once more (so no wake-up is lost); a producer rings the doorbell only when it sees the flag.
 * A burst of N entries to a busy consumer costs no doorbell at all. Symmetrically, a full ring
 * blocks the producer (or fails with `WouldBlock` in `tryPush`) until the consumer frees a slot.
 *
 * Layout: page 0 is the header (u32 words: head, tail, consumer sleeping, producer sleeping,
 * entries, entry size, creator's role); then `entries` slots of `4 + entrySize` bytes rounded up
 * to a multiple of 4 (a u32 length, then data), so no u32 word ever straddles two pages.
 *
 * Everything in the shared pages is the peer's to scribble on: each side reads the header and
 * lengths through its own page table, checks them (`RingCorrupt`), and never trusts them beyond
 * its own pages. A `RingEnd` is plain data the program holds; every operation reads it once and
 * checks it (`InvalidArgument`), and it only ever names the caller's own memory and slots.
 * The pages are allocated in, and charged to, the process that creates the ring.
 *
 * | function | result | errors |
 * |---|---|---|
 * | `create({ entries, entrySize })` | the producer's end, and a `share` message for the consumer | `InvalidArgument`, `OutOfMemory` |
 * | `open(received)` | the consumer's end, and the `answer` to reply with | `InvalidArgument` (not a ring message) |
 * | `connect(end, reply)` | the producer's end, ready | `InvalidArgument` (not the answer) |
 * | `push(end, bytes)` / `tryPush` | — (blocks while full / `WouldBlock`) | `InvalidArgument` (too large, wrong end), `PeerDied`/`StaleCapability` (consumer gone), `PageFault` (pages revoked) |
 * | `pushFrom(end, address, length)` | as `push`, from the caller's memory | + `PageFault` |
 * | `pop(end)` / `tryPop` | the next entry (blocks while empty / `WouldBlock`) | `RingCorrupt`, `PeerDied` |
 * | `popInto(end, address)` | the entry's length, its bytes copied to `address` | + `PageFault` |
 */
import { Data, Effect, Either } from "effect"
import { byteLength, field, int, object, oneOf, Refusal } from "../kernel/boundary.js"
import { InvalidArgument } from "../kernel/errors.js"
import * as Memory from "../kernel/Memory.js"
import type { Pcb, Process, ProcessHandle } from "../kernel/Process.js"
import { withCaller } from "../kernel/Syscall.js"
import { copyBetween, PageRights } from "../memory/AddressSpace.js"
import { InvalidAddress, PageFault } from "../memory/errors.js"
import { PAGE_SIZE } from "../params.js"
import { MathCeil, WeakMapPrototypeGet, WeakMapPrototypeSet } from "../primordials.js"
import { type IpcError, WouldBlock } from "./errors.js"
import { RING } from "./labels.js"
import type { Message, Received, ReplyMessage } from "./Message.js"
import * as Notification from "./Notification.js"

/** The shared header or an entry length is impossible: the peer wrote garbage into the ring. */
export class RingCorrupt extends Data.TaggedError("RingCorrupt")<{ readonly reason: string }> {
  override get message() {
    return `ring corrupt: ${this.reason}`
  }
}

const HEAD = 0
const TAIL = 4
const CONSUMER_SLEEPING = 8
const PRODUCER_SLEEPING = 12
const ENTRIES = 16
const ENTRY_SIZE = 20
const ROLE = 24
/** The most a ring may take in all (entries × slot), as `create` checks. */
const RING_BYTES_MAX = 256 * 1024 * 1024

/** One end of a ring, usable only by the process that made or opened it. */
export interface RingEnd {
  readonly role: "producer" | "consumer"
  /** Where the ring's pages are in this process. */
  readonly address: number
  readonly pages: number
  readonly entries: number
  readonly entrySize: number
  /** Notification the consumer sleeps on ("data ready"). */
  readonly dataBell: number
  /** Notification the producer sleeps on ("space free"). */
  readonly spaceBell: number
  /** The process whose end this is (its opaque handle): only it may use the end. */
  readonly owner: ProcessHandle
}

/** Options of `create`. */
export interface RingOptions {
  /** Slots in the ring. */
  readonly entries: number
  /** Largest entry in bytes. */
  readonly entrySize: number
  /** Which end the creator takes. Default `"producer"`. */
  readonly role?: "producer" | "consumer"
}

/** Bytes one slot takes: the length word and the data, rounded up to whole words. */
const stride = (entrySize: number): number => 4 + MathCeil(entrySize / 4) * 4

/**
 * Pages a ring of `entries` slots of `entrySize` bytes takes (the header page and the slots): what
 * a receiver must accept (`Port.receive(slot, { pages })`) to take a ring's `share` message.
 */
export const pagesFor = (options: { readonly entries: number; readonly entrySize: number }): number =>
  1 + MathCeil((options.entries * stride(options.entrySize)) / PAGE_SIZE)

// Header words are read and written through the process's own page table, like any user-mode
// access; touching a page that is gone (the ring was revoked) faults the process. The views are
// the kernel's, one per physical memory, keyed weakly.
const views = new WeakMap<Uint8Array, DataView>()
const view = (p: Pcb): DataView => {
  const bytes = p.kernel.memory.bytes
  let v = WeakMapPrototypeGet(views, bytes)
  if (v === undefined) WeakMapPrototypeSet(views, bytes, (v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)))
  return v
}
/** The physical address of the word at `address` (4-aligned, so inside one page), or a thrown fault. */
const at = (p: Pcb, address: number, access: "read" | "write"): number => {
  const physical = p.space.physical(address, access)
  if (physical < 0) throw p.space.faultAt(address, 4, access)
  return physical
}

/** Throws the fault of a failed check; `guard` turns it back into a typed failure. */
const checked = <A>(r: Either.Either<A, PageFault | InvalidAddress>): A => {
  if (Either.isLeft(r)) throw r.left
  return r.right
}

/**
 * Runs a ring access; a page fault in the shared pages (the peer revoked or freed them) becomes a
 * typed `PageFault` for this side, never a crash of the process.
 */
const guard = <A, E>(body: () => Effect.Effect<A, E, Process>): Effect.Effect<A, E | PageFault | InvalidAddress, Process> => {
  try {
    return body()
  } catch (e) {
    if (e instanceof PageFault || e instanceof InvalidAddress) return Effect.fail(e)
    throw e
  }
}

const u32 = (p: Pcb, address: number): number => view(p).getUint32(at(p, address, "read"), true)
const setU32 = (p: Pcb, address: number, value: number): void => view(p).setUint32(at(p, address, "write"), value, true)

/** A ring end, read once from what the program passed and checked against the caller. */
class End {
  constructor(
    readonly role: "producer" | "consumer",
    readonly address: number,
    readonly entries: number,
    readonly entrySize: number,
    readonly dataBell: number,
    readonly spaceBell: number
  ) {}
}

const ROLES: ReadonlyArray<"producer" | "consumer"> = ["producer", "consumer"]

/** Reads `end` once: it must be the caller's own end in `role`, with integer fields in range. */
const readEnd = (p: Pcb, end: unknown, role: "producer" | "consumer", operation: string): End | InvalidArgument => {
  const refuse = (r: Refusal) => new InvalidArgument({ operation, reason: r.text })
  const o = object(end, "end")
  if (o instanceof Refusal) return refuse(o)
  const read = (key: string, min: number, max: number): number | Refusal => {
    const v = field(o, key, `end.${key}`)
    return v instanceof Refusal ? v : int(v, `end.${key}`, min, max)
  }
  const owner = field(o, "owner", "end.owner")
  if (owner !== p.handle) return new InvalidArgument({ operation, reason: `not this process's ${role} end` })
  const roleValue = field(o, "role", "end.role")
  const r = roleValue instanceof Refusal ? roleValue : oneOf(roleValue, "end.role", ROLES)
  if (r instanceof Refusal) return refuse(r)
  if (r !== role) return new InvalidArgument({ operation, reason: `not this process's ${role} end` })
  const address = read("address", PAGE_SIZE, 2 ** 32)
  if (address instanceof Refusal) return refuse(address)
  const entries = read("entries", 1, RING_BYTES_MAX)
  if (entries instanceof Refusal) return refuse(entries)
  const entrySize = read("entrySize", 1, RING_BYTES_MAX)
  if (entrySize instanceof Refusal) return refuse(entrySize)
  const dataBell = read("dataBell", -1, 2 ** 31 - 1)
  if (dataBell instanceof Refusal) return refuse(dataBell)
  const spaceBell = read("spaceBell", -1, 2 ** 31 - 1)
  if (spaceBell instanceof Refusal) return refuse(spaceBell)
  if (address % PAGE_SIZE !== 0) return new InvalidArgument({ operation, reason: "end.address: not page-aligned" })
  return new End(r, address, entries, entrySize, dataBell, spaceBell)
}

/**
 * Creates a ring in the caller's memory (charged to it) and the doorbell the peer will sleep on;
 * returns the creator's end (producer unless `role: "consumer"`) and the message that offers the
 * ring to the peer. Send it with `call` through a port capability that has `grant` (the peer
 * receives it accepting `pagesFor(options)` pages), then pass the reply to `connect`.
 * Errors: `InvalidArgument`, `OutOfMemory`.
 */
export const create = (options: RingOptions): Effect.Effect<{ readonly end: RingEnd; readonly share: Message }, IpcError, Process> =>
  Effect.gen(function* () {
    const p = yield* withCaller((p) => Effect.succeed(p))
    const bad = (reason: string) => new InvalidArgument({ operation: "ring.create", reason })
    const o = object(options, "options")
    if (o instanceof Refusal) return yield* bad(o.text)
    const entriesValue = field(o, "entries", "options.entries")
    const entrySizeValue = field(o, "entrySize", "options.entrySize")
    const roleValue = field(o, "role", "options.role")
    const entries = entriesValue instanceof Refusal ? entriesValue : int(entriesValue, "options.entries", 1, RING_BYTES_MAX)
    if (entries instanceof Refusal) return yield* bad(entries.text)
    const entrySize = entrySizeValue instanceof Refusal ? entrySizeValue : int(entrySizeValue, "options.entrySize", 1, RING_BYTES_MAX)
    if (entrySize instanceof Refusal) return yield* bad(entrySize.text)
    const role = roleValue === undefined ? "producer" : roleValue instanceof Refusal ? roleValue : oneOf(roleValue, "options.role", ROLES)
    if (role instanceof Refusal) return yield* bad(role.text)
    if (entries * stride(entrySize) > RING_BYTES_MAX) return yield* bad("entries × entrySize must be at most 256 MiB in all")
    const pages = pagesFor({ entries, entrySize })
    const address = yield* Memory.allocate(pages, PageRights.readWrite)
    setU32(p, address + ENTRIES, entries)
    setU32(p, address + ENTRY_SIZE, entrySize)
    setU32(p, address + ROLE, role === "producer" ? 0 : 1)
    // The creator owns the doorbell its peer sleeps on: "data ready" for a producer, "space free" for a consumer.
    const bell = yield* Notification.create.pipe(Effect.tapError(() => Memory.free(address)))
    const end: RingEnd =
      role === "producer"
        ? { role, address, pages, entries, entrySize, dataBell: bell, spaceBell: -1, owner: p.handle }
        : { role, address, pages, entries, entrySize, dataBell: -1, spaceBell: bell, owner: p.handle }
    const share: Message = { label: RING, caps: [bell], items: [{ _tag: "map", address, pages, rights: PageRights.readWrite }] }
    return { end, share }
  })

/**
 * The other end (consumer for a producer's ring, producer for a consumer's), from a received
 * `share` message, and the reply to send back: it carries the doorbell this side owns. Each side
 * thus sleeps only on a notification its peer owns, so a peer's death wakes it with `PeerDied`
 * instead of leaving it asleep forever. Errors: `InvalidArgument` (not a ring message, or its
 * header does not match its pages), `PageFault`.
 */
export const open = (
  received: Received
): Effect.Effect<{ readonly end: RingEnd; readonly answer: Message }, InvalidArgument | PageFault | InvalidAddress, Process> =>
  Effect.gen(function* () {
    const p = yield* withCaller((p) => Effect.succeed(p))
    const mapped = received.items[0]
    if (received.label !== RING || mapped?._tag !== "map" || received.caps.length !== 1) {
      return yield* new InvalidArgument({ operation: "ring.open", reason: "not a ring message made by Ring.create" })
    }
    const header = yield* guard(() =>
      Effect.succeed({ entries: u32(p, mapped.address + ENTRIES), entrySize: u32(p, mapped.address + ENTRY_SIZE), role: u32(p, mapped.address + ROLE) })
    )
    const { entries, entrySize } = header
    if (entries < 1 || entrySize < 1 || entries * stride(entrySize) > RING_BYTES_MAX || pagesFor({ entries, entrySize }) > mapped.pages) {
      return yield* new InvalidArgument({ operation: "ring.open", reason: "ring header does not match its pages" })
    }
    const own = yield* Notification.create
    const peerBell = received.caps[0]!
    const base = { address: mapped.address, pages: mapped.pages, entries, entrySize, owner: p.handle }
    const end: RingEnd =
      header.role === 0 ? { ...base, role: "consumer", dataBell: peerBell, spaceBell: own } : { ...base, role: "producer", dataBell: own, spaceBell: peerBell }
    return { end, answer: { label: RING, caps: [own] } }
  })

/** The creator's end, completed with the peer's doorbell from the reply to `share`. Errors: `InvalidArgument`. */
export const connect = (end: RingEnd, reply: ReplyMessage): Effect.Effect<RingEnd, InvalidArgument> =>
  (end.dataBell === -1 || end.spaceBell === -1) && reply.label === RING && reply.caps.length === 1
    ? Effect.succeed(end.role === "producer" ? { ...end, spaceBell: reply.caps[0]! } : { ...end, dataBell: reply.caps[0]! })
    : Effect.fail(new InvalidArgument({ operation: "ring.connect", reason: "not the reply of Ring.open to this ring's share" }))

const slotAddress = (end: End, index: number) => end.address + PAGE_SIZE + (index % end.entries) * stride(end.entrySize)

/** Entry contents: bytes in hand (checked to be a real `Uint8Array`), or a range of the producer's own memory. */
class Source {
  constructor(
    readonly bytes: Uint8Array | undefined,
    readonly address: number,
    readonly length: number
  ) {}
}

/** Writes one entry if there is room; returns false when the ring is full. Rings the doorbell only for a sleeping consumer. */
const pushNow = (p: Pcb, end: End, source: Source): Effect.Effect<boolean, IpcError, Process> => {
  const head = u32(p, end.address + HEAD)
  const tail = u32(p, end.address + TAIL)
  if ((tail - head) >>> 0 >= end.entries) return Effect.succeed(false)
  const slot = slotAddress(end, tail)
  setU32(p, slot, source.length)
  const dst = checked(p.space.check(slot + 4, source.length, "write"))
  if (source.bytes !== undefined) p.space.writeFrom(dst, source.bytes)
  else copyBetween(checked(p.space.check(source.address, source.length, "read")), dst)
  setU32(p, end.address + TAIL, (tail + 1) >>> 0)
  p.kernel.counters.ringEntries++
  if (u32(p, end.address + CONSUMER_SLEEPING) === 0) return Effect.succeed(true)
  setU32(p, end.address + CONSUMER_SLEEPING, 0)
  return Effect.as(Notification.signal(end.dataBell), true)
}

/** The producer's end and the entry, read and checked, or why not. */
const readPush = (p: Pcb, end: unknown, bytes: unknown, operation: string): { readonly end: End; readonly source: Source } | InvalidArgument => {
  const e = readEnd(p, end, "producer", operation)
  if (e instanceof InvalidArgument) return e
  const n = byteLength(bytes, "bytes", e.entrySize)
  if (n instanceof Refusal) return new InvalidArgument({ operation, reason: n.text })
  return { end: e, source: new Source(bytes as Uint8Array, 0, n) }
}

/** Appends `bytes` as one entry; waits while the ring is full. Errors: as in the module table. */
export const push = (end: RingEnd, bytes: Uint8Array): Effect.Effect<void, IpcError, Process> =>
  withCaller((p) => {
    const r = readPush(p, end, bytes, "ring.push")
    return r instanceof InvalidArgument ? Effect.fail(r) : pushSource(p, r.end, r.source)
  })

/** Appends `length` bytes of the caller's memory at `address` as one entry (one copy, into the shared pages). */
export const pushFrom = (end: RingEnd, address: number, length: number): Effect.Effect<void, IpcError, Process> =>
  withCaller((p) => {
    const e = readEnd(p, end, "producer", "ring.push")
    if (e instanceof InvalidArgument) return Effect.fail(e)
    const from = int(address, "address", 0, 2 ** 32)
    if (from instanceof Refusal) return Effect.fail(new InvalidArgument({ operation: "ring.push", reason: from.text }))
    const n = int(length, "length", 0, e.entrySize)
    if (n instanceof Refusal) return Effect.fail(new InvalidArgument({ operation: "ring.push", reason: n.text }))
    const fault = p.space.faultAt(from, n, "read")
    return fault ? Effect.fail(fault) : pushSource(p, e, new Source(undefined, from, n))
  })

const pushSource = (p: Pcb, end: End, source: Source): Effect.Effect<void, IpcError, Process> => {
  const attempt: Effect.Effect<void, IpcError, Process> = Effect.flatMap(
    Effect.suspend(() => guard(() => pushNow(p, end, source))),
    (ok) =>
      guard(() => {
        if (ok) return Effect.void
        setU32(p, end.address + PRODUCER_SLEEPING, 1)
        const head = u32(p, end.address + HEAD)
        const tail = u32(p, end.address + TAIL)
        if ((tail - head) >>> 0 < end.entries) return attempt
        return Effect.zipRight(Notification.wait(end.spaceBell), attempt)
      })
  )
  return attempt
}

/** Appends `bytes` as one entry, or fails with `WouldBlock` when the ring is full. */
export const tryPush = (end: RingEnd, bytes: Uint8Array): Effect.Effect<void, IpcError, Process> =>
  withCaller((p) => {
    const r = readPush(p, end, bytes, "ring.tryPush")
    if (r instanceof InvalidArgument) return Effect.fail(r)
    return Effect.flatMap(
      guard(() => pushNow(p, r.end, r.source)),
      (ok) => (ok ? Effect.void : Effect.fail(new WouldBlock({ operation: "ring.tryPush", port: -1 })))
    )
  })

/** Takes one entry if there is one (undefined when empty), as bytes or into `into`. Wakes a sleeping producer. */
const popNow = (p: Pcb, end: End, into: number | undefined): Effect.Effect<Uint8Array | number | undefined, IpcError | RingCorrupt, Process> => {
  const head = u32(p, end.address + HEAD)
  const tail = u32(p, end.address + TAIL)
  const used = (tail - head) >>> 0
  if (used === 0) return Effect.succeed(undefined)
  if (used > end.entries) return Effect.fail(new RingCorrupt({ reason: `tail ${tail} is ${used} entries past head ${head}` }))
  const slot = slotAddress(end, head)
  const length = u32(p, slot)
  if (length > end.entrySize) return Effect.fail(new RingCorrupt({ reason: `entry length ${length} exceeds entrySize ${end.entrySize}` }))
  const src = checked(p.space.check(slot + 4, length, "read"))
  let bytes: Uint8Array | number
  if (into === undefined) {
    bytes = new Uint8Array(length)
    p.space.readInto(src, bytes)
  } else {
    const dst = p.space.check(into, length, "write")
    if (Either.isLeft(dst)) return Effect.fail(dst.left)
    bytes = copyBetween(src, dst.right)
  }
  setU32(p, end.address + HEAD, (head + 1) >>> 0)
  if (u32(p, end.address + PRODUCER_SLEEPING) === 0) return Effect.succeed(bytes)
  setU32(p, end.address + PRODUCER_SLEEPING, 0)
  return Effect.as(Notification.signal(end.spaceBell), bytes)
}

/** Takes the next entry; waits (one doorbell) while the ring is empty. */
export const pop = (end: RingEnd): Effect.Effect<Uint8Array, IpcError | RingCorrupt, Process> =>
  popTo(end, undefined) as Effect.Effect<Uint8Array, IpcError | RingCorrupt, Process>

/** Copies the next entry into the caller's memory at `into` (room for `entrySize` bytes); returns its length. Waits while empty. */
export const popInto = (end: RingEnd, into: number): Effect.Effect<number, IpcError | RingCorrupt, Process> =>
  popTo(end, into) as Effect.Effect<number, IpcError | RingCorrupt, Process>

const popTo = (end: RingEnd, into: number | undefined): Effect.Effect<Uint8Array | number, IpcError | RingCorrupt, Process> =>
  withCaller((p) => {
    const e = readEnd(p, end, "consumer", "ring.pop")
    if (e instanceof InvalidArgument) return Effect.fail(e)
    const to = into === undefined ? undefined : int(into, "into", 0, 2 ** 32)
    if (to instanceof Refusal) return Effect.fail(new InvalidArgument({ operation: "ring.pop", reason: to.text }))
    const attempt: Effect.Effect<Uint8Array | number, IpcError | RingCorrupt, Process> = Effect.flatMap(
      Effect.suspend(() => guard(() => popNow(p, e, to))),
      (bytes) =>
        guard(() => {
          if (bytes !== undefined) return Effect.succeed(bytes)
          setU32(p, e.address + CONSUMER_SLEEPING, 1)
          if (u32(p, e.address + TAIL) !== u32(p, e.address + HEAD)) return attempt
          return Effect.zipRight(Notification.wait(e.dataBell), attempt)
        })
    )
    return attempt
  })

/** Takes the next entry, or fails with `WouldBlock` when the ring is empty. */
export const tryPop = (end: RingEnd): Effect.Effect<Uint8Array, IpcError | RingCorrupt, Process> =>
  withCaller((p) => {
    const e = readEnd(p, end, "consumer", "ring.tryPop")
    if (e instanceof InvalidArgument) return Effect.fail(e)
    return Effect.flatMap(
      guard(() => popNow(p, e, undefined)),
      (bytes) => (bytes instanceof Uint8Array ? Effect.succeed(bytes) : Effect.fail(new WouldBlock({ operation: "ring.tryPop", port: -1 })))
    )
  })
