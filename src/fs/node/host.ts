/**
 * What every part of one `fs` object shares: the client process's `Context` and the `Runner`
 * that carries a call into that process, and how a callback is called back.
 */
import type { Effect } from "effect"
import type { Process as P } from "../../api.js"
import type { Context } from "./core.js"

/** Runs an Effect in the client process; rejects with the Effect's failure as is. */
export type Runner = <A>(effect: Effect.Effect<A, unknown, P.Process>) => Promise<A>

/** One `fs` object's context and runner. */
export interface Host {
  readonly ctx: Context
  readonly run: Runner
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
