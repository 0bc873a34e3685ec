/**
 * `fs.ReadStream` and `fs.WriteStream` of the facade: Node's own stream classes, given this `fs`
 * as their `options.fs` (the extension point Node documents for streams over another file
 * system), so their events (`open`, `ready`, `close`), properties (`path`, `fd`, `bytesRead`,
 * `bytesWritten`, `pending`), options (`start`, `end`, `flags`, `encoding`, `fd`,
 * `highWaterMark`, `autoClose`, `emitClose`, `flush`) and errors are Node's, while every read,
 * write and close is a call of this `fs`. A `FileHandle` of this `fs` as `options.fd` works as
 * Node's does: the stream holds a reference to it, reads and writes through it, and closes with it.
 */
import * as nodeFs from "node:fs"
import { FileHandle, kRef, kUnref } from "./FileHandle.js"
import { methodNotImplemented } from "./errors.js"
import { copyObject, getOptions, type Options } from "./validators.js"

type Callback = (err: unknown, ...values: Array<unknown>) => void

/** The calls a stream makes of its `fs`. */
export interface StreamFs {
  readonly open: (path: unknown, flags: unknown, mode: unknown, cb: Callback) => void
  readonly close: (fd: unknown, cb: Callback) => void
  readonly read: (fd: unknown, buffer: unknown, offset: unknown, length: unknown, position: unknown, cb: Callback) => void
  readonly write: (fd: unknown, buffer: unknown, offset: unknown, length: unknown, position: unknown, cb: Callback) => void
  readonly writev: (fd: unknown, buffers: unknown, position: unknown, cb: Callback) => void
  readonly fsync: (fd: unknown, cb: Callback) => void
}

/** Node's `FileHandleOperations`: a stream's calls made through `handle`. */
const handleOperations = (handle: FileHandle): StreamFs => ({
  open: () => {
    throw methodNotImplemented("open()")
  },
  close: (_fd, cb) => {
    handle[kUnref]()
    handle.close().then(() => cb(null), cb)
  },
  fsync: (_fd, cb) => {
    handle.sync().then(() => cb(null), cb)
  },
  read: (_fd, buf, offset, length, pos, cb) => {
    handle.read(buf, offset, length, pos).then(
      (r) => cb(null, r.bytesRead, r.buffer),
      (err) => cb(err, 0, buf)
    )
  },
  write: (_fd, buf, offset, length, pos, cb) => {
    handle.write(buf, offset, length, pos).then(
      (r) => cb(null, r.bytesWritten, r.buffer),
      (err) => cb(err, 0, buf)
    )
  },
  writev: (_fd, buffers, pos, cb) => {
    handle.writev(buffers, pos).then(
      (r) => cb(null, r.bytesWritten, r.buffers),
      (err) => cb(err, 0, buffers)
    )
  }
})

/** The options Node's stream constructors get: `fs` this one, or a `FileHandle` of it read through. */
const adapt = (fs: StreamFs, options: unknown): { options: Options; handle: FileHandle | undefined } => {
  const o = copyObject(getOptions(options, {}))
  if (o.fd instanceof FileHandle) {
    if (o.fs) throw methodNotImplemented("FileHandle with fs")
    const handle = o.fd
    return { options: { ...o, fd: handle.fd, fs: handleOperations(handle) }, handle }
  }
  return { options: { ...o, fs: o.fs || fs }, handle: undefined }
}

type StreamClass<S> = new (path: unknown, options: Options) => S
const NodeReadStream = nodeFs.ReadStream as unknown as StreamClass<nodeFs.ReadStream>
const NodeWriteStream = nodeFs.WriteStream as unknown as StreamClass<nodeFs.WriteStream>

/** Ties a stream made over a `FileHandle` to it: a reference held, and closed with it. */
const tie = (stream: { close(): void }, handle: FileHandle | undefined) => {
  if (handle === undefined) return
  handle[kRef]()
  handle.on("close", () => stream.close())
}

/** The `ReadStream` and `WriteStream` classes of the `fs` whose calls are `fs`. */
export const makeStreams = (fs: StreamFs) => {
  /** Node's `fs.ReadStream` over this `fs`. */
  class ReadStream extends NodeReadStream {
    constructor(path: unknown, options?: unknown) {
      const { options: o, handle } = adapt(fs, options)
      super(path, o)
      tie(this, handle)
    }
  }
  /** Node's `fs.WriteStream` over this `fs`. */
  class WriteStream extends NodeWriteStream {
    constructor(path: unknown, options?: unknown) {
      const { options: o, handle } = adapt(fs, options)
      super(path, o)
      tie(this, handle)
    }
  }
  return { ReadStream, WriteStream }
}
