/**
 * What every part of one `fs` object shares: the client process's `Context` and the `Runner`
 * that carries a call into that process, and how a callback is called back.
 */
import type { Effect } from "effect"
import type { Process as P } from "../../api.js"
import type { Context } from "./core.js"
import { syncDeadlock } from "./errors.js"

/** Runs an Effect in the client process; rejects with the Effect's failure as is. */
export type Runner = <A>(effect: Effect.Effect<A, unknown, P.Process>) => Promise<A>

/**
 * Runs an Effect in the client process synchronously (the kernel driven on the caller's stack
 * until it is done): its value, or throws its failure as is. When it cannot finish without the
 * host, throws the kernel's `WouldWaitOnHost` or `ReentrantRunSync` (told apart by `_tag`).
 */
export type SyncRunner = <A>(effect: Effect.Effect<A, unknown, P.Process>) => A

/** One `fs` object's context and runners. */
export interface Host {
  readonly ctx: Context
  readonly run: Runner
  readonly runSync: SyncRunner
}

/**
 * Runs `effect` through `host.runSync`: its value, or throws its failure; a call that cannot
 * finish on this stack (the kernel's `WouldWaitOnHost` or `ReentrantRunSync`) throws `EDEADLK`
 * for `syscall` instead, with the kernel's error as its `cause`.
 */
export const runSync = <A>(host: Host, effect: Effect.Effect<A, unknown, P.Process>, syscall: string): A => {
  try {
    return host.runSync(effect)
  } catch (e) {
    const tag = (e as { _tag?: unknown } | null)?._tag
    throw tag === "WouldWaitOnHost" || tag === "ReentrantRunSync" ? syncDeadlock(syscall, e) : e
  }
}

/**
 * Calls `f` with `args` as Node's I/O completions call a callback: an exception it throws is an
 * uncaught exception (raised again on a fresh stack), never a rejected promise.
 */
export const callBack = (f: unknown, args: Array<unknown>): void => {
  try {
    ;(f as (...a: Array<unknown>) => void)(...args)
  } catch (e) {
    process.nextTick(() => {
      throw e
    })
  }
}

/** How a callback receives a result: `(err)` only, `(err, value)`, or `(err, ...spread(value))`. */
export type Shape<A> = "void" | "value" | ((value: A | undefined, failed: boolean) => Array<unknown>)

/**
 * Runs `effect` in the client process and calls `callback` back with its outcome in `shape`. The
 * promise is consumed here, so nothing can surface as an unhandled rejection.
 */
export const submit = <A>(host: Host, effect: Effect.Effect<A, unknown, P.Process>, callback: unknown, shape: Shape<A> = "void"): void => {
  host.run(effect).then(
    (v) => callBack(callback, shape === "void" ? [null] : shape === "value" ? [null, v] : [null, ...shape(v, false)]),
    (e) => callBack(callback, typeof shape === "function" ? [e, ...shape(undefined, true)] : [e])
  )
}
