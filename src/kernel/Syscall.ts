/**
 * The syscall boundary: every syscall is `syscall(kind, body)`, which reads the calling `Process`,
 * counts the call, and runs `body` synchronously. Bodies decode (check everything) then invoke
 * (commit); a failing body has changed nothing.
 */
import { Effect, type Either, type Fiber } from "effect"
import { type Pcb, type Process, processOf } from "./Process.js"

/** Wraps a synchronous syscall body. The process is read straight from the fiber's context. */
export const syscall = <A, E>(kind: string, body: (p: Pcb) => Either.Either<A, E>): Effect.Effect<A, E, Process> =>
  Effect.withFiberRuntime<A, E, Process>((fiber) => {
    const p = processOf(fiber as Fiber.RuntimeFiber<unknown, unknown>)
    p.kernel.counters.syscall(kind)
    return body(p)
  })
