/**
 * Node's watchers over the VFS's change notifications: `fs.watch` (an `FSWatcher`),
 * `fs.promises.watch` (an async iterator) and `fs.watchFile`/`fs.unwatchFile` (a `StatWatcher`).
 *
 * `watch` starts a VFS watch synchronously (the sync runner: a missing path throws `ENOENT`
 * there and then, as Node's does), then keeps one held `watchEvents` call in the client process,
 * on a thread of its own (`held`): the VFS answers it when changes come, so nothing polls, and
 * any number of watchers leave the client's call threads to other calls. `watchFile` polls by
 * `stat` every `interval` as Node's does (libuv's `fs_poll`: a listener call when the attributes
 * differ, or when the file comes or goes).
 *
 * Invariants: a closed watcher emits nothing more, its VFS watch is ended (`unwatch`) and no timer
 * of its keeps the event loop; a watcher whose VFS (or client) goes away ends — an `FSWatcher`
 * with an `'error'` event (`EIO`), an iterator by rejecting, a `StatWatcher` by stopping after
 * its listener has seen the file gone. A persistent watcher keeps the event loop alive (as Node's
 * handle does) with an idle timer while it is referenced; `unref()` (or `persistent: false`)
 * lets it go.
 */
import { Cause, Effect, Exit } from "effect"
import { Buffer } from "node:buffer"
import { EventEmitter } from "node:events"
import { posix } from "node:path"
import { Process as P } from "../../api.js"
import * as Vfs from "../VfsClient.js"
import { encoded } from "./compound.js"
import * as core from "./core.js"
import { target } from "./core.js"
import { AbortError, invalidArgValue, NodeFsError } from "./errors.js"
import { callBack, type Host, runSync } from "./host.js"
import { BigIntStats, Stats, statsOf } from "./stats.js"
import {
  getOptions,
  getValidatedPath,
  type Options,
  validateAbortSignal,
  validateBoolean,
  validateFunction,
  validateObject,
  validateString,
  validateUint32
} from "./validators.js"

type Stat = Parameters<typeof statsOf>[0]

/** The longest a timer may be set for: the keep-alive timer's period (it does nothing). */
const IDLE_MS = 2 ** 31 - 1

/** A timer that keeps the event loop alive while it is referenced and open, as a libuv handle does. */
class KeepAlive {
  #timer: ReturnType<typeof setInterval> | undefined = setInterval(() => {}, IDLE_MS)
  constructor(persistent: boolean) {
    if (!persistent) this.#timer?.unref()
  }
  ref() {
    this.#timer?.ref()
  }
  unref() {
    this.#timer?.unref()
  }
  close() {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

/**
 * The events of watch `id` after `after`, as a held call on a thread of the client process of
 * its own: a pool thread only forks it, so waiting watchers never hold the client's call threads
 * (`MAX_CALL_THREADS`: they would starve every other call, the `unwatch` that ends them among
 * them). Rejects with Node's error (`EBADF` once the watch has ended), or `EIO` once the VFS or
 * the client is gone (the thread ends with its process).
 */
const held = (host: Host, id: number, after: number): Promise<Vfs.WatchBatch> =>
  new Promise((resolve, reject) => {
    host.run(P.fork(Effect.exit(core.named(Vfs.watchEvents(host.ctx.vfs, id, after), "watch")))).then(
      (thread) =>
        thread.addObserver((exit) => {
          if (Exit.isFailure(exit)) reject(new NodeFsError("EIO", "watch"))
          else if (Exit.isFailure(exit.value)) reject(Cause.squash(exit.value.cause))
          else resolve(exit.value.value)
        }),
      reject
    )
  })

/** Node's error of a failed watch (`ENOENT: no such file or directory, watch '/x'`), with `filename`. */
const watchError = (e: unknown, filename: unknown): unknown => {
  if (typeof e === "object" && e !== null && "errno" in e) Object.assign(e, { filename })
  return e
}

/** `watch`'s options as Node reads them (`persistent` and `recursive` default, `persistent` only when `true`; `encoding` checked). */
const watchOptions = (options: unknown) => {
  const o: Options & { persistent?: unknown } = { ...getOptions(options) }
  if (o.encoding && o.encoding !== "buffer" && !Buffer.isEncoding(o.encoding)) throw invalidArgValue("encoding", o.encoding, "is invalid encoding")
  // Node's recursive watcher on Linux (its JavaScript one) checks the types of its options.
  if (o.recursive) {
    validateBoolean(o.recursive, "options.recursive")
    if (o.persistent != null) validateBoolean(o.persistent, "options.persistent")
    if (o.signal != null) validateAbortSignal(o.signal, "options.signal")
  }
  return {
    // Node's handle takes only `true` as persistent (`IsTrue()`): `'yes'` or 1 is not.
    persistent: o.persistent === undefined || o.persistent === true,
    recursive: Boolean(o.recursive),
    encoding: o.encoding ?? "utf8",
    signal: o.signal
  }
}

/**
 * Node's `fs.FSWatcher`: `'change'` events `(eventType, filename)`, `'error'`, `'close'`;
 * `close()`, `ref()`, `unref()`.
 */
export class FSWatcher extends EventEmitter {
  readonly #host: Host
  readonly #id: number
  readonly #encoding: unknown
  readonly #alive: KeepAlive
  #closed = false
  /** `emit`, called back as an I/O completion (`callBack`): what a listener throws is uncaught, and the next event still comes. */
  readonly #emit = (...args: [string, ...Array<unknown>]) => this.emit(...args)

  /** Starts watching `path` (its VFS watch already made, as `id`). */
  constructor(host: Host, id: number, persistent: boolean, encoding: unknown) {
    super()
    this.#host = host
    this.#id = id
    this.#encoding = encoding
    this.#alive = new KeepAlive(persistent)
    this.#next(0)
  }

  /** One held call for the events after `after`; each batch's events emitted, then the next call. */
  #next(after: number) {
    held(this.#host, this.#id, after).then(
      (batch) => {
        if (this.#closed) return
        // A listener's exception is an uncaught exception, as from Node's handle; the watcher goes on.
        for (const e of batch.events) {
          callBack(this.#emit, ["change", e.type, encoded(e.name, this.#encoding)])
          if (this.#closed) return
        }
        this.#next(batch.next)
      },
      (e) => {
        if (this.#closed) return
        // The watch ended under it (its VFS or client gone): Node's handle error — closed, then `'error'`.
        this.#end()
        const code = (e as { code?: unknown } | null)?.code
        callBack(this.#emit, ["error", typeof code === "string" && code.startsWith("E") ? new NodeFsError(code, "watch") : e])
      }
    )
  }

  #end() {
    this.#closed = true
    this.#alive.close()
    this.#host.run(Vfs.unwatch(this.#host.ctx.vfs, this.#id)).catch(() => undefined)
  }

  /** Stops watching: no event after this; `'close'` on the next tick. A second call does nothing. */
  close(): void {
    if (this.#closed) return
    this.#end()
    process.nextTick(() => this.emit("close"))
  }

  /** Keeps the event loop alive while watching (the default unless `persistent: false`). */
  ref(): this {
    if (!this.#closed) this.#alive.ref()
    return this
  }

  /** Lets the event loop end while watching. */
  unref(): this {
    this.#alive.unref()
    return this
  }
}

/** Starts a VFS watch of `path` on this stack: its id, or throws Node's `watch` error. */
const startWatch = (host: Host, given: unknown, recursive: boolean): number => {
  const p = target(getValidatedPath(given, "filename"))
  try {
    return runSync(host, core.named(Vfs.watch(host.ctx.vfs, p.vfs, { recursive }), "watch", p.text), "watch")
  } catch (e) {
    throw watchError(e, p.text)
  }
}

/** `fs.watch(filename, options?, listener?)`: an `FSWatcher`. Throws Node's argument errors, the watch's system error, or `EDEADLK` (see `sync.ts`). */
export const watch = (host: Host, filename: unknown, options?: unknown, listener?: unknown): FSWatcher => {
  if (typeof options === "function") listener = options
  const o = watchOptions(typeof options === "function" ? undefined : options)
  getValidatedPath(filename)
  const w = new FSWatcher(host, startWatch(host, filename, o.recursive), o.persistent, o.encoding)
  if (listener) {
    try {
      w.addListener("change", listener as (...args: Array<unknown>) => void)
    } catch (e) {
      // Node's watcher would go on unseen; this one does not outlive the error.
      w.close()
      throw e
    }
  }
  const signal = o.signal as AbortSignal | undefined
  if (signal) {
    if (signal.aborted) process.nextTick(() => w.close())
    else {
      const stop = () => w.close()
      signal.addEventListener("abort", stop)
      w.once("close", () => signal.removeEventListener("abort", stop))
    }
  }
  return w
}

/**
 * `fs.promises.watch(filename, options?)`: an async iterator of `{ eventType, filename }`.
 * Errors (when iterated): Node's argument errors, the watch's system error, `AbortError` once
 * `signal` aborts, `EIO` when the VFS goes away. Ending the loop ends the watch.
 */
export async function* watchPromise(host: Host, filename: unknown, options: unknown = {}): AsyncGenerator<{ eventType: string; filename: unknown }> {
  const given = getValidatedPath(filename)
  validateObject(options, "options")
  const { persistent = true, recursive = false, encoding = "utf8", signal } = options as Options & { persistent?: unknown }
  validateBoolean(persistent, "options.persistent")
  validateBoolean(recursive, "options.recursive")
  validateAbortSignal(signal, "options.signal")
  // As Node 20's: `'buffer'` is no encoding here (`Buffer.isEncoding`).
  if (encoding && !Buffer.isEncoding(encoding as string)) throw invalidArgValue(String(encoding), "encoding", "is invalid encoding")
  const abortError = () => new AbortError(undefined, { cause: signal?.reason })
  if (signal?.aborted) throw abortError()
  const p = target(given)
  const id = await host.run(core.named(Vfs.watch(host.ctx.vfs, p.vfs, { recursive: recursive as boolean }), "watch", p.text)).catch((e: unknown) => {
    throw watchError(e, p.text)
  })
  const alive = new KeepAlive(persistent as boolean)
  let cancel: ((e: unknown) => void) | undefined
  const onAbort = () => cancel?.(abortError())
  signal?.addEventListener("abort", onAbort, { once: true })
  try {
    let after = 0
    for (;;) {
      if (signal?.aborted) throw abortError()
      const batch = await new Promise<Vfs.WatchBatch>((resolve, reject) => {
        cancel = reject
        held(host, id, after).then(resolve, reject)
      })
      cancel = undefined
      after = batch.next
      for (const e of batch.events) yield { eventType: e.type, filename: encoded(e.name, encoding) }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort)
    alive.close()
    host.run(Vfs.unwatch(host.ctx.vfs, id)).catch(() => undefined)
  }
}

/** Whether two polls saw the same file (libuv's `statbuf_eq`: times, size, mode, owner, inode, device). */
const sameStat = (a: Stat, b: Stat): boolean =>
  a.ctimeNs === b.ctimeNs &&
  a.mtimeNs === b.mtimeNs &&
  a.birthtimeNs === b.birthtimeNs &&
  a.size === b.size &&
  a.mode === b.mode &&
  a.type === b.type &&
  a.uid === b.uid &&
  a.gid === b.gid &&
  a.ino === b.ino &&
  a.dev === b.dev

/** The all-zero `Stats` Node reports for a file that is not there. */
const zeroStats = (bigint: boolean): Stats | BigIntStats =>
  bigint ? new BigIntStats(0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n) : new Stats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

/**
 * Node's `StatWatcher` (what `watchFile` returns): `'change'` events `(current, previous)` as
 * `Stats` (or `BigIntStats`), `'stop'` once stopped; `ref()`, `unref()`.
 */
export class StatWatcher extends EventEmitter {
  readonly #host: Host
  readonly #path: string
  readonly #bigint: boolean
  #timer: ReturnType<typeof setInterval> | undefined
  /** The last attributes seen (`undefined`: none yet) and what they were reported as. */
  #last: Stat | undefined
  #lastStats: Stats | BigIntStats
  /** libuv's `busy_polling`: 0 before the first poll, 1 after a good one, else the last error's code. */
  #status: 0 | 1 | string = 0
  #polling = false
  /** `emit`, called back as an I/O completion (`callBack`): what a listener throws is uncaught. */
  readonly #emit = (...args: [string, ...Array<unknown>]) => this.emit(...args)

  constructor(host: Host, path: string, bigint: boolean, persistent: boolean, interval: number) {
    super()
    this.#host = host
    this.#path = path
    this.#bigint = bigint
    this.#lastStats = zeroStats(bigint)
    this.#timer = setInterval(() => this.#poll(), interval)
    if (!persistent) this.#timer.unref()
    this.#poll()
  }

  #poll() {
    if (this.#polling || this.#timer === undefined) return
    this.#polling = true
    this.#host.run(core.stat(this.#host.ctx, target(this.#path), true)).then(
      (s) => {
        this.#polling = false
        if (this.#timer === undefined) return
        const before = this.#status
        this.#status = 1
        const changed = before !== 0 && (before !== 1 || !sameStat(this.#last!, s))
        const previous = this.#lastStats
        this.#last = s
        this.#lastStats = statsOf(s, this.#bigint)
        if (changed) callBack(this.#emit, ["change", this.#lastStats, previous])
      },
      (e: unknown) => {
        this.#polling = false
        if (this.#timer === undefined) return
        const code = String((e as { code?: unknown }).code)
        if (this.#status !== code) {
          this.#status = code
          callBack(this.#emit, ["change", zeroStats(this.#bigint), this.#lastStats])
        }
        // The file system is gone: nothing will ever change again.
        if (code === "EIO") this.stop()
      }
    )
  }

  /** Stops polling; `'stop'` on the next tick. */
  stop(): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
    process.nextTick(() => this.emit("stop"))
  }

  ref(): this {
    this.#timer?.ref()
    return this
  }

  unref(): this {
    this.#timer?.unref()
    return this
  }
}

/** `watchFile`'s key for `filename`: Node's `path.resolve(getValidatedPath(filename))` (a Buffer throws, as there), against `/`. */
const resolved = (filename: unknown): string => posix.resolve("/", validateString(getValidatedPath(filename), "paths[0]"))

/** One `fs` object's `watchFile`/`unwatchFile`: a `StatWatcher` per resolved path, shared by its listeners. */
export const makeStatWatchers = (host: Host) => {
  const watchers = new Map<string, StatWatcher>()
  return {
    /** `watchFile(filename, options?, listener)`: the path's `StatWatcher`, `listener` added. */
    watchFile(filename: unknown, options: unknown, listener?: unknown): StatWatcher {
      const path = resolved(filename)
      if (options === null || typeof options !== "object") {
        listener = options
        options = null
      }
      const o = { interval: 5007, persistent: true, ...(options as object | null) } as Options & { interval: unknown; persistent: unknown }
      const f = validateFunction<(...args: Array<unknown>) => void>(listener, "listener")
      let w = watchers.get(path)
      if (w === undefined) {
        validateUint32(o.interval, "interval")
        w = new StatWatcher(host, path, o.bigint === true, Boolean(o.persistent), o.interval as number)
        watchers.set(path, w)
      }
      w.addListener("change", f)
      return w
    },
    /** `unwatchFile(filename, listener?)`: removes `listener` (or every one); the last gone stops the watcher. */
    unwatchFile(filename: unknown, listener?: unknown): void {
      const path = resolved(filename)
      const w = watchers.get(path)
      if (w === undefined) return
      if (typeof listener === "function") w.removeListener("change", listener as (...args: Array<unknown>) => void)
      else w.removeAllListeners("change")
      if (w.listenerCount("change") === 0) {
        w.stop()
        watchers.delete(path)
      }
    }
  }
}
