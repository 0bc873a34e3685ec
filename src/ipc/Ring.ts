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
 * entries, entry size, creator's role); then `entries` slots of `4 + entrySize` bytes (a u32 length, then data).
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
import { withCaller } from "../kernel/Syscall.js"
import { Data, Effect, Either } from "effect"
import { InvalidArgument } from "../kernel/errors.js"
import * as Memory from "../kernel/Memory.js"
import type { Pcb, Process, ProcessHandle } from "../kernel/Process.js"
import { copyBetween, PageRights } from "../memory/AddressSpace.js"
import { InvalidAddress, PageFault } from "../memory/errors.js"
import { PAGE_SIZE } from "../params.js"
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

const ROLE = 24

// Header words are read and written through the process's own page table, like any user-mode
// access; touching a page that is gone (the ring was revoked) faults the process.
const views = new WeakMap<Uint8Array, DataView>()
const view = (p: Pcb): DataView => {
  const bytes = p.kernel.memory.bytes
  let v = views.get(bytes)
  if (v === undefined) views.set(bytes, (v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)))
  return v
}
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

/**
 * Creates a ring in the caller's memory (charged to it) and the doorbell the peer will sleep on;
 * returns the creator's end (producer unless `role: "consumer"`) and the message that offers the
 * ring to the peer. Send it with `call` through a
 * port capability that has `grant`, then pass the reply to `connect`.
 */
export const create = (options: RingOptions): Effect.Effect<{ readonly end: RingEnd; readonly share: Message }, IpcError, Process> =>
  Effect.gen(function* () {
    const { entries, entrySize } = options
    if (!Number.isInteger(entries) || entries < 1 || !Number.isInteger(entrySize) || entrySize < 1 || entries * (entrySize + 4) > 256 * 1024 * 1024) {
      return yield* new InvalidArgument({ operation: "ring.create", reason: "entries and entrySize must be positive integers (at most 256 MiB in all)" })
    }
    const pages = 1 + Math.ceil((entries * (entrySize + 4)) / PAGE_SIZE)
    const address = yield* Memory.allocate(pages, PageRights.readWrite)
    const p = yield* withCaller((p) => Effect.succeed(p))
    const role = options.role ?? "producer"
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
 * `share` message, and the reply to send back: it carries the doorbell this side owns. Each side thus sleeps only on a notification its
 * peer owns, so a peer's death wakes it with `PeerDied` instead of leaving it asleep forever.
 */
export const open = (received: Received): Effect.Effect<{ readonly end: RingEnd; readonly answer: Message }, InvalidArgument, Process> =>
  Effect.gen(function* () {
    const p = yield* withCaller((p) => Effect.succeed(p))
    const mapped = received.items[0]
    if (received.label !== RING || mapped?._tag !== "map" || received.caps.length !== 1) {
      return yield* new InvalidArgument({ operation: "ring.open", reason: "not a ring message made by Ring.create" })
    }
    const entries = u32(p, mapped.address + ENTRIES)
    const entrySize = u32(p, mapped.address + ENTRY_SIZE)
    if (entries < 1 || 1 + Math.ceil((entries * (entrySize + 4)) / PAGE_SIZE) > mapped.pages) {
      return yield* new InvalidArgument({ operation: "ring.open", reason: "ring header does not match its pages" })
    }
    const own = yield* Notification.create
    const peerBell = received.caps[0]!
    const base = { address: mapped.address, pages: mapped.pages, entries, entrySize, owner: p.handle }
    const end: RingEnd =
      u32(p, mapped.address + ROLE) === 0
        ? { ...base, role: "consumer", dataBell: peerBell, spaceBell: own }
        : { ...base, role: "producer", dataBell: own, spaceBell: peerBell }
    return { end, answer: { label: RING, caps: [own] } }
  })

/** The creator's end, completed with the peer's doorbell from the reply to `share`. */
export const connect = (end: RingEnd, reply: ReplyMessage): Effect.Effect<RingEnd, InvalidArgument> =>
  (end.dataBell === -1 || end.spaceBell === -1) && reply.label === RING && reply.caps.length === 1
    ? Effect.succeed(end.role === "producer" ? { ...end, spaceBell: reply.caps[0]! } : { ...end, dataBell: reply.caps[0]! })
    : Effect.fail(new InvalidArgument({ operation: "ring.connect", reason: "not the reply of Ring.open to this ring's share" }))

const slotAddress = (end: RingEnd, index: number) => end.address + PAGE_SIZE + (index % end.entries) * (end.entrySize + 4)

const checkEnd = (p: Pcb, end: RingEnd, role: RingEnd["role"], operation: string): InvalidArgument | undefined =>
  end.owner !== p.handle || end.role !== role ? new InvalidArgument({ operation, reason: `not this process's ${role} end` }) : undefined

/** Entry contents: bytes in hand, or a range of the producer's own memory. */
type Source = Uint8Array | { readonly address: number; readonly length: number }
const sourceLength = (s: Source) => s.length

/** Writes one entry if there is room; returns false when the ring is full. Rings the doorbell only for a sleeping consumer. */
const pushNow = (p: Pcb, end: RingEnd, source: Source): Effect.Effect<boolean, IpcError, Process> => {
  const head = u32(p, end.address + HEAD)
  const tail = u32(p, end.address + TAIL)
  if ((tail - head) >>> 0 >= end.entries) return Effect.succeed(false)
  const slot = slotAddress(end, tail)
  setU32(p, slot, source.length)
  const dst = checked(p.space.check(slot + 4, source.length, "write"))
  if (source instanceof Uint8Array) p.space.writeFrom(dst, source)
  else copyBetween(checked(p.space.check(source.address, source.length, "read")), dst)
  setU32(p, end.address + TAIL, (tail + 1) >>> 0)
  p.kernel.counters.ringEntries++
  if (u32(p, end.address + CONSUMER_SLEEPING) === 0) return Effect.succeed(true)
  setU32(p, end.address + CONSUMER_SLEEPING, 0)
  return Effect.as(Notification.signal(end.dataBell), true)
}

/** Appends `bytes` as one entry; waits while the ring is full. */
export const push = (end: RingEnd, bytes: Uint8Array): Effect.Effect<void, IpcError, Process> => pushSource(end, bytes)

/** Appends `length` bytes of the caller's memory at `address` as one entry (one copy, into the shared pages). */
export const pushFrom = (end: RingEnd, address: number, length: number): Effect.Effect<void, IpcError, Process> =>
  withCaller((p) => {
    const fault = p.space.faultAt(address, length, "read")
    return fault ? Effect.fail(fault) : pushSource(end, { address, length })
  })

const pushSource = (end: RingEnd, bytes: Source): Effect.Effect<void, IpcError, Process> =>
  withCaller((p) => {
    const bad = checkEnd(p, end, "producer", "ring.push") ?? tooLarge(end, bytes)
    if (bad) return Effect.fail(bad)
    const attempt: Effect.Effect<void, IpcError, Process> = Effect.flatMap(
      Effect.suspend(() => guard(() => pushNow(p, end, bytes))),
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
  })

/** Appends `bytes` as one entry, or fails with `WouldBlock` when the ring is full. */
export const tryPush = (end: RingEnd, bytes: Uint8Array): Effect.Effect<void, IpcError, Process> =>
  withCaller((p) => {
    const bad = checkEnd(p, end, "producer", "ring.tryPush") ?? tooLarge(end, bytes)
    if (bad) return Effect.fail(bad)
    return Effect.flatMap(
      guard(() => pushNow(p, end, bytes)),
      (ok) => (ok ? Effect.void : Effect.fail(new WouldBlock({ operation: "ring.tryPush", port: -1 })))
    )
  })

const tooLarge = (end: RingEnd, bytes: Source): InvalidArgument | undefined =>
  sourceLength(bytes) > end.entrySize
    ? new InvalidArgument({ operation: "ring.push", reason: `entry of ${bytes.length} bytes exceeds entrySize ${end.entrySize}` })
    : undefined

/** Takes one entry if there is one (undefined when empty), as bytes or into `into`. Wakes a sleeping producer. */
const popNow = (p: Pcb, end: RingEnd, into?: number): Effect.Effect<Uint8Array | number | undefined, IpcError | RingCorrupt, Process> => {
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
    const bad = checkEnd(p, end, "consumer", "ring.pop")
    if (bad) return Effect.fail(bad)
    const attempt: Effect.Effect<Uint8Array | number, IpcError | RingCorrupt, Process> = Effect.flatMap(
      Effect.suspend(() => guard(() => popNow(p, end, into))),
      (bytes) =>
        guard(() => {
          if (bytes !== undefined) return Effect.succeed(bytes)
          setU32(p, end.address + CONSUMER_SLEEPING, 1)
          if (u32(p, end.address + TAIL) !== u32(p, end.address + HEAD)) return attempt
          return Effect.zipRight(Notification.wait(end.dataBell), attempt)
        })
    )
    return attempt
  })

/** Takes the next entry, or fails with `WouldBlock` when the ring is empty. */
export const tryPop = (end: RingEnd): Effect.Effect<Uint8Array, IpcError | RingCorrupt, Process> =>
  withCaller((p) => {
    const bad = checkEnd(p, end, "consumer", "ring.tryPop")
    if (bad) return Effect.fail(bad)
    return Effect.flatMap(
      guard(() => popNow(p, end)),
      (bytes) => (bytes instanceof Uint8Array ? Effect.succeed(bytes) : Effect.fail(new WouldBlock({ operation: "ring.tryPop", port: -1 })))
    )
  })
