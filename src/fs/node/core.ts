/**
 * The facade's system calls: what Node's `fs` binding asks of the kernel, as Effects that run in
 * the client process and are IPC to the VFS. Arguments arrive checked (`validators.ts`); each
 * call fails only with Node's errors: the VFS's `FsError` as Node's system error (the `syscall`
 * Node names, and the path as the caller gave it), `EIO` when the VFS is gone, `ENOMEM` when the
 * client's memory runs out. Anything else is a defect of the facade and dies as itself.
 *
 * Data moves through scratch regions of the client's own memory that the VFS gets as leases: a
 * call copies the caller's bytes in (or out) once, and the file system copies them to (or from)
 * its frames once. Reads and writes longer than `MAX_IO` are done in parts.
 *
 * Invariants: a descriptor is in `Context.paths` from its `open` until its `close` succeeds; a
 * scratch region is used by one call at a time (taken from the pool, or fresh, and given back).
 */
import { Effect } from "effect"
import { Buffer } from "node:buffer"
import { posix } from "node:path"
import { FsProtocol, Memory, Params, type Process as P } from "../../api.js"
import type { Stat } from "../../servers/vfs/VfsProtocol.js"
import * as Vfs from "../VfsClient.js"
import { NodeFsError } from "./errors.js"
import { StatFs } from "./stats.js"
import { pathText, type PathArg } from "./validators.js"

type Process = P.Process
const { FsError } = FsProtocol
const { PAGE_SIZE } = Params

/** A facade system call: fails with Node's errors. */
export type Sys<A> = Effect.Effect<A, unknown, Process>

/** Scratch regions are this big (the default stream chunk) and pooled; larger transfers allocate. */
const SCRATCH = 65536
/** Scratch regions the pool keeps. */
const POOL = 8
/** The most one VFS read or write moves; longer transfers are done in parts. */
export const MAX_IO = 1 << 20

/** One `fs` object's state in its client process. */
export class Context {
  /** The VFS path each open descriptor was opened by (the `f*` calls that the VFS takes by path). Written by `open`/`close`. */
  readonly paths = new Map<number, string>()
  /** Free scratch regions (`SCRATCH` bytes each) in the client's memory. Taken and given back by `withScratch`. */
  readonly pool: Array<number> = []
  constructor(readonly vfs: Vfs.Vfs) {}
}

/** A path as the caller gave it (`text`, what errors name) and as the VFS gets it (relative paths resolve against `/`). */
export class Target {
  readonly vfs: string
  constructor(readonly text: string) {
    this.vfs = text === "" || text.startsWith("/") ? text : "/" + text
  }
}

/** The `Target` of a checked path. */
export const target = (p: PathArg): Target => new Target(pathText(p))

const gone = new Set(["PeerDied", "StaleCapability", "InvalidCapability"])

/** A failure of a VFS call as Node's error for `syscall` on `path` (and `dest`). */
export const nodeErrorOf = (e: unknown, syscall: string, path?: string, dest?: string): Effect.Effect<never, unknown> => {
  if (e instanceof FsError) return Effect.fail(new NodeFsError(e.code, syscall, path, dest))
  const tag = (e as { _tag?: unknown } | null)?._tag
  if (typeof tag === "string" && gone.has(tag)) return Effect.fail(new NodeFsError("EIO", syscall, path, dest))
  if (tag === "OutOfMemory") return Effect.fail(new NodeFsError("ENOMEM", syscall, path, dest))
  return Effect.die(e)
}

/** `effect` with its failures as Node's errors for `syscall` on `path` (and `dest`). */
export const named = <A>(effect: Effect.Effect<A, unknown, Process>, syscall: string, path?: string, dest?: string): Sys<A> =>
  Effect.catchAll(effect, (e) => nodeErrorOf(e, syscall, path, dest))

/** Node's system error `code` for `syscall` on `path`. */
export const fail = (code: string, syscall: string, path?: string, dest?: string): Sys<never> => Effect.fail(new NodeFsError(code, syscall, path, dest))

// --- scratch memory ----------------------------------------------------------------------------

/** Runs `f` with a region of at least `length` bytes of the client's memory (pooled up to `SCRATCH`). */
const withScratch = <A>(ctx: Context, length: number, f: (address: number) => Sys<A>): Sys<A> => {
  if (length > SCRATCH) {
    return Effect.acquireUseRelease(named(Memory.allocate(Math.ceil(length / PAGE_SIZE)), "alloc"), f, (a) => Effect.ignore(Memory.free(a)))
  }
  return Effect.acquireUseRelease(
    Effect.suspend(() => {
      const a = ctx.pool.pop()
      return a !== undefined ? Effect.succeed(a) : named(Memory.allocate(SCRATCH / PAGE_SIZE), "alloc")
    }),
    f,
    (a) => (ctx.pool.length < POOL ? Effect.sync(() => void ctx.pool.push(a)) : Effect.ignore(Memory.free(a)))
  )
}

const bytesOf = (view: ArrayBufferView, offset = 0, length = view.byteLength - offset): Uint8Array =>
  new Uint8Array(view.buffer, view.byteOffset + offset, length)

// --- descriptors -------------------------------------------------------------------------------

/** `open(2)`: a descriptor of `p` with Linux `flags` and creation `mode`. */
export const open = (ctx: Context, p: Target, flags: number, mode: number): Sys<number> =>
  Effect.map(named(ctx.vfs.open({ path: p.vfs, flags, mode }), "open", p.text), ({ fd }) => {
    ctx.paths.set(fd, p.vfs)
    return fd
  })

/** `close(2)`. */
export const close = (ctx: Context, fd: number): Sys<void> =>
  Effect.map(named(ctx.vfs.close({ fd }), "close"), () => {
    ctx.paths.delete(fd)
  })

/** `fstat(2)`. */
export const fstat = (ctx: Context, fd: number, syscall = "fstat"): Sys<Stat> => named(Vfs.fstat(ctx.vfs, fd), syscall)

/**
 * `pread(2)`/`read(2)`: up to `length` bytes into `view` at `offset`, from `position` (-1: the
 * descriptor's position, which advances). The count read; fewer only at the end of the file.
 */
export const read = (ctx: Context, fd: number, view: ArrayBufferView, offset: number, length: number, position: number): Sys<number> =>
  Effect.suspend(() => {
    const out = bytesOf(view, offset, length)
    const part = (done: number): Sys<number> => {
      const n = Math.min(MAX_IO, length - done)
      return withScratch(ctx, n, (address) =>
        Effect.flatMap(
          named(
            ctx.vfs.read({ fd, length: n, position: position < 0 ? -1 : position + done }, { items: [{ _tag: "lease", address, length: n, access: "write" }] }),
            "read"
          ),
          (got) => (got === 0 ? Effect.succeed(0) : Effect.map(named(Memory.read(address, got), "read"), (bytes) => (out.set(bytes, done), got)))
        )
      ).pipe(Effect.flatMap((got) => (got === n && done + got < length ? part(done + got) : Effect.succeed(done + got))))
    }
    return part(0)
  })

/** `pwrite(2)`/`write(2)`: `length` bytes of `view` at `offset`, at `position` (-1: the descriptor's position). The count written. */
export const write = (ctx: Context, fd: number, view: ArrayBufferView, offset: number, length: number, position: number): Sys<number> =>
  Effect.suspend(() => {
    const bytes = bytesOf(view, offset, length)
    const part = (done: number): Sys<number> => {
      const n = Math.min(MAX_IO, length - done)
      return withScratch(ctx, Math.max(n, 1), (address) =>
        Effect.zipRight(
          named(Memory.write(address, bytes.subarray(done, done + n)), "write"),
          named(
            ctx.vfs.write({ fd, length: n, position: position < 0 ? -1 : position + done }, { items: [{ _tag: "lease", address, length: n, access: "read" }] }),
            "write"
          )
        )
      ).pipe(Effect.flatMap((put) => (put === n && done + put < length ? part(done + put) : Effect.succeed(done + put))))
    }
    return part(0)
  })

/** `readv(2)`: fills `buffers` in order from one read at `position` (-1: current). The count read. */
export const readv = (ctx: Context, fd: number, buffers: ReadonlyArray<ArrayBufferView>, position: number): Sys<number> =>
  Effect.suspend(() => {
    // libuv refuses a read into no buffers before it looks at the descriptor.
    if (buffers.length === 0) return fail("EINVAL", "read")
    const total = buffers.reduce((n, b) => n + b.byteLength, 0)
    const joined = new Uint8Array(total)
    return Effect.map(read(ctx, fd, joined, 0, total, position), (got) => {
      let at = 0
      for (const b of buffers) {
        if (at >= got) break
        const n = Math.min(b.byteLength, got - at)
        bytesOf(b).set(joined.subarray(at, at + n))
        at += n
      }
      return got
    })
  })

/** `writev(2)`: `buffers` in order as one write at `position` (-1: current). The count written. */
export const writev = (ctx: Context, fd: number, buffers: ReadonlyArray<ArrayBufferView>, position: number): Sys<number> =>
  Effect.suspend(() => {
    if (buffers.length === 1) return write(ctx, fd, buffers[0]!, 0, buffers[0]!.byteLength, position)
    const joined = Buffer.concat(buffers.map((b) => bytesOf(b)))
    return write(ctx, fd, joined, 0, joined.length, position)
  })

/** `ftruncate(2)`. */
export const ftruncate = (ctx: Context, fd: number, length: number): Sys<void> => named(ctx.vfs.ftruncate({ fd, size: length }), "ftruncate")

/** `fsync(2)`/`fdatasync(2)`: nothing to flush in RAM; checks the descriptor. */
export const fsync = (ctx: Context, fd: number, syscall: "fsync" | "fdatasync"): Sys<void> => Effect.asVoid(fstat(ctx, fd, syscall))

/**
 * The path a descriptor's file still has, for the `f*` calls the VFS takes only by path: the path
 * it was opened by, if that still names the same file (`dev` and `ino`); else `ESTALE` (renamed
 * or removed since, or opened other than through this `fs`).
 */
const pathOfFd = (ctx: Context, fd: number, syscall: string): Sys<string> =>
  Effect.flatMap(fstat(ctx, fd, syscall), (st) => {
    const path = ctx.paths.get(fd)
    if (path === undefined) return fail("ESTALE", syscall)
    return Effect.flatMap(
      Effect.catchAll(Vfs.stat(ctx.vfs, path, true), () => fail("ESTALE", syscall)),
      (now) => (now.dev === st.dev && now.ino === st.ino ? Effect.succeed(path) : fail("ESTALE", syscall))
    )
  })

/** `fchmod(2)` (through the descriptor's path: see `pathOfFd`). */
export const fchmod = (ctx: Context, fd: number, mode: number): Sys<void> =>
  Effect.flatMap(pathOfFd(ctx, fd, "fchmod"), (path) => named(ctx.vfs.setattr({ path, follow: true, mode: mode & 0o7777 }), "fchmod"))

/** `fchown(2)` (through the descriptor's path). */
export const fchown = (ctx: Context, fd: number, uid: number, gid: number): Sys<void> =>
  Effect.flatMap(pathOfFd(ctx, fd, "fchown"), (path) => named(ctx.vfs.setattr({ path, follow: true, uid: owner(uid), gid: owner(gid) }), "fchown"))

/** `futimes(2)` (through the descriptor's path); times in seconds as Node passes them. */
export const futimes = (ctx: Context, fd: number, atime: number, mtime: number): Sys<void> =>
  Effect.flatMap(pathOfFd(ctx, fd, "futime"), (path) =>
    Effect.flatMap(timeChanges(atime, mtime, "futime"), (times) => named(ctx.vfs.setattr({ path, follow: true, ...times }), "futime"))
  )

// --- paths -------------------------------------------------------------------------------------

/** `stat(2)` (`follow`) or `lstat(2)`. */
export const stat = (ctx: Context, p: Target, follow: boolean): Sys<Stat> => named(Vfs.stat(ctx.vfs, p.vfs, follow), follow ? "stat" : "lstat", p.text)

/** `access(2)`. */
export const access = (ctx: Context, p: Target, mode: number): Sys<void> => named(ctx.vfs.access({ path: p.vfs, mode }), "access", p.text)

/** `chmod(2)` (`follow`) or `lchmod`. */
export const chmod = (ctx: Context, p: Target, mode: number): Sys<void> =>
  named(ctx.vfs.setattr({ path: p.vfs, follow: true, mode: mode & 0o7777 }), "chmod", p.text)

/** A uid or gid as the VFS takes it: -1 (and its unsigned form) leaves it unchanged. */
const owner = (id: number) => (id === 4294967295 ? -1 : id)

/** `chown(2)` (`follow`) or `lchown(2)`; -1 leaves an id unchanged. */
export const chown = (ctx: Context, p: Target, uid: number, gid: number, follow: boolean): Sys<void> =>
  named(ctx.vfs.setattr({ path: p.vfs, follow, uid: owner(uid), gid: owner(gid) }), follow ? "chown" : "lchown", p.text)

/**
 * libuv's `uv__fs_to_timespec` for a time in seconds: truncated to whole microseconds (as Node
 * does, so sub-microsecond parts are dropped, not rounded); NaN, infinite or out of range:
 * `"invalid"` (`EINVAL`).
 */
export const timeNs = (t: number): bigint | "invalid" => {
  // What libuv cannot turn into a timespec (NaN, infinite, beyond 64-bit seconds) the kernel refuses.
  if (!Number.isFinite(t) || Math.abs(t) >= 2 ** 63) return "invalid"
  let sec = Math.trunc(t)
  let nsec = Math.trunc((t - sec) * 1e9)
  nsec -= nsec % 1000
  if (nsec < 0) {
    nsec += 1e9
    sec -= 1
  }
  return BigInt(sec) * 1_000_000_000n + BigInt(nsec)
}

/** `setattr`'s time changes for `utimes(atime, mtime)` in seconds; `EINVAL` (for `syscall` on `path`) when one is invalid. */
const timeChanges = (atime: number, mtime: number, syscall: string, path?: string): Sys<{ atimeNs: bigint; mtimeNs: bigint }> => {
  const a = timeNs(atime)
  const m = timeNs(mtime)
  return a === "invalid" || m === "invalid" ? fail("EINVAL", syscall, path) : Effect.succeed({ atimeNs: a, mtimeNs: m })
}

/** `utimes(2)` (`follow`) or `lutimes(2)`; times in seconds. */
export const utimes = (ctx: Context, p: Target, atime: number, mtime: number, follow: boolean): Sys<void> => {
  const syscall = follow ? "utime" : "lutime"
  return Effect.flatMap(timeChanges(atime, mtime, syscall, p.text), (times) => named(ctx.vfs.setattr({ path: p.vfs, follow, ...times }), syscall, p.text))
}

/**
 * `mkdir(2)`, or with `recursive` `mkdir -p`: the first directory created, if any, named as Node
 * names it: the given path cut back at a `/` (Node walks up the given text until a `mkdir`
 * succeeds), here the first such cut that names the directory the VFS made first (and does not
 * end in `.` or `..`, which no `mkdir` makes).
 */
export const mkdir = (ctx: Context, p: Target, mode: number, recursive: boolean): Sys<string | undefined> =>
  p.vfs === ""
    ? fail("ENOENT", "mkdir", p.text)
    : Effect.map(named(ctx.vfs.mkdir({ path: p.vfs, mode: mode & 0o7777, recursive }), "mkdir", p.text), (first) => {
        if (first === null) return undefined
        for (let cut = p.text; ; cut = cut.slice(0, cut.lastIndexOf("/"))) {
          const last = posix.basename(cut)
          if (last !== "." && last !== ".." && posix.normalize(new Target(cut).vfs).replace(/(.)\/+$/, "$1") === first) return cut
          if (!cut.includes("/")) return first
        }
      })

/** UTF-8 byte order of two names (what libuv's `scandir` sorts by: `strcmp`). */
export const byteOrder = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x - y
    if (x > 0xffff) i++
  }
  return a.length - b.length
}

/** `scandir`: every entry of the directory `p`, in byte order of the names (as libuv sorts them). */
export const readdir = (ctx: Context, p: Target): Sys<Array<FsProtocol.DirEntry>> =>
  Effect.map(named(Vfs.readdirAll(ctx.vfs, p.vfs), "scandir", p.text), (entries) => entries.sort((x, y) => byteOrder(x.name, y.name)))

/** One page of the directory `p` from `cookie` (for `Dir`); `next` is -1 after the last. */
export const readdirPage = (
  ctx: Context,
  p: Target,
  cookie: number,
  syscall = "scandir"
): Sys<{ readonly next: number; readonly entries: ReadonlyArray<FsProtocol.DirEntry> }> =>
  named(
    Effect.flatMap(ctx.vfs.readdir({ path: p.vfs, cookie }), (page) => {
      const entries: Array<FsProtocol.DirEntry> = []
      const broken = FsProtocol.unpackDir(page, entries)
      return broken === undefined ? Effect.succeed({ next: page.next, entries }) : Effect.fail(broken)
    }),
    syscall,
    p.text
  )

/** `unlink(2)`. */
export const unlink = (ctx: Context, p: Target): Sys<void> => named(ctx.vfs.unlink({ path: p.vfs }), "unlink", p.text)

/** `rmdir(2)`. */
export const rmdir = (ctx: Context, p: Target): Sys<void> => named(ctx.vfs.rmdir({ path: p.vfs }), "rmdir", p.text)

/** `rename(2)`. */
export const rename = (ctx: Context, from: Target, to: Target): Sys<void> => named(ctx.vfs.rename({ from: from.vfs, to: to.vfs }), "rename", from.text, to.text)

/** `link(2)`. */
export const link = (ctx: Context, existing: Target, p: Target): Sys<void> =>
  named(ctx.vfs.link({ existing: existing.vfs, path: p.vfs }), "link", existing.text, p.text)

/** `symlink(2)`: a link at `p` holding `target` as given. */
export const symlink = (ctx: Context, linkTarget: string, p: Target): Sys<void> =>
  named(ctx.vfs.symlink({ target: linkTarget, path: p.vfs }), "symlink", linkTarget, p.text)

/** `readlink(2)`. */
export const readlink = (ctx: Context, p: Target): Sys<string> => named(ctx.vfs.readlink({ path: p.vfs }), "readlink", p.text)

/** `realpath(3)`. */
export const realpath = (ctx: Context, p: Target): Sys<string> => named(ctx.vfs.realpath({ path: p.vfs }), "realpath", p.text)

/** `ftruncate` after `open(r+)`, closed either way: Node's `truncate(path, len)`. */
export const truncate = (ctx: Context, p: Target, length: number): Sys<void> =>
  Effect.acquireUseRelease(
    open(ctx, p, 2, 0o666),
    (fd) => ftruncate(ctx, fd, length),
    (fd) => Effect.ignore(close(ctx, fd))
  )

/** The magic number Linux's ramfs reports in `statfs`. */
const RAMFS_MAGIC = 0x858458f6

/**
 * `statfs(2)` on `p`: a RAM file system (ramfs's magic, 4 KiB blocks). The VFS reports no capacity,
 * so the counts are 0, as Linux's ramfs reports them.
 */
export const statfs = (ctx: Context, p: Target, bigint: boolean): Sys<StatFs<number> | StatFs<bigint>> =>
  Effect.map(named(Vfs.stat(ctx.vfs, p.vfs, true), "statfs", p.text), () =>
    bigint ? new StatFs<bigint>(BigInt(RAMFS_MAGIC), 4096n, 0n, 0n, 0n, 0n, 0n) : new StatFs<number>(RAMFS_MAGIC, 4096, 0, 0, 0, 0, 0)
  )

// --- whole files -------------------------------------------------------------------------------

/** A VFS whole-file failure: the open's with the path, the transfer's (`read`/`write`) without. */
const wholeFileError = (p: Target) => (e: unknown) =>
  e instanceof FsError && e.syscall !== undefined && e.syscall !== "open" ? nodeErrorOf(e, e.syscall) : nodeErrorOf(e, "open", p.text)

/** Node's `readFile(path)`: opens with `flags`, reads to the end, closes. */
export const readFile = (ctx: Context, p: Target, flags: number): Sys<Uint8Array> => Effect.catchAll(Vfs.readFile(ctx.vfs, p.vfs, flags), wholeFileError(p))

/** Node's `writeFile(path)`: opens with `flags` and `mode`, writes every byte, closes. */
export const writeFile = (ctx: Context, p: Target, bytes: Uint8Array, flags: number, mode: number): Sys<void> =>
  Effect.catchAll(Vfs.writeFile(ctx.vfs, p.vfs, bytes, flags, mode), wholeFileError(p))

/** Reads `fd` from its position to the end (Node's `readFile` of a descriptor). */
export const readToEnd = (ctx: Context, fd: number): Sys<Buffer> =>
  Effect.flatMap(fstat(ctx, fd), (st) =>
    Effect.gen(function* () {
      if (st.type === "dir") return yield* fail("EISDIR", "read")
      const parts: Array<Buffer> = []
      let total = 0
      for (;;) {
        const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.size - total, SCRATCH), MAX_IO))
        const n = yield* read(ctx, fd, chunk, 0, chunk.length, -1)
        if (n === 0) break
        parts.push(n === chunk.length ? chunk : chunk.subarray(0, n))
        total += n
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total)
    })
  )

/** Writes every byte of `bytes` to `fd` at its position (Node's `writeFile` of a descriptor). */
export const writeAll = (ctx: Context, fd: number, bytes: Uint8Array): Sys<void> =>
  bytes.length === 0 ? Effect.void : Effect.asVoid(write(ctx, fd, bytes, 0, bytes.length, -1))

/**
 * libuv's `uv_fs_copyfile`: opens `src`, then `dest` (created with `src`'s mode; `excl`: `EEXIST` if
 * it exists); unless `excl`, nothing is done when both are the same file, else `dest` is truncated;
 * `dest` gets `src`'s mode; then `src`'s bytes are copied. On a failure after `dest` was opened,
 * `dest` is removed, as libuv does (so copying a directory onto a file removes the file). Errors
 * name `copyfile` with both paths.
 */
export const copyFile = (ctx: Context, src: Target, dest: Target, excl: boolean): Sys<void> => {
  const err = (e: unknown) => (e instanceof NodeFsError ? fail(e.code, "copyfile", src.text, dest.text) : Effect.fail(e))
  const copy = (from: number, st: Stat): Sys<void> =>
    Effect.acquireUseRelease(
      open(ctx, dest, 0o1 | 0o100 | (excl ? 0o200 : 0), st.mode),
      (to) =>
        Effect.gen(function* () {
          if (!excl) {
            const dst = yield* fstat(ctx, to)
            if (dst.dev === st.dev && dst.ino === st.ino) return
            yield* ftruncate(ctx, to, 0)
          }
          yield* Effect.catchAll(named(ctx.vfs.setattr({ path: dest.vfs, follow: true, mode: st.mode }), "fchmod"), (e) =>
            (e as NodeFsError).code === "EPERM" ? Effect.void : Effect.fail(e)
          )
          if (st.type === "dir") return yield* fail("EISDIR", "read")
          const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.size, 1), MAX_IO))
          for (let at = 0; at < st.size;) {
            const n = yield* read(ctx, from, chunk, 0, Math.min(chunk.length, st.size - at), at)
            if (n === 0) break
            yield* write(ctx, to, chunk, 0, n, at)
            at += n
          }
        }).pipe(Effect.tapError(() => Effect.ignore(unlink(ctx, dest)))),
      (to) => Effect.ignore(close(ctx, to))
    )
  return Effect.acquireUseRelease(
    open(ctx, src, 0, 0),
    (from) => Effect.flatMap(fstat(ctx, from), (st) => copy(from, st)),
    (from) => Effect.ignore(close(ctx, from))
  ).pipe(Effect.catchAll(err))
}

const TEMP_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/** `mkdtemp(3)`: a new directory `prefix` + six random characters (mode 0o700); its path as given. Errors name the path tried. */
export const mkdtemp = (ctx: Context, prefix: Target): Sys<string> =>
  Effect.gen(function* () {
    // Node and libuv refuse an empty prefix, naming the template as they cut it.
    if (prefix.text === "") return yield* fail("EINVAL", "mkdtemp", "XXXXX")
    for (;;) {
      let suffix = ""
      for (let i = 0; i < 6; i++) suffix += TEMP_CHARS[Math.floor(Math.random() * TEMP_CHARS.length)]
      const made = yield* Effect.either(mkdir(ctx, new Target(prefix.text + suffix), 0o700, false))
      if (made._tag === "Right") return prefix.text + suffix
      const code = (made.left as NodeFsError).code
      if (code !== "EEXIST") return yield* fail(code, "mkdtemp", prefix.text + suffix)
    }
  })

/** `path.resolve` against `/` (the facade's working directory). */
export const resolvePath = (...paths: Array<string>): string => posix.resolve("/", ...paths)
