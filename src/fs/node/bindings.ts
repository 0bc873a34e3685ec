/**
 * The argument layer: for each function of `node:fs`, Node's handling of its arguments in the
 * sync form's order (`openSync(path, flags, mode)`…), returning the Effect that performs it. The
 * callback forms (`callbacks.ts`) shuffle their optional arguments and find their callback as
 * Node does, then call these; the promise forms (`promises.ts`) call these where Node's promise
 * API checks the same way; a sync form is `runSync` of the same Effect. So one bad argument gets
 * one error, thrown synchronously here, in every form.
 *
 * Each function throws Node's argument errors before it returns; the Effect it returns fails only
 * with Node's system errors (and the compound operations' `SystemError`s).
 */
import { Effect } from "effect"
import { Buffer } from "node:buffer"
import * as compound from "./compound.js"
import { encoded } from "./compound.js"
import * as core from "./core.js"
import { type Context, type Sys, target } from "./core.js"
import { AbortError, invalidArgValue, methodNotImplemented } from "./errors.js"
import { type BigIntStats, type Stats, statsOf } from "./stats.js"
import {
  bindingFd,
  bindingMode,
  getOptions,
  getValidatedFd,
  getValidatedPath,
  isArrayBufferView,
  isFd,
  type Options,
  parseFileMode,
  validateBoolean,
  validateBufferArray,
  validateCpOptions,
  validateInteger,
  validateOffsetLengthRead,
  validateOffsetLengthWrite,
  validateRmdirOptions,
  validateRmOptions,
  validateStringAfterArrayBufferView,
  validateSymlinkType,
  stringToFlags,
  toUnixTimestamp,
  defaultRmdirOptions,
  validatePosition,
  toPathIfFileURL,
  validatePath
} from "./validators.js"

/** The largest uid or gid (`kMaxUserId`). */
const MAX_USER_ID = 2 ** 32 - 1

/** A position as the VFS takes it: Node's `-1`/`null` (and any negative) mean the descriptor's own. */
export const positionOf = (position: unknown): number => {
  if (typeof position === "bigint") return position < 0n ? -1 : position > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(position)
  return typeof position === "number" && Number.isSafeInteger(position) && position >= 0 ? position : -1
}

/** `options.bigint` as Node's binding reads it: only `true` asks for `BigIntStats`. */
const bigintOf = (options: unknown): boolean => (options as { bigint?: unknown }).bigint === true

/** Node's `AbortError` for an aborted `signal` (its reason as `cause`), as a failed Effect; `undefined` when not aborted. */
export const aborted = (signal: AbortSignal | undefined): Sys<never> | undefined =>
  signal?.aborted === true ? Effect.fail(new AbortError(undefined, { cause: signal.reason })) : undefined

/** `effect`, then an `AbortError` if `signal` was aborted meanwhile (Node checks between its reads and writes). */
export const abortable = <A>(signal: AbortSignal | undefined, effect: Sys<A>): Sys<A> =>
  signal === undefined ? effect : Effect.flatMap(effect, (a) => aborted(signal) ?? Effect.succeed(a))

export const access = (ctx: Context, path: unknown, mode: unknown): Sys<void> => {
  const p = target(getValidatedPath(path))
  return core.access(ctx, p, bindingMode(mode, 7))
}

export const chmod = (ctx: Context, path: unknown, mode: unknown): Sys<void> => {
  const p = target(getValidatedPath(path))
  return core.chmod(ctx, p, parseFileMode(mode, "mode"))
}

const ownerArgs = (uid: unknown, gid: unknown): [number, number] => [validateInteger(uid, "uid", -1, MAX_USER_ID), validateInteger(gid, "gid", -1, MAX_USER_ID)]

export const chown = (ctx: Context, path: unknown, uid: unknown, gid: unknown, follow = true): Sys<void> => {
  const p = target(getValidatedPath(path))
  return core.chown(ctx, p, ...ownerArgs(uid, gid), follow)
}

export const lchown = (ctx: Context, path: unknown, uid: unknown, gid: unknown): Sys<void> => chown(ctx, path, uid, gid, false)

export const close = (ctx: Context, fd: unknown): Sys<void> => core.close(ctx, bindingFd(fd))

export const copyFile = (ctx: Context, src: unknown, dest: unknown, mode: unknown): Sys<void> => {
  const s = target(getValidatedPath(src, "src"))
  const d = target(getValidatedPath(dest, "dest"))
  const m = bindingMode(mode, 7)
  // COPYFILE_FICLONE_FORCE asks for a copy-on-write clone, which a RAM file system cannot make.
  if ((m & 4) !== 0) return core.fail("ENOTSUP", "copyfile", s.text, d.text)
  return core.copyFile(ctx, s, d, (m & 1) !== 0)
}

export const cp = (ctx: Context, src: unknown, dest: unknown, options: unknown, sync = false): Sys<void> => {
  const o = validateCpOptions(options)
  return compound.cp(ctx, getValidatedPath(src, "src"), getValidatedPath(dest, "dest"), o, sync)
}

export const fchmod = (ctx: Context, fd: unknown, mode: unknown): Sys<void> => {
  const m = parseFileMode(mode, "mode")
  return core.fchmod(ctx, bindingFd(fd), m)
}

export const fchown = (ctx: Context, fd: unknown, uid: unknown, gid: unknown): Sys<void> => {
  const ids = ownerArgs(uid, gid)
  return core.fchown(ctx, bindingFd(fd), ...ids)
}

export const fdatasync = (ctx: Context, fd: unknown): Sys<void> => core.fsync(ctx, bindingFd(fd), "fdatasync")
export const fsync = (ctx: Context, fd: unknown): Sys<void> => core.fsync(ctx, bindingFd(fd), "fsync")

export const fstat = (ctx: Context, fd: unknown, options: unknown = { bigint: false }): Sys<Stats | BigIntStats> => {
  const big = bigintOf(options)
  return Effect.map(core.fstat(ctx, bindingFd(fd)), (s) => statsOf(s, big))
}

export const ftruncate = (ctx: Context, fd: unknown, len: unknown = 0): Sys<void> => {
  const n = Math.max(0, validateInteger(len, "len"))
  return core.ftruncate(ctx, bindingFd(fd), n)
}

export const futimes = (ctx: Context, fd: unknown, atime: unknown, mtime: unknown): Sys<void> => {
  const a = toUnixTimestamp(atime, "atime")
  const m = toUnixTimestamp(mtime, "mtime")
  return core.futimes(ctx, bindingFd(fd), a, m)
}

export const link = (ctx: Context, existingPath: unknown, newPath: unknown): Sys<void> => {
  const a = target(getValidatedPath(existingPath, "existingPath"))
  const b = target(getValidatedPath(newPath, "newPath"))
  return core.link(ctx, a, b)
}

export const stat = (ctx: Context, path: unknown, options: unknown = { bigint: false }, follow = true): Sys<Stats | BigIntStats> => {
  const p = target(getValidatedPath(path))
  const big = bigintOf(options)
  return Effect.map(core.stat(ctx, p, follow), (s) => statsOf(s, big))
}

export const lstat = (ctx: Context, path: unknown, options: unknown = { bigint: false }): Sys<Stats | BigIntStats> => stat(ctx, path, options, false)

export const utimes = (ctx: Context, path: unknown, atime: unknown, mtime: unknown, follow = true): Sys<void> => {
  const p = target(getValidatedPath(path))
  return core.utimes(ctx, p, toUnixTimestamp(atime), toUnixTimestamp(mtime), follow)
}

export const lutimes = (ctx: Context, path: unknown, atime: unknown, mtime: unknown): Sys<void> => utimes(ctx, path, atime, mtime, false)

/** `mkdir`'s options: a mode (number or octal string), or `{ recursive, mode }`. */
export const mkdirOptions = (options: unknown): { mode: unknown; recursive: unknown } => {
  let mode: unknown = 0o777
  let recursive: unknown = false
  if (typeof options === "number" || typeof options === "string") mode = options
  else if (options) {
    const o = options as Options
    if (o.recursive !== undefined) recursive = o.recursive
    if (o.mode !== undefined) mode = o.mode
  }
  return { mode, recursive }
}

/** `mkdir` once its options are read: the first directory made (with `recursive`), its path as the VFS names it. */
export const mkdirWith = (ctx: Context, path: unknown, mode: unknown, recursive: unknown): Sys<string | undefined> => {
  const p = target(getValidatedPath(path))
  const r = validateBoolean(recursive, "options.recursive")
  return Effect.map(core.mkdir(ctx, p, parseFileMode(mode, "mode"), r), (first) => (r ? first : undefined))
}

export const mkdir = (ctx: Context, path: unknown, options: unknown): Sys<string | undefined> => {
  const { mode, recursive } = mkdirOptions(options)
  return mkdirWith(ctx, path, mode, recursive)
}

export const mkdtemp = (ctx: Context, prefix: unknown, options: unknown): Sys<string | Buffer> => {
  const o = getOptions(options)
  const p = target(getValidatedPath(prefix, "prefix"))
  return Effect.map(core.mkdtemp(ctx, p), (made) => encoded(made, o.encoding))
}

export const open = (ctx: Context, path: unknown, flags: unknown, mode: unknown): Sys<number> => {
  const p = target(getValidatedPath(path))
  const f = stringToFlags(flags)
  return core.open(ctx, p, f, parseFileMode(mode, "mode", 0o666))
}

/** `readdir` (the sync and callback forms': `recursive` walks breadth first). */
export const readdir = (ctx: Context, path: unknown, options: unknown, breadthFirst = true): Sys<compound.Listing> => {
  const o = getOptions(options)
  const given = getValidatedPath(path)
  if (o.recursive != null) validateBoolean(o.recursive, "options.recursive")
  const p = target(given)
  if (o.recursive) return compound.readdirRecursive(ctx, p, o.encoding, Boolean(o.withFileTypes), breadthFirst)
  return compound.listing(ctx, p, given, o.encoding, Boolean(o.withFileTypes))
}

export const readlink = (ctx: Context, path: unknown, options: unknown): Sys<string | Buffer> => {
  const o = getOptions(options)
  const p = target(getValidatedPath(path, "oldPath"))
  return Effect.map(core.readlink(ctx, p), (t) => encoded(t, o.encoding))
}

/** `realpath.native` (and the promise API's `realpath`): the VFS resolves the whole path. */
export const realpathNative = (ctx: Context, path: unknown, options: unknown): Sys<string | Buffer> => {
  const o = getOptions(options)
  const p = target(getValidatedPath(path))
  return Effect.map(core.realpath(ctx, p), (r) => encoded(r, o.encoding))
}

/** The callback API's `realpath`: Node's JavaScript walk (`p += ""` included, so a number is a relative name). */
export const realpath = (ctx: Context, path: unknown, options: unknown): Sys<string | Buffer> => {
  const o = getOptions(options)
  let p = toPathIfFileURL(path)
  if (typeof p !== "string") p += ""
  validatePath(p)
  return Effect.map(compound.realpathJs(ctx, core.resolvePath(p as string)), (r) => encoded(r, o.encoding))
}

export const rename = (ctx: Context, oldPath: unknown, newPath: unknown): Sys<void> => {
  const a = target(getValidatedPath(oldPath, "oldPath"))
  const b = target(getValidatedPath(newPath, "newPath"))
  return core.rename(ctx, a, b)
}

/** `rm`; `sync`: the sync form (its retries block the thread, as Node's). */
export const rm = (ctx: Context, path: unknown, options: unknown, sync = false): Sys<void> => {
  const p = target(getValidatedPath(path))
  return compound.rm(ctx, p, validateRmOptions(options), sync)
}

/**
 * `rmdir` (the callback and sync forms): with `recursive`, `lstat` first: a missing path fails
 * there, a non-directory is a plain `rmdir` (`ENOTDIR`), a directory goes as `rm -r`.
 */
export const rmdir = (ctx: Context, path: unknown, options: unknown, sync = false): Sys<void> => {
  const p = target(getValidatedPath(path))
  if ((options as { recursive?: unknown } | undefined)?.recursive) {
    const o = validateRmdirOptions({ ...(options as object), force: false }, defaultRmdirOptions)
    return Effect.flatMap(core.stat(ctx, p, false), (st) => (st.type === "dir" ? compound.rimraf(ctx, p.vfs, o, sync) : core.rmdir(ctx, p)))
  }
  validateRmdirOptions(options, defaultRmdirOptions)
  return core.rmdir(ctx, p)
}

export const statfs = (ctx: Context, path: unknown, options: unknown = { bigint: false }) => {
  const p = target(getValidatedPath(path))
  return core.statfs(ctx, p, bigintOf(options))
}

export const symlink = (ctx: Context, linkTarget: unknown, path: unknown, type: unknown): Sys<void> => {
  const t = getValidatedPath(linkTarget, "target")
  const p = target(getValidatedPath(path))
  validateSymlinkType(typeof type === "string" ? type : null)
  return core.symlink(ctx, target(t).text, p)
}

/** `truncate(path, len)`: `len` checked first, then Node's `open(path, "r+")`, `ftruncate`, `close`. */
export const truncate = (ctx: Context, path: unknown, len: unknown): Sys<void> => {
  const n = Math.max(0, validateInteger(len ?? 0, "len"))
  const p = target(getValidatedPath(path))
  return core.truncate(ctx, p, n)
}

export const unlink = (ctx: Context, path: unknown): Sys<void> => core.unlink(ctx, target(getValidatedPath(path)))

/** `read(fd, buffer, offset, length, position)` once the forms have found their arguments: the count read. */
export const read = (ctx: Context, fd: number, buffer: ArrayBufferView, offset: unknown, length: unknown, position: unknown): Sys<number> => {
  let off: number
  if (offset == null) off = 0
  else off = validateInteger(offset, "offset", 0)
  const len = (length as number) | 0
  if (len === 0) return Effect.succeed(0)
  if (buffer.byteLength === 0) throw invalidArgValue("buffer", buffer, "is empty and cannot be written")
  validateOffsetLengthRead(off, len, buffer.byteLength)
  const pos = position == null ? -1 : validatePosition(position, "position")
  return core.read(ctx, fd, buffer, off, len, positionOf(pos))
}

export const readv = (ctx: Context, fd: unknown, buffers: unknown, position: unknown): Sys<number> => {
  const d = getValidatedFd(fd)
  const bs = validateBufferArray(buffers)
  return core.readv(ctx, d, bs, typeof position === "number" ? positionOf(position) : -1)
}

/** A `write` of a buffer once the forms have found their arguments: the count written. */
export const writeBuffer = (ctx: Context, fd: number, buffer: ArrayBufferView, offset: unknown, length: unknown, position: unknown): Sys<number> => {
  const off = offset == null ? 0 : validateInteger(offset, "offset", 0)
  const len = typeof length === "number" ? length : buffer.byteLength - off
  validateOffsetLengthWrite(off, len, buffer.byteLength)
  return core.write(ctx, fd, buffer, off, len, typeof position === "number" ? positionOf(position) : -1)
}

/** A `write` of a string at `position` in `encoding` (an unknown encoding writes UTF-8, as Node's binding does). */
export const writeString = (ctx: Context, fd: number, text: string, position: unknown, encoding: unknown): Sys<number> => {
  const bytes = Buffer.from(text, typeof encoding === "string" && Buffer.isEncoding(encoding) ? encoding : "utf8")
  return core.write(ctx, fd, bytes, 0, bytes.length, positionOf(position))
}

export const writev = (ctx: Context, fd: unknown, buffers: unknown, position: unknown): Sys<number> => {
  const d = getValidatedFd(fd)
  const bs = validateBufferArray(buffers)
  if (bs.length === 0) return Effect.succeed(0)
  return core.writev(ctx, d, bs, typeof position === "number" ? positionOf(position) : -1)
}

/** A file's bytes as `readFile` gives them: a `Buffer`, or a string in `encoding`. */
const decoder =
  (encoding: BufferEncoding | undefined) =>
  (bytes: Uint8Array): string | Buffer => {
    const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return encoding ? b.toString(encoding) : b
  }

/**
 * `readFile(path, options)` (and, `fds` — the callback form — `readFile(fd, options)`): a `Buffer`, or
 * a string in `options.encoding`; an aborted signal fails before the path is checked.
 */
export const readFile = (ctx: Context, path: unknown, options: unknown, fds = true): Sys<string | Buffer> => {
  const o = getOptions(options, { flag: "r" })
  // Made by a call: a closure declared here would be renamed on every call under tsx (esbuild's keepNames), about 1 µs.
  const decode = decoder(o.encoding)
  // Node checks such a descriptor only when it reads (where a bad one is an uncaught exception); here it fails the call.
  if (fds && isFd(path)) return Effect.flatMap(Effect.try({ try: () => bindingFd(path), catch: (e) => e }), (fd) => Effect.map(core.readToEnd(ctx, fd), decode))
  const stop = aborted(o.signal)
  if (stop !== undefined) return stop
  const flags = stringToFlags(o.flag, "options.flag")
  const p = target(getValidatedPath(path))
  return abortable(o.signal, Effect.map(core.readFile(ctx, p, flags), decode))
}

/** `writeFile`'s options with Node's defaults, `flush` checked. */
export const writeFileOptions = (options: unknown, defaults: Options = { encoding: "utf8", mode: 0o666, flag: "w", flush: false }): Options => {
  const o = getOptions(options, defaults)
  validateBoolean(o.flush ?? false, "options.flush")
  return o
}

/** The bytes `writeFile` writes for `data` (a view, or a string in `encoding`). */
export const dataOf = (data: unknown, encoding: unknown): Uint8Array => {
  if (isArrayBufferView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return Buffer.from(validateStringAfterArrayBufferView(data, "data"), (encoding as BufferEncoding) || "utf8")
}

/** `writeFile(path, data, options)` once `data` is bytes (and, `fds` — the callback form — `writeFile(fd, …)`). */
export const writeFileWith = (ctx: Context, path: unknown, bytes: Uint8Array, o: Options, fds = true): Sys<void> => {
  if (fds && isFd(path)) return core.writeAll(ctx, getValidatedFd(path), bytes)
  const stop = aborted(o.signal)
  if (stop !== undefined) return stop
  const flags = stringToFlags(o.flag || "w")
  const p = target(getValidatedPath(path))
  return core.writeFile(ctx, p, bytes, flags, parseFileMode(o.mode, "mode", 0o666))
}

export const writeFile = (ctx: Context, path: unknown, data: unknown, options: unknown): Sys<void> => {
  const o = writeFileOptions(options)
  return writeFileWith(ctx, path, dataOf(data, o.encoding), o)
}

export const appendFile = (ctx: Context, path: unknown, data: unknown, options: unknown): Sys<void> => {
  const o = { ...getOptions(options, { encoding: "utf8", mode: 0o666, flag: "a" }) }
  if (!o.flag || isFd(path)) o.flag = "a"
  return writeFile(ctx, path, data, o)
}

/** `exists`: whether `access(path)` succeeds; an invalid path is `false`. */
export const exists = (ctx: Context, path: unknown): Sys<boolean> => {
  let p
  try {
    p = target(getValidatedPath(path))
  } catch {
    return Effect.succeed(false)
  }
  return Effect.match(core.access(ctx, p, 0), { onFailure: () => false, onSuccess: () => true })
}

/** `lchmod`: Linux has no `O_SYMLINK`, so Node does not implement it there. */
export const lchmod = (): never => {
  throw methodNotImplemented("lchmod()")
}
