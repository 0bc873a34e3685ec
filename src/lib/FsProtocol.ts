/**
 * The file-system protocol: what every file-system server implements and what the VFS speaks to
 * a mount. Inode-level and path-free: the VFS owns names above a single directory (mounts, `.`,
 * `..`, symbolic links); a file-system server only looks a name up in one directory.
 *
 * Data never travels in a payload. `read` carries a lease the server writes into, `write` a lease
 * it reads from (the VFS forwards the client's lease with `from:`, so the server copies straight
 * between the client's memory and its own frames), and `writeGrant` carries pages that become the
 * file's pages.
 *
 * Every failure is `FsError` with a POSIX code (`ENOENT`, `EEXIST`, `ENOTDIR`, `EISDIR`,
 * `ENOTEMPTY`, `EINVAL`, `ENOSPC`, `EIO`, `ESTALE` for a guard that no longer holds…).
 *
 * Policy-free: a file-system server stores modes and owners and checks no permissions; the VFS,
 * which knows who calls, is the reference monitor.
 */
import { Schema } from "effect"
import * as Protocol from "../ipc/Protocol.js"

/** What an `FsError` holds: the POSIX code, and the syscall, path and destination the VFS names. */
export interface FsErrorFields {
  readonly code: string
  readonly syscall?: string | undefined
  readonly path?: string | undefined
  readonly dest?: string | undefined
}

/**
 * A POSIX error. `syscall`, `path` and `dest` are filled in by the VFS (a file-system server knows
 * inodes, not paths). On the wire it is `FsErrorSchema`.
 *
 * A plain error made without a stack trace: an `FsError` is an answer that crosses processes,
 * where the stack of the thread that made it says nothing, and an `ENOENT` is an everyday answer
 * (a globber's misses). As a Schema class (a stack capture, a check of its fields, defaults merged)
 * it was the largest single cost of a `stat` that misses.
 */
export class FsError extends Error implements FsErrorFields {
  readonly _tag = "FsError"
  readonly code: string
  // Declared, not defined: an absent field is no property at all, as Node's errors have it.
  declare readonly syscall?: string
  declare readonly path?: string
  declare readonly dest?: string

  constructor(props: FsErrorFields) {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super()
    Error.stackTraceLimit = limit
    this.code = props.code
    if (props.syscall !== undefined) this.syscall = props.syscall
    if (props.path !== undefined) this.path = props.path
    if (props.dest !== undefined) this.dest = props.dest
  }

  override get message() {
    return `${this.code}: ${this.syscall ?? "fs"}${this.path === undefined ? "" : ` '${this.path}'`}${this.dest === undefined ? "" : ` -> '${this.dest}'`}`
  }
}
FsError.prototype.name = "FsError"

/** `FsError` on the wire: its fields as a struct (tag, code, and the optional syscall, path and destination). */
export const FsErrorSchema = Schema.transform(
  Schema.Struct({
    _tag: Schema.Literal("FsError"),
    code: Schema.String,
    syscall: Schema.optional(Schema.String),
    path: Schema.optional(Schema.String),
    dest: Schema.optional(Schema.String)
  }),
  Schema.declare((u: unknown): u is FsError => u instanceof FsError, { identifier: "FsError" }),
  {
    strict: true,
    decode: (fields) => new FsError(fields),
    encode: (e) => ({
      _tag: "FsError" as const,
      code: e.code,
      ...(e.syscall === undefined ? {} : { syscall: e.syscall }),
      ...(e.path === undefined ? {} : { path: e.path }),
      ...(e.dest === undefined ? {} : { dest: e.dest })
    })
  }
)

/** Longest name in a directory (`ENAMETOOLONG` beyond), as on most POSIX file systems. */
export const NAME_MAX = 255
/** Most bytes of names in one `readdir` page (kept well under the protocol's message size). */
export const DIR_PAGE_BYTES = 8192

/** Kinds of inode. */
export const FileType = Schema.Literal("file", "dir", "symlink")
export type FileType = typeof FileType.Type

/**
 * An inode's attributes. Each time is POSIX's `timespec`: whole seconds since the epoch (`…Sec`,
 * negative before it) and nanoseconds within the second (`…Nsec`, `0..999_999_999`): exact to the
 * nanosecond, and plain numbers on the wire (a bigint travels as decimal text, which made an
 * `Attr` cost about 3× as much to encode and decode).
 */
export const Attr = Schema.Struct({
  ino: Schema.Int,
  type: FileType,
  /** Permission bits only (`0o7777`); the type is `type`. */
  mode: Schema.Int,
  nlink: Schema.Int,
  uid: Schema.Int,
  gid: Schema.Int,
  size: Schema.Int,
  blocks: Schema.Int,
  atimeSec: Schema.Int,
  atimeNsec: Schema.Int,
  mtimeSec: Schema.Int,
  mtimeNsec: Schema.Int,
  ctimeSec: Schema.Int,
  ctimeNsec: Schema.Int,
  birthtimeSec: Schema.Int,
  birthtimeNsec: Schema.Int
})
export type Attr = typeof Attr.Type

const NS = 1_000_000_000n

/** A `timespec` (seconds, nanoseconds) as nanoseconds since the epoch. */
export const toNs = (sec: number, nsec: number): bigint => BigInt(sec) * NS + BigInt(nsec)

/** Nanoseconds since the epoch as a `timespec`: `[sec, nsec]`, `nsec` in `0..999_999_999` (floor division, also before the epoch). */
export const fromNs = (ns: bigint): readonly [number, number] => {
  let sec = ns / NS
  let nsec = ns % NS
  if (nsec < 0n) {
    sec -= 1n
    nsec += NS
  }
  return [Number(sec), Number(nsec)]
}

/** One directory entry. */
export interface DirEntry {
  readonly name: string
  readonly type: FileType
}

/**
 * A page of directory entries, packed: `names` joined by `/` (which no name contains; `""` for
 * none) and `types` one character per entry (`f` file, `d` directory, `l` symbolic link), so a
 * page is two strings on the wire rather than an object per entry (a hundred entries cost 35 µs to
 * write and read as objects, 4 µs packed). `next` is the cookie of the next page, -1 at the end.
 */
export const DirPage = Schema.Struct({ names: Schema.String, types: Schema.String, next: Schema.Int })
export type DirPage = typeof DirPage.Type

const typeChar: Record<FileType, string> = { file: "f", dir: "d", symlink: "l" }
const charType: Record<string, FileType> = { f: "file", d: "dir", l: "symlink" }

/** Packs `entries` into a page whose next cookie is `next`. */
export const packDir = (entries: ReadonlyArray<DirEntry>, next: number): DirPage => {
  let types = ""
  for (const e of entries) types += typeChar[e.type]
  return { names: entries.map((e) => e.name).join("/"), types, next }
}

/** The entries of a page, appended to `out`. A page whose names and types do not match in count fails with `EIO` (a broken server). */
export const unpackDir = (page: DirPage, out: Array<DirEntry>): FsError | undefined => {
  if (page.names === "") return page.types === "" ? undefined : new FsError({ code: "EIO" })
  const names = page.names.split("/")
  if (names.length !== page.types.length) return new FsError({ code: "EIO" })
  for (let i = 0; i < names.length; i++) {
    const type = charType[page.types[i]!]
    if (type === undefined || names[i] === "") return new FsError({ code: "EIO" })
    out.push({ name: names[i]!, type })
  }
  return undefined
}

/** What a removal leaves: the inode whose name went, and its links left (0: it lives on only while the VFS holds it open). */
export const Removed = Schema.Struct({ ino: Schema.Int, nlink: Schema.Int })
export type Removed = typeof Removed.Type

const Ino = Schema.Int
const Name = Schema.String
const Owner = { uid: Schema.Int, gid: Schema.Int }

/**
 * What `setattr` may change, each field optional: the mode, the owner, explicit times, or (`now`)
 * both times to the file system's clock. Shared by the VFS's own `setattr`.
 */
export const AttrChanges = {
  now: Schema.optional(Schema.Boolean),
  mode: Schema.optional(Schema.Int),
  uid: Schema.optional(Schema.Int),
  gid: Schema.optional(Schema.Int),
  atimeNs: Schema.optional(Schema.BigInt),
  mtimeNs: Schema.optional(Schema.BigInt)
}

/** The file-system protocol. Operation order is the wire order: append only. */
export const FsProtocol = Protocol.make("fs", {
  /** The root directory's attributes. */
  root: Protocol.operation({ success: Attr, failure: FsErrorSchema, idempotent: true }),
  lookup: Protocol.operation({ payload: { dir: Ino, name: Name }, success: Attr, failure: FsErrorSchema, idempotent: true }),
  getattr: Protocol.operation({ payload: { ino: Ino }, success: Attr, failure: FsErrorSchema, idempotent: true }),
  /**
   * Opens or creates `name` in `dir` as a regular file and counts an open (see `release`). The VFS
   * counts its clients' descriptors itself and holds one such open per inode it keeps open.
   */
  create: Protocol.operation({
    payload: { dir: Ino, name: Name, mode: Schema.Int, ...Owner, exclusive: Schema.Boolean, truncate: Schema.Boolean },
    success: Attr,
    failure: FsErrorSchema
  }),
  /** Counts an open of an existing inode (an unlinked file lives while it is open); may truncate it. */
  open: Protocol.operation({ payload: { ino: Ino, truncate: Schema.Boolean }, success: Attr, failure: FsErrorSchema }),
  release: Protocol.operation({ payload: { ino: Ino }, failure: FsErrorSchema }),
  mkdir: Protocol.operation({ payload: { dir: Ino, name: Name, mode: Schema.Int, ...Owner }, success: Attr, failure: FsErrorSchema }),
  symlink: Protocol.operation({ payload: { dir: Ino, name: Name, target: Schema.String, ...Owner }, success: Attr, failure: FsErrorSchema }),
  readlink: Protocol.operation({ payload: { ino: Ino }, success: Schema.String, failure: FsErrorSchema, idempotent: true }),
  link: Protocol.operation({ payload: { dir: Ino, name: Name, ino: Ino }, success: Attr, failure: FsErrorSchema }),
  /**
   * Removes `name` from `dir`; with `ino`, only while `name` still names inode `ino` (else
   * `ESTALE`). Answers the inode removed and its links left, so the VFS can keep its caches exact
   * (another name of the same inode) and let go of an inode it holds open once no link is left.
   */
  unlink: Protocol.operation({ payload: { dir: Ino, name: Name, ino: Schema.optional(Ino) }, success: Removed, failure: FsErrorSchema }),
  /** Removes the empty directory `name` from `dir`; `ino` and the answer as `unlink`. */
  rmdir: Protocol.operation({ payload: { dir: Ino, name: Name, ino: Schema.optional(Ino) }, success: Removed, failure: FsErrorSchema }),
  /**
   * Moves `fromName` of `fromDir` to `toName` of `toDir`, replacing what was there. Guards, when
   * given: `fromIno`, the inode `fromName` must still name; `toIno`, the inode `toName` must still
   * name, 0 for "must not exist". A guard that no longer holds fails with `ESTALE` and changes
   * nothing (the VFS checked permissions on what it looked up; see `VfsServer`). Answers the
   * inode moved and, when a name was replaced, what that removal left (as `unlink`).
   */
  rename: Protocol.operation({
    payload: { fromDir: Ino, fromName: Name, toDir: Ino, toName: Name, fromIno: Schema.optional(Ino), toIno: Schema.optional(Ino) },
    success: { ino: Ino, replaced: Schema.NullOr(Removed) },
    failure: FsErrorSchema
  }),
  readdir: Protocol.operation({ payload: { dir: Ino, cookie: Schema.Int }, success: DirPage, failure: FsErrorSchema, idempotent: true }),
  /** Copies up to `length` bytes at `offset` into the lease; returns the count (0 at end of file). */
  read: Protocol.operation({
    payload: { ino: Ino, offset: Schema.Int, length: Schema.Int },
    success: Schema.Int,
    failure: FsErrorSchema,
    idempotent: true,
    items: [{ _tag: "lease", access: "write" }]
  }),
  /**
   * Copies `length` bytes of the lease to `offset` (the end of file, atomically, with `append`);
   * with `truncate`, the file is emptied first in the same step (`O_TRUNC` and the write as one).
   */
  write: Protocol.operation({
    payload: { ino: Ino, offset: Schema.Int, length: Schema.Int, append: Schema.Boolean, truncate: Schema.Boolean },
    success: { offset: Schema.Int, written: Schema.Int, size: Schema.Int },
    failure: FsErrorSchema,
    items: [{ _tag: "lease", access: "read" }]
  }),
  /** The granted pages become the file's pages at the page-aligned `offset`, no copy; `length` may end mid-page. */
  writeGrant: Protocol.operation({
    payload: { ino: Ino, offset: Schema.Int, length: Schema.Int },
    success: { offset: Schema.Int, written: Schema.Int, size: Schema.Int },
    failure: FsErrorSchema,
    items: [{ _tag: "grant" }]
  }),
  truncate: Protocol.operation({ payload: { ino: Ino, size: Schema.Int }, success: Attr, failure: FsErrorSchema }),
  /** Changes what is given; with `now`, atime and mtime become the server's clock (`atimeNs`/`mtimeNs` ignored). */
  setattr: Protocol.operation({
    payload: { ino: Ino, ...AttrChanges },
    success: Attr,
    failure: FsErrorSchema
  }),
  /**
   * A call the server keeps and never answers: the VFS holds one per mount, so the kernel tells
   * it at once when the server dies (the call fails with `PeerDied`) and it can stop answering
   * from its cache, with no call per request to ask whether the server lives.
   */
  hold: Protocol.operation({ failure: FsErrorSchema })
})
export type FsProtocol = typeof FsProtocol
