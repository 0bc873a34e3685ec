/**
 * Node's `fs.Stats`, `fs.BigIntStats`, `fs.StatFs` and `fs.Dirent`, field for field and in Node's
 * field order (so `JSON.stringify` of a `Stats` reads as Node's), built from the VFS's `Stat`.
 *
 * Times: the VFS keeps nanoseconds; `atimeMs` is `sec * 1e3 + nsec / 1e6` computed as Node computes
 * it from a timespec, the `Date`s are that rounded to a millisecond, and `BigIntStats` keeps the
 * nanoseconds (`atimeNs`) with `atimeMs` their whole milliseconds.
 */
import type { FsProtocol } from "../../api.js"
import { msOf, type Stat } from "../../servers/vfs/VfsProtocol.js"
import { constants } from "./constants.js"

type FileType = FsProtocol.FileType

const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } = constants
const typeBits: Record<FileType, number> = { file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK }
/** The block size every `Stats` reports. */
export const BLOCK_SIZE = 4096

/** The file-type tests every `Stats` and `BigIntStats` has. */
abstract class StatsBase<N extends number | bigint> {
  abstract readonly mode: N
  /** `mode`'s file-type bits are `type`. */
  protected _checkModeProperty(type: number): boolean {
    return typeof this.mode === "bigint" ? (this.mode & BigInt(S_IFMT)) === BigInt(type) : (this.mode & S_IFMT) === type
  }
  isDirectory() {
    return this._checkModeProperty(S_IFDIR)
  }
  isFile() {
    return this._checkModeProperty(S_IFREG)
  }
  isBlockDevice() {
    return this._checkModeProperty(S_IFBLK)
  }
  isCharacterDevice() {
    return this._checkModeProperty(S_IFCHR)
  }
  isSymbolicLink() {
    return this._checkModeProperty(S_IFLNK)
  }
  isFIFO() {
    return this._checkModeProperty(S_IFIFO)
  }
  isSocket() {
    return this._checkModeProperty(S_IFSOCK)
  }
}

/** Node's `dateFromMs`: a `Date` of the rounded milliseconds. */
const dateFromMs = (ms: number | bigint) => new Date(Math.round(Number(ms)))

/** Node's `fs.Stats` (its constructor's arguments in Node's order). */
export class Stats extends StatsBase<number> {
  declare readonly dev: number
  declare readonly mode: number
  declare readonly nlink: number
  declare readonly uid: number
  declare readonly gid: number
  declare readonly rdev: number
  declare readonly blksize: number
  declare readonly ino: number
  declare readonly size: number
  declare readonly blocks: number
  declare readonly atimeMs: number
  declare readonly mtimeMs: number
  declare readonly ctimeMs: number
  declare readonly birthtimeMs: number
  declare readonly atime: Date
  declare readonly mtime: Date
  declare readonly ctime: Date
  declare readonly birthtime: Date
  constructor(
    dev: number,
    mode: number,
    nlink: number,
    uid: number,
    gid: number,
    rdev: number,
    blksize: number,
    ino: number,
    size: number,
    blocks: number,
    atimeMs: number,
    mtimeMs: number,
    ctimeMs: number,
    birthtimeMs: number
  ) {
    super()
    // Assigned in Node's order: the order `JSON.stringify` and `Object.keys` show.
    this.dev = dev
    this.mode = mode
    this.nlink = nlink
    this.uid = uid
    this.gid = gid
    this.rdev = rdev
    this.blksize = blksize
    this.ino = ino
    this.size = size
    this.blocks = blocks
    this.atimeMs = atimeMs
    this.mtimeMs = mtimeMs
    this.ctimeMs = ctimeMs
    this.birthtimeMs = birthtimeMs
    this.atime = dateFromMs(atimeMs)
    this.mtime = dateFromMs(mtimeMs)
    this.ctime = dateFromMs(ctimeMs)
    this.birthtime = dateFromMs(birthtimeMs)
  }
}

/** Node's `fs.BigIntStats`: every field a bigint, with nanosecond times (`atimeNs`…). */
export class BigIntStats extends StatsBase<bigint> {
  declare readonly dev: bigint
  declare readonly mode: bigint
  declare readonly nlink: bigint
  declare readonly uid: bigint
  declare readonly gid: bigint
  declare readonly rdev: bigint
  declare readonly blksize: bigint
  declare readonly ino: bigint
  declare readonly size: bigint
  declare readonly blocks: bigint
  declare readonly atimeMs: bigint
  declare readonly mtimeMs: bigint
  declare readonly ctimeMs: bigint
  declare readonly birthtimeMs: bigint
  declare readonly atimeNs: bigint
  declare readonly mtimeNs: bigint
  declare readonly ctimeNs: bigint
  declare readonly birthtimeNs: bigint
  declare readonly atime: Date
  declare readonly mtime: Date
  declare readonly ctime: Date
  declare readonly birthtime: Date
  constructor(
    dev: bigint,
    mode: bigint,
    nlink: bigint,
    uid: bigint,
    gid: bigint,
    rdev: bigint,
    blksize: bigint,
    ino: bigint,
    size: bigint,
    blocks: bigint,
    atimeNs: bigint,
    mtimeNs: bigint,
    ctimeNs: bigint,
    birthtimeNs: bigint
  ) {
    super()
    const [atimeMs, mtimeMs, ctimeMs, birthtimeMs] = [atimeNs, mtimeNs, ctimeNs, birthtimeNs].map((ns) => ns / 1_000_000n) as [bigint, bigint, bigint, bigint]
    Object.assign(this, { dev, mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, atimeMs, mtimeMs, ctimeMs, birthtimeMs })
    Object.assign(this, { atimeNs, mtimeNs, ctimeNs, birthtimeNs })
    Object.assign(this, { atime: dateFromMs(atimeMs), mtime: dateFromMs(mtimeMs), ctime: dateFromMs(ctimeMs), birthtime: dateFromMs(birthtimeMs) })
  }
}

/** The mode Node reports: the type bits and the permission bits. */
export const modeOf = (s: Pick<Stat, "type" | "mode">): number => typeBits[s.type] | s.mode

/** A VFS `Stat` as Node's `Stats` (or, with `bigint`, `BigIntStats`). */
export const statsOf = (s: Stat, bigint: boolean): Stats | BigIntStats => {
  const mode = modeOf(s)
  if (bigint) {
    const b = BigInt
    return new BigIntStats(
      b(s.dev),
      b(mode),
      b(s.nlink),
      b(s.uid),
      b(s.gid),
      0n,
      b(BLOCK_SIZE),
      b(s.ino),
      b(s.size),
      b(s.blocks),
      s.atimeNs,
      s.mtimeNs,
      s.ctimeNs,
      s.birthtimeNs
    )
  }
  return new Stats(
    s.dev,
    mode,
    s.nlink,
    s.uid,
    s.gid,
    0,
    BLOCK_SIZE,
    s.ino,
    s.size,
    s.blocks,
    msOf(s.atimeSec, s.atimeNsec),
    msOf(s.mtimeSec, s.mtimeNsec),
    msOf(s.ctimeSec, s.ctimeNsec),
    msOf(s.birthtimeSec, s.birthtimeNsec)
  )
}

/** Node's `fs.StatFs`. */
export class StatFs<N extends number | bigint = number> {
  declare readonly type: N
  declare readonly bsize: N
  declare readonly blocks: N
  declare readonly bfree: N
  declare readonly bavail: N
  declare readonly files: N
  declare readonly ffree: N
  constructor(type: N, bsize: N, blocks: N, bfree: N, bavail: N, files: N, ffree: N) {
    Object.assign(this, { type, bsize, blocks, bfree, bavail, files, ffree })
  }
}

const kType = Symbol("type")
const direntTypes: Record<FileType, number> = { file: constants.UV_DIRENT_FILE, dir: constants.UV_DIRENT_DIR, symlink: constants.UV_DIRENT_LINK }

/** Node's `fs.Dirent`: `name`, `parentPath` (and its older name `path`), and the file-type tests. */
export class Dirent<Name extends string | Buffer = string> {
  declare readonly name: Name
  declare readonly parentPath: string | Uint8Array
  declare readonly path: string | Uint8Array
  declare private readonly [kType]: number
  constructor(name: Name, type: number, path: string | Uint8Array) {
    Object.assign(this, { name, parentPath: path, path, [kType]: type })
  }
  isDirectory() {
    return this[kType] === constants.UV_DIRENT_DIR
  }
  isFile() {
    return this[kType] === constants.UV_DIRENT_FILE
  }
  isBlockDevice() {
    return this[kType] === constants.UV_DIRENT_BLOCK
  }
  isCharacterDevice() {
    return this[kType] === constants.UV_DIRENT_CHAR
  }
  isSymbolicLink() {
    return this[kType] === constants.UV_DIRENT_LINK
  }
  isFIFO() {
    return this[kType] === constants.UV_DIRENT_FIFO
  }
  isSocket() {
    return this[kType] === constants.UV_DIRENT_SOCKET
  }
}

/** A directory entry of the VFS as Node's `Dirent`, named as `name` and under `parentPath`. */
export const direntOf = <Name extends string | Buffer>(name: Name, type: FileType, parentPath: string | Uint8Array): Dirent<Name> =>
  new Dirent(name, direntTypes[type], parentPath)
