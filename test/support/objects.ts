import { Either } from "effect"
import type { Capability, KernelObject } from "../../src/kernel/Capability.js"
import { Rights } from "../../src/kernel/Capability.js"
import type { Pcb } from "../../src/kernel/Process.js"

/** A bare kernel object owned by `owner`, closed when it dies; for capability tests. */
export const testObject = (owner: Pcb, rights: number = Rights.all): Capability => {
  const object: KernelObject & { closed: boolean } = {
    kind: "test-object",
    id: owner.kernel.objectId(),
    ownerPid: owner.pid,
    ownerGeneration: owner.generation,
    closed: false
  }
  owner.onDeath(() => {
    object.closed = true
  })
  return Either.getOrThrow(owner.kernel.insertObject(owner, object, rights))
}
