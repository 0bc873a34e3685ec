/**
 * The VFS server: the namespace (mount table, path resolution with `.`, `..`, symbolic links and
 * mount crossings), per-client descriptor tables keyed by the caller's badge, and the forwarding
 * of data calls to the file-system server of each mount.
 *
 * Why the VFS never touches data: a client's `read`/`write` carries its buffer as a lease; the VFS
 * forwards that lease (`{ _tag: "lease", from }`) to the mount's server, which copies between the
 * client's memory and its own storage. The bytes cross one address-space boundary, once; the VFS
 * process copies 0 bytes (its `bytesCopied` stays 0, and tests check it).
 *
 * Invariants:
 * - Every request that needs a file-system server runs on its own thread (the call is deferred
 *   and answered from there), so a slow or dead mount never holds up calls to other mounts.
 * - A dead mount answers `EIO` at once (its server's death fails every call to it; later calls
 *   fail on the stale capability) and the rest of the namespace keeps working.
 * - A descriptor belongs to the badge that opened it: another client naming the same number gets
 *   `EBADF` (or its own file).
 * - Resolution follows at most `SYMLINK_MAX` symbolic links (`ELOOP`), and `..` at a mount's root
 *   climbs to the directory the mount covers.
 */
import { Effect } from "effect"
import * as Memory from "../../kernel/Memory.js"
import * as Process from "../../kernel/Process.js"
import type * as IpcError from "../../ipc/errors.js"
import * as Protocol from "../../ipc/Protocol.js"
import * as Server from "../Server.js"
import { type Attr, FsError, FsProtocol } from "./FsProtocol.js"
import { mustBeDir, normalize, parseFlags, type OpenFlags, PATH_MAX, split, SYMLINK_MAX } from "./path.js"
import { type Stat, VfsProtocol } from "./VfsProtocol.js"

/** A mount of the initial table: a path and the slot of a capability to a file-system server's port. */
export interface MountSpec {
  readonly path: string
  readonly slot: number
}

/** Options of `program`. */
export interface VfsOptions {
  /** The slot of the VFS's own port (needs `receive`). */
  readonly port: number
  /** The mount table; one must be at `/`. */
  readonly mounts: ReadonlyArray<MountSpec>
  /** Owner of files and directories the VFS creates. Default 0/0. */
  readonly uid?: number
  readonly gid?: number
  /** Descriptors per client. Default 1,024. */
  readonly maxFds?: number
  /** Counters of the VFS's own operations. */
  readonly counters?: Server.Counters<VfsProtocol["operations"]>
}

type FsClient = Protocol.Client<FsProtocol["operations"]>

interface Mount {
  readonly path: string
  readonly dev: number
  readonly fs: FsClient
  root: Attr | undefined
}

/** A point of the namespace: an inode of a mount, reached by the real path `path`. */
interface Node {
  readonly mount: Mount
  readonly attr: Attr
  readonly path: string
}

/** An open file description. Owned by the worker threads of the VFS; `position` moves with reads and writes. */
interface OpenFile {
  readonly mount: Mount
  readonly ino: number
  readonly flags: OpenFlags
  readonly isDir: boolean
  position: number
}

const err = (code: string, syscall: string, path?: string, dest?: string) =>
  new FsError(dest === undefined ? (path === undefined ? { code, syscall } : { code, syscall, path }) : { code, syscall, path: path ?? "", dest })

/** An FS answer or a transport failure, as an `FsError` (transport failures: `EIO`). */
const onFs = <A>(e: Effect.Effect<A, FsError | Protocol.ProtocolError | IpcError.IpcError, Process.Process>): Effect.Effect<A, FsError, Process.Process> =>
  Effect.mapError(e, (x) => (x instanceof FsError ? x : new FsError({ code: "EIO" })))

const join = (dir: string, name: string) => (dir === "/" ? `/${name}` : `${dir}/${name}`)

const stat = (n: { readonly mount: Mount; readonly attr: Attr }): Stat => ({ ...n.attr, dev: n.mount.dev })

/** The VFS server program. Errors: its port's (`IpcError`), or `InvalidArgument`-like defects for a table without `/`. */
export const program = (options: VfsOptions) =>
  Effect.gen(function* () {
    const mounts = new Map<string, Mount>()
    options.mounts.forEach((m, i) => {
      mounts.set(normalize(m.path), { path: normalize(m.path), dev: i + 1, fs: Protocol.client(FsProtocol, m.slot), root: undefined })
    })
    const rootMount = mounts.get("/")
    if (rootMount === undefined) return yield* Effect.dieMessage("invariant violated: the VFS needs a mount at /")
    const owner = { uid: options.uid ?? 0, gid: options.gid ?? 0 }
    const maxFds = options.maxFds ?? 1024
    const tables = new Map<number, Map<number, OpenFile>>()

    const rootOf = (m: Mount) =>
      m.root !== undefined ? Effect.succeed(m.root) : Effect.tap(onFs(m.fs.root()), (a) => Effect.sync(() => (m.root = a)))

    /**
     * Resolves `path` to a node: every symbolic link followed, the last one too when `follow`.
     * `syscall` names the failures.
     */
    const resolve = (path: string, follow: boolean, syscall: string): Effect.Effect<Node, FsError, Process.Process> =>
      Effect.gen(function* () {
        if (path.length === 0 || path[0] !== "/") return yield* Effect.fail(err("ENOENT", syscall, path))
        if (path.length > PATH_MAX) return yield* Effect.fail(err("ENAMETOOLONG", syscall, path))
        const dirOnly = mustBeDir(path)
        const first: Node = { mount: rootMount, attr: yield* rootOf(rootMount), path: "/" }
        let stack: Array<Node> = [first]
        const pending = split(path)
        let links = 0
        while (pending.length > 0) {
          const c = pending.shift()!
          if (c === "..") {
            if (stack.length > 1) stack.pop()
            continue
          }
          const cur = stack[stack.length - 1]!
          if (cur.attr.type !== "dir") return yield* Effect.fail(err("ENOTDIR", syscall, path))
          // A mount covers its path whether or not the parent file system has a directory there.
          const mounted = mounts.get(join(cur.path, c))
          if (mounted !== undefined) {
            stack.push({ mount: mounted, attr: yield* rootOf(mounted), path: join(cur.path, c) })
            continue
          }
          const a = yield* Effect.mapError(onFs(cur.mount.fs.lookup({ dir: cur.attr.ino, name: c })), (e) => err(e.code, syscall, path))
          if (a.type === "symlink" && (pending.length > 0 || follow || dirOnly)) {
            if (++links > SYMLINK_MAX) return yield* Effect.fail(err("ELOOP", syscall, path))
            const target = yield* Effect.mapError(onFs(cur.mount.fs.readlink({ ino: a.ino })), (e) => err(e.code, syscall, path))
            pending.unshift(...split(target))
            if (target.startsWith("/")) stack = [first]
            continue
          }
          stack.push({ mount: cur.mount, attr: a, path: join(cur.path, c) })
        }
        const node = stack[stack.length - 1]!
        if (dirOnly && node.attr.type !== "dir") return yield* Effect.fail(err("ENOTDIR", syscall, path))
        return node
      })

    /**
     * The directory that would hold the last component of `path`, and that component. A failure
     * to resolve the directory names `path` itself (as POSIX reports it), not the directory.
     */
    const parentOf = (path: string, syscall: string): Effect.Effect<{ readonly dir: Node; readonly name: string }, FsError, Process.Process> =>
      Effect.gen(function* () {
        if (path.length === 0 || path[0] !== "/") return yield* Effect.fail(err("ENOENT", syscall, path))
        const parts = path.split("/").filter((c) => c !== "")
        const name = parts.pop()
        if (name === undefined || name === "." || name === "..") return yield* Effect.fail(err(name === undefined ? "EBUSY" : "EINVAL", syscall, path))
        const dir = yield* Effect.mapError(resolve("/" + parts.join("/"), true, syscall), (e) => err(e.code, syscall, path))
        if (dir.attr.type !== "dir") return yield* Effect.fail(err("ENOTDIR", syscall, path))
        if (mounts.has(join(dir.path, name))) return yield* Effect.fail(err("EBUSY", syscall, path))
        return { dir, name }
      })

    const table = (badge: number) => {
      let t = tables.get(badge)
      if (t === undefined) tables.set(badge, (t = new Map()))
      return t
    }
    const fileOf = (badge: number, fd: number, syscall: string): OpenFile | FsError =>
      tables.get(badge)?.get(fd) ?? err("EBADF", syscall)

    /** Runs `work` on a thread of its own and answers from there (see the module invariants). */
    const threaded = <O extends Protocol.Operation>(call: Server.Call<O>, work: Effect.Effect<Protocol.AnswerOf<O>, Protocol.FailureOf<O>, Process.Process>) =>
      Effect.gen(function* () {
        const r = call.defer()
        yield* Process.fork(Effect.ignore(Effect.matchEffect(work, { onFailure: (e) => r.fail(e), onSuccess: (a) => r.succeed(a) })))
        return r
      })
    const named = (syscall: string, path: string, dest?: string) => (e: FsError) =>
      e.syscall === undefined ? err(e.code, syscall, path, dest) : e

    const open = (badge: number, path: string, flagsIn: string | number, mode: number) =>
      Effect.gen(function* () {
        const flags = parseFlags(flagsIn)
        if (flags === undefined) return yield* Effect.fail(err("EINVAL", "open", path))
        const t = table(badge)
        if (t.size >= maxFds) return yield* Effect.fail(err("EMFILE", "open", path))
        let node: Node
        if (flags.create) {
          const existing = yield* Effect.either(resolve(path, true, "open"))
          if (existing._tag === "Right") {
            if (flags.exclusive) return yield* Effect.fail(err("EEXIST", "open", path))
            node = existing.right
          } else if (existing.left.code !== "ENOENT") {
            return yield* Effect.fail(existing.left)
          } else {
            if (mustBeDir(path)) return yield* Effect.fail(err("EISDIR", "open", path))
            const { dir, name } = yield* parentOf(path, "open")
            const a = yield* onFs(dir.mount.fs.create({ dir: dir.attr.ino, name, mode, ...owner, exclusive: flags.exclusive, truncate: flags.truncate }))
            node = { mount: dir.mount, attr: a, path: join(dir.path, name) }
            const fd = insert(t, { mount: dir.mount, ino: a.ino, flags, isDir: false, position: 0 })
            return { fd, stat: stat(node) }
          }
        } else node = yield* resolve(path, true, "open")
        const isDir = node.attr.type === "dir"
        if (isDir && (flags.write || flags.truncate)) return yield* Effect.fail(err("EISDIR", "open", path))
        const a = yield* onFs(node.mount.fs.open({ ino: node.attr.ino, truncate: flags.truncate }))
        const fd = insert(t, { mount: node.mount, ino: a.ino, flags, isDir, position: 0 })
        return { fd, stat: stat({ mount: node.mount, attr: a }) }
      }).pipe(Effect.mapError(named("open", path)))

    const insert = (t: Map<number, OpenFile>, f: OpenFile): number => {
      let fd = 3
      while (t.has(fd)) fd++
      t.set(fd, f)
      return fd
    }

    /** `mkdir -p`: creates every missing directory of `path`; the first one created, if any. Failures name `path`. */
    const mkdirRecursive = (path: string, mode: number): Effect.Effect<string | null, FsError, Process.Process> =>
      Effect.gen(function* () {
        const parts = split(normalize(path))
        let first: string | null = null
        for (let i = 1; i <= parts.length; i++) {
          const prefix = "/" + parts.slice(0, i).join("/")
          const found = yield* Effect.either(resolve(prefix, true, "mkdir"))
          if (found._tag === "Right") {
            if (found.right.attr.type !== "dir") return yield* Effect.fail(err("ENOTDIR", "mkdir", path))
            continue
          }
          if (found.left.code !== "ENOENT") return yield* Effect.fail(found.left)
          const made = yield* Effect.either(
            Effect.flatMap(parentOf(prefix, "mkdir"), ({ dir, name }) => onFs(dir.mount.fs.mkdir({ dir: dir.attr.ino, name, mode, ...owner })))
          )
          if (made._tag === "Left" && made.left.code !== "EEXIST") return yield* Effect.fail(made.left)
          if (made._tag === "Right" && first === null) first = prefix
        }
        return first
      }).pipe(Effect.mapError((e) => err(e.code, "mkdir", path)))

    const handlers: Server.Handlers<VfsProtocol["operations"]> = {
      open: ({ path, flags, mode }, call) => threaded(call, open(call.badge, path, flags, mode)),
      close: ({ fd }, call) => {
        const f = fileOf(call.badge, fd, "close")
        if (f instanceof FsError) return Effect.fail(f)
        tables.get(call.badge)!.delete(fd)
        return threaded(call, Effect.mapError(onFs(f.mount.fs.release({ ino: f.ino })), () => err("EIO", "close")))
      },
      read: ({ fd, length, position }, call) => {
        const f = fileOf(call.badge, fd, "read")
        if (f instanceof FsError) return Effect.fail(f)
        if (!f.flags.read) return Effect.fail(err("EBADF", "read"))
        if (f.isDir) return Effect.fail(err("EISDIR", "read"))
        const item = call.items[0]
        if (item === undefined || item._tag !== "lease" || !Number.isSafeInteger(length) || length < 0 || length > item.length || position < -1) {
          return Effect.fail(err("EINVAL", "read"))
        }
        const at = position >= 0 ? position : f.position
        return threaded(
          call,
          Effect.map(
            onFs(f.mount.fs.read({ ino: f.ino, offset: at, length }, { items: [{ _tag: "lease", from: item.lease, offset: 0, length, access: "write" }] })),
            (n) => {
              if (position < 0) f.position = at + n
              return n
            }
          ).pipe(Effect.mapError((e) => err(e.code, "read")))
        )
      },
      write: ({ fd, length, position }, call) => {
        const f = fileOf(call.badge, fd, "write")
        if (f instanceof FsError) return Effect.fail(f)
        if (!f.flags.write) return Effect.fail(err("EBADF", "write"))
        const item = call.items[0]
        if (item === undefined || item._tag !== "lease" || !Number.isSafeInteger(length) || length < 0 || length > item.length || position < -1) {
          return Effect.fail(err("EINVAL", "write"))
        }
        const at = position >= 0 ? position : f.position
        return threaded(
          call,
          Effect.map(
            onFs(
              f.mount.fs.write(
                { ino: f.ino, offset: at, length, append: f.flags.append },
                { items: [{ _tag: "lease", from: item.lease, offset: 0, length, access: "read" }] }
              )
            ),
            (r) => {
              if (position < 0 || f.flags.append) f.position = r.offset + r.written
              return r.written
            }
          ).pipe(Effect.mapError((e) => err(e.code, "write")))
        )
      },
      writeGrant: ({ fd, length, position }, call) => {
        const f = fileOf(call.badge, fd, "write")
        const item = call.items[0]
        if (item === undefined || item._tag !== "grant") return Effect.fail(err("EINVAL", "write"))
        // The granted pages are the VFS's until forwarded: hand them on, or give them back to the kernel.
        const giveBack = Effect.ignore(Memory.free(item.address))
        if (f instanceof FsError) return Effect.zipRight(giveBack, Effect.fail(f))
        if (!f.flags.write) return Effect.zipRight(giveBack, Effect.fail(err("EBADF", "write")))
        const at = position >= 0 ? position : f.flags.append ? -1 : f.position
        return threaded(
          call,
          Effect.gen(function* () {
            const offset = at >= 0 ? at : (yield* onFs(f.mount.fs.getattr({ ino: f.ino }))).size
            const r = yield* onFs(
              f.mount.fs.writeGrant({ ino: f.ino, offset, length }, { items: [{ _tag: "grant", address: item.address, pages: item.pages }] })
            )
            if (position < 0) f.position = r.offset + r.written
            return r.written
          }).pipe(Effect.tapError(() => giveBack), Effect.mapError((e) => err(e.code, "write")))
        )
      },
      fstat: ({ fd }, call) => {
        const f = fileOf(call.badge, fd, "fstat")
        if (f instanceof FsError) return Effect.fail(f)
        return threaded(call, Effect.map(onFs(f.mount.fs.getattr({ ino: f.ino })), (a) => stat({ mount: f.mount, attr: a })).pipe(Effect.mapError((e) => err(e.code, "fstat"))))
      },
      ftruncate: ({ fd, size }, call) => {
        const f = fileOf(call.badge, fd, "ftruncate")
        if (f instanceof FsError) return Effect.fail(f)
        if (!f.flags.write) return Effect.fail(err("EINVAL", "ftruncate"))
        return threaded(call, Effect.asVoid(onFs(f.mount.fs.truncate({ ino: f.ino, size }))).pipe(Effect.mapError((e) => err(e.code, "ftruncate"))))
      },
      stat: ({ path, follow }, call) =>
        threaded(call, Effect.map(resolve(path, follow, follow ? "stat" : "lstat"), stat).pipe(Effect.mapError(named(follow ? "stat" : "lstat", path)))),
      mkdir: ({ path, mode, recursive }, call) =>
        threaded(
          call,
          (recursive ? mkdirRecursive(path, mode) : Effect.flatMap(parentOf(path, "mkdir"), ({ dir, name }) =>
            Effect.as(onFs(dir.mount.fs.mkdir({ dir: dir.attr.ino, name, mode, ...owner })), null)
          )).pipe(Effect.mapError(named("mkdir", path)))
        ),
      readdir: ({ path, cookie }, call) =>
        threaded(
          call,
          Effect.flatMap(resolve(path, true, "scandir"), (n) =>
            n.attr.type !== "dir" ? Effect.fail(err("ENOTDIR", "scandir", path)) : onFs(n.mount.fs.readdir({ dir: n.attr.ino, cookie }))
          ).pipe(Effect.mapError(named("scandir", path)))
        ),
      unlink: ({ path }, call) =>
        threaded(
          call,
          Effect.flatMap(parentOf(path, "unlink"), ({ dir, name }) =>
            mustBeDir(path) ? Effect.fail(err("ENOTDIR", "unlink", path)) : onFs(dir.mount.fs.unlink({ dir: dir.attr.ino, name }))
          ).pipe(Effect.mapError(named("unlink", path)))
        ),
      rmdir: ({ path }, call) =>
        threaded(
          call,
          Effect.flatMap(parentOf(path, "rmdir"), ({ dir, name }) => onFs(dir.mount.fs.rmdir({ dir: dir.attr.ino, name }))).pipe(
            Effect.mapError(named("rmdir", path))
          )
        ),
      rename: ({ from, to }, call) =>
        threaded(
          call,
          Effect.gen(function* () {
            const a = yield* parentOf(from, "rename")
            const b = yield* parentOf(to, "rename")
            if (a.dir.mount !== b.dir.mount) return yield* Effect.fail(err("EXDEV", "rename", from, to))
            yield* onFs(a.dir.mount.fs.rename({ fromDir: a.dir.attr.ino, fromName: a.name, toDir: b.dir.attr.ino, toName: b.name }))
          }).pipe(Effect.mapError((e) => (e.dest === undefined ? err(e.code, "rename", from, to) : e)))
        ),
      symlink: ({ target, path }, call) =>
        threaded(
          call,
          Effect.flatMap(parentOf(path, "symlink"), ({ dir, name }) => onFs(dir.mount.fs.symlink({ dir: dir.attr.ino, name, target, ...owner }))).pipe(
            Effect.asVoid,
            Effect.mapError((e) => err(e.code, "symlink", target, path))
          )
        ),
      readlink: ({ path }, call) =>
        threaded(
          call,
          Effect.flatMap(resolve(path, false, "readlink"), (n) =>
            n.attr.type !== "symlink" ? Effect.fail(err("EINVAL", "readlink", path)) : onFs(n.mount.fs.readlink({ ino: n.attr.ino }))
          ).pipe(Effect.mapError(named("readlink", path)))
        ),
      link: ({ existing, path }, call) =>
        threaded(
          call,
          Effect.gen(function* () {
            const src = yield* resolve(existing, false, "link")
            const { dir, name } = yield* parentOf(path, "link")
            if (dir.mount !== src.mount) return yield* Effect.fail(err("EXDEV", "link", existing, path))
            if (src.attr.type === "dir") return yield* Effect.fail(err("EPERM", "link", existing, path))
            yield* onFs(dir.mount.fs.link({ dir: dir.attr.ino, name, ino: src.attr.ino }))
          }).pipe(Effect.mapError((e) => (e.dest === undefined ? err(e.code, "link", existing, path) : e)))
        ),
      realpath: ({ path }, call) => threaded(call, Effect.map(resolve(path, true, "realpath"), (n) => n.path).pipe(Effect.mapError(named("realpath", path)))),
      truncate: ({ path, size }, call) =>
        threaded(
          call,
          Effect.gen(function* () {
            if (!Number.isSafeInteger(size) || size < 0) return yield* Effect.fail(err("EINVAL", "open", path))
            const n = yield* resolve(path, true, "open")
            if (n.attr.type === "dir") return yield* Effect.fail(err("EISDIR", "open", path))
            yield* onFs(n.mount.fs.truncate({ ino: n.attr.ino, size }))
          }).pipe(Effect.mapError(named("open", path)))
        ),
      setattr: ({ path, follow, ...changes }, call) =>
        threaded(
          call,
          Effect.flatMap(resolve(path, follow, "utime"), (n) => onFs(n.mount.fs.setattr({ ino: n.attr.ino, ...changes }))).pipe(
            Effect.asVoid,
            Effect.mapError(named(changes.mode !== undefined ? "chmod" : changes.uid !== undefined ? "chown" : "utime", path))
          )
        )
    }
    // A client died: release every file it still had open, so unlinked files it held are freed.
    const onDisconnect = (badge: number) =>
      Effect.suspend(() => {
        const t = tables.get(badge)
        tables.delete(badge)
        if (t === undefined) return Effect.void
        return Effect.forEach(t.values(), (f) => Effect.ignore(onFs(f.mount.fs.release({ ino: f.ino }))), { discard: true })
      })
    return yield* Server.serve(VfsProtocol, handlers, options.port, {
      workers: 2,
      onDisconnect,
      ...(options.counters === undefined ? {} : { counters: options.counters })
    })
  })
