/**
 * The mapping database (L4's): which pages map items made from which source pages, so that the
 * source can take them back (`Transfer.revoke`), recursively through pages mapped on again.
 *
 * Owned by the kernel: one table per source address space, keyed weakly (a torn-down space's
 * entries go with it), written only in the synchronous sections of delivery and revocation. An
 * entry whose page no longer holds its frame (unmapped or freed since) is skipped and dropped.
 */
import type { KernelCore } from "../../kernel/Kernel.js"
import type { AddressSpace } from "../../memory/AddressSpace.js"
import { PAGE_SHIFT } from "../../params.js"

interface Derived {
  readonly space: AddressSpace
  readonly vpn: number
  readonly frame: number
}

/** Per source space: source page → the pages mapped from it. */
const database = new WeakMap<AddressSpace, Map<number, Array<Derived>>>()

/** Records that `frames` (source pages `first ..` of `from`) were mapped at pages `at ..` of `to`. */
export const recordMappings = (from: AddressSpace, first: number, frames: ReadonlyArray<number>, to: AddressSpace, at: number): void => {
  let bySource = database.get(from)
  if (bySource === undefined) database.set(from, (bySource = new Map()))
  for (let i = 0; i < frames.length; i++) {
    const list = bySource.get(first + i)
    const entry = { space: to, vpn: at + i, frame: frames[i]! }
    if (list === undefined) bySource.set(first + i, [entry])
    else list.push(entry)
  }
}

/**
 * Removes every mapping that map items made from `[address, address + pages pages)` of `space`,
 * and, recursively, mappings made from those. Returns the number of pages unmapped.
 */
export const revokeMappings = (k: KernelCore, space: AddressSpace, address: number, pages: number): number => {
  const n = unmapDerived(space, address >>> PAGE_SHIFT, pages)
  k.counters.pagesUnmapped += n
  return n
}

const unmapDerived = (space: AddressSpace, first: number, pages: number): number => {
  const bySource = database.get(space)
  if (bySource === undefined) return 0
  let n = 0
  for (let v = first; v < first + pages; v++) {
    const list = bySource.get(v)
    if (list === undefined) continue
    bySource.delete(v)
    for (const m of list) {
      if (m.space.frameAt(m.vpn) !== m.frame) continue
      n += unmapDerived(m.space, m.vpn, 1)
      m.space.unmapPage(m.vpn)
      n++
    }
  }
  return n
}
