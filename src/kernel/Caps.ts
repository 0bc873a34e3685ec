/**
 * Capability syscalls on the caller's own capability space. Slots are plain integers.
 *
 * | syscall | result | errors |
 * |---|---|---|
 * | `copy(slot)` | new slot, same rights and badge, derived from `slot` | `InvalidCapability`, `StaleCapability`, `InvalidArgument` (space full) |
 * | `mint(slot, rights, badge?)` | new slot with fewer rights and/or a badge | + `RightsDenied` (a right not held), `InvalidArgument` (already badged, bad badge) |
 * | `move(slot)` | the new slot; `slot` is empty | `InvalidCapability` |
 * | `remove(slot)` | — | `InvalidCapability` |
 * | `revoke(slot)` | number of derived capabilities deleted, in every process | `InvalidCapability` |
 * | `inspect(slot)` | kind, id, rights, badge | `InvalidCapability`, `StaleCapability` |
 * | `usage` | slots in use and slots in all | — |
 */
import type { Effect } from "effect"
import { Either } from "effect"
import type { Rights } from "./Capability.js"

export { Rights, rightsOf, rightsToNames } from "./Capability.js"
import type { InvalidArgument, InvalidCapability, RightsDenied, StaleCapability } from "./errors.js"
import type { Process } from "./Process.js"
import { syscall } from "./Syscall.js"

/** Copies the capability in `slot` into a free slot (a child in the derivation tree). */
export const copy = (slot: number): Effect.Effect<number, InvalidCapability | StaleCapability | RightsDenied | InvalidArgument, Process> =>
  syscall("cap.copy", (p) => p.cspace.copy(slot))

/** Derives a capability with `rights` (a subset) and optionally a badge (set once). */
export const mint = (
  slot: number,
  rights: Rights,
  badge?: number
): Effect.Effect<number, InvalidCapability | StaleCapability | RightsDenied | InvalidArgument, Process> =>
  syscall("cap.mint", (p) => p.cspace.mint(slot, rights, badge))

/** Moves the capability in `slot` to the lowest free slot (possibly the same one); returns it. */
export const move = (slot: number): Effect.Effect<number, InvalidCapability | InvalidArgument, Process> => syscall("cap.move", (p) => p.cspace.move(slot))

/** Deletes the capability in `slot`; capabilities derived from it stay (they move up the tree). */
export const remove = (slot: number): Effect.Effect<void, InvalidCapability, Process> => syscall("cap.delete", (p) => p.cspace.delete(slot))

/** Deletes every capability derived from the one in `slot`, wherever it is held. */
export const revoke = (slot: number): Effect.Effect<number, InvalidCapability, Process> => syscall("cap.revoke", (p) => p.cspace.revoke(slot))

/** What the capability in `slot` is. */
export const inspect = (
  slot: number
): Effect.Effect<
  { readonly kind: string; readonly id: number; readonly rights: Rights; readonly badge: number },
  InvalidCapability | StaleCapability | RightsDenied,
  Process
> =>
  syscall("cap.inspect", (p) =>
    Either.map(p.cspace.lookup(slot, 0, "inspect"), (c) => ({ kind: c.object.kind, id: c.object.id, rights: c.rights, badge: c.badge }))
  )

/** The caller's capability space: slots in use and slots in all. */
export const usage: Effect.Effect<{ readonly used: number; readonly slots: number }, never, Process> = syscall("cap.usage", (p) =>
  Either.right({ used: p.cspace.count, slots: p.cspace.size })
)
