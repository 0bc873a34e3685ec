/**
 * The kernel's recoverable errors. Each names the object and the operation, so a failure says who
 * is to blame. Broken invariants are defects (thrown `Error("invariant violated: …")`), not these.
 */
import { Data } from "effect"

/** The slot is out of range or empty, or holds a capability of the wrong kind for the operation. */
export class InvalidCapability extends Data.TaggedError("InvalidCapability")<{
  readonly slot: number
  readonly operation: string
  readonly reason: string
}> {
  override get message() {
    return `${this.operation}: invalid capability in slot ${this.slot}: ${this.reason}`
  }
}

/** The capability lacks a right the operation needs (or a mint asked for rights it does not hold). */
export class RightsDenied extends Data.TaggedError("RightsDenied")<{
  readonly slot: number
  readonly operation: string
  readonly needed: ReadonlyArray<string>
  readonly held: ReadonlyArray<string>
}> {
  override get message() {
    return `${this.operation}: capability in slot ${this.slot} lacks ${this.needed.join("+")} (holds ${this.held.join("+") || "nothing"})`
  }
}

/** The capability names an object of a process generation that has died (Hubris dead codes). */
export class StaleCapability extends Data.TaggedError("StaleCapability")<{
  readonly slot: number
  readonly operation: string
  readonly kind: string
  readonly id: number
  readonly pid: number
  readonly generation: number
}> {
  override get message() {
    return `${this.operation}: capability in slot ${this.slot} names ${this.kind} ${this.id} of dead process ${this.pid} generation ${this.generation}`
  }
}

/** An argument is malformed (not an integer, out of range, a badge set twice, a full table …). */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{
  readonly operation: string
  readonly reason: string
}> {
  override get message() {
    return `${this.operation}: ${this.reason}`
  }
}
