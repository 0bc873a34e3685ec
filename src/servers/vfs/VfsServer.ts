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
import { FsProtocol as Fs, type IpcError, type Lease, Memory, type Message, Process, Protocol, Server } from "../../api.js"
import { CredentialTable } from "./credentials.js"
import { DescriptorTables } from "./descriptors.js"
import { err, named } from "./errors.js"
import { type OpenFlags, parseFlags } from "./flags.js"
import { fold, type Mount as NameMount, type Node as NameNode, resolver, settled, type Soon, chain } from "./namei.js"
import { join, mustBeDir, normalize, split } from "./path.js"
import { chownError, createMode, type Credentials, owns, permits, R_OK, ROOT, stickyRestricts, utimesError, W_OK, X_OK } from "./permissions.js"
import { type CacheFs, type Change, MountCache, type Vnode } from "./vnodes.js"
import { type Batch, type Due, WatchTable } from "./watches.js"
import { MAX_FDS, MAX_WORKERS, SYMLINK_MAX, VfsProtocol, type WireStat } from "./VfsProtocol.js"

const { FsError, FsProtocol } = Fs
type FsError = Fs.FsError
type FsProtocol = Fs.FsProtocol
type Attr = Fs.Attr
type P = Process.Process

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
type Raw<A> = Effect.Effect<A, FsError | Protocol.ProtocolError | IpcError.IpcError, P>

/** A mount of the VFS: its cache (what resolution walks) and its file-system client. */
interface Mount extends NameMount<Vnode, P> {
  readonly fs: FsClient
  readonly cache: MountCache<P>
  /** A call to the mount's file system, its transport failures as `EIO` (the cache is then dropped: the server is gone). */
  readonly call: <A>(e: Raw<A>) => Effect.Effect<A, FsError, P>
  /**
   * The thread that holds the mount's `hold` call, never answered: when the server dies, the
   * kernel fails it, and the mount is lost (its cache dropped, `EIO` from then on).
   */
  readonly canary: Effect.Effect<void, never, P>
}

type Node = NameNode<Mount, Vnode>

/** An open file description. Owned by the worker threads of the VFS; `position` moves with reads and writes. */
interface OpenFile {
  readonly mount: Mount
  readonly vnode: Vnode
  /** Where it was opened: what its changes are reported as to watchers. */
  readonly node: Node
  readonly flags: OpenFlags
  readonly isDir: boolean
  position: number
}

/** A `stat` of attributes `a` on mount `m` (built field by field: a spread copies through a slow path). */
const stat = (m: Mount, a: Attr): WireStat => ({
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
  dev: m.dev
})

/** Attempts of an operation whose check was overtaken (the file system answered `ESTALE`) before it fails with `EAGAIN`. */
const ATTEMPTS = 8

/**
 * Runs `attempt` again while the entry it checked changed before it acted (`ESTALE`); after
 * `ATTEMPTS`, `EAGAIN`. Other failures pass through; an attempt answered now costs no step.
 */
const retryStale = <A>(attempt: () => Soon<A, P>, left = ATTEMPTS): Soon<A, P> =>
  // A plain retry, not `Effect.retry`: that builds a schedule driver on every call, and every
  // open would pay for it though a retry is rare.
  fold(attempt(), (r) =>
    !(r instanceof FsError) || r.code !== "ESTALE"
      ? r
      : left > 1
        ? retryStale(attempt, left - 1)
        : new FsError({ code: "EAGAIN", syscall: r.syscall, path: r.path, dest: r.dest })
  )

/** A mount on `slot`: its file-system client, and the cache in front of it. */
const mountOf = (path: string, dev: number, slot: number): Mount => {
  const fs = Protocol.client(FsProtocol, slot)
  // Written by the canary or a failed call, read by every answer from the cache. Owned by the VFS's threads.
  let dead = false
  const lost = () => {
    dead = true
    cache.clear()
    return new FsError({ code: "EIO" })
  }
  const call = <A>(e: Raw<A>): Effect.Effect<A, FsError, P> => Effect.mapError(e, (x) => (x instanceof FsError ? x : lost()))
  const cacheFs: CacheFs<P> = {
    root: () => call(fs.root()),
    lookup: (dir, name) => call(fs.lookup({ dir, name })),
    getattr: (ino) => call(fs.getattr({ ino })),
    readlink: (ino) => call(fs.readlink({ ino })),
    release: (ino) => call(fs.release({ ino })),
    alive: () => !dead
  }
  const cache = new MountCache(cacheFs)
  const canary = Effect.asVoid(Effect.either(Effect.ensuring(fs.hold(), Effect.sync(lost))))
  return { path, dev, fs, names: cache, cache, call, canary }
}

/**
 * `Effect.matchEffect` with its two closures as arguments. Written as an object's properties in
 * place, each closure would be renamed every time it is made under tsx (esbuild's keepNames),
 * about 1 µs each, on the path of every read and write.
 */
const matchWith = <A, E, R, B, E2, R2, C, E3, R3>(
  self: Effect.Effect<A, E, R>,
  onFailure: (e: E) => Effect.Effect<B, E2, R2>,
  onSuccess: (a: A) => Effect.Effect<C, E3, R3>
): Effect.Effect<B | C, E2 | E3, R | R2 | R3> => Effect.matchEffect(self, { onFailure, onSuccess })

/**
 * Runs change `e` on mount `m`, then `after` with its answer and the change's place on the mount's
 * clock (`MountCache.settle`), for the cache to keep what is fresh. A failed change settles the
 * clock too.
 */
const change = <A, B>(m: Mount, e: Raw<A>, after: (a: A, ch: Change) => Effect.Effect<B, FsError, P>): Effect.Effect<B, FsError, P> =>
  Effect.suspend(() => {
    const at = m.cache.clock
    return matchWith(
      m.call(e),
      (x) => {
        m.cache.settle(at)
        return Effect.fail(x)
      },
      (a) => after(a, m.cache.settle(at))
    )
  })

/** A change of the data or times of `v` (read, write): settles the clock and marks `v`'s attributes moved, whatever the outcome. */
const touching = <A>(m: Mount, v: Vnode, e: Raw<A>): Effect.Effect<A, FsError, P> =>
  Effect.suspend(() => {
    const at = m.cache.clock
    return matchWith(
      m.call(e),
      (x) => {
        m.cache.touched(v, m.cache.settle(at))
        return Effect.fail(x)
      },
      (a) => {
        m.cache.touched(v, m.cache.settle(at))
        return Effect.succeed(a)
      }
    )
  })

/** `f` of what `s` gives, as an Effect: at once when `s` is already there, its `FsError` as the failure. */
const thenDo = <A, B>(s: Soon<A, P>, f: (a: A) => Effect.Effect<B, FsError, P>): Effect.Effect<B, FsError, P> =>
  s instanceof FsError
    ? Effect.fail(s)
    : Effect.isEffect(s)
      ? Effect.flatMap(s as Effect.Effect<A | FsError, never, P>, (x) => (x instanceof FsError ? Effect.fail(x) : f(x as A)))
      : f(s as A)

type Events = Server.Responder<VfsProtocol["operations"]["watchEvents"]>

/** A batch of events on the wire: names joined by NUL, types one character each. */
const packEvents = (b: Batch) => {
  let types = ""
  for (const e of b.events) types += e.type
  return { names: b.events.map((e) => e.name).join("\0"), types, next: b.next, overflowed: b.overflowed }
}

/** Answers the held `watchEvents` calls now due (a watcher that went away is simply not answered). */
const deliver = (due: ReadonlyArray<Due<Events>>): Effect.Effect<void, never, P> =>
  due.length === 0 ? Effect.void : Effect.forEach(due, (d) => Effect.ignore(d.holder.succeed(packEvents(d.batch))), { discard: true })

/** The VFS server program. Errors: its port's (`IpcError`), or `InvalidArgument`-like defects for a table without `/`. */
export const program = (options: VfsOptions) =>
  Effect.gen(function* () {
    const mounts = new Map<string, Mount>()
    options.mounts.forEach((m, i) => {
      mounts.set(normalize(m.path), mountOf(normalize(m.path), i + 1, m.slot))
    })
    const rootMount = mounts.get("/")
    if (rootMount === undefined) return yield* Effect.dieMessage("invariant violated: the VFS needs a mount at /")
    const names = resolver<Vnode, P, Mount>(mounts, rootMount)
    const resolve = (c: Credentials, path: string, follow: boolean, syscall: string) => settled(names.resolve(c, path, follow, syscall))
    const parentOf = (c: Credentials, path: string, syscall: string, change: boolean) => settled(names.parentOf(c, path, syscall, change))
    for (const m of mounts.values()) yield* Process.fork(m.canary)
    const tables = new DescriptorTables<OpenFile>(options.maxFds ?? MAX_FDS)
    const credentials = new CredentialTable(options.defaultCredentials ?? ROOT, options.credentialsFrom)
    const credOf = (badge: number): Credentials => credentials.of(badge)
    const watches = new WatchTable<Vnode, Events>()
    /** Entry `name` of `dir` came, went or moved (`subject`: its inode, when known). */
    const renamed = (dir: Node, name: string, subject?: Vnode) => deliver(watches.notify("r", dir, name, subject))
    /** The node at `node` changed (data or attributes). */
    const changed = (node: Node) => deliver(watches.changed(node))

    /** Fails with `code` unless `ok`. */
    const check = (ok: boolean, code: string, syscall: string, path: string, dest?: string): Effect.Effect<void, FsError> =>
      ok ? Effect.void : Effect.fail(err(code, syscall, path, dest))

    const fileOf = (badge: number, fd: number, syscall: string): OpenFile | FsError => tables.get(badge, fd) ?? err("EBADF", syscall)

    /**
     * Makes `v` (reached through `node`) usable by a new descriptor: counts the descriptor, and
     * has the file system count an open when the VFS holds none for it, or truncates it. On
     * failure the count is undone; `ENOENT` (the inode went behind the cache) buries the vnode.
     */
    const hold = (m: Mount, v: Vnode, truncate: boolean): Effect.Effect<void, FsError, P> => {
      m.cache.opened(v)
      const undo = (e: FsError) => {
        if (e.code === "ENOENT") m.cache.bury(v)
        return Effect.zipRight(Effect.ignore(m.cache.closed(v)), Effect.fail(e))
      }
      if (v.held === 0) {
        return Effect.catchAll(
          change(m, m.fs.open({ ino: v.ino, truncate }), (a, ch) =>
            Effect.sync(() => {
              m.cache.hold(v)
              m.cache.replaced(v, a, ch)
            })
          ),
          undo
        )
      }
      if (!truncate) return Effect.void
      return Effect.catchAll(
        change(m, m.fs.truncate({ ino: v.ino, size: 0 }), (a, ch) => Effect.sync(() => m.cache.replaced(v, a, ch))),
        undo
      )
    }

    /**
     * Opens the file at `node` for a new descriptor, after its checks: counts the descriptor on
     * its vnode; now when the VFS already holds the inode open and nothing is truncated, else
     * through `hold`. Failures name `at`.
     */
    const opening = (c: Credentials, node: Node, flags: OpenFlags, at: string, truncateNow: boolean): Soon<OpenFile, P> => {
      const v = node.inode
      if (v.type === "symlink") return err("ELOOP", "open", at)
      const isDir = v.type === "dir"
      if (flags.directory && !isDir) return err("ENOTDIR", "open", at)
      if (isDir && (flags.write || flags.truncate)) return err("EISDIR", "open", at)
      if (!permits(c, v, (flags.read ? R_OK : 0) | (flags.write || flags.truncate ? W_OK : 0))) return err("EACCES", "open", at)
      const truncate = flags.truncate && truncateNow
      const f: OpenFile = { mount: node.mount, vnode: v, node, flags, isDir, position: 0 }
      if (v.held > 0 && !truncate) {
        node.mount.cache.opened(v)
        return f
      }
      return Effect.merge(Effect.as(Effect.zipRight(hold(node.mount, v, truncate), truncate ? changed(node) : Effect.void), f))
    }

    /**
     * Creates `at` for `c` (its name is absent) and opens it; the create is exclusive at the file
     * system whatever the flags, so that a file another client created since the lookup is never
     * opened unchecked (that, or a dangling symbolic link, answers `ESTALE` or opens the link's
     * target, as Linux's `O_CREAT` does).
     */
    const creating = (
      c: Credentials,
      badge: number,
      at: string,
      hops: number,
      flags: OpenFlags,
      mode: number,
      truncateNow: boolean
    ): Effect.Effect<OpenFile, FsError, P> =>
      Effect.gen(function* () {
        if (mustBeDir(at)) return yield* Effect.fail(err("EISDIR", "open", at))
        const { dir, name } = yield* parentOf(c, at, "open", true)
        const m = dir.mount
        const created = yield* Effect.either(
          change(
            m,
            m.fs.create({ dir: dir.inode.ino, name, mode: createMode(mode, c.umask, false), uid: c.uid, gid: c.gid, exclusive: true, truncate: false }),
            (a, ch) => Effect.succeed(m.cache.entered(dir.inode, name, a, ch))
          )
        )
        if (created._tag === "Right") {
          const v = created.right
          m.cache.opened(v)
          m.cache.hold(v)
          yield* renamed(dir, name, v)
          return { mount: m, vnode: v, node: { mount: m, inode: v, path: join(dir.path, name), parent: dir }, flags, isDir: false, position: 0 }
        }
        if (created.left.code !== "EEXIST" || flags.exclusive) return yield* Effect.fail(created.left)
        // The name exists after all: a dangling symbolic link (create its target), or a file
        // created since the lookup (the next attempt opens it, after its check).
        m.cache.forget(dir.inode, name)
        const entry = yield* Effect.mapError(m.cache.lookup(dir.inode, name), (e) => (e.code === "ENOENT" ? err("ESTALE", "open", at) : e))
        if (entry.type !== "symlink") return yield* Effect.fail(err("ESTALE", "open", at))
        if (hops >= SYMLINK_MAX) return yield* Effect.fail(err("ELOOP", "open", at))
        const target = yield* m.cache.readlink(entry)
        return yield* settled(attempt(c, badge, target.startsWith("/") ? target : join(dir.path, target), hops + 1, flags, mode, truncateNow))
      })

    /** One attempt at `open(at)`: resolution, then the open or the create. */
    const attempt = (c: Credentials, badge: number, at: string, hops: number, flags: OpenFlags, mode: number, truncateNow: boolean): Soon<OpenFile, P> =>
      // O_EXCL never follows the last component: an existing symbolic link is EEXIST.
      fold(names.resolve(c, at, !flags.nofollow && !(flags.create && flags.exclusive), "open"), (node) => {
        if (!(node instanceof FsError)) return flags.create && flags.exclusive ? err("EEXIST", "open", at) : opening(c, node, flags, at, truncateNow)
        if (!flags.create || node.code !== "ENOENT") return node
        return Effect.merge(creating(c, badge, at, hops, flags, mode, truncateNow))
      })

    /**
     * `open(path)` for `c`: the open file, counted on its vnode but in no descriptor table yet —
     * now, when the cache answers every step. `truncateNow: false` leaves an `O_TRUNC` to the
     * caller's first write (`writeFile` does both in one step). Failures name `path`, as Node's
     * do, even when they arose at the target of a dangling symbolic link that `O_CREAT` creates
     * (as Linux does); an open overtaken `ATTEMPTS` times is `EAGAIN`.
     */
    const openFile = (c: Credentials, badge: number, path: string, flagsIn: string | number, mode: number, truncateNow = true): Soon<OpenFile, P> => {
      const flags = parseFlags(flagsIn)
      if (flags === undefined || (flags.create && flags.directory)) return err("EINVAL", "open", path)
      if (tables.full(badge)) return err("EMFILE", "open", path)
      return fold(
        retryStale(() => attempt(c, badge, path, 0, flags, mode, truncateNow)),
        (r) => (r instanceof FsError ? err(r.code, "open", path) : r)
      )
    }

    /** Creates the directory `name` in `dir` for `c`: its uid/gid, `mode & ~umask`. */
    const makeDir = (c: Credentials, dir: Node, name: string, mode: number) =>
      change(dir.mount, dir.mount.fs.mkdir({ dir: dir.inode.ino, name, mode: createMode(mode, c.umask, true), uid: c.uid, gid: c.gid }), (a, ch) => {
        const v = dir.mount.cache.entered(dir.inode, name, a, ch)
        return Effect.as(renamed(dir, name, v), v)
      })

    /** `mkdir -p`: creates every missing directory of `path`; the first one created, if any. Failures name `path`. */
    const mkdirRecursive = (c: Credentials, path: string, mode: number): Effect.Effect<string | null, FsError, P> =>
      Effect.gen(function* () {
        const parts = split(normalize(path))
        let first: string | null = null
        for (let i = 1; i <= parts.length; i++) {
          const prefix = "/" + parts.slice(0, i).join("/")
          const found = yield* Effect.either(resolve(c, prefix, true, "mkdir"))
          if (found._tag === "Right") {
            if (found.right.inode.type !== "dir") return yield* Effect.fail(err("ENOTDIR", "mkdir", path))
            continue
          }
          if (found.left.code !== "ENOENT") return yield* Effect.fail(found.left)
          const made = yield* Effect.either(Effect.flatMap(parentOf(c, prefix, "mkdir", true), ({ dir, name }) => makeDir(c, dir, name, mode)))
          if (made._tag === "Left" && made.left.code !== "EEXIST") return yield* Effect.fail(made.left)
          if (made._tag === "Right" && first === null) first = prefix
        }
        return first
      }).pipe(Effect.mapError((e) => err(e.code, "mkdir", path)))

    /** An entry a guarded change checked was not there any more (`ESTALE`): forget what the cache thought, so the retry looks again. */
    const forgetting = <A>(dir: Node, names: ReadonlyArray<readonly [Vnode, string]>, e: Effect.Effect<A, FsError, P>) =>
      Effect.tapError(e, (x) =>
        Effect.sync(() => {
          if (x.code === "ESTALE") for (const [d, n] of names) dir.mount.cache.forget(d, n)
        })
      )

    /**
     * `unlink` or `rmdir`: write and search permission on the directory; in a sticky directory a
     * caller that is neither root nor the directory's owner must own the entry (`EPERM`), which
     * needs the entry's owner (from the cache, or one lookup), and the file system removes it only
     * if the name still names that inode.
     */
    const remove = (c: Credentials, path: string, syscall: "unlink" | "rmdir") =>
      settled(
        retryStale(() =>
          Effect.merge(
            Effect.gen(function* () {
              const { dir, name } = yield* parentOf(c, path, syscall, true)
              if (syscall === "unlink" && mustBeDir(path)) return yield* Effect.fail(err("ENOTDIR", syscall, path))
              const m = dir.mount
              let guard: { ino?: number } = {}
              if (stickyRestricts(c, dir.inode)) {
                const victim = yield* m.cache.lookup(dir.inode, name)
                yield* check(victim.uid === c.uid, "EPERM", syscall, path)
                guard = { ino: victim.ino }
              }
              const args = { dir: dir.inode.ino, name, ...guard }
              yield* forgetting(
                dir,
                [[dir.inode, name]],
                change(m, syscall === "unlink" ? m.fs.unlink(args) : m.fs.rmdir(args), (r, ch) => {
                  const victim = m.cache.find(r.ino)
                  return Effect.zipRight(m.cache.removed(dir.inode, name, r, ch), renamed(dir, name, victim))
                })
              )
            })
          )
        )
      ).pipe(Effect.mapError(named(syscall, path)))

    /**
     * `rename`: write and search permission on both directories; the sticky bit on either one
     * (the moved entry, and the replaced one) as in `remove`; and a directory moving to another
     * parent needs write permission on itself (its `..` changes), as in Linux. Root skips all of
     * it; others need the entries' owners only when the sticky bit or a move between directories
     * asks, and the file system renames only if the entries are still those checked.
     */
    const rename = (c: Credentials, from: string, to: string) =>
      settled(
        retryStale(() =>
          Effect.merge(
            Effect.gen(function* () {
              const a = yield* parentOf(c, from, "rename", true)
              const b = yield* parentOf(c, to, "rename", true)
              if (a.dir.mount !== b.dir.mount) return yield* Effect.fail(err("EXDEV", "rename", from, to))
              const m = a.dir.mount
              const guards: { fromIno?: number; toIno?: number } = {}
              if (c.uid !== 0) {
                const crossDir = a.dir.inode.ino !== b.dir.inode.ino
                if (crossDir || stickyRestricts(c, a.dir.inode)) {
                  const moving = yield* m.cache.lookup(a.dir.inode, a.name)
                  yield* check(!stickyRestricts(c, a.dir.inode) || moving.uid === c.uid, "EPERM", "rename", from, to)
                  yield* check(!crossDir || moving.type !== "dir" || permits(c, moving, W_OK), "EACCES", "rename", from, to)
                  guards.fromIno = moving.ino
                }
                if (stickyRestricts(c, b.dir.inode)) {
                  const target = yield* Effect.either(m.cache.lookup(b.dir.inode, b.name))
                  if (target._tag === "Left" && target.left.code !== "ENOENT") return yield* Effect.fail(target.left)
                  if (target._tag === "Right") yield* check(target.right.uid === c.uid, "EPERM", "rename", from, to)
                  guards.toIno = target._tag === "Right" ? target.right.ino : 0
                }
              }
              yield* forgetting(
                a.dir,
                [
                  [a.dir.inode, a.name],
                  [b.dir.inode, b.name]
                ],
                change(m, m.fs.rename({ fromDir: a.dir.inode.ino, fromName: a.name, toDir: b.dir.inode.ino, toName: b.name, ...guards }), (r, ch) => {
                  const moved = m.cache.find(r.ino)
                  const replaced = r.replaced === null ? undefined : m.cache.find(r.replaced.ino)
                  return Effect.zipRight(
                    m.cache.renamed(a.dir.inode, a.name, b.dir.inode, b.name, r.ino, r.replaced, ch),
                    Effect.zipRight(renamed(a.dir, a.name, moved), renamed(b.dir, b.name, replaced))
                  )
                })
              )
            })
          )
        )
      ).pipe(Effect.mapError((e) => (e.dest === undefined ? err(e.code, "rename", from, to) : e)))

    /** The current attributes of `v` (cached, or fetched); an inode gone is `ENOENT`. */
    const attrOf = (m: Mount, v: Vnode) => m.cache.attrOf(v)

    /** The `stat` of the node `n`: now when the cache has its attributes; failures named `syscall` (and `path`). */
    const statOf = (n: Node, syscall: string, path?: string): Soon<WireStat, P> => {
      const a = n.mount.cache.attrNow(n.inode)
      if (a === undefined)
        return Effect.merge(Effect.mapBoth(attrOf(n.mount, n.inode), { onFailure: (e) => err(e.code, syscall, path), onSuccess: (b) => stat(n.mount, b) }))
      return a instanceof FsError ? err(a.code, syscall, path) : stat(n.mount, a)
    }

    /** Closes an open file that is in no descriptor table (transport failures: `EIO`). */
    const closeFile = (f: OpenFile) => Effect.mapError(f.mount.cache.closed(f.vnode), () => err("EIO", "close"))

    /** Reads up to `length` bytes of `f` at `at` (its position with -1) into `lease`; the count, with the position moved when `at` is -1. */
    const readAt = (f: OpenFile, lease: Lease.Lease, length: number, at: number) => {
      const offset = at >= 0 ? at : f.position
      return Effect.map(
        touching(
          f.mount,
          f.vnode,
          f.mount.fs.read({ ino: f.vnode.ino, offset, length }, { items: [{ _tag: "lease", from: lease, offset: 0, length, access: "write" }] })
        ),
        (n) => {
          if (at < 0) f.position = offset + n
          return n
        }
      )
    }

    /** Writes the `length` bytes of `lease` to `f` at `at` (its position with -1, the end when appending); the count, the position moved as POSIX says. */
    const writeAt = (f: OpenFile, lease: Lease.Lease, length: number, at: number, truncate: boolean) => {
      const offset = at >= 0 ? at : f.position
      const written = Effect.map(
        touching(
          f.mount,
          f.vnode,
          f.mount.fs.write(
            { ino: f.vnode.ino, offset, length, append: f.flags.append, truncate },
            { items: [{ _tag: "lease", from: lease, offset: 0, length, access: "read" }] }
          )
        ),
        (r) => {
          if (at < 0 || f.flags.append) f.position = r.offset + r.written
          return r.written
        }
      )
      // A change watchers may be waiting for; with no watch at all, not even a step.
      return watches.empty ? written : Effect.tap(written, () => changed(f.node))
    }

    /** A lease item of `length` bytes or more, or undefined. */
    const leaseOf = (item: Message.DeliveredItem | undefined, length: number) =>
      item !== undefined && item._tag === "lease" && Number.isSafeInteger(length) && length >= 0 && length <= item.length ? item.lease : undefined

    const handlers: Server.Handlers<VfsProtocol["operations"]> = {
      open: ({ path, flags, mode }, call) =>
        settled(chain(openFile(credOf(call.badge), call.badge, path, flags, mode), (f) => ({ fd: tables.insert(call.badge, f) }))),
      close: ({ fd }, call) => {
        const f = fileOf(call.badge, fd, "close")
        if (f instanceof FsError) return Effect.fail(f)
        tables.remove(call.badge, fd)
        return closeFile(f)
      },
      read: ({ fd, length, position }, call) => {
        const f = fileOf(call.badge, fd, "read")
        if (f instanceof FsError) return Effect.fail(f)
        if (!f.flags.read) return Effect.fail(err("EBADF", "read"))
        if (f.isDir) return Effect.fail(err("EISDIR", "read"))
        const lease = leaseOf(call.items[0], length)
        if (lease === undefined || position < -1) return Effect.fail(err("EINVAL", "read"))
        return Effect.mapError(readAt(f, lease, length, position), (e) => err(e.code, "read"))
      },
      write: ({ fd, length, position }, call) => {
        const f = fileOf(call.badge, fd, "write")
        if (f instanceof FsError) return Effect.fail(f)
        if (!f.flags.write) return Effect.fail(err("EBADF", "write"))
        const lease = leaseOf(call.items[0], length)
        if (lease === undefined || position < -1) return Effect.fail(err("EINVAL", "write"))
        return Effect.mapError(writeAt(f, lease, length, position, false), (e) => err(e.code, "write"))
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
          const offset = at >= 0 ? at : (yield* attrOf(f.mount, f.vnode)).size
          const r = yield* touching(
            f.mount,
            f.vnode,
            f.mount.fs.writeGrant({ ino: f.vnode.ino, offset, length }, { items: [{ _tag: "grant", address: item.address, pages: item.pages }] })
          )
          if (position < 0) f.position = r.offset + r.written
          yield* changed(f.node)
          return r.written
        }).pipe(
          Effect.tapError(() => giveBack),
          Effect.mapError((e) => err(e.code, "write"))
        )
      },
      fstat: ({ fd }, call) => {
        const f = fileOf(call.badge, fd, "fstat")
        if (f instanceof FsError) return Effect.fail(f)
        return settled(statOf(f.node, "fstat"))
      },
      ftruncate: ({ fd, size }, call) => {
        const f = fileOf(call.badge, fd, "ftruncate")
        if (f instanceof FsError) return Effect.fail(f)
        if (!f.flags.write) return Effect.fail(err("EINVAL", "ftruncate"))
        return change(f.mount, f.mount.fs.truncate({ ino: f.vnode.ino, size }), (a, ch) =>
          Effect.zipRight(
            Effect.sync(() => f.mount.cache.replaced(f.vnode, a, ch)),
            changed(f.node)
          )
        ).pipe(Effect.mapError((e) => err(e.code, "ftruncate")))
      },
      // Answered without an Effect step when the cache knows the path and the attributes.
      stat: ({ path, follow }, call) => {
        const syscall = follow ? "stat" : "lstat"
        return settled(chain(names.resolve(credOf(call.badge), path, follow, syscall), (n) => statOf(n, syscall, path)))
      },
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
          if (n.inode.type !== "dir") return yield* Effect.fail(err("ENOTDIR", "scandir", path))
          yield* check(permits(c, n.inode, R_OK), "EACCES", "scandir", path)
          return yield* touching(n.mount, n.inode, n.mount.fs.readdir({ dir: n.inode.ino, cookie }))
        }).pipe(Effect.mapError(named("scandir", path)))
      },
      unlink: ({ path }, call) => remove(credOf(call.badge), path, "unlink"),
      rmdir: ({ path }, call) => remove(credOf(call.badge), path, "rmdir"),
      rename: ({ from, to }, call) => rename(credOf(call.badge), from, to),
      symlink: ({ target, path }, call) => {
        const c = credOf(call.badge)
        return Effect.flatMap(parentOf(c, path, "symlink", true), ({ dir, name }) =>
          change(dir.mount, dir.mount.fs.symlink({ dir: dir.inode.ino, name, target, uid: c.uid, gid: c.gid }), (a, ch) =>
            Effect.sync(() => {
              dir.mount.cache.entered(dir.inode, name, a, ch).target = target
            }).pipe(Effect.zipRight(renamed(dir, name)))
          )
        ).pipe(Effect.mapError((e) => err(e.code, "symlink", target, path)))
      },
      readlink: ({ path }, call) =>
        Effect.flatMap(resolve(credOf(call.badge), path, false, "readlink"), (n) =>
          n.inode.type !== "symlink" ? Effect.fail(err("EINVAL", "readlink", path)) : n.mount.cache.readlink(n.inode)
        ).pipe(Effect.mapError(named("readlink", path))),
      link: ({ existing, path }, call) => {
        const c = credOf(call.badge)
        return Effect.gen(function* () {
          const src = yield* resolve(c, existing, false, "link")
          const { dir, name } = yield* parentOf(c, path, "link", false)
          if (dir.mount !== src.mount) return yield* Effect.fail(err("EXDEV", "link", existing, path))
          if (src.inode.type === "dir") return yield* Effect.fail(err("EPERM", "link", existing, path))
          yield* check(permits(c, dir.inode, W_OK | X_OK), "EACCES", "link", existing, path)
          yield* change(dir.mount, dir.mount.fs.link({ dir: dir.inode.ino, name, ino: src.inode.ino }), (a, ch) =>
            renamed(dir, name, dir.mount.cache.entered(dir.inode, name, a, ch))
          )
        }).pipe(Effect.mapError((e) => (e.dest === undefined ? err(e.code, "link", existing, path) : e)))
      },
      realpath: ({ path }, call) =>
        Effect.map(resolve(credOf(call.badge), path, true, "realpath"), (n) => n.path).pipe(Effect.mapError(named("realpath", path))),
      truncate: ({ path, size }, call) => {
        const c = credOf(call.badge)
        return Effect.gen(function* () {
          if (!Number.isSafeInteger(size) || size < 0) return yield* Effect.fail(err("EINVAL", "open", path))
          const n = yield* resolve(c, path, true, "open")
          if (n.inode.type === "dir") return yield* Effect.fail(err("EISDIR", "open", path))
          yield* check(permits(c, n.inode, W_OK), "EACCES", "open", path)
          yield* change(n.mount, n.mount.fs.truncate({ ino: n.inode.ino, size }), (a, ch) => Effect.sync(() => n.mount.cache.replaced(n.inode, a, ch)))
          yield* changed(n)
        }).pipe(Effect.mapError(named("open", path)))
      },
      setattr: ({ path, follow, now, ...changes }, call) => {
        const c = credOf(call.badge)
        const syscall = changes.mode !== undefined ? "chmod" : changes.uid !== undefined || changes.gid !== undefined ? "chown" : "utime"
        const times = now === true || changes.atimeNs !== undefined || changes.mtimeNs !== undefined
        return Effect.gen(function* () {
          const n = yield* resolve(c, path, follow, syscall)
          yield* check(changes.mode === undefined || owns(c, n.inode), "EPERM", syscall, path)
          const chown = chownError(c, n.inode, changes.uid, changes.gid)
          if (chown !== undefined) return yield* Effect.fail(err(chown, syscall, path))
          const utimes = times ? utimesError(c, n.inode, now === true) : undefined
          if (utimes !== undefined) return yield* Effect.fail(err(utimes, syscall, path))
          yield* change(n.mount, n.mount.fs.setattr({ ino: n.inode.ino, ...changes, ...(now === true ? { now } : {}) }), (a, ch) =>
            Effect.sync(() => n.mount.cache.replaced(n.inode, a, ch))
          )
          yield* changed(n)
        }).pipe(Effect.mapError(named(syscall, path)))
      },
      access: ({ path, mode }, call) => {
        const c = credOf(call.badge)
        if (!Number.isInteger(mode) || (mode & ~7) !== 0) return Effect.fail(err("EINVAL", "access", path))
        return settled(chain(names.resolve(c, path, true, "access"), (n) => (permits(c, n.inode, mode) ? undefined : err("EACCES", "access", path))))
      },
      setCredentials: ({ badge, credentials: given }, call) => {
        const refused = credentials.set(call.badge, badge, given)
        return refused === undefined ? Effect.void : Effect.fail(err(refused, "setCredentials"))
      },
      umask: ({ mask }, call) => {
        if (mask === undefined) return Effect.succeed(credOf(call.badge).umask)
        const previous = credentials.setUmask(call.badge, mask)
        return previous === "EINVAL" ? Effect.fail(err("EINVAL", "umask")) : Effect.succeed(previous)
      },
      readFile: ({ path, flags, length }, call) => {
        const lease = leaseOf(call.items[0], length)
        if (lease === undefined) return Effect.fail(err("EINVAL", "read"))
        return thenDo(openFile(credOf(call.badge), call.badge, path, flags, 0o666), (f) =>
          matchWith(
            f.isDir ? Effect.fail(err("EISDIR", "read")) : readAt(f, lease, length, -1),
            (e) => Effect.zipRight(Effect.ignore(closeFile(f)), Effect.fail(err(e.code, "read"))),
            // The whole file fitted (a read short of `length`): done. Else the rest is the caller's, through a descriptor.
            (read) => (read < length || length === 0 ? Effect.as(closeFile(f), { read, fd: -1 }) : Effect.succeed({ read, fd: tables.insert(call.badge, f) }))
          )
        )
      },
      watch: ({ path, recursive, follow }, call) => {
        const c = credOf(call.badge)
        return Effect.flatMap(resolve(c, path, follow, "watch"), (n) => {
          if (!permits(c, n.inode, R_OK)) return Effect.fail(err("EACCES", "watch", path))
          const w = watches.add(call.badge, n.inode, recursive, n.path === "/" ? "" : n.path.slice(n.path.lastIndexOf("/") + 1))
          if (w === "ENOSPC") return Effect.fail(err("ENOSPC", "watch", path))
          n.inode.watches++
          return Effect.succeed({ id: w.id })
        }).pipe(Effect.mapError(named("watch", path)))
      },
      watchEvents: ({ id, after }, call) => {
        const w = watches.get(call.badge, id)
        if (w === undefined) return Effect.fail(err("EBADF", "watch"))
        if (w.seq > after && w.waiter === undefined) return Effect.succeed(packEvents(w.batch(after)))
        const responder = call.defer()
        return Effect.as(deliver(watches.wait(w, after, responder)), responder)
      },
      unwatch: ({ id }, call) => {
        const w = watches.get(call.badge, id)
        if (w === undefined) return Effect.fail(err("EBADF", "unwatch"))
        w.inode.watches--
        return deliver(watches.remove(w))
      },
      writeFile: ({ path, flags, mode, length }, call) => {
        const lease = leaseOf(call.items[0], length)
        if (lease === undefined) return Effect.fail(err("EINVAL", "write"))
        return thenDo(openFile(credOf(call.badge), call.badge, path, flags, mode, false), (f) =>
          f.flags.write
            ? matchWith(
                writeAt(f, lease, length, 0, f.flags.truncate),
                (e) => Effect.zipRight(Effect.ignore(closeFile(f)), Effect.fail(err(e.code, "write"))),
                (n) => Effect.as(Effect.ignore(closeFile(f)), n)
              )
            : Effect.zipRight(Effect.ignore(closeFile(f)), Effect.fail(err("EBADF", "write")))
        )
      }
    }
    // A client died: forget its credentials, and close every file it still had open, so
    // unlinked files it held are freed.
    const onDisconnect = (badge: number) =>
      Effect.suspend(() => {
        credentials.forget(badge)
        for (const v of watches.drop(badge)) v.watches--
        return Effect.forEach(tables.drop(badge), (f) => Effect.ignore(f.mount.cache.closed(f.vnode)), { discard: true })
      })
    return yield* Server.serve(VfsProtocol, handlers, options.port, {
      workers: { min: 2, max: MAX_WORKERS },
      // Clients' calls run the handlers on their own threads (they are safe for it: any number
      // of workers already run them at once).
      direct: true,
      onDisconnect,
      ...(options.counters === undefined ? {} : { counters: options.counters })
    })
  })
