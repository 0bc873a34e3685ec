/**
 * Bulk transfer: the items a message can carry (see `Message.TransferItem`), the planner that
 * picks them, and the revocation of shared mappings.
 *
 * The classic trap: a `read(fd, buf, n)` buffer is rarely page-aligned, and mapping the pages
 * under it hands the receiver the sender's neighbouring bytes. `plan` never does that: a partial
 * page at either end always travels by copy (or lease); only whole pages inside the buffer are
 * ever mapped or granted. So the receiver can reach exactly the buffer's bytes and nothing else.
 *
 * | function | result | errors |
 * |---|---|---|
 * | `plan(buffer, hint?)` | `Plan`: items for a `call` or `send` | `InvalidArgument` (bad buffer; a bulk one-way send that cannot go by grant) |
 * | `revoke(address, pages)` | pages unmapped from every space that got them by map items (recursively, and wherever they were granted on) | `InvalidAddress` (misaligned, or not inside one region) |
 */
import { Effect, Either } from "effect"
import { InvalidArgument } from "../kernel/errors.js"
import type { Process } from "../kernel/Process.js"
import { withCaller } from "../kernel/Syscall.js"
import { Revocation } from "../memory/AddressSpace.js"
import { InvalidAddress } from "../memory/errors.js"
import { defaultConfig, PAGE_SIZE, PLAN_MIN_GRANT_PAGES, PLAN_MIN_MAP_PAGES } from "../params.js"
import { NumberIsSafeInteger } from "../primordials.js"
import type { TransferItem } from "./Message.js"

export type { DeliveredItem, LeaseAccess, TransferItem, Window } from "./Message.js"

/** How a buffer's bytes travel. */
export type Strategy = "copy" | "lease" | "map" | "grant"

/** A byte range of the sender's memory. */
export interface Buffer {
  readonly address: number
  readonly length: number
}

/** What the planner may assume. */
export interface PlanHint {
  /** The syscall that will carry the items. Default `"call"`. */
  readonly via?: "call" | "send"
  /** Use this strategy (for the whole pages, with map and grant). Default: the planner chooses. */
  readonly strategy?: Strategy
  /** The sender gives its pages up: whole pages may be granted. Default false. */
  readonly move?: boolean
  /** The sender and receiver may share pages: whole pages may be mapped. Default false. */
  readonly share?: boolean
  /** Bytes each of the receiver's receive windows holds (a whole-buffer copy lands in the first; a split's head and tail copies in the first two). Copies up to this size need no lease. Default 0. */
  readonly window?: number
  /** The kernel's inline limit (for one-way sends). Default `defaultConfig.inlineMax`. */
  readonly inlineMax?: number
}

/** The planner's answer. */
export interface Plan {
  readonly strategy: Strategy
  readonly items: ReadonlyArray<TransferItem>
}

const alignUp = (a: number) => Math.ceil(a / PAGE_SIZE) * PAGE_SIZE
const alignDown = (a: number) => Math.floor(a / PAGE_SIZE) * PAGE_SIZE

/**
 * Splits `buffer` into a partial head page, whole middle pages and a partial tail page; the
 * middle goes by `pages` (map or grant), the ends by `edge` (copy or lease). Falls back to
 * `edge` alone when fewer than `minPages` whole pages lie inside the buffer.
 */
const split = (buffer: Buffer, pages: "map" | "grant", edge: (b: Buffer) => TransferItem, minPages: number): Plan | undefined => {
  const start = alignUp(buffer.address)
  const end = alignDown(buffer.address + buffer.length)
  const whole = (end - start) / PAGE_SIZE
  if (whole < minPages) return undefined
  const items: Array<TransferItem> = []
  if (start > buffer.address) items.push(edge({ address: buffer.address, length: start - buffer.address }))
  items.push(pages === "map" ? { _tag: "map", address: start, pages: whole, rights: 1 } : { _tag: "grant", address: start, pages: whole })
  if (buffer.address + buffer.length > end) items.push(edge({ address: end, length: buffer.address + buffer.length - end }))
  return { strategy: pages, items }
}

const copy = (b: Buffer): TransferItem => ({ _tag: "copy", address: b.address, length: b.length })
const lease = (b: Buffer): TransferItem => ({ _tag: "lease", address: b.address, length: b.length, access: "read" })

/**
 * Chooses transfer items that move exactly `buffer`'s bytes to a receiver.
 * - `send`: copies up to `inlineMax`; beyond that only whole pages by grant (`move: true`), with
 *   the partial ends copied (they must fit in `inlineMax` together).
 * - `call`: whole pages by grant (`move`) once there are `PLAN_MIN_GRANT_PAGES` of them, or by map
 *   (`share`) once there are `PLAN_MIN_MAP_PAGES`; otherwise one copy when the receiver's window
 *   holds it, else a lease.
 * A forced `strategy` is honoured where it is possible at all.
 */
export const plan = (buffer: Buffer, hint: PlanHint = {}): Either.Either<Plan, InvalidArgument> => {
  const { address, length } = buffer
  if (!NumberIsSafeInteger(address) || !NumberIsSafeInteger(length) || address < 0 || length < 0) {
    return Either.left(new InvalidArgument({ operation: "plan", reason: "buffer address and length must be non-negative integers" }))
  }
  const via = hint.via ?? "call"
  const inlineMax = hint.inlineMax ?? defaultConfig.inlineMax
  const window = hint.window ?? 0
  if (length === 0) return Either.right({ strategy: "copy", items: [] })
  const edge = via === "send" || window >= PAGE_SIZE ? copy : lease
  const forced = hint.strategy
  if (via === "call" && (forced === "map" || forced === "grant")) {
    return Either.right(split(buffer, forced, edge, 1) ?? { strategy: edge === copy ? "copy" : "lease", items: [edge(buffer)] })
  }
  if (via === "send") {
    if (forced === "map") return Either.left(new InvalidArgument({ operation: "plan", reason: "a one-way send moves bulk data by grant only" }))
    if (forced === "lease") return Either.left(new InvalidArgument({ operation: "plan", reason: "leases need a call" }))
    if (length <= inlineMax) return Either.right({ strategy: "copy", items: [copy(buffer)] })
    const granted = hint.move === true || forced === "grant" ? split(buffer, "grant", copy, 1) : undefined
    const edges = granted?.items.filter((i) => i._tag === "copy").reduce((n, i) => n + (i as { length: number }).length, 0) ?? Infinity
    if (granted !== undefined && edges <= inlineMax) return Either.right(granted)
    return Either.left(
      new InvalidArgument({
        operation: "plan",
        reason: `a one-way send carries at most ${inlineMax} copied bytes; ${length} bytes need a call, or move: true with page-aligned ends`
      })
    )
  }
  if (forced === "copy") return Either.right({ strategy: "copy", items: [copy(buffer)] })
  if (forced === "lease") return Either.right({ strategy: "lease", items: [lease(buffer)] })
  const pages =
    hint.move === true ? split(buffer, "grant", edge, PLAN_MIN_GRANT_PAGES) : hint.share === true ? split(buffer, "map", edge, PLAN_MIN_MAP_PAGES) : undefined
  if (pages !== undefined) return Either.right(pages)
  return Either.right(length <= window ? { strategy: "copy", items: [copy(buffer)] } : { strategy: "lease", items: [lease(buffer)] })
}

/** Derived pages removed per slice of a revocation, between which other processes run. */
const REVOKE_SLICE = 4096

/**
 * Removes every mapping that map items made from the caller's pages `[address, address + pages
 * pages)` — in the receivers, in whoever they mapped them on to, and wherever those pages were
 * granted since (L4's recursive unmap, over the mapping database). Returns how many pages were
 * unmapped. The caller keeps its own pages. The range must lie inside one region of the caller's;
 * a revocation that reaches many pages runs in slices (other processes run between them) and,
 * once started, always finishes. Errors: `InvalidAddress`.
 */
export const revoke = (address: number, pages: number): Effect.Effect<number, InvalidAddress, Process> =>
  withCaller((p) => {
    p.kernel.counters.syscall("transfer.revoke")
    const first = p.space.range(address, pages, "revoke")
    if (first instanceof InvalidAddress) return Effect.fail(first)
    const job = new Revocation(p.space, first, pages)
    const run: Effect.Effect<number> = Effect.suspend(() => {
      if (!job.step(REVOKE_SLICE)) return Effect.zipRight(Effect.yieldNow(), run)
      p.kernel.counters.pagesUnmapped += job.unmapped
      return Effect.succeed(job.unmapped)
    })
    return Effect.uninterruptible(run)
  })
