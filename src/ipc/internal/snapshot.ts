/**
 * The IPC syscalls' snapshot of what a program passes: a message (label, inline bytes,
 * capability slots, transfer items) and receive windows, read exactly once with the boundary's
 * readers (`kernel/boundary.ts`) into kernel-owned values. Everything after the snapshot —
 * the checks against capabilities, page tables and leases, and the commit — acts only on these
 * values, so no program code runs between a check and the act it allows.
 *
 * Inline bytes are copied as they are read: into an array of their own when small (`ON_HEAP`
 * bytes at most; the commit hands that array to the receiver as it is), else into the kernel's
 * snapshot chunks (module-level, written only here, synchronously; a view into them is never
 * handed to a program: the commit copies the bytes into the receiver's own chunks).
 */
import { describe, field, int, intField, list, object, oneOf, Refusal } from "../../kernel/boundary.js"
import { isUint8Array, NumberIsSafeInteger, TypedArrayPrototypeGetLength } from "../../primordials.js"
import { LABEL_MAX } from "../labels.js"
import type { LeaseAccess } from "../Message.js"
import { Chunks, EMPTY } from "./chunks.js"
import { type LeaseObject, leaseOf } from "./lease.js"

export { Refusal } from "../../kernel/boundary.js"

/** The limits a snapshot checks against (a kernel's configuration). */
export interface Limits {
  readonly inlineMax: number
  readonly maxCaps: number
  readonly maxItems: number
}

/** Largest address, and largest byte length, a program can name (a 32-bit address space). */
const ADDRESS_MAX = 2 ** 32
/** Largest page count a program can name. */
const PAGES_MAX = 2 ** 20

/** A copy item: `length` bytes of the sender's memory at `address`. */
export class CopyItem {
  readonly kind = "copy"
  constructor(
    readonly address: number,
    readonly length: number
  ) {}
}

/** A lease of `length` bytes of the sender's memory at `address`. */
export class LeaseItem {
  readonly kind = "lease"
  constructor(
    readonly address: number,
    readonly length: number,
    readonly access: LeaseAccess
  ) {}
}

/** A sub-range of a lease the sender holds, forwarded. */
export class ForwardItem {
  readonly kind = "forward"
  constructor(
    readonly lease: LeaseObject,
    readonly offset: number,
    readonly length: number,
    readonly access: LeaseAccess
  ) {}
}

/** A map item: `pages` pages at `address`, mapped with at most `rights`. */
export class MapItem {
  readonly kind = "map"
  constructor(
    readonly address: number,
    readonly pages: number,
    readonly rights: number
  ) {}
}

/** A grant item: `pages` pages at `address`, moved. */
export class GrantItem {
  readonly kind = "grant"
  constructor(
    readonly address: number,
    readonly pages: number
  ) {}
}

/** A transfer item, read. */
export type Item = CopyItem | LeaseItem | ForwardItem | MapItem | GrantItem

/** A message, read. `data` is the kernel's copy (see the module header). */
export class MessageSnapshot {
  constructor(
    readonly label: number,
    readonly data: Uint8Array,
    readonly caps: ReadonlyArray<number>,
    readonly items: ReadonlyArray<Item>
  ) {}
}

/** A receive window, read. */
export class WindowSnapshot {
  constructor(
    readonly address: number,
    readonly length: number
  ) {}
}

const snapshots = new Chunks()
const NO_CAPS: ReadonlyArray<number> = []
const NO_ITEMS: ReadonlyArray<Item> = []
const ACCESS: ReadonlyArray<LeaseAccess> = ["read", "write", "readWrite"]

/** Reads one transfer item. */
const readItem = (v: unknown, path: string): Item | Refusal => {
  const o = object(v, path)
  if (o instanceof Refusal) return o
  const tag = field(o, "_tag", `${path}._tag`)
  if (tag instanceof Refusal) return tag
  switch (tag) {
    case "copy": {
      const address = intField(o, "address", `${path}.address`, 0, ADDRESS_MAX)
      if (address instanceof Refusal) return address
      const length = intField(o, "length", `${path}.length`, 0, ADDRESS_MAX)
      return length instanceof Refusal ? length : new CopyItem(address, length)
    }
    case "lease": {
      const from = field(o, "from", `${path}.from`)
      if (from instanceof Refusal) return from
      const length = intField(o, "length", `${path}.length`, 0, ADDRESS_MAX)
      if (length instanceof Refusal) return length
      const accessValue = field(o, "access", `${path}.access`)
      if (accessValue instanceof Refusal) return accessValue
      const access = oneOf(accessValue, `${path}.access`, ACCESS)
      if (access instanceof Refusal) return access
      if (from === undefined) {
        const address = intField(o, "address", `${path}.address`, 0, ADDRESS_MAX)
        return address instanceof Refusal ? address : new LeaseItem(address, length, access)
      }
      const lease = leaseOf(from)
      if (lease === undefined) return new Refusal(`${path}.from`, "not a lease handle the kernel made")
      const offset = intField(o, "offset", `${path}.offset`, 0, ADDRESS_MAX)
      return offset instanceof Refusal ? offset : new ForwardItem(lease, offset, length, access)
    }
    case "map": {
      const address = intField(o, "address", `${path}.address`, 0, ADDRESS_MAX)
      if (address instanceof Refusal) return address
      const pages = intField(o, "pages", `${path}.pages`, 1, PAGES_MAX)
      if (pages instanceof Refusal) return pages
      const rights = intField(o, "rights", `${path}.rights`, 1, 3)
      return rights instanceof Refusal ? rights : new MapItem(address, pages, rights)
    }
    case "grant": {
      const address = intField(o, "address", `${path}.address`, 0, ADDRESS_MAX)
      if (address instanceof Refusal) return address
      const pages = intField(o, "pages", `${path}.pages`, 1, PAGES_MAX)
      return pages instanceof Refusal ? pages : new GrantItem(address, pages)
    }
    default:
      return new Refusal(`${path}._tag`, `expected one of copy, lease, map, grant, got ${typeof tag === "string" ? JSON.stringify(tag) : typeof tag}`)
  }
}

/**
 * Reads a message once (see the module header): the label, inline bytes (at most `inlineMax`,
 * copied now), capability slots (at most `maxCaps`) and transfer items (at most `maxItems`).
 */
export const readMessage = (m: unknown, limits: Limits): MessageSnapshot | Refusal => {
  if (typeof m !== "object" || m === null) return new Refusal("message", `expected an object, got ${describe(m)}`)
  // Each field read once, by name (a read through a variable key is a slower, megamorphic load).
  const o = m as { readonly label?: unknown; readonly data?: unknown; readonly caps?: unknown; readonly items?: unknown }
  let at = "label"
  let labelValue: unknown, dataValue: unknown, capsValue: unknown, itemsValue: unknown
  try {
    labelValue = o.label
    at = "data"
    dataValue = o.data
    at = "caps"
    capsValue = o.caps
    at = "items"
    itemsValue = o.items
  } catch {
    return new Refusal(at, "reading it threw")
  }
  const label =
    typeof labelValue === "number" && NumberIsSafeInteger(labelValue) && labelValue >= 0 && labelValue <= LABEL_MAX
      ? labelValue
      : int(labelValue, "label", 0, LABEL_MAX)
  if (label instanceof Refusal) return label
  let data: Uint8Array = EMPTY
  if (dataValue !== undefined) {
    if (!isUint8Array(dataValue)) return new Refusal("data", `expected a Uint8Array, got ${describe(dataValue)}`)
    const n = TypedArrayPrototypeGetLength(dataValue)
    if (n > limits.inlineMax) return new Refusal("data", `inline data is ${n} bytes, more than inlineMax ${limits.inlineMax}`)
    data = snapshots.copy(dataValue, 0, n)
  }
  let caps = NO_CAPS
  if (capsValue !== undefined) {
    const all = list(capsValue, "caps", limits.maxCaps, false)
    if (all instanceof Refusal) return all
    const slots = new Array<number>(all.length)
    for (let i = 0; i < all.length; i++) {
      const s = int(all[i], `caps[${i}]`, 0, 2 ** 31 - 1)
      if (s instanceof Refusal) return s
      slots[i] = s
    }
    caps = slots
  }
  let items = NO_ITEMS
  if (itemsValue !== undefined) {
    const all = list(itemsValue, "items", limits.maxItems, false)
    if (all instanceof Refusal) return all
    const read = new Array<Item>(all.length)
    for (let i = 0; i < all.length; i++) {
      const item = readItem(all[i], `items[${i}]`)
      if (item instanceof Refusal) return item
      read[i] = item
    }
    items = read
  }
  return new MessageSnapshot(label, data, caps, items)
}

/** Reads receive windows once: at most `maxItems` of `{ address, length }`. Absent: none. */
export const readWindows = (w: unknown, limits: Limits): ReadonlyArray<WindowSnapshot> | undefined | Refusal => {
  if (w === undefined) return undefined
  const all = list(w, "windows", limits.maxItems, false)
  if (all instanceof Refusal) return all
  const out = new Array<WindowSnapshot>(all.length)
  for (let i = 0; i < all.length; i++) {
    const o = object(all[i], `windows[${i}]`)
    if (o instanceof Refusal) return o
    const address = intField(o, "address", `windows[${i}].address`, 0, ADDRESS_MAX)
    if (address instanceof Refusal) return address
    const length = intField(o, "length", `windows[${i}].length`, 0, ADDRESS_MAX)
    if (length instanceof Refusal) return length
    out[i] = new WindowSnapshot(address, length)
  }
  return out
}

/** The options of a receive or a call, read once: receive windows and the most pages accepted by map and grant items. */
export class ReceiveSnapshot {
  constructor(
    readonly windows: ReadonlyArray<WindowSnapshot> | undefined,
    readonly pages: number
  ) {}
}

/** No options: no windows, no pages accepted. */
export const NO_OPTIONS = new ReceiveSnapshot(undefined, 0)

/** Reads `{ windows?, pages? }` once. */
export const readReceiveOptions = (options: unknown, limits: Limits): ReceiveSnapshot | Refusal => {
  if (options === undefined) return NO_OPTIONS
  const o = object(options, "options")
  if (o instanceof Refusal) return o
  const w = field(o, "windows", "options.windows")
  if (w instanceof Refusal) return w
  const windows = readWindows(w, limits)
  if (windows instanceof Refusal) return windows
  const pages = intField(o, "pages", "options.pages", 0, PAGES_MAX, 0)
  if (pages instanceof Refusal) return pages
  return windows === undefined && pages === 0 ? NO_OPTIONS : new ReceiveSnapshot(windows, pages)
}
