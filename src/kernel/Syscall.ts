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

/**
 * Runs `body` with the calling process's `Pcb` and fiber: for syscalls that wait or compose other
 * effects (the blocking IPC calls), where `syscall`'s synchronous body does not fit.
 */
export const withCaller = <A, E, R>(body: (p: Pcb, fiber: Fiber.RuntimeFiber<unknown, unknown>) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Process> =>
  Effect.withFiberRuntime<A, E, R | Process>((fiber) => {
    const f = fiber as Fiber.RuntimeFiber<unknown, unknown>
    return body(processOf(f), f)
  })
