/**
 * A Node-compatible `fs` over the VFS: `promises` (Node's promise API), the callback API for the
 * same methods, `Stats`, `Dirent`, `constants`, and Node-shaped errors (`code`, `errno`,
 * `syscall`, `path`, message `ENOENT: no such file or directory, open '/x'`).
 *
 * Every call runs as an Effect inside a client process (`Runner`): it is IPC to the VFS, never a
 * shortcut. Invalid arguments reject (or call back) with `ERR_INVALID_ARG_TYPE`; nothing throws
 * synchronously.
 */
import { Readable, Writable } from "node:stream"
import { Effect } from "effect"
import { FsProtocol, type Process as P } from "../api.js"
import { O } from "../servers/vfs/flags.js"
import type { Stat } from "../servers/vfs/VfsProtocol.js"
import * as Vfs from "./VfsClient.js"

type Process = P.Process
const { FsError } = FsProtocol
type DirEntry = FsProtocol.DirEntry
type FileType = FsProtocol.FileType

/** Runs an Effect in the client process; rejects with the Effect's failure as is. */
export type Runner = <A>(effect: Effect.Effect<A, unknown, Process>) => Promise<A>

const descriptions: Record<string, readonly [number, string]> = {
  EPERM: [-1, "operation not permitted"],
  ENOENT: [-2, "no such file or directory"],
  EIO: [-5, "i/o error"],
  EBADF: [-9, "bad file descriptor"],
  EAGAIN: [-11, "resource temporarily unavailable"],
  ENOMEM: [-12, "not enough memory"],
  EACCES: [-13, "permission denied"],
  EFAULT: [-14, "bad address in system call argument"],
  EBUSY: [-16, "resource busy or locked"],
  EEXIST: [-17, "file already exists"],
  EXDEV: [-18, "cross-device link not permitted"],
  ENOTDIR: [-20, "not a directory"],
  EISDIR: [-21, "illegal operation on a directory"],
  EINVAL: [-22, "invalid argument"],
  EMFILE: [-24, "too many open files"],
  ENOSPC: [-28, "no space left on device"],
  ENAMETOOLONG: [-36, "name too long"],
  ENOTEMPTY: [-39, "directory not empty"],
  ELOOP: [-40, "too many symbolic links encountered"]
}

/** A Node system error: `code`, `errno`, `syscall`, `path` (and `dest`), Node's message form. */
export class NodeFsError extends Error {
  readonly errno: number
  readonly code: string
  readonly syscall: string
  readonly path?: string
  readonly dest?: string
  constructor(code: string, syscall: string, path?: string, dest?: string) {
    const [errno, text] = descriptions[code] ?? [-5, code.toLowerCase()]
    super(`${code}: ${text}, ${syscall}${path === undefined ? "" : ` '${path}'`}${dest === undefined ? "" : ` -> '${dest}'`}`)
    this.errno = errno
    this.code = code
    this.syscall = syscall
    if (path !== undefined) this.path = path
    if (dest !== undefined) this.dest = dest
  }
}

/** Node's `ERR_INVALID_ARG_TYPE`. */
export class InvalidArgType extends TypeError {
  readonly code = "ERR_INVALID_ARG_TYPE"
  constructor(name: string, expected: string, actual: unknown) {
    super(`The "${name}" argument must be ${expected}. Received ${actual === null ? "null" : typeof actual}`)
  }
}

/** An `FsError` as Node's error (`syscall` and `path` where the VFS named none); anything else as is. */
export const toNodeError = (e: unknown, syscall: string, path?: string): unknown =>
  e instanceof FsError ? new NodeFsError(e.code, e.syscall ?? syscall, e.path === "" ? undefined : (e.path ?? path), e.dest) : e

const typeBits: Record<FileType, number> = { file: 0o100000, dir: 0o040000, symlink: 0o120000 }
const nsToMs = (ns: bigint) => Number(ns / 1000n) / 1000

/** Node's `fs.Stats`, every field. */
export class Stats {
  readonly dev: number
  readonly ino: number
  readonly mode: number
  readonly nlink: number
  readonly uid: number
  readonly gid: number
  readonly rdev = 0
  readonly size: number
  readonly blksize = 4096
  readonly blocks: number
  readonly atimeMs: number
  readonly mtimeMs: number
  readonly ctimeMs: number
  readonly birthtimeMs: number
  readonly atimeNs: bigint
  readonly mtimeNs: bigint
  readonly ctimeNs: bigint
  readonly birthtimeNs: bigint
  readonly atime: Date
  readonly mtime: Date
  readonly ctime: Date
  readonly birthtime: Date
  constructor(s: Stat) {
    this.dev = s.dev
    this.ino = s.ino
    this.mode = typeBits[s.type] | s.mode
    this.nlink = s.nlink
    this.uid = s.uid
    this.gid = s.gid
    this.size = s.size
    this.blocks = s.blocks
    this.atimeNs = s.atimeNs
    this.mtimeNs = s.mtimeNs
    this.ctimeNs = s.ctimeNs
    this.birthtimeNs = s.birthtimeNs
    this.atimeMs = nsToMs(s.atimeNs)
    this.mtimeMs = nsToMs(s.mtimeNs)
    this.ctimeMs = nsToMs(s.ctimeNs)
    this.birthtimeMs = nsToMs(s.birthtimeNs)
    this.atime = new Date(this.atimeMs)
    this.mtime = new Date(this.mtimeMs)
    this.ctime = new Date(this.ctimeMs)
    this.birthtime = new Date(this.birthtimeMs)
  }
  isFile() {
    return (this.mode & 0o170000) === typeBits.file
  }
  isDirectory() {
    return (this.mode & 0o170000) === typeBits.dir
  }
  isSymbolicLink() {
    return (this.mode & 0o170000) === typeBits.symlink
  }
  isBlockDevice() {
    return false
  }
  isCharacterDevice() {
    return false
  }
  isFIFO() {
    return false
  }
  isSocket() {
    return false
  }
}

/** Node's `fs.Dirent` (`name` is a `Buffer` when the listing asked for encoding `"buffer"`). */
export class Dirent<Name extends string | Buffer = string> {
  constructor(
    readonly name: Name,
    private readonly type: FileType,
    readonly parentPath: string
  ) {}
  get path() {
    return this.parentPath
  }
  isFile() {
    return this.type === "file"
  }
  isDirectory() {
    return this.type === "dir"
  }
  isSymbolicLink() {
    return this.type === "symlink"
  }
  isBlockDevice() {
    return false
  }
  isCharacterDevice() {
    return false
  }
  isFIFO() {
    return false
  }
  isSocket() {
    return false
  }
}

/** Node's `fs.constants` (the part this file system honours). */
export const constants = {
  O_RDONLY: O.RDONLY,
  O_WRONLY: O.WRONLY,
  O_RDWR: O.RDWR,
  O_CREAT: O.CREAT,
  O_EXCL: O.EXCL,
  O_TRUNC: O.TRUNC,
  O_APPEND: O.APPEND,
  O_DIRECTORY: O.DIRECTORY,
  O_NOFOLLOW: O.NOFOLLOW,
  O_SYNC: O.SYNC,
  O_DSYNC: O.DSYNC,
  F_OK: 0,
  R_OK: 4,
  W_OK: 2,
  X_OK: 1,
  COPYFILE_EXCL: 1,
  COPYFILE_FICLONE: 2,
  COPYFILE_FICLONE_FORCE: 4,
  S_IFMT: 0o170000,
  S_IFREG: 0o100000,
  S_IFDIR: 0o040000,
  S_IFLNK: 0o120000
} as const

type PathLike = string | Uint8Array | URL
type Data = string | Uint8Array

/** A checked absolute path (relative paths resolve against `/`); throws `InvalidArgType`. */
const pathArg = (p: unknown, name = "path"): string => {
  let s: string
  if (typeof p === "string") s = p
  else if (p instanceof URL) {
    if (p.protocol !== "file:") throw new InvalidArgType(name, "of type string or an instance of Buffer or URL", p)
    s = decodeURIComponent(p.pathname)
  } else if (p instanceof Uint8Array) s = new TextDecoder().decode(p)
  else throw new InvalidArgType(name, "of type string or an instance of Buffer or URL", p)
  if (s.includes("\0")) throw new InvalidArgType(name, "a string without null bytes", p)
  return s.startsWith("/") ? s : "/" + s
}

const dataArg = (d: unknown, encoding: BufferEncoding | undefined): Uint8Array => {
  if (typeof d === "string") return Buffer.from(d, encoding ?? "utf8")
  if (d instanceof Uint8Array) return d
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
  throw new InvalidArgType("data", "of type string or an instance of Buffer, TypedArray, or DataView", d)
}

type Opts = { encoding?: BufferEncoding | null; flag?: string | number; mode?: number } | BufferEncoding | null | undefined
const optsOf = (o: Opts): { encoding?: BufferEncoding | null; flag?: string | number; mode?: number } => (typeof o === "string" ? { encoding: o } : (o ?? {}))

const decodeOut = (bytes: Uint8Array, encoding: BufferEncoding | null | undefined): Buffer | string => {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return encoding === undefined || encoding === null || (encoding as string) === "buffer" ? b : b.toString(encoding)
}

/** The `encoding` option of a call that returns names or paths: a string, or `{ encoding }`. */
type EncodingOption = { encoding?: BufferEncoding | "buffer" | null } | BufferEncoding | "buffer" | null | undefined
/** What such a call returns for `O`: a `Buffer` with encoding `"buffer"`, a string otherwise. */
type NameOf<O> = O extends "buffer" | { encoding: "buffer" } ? Buffer : string
const encodingOf = (o: EncodingOption): BufferEncoding | "buffer" | null | undefined => (typeof o === "object" && o !== null ? o.encoding : o)
/** A name or path as Node returns it: UTF-8 bytes re-encoded (`"buffer"` gives the bytes), UTF-8 by default. */
const nameOut = (name: string, encoding: BufferEncoding | "buffer" | null | undefined): string | Buffer =>
  encoding === "buffer"
    ? Buffer.from(name)
    : encoding === undefined || encoding === null || encoding === "utf8" || encoding === "utf-8"
      ? name
      : Buffer.from(name).toString(encoding)

const modeNum = (m: unknown, dflt: number): number => (m === undefined ? dflt : typeof m === "string" ? parseInt(m, 8) : (m as number))
const timeNs = (t: unknown): bigint => {
  if (t instanceof Date) return BigInt(t.getTime()) * 1_000_000n
  if (typeof t === "string") return BigInt(Math.round(Number(t) * 1e9))
  if (typeof t === "number") return BigInt(Math.round(t * 1e6)) * 1000n
  throw new InvalidArgType("time", "of type number, string or an instance of Date", t)
}

/**
 * Node's `FileHandle`: `fd`, and read, write, readFile, writeFile, appendFile, stat, truncate,
 * sync, datasync, close. Errors as the `fs` methods (`EBADF` after close).
 */
export class FileHandle {
  constructor(
    private readonly vfs: Vfs.Vfs,
    private readonly run: Runner,
    readonly fd: number
  ) {}
  async read(
    buffer?: Uint8Array | { buffer?: Uint8Array; offset?: number; length?: number; position?: number | null },
    offset?: number,
    length?: number,
    position?: number | null
  ) {
    let buf: Uint8Array
    if (buffer === undefined || !(buffer instanceof Uint8Array)) {
      const o = buffer ?? {}
      buf = o.buffer ?? Buffer.alloc(16384)
      offset = o.offset
      length = o.length
      position = o.position
    } else buf = buffer
    const off = offset ?? 0
    const len = length ?? buf.length - off
    if (off < 0 || len < 0 || off + len > buf.length) throw new NodeFsError("EINVAL", "read")
    const bytes = await this.run(Effect.mapError(Vfs.readBytes(this.vfs, this.fd, len, position ?? -1), (e) => toNodeError(e, "read")))
    buf.set(bytes, off)
    return { bytesRead: bytes.length, buffer: buf }
  }
  async write(data: Data, offsetOrPosition?: number | null, lengthOrEncoding?: number | BufferEncoding, position?: number | null) {
    let bytes: Uint8Array
    let pos: number | null | undefined
    if (typeof data === "string") {
      bytes = dataArg(data, typeof lengthOrEncoding === "string" ? lengthOrEncoding : undefined)
      pos = offsetOrPosition
    } else {
      const src = dataArg(data, undefined)
      const off = offsetOrPosition ?? 0
      const len = typeof lengthOrEncoding === "number" ? lengthOrEncoding : src.length - off
      bytes = src.subarray(off, off + len)
      pos = position
    }
    const n = await this.run(Effect.mapError(Vfs.writeBytes(this.vfs, this.fd, bytes, pos ?? -1), (e) => toNodeError(e, "write")))
    return { bytesWritten: n, buffer: data }
  }
  async readFile(options?: Opts) {
    const o = optsOf(options)
    const bytes = await this.run(
      Effect.flatMap(
        Effect.mapError(Vfs.fstat(this.vfs, this.fd), (e) => toNodeError(e, "fstat")),
        (st) => Effect.mapError(Vfs.readToEnd(this.vfs, this.fd, st.size), (e) => toNodeError(e, "read"))
      )
    )
    return decodeOut(bytes, o.encoding)
  }
  async writeFile(data: Data, options?: Opts) {
    const bytes = dataArg(data, optsOf(options).encoding ?? undefined)
    await this.run(Effect.mapError(Vfs.writeBytes(this.vfs, this.fd, bytes), (e) => toNodeError(e, "write")))
  }
  appendFile(data: Data, options?: Opts) {
    return this.writeFile(data, options)
  }
  async stat() {
    return new Stats(await this.run(Effect.mapError(Vfs.fstat(this.vfs, this.fd), (e) => toNodeError(e, "fstat"))))
  }
  async truncate(len = 0) {
    await this.run(Effect.mapError(this.vfs.ftruncate({ fd: this.fd, size: len }), (e) => toNodeError(Vfs.fsError(e, "ftruncate"), "ftruncate")))
  }
  async sync() {
    await this.stat()
  }
  async datasync() {
    await this.stat()
  }
  async close() {
    await this.run(Effect.mapError(this.vfs.close({ fd: this.fd }), (e) => toNodeError(Vfs.fsError(e, "close"), "close")))
  }
}

/** The promise API of a Node-compatible `fs` over the VFS client `vfs`, run by `run`. */
export const makePromises = (vfs: Vfs.Vfs, run: Runner) => {
  const call = <A>(syscall: string, path: string | undefined, e: Effect.Effect<A, unknown, Process>) =>
    run(Effect.mapError(e, (x) => toNodeError(Vfs.fsError(x, syscall, path), syscall, path)))
  const statOf = (p: string, follow: boolean) => call(follow ? "stat" : "lstat", p, Vfs.stat(vfs, p, follow)).then((s) => new Stats(s))
  const rmRec = (p: string): Effect.Effect<void, unknown, Process> =>
    Effect.gen(function* () {
      const st = yield* vfs.stat({ path: p, follow: false })
      if (st.type !== "dir") return yield* vfs.unlink({ path: p })
      const entries = yield* Vfs.readdirAll(vfs, p)
      for (const e of entries) yield* rmRec(p === "/" ? `/${e.name}` : `${p}/${e.name}`)
      yield* vfs.rmdir({ path: p })
    })
  const promises = {
    constants,
    async open(path: PathLike, flags: string | number = "r", mode?: number | string) {
      const p = pathArg(path)
      const { fd } = await call("open", p, vfs.open({ path: p, flags, mode: modeNum(mode, 0o666) }))
      return new FileHandle(vfs, run, fd)
    },
    async readFile(path: PathLike | FileHandle, options?: Opts) {
      const o = optsOf(options)
      if (path instanceof FileHandle) return path.readFile(o)
      const p = pathArg(path)
      return decodeOut(await call("open", p, Vfs.readFile(vfs, p, o.flag ?? "r")), o.encoding)
    },
    async writeFile(path: PathLike | FileHandle, data: Data, options?: Opts) {
      const o = optsOf(options)
      if (path instanceof FileHandle) return path.writeFile(data, o)
      const p = pathArg(path)
      const bytes = dataArg(data, o.encoding ?? undefined)
      await call("open", p, Vfs.writeFile(vfs, p, bytes, o.flag ?? "w", modeNum(o.mode, 0o666)))
    },
    async appendFile(path: PathLike | FileHandle, data: Data, options?: Opts) {
      const o = optsOf(options)
      if (path instanceof FileHandle) return path.appendFile(data, o)
      const p = pathArg(path)
      await call("open", p, Vfs.writeFile(vfs, p, dataArg(data, o.encoding ?? undefined), o.flag ?? "a", modeNum(o.mode, 0o666)))
    },
    stat: async (path: PathLike) => statOf(pathArg(path), true),
    lstat: async (path: PathLike) => statOf(pathArg(path), false),
    /** Names, or `Dirent`s with `withFileTypes`; `encoding` as Node (`"buffer"` gives `Buffer` names). */
    async readdir(
      path: PathLike,
      options?: { withFileTypes?: boolean; encoding?: BufferEncoding | "buffer" | null } | BufferEncoding | "buffer" | null
    ): Promise<Array<Dirent> | Array<Dirent<Buffer>> | Array<string> | Array<Buffer>> {
      const p = pathArg(path)
      const entries: Array<DirEntry> = await call("scandir", p, Vfs.readdirAll(vfs, p))
      const encoding = encodingOf(options)
      const withTypes = typeof options === "object" && options !== null && options.withFileTypes === true
      if (withTypes) return entries.map((e) => new Dirent(nameOut(e.name, encoding), e.type, p)) as Array<Dirent> | Array<Dirent<Buffer>>
      return entries.map((e) => nameOut(e.name, encoding)) as Array<string> | Array<Buffer>
    },
    async mkdir(path: PathLike, options?: { recursive?: boolean; mode?: number | string } | number | string) {
      const p = pathArg(path)
      const o: { recursive?: boolean; mode?: number | string | undefined } = typeof options === "object" && options !== null ? options : { mode: options }
      const first = await call("mkdir", p, vfs.mkdir({ path: p, mode: modeNum(o.mode, 0o777), recursive: o.recursive === true }))
      return o.recursive === true ? (first ?? undefined) : undefined
    },
    async rmdir(path: PathLike) {
      const p = pathArg(path)
      await call("rmdir", p, vfs.rmdir({ path: p }))
    },
    async rm(path: PathLike, options?: { recursive?: boolean; force?: boolean }) {
      const p = pathArg(path)
      const o = options ?? {}
      try {
        const st = await statOf(p, false)
        if (st.isDirectory() && o.recursive !== true) throw new NodeFsError("EISDIR", "rm", p)
        await call("rm", p, o.recursive === true ? rmRec(p) : vfs.unlink({ path: p }))
      } catch (e) {
        if (o.force === true && (e as NodeFsError).code === "ENOENT") return
        throw e
      }
    },
    async unlink(path: PathLike) {
      const p = pathArg(path)
      await call("unlink", p, vfs.unlink({ path: p }))
    },
    async rename(from: PathLike, to: PathLike) {
      const a = pathArg(from, "oldPath")
      const b = pathArg(to, "newPath")
      await call("rename", a, vfs.rename({ from: a, to: b }))
    },
    async truncate(path: PathLike, len = 0) {
      const p = pathArg(path)
      await call("open", p, vfs.truncate({ path: p, size: len }))
    },
    async symlink(target: PathLike, path: PathLike) {
      const t = typeof target === "string" ? target : pathArg(target, "target")
      const p = pathArg(path)
      await call("symlink", t, vfs.symlink({ target: t, path: p }))
    },
    /** The link's target; `encoding` as Node (`"buffer"` gives a `Buffer`). */
    async readlink<O extends EncodingOption = undefined>(path: PathLike, options?: O): Promise<NameOf<O>> {
      const p = pathArg(path)
      return nameOut(await call("readlink", p, vfs.readlink({ path: p })), encodingOf(options)) as NameOf<O>
    },
    async link(existing: PathLike, path: PathLike) {
      const a = pathArg(existing, "existingPath")
      const b = pathArg(path, "newPath")
      await call("link", a, vfs.link({ existing: a, path: b }))
    },
    /** The resolved path; `encoding` as Node (`"buffer"` gives a `Buffer`). */
    async realpath<O extends EncodingOption = undefined>(path: PathLike, options?: O): Promise<NameOf<O>> {
      const p = pathArg(path)
      return nameOut(await call("realpath", p, vfs.realpath({ path: p })), encodingOf(options)) as NameOf<O>
    },
    /**
     * Checks `mode` (`F_OK` by default: existence; or any of `R_OK | W_OK | X_OK`) with this client's
     * credentials. Errors: `ENOENT`, `EACCES` (a permission missing, on the file or on a directory
     * on the way), `EINVAL` (other bits).
     */
    async access(path: PathLike, mode: number = constants.F_OK) {
      const p = pathArg(path)
      await call("access", p, vfs.access({ path: p, mode }))
    },
    async copyFile(src: PathLike, dest: PathLike, mode = 0) {
      const a = pathArg(src, "src")
      const b = pathArg(dest, "dest")
      await call(
        "copyfile",
        a,
        Effect.flatMap(Vfs.readFile(vfs, a), (bytes) => Vfs.writeFile(vfs, b, bytes, (mode & constants.COPYFILE_EXCL) !== 0 ? "wx" : "w"))
      )
    },
    async utimes(path: PathLike, atime: Date | number | string, mtime: Date | number | string) {
      const p = pathArg(path)
      const atimeNs = timeNs(atime)
      const mtimeNs = timeNs(mtime)
      await call("utime", p, vfs.setattr({ path: p, follow: true, atimeNs, mtimeNs }))
    },
    async chmod(path: PathLike, mode: number | string) {
      const p = pathArg(path)
      await call("chmod", p, vfs.setattr({ path: p, follow: true, mode: modeNum(mode, 0) }))
    },
    async chown(path: PathLike, uid: number, gid: number) {
      const p = pathArg(path)
      await call("chown", p, vfs.setattr({ path: p, follow: true, uid, gid }))
    },
    /** A new directory `prefix` + six random characters; `encoding` as Node (`"buffer"` gives a `Buffer`). */
    async mkdtemp<O extends EncodingOption = undefined>(prefix: string, options?: O): Promise<NameOf<O>> {
      if (typeof prefix !== "string") throw new InvalidArgType("prefix", "of type string", prefix)
      const p = pathArg(prefix, "prefix")
      for (;;) {
        const candidate = p + Math.random().toString(36).slice(2, 8).padEnd(6, "0")
        try {
          await call("mkdtemp", candidate, vfs.mkdir({ path: candidate, mode: 0o700, recursive: false }))
          return nameOut(candidate, encodingOf(options)) as NameOf<O>
        } catch (e) {
          if ((e as NodeFsError).code !== "EEXIST") throw e
        }
      }
    }
  }
  return promises
}

/** The promise API's type. */
export type Promises = ReturnType<typeof makePromises>

type Callback = (err: unknown, value?: unknown) => void

/** Callback-style twin of a promise function: the last argument is the callback. */
const callbackOf =
  (f: (...args: Array<any>) => Promise<unknown>) =>
  (...args: Array<unknown>) => {
    const cb = args[args.length - 1]
    if (typeof cb !== "function") throw new InvalidArgType("cb", "of type function", cb)
    let p: Promise<unknown>
    try {
      p = f(...args.slice(0, -1))
    } catch (e) {
      p = Promise.reject(e)
    }
    p.then(
      (v) => (cb as Callback)(null, v instanceof FileHandle ? v.fd : v),
      (e) => (cb as Callback)(e)
    )
  }

/**
 * A Node-compatible `fs` object: `promises`, the callback API for the same methods, descriptor
 * callbacks (`read`, `write`, `close`, `fstat`), `createReadStream`, `createWriteStream`, `Stats`,
 * `Dirent` and `constants`.
 */
export const makeFs = (vfs: Vfs.Vfs, run: Runner) => {
  const promises = makePromises(vfs, run)
  const handle = (fd: unknown) => {
    if (typeof fd !== "number") throw new InvalidArgType("fd", "of type number", fd)
    return new FileHandle(vfs, run, fd)
  }
  const record: Record<string, (...args: Array<unknown>) => void> = {}
  for (const [name, f] of Object.entries(promises)) if (typeof f === "function") record[name] = callbackOf(f as (...a: Array<unknown>) => Promise<unknown>)
  const cb = record as { readonly [K in Exclude<keyof Promises, "constants">]: (...args: Array<any>) => void }
  const fs = {
    ...cb,
    promises,
    constants,
    Stats,
    Dirent,
    read: callbackOf(async (fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null) => {
      const r = await handle(fd).read(buffer, offset, length, position)
      return r.bytesRead
    }),
    write: callbackOf(async (fd: number, data: Data, ...rest: Array<any>) => (await handle(fd).write(data, ...rest)).bytesWritten),
    close: callbackOf(async (fd: number) => handle(fd).close()),
    fstat: callbackOf(async (fd: number) => handle(fd).stat()),
    ftruncate: callbackOf(async (fd: number, len?: number) => handle(fd).truncate(len)),
    fsync: callbackOf(async (fd: number) => handle(fd).sync()),
    exists: (path: PathLike, callback: (exists: boolean) => void) => {
      promises.access(path).then(
        () => callback(true),
        () => callback(false)
      )
    },
    /** A readable stream of the file's bytes (`start`/`end` inclusive, `highWaterMark` per read). */
    createReadStream(path: PathLike, options?: { start?: number; end?: number; highWaterMark?: number; encoding?: BufferEncoding; flags?: string }) {
      const o = options ?? {}
      let fh: FileHandle | undefined
      let pos = o.start ?? 0
      const end = o.end ?? Infinity
      const chunk = o.highWaterMark ?? 65536
      const stream = new Readable({
        highWaterMark: chunk,
        read() {
          const go = async () => {
            fh ??= await promises.open(path, o.flags ?? "r")
            const want = Math.min(chunk, end - pos + 1)
            if (want <= 0) return null
            const { bytesRead, buffer } = await fh.read(Buffer.alloc(want), 0, want, pos)
            pos += bytesRead
            return bytesRead === 0 ? null : buffer.subarray(0, bytesRead)
          }
          go().then(
            (b) => this.push(b),
            (e) => this.destroy(e as Error)
          )
        },
        destroy(error, done) {
          const h = fh
          fh = undefined
          if (h === undefined) done(error)
          else
            h.close().then(
              () => done(error),
              () => done(error)
            )
        }
      })
      if (o.encoding !== undefined) stream.setEncoding(o.encoding)
      return stream
    },
    /** A writable stream into the file (flags default `w`). */
    createWriteStream(path: PathLike, options?: { flags?: string; mode?: number }) {
      const o = options ?? {}
      let fh: Promise<FileHandle> | undefined
      const opened = () => (fh ??= promises.open(path, o.flags ?? "w", o.mode))
      return new Writable({
        write(data: Buffer, _enc, done) {
          opened()
            .then((h) => h.write(data))
            .then(
              () => done(),
              (e) => done(e as Error)
            )
        },
        final(done) {
          opened()
            .then((h) => h.close())
            .then(
              () => done(),
              (e) => done(e as Error)
            )
        }
      })
    }
  }
  return fs
}

/** The type of the Node-compatible `fs` object. */
export type NodeFs = ReturnType<typeof makeFs>
