/**
 * Node's `FileHandle` (what `fs.promises.open` gives): every method Node 20 has, each checked as
 * Node's `lib/internal/fs/promises.js` checks it, with Node's results (`{ bytesRead, buffer }`…),
 * its `'close'` event, reference counting (a stream or web stream made from the handle keeps it
 * open until it is done, and `close()` waits for that), `close()` a second time resolving, and
 * `Symbol.asyncDispose` (`await using`).
 *
 * Invariant: `fd` is -1 from the moment the last reference is given up; a method called after
 * that rejects with Node's `EBADF` "file closed" error and does no I/O.
 */
import type { Effect } from "effect"
import { Buffer } from "node:buffer"
import { EventEmitter } from "node:events"
import { createInterface } from "node:readline"
import { StringDecoder } from "node:string_decoder"
import { ReadableStream } from "node:stream/web"
import * as B from "./bindings.js"
import { dataOf, writeFileOptions } from "./bindings.js"
import * as core from "./core.js"
import { AbortError, fileClosed, invalidArgValue, invalidState } from "./errors.js"
import type { Host } from "./host.js"
import {
  getOptions,
  isArrayBufferView,
  type Options,
  parseFileMode,
  toUnixTimestamp,
  validateAbortSignal,
  validateBuffer,
  validateBufferArray,
  validateEncoding,
  validateInteger,
  validateObject,
  validateOffsetLengthRead,
  validateOffsetLengthWrite,
  validatePosition,
  validateString,
  validateStringAfterArrayBufferView,
  transferOptions
} from "./validators.js"

/** The stream classes of the `fs` a handle belongs to (its `createReadStream`/`createWriteStream`). */
export interface StreamClasses {
  readonly ReadStream: new (path: unknown, options: Options) => unknown
  readonly WriteStream: new (path: unknown, options: Options) => unknown
}

let asyncIds = 0

/** Takes a reference to a handle (a stream made from it), as Node's `kRef`. */
export const kRef = Symbol("kRef")
/** Gives a reference up; the last one closes the descriptor, as Node's `kUnref`. */
export const kUnref = Symbol("kUnref")

/** Node's `FileHandle`. */
export class FileHandle extends EventEmitter {
  #fd: number
  #refs = 1
  #closing: Promise<void> | undefined = undefined
  #closeResolve: (() => void) | undefined
  #closeReject: ((e: unknown) => void) | undefined
  #locked = false
  readonly #asyncId = ++asyncIds
  readonly #host: Host & { readonly streams: StreamClasses }
  constructor(host: Host & { readonly streams: StreamClasses }, fd: number) {
    super()
    this.#host = host
    this.#fd = fd
  }

  /** A number unique to this handle (there are no async hooks behind it). */
  getAsyncId(): number {
    return this.#asyncId
  }

  get fd(): number {
    return this.#fd
  }

  /** Runs `f` holding a reference, as Node's `fsCall` does: a closed handle rejects with "file closed" (`syscall` named after `name`). */
  async #call<A>(name: string, f: () => Promise<A>): Promise<A> {
    if (this.#fd === -1) throw fileClosed(name)
    this[kRef]()
    try {
      return await f()
    } finally {
      this[kUnref]()
    }
  }

  #run<A>(effect: Effect.Effect<A, unknown, any>): Promise<A> {
    return this.#host.run(effect)
  }

  appendFile(data: unknown, options?: unknown) {
    return this.writeFile(data, options)
  }

  chmod(mode: unknown) {
    return this.#call("fchmod", async () => this.#run(core.fchmod(this.#host.ctx, this.#fd, parseFileMode(mode, "mode"))))
  }

  chown(uid: unknown, gid: unknown) {
    return this.#call("fchown", async () => {
      validateInteger(uid, "uid", -1, 2 ** 32 - 1)
      validateInteger(gid, "gid", -1, 2 ** 32 - 1)
      return this.#run(core.fchown(this.#host.ctx, this.#fd, uid as number, gid as number))
    })
  }

  datasync() {
    return this.#call("fdatasync", async () => this.#run(core.fsync(this.#host.ctx, this.#fd, "fdatasync")))
  }

  sync() {
    return this.#call("fsync", async () => this.#run(core.fsync(this.#host.ctx, this.#fd, "fsync")))
  }

  /** `read(buffer, offset, length, position)`, `read(buffer, options)` or `read(options)`: `{ bytesRead, buffer }`. */
  read(bufferOrParams?: unknown, offset?: unknown, length?: unknown, position?: unknown) {
    return this.#call("read", async () => {
      let buffer = bufferOrParams
      if (!isArrayBufferView(buffer)) {
        if (bufferOrParams !== undefined) validateObject(bufferOrParams, "options", true)
        const given = ((bufferOrParams ?? {}) as Options).buffer
        buffer = given === undefined ? Buffer.alloc(16384) : given
        ;({ offset, length, position } = transferOptions(bufferOrParams, buffer as ArrayBufferView))
        validateBuffer(buffer)
      }
      const buf = buffer as ArrayBufferView
      if (offset !== null && typeof offset === "object") ({ offset, length, position } = transferOptions(offset, buf))
      const off = offset == null ? 0 : validateInteger(offset, "offset", 0)
      const len = (length ?? buf.byteLength - off) as number
      if (len === 0) return { bytesRead: 0, buffer: buf }
      if (buf.byteLength === 0) throw invalidArgValue("buffer", buf, "is empty and cannot be written")
      validateOffsetLengthRead(off, len, buf.byteLength)
      const pos = position == null ? -1 : validatePosition(position, "position")
      // Node 20's promise binding reads at the descriptor's position when given a bigint one (its callback read does not).
      const bytesRead = await this.#run(core.read(this.#host.ctx, this.#fd, buf, off, len, typeof pos === "bigint" ? -1 : B.positionOf(pos)))
      return { bytesRead, buffer: buf }
    })
  }

  /** `readv(buffers, position)`: `{ bytesRead, buffers }`. */
  readv(buffers: unknown, position?: unknown) {
    return this.#call("readv", async () => {
      const bs = validateBufferArray(buffers)
      const bytesRead = await this.#run(core.readv(this.#host.ctx, this.#fd, bs, typeof position === "number" ? B.positionOf(position) : -1))
      return { bytesRead, buffers: bs }
    })
  }

  /** The rest of the file from the handle's position: a `Buffer`, or a string in `options.encoding`. */
  readFile(options?: unknown) {
    return this.#call("readFile", async () => {
      const o = getOptions(options, { flag: "r" })
      const signal = o.signal as AbortSignal | undefined
      checkAborted(signal)
      const bytes = await this.#run(core.readToEnd(this.#host.ctx, this.#fd))
      checkAborted(signal)
      return o.encoding ? new StringDecoder(o.encoding).end(bytes) : bytes
    })
  }

  /** A `readline.Interface` over `createReadStream(options)`, every line ending recognised. */
  readLines(options?: unknown) {
    return createInterface({ input: this.createReadStream(options as Options | undefined) as NodeJS.ReadableStream, crlfDelay: Infinity })
  }

  stat(options: unknown = { bigint: false }) {
    return this.#call("fstat", async () => this.#run(B.fstat(this.#host.ctx, this.#fd, options)))
  }

  truncate(len: unknown = 0) {
    return this.#call("ftruncate", async () => this.#run(core.ftruncate(this.#host.ctx, this.#fd, Math.max(0, validateInteger(len, "len")))))
  }

  utimes(atime: unknown, mtime: unknown) {
    return this.#call("futimes", async () =>
      this.#run(core.futimes(this.#host.ctx, this.#fd, toUnixTimestamp(atime, "atime"), toUnixTimestamp(mtime, "mtime")))
    )
  }

  /** `write(buffer, offset, length, position)`, `write(buffer, options)` or `write(string, position, encoding)`: `{ bytesWritten, buffer }`. */
  write(buffer: unknown, offsetOrOptions?: unknown, length?: unknown, position?: unknown) {
    return this.#call("write", async () => {
      if ((buffer as { byteLength?: unknown } | null | undefined)?.byteLength === 0) return { bytesWritten: 0, buffer }
      let offset = offsetOrOptions
      if (isArrayBufferView(buffer)) {
        if (typeof offset === "object") ({ offset, length, position } = transferOptions(offsetOrOptions, buffer))
        const off = offset == null ? 0 : validateInteger(offset, "offset", 0)
        const len = typeof length === "number" ? length : buffer.byteLength - off
        validateOffsetLengthWrite(off, len, buffer.byteLength)
        const pos = typeof position === "number" ? B.positionOf(position) : -1
        return { bytesWritten: await this.#run(core.write(this.#host.ctx, this.#fd, buffer, off, len, pos)), buffer }
      }
      const text = validateStringAfterArrayBufferView(buffer, "buffer")
      validateEncoding(text, length)
      return { bytesWritten: await this.#run(B.writeString(this.#host.ctx, this.#fd, text, offset, length)), buffer }
    })
  }

  /** `writev(buffers, position)`: `{ bytesWritten, buffers }`. */
  writev(buffers: unknown, position?: unknown) {
    return this.#call("writev", async () => {
      const bs = validateBufferArray(buffers)
      if (bs.length === 0) return { bytesWritten: 0, buffers: bs }
      const pos = typeof position === "number" ? B.positionOf(position) : -1
      return { bytesWritten: await this.#run(core.writev(this.#host.ctx, this.#fd, bs, pos)), buffers: bs }
    })
  }

  /** Writes `data` (bytes, a string, or an iterable of either) at the handle's position. */
  writeFile(data: unknown, options?: unknown) {
    return this.#call("writeFile", async () => {
      const o = writeFileOptions(options)
      const d = isCustomIterable(data) ? data : dataOf(data, o.encoding)
      const signal = validateAbortSignal(o.signal, "options.signal")
      checkAborted(signal)
      if (d instanceof Uint8Array) return this.#run(core.writeAll(this.#host.ctx, this.#fd, d))
      for await (const chunk of d as AsyncIterable<unknown>) {
        checkAborted(signal)
        const bytes = isArrayBufferView(chunk) ? chunk : Buffer.from(chunk as string, (o.encoding as BufferEncoding) || "utf8")
        await this.#run(core.writeAll(this.#host.ctx, this.#fd, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)))
        checkAborted(signal)
      }
    })
  }

  /** Closes once every reference is given up; a closed handle resolves at once. Emits `'close'`. */
  close = (): Promise<void> => {
    if (this.#fd === -1) return Promise.resolve()
    if (this.#closing !== undefined) return this.#closing
    this.#refs--
    if (this.#refs === 0) {
      const fd = this.#fd
      this.#fd = -1
      this.#closing = this.#run(core.close(this.#host.ctx, fd)).finally(() => {
        this.#closing = undefined
      })
    } else {
      this.#closing = new Promise<void>((resolve, reject) => {
        this.#closeResolve = resolve
        this.#closeReject = reject
      }).finally(() => {
        this.#closing = this.#closeResolve = this.#closeReject = undefined
      })
    }
    this.emit("close")
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * A web `ReadableStream` of the rest of the file (`{ type: "bytes" }`: a byte stream with BYOB
   * reads), holding a reference until it ends; one per handle.
   */
  readableWebStream(options: Options = {}): ReadableStream<Uint8Array> {
    if (this.#fd === -1) throw invalidState("The FileHandle is closed")
    if (this.#closing !== undefined) throw invalidState("The FileHandle is closing")
    if (this.#locked) throw invalidState("The FileHandle is locked")
    this.#locked = true
    if (options.type !== undefined) validateString(options.type, "options.type")
    const ondone = () => this[kUnref]()
    const readable =
      options.type === "bytes"
        ? new ReadableStream({
            type: "bytes",
            autoAllocateChunkSize: 16384,
            pull: async (controller: ReadableByteStreamController) => {
              const view = controller.byobRequest!.view!
              const { bytesRead } = await this.read(view, view.byteOffset, view.byteLength)
              if (bytesRead === 0) {
                ondone()
                controller.close()
              }
              controller.byobRequest!.respond(bytesRead)
            },
            cancel: ondone
          })
        : new ReadableStream<Uint8Array>({
            pull: async (controller) => {
              const { bytesRead, buffer } = await this.read(Buffer.alloc(65536), 0, 65536, null)
              if (bytesRead === 0) {
                ondone()
                controller.close()
              } else controller.enqueue(new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead))
            },
            cancel: ondone
          })
    this[kRef]()
    this.once("close", () => {
      readable.cancel().catch(() => undefined)
    })
    return readable
  }

  /** A `ReadStream` of this handle (`fd` is the handle; it closes the handle when `autoClose`). */
  createReadStream(options?: Options) {
    return new this.#host.streams.ReadStream(undefined, { ...options, fd: this })
  }

  /** A `WriteStream` into this handle. */
  createWriteStream(options?: Options) {
    return new this.#host.streams.WriteStream(undefined, { ...options, fd: this })
  }

  /** Takes a reference (a stream made from the handle). */
  [kRef](): void {
    this.#refs++
  }

  /** Gives a reference up; the last one closes the descriptor (and settles a waiting `close()`). */
  [kUnref](): void {
    this.#refs--
    if (this.#refs === 0) {
      const fd = this.#fd
      this.#fd = -1
      this.#run(core.close(this.#host.ctx, fd)).then(
        () => this.#closeResolve?.(),
        (e) => this.#closeReject?.(e)
      )
    }
  }
}

/** Node's `isCustomIterable`: an iterable or async iterable that is neither a string nor a view. */
const isCustomIterable = (v: unknown): v is Iterable<unknown> | AsyncIterable<unknown> =>
  v != null &&
  typeof v !== "string" &&
  !isArrayBufferView(v) &&
  (typeof (v as Iterable<unknown>)[Symbol.iterator] === "function" || typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function")

/** Node's `checkAborted`. */
const checkAborted = (signal: AbortSignal | undefined) => {
  if (signal?.aborted === true) throw new AbortError(undefined, { cause: signal.reason })
}
