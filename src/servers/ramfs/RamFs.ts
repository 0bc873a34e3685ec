/**
 * The RAM file-system server: inodes, directories, hard and symbolic links, modes, owners and
 * nanosecond timestamps, with file data in frames this process owns. It implements `FsProtocol`.
 *
 * Invariants:
 * - One worker: every handler runs alone, so an exclusive create, a `mkdir` or an append decides
 *   and commits without a peer in between (exactly one winner of a race; appends never interleave).
 * - An inode number is never reused while the server lives; an inode lives while it has a link or
 *   an open, and its pages are freed when both are gone.
 * - A file page is either absent (a hole, read as zeros) or one page of a region this server
 *   allocated or was granted; a region is freed when its last file page is dropped.
 * - File bytes move only by `Lease.read`/`Lease.write` (one kernel copy) or by grant (none).
 * - `mtime` strictly increases on every write, even within one clock tick.
 * - Policy-free: modes and owners are stored as the VFS gives them; permissions are the VFS's to
 *   check. The guards of `unlink`, `rmdir` and `rename` (`ESTALE`) let the VFS act on exactly the
 *   inode it checked.
 */
import { type Clock, Effect } from "effect"
import { FsProtocol as Fs, Lease, Memory, type Message, Params, type Process, Server } from "../../api.js"

const { DIR_PAGE_BYTES, FsError, FsProtocol, fromNs, NAME_MAX, packDir } = Fs
type FsError = Fs.FsError
type FsProtocol = Fs.FsProtocol
type Attr = Fs.Attr
type DirEntry = Fs.DirEntry
type Removed = Fs.Removed
type FileType = Fs.FileType
type DeliveredItem = Message.DeliveredItem
const { PAGE_SIZE } = Params

interface Inode {
  readonly ino: number
  readonly type: FileType
  mode: number
  uid: number
  gid: number
  nlink: number
  opens: number
  size: number
  atime: Time
  mtime: Time
  ctime: Time
  readonly birthtime: Time
  /** File pages: a page address in this server's space, or -1 for a hole. */
  readonly pages: Array<number>
  /** Directory entries (directories only), in creation order. */
  readonly entries: Map<string, number>
  /** Symbolic-link target (links only). */
  readonly target: string
}

/** A point in time as POSIX's `timespec` (the form `Attr` carries): seconds since the epoch, nanoseconds `0..999_999_999`. Immutable. */
class Time {
  constructor(
    readonly sec: number,
    readonly nsec: number
  ) {}

  /** From nanoseconds since the epoch (a `setattr`'s bigint). */
  static ofNs(ns: bigint): Time {
    const [sec, nsec] = fromNs(ns)
    return new Time(sec, nsec)
  }
}

const fail = (code: string) => Effect.fail(new FsError({ code }))

/** The store: every inode and every region of frames. Owned by the server's one worker. */
class Store {
  readonly inodes = new Map<number, Inode>()
  /** Live file pages per region, by the region's first address. */
  readonly regions = new Map<number, number>()
  /** The region of each live file page. */
  readonly regionOf = new Map<number, number>()
  private nextIno = 2
  /** The last timestamp given out, in nanoseconds since the epoch. */
  private lastNs = 0n
  readonly root: Inode

  /** `clock`: the server's Effect `Clock` (a kernel's virtual one in seeded mode). */
  constructor(private readonly clock: Clock.Clock) {
    this.root = this.make("dir", 0o755, 0, 0, "", 1)
  }

  /** The clock's time, strictly increasing across calls (a nanosecond later than the last when the clock has not moved). */
  now(): Time {
    const t = this.clock.unsafeCurrentTimeNanos()
    this.lastNs = t > this.lastNs ? t : this.lastNs + 1n
    return Time.ofNs(this.lastNs)
  }

  make(type: FileType, mode: number, uid: number, gid: number, target: string, ino = this.nextIno++): Inode {
    const t = this.now()
    const inode: Inode = {
      ino,
      type,
      mode: mode & 0o7777,
      uid,
      gid,
      nlink: type === "dir" ? 2 : 1,
      opens: 0,
      size: type === "symlink" ? new TextEncoder().encode(target).length : 0,
      atime: t,
      mtime: t,
      ctime: t,
      birthtime: t,
      pages: [],
      entries: new Map(),
      target
    }
    this.inodes.set(ino, inode)
    return inode
  }

  attr(i: Inode): Attr {
    const blocks = i.type === "file" ? i.pages.reduce((n, p) => (p >= 0 ? n + PAGE_SIZE / 512 : n), 0) : 0
    const size = i.type === "dir" ? i.entries.size * 32 + 64 : i.size
    return {
      ino: i.ino,
      type: i.type,
      mode: i.mode,
      nlink: i.nlink,
      uid: i.uid,
      gid: i.gid,
      size,
      blocks,
      atimeSec: i.atime.sec,
      atimeNsec: i.atime.nsec,
      mtimeSec: i.mtime.sec,
      mtimeNsec: i.mtime.nsec,
      ctimeSec: i.ctime.sec,
      ctimeNsec: i.ctime.nsec,
      birthtimeSec: i.birthtime.sec,
      birthtimeNsec: i.birthtime.nsec
    }
  }

  get(ino: number): Inode | undefined {
    return this.inodes.get(ino)
  }

  /** Records `pages` consecutive pages from `base` as one region of live file pages. */
  adopt(base: number, pages: number): void {
    this.regions.set(base, pages)
    for (let i = 0; i < pages; i++) this.regionOf.set(base + i * PAGE_SIZE, base)
  }

  /** Drops one file page; returns the region to free when it was the region's last. */
  drop(page: number): number | undefined {
    const base = this.regionOf.get(page)
    if (base === undefined) return undefined
    this.regionOf.delete(page)
    const left = this.regions.get(base)! - 1
    if (left > 0) {
      this.regions.set(base, left)
      return undefined
    }
    this.regions.delete(base)
    return base
  }
}

/** Frees regions whose last page went. */
const freeAll = (regions: ReadonlyArray<number>): Effect.Effect<void, never, Process.Process> =>
  Effect.forEach(regions, (r) => Effect.ignore(Memory.free(r)), { discard: true })

/** Drops the pages of `inode` from page index `from` on; the regions to free. */
const dropPages = (s: Store, inode: Inode, from: number): Array<number> => {
  const freed: Array<number> = []
  for (let i = from; i < inode.pages.length; i++) {
    const p = inode.pages[i]!
    if (p >= 0) {
      const r = s.drop(p)
      if (r !== undefined) freed.push(r)
    }
  }
  inode.pages.length = Math.min(inode.pages.length, from)
  return freed
}

/** Forgets an inode with no links and no opens, freeing its pages. */
const reap = (s: Store, inode: Inode): Array<number> => {
  if (inode.nlink > 0 || inode.opens > 0) return []
  s.inodes.delete(inode.ino)
  return dropPages(s, inode, 0)
}

/** Sets the size; a shrink zeroes the rest of the last page and drops the pages past it. */
const resize = (s: Store, inode: Inode, size: number): Effect.Effect<void, never, Process.Process> =>
  Effect.suspend(() => {
    const old = inode.size
    inode.size = size
    inode.mtime = inode.ctime = s.now()
    if (size >= old) return Effect.void
    const keep = Math.ceil(size / PAGE_SIZE)
    const freed = dropPages(s, inode, keep)
    const tail = size % PAGE_SIZE
    const last = keep > 0 ? inode.pages[keep - 1] : undefined
    const zero = last !== undefined && last >= 0 && tail > 0 ? Effect.orDie(Memory.write(last + tail, new Uint8Array(PAGE_SIZE - tail))) : Effect.void
    return Effect.zipRight(zero, freeAll(freed))
  })

const checkName = (name: string): FsError | undefined =>
  name.length === 0 || name === "." || name === ".." || name.includes("/") || name.includes("\0")
    ? new FsError({ code: "EINVAL" })
    : name.length > NAME_MAX
      ? new FsError({ code: "ENAMETOOLONG" })
      : undefined

/** The directory `ino`, or ENOENT / ENOTDIR. */
const dirOf = (s: Store, ino: number): Inode | FsError => {
  const d = s.get(ino)
  if (d === undefined || (d.type === "dir" && d.nlink === 0)) return new FsError({ code: "ENOENT" })
  return d.type === "dir" ? d : new FsError({ code: "ENOTDIR" })
}

const inodeOf = (s: Store, ino: number): Inode | FsError => s.get(ino) ?? new FsError({ code: "ENOENT" })

/** Makes sure pages `[first, last]` exist, allocating each missing run as one region (no step at all when none is missing). */
const ensurePages = (s: Store, inode: Inode, first: number, last: number): Effect.Effect<void, FsError, Process.Process> => {
  while (inode.pages.length <= last) inode.pages.push(-1)
  let i = first
  while (i <= last && inode.pages[i]! >= 0) i++
  if (i > last) return Effect.void
  let j = i
  while (j + 1 <= last && inode.pages[j + 1]! < 0) j++
  const count = j - i + 1
  return Effect.flatMap(
    Effect.mapError(Memory.allocate(count), () => new FsError({ code: "ENOSPC" })),
    (base) => {
      s.adopt(base, count)
      for (let k = 0; k < count; k++) inode.pages[i + k] = base + k * PAGE_SIZE
      return ensurePages(s, inode, j + 1, last)
    }
  )
}

/**
 * `f(fileOffset, address, length)` over `[offset, offset + length)` of a file, in runs of
 * consecutive page addresses (a hole is its own run with address -1). Most reads and writes are
 * one run, which costs one step.
 */
/** A write's answer (at `at`, `length` bytes), its times stamped now. */
const written = (s: Store, i: Inode, at: number, length: number) => {
  i.mtime = i.ctime = s.now()
  return { offset: at, written: length, size: i.size }
}

const runs = (
  inode: Inode,
  offset: number,
  length: number,
  f: (at: number, address: number, n: number) => Effect.Effect<unknown, unknown, Process.Process>
) => {
  const found: Array<Effect.Effect<unknown, unknown, Process.Process>> = []
  let at = offset
  const end = offset + length
  while (at < end) {
    const index = Math.floor(at / PAGE_SIZE)
    const page = inode.pages[index] ?? -1
    const start = page < 0 ? -1 : page + (at % PAGE_SIZE)
    let n = Math.min(end, (index + 1) * PAGE_SIZE) - at
    // Extend while the next page continues this one in memory (or the hole goes on).
    for (let k = index + 1; at + n < end; k++) {
      const next = inode.pages[k] ?? -1
      if (page < 0 ? next >= 0 : next !== page + (k - index) * PAGE_SIZE) break
      n = Math.min(end, (k + 1) * PAGE_SIZE) - at
    }
    found.push(f(at, start, n))
    at += n
  }
  return found.length === 0 ? Effect.void : found.length === 1 ? found[0]! : Effect.all(found, { discard: true })
}

const leaseError = (e: { readonly _tag: string }) => new FsError({ code: e._tag === "PageFault" || e._tag === "InvalidAddress" ? "EFAULT" : "EIO" })
const ZEROS = new Uint8Array(PAGE_SIZE)

/** The handlers of one RAM file system (fresh state per call: a restarted server starts empty). */
export const handlers: Effect.Effect<Server.Handlers<FsProtocol["operations"]>, never, Process.Process> = Effect.map(Effect.clock, (clock) => {
  const s = new Store(clock)
  /** Checks a read or write: a regular file, a sane range, and a lease to move the bytes through. */
  const leasedFile = (ino: number, offset: number, length: number, item: DeliveredItem | undefined): Inode | FsError => {
    const i = inodeOf(s, ino)
    if (i instanceof FsError) return i
    if (i.type === "dir") return new FsError({ code: "EISDIR" })
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) return new FsError({ code: "EINVAL" })
    if (item === undefined || item._tag !== "lease") return new FsError({ code: "EINVAL" })
    return i
  }
  const creating = (dir: number, name: string, make: () => Inode): Effect.Effect<Attr, FsError> => {
    const d = dirOf(s, dir)
    if (d instanceof FsError) return Effect.fail(d)
    const bad = checkName(name)
    if (bad) return Effect.fail(bad)
    if (d.entries.has(name)) return fail("EEXIST")
    const inode = make()
    d.entries.set(name, inode.ino)
    if (inode.type === "dir") d.nlink++
    d.mtime = d.ctime = s.now()
    return Effect.succeed(s.attr(inode))
  }
  const removing = (dir: number, name: string, wantDir: boolean, guard: number | undefined): Effect.Effect<Removed, FsError, Process.Process> =>
    Effect.suspend(() => {
      const d = dirOf(s, dir)
      if (d instanceof FsError) return Effect.fail(d)
      if (name === "." || name === "..") return fail(wantDir ? "EINVAL" : "EISDIR")
      const ino = d.entries.get(name)
      const inode = ino === undefined ? undefined : s.get(ino)
      if (inode === undefined) return fail("ENOENT")
      if (guard !== undefined && guard !== inode.ino) return fail("ESTALE")
      if (wantDir && inode.type !== "dir") return fail("ENOTDIR")
      if (!wantDir && inode.type === "dir") return fail("EISDIR")
      if (wantDir && inode.entries.size > 0) return fail("ENOTEMPTY")
      d.entries.delete(name)
      d.mtime = d.ctime = s.now()
      if (inode.type === "dir") {
        d.nlink--
        inode.nlink = 0
      } else inode.nlink--
      inode.ctime = s.now()
      return Effect.as(freeAll(reap(s, inode)), { ino: inode.ino, nlink: inode.nlink })
    })
  /** Whether `ancestor` is `ino` or contains it (a directory may not move into itself). */
  const contains = (ancestor: Inode, ino: number): boolean => {
    if (ancestor.ino === ino) return true
    for (const child of ancestor.entries.values()) {
      const c = s.get(child)
      if (c !== undefined && c.type === "dir" && contains(c, ino)) return true
    }
    return false
  }
  return {
    root: () => Effect.succeed(s.attr(s.root)),
    lookup: ({ dir, name }) => {
      const d = dirOf(s, dir)
      if (d instanceof FsError) return Effect.fail(d)
      const ino = d.entries.get(name)
      const inode = ino === undefined ? undefined : s.get(ino)
      return inode === undefined ? fail("ENOENT") : Effect.succeed(s.attr(inode))
    },
    getattr: ({ ino }) => {
      const i = inodeOf(s, ino)
      return i instanceof FsError ? Effect.fail(i) : Effect.succeed(s.attr(i))
    },
    create: ({ dir, name, mode, uid, gid, exclusive, truncate }) => {
      const d = dirOf(s, dir)
      if (d instanceof FsError) return Effect.fail(d)
      const existing = d.entries.get(name)
      if (existing === undefined) {
        return Effect.map(
          creating(dir, name, () => s.make("file", mode, uid, gid, "")),
          (a) => {
            s.get(a.ino)!.opens++
            return a
          }
        )
      }
      if (exclusive) return fail("EEXIST")
      const inode = s.get(existing)!
      if (inode.type === "dir") return fail("EISDIR")
      inode.opens++
      return truncate && inode.size > 0 ? Effect.as(resize(s, inode, 0), s.attr(inode)) : Effect.succeed(s.attr(inode))
    },
    open: ({ ino, truncate }) => {
      const i = inodeOf(s, ino)
      if (i instanceof FsError) return Effect.fail(i)
      if (truncate && i.type === "dir") return fail("EISDIR")
      i.opens++
      return truncate && i.size > 0 ? Effect.as(resize(s, i, 0), s.attr(i)) : Effect.succeed(s.attr(i))
    },
    release: ({ ino }) => {
      const i = s.get(ino)
      if (i === undefined || i.opens === 0) return fail("EBADF")
      i.opens--
      return freeAll(reap(s, i))
    },
    mkdir: ({ dir, name, mode, uid, gid }) => creating(dir, name, () => s.make("dir", mode, uid, gid, "")),
    symlink: ({ dir, name, target, uid, gid }) =>
      target.length === 0 ? fail("ENOENT") : creating(dir, name, () => s.make("symlink", 0o777, uid, gid, target)),
    readlink: ({ ino }) => {
      const i = inodeOf(s, ino)
      if (i instanceof FsError) return Effect.fail(i)
      return i.type === "symlink" ? Effect.succeed(i.target) : fail("EINVAL")
    },
    link: ({ dir, name, ino }) => {
      const i = inodeOf(s, ino)
      if (i instanceof FsError) return Effect.fail(i)
      if (i.type === "dir") return fail("EPERM")
      if (i.nlink === 0) return fail("ENOENT")
      return creating(dir, name, () => {
        i.nlink++
        i.ctime = s.now()
        return i
      })
    },
    unlink: ({ dir, name, ino }) => removing(dir, name, false, ino),
    rmdir: ({ dir, name, ino }) => removing(dir, name, true, ino),
    rename: ({ fromDir, fromName, toDir, toName, fromIno, toIno }) =>
      Effect.suspend(() => {
        const from = dirOf(s, fromDir)
        if (from instanceof FsError) return Effect.fail(from)
        const to = dirOf(s, toDir)
        if (to instanceof FsError) return Effect.fail(to)
        const bad = checkName(fromName) ?? checkName(toName)
        if (bad) return Effect.fail(bad)
        const ino = from.entries.get(fromName)
        const moving = ino === undefined ? undefined : s.get(ino)
        if (moving === undefined) return fail("ENOENT")
        const targetIno = to.entries.get(toName)
        const target = targetIno === undefined ? undefined : s.get(targetIno)
        if ((fromIno !== undefined && fromIno !== moving.ino) || (toIno !== undefined && toIno !== (target?.ino ?? 0))) return fail("ESTALE")
        if (target !== undefined && target.ino === moving.ino) return Effect.succeed({ ino: moving.ino, replaced: null })
        if (moving.type === "dir" && contains(moving, to.ino)) return fail("EINVAL")
        if (target !== undefined) {
          if (moving.type === "dir" && target.type !== "dir") return fail("ENOTDIR")
          if (moving.type !== "dir" && target.type === "dir") return fail("EISDIR")
          if (target.type === "dir" && target.entries.size > 0) return fail("ENOTEMPTY")
        }
        const t = s.now()
        let freed: Array<number> = []
        if (target !== undefined) {
          to.entries.delete(toName)
          if (target.type === "dir") {
            to.nlink--
            target.nlink = 0
          } else target.nlink--
          freed = reap(s, target)
        }
        from.entries.delete(fromName)
        to.entries.set(toName, moving.ino)
        if (moving.type === "dir" && from !== to) {
          from.nlink--
          to.nlink++
        }
        from.mtime = from.ctime = to.mtime = to.ctime = moving.ctime = t
        return Effect.as(freeAll(freed), { ino: moving.ino, replaced: target === undefined ? null : { ino: target.ino, nlink: target.nlink } })
      }),
    readdir: ({ dir, cookie }) => {
      const d = dirOf(s, dir)
      if (d instanceof FsError) return Effect.fail(d)
      if (!Number.isInteger(cookie) || cookie < 0) return fail("EINVAL")
      const entries: Array<DirEntry> = []
      let bytes = 0
      let at = 0
      let full = false
      // Entries from the `cookie`th on: at least one, then as many as fit in `DIR_PAGE_BYTES` (a
      // name is at most 255 UTF-16 units, 3 bytes each in UTF-8).
      for (const [name, ino] of d.entries) {
        if (at++ < cookie) continue
        if (entries.length > 0 && bytes + 3 * name.length + 2 > DIR_PAGE_BYTES) {
          full = true
          break
        }
        const i = s.get(ino)
        if (i !== undefined) entries.push({ name, type: i.type })
        bytes += 3 * name.length + 2
      }
      d.atime = s.now()
      return Effect.succeed(packDir(entries, full ? at - 1 : -1))
    },
    read: ({ ino, offset, length }, call) => {
      const item = call.items[0]
      const i = leasedFile(ino, offset, length, item)
      if (i instanceof FsError) return Effect.fail(i)
      const { lease, length: room } = item as Extract<DeliveredItem, { _tag: "lease" }>
      const n = Math.max(0, Math.min(length, room, i.size - offset))
      const copy = runs(i, offset, n, (at, address, len) => (address < 0 ? writeZeros(lease, at - offset, len) : Lease.write(lease, at - offset, address, len)))
      return Effect.map(
        Effect.mapError(copy, (e) => leaseError(e as { _tag: string })),
        () => {
          i.atime = s.now()
          return n
        }
      )
    },
    write: ({ ino, offset, length, append, truncate }, call) => {
      const item = call.items[0]
      const i = leasedFile(ino, offset, length, item)
      if (i instanceof FsError) return Effect.fail(i)
      const { lease, length: room } = item as Extract<DeliveredItem, { _tag: "lease" }>
      if (length > room) return fail("EINVAL")
      // O_TRUNC then the write, in one step. Written from 0, the pages the new bytes cover are
      // kept and overwritten (a rewrite of a file frees and allocates no frame).
      const at = truncate && append ? 0 : append ? i.size : offset
      const emptied = truncate && i.size > 0 ? resize(s, i, at === 0 ? Math.min(i.size, length) : 0) : Effect.void
      // Closures passed as arguments, not named ones: under tsx (esbuild's keepNames) a named closure is renamed, about 1 µs, each time it is made.
      if (length === 0) return Effect.map(emptied, () => written(s, i, at, length))
      const copy = Effect.zipRight(
        ensurePages(s, i, Math.floor(at / PAGE_SIZE), Math.floor((at + length - 1) / PAGE_SIZE)),
        Effect.mapError(
          Effect.suspend(() => runs(i, at, length, (fileAt, address, n) => Lease.read(lease, fileAt - at, n, address))),
          (e) => leaseError(e as { _tag: string })
        )
      )
      return Effect.map(Effect.zipRight(emptied, copy), () => {
        if (at + length > i.size) i.size = at + length
        return written(s, i, at, length)
      })
    },
    writeGrant: ({ ino, offset, length }, call) =>
      Effect.gen(function* () {
        const item = call.items[0]
        const granted = item !== undefined && item._tag === "grant" ? item : undefined
        // The pages are ours now whatever happens: adopt them first so a failure frees them.
        if (granted !== undefined) s.adopt(granted.address, granted.pages)
        const release = (from: number) =>
          granted === undefined
            ? Effect.void
            : freeAll(
                Array.from({ length: granted.pages - from }, (_, k) => s.drop(granted.address + (from + k) * PAGE_SIZE)).filter(
                  (r): r is number => r !== undefined
                )
              )
        const i = inodeOf(s, ino)
        const bad =
          i instanceof FsError
            ? i
            : i.type === "dir"
              ? new FsError({ code: "EISDIR" })
              : granted === undefined ||
                  offset % PAGE_SIZE !== 0 ||
                  offset < 0 ||
                  length <= 0 ||
                  length > granted.pages * PAGE_SIZE ||
                  length <= (granted.pages - 1) * PAGE_SIZE ||
                  (length % PAGE_SIZE !== 0 && offset + length < i.size)
                ? new FsError({ code: "EINVAL" })
                : undefined
        if (bad !== undefined || i instanceof FsError || granted === undefined) {
          yield* release(0)
          return yield* Effect.fail(bad ?? new FsError({ code: "EINVAL" }))
        }
        const first = offset / PAGE_SIZE
        const replaced: Array<number> = []
        while (i.pages.length < first + granted.pages) i.pages.push(-1)
        for (let k = 0; k < granted.pages; k++) {
          const old = i.pages[first + k]!
          if (old >= 0) {
            const r = s.drop(old)
            if (r !== undefined) replaced.push(r)
          }
          i.pages[first + k] = granted.address + k * PAGE_SIZE
        }
        // A partial last page ends the file (checked above): what lies past `length` is not file data.
        const end = offset + length
        const tail = end % PAGE_SIZE
        if (tail > 0) {
          yield* Effect.orDie(Memory.write(granted.address + (granted.pages - 1) * PAGE_SIZE + tail, new Uint8Array(PAGE_SIZE - tail)))
        }
        if (end > i.size) i.size = end
        i.mtime = i.ctime = s.now()
        yield* freeAll(replaced)
        return { offset, written: length, size: i.size }
      }),
    truncate: ({ ino, size }) => {
      const i = inodeOf(s, ino)
      if (i instanceof FsError) return Effect.fail(i)
      if (i.type === "dir") return fail("EISDIR")
      if (!Number.isSafeInteger(size) || size < 0) return fail("EINVAL")
      return Effect.map(resize(s, i, size), () => s.attr(i))
    },
    setattr: ({ ino, now: toNow, mode, uid, gid, atimeNs, mtimeNs }) => {
      const i = inodeOf(s, ino)
      if (i instanceof FsError) return Effect.fail(i)
      if (mode !== undefined) i.mode = mode & 0o7777
      if (uid !== undefined && uid >= 0) i.uid = uid
      if (gid !== undefined && gid >= 0) i.gid = gid
      if (toNow === true) i.atime = i.mtime = s.now()
      else {
        if (atimeNs !== undefined) i.atime = Time.ofNs(atimeNs)
        if (mtimeNs !== undefined) i.mtime = Time.ofNs(mtimeNs)
      }
      i.ctime = s.now()
      return Effect.succeed(s.attr(i))
    },
    // Kept, never answered: the caller learns of this server's death when the kernel fails it.
    hold: (_, call) => Effect.succeed(call.defer())
  }
})

/** Writes `length` zero bytes into a lease at `offset`. */
const writeZeros = (lease: Lease.Lease, offset: number, length: number): Effect.Effect<void, unknown, Process.Process> =>
  Effect.gen(function* () {
    for (let done = 0; done < length; done += PAGE_SIZE) {
      yield* Lease.writeBytes(lease, offset + done, length - done >= PAGE_SIZE ? ZEROS : ZEROS.subarray(0, length - done))
    }
  })

/**
 * The RAM file-system server program: serves `FsProtocol` on the port in slot `port` (needs
 * `receive`). Runs until its port fails (`IpcError`). One worker (see the module invariants).
 */
export const program = (port: number, counters?: Server.Counters<FsProtocol["operations"]>) =>
  Server.serve(FsProtocol, handlers, port, counters === undefined ? { workers: 1 } : { workers: 1, counters })
