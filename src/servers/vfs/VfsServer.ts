/**
 * The VFS server: the namespace (the mount table; path resolution with `.`, `..`, symbolic links
 * and mount crossings is `namei.ts`), per-client descriptor tables keyed by the caller's badge
 * (`descriptors.ts`), per-client credentials (`credentials.ts`) checked by the rules of
 * `permissions.ts`, and the forwarding of data calls to the file-system server of each mount.
 *
 * Why the VFS never touches data: a client's `read`/`write` carries its buffer as a lease; the VFS
 * forwards that lease (`{ _tag: "lease", from }`) to the mount's server, which copies between the
 * client's memory and its own storage. The bytes cross one address-space boundary, once; the VFS
 * process copies 0 bytes (its `bytesCopied` stays 0, and tests check it).
 *
 * Invariants:
 * - Requests are served by a pool of worker threads that starts one more whenever a request takes
 *   the last idle worker (up to `MAX_WORKERS`), so a slow mount holds up only the calls waiting
 *   on it, never calls to other mounts — without the cost of a thread per request.
 * - A dead mount answers `EIO` at once (its server's death fails every call to it; later calls
 *   fail on the stale capability) and the rest of the namespace keeps working.
 * - A descriptor belongs to the badge that opened it: another client naming the same number gets
 *   `EBADF` (or its own file).
 * - Resolution follows at most `SYMLINK_MAX` symbolic links (`ELOOP`), and `..` at a mount's root
 *   climbs to the directory the mount covers.
 * - The VFS is the reference monitor: every request is checked against the caller's credentials
 *   (kept per badge, set only by the root task's capability, forgotten when the client
 *   disconnects) on attributes resolution already fetched — search permission on every directory
 *   walked, then the operation's own rule (`permissions.ts`). The one extra lookup is of the entry
 *   a non-root caller removes or renames when the sticky bit (or a directory moving to another
 *   parent) makes its owner matter; the file system then acts only if the name still names that
 *   inode (`ESTALE` guard, retried).
 * - A file is opened or created after its check, never by a non-exclusive create that could open
 *   an unchecked file someone else created in between (such a race retries the open).
 */
import { Effect } from "effect"
import { FsProtocol as Fs, type IpcError, Memory, type Process, Protocol, Server } from "../../api.js"
import { CredentialTable } from "./credentials.js"
import { DescriptorTables } from "./descriptors.js"
import { err, named } from "./errors.js"
import { type OpenFlags, parseFlags } from "./flags.js"
import { type Mount as NameMount, type Node as NameNode, resolver } from "./namei.js"
import { join, mustBeDir, normalize, split } from "./path.js"
import { chownError, createMode, type Credentials, owns, permits, R_OK, ROOT, stickyRestricts, utimesError, W_OK, X_OK } from "./permissions.js"
import { MAX_FDS, MAX_WORKERS, SYMLINK_MAX, type WireStat, VfsProtocol } from "./VfsProtocol.js"

const { FsError, FsProtocol } = Fs
type FsError = Fs.FsError
type FsProtocol = Fs.FsProtocol
type Attr = Fs.Attr

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
  /**
   * The badge of the root task's own capability: the only caller whose `setCredentials` is
   * accepted (it acts with `ROOT` credentials itself). Without it, every `setCredentials` is `EPERM`.
   */
  readonly credentialsFrom?: number
  /**
   * Credentials of a caller the VFS has none for: never set, or forgotten at a disconnect (a
   * surviving copy of a dead client's capability). Default `ROOT`, umask 0o022 — every client is
   * root unless the root task says otherwise; `System` passes `NOBODY`, so that a forgotten badge
   * never falls back to root.
   */
  readonly defaultCredentials?: Credentials
  /** Descriptors per client. Default `MAX_FDS`. */
  readonly maxFds?: number
  /** Counters of the VFS's own operations. */
  readonly counters?: Server.Counters<VfsProtocol["operations"]>
}

type FsClient = Protocol.Client<FsProtocol["operations"]>

/** A mount of the VFS: what resolution needs, and the whole file-system client for everything else. */
interface Mount extends NameMount<Process.Process> {
  readonly fs: FsClient
}

type Node = NameNode<Mount>

/** An open file description. Owned by the worker threads of the VFS; `position` moves with reads and writes. */
interface OpenFile {
  readonly mount: Mount
  readonly ino: number
  readonly flags: OpenFlags
  readonly isDir: boolean
  position: number
}

/** An FS answer or a transport failure, as an `FsError` (transport failures: `EIO`). */
const onFs = <A>(e: Effect.Effect<A, FsError | Protocol.ProtocolError | IpcError.IpcError, Process.Process>): Effect.Effect<A, FsError, Process.Process> =>
  Effect.mapError(e, (x) => (x instanceof FsError ? x : new FsError({ code: "EIO" })))

/** A node's `Stat`: its attributes and its mount's device number (built field by field: a spread copies through a slow path). */
const stat = (n: { readonly mount: Mount; readonly attr: Attr }): WireStat => {
  const a = n.attr
  return {
    ino: a.ino,
    type: a.type,
    mode: a.mode,
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    blocks: a.blocks,
    atimeSec: a.atimeSec,
    atimeNsec: a.atimeNsec,
    mtimeSec: a.mtimeSec,
    mtimeNsec: a.mtimeNsec,
    ctimeSec: a.ctimeSec,
    ctimeNsec: a.ctimeNsec,
    birthtimeSec: a.birthtimeSec,
    birthtimeNsec: a.birthtimeNsec,
    dev: n.mount.dev
  }
}

/** Attempts of an operation whose check was overtaken (the file system answered `ESTALE`) before it fails with `EAGAIN`. */
const ATTEMPTS = 8

/**
 * Runs `attempt` again while the entry it checked changed before it acted (`ESTALE`); after
 * `ATTEMPTS`, `EAGAIN`. Other failures pass through.
 */
const retryStale = <A>(attempt: Effect.Effect<A, FsError, Process.Process>, left = ATTEMPTS - 1): Effect.Effect<A, FsError, Process.Process> =>
  // A plain catch, not `Effect.retry`: that builds a schedule driver on every call, and every
  // open pays for it though a retry is rare.
  Effect.catchIf(
    attempt,
    (e) => e.code === "ESTALE",
    (e) =>
      left > 0
        ? retryStale(attempt, left - 1)
        : Effect.fail(
            new FsError({
              code: "EAGAIN",
              ...(e.syscall === undefined ? {} : { syscall: e.syscall }),
              ...(e.path === undefined ? {} : { path: e.path }),
              ...(e.dest === undefined ? {} : { dest: e.dest })
            })
          )
  )

/** The VFS server program. Errors: its port's (`IpcError`), or `InvalidArgument`-like defects for a table without `/`. */
export const program = (options: VfsOptions) =>
  Effect.gen(function* () {
    const mounts = new Map<string, Mount>()
    options.mounts.forEach((m, i) => {
      const fs = Protocol.client(FsProtocol, m.slot)
      const names = {
        root: () => onFs(fs.root()),
        lookup: (dir: number, name: string) => onFs(fs.lookup({ dir, name })),
        readlink: (ino: number) => onFs(fs.readlink({ ino }))
      }
      mounts.set(normalize(m.path), { path: normalize(m.path), dev: i + 1, fs, names, root: undefined })
    })
    const rootMount = mounts.get("/")
    if (rootMount === undefined) return yield* Effect.dieMessage("invariant violated: the VFS needs a mount at /")
    const { resolve, parentOf } = resolver<Process.Process, Mount>(mounts, rootMount)
    const tables = new DescriptorTables<OpenFile>(options.maxFds ?? MAX_FDS)
    const credentials = new CredentialTable(options.defaultCredentials ?? ROOT, options.credentialsFrom)
    const credOf = (badge: number): Credentials => credentials.of(badge)

    /** Fails with `code` unless `ok`. */
    const check = (ok: boolean, code: string, syscall: string, path: string, dest?: string): Effect.Effect<void, FsError> =>
      ok ? Effect.void : Effect.fail(err(code, syscall, path, dest))

    const fileOf = (badge: number, fd: number, syscall: string): OpenFile | FsError => tables.get(badge, fd) ?? err("EBADF", syscall)

    /**
     * `open(path)` for `c`. Failures name `path`, as Node's do, even when they arose at the target
     * of a dangling symbolic link that `O_CREAT` creates (as Linux does).
     */
    const open = (c: Credentials, badge: number, path: string, flagsIn: string | number, mode: number) => {
      const attempt = (at: string, hops: number): Effect.Effect<{ fd: number; stat: WireStat }, FsError, Process.Process> =>
        Effect.gen(function* () {
          const flags = parseFlags(flagsIn)
          if (flags === undefined || (flags.create && flags.directory)) return yield* Effect.fail(err("EINVAL", "open", at))
          if (tables.full(badge)) return yield* Effect.fail(err("EMFILE", "open", at))
          let node: Node
          if (flags.create) {
            // O_EXCL never follows the last component: an existing symbolic link is EEXIST.
            const existing = yield* Effect.either(resolve(c, at, !flags.nofollow && !flags.exclusive, "open"))
            if (existing._tag === "Right") {
              if (flags.exclusive) return yield* Effect.fail(err("EEXIST", "open", at))
              node = existing.right
            } else if (existing.left.code !== "ENOENT") {
              return yield* Effect.fail(existing.left)
            } else {
              if (mustBeDir(at)) return yield* Effect.fail(err("EISDIR", "open", at))
              const { dir, name } = yield* parentOf(c, at, "open", true)
              // Exclusive at the file system whatever the flags, so that a file another client
              // created since the lookup is never opened unchecked.
              const created = yield* Effect.either(
                onFs(
                  dir.mount.fs.create({
                    dir: dir.attr.ino,
                    name,
                    mode: createMode(mode, c.umask, false),
                    uid: c.uid,
                    gid: c.gid,
                    exclusive: true,
                    truncate: false
                  })
                )
              )
              if (created._tag === "Right") {
                const fd = tables.insert(badge, { mount: dir.mount, ino: created.right.ino, flags, isDir: false, position: 0 })
                return { fd, stat: stat({ mount: dir.mount, attr: created.right }) }
              }
              if (created.left.code !== "EEXIST" || flags.exclusive) return yield* Effect.fail(created.left)
              // The name exists after all: a dangling symbolic link (create its target), or a file
              // created since the lookup (the next attempt opens it, after its check).
              const entry = yield* Effect.mapError(onFs(dir.mount.fs.lookup({ dir: dir.attr.ino, name })), (e) =>
                e.code === "ENOENT" ? err("ESTALE", "open", at) : e
              )
              if (entry.type !== "symlink") return yield* Effect.fail(err("ESTALE", "open", at))
              if (hops >= SYMLINK_MAX) return yield* Effect.fail(err("ELOOP", "open", at))
              const target = yield* onFs(dir.mount.fs.readlink({ ino: entry.ino }))
              return yield* attempt(target.startsWith("/") ? target : join(dir.path, target), hops + 1)
            }
          } else node = yield* resolve(c, at, !flags.nofollow, "open")
          if (node.attr.type === "symlink") return yield* Effect.fail(err("ELOOP", "open", at))
          const isDir = node.attr.type === "dir"
          if (flags.directory && !isDir) return yield* Effect.fail(err("ENOTDIR", "open", at))
          if (isDir && (flags.write || flags.truncate)) return yield* Effect.fail(err("EISDIR", "open", at))
          const want = (flags.read ? R_OK : 0) | (flags.write || flags.truncate ? W_OK : 0)
          yield* check(permits(c, node.attr, want), "EACCES", "open", at)
          const a = yield* onFs(node.mount.fs.open({ ino: node.attr.ino, truncate: flags.truncate }))
          const fd = tables.insert(badge, { mount: node.mount, ino: a.ino, flags, isDir, position: 0 })
          return { fd, stat: stat({ mount: node.mount, attr: a }) }
        })
      return retryStale(attempt(path, 0)).pipe(Effect.mapError((e) => err(e.code, "open", path)))
    }

    /** Creates the directory `name` in `dir` for `c`: its uid/gid, `mode & ~umask`. */
    const makeDir = (c: Credentials, dir: Node, name: string, mode: number) =>
      onFs(dir.mount.fs.mkdir({ dir: dir.attr.ino, name, mode: createMode(mode, c.umask, true), uid: c.uid, gid: c.gid }))

    /** `mkdir -p`: creates every missing directory of `path`; the first one created, if any. Failures name `path`. */
    const mkdirRecursive = (c: Credentials, path: string, mode: number): Effect.Effect<string | null, FsError, Process.Process> =>
      Effect.gen(function* () {
        const parts = split(normalize(path))
        let first: string | null = null
        for (let i = 1; i <= parts.length; i++) {
          const prefix = "/" + parts.slice(0, i).join("/")
          const found = yield* Effect.either(resolve(c, prefix, true, "mkdir"))
          if (found._tag === "Right") {
            if (found.right.attr.type !== "dir") return yield* Effect.fail(err("ENOTDIR", "mkdir", path))
            continue
          }
          if (found.left.code !== "ENOENT") return yield* Effect.fail(found.left)
          const made = yield* Effect.either(Effect.flatMap(parentOf(c, prefix, "mkdir", true), ({ dir, name }) => makeDir(c, dir, name, mode)))
          if (made._tag === "Left" && made.left.code !== "EEXIST") return yield* Effect.fail(made.left)
          if (made._tag === "Right" && first === null) first = prefix
        }
        return first
      }).pipe(Effect.mapError((e) => err(e.code, "mkdir", path)))

    /**
     * `unlink` or `rmdir`: write and search permission on the directory; in a sticky directory a
     * caller that is neither root nor the directory's owner must own the entry (`EPERM`), which
     * costs one lookup, and the file system removes it only if the name still names that inode.
     */
    const remove = (c: Credentials, path: string, syscall: "unlink" | "rmdir") =>
      retryStale(
        Effect.gen(function* () {
          const { dir, name } = yield* parentOf(c, path, syscall, true)
          if (syscall === "unlink" && mustBeDir(path)) return yield* Effect.fail(err("ENOTDIR", syscall, path))
          let guard: { ino?: number } = {}
          if (stickyRestricts(c, dir.attr)) {
            const victim = yield* onFs(dir.mount.fs.lookup({ dir: dir.attr.ino, name }))
            yield* check(victim.uid === c.uid, "EPERM", syscall, path)
            guard = { ino: victim.ino }
          }
          const args = { dir: dir.attr.ino, name, ...guard }
          yield* onFs(syscall === "unlink" ? dir.mount.fs.unlink(args) : dir.mount.fs.rmdir(args))
        })
      ).pipe(Effect.mapError(named(syscall, path)))

    /**
     * `rename`: write and search permission on both directories; the sticky bit on either one
     * (the moved entry, and the replaced one) as in `remove`; and a directory moving to another
     * parent needs write permission on itself (its `..` changes), as in Linux. Root skips all of
     * it; others pay a lookup only when the sticky bit or a move between directories needs the
     * entry's attributes, and the file system renames only if the entries are still those checked.
     */
    const rename = (c: Credentials, from: string, to: string) =>
      retryStale(
        Effect.gen(function* () {
          const a = yield* parentOf(c, from, "rename", true)
          const b = yield* parentOf(c, to, "rename", true)
          if (a.dir.mount !== b.dir.mount) return yield* Effect.fail(err("EXDEV", "rename", from, to))
          const guards: { fromIno?: number; toIno?: number } = {}
          const fs = a.dir.mount.fs
          if (c.uid !== 0) {
            const crossDir = a.dir.attr.ino !== b.dir.attr.ino
            if (crossDir || stickyRestricts(c, a.dir.attr)) {
              const moving = yield* onFs(fs.lookup({ dir: a.dir.attr.ino, name: a.name }))
              yield* check(!stickyRestricts(c, a.dir.attr) || moving.uid === c.uid, "EPERM", "rename", from, to)
              yield* check(!crossDir || moving.type !== "dir" || permits(c, moving, W_OK), "EACCES", "rename", from, to)
              guards.fromIno = moving.ino
            }
            if (stickyRestricts(c, b.dir.attr)) {
              const target = yield* Effect.either(onFs(fs.lookup({ dir: b.dir.attr.ino, name: b.name })))
              if (target._tag === "Left" && target.left.code !== "ENOENT") return yield* Effect.fail(target.left)
              if (target._tag === "Right") yield* check(target.right.uid === c.uid, "EPERM", "rename", from, to)
              guards.toIno = target._tag === "Right" ? target.right.ino : 0
            }
          }
          yield* onFs(fs.rename({ fromDir: a.dir.attr.ino, fromName: a.name, toDir: b.dir.attr.ino, toName: b.name, ...guards }))
        })
      ).pipe(Effect.mapError((e) => (e.dest === undefined ? err(e.code, "rename", from, to) : e)))

    const handlers: Server.Handlers<VfsProtocol["operations"]> = {
      open: ({ path, flags, mode }, call) => open(credOf(call.badge), call.badge, path, flags, mode),
      close: ({ fd }, call) => {
        const f = fileOf(call.badge, fd, "close")
        if (f instanceof FsError) return Effect.fail(f)
        tables.remove(call.badge, fd)
        return Effect.mapError(onFs(f.mount.fs.release({ ino: f.ino })), () => err("EIO", "close"))
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
        return Effect.map(
          onFs(f.mount.fs.read({ ino: f.ino, offset: at, length }, { items: [{ _tag: "lease", from: item.lease, offset: 0, length, access: "write" }] })),
          (n) => {
            if (position < 0) f.position = at + n
            return n
          }
        ).pipe(Effect.mapError((e) => err(e.code, "read")))
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
        return Effect.map(
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
        return Effect.gen(function* () {
          const offset = at >= 0 ? at : (yield* onFs(f.mount.fs.getattr({ ino: f.ino }))).size
          const r = yield* onFs(f.mount.fs.writeGrant({ ino: f.ino, offset, length }, { items: [{ _tag: "grant", address: item.address, pages: item.pages }] }))
          if (position < 0) f.position = r.offset + r.written
          return r.written
        }).pipe(
          Effect.tapError(() => giveBack),
          Effect.mapError((e) => err(e.code, "write"))
        )
      },
      fstat: ({ fd }, call) => {
        const f = fileOf(call.badge, fd, "fstat")
        if (f instanceof FsError) return Effect.fail(f)
        return Effect.map(onFs(f.mount.fs.getattr({ ino: f.ino })), (a) => stat({ mount: f.mount, attr: a })).pipe(Effect.mapError((e) => err(e.code, "fstat")))
      },
      ftruncate: ({ fd, size }, call) => {
        const f = fileOf(call.badge, fd, "ftruncate")
        if (f instanceof FsError) return Effect.fail(f)
        if (!f.flags.write) return Effect.fail(err("EINVAL", "ftruncate"))
        return Effect.asVoid(onFs(f.mount.fs.truncate({ ino: f.ino, size }))).pipe(Effect.mapError((e) => err(e.code, "ftruncate")))
      },
      stat: ({ path, follow }, call) =>
        Effect.map(resolve(credOf(call.badge), path, follow, follow ? "stat" : "lstat"), stat).pipe(Effect.mapError(named(follow ? "stat" : "lstat", path))),
      mkdir: ({ path, mode, recursive }, call) => {
        const c = credOf(call.badge)
        return (
          recursive
            ? mkdirRecursive(c, path, mode)
            : Effect.flatMap(parentOf(c, path, "mkdir", true), ({ dir, name }) => Effect.as(makeDir(c, dir, name, mode), null))
        ).pipe(Effect.mapError(named("mkdir", path)))
      },
      readdir: ({ path, cookie }, call) => {
        const c = credOf(call.badge)
        return Effect.gen(function* () {
          const n = yield* resolve(c, path, true, "scandir")
          if (n.attr.type !== "dir") return yield* Effect.fail(err("ENOTDIR", "scandir", path))
          yield* check(permits(c, n.attr, R_OK), "EACCES", "scandir", path)
          return yield* onFs(n.mount.fs.readdir({ dir: n.attr.ino, cookie }))
        }).pipe(Effect.mapError(named("scandir", path)))
      },
      unlink: ({ path }, call) => remove(credOf(call.badge), path, "unlink"),
      rmdir: ({ path }, call) => remove(credOf(call.badge), path, "rmdir"),
      rename: ({ from, to }, call) => rename(credOf(call.badge), from, to),
      symlink: ({ target, path }, call) => {
        const c = credOf(call.badge)
        return Effect.flatMap(parentOf(c, path, "symlink", true), ({ dir, name }) =>
          onFs(dir.mount.fs.symlink({ dir: dir.attr.ino, name, target, uid: c.uid, gid: c.gid }))
        ).pipe(
          Effect.asVoid,
          Effect.mapError((e) => err(e.code, "symlink", target, path))
        )
      },
      readlink: ({ path }, call) =>
        Effect.flatMap(resolve(credOf(call.badge), path, false, "readlink"), (n) =>
          n.attr.type !== "symlink" ? Effect.fail(err("EINVAL", "readlink", path)) : onFs(n.mount.fs.readlink({ ino: n.attr.ino }))
        ).pipe(Effect.mapError(named("readlink", path))),
      link: ({ existing, path }, call) => {
        const c = credOf(call.badge)
        return Effect.gen(function* () {
          const src = yield* resolve(c, existing, false, "link")
          const { dir, name } = yield* parentOf(c, path, "link", false)
          if (dir.mount !== src.mount) return yield* Effect.fail(err("EXDEV", "link", existing, path))
          if (src.attr.type === "dir") return yield* Effect.fail(err("EPERM", "link", existing, path))
          yield* check(permits(c, dir.attr, W_OK | X_OK), "EACCES", "link", existing, path)
          yield* onFs(dir.mount.fs.link({ dir: dir.attr.ino, name, ino: src.attr.ino }))
        }).pipe(Effect.mapError((e) => (e.dest === undefined ? err(e.code, "link", existing, path) : e)))
      },
      realpath: ({ path }, call) =>
        Effect.map(resolve(credOf(call.badge), path, true, "realpath"), (n) => n.path).pipe(Effect.mapError(named("realpath", path))),
      truncate: ({ path, size }, call) => {
        const c = credOf(call.badge)
        return Effect.gen(function* () {
          if (!Number.isSafeInteger(size) || size < 0) return yield* Effect.fail(err("EINVAL", "open", path))
          const n = yield* resolve(c, path, true, "open")
          if (n.attr.type === "dir") return yield* Effect.fail(err("EISDIR", "open", path))
          yield* check(permits(c, n.attr, W_OK), "EACCES", "open", path)
          yield* onFs(n.mount.fs.truncate({ ino: n.attr.ino, size }))
        }).pipe(Effect.mapError(named("open", path)))
      },
      setattr: ({ path, follow, now, ...changes }, call) => {
        const c = credOf(call.badge)
        const syscall = changes.mode !== undefined ? "chmod" : changes.uid !== undefined || changes.gid !== undefined ? "chown" : "utime"
        const times = now === true || changes.atimeNs !== undefined || changes.mtimeNs !== undefined
        return Effect.gen(function* () {
          const n = yield* resolve(c, path, follow, syscall)
          yield* check(changes.mode === undefined || owns(c, n.attr), "EPERM", syscall, path)
          const chown = chownError(c, n.attr, changes.uid, changes.gid)
          if (chown !== undefined) return yield* Effect.fail(err(chown, syscall, path))
          const utimes = times ? utimesError(c, n.attr, now === true) : undefined
          if (utimes !== undefined) return yield* Effect.fail(err(utimes, syscall, path))
          const a = yield* onFs(n.mount.fs.setattr({ ino: n.attr.ino, ...changes, ...(now === true ? { now } : {}) }))
          // A mount's root is cached: keep its mode and owner current for later checks.
          if (n.mount.root?.ino === a.ino) n.mount.root = a
        }).pipe(Effect.mapError(named(syscall, path)))
      },
      access: ({ path, mode }, call) => {
        const c = credOf(call.badge)
        if (!Number.isInteger(mode) || (mode & ~7) !== 0) return Effect.fail(err("EINVAL", "access", path))
        return Effect.flatMap(resolve(c, path, true, "access"), (n) => check(permits(c, n.attr, mode), "EACCES", "access", path)).pipe(
          Effect.mapError(named("access", path))
        )
      },
      setCredentials: ({ badge, credentials: given }, call) => {
        const refused = credentials.set(call.badge, badge, given)
        return refused === undefined ? Effect.void : Effect.fail(err(refused, "setCredentials"))
      },
      umask: ({ mask }, call) => {
        if (mask === undefined) return Effect.succeed(credOf(call.badge).umask)
        const previous = credentials.setUmask(call.badge, mask)
        return previous === "EINVAL" ? Effect.fail(err("EINVAL", "umask")) : Effect.succeed(previous)
      }
    }
    // A client died: forget its credentials, and release every file it still had open, so
    // unlinked files it held are freed.
    const onDisconnect = (badge: number) =>
      Effect.suspend(() => {
        credentials.forget(badge)
        return Effect.forEach(tables.drop(badge), (f) => Effect.ignore(onFs(f.mount.fs.release({ ino: f.ino }))), { discard: true })
      })
    return yield* Server.serve(VfsProtocol, handlers, options.port, {
      workers: { min: 2, max: MAX_WORKERS },
      onDisconnect,
      ...(options.counters === undefined ? {} : { counters: options.counters })
    })
  })
