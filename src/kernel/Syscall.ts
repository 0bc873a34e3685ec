/**
 * The syscall boundary: every syscall is `syscall(kind, body)`, which reads the calling `Process`,
 * counts the call, and runs `body` synchronously. Bodies decode (check everything) then invoke
 * (commit); a failing body has changed nothing.
 */
import { Effect, type Either } from "effect"
import { type Pcb, Process } from "./Process.js"

/** Wraps a synchronous syscall body. */
export const syscall = <A, E>(kind: string, body: (p: Pcb) => Either.Either<A, E>): Effect.Effect<A, E, Process> =>
  Effect.flatMap(Process, (p) => {
    p.kernel.counters.syscall(kind)
    return body(p)
  })
