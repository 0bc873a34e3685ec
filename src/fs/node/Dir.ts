/**
 * Node's `fs.Dir` (what `opendir` gives) in its three forms: `read()`/`close()` as promises,
 * `read(cb)`/`close(cb)` with callbacks, and `for await (const dirent of dir)`. Reads queue behind
 * one another as Node's do; `readSync()`/`closeSync()` run on the caller's stack; a closed `Dir`
 * throws `ERR_DIR_CLOSED`.
 *
 * A `Dir` holds a descriptor of its directory (`open` with `O_DIRECTORY`, so it counts against
 * the descriptor limit as Node's does) and reads the directory's entries page by page, in the
 * order the file system keeps them (Node's `Dir` reads in the order of the file system too,
 * unlike `readdir`, which sorts). The VFS reads a directory by path, so a `Dir` whose directory
 * is renamed while it is being read goes on reading whatever the old path names then.
 */
import { Effect } from "effect"
import { posix } from "node:path"
import { encoded } from "./compound.js"
import * as core from "./core.js"
import { type Sys, Target, target } from "./core.js"
import { constants } from "./constants.js"
import { dirClosed, dirConcurrentOperation, NodeFsError } from "./errors.js"
import { type Host, callBack, runSync } from "./host.js"
import { type Dirent, direntOf } from "./stats.js"
import { getOptions, getValidatedPath, type Options, type PathArg, validateFunction, validateUint32 } from "./validators.js"

type Callback = (err: unknown, value?: unknown) => void

/** Node's `fs.Dir`. */
export class Dir {
  readonly #host: Host
  readonly #path: PathArg
  readonly #target: Target
  readonly #fd: number
  readonly #options: Options
  /** Entries read from the file system and not yet returned. */
  readonly #buffered: Array<Dirent<string | Buffer>> = []
  /** The next page's cookie; -1 once the last page is read. */
  #cookie = 0
  #closed = false
  /** Operations waiting for the one in progress (`null`: none in progress). */
  #queue: Array<() => void> | null = null

  constructor(host: Host, path: PathArg, fd: number, options: Options) {
    this.#host = host
    this.#path = path
    this.#target = target(path)
    this.#fd = fd
    this.#options = options
  }

  /** The path the directory was opened by, as given. */
  get path(): PathArg {
    return this.#path
  }

  /** The next entry, or `null` after the last: a promise, or through `callback`. Throws `ERR_DIR_CLOSED` once closed. */
  read(): Promise<Dirent<string | Buffer> | null>
  read(callback: (err: unknown, dirent: Dirent<string | Buffer> | null) => void): void
  read(callback?: unknown): Promise<Dirent<string | Buffer> | null> | void {
    if (this.#closed) throw dirClosed()
    if (callback === undefined) return new Promise((resolve, reject) => this.read((e, d) => (e ? reject(e) : resolve(d))))
    const cb = validateFunction<Callback>(callback, "callback")
    if (this.#queue !== null) {
      this.#queue.push(() => this.read(cb))
      return
    }
    this.#queue = []
    this.#host.run(this.#next()).then(
      (d) => this.#settle(cb, [null, d]),
      (e) => this.#settle(cb, [e])
    )
  }

  /** Ends the operation in progress: calls back, then runs the queued ones. */
  #settle(cb: Callback, args: Array<unknown>) {
    const queue = this.#queue ?? []
    this.#queue = null
    callBack(cb, args)
    for (const op of queue) op()
  }

  /** The next entry (a page is read when none is buffered; with `recursive`, a directory's entries follow it). */
  #next(): Sys<Dirent<string | Buffer> | null> {
    return Effect.gen(this, function* () {
      if (this.#buffered.length === 0 && this.#cookie >= 0) {
        const page = yield* core.readdirPage(this.#host.ctx, this.#target, this.#cookie)
        this.#cookie = page.next
        for (const e of page.entries) this.#buffered.push(direntOf(encoded(e.name, this.#options.encoding), e.type, this.#path))
      }
      const d = this.#buffered.shift()
      if (d === undefined) return null
      if (this.#options.recursive === true && d.isDirectory()) {
        const parent = posix.join(String(d.parentPath), String(d.name))
        const p = new Target(parent)
        for (let cookie = 0; cookie >= 0;) {
          const page = yield* core.readdirPage(this.#host.ctx, p, cookie)
          cookie = page.next
          for (const e of page.entries) this.#buffered.push(direntOf(encoded(e.name, this.#options.encoding), e.type, parent))
        }
      }
      return d
    })
  }

  /** The next entry, or `null` after the last, on this stack. Throws `ERR_DIR_CLOSED` once closed, `ERR_DIR_CONCURRENT_OPERATION` while an asynchronous operation is in progress. */
  readSync(): Dirent<string | Buffer> | null {
    if (this.#closed) throw dirClosed()
    if (this.#queue !== null) throw dirConcurrentOperation()
    return runSync(this.#host, this.#next(), "scandir")
  }

  /** Closes the directory on this stack. Throws as `readSync`. */
  closeSync(): void {
    if (this.#closed) throw dirClosed()
    if (this.#queue !== null) throw dirConcurrentOperation()
    this.#closed = true
    runSync(this.#host, core.close(this.#host.ctx, this.#fd), "close")
  }

  /** Closes the directory: a promise (rejecting with `ERR_DIR_CLOSED` when closed already), or through `callback`. */
  close(): Promise<void>
  close(callback: (err: unknown) => void): void
  close(callback?: unknown): Promise<void> | void {
    if (callback === undefined) {
      if (this.#closed) return Promise.reject(dirClosed())
      return new Promise((resolve, reject) => this.close((e) => (e ? reject(e) : resolve())))
    }
    const cb = validateFunction<Callback>(callback, "callback")
    if (this.#closed) {
      process.nextTick(cb, dirClosed())
      return
    }
    if (this.#queue !== null) {
      this.#queue.push(() => this.close(cb))
      return
    }
    this.#closed = true
    this.#host.run(core.close(this.#host.ctx, this.#fd)).then(
      () => callBack(cb, [null]),
      (e) => callBack(cb, [e])
    )
  }

  /** Every entry, then the directory closed (also when the loop ends early). */
  async *entries(): AsyncGenerator<Dirent<string | Buffer>> {
    try {
      for (;;) {
        const d = await this.read()
        if (d === null) break
        yield d
      }
    } finally {
      await this.close()
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<Dirent<string | Buffer>> {
    return this.entries()
  }
}

/**
 * `opendir(path, options)`, checked as Node checks it; `options.bufferSize` (a positive uint32)
 * is checked here, before the directory is opened (Node checks it only after, where a bad value
 * is an uncaught exception). Errors name `opendir`, and the path unless `sync` (Node 20's
 * `opendirSync` names none).
 */
export const opendir = (host: Host, path: unknown, options: unknown, sync = false): Sys<Dir> => {
  const given = getValidatedPath(path)
  const o = { bufferSize: 32, ...getOptions(options, { encoding: "utf8" }) }
  validateUint32(o.bufferSize, "options.bufferSize", true)
  const p = target(given)
  return Effect.map(
    Effect.catchAll(core.open(host.ctx, p, constants.O_RDONLY | constants.O_DIRECTORY, 0), (e) =>
      e instanceof NodeFsError ? core.fail(e.code, "opendir", sync ? undefined : p.text) : Effect.fail(e)
    ),
    (fd) => new Dir(host, given, fd, o)
  )
}
