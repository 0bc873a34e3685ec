/**
 * The callback API of `node:fs`: each function finds its callback and shuffles its optional
 * arguments exactly as Node's `lib/fs.js` does, checks them in Node's order (a bad argument, or a
 * missing callback, throws synchronously), then runs the argument layer's Effect (`bindings.ts`)
 * and calls back with Node's arities (`read`: `(err, bytesRead, buffer)`, `write`:
 * `(err, written, buffer | string)`…).
 *
 * Where Node calls back synchronously (`exists` of an invalid path) this does too; where Node 20
 * calls back synchronously only because it does the work synchronously (`readdir` with
 * `recursive`, an already-aborted `signal`), this calls back asynchronously.
 */
import { Buffer } from "node:buffer"
import * as B from "./bindings.js"
import { mkdirOptions } from "./bindings.js"
import { constants } from "./constants.js"
import { type Host, callBack, submit } from "./host.js"
import {
  getValidatedFd,
  getValidatedPath,
  isArrayBufferView,
  parseFileMode,
  stringToFlags,
  toUnixTimestamp,
  validateBuffer,
  validateBufferArray,
  validateEncoding,
  validateFunction,
  validateInteger,
  validateObject,
  validateRmOptions,
  validateString,
  validateStringAfterArrayBufferView,
  transferOptions,
  type Options
} from "./validators.js"

type Fn = (...args: Array<any>) => void

/** Node's `makeCallback`: the callback, checked. */
const makeCallback = (cb: unknown): Fn => validateFunction<Fn>(cb, "cb")

/** Node's `close` without a callback: an error is thrown (an uncaught exception). */
const defaultCloseCallback = (err: unknown) => {
  if (err != null) throw err
}

/** Node's optional argument before the callback: a function in its place is the callback, and the argument is then `absent`. */
const optional = (arg: unknown, callback: unknown, absent: unknown): [unknown, unknown] => (typeof arg === "function" ? [absent, arg] : [arg, callback])

/** The callback API over `host`. */
export const makeCallbacks = (host: Host) => {
  const { ctx } = host
  /** `stat(path, options?, callback)` or `lstat(…)`. */
  const statForm =
    (f: typeof B.stat) =>
    (path: unknown, options: unknown = { bigint: false }, callback?: unknown) => {
      ;[options, callback] = optional(options, callback, {})
      const cb = makeCallback(callback)
      submit(host, f(ctx, path, options), cb, "value")
    }
  const fs = {
    appendFile(path: unknown, data: unknown, options: unknown, callback?: unknown) {
      const cb = validateFunction<Fn>(callback || options, "cb")
      submit(host, B.appendFile(ctx, path, data, options), cb)
    },
    access(path: unknown, mode: unknown, callback?: unknown) {
      ;[mode, callback] = optional(mode, callback, constants.F_OK)
      getValidatedPath(path)
      const cb = makeCallback(callback)
      submit(host, B.access(ctx, path, mode), cb)
    },
    chown(path: unknown, uid: unknown, gid: unknown, callback: unknown) {
      const cb = makeCallback(callback)
      submit(host, B.chown(ctx, path, uid, gid), cb)
    },
    chmod(path: unknown, mode: unknown, callback: unknown) {
      getValidatedPath(path)
      parseFileMode(mode, "mode")
      const cb = makeCallback(callback)
      submit(host, B.chmod(ctx, path, mode), cb)
    },
    close(fd: unknown, callback: unknown = defaultCloseCallback) {
      const cb = callback === defaultCloseCallback ? callback : makeCallback(callback)
      submit(host, B.close(ctx, fd), cb)
    },
    copyFile(src: unknown, dest: unknown, mode: unknown, callback?: unknown) {
      ;[mode, callback] = optional(mode, callback, 0)
      getValidatedPath(src, "src")
      getValidatedPath(dest, "dest")
      const cb = makeCallback(callback)
      submit(host, B.copyFile(ctx, src, dest, mode), cb)
    },
    cp(src: unknown, dest: unknown, options: unknown, callback?: unknown) {
      ;[options, callback] = optional(options, callback, undefined)
      const cb = makeCallback(callback)
      submit(host, B.cp(ctx, src, dest, options), cb, "value")
    },
    exists(path: unknown, callback: unknown) {
      const cb = validateFunction<Fn>(callback, "cb")
      try {
        getValidatedPath(path)
      } catch {
        return cb(false)
      }
      host.run(B.exists(ctx, path)).then(
        (yes) => callBack(cb, [yes]),
        () => callBack(cb, [false])
      )
    },
    fchown(fd: unknown, uid: unknown, gid: unknown, callback: unknown) {
      validateInteger(uid, "uid", -1, 2 ** 32 - 1)
      validateInteger(gid, "gid", -1, 2 ** 32 - 1)
      const cb = makeCallback(callback)
      submit(host, B.fchown(ctx, fd, uid, gid), cb)
    },
    fchmod(fd: unknown, mode: unknown, callback: unknown) {
      parseFileMode(mode, "mode")
      const cb = makeCallback(callback)
      submit(host, B.fchmod(ctx, fd, mode), cb)
    },
    fdatasync(fd: unknown, callback: unknown) {
      const cb = makeCallback(callback)
      submit(host, B.fdatasync(ctx, fd), cb)
    },
    fstat(fd: unknown, options: unknown = { bigint: false }, callback?: unknown) {
      ;[options, callback] = optional(options, callback, {})
      const cb = makeCallback(callback)
      submit(host, B.fstat(ctx, fd, options), cb, "value")
    },
    fsync(fd: unknown, callback: unknown) {
      const cb = makeCallback(callback)
      submit(host, B.fsync(ctx, fd), cb)
    },
    ftruncate(fd: unknown, len: unknown = 0, callback?: unknown) {
      ;[len, callback] = optional(len, callback, 0)
      validateInteger(len, "len")
      const cb = makeCallback(callback)
      submit(host, B.ftruncate(ctx, fd, len), cb)
    },
    futimes(fd: unknown, atime: unknown, mtime: unknown, callback: unknown) {
      toUnixTimestamp(atime, "atime")
      toUnixTimestamp(mtime, "mtime")
      const cb = makeCallback(callback)
      submit(host, B.futimes(ctx, fd, atime, mtime), cb)
    },
    lchown(path: unknown, uid: unknown, gid: unknown, callback: unknown) {
      const cb = makeCallback(callback)
      submit(host, B.lchown(ctx, path, uid, gid), cb)
    },
    /** Linux has no `lchmod`: Node's `fs.lchmod` is `undefined` there. */
    lchmod: undefined,
    link(existingPath: unknown, newPath: unknown, callback: unknown) {
      const cb = makeCallback(callback)
      submit(host, B.link(ctx, existingPath, newPath), cb)
    },
    lstat: statForm(B.lstat),
    lutimes(path: unknown, atime: unknown, mtime: unknown, callback: unknown) {
      const cb = makeCallback(callback)
      submit(host, B.lutimes(ctx, path, atime, mtime), cb)
    },
    mkdir(path: unknown, options: unknown, callback?: unknown) {
      const { mode, recursive } = typeof options === "function" ? { mode: 0o777, recursive: false } : mkdirOptions(options)
      const cb = makeCallback(typeof options === "function" ? options : callback)
      // Node calls back with the first directory made, and with nothing when none was.
      submit(host, B.mkdirWith(ctx, path, mode, recursive), cb, (first) => (first === undefined ? [] : [first]))
    },
    mkdtemp(prefix: unknown, options: unknown, callback?: unknown) {
      const cb = makeCallback(typeof options === "function" ? options : callback)
      submit(host, B.mkdtemp(ctx, prefix, options), cb, "value")
    },
    open(...args: Array<unknown>) {
      const [path] = args
      let [, flags, mode, callback] = args
      getValidatedPath(path)
      if (args.length < 3) {
        callback = flags
        flags = "r"
        mode = 0o666
      } else if (typeof mode === "function") {
        callback = mode
        mode = 0o666
      } else mode = parseFileMode(mode, "mode", 0o666)
      stringToFlags(flags)
      const cb = makeCallback(callback)
      submit(host, B.open(ctx, path, flags, mode), cb, "value")
    },
    readdir(path: unknown, options: unknown, callback?: unknown) {
      const cb = makeCallback(typeof options === "function" ? options : callback)
      submit(host, B.readdir(ctx, path, options, true), cb, "value")
    },
    read(...args: Array<unknown>) {
      const [fd] = args
      let [, buffer, offset, length, position, callback] = args
      const d = getValidatedFd(fd)
      let params: unknown = null
      if (args.length <= 4) {
        if (args.length === 4) {
          validateObject(offset, "options", true)
          callback = length
          params = offset
        } else if (args.length === 3) {
          if (!isArrayBufferView(buffer)) {
            params = buffer
            const given = ((params ?? {}) as Options).buffer
            buffer = given === undefined ? Buffer.alloc(16384) : given
          }
          callback = offset
        } else {
          callback = buffer
          buffer = Buffer.alloc(16384)
        }
        if (params !== undefined) validateObject(params, "options", true)
        ;({ offset, length, position } = transferOptions(params, buffer as ArrayBufferView | undefined))
      }
      const buf = validateBuffer(buffer)
      const cb = validateFunction<Fn>(callback, "cb")
      submit(host, B.read(ctx, d, buf, offset, length, position), cb, (n, failed) => [failed ? 0 : n, buf])
    },
    readv(fd: unknown, buffers: unknown, position: unknown, callback?: unknown) {
      const d = getValidatedFd(fd)
      const bs = validateBufferArray(buffers)
      const cb = validateFunction<Fn>(callback || position, "cb")
      submit(host, B.readv(ctx, d, bs, position), cb, (n, failed) => [failed ? 0 : n, bs])
    },
    readFile(path: unknown, options: unknown, callback?: unknown) {
      const cb = validateFunction<Fn>(callback || options, "cb")
      submit(host, B.readFile(ctx, path, options), cb, "value")
    },
    readlink(path: unknown, options: unknown, callback?: unknown) {
      const cb = makeCallback(typeof options === "function" ? options : callback)
      submit(host, B.readlink(ctx, path, options), cb, "value")
    },
    realpath: Object.assign(
      function realpath(path: unknown, options: unknown, callback?: unknown) {
        if (typeof options === "function") callback = options
        else validateFunction(callback, "cb")
        submit(host, B.realpath(ctx, path, options), callback, "value")
      },
      {
        native(path: unknown, options: unknown, callback?: unknown) {
          const cb = makeCallback(callback || options)
          submit(host, B.realpathNative(ctx, path, options), cb, "value")
        }
      }
    ),
    rename(oldPath: unknown, newPath: unknown, callback: unknown) {
      const cb = makeCallback(callback)
      submit(host, B.rename(ctx, oldPath, newPath), cb)
    },
    rm(path: unknown, options: unknown, callback?: unknown) {
      ;[options, callback] = optional(options, callback, undefined)
      getValidatedPath(path)
      validateRmOptions(options)
      submit(host, B.rm(ctx, path, options), callback)
    },
    rmdir(path: unknown, options: unknown, callback?: unknown) {
      ;[options, callback] = optional(options, callback, undefined)
      const cb = makeCallback(callback)
      submit(host, B.rmdir(ctx, path, options), cb)
    },
    stat: statForm(B.stat),
    statfs(path: unknown, options: unknown = { bigint: false }, callback?: unknown) {
      ;[options, callback] = optional(options, callback, {})
      const cb = validateFunction<Fn>(callback, "cb")
      submit(host, B.statfs(ctx, path, options), cb, "value")
    },
    symlink(...args: Array<unknown>) {
      const [linkTarget, path, type] = args
      const cb = makeCallback(args[args.length - 1])
      submit(host, B.symlink(ctx, linkTarget, path, type), cb)
    },
    truncate(path: unknown, len?: unknown, callback?: unknown): void {
      if (typeof path === "number") return fs.ftruncate(path, len, callback)
      if (typeof len === "function") {
        callback = len
        len = 0
      } else if (len === undefined) len = 0
      validateInteger(len, "len")
      const cb = validateFunction<Fn>(callback, "cb")
      submit(host, B.truncate(ctx, path, len), cb)
    },
    unlink(path: unknown, callback: unknown) {
      const cb = makeCallback(callback)
      submit(host, B.unlink(ctx, path), cb)
    },
    utimes(path: unknown, atime: unknown, mtime: unknown, callback: unknown) {
      const cb = makeCallback(callback)
      submit(host, B.utimes(ctx, path, atime, mtime), cb)
    },
    writeFile(path: unknown, data: unknown, options: unknown, callback?: unknown) {
      const cb = validateFunction<Fn>(callback || options, "cb")
      submit(host, B.writeFile(ctx, path, data, options), cb)
    },
    write(fd: unknown, buffer: unknown, offset?: unknown, length?: unknown, position?: unknown, callback?: unknown) {
      const d = getValidatedFd(fd)
      if (isArrayBufferView(buffer)) {
        const cb = validateFunction<Fn>(callback || position || length || offset, "cb")
        if (typeof offset === "object") ({ offset, length, position } = transferOptions(offset, buffer))
        if (typeof offset === "function") offset = undefined
        submit(host, B.writeBuffer(ctx, d, buffer, offset, length, position), cb, (n, failed) => [failed ? 0 : n, buffer])
        return
      }
      const text = validateStringAfterArrayBufferView(buffer, "buffer")
      if (typeof position !== "function") {
        if (typeof offset === "function") {
          position = offset
          offset = null
        } else position = length
        length = "utf8"
      }
      validateEncoding(text, length)
      const cb = validateFunction<Fn>(position, "cb")
      submit(host, B.writeString(ctx, d, text, offset, length), cb, (n, failed) => [failed ? 0 : n, buffer])
    },
    writev(fd: unknown, buffers: unknown, position: unknown, callback?: unknown) {
      const d = getValidatedFd(fd)
      const bs = validateBufferArray(buffers)
      const cb = validateFunction<Fn>(callback || position, "cb")
      submit(host, B.writev(ctx, d, bs, position), cb, (n, failed) => [failed ? 0 : n, bs])
    },
    _toUnixTimestamp: toUnixTimestamp,
    /** Node 20's `openAsBlob`: a `Blob` of the file's bytes as they are when it is read (Node's reads them later). */
    openAsBlob(path: unknown, options: unknown = {}): Promise<Blob> {
      validateObject(options, "options")
      const type = validateString((options as Options).type || "", "options.type")
      getValidatedPath(path)
      return host.run(B.readFile(ctx, path, undefined, false)).then((bytes) => new Blob([bytes as Buffer], { type }))
    }
  }
  return fs
}

/** The callback API's type. */
export type Callbacks = ReturnType<typeof makeCallbacks>
