/**
 * The VFS protocol: what clients (the `fs` object, the FileSystem layer, any process holding a
 * capability to the VFS port) call. Paths are absolute; the caller's badge names its descriptor
 * table, so two clients' descriptors never mix and cannot be forged.
 *
 * `read` and `write` carry the caller's buffer as a lease; the VFS forwards it to the mount's
 * file-system server and never touches the bytes. `writeGrant` carries whole pages that become
 * file pages. Every failure is `FsError` with `code`, `syscall` and `path` set.
 *
 * The VFS checks POSIX permissions with the caller's credentials, which only the root task sets
 * (`setCredentials`), per badge: `EACCES` for a missing read/write/search permission, `EPERM` for
 * an operation reserved to an owner or root (see docs/vfs.md, "Permissions").
 */
import { Schema } from "effect"
import { FsProtocol, Protocol } from "../../api.js"

const { Attr, AttrChanges, DirPage, FsErrorSchema, toNs } = FsProtocol

// --- limits -------------------------------------------------------------------------------------

/** Longest path the VFS accepts (Linux `PATH_MAX`): `ENAMETOOLONG` beyond. */
export const PATH_MAX = 4096
/** Symbolic links followed in one resolution before `ELOOP` (Linux `MAXSYMLINKS`). */
export const SYMLINK_MAX = 40
/** Descriptors one client may hold open when the VFS is given no `maxFds` (Linux's default `RLIMIT_NOFILE`). */
export const MAX_FDS = 1024
/** Worker threads of the VFS at most: how many calls a slow mount may hold before others wait. */
export const MAX_WORKERS = 1024

/** What `stat` answers on the wire: the inode's attributes (times as `timespec`s) and the device (mount) it lives on. */
export const WireStat = Schema.Struct({ ...Attr.fields, dev: Schema.Int })
export type WireStat = typeof WireStat.Type

/**
 * A `stat` as clients use it: the attributes, the device, and each time as its `timespec` (whole
 * seconds and nanoseconds) with the exact nanoseconds since the epoch (`atimeNs`…, computed when
 * read) and the milliseconds Node's `Stats` show (`atimeMs`…, computed when read). A class, and the
 * bigints on demand: a `stat` is the most frequent call, and most callers read neither.
 */
export class Stat {
  constructor(
    readonly ino: number,
    readonly type: FsProtocol.FileType,
    /** Permission bits only (`0o7777`); the type is `type`. */
    readonly mode: number,
    readonly nlink: number,
    readonly uid: number,
    readonly gid: number,
    readonly size: number,
    readonly blocks: number,
    readonly atimeSec: number,
    readonly atimeNsec: number,
    readonly mtimeSec: number,
    readonly mtimeNsec: number,
    readonly ctimeSec: number,
    readonly ctimeNsec: number,
    readonly birthtimeSec: number,
    readonly birthtimeNsec: number,
    readonly dev: number
  ) {}
  get atimeNs(): bigint {
    return toNs(this.atimeSec, this.atimeNsec)
  }
  get mtimeNs(): bigint {
    return toNs(this.mtimeSec, this.mtimeNsec)
  }
  get ctimeNs(): bigint {
    return toNs(this.ctimeSec, this.ctimeNsec)
  }
  get birthtimeNs(): bigint {
    return toNs(this.birthtimeSec, this.birthtimeNsec)
  }
}

/** Milliseconds since the epoch of a `timespec`, as Node's `Stats` show them (`atimeMs`…). */
export const msOf = (sec: number, nsec: number): number => sec * 1e3 + nsec / 1e6

/** The client's `Stat` of a wire `stat`. */
export const statOf = (w: WireStat): Stat =>
  new Stat(
    w.ino,
    w.type,
    w.mode,
    w.nlink,
    w.uid,
    w.gid,
    w.size,
    w.blocks,
    w.atimeSec,
    w.atimeNsec,
    w.mtimeSec,
    w.mtimeNsec,
    w.ctimeSec,
    w.ctimeNsec,
    w.birthtimeSec,
    w.birthtimeNsec,
    w.dev
  )

/**
 * A client's credentials (`permissions.ts`): `uid`, `gid`, supplementary `groups`, and the
 * `umask` applied to the mode of everything it creates.
 */
export const Credentials = Schema.Struct({ uid: Schema.Int, gid: Schema.Int, groups: Schema.Array(Schema.Int), umask: Schema.Int })
export type Credentials = typeof Credentials.Type

const Path = Schema.String
const Fd = Schema.Int
/** A file position; -1 = the descriptor's current position (which then advances). */
const Position = Schema.Int

/** The VFS protocol. Operation order is the wire order: append only. */
export const VfsProtocol = Protocol.make("vfs", {
  open: Protocol.operation({
    payload: { path: Path, flags: Schema.Union(Schema.String, Schema.Int), mode: Schema.Int },
    success: { fd: Fd },
    failure: FsErrorSchema
  }),
  close: Protocol.operation({ payload: { fd: Fd }, failure: FsErrorSchema }),
  read: Protocol.operation({
    payload: { fd: Fd, length: Schema.Int, position: Position },
    success: Schema.Int,
    failure: FsErrorSchema,
    items: [{ _tag: "lease", access: "write" }]
  }),
  write: Protocol.operation({
    payload: { fd: Fd, length: Schema.Int, position: Position },
    success: Schema.Int,
    failure: FsErrorSchema,
    items: [{ _tag: "lease", access: "read" }]
  }),
  writeGrant: Protocol.operation({
    payload: { fd: Fd, length: Schema.Int, position: Position },
    success: Schema.Int,
    failure: FsErrorSchema,
    items: [{ _tag: "grant" }]
  }),
  fstat: Protocol.operation({ payload: { fd: Fd }, success: WireStat, failure: FsErrorSchema, idempotent: true }),
  ftruncate: Protocol.operation({ payload: { fd: Fd, size: Schema.Int }, failure: FsErrorSchema }),
  stat: Protocol.operation({ payload: { path: Path, follow: Schema.Boolean }, success: WireStat, failure: FsErrorSchema, idempotent: true }),
  /** Creates a directory (and, with `recursive`, its missing parents); the first one created, if any. */
  mkdir: Protocol.operation({
    payload: { path: Path, mode: Schema.Int, recursive: Schema.Boolean },
    success: Schema.NullOr(Schema.String),
    failure: FsErrorSchema
  }),
  readdir: Protocol.operation({ payload: { path: Path, cookie: Schema.Int }, success: DirPage, failure: FsErrorSchema, idempotent: true }),
  unlink: Protocol.operation({ payload: { path: Path }, failure: FsErrorSchema }),
  rmdir: Protocol.operation({ payload: { path: Path }, failure: FsErrorSchema }),
  rename: Protocol.operation({ payload: { from: Path, to: Path }, failure: FsErrorSchema }),
  symlink: Protocol.operation({ payload: { target: Schema.String, path: Path }, failure: FsErrorSchema }),
  readlink: Protocol.operation({ payload: { path: Path }, success: Schema.String, failure: FsErrorSchema, idempotent: true }),
  link: Protocol.operation({ payload: { existing: Path, path: Path }, failure: FsErrorSchema }),
  realpath: Protocol.operation({ payload: { path: Path }, success: Schema.String, failure: FsErrorSchema, idempotent: true }),
  truncate: Protocol.operation({ payload: { path: Path, size: Schema.Int }, failure: FsErrorSchema }),
  /**
   * `chmod` (`mode`: the owner or root, else `EPERM`), `chown` (`uid`/`gid`, -1 = unchanged: root;
   * the owner may set the group to one of its own groups; else `EPERM`), `utimes` (explicit
   * `atimeNs`/`mtimeNs`: the owner or root, else `EPERM`; `now`: both times to the file system's
   * clock, also for anyone with write permission, else `EACCES`).
   */
  setattr: Protocol.operation({
    payload: { path: Path, follow: Schema.Boolean, ...AttrChanges },
    failure: FsErrorSchema
  }),
  /**
   * `access(path, mode)` with the caller's credentials: `mode` 0 (`F_OK`) checks existence (and
   * search permission on the way), else every bit of `R_OK | W_OK | X_OK` must be granted
   * (`EACCES`); other bits are `EINVAL`.
   */
  access: Protocol.operation({ payload: { path: Path, mode: Schema.Int }, failure: FsErrorSchema, idempotent: true }),
  /**
   * Sets the credentials of the client whose capability carries `badge` (the VFS keeps them until
   * that client disconnects). Accepted only from the root task's own capability (the badge the VFS
   * was given as `credentialsFrom`); from anyone else `EPERM`, and nothing changes. Invalid
   * credentials or a badge below 1: `EINVAL`.
   */
  setCredentials: Protocol.operation({ payload: { badge: Schema.Int, credentials: Credentials }, failure: FsErrorSchema, idempotent: true }),
  /**
   * The caller's file-mode creation mask, as `process.umask`: returns the mask in force and, when
   * `mask` is given, replaces it (only the caller's own; `0..0o777`, else `EINVAL`).
   */
  umask: Protocol.operation({ payload: { mask: Schema.optional(Schema.Int) }, success: Schema.Int, failure: FsErrorSchema }),
  /**
   * Node's `readFile` in one call: opens `path` with `flags` (as `open`, mode 0o666), reads up to
   * `length` bytes from its start into the lease, and closes it when that was the whole file
   * (`fd` -1). A file longer than `length` stays open: `fd` is a descriptor positioned after the
   * bytes read, for the caller to read the rest from and close. Errors: `open`'s, and `EISDIR`
   * (`read`) for a directory.
   */
  readFile: Protocol.operation({
    payload: { path: Path, flags: Schema.Union(Schema.String, Schema.Int), length: Schema.Int },
    success: { read: Schema.Int, fd: Fd },
    failure: FsErrorSchema,
    items: [{ _tag: "lease", access: "write" }]
  }),
  /**
   * Node's `writeFile` in one call: opens `path` with `flags` (as `open`; `w` creates and
   * truncates, `a` appends), writes the lease's `length` bytes from the start (or at the end with
   * `a`), closes it; answers the count written. The truncation and the write are one step at the
   * file system. Errors: `open`'s and `write`'s.
   */
  writeFile: Protocol.operation({
    payload: { path: Path, flags: Schema.Union(Schema.String, Schema.Int), mode: Schema.Int, length: Schema.Int },
    success: Schema.Int,
    failure: FsErrorSchema,
    items: [{ _tag: "lease", access: "read" }]
  }),
  /**
   * Watches the node at `path` (the last link followed when `follow`) for changes, as Node's
   * `fs.watch`: the watch's id, for `watchEvents` and `unwatch`. A directory's watch sees its
   * entries come, go and change, and with `recursive` everything below it. The watch follows the
   * inode, not the path. Errors: resolution's, `EACCES` (no read permission on the node),
   * `ENOSPC` (the caller holds `MAX_WATCHES` watches).
   */
  watch: Protocol.operation({
    payload: { path: Path, recursive: Schema.Boolean, follow: Schema.Boolean },
    success: { id: Schema.Int },
    failure: FsErrorSchema
  }),
  /**
   * The events of watch `id` after sequence number `after` (0 at first), held until there is one:
   * `names` joined by NUL (no name contains one), `types` one character each (`r` rename, `c`
   * change), `next` to ask after next time, and whether events were dropped (`overflowed`: more
   * than `MAX_QUEUED` waited). A second call held on the same watch answers the first at once;
   * `unwatch` answers a held call with what is queued. Errors: `EBADF` (no such watch of the caller).
   */
  watchEvents: Protocol.operation({
    payload: { id: Schema.Int, after: Schema.Int },
    success: { names: Schema.String, types: Schema.String, next: Schema.Int, overflowed: Schema.Boolean },
    failure: FsErrorSchema
  }),
  /** Ends watch `id`. Errors: `EBADF` (no such watch of the caller). */
  unwatch: Protocol.operation({ payload: { id: Schema.Int }, failure: FsErrorSchema })
})
export type VfsProtocol = typeof VfsProtocol
